/* The node's resolver module, as plain functions over bytes (no sockets:
 * resolver_server.c is the libevent glue, tests and fuzzers call these).
 *
 *  - NAME.<domain> A/AAAA/ANY: cfg->lookup() asks the daemon to run route
 *    selection and tunnel set-up; the daemon answers with resolver_complete()
 *    (synchronously from inside lookup() when the tunnel is already up), and
 *    only then does the client get the VIPs, so its first packet finds a
 *    ready tunnel.  Lookups of one name in flight are merged.  Other qtypes
 *    get NODATA when the name exists (found out by the same lookup).
 *  - Deeper names under the domain: NXDOMAIN.  The apex: NODATA (not
 *    NXDOMAIN, which by RFC 8020 would deny every name below it).
 *  - Every other name is forwarded to an upstream and the answer relayed
 *    unchanged but for the client's ID.  DNSpooq lessons: a random ID per
 *    forwarded query and a fresh socket (random source port) per query from
 *    the glue; a reply counts only when server address and port, ID and the
 *    whole question match; identical questions in flight are merged;
 *    outstanding queries are capped (beyond: SERVFAIL at once).
 *
 * Time comes from clock_now_ms() (replaceable); resolver_tick() expires
 * lookups and forwarded queries with SERVFAIL. */
#ifndef CY_RESOLVER_H
#define CY_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Where an answer goes; copied by the resolver, interpreted by the glue
 * only (except tcp, which lifts the 512/EDNS size limit). */
struct resolver_client {
	struct sockaddr_storage addr;   /* UDP: the client's address */
	socklen_t addrlen;
	uint64_t conn;                  /* TCP: the glue's connection id */
	bool tcp;
};

enum resolver_status {
	RESOLVER_OK = 0,        /* the node exists; vip4/vip6 may each be NULL (NODATA) */
	RESOLVER_NXDOMAIN,
	RESOLVER_REFUSED,       /* e.g. policy forbids the route */
	RESOLVER_SERVFAIL,      /* route selection or tunnel set-up failed */
};

struct resolver_cfg {
	const char *domain;                           /* the CYPHONIC domain */
	const struct sockaddr_storage *upstreams;     /* port included (53) */
	size_t n_upstreams;
	/* Our own listen address: an upstream equal to it is dropped (no loop). */
	const struct sockaddr *listen;

	unsigned max_forward;          /* outstanding forwarded queries; 0 = 256 */
	unsigned max_lookups;          /* names in route selection at once; 0 = 256 */
	unsigned max_waiters;          /* clients merged on one query; 0 = 32 */
	unsigned forward_timeout_ms;   /* 0 = 3000 */
	unsigned lookup_timeout_ms;    /* 0 = 5000 */
	uint32_t ttl;                  /* of local answers; 0 = 5 s */

	/* The daemon: start route selection + tunnel set-up for fqdn
	 * ("name.domain", lower-case, no trailing dot) and later call
	 * resolver_complete(r, token, ...), possibly from inside this call.
	 * A negative return answers SERVFAIL now. */
	int (*lookup)(void *arg, const char *fqdn, uint64_t token);
	void *lookup_arg;

	/* The glue. */
	void (*send_client)(void *io, const struct resolver_client *c, const uint8_t *buf,
			    size_t len);
	/* Send buf to server from a fresh socket named handle (random source
	 * port, connected to server); replies come back through
	 * resolver_upstream_reply(r, handle, ...).  0 or -errno. */
	int (*send_upstream)(void *io, const struct sockaddr *server, uint32_t handle,
			     const uint8_t *buf, size_t len);
	/* The handle's query is finished (answered or timed out): close it.
	 * Called once for every handle send_upstream accepted. */
	void (*upstream_done)(void *io, uint32_t handle);
	void *io_arg;
};

struct resolver_stats {
	uint64_t queries;
	uint64_t local_answers;
	uint64_t forwarded;
	uint64_t upstream_mismatch;
	uint64_t malformed;
	uint64_t timeouts;
	uint64_t overflow;
};

struct resolver;

/* NULL on bad config (domain) or no memory. */
struct resolver *resolver_new(const struct resolver_cfg *cfg);
/* No callbacks are made; the glue closes its own sockets. */
void resolver_free(struct resolver *r);

/* A query from a client (for TCP: one message without its length prefix). */
void resolver_query(struct resolver *r, const struct resolver_client *client,
		    const uint8_t *buf, size_t len);
/* The daemon's answer to a lookup; stale tokens are ignored. */
void resolver_complete(struct resolver *r, uint64_t token, enum resolver_status status,
		       const struct in_addr *vip4, const struct in6_addr *vip6);
/* A datagram that arrived on the upstream socket named handle. */
void resolver_upstream_reply(struct resolver *r, uint32_t handle, const struct sockaddr *from,
			     const uint8_t *buf, size_t len);
/* The upstream socket failed (e.g. ICMP port unreachable): SERVFAIL now. */
void resolver_upstream_error(struct resolver *r, uint32_t handle);
/* Expire what is overdue at now_ms (clock_now_ms() time). */
void resolver_tick(struct resolver *r, int64_t now_ms);

const struct resolver_stats *resolver_stats(const struct resolver *r);
/* Queries in flight: forwarded to upstreams, and names in lookup. */
unsigned resolver_forward_count(const struct resolver *r);
unsigned resolver_lookup_count(const struct resolver *r);

#endif
