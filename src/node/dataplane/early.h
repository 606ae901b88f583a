/* The early-Request cache: a Tunnel Request that came before its route.
 * When the CN is told to initiate, its Request can overtake the NMS's
 * answer to the MN; it is kept briefly (EARLY_MS) and handled as soon as
 * the route arrives, instead of waiting for the retransmission 5 s later.
 * A fixed table of EARLY_SLOTS; the oldest entry makes room. */
#ifndef CY_NODE_EARLY_H
#define CY_NODE_EARLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunnel.h"

#define EARLY_SLOTS 8
#define EARLY_MS 2000

struct early_req {
	bool used;
	int64_t at_ms;
	uint64_t tunnel_id;
	size_t len;
	uint8_t pkt[TUNNEL_MSG_MAX];
	struct sockaddr_storage from;
};

struct early_cache {
	struct early_req e[EARLY_SLOTS];
};

/* Keep the Request buf (len bytes, for tunnel id tid) from from, unless
 * the same bytes are kept already (the first copy stays).  Returns how
 * many were lost doing so: 1 when it is too large or pushed out an unused
 * entry, else 0. */
unsigned early_store(struct early_cache *c, uint64_t tid, const uint8_t *buf, size_t len,
		     const struct sockaddr *from, int64_t now);
/* Forget entries older than EARLY_MS; returns how many. */
unsigned early_expire(struct early_cache *c, int64_t now);
/* The oldest fresh Request kept for tid (they are handled in the order
 * they came), taken out of the cache; NULL when none is left.  Stale ones
 * are dropped on the way. */
struct early_req *early_take(struct early_cache *c, uint64_t tid, int64_t now);

#endif
