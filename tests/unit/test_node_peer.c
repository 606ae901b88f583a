/* The peer table (peer.c) and the overlay's packet path (overlay.c) with
 * no sockets: two overlays wired back to back through a fake network, a
 * fake clock, and hand-made routes standing in for the NMS. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "dpio.h"
#include "early.h"
#include "overlay.h"
#include "peer.h"
#include "ping.h"
#include "punch.h"
#include "session.h"
#include "tunnel.h"

static int64_t now_s = 1700000000, now_ms = 5000000;

static void advance(int64_t ms)
{
	now_ms += ms;
	now_s += ms / 1000;
	clock_set_fake(now_s, now_ms);
}

/* ---- peer table ---- */

static void test_peer_lookups(void **state)
{
	struct peer_table *t = peer_table_new();
	struct peer *a, *b;
	struct in_addr v4;
	struct in6_addr v6;
	uint8_t k4[4], k6[16];

	assert_non_null(t);
	a = peer_new(t);
	b = peer_new(t);
	assert_non_null(a);
	assert_non_null(b);
	inet_pton(AF_INET, "100.64.0.7", &v4);
	inet_pton(AF_INET6, "fd00::7", &v6);
	assert_int_equal(peer_set_fqdn(a, "a.example.test"), 0);
	assert_int_equal(peer_set_vip4(a, &v4), 0);
	assert_int_equal(peer_set_vip6(a, &v6), 0);
	/* keys are unique */
	assert_int_equal(peer_set_fqdn(b, "a.example.test"), -EEXIST);
	assert_int_equal(peer_set_vip4(b, &v4), -EEXIST);
	assert_int_equal(peer_set_fqdn(b, ""), -EINVAL);
	assert_int_equal(peer_set_fqdn(b, "b.example.test"), 0);

	memcpy(k4, &v4, 4);
	memcpy(k6, &v6, 16);
	assert_ptr_equal(peer_by_fqdn(t, "a.example.test"), a);
	assert_ptr_equal(peer_by_fqdn(t, "b.example.test"), b);
	assert_null(peer_by_fqdn(t, "c.example.test"));
	assert_ptr_equal(peer_by_vip4(t, k4), a);
	assert_ptr_equal(peer_by_vip6(t, k6), a);
	k4[3]++;
	assert_null(peer_by_vip4(t, k4));

	/* renaming re-indexes */
	assert_int_equal(peer_set_fqdn(b, "bb.example.test"), 0);
	assert_null(peer_by_fqdn(t, "b.example.test"));
	assert_ptr_equal(peer_by_fqdn(t, "bb.example.test"), b);

	/* indexes claimed by a peer's tunnel */
	assert_false(peer_index_claim(a, 42));
	assert_true(peer_index_claim(b, 42));      /* taken: the tunnel draws again */
	assert_false(peer_index_claim(b, 43));
	assert_ptr_equal(peer_by_index(t, 42), a);
	assert_ptr_equal(peer_by_index(t, 43), b);
	assert_int_equal(peer_index_count(t), 2);
	/* no tunnel holds them: purged once old enough, not before */
	peer_index_purge(t, 1000, 5000);
	assert_int_equal(peer_index_count(t), 2);
	peer_index_purge(t, 100000, 5000);
	assert_int_equal(peer_index_count(t), 0);

	b->req_id = 9;
	assert_ptr_equal(peer_by_req(t, 9), b);
	assert_null(peer_by_req(t, 0));

	/* delete: the others stay reachable */
	assert_false(peer_index_claim(a, 77));
	peer_del(a);
	assert_null(peer_by_fqdn(t, "a.example.test"));
	memcpy(k4, &v4, 4);
	assert_null(peer_by_vip4(t, k4));
	assert_null(peer_by_index(t, 77));
	assert_int_equal(peer_count(t), 1);
	assert_ptr_equal(peer_at(t, 0), b);
	assert_ptr_equal(peer_by_fqdn(t, "bb.example.test"), b);
	peer_table_free(t);
}

static void test_peer_many(void **state)
{
	struct peer_table *t = peer_table_new();
	char name[64];
	int i;

	for (i = 0; i < 2000; i++) {
		struct peer *p = peer_new(t);
		struct in_addr a = { htonl(0x64400000u + (uint32_t)i) };

		assert_non_null(p);
		snprintf(name, sizeof(name), "n%d.example.test", i);
		assert_int_equal(peer_set_fqdn(p, name), 0);
		assert_int_equal(peer_set_vip4(p, &a), 0);
	}
	for (i = 0; i < 2000; i += 7) {
		uint32_t a = htonl(0x64400000u + (uint32_t)i);
		struct peer *p;

		snprintf(name, sizeof(name), "n%d.example.test", i);
		p = peer_by_fqdn(t, name);
		assert_non_null(p);
		assert_ptr_equal(peer_by_vip4(t, (const uint8_t *)&a), p);
		peer_del(p);
		assert_null(peer_by_fqdn(t, name));
	}
	for (i = 1; i < 2000; i += 7) {
		snprintf(name, sizeof(name), "n%d.example.test", i);
		assert_non_null(peer_by_fqdn(t, name));
	}
	peer_table_free(t);
}

static void test_peer_queue(void **state)
{
	struct peer_table *t = peer_table_new();
	struct peer *p = peer_new(t), *q = peer_new(t);
	uint8_t pkt[100];
	const uint8_t *f;
	size_t len;
	int i;

	for (i = 0; i < PEER_QUEUE; i++) {
		memset(pkt, i, sizeof(pkt));
		assert_int_equal(peer_queue_push(p, pkt, 10 + (size_t)i), 0);
	}
	assert_int_equal(peer_queue_push(p, pkt, 10), -ENOBUFS);
	f = peer_queue_front(p, &len);
	assert_non_null(f);
	assert_int_equal(len, 10);
	assert_int_equal(f[0], 0);
	peer_queue_pop(p);
	f = peer_queue_front(p, &len);
	assert_int_equal(len, 11);
	assert_int_equal(f[0], 1);

	for (i = 0; i < PEER_WAITERS; i++)
		assert_int_equal(peer_waiter_add(p, PEER_WAIT_DNS, (uint64_t)i), 0);
	assert_int_equal(peer_waiter_add(p, PEER_WAIT_DNS, 3), 0);   /* duplicate: merged */
	assert_int_equal(peer_waiter_add(p, PEER_WAIT_DNS, 99), -ENOBUFS);

	/* merge: q's queue and waiters move into an empty r, q goes away */
	peer_queue_push(q, pkt, 5);
	peer_waiter_add(q, PEER_WAIT_PING, 1);
	{
		struct peer *r = peer_new(t);

		assert_int_equal(peer_merge_into(r, q), 0);
		assert_int_equal(r->qcount, 1);
		assert_int_equal(r->nwaiters, 1);
		assert_int_equal(peer_count(t), 2);
	}
	assert_int_equal(peer_queue_clear(p), PEER_QUEUE - 1);
	peer_table_free(t);   /* LSan: nothing left behind */
}

/* What waits is allocated only while it waits: the ring goes with the
 * last packet, the waiter list with peer_waiters_clear; the FQDN is
 * kept at its length and may change; the endpoint widens exactly. */
