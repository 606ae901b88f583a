/* The nodes the NMS asks about, cached: what registration, route
 * selection, the access policy and the grants read of a node (its id,
 * FQDN, kind, VIPs, tags, whether revoked), by id and by FQDN.
 *
 * A node's row changes only when it is revoked or its tags change (both
 * tell the NMS: nms_authz_check moves the key cache's generation, which
 * this cache follows), or by hand in the store: an entry is read again
 * after NMS_NODE_RECHECK_MS and in a new generation.  Entries hold only
 * those fields, the strings at their length (about 150 bytes a node); the
 * expiry sweep frees those past their time. */
#include "nms_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "idmap.h"
#include "store.h"

struct nms_node {
	struct idmap_node by_id;       /* id: the node's */
	struct idmap_node by_fqdn;     /* id: fqdn_key(fqdn) */
	int64_t adapter_id, created;
	int64_t checked_ms;
	uint64_t gen;
	uint8_t vip4[4], vip6[16], mac[6];
	uint8_t kind;
	bool revoked;
	char *tags;                    /* in the same allocation, after fqdn */
	char fqdn[];
};

struct nms_nodes {
	struct idmap by_id, by_fqdn;
};

/* FQDNs are found by a 64-bit hash; two that share one (never seen in
 * practice) only miss each other's entry and read the store. */
static uint64_t fqdn_key(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

int nms_nodes_init(struct nms *n)
{
	struct nms_nodes *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	n->nodes = c;
	if (idmap_init(&c->by_id, NMS_BUCKETS) < 0 || idmap_init(&c->by_fqdn, NMS_BUCKETS) < 0) {
		nms_nodes_free(n);
		return -ENOMEM;
	}
	return 0;
}

static struct nms_node *find_id(struct nms_nodes *c, int64_t id)
{
	return IDMAP_ENTRY(idmap_get(&c->by_id, (uint64_t)id), struct nms_node, by_id);
}

static struct nms_node *find_fqdn(struct nms_nodes *c, const char *fqdn)
{
	struct nms_node *e = IDMAP_ENTRY(idmap_get(&c->by_fqdn, fqdn_key(fqdn)), struct nms_node,
					 by_fqdn);

	return e && !strcmp(e->fqdn, fqdn) ? e : NULL;
}

static void node_drop(struct nms_nodes *c, struct nms_node *e)
{
	idmap_del(&c->by_id, &e->by_id);
	idmap_del(&c->by_fqdn, &e->by_fqdn);
	free(e);
}

static bool fresh(const struct nms *n, const struct nms_node *e)
{
	return e->gen == n->key_gen && clock_now_ms() - e->checked_ms < NMS_NODE_RECHECK_MS;
}

static void to_store(const struct nms_node *e, struct store_node *out)
{
	const char *dot = strchr(e->fqdn, '.');
	size_t nlen = dot ? (size_t)(dot - e->fqdn) : strlen(e->fqdn);

	memset(out, 0, sizeof(*out));
	out->id = (int64_t)e->by_id.id;
	if (nlen > CY_NAME_MAX)
		nlen = CY_NAME_MAX;
	memcpy(out->name, e->fqdn, nlen);   /* the FQDN is NAME.domain */
	snprintf(out->fqdn, sizeof(out->fqdn), "%s", e->fqdn);
	out->kind = (enum cy_kind)e->kind;
	out->adapter_id = e->adapter_id;
	memcpy(out->mac, e->mac, sizeof(out->mac));
	memcpy(out->vip4, e->vip4, sizeof(out->vip4));
	memcpy(out->vip6, e->vip6, sizeof(out->vip6));
	out->revoked = e->revoked;
	out->created = e->created;
	snprintf(out->tags, sizeof(out->tags), "%s", e->tags);
}

/* Keep what the store said of node s, in place of what was kept of it
 * (or of another node under its FQDN's hash). */
static void keep(struct nms *n, const struct store_node *s)
{
	struct nms_nodes *c = n->nodes;
	size_t flen = strlen(s->fqdn) + 1, tlen = strlen(s->tags) + 1;
	struct nms_node *e, *old;

	if ((old = find_id(c, s->id)))
		node_drop(c, old);
	old = IDMAP_ENTRY(idmap_get(&c->by_fqdn, fqdn_key(s->fqdn)), struct nms_node, by_fqdn);
	if (old)
		node_drop(c, old);
	e = malloc(sizeof(*e) + flen + tlen);
	if (!e)
		return; /* not kept: asked of the store next time */
	memset(e, 0, sizeof(*e));
	e->by_id.id = (uint64_t)s->id;
	e->by_fqdn.id = fqdn_key(s->fqdn);
	e->adapter_id = s->adapter_id;
	e->created = s->created;
	e->checked_ms = clock_now_ms();
	e->gen = n->key_gen;
	memcpy(e->vip4, s->vip4, sizeof(e->vip4));
	memcpy(e->vip6, s->vip6, sizeof(e->vip6));
	memcpy(e->mac, s->mac, sizeof(e->mac));
	e->kind = (uint8_t)s->kind;
	e->revoked = s->revoked;
	memcpy(e->fqdn, s->fqdn, flen);
	e->tags = e->fqdn + flen;
	memcpy(e->tags, s->tags, tlen);
	if (idmap_put(&c->by_id, &e->by_id) < 0) {
		free(e);
		return;
	}
	if (idmap_put(&c->by_fqdn, &e->by_fqdn) < 0) {
		idmap_del(&c->by_id, &e->by_id);
		free(e);
	}
}

/* The cached e when fresh, else the store's answer (kept, or what was
 * kept dropped when the node is gone). */
static int lookup(struct nms *n, struct nms_node *e, int rc_store, struct store_node *out)
{
	if (rc_store == 0)
		keep(n, out);
	else if (rc_store == -ENOENT && e)
		node_drop(n->nodes, e);
	return rc_store;
}

int nms_node_by_id(struct nms *n, int64_t id, struct store_node *out)
{
	struct nms_node *e = find_id(n->nodes, id);

	if (e && fresh(n, e)) {
		to_store(e, out);
		return 0;
	}
	return lookup(n, e, store_node_by_id(n->st, id, out), out);
}

int nms_node_by_fqdn(struct nms *n, const char *fqdn, struct store_node *out)
{
	struct nms_node *e = find_fqdn(n->nodes, fqdn);

	if (e && fresh(n, e)) {
		to_store(e, out);
		return 0;
	}
	return lookup(n, e, store_node_by_fqdn(n->st, fqdn, out), out);
}

static void expire_one(struct idmap_node *hn, void *arg)
{
	struct nms *n = arg;
	struct nms_node *e = IDMAP_ENTRY(hn, struct nms_node, by_id);

	if (!fresh(n, e))
		node_drop(n->nodes, e);
}

void nms_nodes_expire(struct nms *n)
{
	idmap_each(&n->nodes->by_id, expire_one, n);
}

static void free_one(struct idmap_node *hn, void *arg)
{
	(void)arg;
	free(IDMAP_ENTRY(hn, struct nms_node, by_id));
}

void nms_nodes_free(struct nms *n)
{
	struct nms_nodes *c = n->nodes;

	if (!c)
		return;
	idmap_each(&c->by_id, free_one, NULL);
	idmap_free(&c->by_id);
	idmap_free(&c->by_fqdn);
	free(c);
	n->nodes = NULL;
}
