#include "overlay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "aead.h"
#include "buf.h"
#include "clock.h"
#include "dpio.h"
#include "log.h"
#include "peer.h"
#include "relay.h"
#include "trs_wire.h"
#include "tunnel.h"

#define OVERLAY_BUF (65536 + SESSION_OVERHEAD + 64)
/* A claimed session index is kept at least this long before the purge
 * asks the tunnel whether it still holds it (covers a handshake in flight). */
#define OVERLAY_INDEX_AGE_MS (TUNNEL_REKEY_ATTEMPT_MS + TUNNEL_GRACE_MS)

struct overlay_ping {
	bool used;
	uint32_t id;
	enum overlay_ping_state state;
	char fqdn[CY_FQDN_MAX + 1];
	unsigned count, interval_ms, sent, received;
	int64_t next_ms;        /* next probe, or the end of the wait */
	int64_t done_ms;
	uint64_t rtt_sum_ns, rtt_min_ns, rtt_max_ns;
	uint8_t seen[(OVERLAY_PING_MAX + 7) / 8];
	const char *error;
	bool relay, have_endpoint;
	struct sockaddr_storage endpoint;
};

/* A Tunnel Request that came before its route: when the CN is told to
 * initiate, its Request can overtake the NMS's answer to the MN.  Kept
 * briefly and handled as soon as the route arrives, instead of waiting
 * for the retransmission 5 s later. */
#define OVERLAY_FAST_RETRY_FOR_MS 10000
#define OVERLAY_EARLY 8
#define OVERLAY_EARLY_MS 2000

struct overlay_early {
	bool used;
	int64_t at_ms;
	uint64_t tunnel_id;
	size_t len;
	uint8_t pkt[TUNNEL_MSG_MAX];
	struct sockaddr_storage from;
};

struct overlay {
	char fqdn[CY_FQDN_MAX + 1];
	const struct overlay_ops *ops;
	void *arg;
	struct dpio_port *port;       /* the identity's UDP socket, its local side */
	struct peer_table *peers;
	uint8_t *out;
	struct overlay_drops drops;
	struct overlay_stats st;
	struct ratelimit rl;
	int64_t next_tick_ms;
	uint32_t ping_next_id;
	struct overlay_ping pings[OVERLAY_PINGS];
	struct overlay_early early[OVERLAY_EARLY];
	struct relay_table *relays;   /* hellos to the TRS of relayed tunnels */
	bool have_vips;         /* this identity's own, the only inner destinations */
	struct in_addr vip4;
	struct in6_addr vip6;
};

static void early_replay(struct overlay *o, struct peer *p);

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One handshake and one Data message between two throwaway tunnels, so
 * OpenSSL has fetched and initialised X25519, HKDF and both AEADs before
 * the first real lookup waits on them (the first fetch costs milliseconds,
 * the cold-name target is 2 ms). */
static void overlay_warm_up(uint8_t *buf)
{
	uint8_t key[TUNNEL_KEY_LEN], *req = buf, *resp = buf + 256, *data = buf + 512;
	struct tunnel_params pa = { .tunnel_id = 1, .tunnel_key = key, .role = TUNNEL_INITIATOR,
				    .local_fqdn = "a", .peer_fqdn = "b" };
	struct tunnel_params pb = pa;
	struct tunnel *a, *b;
	ssize_t n, m;

	if (cy_random(key, sizeof(key)) < 0)
		return;
	pb.role = TUNNEL_RESPONDER;
	pb.local_fqdn = "b";
	pb.peer_fqdn = "a";
	a = tunnel_new(&pa);
	b = tunnel_new(&pb);
	if (a && b && (n = tunnel_initiate(a, req, 256)) > 0 &&
	    (m = tunnel_handle_request(b, req, (size_t)n, resp, 256)) > 0 &&
	    (n = tunnel_handle_response(a, resp, (size_t)m, data, 256)) > 0)
		tunnel_open(b, data, (size_t)n, req, 256);
	tunnel_free(a);
	tunnel_free(b);
	cy_wipe(key, sizeof(key));
}

struct overlay *overlay_new(const struct overlay_cfg *cfg)
{
	struct overlay *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	snprintf(o->fqdn, sizeof(o->fqdn), "%s", cfg->local_fqdn ? cfg->local_fqdn : "");
	o->ops = cfg->ops;
	o->arg = cfg->arg;
	o->port = cfg->port;
	o->peers = peer_table_new();
	o->relays = relay_table_new();
	o->out = malloc(OVERLAY_BUF);
	if (!o->peers || !o->out || !o->relays) {
		overlay_free(o);
		return NULL;
	}
	overlay_warm_up(o->out);
	if (cy_random(&o->ping_next_id, sizeof(o->ping_next_id)) < 0)
		o->ping_next_id = 1;
	o->next_tick_ms = clock_now_ms() + OVERLAY_TICK_MS;
	return o;
}

void overlay_free(struct overlay *o)
{
	if (!o)
		return;
	peer_table_free(o->peers);
	relay_table_free(o->relays);
	if (o->out)
		cy_wipe(o->out, OVERLAY_BUF);
	free(o->out);
	free(o);
}

struct peer_table *overlay_peers(struct overlay *o)
{
	return o->peers;
}

/* ---- helpers ---- */

static const char *peer_name(const struct peer *p, char *buf, size_t len)
{
	if (p->fqdn[0])
		return p->fqdn;
	if (p->have_vip4)
		return inet_ntop(AF_INET, &p->vip4, buf, (socklen_t)len);
	if (p->have_vip6)
		return inet_ntop(AF_INET6, &p->vip6, buf, (socklen_t)len);
	return "?";
}

