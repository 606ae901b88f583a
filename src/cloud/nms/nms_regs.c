/* The registrations this host holds, in memory (docs/cloud.md, "Load").
 *
 * A registration this host writes (a Registration Request) is kept here
 * as well as written to the store.  A keepalive then refreshes it here,
 * checked against what is kept (its key, this host, its endpoint, still
 * live), and every NMS_REG_FLUSH_MS the refreshed ones are written to the
 * store in one transaction, each only where the store still has that
 * registration on this host (store_reg_touch_many).  Route selection and
 * the signals between hosts read them from here, not from the store.
 *
 * Why the store may lag: what others read of a registration of this host
 * is its endpoint and key (written at once, with the registration) and
 * its expiry and counter mark, which trail by at most a flush.  A
 * registration lives registration_ttl (60 s) past its last keepalive, so
 * another host's expiry sweep never takes one that is alive here; and the
 * mark only has to be past every Registration Request, which is written
 * at once, for another host to refuse a replayed one (nms.c).
 *
 * When another host takes a node over, what is kept here is stale: the
 * next flush of a keepalive finds the store's row moved and forgets it;
 * one that is not refreshed any more is read from the store again once it
 * is NMS_REG_RECHECK_MS old.  Registrations of other hosts are never kept:
 * they are read from the store each time. */
#include "nms_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "idmap.h"
#include "log.h"
#include "store.h"

struct nms_reg {
	struct idmap_node hn;            /* id: the node's */
	uint64_t key_id, counter;
	int64_t updated, expires;
	int64_t checked_ms;              /* last written or read (clock_now_ms) */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} observed;
	uint8_t families, mapping;
	bool nat, dirty;                 /* dirty: a keepalive the store has not seen */
};

int nms_regs_init(struct nms *n)
{
	return idmap_init(&n->regs, NMS_BUCKETS);
}

static void reg_free(struct idmap_node *hn, void *arg)
{
	(void)arg;
	free(IDMAP_ENTRY(hn, struct nms_reg, hn));
}

static void drop_clean(struct idmap_node *hn, void *arg)
{
	struct nms_reg *e = IDMAP_ENTRY(hn, struct nms_reg, hn);

	if (!e->dirty) {   /* a keepalive not written yet stays: it is a count */
		idmap_del(arg, hn);
		free(e);
	}
}

void nms_regs_reread(struct nms *n)
{
	nms_regs_flush(n);
	idmap_each(&n->regs, drop_clean, &n->regs);
}

void nms_regs_free(struct nms *n)
{
	idmap_each(&n->regs, reg_free, NULL);
	idmap_free(&n->regs);
}

static struct nms_reg *reg_find(struct nms *n, int64_t node_id)
{
	return IDMAP_ENTRY(idmap_get(&n->regs, (uint64_t)node_id), struct nms_reg, hn);
}

void nms_reg_forget(struct nms *n, int64_t node_id)
{
	struct nms_reg *e = reg_find(n, node_id);

	if (e) {
		idmap_del(&n->regs, &e->hn);
		free(e);
	}
}

void nms_reg_kept(struct nms *n, const struct store_reg *r)
{
	struct nms_reg *e = reg_find(n, r->node_id);
	socklen_t len = addr_len((const struct sockaddr *)&r->observed);

	if (strcmp(r->host, n->host) || !len || len > sizeof(e->observed)) {
		nms_reg_forget(n, r->node_id);
		return;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return; /* read from the store instead */
		e->hn.id = (uint64_t)r->node_id;
		if (idmap_put(&n->regs, &e->hn) < 0) {
			free(e);
			return;
		}
	}
	e->key_id = r->key_id;
	e->counter = r->counter;
	e->updated = r->updated;
	e->expires = r->expires;
	e->checked_ms = clock_now_ms();
	memset(&e->observed, 0, sizeof(e->observed));
	memcpy(&e->observed, &r->observed, len);
	e->families = r->families;
	e->mapping = r->mapping;
	e->nat = r->nat;
	e->dirty = false;
}

static void to_store(const struct nms *n, const struct nms_reg *e, struct store_reg *r)
{
	memset(r, 0, sizeof(*r));
	r->node_id = (int64_t)e->hn.id;
	r->key_id = e->key_id;
	memcpy(&r->observed, &e->observed, sizeof(e->observed));
	r->families = e->families;
	r->nat = e->nat;
	r->mapping = e->mapping;
	r->counter = e->counter;
	snprintf(r->host, sizeof(r->host), "%s", n->host);
	r->updated = e->updated;
	r->expires = e->expires;
}

/* node_id's registration, from memory when what is kept was confirmed by
 * the store less than max_age_ms ago (or is a keepalive it has not seen
 * yet), else from the store. */
