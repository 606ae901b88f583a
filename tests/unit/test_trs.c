/* The TRS over bytes (src/cloud/trs/trs.c): Relay Requests on the control port,
 * hellos and forwarding on a session port, expiry, and hostile input of
 * every kind, dropped and counted.  Sockets are faked through trs_ops;
 * the clock is fake. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "heapscan.h"
#include "addr.h"
#include "aead.h"
#include "buf.h"
#include "clock.h"
#include "seal.h"
#include "trs.h"
#include "trs_wire.h"
#include "wire.h"

#define NOW 1700000000
#define MONO 5000000
#define NOW_MS ((uint64_t)NOW * 1000)
#define TID 0x0123456789abcdefULL
#define LINK_ID 0x4242424242424242ULL
#define PORT0 40000

#define SA(ss) ((const struct sockaddr *)&(ss))

static const uint8_t secret[TRS_KEY_LEN] = { 0xaa, 0xbb, 0xcc };

struct fx {
	struct trs *t;
	struct aead *link;           /* the NMS's side of the link key */
	uint64_t ctr;
	uint8_t tunnel_key[TRS_KEY_LEN], relay_key[TRS_KEY_LEN];
	bool open_fails;
	int opened, closed;
	uint64_t hello_ts;
};

static int fake_open(void *arg, size_t slot, uint16_t *port)
{
	struct fx *f = arg;

	if (f->open_fails)
		return -EADDRINUSE;
	f->opened++;
	*port = (uint16_t)(PORT0 + slot);
	return 0;
}

static void fake_close(void *arg, size_t slot)
{
	((struct fx *)arg)->closed++;
}

static const struct trs_ops ops = { .open = fake_open, .close = fake_close };

static struct sockaddr_storage ep(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t l;

	assert_int_equal(addr_parse(s, 0, &ss, &l), 0);
	return ss;
}

/* The reply counters' high-water mark, kept here across TRS instances as
 * a file would keep it across restarts. */
static uint64_t ctr_mark;

static int setup_n(void **state, size_t max)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct trs_conf c = { .idle_s = 60, .max_sessions = max, .npub = 2,
			      .ctr_reserve = cy_ctr_reserve_in_memory, .ctr_arg = &ctr_mark };
	uint8_t k[TRS_KEY_LEN];

	assert_non_null(f);
	clock_set_fake(NOW, MONO);
	memcpy(c.secret, secret, sizeof(secret));
	c.pub[0] = ep("192.0.2.1");
	c.pub[1] = ep("2001:db8::1");
	f->t = trs_new(&c, &ops, f);
	assert_non_null(f->t);
	assert_int_equal(trs_link_key(secret, LINK_ID, k), 0);
	f->link = aead_new(AEAD_CHACHA20_POLY1305, k);
	assert_non_null(f->link);
	memset(f->tunnel_key, 0x5a, sizeof(f->tunnel_key));
	assert_int_equal(trs_relay_key(f->tunnel_key, TID, f->relay_key), 0);
	f->hello_ts = NOW_MS;
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_n(state, 4); }
static int setup_one(void **state) { return setup_n(state, 1); }

static int teardown(void **state)
{
	struct fx *f = *state;

	trs_free(f->t);
	/* Every session opened was closed again. */
	assert_int_equal(f->opened, f->closed);
	aead_free(f->link);
	free(f);
	clock_set_fake(0, 0);
	return 0;
}

/* ---- the control port ---- */

struct req {
	uint64_t tid;
	const uint8_t *key;
	size_t keylen;
	bool no_time;
	uint64_t time_ms;
	uint8_t type;
};

static size_t seal_msg(struct fx *f, struct aead *a, uint64_t key_id, uint64_t ctr,
		       const uint8_t *msg, size_t mlen, uint8_t *pkt, size_t cap)
{
	ssize_t n = cy_seal(a, CY_DIR_TO_CLOUD, key_id, ctr, msg, mlen, pkt, cap);

	assert_true(n > 0);
	return (size_t)n;
}

static size_t build_req(struct fx *f, const struct req *r, uint8_t *pkt, size_t cap)
{
	uint8_t msg[256];
	struct cy_builder b;
	ssize_t n;

	cy_build_start(&b, msg, sizeof(msg), r->type ? r->type : CY_RELAY_REQ);
	if (r->tid != UINT64_MAX)
		cy_put_u64(&b, CY_A_TUNNEL_ID, r->tid);
	if (r->key)
		cy_put_bytes(&b, CY_A_KEY, r->key, r->keylen);
	if (!r->no_time)
		cy_put_u64(&b, CY_A_TIME, r->time_ms ? r->time_ms : (uint64_t)clock_now() * 1000);
	n = cy_build_finish(&b);
	assert_true(n > 0);
	return seal_msg(f, f->link, LINK_ID, ++f->ctr, msg, (size_t)n, pkt, cap);
}

static size_t ctl(struct fx *f, const uint8_t *pkt, size_t len, uint8_t *out)
{
	struct sockaddr_storage nms = ep("192.0.2.1:7444");

	return trs_handle_ctl(f->t, SA(nms), pkt, len, out, TRS_PKT_MAX);
}