static void send_to(struct overlay *o, struct peer *p, const uint8_t *buf, size_t len,
		    const struct sockaddr *to)
{
	if (dpio_send(o->port, buf, len, to) == 0 && p) {
		p->last_tx_ms = clock_now_ms();
		p->ack_due_since_ms = 0;
	}
}

static void send_peer(struct overlay *o, struct peer *p, const uint8_t *buf, size_t len)
{
	if (p->have_endpoint)
		send_to(o, p, buf, len, (const struct sockaddr *)&p->endpoint);
}

/* An authenticated message came from from: send there from now on
 * (the peer moved, or its NAPT mapping towards us differs from the one
 * the NMS observed), as WireGuard does. */
static void roam(struct overlay *o, struct peer *p, const struct sockaddr *from)
{
	char a[ADDR_STR_MAX], b[ADDR_STR_MAX], nb[INET6_ADDRSTRLEN];

	if (p->have_endpoint && addr_equal(&p->endpoint.sa, from))
		return;
	if (from->sa_family != AF_INET && from->sa_family != AF_INET6)
		return;
	log_info("peer %s: endpoint %s -> %s", peer_name(p, nb, sizeof(nb)),
		 p->have_endpoint ? addr_str((const struct sockaddr *)&p->endpoint, a) : "-",
		 addr_str(from, b));
	memset(&p->endpoint, 0, sizeof(p->endpoint));
	memcpy(&p->endpoint, from, addr_len(from));
	p->have_endpoint = true;
}

static enum resolver_status result_status(enum cy_result r)
{
	switch ((int)r) {
	case 4: return RESOLVER_NXDOMAIN;
	case 8: return RESOLVER_REFUSED;
	default: return RESOLVER_SERVFAIL;
	}
}

static const char *status_reason(int st)
{
	switch (st) {
	case RESOLVER_NXDOMAIN: return "unknown name or address";
	case RESOLVER_REFUSED: return "refused by policy";
	default: return "unreachable (route selection or tunnel set-up failed)";
	}
}

/* ---- pings ---- */

static struct overlay_ping *ping_find(struct overlay *o, uint32_t id)
{
	for (int i = 0; i < OVERLAY_PINGS; i++)
		if (o->pings[i].used && o->pings[i].id == id)
			return &o->pings[i];
	return NULL;
}

static void ping_fail(struct overlay_ping *pg, const char *why)
{
	pg->state = PING_FAILED;
	pg->error = why;
	pg->done_ms = clock_now_ms();
}

static void ping_run(struct overlay *o, struct overlay_ping *pg, const struct peer *p)
{
	if (pg->state != PING_WAIT_TUNNEL)
		return;
	pg->state = PING_RUNNING;
	pg->next_ms = clock_now_ms();
	pg->relay = p->relay;
}

static void probe_send(struct overlay *o, struct overlay_ping *pg, struct peer *p)
{
	uint8_t probe[PROBE_LEN];
	struct wbuf w;
	ssize_t n;

	wbuf_init(&w, probe, sizeof(probe));
	wbuf_put_u8(&w, PROBE_REQUEST);
	wbuf_put_u8(&w, 0);
	wbuf_put_u16(&w, 0);
	wbuf_put_u32(&w, pg->id);
	wbuf_put_u32(&w, pg->sent);
	wbuf_put_u64(&w, mono_ns());
	n = tunnel_seal(p->tunnel, probe, sizeof(probe), o->out, OVERLAY_BUF);
	pg->sent++;
	if (n > 0)
		send_peer(o, p, o->out, (size_t)n);
	pg->have_endpoint = p->have_endpoint;
	peer_endpoint_get(p, &pg->endpoint);
	pg->relay = p->relay;
}

static void ping_timers(struct overlay *o, int64_t now)
{
	for (int i = 0; i < OVERLAY_PINGS; i++) {
		struct overlay_ping *pg = &o->pings[i];
		struct peer *p;

		if (!pg->used)
			continue;
		if (pg->state == PING_DONE || pg->state == PING_FAILED) {
			if (now - pg->done_ms > OVERLAY_PING_KEEP_MS)
				pg->used = false;
			continue;
		}
		if (pg->state != PING_RUNNING || now < pg->next_ms)
			continue;
		if (pg->sent >= pg->count || pg->received >= pg->count) {
			pg->state = PING_DONE;
			pg->done_ms = now;
			continue;
		}
		p = peer_by_fqdn(o->peers, pg->fqdn);
		if (!p || !p->tunnel) {
			ping_fail(pg, "the tunnel went away");
			continue;
		}
		probe_send(o, pg, p);
		pg->next_ms = now + (pg->sent < pg->count ? pg->interval_ms : OVERLAY_PING_WAIT_MS);
	}
}

