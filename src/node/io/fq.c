/* Flow queueing with CoDel (fq.h): RFC 8290's deficit round robin over a
 * new and an old list of flows, RFC 8289's CoDel per flow. */
#include "fq.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "codel.h"
#include "flowcheck.h"

#define SMALL_DATA 2048          /* a packet up to this is copied out of the read slot */
#define FREE_BIG 8               /* read-size buffers kept for reuse */
#define FREE_SMALL 512           /* small ones */

struct pkt {
	struct pkt *next;
	size_t len;
	size_t size;             /* bytes the buffer counts against the limit */
	int64_t t;               /* when it was read */
	uint8_t data[];
};

struct flow {
	struct pkt *head, *tail;
	struct flow *next;       /* in the new or the old list */
	size_t bytes;            /* packet bytes queued */
	long deficit;
	int list;                /* LIST_NONE, LIST_NEW, LIST_OLD */
	struct codel codel;
};

enum { LIST_NONE, LIST_NEW, LIST_OLD };

struct flist {
	struct flow *head, *tail;
};

struct dp_fq {
	struct dp_fq_conf c;
	struct codel_params cp;
	uint64_t key;
	struct flow flows[DP_FQ_FLOWS];
	struct flist new, old;
	struct pkt *slot;        /* the buffer the next read goes to */
	struct pkt *out;         /* the packet dp_fq_pop last gave */
	struct pkt *free_big, *free_small;
	unsigned n_free_big, n_free_small;
	struct dp_fq_stats st;
};

/* ---- classification ---- */

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

unsigned dp_fq_bucket(const uint8_t *pkt, size_t len, uint64_t key)
{
	uint8_t proto, ports[4];
	uint16_t sp, dp;
	bool has_ports, opens;
	uint64_t h = key;

	if (flow_classify(pkt, len, &proto, &sp, &dp, &has_ports, &opens) < 0)
		return 0;
	/* flow_classify read the fixed header: 20 bytes of IPv4, 40 of IPv6 */
	if (pkt[0] >> 4 == 4)
		h = mix(h, pkt + 12, 8);
	else
		h = mix(h, pkt + 8, 32);
	ports[0] = (uint8_t)(sp >> 8);
	ports[1] = (uint8_t)sp;
	ports[2] = (uint8_t)(dp >> 8);
	ports[3] = (uint8_t)dp;
	h = mix(h, &proto, 1);
	h = mix(h, ports, sizeof(ports));
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (unsigned)(h % DP_FQ_FLOWS);
}

/* ---- buffers ---- */

static struct pkt *buf_get(struct dp_fq *q, bool big)
{
	struct pkt **fl = big ? &q->free_big : &q->free_small;
	struct pkt *p = *fl;
	size_t data = big ? q->c.cap : SMALL_DATA;

	if (p) {
		*fl = p->next;
		if (big)
			q->n_free_big--;
		else
			q->n_free_small--;
	} else {
		p = malloc(sizeof(*p) + data);
		if (!p)
			return NULL;
	}
	p->next = NULL;
	p->size = data;
	return p;
}

static void buf_put(struct dp_fq *q, struct pkt *p)
{
	bool big = p->size != SMALL_DATA;
	unsigned *n = big ? &q->n_free_big : &q->n_free_small;

	if (*n >= (big ? FREE_BIG : FREE_SMALL)) {
		cy_wipe(p->data, p->size);   /* plaintext */
		free(p);
		return;
	}
	p->next = big ? q->free_big : q->free_small;
	if (big)
		q->free_big = p;
	else
		q->free_small = p;
	(*n)++;
}

static void buf_free(struct pkt *p)
{
	if (p)
		cy_wipe(p->data, p->size);   /* plaintext */
	free(p);
}

static void buf_list_free(struct pkt *p)
{
	while (p) {
		struct pkt *n = p->next;

		buf_free(p);
		p = n;
	}
}

/* ---- flows and lists ---- */

static void list_push(struct flist *l, struct flow *f)
{
	f->next = NULL;
	if (l->tail)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
}

static struct flow *list_pop(struct flist *l)
{
	struct flow *f = l->head;

	if (f) {
		l->head = f->next;
		if (!l->head)
			l->tail = NULL;
		f->next = NULL;
	}
	return f;
}

static struct pkt *flow_take(struct dp_fq *q, struct flow *f)
{
	struct pkt *p = f->head;

	if (!p)
		return NULL;
	f->head = p->next;
	if (!f->head)
		f->tail = NULL;
	p->next = NULL;
	f->bytes -= p->len;
	q->st.bytes -= p->size;
	q->st.backlog--;
	return p;
}

