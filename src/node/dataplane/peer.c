#include "peer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "tunnel.h"

#define PEER_BUCKETS 1024       /* per identity key; power of two */
#define PEER_IDX_BUCKETS 1024

/* 24 bytes (a 32-byte heap chunk): the claim time is kept modulo 2^32 ms
 * (49 days), enough for ages of minutes. */
struct peer_idx {
	struct peer_idx *next;
	struct peer *p;
	uint32_t idx;
	uint32_t at_ms;
};

struct peer_queue {
	uint8_t *pkt[PEER_QUEUE];
	uint16_t len[PEER_QUEUE];
};

static const char no_fqdn[] = "";

_Static_assert(PEER_QUEUE <= UINT8_MAX && PEER_WAITERS <= UINT8_MAX,
	       "struct peer counts them in a byte");

struct peer_table {
	struct peer **all;
	size_t n, cap;
	struct peer *fqdn[PEER_BUCKETS], *vip4[PEER_BUCKETS], *vip6[PEER_BUCKETS],
		*tid[PEER_BUCKETS];
	struct peer_idx *idx[PEER_IDX_BUCKETS];
	size_t nidx;
	int64_t claim_now_ms;
	void (*alt_free)(void *alt);
};

/* ---- hashing ---- */

static uint32_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

static uint32_t fnv(const uint8_t *b, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static size_t h_fqdn(const char *s)
{
	return fnv((const uint8_t *)s, strlen(s)) & (PEER_BUCKETS - 1);
}
static size_t h_vip4(const uint8_t *a) { return fnv(a, 4) & (PEER_BUCKETS - 1); }
static size_t h_vip6(const uint8_t *a) { return fnv(a, 16) & (PEER_BUCKETS - 1); }
static size_t h_tid(uint64_t id) { return mix64(id) & (PEER_BUCKETS - 1); }
static size_t h_idx(uint32_t idx) { return mix64(idx) & (PEER_IDX_BUCKETS - 1); }

/* Unlink p from a chain whose links live at offset off inside struct peer. */
#define CHAIN_DEL(head, p, field)                                       \
	do {                                                            \
		struct peer **pp_ = &(head);                            \
		while (*pp_ && *pp_ != (p))                             \
			pp_ = &(*pp_)->field;                           \
		if (*pp_)                                               \
			*pp_ = (p)->field;                              \
		(p)->field = NULL;                                      \
	} while (0)

/* ---- table ---- */

struct peer_table *peer_table_new(void)
{
	return calloc(1, sizeof(struct peer_table));
}

void peer_table_free(struct peer_table *t)
{
	if (!t)
		return;
	while (t->n)
		peer_del(t->all[t->n - 1]);
	for (size_t b = 0; b < PEER_IDX_BUCKETS; b++)
		while (t->idx[b]) {
			struct peer_idx *e = t->idx[b];

			t->idx[b] = e->next;
			free(e);
		}
	free(t->all);
	free(t);
}

struct peer *peer_new(struct peer_table *t)
{
	struct peer *p;

	if (t->n >= PEER_MAX)
		return NULL;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct peer **all = realloc(t->all, cap * sizeof(*all));

		if (!all)
			return NULL;
		t->all = all;
		t->cap = cap;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->fqdn = no_fqdn;
	p->tab = t;
	p->slot = (uint32_t)t->n;
	t->all[t->n++] = p;
	return p;
}

static void unindex_fqdn(struct peer *p)
{
	if (p->in_fqdn)
		CHAIN_DEL(p->tab->fqdn[h_fqdn(p->fqdn)], p, h_fqdn);
	p->in_fqdn = false;
}

static void unindex_vip4(struct peer *p)
{
	if (p->in_vip4)
		CHAIN_DEL(p->tab->vip4[h_vip4((const uint8_t *)&p->vip4)], p, h_vip4);
	p->in_vip4 = false;
}

static void unindex_vip6(struct peer *p)
{
	if (p->in_vip6)
		CHAIN_DEL(p->tab->vip6[h_vip6(p->vip6.s6_addr)], p, h_vip6);
	p->in_vip6 = false;
}

static void unindex_tid(struct peer *p)
{
	if (p->in_tid)
		CHAIN_DEL(p->tab->tid[h_tid(p->tunnel_id)], p, h_tid);
	p->in_tid = false;
}

/* Drop every index entry of p (peer_del, not the packet path). */
static void unindex_sessions(struct peer *p)
{
	struct peer_table *t = p->tab;

	for (size_t b = 0; b < PEER_IDX_BUCKETS; b++) {
		struct peer_idx **pp = &t->idx[b];

		while (*pp) {
			struct peer_idx *e = *pp;

			if (e->p == p) {
				*pp = e->next;
				free(e);
				t->nidx--;
			} else {
				pp = &e->next;
			}
		}
	}
}

void peer_table_set_alt_free(struct peer_table *t, void (*fn)(void *alt))
{
	t->alt_free = fn;
}

void peer_drop_alt(struct peer *p)
{
	if (p->alt && p->tab->alt_free)
		p->tab->alt_free(p->alt);
	p->alt = NULL;
}

void peer_del(struct peer *p)
{
	struct peer_table *t;

	if (!p)
		return;
	t = p->tab;
	peer_drop_alt(p);
	free(p->rules);
	unindex_fqdn(p);
	unindex_vip4(p);
	unindex_vip6(p);
	unindex_tid(p);
	tunnel_free(p->tunnel);
	p->tunnel = NULL;
	unindex_sessions(p);
	peer_queue_clear(p);
	peer_waiters_clear(p);
	if (p->fqdn != no_fqdn)
		free((char *)p->fqdn);
	t->all[p->slot] = t->all[t->n - 1];
	t->all[p->slot]->slot = p->slot;
	t->n--;
	cy_wipe(p, sizeof(*p));
	free(p);
}

int peer_set_fqdn(struct peer *p, const char *fqdn)
{
	struct peer *o;
	size_t len = strlen(fqdn);
	char *copy;

	if (!len || len > CY_FQDN_MAX)
		return -EINVAL;
	o = peer_by_fqdn(p->tab, fqdn);
	if (o == p)
		return 0;
	if (o)
		return -EEXIST;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, fqdn, len + 1);
	unindex_fqdn(p);
	if (p->fqdn != no_fqdn)
		free((char *)p->fqdn);
	p->fqdn = copy;
	p->h_fqdn = p->tab->fqdn[h_fqdn(p->fqdn)];
	p->tab->fqdn[h_fqdn(p->fqdn)] = p;
	p->in_fqdn = true;
	return 0;
}

