/* The AS protocol handler, driven directly over bytes with a temporary
 * SQLite store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"
#include "as.h"
#include "as_limit.h"
#include "clock.h"
#include "cloud_fixture.h"
#include "store.h"
#include "wire.h"

#define NOW 1700000000
#define LIFETIME 3600

struct fx {
	struct cloud_fixture cf;
	struct as *as;
	int64_t alpha_id;
};

/* alpha (certificate 0A1B2C3D), beta (password) and gamma (revoked). */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct as_conf ac = { .key_lifetime = LIFETIME, .nnms = 2 };
	socklen_t len;

	assert_non_null(f);
	clock_set_fake(NOW, 1000);
	cloud_fixture_open(&f->cf, "test-as");
	f->alpha_id = FIXTURE_NODE(&f->cf, .name = "alpha", .serial = "0A1B2C3D");
	FIXTURE_NODE(&f->cf, .name = "beta", .password = "correct horse");
	FIXTURE_NODE(&f->cf, .name = "gamma", .serial = "77", .password = "battery staple");
	assert_int_equal(store_node_revoke(f->cf.st, "gamma", "lost laptop"), 0);
	assert_int_equal(addr_parse("192.0.2.1:7444", 7444, &ac.nms[0], &len), 0);
	assert_int_equal(addr_parse("[2001:db8::1]:7444", 7444, &ac.nms[1], &len), 0);
	f->as = as_new(f->cf.st, &ac);
	assert_non_null(f->as);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	as_free(f->as);
	cloud_fixture_close(&f->cf);
	free(f);
	clock_set_fake(0, 0);
	return 0;
}

static size_t login_req(uint8_t *buf, size_t cap, const char *name, const char *password)
{
	struct cy_builder b;
	ssize_t n;

	cy_build_start(&b, buf, cap, CY_LOGIN_REQ);
	if (name)
		cy_put_str(&b, CY_A_NAME, name);
	if (password)
		cy_put_str(&b, CY_A_PASSWORD, password);
	n = cy_build_finish(&b);
	assert_true(n > 0);
	return (size_t)n;
}

/* Run one request; parse the response into *m; return its RESULT. */
static const char *login_src = "198.51.100.7";   /* where login() comes from */

static int login(struct fx *f, const char *serial, const uint8_t *req, size_t len,
		 struct cy_msg *m, uint8_t *resp, size_t cap)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(40000) };
	struct as_peer peer = { .cert_serial = serial, .addr = (struct sockaddr *)&sin };
	ssize_t n;
	uint8_t r;

	inet_pton(AF_INET, login_src, &sin.sin_addr);
	n = as_handle(f->as, &peer, req, len, resp, cap);
	if (n < 0)
		return (int)n;
	assert_int_equal(cy_msg_parse(m, resp, (size_t)n), 0);
	assert_int_equal(m->type, CY_LOGIN_RES);
	assert_true(cy_msg_u8(m, CY_A_RESULT, &r));
	return r;
}

static void check_success(struct fx *f, struct cy_msg *m, const char *name)
{
	char s[CY_FQDN_MAX + 1], fqdn[CY_FQDN_MAX + 1];
	struct sockaddr_storage ss;
	struct store_key k;
	const struct cy_attr *a;
	struct store_node n;
	uint8_t key[CY_KEY_LEN], kind;
	uint64_t key_id;
	uint32_t life;
	size_t pos = 0, nnms = 0;
	socklen_t len;

	assert_true(cy_msg_str(m, CY_A_NAME, s, CY_NAME_MAX));
	assert_string_equal(s, name);
	snprintf(fqdn, sizeof(fqdn), "%s.example.test", name);
	assert_true(cy_msg_str(m, CY_A_FQDN, s, CY_FQDN_MAX));
	assert_string_equal(s, fqdn);
	assert_true(cy_msg_u8(m, CY_A_KIND, &kind));
	assert_int_equal(kind, CY_KIND_NODE);
	assert_true(cy_msg_u64(m, CY_A_KEY_ID, &key_id));
	assert_true(key_id != 0);
	assert_true(cy_msg_bytes(m, CY_A_KEY, key, sizeof(key)));
	assert_true(cy_msg_u32(m, CY_A_LIFETIME, &life));
	assert_int_equal(life, LIFETIME);
	while ((a = cy_msg_next(m, CY_A_NMS, &pos))) {
		assert_true(cy_attr_endpoint(a, &ss, &len));
		nnms++;
	}
	assert_int_equal(nnms, 2);
	assert_null(cy_msg_find(m, CY_A_REASON));

	/* The key is in the store, for this node, with its expiry. */
	assert_int_equal(store_key_get(f->cf.st, key_id, &k), 0);
	assert_memory_equal(k.key, key, sizeof(key));
	assert_int_equal(store_node_by_name(f->cf.st, name, &n), 0);
	assert_int_equal(k.node_id, n.id);
	assert_int_equal(k.expires, NOW + LIFETIME);
}