/* Open the TRS's answer; returns its RESULT, the endpoints in eps. */
static uint8_t open_res(struct fx *f, const uint8_t *out, size_t len,
			struct sockaddr_storage eps[4], size_t *neps)
{
	uint8_t plain[TRS_PKT_MAX], res;
	struct cy_seal_hdr h;
	struct cy_msg m;
	const struct cy_attr *a;
	socklen_t l;
	uint64_t tid;
	size_t pos = 0;
	ssize_t n;

	assert_int_equal(cy_seal_peek(out, len, &h), 0);
	assert_int_equal(h.dir, CY_DIR_FROM_CLOUD);
	assert_true(h.key_id == LINK_ID);
	n = cy_unseal(f->link, out, len, plain, sizeof(plain));
	assert_true(n > 0);
	assert_int_equal(cy_msg_parse(&m, plain, (size_t)n), 0);
	assert_int_equal(m.type, CY_RELAY_RES);
	assert_true(cy_msg_u8(&m, CY_A_RESULT, &res));
	assert_true(cy_msg_u64(&m, CY_A_TUNNEL_ID, &tid));
	*neps = 0;
	while ((a = cy_msg_next(&m, CY_A_RELAY, &pos)))
		assert_true(cy_attr_endpoint(a, &eps[(*neps)++], &l));
	return res;
}

/* A session for TID; returns its slot (port - PORT0). */
static size_t alloc_tid(struct fx *f, uint64_t tid)
{
	struct req r = { .tid = tid, .key = f->relay_key, .keylen = TRS_KEY_LEN };
	uint8_t pkt[TRS_PKT_MAX], out[TRS_PKT_MAX];
	struct sockaddr_storage eps[4];
	size_t n = build_req(f, &r, pkt, sizeof(pkt)), neps;

	n = ctl(f, pkt, n, out);
	assert_true(n > 0);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_OK);
	assert_int_equal(neps, 2);
	return addr_port(SA(eps[0])) - PORT0;
}

static size_t alloc(struct fx *f)
{
	return alloc_tid(f, TID);
}

static void test_request(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage eps[4], w4 = ep("192.0.2.1:40000"), w6 = ep("[2001:db8::1]:40000");
	struct req r = { .tid = TID, .key = f->relay_key, .keylen = TRS_KEY_LEN };
	uint8_t pkt[TRS_PKT_MAX], out[TRS_PKT_MAX], other[TRS_KEY_LEN];
	size_t n, neps;

	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_true(n > 0);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_OK);
	assert_int_equal(neps, 2);
	assert_true(addr_equal(SA(eps[0]), SA(w4)));
	assert_true(addr_equal(SA(eps[1]), SA(w6)));
	/* The NMS's retransmission: the same session, no second one. */
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_OK);
	assert_true(addr_equal(SA(eps[0]), SA(w4)));
	assert_int_equal(trs_stats(f->t)->sessions, 1);
	assert_int_equal(trs_stats(f->t)->sessions_opened, 1);
	assert_int_equal(trs_stats(f->t)->relay_requests, 2);
	/* The same tunnel id with another key: refused, the session stays. */
	memset(other, 1, sizeof(other));
	r.key = other;
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_ERR_POLICY);
	assert_int_equal(neps, 0);
	assert_int_equal(trs_stats(f->t)->sessions, 1);
}

static int failing_reserve(void *arg, uint64_t at_least, uint64_t block, uint64_t *start)
{
	return -EIO;
}

static struct trs *new_trs(struct fx *f, int (*reserve)(void *, uint64_t, uint64_t, uint64_t *))
{
	struct trs_conf c = { .idle_s = 60, .max_sessions = 4, .npub = 2,
			      .ctr_reserve = reserve, .ctr_arg = &ctr_mark };
	struct trs *t;

	memcpy(c.secret, secret, sizeof(secret));
	c.pub[0] = ep("192.0.2.1");
	c.pub[1] = ep("2001:db8::1");
	t = trs_new(&c, &ops, f);
	assert_non_null(t);
	return t;
}

/* The link key outlives a TRS restart (the NMS keeps its key id), so the
 * TRS's reply counters come from reserved blocks: after a restart with the
 * clock an hour back they are still above every earlier one.  Without a
 * reservation nothing is sealed. */
static void test_reply_counters_survive_restart(void **state)
{
	struct fx *f = *state;
	struct req r = { .tid = TID, .key = f->relay_key, .keylen = TRS_KEY_LEN };
	uint8_t pkt[TRS_PKT_MAX], out[TRS_PKT_MAX];
	struct cy_seal_hdr h;
	uint64_t c1;
	size_t n;

	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(cy_seal_peek(out, n, &h), 0);
	c1 = h.counter;
	trs_free(f->t);
	clock_set_fake(NOW - 3600, MONO);
	f->t = new_trs(f, cy_ctr_reserve_in_memory);
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_true(n > 0);
	assert_int_equal(cy_seal_peek(out, n, &h), 0);
	assert_true(h.counter > c1);
	trs_free(f->t);
	f->t = new_trs(f, failing_reserve);
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(n, 0);
}

