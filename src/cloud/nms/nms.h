/* The Node Management Service (docs/protocol.md, "NMS: sealed UDP").
 *
 * nms_handle() is the whole signaling protocol as a plain function over
 * one datagram: no sockets.  It finds the node-NMS common key named in
 * the envelope (an in-memory cache of AEAD contexts and anti-replay
 * windows, filled from the store on a miss), checks the counter,
 * authenticates, parses and dispatches Registration, Keepalive and
 * Deregistration, and writes the sealed reply (or an NMS Reject) into
 * out.  The store is the authority: a key deleted there (revocation,
 * expiry) is refused at once even when cached.
 *
 * Route selection (route.c) answers a Direction Request only after the
 * correspondent confirmed: the Route Direction to the correspondent, its
 * retransmissions and the late answer to the requester are datagrams to
 * others than the sender of the datagram being handled, so they leave
 * through ops->send (nms_set_ops), and nms_tick() drives the
 * retransmissions from a timer armed for nms_next_ms(). */
#ifndef CY_NMS_H
#define CY_NMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "counters.h"

#define NMS_PKT_MAX 2048         /* largest datagram handled */
#define NMS_REJECT_LEN 12
#define NMS_REJECT_PER_SEC 5     /* NMS Rejects per source address and second */
/* Store lookups a second that find no usable key, from one source (an
 * IPv4 address, an IPv6 /64) and from all: past either, a datagram under
 * a key id the NMS has never had in memory is dropped unlooked-at until
 * the next second (counted in unknown_key and unknown_key_shed).  Made-up
 * key ids cost the event loop at most that many store round trips a
 * second; a source that makes them up cannot keep other sources' new
 * keys from being looked up unless it forges its source addresses, and
 * nobody can keep the NMS from re-checking the keys it holds. */
#define NMS_KEY_MISSES_PER_SOURCE 8
#define NMS_KEY_MISSES_PER_SEC 1024
/* The NMS keeps the common keys in memory and looks each up in the store
 * again after this long (a login elsewhere replaces a key; a revocation
 * told to the NMS has every key looked up again at once); a Registration
 * Request always does. */
#define NMS_KEY_RECHECK_MS 10000
/* ...and the nodes it asks about (their FQDN, VIPs, tags, whether
 * revoked) after this long, at once when told of a revocation or of
 * changed tags. */
#define NMS_NODE_RECHECK_MS 60000
/* Keepalives are answered from memory and written to the store together
 * every NMS_REG_FLUSH_MS (at most NMS_REG_FLUSH_MAX at a time); this
 * host's registrations are read from the store again when not refreshed
 * for NMS_REG_RECHECK_MS (another host took the node over). */
#define NMS_REG_FLUSH_MS 1000
#define NMS_REG_FLUSH_MAX 65536
#define NMS_REG_RECHECK_MS 20000

struct store;

#define NMS_MAX_TRS 4

/* The TRSes to ask for relay sessions (docs/protocol.md, "Relay Request"). */
struct nms_relay_conf {
	uint8_t secret[32];          /* the NMS-TRS key (trs_wire.h) */
	struct sockaddr_storage trs[NMS_MAX_TRS];   /* their control endpoints */
	size_t ntrs;
};

struct nms_conf {
	int registration_ttl;        /* seconds a registration lives without keepalive */
	const char *policy;          /* the access policy's file (policy.h); NULL: none */
	/* This cloud host's name ([cloud] host): a registration records the
	 * host it is on, and only that host acts on the node's other
	 * messages (docs/cloud.md).  NULL or "": "local". */
	const char *host;
	/* The store's URL: when it is a database server's, the keepalives
	 * answered from memory are written by a thread with a connection of
	 * its own; else (and NULL) by the caller's timer on the NMS's store. */
	const char *store;
};

