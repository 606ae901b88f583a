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
 * does not start a selection per packet.  No sockets here. */
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

struct peer {
	char fqdn[CY_FQDN_MAX + 1];       /* "" until known */
	bool have_vip4, have_vip6;
	struct in_addr vip4;
	struct in6_addr vip6;
	bool have_endpoint;
	struct sockaddr_storage endpoint; /* where Data goes; follows the peer (roaming) */
	bool relay;

	struct tunnel *tunnel;            /* NULL when none */
	uint64_t tunnel_id;               /* indexed while tunnel != NULL */
	int64_t tunnel_at_ms;             /* when the tunnel was created */

	enum peer_state state;
	uint32_t req_id;                  /* Direction Request in flight, 0 none */
	int64_t neg_until_ms;             /* negative cache (state FAILED) */
	int neg_status;                   /* enum resolver_status to answer meanwhile */

	struct peer_waiter waiters[PEER_WAITERS];
	unsigned nwaiters;

	uint8_t *queue[PEER_QUEUE];       /* ring of copies */
	uint16_t queue_len[PEER_QUEUE];
	unsigned qhead, qcount;

	bool tunnel_as_cn;                /* its route came as a Route Direction to us as CN */
	int64_t last_tx_ms, last_rx_ms;
	int64_t ack_due_since_ms;         /* first Data received since we last sent, 0 */
	int64_t unanswered_since_ms;      /* first Data sent since the last one received, 0 */

	/* the table's */
	struct peer_table *tab;
	size_t slot;
	struct peer *h_fqdn, *h_vip4, *h_vip6, *h_tid;
	bool in_fqdn, in_vip4, in_vip6, in_tid;
};

struct peer_table *peer_table_new(void);
/* Frees every peer (and its tunnel and queue). */
void peer_table_free(struct peer_table *t);

/* A new empty peer (state IDLE), or NULL (ENOMEM, or PEER_MAX reached). */
struct peer *peer_new(struct peer_table *t);
/* Removes p from every index and frees it with its tunnel and queue. */
void peer_del(struct peer *p);

/* Identity; each (re)indexes the peer.  -EEXIST when another peer holds
 * the key already (nothing changed), -EINVAL for a bad FQDN. */
int peer_set_fqdn(struct peer *p, const char *fqdn);
int peer_set_vip4(struct peer *p, const struct in_addr *a);
int peer_set_vip6(struct peer *p, const struct in6_addr *a);
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

/* 0 or -ENOBUFS. */
int peer_waiter_add(struct peer *p, enum peer_waiter_kind kind, uint64_t token);

/* Iteration: peer_at(t, i) for i < peer_count(t).  Deleting the peer at i
 * moves the last one into i. */
size_t peer_count(const struct peer_table *t);
struct peer *peer_at(const struct peer_table *t, size_t i);

/* Move p's waiters and queued packets into dst (what does not fit is
 * dropped; the count of dropped packets is returned) and delete p. */
unsigned peer_merge_into(struct peer *dst, struct peer *p);

const char *peer_state_str(enum peer_state st);

#endif
