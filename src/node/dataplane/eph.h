/* Ephemeral X25519 keys for the tunnel handshakes, one made ahead of time.
 *
 * Each side of a handshake makes an ephemeral key pair and then computes
 * one shared secret: two scalar multiplications of about the same cost,
 * both in the path of a cold lookup's answer.  The key pair depends on
 * nothing the peer sends, so it can be made before the handshake starts,
 * while the daemon is idle: the handshake takes the spare (eph_take), and
 * the owner makes the next one when its timers next run (eph_refill).
 *
 * A spare is used once and freed by its taker, like a key made on the
 * spot, so forward secrecy is unchanged: no past session depends on it.
 * What a spare held ahead does give up is a little healing after a
 * compromise: a copy of the daemon's memory holds the spare beside the
 * Tunnel Keys, enough to read the next handshake made with it even
 * passively.  A spare is therefore made again once it is EPH_MAX_AGE_MS
 * old, which bounds that window. */
#ifndef CY_NODE_EPH_H
#define CY_NODE_EPH_H

#include <openssl/types.h>
#include <stdbool.h>
#include <stdint.h>

#define EPH_PUB_LEN 32
#define EPH_MAX_AGE_MS 120000   /* a spare is made again at this age */

struct eph_spare {
	EVP_PKEY *key;              /* NULL: none ready */
	uint8_t pub[EPH_PUB_LEN];
	int64_t made_ms;            /* when key was made */
	int64_t retry_ms;           /* after a failed refill, not before this */
	bool failing;               /* the last refill failed (logged once) */
	uint64_t taken, made_now;   /* spares handed out; keys made on the spot */
};

/* A new key pair, its public value into pub; NULL on failure. */
EVP_PKEY *eph_generate(uint8_t pub[EPH_PUB_LEN]);

/* The spare (s may be NULL) or, when none is ready, one made now.  The
 * caller owns it (EVP_PKEY_free). */
EVP_PKEY *eph_take(struct eph_spare *s, uint8_t pub[EPH_PUB_LEN]);

/* When s wants eph_refill: when its spare comes of age, else at once or,
 * after a failure, a second later. */
int64_t eph_next_ms(const struct eph_spare *s);

/* Make the spare if none is ready or it came of age; a failure is
 * retried a second later. */
void eph_refill(struct eph_spare *s, int64_t now);

/* Free the spare. */
void eph_clear(struct eph_spare *s);

#endif
