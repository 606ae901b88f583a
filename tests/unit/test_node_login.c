/* The AS client's wire part: Login Request building (also with FOR, and
 * the Information Request), Login and Information Response parsing (every
 * required attribute checked, hostile lists), and the address filter of
 * the Registration Request. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "localaddr.h"
#include "login.h"
#include "wire.h"

static void test_request(void **state)
{
	uint8_t buf[512];
	char s[CY_PASSWORD_MAX + 1];
	struct cy_msg m;
	ssize_t n;

	n = login_build_request("alpha", "s3cret", NULL, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(cy_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.type, CY_LOGIN_REQ);
	assert_true(cy_msg_str(&m, CY_A_NAME, s, CY_NAME_MAX));
	assert_string_equal(s, "alpha");
	assert_true(cy_msg_str(&m, CY_A_PASSWORD, s, CY_PASSWORD_MAX));
	assert_string_equal(s, "s3cret");

	n = login_build_request("alpha", NULL, NULL, buf, sizeof(buf));
	assert_int_equal(cy_msg_parse(&m, buf, (size_t)n), 0);
	assert_null(cy_msg_find(&m, CY_A_PASSWORD));
	assert_int_equal(login_build_request("alpha", "x", NULL, buf, 8), -EMSGSIZE);
}

enum omit { OMIT_NONE, OMIT_FQDN, OMIT_KEY_ID, OMIT_KEY, OMIT_LIFETIME, OMIT_NMS, OMIT_RESULT,
	    OMIT_END };

/* A Login Response without the attribute omit, with nca CA attributes of
 * ca_len bytes and ncert CERTs of cert_len. */
static ssize_t response_full(enum omit omit, size_t nca, size_t ca_len, size_t ncert,
			     size_t cert_len, uint8_t *buf, size_t cap)
{
	static uint8_t der[CY_CERT_DER_MAX + 1];
	uint8_t key[CY_KEY_LEN];
	struct sockaddr_storage a, b6;
	struct cy_builder b;
	socklen_t l;

	memset(key, 0xab, sizeof(key));
	addr_parse("192.0.2.1:7444", 0, &a, &l);
	addr_parse("[2001:db8::1]:7444", 0, &b6, &l);
	cy_build_start(&b, buf, cap, CY_LOGIN_RES);
	if (omit != OMIT_RESULT)
		cy_put_u8(&b, CY_A_RESULT, CY_OK);
	cy_put_str(&b, CY_A_NAME, "alpha");
	if (omit != OMIT_FQDN)
		cy_put_str(&b, CY_A_FQDN, "alpha.example.test");
	cy_put_u8(&b, CY_A_KIND, CY_KIND_NODE);
	if (omit != OMIT_KEY_ID)
		cy_put_u64(&b, CY_A_KEY_ID, 42);
	if (omit != OMIT_KEY)
		cy_put_bytes(&b, CY_A_KEY, key, sizeof(key));
	if (omit != OMIT_LIFETIME)
		cy_put_u32(&b, CY_A_LIFETIME, 3600);
	if (omit != OMIT_NMS) {
		cy_put_endpoint(&b, CY_A_NMS, (struct sockaddr *)&a);
		cy_put_endpoint(&b, CY_A_NMS, (struct sockaddr *)&b6);
	}
	for (size_t i = 0; i < nca; i++) {
		memset(der, (int)i + 1, sizeof(der));
		cy_put_bytes(&b, CY_A_CA, der, ca_len);
	}
	for (size_t i = 0; i < ncert; i++)
		cy_put_bytes(&b, CY_A_CERT, der, cert_len);
	return cy_build_finish(&b);
}

static ssize_t response(enum omit omit, uint8_t *buf, size_t cap)
{
	return response_full(omit, 0, 0, 0, 0, buf, cap);
}

