/* The cloud's state behind one interface: nodes (plain nodes, adapters
 * and general nodes), their credentials, virtual-IP allocations,
 * revocations, node-NMS common keys and NMS registrations.
 *
 * The backend follows the URL given to store_open():
 *   "/path/cloud.db" or "sqlite:/path/cloud.db"  embedded SQLite (default)
 *   "postgresql://..."                            PostgreSQL (later)
 * Every backend implements struct store_ops (store_impl.h) and passes the
 * same unit tests.  Several AS/NMS processes may share one store, so
 * anything that must be consistent (VIP allocation, key lookup) is done
 * inside the backend in one transaction, never read-modify-write here.
 *
 * Errors: 0 on success, -ENOENT not found, -EEXIST duplicate,
 * -ENOSPC address range exhausted, -EIO backend failure (logged). */
#ifndef CY_STORE_H
#define CY_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "counters.h"
#include "wire.h"

#define STORE_SCHEMA_VERSION 6
#define STORE_SERIAL_MAX 64     /* hex certificate serial */
#define STORE_HOST_MAX 63       /* a cloud host's name ([cloud] host) */
#define STORE_PWHASH_MAX 256    /* "$scrypt$..." */
#define STORE_TAGS_MAX 255      /* = POLICY_TAGS_MAX */
#define STORE_META_MAX 4096
#define STORE_MAX_ADDRS 8

struct store;

/* How long a store handle kept its caller waiting: every call through it
 * timed, from the call to its return (`cyphonic stats` "store", and the
 * Prometheus histogram cyphonic_store_call_duration_seconds).  le_X
 * counts the calls that took X or less, so each includes the ones
 * before it. */
struct store_stats {
	uint64_t calls;
	uint64_t failed;     /* ended in an error but "not found" or "exists" */
	uint64_t usec;       /* the time of them all, microseconds */
	uint64_t le_100us, le_1ms, le_10ms, le_100ms, le_1s;
};

extern const struct counter store_counters[];
extern const size_t store_ncounters;
/* The bucket bounds of le_100us... in seconds, in that order. */
#define STORE_NBUCKETS 5
extern const double store_buckets_s[STORE_NBUCKETS];

/* This handle's timings; one handle is used by one thread. */
const struct store_stats *store_stats(const struct store *st);

struct store_node {
	int64_t id;
	char name[CY_NAME_MAX + 1];          /* label, unique per cloud */
	char fqdn[CY_FQDN_MAX + 1];          /* name.domain */
	enum cy_kind kind;
	int64_t adapter_id;                  /* general nodes: owning adapter; else 0 */
	uint8_t mac[6];                      /* general nodes */
	uint8_t vip4[4];
	uint8_t vip6[16];
	char cert_serial[STORE_SERIAL_MAX + 1]; /* "" when none issued */
	char cert_prev[STORE_SERIAL_MAX + 1];   /* the one a renewal replaced, until used */
	char pwhash[STORE_PWHASH_MAX + 1];   /* "" when password login is off */
	bool revoked;
	char revoke_reason[CY_REASON_MAX + 1];
	int64_t created;                     /* unix seconds */
	char tags[STORE_TAGS_MAX + 1];       /* access-policy tags, "a,b" (policy.h) */
};

struct store_key {
	uint64_t key_id;
	int64_t node_id;
	uint8_t key[CY_KEY_LEN];
	int64_t expires;                     /* unix seconds */
	/* Every counter below this is old under the key: the counter mark of
	 * each registration made with it that has gone (deleted, expired),
	 * so that a Registration replayed after its row is gone is still
	 * refused, by any host.  Set by store_reg_delete/_expire; 0 from
	 * store_key_put. */
	uint64_t mark;
};

