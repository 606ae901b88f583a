/* Revocation: the node's row stays (its name and VIPs reserved), its keys
 * and registration go, so its next login is refused and signaling with
 * its current key stops at once.  An adapter takes its general nodes
 * with it: they exist only through it, and the keys it obtained for them
 * must stop working now, not when they expire. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_impl.h"

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
static int revoke_gns(struct store *st, const struct cloud_conf *c, const struct store_node *ad,
		      admin_said_fn said, void *arg, char *err, size_t errlen)
{
	struct revoke_gns g = { 0 };
	char reason[CY_REASON_MAX + 1], fqdn[CY_FQDN_MAX + 2];
	int rc;

	rc = store_node_foreach(st, ad->id, revoke_collect, &g);
	if (rc == 0)
		rc = g.err;
	snprintf(reason, sizeof(reason), "adapter %s revoked", ad->name);
	for (size_t i = 0; rc == 0 && i < g.n; i++) {
		rc = store_node_revoke(st, g.names[i], reason);
		snprintf(fqdn, sizeof(fqdn), "%s.%s", g.names[i], c->domain);
		if (rc == 0 && said)
			said(arg, fqdn, reason);
	}
	free(g.names);
	if (rc < 0)
		return admin_err(err, errlen, -EIO,
				 "store: cannot revoke the general nodes of %s: %s", ad->fqdn,
				 strerror(-rc));
	return 0;
}

int admin_revoke(struct store *st, const struct cloud_conf *c, const char *name,
		 const char *reason, bool *already, admin_said_fn said, void *arg, char *err,
		 size_t errlen)
{
	struct store_node n;
	int rc;

	*already = false;
	if (!reason)
		reason = ADMIN_REVOKE_REASON;
	if (!cy_label_ok(name))
		return admin_err(err, errlen, -EINVAL, "'%s' is not a valid node name", name);
	if (strlen(reason) > CY_REASON_MAX || strpbrk(reason, "\r\n"))
		return admin_err(err, errlen, -EINVAL, "reason: one line of at most %d characters",
				 CY_REASON_MAX);
	rc = store_node_by_name(st, name, &n);
	if (rc == -ENOENT)
		return admin_err(err, errlen, -ENOENT,
				 "no node, adapter or general node named '%s' in %s", name,
				 c->domain);
	if (rc == 0 && n.revoked) {
		*already = true;
		snprintf(err, errlen, "%s", n.revoke_reason);
	} else if (rc == 0) {
		rc = store_node_revoke(st, name, reason);
		if (rc == 0 && said)
			said(arg, n.fqdn, reason);
	}
	if (rc < 0)
		return admin_err(err, errlen, -EIO, "store: cannot revoke %s: %s", name,
				 strerror(-rc));
	return n.kind == CY_KIND_ADAPTER ? revoke_gns(st, c, &n, said, arg, err, errlen) : 0;
}
