/* Tunnel establishment between two nodes (SPEC flow 4) and the sessions
 * it yields (session.h).  docs/tunnel.md is the reference for the formats,
 * the key schedule, the timers and the simultaneous-open rule.
 *
 * The NMS gives both nodes a Tunnel Key, a tunnel id, the peer's FQDN and
 * a role; through a TRS also a Temp Key.  The initiator sends a Tunnel
 * Request sealed with the Tunnel Key carrying its ephemeral X25519 share
 * and the End Key material (sealed once more with the Temp Key when
 * relayed); the responder answers with a Tunnel Response carrying its own
 * share.  Both derive two directional session keys with HKDF-SHA256.
 * Both bodies carry the sender's role from its Route Direction (the two
 * ends of a tunnel have opposite ones), so a node refuses a message it
 * sealed itself and someone sent back to it.
 *
 *    0       1       2       3
 *   +-------+-------+-------+-------+
 *   |  ver  | type  | flags |   0   |   type 0x30 Request, 0x31 Response
 *   +-------+-------+-------+-------+   flags: bit 0 = relayed (Temp Key)
 *   |         tunnel id (64)        |
 *   +-------+-------+-------+-------+
 *   |  dir  |  random (88 bits)     |   the AEAD nonce, carried in clear
 *   +-------+-------+-------+-------+   dir: 1 Request, 2 Response
 *   | ChaCha20-Poly1305(Tunnel Key, body) ... tag |
 *
 * Everything here is a plain function over bytes: no sockets.  The
 * functions read the clock through clock.h (fake in tests).  Return
 * values are lengths of a datagram to send (> 0), 0 for nothing to send,
 * or a negative errno; every refusal is counted in tunnel_stats. */
#ifndef CY_NODE_TUNNEL_H
#define CY_NODE_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "aead.h"
#include "session.h"
#include "wire.h"

#define TUNNEL_FLAG_RELAY 0x01

#define TUNNEL_KEY_LEN 32
#define TUNNEL_PUB_LEN 32
#define TUNNEL_HDR_LEN 24          /* ver type flags 0 | tunnel id | nonce */
#define TUNNEL_REQ_BODY_LEN 80     /* direct */
#define TUNNEL_REQ_BODY_RELAY_LEN (TUNNEL_REQ_BODY_LEN + AEAD_TAG_LEN)
#define TUNNEL_RESP_BODY_LEN 44
#define TUNNEL_REQ_LEN (TUNNEL_HDR_LEN + TUNNEL_REQ_BODY_LEN + AEAD_TAG_LEN)             /* 120 */
#define TUNNEL_REQ_RELAY_LEN (TUNNEL_HDR_LEN + TUNNEL_REQ_BODY_RELAY_LEN + AEAD_TAG_LEN) /* 136 */
#define TUNNEL_RESP_LEN (TUNNEL_HDR_LEN + TUNNEL_RESP_BODY_LEN + AEAD_TAG_LEN)           /* 84 */
#define TUNNEL_MSG_MAX TUNNEL_REQ_RELAY_LEN

/* Timers, WireGuard's values. */
#define TUNNEL_REKEY_TIMEOUT_MS (5 * 1000)        /* retransmit a Request */
#define TUNNEL_REKEY_ATTEMPT_MS (90 * 1000)       /* give a handshake up */
#define TUNNEL_GRACE_MS (15 * 1000)               /* previous session still opens */
/* A Request whose timestamp is further than this from our clock is stale. */
#define TUNNEL_REQ_MAX_SKEW_MS (60 * 1000)

enum tunnel_role { TUNNEL_RESPONDER = 0, TUNNEL_INITIATOR = 1 };

enum tunnel_state {
	TUNNEL_IDLE,          /* no session, no handshake */
	TUNNEL_HANDSHAKE,     /* our Request is out, no usable session yet */
	TUNNEL_ESTABLISHED,   /* a session carries data (maybe rekeying) */
	TUNNEL_FAILED,        /* the handshake timed out (TUNNEL_REKEY_ATTEMPT_MS) */
};