static void test_ctl_hostile(void **state)
{
	struct fx *f = *state;
	const struct trs_stats *st = trs_stats(f->t);
	uint8_t pkt[TRS_PKT_MAX + 8], out[TRS_PKT_MAX], k[TRS_KEY_LEN], msg[64];
	struct sockaddr_storage eps[4];
	struct req r = { .tid = TID, .key = f->relay_key, .keylen = TRS_KEY_LEN };
	struct aead *wrong;
	uint64_t auth;
	size_t n, neps, i;

	/* Nothing, one byte, a header cut short, garbage, too long. */
	assert_int_equal(ctl(f, pkt, 0, out), 0);
	pkt[0] = 1;
	assert_int_equal(ctl(f, pkt, 1, out), 0);
	n = build_req(f, &r, pkt, sizeof(pkt));
	for (i = 0; i < n; i += 7)
		assert_int_equal(ctl(f, pkt, i, out), 0);
	memset(pkt, 0xff, sizeof(pkt));
	assert_int_equal(ctl(f, pkt, 100, out), 0);
	assert_int_equal(ctl(f, pkt, sizeof(pkt), out), 0);
	assert_true(st->ctl_malformed >= 4);
	/* A node-bound (dir 1) envelope: a valid Relay Request genuinely
	 * sealed with the link key in the cloud-to-node direction, with a
	 * fresh counter, so it would authenticate; it is refused on its
	 * direction alone, before the key is used. */
	{
		uint64_t mal = st->ctl_malformed, af = st->ctl_auth_fail;
		uint8_t req[256];
		struct cy_builder b;
		ssize_t m;

		cy_build_start(&b, req, sizeof(req), CY_RELAY_REQ);
		cy_put_u64(&b, CY_A_TUNNEL_ID, TID);
		cy_put_bytes(&b, CY_A_KEY, f->relay_key, TRS_KEY_LEN);
		cy_put_u64(&b, CY_A_TIME, NOW_MS);
		m = cy_build_finish(&b);
		assert_true(m > 0);
		m = cy_seal(f->link, CY_DIR_FROM_CLOUD, LINK_ID, ++f->ctr, req, (size_t)m, pkt,
			    sizeof(pkt));
		assert_true(m > 0);
		assert_int_equal(ctl(f, pkt, (size_t)m, out), 0);
		assert_int_equal(st->ctl_malformed, mal + 1);
		assert_int_equal(st->ctl_auth_fail, af);
		assert_int_equal(st->sessions, 0);
	}
	/* Cut short past the envelope's header: the tag cannot verify. */
	assert_true(st->ctl_auth_fail > 0);
	auth = st->ctl_auth_fail;
	/* Another secret: authentication fails; a flipped bit too. */
	memset(k, 7, sizeof(k));
	wrong = aead_new(AEAD_CHACHA20_POLY1305, k);
	assert_non_null(wrong);
	memset(msg, 0, sizeof(msg));
	msg[0] = CY_VERSION;
	msg[1] = CY_RELAY_REQ;
	n = seal_msg(f, wrong, LINK_ID, ++f->ctr, msg, 4, pkt, sizeof(pkt));
	aead_free(wrong);
	assert_int_equal(ctl(f, pkt, n, out), 0);
	n = build_req(f, &r, pkt, sizeof(pkt));
	pkt[n - 3] ^= 0x10;
	assert_int_equal(ctl(f, pkt, n, out), 0);
	assert_int_equal(st->ctl_auth_fail, auth + 2);
	/* A replay of a good request. */
	n = build_req(f, &r, pkt, sizeof(pkt));
	assert_true(ctl(f, pkt, n, out) > 0);
	assert_int_equal(ctl(f, pkt, n, out), 0);
	assert_int_equal(st->ctl_replay, 1);
	/* TIME too old, too new, missing. */
	r.time_ms = NOW_MS - TRS_REQ_MAX_SKEW_MS - 1;
	assert_int_equal(ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out), 0);
	r.time_ms = NOW_MS + TRS_REQ_MAX_SKEW_MS + 1;
	assert_int_equal(ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out), 0);
	assert_int_equal(st->ctl_replay, 3);
	r.time_ms = 0;
	r.no_time = true;
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_ERR_MALFORMED);
	r.no_time = false;
	/* No tunnel id, tunnel id 0, a short key, another message type. */
	r.tid = UINT64_MAX;
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_ERR_MALFORMED);
	r.tid = 0;
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_ERR_MALFORMED);
	r.tid = TID + 1;
	r.keylen = 16;
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_ERR_MALFORMED);
	r.keylen = TRS_KEY_LEN;
	r.type = CY_DIRECTION_REQ;
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_ERR_MALFORMED);
	/* An attribute list that does not parse. */
	memset(msg, 0, sizeof(msg));
	msg[0] = CY_VERSION;
	msg[1] = CY_RELAY_REQ;
	msg[3] = 60;   /* says 60 bytes of attributes, all zero: type 0 length 0 ... */
	msg[5] = 0;
	msg[7] = 200;  /* an attribute longer than the message */
	n = seal_msg(f, f->link, LINK_ID, ++f->ctr, msg, sizeof(msg), pkt, sizeof(pkt));
	assert_int_equal(ctl(f, pkt, n, out), 0);
	/* None of this made a session (only the one good request did). */
	assert_int_equal(st->sessions, 1);
}