static void test_peer_memory(void **state)
{
	struct peer_table *t = peer_table_new();
	struct peer *p = peer_new(t);
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	uint8_t pkt[10] = { 1 };

	assert_string_equal(p->fqdn, "");
	assert_null(p->queue);
	assert_null(p->waiters);
	assert_int_equal(peer_queue_push(p, pkt, sizeof(pkt)), 0);
	assert_int_equal(peer_queue_push(p, pkt, 0), 0);
	assert_non_null(p->queue);
	peer_queue_pop(p);
	assert_non_null(p->queue);
	peer_queue_pop(p);
	assert_null(p->queue);
	assert_int_equal(p->qcount, 0);
	peer_queue_pop(p);   /* empty: nothing happens */
	assert_int_equal(peer_queue_push(p, pkt, sizeof(pkt)), 0);
	assert_int_equal(peer_queue_clear(p), 1);
	assert_null(p->queue);

	assert_int_equal(peer_waiter_add(p, PEER_WAIT_DNS, 7), 0);
	assert_non_null(p->waiters);
	peer_waiters_clear(p);
	assert_null(p->waiters);
	assert_int_equal(p->nwaiters, 0);
	assert_int_equal(peer_waiter_add(p, PEER_WAIT_PING, 8), 0);
	assert_int_equal(p->waiters[0].kind, PEER_WAIT_PING);

	assert_int_equal(peer_set_fqdn(p, "a.example.test"), 0);
	assert_int_equal(peer_set_fqdn(p, "bb.example.test"), 0);
	assert_string_equal(p->fqdn, "bb.example.test");
	assert_null(peer_by_fqdn(t, "a.example.test"));
	assert_ptr_equal(peer_by_fqdn(t, "bb.example.test"), p);

	memset(&ss, 0xee, sizeof(ss));
	peer_endpoint_get(p, &ss);
	assert_int_equal(ss.ss_family, AF_UNSPEC);
	p->endpoint.sin6.sin6_family = AF_INET6;
	p->endpoint.sin6.sin6_port = htons(7446);
	p->endpoint.sin6.sin6_addr.s6_addr[15] = 1;
	peer_endpoint_get(p, &ss);
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(s6->sin6_port, htons(7446));
	assert_int_equal(s6->sin6_addr.s6_addr[15], 1);
	assert_true(sizeof(p->endpoint) >= sizeof(struct sockaddr_in6));
	peer_table_free(t);   /* LSan: the waiter list and the FQDN went with p */
}

/* ---- two overlays back to back ---- */

#define NET_MAX 64

struct dgram {
	int from, to;   /* node numbers */
	struct sockaddr_storage src;   /* where it comes from: from's address, or the TRS's */
	size_t len;
	uint8_t b[2048];
};

struct fake_node {
	int id;
	struct overlay *ov;
	struct dpio_port *port;       /* no socket: sends go to f_send */
	struct sockaddr_storage addr;
	struct in_addr vip4;
	struct in6_addr vip6;
	char fqdn[64];
	/* what came out */
	int tun_writes;
	uint8_t last_tun[2048];
	size_t last_tun_len;
	int dir_reqs;
	uint32_t next_req;
	char last_req_fqdn[64];
	bool last_req_vip4;
	int dns_done;
	enum resolver_status dns_status;
	bool dns_have_vip4;
	struct in_addr dns_vip4;
};

static struct dgram net[NET_MAX];
static int nnet;
static struct fake_node nodes[2];
/* A third address, no node's: what is sent there is only counted. */
static struct sockaddr_storage elsewhere;
static int to_elsewhere;
/* A TRS relay session: what a node sends there goes on, unchanged, to
 * the other node, from this address; its hellos are only counted. */
static struct sockaddr_storage trs;
static int trs_hellos;
/* route(): through the TRS (route_relay), with the other node's own
 * address as a candidate to punch (route_cand). */
static bool route_relay, route_cand;
static int drop_punch_from;   /* this node's probes are lost (-1: none) */
static bool drop_next;     /* the next datagram is lost */
static bool capture;       /* keep a copy of the last data datagram */
static struct dgram captured;

static int node_of(const struct sockaddr *to)
{
	for (int i = 0; i < 2; i++)
		if (!memcmp(&nodes[i].addr, to, addr_len(to)))
			return i;
	return -1;
}

static int f_send(void *arg, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	struct fake_node *n = arg;
	struct dgram *d;

	assert_true(len <= sizeof(net[0].b));
	if (drop_next) {
		drop_next = false;
		return 0;
	}
	if (!memcmp(&elsewhere, to, addr_len(to))) {
		to_elsewhere++;
		return 0;
	}
	if (n->id == drop_punch_from && len > 3 && buf[1] == CY_PUNCH && buf[3] == PUNCH_PROBE)
		return 0;
	if (!memcmp(&trs, to, addr_len(to)) && len > 1 && buf[1] == CY_RELAY_HELLO) {
		trs_hellos++;
		return 0;
	}
	assert_true(nnet < NET_MAX);
	d = &net[nnet++];
	d->from = n->id;
	d->src = n->addr;
	if (!memcmp(&trs, to, addr_len(to))) {
		d->to = 1 - n->id;
		d->src = trs;
	} else {
		d->to = node_of(to);
	}
	assert_true(d->to >= 0);
	d->len = len;
	memcpy(d->b, buf, len);
	if (capture && len > 1 && buf[1] == CY_DATA && len > SESSION_OVERHEAD)
		captured = *d;
	return 0;
}

static int f_tun_write(void *arg, const uint8_t *pkt, size_t len)
{
	struct fake_node *n = arg;

	n->tun_writes++;
	memcpy(n->last_tun, pkt, len);
	n->last_tun_len = len;
	return 0;
}

static int f_dir(void *arg, const char *fqdn, const uint8_t *vip4, const uint8_t *vip6,
		 uint32_t *req)
{
	struct fake_node *n = arg;

	n->dir_reqs++;
	snprintf(n->last_req_fqdn, sizeof(n->last_req_fqdn), "%s", fqdn ? fqdn : "");
	n->last_req_vip4 = vip4 != NULL;
	*req = ++n->next_req;
	return 0;
}

static void f_dns(void *arg, uint64_t token, enum resolver_status st, const struct in_addr *v4,
		  const struct in6_addr *v6)
{
	struct fake_node *n = arg;

	n->dns_done++;
	n->dns_status = st;
	n->dns_have_vip4 = v4 != NULL;
	if (v4)
		n->dns_vip4 = *v4;
}

static const struct overlay_ops f_ops = {
	.direction_request = f_dir, .dns_complete = f_dns,
};

static struct dpio *io;

static void deliver_one(int i)
{
	struct dgram d = net[i];

	memmove(&net[i], &net[i + 1], (size_t)(nnet - i - 1) * sizeof(net[0]));
	nnet--;
	assert_int_equal(overlay_udp_input(nodes[d.to].ov, d.b, d.len, (struct sockaddr *)&d.src),
			 0);
}

static void deliver_all(void)
{
	int guard = 0;

	while (nnet) {
		deliver_one(0);
		assert_true(++guard < 1000);
	}
}

static void setup_node(int i, const char *name, const char *ip, const char *v4, const char *v6)
{
	struct fake_node *n = &nodes[i];
	struct overlay_cfg cfg = { .ops = &f_ops };
	socklen_t len;

	memset(n, 0, sizeof(*n));
	n->id = i;
	n->port = dpio_port_new(io, &(struct dpio_port_cfg){ .tap = f_send, .arg = n,
				.deliver = f_tun_write, .deliver_arg = n });
	assert_non_null(n->port);
	cfg.port = n->port;
	snprintf(n->fqdn, sizeof(n->fqdn), "%s.example.test", name);
	assert_int_equal(addr_parse(ip, 7446, &n->addr, &len), 0);
	inet_pton(AF_INET, v4, &n->vip4);
	inet_pton(AF_INET6, v6, &n->vip6);
	cfg.local_fqdn = n->fqdn;
	cfg.arg = n;
	n->ov = overlay_new(&cfg);
	assert_non_null(n->ov);
	overlay_set_vips(n->ov, &n->vip4, &n->vip6);
}

