/* The CLI's config writers read back through the daemons' loaders (also
 * the [adapter] section and its bad values), the MAC parser of `gn add`,
 * and the small JSON reader behind `status` and `stats`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>

#include "heapscan.h"
#include "addr.h"
#include "ca.h"
#include "cli.h"
#include "cliconf.h"
#include "cloud_conf.h"
#include "jsonread.h"
#include "node_conf.h"

static void test_cloud_roundtrip(void **state)
{
	struct sockaddr_storage a[2];
	struct cloud_conf c;
	char err[256], buf[ADDR_STR_MAX];
	socklen_t len;
	char *text;

	assert_int_equal(addr_parse("192.0.2.1", 0, &a[0], &len), 0);
	assert_int_equal(addr_parse("2001:db8::1", 0, &a[1], &len), 0);
	struct cliconf_cloud cc = { "/srv/cloud", "example.test", a, 2, NULL };
	text = cliconf_cloud(&cc);
	assert_non_null(text);
	assert_non_null(strstr(text, "nms = 192.0.2.1:7444,[2001:db8::1]:7444\n"));
	assert_int_equal(cloud_conf_load_string(&c, "cloud.conf", text, err, sizeof(err)), 0);
	assert_string_equal(c.domain, "example.test");
	assert_string_equal(c.store, "/srv/cloud/cloud.db");
	assert_string_equal(c.ca_cert, "/srv/cloud/ca.pem");
	assert_string_equal(c.ca_key, "/srv/cloud/ca.key");
	assert_string_equal(c.control, "/srv/cloud/cloud.sock");
	assert_string_equal(c.as_cert, "/srv/cloud/as.pem");
	assert_string_equal(c.as_key, "/srv/cloud/as.key");
	assert_true(c.has_as && c.has_nms);
	assert_int_equal(c.key_lifetime, 3600);
	assert_int_equal(c.registration_ttl, 60);
	assert_int_equal(c.nnms, 2);
	assert_string_equal(addr_str((struct sockaddr *)&c.nms[1], buf), "[2001:db8::1]:7444");
	assert_string_equal(addr_str((struct sockaddr *)&c.as_listen, buf), "[::]:7443");
	assert_string_equal(addr_str((struct sockaddr *)&c.nms_listen, buf), "[::]:7444");
	cliconf_free(text);
}

static void test_node_roundtrip(void **state)
{
	EVP_PKEY *ca_key = ca_key_new(), *key = ca_key_new();
	X509 *ca = ca_issue_root(ca_key, "example.test");
	X509 *x = ca_issue_node(ca, ca_key, key, "alpha.example.test", CA_LEAF_DAYS);
	char *ca_pem = ca_cert_pem(ca), *cert_pem = ca_cert_pem(x), *key_pem = ca_key_pem(key);
	struct cliconf_node cn = { "alpha", "example.test", "192.0.2.1,2001:db8::1", ca_pem,
				   cert_pem, key_pem, "s3cret!pw", NULL };
	struct node_conf c;
	char err[256], buf[ADDR_STR_MAX];
	char *text = cliconf_node(&cn);

	assert_non_null(text);
	/* the documented layout: first PEM line after "key = ", the rest tabbed */
	assert_non_null(strstr(text, "\ncert = -----BEGIN CERTIFICATE-----\n\t"));
	assert_non_null(strstr(text, "\n\t-----END PRIVATE KEY-----\n"));
	assert_int_equal(node_conf_load_string(&c, "alpha.conf", text, err, sizeof(err)), 0);
	assert_string_equal(c.name, "alpha");
	assert_string_equal(c.fqdn, "alpha.example.test");
	assert_int_equal(c.ncloud, 2);
	assert_string_equal(addr_str((struct sockaddr *)&c.cloud[0], buf), "192.0.2.1:7443");
	assert_string_equal(addr_str((struct sockaddr *)&c.cloud[1], buf), "[2001:db8::1]:7443");
	assert_int_equal(c.port, 7446);
	assert_string_equal(c.tun, "cy0");
	assert_int_equal(c.mtu, 1400);
	assert_int_equal(c.keepalive, 15);
	assert_string_equal(c.control, "/run/cyphonic/alpha.example.test.sock");
	assert_string_equal(c.password, "s3cret!pw");
	/* PEM comes back byte for byte (the loader joins lines with '\n';
	 * the file's trailing newline is not part of the value) */
	assert_int_equal(strncmp(c.ca_pem, ca_pem, strlen(ca_pem) - 1), 0);
	assert_int_equal(strncmp(c.cert_pem, cert_pem, strlen(cert_pem) - 1), 0);
	assert_int_equal(strncmp(c.key_pem, key_pem, strlen(key_pem) - 1), 0);
	{
		BIO *b = BIO_new_mem_buf(c.key_pem, -1);
		EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		assert_non_null(k);
		assert_int_equal(X509_check_private_key(x, k), 1);
		EVP_PKEY_free(k);
		BIO_free(b);
	}
	node_conf_free(&c);
	cliconf_free(text);

	/* password-only and cert-only configs load too */
	cn.cert_pem = cn.key_pem = NULL;
	text = cliconf_node(&cn);
	assert_int_equal(node_conf_load_string(&c, "a.conf", text, err, sizeof(err)), 0);
	assert_null(c.cert_pem);
	node_conf_free(&c);
	cliconf_free(text);
	cn.cert_pem = cert_pem;
	cn.key_pem = key_pem;
	cn.password = NULL;
	text = cliconf_node(&cn);
	assert_int_equal(node_conf_load_string(&c, "a.conf", text, err, sizeof(err)), 0);
	assert_null(c.password);
	node_conf_free(&c);
	cliconf_free(text);
	/* [node] user, and not with the system resolver: restoring
	 * /etc/resolv.conf at exit needs root */
	{
		const char *at = strstr(text = cliconf_node(&cn), "keepalive = 15\n");
		size_t off = (size_t)(at - text) + strlen("keepalive = 15\n");
		char *t2 = malloc(strlen(text) + 128);

		assert_non_null(at);
		snprintf(t2, strlen(text) + 128, "%.*suser = cyphonic\n%s", (int)off, text,
			 text + off);
		assert_int_equal(node_conf_load_string(&c, "a.conf", t2, err, sizeof(err)), 0);
		assert_string_equal(c.user, "cyphonic");
		node_conf_free(&c);
		strcat(t2, "[resolver]\nsystem = yes\n");
		assert_int_equal(node_conf_load_string(&c, "a.conf", t2, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "[node] user and [resolver] system"));
		snprintf(t2, strlen(text) + 128, "%.*suser = Root\n%s", (int)off, text, text + off);
		assert_int_equal(node_conf_load_string(&c, "a.conf", t2, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "not a user name"));
		cliconf_free(t2);
		cliconf_free(text);
	}
	/* a password the INI format would mangle is refused, not written */
	cn.password = "a ;comment";
	assert_null(cliconf_node(&cn));
	assert_false(cliconf_password_ok(" lead"));
	assert_false(cliconf_password_ok("trail "));
	assert_false(cliconf_password_ok("a#b"));
	assert_false(cliconf_password_ok(""));
	assert_false(cliconf_password_ok("tab\there"));
	assert_true(cliconf_password_ok("with space inside"));

	ca_pem_free(ca_pem);
	ca_pem_free(cert_pem);
	ca_pem_free(key_pem);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

