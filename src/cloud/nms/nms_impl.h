/* Inside the NMS: the state nms.c (registration) and route.c (route
 * selection) share.  Not part of the NMS's public interface (nms.h). */
#ifndef CY_NMS_IMPL_H
#define CY_NMS_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "idmap.h"
#include "log.h"
#include "nms.h"
#include "replay.h"
#include "seal.h"
#include "store.h"

#define NMS_BUCKETS 1024          /* key cache buckets at first: doubled as it fills */
#define NMS_RL_SLOTS 256
#define NMS_MSG_MAX 1152         /* the largest: a Route Direction with 2 x CY_FLOWS_MAX
				  * flows and a 253-byte FQDN (1-2 IPv6-safe datagrams) */

struct aead;
struct nms_flusher;
struct nms_nodes;
struct nms_relay;
struct route_table;

/* One node-NMS common key in use: its AEAD context and the receive
 * window (what we send under it is numbered by struct nms's ctr). */
struct nms_key {
	struct idmap_node hn;        /* id: key_id */
	uint64_t key_id;
	int64_t node_id;
	int64_t expires;
	int64_t checked_ms;          /* last found in the store (clock_now_ms)... */
	uint64_t gen;                /* ...in this generation of the cache */
	uint64_t mark;               /* the store's mark then (store_key.mark) */
	struct aead *aead;
	struct replay rx;
};

/* NMS Rejects are unauthenticated answers to unauthenticated input:
 * limit them per source address so the NMS is no reflector. */
/* Per source address (hashed) and second: NMS Rejects sent, store
 * lookups that found no key. */
struct nms_rl_slot {
	int64_t second;
	unsigned sent;
	unsigned misses;
};

#define NMS_BUS_FWD 256   /* delivered tunnels remembered (nms_bus.c) */

struct nms {
	int alone_fd;                      /* SQLite: the lock that keeps the store ours, or -1 */
	struct store *st;
	struct nms_conf conf;
	struct nms_stats stats;
	uint8_t prefix4, prefix6;
	struct idmap keys;           /* nms_keys.c: the keys in use */
	uint64_t key_gen;            /* moved on: every cached key is looked up again */
	struct nms_nodes *nodes;     /* nms_nodes.c: the nodes asked about */
	struct idmap regs;           /* nms_regs.c: this host's registrations */
	bool regs_unflushed;         /* ...the last flush failed (store away) */
	struct nms_flusher *flusher; /* ...the thread that writes them; NULL: none */
	struct nms_rl_slot rl[NMS_RL_SLOTS];
	uint64_t rl_salt;
	struct ratelimit rl_log;
	struct ratelimit rl_route;         /* route selections that failed */
	int64_t miss_sec;                  /* the second key_misses counts in */
	unsigned key_misses;               /* store lookups that found no key, from anywhere */
	/* Counters of everything sealed to nodes: the common keys outlive
	 * this process (the store keeps them), so the counters come from
	 * blocks reserved in the store and never repeat under a key. */
	struct cy_ctr ctr;
	struct nms_ops ops;          /* datagrams to others than the sender */
	void *ops_arg;
	struct route_table *routes;  /* route.c */
	struct nms_relay *relay;     /* nms_relay.c; NULL: no TRS */
	/* Keys the punch tickets (route.c): a Punch Request must show the
	 * ticket of a route between the two.  Shared by the hosts of a store
	 * (its metadata "punch_secret"). */
	uint8_t punch_secret[32];
	uint8_t bus_key[32];         /* seals the signals between hosts (nms_bus.c) */
	uint8_t cookie_secret[32];   /* keys the Registrations' cookies (nms_cookie.c) */
	/* nms_policy.c: the access policy in force (NULL: everything
	 * allowed), its file, and that file as last seen. */
	struct policy *policy;
	struct grant_table *grants;  /* grant.c: the tunnels authorised */
	char policy_path[512];
	char host[STORE_HOST_MAX + 1];      /* nms_conf.host */
	/* nms_bus.c: tunnels whose directions this host delivered for
	 * another, and where their answers go back */
	struct nms_bus_fwd {
		uint64_t tunnel_id;
		int64_t until;              /* clock_now_ms() */
		char host[STORE_HOST_MAX + 1];
	} fwd[NMS_BUS_FWD];
	size_t fwd_next;
	bool policy_present;
	int64_t policy_sig[4];
};

/* nms_bus.c (docs/cloud.md): the host node_id is registered on, when it
 * is another (host set); message msg handed to that host to seal under
 * key_id and send to `to`; a node's answer about tunnel_id sent back to
 * the host that delivered its direction (false: none did). */
