/* The Punch (0x34), node <-> node: the probes that open and test a direct
 * path through NAPTs and stateful firewalls (docs/nat.md).
 *
 *    0       1       2       3
 *   +-------+-------+-------+-------+
 *   |  ver  | 0x34  | role  | kind  |   role: the sender's ROLE in the route;
 *   +-------+-------+-------+-------+   kind: 1 probe, 2 ack
 *   |         tunnel id (64)        |
 *   +-------+-------+-------+-------+
 *   |   5   |  random (88 bits)     |   the AEAD nonce, in clear
 *   +-------+-------+-------+-------+
 *   | ChaCha20-Poly1305(Punch Key, stamp (64) | echo (64)) | tag (16) |
 *
 * 56 bytes exactly; the 24-byte header is the associated data.  stamp:
 * the sender's milliseconds since the Unix epoch, rising strictly per
 * tunnel; echo: in an ack, the stamp of the probe it answers (0 in a
 * probe).  The Punch Key is HKDF-SHA256(salt "cyphonic punch v1", IKM
 * Tunnel Key, info tunnel id): only the two ends of the tunnel can make
 * one, the TRS (which has only the Relay Key) cannot. */
#ifndef CY_PUNCH_WIRE_H
#define CY_PUNCH_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PUNCH_KEY_LEN 32
#define PUNCH_HDR_LEN 24
#define PUNCH_LEN (PUNCH_HDR_LEN + 16 + 16)   /* 56 */
#define PUNCH_DIR 5                /* first nonce byte: no other message's */
#define PUNCH_PROBE 1
#define PUNCH_ACK 2

struct punch_msg {
	uint64_t tunnel_id;
	uint8_t role;                  /* 0 responder, 1 initiator */
	uint8_t kind;                  /* PUNCH_PROBE, PUNCH_ACK */
	uint64_t stamp, echo;
};

/* The Punch Key from the Tunnel Key.  0 or -EIO. */
int punch_key(const uint8_t tunnel_key[PUNCH_KEY_LEN], uint64_t tunnel_id,
	      uint8_t out[PUNCH_KEY_LEN]);
/* m into out (>= PUNCH_LEN): PUNCH_LEN or -errno. */
ssize_t punch_build(const uint8_t key[PUNCH_KEY_LEN], const struct punch_msg *m, uint8_t *out,
		    size_t cap);
/* The clear header (tunnel id, role, kind): 0, or -EPROTO when pkt is
 * not a Punch (length, version, type, role, kind, nonce direction). */
int punch_peek(const uint8_t *pkt, size_t len, struct punch_msg *m);
/* All of it, authenticated: 0, -EPROTO (not a Punch), -EBADMSG (tag). */
int punch_open(const uint8_t key[PUNCH_KEY_LEN], const uint8_t *pkt, size_t len,
	       struct punch_msg *m);

#endif
