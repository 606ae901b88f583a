/* Flow queueing with CoDel between the TUN device and the tunnels, in the
 * manner of fq_codel (RFC 8290 over RFC 8289's CoDel).
 *
 * The kernel queues what local programs send to the TUN device in one
 * FIFO of up to 500 packets, each up to a 64 KB TSO super-packet, and
 * never tells the sender's TCP that it is full before it drops: a bulk
 * flow fills it, and a ping or a call's packet waits behind all of it.
 * The node therefore drains that FIFO at every turn into these queues:
 * one per flow (addresses, protocol and ports, hashed with a per-process
 * key into DP_FQ_FLOWS buckets), served by deficit round robin, a flow
 * that has just become active first (a sparse flow never waits behind a
 * bulk flow's backlog); and each flow's queue under CoDel, so a bulk
 * flow whose packets wait more than `target` for a whole `interval` is
 * told to slow down (the caller drops one wire packet of the super-packet
 * it is given, or marks it CE when it is ECN-capable), at the control
 * law's growing rate while the wait stays.
 *
 * Memory is bounded: at `limit` bytes of buffers queued, a new packet
 * takes the room of the head of the flow with the largest backlog, as
 * fq_codel does.  Pure apart from malloc: time is the caller's. */
#ifndef CY_NODE_IO_FQ_H
#define CY_NODE_IO_FQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_FQ_FLOWS 256          /* hash buckets */
#define DP_FQ_QUANTUM 1514       /* bytes per round of the round robin */

struct dp_fq_conf {
	int64_t target_ns;       /* acceptable standing wait */
	int64_t interval_ns;     /* how long above target before a signal */
	size_t limit;            /* bytes of buffers queued, at most */
	size_t hdr;              /* bytes in front of each IP packet (a vnet header) */
	size_t cap;              /* largest packet with its header */
	uint64_t key;            /* the flow hash's key; 0: a random one (tests fix it) */
};

struct dp_fq_stats {
	uint64_t packets;        /* queued */
	uint64_t signals;        /* congestion signals given (CoDel) */
	uint64_t overlimit;      /* heads dropped to make room */
	uint64_t unusable;       /* not queued: no IP packet behind the header, or no memory */
	size_t bytes;            /* buffer bytes queued now */
	size_t backlog;          /* packets queued now */
};

struct dp_fq;

/* NULL on ENOMEM or an unusable conf. */
struct dp_fq *dp_fq_new(const struct dp_fq_conf *conf);
void dp_fq_free(struct dp_fq *q);

/* Where to read the next packet: conf.cap bytes.  NULL only on ENOMEM. */
uint8_t *dp_fq_slot(struct dp_fq *q);
/* The slot holds a packet of len bytes (header included), read at now:
 * queue it to its flow, first dropping the fattest flow's head while the
 * limit has no room for it (a packet that cannot be queued counts as
 * unusable). */
void dp_fq_push(struct dp_fq *q, size_t len, int64_t now_ns);

/* The next packet to send (header included), NULL when none is queued.
 * *signal: CoDel asks for a congestion signal with this one.  The
 * pointer stays valid until the next dp_fq_pop or dp_fq_free. */
uint8_t *dp_fq_pop(struct dp_fq *q, int64_t now_ns, size_t *len, bool *signal);

bool dp_fq_empty(const struct dp_fq *q);
const struct dp_fq_stats *dp_fq_stats(const struct dp_fq *q);

/* Pure, for tests: the flow bucket of IP packet pkt (len bytes) under
 * key; packets that cannot be read go to bucket 0. */
unsigned dp_fq_bucket(const uint8_t *pkt, size_t len, uint64_t key);

#endif