bool nms_bus_remote(struct nms *n, int64_t node_id, char host[STORE_HOST_MAX + 1]);
/* This host took node_id over from host: it forgets what it kept. */
void nms_bus_released(struct nms *n, const char *host, int64_t node_id);
int nms_bus_deliver(struct nms *n, const char *host, const struct sockaddr *to,
		    uint64_t key_id, const uint8_t *msg, size_t mlen);
bool nms_bus_forward(struct nms *n, struct nms_key *k, const struct sockaddr *from,
		     uint64_t tunnel_id, const uint8_t *plain, size_t plen);

/* nms_nodes.c: a node as the store has it (store_node_by_id and _by_fqdn),
 * from a cache of the fields the NMS reads (the others are left zero: no
 * credentials) that follows the key cache's generation and is read again
 * after NMS_NODE_RECHECK_MS.  nms_nodes_expire frees the entries past
 * their time. */
int nms_nodes_init(struct nms *n);
void nms_nodes_free(struct nms *n);
void nms_nodes_expire(struct nms *n);
int nms_node_by_id(struct nms *n, int64_t id, struct store_node *out);
int nms_node_by_fqdn(struct nms *n, const char *fqdn, struct store_node *out);

/* nms_regs.c: the registrations of this host, in memory, their
 * keepalives written to the store in batches (nms_regs_flush, every
 * NMS_REG_FLUSH_MS).  nms_reg_get: node_id's registration, this host's
 * from memory, another's from the store (0, -ENOENT, -EIO; what memory
 * gives lacks the reported addresses: never store_reg_put it);
 * nms_reg_kept: r was just written by this host; nms_reg_forget: gone;
 * nms_reg_keepalive: k's node keeps alive from `from` (0, or -ENOENT: not
 * its registration here, -EIO). */
int nms_regs_init(struct nms *n);
/* Write the keepalives on a thread with a store connection of its own
 * (url); nms_regs_free stops it.  0, or -errno (they are written on the
 * caller's connection). */
int nms_regs_thread(struct nms *n, const char *url);
void nms_regs_free(struct nms *n);
int nms_reg_get(struct nms *n, int64_t node_id, struct store_reg *out);
/* The same for a node asking this host for something (a route, a
 * punch): memory only when the store confirmed it within two flushes, so
 * a request replayed from the node's traffic with another host is not
 * taken on a stale copy. */
int nms_reg_get_requester(struct nms *n, int64_t node_id, struct store_reg *out);
void nms_reg_kept(struct nms *n, const struct store_reg *r);
void nms_reg_forget(struct nms *n, int64_t node_id);
int nms_reg_keepalive(struct nms *n, struct nms_key *k, const struct sockaddr *from);
void nms_regs_flush(struct nms *n);
/* Flush, then forget every registration kept but the keepalives the
 * store has not taken: each is read from it again when next asked (a
 * revocation deleted some). */
void nms_regs_reread(struct nms *n);
void nms_regs_expire(struct nms *n);

/* nms_policy.c: may `from` select a route to `to` (counted and logged
 * when not)?  nms_policy_free at the end. */
struct store_node;
bool nms_policy_allows(struct nms *n, const struct store_node *from,
		       const struct store_node *to);
/* What from may start towards to (flows.h; all without a policy). */
struct cy_flows;
void nms_policy_flows(struct nms *n, const struct store_node *from,
		      const struct store_node *to, struct cy_flows *out);
/* A digest of both directions' flows between a (the MN) and b: a grant
 * whose digest changes is torn down, so its ends learn the new flows. */
uint64_t nms_policy_flows_hash(struct nms *n, const struct store_node *a,
			       const struct store_node *b);
/* The same digest of flows already computed: fw[0] a -> b, fw[1] b -> a. */
uint64_t nms_flows_digest(const struct cy_flows *fw);
/* ...the same decision, neither counted nor logged (checks again). */
bool nms_policy_decide(const struct nms *n, const struct store_node *from,
		       const struct store_node *to);
void nms_policy_free(struct nms *n);

/* grant.c: room for a grant between a and b?  A confirmed route's grant
 * (MN, CN): false when it is no longer valid (revoked, denied: its ends
 * are told at once); every grant checked again and those no longer valid
 * torn down; a node's Teardown Ack; retransmissions and expiry at now_ms,
 * and when the next retransmission is due. */