/* At the limit: the head of the flow with the largest backlog goes. */
static void drop_fattest(struct dp_fq *q)
{
	struct flow *fat = NULL;
	struct pkt *p;

	for (size_t i = 0; i < DP_FQ_FLOWS; i++)
		if (q->flows[i].head && (!fat || q->flows[i].bytes > fat->bytes))
			fat = &q->flows[i];
	if (!fat)
		return;
	p = flow_take(q, fat);
	q->st.overlimit++;
	buf_put(q, p);
}

/* ---- the object ---- */

struct dp_fq *dp_fq_new(const struct dp_fq_conf *conf)
{
	struct dp_fq *q;

	if (conf->cap <= conf->hdr || conf->cap < SMALL_DATA || conf->limit < 2 * conf->cap ||
	    conf->target_ns <= 0 || conf->interval_ns <= 0)
		return NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->c = *conf;
	q->cp = (struct codel_params){ conf->target_ns, conf->interval_ns };
	q->key = conf->key;
	if (!q->key && RAND_bytes((unsigned char *)&q->key, sizeof(q->key)) != 1) {
		free(q);
		return NULL;
	}
	return q;
}

void dp_fq_free(struct dp_fq *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < DP_FQ_FLOWS; i++)
		buf_list_free(q->flows[i].head);
	buf_list_free(q->free_big);
	buf_list_free(q->free_small);
	buf_free(q->slot);
	buf_free(q->out);
	free(q);
}

uint8_t *dp_fq_slot(struct dp_fq *q)
{
	if (!q->slot)
		q->slot = buf_get(q, true);
	return q->slot ? q->slot->data : NULL;
}

void dp_fq_push(struct dp_fq *q, size_t len, int64_t now_ns)
{
	struct pkt *p = q->slot;
	struct flow *f;

	if (!p || len <= q->c.hdr || len > q->c.cap) {
		q->st.unusable++;
		return;
	}
	if (len <= SMALL_DATA) {
		/* the read slot stays for the next read */
		p = buf_get(q, false);
		if (!p) {
			q->st.unusable++;
			return;
		}
		memcpy(p->data, q->slot->data, len);
	} else {
		q->slot = NULL;
	}
	while (q->st.bytes + p->size > q->c.limit && q->st.backlog)
		drop_fattest(q);
	p->len = len;
	p->t = now_ns;
	f = &q->flows[dp_fq_bucket(p->data + q->c.hdr, len - q->c.hdr, q->key)];
	if (f->tail)
		f->tail->next = p;
	else
		f->head = p;
	f->tail = p;
	f->bytes += len;
	q->st.bytes += p->size;
	q->st.backlog++;
	q->st.packets++;
	if (f->list == LIST_NONE) {
		f->list = LIST_NEW;
		f->deficit = DP_FQ_QUANTUM;
		list_push(&q->new, f);
	}
}

/* ---- serving ---- */

uint8_t *dp_fq_pop(struct dp_fq *q, int64_t now_ns, size_t *len, bool *signal)
{
	if (q->out) {
		buf_put(q, q->out);
		q->out = NULL;
	}
	for (;;) {
		struct flist *l = q->new.head ? &q->new : &q->old;
		struct flow *f = l->head;
		struct pkt *p;

		if (!f)
			return NULL;
		if (f->deficit <= 0) {
			f->deficit += DP_FQ_QUANTUM;
			list_pop(l);
			f->list = LIST_OLD;
			list_push(&q->old, f);
			continue;
		}
		p = flow_take(q, f);
		if (!p) {
			codel_idle(&f->codel);
			/* An emptied new flow goes behind the old ones once, so
			 * a flow cannot stay "new" by sending one packet at a
			 * time; an emptied old one leaves. */
			list_pop(l);
			if (l == &q->new) {
				f->list = LIST_OLD;
				list_push(&q->old, f);
			} else {
				f->list = LIST_NONE;
			}
			continue;
		}
		*signal = codel_signal(&f->codel, &q->cp, now_ns - p->t, f->bytes > DP_FQ_QUANTUM,
				       now_ns);
		q->st.signals += *signal;
		f->deficit -= (long)p->len;
		q->out = p;
		*len = p->len;
		return p->data;
	}
}

bool dp_fq_empty(const struct dp_fq *q) { return q->st.backlog == 0; }
const struct dp_fq_stats *dp_fq_stats(const struct dp_fq *q) { return &q->st; }
