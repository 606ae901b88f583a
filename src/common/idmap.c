#include "idmap.h"

#include <errno.h>
#include <stdlib.h>

#define IDMAP_MAX_BUCKETS ((size_t)1 << 24)

static size_t bucket(const struct idmap *m, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (m->nbuckets - 1);
}

int idmap_init(struct idmap *m, size_t nbuckets)
{
	m->count = 0;
	m->b = calloc(nbuckets, sizeof(*m->b));
	m->nbuckets = m->b ? nbuckets : 0;
	return m->b ? 0 : -ENOMEM;
}

void idmap_free(struct idmap *m)
{
	free(m->b);
	m->b = NULL;
	m->nbuckets = m->count = 0;
}

struct idmap_node *idmap_get(const struct idmap *m, uint64_t id)
{
	struct idmap_node *n = m->b ? m->b[bucket(m, id)] : NULL;

	while (n && n->id != id)
		n = n->next;
	return n;
}

/* Twice the buckets; on no memory, longer chains (still correct). */
static void grow(struct idmap *m)
{
	struct idmap old = *m;

	if (idmap_init(m, old.nbuckets * 2) < 0) {
		*m = old;
		return;
	}
	m->count = old.count;
	for (size_t i = 0; i < old.nbuckets; i++) {
		while (old.b[i]) {
			struct idmap_node *n = old.b[i];
			size_t j = bucket(m, n->id);

			old.b[i] = n->next;
			n->next = m->b[j];
			m->b[j] = n;
		}
	}
	free(old.b);
}

int idmap_put(struct idmap *m, struct idmap_node *n)
{
	size_t j;

	if (!m->b)
		return -ENOMEM;
	j = bucket(m, n->id);
	n->next = m->b[j];
	m->b[j] = n;
	if (++m->count > m->nbuckets && m->nbuckets < IDMAP_MAX_BUCKETS)
		grow(m);
	return 0;
}

void idmap_del(struct idmap *m, struct idmap_node *n)
{
	struct idmap_node **pp;

	if (!m->b)
		return;
	pp = &m->b[bucket(m, n->id)];
	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = n->next;
		m->count--;
	}
}

void idmap_each(struct idmap *m, void (*fn)(struct idmap_node *n, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct idmap_node *n = m->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			fn(n, arg);
		}
	}
}