static int setup(void **state)
{
	clock_set_fake(now_s, now_ms);
	io = dpio_new(NULL, &DP_CONF_ALL);
	assert_non_null(io);
	nnet = 0;
	drop_next = capture = false;
	to_elsewhere = 0;
	{
		socklen_t len;

		assert_int_equal(addr_parse("198.51.100.66", 5555, &elsewhere, &len), 0);
		assert_int_equal(addr_parse("192.0.2.1", 40001, &trs, &len), 0);
	}
	trs_hellos = 0;
	route_relay = route_cand = false;
	drop_punch_from = -1;
	setup_node(0, "a", "192.0.2.10", "100.64.0.1", "fd00::1");
	setup_node(1, "b", "192.0.2.30", "100.64.0.2", "fd00::2");
	return 0;
}

static int teardown(void **state)
{
	overlay_free(nodes[0].ov);
	overlay_free(nodes[1].ov);
	dpio_port_free(nodes[0].port);
	dpio_port_free(nodes[1].port);
	dpio_free(io);
	clock_set_fake(0, 0);
	return 0;
}

/* The flows the next route() gives (NULL: everything). */
static const struct cy_flows *route_out, *route_in;

/* The route node `at` gets about node `other`. */
static void route(int at, int other, uint64_t tid, bool initiator, uint32_t req_id)
{
	struct sig_route r = { 0 };

	r.flows_out.all = r.flows_in.all = true;
	if (route_out)
		r.flows_out = *route_out;
	if (route_in)
		r.flows_in = *route_in;
	r.req_id = req_id;
	r.tunnel_id = tid;
	memset(r.key, 0x5a, sizeof(r.key));
	snprintf(r.peer_fqdn, sizeof(r.peer_fqdn), "%s", nodes[other].fqdn);
	r.have_vip4 = r.have_vip6 = true;
	r.peer_vip4 = nodes[other].vip4;
	r.peer_vip6 = nodes[other].vip6;
	r.peer = nodes[other].addr;
	r.role = initiator ? CY_ROLE_INITIATOR : CY_ROLE_RESPONDER;
	r.path = CY_PATH_DIRECT;
	if (route_relay) {
		r.path = CY_PATH_RELAY;
		r.peer = trs;
		memset(r.temp_key, 0x3c, sizeof(r.temp_key));
	}
	if (route_cand) {
		r.have_cand = true;
		r.cand = nodes[other].addr;
		r.punch_mode = CY_PUNCH_PLAIN;
	}
	overlay_route_ready(nodes[at].ov, &r);
}

/* A minimal IPv4 packet from -> to (only the fields the overlay reads). */
static size_t ip4(uint8_t *p, const struct in_addr *src, const struct in_addr *dst, uint8_t tag)
{
	memset(p, 0, 60);
	p[0] = 0x45;
	p[3] = 60;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	p[59] = tag;
	return 60;
}

static void up_pair(uint64_t tid)
{
	route(1, 0, tid, false, 0);   /* the CN first, as the NMS does */
	route(0, 1, tid, true, 1);
	deliver_all();
}

/* n's daemon restarted: a new overlay, no tunnels, the same VIPs. */
static void node_restart(struct fake_node *n)
{
	struct overlay_cfg cfg = { .ops = &f_ops, .local_fqdn = n->fqdn, .port = n->port,
				   .arg = n };

	overlay_free(n->ov);
	n->ov = overlay_new(&cfg);
	assert_non_null(n->ov);
	overlay_set_vips(n->ov, &n->vip4, &n->vip6);
}

static void test_overlay_packet_to_vip(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	uint8_t pkt[60];

	/* a packet to b's VIP with no tunnel: one route request by VIP, queued */
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 2));
	assert_int_equal(a->dir_reqs, 1);
	assert_true(a->last_req_vip4);
	assert_int_equal(nnet, 0);

	/* the route comes: handshake, then the queued packets arrive in order */
	route(1, 0, 0x1111, false, 0);
	route(0, 1, 0x1111, true, a->next_req);
	deliver_all();
	assert_int_equal(b->tun_writes, 2);
	assert_int_equal(b->last_tun[59], 2);

	/* both ways now */
	overlay_tun_input(b->ov, pkt, ip4(pkt, &b->vip4, &a->vip4, 3));
	deliver_all();
	assert_int_equal(a->tun_writes, 1);
	assert_int_equal(a->last_tun[59], 3);

	/* a DNS lookup with the tunnel up completes at once, with the VIPs */
	assert_int_equal(overlay_lookup(a->ov, "b.example.test", 7), 0);
	assert_int_equal(a->dns_done, 1);
	assert_int_equal(a->dns_status, RESOLVER_OK);
	assert_true(a->dns_have_vip4);
	assert_int_equal(a->dns_vip4.s_addr, b->vip4.s_addr);
	assert_int_equal(a->dir_reqs, 1);

	/* status view */
	{
		struct overlay_tunnel_view v[4];

		assert_int_equal(overlay_tunnels(a->ov, v, 4), 1);
		assert_string_equal(v[0].peer, "b.example.test");
		assert_string_equal(v[0].state, "up");
		assert_true(v[0].tx_bytes >= 120);
		assert_true(v[0].rx_bytes >= 60);
	}
	/* multicast and link-local chatter on the TUN never starts a route */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x60;
	pkt[24] = 0xff;
	pkt[25] = 0x02;
	overlay_tun_input(a->ov, pkt, sizeof(pkt));
	assert_int_equal(a->dir_reqs, 1);
}

/* An authenticated peer's packet that is not addressed to this identity
 * is dropped, never delivered to the TUN (from where an adapter would
 * route it on to the Internet or its LAN): a peer cannot use a node as
 * a router. */
static void test_overlay_foreign_destination_dropped(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	const struct overlay_drops *d = overlay_drops(b->ov);
	struct in_addr elsewhere4;
	struct in6_addr elsewhere6;
	uint8_t pkt[60];

	up_pair(0x2323);
	/* b's own VIP is now another: what a sends to the old one is not b's */
	inet_pton(AF_INET, "100.64.0.99", &elsewhere4);
	inet_pton(AF_INET6, "fd00::99", &elsewhere6);
	overlay_set_vips(b->ov, &elsewhere4, &elsewhere6);
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
	deliver_all();
	assert_int_equal(d->bad_dst, 1);
	assert_int_equal(d->bad_src, 0);
	assert_int_equal(b->tun_writes, 0);
	/* addressed to b: delivered */
	overlay_set_vips(b->ov, &b->vip4, &b->vip6);
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 2));
	deliver_all();
	assert_int_equal(b->tun_writes, 1);
	assert_int_equal(d->bad_dst, 1);
}