/* An inner packet with version nibble 0: a probe of ours. */
static void probe_input(struct overlay *o, struct peer *p, uint8_t *pkt, size_t len)
{
	struct cur c = cur_make(pkt, len);
	uint8_t type = 0, z8 = 0;
	uint16_t z16 = 0;
	uint32_t id = 0, seq = 0;
	uint64_t t = 0, now, rtt;
	struct overlay_ping *pg;
	ssize_t n;

	bool ok = cur_get_u8(&c, &type) && cur_get_u8(&c, &z8) && cur_get_u16(&c, &z16) &&
		  cur_get_u32(&c, &id) && cur_get_u32(&c, &seq) && cur_get_u64(&c, &t) &&
		  cur_empty(&c);

	if (!ok || z8 || z16 || (type != PROBE_REQUEST && type != PROBE_REPLY)) {
		o->drops.malformed++;
		return;
	}
	if (type == PROBE_REQUEST) {
		pkt[0] = PROBE_REPLY;
		n = tunnel_seal(p->tunnel, pkt, len, o->out + OVERLAY_BUF / 2, OVERLAY_BUF / 2);
		if (n > 0) {
			send_peer(o, p, o->out + OVERLAY_BUF / 2, (size_t)n);
			o->st.probes_echoed++;
		}
		return;
	}
	pg = ping_find(o, id);
	if (!pg || pg->state != PING_RUNNING || seq >= pg->sent || strcmp(pg->fqdn, p->fqdn) ||
	    (pg->seen[seq / 8] & (1u << (seq % 8))))
		return;
	pg->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	now = mono_ns();
	rtt = now > t ? now - t : 0;
	if (!pg->received || rtt < pg->rtt_min_ns)
		pg->rtt_min_ns = rtt;
	if (rtt > pg->rtt_max_ns)
		pg->rtt_max_ns = rtt;
	pg->rtt_sum_ns += rtt;
	pg->received++;
	if (pg->received >= pg->count) {
		pg->state = PING_DONE;
		pg->done_ms = clock_now_ms();
	}
}

/* ---- waiting for a tunnel ---- */

static void waiters_complete(struct overlay *o, struct peer *p, int st, const char *why)
{
	for (unsigned i = 0; i < p->nwaiters; i++) {
		struct peer_waiter *w = &p->waiters[i];

		if (w->kind == PEER_WAIT_DNS) {
			if (o->ops->dns_complete)
				o->ops->dns_complete(o->arg, w->token, (enum resolver_status)st,
						     p->have_vip4 ? &p->vip4 : NULL,
						     p->have_vip6 ? &p->vip6 : NULL);
		} else {
			struct overlay_ping *pg = ping_find(o, (uint32_t)w->token);

			if (pg && st == RESOLVER_OK)
				ping_run(o, pg, p);
			else if (pg)
				ping_fail(pg, why);
		}
	}
	peer_waiters_clear(p);
}

/* The tunnel can carry data: everything that waited for it goes. */
static void peer_up(struct overlay *o, struct peer *p)
{
	const uint8_t *pkt;
	char nb[INET6_ADDRSTRLEN];
	size_t len;
	ssize_t n;

	if (p->state != PEER_UP) {
		log_info("tunnel %016" PRIx64 " to %s is up", p->tunnel_id,
			 peer_name(p, nb, sizeof(nb)));
		o->st.hs_completed++;
	}
	p->state = PEER_UP;
	p->neg_until_ms = 0;
	while ((pkt = peer_queue_front(p, &len))) {
		n = tunnel_seal(p->tunnel, pkt, len, o->out, OVERLAY_BUF);
		if (n > 0)
			send_peer(o, p, o->out, (size_t)n);
		peer_queue_pop(p);
	}
	waiters_complete(o, p, RESOLVER_OK, NULL);
}

/* Route selection or the handshake failed: answer what waits, drop the
 * queue, remember the failure for PEER_NEG_MS. */
static void peer_failed(struct overlay *o, struct peer *p, int st)
{
	p->state = PEER_FAILED;
	p->req_id = 0;
	p->neg_status = st;
	p->neg_until_ms = clock_now_ms() + PEER_NEG_MS;
	o->drops.no_route += peer_queue_clear(p);
	waiters_complete(o, p, st, status_reason(st));
}

static int start_selection(struct overlay *o, struct peer *p, const char *fqdn,
			   const uint8_t *vip4, const uint8_t *vip6)
{
	uint32_t req = 0;
	int err;

	if (p->req_id || p->tunnel)
		return 0;
	err = o->ops->direction_request(o->arg, fqdn, vip4, vip6, &req);
	if (err < 0)
		return err;
	p->req_id = req;
	p->state = PEER_SELECTING;
	return 0;
}

/* ---- routes ---- */

/* The peer a route is about: the one that has its name, or either VIP,
 * or its request id; partial peers (created by a lookup by name or by a
 * packet to a VIP) are merged into one. */
static struct peer *route_peer(struct overlay *o, const struct sig_route *r)
{
	struct peer *c[4], *p = NULL;
	int i, j;

	c[0] = r->peer_fqdn[0] ? peer_by_fqdn(o->peers, r->peer_fqdn) : NULL;
	c[1] = r->have_vip4 ? peer_by_vip4(o->peers, (const uint8_t *)&r->peer_vip4) : NULL;
	c[2] = r->have_vip6 ? peer_by_vip6(o->peers, r->peer_vip6.s6_addr) : NULL;
	c[3] = peer_by_req(o->peers, r->req_id);
	for (i = 0; i < 4 && !p; i++)
		if (c[i] && c[i]->tunnel)
			p = c[i];
	for (i = 0; i < 4 && !p; i++)
		p = c[i];
	for (i = 0; i < 4; i++) {
		if (!c[i] || c[i] == p)
			continue;
		for (j = i + 1; j < 4; j++)
			if (c[j] == c[i])
				c[j] = NULL;
		if (c[i]->tunnel)
			continue;  /* cannot happen: identities are unique once known */
		o->drops.no_route += peer_merge_into(p, c[i]);
	}
	if (!p)
		p = peer_new(o->peers);
	if (!p)
		return NULL;
	if (r->peer_fqdn[0])
		peer_set_fqdn(p, r->peer_fqdn);
	if (r->have_vip4)
		peer_set_vip4(p, &r->peer_vip4);
	if (r->have_vip6)
		peer_set_vip6(p, &r->peer_vip6);
	return p;
}