int peer_set_vip4(struct peer *p, const struct in_addr *a)
{
	struct peer *o = peer_by_vip4(p->tab, (const uint8_t *)a);

	if (o == p)
		return 0;
	if (o)
		return -EEXIST;
	unindex_vip4(p);
	p->vip4 = *a;
	p->have_vip4 = true;
	p->h_vip4 = p->tab->vip4[h_vip4((const uint8_t *)a)];
	p->tab->vip4[h_vip4((const uint8_t *)a)] = p;
	p->in_vip4 = true;
	return 0;
}

int peer_set_vip6(struct peer *p, const struct in6_addr *a)
{
	struct peer *o = peer_by_vip6(p->tab, a->s6_addr);

	if (o == p)
		return 0;
	if (o)
		return -EEXIST;
	unindex_vip6(p);
	p->vip6 = *a;
	p->have_vip6 = true;
	p->h_vip6 = p->tab->vip6[h_vip6(a->s6_addr)];
	p->tab->vip6[h_vip6(a->s6_addr)] = p;
	p->in_vip6 = true;
	return 0;
}

void peer_endpoint_get(const struct peer *p, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &p->endpoint, sizeof(p->endpoint));
}

void peer_set_tunnel(struct peer *p, struct tunnel *tun, uint64_t tunnel_id, int64_t now_ms)
{
	unindex_tid(p);
	if (p->tunnel != tun || p->tunnel_id != tunnel_id) {
		peer_drop_alt(p);
		free(p->rules);      /* they were the old route's */
		p->rules = NULL;
	}
	if (p->tunnel != tun)
		tunnel_free(p->tunnel);
	p->tunnel = tun;
	p->tunnel_id = tun ? tunnel_id : 0;
	p->tunnel_at_ms = now_ms;
	p->move_since_ms = 0;   /* a move is about the tunnel it was told over */
	if (!tun)
		return;
	p->h_tid = p->tab->tid[h_tid(tunnel_id)];
	p->tab->tid[h_tid(tunnel_id)] = p;
	p->in_tid = true;
}

