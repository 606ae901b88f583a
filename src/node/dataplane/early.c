#include "early.h"

#include <string.h>

#include "addr.h"

unsigned early_store(struct early_cache *c, uint64_t tid, const uint8_t *buf, size_t len,
		     const struct sockaddr *from, int64_t now)
{
	struct early_req *e = &c->e[0];
	unsigned lost;

	if (len > TUNNEL_MSG_MAX)
		return 1;
	/* A copy of one kept (the network doubled it, or someone who saw
	 * it sends it again from elsewhere): the first stays, so copies
	 * can neither push it out nor be answered before it. */
	for (int i = 0; i < EARLY_SLOTS; i++)
		if (c->e[i].used && c->e[i].tunnel_id == tid && c->e[i].len == len &&
		    !memcmp(c->e[i].pkt, buf, len))
			return 0;
	for (int i = 0; i < EARLY_SLOTS; i++) {
		if (!c->e[i].used) {
			e = &c->e[i];
			break;
		}
		if (c->e[i].at_ms < e->at_ms)
			e = &c->e[i];
	}
	lost = e->used;   /* evicted unused */
	e->used = true;
	e->at_ms = now;
	e->tunnel_id = tid;
	e->len = len;
	memcpy(e->pkt, buf, len);
	memset(&e->from, 0, sizeof(e->from));
	memcpy(&e->from, from, addr_len(from));
	return lost;
}

unsigned early_expire(struct early_cache *c, int64_t now)
{
	unsigned n = 0;

	for (int i = 0; i < EARLY_SLOTS; i++)
		if (c->e[i].used && now - c->e[i].at_ms > EARLY_MS) {
			c->e[i].used = false;
			n++;
		}
	return n;
}

struct early_req *early_take(struct early_cache *c, uint64_t tid, int64_t now)
{
	struct early_req *first;

	do {
		first = NULL;
		for (int i = 0; i < EARLY_SLOTS; i++) {
			struct early_req *e = &c->e[i];

			if (e->used && e->tunnel_id == tid && (!first || e->at_ms < first->at_ms))
				first = e;
		}
		if (!first)
			return NULL;
		first->used = false;
	} while (now - first->at_ms > EARLY_MS);
	return first;
}
