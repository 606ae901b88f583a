/* The node's signaling with the NMS: registration and keepalive as a
 * state machine driven only by what it is given (received datagrams,
 * login outcomes, the clock of clock.h).  It never touches a socket: it
 * sends through ops->send, starts logins through ops->login, and tells
 * the daemon about its VIPs through ops->registered, so the tests drive
 * it with a fake clock and captured datagrams.
 *
 *   LOGIN ──login ok──> REGISTER ──Registration Response ok──> REGISTERED
 *     ^  <──5 s without an answer, key expiry──────────────┘        │
 *     │                     ^──3 keepalives unanswered, result 6───┘
 *     └─ refused: REVOKED (result 3) or LOGIN, retried every 60 s
 *
 * The key is renewed at 80 % of its lifetime without leaving REGISTERED:
 * the new key registers again, the VIPs stay.  An NMS Reject (not sealed)
 * is taken only from one of the NMS endpoints of the login (address and
 * port) and only when it names the current key; it starts a login the
 * same way, without leaving REGISTER or REGISTERED, so the registration
 * is kept until the new login succeeds.
 *
 * A login that fails (no AS answered) or that the AS refuses with RESULT
 * 10 (busy: throttled, or its hashing pool is full) or 7 (internal: the
 * cloud's store away) is transient: the key, the registration and the
 * keepalives stay, and the login is retried after the backoff (1 s
 * doubling to SIG_LOGIN_BACKOFF_MAX_MS), or after the wait the AS names
 * in REASON ("retry in N s", at most SIG_BUSY_WAIT_MAX_MS) when that is
 * longer; after a RESULT 7, at least SIG_INTERNAL_WAIT_MS and up to twice
 * that, at random, so that a fleet does not come back in step.  Only the
 * other refusals (authentication failed, revoked, ...) drop the key.
 *
 * A Reject that names a key less than SIG_DUP_LOGIN_WINDOW_MS after the
 * login that got it means the AS gave the node's identity a new key
 * meanwhile: another instance of this node is logging in (a redeployed
 * node whose old copy still runs), and each login retires the other's
 * key.  Such a login is delayed (SIG_DUP_BACKOFF_MIN_MS, doubling to
 * SIG_DUP_BACKOFF_MAX_MS while it goes on) and the suspicion is logged
 * once per episode, instead of both instances logging in at every
 * keepalive.  A scheduled login (backoff, AS wait, duplicate delay) is
 * never brought forward, by a Reject, a registration given up or a key
 * renewal.
 *
 * Route selection (docs/protocol.md, "Route selection"): as the MN,
 * sig_direction_request() sends a Direction Request (retransmitted every
 * SIG_DIR_RETRY_MS, given up after SIG_DIR_GIVEUP_MS; identical requests
 * in flight are merged) and the answer comes back through
 * ops->route_ready or ops->route_failed.  As the CN, a Route Direction
 * from the NMS calls ops->route_ready first (the daemon must accept the
 * Tunnel Request from then on) and then sends the Confirmation; a
 * duplicate only repeats the Confirmation.
 *
 * (Named sig.h, not signal.h: this directory is on the include path and
 * would shadow <signal.h>.) */
#ifndef CY_NODE_SIG_H
#define CY_NODE_SIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "flows.h"
#include "login.h"
#include "wire.h"

#define SIG_MAX_ADDRS 32
#define SIG_REG_RETRY_MS 1000        /* Registration Request retransmit */
#define SIG_REG_GIVEUP_MS 5000       /* then log in again */
#define SIG_KA_MISSES 3              /* unanswered keepalives: not registered */
#define SIG_REFUSED_RETRY_MS 60000
#define SIG_LOGIN_BACKOFF_MAX_MS 5000
#define SIG_INTERNAL_WAIT_MS 5000    /* least wait after a RESULT 7 login */
#define SIG_BUSY_WAIT_MAX_MS 300000  /* longest "retry in N s" of a RESULT 10 taken */
#define SIG_DUP_LOGIN_WINDOW_MS 30000 /* key rejected this soon after its login: */
#define SIG_DUP_BACKOFF_MIN_MS 10000  /* ...log in again after this, */
#define SIG_DUP_BACKOFF_MAX_MS 300000 /* ...doubling up to this */
#define SIG_MOVE_RETRY_MS 250        /* Registration Request after a move, retransmit */
#define SIG_DIR_RETRY_MS 200         /* Direction Request retransmit */
#define SIG_DIR_GIVEUP_MS 2000       /* then route_failed(9) */
#define SIG_DIR_MAX 64               /* Direction Requests in flight */
#define SIG_CN_SEEN 64               /* Route Directions confirmed, remembered... */
#define SIG_CN_SEEN_MS 10000         /* ...this long, to spot duplicates */