void overlay_route_ready(struct overlay *o, const struct sig_route *r)
{
	struct tunnel_params tp = { 0 };
	int64_t now = clock_now_ms();
	char nb[INET6_ADDRSTRLEN];
	struct tunnel *t;
	struct peer *p;
	ssize_t n;

	o->st.routes++;
	p = route_peer(o, r);
	if (!p) {
		LOG_RATELIMITED(&o->rl, "route to %s: no room for another peer", r->peer_fqdn);
		return;
	}
	if (r->req_id && p->req_id == r->req_id)
		p->req_id = 0;
	if (p->tunnel) {
		if (p->tunnel_id == r->tunnel_id)
			return;
		/* Both ends asked at once: two selections, two tunnel ids, and
		 * both ends see both routes within moments, one as MN and one
		 * as CN.  The same rule on both sides keeps one: the larger id.
		 * Otherwise (later, or a second route of the same kind: the peer
		 * asked again) the peer lost its tunnel (restart): take it. */
		if (now - p->tunnel_at_ms < OVERLAY_RACE_MS && (r->req_id == 0) != p->tunnel_as_cn &&
		    r->tunnel_id < p->tunnel_id) {
			log_info("route to %s: keeping tunnel %016" PRIx64 " over %016" PRIx64,
				 peer_name(p, nb, sizeof(nb)), p->tunnel_id, r->tunnel_id);
			o->st.routes_ignored++;
			return;
		}
		log_info("route to %s: tunnel %016" PRIx64 " replaces %016" PRIx64,
			 peer_name(p, nb, sizeof(nb)), r->tunnel_id, p->tunnel_id);
		peer_set_tunnel(p, NULL, 0, now);
	}
	tp.tunnel_id = r->tunnel_id;
	tp.tunnel_key = r->key;
	tp.temp_key = r->path == CY_PATH_RELAY ? r->temp_key : NULL;
	tp.role = r->role == CY_ROLE_INITIATOR ? TUNNEL_INITIATOR : TUNNEL_RESPONDER;
	tp.local_fqdn = o->fqdn;
	tp.peer_fqdn = p->fqdn;
	tp.index_in_use = peer_index_claim;
	tp.index_ctx = p;
	t = tunnel_new(&tp);
	if (!t) {
		log_warnx("route to %s: cannot create the tunnel", peer_name(p, nb, sizeof(nb)));
		peer_failed(o, p, RESOLVER_SERVFAIL);
		return;
	}
	peer_set_tunnel(p, t, r->tunnel_id, now);
	p->tunnel_as_cn = r->req_id == 0;
	p->unanswered_since_ms = 0;
	p->relay = r->path == CY_PATH_RELAY;
	p->state = PEER_HANDSHAKE;
	p->neg_until_ms = 0;
	memset(&p->endpoint, 0, sizeof(p->endpoint));
	memcpy(&p->endpoint, &r->peer, addr_len((const struct sockaddr *)&r->peer));
	p->have_endpoint = r->peer.ss_family == AF_INET || r->peer.ss_family == AF_INET6;
	/* Relayed: both sides say hello to the TRS first (it forwards only
	 * between endpoints it heard from), the initiator's Request after. */
	if (p->relay && p->have_endpoint) {
		n = relay_add(o->relays, r->tunnel_id, r->key, (uint8_t)r->role,
			      (const struct sockaddr *)&r->peer, o->out, OVERLAY_BUF);
		if (n > 0)
			send_to(o, NULL, o->out, (size_t)n, (const struct sockaddr *)&r->peer);
	}
	if (tp.role == TUNNEL_INITIATOR) {
		n = tunnel_initiate(t, o->out, OVERLAY_BUF);
		if (n > 0)
			send_peer(o, p, o->out, (size_t)n);
	} else {
		early_replay(o, p);
	}
}

void overlay_route_failed(struct overlay *o, uint32_t req_id, enum cy_result result)
{
	struct peer *p = peer_by_req(o->peers, req_id);

	if (!p)
		return;
	p->req_id = 0;
	if (p->tunnel)
		return;   /* a route came the other way meanwhile */
	peer_failed(o, p, result_status(result));
}

/* ---- datagrams ---- */

static void count_data_err(struct overlay *o, ssize_t err)
{
	switch (err) {
	case -EALREADY: o->drops.replay++; break;
	case -EBADMSG: o->drops.auth++; break;
	case -ENOKEY: o->drops.unknown++; break;
	case -EKEYEXPIRED: o->drops.expired++; break;
	default: o->drops.malformed++; break;
	}
}

static void count_hs_err(struct overlay *o, ssize_t err)
{
	switch (err) {
	case -EBADMSG:
	case -EPERM: o->drops.auth++; break;
	case -ESTALE: o->drops.replay++; break;
	case -EALREADY: break;  /* simultaneous open: our Request wins */
	case -ENOENT: o->drops.unknown++; break;
	default: o->drops.malformed++; break;
	}
}

/* The inner packet's source must be the peer's VIP (like WireGuard's
 * allowed IPs): a peer cannot inject packets in another node's name. */
static bool inner_src_ok(const struct peer *p, const uint8_t *pkt, size_t len)
{
	switch (pkt[0] >> 4) {
	case 4:
		return len >= 20 && p->have_vip4 && !memcmp(pkt + 12, &p->vip4, 4);
	case 6:
		return len >= 40 && p->have_vip6 && !memcmp(pkt + 8, p->vip6.s6_addr, 16);
	}
	return false;
}

/* ... and its destination one of this identity's VIPs: a node (or an
 * adapter, whose general nodes are identities of their own) delivers only
 * what is addressed to it, and never forwards a peer's packets on to the
 * Internet or a LAN. */
