/* cloud.conf's relay keys (src/cloud/cloud_conf.c): [nms] trs/trs_key,
 * the [trs] section, a TRS-only host, and the rules across keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
	assert_string_equal(c.user, "");
	assert_int_equal(c.cert_days, 90);
	assert_int_equal(c.renew_days, 30);
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
		{ BASE "user = root!\n[trs]\nkey = /k\npublic = 192.0.2.1\n", "user name" },
		{ BASE "user = -x\n[trs]\nkey = /k\npublic = 192.0.2.1\n", "user name" },
		{ BASE "[trs]\nkey = /k\npublic = 192.0.2.1\n[as]\ncert_days = 30\nrenew_days = 30\n",
		  "renew_days" },
		{ BASE "[trs]\nkey = /k\npublic = 192.0.2.1\n[as]\ncert_days = 1\n", "cert_days" },
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

/* The key files cloud.conf names (CA key, AS key, NMS-TRS key on either
 * side) are refused when group or others may read them: the message
 * names cloud.conf, the key, the key file and its mode.  cloud.conf itself
 * holds no secret and may be 0644; a key file that is not there is left
 * to whoever opens it; a string (tests, fuzzing) names no real files. */
static void test_key_files_readable_by_others_refused(void **state)
{
	static const char *const files[] = { "ca.key", "as.key", "trs.key", "trs2.key" };
	static const char *const keys[] = { "[cloud] ca_key", "[as] key", "[nms] trs_key",
					    "[trs] key" };
	char dir[] = "/tmp/cy-test-cloud-conf-XXXXXX", path[4][80], conf[80], text[1024];
	char err[512], want[512];
	struct cloud_conf c;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < 4; i++) {
		int fd;

		snprintf(path[i], sizeof(path[i]), "%s/%s", dir, files[i]);
		fd = open(path[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "secret\n", 7), 7);
		close(fd);
		assert_int_equal(chmod(path[i], 0600), 0);
	}
	snprintf(text, sizeof(text),
		 BASE STORE "ca_key = %s\n[as]\ncert = /srv/c/as.pem\nkey = %s\nnms = 192.0.2.1\n"
		 "[nms]\ntrs = 192.0.2.1\ntrs_key = %s\n[trs]\nkey = %s\npublic = 192.0.2.1\n",
		 path[0], path[1], path[2], path[3]);
	snprintf(conf, sizeof(conf), "%s/cloud.conf", dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(conf, 0644), 0);
	assert_int_equal(cloud_conf_load(&c, conf, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(chmod(path[i], i == 0 ? 0640 : 0644), 0);
		assert_int_equal(cloud_conf_load(&c, conf, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s: %s: %s: mode %s read a secret; chmod 600", conf,
			 keys[i], path[i], i == 0 ? "0640 lets its group" : "0644 lets others");
		assert_string_equal(err, want);
		assert_int_equal(load(text, &c, err, sizeof(err)), 0);
		assert_int_equal(chmod(path[i], 0600), 0);
	}
	assert_int_equal(cloud_conf_load(&c, conf, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++)
		unlink(path[i]);
	assert_int_equal(cloud_conf_load(&c, conf, err, sizeof(err)), 0);
	unlink(conf);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_roles),
		cmocka_unit_test(test_trs_only),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_key_files_readable_by_others_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
