/* The sealed UDP envelope that carries signaling between a node and the
 * NMS (and, later, other sealed control messages):
 *
 *    0       1       2       3
 *   +-------+-------+-------+-------+
 *   |  ver  | 0x80  |  dir  |  rsv  |   dir: 0 node->cloud, 1 cloud->node
 *   +-------+-------+-------+-------+
 *   |         key id (64)           |   names the node-NMS common key
 *   +-------+-------+-------+-------+
 *   |         counter (64)          |   per key and direction, never reused
 *   +-------+-------+-------+-------+
 *   | AEAD(inner message) ... | tag |
 *
 * The 20-byte header is the AEAD's associated data; the nonce is
 * dir (4 bytes, big-endian) || counter (8 bytes).  The inner message is a
 * complete wire.h message. */
#ifndef CY_SEAL_H
#define CY_SEAL_H

#include <stdint.h>
#include <sys/types.h>

#include "aead.h"

#define CY_SEAL_HDR_LEN 20
#define CY_SEAL_OVERHEAD (CY_SEAL_HDR_LEN + AEAD_TAG_LEN)

enum cy_dir { CY_DIR_TO_CLOUD = 0, CY_DIR_FROM_CLOUD = 1 };

struct cy_seal_hdr {
	uint8_t dir;
	uint64_t key_id;
	uint64_t counter;
};

/* The next sending counter of a key whose last one is *last:
 * max(*last + 1, realtime ns), so it keeps rising across restarts
 * without being stored (the receiver's window refuses anything old).
 * Updates *last.  On its own this is unique only while the clock never
 * steps back across a restart: use it only for keys that live no longer
 * than the process (the NMS-TRS link keys, derived per NMS process), and
 * struct cy_ctr for keys that outlive it. */
uint64_t cy_seal_counter(uint64_t *last);

/* Sending counters for keys that outlive a process (the node-NMS common
 * keys, which the store keeps while an NMS restarts, or which several NMS
 * hosts share): handed out from blocks reserved in persistent storage
 * (store_counter_reserve), so none repeats across restarts, clock steps
 * or processes.  Within a block the counters still follow the realtime
 * clock where they can, so they keep rising for the receivers' windows. */
#define CY_CTR_BLOCK (1ULL << 34)   /* ns: a reservation every ~17 s of use */
/* Where several processes share the keys and one store mark (the NMS on
 * several cloud hosts): the one that reserved last is at most a block
 * ahead of the others, so a node that moves to another finds its counters
 * at most this far behind what it has seen (about a second: a
 * retransmission), at the cost of a reservation a second. */
#define CY_CTR_BLOCK_SHARED (1ULL << 30)
/* Where one process alone seals under the keys (the NMS on a SQLite
 * store, one host by design): nobody else's counters to stay near, so a
 * block lasts about 73 minutes of the clock and the reservation (a
 * synchronous write to the store) is made at start (cy_ctr_prime) and
 * rarely after, not in the path of a route selection after every second
 * of quiet. */
#define CY_CTR_BLOCK_ALONE (1ULL << 42)

struct cy_ctr {
	uint64_t next, end;              /* the block in use: [next, end) */
	uint64_t block;                  /* counters per reservation; 0: CY_CTR_BLOCK */
	/* Reserve a block of `block` counters, none below at_least: its first
	 * in *start.  0 or -errno. */
	int (*reserve)(void *arg, uint64_t at_least, uint64_t block, uint64_t *start);
	void *arg;
};

/* 0 with the next counter in *out, or -errno (nothing reserved: do not
 * seal). */
int cy_ctr_next(struct cy_ctr *c, uint64_t *out);
/* Reserve now what the next cy_ctr_next would (nothing when the block in
 * use still covers the clock): 0 or -errno. */
int cy_ctr_prime(struct cy_ctr *c);

/* A reserve that keeps the mark in memory, in the uint64_t at mark: for
 * unit tests and fuzzers only (it persists nothing, so it protects
 * nothing across a restart). */
int cy_ctr_reserve_in_memory(void *mark, uint64_t at_least, uint64_t block, uint64_t *start);

/* Seal msg into out.  Returns the datagram length or -EMSGSIZE/-EIO. */
ssize_t cy_seal(struct aead *a, enum cy_dir dir, uint64_t key_id, uint64_t counter,
		const uint8_t *msg, size_t len, uint8_t *out, size_t cap);
/* Parse the clear header only (to find the key).  0 or -EBADMSG. */
int cy_seal_peek(const uint8_t *buf, size_t len, struct cy_seal_hdr *h);
/* Authenticate and decrypt; the caller checks h->counter against its
 * replay window first.  Returns the inner length or -EBADMSG. */
ssize_t cy_unseal(struct aead *a, const uint8_t *buf, size_t len, uint8_t *out,
		  size_t cap);

#endif