static bool inner_dst_ok(const struct overlay *o, const uint8_t *pkt, size_t len)
{
	if (!o->have_vips)
		return false;
	switch (pkt[0] >> 4) {
	case 4:
		return len >= 20 && !memcmp(pkt + 16, &o->vip4, 4);
	case 6:
		return len >= 40 && !memcmp(pkt + 24, o->vip6.s6_addr, 16);
	}
	return false;
}

void overlay_set_vips(struct overlay *o, const struct in_addr *vip4, const struct in6_addr *vip6)
{
	o->vip4 = *vip4;
	o->vip6 = *vip6;
	o->have_vips = true;
}

static void data_input(struct overlay *o, const uint8_t *buf, size_t len,
		       const struct sockaddr *from, uint32_t idx)
{
	struct peer *p = peer_by_index(o->peers, idx);
	ssize_t n;

	if (!p || !p->tunnel) {
		o->drops.unknown++;
		return;
	}
	n = tunnel_open(p->tunnel, buf, len, o->out, OVERLAY_BUF);
	if (n < 0) {
		count_data_err(o, n);
		return;
	}
	o->st.udp_rx_data++;
	p->last_rx_ms = clock_now_ms();
	p->unanswered_since_ms = 0;
	if (n > 0 && !p->ack_due_since_ms)
		p->ack_due_since_ms = p->last_rx_ms;
	roam(o, p, from);
	if (p->state != PEER_UP)
		peer_up(o, p);
	if (n == 0)
		return;   /* keepalive */
	if ((o->out[0] >> 4) == 0) {
		probe_input(o, p, o->out, (size_t)n);
		return;
	}
	if (!inner_src_ok(p, o->out, (size_t)n)) {
		o->drops.bad_src++;
		return;
	}
	if (!inner_dst_ok(o, o->out, (size_t)n)) {
		o->drops.bad_dst++;
		return;
	}
	dpio_deliver(o->port, o->out, (size_t)n);
}

static void early_store(struct overlay *o, uint64_t tid, const uint8_t *buf, size_t len,
			const struct sockaddr *from)
{
	struct overlay_early *e = &o->early[0];

	if (len > TUNNEL_MSG_MAX) {
		o->drops.unknown++;
		return;
	}
	for (int i = 0; i < OVERLAY_EARLY; i++) {
		if (!o->early[i].used) {
			e = &o->early[i];
			break;
		}
		if (o->early[i].at_ms < e->at_ms)
			e = &o->early[i];
	}
	if (e->used)
		o->drops.unknown++;   /* evicted unused */
	e->used = true;
	e->at_ms = clock_now_ms();
	e->tunnel_id = tid;
	e->len = len;
	memcpy(e->pkt, buf, len);
	memset(&e->from, 0, sizeof(e->from));
	memcpy(&e->from, from, addr_len(from));
}

static void early_expire(struct overlay *o, int64_t now)
{
	for (int i = 0; i < OVERLAY_EARLY; i++)
		if (o->early[i].used && now - o->early[i].at_ms > OVERLAY_EARLY_MS) {
			o->early[i].used = false;
			o->drops.unknown++;
		}
}

static void hs_request(struct overlay *o, struct peer *p, const uint8_t *buf, size_t len,
		       const struct sockaddr *from)
{
	ssize_t n = tunnel_handle_request(p->tunnel, buf, len, o->out, OVERLAY_BUF);

	if (n < 0) {
		count_hs_err(o, n);
		return;
	}
	roam(o, p, from);
	if (n > 0)
		send_peer(o, p, o->out, (size_t)n);
	/* The responder may send on the new session at once. */
	peer_up(o, p);
}

/* The route for tunnel id of p just arrived: a Request waiting for it? */
static void early_replay(struct overlay *o, struct peer *p)
{
	for (int i = 0; i < OVERLAY_EARLY; i++) {
		struct overlay_early *e = &o->early[i];

		if (!e->used || e->tunnel_id != p->tunnel_id)
			continue;
		e->used = false;
		if (clock_now_ms() - e->at_ms <= OVERLAY_EARLY_MS)
			hs_request(o, p, e->pkt, e->len, (const struct sockaddr *)&e->from);
	}
}

/* A Relay Ack from the TRS session of a relayed tunnel (relay.h). */
static void relay_ack_input(struct overlay *o, const uint8_t *buf, size_t len)
{
	switch (relay_ack(o->relays, buf, len)) {
	case 0: break;
	case -EBADMSG: o->drops.auth++; break;
	case -ESTALE: o->drops.replay++; break;
	case -ENOENT: o->drops.unknown++; break;
	default: o->drops.malformed++; break;
	}
}

int overlay_udp_input(struct overlay *o, const uint8_t *buf, size_t len,
		      const struct sockaddr *from)
{
	struct tunnel_peek pk;
	struct peer *p;
	ssize_t n;

	if (len >= 2 && buf[1] == CY_RELAY_ACK) {
		relay_ack_input(o, buf, len);
		return 0;
	}
	if (len < 2 || (buf[1] != CY_DATA && buf[1] != CY_TUNNEL_REQ &&
			buf[1] != CY_TUNNEL_RES))
		return -ENOMSG;
	if (tunnel_peek(buf, len, &pk) < 0) {
		o->drops.malformed++;
		return 0;
	}
	if (pk.type == CY_DATA) {
		data_input(o, buf, len, from, pk.receiver_index);
		return 0;
	}
	p = peer_by_tid(o->peers, pk.tunnel_id);
	if (!p || !p->tunnel) {
		if (pk.type == CY_TUNNEL_REQ)
			early_store(o, pk.tunnel_id, buf, len, from);
		else
			o->drops.unknown++;
		return 0;
	}
	if (pk.type == CY_TUNNEL_REQ) {
		hs_request(o, p, buf, len, from);
		return 0;
	}
	n = tunnel_handle_response(p->tunnel, buf, len, o->out, OVERLAY_BUF);
	if (n < 0) {
		count_hs_err(o, n);
		return 0;
	}
	roam(o, p, from);
	if (n > 0)
		send_peer(o, p, o->out, (size_t)n);  /* the confirming keepalive */
	peer_up(o, p);
	return 0;
}

