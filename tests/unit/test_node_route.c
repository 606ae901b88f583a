/* Route selection in the node's signaling module: Direction Requests
 * (built, sealed, retransmitted, merged, given up), the NMS's answer, and
 * Route Directions to us as the CN, driven with captured datagrams and a
 * fake clock. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "seal.h"
#include "sig.h"
#include "wire.h"

#define KEY_ID 0x1122334455667788ULL
#define T0_UNIX 1700000000
#define T0_MS 1000000
#define TUNNEL 0x0123456789abcdefULL

static const uint8_t key1[CY_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const uint8_t tkey[CY_KEY_LEN] = { 0xaa, 0xbb, 0xcc, 0xdd, 7, 7, 7 };

struct fake {
	int nsent;
	uint8_t sent[16][2048];
	size_t sentlen[16];
	struct sockaddr_storage sentto[16];
	int64_t now;
	uint64_t nms_ctr;
	int nready, nfailed;
	int sent_at_ready;             /* F.nsent when route_ready ran */
	struct sig_route route;
	uint32_t failed_id;
	enum cy_result failed_res;
	char failed_reason[CY_REASON_MAX + 1];
	int nteardowns;
	uint64_t td_tunnel;
	enum cy_result td_result;
	char td_reason[CY_REASON_MAX + 1];
};

static struct fake F;

static int f_send(void *arg, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	int i = F.nsent++ % 16;

	memcpy(F.sent[i], buf, len);
	F.sentlen[i] = len;
	memset(&F.sentto[i], 0, sizeof(F.sentto[i]));
	memcpy(&F.sentto[i], to, addr_len(to));
	return 0;
}

static void f_login(void *arg) { }

static size_t f_addrs(void *arg, struct sockaddr_storage *out, size_t max)
{
	socklen_t l;

	assert_int_equal(addr_parse("192.0.2.10", 0, &out[0], &l), 0);
	return 1;
}

static void f_registered(void *arg, const struct sig_info *in) { }

static void f_ready(void *arg, const struct sig_route *r)
{
	F.nready++;
	F.route = *r;
	F.sent_at_ready = F.nsent;
}

static void f_failed(void *arg, uint32_t req_id, enum cy_result res, const char *reason)
{
	F.nfailed++;
	F.failed_id = req_id;
	F.failed_res = res;
	snprintf(F.failed_reason, sizeof(F.failed_reason), "%s", reason);
}

static void f_teardown(void *arg, uint64_t tunnel_id, const char *peer_fqdn,
		       const char *reason, enum cy_result result)
{
	F.nteardowns++;
	F.td_tunnel = tunnel_id;
	F.td_result = result;
	snprintf(F.td_reason, sizeof(F.td_reason), "%s", reason);
}

static const struct sig_ops ops = {
	.send = f_send,
	.login = f_login,
	.local_addrs = f_addrs,
	.registered = f_registered,
	.route_ready = f_ready,
	.route_failed = f_failed,
	.teardown = f_teardown,
};

static void advance(int64_t ms)
{
	F.now += ms;
	clock_set_fake(T0_UNIX + F.now / 1000, T0_MS + F.now);
}

static int setup(void **state)
{
	memset(&F, 0, sizeof(F));
	advance(0);
	F.nms_ctr = 1000;
	*state = sig_new(7446, 15, &ops, NULL);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	sig_free(*state);
	clock_set_fake(0, 0);
	return 0;
}

static const struct sockaddr *nms_addr(void)
{
	static struct sockaddr_storage ss;
	socklen_t l;

	addr_parse("192.0.2.1:7444", 0, &ss, &l);
	return (struct sockaddr *)&ss;
}

/* A message sealed by the NMS for us. */
static size_t nms_seal(const uint8_t *msg, ssize_t len, uint8_t *out)
{
	struct aead *a = aead_new(AEAD_CHACHA20_POLY1305, key1);
	ssize_t n;

	assert_true(len > 0);
	n = cy_seal(a, CY_DIR_FROM_CLOUD, KEY_ID, ++F.nms_ctr, msg, (size_t)len, out, 2048);
	assert_true(n > 0);
	aead_free(a);
	return (size_t)n;
}

