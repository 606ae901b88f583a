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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "idmap.h"
#include "log.h"
#include "privdrop.h"
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
	uint32_t seq;                    /* keepalives taken: a flush under way knows
					  * whether it wrote the latest */
};

/* The thread that writes keepalives: one batch at a time. */
enum flush_state { FLUSH_IDLE, FLUSH_QUEUED, FLUSH_DONE };

struct nms_flusher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct store *st;                /* its own connection */
	enum flush_state state;
	bool stop;
	struct store_reg *v;             /* the batch... */
	uint32_t *seq;                   /* ...each entry's seq when taken */
	int *res;
	size_t n;
	int rc;
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
	e->seq++;
	return 0;
}

struct flush {
	struct nms *n;
	struct store_reg *v;
	uint32_t *seq;
	size_t count, cap;
};

static void collect(struct idmap_node *hn, void *arg)
{
	struct flush *f = arg;
	struct nms_reg *e = IDMAP_ENTRY(hn, struct nms_reg, hn);

	if (!e->dirty || f->count == f->cap)
		return;
	to_store(f->n, e, &f->v[f->count]);
	f->seq[f->count++] = e->seq;
}

static void count_dirty(struct idmap_node *hn, void *arg)
{
	*(size_t *)arg += IDMAP_ENTRY(hn, struct nms_reg, hn)->dirty;
}

/* The keepalives to write now (at most NMS_REG_FLUSH_MAX; the rest the
 * next time): 0 with f filled (count 0: none), -ENOMEM. */
static int batch_take(struct nms *n, struct flush *f)
{
	memset(f, 0, sizeof(*f));
	f->n = n;
	idmap_each(&n->regs, count_dirty, &f->cap);
	if (!f->cap)
		return 0;
	if (f->cap > NMS_REG_FLUSH_MAX)
		f->cap = NMS_REG_FLUSH_MAX;
	f->v = malloc(f->cap * sizeof(*f->v));
	f->seq = malloc(f->cap * sizeof(*f->seq));
	if (!f->v || !f->seq) {
		free(f->v);
		free(f->seq);
		return -ENOMEM;
	}
	idmap_each(&n->regs, collect, f);
	return 0;
}

/* What the store said of a batch: rc for all, res[i] for each. */
static void batch_done(struct nms *n, const struct store_reg *v, const uint32_t *seq,
		       const int *res, size_t count, int rc)
{
	n->regs_unflushed = rc < 0;
	if (rc < 0) {
		LOG_RATELIMITED(&n->rl_log, "nms: %zu keepalives not written (store): "
				"trying again", count);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		struct nms_reg *e = reg_find(n, v[i].node_id);

		if (!e)
			continue;
		if (res[i] < 0) {
			/* moved to another host, or gone, meanwhile */
			nms_reg_forget(n, v[i].node_id);
		} else {
			e->checked_ms = clock_now_ms();
			if (e->seq == seq[i])   /* none came since */
				e->dirty = false;
		}
	}
}

static void flush_sync(struct nms *n)
{
	struct flush f;
	int *res;

	if (batch_take(n, &f) < 0 || !f.count)
		return;
	res = malloc(f.count * sizeof(*res));
	if (res)
		batch_done(n, f.v, f.seq, res, f.count,
			   store_reg_touch_many(n->st, f.v, f.count, res));
	free(res);
	free(f.v);
	free(f.seq);
}

static void *flusher_main(void *arg)
{
	struct nms_flusher *f = arg;

	/* It talks to the store only: with no privilege at all. */
	privdrop_thread();
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->stop && f->state != FLUSH_QUEUED)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop)
			break;
		pthread_mutex_unlock(&f->mu);
		f->rc = store_reg_touch_many(f->st, f->v, f->n, f->res);
		pthread_mutex_lock(&f->mu);
		f->state = FLUSH_DONE;
		pthread_cond_broadcast(&f->cv);   /* flusher_stop may wait for it */
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* The outcome of the batch the thread finished, if any, taken. */
static void flusher_reap(struct nms *n)
{
	struct nms_flusher *f = n->flusher;

	pthread_mutex_lock(&f->mu);
	if (f->state != FLUSH_DONE) {
		pthread_mutex_unlock(&f->mu);
		return;
	}
	f->state = FLUSH_IDLE;
	pthread_mutex_unlock(&f->mu);
	batch_done(n, f->v, f->seq, f->res, f->n, f->rc);
	free(f->v);
	free(f->seq);
	free(f->res);
	f->v = NULL;
	f->seq = NULL;
	f->res = NULL;
	f->n = 0;
}

void nms_regs_flush(struct nms *n)
{
	struct nms_flusher *f = n->flusher;
	struct flush b;
	bool idle;

	if (!f) {
		flush_sync(n);
		return;
	}
	flusher_reap(n);
	pthread_mutex_lock(&f->mu);
	idle = f->state == FLUSH_IDLE;
	pthread_mutex_unlock(&f->mu);
	if (!idle || batch_take(n, &b) < 0 || !b.count)
		return;   /* one batch at a time: the thread is still writing */
	f->res = malloc(b.count * sizeof(*f->res));
	if (!f->res) {
		free(b.v);
		free(b.seq);
		return;
	}
	f->v = b.v;
	f->seq = b.seq;
	f->n = b.count;
	pthread_mutex_lock(&f->mu);
	f->state = FLUSH_QUEUED;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

int nms_regs_thread(struct nms *n, const char *url)
{
	struct nms_flusher *f = calloc(1, sizeof(*f));
	char err[256];

	if (!f)
		return -ENOMEM;
	if (store_open(&f->st, url, err, sizeof(err)) < 0) {
		log_err("nms: a store connection for keepalives: %s", err);
		free(f);
		return -EIO;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (pthread_create(&f->thread, NULL, flusher_main, f) != 0) {
		store_close(f->st);
		free(f);
		return -EAGAIN;
	}
	n->flusher = f;
	return 0;
}

/* Stop the thread (the batch it holds written first), then write what is
 * left on the caller's connection. */
static void flusher_stop(struct nms *n)
{
	struct nms_flusher *f = n->flusher;

	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	while (f->state == FLUSH_QUEUED)  /* let it finish what it has */
		pthread_cond_wait(&f->cv, &f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	flusher_reap(n);
	store_close(f->st);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
	n->flusher = NULL;
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

void nms_regs_free(struct nms *n)
{
	flusher_stop(n);
	flush_sync(n);   /* the keepalives not written yet */
	idmap_each(&n->regs, reg_free, NULL);
	idmap_free(&n->regs);
}
