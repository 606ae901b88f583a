#include "tidtab.h"

#include <stdlib.h>
#include <string.h>

#include "aead.h"

void tidtab_init(struct tidtab *t, size_t size)
{
	memset(t, 0, sizeof(*t));
	t->size = size;
}

void tidtab_free(struct tidtab *t)
{
	if (t->e)
		cy_wipe(t->e, t->cap * t->size);
	free(t->e);
	t->e = NULL;
	t->n = t->cap = 0;
}

void *tidtab_at(const struct tidtab *t, size_t i)
{
	return t->e + i * t->size;
}

void *tidtab_find(const struct tidtab *t, uint64_t tunnel_id)
{
	for (size_t i = 0; i < t->n; i++) {
		uint64_t id;

		memcpy(&id, tidtab_at(t, i), sizeof(id));
		if (id == tunnel_id)
			return tidtab_at(t, i);
	}
	return NULL;
}

void *tidtab_slot(struct tidtab *t, uint64_t tunnel_id)
{
	void *e = tidtab_find(t, tunnel_id);

	if (e)
		return e;
	if (t->n == t->cap) {
		size_t nc = t->cap ? 2 * t->cap : 8;
		unsigned char *ne = calloc(nc, t->size);

		if (!ne)
			return NULL;
		if (t->e) {
			memcpy(ne, t->e, t->n * t->size);
			cy_wipe(t->e, t->cap * t->size);
			free(t->e);
		}
		t->e = ne;
		t->cap = nc;
	}
	e = tidtab_at(t, t->n++);
	memset(e, 0, t->size);
	return e;
}

void tidtab_del(struct tidtab *t, uint64_t tunnel_id)
{
	unsigned char *e = tidtab_find(t, tunnel_id);

	if (!e)
		return;
	t->n--;
	if (e != tidtab_at(t, t->n))
		memcpy(e, tidtab_at(t, t->n), t->size);
	cy_wipe(tidtab_at(t, t->n), t->size);
}