static void test_response_ok(void **state)
{
	struct login_result r;
	uint8_t buf[512];
	char s[ADDR_STR_MAX];
	ssize_t n = response(OMIT_NONE, buf, sizeof(buf));

	assert_int_equal(login_parse_response(buf, (size_t)n, &r), 0);
	assert_int_equal(r.status, LOGIN_OK);
	assert_string_equal(r.fqdn, "alpha.example.test");
	assert_string_equal(r.name, "alpha");
	assert_true(r.key_id == 42);
	assert_int_equal(r.key[31], 0xab);
	assert_int_equal(r.lifetime, 3600);
	assert_int_equal(r.nnms, 2);
	assert_string_equal(addr_str((struct sockaddr *)&r.nms[0], s), "192.0.2.1:7444");
	assert_string_equal(addr_str((struct sockaddr *)&r.nms[1], s), "[2001:db8::1]:7444");
}

static void test_response_missing(void **state)
{
	struct login_result r;
	uint8_t buf[512];

	for (int o = OMIT_FQDN; o < OMIT_END; o++) {
		ssize_t n = response((enum omit)o, buf, sizeof(buf));

		assert_int_equal(login_parse_response(buf, (size_t)n, &r), -EBADMSG);
		assert_int_equal(r.status, LOGIN_FAILED);
		assert_true(r.reason[0] != '\0');
	}
	/* Truncations and a wrong message type. */
	ssize_t n = response(OMIT_NONE, buf, sizeof(buf));
	for (ssize_t k = 0; k < n; k++)
		assert_int_equal(login_parse_response(buf, (size_t)k, &r), -EBADMSG);
	buf[1] = CY_LOGIN_REQ;
	assert_int_equal(login_parse_response(buf, (size_t)n, &r), -EBADMSG);
}

/* The CAs and a renewed certificate ride along, bounded in number and
 * size. */
static void test_response_pki(void **state)
{
	static uint8_t buf[16 * CY_CERT_DER_MAX];
	static struct login_result r;
	ssize_t n;

	n = response_full(OMIT_NONE, 2, 300, 1, 400, buf, sizeof(buf));
	assert_int_equal(login_parse_response(buf, (size_t)n, &r), 0);
	assert_int_equal(r.status, LOGIN_OK);
	assert_int_equal(r.pki.nca, 2);
	assert_int_equal(r.pki.ca_len[1], 300);
	assert_int_equal(r.pki.ca[1][299], 2);
	assert_int_equal(r.pki.cert_len, 400);
	n = response_full(OMIT_NONE, CA_BUNDLE_MAX, CY_CERT_DER_MAX, 1, CY_CERT_DER_MAX, buf,
			  sizeof(buf));
	assert_int_equal(login_parse_response(buf, (size_t)n, &r), 0);
	assert_int_equal(r.pki.nca, CA_BUNDLE_MAX);
	/* one CA too many, one byte too long, empty */
	n = response_full(OMIT_NONE, CA_BUNDLE_MAX + 1, 100, 0, 0, buf, sizeof(buf));
	assert_int_equal(login_parse_response(buf, (size_t)n, &r), -EBADMSG);
	n = response_full(OMIT_NONE, 1, CY_CERT_DER_MAX + 1, 0, 0, buf, sizeof(buf));
	assert_int_equal(login_parse_response(buf, (size_t)n, &r), -EBADMSG);
	n = response_full(OMIT_NONE, 1, 100, 1, CY_CERT_DER_MAX + 1, buf, sizeof(buf));
	assert_int_equal(login_parse_response(buf, (size_t)n, &r), -EBADMSG);
	n = response_full(OMIT_NONE, 1, 0, 0, 0, buf, sizeof(buf));
	assert_int_equal(login_parse_response(buf, (size_t)n, &r), -EBADMSG);
	/* two CERTs */
	n = response_full(OMIT_NONE, 0, 0, 2, 100, buf, sizeof(buf));
	assert_int_equal(login_parse_response(buf, (size_t)n, &r), -EBADMSG);
}

