/* The daemon's peers: every correspondent it has a tunnel to, or is
 * selecting a route to, found by what the packet path has in hand.
 *
 *   TUN packet  -> destination VIP4 / VIP6 -> peer_by_vip4 / peer_by_vip6
 *   DNS lookup  -> FQDN                    -> peer_by_fqdn
 *   Tunnel Request / Response -> tunnel id -> peer_by_tid
 *   Data        -> receiver index          -> peer_by_index
 *
 * Each key has a chained hash table (intrusive links for the identity
 * keys, small entries for the session indexes), so a lookup costs O(1)
 * on average and nothing is allocated on the packet path.  Session
 * indexes are recorded when a tunnel draws them (peer_index_claim, given
 * to tunnel_new as its index_in_use hook) and purged once the tunnel no
 * longer holds them; a stale entry only ever leads to the tunnel that
 * refuses the packet.
 *
 * A peer also holds what waits for its tunnel: up to PEER_WAITERS DNS
 * lookups or pings, and up to PEER_QUEUE TUN packets (copied: this is the
 * slow path, before the tunnel exists), and a negative cache after a
 * failed route selection so a stream of packets to an unreachable VIP
 * does not start a selection per packet.  No sockets here.
 *
 * Memory: a daemon may hold thousands of peers, so a peer is kept small:
 * 280 bytes, plus its FQDN allocated to its length; the endpoint is a
 * union of the two socket addresses, not a sockaddr_storage; the waiter
 * list and the packet queue exist only while something waits (freed by
 * peer_waiters_clear and by the last peer_queue_pop). */
#ifndef CY_NODE_PEER_H
#define CY_NODE_PEER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wire.h"

#define PEER_QUEUE 16          /* TUN packets waiting for a tunnel */
#define PEER_WAITERS 16        /* DNS lookups / pings waiting for it */
#define PEER_NEG_MS 2000       /* a failed route selection is remembered */
#define PEER_MAX 4096          /* peers at once */

struct tunnel;
struct peer_table;
struct flow_rules;

enum peer_state {
	PEER_IDLE,        /* nothing in progress (new, or the tunnel went away) */
	PEER_SELECTING,   /* Direction Request in flight */
	PEER_HANDSHAKE,   /* route selected, tunnel handshake running */
	PEER_UP,          /* the tunnel carries data */
	PEER_FAILED,      /* route selection or handshake failed: negative cache */
};

enum peer_waiter_kind { PEER_WAIT_DNS = 1, PEER_WAIT_PING = 2 };

struct peer_waiter {
	enum peer_waiter_kind kind;
	uint64_t token;
};

struct peer_queue;

/* A peer's endpoint, IPv4 or IPv6: 28 bytes where a sockaddr_storage
 * takes 128 (peer_endpoint_get widens it). */
union peer_addr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

struct peer {
	const char *fqdn;                 /* "" until known (peer_set_fqdn), never NULL */
	struct tunnel *tunnel;            /* NULL when none */
	uint64_t tunnel_id;               /* indexed while tunnel != NULL */
	int64_t tunnel_at_ms;             /* when the tunnel was created */
	int64_t neg_until_ms;             /* negative cache (state FAILED) */
	int64_t last_tx_ms, last_rx_ms;
	int64_t ack_due_since_ms;         /* first Data received since we last sent, 0 */
	int64_t unanswered_since_ms;      /* first Data sent since the last one received, 0 */
	int64_t move_since_ms;            /* we moved: our move probe unanswered since, 0 */
	int64_t move_sent_ms;             /* ...and last sent */
	int64_t punched_ms;               /* a relayed tunnel took its punched path, 0 */

	struct flow_rules *rules;         /* the policy's flows for the tunnel (flowcheck.h),
					   * NULL: everything; freed with the tunnel */
	void *alt;                        /* the tunnel's own socket (a dpio_port, the
					   * birthday approach's: docs/nat.md), NULL;
					   * freed with the tunnel (peer_table_set_alt_free) */
	union peer_addr endpoint;         /* where Data goes; follows the peer (roaming) */
	union peer_addr route_peer;       /* where the tunnel's route said the peer was */
	struct in6_addr vip6;
	struct in_addr vip4;
	enum peer_state state;
	uint32_t req_id;                  /* Direction Request in flight, 0 none */
	int neg_status;                   /* enum resolver_status to answer meanwhile */

	struct peer_waiter *waiters;      /* PEER_WAITERS of them while nwaiters > 0 */
	struct peer_queue *queue;         /* ring of copies while qcount > 0 */
	uint8_t nwaiters;
	uint8_t qhead, qcount;