/* ---- session ports ---- */

static size_t hello(struct fx *f, uint8_t side, uint8_t *out)
{
	ssize_t n = trs_hello_build(f->relay_key, TID, side, ++f->hello_ts, out, TRS_HELLO_LEN);

	assert_int_equal(n, TRS_HELLO_LEN);
	return (size_t)n;
}

static bool relay(struct fx *f, size_t slot, const char *from, uint8_t *pkt, size_t len,
		  struct trs_fwd *fw)
{
	struct sockaddr_storage src = ep(from);

	return trs_handle_relay(f->t, slot, SA(src), pkt, len, fw);
}

/* A tunnel message of the relayed form: type, exact length, tunnel id. */
static size_t tunmsg(uint8_t type, uint64_t tid, size_t len, uint8_t *out)
{
	memset(out, 0x33, len);
	out[0] = CY_VERSION;
	out[1] = type;
	out[2] = type == 0x30 ? 1 : 0;
	out[3] = 0;
	if (type != 0x40)
		put_be64(out + 4, tid);
	return len;
}

#define A "203.0.113.5:40001"
#define B "[2001:db8:1::20]:7446"

static void both_sides(struct fx *f, size_t slot)
{
	uint8_t h[TRS_HELLO_LEN];
	struct trs_fwd fw;

	assert_false(relay(f, slot, A, h, hello(f, 1, h), &fw));
	assert_false(relay(f, slot, B, h, hello(f, 0, h), &fw));
	assert_int_equal(trs_stats(f->t)->hellos, 2);
}

static void test_forward(void **state)
{
	struct fx *f = *state;
	const struct trs_stats *st = trs_stats(f->t);
	struct sockaddr_storage a = ep(A), b = ep(B);
	size_t slot = alloc(f);
	uint8_t pkt[1500];
	struct trs_fwd fw;
	size_t n;

	both_sides(f, slot);
	/* Request A -> B, Response B -> A, Data both ways: unchanged bytes. */
	n = tunmsg(0x30, TID, 136, pkt);
	assert_true(relay(f, slot, A, pkt, n, &fw));
	assert_true(addr_equal(fw.to, SA(b)));
	assert_ptr_equal(fw.buf, pkt);
	assert_int_equal(fw.len, 136);
	n = tunmsg(0x31, TID, 84, pkt);
	assert_true(relay(f, slot, B, pkt, n, &fw));
	assert_true(addr_equal(fw.to, SA(a)));
	n = tunmsg(0x40, 0, 1400, pkt);
	assert_true(relay(f, slot, A, pkt, n, &fw));
	assert_true(addr_equal(fw.to, SA(b)));
	assert_true(relay(f, slot, B, pkt, 32, &fw));
	assert_true(addr_equal(fw.to, SA(a)));
	assert_int_equal(st->fwd_packets, 4);
	assert_int_equal(st->fwd_bytes, 136 + 84 + 1400 + 32);

	/* Refused: another source, another tunnel id, the direct Request
	 * form, a short Response, a runt Data, an unknown type, another
	 * version, a hello-typed runt, empty. */
	n = tunmsg(0x40, 0, 100, pkt);
	assert_false(relay(f, slot, "203.0.113.5:40002", pkt, n, &fw));
	assert_false(relay(f, slot, "198.51.100.9:40001", pkt, n, &fw));
	assert_int_equal(st->drop_unknown_src, 2);
	assert_false(relay(f, slot, A, pkt, tunmsg(0x30, TID + 1, 136, pkt), &fw));
	assert_false(relay(f, slot, A, pkt, tunmsg(0x30, TID, 120, pkt), &fw));
	assert_false(relay(f, slot, A, pkt, tunmsg(0x31, TID, 83, pkt), &fw));
	assert_false(relay(f, slot, A, pkt, tunmsg(0x40, 0, 31, pkt), &fw));
	assert_false(relay(f, slot, A, pkt, tunmsg(0x41, 0, 100, pkt), &fw));
	tunmsg(0x40, 0, 100, pkt);
	pkt[0] = 2;
	assert_false(relay(f, slot, A, pkt, 100, &fw));
	pkt[0] = 1;
	pkt[1] = CY_RELAY_HELLO;
	assert_false(relay(f, slot, A, pkt, 10, &fw));
	assert_false(relay(f, slot, A, pkt, 0, &fw));
	assert_false(relay(f, slot, A, pkt, 1, &fw));
	assert_int_equal(st->drop_malformed, 9);
	assert_null(fw.to);
	/* A port with no session behind it. */
	assert_false(relay(f, 3, A, pkt, tunmsg(0x40, 0, 100, pkt), &fw));
	assert_false(relay(f, 99, A, pkt, 100, &fw));
	assert_int_equal(st->drop_no_session, 2);
	assert_int_equal(st->fwd_packets, 4);
}

/* The initiator's Request can arrive before the responder's hello: it is
 * kept (one, the newest) and forwarded the moment the hello comes.  Data
 * is not kept. */