struct eph_spare;

struct tunnel_params {
	uint64_t tunnel_id;
	const uint8_t *tunnel_key;   /* TUNNEL_KEY_LEN, from the Route Direction */
	const uint8_t *temp_key;     /* TUNNEL_KEY_LEN when relayed through a TRS, else NULL */
	enum tunnel_role role;       /* who opens the first handshake; also sealed
				      * into ours: one carrying it is refused */
	const char *local_fqdn;      /* simultaneous open: the smaller FQDN's Request wins */
	const char *peer_fqdn;
	enum aead_alg aead_pref;     /* 0: session_aead_preferred() */
	unsigned aead_offer;         /* SESSION_AEAD_BIT mask; 0: both */
	/* Optional: true when idx already names a session of another tunnel
	 * of this daemon, so a fresh random index is drawn instead. */
	bool (*index_in_use)(void *ctx, uint32_t idx);
	void *index_ctx;
	/* Optional: an ephemeral key made ahead of time (eph.h), taken by the
	 * next handshake of this tunnel (ours or an answer); must outlive it. */
	struct eph_spare *spare;
};

struct tunnel_stats {
	struct session_stats data;   /* all sessions, live and retired */
	uint64_t drop_index;         /* Data naming none of our sessions */
	uint64_t drop_no_session;    /* tunnel_seal with no usable session */
	uint64_t req_sent, req_recv, resp_sent, resp_recv;
	uint64_t hs_drop_malformed;  /* wrong length, version, flags, tunnel id */
	uint64_t hs_drop_auth;       /* Tunnel Key (or Temp Key) tag failed */
	uint64_t hs_drop_stale;      /* Request timestamp too old, too new or replayed */
	uint64_t hs_drop_unexpected; /* Response we did not wait for */
	uint64_t hs_drop_crypto;     /* bad X25519 share (all-zero secret), no AEAD in common */
	uint64_t hs_dup;             /* copies: of the last Request seen (answered from
				      * cache while kept; a losing one is not answered),
				      * of the Response we took */
	uint64_t hs_collisions;      /* simultaneous opens resolved */
	uint64_t hs_retransmits;
	uint64_t hs_timeouts;
	uint64_t rekeys;             /* sessions installed after the first */
};

struct tunnel_info {
	enum tunnel_state state;
	bool relay;
	enum aead_alg alg;           /* of the current session, 0 when none */
	uint32_t local_index;        /* of the current session */
	uint32_t remote_index;
	int nsessions;               /* current + unconfirmed + previous */
};

struct tunnel;

/* Copies the keys (wiped in tunnel_free).  NULL on bad params or ENOMEM.
 * A tunnel keeps no cipher context of its own (the handshake uses
 * aead_*_once, the sessions the pool of aead.h) and its handshake state
 * only while a handshake runs: with one session, about 500 bytes. */
struct tunnel *tunnel_new(const struct tunnel_params *p);
void tunnel_free(struct tunnel *t);

/* Start a handshake now (first one, rekey or retransmission): a fresh
 * ephemeral key, index and End Key material.  Writes the Request into
 * out; returns its length or -EMSGSIZE/-EIO. */
ssize_t tunnel_initiate(struct tunnel *t, uint8_t *out, size_t cap);

/* The Request in flight again, byte for byte, once per attempt: for a
 * peer that may not have had the first (a firewall in front of it
 * dropped it until its own probe opened the way).  A peer that had it
 * takes this one as its duplicate and answers with the same Response.
 * Its length, or -ENOENT (no Request of ours in flight), -EALREADY (sent
 * again already), -EMSGSIZE, -EIO. */
ssize_t tunnel_resend_request(struct tunnel *t, uint8_t *out, size_t cap);