struct peer *peer_by_fqdn(const struct peer_table *t, const char *fqdn)
{
	struct peer *p;

	for (p = t->fqdn[h_fqdn(fqdn)]; p; p = p->h_fqdn)
		if (!strcmp(p->fqdn, fqdn))
			return p;
	return NULL;
}

struct peer *peer_by_vip4(const struct peer_table *t, const uint8_t a[4])
{
	struct peer *p;

	for (p = t->vip4[h_vip4(a)]; p; p = p->h_vip4)
		if (!memcmp(&p->vip4, a, 4))
			return p;
	return NULL;
}

struct peer *peer_by_vip6(const struct peer_table *t, const uint8_t a[16])
{
	struct peer *p;

	for (p = t->vip6[h_vip6(a)]; p; p = p->h_vip6)
		if (!memcmp(p->vip6.s6_addr, a, 16))
			return p;
	return NULL;
}

struct peer *peer_by_tid(const struct peer_table *t, uint64_t tunnel_id)
{
	struct peer *p;

	for (p = t->tid[h_tid(tunnel_id)]; p; p = p->h_tid)
		if (p->tunnel_id == tunnel_id)
			return p;
	return NULL;
}

struct peer *peer_by_index(const struct peer_table *t, uint32_t idx)
{
	struct peer_idx *e;

	for (e = t->idx[h_idx(idx)]; e; e = e->next)
		if (e->idx == idx)
			return e->p;
	return NULL;
}

struct peer *peer_by_req(const struct peer_table *t, uint32_t req_id)
{
	if (!req_id)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (t->all[i]->req_id == req_id)
			return t->all[i];
	return NULL;
}

/* ---- session indexes ---- */

bool peer_index_claim(void *ctx, uint32_t idx)
{
	struct peer *p = ctx;
	struct peer_table *t = p->tab;
	struct peer_idx *e;

	if (peer_by_index(t, idx))
		return true;
	e = malloc(sizeof(*e));
	if (!e)
		return true;   /* the tunnel draws another; a later one may fit */
	e->idx = idx;
	e->at_ms = (uint32_t)t->claim_now_ms;
	e->p = p;
	e->next = t->idx[h_idx(idx)];
	t->idx[h_idx(idx)] = e;
	t->nidx++;
	return false;
}

void peer_index_purge(struct peer_table *t, int64_t now_ms, int64_t max_age_ms)
{
	uint32_t now32 = (uint32_t)now_ms;

	t->claim_now_ms = now_ms;
	for (size_t b = 0; b < PEER_IDX_BUCKETS; b++) {
		struct peer_idx **pp = &t->idx[b];

		while (*pp) {
			struct peer_idx *e = *pp;

			if ((int64_t)(uint32_t)(now32 - e->at_ms) > max_age_ms &&
			    (!e->p->tunnel || !tunnel_has_index(e->p->tunnel, e->idx))) {
				*pp = e->next;
				free(e);
				t->nidx--;
			} else {
				pp = &e->next;
			}
		}
	}
}

