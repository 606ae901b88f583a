/* The node's signaling state machine, driven with captured datagrams and
 * a fake clock: no sockets, no AS, no NMS. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "seal.h"
#include "sig.h"
#include "status.h"
#include "wire.h"

#define KEY_ID 0x1122334455667788ULL
#define T0_UNIX 1700000000
#define T0_MS 1000000
#define NMS_REJECT_LEN_TEST 12

static const uint8_t key1[CY_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const uint8_t key2[CY_KEY_LEN] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };

struct fake {
	int nsent, nlogin, nregistered;
	uint8_t sent[8][2048];
	size_t sentlen[8];
	struct sockaddr_storage sentto;
	int64_t now;
	uint64_t nms_ctr;
};

static struct fake F;

static int f_send(void *arg, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	int i = F.nsent++ % 8;

	memcpy(F.sent[i], buf, len);
	F.sentlen[i] = len;
	memcpy(&F.sentto, to, addr_len(to));
	return 0;
}

static void f_login(void *arg) { F.nlogin++; }

static size_t f_addrs(void *arg, struct sockaddr_storage *out, size_t max)
{
	socklen_t l;

	assert_true(max >= 2);
	assert_int_equal(addr_parse("192.0.2.10", 0, &out[0], &l), 0);
	assert_int_equal(addr_parse("2001:db8::10", 0, &out[1], &l), 0);
	return 2;
}

static void f_registered(void *arg, const struct sig_info *in) { F.nregistered++; }

static const struct sig_ops ops = {
	.send = f_send, .login = f_login, .local_addrs = f_addrs, .registered = f_registered,
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

static void login_ok(struct sig *s, uint64_t key_id, const uint8_t *key, uint32_t lifetime)
{
	struct login_result r = { .status = LOGIN_OK, .key_id = key_id, .lifetime = lifetime,
				  .nnms = 1 };
	socklen_t l;

	strcpy(r.fqdn, "alpha.example.test");
	memcpy(r.key, key, CY_KEY_LEN);
	assert_int_equal(addr_parse("192.0.2.1:7444", 0, &r.nms[0], &l), 0);
	sig_login_done(s, &r);
}

/* The last datagram sent: check the envelope, open it, parse it.
 * want_ctr 0: any counter. */
static void open_last(const uint8_t *key, uint64_t key_id, uint64_t want_ctr, struct cy_msg *m,
		      uint8_t *plain)
{
	int i = (F.nsent - 1) % 8;
	struct aead *a = aead_new(AEAD_CHACHA20_POLY1305, key);
	struct cy_seal_hdr h;
	ssize_t n;

	assert_true(F.nsent > 0);
	assert_int_equal(cy_seal_peek(F.sent[i], F.sentlen[i], &h), 0);
	assert_int_equal(h.dir, CY_DIR_TO_CLOUD);
	assert_true(h.key_id == key_id);
	assert_true(want_ctr == 0 || h.counter == want_ctr);
	n = cy_unseal(a, F.sent[i], F.sentlen[i], plain, 2048);
	assert_true(n > 0);
	assert_int_equal(cy_msg_parse(m, plain, (size_t)n), 0);
	aead_free(a);
}

/* A sealed message from the NMS. */
static size_t nms_seal(const uint8_t *key, uint64_t key_id, enum cy_dir dir,
		       const uint8_t *msg, size_t len, uint8_t *out)
{
	struct aead *a = aead_new(AEAD_CHACHA20_POLY1305, key);
	ssize_t n = cy_seal(a, dir, key_id, ++F.nms_ctr, msg, len, out, 2048);

	assert_true(n > 0);
	aead_free(a);
	return (size_t)n;
}