void overlay_count_malformed(struct overlay *o)
{
	o->drops.malformed++;
}

/* ---- TUN packets ---- */

/* Destinations that never name a peer: multicast, broadcast, link-local
 * (the kernel's own chatter on the device: MLD, router solicitations). */
static bool dst4_special(const uint8_t *d)
{
	return d[0] >= 224 || (d[0] == 169 && d[1] == 254) || d[0] == 0;
}

static bool dst6_special(const uint8_t *d)
{
	return d[0] == 0xff || (d[0] == 0xfe && (d[1] & 0xc0) == 0x80);
}

/* Seal straight into the send batch of a burst (dpio.h): no copy between
 * sealing and the kernel.  -EMSGSIZE when there is no slot or it is too
 * small (the caller then seals into o->out and sends), else as
 * tunnel_seal. */
static ssize_t seal_batched(struct overlay *o, struct peer *p, const uint8_t *pkt, size_t len)
{
	size_t cap = 0;
	uint8_t *slot = dpio_slot(o->port, &cap);
	ssize_t n;

	if (!slot || cap < len + SESSION_OVERHEAD)
		return -EMSGSIZE;
	n = tunnel_seal(p->tunnel, pkt, len, slot, cap);
	if (n > 0 && p->have_endpoint &&
	    dpio_commit(o->port, (size_t)n, (const struct sockaddr *)&p->endpoint) == 0) {
		p->last_tx_ms = clock_now_ms();
		p->ack_due_since_ms = 0;
	}
	return n;
}

void overlay_tun_input(struct overlay *o, const uint8_t *pkt, size_t len)
{
	const uint8_t *dst4 = NULL, *dst6 = NULL;
	struct peer *p;
	ssize_t n;
	int err;

	o->st.tun_rx++;
	if (len >= 20 && (pkt[0] >> 4) == 4) {
		dst4 = pkt + 16;
		if (dst4_special(dst4))
			return;
		p = peer_by_vip4(o->peers, dst4);
	} else if (len >= 40 && (pkt[0] >> 4) == 6) {
		dst6 = pkt + 24;
		if (dst6_special(dst6))
			return;
		p = peer_by_vip6(o->peers, dst6);
	} else {
		o->drops.malformed++;
		return;
	}
	if (p && p->tunnel) {
		n = seal_batched(o, p, pkt, len);
		if (n == -EMSGSIZE) {
			n = tunnel_seal(p->tunnel, pkt, len, o->out, OVERLAY_BUF);
			if (n > 0)
				send_peer(o, p, o->out, (size_t)n);
		}
		if (n > 0) {
			if (!p->unanswered_since_ms)
				p->unanswered_since_ms = p->last_tx_ms;
			return;
		}
		if (n != -ENOTCONN) {
			o->drops.no_route++;
			return;
		}
		/* handshake still running: queue */
	}
	if (!p) {
		struct in_addr a4;
		struct in6_addr a6;

		p = peer_new(o->peers);
		if (!p) {
			o->drops.no_route++;
			return;
		}
		if (dst4) {
			memcpy(&a4, dst4, 4);
			peer_set_vip4(p, &a4);
		} else {
			memcpy(&a6, dst6, 16);
			peer_set_vip6(p, &a6);
		}
	}
	if (p->state == PEER_FAILED && clock_now_ms() < p->neg_until_ms) {
		o->drops.no_route++;
		return;
	}
	if (!p->tunnel && !p->req_id) {
		/* A packet sent straight to a VIP: users ping addresses too. */
		err = start_selection(o, p, NULL, dst4, dst6);
		if (err < 0) {
			o->drops.no_route++;
			if (!p->fqdn[0] && !p->nwaiters)
				peer_del(p);
			return;
		}
	}
	if (peer_queue_push(p, pkt, len) < 0)
		o->drops.no_route++;
}

void overlay_tun_packet(void *overlay, uint8_t *pkt, size_t len)
{
	overlay_tun_input(overlay, pkt, len);
}

/* ---- DNS ---- */

int overlay_lookup(struct overlay *o, const char *fqdn, uint64_t token)
{
	struct peer *p = peer_by_fqdn(o->peers, fqdn);
	bool fresh = false;
	int err;

	if (p && p->state == PEER_UP && p->tunnel) {
		o->ops->dns_complete(o->arg, token, RESOLVER_OK, p->have_vip4 ? &p->vip4 : NULL,
				     p->have_vip6 ? &p->vip6 : NULL);
		return 0;
	}
	if (p && p->state == PEER_FAILED && clock_now_ms() < p->neg_until_ms) {
		o->ops->dns_complete(o->arg, token, (enum resolver_status)p->neg_status, NULL,
				     NULL);
		return 0;
	}
	if (!p) {
		p = peer_new(o->peers);
		if (!p)
			return -ENOMEM;
		if (peer_set_fqdn(p, fqdn) < 0) {
			peer_del(p);
			return -EINVAL;
		}
		fresh = true;
	}
	err = start_selection(o, p, fqdn, NULL, NULL);
	if (err == 0)
		err = peer_waiter_add(p, PEER_WAIT_DNS, token);
	if (err < 0 && fresh)
		peer_del(p);
	return err;
}