enum sig_state { SIG_LOGIN, SIG_REGISTER, SIG_REGISTERED, SIG_REVOKED };

/* What the status shows; kept up to date by the state machine. */
struct sig_info {
	enum sig_state state;
	char fqdn[CY_FQDN_MAX + 1];        /* "" until logged in */
	bool have_vips;
	struct in_addr vip4;
	struct in6_addr vip6;
	uint8_t prefix4, prefix6;
	bool have_observed;
	struct sockaddr_storage observed;
	bool nat;
	uint32_t ttl;
	bool have_key;
	uint64_t key_id;
	int64_t key_expires_ms;            /* clock_now_ms() time */
};

struct sig_stats {
	uint64_t rx_ok, rx_bad, rx_replay, rx_other_key, rx_reject_ignored;
	uint64_t login_busy;       /* logins refused with RESULT 10 (key kept, retried) */
	uint64_t login_dup_delayed; /* Reject-triggered logins delayed: another instance? */
	uint64_t tx, tx_err;
	uint64_t dir_req;          /* Direction Requests started (merged ones not counted) */
	uint64_t dir_ok, dir_failed; /* their outcomes */
	uint64_t dir_late;         /* answers to no request in flight */
	uint64_t cn_routes;        /* Route Directions taken as the CN */
	uint64_t cn_dups;          /* duplicates of them (Confirmation repeated) */
	uint64_t punch_req;        /* Punch Requests sent */
	uint64_t punch_dirs;       /* Punch Directions taken */
	uint64_t teardowns;        /* Tunnel Teardowns taken (and acknowledged) */
	uint64_t reg_cookies;      /* Registrations answered with a cookie to echo */
};

/* A route the NMS selected: given to ops->route_ready, valid during the
 * call only (the Tunnel Key is wiped afterwards: copy it). */
struct sig_route {
	uint32_t req_id;                   /* our Direction Request; 0 when we are the CN */
	uint64_t tunnel_id;
	uint8_t key[CY_KEY_LEN];           /* the Tunnel Key */
	char peer_fqdn[CY_FQDN_MAX + 1];   /* "" when the NMS did not name it */
	bool have_vip4, have_vip6;
	struct in_addr peer_vip4;
	struct in6_addr peer_vip6;
	struct sockaddr_storage peer;      /* the peer's endpoint */
	enum cy_role role;                 /* INITIATOR: send the Tunnel Request to peer */
	enum cy_path path;                 /* RELAY: peer is a TRS relay session */
	uint8_t temp_key[CY_KEY_LEN];      /* RELAY only: the Temp Key (wiped like key) */
	bool have_cand;                    /* the peer may be reached directly at cand */
	struct sockaddr_storage cand;      /* (punched: docs/nat.md) */
	uint8_t ticket[CY_TICKET_LEN];     /* with cand: what a Punch Request shows */
	uint8_t punch_mode;                /* with cand: enum cy_punch_mode */
	struct cy_flows flows_out;         /* what we may start towards the peer (flows.h) */
	struct cy_flows flows_in;          /* what the peer may start towards us */
};