static size_t reg_res_dir(const uint8_t *key, uint64_t key_id, enum cy_dir dir,
			  const char *vip4, uint8_t *out)
{
	uint8_t msg[512];
	struct cy_builder b;
	struct sockaddr_storage obs;
	struct in_addr a4;
	struct in6_addr a6;
	socklen_t l;
	ssize_t n;

	inet_pton(AF_INET, vip4, &a4);
	inet_pton(AF_INET6, "fd00:1:2::1", &a6);
	addr_parse("203.0.113.5:40000", 0, &obs, &l);
	cy_build_start(&b, msg, sizeof(msg), CY_REG_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	cy_put_str(&b, CY_A_FQDN, "alpha.example.test");
	cy_put_bytes(&b, CY_A_VIP4, &a4, 4);
	cy_put_bytes(&b, CY_A_VIP6, &a6, 16);
	cy_put_u8(&b, CY_A_PREFIX4, 10);
	cy_put_u8(&b, CY_A_PREFIX6, 48);
	cy_put_endpoint(&b, CY_A_OBSERVED, (struct sockaddr *)&obs);
	cy_put_u8(&b, CY_A_NAT, 1);
	cy_put_u32(&b, CY_A_TTL, 30);
	n = cy_build_finish(&b);
	assert_true(n > 0);
	return nms_seal(key, key_id, dir, msg, (size_t)n, out);
}

static size_t reg_res(const uint8_t *key, uint64_t key_id, const char *vip4, uint8_t *out)
{
	return reg_res_dir(key, key_id, CY_DIR_FROM_CLOUD, vip4, out);
}

static size_t simple(const uint8_t *key, uint64_t key_id, uint8_t type, uint8_t result,
		     uint8_t *out)
{
	uint8_t msg[64];
	struct cy_builder b;
	ssize_t n;

	cy_build_start(&b, msg, sizeof(msg), type);
	cy_put_u8(&b, CY_A_RESULT, result);
	n = cy_build_finish(&b);
	assert_true(n > 0);
	return nms_seal(key, key_id, CY_DIR_FROM_CLOUD, msg, (size_t)n, out);
}

static const struct sockaddr *nms_addr(void)
{
	static struct sockaddr_storage ss;
	socklen_t l;

	addr_parse("192.0.2.1:7444", 0, &ss, &l);
	return (struct sockaddr *)&ss;
}

static void do_register(struct sig *s)
{
	uint8_t d[2048];
	size_t n;

	sig_start(s);
	assert_int_equal(F.nlogin, 1);
	login_ok(s, KEY_ID, key1, 3600);
	assert_int_equal(sig_info(s)->state, SIG_REGISTER);
	n = reg_res(key1, KEY_ID, "100.64.0.1", d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(sig_info(s)->state, SIG_REGISTERED);
}

static void test_registration_request(void **state)
{
	struct sig *s = *state;
	uint8_t plain[2048];
	struct cy_msg m;
	const struct cy_attr *a;
	struct sockaddr_storage ss;
	socklen_t l;
	size_t pos = 0;
	int naddr = 0;
	uint8_t fam;
	uint64_t t;
	char buf[ADDR_STR_MAX];

	sig_start(s);
	assert_int_equal(F.nlogin, 1);
	assert_int_equal(sig_info(s)->state, SIG_LOGIN);
	assert_int_equal(F.nsent, 0);
	login_ok(s, KEY_ID, key1, 3600);
	assert_int_equal(sig_info(s)->state, SIG_REGISTER);
	assert_int_equal(F.nsent, 1);
	assert_string_equal(addr_str((struct sockaddr *)&F.sentto, buf), "192.0.2.1:7444");
	open_last(key1, KEY_ID, 1, &m, plain);
	assert_int_equal(m.type, CY_REG_REQ);
	while ((a = cy_msg_next(&m, CY_A_ADDR, &pos))) {
		assert_true(cy_attr_endpoint(a, &ss, &l));
		assert_int_equal(addr_port((struct sockaddr *)&ss), 7446);
		naddr++;
	}
	assert_int_equal(naddr, 2);
	assert_true(cy_msg_u8(&m, CY_A_FAMILIES, &fam));
	assert_int_equal(fam, CY_FAM_IPV4 | CY_FAM_IPV6);
	assert_true(cy_msg_u64(&m, CY_A_TIME, &t));
	assert_true(t == (uint64_t)T0_UNIX * 1000);

	/* Retransmitted every second with a fresh counter. */
	assert_true(sig_next_ms(s) == clock_now_ms() + SIG_REG_RETRY_MS);
	advance(SIG_REG_RETRY_MS);
	sig_timeout(s);
	assert_int_equal(F.nsent, 2);
	open_last(key1, KEY_ID, 2, &m, plain);
	assert_int_equal(m.type, CY_REG_REQ);
}

/* An NMS that asks us to prove our endpoint (RESULT 11) gets the
 * Registration again at once, to it, with its cookie; the same cookie
 * again, or another within a second (a source that changes between two
 * datagrams), waits for the timer, which carries the latest.  An answer
 * 11 without a cookie is dropped; one from another address of our NMS
 * (sealed: it is ours) is taken for the NMS in use. */
static void prove_answer(const uint8_t *cookie, uint8_t *out, size_t *len)
{
	uint8_t msg[64];
	struct cy_builder b;

	cy_build_start(&b, msg, sizeof(msg), CY_REG_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_ERR_PROVE);
	if (cookie)
		cy_put_bytes(&b, CY_A_COOKIE, cookie, CY_COOKIE_LEN);
	*len = nms_seal(key1, KEY_ID, CY_DIR_FROM_CLOUD, msg, (size_t)cy_build_finish(&b), out);
}

static void test_registration_prove(void **state)
{
	struct sig *s = *state;
	uint8_t d[2048], plain[2048], got[CY_COOKIE_LEN], cookie[CY_COOKIE_LEN];
	uint8_t cookie2[CY_COOKIE_LEN];
	struct sockaddr_storage other;
	struct cy_msg m;
	socklen_t l;
	size_t n;

	memset(cookie, 0xc0, sizeof(cookie));
	memset(cookie2, 0xc2, sizeof(cookie2));
	sig_start(s);
	login_ok(s, KEY_ID, key1, 3600);
	assert_int_equal(F.nsent, 1);
	open_last(key1, KEY_ID, 1, &m, plain);
	assert_null(cy_msg_find(&m, CY_A_COOKIE));
	/* without a cookie: dropped */
	prove_answer(NULL, d, &n);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nsent, 1);
	assert_int_equal(sig_stats(s)->rx_bad, 1);
	/* the cookie, from another address of our NMS: the Registration
	 * again, at once, with it, to the NMS in use */
	addr_parse("198.51.100.99:7444", 0, &other, &l);
	prove_answer(cookie, d, &n);
	assert_int_equal(sig_input(s, d, n, (struct sockaddr *)&other), 0);
	assert_int_equal(F.nsent, 2);
	assert_true(addr_equal((struct sockaddr *)&F.sentto, nms_addr()));
	open_last(key1, KEY_ID, 2, &m, plain);
	assert_int_equal(m.type, CY_REG_REQ);
	assert_true(cy_msg_bytes(&m, CY_A_COOKIE, got, sizeof(got)));
	assert_memory_equal(got, cookie, sizeof(cookie));
	/* the same cookie again, or another at once: nothing now; the
	 * timer's retransmission carries the latest */
	prove_answer(cookie, d, &n);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	prove_answer(cookie2, d, &n);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nsent, 2);
	assert_int_equal(sig_stats(s)->reg_cookies, 3);
	advance(SIG_REG_RETRY_MS);
	sig_timeout(s);
	assert_int_equal(F.nsent, 3);
	open_last(key1, KEY_ID, 3, &m, plain);
	assert_true(cy_msg_bytes(&m, CY_A_COOKIE, got, sizeof(got)));
	assert_memory_equal(got, cookie2, sizeof(cookie2));
	assert_int_equal(sig_info(s)->state, SIG_REGISTER);
	n = reg_res(key1, KEY_ID, "100.64.0.1", d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(sig_info(s)->state, SIG_REGISTERED);
}

static void test_registration_response(void **state)
{
	struct sig *s = *state;
	const struct sig_info *in;
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], buf[ADDR_STR_MAX], js[1024];

	do_register(s);
	in = sig_info(s);
	assert_int_equal(F.nregistered, 1);
	assert_string_equal(in->fqdn, "alpha.example.test");
	assert_string_equal(inet_ntop(AF_INET, &in->vip4, v4, sizeof(v4)), "100.64.0.1");
	assert_string_equal(inet_ntop(AF_INET6, &in->vip6, v6, sizeof(v6)), "fd00:1:2::1");
	assert_int_equal(in->prefix4, 10);
	assert_int_equal(in->prefix6, 48);
	assert_true(in->nat);
	assert_string_equal(addr_str((struct sockaddr *)&in->observed, buf), "203.0.113.5:40000");
	assert_int_equal(in->ttl, 30);

	assert_true(status_format(in, clock_now_ms(), js, sizeof(js)) > 0);
	assert_non_null(strstr(js, "\"fqdn\":\"alpha.example.test\""));
	assert_non_null(strstr(js, "\"vip4\":\"100.64.0.1\""));
	assert_non_null(strstr(js, "\"vip6\":\"fd00:1:2::1\""));
	assert_non_null(strstr(js, "\"dns\":null"));
	assert_non_null(strstr(js, "\"registered\":true"));
	assert_non_null(strstr(js, "\"nat\":true"));
	assert_non_null(strstr(js, "\"observed\":\"203.0.113.5:40000\""));
	assert_non_null(strstr(js, "\"state\":\"registered\""));
	assert_non_null(strstr(js, "\"tunnels\":[]"));
	assert_non_null(strstr(js, "\"key_expires_in\":3600"));
}

