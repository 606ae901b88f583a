/* cyphonic init --dir DIR --domain DOMAIN --cloud ADDR[,ADDR]...
 *               [--vip4 CIDR] [--vip6 CIDR] [--store URL]
 *
 * --store postgresql://...: the store is that PostgreSQL database (its
 * schema is created there; several cloud hosts may share it) instead of
 * DIR/cloud.db.  A URL holding a password is refused: cloud.conf is not a
 * secret, so the password goes to libpq's password file.
 *
 * Creates a cloud in DIR: the CA (ca.pem, ca.key), the AS server
 * certificate (as.pem, as.key), the web console's certificate
 * (console.pem, console.key, from a CA of its own, console-ca.pem, that
 * nodes do not trust; the console listens on loopback until cloud.conf
 * says otherwise), the NMS-TRS key (trs.key), the store
 * (cloud.db, with the domain and the virtual ranges in its metadata) and
 * cloud.conf, written last: a DIR with cloud.conf is a complete cloud
 * running all three roles (AS, NMS, TRS) on the --cloud addresses.  An existing cloud is never
 * overwritten; a failed init removes what it created. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "aead.h"
#include "ca.h"
#include "cli.h"
#include "cliconf.h"

#define INIT_MAX_CLOUD CLOUD_MAX_NMS
#define DEFAULT_VIP4 "100.64.0.0/10"
#define INIT_TRS_PORT 7445
#define INIT_CONSOLE_PORT 7447
#define INIT_CONSOLE_DAYS 825    /* `cyphonic init` again, or your own: docs/console.md */

static const char *const init_files[] = {
	"cloud.conf", "ca.pem", "ca.key", "as.pem", "as.key", "console.pem", "console.key",
	"console-ca.pem",
	"trs.key", "cloud.db",
	"cloud.db-wal", "cloud.db-shm",
};