static void test_cert_login(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	struct cy_msg m;
	size_t len;

	len = login_req(req, sizeof(req), NULL, NULL);
	assert_int_equal(login(f, "0A1B2C3D", req, len, &m, resp, sizeof(resp)), CY_OK);
	check_success(f, &m, "alpha");
	/* NAME may come along and must match; serial case does not matter. */
	len = login_req(req, sizeof(req), "alpha", NULL);
	assert_int_equal(login(f, "0a1b2c3d", req, len, &m, resp, sizeof(resp)), CY_OK);
	check_success(f, &m, "alpha");
	assert_int_equal(as_stats(f->as)->login_ok, 2);
}

static void test_cert_login_refused(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	struct cy_msg m;
	size_t len;

	/* A certificate of alpha claiming to be beta. */
	len = login_req(req, sizeof(req), "beta", NULL);
	assert_int_equal(login(f, "0A1B2C3D", req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	assert_non_null(cy_msg_find(&m, CY_A_REASON));
	assert_null(cy_msg_find(&m, CY_A_KEY));
	/* Unknown serial (a certificate the store does not hold). */
	len = login_req(req, sizeof(req), NULL, NULL);
	assert_int_equal(login(f, "DEADBEEF", req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	assert_null(cy_msg_find(&m, CY_A_KEY));
	assert_int_equal(as_stats(f->as)->login_refused, 2);
	assert_int_equal(as_stats(f->as)->login_ok, 0);
}

static void test_password_login(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	struct cy_msg m;
	size_t len;

	len = login_req(req, sizeof(req), "beta", "correct horse");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_OK);
	check_success(f, &m, "beta");
	assert_int_equal(as_stats(f->as)->login_ok, 1);
}

static void test_password_refused(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	struct cy_msg m;
	size_t len;

	len = login_req(req, sizeof(req), "beta", "wrong horse");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	assert_null(cy_msg_find(&m, CY_A_KEY));
	/* alpha has no password hash: password login is off for it. */
	len = login_req(req, sizeof(req), "alpha", "anything");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	/* Unknown name. */
	len = login_req(req, sizeof(req), "nobody", "correct horse");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	/* No certificate and no password. */
	len = login_req(req, sizeof(req), "beta", NULL);
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	assert_int_equal(as_stats(f->as)->login_refused, 4);
	assert_int_equal(as_stats(f->as)->login_ok, 0);
}

/* After AS_LIMIT_FREE failures a name backs off: the next try is refused
 * with RESULT 10 before any hashing, even with the right password and
 * from another source; the backoff doubles and ends, and a success clears
 * it. */
static void test_password_backoff_per_name(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	struct cy_msg m;
	size_t len;

	len = login_req(req, sizeof(req), "beta", "wrong horse");
	for (int i = 0; i < AS_LIMIT_FREE; i++)
		assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	len = login_req(req, sizeof(req), "beta", "correct horse");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_BUSY);
	assert_int_equal(as_stats(f->as)->throttled, 1);
	assert_int_equal(as_stats(f->as)->login_refused, AS_LIMIT_FREE + 1);
	clock_set_fake(NOW + 1, 1000 + 1000);
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_OK);
	/* the name is cleared: from a fresh source, wrong is plain AUTH */
	login_src = "198.51.100.8";
	len = login_req(req, sizeof(req), "beta", "wrong horse");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	login_src = "198.51.100.7";
}

/* A guesser elsewhere cannot lock a node out: the source that logged the
 * name in lately is not held back by the name's failures; everyone else
 * is. */
static void test_password_guessing_does_not_lock_out(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	struct cy_msg m;
	size_t len;

	len = login_req(req, sizeof(req), "beta", "correct horse");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_OK);
	/* guesses for beta from many addresses, a few each */
	len = login_req(req, sizeof(req), "beta", "wrong horse");
	login_src = "203.0.113.1";
	for (int i = 0; i < 3; i++)
		assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	login_src = "203.0.113.2";
	for (int i = 0; i < 3; i++)
		assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	/* the name backs off for strangers... */
	login_src = "203.0.113.3";
	len = login_req(req, sizeof(req), "beta", "correct horse");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_BUSY);
	/* ...not for the node's own source */
	login_src = "198.51.100.7";
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_OK);
}

