/* The overlay's public face (overlay.h, overlay_impl.h): making and
 * freeing it, routes from the signaling, lookups and pings that wait for
 * a tunnel, the timers, status. */
#include "overlay_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "dpio.h"
#include "flowcheck.h"
#include "log.h"
#include "tunnel.h"

/* A claimed session index is kept at least this long before the purge
 * asks the tunnel whether it still holds it (covers a handshake in flight). */
#define OVERLAY_INDEX_AGE_MS (TUNNEL_REKEY_ATTEMPT_MS + TUNNEL_GRACE_MS)


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

static void alt_free(void *alt)
{
	dpio_port_free(alt);
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
	if (o->peers)
		peer_table_set_alt_free(o->peers, alt_free);
	o->relays = relay_table_new();
	o->punches = punch_table_new();
	o->out = malloc(OVERLAY_BUF);
	if (!o->peers || !o->out || !o->relays || !o->punches) {
		overlay_free(o);
		return NULL;
	}
	overlay_warm_up(o->out);
	eph_refill(&o->eph, clock_now_ms());
	ping_table_init(&o->pings);
	o->move_next_ms = INT64_MAX;
	o->punch_next_ms = INT64_MAX;
	o->next_tick_ms = clock_now_ms() + OVERLAY_TICK_MS;
	return o;
}

void overlay_free(struct overlay *o)
{
	if (!o)
		return;
	peer_table_free(o->peers);
	eph_clear(&o->eph);
	dpio_spares_free(o->spares);
	relay_table_free(o->relays);
	punch_table_free(o->punches);
	if (o->out)
		cy_wipe(o->out, OVERLAY_BUF);
	free(o->out);
	free(o);
}

struct peer_table *overlay_peers(struct overlay *o)
{
	return o->peers;
}