static void test_held(void **state)
{
	struct fx *f = *state;
	const struct trs_stats *st = trs_stats(f->t);
	struct sockaddr_storage b = ep(B);
	size_t slot = alloc(f);
	uint8_t h[TRS_HELLO_LEN], pkt[200], req[136];
	struct trs_fwd fw;

	/* Nobody said hello: nothing is known, nothing kept. */
	assert_false(relay(f, slot, A, pkt, tunmsg(0x30, TID, 136, pkt), &fw));
	assert_int_equal(st->drop_unknown_src, 1);
	assert_false(relay(f, slot, A, h, hello(f, 1, h), &fw));
	assert_false(relay(f, slot, A, pkt, tunmsg(0x30, TID, 136, pkt), &fw));
	memset(pkt + 40, 0x44, 10);           /* a newer one replaces it */
	memcpy(req, pkt, sizeof(req));
	assert_false(relay(f, slot, A, pkt, 136, &fw));
	assert_false(relay(f, slot, A, pkt, tunmsg(0x40, 0, 100, pkt), &fw));
	assert_int_equal(st->held, 2);
	assert_int_equal(st->drop_no_peer, 1);
	memset(pkt, 0, sizeof(pkt));
	assert_true(relay(f, slot, B, h, hello(f, 0, h), &fw));
	assert_true(addr_equal(fw.to, SA(b)));
	assert_int_equal(fw.len, 136);
	assert_memory_equal(fw.buf, req, 136);
	/* Only once. */
	assert_false(relay(f, slot, B, h, hello(f, 0, h), &fw));
}

static void test_hello_hostile(void **state)
{
	struct fx *f = *state;
	const struct trs_stats *st = trs_stats(f->t);
	size_t slot = alloc(f);
	uint8_t h[TRS_HELLO_LEN + 1], old[TRS_HELLO_LEN], wk[TRS_KEY_LEN];
	struct trs_fwd fw;
	uint64_t ts;

	assert_false(relay(f, slot, A, h, hello(f, 1, h), &fw));
	memcpy(old, h, sizeof(old));
	/* Replayed, also from elsewhere (an attacker who recorded it). */
	assert_false(relay(f, slot, A, old, sizeof(old), &fw));
	assert_false(relay(f, slot, "192.0.2.66:1", old, sizeof(old), &fw));
	assert_int_equal(st->hello_stale, 2);
	/* Timestamps outside the skew. */
	ts = NOW_MS + TRS_HELLO_MAX_SKEW_MS + 1000;
	trs_hello_build(f->relay_key, TID, 1, ts, h, sizeof(h));
	assert_false(relay(f, slot, A, h, TRS_HELLO_LEN, &fw));
	ts = NOW_MS - TRS_HELLO_MAX_SKEW_MS - 1000;
	trs_hello_build(f->relay_key, TID, 0, ts, h, sizeof(h));
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN, &fw));
	assert_int_equal(st->hello_stale, 4);
	/* Under the Tunnel Key, or another key: not authenticated. */
	trs_hello_build(f->tunnel_key, TID, 0, ++f->hello_ts, h, sizeof(h));
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN, &fw));
	memset(wk, 3, sizeof(wk));
	trs_hello_build(wk, TID, 0, ++f->hello_ts, h, sizeof(h));
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN, &fw));
	/* Tampered: side flipped, a bit of the tag, the nonce. */
	hello(f, 0, h);
	h[2] = 1;
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN, &fw));
	hello(f, 0, h);
	h[TRS_HELLO_LEN - 1] ^= 1;
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN, &fw));
	hello(f, 0, h);
	h[20] ^= 1;
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN, &fw));
	assert_int_equal(st->hello_auth_fail, 5);
	/* Not a hello: wrong length, tunnel id, side 2, reserved byte, nonce
	 * direction. */
	hello(f, 0, h);
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN - 1, &fw));
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN + 1, &fw));
	trs_hello_build(f->relay_key, TID + 1, 0, ++f->hello_ts, h, sizeof(h));
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN, &fw));
	hello(f, 0, h);
	h[2] = 2;
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN, &fw));
	hello(f, 0, h);
	h[3] = 1;
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN, &fw));
	hello(f, 0, h);
	h[12] = 1;
	assert_false(relay(f, slot, B, h, TRS_HELLO_LEN, &fw));
	/* The other side's hello from the first side's endpoint. */
	assert_false(relay(f, slot, A, h, hello(f, 0, h), &fw));
	assert_int_equal(st->drop_malformed, 7);
	assert_int_equal(st->hellos, 1);
}

/* Each accepted hello, and only those, is answered with a Relay Ack to its
 * source: the hello's side and timestamp sealed under the Relay Key.  The
 * TRS keeps nothing about it; an ack sent back at it is no hello. */