static int init_parse_cloud(const char *list, struct sockaddr_storage *addrs, size_t *n)
{
	char buf[512], *save, *tok;

	if (strlen(list) >= sizeof(buf))
		return cli_fail("--cloud: list too long");
	strcpy(buf, list);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct sockaddr_storage *ss = &addrs[*n];
		if (*n == INIT_MAX_CLOUD)
			return cli_fail("--cloud: at most %d addresses", INIT_MAX_CLOUD);
		memset(ss, 0, sizeof(*ss));
		/* Bare addresses: the ports are fixed (AS 7443, NMS 7444). */
		if (inet_pton(AF_INET, tok, &((struct sockaddr_in *)ss)->sin_addr) == 1)
			ss->ss_family = AF_INET;
		else if (inet_pton(AF_INET6, tok, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
			ss->ss_family = AF_INET6;
		else
			return cli_fail("--cloud: '%s' is not an IPv4 or IPv6 address", tok);
		(*n)++;
	}
	if (!*n)
		return cli_fail("--cloud: no address");
	return 0;
}

/* RFC 4193 section 3.2: fd00::/8 plus a random 40-bit Global ID. */
static int init_random_ula(char out[64])
{
	uint8_t g[5];

	if (cy_random(g, sizeof(g)) < 0)
		return -EIO;
	snprintf(out, 64, "fd%02x:%02x%02x:%02x%02x::/48", g[0], g[1], g[2], g[3], g[4]);
	return 0;
}

static void init_cleanup(const char *dir)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(init_files) / sizeof(init_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, init_files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/nodes", dir);
	rmdir(path);
}

struct init_args {
	const char *dir, *domain, *cloud, *vip4, *vip6;
	const char *store;      /* NULL: DIR/cloud.db */
};

/* A store URL that carries a password (user:password@ or password=, the
 * keyword percent-encoded or not). */
static bool init_url_has_password(const char *url)
{
	const char *rest = strstr(url, "://"), *at, *slash;
	char plain[CLOUD_PATH_MAX];
	size_t o = 0;

	/* decode %XX as libpq does before it reads the keywords */
	for (const char *p = url; *p && o + 1 < sizeof(plain); p++) {
		int hi = p[0] == '%' ? cy_hex_digit(p[1]) : -1;
		int lo = hi >= 0 ? cy_hex_digit(p[2]) : -1;

		if (lo >= 0) {
			plain[o++] = (char)(hi << 4 | lo);
			p += 2;
		} else {
			plain[o++] = *p;
		}
	}
	plain[o] = '\0';
	if (strcasestr(plain, "password="))
		return true;
	if (!rest)
		return false;
	rest += 3;
	at = strchr(rest, '@');
	slash = strchr(rest, '/');
	return at && (!slash || at < slash) && memchr(rest, ':', (size_t)(at - rest));
}

/* The console's certificate and its own CA (ca_issue_web_root): for the
 * --cloud addresses and loopback.  The CA's key is dropped once it has
 * signed. */
static int init_console_pki(const char *dir, const struct init_args *a,
			    const struct sockaddr_storage *addrs, size_t naddrs)
{
	struct sockaddr_storage all[INIT_MAX_CLOUD + 2];
	EVP_PKEY *ca_key = ca_key_new_web(), *key = ca_key_new_web();
	X509 *ca = NULL, *x = NULL;
	char path[PATH_MAX];
	socklen_t len;
	size_t n = 0;
	int rc = -1, err;

	for (size_t i = 0; i < naddrs && n < INIT_MAX_CLOUD; i++)
		all[n++] = addrs[i];
	addr_parse("127.0.0.1", 0, &all[n++], &len);
	addr_parse("::1", 0, &all[n++], &len);
	ca = ca_key && key ? ca_issue_web_root(ca_key, a->domain, CA_ROOT_DAYS) : NULL;
	x = ca ? ca_issue_web_server(ca, ca_key, key, a->domain, all, n, INIT_CONSOLE_DAYS) : NULL;
	if (!x) {
		cli_fail("cannot issue the console's certificates");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/console-ca.pem", dir);
	if ((err = ca_write_cert(path, ca, 1)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/console.key", dir);
	if ((err = ca_write_key(path, key, 1)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/console.pem", dir);
	if ((err = ca_write_cert(path, x, 1)) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	cli_fail("%s: %s", path, strerror(-err));
out:
	X509_free(ca);
	X509_free(x);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return rc;
}

static int init_pki(const char *dir, const struct init_args *a,
		    const struct sockaddr_storage *addrs, size_t naddrs)
{
	EVP_PKEY *ca_key = NULL, *as_key = NULL;
	X509 *ca = NULL, *as = NULL;
	char path[PATH_MAX];
	int rc = -1, err;

	ca_key = ca_key_new();
	as_key = ca_key_new();
	if (!ca_key || !as_key) {
		cli_fail("cannot generate Ed25519 keys");
		goto out;
	}
	ca = ca_issue_root(ca_key, a->domain);
	as = ca ? ca_issue_server(ca, ca_key, as_key, a->domain, addrs, naddrs, CA_LEAF_DAYS)
		: NULL;
	if (!ca || !as) {
		cli_fail("cannot issue the CA and AS certificates");
		goto out;
	}
#define WRITE(name, call)                                                        \
	do {                                                                     \
		snprintf(path, sizeof(path), "%s/%s", dir, name);                \
		if ((err = (call)) < 0) {                                        \
			cli_fail("%s: %s", path, strerror(-err));                \
			goto out;                                                \
		}                                                                \
	} while (0)
	WRITE("ca.key", ca_write_key(path, ca_key, 1));
	WRITE("ca.pem", ca_write_cert(path, ca, 1));
	WRITE("as.key", ca_write_key(path, as_key, 1));
	WRITE("as.pem", ca_write_cert(path, as, 1));
#undef WRITE
	rc = init_console_pki(dir, a, addrs, naddrs);
out:
	X509_free(ca);
	X509_free(as);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(as_key);
	return rc;
}

static int init_store(const char *dir, const struct init_args *a, const char *vip6)
{
	char path[PATH_MAX], err[512];
	struct store *st;
	int rc;

	char have[CY_FQDN_MAX + 1];

	snprintf(path, sizeof(path), "%s", a->store ? a->store : "");
	if (!a->store)
		snprintf(path, sizeof(path), "%s/cloud.db", dir);
	if (store_open(&st, path, err, sizeof(err)) < 0)
		return cli_fail("store: %s", err);
	/* A shared store may already hold a cloud: never take it over. */
	if (store_meta_get(st, "domain", have, sizeof(have)) == 0) {
		store_close(st);
		return cli_fail("the store already holds cloud %s; refusing to overwrite it", have);
	}
	rc = store_meta_set(st, "domain", a->domain);
	if (!rc)
		rc = store_meta_set(st, "vip4_prefix", a->vip4);
	if (!rc)
		rc = store_meta_set(st, "vip6_prefix", vip6);
	store_close(st);
	if (rc < 0)
		return cli_fail("store: cannot write metadata: %s", strerror(-rc));
	return 0;
}

/* The NMS and the TRS authenticate each other with one shared key
 * (src/proto/trs_wire.h): 32 random bytes as 64 hex digits, owner-only. */
static int init_trs_key(const char *dir)
{
	char path[PATH_MAX], hex[2 * 32 + 2];
	uint8_t key[32];
	int rc;

	if (cy_random(key, sizeof(key)) < 0)
		return cli_fail("cannot read random bytes");
	for (size_t i = 0; i < sizeof(key); i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	strcpy(hex + 64, "\n");
	cy_wipe(key, sizeof(key));
	snprintf(path, sizeof(path), "%s/trs.key", dir);
	rc = cli_write_file(path, hex, 0600);
	cy_wipe(hex, sizeof(hex));
	if (rc < 0)
		return cli_fail("%s: %s", path, strerror(-rc));
	return 0;
}

static void init_addr(FILE *f, const struct sockaddr_storage *ss, int port)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
		fprintf(f, port ? "%s:%d" : "%s", a, port);
	} else {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof(a));
		fprintf(f, port ? "[%s]:%d" : "%s", a, port);
	}
}

/* The relay: the NMS asks the TRS on this host (its --cloud addresses),
 * and the TRS gives nodes those addresses, one per family.  Appended to
 * cliconf_cloud()'s text, whose last section is [nms]. */
static char *init_conf_trs(const char *dir, const char *base,
			   const struct sockaddr_storage *addrs, size_t naddrs)
{
	const char *last = NULL, *p;
	char *text = NULL;
	size_t len = 0, i;
	FILE *f;

	for (p = base; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (*p == '[')
			last = p;   /* a section header */
	f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	fputs(base, f);
	if (!last || strncmp(last, "[nms]", 5))
		fputs("\n[nms]\n", f);
	fputs("trs = ", f);
	for (i = 0; i < naddrs; i++) {
		if (i)
			fputc(',', f);
		init_addr(f, &addrs[i], INIT_TRS_PORT);
	}
	fprintf(f, "\ntrs_key = %s/trs.key\npolicy = %s/policy\n\n", dir, dir);
	fprintf(f, "[trs]\nlisten = [::]:%d\nkey = %s/trs.key\npublic = ", INIT_TRS_PORT, dir);
	for (i = 0; i < naddrs; i++) {
		if (i)
			fputc(',', f);
		init_addr(f, &addrs[i], 0);
	}
	fprintf(f, "\nidle = 60\n\n");
	fprintf(f, "[console]\nlisten = 127.0.0.1:%d\ncert = %s/console.pem\nkey = %s/console.key\n",
		INIT_CONSOLE_PORT, dir, dir);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int init_conf(const char *dir, const struct init_args *a,
		     const struct sockaddr_storage *addrs, size_t naddrs)
{
	struct cliconf_cloud cc = { dir, a->domain, addrs, naddrs, a->store };
	struct cloud_conf check;
	char path[PATH_MAX], err[512];
	char *base, *text;
	int rc;

	base = cliconf_cloud(&cc);
	text = base ? init_conf_trs(dir, base, addrs, naddrs) : NULL;
	cliconf_free(base);
	if (!text)
		return cli_fail("out of memory");
	snprintf(path, sizeof(path), "%s/cloud.conf", dir);
	/* cloud.conf was checked absent above; it is written last. */
	rc = cli_write_file(path, text, 0644);
	free(text);
	if (rc < 0)
		return cli_fail("%s: %s", path, strerror(-rc));
	/* Whatever we write, our own loader must read back. */
	if (cloud_conf_load(&check, path, err, sizeof(err)) < 0)
		return cli_fail("internal error: written cloud.conf does not load: %s", err);
	return 0;
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "domain", required_argument, NULL, 'D' },
		{ "cloud", required_argument, NULL, 'c' },
		{ "vip4", required_argument, NULL, '4' },
		{ "vip6", required_argument, NULL, '6' },
		{ "store", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct init_args a = { .vip4 = DEFAULT_VIP4 };
	struct sockaddr_storage addrs[INIT_MAX_CLOUD];
	char dir[PATH_MAX], vip6[64], path[PATH_MAX + 32];
	uint8_t p[16];
	size_t naddrs = 0, i;
	int opt, plen;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': a.dir = optarg; break;
		case 'D': a.domain = optarg; break;
		case 'c': a.cloud = optarg; break;
		case '4': a.vip4 = optarg; break;
		case '6': a.vip6 = optarg; break;
		case 's': a.store = optarg; break;
		default: return cli_usage("init");
		}
	}
	if (optind != argc || !a.dir || !a.dir[0] || !a.domain || !a.cloud)
		return cli_usage("init");
	if (a.store && (strlen(a.store) >= CLOUD_PATH_MAX || !strstr(a.store, "://")))
		return cli_fail("--store: not a store URL like "
				"postgresql://cyphonic@db.example/cyphonic");
	if (a.store && init_url_has_password(a.store))
		return cli_fail("--store: the URL holds a password, and cloud.conf is no secret: put "
				"it in libpq's password file (~/.pgpass or PGPASSFILE) instead");
	if (!cy_domain_ok(a.domain))
		return cli_fail("--domain: '%s' is not a domain name (lowercase labels a-z, 0-9, "
				"'-', separated by dots)", a.domain);
	if (init_parse_cloud(a.cloud, addrs, &naddrs))
		return CLI_FAIL;
	if (store_vip_parse4(a.vip4, p, &plen) < 0 || store_vip_capacity(plen, 64) < 1)
		return cli_fail("--vip4: '%s' is not an IPv4 range like 100.64.0.0/10", a.vip4);
	if (a.vip6) {
		if (store_vip_parse6(a.vip6, p, &plen) < 0 || plen > 120)
			return cli_fail("--vip6: '%s' is not an IPv6 range like fd00:1:2::/48",
					a.vip6);
		snprintf(vip6, sizeof(vip6), "%s", a.vip6);
	} else if (init_random_ula(vip6) < 0) {
		return cli_fail("cannot read random bytes");
	}

	/* With its parents (/var/lib/cyphonic/cloud on a fresh system): those
	 * 0755, so that a [cloud] user given DIR can reach it; DIR itself,
	 * which holds the keys, 0700. */
	snprintf(path, sizeof(path), "%s", a.dir);
	for (char *c = path + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return cli_fail("%s: %s", path, strerror(errno));
		*c = '/';
	}
	if (mkdir(a.dir, 0700) < 0 && errno != EEXIST)
		return cli_fail("%s: %s", a.dir, strerror(errno));
	if (!realpath(a.dir, dir))
		return cli_fail("%s: %s", a.dir, strerror(errno));
	for (i = 0; i < sizeof(init_files) / sizeof(init_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, init_files[i]);
		if (access(path, F_OK) == 0)
			return cli_fail("%s already holds a cloud (%s exists); refusing to "
					"overwrite it", dir, init_files[i]);
	}
	/* cloud.conf keeps the control socket path, which must fit sun_path. */
	if (strlen(dir) + strlen("/cloud.sock") >= sizeof(((struct cloud_conf *)0)->control) ||
	    strlen(dir) + strlen("/cloud.db-wal") >= CLOUD_PATH_MAX)
		return cli_fail("%s: directory path too long (the control socket path must fit "
				"in 107 bytes)", dir);

	snprintf(path, sizeof(path), "%s/nodes", dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return cli_fail("%s: %s", path, strerror(errno));
	if (init_pki(dir, &a, addrs, naddrs) || init_trs_key(dir) || init_store(dir, &a, vip6) ||
	    init_conf(dir, &a, addrs, naddrs)) {
		init_cleanup(dir);
		return CLI_FAIL;
	}
	printf("cloud %s created in %s\n", a.domain, dir);
	printf("  virtual IPv4 %s, virtual IPv6 %s\n", a.vip4, vip6);
	printf("  start it: cyphonic-cloud -c %s/cloud.conf\n", dir);
	printf("  add a node: cyphonic node add NAME --dir %s\n", dir);
	return CLI_OK;
}