/* A Request from the peer.  Returns the Response length to send back, or:
 *   -EPROTO    malformed         -EBADMSG  authentication failed, or
 *                                          our own Request reflected back
 *   -ESTALE    stale or replayed -EALREADY our own Request wins the
 *   -EPERM     bad key share or no common AEAD     simultaneous open, or
 *                                          a copy of the last Request
 * A byte-identical duplicate of the last Request is answered again with
 * the same Response and creates no session, as long as that session waits
 * for its confirmation (afterwards the initiator has the Response: a copy
 * is -EALREADY, counted as a duplicate).  The Request that lost a
 * simultaneous open counts as the last one: a copy of it is never
 * answered. */
ssize_t tunnel_handle_request(struct tunnel *t, const uint8_t *pkt, size_t len, uint8_t *out,
			      size_t cap);
/* The Response tunnel_handle_request() last returned answers such a
 * copy.  Anyone who saw the Request on the wire can send a copy, from
 * anywhere: send the answer where the copy came from, but let it move
 * nothing (the peer's endpoint stays where it is). */
bool tunnel_answered_copy(const struct tunnel *t);

/* A Response to our Request.  Installs the new session and writes a
 * keepalive Data message into out (send it: it confirms the session to
 * the responder); returns its length, or -EPROTO, -EBADMSG (also: our own
 * Response reflected back), -ENOENT (not waiting for this Response),
 * -EALREADY (a copy of the Response our last handshake took), -EPERM. */
ssize_t tunnel_handle_response(struct tunnel *t, const uint8_t *pkt, size_t len, uint8_t *out,
			       size_t cap);

/* Data path.  tunnel_seal uses the current session (or, before the first
 * confirmation, the responder's new one); -ENOTCONN when none, else as
 * session_seal.  tunnel_open finds the session by receiver index among
 * the current, the unconfirmed and the previous one (during the grace
 * period); -ENOKEY when none matches, else as session_open. */
ssize_t tunnel_seal(struct tunnel *t, const uint8_t *ip, size_t len, uint8_t *out, size_t cap);
ssize_t tunnel_open(struct tunnel *t, const uint8_t *pkt, size_t len, uint8_t *out, size_t cap);
/* The packet tunnel_open() last accepted was the newest the tunnel has
 * received: on its current session (not the retiring one) and with the
 * highest counter so far.  Only such a packet may move the peer's
 * endpoint (docs/mobility.md). */
bool tunnel_rx_newest(const struct tunnel *t);

/* Timers; call about once a second.  Retires expired sessions, starts a
 * rekey when the current session wants one, retransmits an unanswered
 * Request every TUNNEL_REKEY_TIMEOUT_MS, and as initiator opens the first
 * handshake.  Returns a Request to send (> 0), 0, or -ETIMEDOUT once
 * when a handshake was given up. */
ssize_t tunnel_tick(struct tunnel *t, uint8_t *out, size_t cap);

/* Which tunnel a datagram belongs to, from its clear header only. */
struct tunnel_peek {
	uint8_t type;               /* CY_TUNNEL_REQ, CY_TUNNEL_RES or CY_DATA */
	uint64_t tunnel_id;         /* Request and Response */
	uint32_t receiver_index;    /* Data */
};
/* 0, or -EPROTO when pkt is not a tunnel message of a plausible length
 * (e.g. a sealed NMS envelope, type 0x80). */
int tunnel_peek(const uint8_t *pkt, size_t len, struct tunnel_peek *pk);

bool tunnel_has_index(const struct tunnel *t, uint32_t idx);
uint64_t tunnel_id(const struct tunnel *t);
void tunnel_get_info(const struct tunnel *t, struct tunnel_info *info);
void tunnel_get_stats(const struct tunnel *t, struct tunnel_stats *st);

/* Tests only: the current session (NULL when none). */
struct session *tunnel_test_current(struct tunnel *t);

#endif