static void test_limit_table(void **state)
{
	struct as_limit *l = as_limit_new();
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 }, b = a;
	char ka[AS_LIMIT_KEY_MAX], kb[AS_LIMIT_KEY_MAX], k[AS_LIMIT_KEY_MAX];
	int64_t t = 1000000;
	int w;

	assert_non_null(l);
	/* one /56 is one source */
	inet_pton(AF_INET6, "2001:db8:1:200::1", &a.sin6_addr);
	inet_pton(AF_INET6, "2001:db8:1:2ff:bbbb::2", &b.sin6_addr);
	as_limit_key_addr((struct sockaddr *)&a, ka);
	as_limit_key_addr((struct sockaddr *)&b, kb);
	assert_string_equal(ka, kb);
	inet_pton(AF_INET6, "2001:db8:1:300::1", &b.sin6_addr);
	as_limit_key_addr((struct sockaddr *)&b, kb);
	assert_string_not_equal(ka, kb);
	/* an IPv4-mapped peer of a dual-stack socket is its IPv4 address,
	 * not ::ffff:0:0/56, which every IPv4 client would share */
	{
		struct sockaddr_in v4 = { .sin_family = AF_INET };
		char km[AS_LIMIT_KEY_MAX], k4[AS_LIMIT_KEY_MAX];

		inet_pton(AF_INET6, "::ffff:192.0.2.7", &b.sin6_addr);
		inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr);
		as_limit_key_addr((struct sockaddr *)&b, km);
		as_limit_key_addr((struct sockaddr *)&v4, k4);
		assert_string_equal(km, k4);
		inet_pton(AF_INET6, "::ffff:192.0.2.8", &b.sin6_addr);
		as_limit_key_addr((struct sockaddr *)&b, km);
		assert_string_not_equal(km, k4);
	}
	for (int i = 0; i < AS_LIMIT_FREE; i++)
		as_limit_failed(l, ka, t);
	assert_int_equal(as_limit_wait(l, ka, t), 0);
	as_limit_failed(l, ka, t);
	assert_int_equal(as_limit_wait(l, ka, t), 1);
	as_limit_failed(l, ka, t);
	assert_int_equal(as_limit_wait(l, ka, t), 2);
	for (int i = 0; i < 20; i++)
		as_limit_failed(l, ka, t);
	assert_int_equal(as_limit_wait(l, ka, t), AS_LIMIT_MAX_BACKOFF_S);
	assert_int_equal(as_limit_wait(l, ka, t + AS_LIMIT_MAX_BACKOFF_S * 1000), 0);
	/* forgotten after a quiet while */
	assert_int_equal(as_limit_wait(l, ka, t + AS_LIMIT_FORGET_S * 1000 + 1), 0);
	as_limit_failed(l, ka, t + AS_LIMIT_FORGET_S * 1000 + 2);
	assert_int_equal(as_limit_wait(l, ka, t + AS_LIMIT_FORGET_S * 1000 + 2), 0);
	/* a flood of fresh keys evicts the idle, never one backing off */
	t += AS_LIMIT_FORGET_S * 1000 + 10;
	for (int i = 0; i < AS_LIMIT_FREE + 1; i++)
		as_limit_failed(l, ka, t);
	w = as_limit_wait(l, ka, t);
	assert_true(w > 0);
	for (int i = 0; i < 3 * AS_LIMIT_SLOTS; i++) {
		snprintf(k, sizeof(k), "n:guess%d", i);
		as_limit_failed(l, k, t);
	}
	assert_int_equal(as_limit_wait(l, ka, t), w);
	/* marks */
	as_limit_mark(l, "a:192.0.2.1|n:beta", t);
	assert_true(as_limit_marked(l, "a:192.0.2.1|n:beta", t + 5000, 10000));
	assert_false(as_limit_marked(l, "a:192.0.2.1|n:beta", t + 20000, 10000));
	assert_false(as_limit_marked(l, "a:192.0.2.2|n:beta", t, 10000));
	as_limit_free(l);
}

/* The guard of password logins: a name's failures do not lock out a
 * source that logged it in; a success keeps the source's own failures. */
static void test_login_guard(void **state)
{
	struct login_guard *g = login_guard_new();
	struct sockaddr_in good = { .sin_family = AF_INET }, bad = good;
	int64_t t = 5000000;

	assert_non_null(g);
	inet_pton(AF_INET, "192.0.2.10", &good.sin_addr);
	inet_pton(AF_INET, "198.51.100.66", &bad.sin_addr);
	login_guard_result(g, (struct sockaddr *)&good, "root", true, t);
	for (int i = 0; i < AS_LIMIT_FREE + 3; i++)
		login_guard_result(g, (struct sockaddr *)&bad, "root", false, t);
	assert_true(login_guard_wait(g, (struct sockaddr *)&bad, "root", t) > 0);
	assert_true(login_guard_wait(g, (struct sockaddr *)&bad, "other", t) > 0);
	/* the source that logged root in is not held back by root's failures */
	assert_int_equal(login_guard_wait(g, (struct sockaddr *)&good, "root", t), 0);
	/* but a fresh source is: the name backs off */
	good.sin_addr.s_addr ^= htonl(1);
	assert_true(login_guard_wait(g, (struct sockaddr *)&good, "root", t) > 0);
	/* a success from the guesser's source keeps its failures */
	login_guard_result(g, (struct sockaddr *)&bad, "mine", true, t);
	assert_true(login_guard_wait(g, (struct sockaddr *)&bad, "other", t) > 0);
	login_guard_free(g);
}

/* The check runs off the loop: a password changed meanwhile is not
 * accepted on the strength of the old hash. */
