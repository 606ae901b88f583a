/* cyphonic node add NAME --dir DIR [--password PW] [--tag TAG]... [--cert-days N]
 * cyphonic adapter add NAME --dir DIR --lan IFACE [--password PW] [--tag TAG]...
 *     [--cert-days N]
 *     (cmd_adapter.c calls cli_enrol_cmd() here)
 *
 * Enrols NAME.DOMAIN (kind node or adapter): issues its certificate (Ed25519, CN = SAN = FQDN; with
 * --password no certificate, the device logs in with ID + password; the
 * certificate lives [as] cert_days or --cert-days, and the AS renews it),
 * allocates its virtual IPv4 and IPv6 in the store, and writes
 * DIR/nodes/NAME.conf (mode 0600) with everything cyphonicd needs (an
 * adapter's also has its [adapter] section with lan = IFACE).  The
 * config is written to a temporary file first and only renamed into place
 * once the store holds the node, so a failure leaves neither half. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "aead.h"
#include "ca.h"
#include "cli.h"
#include "cliconf.h"
#include "conf.h"
#include "node_conf.h"
#include "pwhash.h"

struct node_args {
	const char *cmd;        /* "node" or "adapter" */
	enum cy_kind kind;
	const char *name, *dir, *password, *lan;
	int cert_days;          /* 0: [as] cert_days */
	char tags[STORE_TAGS_MAX + 1];   /* the access policy's (policy.h) */
};

/* The node's cloud= list: the hosts of the AS's nms= list. */
static void node_cloud_list(const struct cloud_conf *c, char *out, size_t len)
{
	char ip[ADDR_STR_MAX];
	size_t i, off = 0;

	out[0] = '\0';
	for (i = 0; i < c->nnms && off < len; i++)
		off += snprintf(out + off, len - off, "%s%s", i ? "," : "",
				addr_ip_str((const struct sockaddr *)&c->nms[i], ip));
}

