/* The store: schema and migration, node enrolment with atomic virtual-IP
 * allocation, revocation, common keys, registrations and metadata.  Every
 * test runs against a fresh SQLite file in a temporary directory or, with
 * CYPHONIC_TEST_PG=URL (a PostgreSQL server: tests/pg.sh, the ctest
 * test_store_pg), against a fresh schema of that server: one suite, both
 * backends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <errno.h>

#include <cmocka.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "addr.h"
#include "store.h"
#include "store_impl.h"

struct fix {
	char dir[64];
	char path[512];         /* the store's location: a file, or a PostgreSQL URL */
	char schema[64];        /* PostgreSQL: this test's own schema */
	struct store *st;
};

/* The PostgreSQL server of this run (CYPHONIC_TEST_PG), or NULL: SQLite. */
static const char *pg_base(void)
{
	const char *u = getenv("CYPHONIC_TEST_PG");

	return u && u[0] ? u : NULL;
}

/* Run sql on the server as the test's administrator: 0 or -1. */
static int pg_admin(const char *sql)
{
	PGconn *c = PQconnectdb(pg_base());
	PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
	int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "%s: %s\n", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

/* A fresh schema and the URL that puts the store in it. */
static int pg_schema(struct fix *f)
{
	static int seq;
	char sql[128];

	snprintf(f->schema, sizeof(f->schema), "cy_test_%d_%d", (int)getpid(), seq++);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", f->schema);
	snprintf(f->path, sizeof(f->path), "%s%coptions=-csearch_path%%3D%s", pg_base(),
		 strchr(pg_base(), '?') ? '&' : '?', f->schema);
	return pg_admin(sql);
}

static int setup_prefixes(struct store *st, const char *p4, const char *p6)
{
	if (store_meta_set(st, "vip4_prefix", p4) < 0)
		return -1;
	return store_meta_set(st, "vip6_prefix", p6);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char err[256];

	strcpy(f->dir, "/tmp/cy-test-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/cloud.db", f->dir);
	if (pg_base() && pg_schema(f) < 0)
		return -1;
	if (store_open(&f->st, f->path, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (setup_prefixes(f->st, "100.64.0.0/10", "fd12:3456:789a::/48") < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char cmd[128];

	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	if (f->schema[0]) {
		snprintf(cmd, sizeof(cmd), "DROP SCHEMA %s CASCADE", f->schema);
		if (pg_admin(cmd) < 0)
			return -1;
	}
	free(f);
	return 0;
}

static int add(struct store *st, const char *name, struct store_node *n)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->fqdn, sizeof(n->fqdn), "%s.example.test", name);
	n->kind = CY_KIND_NODE;
	return store_node_add(st, n);
}

static void assert_vip4(const uint8_t v[4], const char *want)
{
	char buf[INET_ADDRSTRLEN];

	assert_string_equal(inet_ntop(AF_INET, v, buf, sizeof(buf)), want);
}

static void assert_vip6(const uint8_t v[16], const char *want)
{
	char buf[INET6_ADDRSTRLEN];

	assert_string_equal(inet_ntop(AF_INET6, v, buf, sizeof(buf)), want);
}

static void test_open_reopen(void **state)
{
	struct fix *f = *state;
	struct store_node n, m;
	char v[64], err[256];
	struct stat sb;

	assert_int_equal(store_meta_set(f->st, "domain", "example.test"), 0);
	memset(&n, 0, sizeof(n));
	strcpy(n.name, "alpha");
	strcpy(n.fqdn, "alpha.example.test");
	strcpy(n.cert_serial, "0A1B");
	assert_int_equal(store_node_add(f->st, &n), 0);
	store_close(f->st);
	f->st = NULL;

	/* the file holds keys: owner only */
	if (!pg_base()) {
		assert_int_equal(stat(f->path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}

	/* reopening applies no migration twice and keeps the state */
	assert_int_equal(store_open(&f->st, f->path, err, sizeof(err)), 0);
	assert_int_equal(store_meta_get(f->st, "domain", v, sizeof(v)), 0);
	assert_string_equal(v, "example.test");
	assert_int_equal(store_node_by_name(f->st, "alpha", &m), 0);
	assert_int_equal(m.id, n.id);
	assert_string_equal(m.cert_serial, "0A1B");
	assert_memory_equal(m.vip4, n.vip4, 4);
	assert_memory_equal(m.vip6, n.vip6, 16);
	assert_int_equal(store_node_by_serial(f->st, "0A1B", &m), 0);
	assert_string_equal(m.name, "alpha");

	/* "sqlite:" URL form reaches the same file */
	if (!pg_base()) {
		struct store *st2;
		char url[600];
		snprintf(url, sizeof(url), "sqlite:%s", f->path);
		assert_int_equal(store_open(&st2, url, err, sizeof(err)), 0);
		assert_int_equal(store_node_by_fqdn(st2, "alpha.example.test", &m), 0);
		store_close(st2);
	}
}

static void test_open_errors(void **state)
{
	struct store *st = (struct store *)1;
	char err[256] = "";

	/* a PostgreSQL server that is not there: refused at once, said why */
	assert_int_equal(store_open(&st, "postgresql://127.0.0.1:1/cy?connect_timeout=2", err,
				    sizeof(err)), -EIO);
	assert_null(st);
	assert_non_null(strstr(err, "cannot connect"));
	/* an unknown scheme is named, nothing else of the URL (a password) */
	assert_int_equal(store_open(&st, "mysql://u:secret@x", err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "mysql"));
	assert_null(strstr(err, "secret"));
	/* an in-memory store (no file, no WAL) for other parts' tests */
	assert_int_equal(store_open(&st, ":memory:", err, sizeof(err)), 0);
	assert_int_equal(access(":memory:", F_OK), -1);
	assert_int_equal(store_meta_set(st, "k", "v"), 0);
	store_close(st);
	st = NULL;
	assert_true(store_open(&st, "/nonexistent-dir/x/cloud.db", err, sizeof(err)) < 0);
	assert_null(st);
	store_close(NULL);
}

static void test_newer_schema_refused(void **state)
{
	struct fix *f = *state;
	struct store *st;
	char err[256];

	/* a file written by a newer build must not be touched */
	store_close(f->st);
	f->st = NULL;
	if (pg_base()) {
		char sql[128];

		snprintf(sql, sizeof(sql), "INSERT INTO %s.schema_version VALUES (99)", f->schema);
		assert_int_equal(pg_admin(sql), 0);
		assert_int_equal(store_open(&st, f->path, err, sizeof(err)), -EPROTO);
		assert_non_null(strstr(err, "newer"));
		snprintf(sql, sizeof(sql), "DELETE FROM %s.schema_version WHERE version = 99",
			 f->schema);
		assert_int_equal(pg_admin(sql), 0);
		assert_int_equal(store_open(&f->st, f->path, err, sizeof(err)), 0);
		return;
	}
	{
		sqlite3 *db;

		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)", NULL,
					      NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
	assert_int_equal(store_open(&st, f->path, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(store_open(&f->st, "/dev/null/x", err, sizeof(err)) < 0, 1);
	f->st = NULL;
	/* teardown needs a store: a fresh file */
	{
		char p[160];
		snprintf(p, sizeof(p), "%s/other.db", f->dir);
		assert_int_equal(store_open(&f->st, p, err, sizeof(err)), 0);
	}
}

static void test_unique_names(void **state)
{
	struct fix *f = *state;
	struct store_node n;

	assert_int_equal(add(f->st, "alpha", &n), 0);
	assert_int_equal(add(f->st, "alpha", &n), -EEXIST);
	/* the failed insert left no allocation behind */
	assert_int_equal(add(f->st, "beta", &n), 0);
	assert_vip4(n.vip4, "100.64.0.2");
	assert_int_equal(store_node_by_name(f->st, "gamma", &n), -ENOENT);
	assert_int_equal(store_node_by_id(f->st, 999, &n), -ENOENT);
	assert_int_equal(store_node_by_serial(f->st, "", &n), -ENOENT);
	assert_int_equal(store_node_renew_cert(f->st, 999, "AB", "CD"), -ENOENT);
}

/* A renewal keeps the certificate it replaced until the next one, and
 * one the node logged in with but never received the renewal of can
 * renew again without losing the one it holds. */
static void test_renew_cert(void **state)
{
	struct fix *f = *state;
	struct store_node n, m;

	memset(&n, 0, sizeof(n));
	strcpy(n.name, "alpha");
	strcpy(n.fqdn, "alpha.example.test");
	strcpy(n.cert_serial, "A1");
	assert_int_equal(store_node_add(f->st, &n), 0);
	assert_int_equal(store_node_renew_cert(f->st, n.id, "B2", "C3"), -ENOENT);
	assert_int_equal(store_node_renew_cert(f->st, n.id, "", "C3"), -ENOENT);
	assert_int_equal(store_node_renew_cert(f->st, n.id, "A1", "B2"), 0);
	assert_int_equal(store_node_by_serial(f->st, "A1", &m), 0);
	assert_int_equal(store_node_by_serial(f->st, "B2", &m), 0);
	assert_string_equal(m.cert_serial, "B2");
	/* B2 never arrived: A1 renews again, and stays */
	assert_int_equal(store_node_renew_cert(f->st, n.id, "A1", "C3"), 0);
	assert_int_equal(store_node_by_serial(f->st, "A1", &m), 0);
	assert_int_equal(store_node_by_serial(f->st, "C3", &m), 0);
	assert_int_equal(store_node_by_serial(f->st, "B2", &m), -ENOENT);
	assert_string_equal(m.cert_prev, "A1");
	/* C3 arrived and is used: A1 is gone, it can neither log in nor renew */
	assert_int_equal(store_node_cert_used(f->st, n.id, "A1"), -ENOENT);
	assert_int_equal(store_node_cert_used(f->st, n.id, "C3"), 0);
	assert_int_equal(store_node_by_serial(f->st, "A1", &m), -ENOENT);
	assert_int_equal(store_node_by_serial(f->st, "C3", &m), 0);
	assert_string_equal(m.cert_prev, "");
	assert_int_equal(store_node_renew_cert(f->st, n.id, "A1", "X9"), -ENOENT);
	assert_int_equal(store_node_renew_cert(f->st, n.id, "C3", "D4"), 0);
	assert_int_equal(store_node_by_serial(f->st, "D4", &m), 0);
	assert_string_equal(m.name, "alpha");
	/* revocation keys on the node: every serial of it is refused alike */
	assert_int_equal(store_node_revoke(f->st, "alpha", "lost"), 0);
	assert_int_equal(store_node_by_serial(f->st, "C3", &m), 0);
	assert_true(m.revoked);
}

static void test_gn_mac_unique(void **state)
{
	struct fix *f = *state;
	struct store_node a, g, h;
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	assert_int_equal(add(f->st, "ad", &a), 0);
	memset(&g, 0, sizeof(g));
	strcpy(g.name, "cam");
	strcpy(g.fqdn, "cam.example.test");
	g.kind = CY_KIND_GN;
	g.adapter_id = a.id;
	memcpy(g.mac, mac, 6);
	assert_int_equal(store_node_add(f->st, &g), 0);
	h = g;
	strcpy(h.name, "cam2");
	strcpy(h.fqdn, "cam2.example.test");
	assert_int_equal(store_node_add(f->st, &h), -EEXIST);
	assert_int_equal(store_node_by_name(f->st, "cam", &h), 0);
	assert_memory_equal(h.mac, mac, 6);
	assert_int_equal(h.kind, CY_KIND_GN);
	assert_int_equal(h.adapter_id, a.id);
}

static int count_cb(const struct store_node *n, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void test_vip_sequence(void **state)
{
	struct fix *f = *state;
	struct store_node n;
	int count = 0;

	assert_int_equal(add(f->st, "a", &n), 0);
	assert_vip4(n.vip4, "100.64.0.1");
	assert_vip6(n.vip6, "fd12:3456:789a::1");
	assert_true(n.created > 0);
	assert_int_equal(add(f->st, "b", &n), 0);
	assert_vip4(n.vip4, "100.64.0.2");
	assert_vip6(n.vip6, "fd12:3456:789a::2");
	assert_int_equal(add(f->st, "c", &n), 0);
	assert_vip4(n.vip4, "100.64.0.3");

	/* lookups by VIP */
	assert_int_equal(store_node_by_vip4(f->st, (const uint8_t[]){ 100, 64, 0, 2 }, &n), 0);
	assert_string_equal(n.name, "b");
	assert_int_equal(store_node_by_vip4(f->st, (const uint8_t[]){ 100, 64, 0, 9 }, &n),
			 -ENOENT);
	{
		uint8_t v6[16];
		inet_pton(AF_INET6, "fd12:3456:789a::3", v6);
		assert_int_equal(store_node_by_vip6(f->st, v6, &n), 0);
		assert_string_equal(n.name, "c");
		inet_pton(AF_INET6, "fd12:3456:789a::9", v6);
		assert_int_equal(store_node_by_vip6(f->st, v6, &n), -ENOENT);
	}

	/* a revoked node keeps its addresses reserved */
	assert_int_equal(store_node_revoke(f->st, "b", "lost"), 0);
	assert_int_equal(add(f->st, "d", &n), 0);
	assert_vip4(n.vip4, "100.64.0.4");

	assert_int_equal(store_node_foreach(f->st, -1, count_cb, &count), 0);
	assert_int_equal(count, 4);
}

static void test_vip_carry(void **state)
{
	struct fix *f = *state;
	struct store_node n;
	char name[8];
	int i;

	/* index 256 crosses an octet: 100.64.1.0 is a normal host in a /10 */
	for (i = 1; i <= 256; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(add(f->st, name, &n), 0);
	}
	assert_vip4(n.vip4, "100.64.1.0");
	assert_vip6(n.vip6, "fd12:3456:789a::100");
}

static void test_vip_exhaustion(void **state)
{
	struct fix *f = *state;
	struct store_node n;

	/* a /30: .0 network, .1 and .2 usable, .3 broadcast */
	assert_int_equal(setup_prefixes(f->st, "10.9.8.4/30", "fd00:1:2::/48"), 0);
	assert_int_equal(add(f->st, "a", &n), 0);
	assert_vip4(n.vip4, "10.9.8.5");
	assert_int_equal(add(f->st, "b", &n), 0);
	assert_vip4(n.vip4, "10.9.8.6");
	assert_int_equal(add(f->st, "c", &n), -ENOSPC);
	assert_int_equal(store_node_by_name(f->st, "c", &n), -ENOENT);

	/* a tiny IPv6 range limits too */
	assert_int_equal(setup_prefixes(f->st, "10.0.0.0/8", "fd00:1:2::/127"), 0);
	assert_int_equal(add(f->st, "d", &n), -ENOSPC);

	/* a broken prefix is refused, not guessed */
	assert_int_equal(setup_prefixes(f->st, "10.0.0.1/8", "fd00:1:2::/48"), 0);
	assert_int_equal(add(f->st, "e", &n), -EINVAL);
	assert_int_equal(setup_prefixes(f->st, "garbage", "fd00:1:2::/48"), 0);
	assert_int_equal(add(f->st, "e", &n), -EINVAL);
}

static void test_vip_helpers(void **state)
{
	uint8_t p4[4], p6[16], v4[4], v6[16];
	int l4, l6;

	assert_int_equal(store_vip_parse4("100.64.0.0/10", p4, &l4), 0);
	assert_int_equal(l4, 10);
	assert_int_equal(store_vip_parse6("fd12:3456:789a::/48", p6, &l6), 0);
	assert_int_equal(l6, 48);
	assert_int_equal(store_vip_capacity(10, 48), (1 << 22) - 2);
	assert_int_equal(store_vip_capacity(30, 48), 2);
	assert_int_equal(store_vip_capacity(31, 48), 0);
	assert_int_equal(store_vip_capacity(24, 126), 3);
	store_vip_make(p4, p6, 0x10203, v4, v6);
	assert_vip4(v4, "100.65.2.3");
	assert_vip6(v6, "fd12:3456:789a::1:203");
	assert_int_equal(store_vip_parse4("100.64.0.0", p4, &l4), -EINVAL);
	assert_int_equal(store_vip_parse4("100.64.0.0/33", p4, &l4), -EINVAL);
	assert_int_equal(store_vip_parse4("100.64.0.0/x", p4, &l4), -EINVAL);
	assert_int_equal(store_vip_parse6("fd12::1/48", p6, &l6), -EINVAL);
	assert_int_equal(store_vip_parse6("100.64.0.0/10", p6, &l6), -EINVAL);
}

static struct store_reg make_reg(int64_t node_id, uint64_t key_id, int64_t expires)
{
	struct store_reg r;
	socklen_t len;

	memset(&r, 0, sizeof(r));
	r.node_id = node_id;
	r.key_id = key_id;
	addr_parse("203.0.113.7:40000", 0, &r.observed, &len);
	addr_parse("192.168.1.10:7446", 0, &r.addrs[0], &len);
	addr_parse("[2001:db8::10]:7446", 0, &r.addrs[1], &len);
	r.naddrs = 2;
	r.families = CY_FAM_IPV4 | CY_FAM_IPV6;
	r.nat = true;
	r.counter = UINT64_MAX - 1;
	r.updated = 1000;
	r.expires = expires;
	return r;
}

static void test_revoke(void **state)
{
	struct fix *f = *state;
	struct store_node n, m;
	struct store_key k = { .key_id = 42, .expires = 5000 }, kk;
	struct store_reg r, rr;

	assert_int_equal(add(f->st, "alpha", &n), 0);
	assert_int_equal(add(f->st, "beta", &m), 0);
	k.node_id = n.id;
	memset(k.key, 0xab, sizeof(k.key));
	assert_int_equal(store_key_put(f->st, &k), 0);
	k.key_id = 43;
	k.node_id = m.id;
	assert_int_equal(store_key_put(f->st, &k), 0);
	r = make_reg(n.id, 42, 5000);
	assert_int_equal(store_reg_put(f->st, &r), 0);
	r = make_reg(m.id, 43, 5000);
	assert_int_equal(store_reg_put(f->st, &r), 0);

	assert_int_equal(store_node_revoke(f->st, "alpha", "stolen laptop"), 0);
	assert_int_equal(store_node_by_name(f->st, "alpha", &n), 0);
	assert_true(n.revoked);
	assert_string_equal(n.revoke_reason, "stolen laptop");
	assert_int_equal(store_key_get(f->st, 42, &kk), -ENOENT);
	assert_int_equal(store_reg_get(f->st, n.id, &rr), -ENOENT);
	/* the other node is untouched */
	assert_int_equal(store_key_get(f->st, 43, &kk), 0);
	assert_int_equal(store_reg_get(f->st, m.id, &rr), 0);
	assert_false(m.revoked);

	assert_int_equal(store_node_revoke(f->st, "nobody", "x"), -ENOENT);
}

/* Counter blocks: each starts at the mark or at_least, whichever is
 * higher, and the mark survives closing the store; a second handle on
 * the same file never gets an overlapping block. */
static void test_counter_reserve(void **state)
{
	struct fix *f = *state;
	struct store *st2;
	uint64_t a, b, c, d;
	char err[256];

	assert_int_equal(store_counter_reserve(f->st, "t", 1000, 100, &a), 0);
	assert_true(a == 1000);
	assert_int_equal(store_counter_reserve(f->st, "t", 0, 100, &b), 0);
	assert_true(b == 1100);                       /* the clock went back: the mark wins */
	assert_int_equal(store_counter_reserve(f->st, "t", 5000, 100, &c), 0);
	assert_true(c == 5000);
	assert_int_equal(store_counter_reserve(f->st, "t", 0, 0, &d), -EINVAL);
	assert_int_equal(store_counter_reserve(f->st, "t", UINT64_MAX - 10, 100, &d), -EINVAL);
	assert_int_equal(store_counter_reserve(f->st, "other", 0, 100, &d), 0);
	assert_true(d == 0);                          /* counters are independent */
	store_close(f->st);
	assert_int_equal(store_open(&f->st, f->path, err, sizeof(err)), 0);
	assert_int_equal(store_open(&st2, f->path, err, sizeof(err)), 0);
	assert_int_equal(store_counter_reserve(st2, "t", 0, 100, &d), 0);
	assert_true(d == 5100);
	assert_int_equal(store_counter_reserve(f->st, "t", 0, 100, &d), 0);
	assert_true(d == 5200);
	store_close(st2);
}

static void test_keys(void **state)
{
	struct fix *f = *state;
	struct store_node n;
	struct store_key k, got;
	int i;

	for (i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(add(f->st, name, &n), 0);
		memset(&k, 0, sizeof(k));
		k.key_id = (i == 2) ? UINT64_MAX - 5 : 100 + (uint64_t)i; /* high bit set too */
		k.node_id = n.id;
		memset(k.key, i + 1, sizeof(k.key));
		k.expires = 1000 + i * 100;
		assert_int_equal(store_key_put(f->st, &k), 0);
	}
	assert_int_equal(store_key_put(f->st, &k), -EEXIST);
	/* a key for a node that does not exist is refused */
	k.key_id = 7;
	k.node_id = 12345;
	assert_int_equal(store_key_put(f->st, &k), -ENOENT);

	assert_int_equal(store_key_get(f->st, UINT64_MAX - 5, &got), 0);
	assert_true(got.key_id == UINT64_MAX - 5);
	assert_int_equal(got.node_id, n.id);
	assert_int_equal(got.expires, 1200);
	memset(k.key, 3, sizeof(k.key));
	assert_memory_equal(got.key, k.key, CY_KEY_LEN);

	/* expires <= now goes */
	assert_int_equal(store_key_expire(f->st, 999), 0);
	assert_int_equal(store_key_expire(f->st, 1100), 2);
	assert_int_equal(store_key_get(f->st, 100, &got), -ENOENT);
	assert_int_equal(store_key_get(f->st, 101, &got), -ENOENT);
	assert_int_equal(store_key_get(f->st, UINT64_MAX - 5, &got), 0);
	assert_int_equal(store_key_delete(f->st, UINT64_MAX - 5), 0);
	assert_int_equal(store_key_delete(f->st, UINT64_MAX - 5), -ENOENT);

	/* one live key per node: a new key retires the node's older one,
	 * not another node's */
	k.key_id = 200;
	k.node_id = n.id;
	k.expires = 5000;
	assert_int_equal(store_key_put(f->st, &k), 0);
	k.key_id = 201;
	assert_int_equal(store_key_put(f->st, &k), 0);
	assert_int_equal(store_key_get(f->st, 200, &got), -ENOENT);
	assert_int_equal(store_key_get(f->st, 201, &got), 0);
	assert_int_equal(add(f->st, "other", &n), 0);
	k.key_id = 202;
	k.node_id = n.id;
	assert_int_equal(store_key_put(f->st, &k), 0);
	assert_int_equal(store_key_get(f->st, 201, &got), 0);
}

struct reg_seen {
	int count;
	int64_t ids[8];
};

static int reg_cb(const struct store_reg *r, void *arg)
{
	struct reg_seen *s = arg;

	s->ids[s->count++] = r->node_id;
	return 0;
}

static int reg_stop_cb(const struct store_reg *r, void *arg)
{
	(*(int *)arg)++;
	return 1;
}

static void test_regs(void **state)
{
	struct fix *f = *state;
	struct store_node a, b, c;
	struct store_reg r, got;
	struct reg_seen seen = { 0 };
	char buf[ADDR_STR_MAX];
	int stops = 0;

	assert_int_equal(add(f->st, "a", &a), 0);
	assert_int_equal(add(f->st, "b", &b), 0);
	assert_int_equal(add(f->st, "c", &c), 0);

	r = make_reg(a.id, 1, 100);
	assert_int_equal(store_reg_put(f->st, &r), 0);
	assert_int_equal(store_reg_get(f->st, a.id, &got), 0);
	assert_string_equal(addr_str((struct sockaddr *)&got.observed, buf), "203.0.113.7:40000");
	assert_int_equal(got.naddrs, 2);
	assert_string_equal(addr_str((struct sockaddr *)&got.addrs[0], buf), "192.168.1.10:7446");
	assert_string_equal(addr_str((struct sockaddr *)&got.addrs[1], buf),
			    "[2001:db8::10]:7446");
	assert_int_equal(got.families, CY_FAM_IPV4 | CY_FAM_IPV6);
	assert_true(got.nat);
	assert_true(got.counter == UINT64_MAX - 1);
	assert_int_equal(got.key_id, 1);
	assert_int_equal(got.updated, 1000);
	assert_int_equal(got.expires, 100);

	/* put again replaces (keepalive refresh, new key after login) */
	r.key_id = 2;
	r.naddrs = 0;
	r.nat = false;
	r.expires = 300;
	assert_int_equal(store_reg_put(f->st, &r), 0);
	assert_int_equal(store_reg_get(f->st, a.id, &got), 0);
	assert_int_equal(got.key_id, 2);
	assert_int_equal(got.naddrs, 0);
	assert_false(got.nat);
	assert_int_equal(got.expires, 300);

	r = make_reg(b.id, 3, 200);
	assert_int_equal(store_reg_put(f->st, &r), 0);
	r = make_reg(c.id, 4, 400);
	assert_int_equal(store_reg_put(f->st, &r), 0);
	/* a registration for an unknown node is refused */
	r = make_reg(999, 5, 400);
	assert_int_equal(store_reg_put(f->st, &r), -ENOENT);

	assert_int_equal(store_reg_foreach(f->st, reg_cb, &seen), 0);
	assert_int_equal(seen.count, 3);
	assert_int_equal(seen.ids[0], a.id);
	assert_int_equal(seen.ids[2], c.id);
	assert_int_equal(store_reg_foreach(f->st, reg_stop_cb, &stops), 0);
	assert_int_equal(stops, 1);

	assert_int_equal(store_reg_expire(f->st, 300), 2);
	assert_int_equal(store_reg_get(f->st, a.id, &got), -ENOENT);
	assert_int_equal(store_reg_get(f->st, b.id, &got), -ENOENT);
	assert_int_equal(store_reg_get(f->st, c.id, &got), 0);
	assert_int_equal(store_reg_delete(f->st, c.id), 0);
	assert_int_equal(store_reg_delete(f->st, c.id), -ENOENT);
	seen.count = 0;
	assert_int_equal(store_reg_foreach(f->st, reg_cb, &seen), 0);
	assert_int_equal(seen.count, 0);
}

/* A registration that goes leaves its counter mark on its key, which only
 * ever goes up, so that a Registration replayed after its row is gone is
 * still old to any host. */
static void test_reg_marks(void **state)
{
	struct fix *f = *state;
	struct store_node a, b;
	struct store_key k = { .expires = 5000 }, got;
	struct store_reg r;

	assert_int_equal(add(f->st, "a", &a), 0);
	assert_int_equal(add(f->st, "b", &b), 0);
	k.key_id = 10;
	k.node_id = a.id;
	assert_int_equal(store_key_put(f->st, &k), 0);
	k.key_id = 11;
	k.node_id = b.id;
	assert_int_equal(store_key_put(f->st, &k), 0);
	assert_int_equal(store_key_get(f->st, 10, &got), 0);
	assert_true(got.mark == 0);

	/* deleted */
	r = make_reg(a.id, 10, 400);
	r.counter = 500;
	assert_int_equal(store_reg_put(f->st, &r), 0);
	assert_int_equal(store_reg_delete(f->st, a.id), 0);
	assert_int_equal(store_key_get(f->st, 10, &got), 0);
	assert_true(got.mark == 500);
	/* a lower one later does not move it back */
	r.counter = 300;
	assert_int_equal(store_reg_put(f->st, &r), 0);
	assert_int_equal(store_reg_delete(f->st, a.id), 0);
	assert_int_equal(store_key_get(f->st, 10, &got), 0);
	assert_true(got.mark == 500);

	/* expired: only the registrations that expire, onto their own keys */
	r = make_reg(a.id, 10, 400);
	r.counter = 900;
	assert_int_equal(store_reg_put(f->st, &r), 0);
	r = make_reg(b.id, 11, 100);
	r.counter = 700;
	assert_int_equal(store_reg_put(f->st, &r), 0);
	assert_int_equal(store_reg_expire(f->st, 100), 1);
	assert_int_equal(store_key_get(f->st, 11, &got), 0);
	assert_true(got.mark == 700);
	assert_int_equal(store_key_get(f->st, 10, &got), 0);
	assert_true(got.mark == 500);
	assert_int_equal(store_reg_expire(f->st, 400), 1);
	assert_int_equal(store_key_get(f->st, 10, &got), 0);
	assert_true(got.mark == 900);

	/* a registration whose key is gone goes, and marks nothing else */
	r = make_reg(b.id, 99, 400);
	r.counter = 5000;
	assert_int_equal(store_reg_put(f->st, &r), 0);
	assert_int_equal(store_reg_delete(f->st, b.id), 0);
	assert_int_equal(store_reg_delete(f->st, b.id), -ENOENT);
	assert_int_equal(store_key_get(f->st, 11, &got), 0);
	assert_true(got.mark == 700);
}

/* Every call is timed: counted, in the buckets of the time it took, and
 * as failed only for an error that is not an answer ("not found",
 * "exists"). */
static void test_call_stats(void **state)
{
	struct fix *f = *state;
	struct store_stats s0 = *store_stats(f->st);
	const struct store_stats *s;
	struct store_key got;
	struct store_node n;

	assert_int_equal(store_key_get(f->st, 4242, &got), -ENOENT);
	assert_int_equal(add(f->st, "a", &n), 0);
	assert_int_equal(add(f->st, "a", &n), -EEXIST);
	s = store_stats(f->st);
	assert_true(s->calls >= s0.calls + 3);
	assert_true(s->failed == s0.failed);
	assert_true(s->le_100us <= s->le_1ms && s->le_1ms <= s->le_10ms &&
		    s->le_10ms <= s->le_100ms && s->le_100ms <= s->le_1s && s->le_1s <= s->calls);
	assert_true(s->le_1s == s->calls);   /* nothing here takes a second */
}

/* A keepalive's conditional write: only the live registration of that
 * key, on that host, from that endpoint moves; anything else is -ENOENT
 * and changes nothing. */
static void test_reg_touch(void **state)
{
	struct fix *f = *state;
	struct store_node a;
	struct store_reg r, t, got;
	socklen_t len;

	assert_int_equal(add(f->st, "a", &a), 0);
	r = make_reg(a.id, 7, 2000);
	snprintf(r.host, sizeof(r.host), "cloud-a");
	assert_int_equal(store_reg_put(f->st, &r), 0);
	memset(&t, 0, sizeof(t));
	t.node_id = a.id;
	t.key_id = 7;
	snprintf(t.host, sizeof(t.host), "cloud-a");
	t.observed = r.observed;
	t.counter = 99;
	t.updated = 1500;
	t.expires = 3000;
	assert_int_equal(store_reg_touch(f->st, &t), 0);
	assert_int_equal(store_reg_get(f->st, a.id, &got), 0);
	assert_true(got.counter == 99);
	assert_int_equal(got.updated, 1500);
	assert_int_equal(got.expires, 3000);
	assert_int_equal(got.naddrs, 2);   /* the rest as registered */
	assert_true(got.nat);
	assert_string_equal(got.host, "cloud-a");

	t.counter = 200;
	t.key_id = 8;                       /* another key */
	assert_int_equal(store_reg_touch(f->st, &t), -ENOENT);
	t.key_id = 7;
	snprintf(t.host, sizeof(t.host), "cloud-b");   /* another host */
	assert_int_equal(store_reg_touch(f->st, &t), -ENOENT);
	snprintf(t.host, sizeof(t.host), "cloud-a");
	addr_parse("203.0.113.7:40001", 0, &t.observed, &len);   /* another endpoint */
	assert_int_equal(store_reg_touch(f->st, &t), -ENOENT);
	t.observed = r.observed;
	t.updated = 3000;                   /* lapsed: expires 3000 is not past it */
	assert_int_equal(store_reg_touch(f->st, &t), -ENOENT);
	t.updated = 1600;
	t.node_id = a.id + 1000;            /* no such registration */
	assert_int_equal(store_reg_touch(f->st, &t), -ENOENT);
	assert_int_equal(store_reg_get(f->st, a.id, &got), 0);
	assert_true(got.counter == 99);
	assert_int_equal(got.expires, 3000);

	/* Several at once (one node each), each with its own outcome. */
	{
		struct store_node b;
		struct store_reg v[2];
		int res[2] = { 1, 1 };

		assert_int_equal(add(f->st, "b", &b), 0);
		r = make_reg(b.id, 11, 2000);
		snprintf(r.host, sizeof(r.host), "cloud-a");
		assert_int_equal(store_reg_put(f->st, &r), 0);
		t.node_id = a.id;
		t.counter = 123;
		v[0] = t;
		v[1] = t;
		v[1].node_id = b.id;
		v[1].key_id = 12;               /* b's registration is under 11 */
		assert_int_equal(store_reg_touch_many(f->st, v, 2, res), 0);
		assert_int_equal(res[0], 0);
		assert_int_equal(res[1], -ENOENT);
		assert_int_equal(store_reg_get(f->st, a.id, &got), 0);
		assert_true(got.counter == 123);
		/* the counter mark never goes back (a late write of an older one) */
		t.counter = 50;
		assert_int_equal(store_reg_touch(f->st, &t), 0);
		assert_int_equal(store_reg_get(f->st, a.id, &got), 0);
		assert_true(got.counter == 123);
	}
}

static void test_meta(void **state)
{
	struct fix *f = *state;
	char v[16], big[STORE_META_MAX + 2];

	assert_int_equal(store_meta_get(f->st, "nothing", v, sizeof(v)), -ENOENT);
	assert_int_equal(store_meta_set(f->st, "domain", "a.test"), 0);
	assert_int_equal(store_meta_set(f->st, "domain", "b.test"), 0);
	assert_int_equal(store_meta_get(f->st, "domain", v, sizeof(v)), 0);
	assert_string_equal(v, "b.test");
	assert_int_equal(store_meta_set(f->st, "long", "0123456789abcdefXYZ"), 0);
	assert_int_equal(store_meta_get(f->st, "long", v, sizeof(v)), -ENOSPC);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_meta_set(f->st, "big", big), -EINVAL);
	/* add: only when the key has no value yet (the first of two wins) */
	assert_int_equal(store_meta_add(f->st, "secret", "first"), 0);
	assert_int_equal(store_meta_add(f->st, "secret", "second"), 0);
	assert_int_equal(store_meta_get(f->st, "secret", v, sizeof(v)), 0);
	assert_string_equal(v, "first");
	assert_int_equal(store_meta_add(f->st, "big", big), -EINVAL);
}

/* A callback may use the store while foreach runs. */
static int reentrant_cb(const struct store_node *n, void *arg)
{
	struct store *st = arg;
	struct store_node m;

	if (store_node_by_id(st, n->id, &m) < 0)
		return 1;
	return store_node_set_tags(st, n->id, "ff") < 0;
}

static void test_foreach(void **state)
{
	struct fix *f = *state;
	struct store_node a, g, n;
	int count = 0;

	assert_int_equal(add(f->st, "ad", &a), 0);
	assert_int_equal(add(f->st, "x", &n), 0);
	memset(&g, 0, sizeof(g));
	strcpy(g.name, "gn1");
	strcpy(g.fqdn, "gn1.example.test");
	g.kind = CY_KIND_GN;
	g.adapter_id = a.id;
	assert_int_equal(store_node_add(f->st, &g), 0);

	assert_int_equal(store_node_foreach(f->st, a.id, count_cb, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_node_foreach(f->st, -1, reentrant_cb, f->st), 0);
	assert_int_equal(store_node_by_name(f->st, "x", &n), 0);
	assert_string_equal(n.tags, "ff");
}

/* Several processes allocate at once: every VIP is handed out once. */
static void test_concurrent_alloc(void **state)
{
	struct fix *f = *state;
	enum { PROCS = 4, EACH = 15 };
	struct store_node n;
	pid_t pids[PROCS];
	int i, status, count = 0;

	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct store *st;
			char err[256], name[32];
			int j;

			if (store_open(&st, f->path, err, sizeof(err)) < 0)
				_exit(2);
			for (j = 0; j < EACH; j++) {
				snprintf(name, sizeof(name), "p%d-%d", i, j);
				if (add(st, name, &n) < 0)
					_exit(3);
			}
			store_close(st);
			_exit(0);
		}
	}
	for (i = 0; i < PROCS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(store_node_foreach(f->st, -1, count_cb, &count), 0);
	assert_int_equal(count, PROCS * EACH);
	/* the UNIQUE vip_index makes duplicates impossible; the range is dense */
	assert_int_equal(add(f->st, "last", &n), 0);
	assert_int_equal(n.vip4[3], PROCS * EACH + 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_reopen),
		cmocka_unit_test(test_open_errors),
		T(test_newer_schema_refused),
		T(test_unique_names),
		T(test_gn_mac_unique),
		T(test_vip_sequence),
		T(test_vip_carry),
		T(test_vip_exhaustion),
		cmocka_unit_test(test_vip_helpers),
		T(test_revoke),
		T(test_renew_cert),
		T(test_counter_reserve),
		T(test_keys),
		T(test_regs),
		T(test_reg_touch),
		T(test_reg_marks),
		T(test_call_stats),
		T(test_meta),
		T(test_foreach),
		T(test_concurrent_alloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