static void test_password_check_split(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(40000) };
	struct as_peer peer = { .addr = (struct sockaddr *)&sin };
	uint8_t req[256], resp[1024];
	struct as_check *chk;
	struct store_node n;
	struct cy_msg m;
	uint8_t r;
	size_t len;
	ssize_t got;

	inet_pton(AF_INET, "198.51.100.7", &sin.sin_addr);
	len = login_req(req, sizeof(req), "beta", "correct horse");
	assert_int_equal(as_start(f->as, &peer, req, len, resp, sizeof(resp), &chk), AS_PENDING);
	assert_non_null(chk);
	as_check_run(chk);
	assert_int_equal(store_node_by_name(f->cf.st, "beta", &n), 0);
	assert_int_equal(store_node_set_pwhash(f->cf.st, n.id, "$scrypt$changed"), 0);
	got = as_check_finish(f->as, chk, resp, sizeof(resp));
	assert_true(got > 0);
	assert_int_equal(cy_msg_parse(&m, resp, (size_t)got), 0);
	assert_true(cy_msg_u8(&m, CY_A_RESULT, &r));
	assert_int_equal(r, CY_ERR_AUTH);
	/* a check dropped unanswered (its connection went away) */
	assert_int_equal(as_start(f->as, &peer, req, len, resp, sizeof(resp), &chk), AS_PENDING);
	as_check_free(chk);
}

/* A login retires the node's older common key: one live key per node. */
static void test_login_retires_older_key(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	struct store_key k;
	struct cy_msg m;
	uint64_t first, second;
	size_t len;

	len = login_req(req, sizeof(req), "beta", "correct horse");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_OK);
	assert_true(cy_msg_u64(&m, CY_A_KEY_ID, &first));
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_OK);
	assert_true(cy_msg_u64(&m, CY_A_KEY_ID, &second));
	assert_int_not_equal(first, second);
	assert_int_equal(store_key_get(f->cf.st, first, &k), -ENOENT);
	assert_int_equal(store_key_get(f->cf.st, second, &k), 0);
}

static void test_revoked(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	char reason[CY_REASON_MAX + 1];
	struct cy_msg m;
	size_t len;

	len = login_req(req, sizeof(req), NULL, NULL);
	assert_int_equal(login(f, "77", req, len, &m, resp, sizeof(resp)), CY_ERR_REVOKED);
	assert_true(cy_msg_str(&m, CY_A_REASON, reason, CY_REASON_MAX));
	assert_string_equal(reason, "lost laptop");
	assert_null(cy_msg_find(&m, CY_A_KEY));
	len = login_req(req, sizeof(req), "gamma", "battery staple");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_REVOKED);
	/* The wrong password of a revoked node is an authentication failure:
	 * the reason is told only to the node itself. */
	len = login_req(req, sizeof(req), "gamma", "guess");
	assert_int_equal(login(f, NULL, req, len, &m, resp, sizeof(resp)), CY_ERR_AUTH);
	assert_int_equal(as_stats(f->as)->revoked, 2);
	assert_int_equal(as_stats(f->as)->login_ok, 0);
}

static void test_malformed(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	struct cy_msg m;
	size_t len;
	uint64_t before;

	/* Attribute running past the end of the message. */
	const uint8_t trunc_attr[] = { 1, CY_LOGIN_REQ, 0, 6, 0, CY_A_NAME, 0, 9, 'a', 'b' };
	assert_int_equal(login(f, NULL, trunc_attr, sizeof(trunc_attr), &m, resp, sizeof(resp)),
			 CY_ERR_MALFORMED);
	/* Duplicated NAME. */
	const uint8_t dup[] = { 1, CY_LOGIN_REQ, 0, 10, 0, CY_A_NAME, 0, 1, 'a',
				0, CY_A_NAME, 0, 1, 'b' };
	assert_int_equal(login(f, NULL, dup, sizeof(dup), &m, resp, sizeof(resp)),
			 CY_ERR_MALFORMED);
	/* NAME with a control character. */
	const uint8_t ctl[] = { 1, CY_LOGIN_REQ, 0, 6, 0, CY_A_NAME, 0, 2, 'a', '\n' };
	assert_int_equal(login(f, "0A1B2C3D", ctl, sizeof(ctl), &m, resp, sizeof(resp)),
			 CY_ERR_MALFORMED);
	/* Not a Login Request. */
	const uint8_t other[] = { 1, CY_REG_REQ, 0, 0 };
	assert_int_equal(login(f, NULL, other, sizeof(other), &m, resp, sizeof(resp)),
			 CY_ERR_MALFORMED);
	assert_int_equal(as_stats(f->as)->malformed, 4);

	/* Framing errors close the connection: no answer at all. */
	const uint8_t badver[] = { 2, CY_LOGIN_REQ, 0, 0 };
	assert_int_equal(login(f, NULL, badver, sizeof(badver), &m, resp, sizeof(resp)),
			 -EBADMSG);
	assert_int_equal(login(f, NULL, badver, 3, &m, resp, sizeof(resp)), -EBADMSG);
	/* Every truncation of a good request. */
	len = login_req(req, sizeof(req), "beta", "correct horse");
	before = as_stats(f->as)->malformed;
	for (size_t i = 0; i < len; i++)
		assert_true(login(f, NULL, req, i, &m, resp, sizeof(resp)) == -EBADMSG);
	assert_int_equal(as_stats(f->as)->malformed, before + len);
	assert_int_equal(as_stats(f->as)->login_ok, 0);
	assert_int_equal(as_stats(f->as)->login_refused, 0);
}

