/* The `cyphonic` binary end to end, as a user runs it: init, node add,
 * list --json, revoke, and status/stats against a fake daemon on a
 * control socket.  The binary's path comes from CMake (CYPHONIC_BIN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "addr.h"
#include "ca.h"
#include "clock.h"
#include "cloud_conf.h"
#include "jsonread.h"
#include "node_conf.h"
#include "store.h"

static char dir[64];
static char out[65536];

/* Run the CLI with a shell command line; stdout into out; exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char args[1024], cmd[2048];
	va_list ap;
	FILE *p;
	size_t n;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s %s 2>%s/stderr", CYPHONIC_BIN, args, dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	st = pclose(p);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char *read_file(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	strcpy(dir, "/tmp/cy-test-cli-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_usage(void **state)
{
	assert_int_equal(run("help"), 0);
	assert_non_null(strstr(out, "cyphonic init"));
	assert_non_null(strstr(out, "cyphonic node add"));
	assert_non_null(strstr(out, "cyphonic adapter add"));
	assert_non_null(strstr(out, "cyphonic gn add"));
	assert_non_null(strstr(out, "cyphonic revoke"));
	assert_non_null(strstr(out, "cyphonic list"));
	assert_non_null(strstr(out, "cyphonic status"));
	assert_non_null(strstr(out, "cyphonic stats"));
	assert_int_equal(run("--help"), 0);
	assert_int_equal(run("%s", ""), 2);
	assert_int_equal(run("frobnicate"), 2);
	assert_int_equal(run("init --dir %s/c", dir), 2);
	assert_int_equal(run("list"), 2);
	assert_int_equal(run("node add --dir %s/c", dir), 2);
	assert_int_equal(run("node remove x --dir %s/c", dir), 2);
	assert_int_equal(run("adapter"), 2);
	assert_int_equal(run("gn remove x --dir %s/c", dir), 2);
	assert_int_equal(run("status"), 2);
	/* no cloud there */
	assert_int_equal(run("list --dir %s/none", dir), 1);
	assert_non_null(strstr(read_file(strcat(strcpy(out, dir), "/stderr")), "cloud.conf"));
}

