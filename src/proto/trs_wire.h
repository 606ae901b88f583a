/* The TRS's own formats (docs/protocol.md, "TRS"), shared by the TRS, the
 * NMS (the NMS-TRS link key) and the node daemon (Relay Hello).
 *
 * Relay Hello (0x32), node -> TRS, on the relay session's port:
 *
 *    0       1       2       3
 *   +-------+-------+-------+-------+
 *   |  ver  | 0x32  | side  |   0   |   side: the node's ROLE in the route
 *   +-------+-------+-------+-------+
 *   |         tunnel id (64)        |
 *   +-------+-------+-------+-------+
 *   |   3   |  random (88 bits)     |   the AEAD nonce, in clear
 *   +-------+-------+-------+-------+
 *   | ChaCha20-Poly1305(Relay Key, timestamp (64) | 18 zero bytes) | tag (16) |
 *
 * 66 bytes exactly; the 24-byte header is the associated data.  The zeros
 * make it as long as the ack it gets: the TRS answers no more than it got.
 *
 * Relay Ack (0x33), TRS session port -> node: the same layout, type 0x33,
 * nonce direction 4, the side and tunnel id of the hello it answers and,
 * sealed under the same Relay Key, that hello's timestamp echoed, then
 * where the TRS saw the hello come from: port (16), address (128; IPv4
 * as ::ffff:a.b.c.d).  The TRS sends one for each hello it accepts and
 * keeps no state about them; the node takes one only when it echoes a
 * hello it sent recently (the liveness of the relay session: relay.h),
 * and compares the address with the one the NMS saw (how its NAPT maps
 * it: docs/nat.md).
 *
 * The Relay Key is HKDF-SHA256(salt "cyphonic relay v1", IKM Tunnel Key,
 * info tunnel id): the NMS hands it to the TRS instead of the Tunnel Key,
 * so the TRS can authenticate hellos but can neither open nor forge a
 * Tunnel Request or Response.
 *
 * The NMS-TRS link: a 32-byte secret both read from a key file (64 hex
 * digits, `cyphonic init` writes DIR/trs.key).  Each NMS process picks a
 * random key id per TRS and seals its Relay Requests in the usual
 * envelope (seal.h) under HKDF-SHA256(salt "cyphonic nms-trs v1", IKM
 * secret, info key id), so several NMS hosts sharing the secret, or
 * several TRSes answering one NMS, never share an AEAD key (and so never
 * a nonce). */
#ifndef CY_TRS_WIRE_H
#define CY_TRS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "wire.h"

#define TRS_PORT 7445
#define TRS_KEY_LEN 32
#define TRS_HELLO_DIR 3            /* first nonce byte: never 1 (Request) or 2 (Response) */
#define TRS_HELLO_HDR_LEN 24
#define TRS_BODY_LEN (8 + 2 + 16)  /* sealed: timestamp, then padding or the source seen */
#define TRS_HELLO_LEN (TRS_HELLO_HDR_LEN + TRS_BODY_LEN + 16)   /* 66 */
#define TRS_HELLO_MAX_SKEW_MS (60 * 1000)
#define TRS_ACK_DIR 4              /* first nonce byte: never a hello's 3 */
#define TRS_ACK_LEN TRS_HELLO_LEN

/* Relay Key from the Tunnel Key.  0 or -EIO. */
int trs_relay_key(const uint8_t tunnel_key[TRS_KEY_LEN], uint64_t tunnel_id,
		  uint8_t out[TRS_KEY_LEN]);
/* The AEAD key of one NMS's link to the TRS.  0 or -EIO. */
int trs_link_key(const uint8_t secret[TRS_KEY_LEN], uint64_t key_id, uint8_t out[TRS_KEY_LEN]);

/* A Relay Hello into out (>= TRS_HELLO_LEN).  Returns TRS_HELLO_LEN or -errno. */
ssize_t trs_hello_build(const uint8_t relay_key[TRS_KEY_LEN], uint64_t tunnel_id, uint8_t side,
			uint64_t ts_ms, uint8_t *out, size_t cap);
/* Clear header of a hello: 0, or -EPROTO when pkt is not one (length,
 * version, type, side, reserved byte, nonce direction). */
int trs_hello_peek(const uint8_t *pkt, size_t len, uint64_t *tunnel_id, uint8_t *side);
/* Authenticate a hello: 0 with *side and *ts_ms, -EPROTO (not a hello),
 * -EBADMSG (tag). */
int trs_hello_open(const uint8_t relay_key[TRS_KEY_LEN], const uint8_t *pkt, size_t len,
		   uint8_t *side, uint64_t *ts_ms);

/* A Relay Ack echoing a hello's side and timestamp, with where it came
 * from (seen: AF_INET or AF_INET6, else -EAFNOSUPPORT); same rules. */
ssize_t trs_ack_build(const uint8_t relay_key[TRS_KEY_LEN], uint64_t tunnel_id, uint8_t side,
		      uint64_t ts_ms, const struct sockaddr *seen, uint8_t *out, size_t cap);
int trs_ack_peek(const uint8_t *pkt, size_t len, uint64_t *tunnel_id, uint8_t *side);
int trs_ack_open(const uint8_t relay_key[TRS_KEY_LEN], const uint8_t *pkt, size_t len,
		 uint8_t *side, uint64_t *ts_ms, struct sockaddr_storage *seen);

/* Read a key file: 64 hex digits, optional surrounding whitespace.  A file
 * group or others may read is refused ("PATH: mode 0644 lets others read
 * a secret; chmod 600").  0, or -1 with err filled. */
int trs_key_read(const char *path, uint8_t key[TRS_KEY_LEN], char *err, size_t errlen);
/* Parse the text of a key file (same rules). */
int trs_key_parse(const char *text, size_t len, uint8_t key[TRS_KEY_LEN]);

#endif