static void test_overlay_drops(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	const struct overlay_drops *d = overlay_drops(b->ov);
	struct in_addr other;
	uint8_t pkt[60];
	struct dgram c;

	up_pair(0x2222);
	capture = true;
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
	capture = false;
	c = captured;
	deliver_all();
	assert_int_equal(b->tun_writes, 1);

	/* replay */
	net[nnet++] = c;
	deliver_all();
	assert_int_equal(d->replay, 1);
	/* modified */
	c.b[c.len - 1] ^= 1;
	c.b[15] ^= 0x40;   /* a fresh counter so the window does not refuse it first */
	net[nnet++] = c;
	deliver_all();
	assert_int_equal(d->auth, 1);
	/* unknown session */
	c.b[4] ^= 0xff;
	net[nnet++] = c;
	deliver_all();
	assert_int_equal(d->unknown, 1);
	/* malformed: too short to be anything */
	c.len = 5;
	net[nnet++] = c;
	deliver_all();
	assert_int_equal(d->malformed, 1);
	assert_int_equal(b->tun_writes, 1);

	/* a peer sending in another VIP's name */
	inet_pton(AF_INET, "100.64.0.99", &other);
	overlay_tun_input(a->ov, pkt, ip4(pkt, &other, &b->vip4, 9));
	deliver_all();
	assert_int_equal(d->bad_src, 1);
	assert_int_equal(b->tun_writes, 1);

	/* not ours at all: signaling goes to sig_input */
	pkt[0] = 1;
	pkt[1] = 0x80;
	assert_int_equal(overlay_udp_input(b->ov, pkt, 40, (struct sockaddr *)&a->addr), -ENOMSG);
}

static void test_overlay_route_failed(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	uint8_t pkt[60];

	assert_int_equal(overlay_lookup(a->ov, "zz.example.test", 1), 0);
	assert_int_equal(a->dir_reqs, 1);
	assert_string_equal(a->last_req_fqdn, "zz.example.test");
	/* a second lookup joins the first */
	assert_int_equal(overlay_lookup(a->ov, "zz.example.test", 2), 0);
	assert_int_equal(a->dir_reqs, 1);
	overlay_route_failed(a->ov, a->next_req, 4);
	assert_int_equal(a->dns_done, 2);
	assert_int_equal(a->dns_status, RESOLVER_NXDOMAIN);
	/* negative cache: answered at once, no new request */
	assert_int_equal(overlay_lookup(a->ov, "zz.example.test", 3), 0);
	assert_int_equal(a->dns_done, 3);
	assert_int_equal(a->dir_reqs, 1);
	advance(PEER_NEG_MS + OVERLAY_TICK_MS);
	overlay_timeout(a->ov);
	assert_int_equal(overlay_lookup(a->ov, "zz.example.test", 4), 0);
	assert_int_equal(a->dir_reqs, 2);
	overlay_route_failed(a->ov, a->next_req, 8);
	assert_int_equal(a->dns_status, RESOLVER_REFUSED);

	/* packets to an unreachable VIP: one selection, then the cache holds */
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
	assert_int_equal(a->dir_reqs, 3);
	overlay_route_failed(a->ov, a->next_req, 9);
	for (int i = 0; i < 50; i++)
		overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
	assert_int_equal(a->dir_reqs, 3);
	assert_true(overlay_drops(a->ov)->no_route >= 50);
}

/* Both ends asked for each other at once: two selections, two tunnel
 * ids, each end sees both routes in some order; one tunnel remains. */
static void check_one_tunnel(uint64_t want)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct overlay_tunnel_view va, vb;
	int wa = a->tun_writes, wb = b->tun_writes;
	uint8_t pkt[60];

	assert_int_equal(overlay_tunnels(a->ov, &va, 1), 1);
	assert_int_equal(overlay_tunnels(b->ov, &vb, 1), 1);
	assert_int_equal(va.tunnel_id, want);
	assert_int_equal(vb.tunnel_id, want);
	assert_string_equal(va.state, "up");
	assert_string_equal(vb.state, "up");
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
	overlay_tun_input(b->ov, pkt, ip4(pkt, &b->vip4, &a->vip4, 2));
	deliver_all();
	assert_int_equal(a->tun_writes, wa + 1);
	assert_int_equal(b->tun_writes, wb + 1);
}

static void test_overlay_simultaneous(void **state)
{
	/* selection 1 (a asked): b is the CN (responder), a initiates;
	 * selection 2 (b asked): a is the CN, b initiates.  The CN always
	 * hears first.  Order 1: both routes before any handshake. */
	route(1, 0, 0x1000, false, 0);
	route(0, 1, 0x1000, true, 1);
	route(0, 1, 0x9000, false, 0);
	route(1, 0, 0x9000, true, 1);
	deliver_all();
	check_one_tunnel(0x9000);
}

static void test_overlay_simultaneous_late(void **state)
{
	/* Order 2: selection 2 finishes (handshake and all) before
	 * selection 1's routes arrive; the smaller id is ignored on both. */
	route(0, 1, 0x9000, false, 0);
	route(1, 0, 0x9000, true, 1);
	deliver_all();
	route(1, 0, 0x1000, false, 0);
	deliver_all();
	route(0, 1, 0x1000, true, 2);
	deliver_all();
	check_one_tunnel(0x9000);
	/* Order 3: the larger id comes second, after the first is up. */
	advance(OVERLAY_RACE_MS + 1000);
	route(0, 1, 0x100, false, 0);    /* later: a new route replaces (peer restarted) */
	route(1, 0, 0x100, true, 3);
	deliver_all();
	check_one_tunnel(0x100);
}

/* The CN is told to initiate and its Request overtakes the NMS's answer
 * to the MN: the MN keeps it and answers as soon as the route comes. */
static void test_overlay_early_request(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];

	route(1, 0, 0x3333, true, 0);      /* b (CN) initiates at once */
	assert_int_equal(nnet, 1);
	deliver_all();                     /* a has no route yet */
	assert_int_equal(overlay_drops(a->ov)->unknown, 0);
	route(0, 1, 0x3333, false, 1);     /* now it has: answers at once */
	assert_int_equal(nnet, 1);         /* the Response; no probe: the way is open */
	assert_int_equal(a->dns_done, 0);
	deliver_all();
	{
		struct overlay_tunnel_view v;

		assert_int_equal(overlay_tunnels(a->ov, &v, 1), 1);
		assert_string_equal(v.state, "up");
		assert_int_equal(overlay_tunnels(b->ov, &v, 1), 1);
		assert_string_equal(v.state, "up");
	}
	assert_int_equal(overlay_stats(b->ov)->requests_on_probe, 0);
}

/* The CN initiates and a firewall in front of the MN drops its Request:
 * the MN's probe, sent as its route arrives, opens the firewall and
 * brings the same Request again at once, not a second later.  Once per
 * attempt: the burst's next probe is only acked. */
static void test_overlay_request_on_probe(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct overlay_tunnel_view v;

	drop_next = true;
	route(1, 0, 0x5555, true, 0);      /* b's Request: dropped */
	assert_int_equal(nnet, 0);
	route(0, 1, 0x5555, false, 1);     /* a has no Request: it probes */
	assert_int_equal(nnet, 1);
	assert_int_equal(net[0].from, 0);
	assert_int_equal(net[0].b[1], CY_PUNCH);
	deliver_one(0);                    /* b: the ack, then the Request */
	assert_int_equal(nnet, 2);
	assert_int_equal(net[0].b[1], CY_PUNCH);
	assert_int_equal(net[1].b[1], CY_TUNNEL_REQ);
	assert_int_equal(overlay_stats(b->ov)->requests_on_probe, 1);
	/* a's next probe, before the Request arrives: acked, nothing more */
	advance(PUNCH_RETRY_MS);
	overlay_timeout(a->ov);
	assert_int_equal(nnet, 3);
	assert_int_equal(net[2].from, 0);
	deliver_one(2);
	assert_int_equal(nnet, 3);
	assert_int_equal(net[2].b[1], CY_PUNCH);
	assert_int_equal(overlay_stats(b->ov)->requests_on_probe, 1);
	deliver_all();
	assert_int_equal(overlay_tunnels(a->ov, &v, 1), 1);
	assert_string_equal(v.state, "up");
	assert_int_equal(overlay_tunnels(b->ov, &v, 1), 1);
	assert_string_equal(v.state, "up");
	for (int i = 0; i < 2; i++) {
		const struct overlay_drops *d = overlay_drops(nodes[i].ov);

		assert_int_equal(d->replay + d->auth + d->unknown + d->malformed, 0);
	}
}