struct sig_ops {
	/* One datagram to the NMS; 0 or -errno. */
	int (*send)(void *arg, const uint8_t *buf, size_t len, const struct sockaddr *to);
	/* Start a login; the outcome comes back through sig_login_done(). */
	void (*login)(void *arg);
	/* The node's own addresses to report (port ignored); returns how many. */
	size_t (*local_addrs)(void *arg, struct sockaddr_storage *out, size_t max);
	/* Registered with these VIPs (called on every successful registration). */
	void (*registered)(void *arg, const struct sig_info *info);
	/* Route selection (optional; without route_ready a Route Direction
	 * to us is refused with RESULT 9). */
	void (*route_ready)(void *arg, const struct sig_route *r);
	void (*route_failed)(void *arg, uint32_t req_id, enum cy_result result,
			     const char *reason);
	/* The NMS sees us at another endpoint than before while our own
	 * addresses did not change (our NAPT's mapping changed; optional). */
	void (*observed_moved)(void *arg, const struct sig_info *info);
	/* A Punch Direction: punch towards cand for our tunnel tunnel_id to
	 * peer_fqdn (mode: enum cy_punch_mode), if we hold it (docs/nat.md;
	 * optional). */
	void (*punch_direction)(void *arg, uint64_t tunnel_id, const char *peer_fqdn,
				const struct sockaddr *cand, uint8_t mode);
	/* A Tunnel Teardown: drop our tunnel tunnel_id to peer_fqdn, its
	 * authorisation is gone (reason: why; result: the RESULT it carried,
	 * for a route selection that failed after we had our answer, else
	 * CY_ERR_UNKNOWN; docs/policy.md; optional). */
	void (*teardown)(void *arg, uint64_t tunnel_id, const char *peer_fqdn,
			 const char *reason, enum cy_result result);
};

struct sig;

/* port: the local UDP port reported with each ADDR; keepalive: seconds
 * between keepalives (an upper bound: at most TTL / 3 is used). */
struct sig *sig_new(uint16_t port, int keepalive, const struct sig_ops *ops, void *arg);
void sig_free(struct sig *s);

/* Begin: log in. */
void sig_start(struct sig *s);
void sig_login_done(struct sig *s, const struct login_result *r);
/* A datagram received on the node's socket (from already unmapped).
 * 0 when it was signaling (taken or dropped and counted), -ENOMSG when it
 * is not signaling at all (for the data path). */
int sig_input(struct sig *s, const uint8_t *buf, size_t len, const struct sockaddr *from);
/* Run whatever is due at clock_now_ms(). */
void sig_timeout(struct sig *s);
/* When sig_timeout() wants to run next (clock_now_ms() time), INT64_MAX
 * for never. */
int64_t sig_next_ms(const struct sig *s);
/* Ask the NMS for a route to a correspondent named by fqdn, or else by
 * its virtual address vip4 (4 bytes) or vip6 (16 bytes); the others NULL.
 * *req_id_out gets the id the outcome will carry; a request identical to
 * one in flight is merged into it (same id, one outcome).  Sent at once
 * when registered, else as soon as the registration succeeds.  0,
 * -EINVAL (nothing or a bad name given), -EBUSY (SIG_DIR_MAX in flight),
 * -EACCES (revoked).  The caller re-arms its timer from sig_next_ms(). */
int sig_direction_request(struct sig *s, const char *fqdn, const uint8_t *vip4,
			  const uint8_t *vip6, uint32_t *req_id_out);
/* Ask the NMS to have both ends of our tunnel tunnel_id to peer_fqdn
 * punch again, each towards where the NMS sees the other now
 * (docs/nat.md), showing the ticket its route came with and how our NAPT
 * maps us (enum cy_mapping; CY_MAP_UNKNOWN: not said).  Not
 * retransmitted: the caller asks again later.  0, -ENOTCONN (not
 * registered), -EINVAL. */
int sig_punch_request(struct sig *s, const char *peer_fqdn, uint64_t tunnel_id,
		      const uint8_t ticket[CY_TICKET_LEN], uint8_t mapping);
/* The node's addresses or routes changed (docs/mobility.md): register
 * again at once from where it is now, to every NMS endpoint of the login
 * (whichever is reachable from here answers), without leaving REGISTERED;
 * retransmitted every SIG_MOVE_RETRY_MS, after SIG_REG_GIVEUP_MS as an
 * ordinary registration.  Not registered: the registration under way
 * carries on from the new address by itself.  The caller re-arms its
 * timer from sig_next_ms(). */
void sig_handover(struct sig *s);
/* The NMS endpoints of the login (for the caller's route checks). */
size_t sig_nms(const struct sig *s, const struct sockaddr_storage **out);
/* Send to NMS endpoint i of those from now on (it is reachable from
 * where the node is now); out of range: ignored. */
void sig_use_nms(struct sig *s, size_t i);
/* Stopping: a best-effort Deregistration when registered. */
void sig_stop(struct sig *s);

const struct sig_info *sig_info(const struct sig *s);
const struct sig_stats *sig_stats(const struct sig *s);
const char *sig_state_str(enum sig_state st);

#endif