static void test_status_before_registration(void **state)
{
	struct sig *s = *state;
	char js[1024];

	assert_true(status_format(sig_info(s), clock_now_ms(), js, sizeof(js)) > 0);
	assert_non_null(strstr(js, "\"fqdn\":null"));
	assert_non_null(strstr(js, "\"vip4\":null"));
	assert_non_null(strstr(js, "\"registered\":false"));
	assert_non_null(strstr(js, "\"nat\":null"));
	assert_non_null(strstr(js, "\"state\":\"login\""));
	assert_non_null(strstr(js, "\"key_expires_in\":null"));
	assert_int_equal(status_format(sig_info(s), clock_now_ms(), js, 20), -1);
}

static void test_replay_and_tamper_ignored(void **state)
{
	struct sig *s = *state;
	const struct sig_info *in = sig_info(s);
	uint8_t d[2048], first[2048];
	size_t n, nfirst;
	char v4[INET_ADDRSTRLEN];

	sig_start(s);
	login_ok(s, KEY_ID, key1, 3600);
	nfirst = reg_res(key1, KEY_ID, "100.64.0.1", first);
	assert_int_equal(sig_input(s, first, nfirst, nms_addr()), 0);
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_int_equal(F.nregistered, 1);

	/* The same datagram again: a replay. */
	assert_int_equal(sig_input(s, first, nfirst, nms_addr()), 0);
	assert_int_equal(sig_stats(s)->rx_replay, 1);
	assert_int_equal(F.nregistered, 1);

	/* A response with another VIP, one ciphertext bit flipped. */
	n = reg_res(key1, KEY_ID, "100.64.0.99", d);
	d[n - 20] ^= 1;
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(sig_stats(s)->rx_bad, 1);
	/* Header tampered: the counter is associated data. */
	n = reg_res(key1, KEY_ID, "100.64.0.99", d);
	d[19] ^= 1;
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(sig_stats(s)->rx_bad, 2);
	/* Sealed with another key id, and in the wrong direction. */
	n = reg_res(key2, KEY_ID + 1, "100.64.0.99", d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(sig_stats(s)->rx_other_key, 1);
	/* A complete, genuine Registration Response with a new VIP, sealed
	 * with the current key in the node-to-cloud direction: it would
	 * authenticate, so only the direction check refuses it. */
	{
		uint64_t ok = sig_stats(s)->rx_ok;

		n = reg_res_dir(key1, KEY_ID, CY_DIR_TO_CLOUD, "100.64.0.77", d);
		assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
		assert_int_equal(sig_stats(s)->rx_bad, 3);
		assert_int_equal(sig_stats(s)->rx_ok, ok);
		assert_int_equal(F.nregistered, 1);
		assert_string_equal(inet_ntop(AF_INET, &in->vip4, v4, sizeof(v4)),
				    "100.64.0.1");
	}
	/* Truncated: every prefix of a valid datagram is dropped. */
	n = reg_res(key1, KEY_ID, "100.64.0.99", d);
	for (size_t k = 0; k < n; k++)
		sig_input(s, d, k, nms_addr());
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_int_equal(F.nregistered, 1);
	assert_string_equal(inet_ntop(AF_INET, &in->vip4, v4, sizeof(v4)), "100.64.0.1");
	/* The untouched one is accepted. */
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(F.nregistered, 2);
	assert_string_equal(inet_ntop(AF_INET, &in->vip4, v4, sizeof(v4)), "100.64.0.99");

	/* Not signaling at all: left for the data path. */
	d[0] = CY_VERSION;
	d[1] = 0x42;
	assert_int_equal(sig_input(s, d, 10, nms_addr()), -ENOMSG);
}

static void reject(uint64_t key_id, uint8_t *d)
{
	d[0] = CY_VERSION;
	d[1] = CY_NMS_REJECT;
	d[2] = CY_ERR_UNKNOWN;
	d[3] = 0;
	for (int i = 0; i < 8; i++)
		d[4 + i] = (uint8_t)(key_id >> (56 - 8 * i));
}

static void test_nms_reject(void **state)
{
	struct sig *s = *state;
	uint8_t d[16];

	do_register(s);
	/* (Later than SIG_DUP_LOGIN_WINDOW_MS after the login: sooner is
	 * test_reject_soon_after_login_backs_off.) */
	advance(SIG_DUP_LOGIN_WINDOW_MS);
	reject(KEY_ID + 1, d);
	assert_int_equal(sig_input(s, d, 12, nms_addr()), 0);
	assert_int_equal(sig_stats(s)->rx_reject_ignored, 1);
	assert_int_equal(F.nlogin, 1);
	assert_int_equal(sig_info(s)->state, SIG_REGISTERED);
	/* Malformed (wrong length): dropped. */
	reject(KEY_ID, d);
	assert_int_equal(sig_input(s, d, 11, nms_addr()), 0);
	assert_int_equal(F.nlogin, 1);
	/* Naming the current key: log in again, still registered meanwhile. */
	assert_int_equal(sig_input(s, d, 12, nms_addr()), 0);
	assert_int_equal(F.nlogin, 2);
	assert_int_equal(sig_info(s)->state, SIG_REGISTERED);
}

static const struct sockaddr *sa(const char *text)
{
	static struct sockaddr_storage ss[4];
	static int next;
	struct sockaddr_storage *p = &ss[next++ % 4];
	socklen_t l;

	assert_int_equal(addr_parse(text, 0, p, &l), 0);
	return (const struct sockaddr *)p;
}

/* Registered through the NMS pair the AS names (one per family). */
static void register_two_nms(struct sig *s)
{
	struct login_result r = { .status = LOGIN_OK, .key_id = KEY_ID, .lifetime = 3600,
				  .nnms = 2 };
	uint8_t d[2048];
	socklen_t l;
	size_t n;

	strcpy(r.fqdn, "alpha.example.test");
	memcpy(r.key, key1, CY_KEY_LEN);
	assert_int_equal(addr_parse("192.0.2.1:7444", 0, &r.nms[0], &l), 0);
	assert_int_equal(addr_parse("[2001:db8::1]:7444", 0, &r.nms[1], &l), 0);
	sig_start(s);
	assert_int_equal(F.nlogin, 1);
	sig_login_done(s, &r);
	n = reg_res(key1, KEY_ID, "100.64.0.1", d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(sig_info(s)->state, SIG_REGISTERED);
}

/* The key id travels in clear in every datagram the node seals: whoever
 * saw one can write a Reject naming it.  From anywhere but an NMS of the
 * login (another host, or the NMS's host on another port) it changes
 * nothing: still registered on the same key, no login, keepalives go on. */
static void test_nms_reject_from_foreign_address_ignored(void **state)
{
	static const char *const foreign[] = {
		"198.51.100.66:7444",   /* another host, the NMS port */
		"192.0.2.1:7445",       /* the NMS's address, another port */
		"[::ffff:192.0.2.99]:7444",
		"[2001:db8::2]:7444",
		"[2001:db8::1]:7446",
	};
	struct sig *s = *state;
	const struct sig_info *in = sig_info(s);
	uint8_t d[2048], plain[2048];
	struct cy_msg m;
	size_t n;

	register_two_nms(s);
	reject(KEY_ID, d);
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		assert_int_equal(sig_input(s, d, NMS_REJECT_LEN_TEST, sa(foreign[i])), 0);
		assert_int_equal(sig_stats(s)->rx_reject_ignored, i + 1);
		assert_int_equal(F.nlogin, 1);
		assert_int_equal(in->state, SIG_REGISTERED);
		assert_true(in->have_key);
		assert_true(in->key_id == KEY_ID);
		assert_true(in->have_vips);
	}
	/* Nothing else changed either: the keepalive goes out on the old key
	 * and its ack is taken. */
	advance(10000);
	sig_timeout(s);
	open_last(key1, KEY_ID, 2, &m, plain);
	assert_int_equal(m.type, CY_KEEPALIVE);
	n = simple(key1, KEY_ID, CY_KEEPALIVE_ACK, CY_OK, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_int_equal(F.nlogin, 1);
}

/* From an NMS of the login (either of them; a dual-stack socket may
 * report the IPv4 one mapped) it starts a login, once, and the node stays
 * registered on the old key until the new one is registered. */
static void test_nms_reject_from_nms_relogin_keeps_registration(void **state)
{
	struct login_result failed = { .status = LOGIN_FAILED, .reason = "connection refused" };
	struct sig *s = *state;
	const struct sig_info *in = sig_info(s);
	uint8_t d[2048], plain[2048];
	struct cy_msg m;
	size_t n;

	register_two_nms(s);
	advance(SIG_DUP_LOGIN_WINDOW_MS); /* (sooner: test_reject_soon_after_login_backs_off) */
	reject(KEY_ID, d);
	assert_int_equal(sig_input(s, d, NMS_REJECT_LEN_TEST, sa("[::ffff:192.0.2.1]:7444")), 0);
	assert_int_equal(F.nlogin, 2);
	assert_int_equal(sig_stats(s)->rx_reject_ignored, 0);
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_true(in->have_key);
	assert_true(in->key_id == KEY_ID);
	assert_true(in->have_vips);
	/* More Rejects while that login runs: no second login. */
	assert_int_equal(sig_input(s, d, NMS_REJECT_LEN_TEST, sa("[2001:db8::1]:7444")), 0);
	assert_int_equal(sig_input(s, d, NMS_REJECT_LEN_TEST, nms_addr()), 0);
	assert_int_equal(F.nlogin, 2);
	/* That login fails (the AS is unreachable): still registered, and a
	 * Reject does not bring the retry forward. */
	sig_login_done(s, &failed);
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_int_equal(sig_input(s, d, NMS_REJECT_LEN_TEST, nms_addr()), 0);
	assert_int_equal(F.nlogin, 2);
	advance(1000);
	sig_timeout(s);
	assert_int_equal(F.nlogin, 3);
	/* Keepalives go on meanwhile, on the old key (the first one went
	 * out with the retry). */
	advance(10000);
	sig_timeout(s);
	open_last(key1, KEY_ID, 3, &m, plain);
	assert_int_equal(m.type, CY_KEEPALIVE);
	assert_int_equal(in->state, SIG_REGISTERED);
	/* The login succeeds: the new key registers, then it is the one. */
	login_ok(s, KEY_ID + 1, key2, 3600);
	assert_int_equal(in->state, SIG_REGISTER);
	open_last(key2, KEY_ID + 1, 1, &m, plain);
	assert_int_equal(m.type, CY_REG_REQ);
	n = reg_res(key2, KEY_ID + 1, "100.64.0.1", d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_true(in->key_id == KEY_ID + 1);

	/* While registering (not yet registered) too: the login starts and
	 * the registration attempt on the current key goes on. */
	advance(SIG_DUP_LOGIN_WINDOW_MS);
	sig_timeout(s);
	n = simple(key2, KEY_ID + 1, CY_KEEPALIVE_ACK, CY_ERR_REREGISTER, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(in->state, SIG_REGISTER);
	/* (This login named one NMS only: the IPv6 one no longer counts.) */
	reject(KEY_ID + 1, d);
	assert_int_equal(sig_input(s, d, NMS_REJECT_LEN_TEST, sa("[2001:db8::1]:7444")), 0);
	assert_int_equal(F.nlogin, 3);
	assert_int_equal(sig_input(s, d, NMS_REJECT_LEN_TEST, nms_addr()), 0);
	assert_int_equal(F.nlogin, 4);
	assert_int_equal(in->state, SIG_REGISTER);
	assert_true(in->have_key);
}

static void test_keepalive_miss(void **state)
{
	struct sig *s = *state;
	uint8_t plain[2048], d[2048];
	struct cy_msg m;
	size_t n;
	int sent;

	do_register(s);
	/* keepalive = 15 s but TTL 30 s: every 10 s. */
	assert_true(sig_next_ms(s) == clock_now_ms() + 10000);
	advance(9999);
	sig_timeout(s);
	assert_int_equal(F.nsent, 1);
	advance(1);
	sig_timeout(s);
	assert_int_equal(F.nsent, 2);
	open_last(key1, KEY_ID, 2, &m, plain);
	assert_int_equal(m.type, CY_KEEPALIVE);
	assert_non_null(cy_msg_find(&m, CY_A_TIME));
	n = simple(key1, KEY_ID, CY_KEEPALIVE_ACK, CY_OK, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);

	/* Three keepalives without an ack ... */
	for (int i = 0; i < SIG_KA_MISSES; i++) {
		advance(10000);
		sig_timeout(s);
		assert_int_equal(sig_info(s)->state, SIG_REGISTERED);
	}
	assert_int_equal(F.nsent, 2 + SIG_KA_MISSES);
	/* ... and the next deadline gives the registration up. */
	advance(10000);
	sig_timeout(s);
	assert_int_equal(sig_info(s)->state, SIG_REGISTER);
	open_last(key1, KEY_ID, 3 + SIG_KA_MISSES, &m, plain);
	assert_int_equal(m.type, CY_REG_REQ);
	/* Retried every second, then after 5 s: log in again. */
	sent = F.nsent;
	for (int i = 1; i < SIG_REG_GIVEUP_MS / SIG_REG_RETRY_MS; i++) {
		advance(SIG_REG_RETRY_MS);
		sig_timeout(s);
		assert_int_equal(F.nsent, sent + i);
	}
	assert_int_equal(F.nlogin, 1);
	advance(SIG_REG_RETRY_MS);
	sig_timeout(s);
	assert_int_equal(sig_info(s)->state, SIG_LOGIN);
	assert_int_equal(F.nlogin, 2);
}

static void test_keepalive_register_again(void **state)
{
	struct sig *s = *state;
	uint8_t plain[2048], d[2048];
	struct cy_msg m;
	size_t n;

	do_register(s);
	advance(10000);
	sig_timeout(s);
	n = simple(key1, KEY_ID, CY_KEEPALIVE_ACK, CY_ERR_REREGISTER, d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(sig_info(s)->state, SIG_REGISTER);
	open_last(key1, KEY_ID, 3, &m, plain);
	assert_int_equal(m.type, CY_REG_REQ);
}

static void test_rekey(void **state)
{
	struct sig *s = *state;
	uint8_t plain[2048], d[2048];
	struct cy_msg m;
	size_t n;

	do_register(s);
	/* Keep the registration alive up to 80 % of the 3600 s lifetime. */
	for (int64_t t = 0; t < 2880000 - 10000; t += 10000) {
		advance(10000);
		sig_timeout(s);
		n = simple(key1, KEY_ID, CY_KEEPALIVE_ACK, CY_OK, d);
		sig_input(s, d, n, nms_addr());
	}
	assert_int_equal(F.nlogin, 1);
	advance(10000);
	sig_timeout(s);
	assert_int_equal(F.nlogin, 2);
	assert_int_equal(sig_info(s)->state, SIG_REGISTERED); /* still, on the old key */
	login_ok(s, KEY_ID + 1, key2, 3600);
	assert_int_equal(sig_info(s)->state, SIG_REGISTER);
	open_last(key2, KEY_ID + 1, 1, &m, plain);
	assert_int_equal(m.type, CY_REG_REQ);
	/* Answers under the old key are no longer taken. */
	n = reg_res(key1, KEY_ID, "100.64.0.1", d);
	sig_input(s, d, n, nms_addr());
	assert_int_equal(sig_info(s)->state, SIG_REGISTER);
	n = reg_res(key2, KEY_ID + 1, "100.64.0.1", d);
	sig_input(s, d, n, nms_addr());
	assert_int_equal(sig_info(s)->state, SIG_REGISTERED);
}

static void test_login_refused_and_failed(void **state)
{
	struct sig *s = *state;
	struct login_result r = { .status = LOGIN_REFUSED, .result = CY_ERR_REVOKED };
	int64_t backoff[] = { 1000, 2000, 4000, 5000, 5000 };

	strcpy(r.reason, "node alpha is revoked");
	sig_start(s);
	sig_login_done(s, &r);
	assert_int_equal(sig_info(s)->state, SIG_REVOKED);
	assert_true(sig_next_ms(s) == clock_now_ms() + SIG_REFUSED_RETRY_MS);
	advance(SIG_REFUSED_RETRY_MS - 1);
	sig_timeout(s);
	assert_int_equal(F.nlogin, 1);
	advance(1);
	sig_timeout(s);
	assert_int_equal(F.nlogin, 2);

	/* Cloud unreachable: 1 s doubling to 5 s. */
	r.status = LOGIN_FAILED;
	strcpy(r.reason, "connection refused");
	sig_login_done(s, &r); /* still revoked: stays on the 60 s rhythm */
	assert_true(sig_next_ms(s) == clock_now_ms() + SIG_REFUSED_RETRY_MS);
	advance(SIG_REFUSED_RETRY_MS);
	sig_timeout(s);
	assert_int_equal(F.nlogin, 3);
	login_ok(s, KEY_ID, key1, 3600); /* unrevoked, say */
	assert_int_equal(sig_info(s)->state, SIG_REGISTER);
	for (int i = 0; i < 6; i++) {
		advance(1000);
		sig_timeout(s);
	}
	assert_int_equal(sig_info(s)->state, SIG_LOGIN);
	assert_int_equal(F.nlogin, 4);
	for (size_t i = 0; i < sizeof(backoff) / sizeof(backoff[0]); i++) {
		int before = F.nlogin;

		sig_login_done(s, &r);
		assert_int_equal(sig_info(s)->state, SIG_LOGIN);
		assert_true(sig_next_ms(s) == clock_now_ms() + backoff[i]);
		advance(backoff[i]);
		sig_timeout(s);
		assert_int_equal(F.nlogin, before + 1);
	}
}

/* ms of fake time in steps of 1 s, the timers run after each step; with
 * a key, every keepalive is acked at once. */
static void run_for(struct sig *s, int64_t ms, const uint8_t *key, uint64_t key_id)
{
	uint8_t d[2048];
	size_t n;

	while (ms > 0) {
		int64_t step = ms < 1000 ? ms : 1000;

		advance(step);
		ms -= step;
		sig_timeout(s);
		if (key) {
			n = simple(key, key_id, CY_KEEPALIVE_ACK, CY_OK, d);
			assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
		}
	}
}

/* RESULT 10 (the AS throttles password logins, or its hashing pool is
 * full) means "try again later", nothing about the node: a key renewal
 * or a Reject-triggered login that meets it keeps the key, the
 * registration and the keepalives, and retries after the wait the AS
 * names ("retry in N s") or the backoff.  Other refusals still end it. */
static void test_login_busy_keeps_registration(void **state)
{
	struct sig *s = *state;
	const struct sig_info *in = sig_info(s);
	struct login_result busy = { .status = LOGIN_REFUSED, .result = CY_ERR_BUSY };
	struct login_result auth = { .status = LOGIN_REFUSED, .result = CY_ERR_AUTH };
	uint8_t d[2048], plain[2048];
	struct cy_msg m;
	size_t n;

	sig_start(s);
	login_ok(s, KEY_ID, key1, 100); /* renewed at 80 s */
	n = reg_res(key1, KEY_ID, "100.64.0.1", d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(in->state, SIG_REGISTERED);
	run_for(s, 79000, key1, KEY_ID);
	assert_int_equal(F.nlogin, 1);
	run_for(s, 1000, key1, KEY_ID);
	assert_int_equal(F.nlogin, 2); /* the renewal */

	/* Throttled: the wait the AS names. */
	strcpy(busy.reason, "too many failed logins: retry in 7 s");
	sig_login_done(s, &busy);
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_true(in->have_key);
	assert_true(in->key_id == KEY_ID);
	assert_true(in->have_vips);
	assert_int_equal(sig_stats(s)->login_busy, 1);
	run_for(s, 6999, key1, KEY_ID);
	assert_int_equal(F.nlogin, 2);
	assert_int_equal(in->state, SIG_REGISTERED);
	run_for(s, 1, key1, KEY_ID);
	assert_int_equal(F.nlogin, 3);
	/* The pool is full (no wait named): the backoff, 2 s by now. */
	strcpy(busy.reason, "too many password logins at once");
	sig_login_done(s, &busy);
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_true(in->key_id == KEY_ID);
	run_for(s, 1999, key1, KEY_ID);
	assert_int_equal(F.nlogin, 3);
	run_for(s, 1, key1, KEY_ID);
	assert_int_equal(F.nlogin, 4);
	/* Keepalives went on, on the old key. */
	run_for(s, 1000, NULL, 0);
	open_last(key1, KEY_ID, 0, &m, plain);
	assert_int_equal(m.type, CY_KEEPALIVE);
	assert_int_equal(in->state, SIG_REGISTERED);
	/* The AS answers at last: the new key registers. */
	login_ok(s, KEY_ID + 1, key2, 100);
	assert_int_equal(in->state, SIG_REGISTER);
	n = reg_res(key2, KEY_ID + 1, "100.64.0.1", d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_true(in->key_id == KEY_ID + 1);

	/* A Reject-triggered login that meets a busy AS: the same. */
	run_for(s, SIG_DUP_LOGIN_WINDOW_MS, key2, KEY_ID + 1);
	reject(KEY_ID + 1, d);
	assert_int_equal(sig_input(s, d, NMS_REJECT_LEN_TEST, nms_addr()), 0);
	assert_int_equal(F.nlogin, 5);
	strcpy(busy.reason, "too many failed logins: retry in 60 s");
	sig_login_done(s, &busy);
	assert_int_equal(sig_stats(s)->login_busy, 3);
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_true(in->have_key);
	assert_true(in->key_id == KEY_ID + 1);
	/* Neither another Reject nor time brings it forward. */
	reject(KEY_ID + 1, d);
	assert_int_equal(sig_input(s, d, NMS_REJECT_LEN_TEST, nms_addr()), 0);
	run_for(s, 59999, key2, KEY_ID + 1);
	assert_int_equal(F.nlogin, 5);
	assert_int_equal(in->state, SIG_REGISTERED);
	run_for(s, 1, key2, KEY_ID + 1);
	assert_int_equal(F.nlogin, 6);

	/* Authentication failed (2) is no "later": the key goes, as before. */
	strcpy(auth.reason, "authentication failed");
	sig_login_done(s, &auth);
	assert_int_equal(in->state, SIG_LOGIN);
	assert_false(in->have_key);
	assert_true(sig_next_ms(s) == clock_now_ms() + SIG_REFUSED_RETRY_MS);
}

/* Without a key yet (the first login), or revoked: the state stays, the
 * retry waits for the AS's "retry in N s" (bounded), else the backoff. */
static void test_login_busy_first_login(void **state)
{
	struct sig *s = *state;
	const struct sig_info *in = sig_info(s);
	struct login_result busy = { .status = LOGIN_REFUSED, .result = CY_ERR_BUSY };
	struct login_result revoked = { .status = LOGIN_REFUSED, .result = CY_ERR_REVOKED };
	static const struct {
		const char *reason;
		int64_t ms;
	} t[] = {
		{ "too many failed logins: retry in 3 s", 3000 },        /* backoff 1 s */
		{ "too many failed logins: retry in 99999999999999999999 s",
		  SIG_BUSY_WAIT_MAX_MS },                                /* bounded */
		{ "too many failed logins: retry in 2 min", 4000 },      /* not "N s": backoff */
		{ "too many password logins at once", 5000 },            /* backoff */
		{ "try again later", SIG_LOGIN_BACKOFF_MAX_MS },
	};

	sig_start(s);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int before = F.nlogin;

		strcpy(busy.reason, t[i].reason);
		sig_login_done(s, &busy);
		assert_int_equal(in->state, SIG_LOGIN);
		assert_false(in->have_key);
		assert_true(sig_next_ms(s) == clock_now_ms() + t[i].ms);
		advance(t[i].ms - 1);
		sig_timeout(s);
		assert_int_equal(F.nlogin, before);
		advance(1);
		sig_timeout(s);
		assert_int_equal(F.nlogin, before + 1);
	}
	/* Revoked, then busy: still revoked, retried no sooner than 60 s. */
	strcpy(revoked.reason, "node alpha is revoked");
	sig_login_done(s, &revoked);
	assert_int_equal(in->state, SIG_REVOKED);
	advance(SIG_REFUSED_RETRY_MS);
	sig_timeout(s);
	strcpy(busy.reason, "too many failed logins: retry in 90 s");
	sig_login_done(s, &busy);
	assert_int_equal(in->state, SIG_REVOKED);
	assert_true(sig_next_ms(s) == clock_now_ms() + 90000);
	strcpy(busy.reason, "too many password logins at once");
	advance(90000);
	sig_timeout(s);
	sig_login_done(s, &busy);
	assert_true(sig_next_ms(s) == clock_now_ms() + SIG_REFUSED_RETRY_MS);
	assert_int_equal(sig_stats(s)->login_busy, 7);
}

/* A Reject from the NMS, and how many of the lines logged meanwhile hold
 * needle (stderr captured around the call only). */
static int reject_logged(struct sig *s, uint64_t key_id, const char *needle)
{
	FILE *tmp = tmpfile();
	char line[1024];
	uint8_t d[16];
	int saved, count = 0;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	reject(key_id, d);
	sig_input(s, d, NMS_REJECT_LEN_TEST, nms_addr());
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	while (fgets(line, sizeof(line), tmp))
		if (strstr(line, needle))
			count++;
	fclose(tmp);
	return count;
}

/* Two running instances of one node (a redeployed node whose old copy is
 * still up): each login retires the other's key (the AS keeps one per
 * node), so each gets a Reject soon after its login.  Such a login is
 * delayed, 10 s doubling while it goes on, said once per episode; the
 * registration stays meanwhile, and nothing else (a Reject, the
 * registration given up) brings the login forward.  A key that lived past
 * the window ends the episode: the next Reject logs in at once. */
static void test_reject_soon_after_login_backs_off(void **state)
{
	static const char warn[] = "alpha.example.test: key retired again shortly after login: "
				   "is another instance of this node running?";
	struct sig *s = *state;
	const struct sig_info *in = sig_info(s);
	uint8_t d[2048];
	size_t n;
	int logged;

	register_two_nms(s);
	/* 5 s after the login: delayed 10 s, the warning logged. */
	advance(5000);
	logged = reject_logged(s, KEY_ID, warn);
	assert_int_equal(F.nlogin, 1);
	assert_int_equal(logged, 1);
	assert_int_equal(sig_stats(s)->login_dup_delayed, 1);
	assert_int_equal(sig_stats(s)->rx_reject_ignored, 0);
	assert_int_equal(in->state, SIG_REGISTERED);
	assert_true(in->have_key);
	assert_true(in->key_id == KEY_ID);
	/* More Rejects meanwhile: nothing sooner, no second warning. */
	run_for(s, 5000, NULL, 0);
	assert_int_equal(reject_logged(s, KEY_ID, "another instance"), 0);
	run_for(s, 4999, NULL, 0);
	assert_int_equal(F.nlogin, 1);
	run_for(s, 1, NULL, 0);
	assert_int_equal(F.nlogin, 2);
	assert_int_equal(in->state, SIG_REGISTERED);

	/* The delayed login's key is rejected soon again: 20 s, silently. */
	login_ok(s, KEY_ID + 1, key2, 3600);
	n = reg_res(key2, KEY_ID + 1, "100.64.0.1", d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	assert_int_equal(in->state, SIG_REGISTERED);
	advance(5000);
	assert_int_equal(reject_logged(s, KEY_ID + 1, "another instance"), 0);
	assert_int_equal(sig_stats(s)->login_dup_delayed, 2);
	run_for(s, 19999, NULL, 0);
	assert_int_equal(F.nlogin, 2);
	run_for(s, 1, NULL, 0);
	assert_int_equal(F.nlogin, 3);

	/* And again, while still registering: 40 s.  The registration gives
	 * up meanwhile (no answer under the retired key), which does not
	 * bring the login forward; the key stays. */
	login_ok(s, KEY_ID + 2, key1, 3600);
	assert_int_equal(in->state, SIG_REGISTER);
	advance(1000);
	assert_int_equal(reject_logged(s, KEY_ID + 2, "another instance"), 0);
	run_for(s, 39999, NULL, 0);
	assert_int_equal(in->state, SIG_LOGIN);
	assert_true(in->have_key);
	assert_int_equal(F.nlogin, 3);
	run_for(s, 1, NULL, 0);
	assert_int_equal(F.nlogin, 4);
	assert_int_equal(sig_stats(s)->login_dup_delayed, 3);

	/* The other instance is gone: this key lives past the window; the
	 * next Reject (the NMS lost it) logs in at once, the episode over. */
	login_ok(s, KEY_ID + 3, key2, 3600);
	n = reg_res(key2, KEY_ID + 3, "100.64.0.1", d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	run_for(s, SIG_DUP_LOGIN_WINDOW_MS, key2, KEY_ID + 3);
	assert_int_equal(reject_logged(s, KEY_ID + 3, "another instance"), 0);
	assert_int_equal(F.nlogin, 5);
	assert_int_equal(sig_stats(s)->login_dup_delayed, 3);
	/* A new episode starts from 10 s, and says so again. */
	login_ok(s, KEY_ID + 4, key1, 3600);
	n = reg_res(key1, KEY_ID + 4, "100.64.0.1", d);
	assert_int_equal(sig_input(s, d, n, nms_addr()), 0);
	advance(SIG_DUP_LOGIN_WINDOW_MS - 1);
	assert_int_equal(reject_logged(s, KEY_ID + 4, warn), 1);
	assert_int_equal(sig_stats(s)->login_dup_delayed, 4);
	assert_true(sig_next_ms(s) <= clock_now_ms() + SIG_DUP_BACKOFF_MIN_MS);
	run_for(s, SIG_DUP_BACKOFF_MIN_MS - 1, NULL, 0);
	assert_int_equal(F.nlogin, 5);
	run_for(s, 1, NULL, 0);
	assert_int_equal(F.nlogin, 6);
}

static void test_key_expiry(void **state)
{
	struct sig *s = *state;

	sig_start(s);
	login_ok(s, KEY_ID, key1, 10);
	/* Never registered; at 5 s registration gives up and logs in again,
	 * that login never answers, and the key then expires. */
	for (int i = 0; i < 5; i++) {
		advance(1000);
		sig_timeout(s);
	}
	assert_int_equal(sig_info(s)->state, SIG_LOGIN);
	assert_int_equal(F.nlogin, 2);
	advance(5000);
	sig_timeout(s);
	assert_false(sig_info(s)->have_key);
	assert_int_equal(F.nlogin, 2); /* the login in flight is not doubled */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registration_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registration_prove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registration_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_before_registration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_and_tamper_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nms_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nms_reject_from_foreign_address_ignored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_nms_reject_from_nms_relogin_keeps_registration,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_miss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_register_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_refused_and_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_busy_keeps_registration, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_login_busy_first_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_soon_after_login_backs_off, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