/* ---- pings ---- */

int overlay_ping_start(struct overlay *o, const char *fqdn, unsigned count,
		       unsigned interval_ms, uint32_t *id)
{
	struct overlay_ping *pg = NULL;
	struct peer *p;
	bool fresh = false;
	int err, i;

	if (!count || count > OVERLAY_PING_MAX || !fqdn[0] || strlen(fqdn) > CY_FQDN_MAX)
		return -EINVAL;
	for (i = 0; i < OVERLAY_PINGS && !pg; i++)
		if (!o->pings[i].used)
			pg = &o->pings[i];
	if (!pg)
		return -EBUSY;
	memset(pg, 0, sizeof(*pg));
	snprintf(pg->fqdn, sizeof(pg->fqdn), "%s", fqdn);
	pg->id = ++o->ping_next_id;
	pg->count = count;
	pg->interval_ms = interval_ms;
	pg->state = PING_WAIT_TUNNEL;

	p = peer_by_fqdn(o->peers, fqdn);
	if (p && p->state == PEER_UP && p->tunnel) {
		ping_run(o, pg, p);
	} else if (p && p->state == PEER_FAILED && clock_now_ms() < p->neg_until_ms) {
		ping_fail(pg, status_reason(p->neg_status));
	} else {
		if (!p) {
			p = peer_new(o->peers);
			if (!p)
				return -ENOMEM;
			if (peer_set_fqdn(p, fqdn) < 0) {
				peer_del(p);
				return -EINVAL;
			}
			fresh = true;
		}
		err = start_selection(o, p, fqdn, NULL, NULL);
		if (err == 0)
			err = peer_waiter_add(p, PEER_WAIT_PING, pg->id);
		if (err < 0) {
			if (fresh)
				peer_del(p);
			return err;
		}
	}
	pg->used = true;
	*id = pg->id;
	return 0;
}

int overlay_ping_get(struct overlay *o, uint32_t id, struct overlay_ping_result *res)
{
	struct overlay_ping *pg = ping_find(o, id);

	if (!pg)
		return -ENOENT;
	memset(res, 0, sizeof(*res));
	res->state = pg->state;
	snprintf(res->peer, sizeof(res->peer), "%s", pg->fqdn);
	res->relay = pg->relay;
	res->have_endpoint = pg->have_endpoint;
	res->endpoint = pg->endpoint;
	res->sent = pg->sent;
	res->received = pg->received;
	if (pg->received) {
		res->rtt_min_ms = (double)pg->rtt_min_ns / 1e6;
		res->rtt_max_ms = (double)pg->rtt_max_ns / 1e6;
		res->rtt_avg_ms = (double)pg->rtt_sum_ns / pg->received / 1e6;
	}
	res->error = pg->error;
	if (pg->state == PING_DONE || pg->state == PING_FAILED)
		pg->used = false;
	return 0;
}

/* ---- timers ---- */

static void peer_tick(struct overlay *o, struct peer *p, int64_t now)
{
	ssize_t n;

	if (!p->tunnel)
		return;
	/* The first handshake retries every second for a while, not only
	 * every TUNNEL_REKEY_TIMEOUT_MS: a lost Request should not cost a
	 * waiting DNS client 5 s. */
	if (p->state == PEER_HANDSHAKE && now - p->tunnel_at_ms < OVERLAY_FAST_RETRY_FOR_MS &&
	    now - p->last_tx_ms >= OVERLAY_TICK_MS) {
		struct tunnel_info ti;

		tunnel_get_info(p->tunnel, &ti);
		if (ti.state == TUNNEL_HANDSHAKE) {
			n = tunnel_initiate(p->tunnel, o->out, OVERLAY_BUF);
			if (n > 0)
				send_peer(o, p, o->out, (size_t)n);
			return;
		}
	}
	n = tunnel_tick(p->tunnel, o->out, OVERLAY_BUF);
	if (n > 0) {
		send_peer(o, p, o->out, (size_t)n);
	} else if (n == -ETIMEDOUT) {
		struct tunnel_info ti;

		tunnel_get_info(p->tunnel, &ti);
		if (ti.state != TUNNEL_ESTABLISHED) {
			peer_set_tunnel(p, NULL, 0, now);
			peer_failed(o, p, RESOLVER_SERVFAIL);
			return;
		}
	}
	if (p->state == PEER_UP && p->unanswered_since_ms &&
	    now - p->unanswered_since_ms >= OVERLAY_DEAD_MS && p->fqdn[0]) {
		char nb[INET6_ADDRSTRLEN];

		log_info("tunnel %016" PRIx64 " to %s: nothing received for %d s after sending, "
			 "selecting the route again", p->tunnel_id, peer_name(p, nb, sizeof(nb)),
			 OVERLAY_DEAD_MS / 1000);
		peer_set_tunnel(p, NULL, 0, now);
		p->state = PEER_IDLE;
		p->unanswered_since_ms = 0;
		if (start_selection(o, p, p->fqdn, NULL, NULL) < 0)
			peer_failed(o, p, RESOLVER_SERVFAIL);
		return;
	}
	if (p->state == PEER_UP && p->ack_due_since_ms &&
	    now - p->ack_due_since_ms >= OVERLAY_ACK_MS) {
		n = tunnel_seal(p->tunnel, NULL, 0, o->out, OVERLAY_BUF);
		if (n > 0)
			send_peer(o, p, o->out, (size_t)n);
	}
	if (p->state == PEER_UP && now - p->last_tx_ms >= OVERLAY_KEEPALIVE_MS) {
		n = tunnel_seal(p->tunnel, NULL, 0, o->out, OVERLAY_BUF);
		if (n > 0)
			send_peer(o, p, o->out, (size_t)n);
	}
}