/* The Request was only late: the copy the probe brought came first and
 * made the tunnel; the first copy, after b confirmed the session, is a
 * duplicate: it changes nothing and counts as no drop. */
static void test_overlay_request_on_probe_late(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct overlay_tunnel_view v;
	struct dgram req;

	route(1, 0, 0x6666, true, 0);      /* b's Request, held back */
	assert_int_equal(nnet, 1);
	req = net[0];
	nnet = 0;
	route(0, 1, 0x6666, false, 1);     /* a probes */
	deliver_all();                     /* b's ack and Request again; a answers */
	net[nnet++] = req;                 /* the first copy, late */
	deliver_all();
	assert_int_equal(overlay_tunnels(a->ov, &v, 1), 1);
	assert_string_equal(v.state, "up");
	assert_int_equal(overlay_tunnels(b->ov, &v, 1), 1);
	assert_string_equal(v.state, "up");
	assert_int_equal(overlay_stats(a->ov)->hs_completed, 1);
	assert_int_equal(overlay_stats(b->ov)->hs_completed, 1);
	for (int i = 0; i < 2; i++) {
		const struct overlay_drops *d = overlay_drops(nodes[i].ov);

		assert_int_equal(d->replay + d->auth + d->unknown + d->malformed, 0);
	}
	/* and the tunnel carries data both ways */
	{
		uint8_t pkt[60];
		size_t n = ip4(pkt, &a->vip4, &b->vip4, 7);

		overlay_tun_input(a->ov, pkt, n);
		deliver_all();
		assert_int_equal(b->tun_writes, 1);
		n = ip4(pkt, &b->vip4, &a->vip4, 8);
		overlay_tun_input(b->ov, pkt, n);
		deliver_all();
		assert_int_equal(a->tun_writes, 1);
	}
}

/* a waits as responder and no Request ever gets through (nor its
 * probes): once the initiator's second-by-second retries are over, the
 * tunnel goes and the lookup waiting on it fails, as an initiator's does
 * when its handshake times out. */
static void test_overlay_request_never_came(void **state)
{
	struct fake_node *a = &nodes[0];
	struct overlay_tunnel_view v;

	assert_int_equal(overlay_lookup(a->ov, "b.example.test", 9), 0);
	route(0, 1, 0x7777, false, a->next_req);
	for (int i = 0; i < 9; i++) {
		nnet = 0;
		advance(OVERLAY_TICK_MS);
		overlay_timeout(a->ov);
	}
	assert_int_equal(a->dns_done, 0);
	assert_int_equal(overlay_tunnels(a->ov, &v, 1), 1);
	advance(OVERLAY_TICK_MS);
	overlay_timeout(a->ov);
	assert_int_equal(a->dns_done, 1);
	assert_int_equal(a->dns_status, RESOLVER_SERVFAIL);
	assert_int_equal(overlay_tunnels(a->ov, &v, 1), 0);
	assert_int_equal(overlay_stats(a->ov)->requests_missed, 1);
	nnet = 0;
}

/* The first Request is lost: retried after a second, not after 5. */
static void test_overlay_lost_request(void **state)
{
	struct fake_node *a = &nodes[0];
	struct overlay_tunnel_view v;

	route(1, 0, 0x4444, false, 0);
	assert_int_equal(nnet, 1);         /* b's probe, before a has the route */
	deliver_all();
	assert_int_equal(overlay_drops(a->ov)->punch_early, 1);
	drop_next = true;
	route(0, 1, 0x4444, true, 1);
	assert_int_equal(nnet, 0);
	advance(OVERLAY_TICK_MS);
	overlay_timeout(a->ov);
	assert_int_equal(nnet, 1);
	deliver_all();
	assert_int_equal(overlay_tunnels(a->ov, &v, 1), 1);
	assert_string_equal(v.state, "up");
}

/* Someone who saw b's Request sends a copy from elsewhere while a waits
 * for b to confirm the session it made: a answers the copy there with the
 * Response it already sent (nothing new to learn), and keeps b where b
 * is.  Before, the copy moved a's endpoint for b to the sender. */
static void test_overlay_request_copy_moves_nothing(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct overlay_tunnel_view v;
	struct dgram req;

	route(1, 0, 0x5151, true, 0);      /* b (CN) initiates */
	assert_int_equal(nnet, 1);
	req = net[0];
	deliver_all();                     /* early: a keeps it */
	route(0, 1, 0x5151, false, 1);     /* a answers: the Response waits in net */
	assert_int_equal(nnet, 1);
	assert_int_equal(net[0].b[1], CY_TUNNEL_RES);
	assert_int_equal(overlay_udp_input(a->ov, req.b, req.len,
					   (struct sockaddr *)&elsewhere), 0);
	assert_int_equal(to_elsewhere, 1);
	assert_int_equal(nnet, 1);         /* nothing more towards b */
	assert_int_equal(overlay_tunnels(a->ov, &v, 1), 1);
	assert_true(addr_equal((struct sockaddr *)&v.endpoint, (struct sockaddr *)&b->addr));
	deliver_all();
	check_one_tunnel(0x5151);
	assert_int_equal(overlay_tunnels(a->ov, &v, 1), 1);
	assert_true(addr_equal((struct sockaddr *)&v.endpoint, (struct sockaddr *)&b->addr));
	assert_int_equal(overlay_stats(a->ov)->hs_completed, 1);
}

/* Someone who saw the CN's Request sends copies of it from elsewhere
 * before the MN has its route, as many as the early cache holds: the
 * genuine one, kept first, stays and is answered first, and b stays where
 * it is.  Before, the copies pushed it out and the first of them moved
 * a's endpoint for b to their sender. */
static void test_overlay_early_copies(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct overlay_tunnel_view v;
	struct dgram req;

	route(1, 0, 0x3434, true, 0);      /* b (CN) initiates */
	assert_int_equal(nnet, 1);
	req = net[0];
	deliver_all();                     /* a keeps it */
	for (int i = 0; i < EARLY_SLOTS; i++)
		assert_int_equal(overlay_udp_input(a->ov, req.b, req.len,
						   (struct sockaddr *)&elsewhere), 0);
	assert_int_equal(overlay_drops(a->ov)->unknown, 0);
	route(0, 1, 0x3434, false, 1);
	assert_int_equal(to_elsewhere, 0);
	assert_int_equal(nnet, 1);         /* the one Response, to b */
	assert_int_equal(net[0].to, 1);
	assert_int_equal(net[0].b[1], CY_TUNNEL_RES);
	assert_int_equal(overlay_tunnels(a->ov, &v, 1), 1);
	assert_true(addr_equal((struct sockaddr *)&v.endpoint, (struct sockaddr *)&b->addr));
	deliver_all();
	check_one_tunnel(0x3434);
}