struct nms_stats {
	uint64_t rx;
	uint64_t malformed;
	uint64_t auth_fail;
	uint64_t replay;
	uint64_t unknown_key;
	uint64_t unknown_key_shed;   /* ...not looked up: NMS_KEY_MISSES_PER_SEC reached */
	uint64_t expired_key;
	uint64_t registrations;
	uint64_t reg_challenges;     /* Registrations answered with a cookie to echo */
	uint64_t keepalives;
	uint64_t deregistrations;
	uint64_t directions;         /* new Direction Requests (not retransmissions) */
	uint64_t directions_ok;      /* answered with a Route Direction, RESULT 0 */
	uint64_t directions_failed;  /* answered with a failure (4, 6, 8, 9, ...) */
	uint64_t relays;             /* selections that asked a TRS for a relay */
	uint64_t relays_failed;      /* no relay: none configured, no answer, refused */
	uint64_t punches;            /* Punch Requests directed to both ends */
	uint64_t punches_refused;    /* ...that named no live peer in a common family */
	uint64_t punches_hopeless;   /* ...for two ends whose NAPTs both map per destination */
	uint64_t policy_loads;       /* access policy files taken (or found gone) */
	uint64_t policy_errors;      /* ...refused (the one in force stayed) */
	uint64_t policy_denied;      /* route selections the policy denied */
	uint64_t teardowns;          /* tunnels torn down: a node revoked, the policy changed */
	uint64_t bus_out;            /* signals sent to other cloud hosts */
	uint64_t bus_in;             /* ...received */
	uint64_t bus_bad;            /* ...received and not understood */
};

/* The table of those counters (counters.h). */
extern const struct counter nms_counters[];
extern const size_t nms_ncounters;

/* Datagrams the NMS sends on its own.  to is never an IPv4-mapped address. */
struct nms_ops {
	void (*send)(void *arg, const struct sockaddr *to, const uint8_t *buf, size_t len);
};

struct nms;

struct nms *nms_new(struct store *st, const struct nms_conf *conf);
/* The access policy's file, at start: 0 (read, or none there), -1 with
 * "FILE:LINE: what is wrong" in err (the cloud does not start). */
int nms_policy_start(struct nms *n, char *err, size_t errlen);
/* ...again when it changed (force: anyway, SIGHUP).  0, or -1 when it is
 * invalid (logged with file and line; the policy in force stays).  A new
 * policy is applied to the running tunnels at once (nms_authz_check). */
int nms_policy_reload(struct nms *n, bool force);
/* Every tunnel this NMS authorised, checked again now: those whose node
 * was revoked or whose pair the policy no longer allows are torn down
 * (both ends told, docs/policy.md).  `cyphonic revoke` and `cyphonic tag`
 * ask for it over the control socket; it also runs every few seconds. */
void nms_authz_check(struct nms *n);
/* A signal from another cloud host (store_bus, nms_bus.c), and one to
 * all of them that nodes changed (revoked, tagged). */
void nms_bus_input(struct nms *n, const char *channel, const char *payload);
void nms_bus_authz(struct nms *n);
/* The channel a host listens on for signals meant for it. */
#define NMS_BUS_CHANNEL_MAX 72
void nms_bus_channel(const char *host, char out[NMS_BUS_CHANNEL_MAX]);
void nms_free(struct nms *n);

/* Handle one datagram from `from` (IPv4-mapped addresses already
 * unmapped).  Returns the length of the reply to send back to `from`,
 * 0 for none. */
size_t nms_handle(struct nms *n, const struct sockaddr *from, const uint8_t *pkt, size_t len,
		  uint8_t *out, size_t cap);

/* Drop registrations and keys that expired by `now` (unix seconds), in
 * the store and in the cache.  Called from a timer. */
void nms_expire(struct nms *n, int64_t now);
/* Write the keepalives answered from memory to the store (every
 * NMS_REG_FLUSH_MS, from a timer; nms_free does it once more). */
void nms_flush(struct nms *n);

const struct nms_stats *nms_stats(const struct nms *n);

/* Relay through a TRS where no direct path exists (rule 3 of the path
 * choice); without it such selections fail with RESULT 9.  0 or -errno. */
int nms_set_relay(struct nms *n, const struct nms_relay_conf *c);

/* Where datagrams to others go (copied).  Without it they are dropped. */
void nms_set_ops(struct nms *n, const struct nms_ops *ops, void *arg);
/* Run the route-selection timers due at now_ms (clock_now_ms() time):
 * retransmit Route Directions, give up on silent correspondents, forget
 * finished selections. */
void nms_tick(struct nms *n, int64_t now_ms);
/* When nms_tick() wants to run next (clock_now_ms() time); INT64_MAX for
 * never.  Changes after nms_handle() and nms_tick(). */
int64_t nms_next_ms(const struct nms *n);

#endif