static void login(struct sig *s)
{
	struct login_result r = { .status = LOGIN_OK, .key_id = KEY_ID, .lifetime = 3600,
				  .nnms = 1 };

	strcpy(r.fqdn, "alpha.example.test");
	memcpy(r.key, key1, CY_KEY_LEN);
	memcpy(&r.nms[0], nms_addr(), sizeof(struct sockaddr_storage));
	sig_start(s);
	sig_login_done(s, &r);
	assert_int_equal(sig_info(s)->state, SIG_REGISTER);
}

static void registered(struct sig *s)
{
	uint8_t msg[512], d[2048];
	struct cy_builder b;
	struct sockaddr_storage obs;
	struct in_addr a4;
	struct in6_addr a6;
	socklen_t l;

	inet_pton(AF_INET, "100.64.0.1", &a4);
	inet_pton(AF_INET6, "fd00:1:2::1", &a6);
	addr_parse("192.0.2.10:7446", 0, &obs, &l);
	cy_build_start(&b, msg, sizeof(msg), CY_REG_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	cy_put_str(&b, CY_A_FQDN, "alpha.example.test");
	cy_put_bytes(&b, CY_A_VIP4, &a4, 4);
	cy_put_bytes(&b, CY_A_VIP6, &a6, 16);
	cy_put_u8(&b, CY_A_PREFIX4, 10);
	cy_put_u8(&b, CY_A_PREFIX6, 48);
	cy_put_endpoint(&b, CY_A_OBSERVED, (struct sockaddr *)&obs);
	cy_put_u8(&b, CY_A_NAT, 0);
	cy_put_u32(&b, CY_A_TTL, 30);
	assert_int_equal(sig_input(s, d, nms_seal(msg, cy_build_finish(&b), d), nms_addr()), 0);
	assert_int_equal(sig_info(s)->state, SIG_REGISTERED);
}

static void do_register(struct sig *s)
{
	login(s);
	registered(s);
	F.nsent = 0;
}

/* Open datagram i (counting from 0 after registration). */
static void open_sent(int i, struct cy_msg *m, uint8_t *plain)
{
	struct aead *a = aead_new(AEAD_CHACHA20_POLY1305, key1);
	struct cy_seal_hdr h;
	ssize_t n;

	assert_true(i < F.nsent);
	i %= 16;
	assert_int_equal(cy_seal_peek(F.sent[i], F.sentlen[i], &h), 0);
	assert_int_equal(h.dir, CY_DIR_TO_CLOUD);
	assert_true(h.key_id == KEY_ID);
	n = cy_unseal(a, F.sent[i], F.sentlen[i], plain, 2048);
	assert_true(n > 0);
	assert_int_equal(cy_msg_parse(m, plain, (size_t)n), 0);
	aead_free(a);
}

static uint32_t req_id_of(int i)
{
	uint8_t plain[2048];
	struct cy_msg m;
	uint32_t id;

	open_sent(i, &m, plain);
	assert_int_equal(m.type, CY_DIRECTION_REQ);
	assert_true(cy_msg_u32(&m, CY_A_REQ_ID, &id));
	return id;
}

/* A Route Direction from the NMS: the answer to req_id (want_req), or to
 * us as the CN. */
static size_t route_direction(bool want_req, uint32_t req_id, uint8_t result, uint8_t role,
			      uint8_t *out)
{
	uint8_t msg[512];
	struct cy_builder b;
	struct sockaddr_storage peer;
	struct in_addr a4;
	socklen_t l;

	inet_pton(AF_INET, "100.64.0.2", &a4);
	addr_parse("198.51.100.20:7446", 0, &peer, &l);
	cy_build_start(&b, msg, sizeof(msg), CY_ROUTE_DIRECTION);
	if (want_req) {
		cy_put_u8(&b, CY_A_RESULT, result);
		cy_put_u32(&b, CY_A_REQ_ID, req_id);
	}
	if (result == CY_OK) {
		cy_put_u64(&b, CY_A_TUNNEL_ID, TUNNEL);
		cy_put_bytes(&b, CY_A_KEY, tkey, CY_KEY_LEN);
		cy_put_str(&b, CY_A_FQDN, "beta.example.test");
		cy_put_bytes(&b, CY_A_VIP4, &a4, 4);
		cy_put_endpoint(&b, CY_A_PEER, (struct sockaddr *)&peer);
		cy_put_u8(&b, CY_A_ROLE, role);
		cy_put_u8(&b, CY_A_PATH, CY_PATH_DIRECT);
	} else {
		cy_put_str(&b, CY_A_REASON, "no such node");
	}
	return nms_seal(msg, cy_build_finish(&b), out);
}

static void test_request_built(void **state)
{
	struct sig *s = *state;
	const uint8_t vip4[4] = { 100, 64, 0, 2 };
	const uint8_t vip6[16] = { 0xfd, 0, 1, 2, [15] = 2 };
	uint8_t plain[2048], v[16];
	char fqdn[CY_FQDN_MAX + 1], buf[ADDR_STR_MAX];
	struct cy_msg m;
	uint32_t id, id2, id3, rid;
	uint64_t t;

	do_register(s);
	assert_int_equal(sig_direction_request(s, NULL, NULL, NULL, &id), -EINVAL);
	assert_int_equal(sig_direction_request(s, ".", NULL, NULL, &id), -EINVAL);
	assert_int_equal(sig_direction_request(s, "bad name", NULL, NULL, &id), -EINVAL);
	assert_int_equal(F.nsent, 0);

	assert_int_equal(sig_direction_request(s, "Beta.Example.TEST.", NULL, NULL, &id), 0);
	assert_int_equal(F.nsent, 1);
	assert_string_equal(addr_str((struct sockaddr *)&F.sentto[0], buf), "192.0.2.1:7444");
	open_sent(0, &m, plain);
	assert_int_equal(m.type, CY_DIRECTION_REQ);
	assert_true(cy_msg_u32(&m, CY_A_REQ_ID, &rid));
	assert_int_equal(rid, id);
	assert_true(cy_msg_str(&m, CY_A_FQDN, fqdn, CY_FQDN_MAX));
	assert_string_equal(fqdn, "beta.example.test");
	assert_null(cy_msg_find(&m, CY_A_VIP4));
	assert_true(cy_msg_u64(&m, CY_A_TIME, &t));

	/* By a virtual address (a packet sent straight to a VIP). */
	assert_int_equal(sig_direction_request(s, NULL, vip4, NULL, &id2), 0);
	assert_true(id2 != id);
	open_sent(1, &m, plain);
	assert_true(cy_msg_bytes(&m, CY_A_VIP4, v, 4));
	assert_memory_equal(v, vip4, 4);
	assert_null(cy_msg_find(&m, CY_A_FQDN));
	assert_int_equal(sig_direction_request(s, NULL, NULL, vip6, &id3), 0);
	assert_true(id3 != id && id3 != id2);
	open_sent(2, &m, plain);
	assert_true(cy_msg_bytes(&m, CY_A_VIP6, v, 16));
	assert_memory_equal(v, vip6, 16);
	assert_int_equal(sig_stats(s)->dir_req, 3);
}

static void test_retransmit_then_fail(void **state)
{
	struct sig *s = *state;
	uint32_t id;
	int i;

	do_register(s);
	assert_int_equal(sig_direction_request(s, "beta.example.test", NULL, NULL, &id), 0);
	assert_int_equal(F.nsent, 1);
	assert_true(sig_next_ms(s) == clock_now_ms() + SIG_DIR_RETRY_MS);
	advance(SIG_DIR_RETRY_MS - 1);
	sig_timeout(s);
	assert_int_equal(F.nsent, 1);
	advance(1);
	sig_timeout(s);
	assert_int_equal(F.nsent, 2);
	/* The same REQ_ID each time, under a fresh counter. */
	assert_int_equal(req_id_of(1), id);
	for (i = 2; i < SIG_DIR_GIVEUP_MS / SIG_DIR_RETRY_MS; i++) {
		assert_true(sig_next_ms(s) == clock_now_ms() + SIG_DIR_RETRY_MS);
		advance(SIG_DIR_RETRY_MS);
		sig_timeout(s);
		assert_int_equal(F.nsent, i + 1);
		assert_int_equal(req_id_of(i), id);
	}
	assert_int_equal(F.nfailed, 0);
	/* 2 s after the request: given up. */
	assert_true(sig_next_ms(s) == clock_now_ms() + SIG_DIR_RETRY_MS);
	advance(SIG_DIR_RETRY_MS);
	sig_timeout(s);
	assert_int_equal(F.nsent, SIG_DIR_GIVEUP_MS / SIG_DIR_RETRY_MS);
	assert_int_equal(F.nfailed, 1);
	assert_int_equal(F.failed_id, id);
	assert_int_equal(F.failed_res, CY_ERR_UNREACHABLE);
	assert_int_equal(F.nready, 0);
	/* Nothing left to do but keepalives. */
	assert_true(sig_next_ms(s) > clock_now_ms() + SIG_DIR_GIVEUP_MS);
	assert_int_equal(sig_stats(s)->dir_failed, 1);
}

static void test_merge_and_ready(void **state)
{
	struct sig *s = *state;
	uint8_t d[2048];
	char buf[ADDR_STR_MAX];
	uint32_t id, id2, id3;
	size_t n;

	do_register(s);
	assert_int_equal(sig_direction_request(s, "beta.example.test", NULL, NULL, &id), 0);
	assert_int_equal(sig_direction_request(s, "BETA.example.test.", NULL, NULL, &id2), 0);
	assert_int_equal(id2, id);
	assert_int_equal(F.nsent, 1);
	assert_int_equal(sig_stats(s)->dir_req, 1);
	assert_int_equal(sig_direction_request(s, "gamma.example.test", NULL, NULL, &id3), 0);
	assert_true(id3 != id);
	assert_int_equal(F.nsent, 2);

	n = route_direction(true, id, CY_OK, CY_ROLE_INITIATOR, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready, 1);
	assert_int_equal(F.route.req_id, id);
	assert_true(F.route.tunnel_id == TUNNEL);
	assert_memory_equal(F.route.key, tkey, CY_KEY_LEN);
	assert_string_equal(F.route.peer_fqdn, "beta.example.test");
	assert_true(F.route.have_vip4);
	assert_false(F.route.have_vip6);
	assert_string_equal(inet_ntop(AF_INET, &F.route.peer_vip4, buf, sizeof(buf)),
			    "100.64.0.2");
	assert_string_equal(addr_str((struct sockaddr *)&F.route.peer, buf),
			    "198.51.100.20:7446");
	assert_int_equal(F.route.role, CY_ROLE_INITIATOR);
	assert_int_equal(F.route.path, CY_PATH_DIRECT);
	assert_int_equal(F.nsent, 2); /* nothing is sent back for an answer */

	/* A duplicate answer (the NMS re-sent it) is late: ignored. */
	n = route_direction(true, id, CY_OK, CY_ROLE_INITIATOR, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready, 1);
	assert_int_equal(sig_stats(s)->dir_late, 1);

	/* The answered one is no longer retransmitted, the other still is. */
	advance(SIG_DIR_RETRY_MS);
	sig_timeout(s);
	assert_int_equal(F.nsent, 3);
	assert_int_equal(req_id_of(2), id3);
	/* Asking again after it was answered is a new request. */
	assert_int_equal(sig_direction_request(s, "beta.example.test", NULL, NULL, &id2), 0);
	assert_true(id2 != id);
}

static void test_answer_failure(void **state)
{
	struct sig *s = *state;
	uint8_t d[2048];
	uint32_t id;
	size_t n;

	do_register(s);
	assert_int_equal(sig_direction_request(s, "nobody.example.test", NULL, NULL, &id), 0);
	n = route_direction(true, id, CY_ERR_UNKNOWN, 0, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nfailed, 1);
	assert_int_equal(F.failed_id, id);
	assert_int_equal(F.failed_res, CY_ERR_UNKNOWN);
	assert_string_equal(F.failed_reason, "no such node");
	assert_int_equal(F.nready, 0);
	advance(SIG_DIR_GIVEUP_MS);
	sig_timeout(s);
	assert_int_equal(F.nfailed, 1);
	assert_int_equal(F.nsent, 1);
}

static void test_queued_until_registered(void **state)
{
	struct sig *s = *state;
	uint8_t d[2048];
	uint32_t id;
	size_t n;

	login(s);
	F.nsent = 0;
	assert_int_equal(sig_direction_request(s, "beta.example.test", NULL, NULL, &id), 0);
	assert_int_equal(F.nsent, 0);
	registered(s);
	assert_int_equal(F.nsent, 1);
	assert_int_equal(req_id_of(0), id);

	/* The NMS lost our registration: register again, then ask again. */
	n = route_direction(true, id, CY_ERR_REREGISTER, 0, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nfailed, 0);
	assert_int_equal(sig_info(s)->state, SIG_REGISTER);
	assert_int_equal(F.nsent, 2); /* the Registration Request */
	registered(s);
	assert_int_equal(F.nsent, 3);
	assert_int_equal(req_id_of(2), id);
}

/* During a move the NMS still holds the old registration (proving the
 * new endpoint takes a round trip): a route requested then waits for the
 * Registration Response, and retransmissions are held too.  One sent
 * before the move goes again with a new REQ_ID (the NMS may have
 * selected it from the old registration): an answer to the old one is
 * late, the answer to the new one reaches the daemon under its own. */
static void test_held_while_moving(void **state)
{
	struct sig *s = *state;
	uint8_t d[2048];
	uint32_t id, early, wire;
	size_t n;
	int sent;

	do_register(s);
	assert_int_equal(sig_direction_request(s, "gamma.example.test", NULL, NULL, &early), 0);
	assert_int_equal(F.nsent, 1);
	assert_int_equal(req_id_of(0), early);
	sig_handover(s);
	sent = F.nsent;                 /* the Registration Request(s) */
	assert_true(sent >= 1);
	assert_int_equal(sig_direction_request(s, "beta.example.test", NULL, NULL, &id), 0);
	assert_int_equal(F.nsent, sent);
	advance(SIG_DIR_RETRY_MS);
	sig_timeout(s);
	for (int i = sent; i < F.nsent; i++) {
		uint8_t plain[2048];
		struct cy_msg m;

		open_sent(i, &m, plain);
		assert_int_equal(m.type, CY_REG_REQ);
	}
	sent = F.nsent;
	registered(s);
	assert_int_equal(F.nsent, sent + 2);
	wire = req_id_of(sent) == id ? req_id_of(sent + 1) : req_id_of(sent);
	assert_true(req_id_of(sent) == id || req_id_of(sent + 1) == id);
	assert_true(wire != early && wire != id);
	/* the old REQ_ID's answer: late */
	n = route_direction(true, early, CY_OK, CY_ROLE_RESPONDER, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready, 0);
	assert_int_equal(sig_stats(s)->dir_late, 1);
	/* the new one's: route_ready with the daemon's id */
	n = route_direction(true, wire, CY_OK, CY_ROLE_RESPONDER, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready, 1);
	assert_int_equal(F.route.req_id, early);
}

static void test_as_cn(void **state)
{
	struct sig *s = *state;
	uint8_t d[2048], plain[2048], res;
	struct cy_msg m;
	uint64_t tid;
	char buf[ADDR_STR_MAX];
	size_t n;

	do_register(s);
	n = route_direction(false, 0, CY_OK, CY_ROLE_INITIATOR, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready, 1);
	assert_int_equal(F.route.req_id, 0);
	assert_true(F.route.tunnel_id == TUNNEL);
	assert_memory_equal(F.route.key, tkey, CY_KEY_LEN);
	assert_int_equal(F.route.role, CY_ROLE_INITIATOR);
	/* route_ready ran before the Confirmation left. */
	assert_int_equal(F.sent_at_ready, 0);
	assert_int_equal(F.nsent, 1);
	assert_string_equal(addr_str((struct sockaddr *)&F.sentto[0], buf), "192.0.2.1:7444");
	open_sent(0, &m, plain);
	assert_int_equal(m.type, CY_CONFIRMATION);
	assert_true(cy_msg_u64(&m, CY_A_TUNNEL_ID, &tid));
	assert_true(tid == TUNNEL);
	assert_true(cy_msg_u8(&m, CY_A_RESULT, &res));
	assert_int_equal(res, CY_OK);

	/* The exact datagram again (a replay): dropped, nothing sent. */
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready, 1);
	assert_int_equal(F.nsent, 1);
	assert_int_equal(sig_stats(s)->rx_replay, 1);

	/* A retransmission by the NMS (new counter, same tunnel): the
	 * Confirmation again, no second route. */
	n = route_direction(false, 0, CY_OK, CY_ROLE_INITIATOR, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready, 1);
	assert_int_equal(F.nsent, 2);
	open_sent(1, &m, plain);
	assert_int_equal(m.type, CY_CONFIRMATION);
	assert_true(cy_msg_u64(&m, CY_A_TUNNEL_ID, &tid));
	assert_true(tid == TUNNEL);
	assert_int_equal(sig_stats(s)->cn_routes, 1);
	assert_int_equal(sig_stats(s)->cn_dups, 1);

	/* Long after, the same id counts as new (the table forgets). */
	advance(SIG_CN_SEEN_MS);
	n = route_direction(false, 0, CY_OK, CY_ROLE_RESPONDER, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready, 2);
	assert_int_equal(F.route.role, CY_ROLE_RESPONDER);
}