static void test_ack(void **state)
{
	struct fx *f = *state;
	const struct trs_stats *st = trs_stats(f->t);
	size_t slot = alloc(f);
	uint8_t h[TRS_HELLO_LEN], old[TRS_HELLO_LEN], pkt[136], side, hside;
	uint64_t tid, ts, hts;
	struct sockaddr_storage seen, a = ep(A), b = ep(B);
	struct trs_fwd fw;

	assert_false(relay(f, slot, A, h, hello(f, 1, h), &fw));
	assert_int_equal(fw.ack_len, TRS_ACK_LEN);
	assert_int_equal(trs_hello_open(f->relay_key, h, sizeof(h), &hside, &hts), 0);
	assert_int_equal(trs_ack_peek(fw.ack, fw.ack_len, &tid, &side), 0);
	assert_true(tid == TID && side == 1);
	assert_int_equal(trs_ack_open(f->tunnel_key, fw.ack, fw.ack_len, &side, &ts, &seen),
			 -EBADMSG);
	assert_int_equal(trs_ack_open(f->relay_key, fw.ack, fw.ack_len, &side, &ts, &seen), 0);
	assert_true(side == hside && ts == hts);
	/* ...and where the hello came from (the node's mapping, seen). */
	assert_true(addr_equal(SA(seen), SA(a)));
	/* Not a hello: neither to the parser nor to the session. */
	assert_int_equal(trs_hello_peek(fw.ack, fw.ack_len, &tid, &side), -EPROTO);
	memcpy(old, fw.ack, sizeof(old));
	assert_false(relay(f, slot, A, old, sizeof(old), &fw));
	assert_int_equal(fw.ack_len, 0);
	assert_int_equal(st->drop_malformed, 1);
	/* Refused hellos get none: replayed, forged, another tunnel. */
	memcpy(old, h, sizeof(old));
	assert_false(relay(f, slot, A, old, sizeof(old), &fw));
	assert_int_equal(fw.ack_len, 0);
	trs_hello_build(f->tunnel_key, TID, 0, ++f->hello_ts, h, sizeof(h));
	assert_false(relay(f, slot, B, h, sizeof(h), &fw));
	assert_int_equal(fw.ack_len, 0);
	trs_hello_build(f->relay_key, TID + 1, 0, ++f->hello_ts, h, sizeof(h));
	assert_false(relay(f, slot, B, h, sizeof(h), &fw));
	assert_int_equal(fw.ack_len, 0);
	/* A port with no session: dropped, counted, no ack. */
	assert_false(relay(f, 3, B, h, hello(f, 0, h), &fw));
	assert_int_equal(fw.ack_len, 0);
	assert_int_equal(st->drop_no_session, 1);
	/* The hello that lets a held handshake go gets its ack too. */
	assert_false(relay(f, slot, A, pkt, tunmsg(0x30, TID, 136, pkt), &fw));
	assert_true(relay(f, slot, B, h, hello(f, 0, h), &fw));
	assert_int_equal(fw.len, 136);
	assert_int_equal(fw.ack_len, TRS_ACK_LEN);
	assert_int_equal(trs_ack_open(f->relay_key, fw.ack, fw.ack_len, &side, &ts, &seen), 0);
	assert_true(side == 0 && ts == f->hello_ts);
	assert_true(addr_equal(SA(seen), SA(b)));
	/* Data forwarded: no ack. */
	assert_true(relay(f, slot, A, pkt, tunmsg(0x40, 0, 100, pkt), &fw));
	assert_int_equal(fw.ack_len, 0);
	assert_int_equal(st->hellos, 2);
	assert_int_equal(st->acks, 2);
}

/* The ack's format on its own: what a node's parser must refuse. */
static void test_ack_wire(void **state)
{
	uint8_t key[TRS_KEY_LEN], ack[TRS_ACK_LEN + 1], bad[TRS_ACK_LEN + 1], side;
	struct sockaddr_storage a = ep(A), b = ep(B), seen;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	uint64_t tid, ts;

	(void)state;
	memset(key, 7, sizeof(key));
	assert_int_equal(trs_ack_build(key, TID, 2, 5, SA(a), ack, sizeof(ack)), -EMSGSIZE);
	assert_int_equal(trs_ack_build(key, TID, 1, 5, SA(a), ack, TRS_ACK_LEN - 1), -EMSGSIZE);
	assert_int_equal(trs_ack_build(key, TID, 1, 5, (struct sockaddr *)&un, ack, sizeof(ack)),
			 -EAFNOSUPPORT);
	/* Both families round-trip. */
	assert_int_equal(trs_ack_build(key, TID, 0, 6, SA(b), ack, sizeof(ack)), TRS_ACK_LEN);
	assert_int_equal(trs_ack_open(key, ack, TRS_ACK_LEN, &side, &ts, &seen), 0);
	assert_true(side == 0 && ts == 6 && addr_equal(SA(seen), SA(b)));
	assert_int_equal(trs_ack_build(key, TID, 1, 5, SA(a), ack, sizeof(ack)), TRS_ACK_LEN);
	assert_int_equal(trs_ack_open(key, ack, TRS_ACK_LEN, &side, &ts, &seen), 0);
	assert_true(side == 1 && ts == 5 && addr_equal(SA(seen), SA(a)));
	assert_int_equal(trs_ack_open(key, ack, TRS_ACK_LEN - 1, &side, &ts, &seen), -EPROTO);
	assert_int_equal(trs_ack_open(key, ack, TRS_ACK_LEN + 1, &side, &ts, &seen), -EPROTO);
	assert_int_equal(trs_ack_open(key, ack, 0, &side, &ts, &seen), -EPROTO);
	assert_int_equal(trs_hello_open(key, ack, TRS_ACK_LEN, &side, &ts), -EPROTO);
	/* Every bit: the clear header is checked or authenticated, the rest
	 * authenticated. */
	for (size_t i = 0; i < TRS_ACK_LEN * 8; i++) {
		memcpy(bad, ack, sizeof(bad));
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_true(trs_ack_open(key, bad, TRS_ACK_LEN, &side, &ts, &seen) < 0);
	}
	/* An ack's header on a hello's sealed body, at an ack's length: the
	 * tag covers the header, so a hello cannot be turned into an ack. */
	memset(bad, 0, sizeof(bad));
	assert_int_equal(trs_hello_build(key, TID, 1, 5, bad, sizeof(bad)), TRS_HELLO_LEN);
	bad[1] = CY_RELAY_ACK;
	bad[12] = TRS_ACK_DIR;
	assert_int_equal(trs_ack_peek(bad, TRS_ACK_LEN, &tid, &side), 0);
	assert_int_equal(trs_ack_open(key, bad, TRS_ACK_LEN, &side, &ts, &seen), -EBADMSG);
}