static void test_response_refused(void **state)
{
	struct login_result r;
	struct cy_builder b;
	uint8_t buf[512];
	ssize_t n;

	cy_build_start(&b, buf, sizeof(buf), CY_LOGIN_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_ERR_REVOKED);
	cy_put_str(&b, CY_A_REASON, "node alpha was revoked");
	n = cy_build_finish(&b);
	assert_int_equal(login_parse_response(buf, (size_t)n, &r), 0);
	assert_int_equal(r.status, LOGIN_REFUSED);
	assert_int_equal(r.result, CY_ERR_REVOKED);
	assert_string_equal(r.reason, "node alpha was revoked");

	/* No REASON: the result's name stands in. */
	cy_build_start(&b, buf, sizeof(buf), CY_LOGIN_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_ERR_AUTH);
	n = cy_build_finish(&b);
	assert_int_equal(login_parse_response(buf, (size_t)n, &r), 0);
	assert_int_equal(r.status, LOGIN_REFUSED);
	assert_string_equal(r.reason, "authentication failed");
}

static void test_request_for(void **state)
{
	uint8_t buf[512];
	char s[CY_PASSWORD_MAX + 1];
	struct cy_msg m;
	ssize_t n;

	n = login_build_request_for("ad1", NULL, "cam", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(cy_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.type, CY_LOGIN_REQ);
	assert_true(cy_msg_str(&m, CY_A_NAME, s, CY_NAME_MAX));
	assert_string_equal(s, "ad1");
	assert_true(cy_msg_str(&m, CY_A_FOR, s, CY_NAME_MAX));
	assert_string_equal(s, "cam");
	assert_null(cy_msg_find(&m, CY_A_PASSWORD));

	n = login_build_info_request("ad1", "pw", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(cy_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.type, CY_INFO_REQ);
	assert_true(cy_msg_str(&m, CY_A_PASSWORD, s, CY_PASSWORD_MAX));
	assert_string_equal(s, "pw");
	assert_null(cy_msg_find(&m, CY_A_FOR));
	assert_int_equal(login_build_info_request("ad1", NULL, buf, 6), -EMSGSIZE);
}

/* One GN entry; skip leaves one attribute out, mac_len != 6 is hostile. */
static void put_gn(struct cy_builder *b, const char *name, const char *fqdn, uint8_t id,
		   uint16_t skip, size_t mac_len)
{
	uint8_t mac[8] = { 0x02, 0, 0, 0, 0, id, 0, 0 }, v4[4] = { 100, 64, 0, id };
	uint8_t v6[16] = { 0xfd, 0x12, [15] = id };
	size_t tok = cy_put_nested_begin(b, CY_A_GN);

	if (skip != CY_A_NAME)
		cy_put_str(b, CY_A_NAME, name);
	if (skip != CY_A_FQDN)
		cy_put_str(b, CY_A_FQDN, fqdn);
	if (skip != CY_A_MAC)
		cy_put_bytes(b, CY_A_MAC, mac, mac_len);
	if (skip != CY_A_VIP4)
		cy_put_bytes(b, CY_A_VIP4, v4, sizeof(v4));
	if (skip != CY_A_VIP6)
		cy_put_bytes(b, CY_A_VIP6, v6, sizeof(v6));
	cy_put_nested_end(b, tok);
}

static ssize_t info_res(uint8_t *buf, size_t cap, size_t ngn, uint16_t skip, size_t mac_len)
{
	struct cy_builder b;

	cy_build_start(&b, buf, cap, CY_INFO_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	for (size_t i = 0; i < ngn; i++) {
		char name[32], fqdn[64];

		snprintf(name, sizeof(name), "gn%zu", i);
		snprintf(fqdn, sizeof(fqdn), "gn%zu.example.test", i);
		put_gn(&b, name, fqdn, (uint8_t)(i + 1), i == ngn - 1 ? skip : 0,
		       i == ngn - 1 ? mac_len : 6);
	}
	return cy_build_finish(&b);
}

static void test_info_ok(void **state)
{
	uint8_t buf[4096];
	struct login_info r;
	char s[INET6_ADDRSTRLEN];
	ssize_t n = info_res(buf, sizeof(buf), 3, 0, 6);

	assert_true(n > 0);
	assert_int_equal(login_parse_info(buf, (size_t)n, &r), 0);
	assert_int_equal(r.status, LOGIN_OK);
	assert_int_equal(r.result, CY_OK);
	assert_int_equal(r.ngn, 3);
	assert_string_equal(r.gn[0].name, "gn0");
	assert_string_equal(r.gn[2].fqdn, "gn2.example.test");
	assert_int_equal(r.gn[1].mac[0], 0x02);
	assert_int_equal(r.gn[1].mac[5], 2);
	assert_string_equal(inet_ntop(AF_INET, &r.gn[2].vip4, s, sizeof(s)), "100.64.0.3");
	assert_string_equal(inet_ntop(AF_INET6, &r.gn[0].vip6, s, sizeof(s)), "fd12::1");
	login_info_free(&r);
	login_info_free(&r); /* twice is harmless */

	/* An adapter without general nodes. */
	n = info_res(buf, sizeof(buf), 0, 0, 6);
	assert_int_equal(login_parse_info(buf, (size_t)n, &r), 0);
	assert_int_equal(r.status, LOGIN_OK);
	assert_int_equal(r.ngn, 0);
	login_info_free(&r);
}

static void test_info_refused(void **state)
{
	struct login_info r;
	struct cy_builder b;
	uint8_t buf[512];
	ssize_t n;

	cy_build_start(&b, buf, sizeof(buf), CY_INFO_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_ERR_POLICY);
	cy_put_str(&b, CY_A_REASON, "only an adapter has general nodes");
	n = cy_build_finish(&b);
	assert_int_equal(login_parse_info(buf, (size_t)n, &r), 0);
	assert_int_equal(r.status, LOGIN_REFUSED);
	assert_int_equal(r.result, CY_ERR_POLICY);
	assert_string_equal(r.reason, "only an adapter has general nodes");
	assert_int_equal(r.ngn, 0);
	login_info_free(&r);
}

static void expect_bad(const uint8_t *buf, size_t len)
{
	struct login_info r;

	assert_int_equal(login_parse_info(buf, len, &r), -EBADMSG);
	assert_int_equal(r.status, LOGIN_FAILED);
	assert_true(r.reason[0] != '\0');
	assert_null(r.gn);
	assert_int_equal(r.ngn, 0);
}

static void test_info_hostile(void **state)
{
	static const uint16_t required[] = { CY_A_NAME, CY_A_FQDN, CY_A_MAC, CY_A_VIP4,
					     CY_A_VIP6 };
	uint8_t *buf = malloc(CY_MSG_MAX);
	struct cy_builder b;
	ssize_t n;

	assert_non_null(buf);
	/* Each required attribute of an entry missing. */
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		n = info_res(buf, CY_MSG_MAX, 2, required[i], 6);
		expect_bad(buf, (size_t)n);
	}
	/* MAC of 5 and of 7 bytes. */
	n = info_res(buf, CY_MSG_MAX, 2, 0, 5);
	expect_bad(buf, (size_t)n);
	n = info_res(buf, CY_MSG_MAX, 2, 0, 7);
	expect_bad(buf, (size_t)n);
	/* Every truncation of a good response (frame length no longer fits). */
	n = info_res(buf, CY_MSG_MAX, 2, 0, 6);
	for (ssize_t k = 0; k < n; k++)
		expect_bad(buf, (size_t)k);
	/* A truncated nested entry inside a well-framed message: the last
	 * inner attribute claims 4 bytes more than the entry holds. */
	n = info_res(buf, CY_MSG_MAX, 1, 0, 6);
	buf[n - 16 - 2] = 0;
	buf[n - 16 - 1] = 20;
	expect_bad(buf, (size_t)n);
	/* Wrong type, wrong version. */
	n = info_res(buf, CY_MSG_MAX, 1, 0, 6);
	buf[1] = CY_LOGIN_RES;
	expect_bad(buf, (size_t)n);
	buf[1] = CY_INFO_RES;
	buf[0] = 2;
	expect_bad(buf, (size_t)n);
	/* No RESULT; RESULT twice; RESULT of 2 bytes. */
	cy_build_start(&b, buf, CY_MSG_MAX, CY_INFO_RES);
	put_gn(&b, "a", "a.b", 1, 0, 6);
	n = cy_build_finish(&b);
	expect_bad(buf, (size_t)n);
	cy_build_start(&b, buf, CY_MSG_MAX, CY_INFO_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	n = cy_build_finish(&b);
	expect_bad(buf, (size_t)n);
	cy_build_start(&b, buf, CY_MSG_MAX, CY_INFO_RES);
	cy_put_bytes(&b, CY_A_RESULT, "\0\0", 2);
	n = cy_build_finish(&b);
	expect_bad(buf, (size_t)n);
	/* An entry name with a control character. */
	cy_build_start(&b, buf, CY_MSG_MAX, CY_INFO_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	put_gn(&b, "a\n", "a.b", 1, 0, 6);
	n = cy_build_finish(&b);
	expect_bad(buf, (size_t)n);
	free(buf);
}

static void test_info_many(void **state)
{
	uint8_t *buf = malloc(CY_MSG_MAX);
	struct login_info r;
	struct cy_builder b;
	ssize_t n;

	assert_non_null(buf);
	/* LOGIN_GN_MAX minimal entries are taken (far more attributes than a
	 * struct cy_msg holds)... */
	cy_build_start(&b, buf, CY_MSG_MAX, CY_INFO_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	for (int i = 0; i < LOGIN_GN_MAX; i++)
		put_gn(&b, "a", "a.b", (uint8_t)i, 0, 6);
	n = cy_build_finish(&b);
	assert_true(n > 0);
	assert_int_equal(login_parse_info(buf, (size_t)n, &r), 0);
	assert_int_equal(r.ngn, LOGIN_GN_MAX);
	assert_int_equal(r.gn[LOGIN_GN_MAX - 1].mac[5], (uint8_t)(LOGIN_GN_MAX - 1));
	login_info_free(&r);
	/* ...one more is refused. */
	cy_build_start(&b, buf, CY_MSG_MAX, CY_INFO_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	for (int i = 0; i <= LOGIN_GN_MAX; i++)
		put_gn(&b, "a", "a.b", (uint8_t)i, 0, 6);
	n = cy_build_finish(&b);
	assert_true(n > 0);
	expect_bad(buf, (size_t)n);
	free(buf);
}

static void test_localaddr_filter(void **state)
{
	static const struct { const char *a; bool ok; } cases[] = {
		{ "192.0.2.10", true },  { "2001:db8::10", true },  { "127.0.0.1", false },
		{ "::1", false },        { "169.254.1.1", false },  { "fe80::1", false },
		{ "100.64.0.1", false }, { "100.127.255.254", false }, { "100.128.0.1", true },
		{ "fd00:1:2::1", false }, { "fd00:1:2::2", true },  { "224.0.0.1", false },
		{ "::ffff:192.0.2.1", false },
	};
	struct in6_addr vip6;
	struct in_addr vip4;

	inet_pton(AF_INET, "100.64.0.1", &vip4);
	inet_pton(AF_INET6, "fd00:1:2::1", &vip6);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t l;

		assert_int_equal(addr_parse(cases[i].a, 0, &ss, &l), 0);
		if (localaddr_usable((struct sockaddr *)&ss, &vip4, &vip6) != cases[i].ok)
			fail_msg("%s: expected %s", cases[i].a, cases[i].ok ? "usable" : "skipped");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_response_ok),
		cmocka_unit_test(test_response_pki),
		cmocka_unit_test(test_response_missing),
		cmocka_unit_test(test_response_refused),
		cmocka_unit_test(test_request_for),
		cmocka_unit_test(test_info_ok),
		cmocka_unit_test(test_info_refused),
		cmocka_unit_test(test_info_hostile),
		cmocka_unit_test(test_info_many),
		cmocka_unit_test(test_localaddr_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