static int reg_get(struct nms *n, int64_t node_id, struct store_reg *out, int64_t max_age_ms)
{
	struct nms_reg *e = reg_find(n, node_id);
	int rc;

	if (e && (e->dirty || clock_now_ms() - e->checked_ms < max_age_ms)) {
		to_store(n, e, out);
		return 0;
	}
	rc = store_reg_get(n->st, node_id, out);
	if (rc == 0)
		nms_reg_kept(n, out);   /* this host's: kept; another's: forgotten */
	else if (rc == -ENOENT)
		nms_reg_forget(n, node_id);
	return rc;
}

int nms_reg_get(struct nms *n, int64_t node_id, struct store_reg *out)
{
	return reg_get(n, node_id, out, NMS_REG_RECHECK_MS);
}

int nms_reg_get_requester(struct nms *n, int64_t node_id, struct store_reg *out)
{
	return reg_get(n, node_id, out, 2 * NMS_REG_FLUSH_MS);
}

int nms_reg_keepalive(struct nms *n, struct nms_key *k, const struct sockaddr *from)
{
	struct nms_reg *e = reg_find(n, k->node_id);
	int64_t now = clock_now();
	struct store_reg r;
	int rc;

	if (!e || n->regs_unflushed) {
		/* Not kept (this process did not write it), or the last flush
		 * failed (the store is away: nothing is answered that it could
		 * not record, as before): the store decides, and what it
		 * confirms is kept here from then on. */
		memset(&r, 0, sizeof(r));
		r.node_id = k->node_id;
		r.key_id = k->key_id;
		snprintf(r.host, sizeof(r.host), "%s", n->host);
		memcpy(&r.observed, from, addr_len(from));
		r.counter = k->rx.top;
		r.updated = now;
		r.expires = now + n->conf.registration_ttl;
		rc = store_reg_touch(n->st, &r);
		if (rc == 0 && e) {
			e->counter = r.counter;
			e->updated = r.updated;
			e->expires = r.expires;
			e->checked_ms = clock_now_ms();
			e->dirty = false;   /* the store has the latest */
		} else if (rc == 0 && store_reg_get(n->st, k->node_id, &r) == 0) {
			nms_reg_kept(n, &r);
		}
		return rc;
	}
	if (e->key_id != k->key_id || e->expires <= now ||
	    !addr_equal(&e->observed.sa, from))
		return -ENOENT;
	e->counter = k->rx.top;
	e->updated = now;
	e->expires = now + n->conf.registration_ttl;
	e->dirty = true;
	return 0;
}

struct flush {
	struct nms *n;
	struct store_reg *v;
	struct nms_reg **e;
	size_t count, cap;
};

static void collect(struct idmap_node *hn, void *arg)
{
	struct flush *f = arg;
	struct nms_reg *e = IDMAP_ENTRY(hn, struct nms_reg, hn);

	if (!e->dirty || f->count == f->cap)
		return;
	to_store(f->n, e, &f->v[f->count]);
	f->e[f->count++] = e;
}

static void count_dirty(struct idmap_node *hn, void *arg)
{
	*(size_t *)arg += IDMAP_ENTRY(hn, struct nms_reg, hn)->dirty;
}

void nms_regs_flush(struct nms *n)
{
	struct flush f = { .n = n };
	int *res = NULL;
	int rc = 0;

	idmap_each(&n->regs, count_dirty, &f.cap);
	if (!f.cap)
		return;
	if (f.cap > NMS_REG_FLUSH_MAX)
		f.cap = NMS_REG_FLUSH_MAX;   /* the rest at the next flush */
	f.v = malloc(f.cap * sizeof(*f.v));
	f.e = malloc(f.cap * sizeof(*f.e));
	res = malloc(f.cap * sizeof(*res));
	if (f.v && f.e && res) {
		idmap_each(&n->regs, collect, &f);
		rc = store_reg_touch_many(n->st, f.v, f.count, res);
		n->regs_unflushed = rc < 0;
		for (size_t i = 0; rc == 0 && i < f.count; i++) {
			if (res[i] < 0) {
				/* moved to another host, or gone, meanwhile */
				nms_reg_forget(n, (int64_t)f.e[i]->hn.id);
			} else {
				f.e[i]->dirty = false;
				f.e[i]->checked_ms = clock_now_ms();
			}
		}
		if (rc < 0)
			LOG_RATELIMITED(&n->rl_log, "nms: %zu keepalives not written (store): "
					"trying again", f.count);
	}
	free(f.v);
	free(f.e);
	free(res);
}

static void expire_one(struct idmap_node *hn, void *arg)
{
	struct nms *n = arg;
	struct nms_reg *e = IDMAP_ENTRY(hn, struct nms_reg, hn);

	if (e->expires <= clock_now()) {
		idmap_del(&n->regs, hn);
		free(e);
	}
}

void nms_regs_expire(struct nms *n)
{
	idmap_each(&n->regs, expire_one, n);
}