/* The endpoint a keeps for b, and b's for a. */
static void endpoints_are(const struct sockaddr_storage *of_b, const struct sockaddr_storage *of_a)
{
	struct overlay_tunnel_view v;

	assert_int_equal(overlay_tunnels(nodes[0].ov, &v, 1), 1);
	assert_true(addr_equal((struct sockaddr *)&v.endpoint, (const struct sockaddr *)of_b));
	assert_int_equal(overlay_tunnels(nodes[1].ov, &v, 1), 1);
	assert_true(addr_equal((struct sockaddr *)&v.endpoint, (const struct sockaddr *)of_a));
}

/* A relayed tunnel leaves the TRS only for a path the peer proved.  The
 * TRS (or anyone on its way) holding back one of b's packets and sending
 * it from another address first: authentic and the newest, so a takes
 * it, but a stays on the relay and sends nothing there.  Before, a moved
 * to that address and sent the tunnel's traffic there. */
static void test_overlay_relay_stays(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct dgram held;
	uint8_t pkt[60];
	int w;

	route_relay = true;
	up_pair(0x7070);
	assert_true(trs_hellos > 0);
	endpoints_are(&trs, &trs);
	overlay_tun_input(b->ov, pkt, ip4(pkt, &b->vip4, &a->vip4, 5));
	assert_int_equal(nnet, 1);
	held = net[0];
	nnet = 0;
	w = a->tun_writes;
	assert_int_equal(overlay_udp_input(a->ov, held.b, held.len, (struct sockaddr *)&elsewhere),
			 0);
	assert_int_equal(a->tun_writes, w + 1);
	endpoints_are(&trs, &trs);
	check_one_tunnel(0x7070);
	assert_int_equal(to_elsewhere, 0);
	endpoints_are(&trs, &trs);
}

/* A relayed tunnel with a candidate: b's probe reaches a (a's own are
 * lost), a answers it, b takes the path the answer proved, and its
 * packets from there move a too. */
static void test_overlay_relay_punched(void **state)
{
	route_relay = route_cand = true;
	drop_punch_from = 0;
	up_pair(0x7171);
	check_one_tunnel(0x7171);          /* b's packets now come from b itself */
	endpoints_are(&nodes[1].addr, &nodes[0].addr);
	assert_int_equal(to_elsewhere, 0);
}

/* An on-path attacker sends b ("b.example.test", the larger FQDN) its own
 * Request back, with a's source address.  b refuses it (an auth drop),
 * answers nothing, keeps its endpoint for a and its handshake, and the
 * genuine Request and Response still bring the tunnel up. */
static void test_overlay_reflected_request(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct overlay_tunnel_view v;
	struct dgram d;

	route(1, 0, 0x5555, true, 0);      /* b (CN) initiates at once */
	assert_int_equal(nnet, 1);
	route(0, 1, 0x5555, false, 1);
	assert_int_equal(nnet, 2);         /* and a's probe */
	d = net[0];
	assert_int_equal(d.to, 0);
	assert_int_equal(overlay_udp_input(b->ov, d.b, d.len, (struct sockaddr *)&a->addr), 0);
	assert_int_equal(overlay_drops(b->ov)->auth, 1);
	assert_int_equal(nnet, 2);         /* no Response from b to itself */
	assert_int_equal(overlay_tunnels(b->ov, &v, 1), 1);
	assert_string_equal(v.state, "handshake");
	deliver_all();
	check_one_tunnel(0x5555);
	assert_int_equal(overlay_drops(a->ov)->auth, 0);
	assert_int_equal(overlay_drops(a->ov)->unknown, 0);
}

/* A Punch Direction (the NMS's, sealed: sig.c checked it) moves a node only
 * for a relayed tunnel it holds, to the peer it names: anything else sends
 * nothing anywhere. */
static void test_overlay_punch_direction_ignored(void **state)
{
	struct fake_node *a = &nodes[0];
	struct sockaddr_storage cand;
	socklen_t l;

	(void)state;
	up_pair(0x6666);
	deliver_all();
	assert_int_equal(addr_parse("192.0.2.99:4444", 0, &cand, &l), 0);
	overlay_punch_direction(a->ov, 0x6666, "b.example.test", (struct sockaddr *)&cand,
				CY_PUNCH_PLAIN);
	overlay_punch_direction(a->ov, 0x7777, "b.example.test", (struct sockaddr *)&cand,
				CY_PUNCH_PLAIN);
	overlay_punch_direction(a->ov, 0x6666, "c.example.test", (struct sockaddr *)&cand,
				CY_PUNCH_PLAIN);
	advance(OVERLAY_TICK_MS);
	overlay_timeout(a->ov);
	assert_int_equal(nnet, 0);
	assert_int_equal(overlay_stats(a->ov)->punch_dirs_ignored, 3);
}

/* A Tunnel Teardown (the NMS's, sealed) drops the tunnel it names, keys
 * and all: a lookup of the peer is refused for PEER_NEG_MS, then asks the
 * NMS again; b's packets on the old tunnel find nothing.  One naming
 * another tunnel or another peer changes nothing. */
static void test_overlay_teardown(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	uint8_t pkt[60];
	int dirs;

	(void)state;
	up_pair(0x6767);
	overlay_teardown(a->ov, 0x6868, "b.example.test", "x", CY_ERR_UNKNOWN);
	overlay_teardown(a->ov, 0x6767, "c.example.test", "x", CY_ERR_UNKNOWN);
	assert_int_equal(overlay_stats(a->ov)->teardowns_ignored, 2);
	assert_int_equal(overlay_tunnels(a->ov, NULL, 0), 1);
	overlay_teardown(a->ov, 0x6767, "B.example.test", "b.example.test revoked",
			 CY_ERR_UNKNOWN);
	assert_int_equal(overlay_stats(a->ov)->teardowns, 1);
	assert_int_equal(overlay_tunnels(a->ov, NULL, 0), 0);
	dirs = a->dir_reqs;
	assert_int_equal(overlay_lookup(a->ov, "b.example.test", 9), 0);
	assert_int_equal(a->dns_status, RESOLVER_NXDOMAIN);
	assert_int_equal(a->dir_reqs, dirs);
	/* b still sends on the tunnel a dropped: nothing gets through. */
	overlay_tun_input(b->ov, pkt, ip4(pkt, &b->vip4, &a->vip4, 1));
	deliver_all();
	assert_int_equal(a->tun_writes, 0);
	assert_true(overlay_drops(a->ov)->unknown >= 1);
	advance(PEER_NEG_MS + OVERLAY_TICK_MS);
	overlay_timeout(a->ov);
	assert_int_equal(overlay_lookup(a->ov, "b.example.test", 10), 0);
	assert_int_equal(a->dir_reqs, dirs + 1);
}

/* The NMS answered us before the CN confirmed (it initiates) and then
 * gave up on the CN: its Teardown carries the selection's RESULT, and the
 * lookup waiting on the tunnel is answered as that failure would have
 * been (SERVFAIL for 9), not as a policy denial. */