static void test_oversized(void **state)
{
	struct fx *f = *state;
	uint8_t *big = calloc(1, CY_HDR_LEN + AS_MSG_MAX + 1), resp[1024];
	struct cy_msg m;
	uint8_t hdr[CY_HDR_LEN] = { 1, CY_LOGIN_REQ, 0, 0 };

	assert_non_null(big);
	big[0] = 1;
	big[1] = CY_LOGIN_REQ;
	put_be16(big + 2, AS_MSG_MAX + 1);
	assert_int_equal(login(f, NULL, big, CY_HDR_LEN + AS_MSG_MAX + 1, &m, resp,
			       sizeof(resp)), -EMSGSIZE);
	/* The header alone tells the server to close before reading more. */
	put_be16(hdr + 2, 0xffff);
	assert_int_equal(as_frame_len(f->as, hdr), -EMSGSIZE);
	put_be16(hdr + 2, AS_MSG_MAX);
	assert_int_equal(as_frame_len(f->as, hdr), CY_HDR_LEN + AS_MSG_MAX);
	assert_int_equal(as_stats(f->as)->oversized, 2);
	free(big);
}

static void test_small_response_buffer(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[40];
	struct as_peer peer = { .cert_serial = "0A1B2C3D" };
	size_t len;

	/* A response that does not fit is not sent half-written. */
	len = login_req(req, sizeof(req), NULL, NULL);
	assert_int_equal(as_handle(f->as, &peer, req, len, resp, sizeof(resp)), -ENOBUFS);
	for (size_t i = 0; i < sizeof(resp); i++)
		assert_int_equal(resp[i], 0);
}

/* ---- adapters and general nodes ---- */

/* ad1 (cert AD01 or password) with GNs cam, lamp and old (revoked);
 * ad2 (cert AD02) with GN door. */
static int setup_adapters(void **state)
{
	struct fx *f;
	int64_t ad1, ad2;

	setup(state);
	f = *state;
	ad1 = FIXTURE_NODE(&f->cf, .name = "ad1", .kind = CY_KIND_ADAPTER, .serial = "AD01",
			   .password = "adapter pass");
	ad2 = FIXTURE_NODE(&f->cf, .name = "ad2", .kind = CY_KIND_ADAPTER, .serial = "AD02");
	FIXTURE_NODE(&f->cf, .name = "cam", .kind = CY_KIND_GN, .adapter_id = ad1, .mac_id = 1);
	FIXTURE_NODE(&f->cf, .name = "lamp", .kind = CY_KIND_GN, .adapter_id = ad1, .mac_id = 2);
	FIXTURE_NODE(&f->cf, .name = "old", .kind = CY_KIND_GN, .adapter_id = ad1, .mac_id = 3);
	FIXTURE_NODE(&f->cf, .name = "door", .kind = CY_KIND_GN, .adapter_id = ad2, .mac_id = 4);
	assert_int_equal(store_node_revoke(f->cf.st, "old", "stolen"), 0);
	return 0;
}

static size_t req_for(uint8_t *buf, size_t cap, uint8_t type, const char *name,
		      const char *password, const char *gn)
{
	struct cy_builder b;
	ssize_t n;

	cy_build_start(&b, buf, cap, type);
	if (name)
		cy_put_str(&b, CY_A_NAME, name);
	if (password)
		cy_put_str(&b, CY_A_PASSWORD, password);
	if (gn)
		cy_put_str(&b, CY_A_FOR, gn);
	n = cy_build_finish(&b);
	assert_true(n > 0);
	return (size_t)n;
}

/* Run one request expecting a response of type rtype; its RESULT. */
static int run(struct fx *f, const char *serial, const uint8_t *req, size_t len,
	       uint8_t rtype, struct cy_msg *m, uint8_t *resp, size_t cap)
{
	struct as_peer peer = { .cert_serial = serial };
	ssize_t n;
	uint8_t r;

	n = as_handle(f->as, &peer, req, len, resp, cap);
	if (n < 0)
		return (int)n;
	assert_int_equal(cy_msg_parse(m, resp, (size_t)n), 0);
	assert_int_equal(m->type, rtype);
	assert_true(cy_msg_u8(m, CY_A_RESULT, &r));
	return r;
}

static void check_gn_login(struct fx *f, struct cy_msg *m, const char *gn)
{
	char s[CY_FQDN_MAX + 1], fqdn[CY_FQDN_MAX + 1];
	struct store_node n;
	struct store_key k;
	uint8_t key[CY_KEY_LEN], kind;
	uint64_t key_id;
	uint32_t life;

	assert_true(cy_msg_str(m, CY_A_NAME, s, CY_NAME_MAX));
	assert_string_equal(s, gn);
	snprintf(fqdn, sizeof(fqdn), "%s.example.test", gn);
	assert_true(cy_msg_str(m, CY_A_FQDN, s, CY_FQDN_MAX));
	assert_string_equal(s, fqdn);
	assert_true(cy_msg_u8(m, CY_A_KIND, &kind));
	assert_int_equal(kind, CY_KIND_GN);
	assert_true(cy_msg_u32(m, CY_A_LIFETIME, &life));
	assert_int_equal(life, LIFETIME);
	assert_non_null(cy_msg_find(m, CY_A_NMS));
	assert_true(cy_msg_u64(m, CY_A_KEY_ID, &key_id));
	assert_true(cy_msg_bytes(m, CY_A_KEY, key, sizeof(key)));
	/* The key belongs to the general node, not to the adapter. */
	assert_int_equal(store_key_get(f->cf.st, key_id, &k), 0);
	assert_memory_equal(k.key, key, sizeof(key));
	assert_int_equal(store_node_by_name(f->cf.st, gn, &n), 0);
	assert_int_equal(k.node_id, n.id);
}