static void test_bad_route_direction(void **state)
{
	struct sig *s = *state;
	uint8_t msg[128], d[2048];
	struct cy_builder b;
	uint32_t id;
	size_t n;

	do_register(s);
	assert_int_equal(sig_direction_request(s, "beta.example.test", NULL, NULL, &id), 0);
	/* RESULT 0 but no KEY: dropped, the request stays in flight. */
	cy_build_start(&b, msg, sizeof(msg), CY_ROUTE_DIRECTION);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	cy_put_u32(&b, CY_A_REQ_ID, id);
	cy_put_u64(&b, CY_A_TUNNEL_ID, TUNNEL);
	n = nms_seal(msg, cy_build_finish(&b), d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready + F.nfailed, 0);
	assert_int_equal(sig_stats(s)->rx_bad, 1);
	/* As the CN without a tunnel id: dropped, not confirmed. */
	cy_build_start(&b, msg, sizeof(msg), CY_ROUTE_DIRECTION);
	cy_put_bytes(&b, CY_A_KEY, tkey, CY_KEY_LEN);
	n = nms_seal(msg, cy_build_finish(&b), d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready, 0);
	assert_int_equal(F.nsent, 1);
	assert_int_equal(sig_stats(s)->rx_bad, 2);
	/* The real answer still works. */
	n = route_direction(true, id, CY_OK, CY_ROLE_RESPONDER, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nready, 1);
}