/* relay_tick: a relayed tunnel lives as long as its peer holds it. */
static bool relay_alive(void *ctx, uint64_t tunnel_id)
{
	struct overlay *o = ctx;
	struct peer *p = peer_by_tid(o->peers, tunnel_id);

	return p && p->tunnel && p->tunnel_id == tunnel_id;
}

static void relay_send(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	struct overlay *o = ctx;

	dpio_send(o->port, buf, len, to);
}

/* relay_tick: the TRS acknowledged none of the last hellos, the relay
 * session is gone (TRS restarted, session expired).  The tunnel goes; the
 * initiator selects the route again (the NMS asks the TRS for a new
 * session), the responder waits for that route unless something of its
 * own waits for the tunnel. */
static void relay_dead(void *ctx, uint64_t tunnel_id)
{
	struct overlay *o = ctx;
	struct peer *p = peer_by_tid(o->peers, tunnel_id);
	char nb[INET6_ADDRSTRLEN];
	bool again;

	if (!p || !p->tunnel || p->tunnel_id != tunnel_id)
		return;
	again = p->fqdn[0] && (!p->tunnel_as_cn || p->nwaiters || p->qcount);
	log_info("tunnel %016" PRIx64 " to %s: the TRS acknowledged none of %d Relay Hellos, "
		 "relay session lost%s", tunnel_id, peer_name(p, nb, sizeof(nb)),
		 RELAY_DEAD_HELLOS, again ? ", selecting the route again" : "");
	peer_set_tunnel(p, NULL, 0, clock_now_ms());
	p->state = PEER_IDLE;
	p->unanswered_since_ms = 0;
	if (again && start_selection(o, p, p->fqdn, NULL, NULL) < 0)
		peer_failed(o, p, RESOLVER_SERVFAIL);
}

void overlay_timeout(struct overlay *o)
{
	int64_t now = clock_now_ms();
	size_t i;

	ping_timers(o, now);
	if (now < o->next_tick_ms)
		return;
	early_expire(o, now);
	relay_tick(o->relays, now,
		   &(struct relay_cb){ .alive = relay_alive, .send = relay_send,
				       .dead = relay_dead, .ctx = o });
	o->next_tick_ms = now + OVERLAY_TICK_MS;
	for (i = 0; i < peer_count(o->peers);) {
		struct peer *p = peer_at(o->peers, i);

		peer_tick(o, p, now);
		/* Forget peers nothing refers to any more. */
		if (!p->tunnel && !p->req_id && !p->nwaiters && !p->qcount &&
		    (p->state != PEER_FAILED || now >= p->neg_until_ms)) {
			peer_del(p);
			continue;
		}
		i++;
	}
	peer_index_purge(o->peers, now, OVERLAY_INDEX_AGE_MS);
}

int64_t overlay_next_ms(const struct overlay *o)
{
	int64_t at = o->next_tick_ms;

	for (int i = 0; i < OVERLAY_PINGS; i++)
		if (o->pings[i].used && o->pings[i].state == PING_RUNNING &&
		    o->pings[i].next_ms < at)
			at = o->pings[i].next_ms;
	return at;
}

/* ---- status ---- */

size_t overlay_tunnels(const struct overlay *o, struct overlay_tunnel_view *v, size_t max)
{
	int64_t now = clock_now_ms();
	size_t i, k = 0;

	for (i = 0; i < peer_count(o->peers); i++) {
		const struct peer *p = peer_at(o->peers, i);
		struct tunnel_stats ts;

		if (!p->tunnel)
			continue;
		if (k < max) {
			struct overlay_tunnel_view *x = &v[k];

			memset(x, 0, sizeof(*x));
			tunnel_get_stats(p->tunnel, &ts);
			x->peer = p->fqdn;
			x->have_vip4 = p->have_vip4;
			x->have_vip6 = p->have_vip6;
			x->vip4 = p->vip4;
			x->vip6 = p->vip6;
			x->relay = p->relay;
			x->state = peer_state_str(p->state);
			peer_endpoint_get(p, &x->endpoint);
			x->tunnel_id = p->tunnel_id;
			x->rx_bytes = ts.data.rx_bytes;
			x->tx_bytes = ts.data.tx_bytes;
			x->rx_packets = ts.data.rx_packets;
			x->tx_packets = ts.data.tx_packets;
			x->age_s = (now - p->tunnel_at_ms) / 1000;
		}
		k++;
	}
	return k;
}

const struct overlay_drops *overlay_drops(const struct overlay *o)
{
	return &o->drops;
}

const struct overlay_stats *overlay_stats(const struct overlay *o)
{
	return &o->st;
}

const struct counter overlay_drop_counters[] = {
	COUNTER(struct overlay_drops, replay, "Data counter seen before; stale or replayed Request"),
	COUNTER(struct overlay_drops, auth, "Data or handshake that did not authenticate"),
	COUNTER(struct overlay_drops, unknown, "no tunnel for the receiver index or tunnel id"),
	COUNTER(struct overlay_drops, malformed, "not a plausible message, bad inner packet"),
	COUNTER(struct overlay_drops, bad_src, "inner source not the peer's VIP"),
	COUNTER(struct overlay_drops, bad_dst, "inner destination not this identity's VIP"),
	COUNTER(struct overlay_drops, no_route, "TUN packet with no peer, negative cache, queue full"),
	COUNTER(struct overlay_drops, expired, "Data on a session past its limits"),
};
const size_t overlay_ndrop_counters =
	sizeof(overlay_drop_counters) / sizeof(overlay_drop_counters[0]);