static void test_for_login(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	struct cy_msg m;
	size_t len;

	len = req_for(req, sizeof(req), CY_LOGIN_REQ, NULL, NULL, "cam");
	assert_int_equal(run(f, "AD01", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)), CY_OK);
	check_gn_login(f, &m, "cam");
	/* NAME is the adapter's when it comes along. */
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, "ad1", NULL, "lamp");
	assert_int_equal(run(f, "ad01", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)), CY_OK);
	check_gn_login(f, &m, "lamp");
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, "cam", NULL, "lamp");
	assert_int_equal(run(f, "AD01", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_AUTH);
	assert_int_equal(as_stats(f->as)->for_ok, 2);
	assert_int_equal(as_stats(f->as)->login_ok, 2);
	assert_int_equal(as_stats(f->as)->login_refused, 1);
}

static void test_for_password(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	struct cy_msg m;
	size_t len;

	len = req_for(req, sizeof(req), CY_LOGIN_REQ, "ad1", "adapter pass", "cam");
	assert_int_equal(run(f, NULL, req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)), CY_OK);
	check_gn_login(f, &m, "cam");
	/* A wrong password is an authentication failure, whatever FOR says. */
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, "ad1", "guess", "cam");
	assert_int_equal(run(f, NULL, req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_AUTH);
	assert_null(cy_msg_find(&m, CY_A_KEY));
	/* A general node has no credentials of its own. */
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, "cam", "adapter pass", NULL);
	assert_int_equal(run(f, NULL, req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_AUTH);
	assert_int_equal(as_stats(f->as)->for_ok, 1);
	assert_int_equal(as_stats(f->as)->login_refused, 2);
}

static void test_for_refused(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	char reason[CY_REASON_MAX + 1];
	struct cy_msg m;
	size_t len;

	/* A plain node cannot log in anyone else. */
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, NULL, NULL, "cam");
	assert_int_equal(run(f, "0A1B2C3D", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_POLICY);
	assert_true(cy_msg_str(&m, CY_A_REASON, reason, CY_REASON_MAX));
	assert_null(cy_msg_find(&m, CY_A_KEY));
	/* Another adapter's general node. */
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, NULL, NULL, "door");
	assert_int_equal(run(f, "AD01", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_POLICY);
	assert_null(cy_msg_find(&m, CY_A_KEY));
	/* Not general nodes at all: a node, another adapter, itself. */
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, NULL, NULL, "alpha");
	assert_int_equal(run(f, "AD01", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_POLICY);
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, NULL, NULL, "ad2");
	assert_int_equal(run(f, "AD01", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_POLICY);
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, NULL, NULL, "ad1");
	assert_int_equal(run(f, "AD01", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_POLICY);
	/* Unknown general node. */
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, NULL, NULL, "nobody");
	assert_int_equal(run(f, "AD01", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_UNKNOWN);
	assert_null(cy_msg_find(&m, CY_A_KEY));
	assert_int_equal(as_stats(f->as)->for_refused, 6);
	assert_int_equal(as_stats(f->as)->login_ok, 0);
	assert_int_equal(as_stats(f->as)->for_ok, 0);
}