struct grant_table;
struct grant_table *grant_table_new(void);
void grant_table_free(struct grant_table *t);
bool grant_room(struct nms *n, int64_t a, int64_t b);
bool grant_add(struct nms *n, uint64_t tunnel_id, int64_t mn, int64_t cn, uint64_t flows,
	       int64_t now_ms);
/* The route selection that made tunnel_id's grant failed after the MN
 * had its key: nothing of tunnel_id stays granted (the pair's grant
 * goes back to the tunnel before it, if any), and the MN alone is told
 * to drop it (GRANT_FAST_TRIES times at most), with result (the
 * selection's RESULT) for what waits on the tunnel. */
void grant_cancel(struct nms *n, uint64_t tunnel_id, int64_t mn, int64_t cn, uint8_t result,
		  const char *why, int64_t now_ms);
/* ...and its CN confirmed it late: it alone is told to drop the tunnel. */
void grant_drop_cn(struct nms *n, uint64_t tunnel_id, int64_t mn, int64_t cn, const char *why,
		   int64_t now_ms);
void grants_check(struct nms *n, int64_t now_ms);
/* ...and GRANT_SWEEP of them, going round, for changes nobody told of. */
void grants_sweep(struct nms *n, int64_t now_ms);
struct cy_msg;
bool grant_ack(struct nms *n, struct nms_key *k, const struct cy_msg *m);
void grants_tick(struct nms *n, int64_t now_ms);
int64_t grants_next_ms(const struct nms *n);

/* nms_keys.c: the common keys in use, a cache over the store.
 * nms_keys_init sets up the cache and the sending counters (0 or
 * -ENOMEM; shared: other hosts seal under the same keys, seal.h);
 * nms_keys_expire drops cached keys past their expiry, nms_keys_free all
 * of them; nms_key_drop one (revoked or expired in the
 * store meanwhile); nms_keys_recheck_all has each looked up in the store
 * again when next used (a revocation or a tag changed: keys may be gone),
 * keeping its receive window when it is still there. */
int nms_keys_init(struct nms *n, bool shared);
void nms_keys_recheck_all(struct nms *n);
void nms_keys_expire(struct nms *n, int64_t now);
void nms_keys_free(struct nms *n);
void nms_key_drop(struct nms *n, uint64_t key_id);
/* The cached key for the store's sk, created on a miss (its receive
 * window resumes from the counter stored with the registration). */
struct store_key;
struct nms_key *nms_key_get(struct nms *n, const struct store_key *sk);
/* The key key_id, from the cache (looked up in the store again as
 * nms_key_cached says) or loaded from the store; NULL when it does not
 * exist or expired.  A key found gone is marked, never freed here. */
struct nms_key *nms_key_find(struct nms *n, uint64_t key_id);
/* The cached key key_id when the store had it less than
 * NMS_KEY_RECHECK_MS ago and it has not expired; else NULL (look it up). */
struct nms_key *nms_key_cached(struct nms *n, uint64_t key_id);
/* key_id is in memory (fresh or due for its re-check). */
bool nms_key_known(struct nms *n, uint64_t key_id);
/* Is k still in the store (a login replaces a node's key, a revocation
 * deletes it)?  Looked up now: 0, -ENOENT (k is marked expired: no lookup
 * takes it any more, the next sweep frees it) or -EIO. */
int nms_key_recheck(struct nms *n, struct nms_key *k);
/* Seal msg under k (dir 1) and hand it to ops.send for `to`.  0 or -errno. */
int nms_send_sealed(struct nms *n, struct nms_key *k, const struct sockaddr *to,
		    const uint8_t *msg, size_t len);
/* Seal msg under k into out (a reply); the datagram length or 0. */
size_t nms_seal_reply(struct nms *n, struct nms_key *k, const uint8_t *msg, size_t len,
		      uint8_t *out, size_t cap);

/* nms_cookie.c: a Registration that would move (or make) a registration
 * must come from where it is, or echo the cookie the NMS sent there.
 * Cookies change every NMS_COOKIE_WINDOW_S; one is taken in its window
 * and the next. */
#define NMS_COOKIE_WINDOW_S 60
/* The cookie for endpoint from and key key_id now (seconds); false when
 * none can be made. */
bool nms_reg_cookie(const struct nms *n, uint64_t key_id, const struct sockaddr *from,
		    int64_t now, uint8_t out[CY_COOKIE_LEN]);
/* Whether m, a Registration under key_id from `from`, echoes from's
 * cookie (this window's or the last one's). */
bool nms_reg_cookie_ok(const struct nms *n, uint64_t key_id, const struct cy_msg *m,
		       const struct sockaddr *from, int64_t now);

#endif
