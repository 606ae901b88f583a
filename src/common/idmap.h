/* A chained hash of objects by a 64-bit id, intrusive: the object embeds
 * a struct idmap_node and the map never allocates one.  The buckets
 * double once there are more objects than buckets, so a lookup stays a
 * step or two at any size (ids are spread by a multiplicative hash; key
 * ids are random, node ids sequential, both fine).  One id, one object:
 * idmap_put of an id already present is the caller's error.
 *
 *   struct thing { struct idmap_node hn; ... };
 *   struct thing *t = IDMAP_ENTRY(idmap_get(&m, id), struct thing, hn);
 */
#ifndef CY_IDMAP_H
#define CY_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_node {
	struct idmap_node *next;
	uint64_t id;
};

struct idmap {
	struct idmap_node **b;
	size_t nbuckets, count;
};

/* NULL-safe: the object holding node n (NULL for none). */
#define IDMAP_ENTRY(n, type, member) \
	((n) ? (type *)(void *)((char *)(n) - offsetof(type, member)) : (type *)NULL)

/* nbuckets: a power of two to start with.  0 or -ENOMEM. */
int idmap_init(struct idmap *m, size_t nbuckets);
/* The buckets only: the objects are the caller's (free them first with
 * idmap_each). */
void idmap_free(struct idmap *m);
struct idmap_node *idmap_get(const struct idmap *m, uint64_t id);
/* 0, or -ENOMEM when the map has no buckets (its init failed). */
int idmap_put(struct idmap *m, struct idmap_node *n);
void idmap_del(struct idmap *m, struct idmap_node *n);
/* Call fn on every object; fn may idmap_del the one it is given, or
 * free it when the map goes (idmap_free next). */
void idmap_each(struct idmap *m, void (*fn)(struct idmap_node *n, void *arg), void *arg);

#endif
