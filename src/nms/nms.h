/* The Node Management Service (docs/protocol.md, "NMS: sealed UDP").
 *
 * nms_handle() is the whole signaling protocol as a plain function over
 * one datagram: no sockets.  It finds the node-NMS common key named in
 * the envelope (an in-memory cache of AEAD contexts and anti-replay
 * windows, filled from the store on a miss), checks the counter,
 * authenticates, parses and dispatches Registration, Keepalive and
 * Deregistration, and writes the sealed reply (or an NMS Reject) into
 * out.  The store is the authority: a key deleted there (revocation,
 * expiry) is refused at once even when cached. */
#ifndef CY_NMS_H
#define CY_NMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NMS_PKT_MAX 2048         /* largest datagram handled */
#define NMS_REJECT_LEN 12
#define NMS_REJECT_PER_SEC 5     /* NMS Rejects per source address and second */

struct store;

struct nms_conf {
	int registration_ttl;        /* seconds a registration lives without keepalive */
};

struct nms_stats {
	uint64_t rx;
	uint64_t malformed;
	uint64_t auth_fail;
	uint64_t replay;
	uint64_t unknown_key;
	uint64_t expired_key;
	uint64_t registrations;
	uint64_t keepalives;
	uint64_t deregistrations;
};

struct nms;

struct nms *nms_new(struct store *st, const struct nms_conf *conf);
void nms_free(struct nms *n);

/* Handle one datagram from `from` (IPv4-mapped addresses already
 * unmapped).  Returns the length of the reply to send back to `from`,
 * 0 for none. */
size_t nms_handle(struct nms *n, const struct sockaddr *from, const uint8_t *pkt, size_t len,
		  uint8_t *out, size_t cap);

/* Drop registrations and keys that expired by `now` (unix seconds), in
 * the store and in the cache.  Called from a timer. */
void nms_expire(struct nms *n, int64_t now);

const struct nms_stats *nms_stats(const struct nms *n);

#endif