static X509 *read_cert(const char *base, const char *name)
{
	char path[512];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s", base, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static void test_init(void **state)
{
	struct cloud_conf c;
	struct store *st;
	char path[256], err[256], v[64];
	struct stat sb;

	assert_int_equal(run("init --dir %s/c --domain bad_domain --cloud 192.0.2.1", dir), 1);
	assert_int_equal(run("init --dir %s/c --domain example.test --cloud nope", dir), 1);
	assert_int_equal(run("init --dir %s/c --domain example.test --cloud 192.0.2.1 "
			     "--vip4 10.0.0.1/8", dir), 1);
	assert_int_equal(run("init --dir %s/c --domain example.test --cloud 192.0.2.1,2001:db8::1",
			     dir), 0);
	snprintf(path, sizeof(path), "%s/c/cloud.conf", dir);
	assert_int_equal(cloud_conf_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.domain, "example.test");
	assert_int_equal(c.nnms, 2);
	assert_true(c.store[0] == '/');
	snprintf(path, sizeof(path), "%s/c/ca.key", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/c/as.key", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/c/console.key", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* the console's certificate is its own CA's, never one a node would
	 * take for the AS: the cloud CA did not issue it */
	{
		X509 *con = read_cert(dir, "c/console.pem"), *cca = read_cert(dir, "c/console-ca.pem");
		X509 *ca = read_cert(dir, "c/ca.pem");

		assert_true(con && cca && ca);
		assert_true(ca_issued_by(con, cca));
		assert_false(ca_issued_by(con, ca));
		assert_int_equal(X509_check_ip_asc(con, "192.0.2.1", 0), 1);
		assert_int_equal(X509_check_ip_asc(con, "127.0.0.1", 0), 1);
		assert_int_equal(X509_check_host(con, "localhost", 0, 0, NULL), 1);
		assert_int_equal(EVP_PKEY_get_id(X509_get0_pubkey(con)), EVP_PKEY_EC);
		X509_free(con);
		X509_free(cca);
		X509_free(ca);
	}
	snprintf(path, sizeof(path), "%s/c/cloud.conf", dir);
	assert_int_equal(cloud_conf_load(&c, path, err, sizeof(err)), 0);
	assert_true(c.has_console);

	assert_int_equal(store_open(&st, c.store, err, sizeof(err)), 0);
	assert_int_equal(store_meta_get(st, "domain", v, sizeof(v)), 0);
	assert_string_equal(v, "example.test");
	assert_int_equal(store_meta_get(st, "vip4_prefix", v, sizeof(v)), 0);
	assert_string_equal(v, "100.64.0.0/10");
	assert_int_equal(store_meta_get(st, "vip6_prefix", v, sizeof(v)), 0);
	/* RFC 4193: fdXX:XXXX:XXXX::/48 */
	assert_int_equal(strlen(v), strlen("fd00:0000:0000::/48"));
	assert_int_equal(strncmp(v, "fd", 2), 0);
	assert_string_equal(v + strlen(v) - 5, "::/48");
	store_close(st);

	/* never over an existing cloud */
	assert_int_equal(run("init --dir %s/c --domain other.test --cloud 192.0.2.9", dir), 1);
	assert_int_equal(cloud_conf_load(&c, path[0] ? strcat(strcpy(path, dir), "/c/cloud.conf")
						     : path, err, sizeof(err)), 0);
	assert_string_equal(c.domain, "example.test");

	/* explicit ranges */
	assert_int_equal(run("init --dir %s/d --domain d.test --cloud 192.0.2.1 --vip4 10.1.0.0/16 "
			     "--vip6 fd00:1:2::/48", dir), 0);
	assert_int_equal(run("node add n1 --dir %s/d", dir), 0);
	assert_non_null(strstr(out, "n1.d.test vip4 10.1.0.1 vip6 fd00:1:2::1"));
}

struct keys {
	int n;
	char path[16][64];
};

static int list_keys(void *arg, const char *path, enum jsonread_type t, const char *v)
{
	struct keys *k = arg;

	if (k->n < 16 && !strncmp(path, "[0].", 4))
		snprintf(k->path[k->n++], 64, "%s", path + 4);
	return 0;
}

static void test_node_add_list_revoke(void **state)
{
	char path[256], err[256];
	struct node_conf nc;
	struct cloud_conf c;
	struct store *st;
	struct store_node n;
	struct store_reg r;
	struct keys k = { 0 };
	static const char *const want[] = { "name", "fqdn", "kind", "vip4", "vip6", "revoked",
					    "reason", "registered", "observed", "nat", "host",
					    "created", "last_seen", "tags" };
	socklen_t len;
	size_t i;

	assert_int_equal(run("init --dir %s/c --domain example.test --cloud 192.0.2.1,2001:db8::1",
			     dir), 0);
	assert_int_equal(run("node add alpha --dir %s/c", dir), 0);
	assert_non_null(strstr(out, "alpha.example.test vip4 100.64.0.1 vip6 fd"));
	assert_int_equal(run("node add beta --dir %s/c --password 'pass word' --tag cam "
			     "--tag outdoor", dir), 0);
	assert_non_null(strstr(out, "100.64.0.2"));
	assert_non_null(strstr(out, " tags cam,outdoor"));
	/* bad tags: refused, nothing enrolled */
	assert_int_equal(run("node add gamma --dir %s/c --tag Cam", dir), 1);
	assert_int_equal(run("node add gamma --dir %s/c --tag cam --tag cam", dir), 1);
	assert_int_equal(run("node add gamma --dir %s/c --tag tag:x", dir), 1);
	assert_int_equal(run("node add alpha --dir %s/c", dir), 1);
	assert_int_equal(run("node add Alpha --dir %s/c", dir), 1);
	assert_int_equal(run("node add x- --dir %s/c", dir), 1);
	assert_int_equal(run("node add gamma --dir %s/c --password 'a;b'", dir), 1);

	/* the written config loads and its credentials hold together */
	snprintf(path, sizeof(path), "%s/c/nodes/alpha.conf", dir);
	{
		struct stat sb;
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	assert_int_equal(node_conf_load(&nc, path, err, sizeof(err)), 0);
	assert_string_equal(nc.fqdn, "alpha.example.test");
	assert_int_equal(nc.ncloud, 2);
	assert_null(nc.password);
	{
		BIO *b = BIO_new_mem_buf(nc.cert_pem, -1);
		BIO *bc = BIO_new_mem_buf(nc.ca_pem, -1);
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		X509 *ca = PEM_read_bio_X509(bc, NULL, NULL, NULL);
		X509_STORE *xs = X509_STORE_new();
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();
		char serial[CA_SERIAL_MAX + 1];

		assert_non_null(x);
		assert_non_null(ca);
		X509_STORE_add_cert(xs, ca);
		X509_STORE_CTX_init(ctx, xs, x, NULL);
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
		assert_int_equal(X509_verify_cert(ctx), 1);
		assert_int_equal(ca_serial_hex(x, serial), 0);

		snprintf(path, sizeof(path), "%s/c/cloud.conf", dir);
		assert_int_equal(cloud_conf_load(&c, path, err, sizeof(err)), 0);
		assert_int_equal(store_open(&st, c.store, err, sizeof(err)), 0);
		assert_int_equal(store_node_by_serial(st, serial, &n), 0);
		assert_string_equal(n.name, "alpha");
		assert_string_equal(n.pwhash, "");
		X509_STORE_CTX_free(ctx);
		X509_STORE_free(xs);
		X509_free(x);
		X509_free(ca);
		BIO_free(b);
		BIO_free(bc);
	}
	node_conf_free(&nc);
	assert_int_equal(store_node_by_name(st, "beta", &n), 0);
	assert_int_equal(strncmp(n.pwhash, "$scrypt$", 8), 0);
	snprintf(path, sizeof(path), "%s/c/nodes/beta.conf", dir);
	assert_int_equal(node_conf_load(&nc, path, err, sizeof(err)), 0);
	assert_string_equal(nc.password, "pass word");
	node_conf_free(&nc);

	/* list --json: exactly the documented keys */
	assert_int_equal(run("list --dir %s/c --json", dir), 0);
	assert_int_equal(jsonread_walk(out, list_keys, &k), 0);
	assert_int_equal(k.n, (int)(sizeof(want) / sizeof(want[0])));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(k.path[i], want[i]);
	assert_non_null(strstr(out, "\"name\":\"alpha\",\"fqdn\":\"alpha.example.test\","
				    "\"kind\":\"node\",\"vip4\":\"100.64.0.1\""));
	assert_non_null(strstr(out, "\"revoked\":false,\"reason\":null,\"registered\":false,"
				    "\"observed\":null,\"nat\":null,\"host\":null,\"created\":"));
	assert_non_null(strstr(out, "\"last_seen\":null,\"tags\":\"\"}"));
	assert_non_null(strstr(out, "\"tags\":\"cam,outdoor\"}"));
	/* tag: replaces, clears; bad ones and unknown names refused */
	assert_int_equal(run("tag alpha nvr admin --dir %s/c", dir), 0);
	assert_non_null(strstr(out, "alpha.example.test tags nvr,admin"));
	assert_int_equal(store_node_by_name(st, "alpha", &n), 0);
	assert_string_equal(n.tags, "nvr,admin");
	assert_int_equal(run("tag alpha --dir %s/c", dir), 0);
	assert_int_equal(store_node_by_name(st, "alpha", &n), 0);
	assert_string_equal(n.tags, "");
	assert_int_equal(run("tag alpha Bad --dir %s/c", dir), 1);
	assert_int_equal(run("tag nobody x --dir %s/c", dir), 1);
	assert_int_equal(run("tag alpha x"), 2);
	/* policy check and test against the store's tags */
	snprintf(path, sizeof(path), "%s/c/policy", dir);
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs("# test\nallow alpha tag:cam tcp/554\n", f);
		fclose(f);
	}
	assert_int_equal(run("policy check %s", path), 0);
	assert_non_null(strstr(out, "1 rules, valid"));
	assert_int_equal(run("policy test alpha beta --dir %s/c", dir), 0);
	assert_non_null(strstr(out, "allow ("));
	assert_non_null(strstr(out, "policy:2)"));
	assert_int_equal(run("policy test alpha beta tcp/554 --dir %s/c", dir), 0);
	assert_int_equal(run("policy test alpha beta udp/554 --dir %s/c", dir), 1);
	assert_non_null(strstr(out, "deny ("));
	assert_int_equal(run("policy test beta alpha --dir %s/c", dir), 1);
	assert_int_equal(run("policy test alpha beta tcp/0 --dir %s/c", dir), 1);
	assert_int_equal(run("policy test alpha nobody --dir %s/c", dir), 1);
	assert_int_equal(run("policy test alpha --dir %s/c", dir), 2);
	assert_int_equal(run("policy frob"), 2);
	{
		FILE *f = fopen(path, "w");

		fputs("allow alpha tag:cam tcp/554\nallow x\n", f);
		fclose(f);
	}
	assert_int_equal(run("policy check %s", path), 1);
	assert_int_equal(run("policy test alpha beta --dir %s/c", dir), 1);
	unlink(path);
	assert_int_equal(run("policy test beta alpha --dir %s/c", dir), 0);
	assert_non_null(strstr(out, "does not exist: everything is allowed"));

	/* a live registration shows; an expired one does not */
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_node_by_name(st, "alpha", &n), 0);
	r.node_id = n.id;
	r.key_id = 1;
	assert_int_equal(addr_parse("203.0.113.5:4000", 0, &r.observed, &len), 0);
	r.nat = true;
	strcpy(r.host, "cloud-a");
	r.expires = clock_now() + 600;
	{
		struct store_key key = { .key_id = 1, .node_id = n.id, .expires = r.expires };
		assert_int_equal(store_key_put(st, &key), 0);
	}
	assert_int_equal(store_reg_put(st, &r), 0);
	assert_int_equal(store_node_by_name(st, "beta", &n), 0);
	r.node_id = n.id;
	r.expires = clock_now() - 1;
	assert_int_equal(store_reg_put(st, &r), 0);
	assert_int_equal(run("list --dir %s/c --json", dir), 0);
	assert_non_null(strstr(out, "\"registered\":true,\"observed\":\"203.0.113.5:4000\","
				    "\"nat\":true,\"host\":\"cloud-a\",\"created\":"));
	assert_non_null(strstr(out, "\"name\":\"beta\""));
	assert_int_equal(run("list --dir %s/c", dir), 0);
	assert_non_null(strstr(out, "NAME"));
	assert_non_null(strstr(out, "registered"));

	/* revoke: keys and registration go, the row stays, marked */
	assert_int_equal(run("revoke alpha --dir %s/c --reason 'lost laptop'", dir), 0);
	assert_int_equal(store_node_by_name(st, "alpha", &n), 0);
	assert_true(n.revoked);
	assert_string_equal(n.revoke_reason, "lost laptop");
	assert_int_equal(store_reg_get(st, n.id, &r), -ENOENT);
	{
		struct store_key key;
		assert_int_equal(store_key_get(st, 1, &key), -ENOENT);
	}
	assert_int_equal(run("revoke nobody --dir %s/c", dir), 1);
	assert_int_equal(run("list --dir %s/c --json", dir), 0);
	assert_non_null(strstr(out, "\"revoked\":true"));
	/* a revoked name is not handed out again */
	assert_int_equal(run("node add alpha --dir %s/c", dir), 1);
	store_close(st);
}

static char *stderr_text(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/stderr", dir);
	return read_file(path);
}

static void test_adapter_gn(void **state)
{
	char path[256], err[256];
	struct node_conf nc;
	struct cloud_conf c;
	struct store *st;
	struct store_node n, ad;
	struct stat sb;

	assert_int_equal(run("init --dir %s/c --domain example.test --cloud 192.0.2.1", dir), 0);
	assert_int_equal(run("node add alpha --dir %s/c", dir), 0);

	/* adapter add: a node config plus [adapter] lan */
	assert_int_equal(run("adapter add ad1 --dir %s/c", dir), 2);           /* no --lan */
	assert_int_equal(run("adapter add ad1 --dir %s/c --lan 'a/b'", dir), 1);
	assert_int_equal(run("adapter add ad1 --dir %s/c --lan eth0123456789abc", dir), 1);
	assert_int_equal(run("node add ad1 --dir %s/c --lan eth1", dir), 2);  /* nodes have none */
	assert_int_equal(run("adapter add ad1 --dir %s/c --lan eth1", dir), 0);
	assert_non_null(strstr(out, "ad1.example.test vip4 100.64.0.2 vip6 fd"));
	assert_int_equal(run("adapter add ad1 --dir %s/c --lan eth1", dir), 1);
	assert_int_equal(run("adapter add ad2 --dir %s/c --lan lan0 --password 'ad pw'", dir), 0);
	snprintf(path, sizeof(path), "%s/c/nodes/ad1.conf", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(node_conf_load(&nc, path, err, sizeof(err)), 0);
	assert_true(nc.has_adapter);
	assert_string_equal(nc.adapter_lan, "eth1");
	assert_string_equal(nc.adapter_leases, "/var/lib/cyphonic/ad1.example.test.leases");
	assert_int_equal(nc.adapter_lease_time, 3600);
	assert_int_equal(nc.adapter_refresh, 60);
	assert_true(nc.adapter_nat);
	assert_non_null(nc.cert_pem);
	node_conf_free(&nc);
	snprintf(path, sizeof(path), "%s/c/nodes/alpha.conf", dir);
	assert_int_equal(node_conf_load(&nc, path, err, sizeof(err)), 0);
	assert_false(nc.has_adapter);
	node_conf_free(&nc);

	/* gn add: checks the adapter and the MAC */
	assert_int_equal(run("gn add cam --dir %s/c --adapter ad1", dir), 2);
	assert_int_equal(run("gn add cam --dir %s/c --adapter nope --mac 02:00:00:00:00:01", dir),
			 1);
	assert_non_null(strstr(stderr_text(), "no adapter named 'nope'"));
	assert_int_equal(run("gn add cam --dir %s/c --adapter alpha --mac 02:00:00:00:00:01", dir),
			 1);
	assert_non_null(strstr(stderr_text(), "not an adapter"));
	static const char *const bad_macs[] = {
		"01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "02:00:00:00:00",
		"02-00-00-00-00-01", "02:00:00:00:00:0g", "02:00:00:00:00:001", "2:0:0:0:0:1",
		"02:00:00:00:00:01:", "",
	};
	for (size_t i = 0; i < sizeof(bad_macs) / sizeof(bad_macs[0]); i++) {
		assert_int_equal(run("gn add cam --dir %s/c --adapter ad1 --mac '%s'", dir,
				     bad_macs[i]), 1);
		assert_non_null(strstr(stderr_text(), "--mac"));
	}
	assert_int_equal(run("gn add cam --dir %s/c --adapter ad1 --mac 02:AA:bb:Cc:dd:01", dir),
			 0);
	assert_non_null(strstr(out, "cam.example.test vip4 100.64.0.4 vip6 fd"));
	assert_non_null(strstr(out, "mac 02:aa:bb:cc:dd:01 adapter ad1.example.test"));
	/* no config: a general node runs no CYPHONIC software */
	snprintf(path, sizeof(path), "%s/c/nodes/cam.conf", dir);
	assert_int_equal(stat(path, &sb), -1);
	/* the same MAC or name again */
	assert_int_equal(run("gn add cam2 --dir %s/c --adapter ad2 --mac 02:aa:bb:cc:dd:01", dir),
			 1);
	assert_non_null(strstr(stderr_text(), "MAC 02:aa:bb:cc:dd:01 is already enrolled as "
					      "cam.example.test"));
	assert_int_equal(run("gn add cam --dir %s/c --adapter ad1 --mac 02:aa:bb:cc:dd:02", dir),
			 1);
	assert_non_null(strstr(stderr_text(), "cam.example.test is already enrolled"));
	assert_int_equal(run("gn add lamp --dir %s/c --adapter ad1 --mac 02:aa:bb:cc:dd:02", dir),
			 0);
	assert_int_equal(run("gn add door --dir %s/c --adapter ad2 --mac 02:aa:bb:cc:dd:03", dir),
			 0);

	snprintf(path, sizeof(path), "%s/c/cloud.conf", dir);
	assert_int_equal(cloud_conf_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(store_open(&st, c.store, err, sizeof(err)), 0);
	assert_int_equal(store_node_by_name(st, "ad1", &ad), 0);
	assert_int_equal(ad.kind, CY_KIND_ADAPTER);
	assert_int_equal(store_node_by_name(st, "cam", &n), 0);
	assert_int_equal(n.kind, CY_KIND_GN);
	assert_int_equal(n.adapter_id, ad.id);
	assert_int_equal(n.mac[1], 0xaa);
	assert_string_equal(n.cert_serial, "");
	assert_string_equal(n.pwhash, "");

	/* list: kinds; general nodes with their adapter and MAC */
	assert_int_equal(run("list --dir %s/c --json", dir), 0);
	assert_non_null(strstr(out, "\"name\":\"ad1\",\"fqdn\":\"ad1.example.test\","
				    "\"kind\":\"adapter\""));
	assert_non_null(strstr(out, "\"name\":\"cam\",\"fqdn\":\"cam.example.test\","
				    "\"kind\":\"gn\""));
	assert_non_null(strstr(out, "\"last_seen\":null,\"adapter\":\"ad1\","
				    "\"mac\":\"02:aa:bb:cc:dd:01\",\"tags\":\"\"}"));
	assert_non_null(strstr(out, "\"adapter\":\"ad2\",\"mac\":\"02:aa:bb:cc:dd:03\","));
	assert_int_equal(run("list --dir %s/c", dir), 0);
	assert_non_null(strstr(out, "ADAPTER"));
	assert_non_null(strstr(out, "MAC"));
	assert_non_null(strstr(out, "02:aa:bb:cc:dd:02"));
	assert_non_null(strstr(out, " gn "));
	assert_non_null(strstr(out, " adapter "));

	/* revoke a general node; revoking an adapter takes its general nodes */
	assert_int_equal(run("revoke door --dir %s/c --reason stolen", dir), 0);
	assert_int_equal(store_node_by_name(st, "door", &n), 0);
	assert_true(n.revoked);
	assert_int_equal(run("revoke ad1 --dir %s/c", dir), 0);
	assert_non_null(strstr(out, "cam.example.test revoked: adapter ad1 revoked"));
	assert_non_null(strstr(out, "lamp.example.test revoked: adapter ad1 revoked"));
	assert_int_equal(store_node_by_name(st, "lamp", &n), 0);
	assert_true(n.revoked);
	assert_int_equal(store_node_by_name(st, "ad2", &n), 0);
	assert_false(n.revoked);
	assert_int_equal(run("gn add bulb --dir %s/c --adapter ad1 --mac 02:aa:bb:cc:dd:04", dir),
			 1);
	assert_non_null(strstr(stderr_text(), "adapter ad1.example.test is revoked"));
	store_close(st);
}

/* A stand-in daemon: answers one request on a UNIX socket, then exits. */
static pid_t fake_daemon(const char *path, const char *expect, const char *reply)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	assert_true(s >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(s, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char req[256];
		ssize_t n;
		int c = accept(s, NULL, NULL);
		if (c < 0)
			_exit(1);
		n = read(c, req, sizeof(req) - 1);
		req[n > 0 ? n : 0] = '\0';
		if (strncmp(req, expect, strlen(expect)))
			reply = "error\n";
		if (write(c, reply, strlen(reply)) < 0)
			_exit(1);
		close(c);
		_exit(0);
	}
	close(s);
	return pid;
}

static void test_status_stats(void **state)
{
	static const char reply[] =
		"{\"fqdn\":\"alpha.example.test\",\"vip4\":\"100.64.0.1\",\"vip6\":\"fd00::1\","
		"\"dns\":\"127.0.0.53:53\",\"registered\":true,\"nat\":false,\"mapping\":\"keeps\",\"tunnels\":["
		"{\"peer\":\"beta.example.test\",\"vip4\":\"100.64.0.2\",\"path\":\"direct\","
		"\"endpoint\":\"192.0.2.7:7446\",\"rx_bytes\":10,\"tx_bytes\":20}]}";
	char conf[256], sock[256], text[16384], *p;
	FILE *f;
	int status;
	pid_t pid;

	assert_int_equal(run("init --dir %s/c --domain example.test --cloud 192.0.2.1", dir), 0);
	assert_int_equal(run("node add alpha --dir %s/c", dir), 0);
	/* point the node's control socket into the test dir */
	snprintf(conf, sizeof(conf), "%s/c/nodes/alpha.conf", dir);
	snprintf(sock, sizeof(sock), "%s/alpha.sock", dir);
	strcpy(text, read_file(conf));
	p = strstr(text, "control = ");
	assert_non_null(p);
	{
		char rest[16384];
		snprintf(rest, sizeof(rest), "%s", strchr(p, '\n'));
		snprintf(p, sizeof(text) - (size_t)(p - text), "control = %s%s", sock, rest);
	}
	f = fopen(conf, "w");
	fputs(text, f);
	fclose(f);

	/* no daemon: a clear message, exit 1 */
	assert_int_equal(run("status -c %s", conf), 1);
	assert_non_null(strstr(read_file(strcat(strcpy(text, dir), "/stderr")), "not running"));

	pid = fake_daemon(sock, "status", reply);
	assert_int_equal(run("status -c %s --json", conf), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_string_equal(out, strcat(strcpy(text, reply), "\n"));

	pid = fake_daemon(sock, "status", reply);
	assert_int_equal(run("status -c %s", conf), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_non_null(strstr(out, "fqdn: alpha.example.test\n"));
	assert_non_null(strstr(out, "vip4: 100.64.0.1\n"));
	assert_non_null(strstr(out, "dns: 127.0.0.53:53\n"));
	assert_non_null(strstr(out, "registered: yes\n"));
	assert_non_null(strstr(out, "nat: no\n"));
	assert_non_null(strstr(out, "mapping: keeps\n"));
	assert_non_null(strstr(out, "tunnels: 1\n"));
	assert_non_null(strstr(out, "peer=beta.example.test"));

	/* stats from the cloud's socket */
	snprintf(sock, sizeof(sock), "%s/c/cloud.sock", dir);
	assert_int_equal(run("stats --dir %s/c", dir), 1);
	pid = fake_daemon(sock, "stats", "{\"as\":{\"logins\":3},\"nms\":{\"registered\":2}}\n");
	assert_int_equal(run("stats --dir %s/c", dir), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_non_null(strstr(out, "as.logins: 3\n"));
	assert_non_null(strstr(out, "nms.registered: 2\n"));
	pid = fake_daemon(sock, "stats", "{\"as\":{\"logins\":3}}\n");
	assert_int_equal(run("stats --dir %s/c --json", dir), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_string_equal(out, "{\"as\":{\"logins\":3}}\n");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_usage), T(test_init), T(test_node_add_list_revoke), T(test_status_stats),
		T(test_adapter_gn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
