/* One data session with a peer: the two directional End Keys a tunnel
 * handshake derived (tunnel.h), the send counter, the anti-replay window
 * and the per-session counters.  docs/tunnel.md is the reference.
 *
 * Data message (type 0x40), 16-byte header, all of it the AEAD's AAD:
 *
 *    0       1       2       3
 *   +-------+-------+-------+-------+
 *   |  ver  | 0x40  |   reserved 0  |
 *   +-------+-------+-------+-------+
 *   |        receiver index         |   the index the receiver chose
 *   +-------+-------+-------+-------+
 *   |          counter (64)         |   per session and direction
 *   +-------+-------+-------+-------+
 *   | AEAD(inner IP packet)   | tag |   nonce = 0 (32) || counter (64)
 *
 * An empty inner packet is a keepalive.
 *
 * Memory: a session keeps its two 32-byte keys, not cipher contexts (an
 * OpenSSL context is about 1 KB): the contexts come from the process's
 * pool (aead.h), where those of the sessions that carry traffic stay
 * keyed, so their packets cost no allocation and no key schedule.  The
 * anti-replay window (replay.h, 1 KB) exists only while packets arrive
 * out of order: as long as each counter is the next one, "every counter
 * below rx_next was seen" is the whole state; the first gap allocates the
 * window, which folds back into rx_next as soon as the highest gap is more
 * than REPLAY_WINDOW behind the top (the window refuses what is still
 * missing by then: one lost packet on a busy session costs the window for
 * REPLAY_WINDOW packets), or, on a quiet session, when session_idle() finds
 * that nothing arrived for SESSION_WINDOW_IDLE_MS (refusing what is still
 * missing: nothing that late is wanted).  A session is not locked; one thread (or one
 * batch) uses it at a time. */
#ifndef CY_NODE_SESSION_H
#define CY_NODE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "aead.h"
#include "wire.h"

#define SESSION_HDR_LEN 16
#define SESSION_OVERHEAD (SESSION_HDR_LEN + AEAD_TAG_LEN)

/* Limits after WireGuard (messages.h): rekey well before the nonce space
 * or the key's age is a concern; refuse past the hard limits. */
#define SESSION_REKEY_AFTER_MESSAGES (1ULL << 60)
#define SESSION_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))
#define SESSION_REKEY_AFTER_MS (120 * 1000)
#define SESSION_REJECT_AFTER_MS (180 * 1000)
/* A session created as responder asks for a rekey only this late, so the
 * initiator's rekey at 120 s normally comes first and the two sides do
 * not both start one. */
#define SESSION_RESPONDER_REKEY_AFTER_MS (150 * 1000)
/* A replay window nothing arrived through for this long is given up. */
#define SESSION_WINDOW_IDLE_MS (5 * 1000)

/* Bit values used in the handshake's AEAD offer (enum aead_alg as a bit). */
#define SESSION_AEAD_BIT(alg) (1u << ((unsigned)(alg) - 1))
#define SESSION_AEAD_ALL (SESSION_AEAD_BIT(AEAD_CHACHA20_POLY1305) | \
			  SESSION_AEAD_BIT(AEAD_AES256_GCM))

struct session_stats {
	uint64_t rx_bytes;        /* inner bytes delivered */
	uint64_t tx_bytes;        /* inner bytes sealed */
	uint64_t rx_packets;
	uint64_t tx_packets;
	uint64_t drop_replay;     /* counter already seen or behind the window */
	uint64_t drop_auth;       /* tag did not verify */
	uint64_t drop_index;      /* receiver index is not this session's */
	uint64_t drop_malformed;  /* wrong version/type/reserved, too short */
	uint64_t drop_expired;    /* counter past the reject limit */
};

struct session_params {
	enum aead_alg alg;
	const uint8_t *tx_key;    /* AEAD_KEY_LEN; copied */
	const uint8_t *rx_key;
	uint32_t local_index;     /* receiver index the peer puts in its packets */
	uint32_t remote_index;    /* receiver index we put in ours */
	bool initiator;           /* created by our own Tunnel Request */
	int64_t now_ms;           /* monotonic birth time (clock_now_ms()) */
};

struct session;

struct session *session_new(const struct session_params *p);
void session_free(struct session *s);

/* Seal one inner packet (ip may be NULL when len is 0: a keepalive).
 * Returns the datagram length (len + SESSION_OVERHEAD), or -EMSGSIZE when
 * cap is too small, -EKEYEXPIRED when the send counter reached
 * SESSION_REJECT_AFTER_MESSAGES (a new handshake is needed), -EIO, -ENOMEM. */
ssize_t session_seal(struct session *s, const uint8_t *ip, size_t len, uint8_t *out,
		     size_t cap);

/* Authenticate and decrypt one Data message.  The counter is checked
 * against the replay window before decrypting, and the window moves only
 * after the tag verified.  Returns the inner length (0 = keepalive), or
 * a negative errno, each counted in the stats:
 *   -EPROTO      malformed (drop_malformed)
 *   -ENOKEY      receiver index is not ours (drop_index)
 *   -EKEYEXPIRED counter past the reject limit (drop_expired)
 *   -EALREADY    replay (drop_replay)
 *   -EBADMSG     authentication failed (drop_auth)
 *   -EMSGSIZE    cap too small (not counted: the caller's buffer)
 *   -ENOMEM      no cipher context could be set up (not counted) */
ssize_t session_open(struct session *s, const uint8_t *pkt, size_t len, uint8_t *out,
		     size_t cap);
/* The packet session_open() last accepted carried the highest counter
 * this session has received (not a late or reordered one). */
bool session_rx_newest(const struct session *s);

/* Timers (tunnel_tick): frees the replay window when nothing was received
 * through it for SESSION_WINDOW_IDLE_MS (session_open frees it itself once
 * every gap fell out of it). */
void session_idle(struct session *s, int64_t now_ms);

bool session_needs_rekey(const struct session *s, int64_t now_ms);
bool session_expired(const struct session *s, int64_t now_ms);

uint32_t session_local_index(const struct session *s);
uint32_t session_remote_index(const struct session *s);
enum aead_alg session_alg(const struct session *s);
bool session_is_initiator(const struct session *s);
int64_t session_birth_ms(const struct session *s);
const struct session_stats *session_stats(const struct session *s);
/* Add s's counters to *sum. */
void session_stats_add(struct session_stats *sum, const struct session_stats *s);

/* The AEAD this host prefers: CYPHONIC_AEAD=chacha20-poly1305|aes-256-gcm
 * in the environment wins; otherwise AES-256-GCM when the CPU has AES and
 * carry-less multiply instructions, else ChaCha20-Poly1305. */
enum aead_alg session_aead_preferred(void);
const char *session_aead_name(enum aead_alg alg);

/* Reading the receiver index of a Data message without opening it (for
 * the daemon's index -> tunnel lookup).  0 or -EPROTO. */
int session_peek_index(const uint8_t *pkt, size_t len, uint32_t *receiver_index);

/* Tests only: pretend ctr packets were already sent; whether the replay
 * window is allocated now. */
void session_test_set_tx_counter(struct session *s, uint64_t ctr);
bool session_test_has_window(const struct session *s);

#endif
