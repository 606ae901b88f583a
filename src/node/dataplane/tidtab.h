/* A table of per-tunnel entries that hold keys (relay.c, punch.c): a flat
 * array found by tunnel id, whose memory is wiped whenever it is freed,
 * moved or an entry leaves.  Each entry type starts with its uint64_t
 * tunnel id.  Linear search: the entries are few (one per relayed or
 * punched tunnel) and looked up per control datagram, not per packet. */
#ifndef CY_NODE_TIDTAB_H
#define CY_NODE_TIDTAB_H

#include <stddef.h>
#include <stdint.h>

struct tidtab {
	unsigned char *e;
	size_t n, cap, size;     /* entries, room, bytes per entry */
};

/* An empty table of entries of size bytes. */
void tidtab_init(struct tidtab *t, size_t size);
/* Wipes and frees the entries. */
void tidtab_free(struct tidtab *t);
/* Entry i (< t->n). */
void *tidtab_at(const struct tidtab *t, size_t i);
/* The entry of tunnel_id, or NULL. */
void *tidtab_find(const struct tidtab *t, uint64_t tunnel_id);
/* The entry of tunnel_id, or a new zeroed one (its id still to be set);
 * NULL without memory. */
void *tidtab_slot(struct tidtab *t, uint64_t tunnel_id);
/* Remove tunnel_id's entry (the last one takes its place), wiped. */
void tidtab_del(struct tidtab *t, uint64_t tunnel_id);

#endif
