/* cloud.conf's relay keys (src/cloud/cloud_conf.c): [nms] trs/trs_key,
 * the [trs] section, a TRS-only host, and the rules across keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "cloud_conf.h"

#define BASE "[cloud]\ndomain = example.test\n"
#define STORE "store = /srv/c/cloud.db\nca_cert = /srv/c/ca.pem\n"

static int load(const char *text, struct cloud_conf *c, char *err, size_t errlen)
{
	return cloud_conf_load_string(c, "cloud.conf", text, err, errlen);
}

static void test_all_roles(void **state)
{
	struct cloud_conf c;
	char err[256], b[ADDR_STR_MAX];

	(void)state;
	assert_int_equal(load(BASE STORE "[nms]\nlisten = [::]:7444\n"
			      "trs = 192.0.2.1,[2001:db8::1]:7999\ntrs_key = /srv/c/trs.key\n"
			      "[trs]\nlisten = [::]:7445\nkey = /srv/c/trs.key\n"
			      "public = 192.0.2.1,2001:db8::1\nports = 40000-40999\nidle = 30\n"
			      "max_sessions = 8\n", &c, err, sizeof(err)), 0);
	assert_true(c.has_nms && c.has_trs);
	assert_int_equal(c.ntrs, 2);
	assert_string_equal(addr_str((struct sockaddr *)&c.trs[0], b), "192.0.2.1:7445");
	assert_string_equal(addr_str((struct sockaddr *)&c.trs[1], b), "[2001:db8::1]:7999");
	assert_string_equal(c.trs_key, "/srv/c/trs.key");
	assert_string_equal(c.trs_secret, "/srv/c/trs.key");
	assert_int_equal(c.npublic, 2);
	assert_string_equal(addr_str((struct sockaddr *)&c.trs_listen, b), "[::]:7445");
	assert_int_equal(c.trs_port_lo, 40000);
	assert_int_equal(c.trs_port_hi, 40999);
	assert_int_equal(c.trs_idle, 30);
	assert_int_equal(c.trs_max_sessions, 8);
}

/* A host that runs only a TRS: no store, no CA; defaults apply. */
static void test_trs_only(void **state)
{
	struct cloud_conf c;
	char err[256];

	(void)state;
	assert_int_equal(load(BASE "[trs]\nkey = /k\npublic = 198.51.100.7\n", &c, err,
			      sizeof(err)), 0);
	assert_true(c.has_trs && !c.has_as && !c.has_nms);
	assert_int_equal(c.trs_idle, 60);
	assert_int_equal(c.trs_max_sessions, 1024);
	assert_int_equal(c.trs_port_lo, 0);
}

static void test_refused(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ BASE "[trs]\npublic = 192.0.2.1\n", "key" },
		{ BASE "[trs]\nkey = /k\n", "public" },
		{ BASE "[trs]\nkey = /k\npublic = nowhere\n", "nowhere" },
		{ BASE "[trs]\nkey = /k\npublic = 192.0.2.1\nports = 9-8\n", "9-8" },
		{ BASE "[trs]\nkey = /k\npublic = 192.0.2.1\nports = 0-8\n", "0-8" },
		{ BASE "[trs]\nkey = /k\npublic = 192.0.2.1\nports = 1-70000\n", "1-70000" },
		{ BASE "[trs]\nkey = /k\npublic = 192.0.2.1\nports = 100\n", "100" },
		{ BASE "[trs]\nkey = /k\npublic = 192.0.2.1\nports = 12345678901234567-1\n", "port" },
		{ BASE "[trs]\nkey = /k\npublic = 192.0.2.1\nidle = 0\n", "idle" },
		{ BASE "[trs]\nkey = /k\npublic = 192.0.2.1\nmax_sessions = 0\n", "max_sessions" },
		{ BASE STORE "[nms]\ntrs = 192.0.2.1\n", "trs_key" },
		{ BASE STORE "[nms]\ntrs = 1,2,3,4,5\ntrs_key = /k\n", "trs" },
		{ BASE "[nms]\nlisten = [::]:7444\n", "store" },
		{ BASE, "no role" },
	};
	struct cloud_conf c;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (load(bad[i].text, &c, err, sizeof(err)) == 0)
			fail_msg("case %zu loaded", i);
		if (!strstr(err, bad[i].want))
			fail_msg("case %zu: '%s' does not mention '%s'", i, err, bad[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_roles),
		cmocka_unit_test(test_trs_only),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