/* Certificate and key PEM for fqdn, and the certificate's serial. */
static int node_issue(const struct cloud_conf *c, const char *fqdn, int days, char **cert_pem,
		      char **key_pem, char serial[CA_SERIAL_MAX + 1])
{
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *x = NULL;
	char err[512];
	int rc = -1;

	*cert_pem = *key_pem = NULL;
	if (!c->ca_key[0])
		return cli_fail("cloud.conf has no ca_key: this host cannot issue certificates");
	if (ca_load(c->ca_cert, c->ca_key, &ca, &ca_key, err, sizeof(err)) < 0)
		return cli_fail("CA: %s", err);
	key = ca_key_new();
	x = key ? ca_issue_node(ca, ca_key, key, fqdn, days) : NULL;
	if (!x || ca_serial_hex(x, serial) < 0) {
		cli_fail("cannot issue the certificate of %s", fqdn);
		goto out;
	}
	*cert_pem = ca_cert_pem(x);
	*key_pem = ca_key_pem(key);
	if (!*cert_pem || !*key_pem) {
		cli_fail("out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc) {
		ca_pem_free(*cert_pem);
		ca_pem_free(*key_pem);
		*cert_pem = *key_pem = NULL;
	}
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	return rc;
}

static char *node_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return NULL;
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* --password enrols a device for ID + password login instead of a
 * certificate: its config carries the password and no key pair.  Sets
 * n's certificate serial or password hash (also in pw). */
static int node_credentials(const struct node_args *a, const struct cloud_conf *c,
			    struct store_node *n, char **cert_pem, char **key_pem,
			    char pw[PWHASH_MAX])
{
	char serial[CA_SERIAL_MAX + 1];

	if (!a->password) {
		if (node_issue(c, n->fqdn, a->cert_days ? a->cert_days : c->cert_days, cert_pem,
			       key_pem, serial) != 0)
			return CLI_FAIL;
		strcpy(n->cert_serial, serial);
	}
	if (a->password && pwhash_create(a->password, pw) < 0)
		return cli_fail("cannot hash the password");
	strcpy(n->pwhash, pw);
	return 0;
}

/* The node's config text, with the CA certificate (read into *ca_pem);
 * NULL when it cannot be made (said why). */
static char *node_config(const struct node_args *a, const struct cloud_conf *c,
			 const char *cert_pem, const char *key_pem, char **ca_pem)
{
	struct cliconf_node cn = { 0 };
	char cloud[512], *text;

	*ca_pem = node_read_file(c->ca_cert);
	if (!*ca_pem) {
		cli_fail("%s: %s", c->ca_cert, strerror(errno));
		return NULL;
	}
	node_cloud_list(c, cloud, sizeof(cloud));
	cn.name = a->name;
	cn.domain = c->domain;
	cn.cloud = cloud;
	cn.ca_pem = *ca_pem;
	cn.cert_pem = cert_pem;
	cn.key_pem = key_pem;
	cn.password = a->password;
	cn.adapter_lan = a->kind == CY_KIND_ADAPTER ? a->lan : NULL;
	text = cliconf_node(&cn);
	if (!text)
		cli_fail("cannot write the node configuration");
	return text;
}

/* Write the config to DIR/nodes/NAME.conf.new, add n to the store, then
 * rename the config into place (path: its name), so a failure leaves
 * neither half. */
static int node_enrol(const struct node_args *a, struct store *st, struct store_node *n,
		      const char *text, char path[PATH_MAX])
{
	char tmp[PATH_MAX + 8];
	int err;

	snprintf(path, PATH_MAX, "%s/nodes", a->dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return cli_fail("%s: %s", path, strerror(errno));
	snprintf(path, PATH_MAX, "%s/nodes/%s.conf", a->dir, a->name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	err = cli_write_file(tmp, text, 0600);
	if (err < 0)
		return cli_fail("%s: %s", tmp, strerror(-err));
	err = store_node_add(st, n);
	if (err < 0) {
		unlink(tmp);
		if (err == -EEXIST)
			return cli_fail("%s is already enrolled", n->fqdn);
		return cli_node_add_fail(n, err);
	}
	if (rename(tmp, path) < 0)
		return cli_fail("%s: %s (the node is enrolled; its config is in %s)", path,
				strerror(errno), tmp);
	return 0;
}

static int node_add(const struct node_args *a)
{
	struct cloud_conf c;
	struct store *st = NULL;
	struct store_node n;
	char pw[PWHASH_MAX] = "", path[PATH_MAX], v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN];
	char *cert_pem = NULL, *key_pem = NULL, *ca_pem = NULL, *text = NULL;
	int rc = CLI_FAIL;

	if (cli_node_start(a->dir, a->name, &c, &n))
		return CLI_FAIL;
	n.kind = a->kind;
	strcpy(n.tags, a->tags);
	if (cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	if (cli_name_unused(st, a->name) ||
	    node_credentials(a, &c, &n, &cert_pem, &key_pem, pw))
		goto out;
	text = node_config(a, &c, cert_pem, key_pem, &ca_pem);
	if (!text || node_enrol(a, st, &n, text, path))
		goto out;
	printf("%s vip4 %s vip6 %s%s%s\n", n.fqdn, inet_ntop(AF_INET, n.vip4, v4, sizeof(v4)),
	       inet_ntop(AF_INET6, n.vip6, v6, sizeof(v6)), n.tags[0] ? " tags " : "", n.tags);
	printf("config: %s\n", path);
	rc = CLI_OK;
out:
	cy_wipe(pw, sizeof(pw));
	cliconf_free(text);
	ca_pem_free(cert_pem);
	ca_pem_free(key_pem);
	free(ca_pem);
	store_close(st);
	return rc;
}

int cli_enrol_cmd(int argc, char **argv, enum cy_kind kind)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "password", required_argument, NULL, 'p' },
		{ "lan", required_argument, NULL, 'l' },
		{ "tag", required_argument, NULL, 't' },
		{ "cert-days", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_args a = { .kind = kind };
	int opt;

	a.cmd = kind == CY_KIND_ADAPTER ? "adapter" : "node";
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': a.dir = optarg; break;
		case 'p': a.password = optarg; break;
		case 't':
			if (cli_tag_add(a.tags, optarg))
				return CLI_FAIL;
			break;
		case 'C': {
			long v;

			if (!conf_parse_long(optarg, 1, 3650, &v))
				return cli_fail("--cert-days: '%s' is not a number of days from 1 "
						"to 3650", optarg);
			a.cert_days = (int)v;
			break;
		}
		case 'l':
			if (kind != CY_KIND_ADAPTER)
				return cli_usage(a.cmd);
			a.lan = optarg;
			break;
		default: return cli_usage(a.cmd);
		}
	}
	if (optind != argc - 1 || !a.dir || (kind == CY_KIND_ADAPTER && !a.lan))
		return cli_usage(a.cmd);
	a.name = argv[optind];
	if (!cy_label_ok(a.name))
		return cli_fail("'%s' is not a valid %s name: one DNS label, lowercase a-z, "
				"0-9 and '-', at most %d characters", a.name, a.cmd, CY_NAME_MAX);
	if (a.lan && !node_conf_ifname_ok(a.lan))
		return cli_fail("--lan: '%s' is not an interface name (1..15 characters, no '/', "
				"':' or spaces)", a.lan);
	if (a.password && !cliconf_password_ok(a.password))
		return cli_fail("--password: use 1 to %d printable ASCII characters without ';', "
				"'#' or leading/trailing spaces", CY_PASSWORD_MAX);
	return node_add(&a);
}

int cmd_node(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return cli_enrol_cmd(argc - 1, argv + 1, CY_KIND_NODE);
	return cli_subcmd_other("node", argc, argv);
}