struct store_reg {
	int64_t node_id;
	uint64_t key_id;
	struct sockaddr_storage observed;    /* where the NMS saw it from */
	size_t naddrs;
	struct sockaddr_storage addrs[STORE_MAX_ADDRS]; /* what the node reported */
	uint8_t families;                    /* CY_FAM_* */
	bool nat;                            /* observed not among the reported */
	uint8_t mapping;                     /* enum cy_mapping: as the node last said */
	uint64_t counter;                    /* next acceptable sealed counter */
	char host[STORE_HOST_MAX + 1];       /* the cloud host it is registered on */
	int64_t updated;                     /* unix seconds */
	int64_t expires;
};

/* Mask, in place, a password a text may quote from a store URL
 * ("scheme://user:PASSWORD@host", "password=PASSWORD"): libpq's messages
 * quote the URL they could not parse. */
void store_url_redact(char *text);

/* Signals between the cloud hosts that share a store (docs/cloud.md):
 * store_notify() sends payload (text, at most STORE_NOTIFY_MAX bytes) on
 * channel; a store_bus listens on one channel (and on STORE_CHANNEL_ALL)
 * and calls cb with each payload, on the event loop.  PostgreSQL's
 * LISTEN/NOTIFY: a backend without them (SQLite: one host) returns
 * -ENOTSUP, and store_bus_new() NULL with err "". */
#define STORE_NOTIFY_MAX 7900
#define STORE_CHANNEL_ALL "cy_all"
struct event_base;
struct store_bus;
typedef void (*store_bus_cb)(void *arg, const char *channel, const char *payload);
int store_notify(struct store *st, const char *channel, const char *payload);
struct store_bus *store_bus_new(struct event_base *base, const char *url, const char *channel,
				store_bus_cb cb, void *arg, char *err, size_t errlen);
void store_bus_free(struct store_bus *b);

/* Is url a database server's (every statement a round trip), not a file
 * of this machine's? */
bool store_url_server(const char *url);

/* Open (creating and migrating the schema as needed). err gets a
 * human-readable reason on failure. */
int store_open(struct store **out, const char *url, char *err, size_t errlen);
void store_close(struct store *st);

/* Small key/value metadata: "domain", "vip4_prefix", "vip6_prefix", ... */
int store_meta_set(struct store *st, const char *key, const char *value);
/* Set key to value only when it has none yet: of two processes adding
 * at once, the first wins and the other's value is dropped.  0 either
 * way (read the key back for the value that holds). */
int store_meta_add(struct store *st, const char *key, const char *value);
int store_meta_get(struct store *st, const char *key, char *value, size_t len);

/* Reserve the block [*start, *start + block) of the counter NAME, in one
 * transaction: *start = max(the counter's stored high-water mark,
 * at_least), and the mark becomes *start + block.  No value is handed out
 * twice: not after a restart, not after the clock steps back, not to two
 * processes sharing the store.  0, -EINVAL (block 0 or overflow), -EIO. */
int store_counter_reserve(struct store *st, const char *name, uint64_t at_least, uint64_t block,
			  uint64_t *start);

/* Add a node.  n->name, fqdn, kind, adapter_id, mac, cert_serial and
 * pwhash are taken from *n; the backend allocates the virtual-IP index
 * after the highest taken (past the range's end, the lowest free one)
 * in the cloud's ranges (meta "vip4_prefix" like
 * "100.64.0.0/10" and "vip6_prefix" like "fd12:3456:789a::/48"; index i
 * gives vip4 = prefix + i and vip6 = prefix + i, i >= 1, skipping the
 * IPv4 broadcast) atomically, and fills in id, vip4, vip6, created.
 * -EEXIST if the name (or a general node's MAC) is taken. */
int store_node_add(struct store *st, struct store_node *n);
/* A renewed certificate: serial fresh becomes the node's, and presented
 * (the one it logged in with: its current or its previous) stays
 * accepted as the previous one until it expires, so a node that never
 * received the renewal still logs in.  -ENOENT when presented is
 * neither. */
int store_node_renew_cert(struct store *st, int64_t id, const char *presented,
			  const char *fresh);
