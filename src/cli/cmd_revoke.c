/* cyphonic revoke NAME --dir DIR [--reason TEXT]
 *
 * Marks the node, adapter or general node revoked (its name and VIPs stay
 * reserved) and deletes its common keys and registration, so its next
 * login is refused and signaling with its current key stops at once; the
 * running cloud is told, and tears its tunnels down (both ends drop the
 * keys).
 * Revoking an adapter revokes its general nodes too: they exist only
 * through it, and the keys it obtained for them must stop working now,
 * not when they expire. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define REVOKE_DEFAULT_REASON "revoked by the administrator"

struct revoke_gns {
	char (*names)[CY_NAME_MAX + 1];
	size_t n, cap;
	int err;
};

static int revoke_collect(const struct store_node *n, void *arg)
{
	struct revoke_gns *g = arg;

	if (n->revoked || n->kind != CY_KIND_GN)
		return 0;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		void *p = realloc(g->names, cap * sizeof(*g->names));

		if (!p) {
			g->err = -ENOMEM;
			return 1;
		}
		g->names = p;
		g->cap = cap;
	}
	strcpy(g->names[g->n++], n->name);
	return 0;
}

/* The general nodes of adapter ad, collected first and revoked after the
 * walk (no writes while the store iterates). */
static int revoke_gns(struct store *st, const struct store_node *ad, const char *domain)
{
	struct revoke_gns g = { 0 };
	char reason[CY_REASON_MAX + 1];
	int rc;

	rc = store_node_foreach(st, ad->id, revoke_collect, &g);
	if (rc == 0)
		rc = g.err;
	snprintf(reason, sizeof(reason), "adapter %s revoked", ad->name);
	for (size_t i = 0; rc == 0 && i < g.n; i++) {
		rc = store_node_revoke(st, g.names[i], reason);
		if (rc == 0)
			printf("%s.%s revoked: %s\n", g.names[i], domain, reason);
	}
	free(g.names);
	if (rc < 0)
		cli_fail("store: cannot revoke the general nodes of %s: %s", ad->fqdn,
			 strerror(-rc));
	return rc;
}

int cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *reason = REVOKE_DEFAULT_REASON, *name;
	struct cloud_conf c;
	struct store *st;
	struct store_node n;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'r': reason = optarg; break;
		default: return cli_usage("revoke");
		}
	}
	if (optind != argc - 1 || !dir)
		return cli_usage("revoke");
	name = argv[optind];
	if (!cy_label_ok(name))
		return cli_fail("'%s' is not a valid node name", name);
	if (strlen(reason) > CY_REASON_MAX || strchr(reason, '\n'))
		return cli_fail("--reason: one line of at most %d characters", CY_REASON_MAX);
	if (cli_cloud_conf(dir, &c) < 0 || cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	rc = store_node_by_name(st, name, &n);
	if (rc == 0 && n.revoked) {
		printf("%s was already revoked (%s)\n", n.fqdn, n.revoke_reason);
		/* Finish an adapter's revocation that stopped half-way. */
		rc = n.kind == CY_KIND_ADAPTER ? revoke_gns(st, &n, c.domain) : 0;
		store_close(st);
		return rc < 0 ? CLI_FAIL : CLI_OK;
	}
	if (rc == 0)
		rc = store_node_revoke(st, name, reason);
	if (rc == 0)
		printf("%s revoked: %s\n", n.fqdn, reason);
	if (rc == 0 && n.kind == CY_KIND_ADAPTER && revoke_gns(st, &n, c.domain) < 0) {
		store_close(st);
		return CLI_FAIL;
	}
	store_close(st);
	if (rc == -ENOENT)
		return cli_fail("no node, adapter or general node named '%s' in %s", name,
				c.domain);
	if (rc < 0)
		return cli_fail("store: cannot revoke %s: %s", name, strerror(-rc));
	/* Its tunnels end now, not at its next login (docs/policy.md). */
	cli_cloud_authz(&c);
	return CLI_OK;
}