static enum resolver_status result_status(enum cy_result r)
{
	switch ((int)r) {
	case 4: return RESOLVER_NXDOMAIN;
	case 8: return RESOLVER_REFUSED;
	default: return RESOLVER_SERVFAIL;
	}
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

/* p has a tunnel already and r brings another: false when r loses the
 * race and is ignored, true when its tunnel replaces the old one. */
static bool route_replaces(struct overlay *o, struct peer *p, const struct sig_route *r,
			   int64_t now)
{
	char nb[INET6_ADDRSTRLEN];

	/* Both ends asked at once: two selections, two tunnel ids, and both
	 * ends see both routes within moments, one as MN and one as CN.  The
	 * same rule on both sides keeps one: the larger id.  Otherwise
	 * (later, or a second route of the same kind: the peer asked again)
	 * the peer lost its tunnel (restart): take it.  So does a direct
	 * route that names the peer at another address of the same family
	 * than the tunnel's did: the peer moved and dropped its tunnel to ask
	 * again (docs/mobility.md), and takes whatever route comes.  (Another
	 * family says nothing: the NMS may name a dual-stack peer by either.) */
	bool moved = r->path != CY_PATH_RELAY && !p->relay &&
		     p->route_peer.sa.sa_family == r->peer.ss_family &&
		     !addr_equal_ip(&p->route_peer.sa, (const struct sockaddr *)&r->peer);

	if (!moved && now - p->tunnel_at_ms < OVERLAY_RACE_MS &&
	    (r->req_id == 0) != p->tunnel_as_cn && r->tunnel_id < p->tunnel_id) {
		log_info("route to %s: keeping tunnel %016" PRIx64 " over %016" PRIx64,
			 peer_name(p, nb, sizeof(nb)), p->tunnel_id, r->tunnel_id);
		o->st.routes_ignored++;
		return false;
	}
	log_info("route to %s: tunnel %016" PRIx64 " replaces %016" PRIx64,
		 peer_name(p, nb, sizeof(nb)), r->tunnel_id, p->tunnel_id);
	peer_set_tunnel(p, NULL, 0, now);
	return true;
}

/* r's tunnel for p, in its handshake, towards the endpoint r names.
 * NULL when it cannot be made. */
static struct tunnel *route_tunnel(struct overlay *o, struct peer *p, const struct sig_route *r,
				   int64_t now)
{
	struct tunnel_params tp = {
		.tunnel_id = r->tunnel_id,
		.tunnel_key = r->key,
		.temp_key = r->path == CY_PATH_RELAY ? r->temp_key : NULL,
		.role = r->role == CY_ROLE_INITIATOR ? TUNNEL_INITIATOR : TUNNEL_RESPONDER,
		.local_fqdn = o->fqdn,
		.peer_fqdn = p->fqdn,
		.index_in_use = peer_index_claim,
		.index_ctx = p,
		.spare = &o->eph,
	};
	struct tunnel *t = tunnel_new(&tp);

	if (!t)
		return NULL;
	peer_set_tunnel(p, t, r->tunnel_id, now);
	/* The access policy's protocols and ports for this tunnel. */
	if (!r->flows_out.all || !r->flows_in.all) {
		p->rules = malloc(sizeof(*p->rules));
		if (!p->rules) {
			peer_set_tunnel(p, NULL, 0, now);
			return NULL;
		}
		p->rules->out = r->flows_out;
		p->rules->in = r->flows_in;
	}
	p->tunnel_as_cn = r->req_id == 0;
	p->unanswered_since_ms = 0;
	p->relay = r->path == CY_PATH_RELAY;
	p->state = PEER_HANDSHAKE;
	p->neg_until_ms = 0;
	memset(&p->endpoint, 0, sizeof(p->endpoint));
	memcpy(&p->endpoint, &r->peer, addr_len((const struct sockaddr *)&r->peer));
	p->route_peer = p->endpoint;
	p->have_endpoint = r->peer.ss_family == AF_INET || r->peer.ss_family == AF_INET6;
	return t;
}

void overlay_route_ready(struct overlay *o, const struct sig_route *r)
{
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
	if (p->tunnel && (p->tunnel_id == r->tunnel_id || !route_replaces(o, p, r, now)))
		return;
	t = route_tunnel(o, p, r, now);
	if (!t) {
		log_warnx("route to %s: cannot create the tunnel", peer_name(p, nb, sizeof(nb)));
		peer_failed(o, p, RESOLVER_SERVFAIL);
		return;
	}
	/* Relayed: both sides say hello to the TRS first (it forwards only
	 * between endpoints it heard from), the initiator's Request after. */
	if (p->relay && p->have_endpoint) {
		n = relay_add(o->relays, r->tunnel_id, r->key, (uint8_t)r->role,
			      (const struct sockaddr *)&r->peer, o->out, OVERLAY_BUF);
		if (n > 0)
			send_to(o, NULL, o->out, (size_t)n, (const struct sockaddr *)&r->peer);
	}
	if (r->role != CY_ROLE_INITIATOR) {
		/* A CN initiates as it confirms: its Request usually came
		 * before our route and is answered first.  The probes go
		 * when it is not here (as the CN's leave before it confirms
		 * the route): its NAPT or firewall lets the initiator's
		 * Request (or probe) in. */
		early_replay(o, p);
		punch_route(o, p, r, now);
		return;
	}
	punch_route(o, p, r, now);
	n = tunnel_initiate(t, o->out, OVERLAY_BUF);
	if (n > 0)
		send_peer(o, p, o->out, (size_t)n);
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

void overlay_set_vips(struct overlay *o, const struct in_addr *vip4, const struct in6_addr *vip6)
{
	o->vip4 = *vip4;
	o->vip6 = *vip6;
	o->have_vips = true;
}

/* ---- lookups and pings wait for a tunnel ---- */

/* fqdn's peer (made when none has the name), a route selected for it, and
 * a waiter of kind with token on it.  0 or -errno. */
static int wait_tunnel(struct overlay *o, struct peer *p, const char *fqdn,
		       enum peer_waiter_kind kind, uint64_t token)
{
	bool fresh = false;
	int err;

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
		err = peer_waiter_add(p, kind, token);
	if (err < 0 && fresh)
		peer_del(p);
	return err;
}

static bool peer_usable(const struct peer *p)
{
	return p && p->state == PEER_UP && p->tunnel;
}

/* Selection or set-up failed a moment ago: answered from that. */
static bool peer_negative(const struct peer *p)
{
	return p && p->state == PEER_FAILED && clock_now_ms() < p->neg_until_ms;
}

int overlay_lookup(struct overlay *o, const char *fqdn, uint64_t token)
{
	struct peer *p = peer_by_fqdn(o->peers, fqdn);

	if (peer_usable(p)) {
		o->ops->dns_complete(o->arg, token, RESOLVER_OK, p->have_vip4 ? &p->vip4 : NULL,
				     p->have_vip6 ? &p->vip6 : NULL);
		return 0;
	}
	if (peer_negative(p)) {
		o->ops->dns_complete(o->arg, token, (enum resolver_status)p->neg_status, NULL,
				     NULL);
		return 0;
	}
	return wait_tunnel(o, p, fqdn, PEER_WAIT_DNS, token);
}

int overlay_ping_start(struct overlay *o, const char *fqdn, unsigned count,
		       unsigned interval_ms, uint32_t *id)
{
	struct overlay_ping *pg;
	struct peer *p;
	int err;

	if (!count || count > OVERLAY_PING_MAX || !fqdn[0] || strlen(fqdn) > CY_FQDN_MAX)
		return -EINVAL;
	pg = ping_new(&o->pings, fqdn, count, interval_ms);
	if (!pg)
		return -EBUSY;
	p = peer_by_fqdn(o->peers, fqdn);
	if (peer_usable(p)) {
		ping_run(pg, on_relay(p));
	} else if (peer_negative(p)) {
		ping_fail(pg, status_reason(p->neg_status));
	} else {
		err = wait_tunnel(o, p, fqdn, PEER_WAIT_PING, pg->id);
		if (err < 0)
			return err;
	}
	ping_commit(pg);
	*id = pg->id;
	return 0;
}

int overlay_ping_get(struct overlay *o, uint32_t id, struct overlay_ping_result *res)
{
	return ping_get(&o->pings, id, res);
}

/* ---- timers ---- */

/* Probes due: each through its peer's tunnel. */
static void ping_timers(struct overlay *o, int64_t now)
{
	uint8_t probe[PROBE_LEN];

	for (int i = 0; i < OVERLAY_PINGS; i++) {
		struct overlay_ping *pg = &o->pings.p[i];
		struct sockaddr_storage ep;
		struct peer *p;

		if (ping_due(pg, now) != PING_DUE_PROBE)
			continue;
		p = peer_by_fqdn(o->peers, pg->fqdn);
		if (peer_negative(p)) {
			ping_fail(pg, status_reason(p->neg_status));
			continue;
		}
		if (!p || !p->tunnel) {
			/* Between one tunnel and the next (its relay session
			 * lost, the peer restarted): the probe is lost, and the
			 * route is selected again if nothing else asked yet.
			 * The waiter only lets a failed selection end the ping
			 * at once: a full table of them ends nothing. */
			if (!p ? wait_tunnel(o, p, pg->fqdn, PEER_WAIT_PING, pg->id) < 0
			       : start_selection(o, p, pg->fqdn, NULL, NULL) < 0) {
				ping_fail(pg, "the tunnel went away and no new route could be asked for");
				continue;
			}
			if (p)
				(void)peer_waiter_add(p, PEER_WAIT_PING, pg->id);
			ping_lost(pg, now);
			continue;
		}
		probe_build(pg, probe);
		/* It asks for an answer, as traffic does: none for
		 * OVERLAY_DEAD_MS selects the route again (peer_tick). */
		if (seal_send(o, p, probe, sizeof(probe)) == 0 && !p->unanswered_since_ms)
			p->unanswered_since_ms = p->last_tx_ms;
		peer_endpoint_get(p, &ep);
		ping_sent(pg, &ep, p->have_endpoint, on_relay(p), now);
	}
}

/* Move probes and deadlines of every peer in a move. */
static void move_timers(struct overlay *o, int64_t now)
{
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < peer_count(o->peers); i++) {
		int64_t at = peer_move_tick(o, peer_at(o->peers, i), now);

		if (at < next)
			next = at;
	}
	o->move_next_ms = next;
}

void overlay_handover(struct overlay *o)
{
	int64_t now = clock_now_ms();

	o->st.moves++;
	/* The TRS learns where we are from a hello: before the probes. */
	relay_moved(o->relays, now);
	peer_relay_tick(o, now);
	for (size_t i = 0; i < peer_count(o->peers); i++)
		peer_move(o, peer_at(o->peers, i), now);
	move_timers(o, now);
}

void overlay_punch_direction(struct overlay *o, uint64_t tunnel_id, const char *peer_fqdn,
			     const struct sockaddr *cand, uint8_t mode)
{
	static const char *const how[] = { "", ", spare sockets", ", many ports" };
	struct peer *p = peer_by_tid(o->peers, tunnel_id);
	char a[ADDR_STR_MAX];

	if (!p || !p->tunnel || p->tunnel_id != tunnel_id || !p->relay || !on_relay(p) ||
	    strcasecmp(p->fqdn, peer_fqdn) || mode > CY_PUNCH_SPRAY ||
	    punch_redirect(o->punches, tunnel_id, cand, mode, clock_now_ms()) < 0) {
		o->st.punch_dirs_ignored++;
		return;
	}
	log_info("tunnel %016" PRIx64 " to %s: punching again, towards %s%s", tunnel_id,
		 p->fqdn, addr_str(cand, a), how[mode]);
	if (mode == CY_PUNCH_MANY)
		punch_many(o, p, cand);
	o->punch_next_ms = punch_next_ms(o->punches);
}

void overlay_teardown(struct overlay *o, uint64_t tunnel_id, const char *peer_fqdn,
		      const char *reason, enum cy_result result)
{
	struct peer *p = peer_by_tid(o->peers, tunnel_id);
	char nb[INET6_ADDRSTRLEN];

	if (!p || !p->tunnel || p->tunnel_id != tunnel_id ||
	    (p->fqdn[0] && strcasecmp(p->fqdn, peer_fqdn))) {
		o->st.teardowns_ignored++;
		return;
	}
	log_info("tunnel %016" PRIx64 " to %s torn down by the NMS: %s", tunnel_id,
		 peer_name(p, nb, sizeof(nb)), reason[0] ? reason : "no reason given");
	o->st.teardowns++;
	peer_set_tunnel(p, NULL, 0, clock_now_ms());
	/* What waits for it, and what comes for the next PEER_NEG_MS, is
	 * refused (as unknown: the policy's answer; or as the failed
	 * selection's RESULT says); then the NMS decides again. */
	peer_failed(o, p, result_status(result));
}

void overlay_set_observed(struct overlay *o, const struct sockaddr *observed)
{
	socklen_t l = addr_len(observed);

	/* A registration: the NMS may have forgotten what we told it (it
	 * does when it sees us elsewhere, or lost the registration). */
	o->mapping_told = CY_MAP_UNKNOWN;
	if (!l || addr_equal(observed, (const struct sockaddr *)&o->observed))
		return;
	memset(&o->observed, 0, sizeof(o->observed));
	memcpy(&o->observed, observed, l);
	/* Behind another NAPT now, maybe: the TRS will tell again. */
	o->mapping = CY_MAP_UNKNOWN;
}

uint8_t overlay_mapping(const struct overlay *o)
{
	return o->mapping;
}

void overlay_timeout(struct overlay *o)
{
	int64_t now = clock_now_ms();
	size_t i;

	ping_timers(o, now);
	/* The key a handshake took, made again now that it has been sent. */
	eph_refill(&o->eph, now);
	if (now >= o->move_next_ms)
		move_timers(o, now);
	if (now >= o->punch_next_ms)
		peer_punch_tick(o, now);
	if (now < o->next_tick_ms)
		return;
	spares_check(o);
	o->drops.unknown += early_expire(&o->early, now);
	peer_relay_tick(o, now);
	/* Also when nothing is due: entries of tunnels gone go with it. */
	peer_punch_tick(o, now);
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
	int64_t at = ping_next_ms(&o->pings, o->next_tick_ms);

	if (o->punch_next_ms < at)
		at = o->punch_next_ms;
	if (eph_next_ms(&o->eph) < at)
		at = eph_next_ms(&o->eph);
	return o->move_next_ms < at ? o->move_next_ms : at;
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
			x->relay = on_relay(p);
			x->found = x->relay	 ? "relay"
				   : p->birthday ? "birthday"
				   : p->punch	 ? "punch"
						 : "address";
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

const struct overlay_stats *overlay_stats(struct overlay *o)
{
	o->st.keys_ahead = o->eph.taken;
	o->st.keys_made_now = o->eph.made_now;
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
	COUNTER(struct overlay_drops, stale_move, "older Data from an address the peer is not at"),
	COUNTER(struct overlay_drops, punch_early, "Punch for a tunnel not held (its route on the way)"),
	COUNTER(struct overlay_drops, policy, "inner packet outside the flows the access policy allows"),
};
const size_t overlay_ndrop_counters =
	sizeof(overlay_drop_counters) / sizeof(overlay_drop_counters[0]);

const struct counter overlay_counters[] = {
	COUNTER(struct overlay_stats, tun_rx, "packets read from the TUN device"),
	COUNTER(struct overlay_stats, udp_rx_data, "Data messages taken from peers"),
	COUNTER(struct overlay_stats, hs_completed, "tunnel handshakes completed"),
	COUNTER(struct overlay_stats, routes, "routes received from the NMS"),
	COUNTER(struct overlay_stats, routes_ignored, "routes that lost a race to a newer tunnel"),
	COUNTER(struct overlay_stats, probes_echoed, "path probes answered"),
	COUNTER(struct overlay_stats, moves, "moves of this node to other addresses"),
	COUNTER(struct overlay_stats, moves_confirmed, "peers confirmed at their new address"),
	COUNTER(struct overlay_stats, moves_reselected, "tunnels selected again after a move"),
	COUNTER(struct overlay_stats, punched, "direct paths found by punching"),
	COUNTER(struct overlay_stats, punch_failed, "punching attempts that found no path"),
	COUNTER(struct overlay_stats, path_fallbacks, "direct paths given up for the relay"),
	COUNTER(struct overlay_stats, punch_dirs_ignored, "Punch Directions ignored"),
	COUNTER(struct overlay_stats, requests_on_probe,
		"Tunnel Requests sent again when the responder's probe came"),
	COUNTER(struct overlay_stats, requests_missed,
		"tunnels given up as responder: no Tunnel Request came"),
	COUNTER(struct overlay_stats, teardowns, "tunnels torn down by the NMS"),
	COUNTER(struct overlay_stats, teardowns_ignored, "Tunnel Teardowns for no tunnel held"),
	COUNTER(struct overlay_stats, regrants, "tunnels selected again when their grant ran out"),
	COUNTER(struct overlay_stats, keys_ahead, "handshakes that took an ephemeral key made ahead"),
	COUNTER(struct overlay_stats, keys_made_now, "handshakes that made their ephemeral key then"),
};
const size_t overlay_ncounters = sizeof(overlay_counters) / sizeof(overlay_counters[0]);