/* A side whose NAPT mapping changed says hello from the new endpoint:
 * traffic follows; the old endpoint is nobody now. */
static void test_roam(void **state)
{
	struct fx *f = *state;
	const struct trs_stats *st = trs_stats(f->t);
	struct sockaddr_storage a2 = ep("203.0.113.5:50000");
	size_t slot = alloc(f);
	uint8_t h[TRS_HELLO_LEN], pkt[100];
	struct trs_fwd fw;

	both_sides(f, slot);
	assert_false(relay(f, slot, "203.0.113.5:50000", h, hello(f, 1, h), &fw));
	tunmsg(0x40, 0, sizeof(pkt), pkt);
	assert_false(relay(f, slot, A, pkt, sizeof(pkt), &fw));
	assert_int_equal(st->drop_unknown_src, 1);
	assert_true(relay(f, slot, "203.0.113.5:50000", pkt, sizeof(pkt), &fw));
	assert_true(relay(f, slot, B, pkt, sizeof(pkt), &fw));
	assert_true(addr_equal(fw.to, SA(a2)));
}

static void test_expire(void **state)
{
	struct fx *f = *state;
	const struct trs_stats *st = trs_stats(f->t);
	size_t slot = alloc(f);
	uint8_t pkt[100];
	struct trs_fwd fw;

	both_sides(f, slot);
	/* Traffic keeps it; 60 s of nothing closes it. */
	clock_set_fake(NOW + 50, MONO + 50000);
	trs_expire(f->t, MONO + 50000);
	assert_int_equal(st->sessions, 1);
	assert_true(relay(f, slot, A, pkt, tunmsg(0x40, 0, sizeof(pkt), pkt), &fw));
	trs_expire(f->t, MONO + 109999);
	assert_int_equal(st->sessions, 1);
	trs_expire(f->t, MONO + 110000);
	assert_int_equal(st->sessions, 0);
	assert_int_equal(st->sessions_expired, 1);
	assert_int_equal(f->closed, 1);
	assert_false(relay(f, slot, A, pkt, sizeof(pkt), &fw));
	assert_int_equal(st->drop_no_session, 1);
	/* The slot is free again. */
	clock_set_fake(NOW + 120, MONO + 120000);
	assert_int_equal(alloc(f), slot);
}

/* A session no node says hello to is closed after TRS_HELLO_WAIT_MS, not
 * after the idle time: a node selecting route after route holds each
 * port seconds, not a minute. */
static void test_expire_never_greeted(void **state)
{
	struct fx *f = *state;
	const struct trs_stats *st = trs_stats(f->t);
	size_t slot = alloc_tid(f, TID + 1), greeted = alloc(f);

	both_sides(f, greeted);
	assert_int_equal(st->sessions, 2);
	trs_expire(f->t, MONO + TRS_HELLO_WAIT_MS - 1);
	assert_int_equal(st->sessions, 2);
	trs_expire(f->t, MONO + TRS_HELLO_WAIT_MS);
	assert_int_equal(st->sessions, 1);
	assert_int_equal(st->sessions_expired, 1);
	/* the greeted one lives its idle time */
	trs_expire(f->t, MONO + 59999);
	assert_int_equal(st->sessions, 1);
	trs_expire(f->t, MONO + 60000);
	assert_int_equal(st->sessions, 0);
	(void)slot;
}

static void test_full(void **state)
{
	struct fx *f = *state;
	struct req r = { .tid = TID + 1, .key = f->relay_key, .keylen = TRS_KEY_LEN };
	uint8_t pkt[TRS_PKT_MAX], out[TRS_PKT_MAX];
	struct sockaddr_storage eps[4];
	size_t n, neps;

	alloc(f);
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_ERR_INTERNAL);
	assert_int_equal(neps, 0);
	assert_int_equal(trs_stats(f->t)->sessions_refused, 1);
}

static void test_no_port(void **state)
{
	struct fx *f = *state;
	struct req r = { .tid = TID, .key = f->relay_key, .keylen = TRS_KEY_LEN };
	uint8_t pkt[TRS_PKT_MAX], out[TRS_PKT_MAX];
	struct sockaddr_storage eps[4];
	size_t n, neps;

	f->open_fails = true;
	n = ctl(f, pkt, build_req(f, &r, pkt, sizeof(pkt)), out);
	assert_int_equal(open_res(f, out, n, eps, &neps), CY_ERR_INTERNAL);
	assert_int_equal(trs_stats(f->t)->sessions, 0);
}