int store_node_set_pwhash(struct store *st, int64_t id, const char *pwhash);
/* Replace the node's tags ("a,b", "" none: checked by the caller). */
int store_node_set_tags(struct store *st, int64_t id, const char *tags);
int store_node_by_name(struct store *st, const char *name, struct store_node *n);
int store_node_by_fqdn(struct store *st, const char *fqdn, struct store_node *n);
int store_node_by_id(struct store *st, int64_t id, struct store_node *n);
/* The node logged in with its current certificate (serial): the previous
 * one is no longer accepted.  -ENOENT when serial is not its current. */
int store_node_cert_used(struct store *st, int64_t id, const char *serial);
/* By the serial of its current certificate or its previous one. */
int store_node_by_serial(struct store *st, const char *serial, struct store_node *n);
int store_node_by_vip4(struct store *st, const uint8_t vip4[4], struct store_node *n);
int store_node_by_vip6(struct store *st, const uint8_t vip6[16], struct store_node *n);
/* Mark revoked (keeps the row and its VIPs reserved) and delete its keys
 * and registration, so signaling with an old key stops at once. */
int store_node_revoke(struct store *st, const char *name, const char *reason);
/* Visit all nodes ordered by id (adapter_id >= 0 filters general nodes of
 * one adapter; -1 means all).  The callback returns non-zero to stop. */
int store_node_foreach(struct store *st, int64_t adapter_id,
		       int (*cb)(const struct store_node *n, void *arg), void *arg);

/* A node's new common key; it replaces every older key of that node at
 * once (one live key per node: a login retires the one before it).
 * -EEXIST when key_id is taken, -ENOENT for an unknown node. */
int store_key_put(struct store *st, const struct store_key *k);
int store_key_get(struct store *st, uint64_t key_id, struct store_key *k);
int store_key_delete(struct store *st, uint64_t key_id);
/* Delete keys with expires <= now; returns how many, or -EIO. */
int store_key_expire(struct store *st, int64_t now);

int store_reg_put(struct store *st, const struct store_reg *r);
/* Keepalives: the registration of r->node_id gets r's counter (unless it
 * holds a higher one), updated and expires, but only while it is live (expires > r->updated) under
 * r->key_id, on host r->host, from endpoint r->observed: a conditional
 * write, no read.  store_reg_touch_many writes n of them in one
 * transaction, result[i] for each (0, or -ENOENT: not such a
 * registration, it registers again).  0, or -EIO with nothing written. */
int store_reg_touch(struct store *st, const struct store_reg *r);
int store_reg_touch_many(struct store *st, const struct store_reg *v, size_t n, int *result);
int store_reg_get(struct store *st, int64_t node_id, struct store_reg *r);
/* A registration that goes (deleted; expired: expires <= now, returning
 * how many) leaves its counter mark on its key (store_key.mark), in the
 * same transaction. */
int store_reg_delete(struct store *st, int64_t node_id);
int store_reg_expire(struct store *st, int64_t now);
int store_reg_foreach(struct store *st, int (*cb)(const struct store_reg *r, void *arg),
		      void *arg);

/* Virtual-IP arithmetic over the meta prefixes (the backends allocate
 * with it; `cyphonic init` checks the ranges it is given).
 * store_vip_parse4/6 read "A.B.C.D/LEN" and "X::/LEN" (host bits must be
 * zero); store_vip_capacity gives the highest usable index (IPv4: the
 * range size minus network and broadcast; IPv6 alike without broadcast),
 * the smaller of both ranges; store_vip_make computes prefix + index. */
int store_vip_parse4(const char *s, uint8_t addr[4], int *plen);
int store_vip_parse6(const char *s, uint8_t addr[16], int *plen);
int64_t store_vip_capacity(int plen4, int plen6);
void store_vip_make(const uint8_t p4[4], const uint8_t p6[16], int64_t index, uint8_t vip4[4],
		    uint8_t vip6[16]);

#endif