static void test_overlay_teardown_result(void **state)
{
	struct fake_node *a = &nodes[0];
	int done;

	(void)state;
	assert_int_equal(overlay_lookup(a->ov, "b.example.test", 9), 0);
	done = a->dns_done;
	route(0, 1, 0x6969, false, a->next_req);   /* as responder: waits for b's Request */
	assert_int_equal(a->dns_done, done);
	overlay_teardown(a->ov, 0x6969, "b.example.test", "no confirmation from the correspondent",
			 CY_ERR_UNREACHABLE);
	assert_int_equal(overlay_stats(a->ov)->teardowns, 1);
	assert_int_equal(a->dns_done, done + 1);
	assert_int_equal(a->dns_status, RESOLVER_SERVFAIL);
	assert_int_equal(overlay_tunnels(a->ov, NULL, 0), 0);
	/* ...and what asks within PEER_NEG_MS hears the same. */
	assert_int_equal(overlay_lookup(a->ov, "b.example.test", 10), 0);
	assert_int_equal(a->dns_done, done + 2);
	assert_int_equal(a->dns_status, RESOLVER_SERVFAIL);
	/* RESULT 8 (the CN refused): REFUSED. */
	advance(PEER_NEG_MS + OVERLAY_TICK_MS);
	overlay_timeout(a->ov);
	assert_int_equal(overlay_lookup(a->ov, "b.example.test", 11), 0);
	route(0, 1, 0x6a6a, false, a->next_req);
	overlay_teardown(a->ov, 0x6a6a, "b.example.test", "the correspondent refused",
			 CY_ERR_POLICY);
	assert_int_equal(a->dns_status, RESOLVER_REFUSED);
}

/* The policy's flows on a tunnel: a may start TCP to b's port 554 and
 * nothing else, b may start nothing.  a's TCP to 554 and b's answers pass;
 * a's UDP, a's TCP to 80 and b's own TCP to a are dropped at the sender
 * (drops.policy), and what a forged rule would let b send is dropped at
 * a's receiving end too. */
static size_t tcp4(uint8_t *p, const struct in_addr *src, const struct in_addr *dst,
		   uint16_t sport, uint16_t dport, uint8_t proto)
{
	size_t n = ip4(p, src, dst, 1);

	p[9] = proto;
	p[20] = (uint8_t)(sport >> 8);
	p[21] = (uint8_t)sport;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	return n;
}

static void test_overlay_flows(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct cy_flows rtsp = { .n = 1, .f = { { 6, 554, 554 } } }, none = { 0 };
	uint8_t pkt[60];

	(void)state;
	/* a (MN): out rtsp, in none; b (CN): out none, in rtsp */
	route_out = &none;
	route_in = &rtsp;
	route(1, 0, 0x7171, false, 0);
	route_out = &rtsp;
	route_in = &none;
	route(0, 1, 0x7171, true, 1);
	route_out = route_in = NULL;
	deliver_all();
	overlay_tun_input(a->ov, pkt, tcp4(pkt, &a->vip4, &b->vip4, 40000, 554, 6));
	deliver_all();
	assert_int_equal(b->tun_writes, 1);
	overlay_tun_input(b->ov, pkt, tcp4(pkt, &b->vip4, &a->vip4, 554, 40000, 6));
	deliver_all();
	assert_int_equal(a->tun_writes, 1);
	/* Not allowed: dropped before sealing, counted at the sender. */
	overlay_tun_input(a->ov, pkt, tcp4(pkt, &a->vip4, &b->vip4, 40000, 80, 6));
	overlay_tun_input(a->ov, pkt, tcp4(pkt, &a->vip4, &b->vip4, 40000, 554, 17));
	overlay_tun_input(b->ov, pkt, tcp4(pkt, &b->vip4, &a->vip4, 40001, 22, 6));
	deliver_all();
	assert_int_equal(b->tun_writes, 1);
	assert_int_equal(a->tun_writes, 1);
	assert_int_equal(overlay_drops(a->ov)->policy, 2);
	assert_int_equal(overlay_drops(b->ov)->policy, 1);
}

/* The receiving end checks too: b here enforces nothing (an old node, or
 * a forged rule), a drops what b starts, even with b's source port set
 * to 554, and takes b's answers. */
static void test_overlay_flows_receiver(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct cy_flows rtsp = { .n = 1, .f = { { 6, 554, 554 } } }, none = { 0 };
	uint8_t pkt[60];
	size_t n;

	(void)state;
	route(1, 0, 0x7272, false, 0);          /* b: everything */
	route_out = &rtsp;
	route_in = &none;
	route(0, 1, 0x7272, true, 1);
	route_out = route_in = NULL;
	deliver_all();
	overlay_tun_input(b->ov, pkt, tcp4(pkt, &b->vip4, &a->vip4, 40001, 22, 6));
	n = tcp4(pkt, &b->vip4, &a->vip4, 554, 22, 6);
	pkt[33] = 0x02;                          /* a SYN from "port 554" */
	overlay_tun_input(b->ov, pkt, n);
	n = tcp4(pkt, &b->vip4, &a->vip4, 554, 40000, 6);
	pkt[33] = 0x12;                          /* a SYN ACK: the answer */
	overlay_tun_input(b->ov, pkt, n);
	deliver_all();
	assert_int_equal(a->tun_writes, 1);
	assert_int_equal(overlay_drops(a->ov)->policy, 2);
	assert_int_equal(overlay_drops(b->ov)->policy, 0);
}

static void test_overlay_ping(void **state)
{
	struct fake_node *a = &nodes[0];
	struct overlay_ping_result r;
	uint32_t id;
	int i;

	up_pair(0x5555);
	assert_int_equal(overlay_ping_start(a->ov, "b.example.test", 3, 200, &id), 0);
	for (i = 0; i < 10; i++) {
		overlay_timeout(a->ov);
		deliver_all();
		advance(200);
	}
	overlay_timeout(a->ov);
	assert_int_equal(overlay_ping_get(a->ov, id, &r), 0);
	assert_int_equal(r.state, PING_DONE);
	assert_int_equal(r.sent, 3);
	assert_int_equal(r.received, 3);
	assert_false(r.relay);
	assert_true(r.rtt_max_ms >= r.rtt_min_ms);
	assert_int_equal(nodes[1].tun_writes, 0);   /* probes never reach the TUN */
	/* read once, then forgotten */
	assert_int_equal(overlay_ping_get(a->ov, id, &r), -ENOENT);

	/* a name with no route: fails with the reason */
	assert_int_equal(overlay_ping_start(a->ov, "zz.example.test", 1, 200, &id), 0);
	overlay_route_failed(a->ov, a->next_req, 4);
	assert_int_equal(overlay_ping_get(a->ov, id, &r), 0);
	assert_int_equal(r.state, PING_FAILED);
	assert_non_null(r.error);
}

/* A failure that arrives after a ping ended (a waiter it left behind)
 * changes nothing: what it got stands. */
static void test_ping_fail_after_end(void **state)
{
	struct ping_table t;
	struct sockaddr_storage ep = { .ss_family = AF_INET };
	struct overlay_ping_result r;
	struct overlay_ping *pg;
	uint8_t probe[PROBE_LEN];
	int64_t now;
	uint32_t id;

	(void)state;
	ping_table_init(&t);
	pg = ping_new(&t, "b.example.test", 1, 100);
	assert_non_null(pg);
	ping_commit(pg);
	id = pg->id;
	ping_run(pg, false);
	now = clock_now_ms();
	assert_int_equal(ping_due(pg, now), PING_DUE_PROBE);
	probe_build(pg, probe);
	ping_sent(pg, &ep, true, false, now);
	assert_int_equal(ping_due(pg, now + 2000), PING_DUE_NONE);   /* the wait is over */
	ping_fail(pg, "route failed");
	assert_int_equal(ping_get(&t, id, &r), 0);
	assert_int_equal(r.state, PING_DONE);
	assert_null(r.error);
	assert_int_equal(r.sent, 1);
}

/* The tunnel goes while a ping runs (here the peer restarted): the probes
 * due until the next tunnel is up count as lost, the ping goes on and
 * ends with the replies that came through either. */