/* Forged key ids cost a derivation each but evict no real link: the
 * real NMS's replay window survives a flood of them. */
static void test_link_cache(void **state)
{
	struct fx *f = *state;
	struct req r = { .tid = TID, .key = f->relay_key, .keylen = TRS_KEY_LEN };
	uint8_t pkt[TRS_PKT_MAX], out[TRS_PKT_MAX], k[TRS_KEY_LEN], msg[8] = { 1, 0x23, 0, 0 };
	size_t n, i;

	n = build_req(f, &r, pkt, sizeof(pkt));
	assert_true(ctl(f, pkt, n, out) > 0);
	for (i = 0; i < 3 * TRS_LINKS; i++) {
		uint8_t junk[TRS_PKT_MAX];
		struct aead *a;
		size_t m;

		memset(k, (int)i, sizeof(k));
		a = aead_new(AEAD_CHACHA20_POLY1305, k);
		m = seal_msg(f, a, 1000 + i, 1, msg, 4, junk, sizeof(junk));
		aead_free(a);
		assert_int_equal(ctl(f, junk, m, out), 0);
	}
	assert_int_equal(trs_stats(f->t)->ctl_auth_fail, 3 * TRS_LINKS);
	assert_int_equal(ctl(f, pkt, n, out), 0);     /* still a replay */
	assert_int_equal(trs_stats(f->t)->ctl_replay, 1);
}

static void test_key_parse(void **state)
{
	uint8_t k[TRS_KEY_LEN];
	char good[80], *s;

	(void)state;
	for (int i = 0; i < TRS_KEY_LEN; i++)
		snprintf(good + 2 * i, 3, "%02X", i);
	assert_int_equal(trs_key_parse(good, 64, k), 0);
	assert_int_equal(k[31], 31);
	s = strdup("  \n");
	assert_int_equal(trs_key_parse(s, strlen(s), k), -EINVAL);
	free(s);
	strcpy(good + 64, "\n");
	assert_int_equal(trs_key_parse(good, 65, k), 0);
	assert_int_equal(trs_key_parse(good, 63, k), -EINVAL);
	strcpy(good + 64, "00");
	assert_int_equal(trs_key_parse(good, 66, k), -EINVAL);
	good[10] = 'g';
	assert_int_equal(trs_key_parse(good, 64, k), -EINVAL);
	assert_int_equal(trs_key_parse("", 0, k), -EINVAL);
}

/* The NMS-TRS key file is refused when group or others may read it (the
 * message names it and its mode); `cyphonic init` writes it 0600. */
static void test_key_file_readable_by_others_refused(void **state)
{
	char dir[] = "/tmp/cy-test-trs-XXXXXX", path[64], err[256], want[160], hex[66];
	uint8_t k[TRS_KEY_LEN];
	int fd;

	(void)state;
	for (int i = 0; i < TRS_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", 0xa0 + i);
	strcpy(hex + 64, "\n");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/trs.key", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, hex, 65), 65);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(trs_key_read(path, k, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: mode 0644 lets others read a secret; chmod 600", path);
	assert_string_equal(err, want);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(trs_key_read(path, k, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: mode 0640 lets its group read a secret; chmod 600",
		 path);
	assert_string_equal(err, want);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(trs_key_read(path, k, err, sizeof(err)), 0);
	assert_int_equal(k[0], 0xa0);
	assert_int_equal(k[31], 0xa0 + 31);
	/* still: not a key, missing */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_int_equal(write(fd, "zz\n", 3), 3);
	close(fd);
	assert_int_equal(trs_key_read(path, k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a key"));
	unlink(path);
	assert_int_equal(trs_key_read(path, k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, strerror(ENOENT)));
	rmdir(dir);
}

#if HEAPSCAN
/* Reading the key file leaves no copy of it in freed memory (a stdio
 * buffer would).  Looks through the brk heap, where glibc's malloc keeps
 * small blocks, freed ones included; ASan's allocator does not use it. */
static void test_key_file_leaves_no_freed_copy(void **state)
{
	char path[] = "/tmp/cy-test-trs-key-XXXXXX", hex[66], err[256];
	uint8_t k[TRS_KEY_LEN];
	int fd;

	(void)state;
	heapscan_prepare();
	for (int i = 0; i < TRS_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", 0x5c ^ (i * 7));
	strcpy(hex + 64, "\n");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, hex, 65), 65);
	close(fd);
	assert_int_equal(trs_key_read(path, k, err, sizeof(err)), 0);
	unlink(path);
	/* the digits after the first 16 bytes a freed block loses */
	if (heapscan_holds(hex + 20, 40))
		fail_msg("the key file's text is still in freed heap memory");
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reply_counters_survive_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
		cmocka_unit_test(test_ack_wire),
		cmocka_unit_test_setup_teardown(test_roam, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_never_greeted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_no_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_cache, setup, teardown),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_key_file_readable_by_others_refused),
#if HEAPSCAN
		cmocka_unit_test(test_key_file_leaves_no_freed_copy),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