/* A Tunnel Teardown: acknowledged and handed on, with its RESULT when
 * it has one (a selection that failed after we had our answer) and
 * CY_ERR_UNKNOWN (the policy's answer) when not.  RESULT 0 is no reason
 * to tear anything down: dropped as malformed, not acknowledged. */
static size_t teardown_msg(int result, uint8_t *out)
{
	uint8_t msg[256];
	struct cy_builder b;

	cy_build_start(&b, msg, sizeof(msg), CY_TEARDOWN);
	cy_put_u64(&b, CY_A_TUNNEL_ID, TUNNEL);
	cy_put_str(&b, CY_A_FQDN, "beta.example.test");
	cy_put_str(&b, CY_A_REASON, "why");
	if (result >= 0)
		cy_put_u8(&b, CY_A_RESULT, (uint8_t)result);
	return nms_seal(msg, cy_build_finish(&b), out);
}

static void test_teardown_result(void **state)
{
	struct sig *s = *state;
	uint8_t d[2048], plain[2048];
	struct cy_msg m;

	do_register(s);
	assert_int_equal(sig_input(s, d, teardown_msg(-1, d), nms_addr()), 0);
	assert_int_equal(F.nteardowns, 1);
	assert_true(F.td_tunnel == TUNNEL);
	assert_int_equal(F.td_result, CY_ERR_UNKNOWN);
	assert_string_equal(F.td_reason, "why");
	assert_int_equal(F.nsent, 1);
	open_sent(0, &m, plain);
	assert_int_equal(m.type, CY_TEARDOWN_ACK);
	assert_int_equal(sig_input(s, d, teardown_msg(CY_ERR_UNREACHABLE, d), nms_addr()), 0);
	assert_int_equal(F.nteardowns, 2);
	assert_int_equal(F.td_result, CY_ERR_UNREACHABLE);
	assert_int_equal(F.nsent, 2);
	assert_int_equal(sig_input(s, d, teardown_msg(CY_OK, d), nms_addr()), 0);
	assert_int_equal(F.nteardowns, 2);
	assert_int_equal(F.nsent, 2);
	assert_int_equal(sig_stats(s)->rx_bad, 1);
}