static void test_overlay_ping_across_tunnels(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct overlay_ping_result r;
	unsigned sent;
	uint32_t id;
	int i;

	(void)state;
	up_pair(0x5656);
	assert_int_equal(overlay_ping_start(a->ov, "b.example.test", 60, 500, &id), 0);
	for (i = 0; i < 4; i++) {
		overlay_timeout(a->ov);
		deliver_all();
		advance(500);
	}
	node_restart(b);
	/* nothing comes back: a selects the route again, by name */
	for (i = 0; i < 200 && !a->dir_reqs; i++) {
		overlay_timeout(a->ov);
		overlay_timeout(b->ov);
		deliver_all();
		advance(500);
	}
	assert_int_equal(a->dir_reqs, 1);
	assert_string_equal(a->last_req_fqdn, "b.example.test");
	/* probes fall due before the route comes */
	for (i = 0; i < 3; i++) {
		overlay_timeout(a->ov);
		deliver_all();
		advance(500);
	}
	assert_int_equal(overlay_ping_get(a->ov, id, &r), 0);
	assert_int_equal(r.state, PING_RUNNING);
	assert_int_equal(r.received, 4);          /* before the restart only */
	sent = r.sent;
	route(1, 0, 0x5757, false, 0);
	route(0, 1, 0x5757, true, a->next_req);
	deliver_all();
	for (i = 0; i < 100 && r.state == PING_RUNNING; i++) {
		overlay_timeout(a->ov);
		overlay_timeout(b->ov);
		deliver_all();
		advance(500);
		assert_int_equal(overlay_ping_get(a->ov, id, &r), 0);
	}
	assert_int_equal(r.state, PING_DONE);
	assert_null(r.error);
	assert_int_equal(r.sent, 60);
	/* every probe of the new tunnel came back */
	assert_int_equal(r.received, 4 + (60 - sent));
}

/* The peer moves: an authenticated packet from a new address is followed;
 * a packet for the live tunnel (its real receiver index) that fails
 * authentication, or that authenticates but replays an older counter,
 * moves nothing and is counted as what it is. */
static void test_overlay_roaming(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	struct overlay_tunnel_view v;
	struct sockaddr_storage old = a->addr;
	const struct overlay_drops *d = overlay_drops(b->ov);
	uint64_t auth0, replay0, stale0;
	struct dgram genuine, forged, withheld;
	int writes0;
	socklen_t len;
	uint8_t pkt[60];

	up_pair(0x6666);
	/* a genuine Data packet from the old address, kept for the replay */
	capture = true;
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
	capture = false;
	genuine = captured;
	assert_true(genuine.len > SESSION_OVERHEAD);
	deliver_all();

	addr_parse("203.0.113.5", 40000, &a->addr, &len);
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
	deliver_all();
	assert_int_equal(overlay_tunnels(b->ov, &v, 1), 1);
	assert_int_equal(((struct sockaddr_in *)&v.endpoint)->sin_port, htons(40000));
	a->addr = old;

	/* forged: the tunnel's receiver index, a counter the window has not
	 * seen (else it is refused as a replay before the tag is tried), a
	 * tag that does not verify */
	forged = genuine;
	forged.b[15] ^= 0x40;
	forged.b[forged.len - 1] ^= 0x80;
	auth0 = d->auth;
	overlay_udp_input(b->ov, forged.b, forged.len, (struct sockaddr *)&old);
	assert_int_equal(d->auth, auth0 + 1);
	assert_int_equal(overlay_tunnels(b->ov, &v, 1), 1);
	assert_int_equal(((struct sockaddr_in *)&v.endpoint)->sin_port, htons(40000));

	/* replayed: authentic, but its counter was seen before */
	replay0 = d->replay;
	overlay_udp_input(b->ov, genuine.b, genuine.len, (struct sockaddr *)&old);
	assert_int_equal(d->replay, replay0 + 1);
	assert_int_equal(d->auth, auth0 + 1);
	assert_int_equal(overlay_tunnels(b->ov, &v, 1), 1);
	assert_int_equal(((struct sockaddr_in *)&v.endpoint)->sin_port, htons(40000));

	/* withheld: authentic and never seen (an attacker kept it from b),
	 * but older than what came since: from the attacker's address it is
	 * dropped and moves nothing */
	addr_parse("203.0.113.5", 40000, &a->addr, &len);
	capture = true;
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
	capture = false;
	withheld = captured;
	nnet--;                       /* it never reaches b... */
	overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
	deliver_all();                /* ...a newer one does */
	writes0 = b->tun_writes;
	stale0 = d->stale_move;
	overlay_udp_input(b->ov, withheld.b, withheld.len, (struct sockaddr *)&old);
	assert_int_equal(d->stale_move, stale0 + 1);
	assert_int_equal(b->tun_writes, writes0);
	assert_int_equal(overlay_tunnels(b->ov, &v, 1), 1);
	assert_int_equal(((struct sockaddr_in *)&v.endpoint)->sin_port, htons(40000));
	/* the same packet from where the peer is would still be taken */
	a->addr = old;
}

/* The peer restarted and lost the tunnel: Data goes out, nothing comes
 * back; after OVERLAY_DEAD_MS the route is selected again, by name. */
static void test_overlay_dead_peer(void **state)
{
	struct fake_node *a = &nodes[0], *b = &nodes[1];
	uint8_t pkt[60];
	int i;

	up_pair(0x7777);
	node_restart(b);
	for (i = 0; i < 20; i++) {
		overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
		deliver_all();
		advance(1000);
		overlay_timeout(a->ov);
		overlay_timeout(b->ov);
	}
	assert_int_equal(a->dir_reqs, 1);
	assert_string_equal(a->last_req_fqdn, "b.example.test");
	/* the new selection's routes: the queued packets arrive */
	route(1, 0, 0x8888, false, 0);
	route(0, 1, 0x8888, true, a->next_req);
	deliver_all();
	assert_true(b->tun_writes >= 1);

	/* a live peer answers with keepalives: no reselection */
	for (i = 0; i < 40; i++) {
		if (i % 5 == 0)
			overlay_tun_input(a->ov, pkt, ip4(pkt, &a->vip4, &b->vip4, 1));
		deliver_all();
		advance(1000);
		overlay_timeout(a->ov);
		overlay_timeout(b->ov);
		deliver_all();
	}
	assert_int_equal(a->dir_reqs, 1);
}

/* The peer restarted and asked again at once: a second route as CN
 * replaces the tunnel even within the race window. */
static void test_overlay_peer_asks_again(void **state)
{
	struct overlay_tunnel_view v;

	route(1, 0, 0x9999, false, 0);
	route(0, 1, 0x9999, true, 1);
	deliver_all();
	route(1, 0, 0x11, false, 0);     /* a restarted: smaller id, b is CN again */
	assert_int_equal(overlay_tunnels(nodes[1].ov, &v, 1), 1);
	assert_int_equal(v.tunnel_id, 0x11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_lookups),
		cmocka_unit_test(test_peer_many),
		cmocka_unit_test(test_peer_queue),
		cmocka_unit_test(test_peer_memory),
		cmocka_unit_test_setup_teardown(test_overlay_packet_to_vip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_foreign_destination_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_route_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_simultaneous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_simultaneous_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_early_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_request_on_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_request_on_probe_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_lost_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_request_never_came, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_request_copy_moves_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_overlay_early_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_relay_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_relay_punched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_reflected_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_punch_direction_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_teardown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_teardown_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_flows_receiver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_ping_across_tunnels, setup, teardown),
		cmocka_unit_test(test_ping_fail_after_end),
		cmocka_unit_test_setup_teardown(test_overlay_roaming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_dead_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_peer_asks_again, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