static void test_for_revoked(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], resp[1024];
	char reason[CY_REASON_MAX + 1];
	struct cy_msg m;
	size_t len;

	/* A revoked general node: RESULT 3 with its reason. */
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, NULL, NULL, "old");
	assert_int_equal(run(f, "AD01", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_REVOKED);
	assert_true(cy_msg_str(&m, CY_A_REASON, reason, CY_REASON_MAX));
	assert_string_equal(reason, "stolen");
	assert_null(cy_msg_find(&m, CY_A_KEY));
	/* A revoked adapter logs in none of its general nodes. */
	assert_int_equal(store_node_revoke(f->cf.st, "ad1", "decommissioned"), 0);
	len = req_for(req, sizeof(req), CY_LOGIN_REQ, NULL, NULL, "cam");
	assert_int_equal(run(f, "AD01", req, len, CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_REVOKED);
	assert_true(cy_msg_str(&m, CY_A_REASON, reason, CY_REASON_MAX));
	assert_string_equal(reason, "decommissioned");
	assert_null(cy_msg_find(&m, CY_A_KEY));
	assert_int_equal(as_stats(f->as)->revoked, 2);
	assert_int_equal(as_stats(f->as)->login_ok, 0);
}

static void test_for_malformed(void **state)
{
	struct fx *f = *state;
	uint8_t resp[1024];
	struct cy_msg m;

	/* FOR with a control character, empty FOR, FOR longer than a label. */
	const uint8_t ctl[] = { 1, CY_LOGIN_REQ, 0, 6, 0, CY_A_FOR, 0, 2, 'a', '\n' };
	const uint8_t empty[] = { 1, CY_LOGIN_REQ, 0, 4, 0, CY_A_FOR, 0, 0 };
	uint8_t lng[CY_HDR_LEN + CY_ATTR_HDR_LEN + CY_NAME_MAX + 1];

	memset(lng, 'a', sizeof(lng));
	lng[0] = 1;
	lng[1] = CY_LOGIN_REQ;
	put_be16(lng + 2, CY_ATTR_HDR_LEN + CY_NAME_MAX + 1);
	put_be16(lng + 4, CY_A_FOR);
	put_be16(lng + 6, CY_NAME_MAX + 1);
	assert_int_equal(run(f, "AD01", ctl, sizeof(ctl), CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_MALFORMED);
	assert_int_equal(run(f, "AD01", empty, sizeof(empty), CY_LOGIN_RES, &m, resp,
			     sizeof(resp)), CY_ERR_MALFORMED);
	assert_int_equal(run(f, "AD01", lng, sizeof(lng), CY_LOGIN_RES, &m, resp, sizeof(resp)),
			 CY_ERR_MALFORMED);
	assert_int_equal(as_stats(f->as)->malformed, 3);
	assert_int_equal(as_stats(f->as)->login_ok, 0);
}

struct gn_seen {
	char name[CY_NAME_MAX + 1];
	char fqdn[CY_FQDN_MAX + 1];
	uint8_t mac[6], vip4[4], vip6[16];
};

/* Walk an Information Response (it may hold more attributes than
 * cy_msg_parse takes); returns RESULT, fills up to cap entries. */
static int info_walk(const uint8_t *buf, size_t len, struct gn_seen *out, size_t cap,
		     size_t *n)
{
	struct cur c = cur_make(buf, len);
	uint8_t ver, type, result = 0xff;
	uint16_t blen;

	*n = 0;
	assert_true(cur_get_u8(&c, &ver) && cur_get_u8(&c, &type) && cur_get_u16(&c, &blen));
	assert_int_equal(type, CY_INFO_RES);
	assert_int_equal(blen, cur_left(&c));
	while (!cur_empty(&c)) {
		struct cy_attr a;
		struct cy_msg sub;

		assert_true(cur_get_u16(&c, &a.type) && cur_get_u16(&c, &a.len) &&
			    cur_get_ptr(&c, &a.val, a.len));
		if (a.type == CY_A_RESULT) {
			assert_int_equal(a.len, 1);
			result = a.val[0];
			continue;
		}
		if (a.type != CY_A_GN)
			continue;
		assert_int_equal(cy_attr_parse_nested(&a, &sub), 0);
		assert_true(*n < cap);
		assert_true(cy_msg_str(&sub, CY_A_NAME, out[*n].name, CY_NAME_MAX));
		assert_true(cy_msg_str(&sub, CY_A_FQDN, out[*n].fqdn, CY_FQDN_MAX));
		assert_true(cy_msg_bytes(&sub, CY_A_MAC, out[*n].mac, 6));
		assert_true(cy_msg_bytes(&sub, CY_A_VIP4, out[*n].vip4, 4));
		assert_true(cy_msg_bytes(&sub, CY_A_VIP6, out[*n].vip6, 16));
		(*n)++;
	}
	return result;
}

static void check_listed(struct fx *f, const struct gn_seen *g, const char *name)
{
	struct store_node n;

	assert_string_equal(g->name, name);
	assert_int_equal(store_node_by_name(f->cf.st, name, &n), 0);
	assert_string_equal(g->fqdn, n.fqdn);
	assert_memory_equal(g->mac, n.mac, 6);
	assert_memory_equal(g->vip4, n.vip4, 4);
	assert_memory_equal(g->vip6, n.vip6, 16);
}

static void test_info(void **state)
{
	struct fx *f = *state;
	struct as_peer peer = { .cert_serial = "AD01" };
	uint8_t req[256], resp[4096];
	struct gn_seen g[8];
	struct cy_msg m;
	size_t len, n;
	ssize_t rlen;

	/* ad1 by certificate: cam and lamp; not old (revoked), not door (ad2's). */
	len = req_for(req, sizeof(req), CY_INFO_REQ, NULL, NULL, NULL);
	rlen = as_handle(f->as, &peer, req, len, resp, sizeof(resp));
	assert_true(rlen > 0);
	assert_int_equal(info_walk(resp, (size_t)rlen, g, 8, &n), CY_OK);
	assert_int_equal(n, 2);
	check_listed(f, &g[0], "cam");
	check_listed(f, &g[1], "lamp");
	/* ad1 by password: the same. */
	peer.cert_serial = NULL;
	len = req_for(req, sizeof(req), CY_INFO_REQ, "ad1", "adapter pass", NULL);
	rlen = as_handle(f->as, &peer, req, len, resp, sizeof(resp));
	assert_true(rlen > 0);
	assert_int_equal(info_walk(resp, (size_t)rlen, g, 8, &n), CY_OK);
	assert_int_equal(n, 2);
	/* ad2: door only. */
	peer.cert_serial = "AD02";
	len = req_for(req, sizeof(req), CY_INFO_REQ, NULL, NULL, NULL);
	rlen = as_handle(f->as, &peer, req, len, resp, sizeof(resp));
	assert_int_equal(info_walk(resp, (size_t)rlen, g, 8, &n), CY_OK);
	assert_int_equal(n, 1);
	check_listed(f, &g[0], "door");
	/* Asking does not log anyone in. */
	assert_int_equal(as_stats(f->as)->login_ok, 0);
	assert_int_equal(as_stats(f->as)->info_ok, 3);

	/* A plain node is refused by policy. */
	assert_int_equal(run(f, "0A1B2C3D", req, len, CY_INFO_RES, &m, resp, sizeof(resp)),
			 CY_ERR_POLICY);
	assert_null(cy_msg_find(&m, CY_A_GN));
	/* Bad credentials, revoked adapter. */
	len = req_for(req, sizeof(req), CY_INFO_REQ, "ad1", "guess", NULL);
	assert_int_equal(run(f, NULL, req, len, CY_INFO_RES, &m, resp, sizeof(resp)),
			 CY_ERR_AUTH);
	assert_int_equal(store_node_revoke(f->cf.st, "ad2", "gone"), 0);
	len = req_for(req, sizeof(req), CY_INFO_REQ, NULL, NULL, NULL);
	assert_int_equal(run(f, "AD02", req, len, CY_INFO_RES, &m, resp, sizeof(resp)),
			 CY_ERR_REVOKED);
	assert_null(cy_msg_find(&m, CY_A_GN));
	assert_int_equal(as_stats(f->as)->info_refused, 3);
	/* A malformed Information Request gets an Information Response. */
	const uint8_t ctl[] = { 1, CY_INFO_REQ, 0, 6, 0, CY_A_NAME, 0, 2, 'a', '\n' };
	assert_int_equal(run(f, NULL, ctl, sizeof(ctl), CY_INFO_RES, &m, resp, sizeof(resp)),
			 CY_ERR_MALFORMED);
}

static void test_info_many(void **state)
{
	struct fx *f = *state;
	struct as_peer peer = { .cert_serial = "AD02" };
	uint8_t req[256], *resp = malloc(AS_RES_MAX);
	struct gn_seen *g = calloc(400, sizeof(*g));
	char name[CY_NAME_MAX + 1];
	struct store_node ad;
	struct cy_msg m;
	size_t len, n;
	ssize_t rlen;

	assert_non_null(resp);
	assert_non_null(g);
	assert_int_equal(store_node_by_name(f->cf.st, "ad2", &ad), 0);
	/* 300 general nodes: more attributes than one cy_msg holds, more
	 * bytes than a request may have. */
	for (int i = 0; i < 299; i++) {
		snprintf(name, sizeof(name), "gn%d", i);
		FIXTURE_NODE(&f->cf, .name = name, .kind = CY_KIND_GN, .adapter_id = ad.id,
			     .mac_id = (uint16_t)(i + 10));
	}
	len = req_for(req, sizeof(req), CY_INFO_REQ, NULL, NULL, NULL);
	rlen = as_handle(f->as, &peer, req, len, resp, AS_RES_MAX);
	assert_true(rlen > CY_HDR_LEN + AS_MSG_MAX);
	assert_int_equal(info_walk(resp, (size_t)rlen, g, 400, &n), CY_OK);
	assert_int_equal(n, 300);
	check_listed(f, &g[299], "gn298");

	/* 300 more with 63-byte names: no longer fits one frame; the AS
	 * says so instead of sending a broken list. */
	for (int i = 0; i < 300; i++) {
		memset(name, 'x', CY_NAME_MAX);
		snprintf(name + CY_NAME_MAX - 4, 5, "%04d", i);
		FIXTURE_NODE(&f->cf, .name = name, .kind = CY_KIND_GN, .adapter_id = ad.id,
			     .mac_id = (uint16_t)(i + 1000));
	}
	assert_int_equal(run(f, "AD02", req, len, CY_INFO_RES, &m, resp, AS_RES_MAX),
			 CY_ERR_INTERNAL);
	assert_int_equal(as_stats(f->as)->info_refused, 1);
	free(g);
	free(resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cert_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_login_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_response_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_for_login, setup_adapters, teardown),
		cmocka_unit_test_setup_teardown(test_for_password, setup_adapters, teardown),
		cmocka_unit_test_setup_teardown(test_for_refused, setup_adapters, teardown),
		cmocka_unit_test_setup_teardown(test_for_revoked, setup_adapters, teardown),
		cmocka_unit_test_setup_teardown(test_for_malformed, setup_adapters, teardown),
		cmocka_unit_test_setup_teardown(test_info, setup_adapters, teardown),
		cmocka_unit_test_setup_teardown(test_info_many, setup_adapters, teardown),
		cmocka_unit_test_setup_teardown(test_password_backoff_per_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_check_split, setup, teardown),
		cmocka_unit_test(test_limit_table),
		cmocka_unit_test(test_login_guard),
		cmocka_unit_test_setup_teardown(test_password_guessing_does_not_lock_out, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_login_retires_older_key, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