/* path (created or truncated) holds text and has exactly mode. */
static void write_mode(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

/* A node config holding a private key or a password is refused when group
 * or others may read it, naming the file and its mode; at 0600 it loads.
 * `cyphonic node add` writes it 0600 (test_cli checks the file). */
static void test_node_conf_readable_by_others_refused(void **state)
{
	EVP_PKEY *ca_key = ca_key_new(), *key = ca_key_new();
	X509 *ca = ca_issue_root(ca_key, "example.test");
	X509 *x = ca_issue_node(ca, ca_key, key, "alpha.example.test", CA_LEAF_DAYS);
	char *ca_pem = ca_cert_pem(ca), *cert_pem = ca_cert_pem(x), *key_pem = ca_key_pem(key);
	struct cliconf_node cn = { "alpha", "example.test", "192.0.2.1", ca_pem, cert_pem,
				   key_pem, NULL, NULL };
	char dir[] = "/tmp/cy-test-cli-conf-XXXXXX", path[64], err[256], want[160];
	struct node_conf c;
	char *text;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/alpha.conf", dir);
	for (int pw = 0; pw < 2; pw++) {
		/* a certificate and its key, then a password only */
		if (pw) {
			cn.cert_pem = cn.key_pem = NULL;
			cn.password = "s3cret!pw";
		}
		text = cliconf_node(&cn);
		assert_non_null(text);
		write_mode(path, text, 0644);
		cliconf_free(text);
		assert_int_equal(node_conf_load(&c, path, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s: mode 0644 lets others read a secret; chmod 600",
			 path);
		assert_string_equal(err, want);
		assert_null(c.key_pem);
		assert_null(c.password);
		assert_int_equal(chmod(path, 0640), 0);
		assert_int_equal(node_conf_load(&c, path, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "mode 0640 lets its group read a secret; chmod 600"));
		assert_int_equal(chmod(path, 0600), 0);
		assert_int_equal(node_conf_load(&c, path, err, sizeof(err)), 0);
		assert_true(pw ? c.password != NULL : c.key_pem != NULL);
		node_conf_free(&c);
	}
	unlink(path);
	rmdir(dir);
	ca_pem_free(ca_pem);
	ca_pem_free(cert_pem);
	ca_pem_free(key_pem);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

/* The CA key (ca_load, behind `cyphonic node add`) is refused when group
 * or others may read it; ca_write_key writes it 0600. */
static void test_ca_key_readable_by_others_refused(void **state)
{
	EVP_PKEY *ca_key = ca_key_new(), *k;
	X509 *ca = ca_issue_root(ca_key, "example.test"), *x;
	char dir[] = "/tmp/cy-test-cli-conf-XXXXXX", cert[64], key[64], err[256], want[160];
	struct stat sb;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	assert_int_equal(ca_write_cert(cert, ca, 1), 0);
	assert_int_equal(ca_write_key(key, ca_key, 1), 0);
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(chmod(key, 0644), 0);
	assert_int_equal(ca_load(cert, key, &x, &k, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: mode 0644 lets others read a secret; chmod 600", key);
	assert_string_equal(err, want);
	assert_null(x);
	assert_null(k);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(ca_load(cert, key, &x, &k, err, sizeof(err)), 0);
	assert_int_equal(X509_cmp(x, ca), 0);
	X509_free(x);
	EVP_PKEY_free(k);
	/* rewriting an existing key file makes it 0600 again */
	assert_int_equal(chmod(key, 0644), 0);
	assert_int_equal(ca_write_key(key, ca_key, 0), 0);
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	unlink(cert);
	unlink(key);
	rmdir(dir);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

#if HEAPSCAN
/* Writing a node's config (cliconf_node) leaves no copy of its private key
 * in freed memory: the text is not grown by realloc.  (open_memstream
 * starts at 8 KiB and copies into a new buffer, freeing the old one as it
 * is, whenever the text outgrows it: a big key makes it grow here.) */
static void test_node_writer_leaves_no_freed_copy(void **state)
{
	EVP_PKEY *ca_key, *key;
	X509 *ca, *x;
	char *ca_pem, *cert_pem, *key_pem, *text;
	char needle[32];
	size_t off;

	(void)state;
	ca_key = ca_key_new();
	key = ca_key_new();
	ca = ca_issue_root(ca_key, "example.test");
	x = ca_issue_node(ca, ca_key, key, "alpha.example.test", CA_LEAF_DAYS);
	ca_pem = ca_cert_pem(ca);
	cert_pem = ca_cert_pem(x);
	heapscan_prepare();
	/* a key PEM of 200 lines, each with a marker no real key has */
	key_pem = malloc(200 * 65 + 64);
	assert_non_null(key_pem);
	off = (size_t)sprintf(key_pem, "-----BEGIN PRIVATE KEY-----\n");
	for (int i = 0; i < 200; i++)
		off += (size_t)sprintf(key_pem + off, "Vr9kKeyMark%03d%.50s\n", i,
				       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	strcpy(key_pem + off, "-----END PRIVATE KEY-----\n");
	struct cliconf_node cn = { "alpha", "example.test", "192.0.2.1", ca_pem, cert_pem,
				   key_pem, NULL, NULL };
	text = cliconf_node(&cn);
	assert_non_null(text);
	assert_non_null(strstr(text, "\tVr9kKeyMark199"));
	ca_pem_free(key_pem);
	memcpy(needle, "Vr9kKeyMark", 11);
	for (int i = 0; i < 200; i++)
		assert_int_equal(snprintf(needle + 11, 4, "%03d", i), 3);
	assert_true(heapscan_holds(needle, 14)); /* the scan sees the live text */
	cliconf_free(text);
	for (int i = 0; i < 200; i++) {
		snprintf(needle + 11, 4, "%03d", i);
		if (heapscan_holds(needle, 14))
			fail_msg("key line %d is still in freed heap memory", i);
	}
	ca_pem_free(ca_pem);
	ca_pem_free(cert_pem);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}
#endif

static const char node_head[] =
	"[node]\nname = ad1\ndomain = example.test\ncloud = 192.0.2.1\n"
	"[credentials]\nca = x\npassword = pw\n";

/* Load node_head + extra; 0 or -1 with err. */
static int load_extra(struct node_conf *c, const char *extra, char *err, size_t errlen)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s%s", node_head, extra);
	return node_conf_load_string(c, "ad1.conf", text, err, errlen);
}

static void test_adapter_conf(void **state)
{
	static const struct { const char *extra, *err; } bad[] = {
		{ "[adapter]\nnat = no\n", "ad1.conf: [adapter] lan is required" },
		{ "[adapter]\nlan = a/b\n", "ad1.conf:9: " },
		{ "[adapter]\nlan = eth0123456789abc\n", "ad1.conf:9: " },
		{ "[adapter]\nlan = ..\n", "ad1.conf:9: " },
		{ "[adapter]\nlan = eth1\nlease_time = 59\n", "ad1.conf:10: " },
		{ "[adapter]\nlan = eth1\nlease_time = 86401\n", "ad1.conf:10: " },
		{ "[adapter]\nlan = eth1\nrefresh = 4\n", "ad1.conf:10: " },
		{ "[adapter]\nlan = eth1\nrefresh = 3601\n", "ad1.conf:10: " },
		{ "[adapter]\nlan = eth1\nnat = maybe\n", "ad1.conf:10: " },
		{ "[adapter]\nlan = eth1\nleases = relative.leases\n", "ad1.conf:10: " },
		{ "[adapter]\nlan = eth1\nlan = eth2\n", "ad1.conf:10: " },
		{ "[adapter]\nlan = eth1\nmac = 1\n", "ad1.conf:10: " },
	};
	struct node_conf c;
	char err[256];

	/* No section: no adapter. */
	assert_int_equal(load_extra(&c, "", err, sizeof(err)), 0);
	assert_false(c.has_adapter);
	node_conf_free(&c);
	/* Defaults. */
	assert_int_equal(load_extra(&c, "[adapter]\nlan = eth1\n", err, sizeof(err)), 0);
	assert_true(c.has_adapter);
	assert_string_equal(c.adapter_lan, "eth1");
	assert_string_equal(c.adapter_leases, "/var/lib/cyphonic/ad1.example.test.leases");
	assert_int_equal(c.adapter_lease_time, 3600);
	assert_int_equal(c.adapter_refresh, 60);
	assert_true(c.adapter_nat);
	node_conf_free(&c);
	/* Every key set, at the ends of the ranges. */
	assert_int_equal(load_extra(&c, "[adapter]\nlan = br-lan.10\nleases = /tmp/x.leases\n"
				    "lease_time = 60\nrefresh = 3600\nnat = no\n", err,
				    sizeof(err)), 0);
	assert_string_equal(c.adapter_lan, "br-lan.10");
	assert_string_equal(c.adapter_leases, "/tmp/x.leases");
	assert_int_equal(c.adapter_lease_time, 60);
	assert_int_equal(c.adapter_refresh, 3600);
	assert_false(c.adapter_nat);
	node_conf_free(&c);
	assert_int_equal(load_extra(&c, "[adapter]\nlan = e\nlease_time = 86400\nrefresh = 5\n",
				    err, sizeof(err)), 0);
	node_conf_free(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (load_extra(&c, bad[i].extra, err, sizeof(err)) != -1 ||
		    strncmp(err, bad[i].err, strlen(bad[i].err)))
			fail_msg("%s: got '%s'", bad[i].extra, err);
	}
	assert_true(node_conf_ifname_ok("eth0"));
	assert_true(node_conf_ifname_ok("123456789012345"));
	assert_false(node_conf_ifname_ok("1234567890123456"));
	assert_false(node_conf_ifname_ok(""));
	assert_false(node_conf_ifname_ok("a b"));
	assert_false(node_conf_ifname_ok("a:1"));
	assert_false(node_conf_ifname_ok("."));
}

static void test_adapter_writer(void **state)
{
	struct cliconf_node cn = { "ad1", "example.test", "192.0.2.1", "x", NULL, NULL, "pw",
				   "eth1" };
	struct node_conf c;
	char err[256];
	char *text = cliconf_node(&cn);

	assert_non_null(text);
	assert_non_null(strstr(text, "'cyphonic adapter add'"));
	assert_non_null(strstr(text, "\n[adapter]\nlan = eth1\n"));
	assert_int_equal(node_conf_load_string(&c, "ad1.conf", text, err, sizeof(err)), 0);
	assert_true(c.has_adapter);
	assert_string_equal(c.adapter_lan, "eth1");
	node_conf_free(&c);
	cliconf_free(text);
	cn.adapter_lan = "bad/name";
	assert_null(cliconf_node(&cn));
}

struct seen {
	char lines[32][128];
	int n;
};

static int collect(void *arg, const char *path, enum jsonread_type t, const char *v)
{
	struct seen *s = arg;

	if (s->n < 32)
		snprintf(s->lines[s->n++], 128, "%d %s=%s", (int)t, path, v);
	return 0;
}

static void test_jsonread(void **state)
{
	struct seen s = { 0 };
	static const char *const bad[] = {
		"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "\"abc",
		"{\"a\":tru}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":1} x", "{'a':1}", "-", "+1",
		"[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
		"{\"a\":\"\x01\"}",
	};
	size_t i;

	assert_int_equal(jsonread_walk("{\"fqdn\":\"a.test\",\"registered\":true,\"nat\":null,"
				       "\"n\":-12.5e3,\"tunnels\":[{\"peer\":\"b\",\"rx\":1},"
				       "{\"peer\":\"c\\\"q\\u0041\"}],\"e\":[],\"o\":{\"x\":{}}}\n",
				       collect, &s), 0);
	assert_int_equal(s.n, 9);
	assert_string_equal(s.lines[0], "0 fqdn=a.test");
	assert_string_equal(s.lines[1], "2 registered=true");
	assert_string_equal(s.lines[2], "3 nat=null");
	assert_string_equal(s.lines[3], "1 n=-12.5e3");
	assert_string_equal(s.lines[4], "0 tunnels[0].peer=b");
	assert_string_equal(s.lines[5], "1 tunnels[0].rx=1");
	assert_string_equal(s.lines[6], "0 tunnels[1].peer=c\"qA");
	assert_string_equal(s.lines[7], "4 tunnels=2");
	assert_string_equal(s.lines[8], "4 e=0");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.n = 0;
		assert_int_equal(jsonread_walk(bad[i], collect, &s), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cloud_roundtrip),
		cmocka_unit_test(test_node_roundtrip),
		cmocka_unit_test(test_node_conf_readable_by_others_refused),
		cmocka_unit_test(test_ca_key_readable_by_others_refused),
#if HEAPSCAN
		cmocka_unit_test(test_node_writer_leaves_no_freed_copy),
#endif
		cmocka_unit_test(test_adapter_conf),
		cmocka_unit_test(test_adapter_writer),
		cmocka_unit_test(test_jsonread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