/* PATH 1 (through a TRS): the Temp Key is required and handed on; a
 * relayed Route Direction without it is dropped and not confirmed. */
static void test_relay_route(void **state)
{
	struct sig *s = *state;
	uint8_t msg[512], d[2048], temp[CY_KEY_LEN];
	struct sockaddr_storage trs;
	struct cy_builder b;
	socklen_t l;
	size_t n;

	do_register(s);
	memset(temp, 0x77, sizeof(temp));
	addr_parse("[2001:db8::1]:40000", 0, &trs, &l);
	for (int with_temp = 0; with_temp < 2; with_temp++) {
		cy_build_start(&b, msg, sizeof(msg), CY_ROUTE_DIRECTION);
		cy_put_u64(&b, CY_A_TUNNEL_ID, TUNNEL);
		cy_put_bytes(&b, CY_A_KEY, tkey, CY_KEY_LEN);
		cy_put_str(&b, CY_A_FQDN, "beta.example.test");
		cy_put_endpoint(&b, CY_A_PEER, (struct sockaddr *)&trs);
		cy_put_u8(&b, CY_A_ROLE, CY_ROLE_RESPONDER);
		cy_put_u8(&b, CY_A_PATH, CY_PATH_RELAY);
		if (with_temp)
			cy_put_bytes(&b, CY_A_TEMP_KEY, temp, sizeof(temp));
		else   /* a short one is no Temp Key either */
			cy_put_bytes(&b, CY_A_TEMP_KEY, temp, 16);
		n = nms_seal(msg, cy_build_finish(&b), d);
		assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
		if (!with_temp) {
			assert_int_equal(F.nready, 0);
			assert_int_equal(F.nsent, 0);
			assert_int_equal(sig_stats(s)->rx_bad, 1);
		}
	}
	assert_int_equal(F.nready, 1);
	assert_int_equal(F.nsent, 1);   /* the Confirmation */
	assert_int_equal(F.route.path, CY_PATH_RELAY);
	assert_memory_equal(F.route.temp_key, temp, CY_KEY_LEN);
	assert_true(addr_equal((struct sockaddr *)&F.route.peer, (struct sockaddr *)&trs));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_built, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmit_then_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_and_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queued_until_registered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_while_moving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_as_cn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_route_direction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_teardown_result, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