	bool have_vip4, have_vip6;
	bool have_endpoint;
	bool relay;                       /* the tunnel has a TRS relay session (route_peer) */
	bool punch;                       /* its direct path was (or is to be) punched */
	bool birthday;                    /* ...by the birthday approach */
	bool path_check;                  /* ...and is being probed: it went silent */
	bool tunnel_as_cn;                /* its route came as a Route Direction to us as CN */

	/* the table's */
	bool in_fqdn, in_vip4, in_vip6, in_tid;
	uint32_t slot;
	struct peer_table *tab;
	struct peer *h_fqdn, *h_vip4, *h_vip6, *h_tid;
};

struct peer_table *peer_table_new(void);
/* Frees every peer (and its tunnel and queue). */
void peer_table_free(struct peer_table *t);

/* How a peer's alt goes when its tunnel does (the overlay's). */
void peer_table_set_alt_free(struct peer_table *t, void (*fn)(void *alt));
/* p's alt freed that way now (its path is gone), NULL after. */
void peer_drop_alt(struct peer *p);
/* A new empty peer (state IDLE), or NULL (ENOMEM, or PEER_MAX reached). */
struct peer *peer_new(struct peer_table *t);
/* Removes p from every index and frees it with its tunnel and queue. */
void peer_del(struct peer *p);

/* Identity; each (re)indexes the peer.  -EEXIST when another peer holds
 * the key already (nothing changed), -EINVAL for a bad FQDN, -ENOMEM. */
int peer_set_fqdn(struct peer *p, const char *fqdn);
int peer_set_vip4(struct peer *p, const struct in_addr *a);
int peer_set_vip6(struct peer *p, const struct in6_addr *a);
/* The endpoint as a sockaddr_storage (zeroed first). */
void peer_endpoint_get(const struct peer *p, struct sockaddr_storage *ss);
/* Replace the tunnel (the old one is freed; NULL for none). */
void peer_set_tunnel(struct peer *p, struct tunnel *tun, uint64_t tunnel_id, int64_t now_ms);

struct peer *peer_by_fqdn(const struct peer_table *t, const char *fqdn);
struct peer *peer_by_vip4(const struct peer_table *t, const uint8_t a[4]);
struct peer *peer_by_vip6(const struct peer_table *t, const uint8_t a[16]);
struct peer *peer_by_tid(const struct peer_table *t, uint64_t tunnel_id);
struct peer *peer_by_index(const struct peer_table *t, uint32_t idx);
/* The peer whose Direction Request has this id (slow path: a scan). */
struct peer *peer_by_req(const struct peer_table *t, uint32_t req_id);

/* The index_in_use hook of struct tunnel_params, with ctx = the peer:
 * true when idx is taken; otherwise idx is recorded as p's and false is
 * returned (the tunnel is about to use it). */
bool peer_index_claim(void *ctx, uint32_t idx);
/* Forget indexes claimed more than max_age_ms ago that their peer's
 * tunnel no longer holds. */
void peer_index_purge(struct peer_table *t, int64_t now_ms, int64_t max_age_ms);
size_t peer_index_count(const struct peer_table *t);

/* Queue a copy of a packet: 0, -ENOBUFS (full: dropped), -ENOMEM. */
int peer_queue_push(struct peer *p, const uint8_t *pkt, size_t len);
/* The oldest queued packet, or NULL; release it with peer_queue_pop(). */
const uint8_t *peer_queue_front(const struct peer *p, size_t *len);
void peer_queue_pop(struct peer *p);
/* Drop everything queued; returns how many. */
unsigned peer_queue_clear(struct peer *p);

/* 0, -ENOBUFS (PEER_WAITERS wait already) or -ENOMEM. */
int peer_waiter_add(struct peer *p, enum peer_waiter_kind kind, uint64_t token);
/* Forget the waiters (they were answered); frees their list. */
void peer_waiters_clear(struct peer *p);

/* Iteration: peer_at(t, i) for i < peer_count(t).  Deleting the peer at i
 * moves the last one into i. */
size_t peer_count(const struct peer_table *t);
struct peer *peer_at(const struct peer_table *t, size_t i);

/* Move p's waiters and queued packets into dst (what does not fit is
 * dropped; the count of dropped packets is returned) and delete p. */
unsigned peer_merge_into(struct peer *dst, struct peer *p);

const char *peer_state_str(enum peer_state st);

#endif
