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
 * once the store holds the node, so a failure leaves neither half.
 * The enrolment itself is src/admin's (admin_enrol), as in the console. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "cli.h"
#include "conf.h"

struct node_args {
	const char *cmd;        /* "node" or "adapter" */
	struct admin_enrol e;
	const char *dir;
	char tags[STORE_TAGS_MAX + 1];   /* the access policy's (policy.h) */
};

/* Write the config to DIR/nodes/NAME.conf.new, add n to the store, then
 * rename the config into place (path: its name), so a failure leaves
 * neither half. */
static int node_enrol(const struct node_args *a, struct store *st, struct store_node *n,
		      const char *text, char path[PATH_MAX])
{
	char tmp[PATH_MAX + 8], err[512];
	int rc;

	snprintf(path, PATH_MAX, "%s/nodes", a->dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return cli_fail("%s: %s", path, strerror(errno));
	snprintf(path, PATH_MAX, "%s/nodes/%s.conf", a->dir, a->e.name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	rc = cli_write_file(tmp, text, 0600);
	if (rc < 0)
		return cli_fail("%s: %s", tmp, strerror(-rc));
	if (admin_node_add(st, n, err, sizeof(err)) < 0) {
		unlink(tmp);
		return cli_fail("%s", err);
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
	char path[PATH_MAX], v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], err[512];
	char *text = NULL;
	int rc = CLI_FAIL;

	if (cli_cloud_conf(a->dir, &c) < 0 || cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	if (admin_enrol(st, &c, &a->e, &n, &text, err, sizeof(err)) < 0)
		cli_fail("%s", err);
	else if (node_enrol(a, st, &n, text, path) == 0)
		rc = CLI_OK;
	if (rc == CLI_OK) {
		printf("%s vip4 %s vip6 %s%s%s\n", n.fqdn,
		       inet_ntop(AF_INET, n.vip4, v4, sizeof(v4)),
		       inet_ntop(AF_INET6, n.vip6, v6, sizeof(v6)), n.tags[0] ? " tags " : "",
		       n.tags);
		printf("config: %s\n", path);
	}
	admin_config_free(text);
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
	struct node_args a = { .e.kind = kind };
	int opt;

	a.cmd = kind == CY_KIND_ADAPTER ? "adapter" : "node";
	a.e.tags = a.tags;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': a.dir = optarg; break;
		case 'p': a.e.password = optarg; break;
		case 't':
			if (cli_tag_add(a.tags, optarg))
				return CLI_FAIL;
			break;
		case 'C': {
			long v;

			if (!conf_parse_long(optarg, 1, 3650, &v))
				return cli_fail("--cert-days: '%s' is not a number of days from 1 "
						"to 3650", optarg);
			a.e.cert_days = (int)v;
			break;
		}
		case 'l':
			if (kind != CY_KIND_ADAPTER)
				return cli_usage(a.cmd);
			a.e.lan = optarg;
			break;
		default: return cli_usage(a.cmd);
		}
	}
	if (optind != argc - 1 || !a.dir || (kind == CY_KIND_ADAPTER && !a.e.lan))
		return cli_usage(a.cmd);
	a.e.name = argv[optind];
	return node_add(&a);
}

int cmd_node(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return cli_enrol_cmd(argc - 1, argv + 1, CY_KIND_NODE);
	return cli_subcmd_other("node", argc, argv);
}