size_t peer_index_count(const struct peer_table *t)
{
	return t->nidx;
}

/* ---- queue and waiters ---- */

int peer_queue_push(struct peer *p, const uint8_t *pkt, size_t len)
{
	unsigned at = (p->qhead + p->qcount) % PEER_QUEUE;
	uint8_t *c;

	if (p->qcount >= PEER_QUEUE)
		return -ENOBUFS;
	if (len > UINT16_MAX)
		return -EMSGSIZE;
	if (!p->queue && !(p->queue = calloc(1, sizeof(*p->queue))))
		return -ENOMEM;
	c = malloc(len ? len : 1);
	if (!c) {
		if (!p->qcount)
			peer_queue_clear(p);
		return -ENOMEM;
	}
	memcpy(c, pkt, len);
	p->queue->pkt[at] = c;
	p->queue->len[at] = (uint16_t)len;
	p->qcount++;
	return 0;
}

const uint8_t *peer_queue_front(const struct peer *p, size_t *len)
{
	if (!p->qcount)
		return NULL;
	*len = p->queue->len[p->qhead];
	return p->queue->pkt[p->qhead];
}

void peer_queue_pop(struct peer *p)
{
	if (!p->qcount)
		return;
	free(p->queue->pkt[p->qhead]);
	p->queue->pkt[p->qhead] = NULL;
	p->qhead = (p->qhead + 1) % PEER_QUEUE;
	p->qcount--;
	if (!p->qcount)
		peer_queue_clear(p);   /* nothing waits: the ring goes */
}

unsigned peer_queue_clear(struct peer *p)
{
	unsigned n = p->qcount;

	while (p->qcount) {
		free(p->queue->pkt[p->qhead]);
		p->qhead = (p->qhead + 1) % PEER_QUEUE;
		p->qcount--;
	}
	free(p->queue);
	p->queue = NULL;
	p->qhead = 0;
	return n;
}

int peer_waiter_add(struct peer *p, enum peer_waiter_kind kind, uint64_t token)
{
	for (unsigned i = 0; i < p->nwaiters; i++)
		if (p->waiters[i].kind == kind && p->waiters[i].token == token)
			return 0;
	if (p->nwaiters >= PEER_WAITERS)
		return -ENOBUFS;
	if (!p->waiters && !(p->waiters = calloc(PEER_WAITERS, sizeof(*p->waiters))))
		return -ENOMEM;
	p->waiters[p->nwaiters].kind = kind;
	p->waiters[p->nwaiters].token = token;
	p->nwaiters++;
	return 0;
}

void peer_waiters_clear(struct peer *p)
{
	free(p->waiters);
	p->waiters = NULL;
	p->nwaiters = 0;
}

size_t peer_count(const struct peer_table *t)
{
	return t->n;
}

struct peer *peer_at(const struct peer_table *t, size_t i)
{
	return i < t->n ? t->all[i] : NULL;
}

unsigned peer_merge_into(struct peer *dst, struct peer *p)
{
	unsigned dropped = 0;
	const uint8_t *pkt;
	size_t len;

	for (unsigned i = 0; i < p->nwaiters; i++)
		(void)peer_waiter_add(dst, p->waiters[i].kind, p->waiters[i].token);
	while ((pkt = peer_queue_front(p, &len))) {
		if (peer_queue_push(dst, pkt, len) < 0)
			dropped++;
		peer_queue_pop(p);
	}
	if (!dst->req_id)
		dst->req_id = p->req_id;
	peer_del(p);
	return dropped;
}

const char *peer_state_str(enum peer_state st)
{
	switch (st) {
	case PEER_IDLE: return "idle";
	case PEER_SELECTING: return "selecting";
	case PEER_HANDSHAKE: return "handshake";
	case PEER_UP: return "up";
	case PEER_FAILED: return "failed";
	}
	return "?";
}
