/* The adapter's table of its general nodes (GN): what the AS lists for
 * this adapter (name, FQDN, MAC, VIPs), plus per entry the owner's state
 * (the GN's identity and resolver, opaque here).  Plain data structure,
 * no sockets: the unit tests drive it.
 *
 * The list is refreshed as a whole: gn_table_sync() adds new entries,
 * updates changed ones and removes those the AS no longer lists (revoked
 * or deleted), telling the owner through a callback so it can stop the
 * identity first.  Unknown MACs are remembered (bounded) so each is logged
 * once. */
#ifndef CY_ADAPTER_GN_H
#define CY_ADAPTER_GN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define GN_MAX 1024              /* general nodes per adapter */
#define GN_UNKNOWN_MAX 256       /* unknown MACs remembered for log-once */

/* One general node as the AS lists it. */
struct gn {
	struct cy_gn info;
	bool active;         /* its MAC showed up (or has a lease): identity wanted */
	void *ident;         /* the owner's: struct ident * */
	void *dns;           /* the owner's: struct resolver_server * */
	uint64_t frames;     /* frames seen from its MAC */
	int64_t retry_ms;    /* its identity failed to start: not again before (clock_now_ms) */
	/* Router Advertisements to it (lansock6.c) */
	int64_t ra_next_ms;  /* the next unsolicited one (clock_now_ms) */
	int64_t ra_last_ms;  /* the last one sent to it */
	uint8_t ra_count;    /* unsolicited ones sent (up to 255) */
	bool mark;           /* gn_table_sync() internal */
};

struct gn_table;

/* Called for each entry gn_table_sync() removes, or whose MAC, VIP or
 * name changed (it is then re-added fresh): the owner frees its state. */
typedef void (*gn_drop_cb)(void *arg, struct gn *g);

struct gn_table *gn_table_new(gn_drop_cb drop, void *arg);
/* Calls drop for every entry left. */
void gn_table_free(struct gn_table *t);

/* Make the table hold exactly list[0..n) (duplicate MACs, VIPv4s or VIPv6s:
 * the first wins, the rest are skipped and counted in the return value).
 * Returns how many entries were skipped, or -ENOMEM. */
int gn_table_sync(struct gn_table *t, const struct cy_gn *list, size_t n);

/* Changes whenever gn_table_sync() adds, drops or replaces an entry (an
 * identical list leaves it). */
uint64_t gn_table_gen(const struct gn_table *t);

struct gn *gn_by_mac(struct gn_table *t, const uint8_t mac[6]);
struct gn *gn_by_vip4(struct gn_table *t, const struct in_addr *vip4);
struct gn *gn_by_vip6(struct gn_table *t, const struct in6_addr *vip6);
size_t gn_count(const struct gn_table *t);
/* The i-th entry (0 <= i < gn_count()), in the order of the AS's list. */
struct gn *gn_at(struct gn_table *t, size_t i);

/* A frame from a MAC not in the table: true the first time this MAC is
 * seen (log it), false after (remembered, up to GN_UNKNOWN_MAX MACs; a MAC
 * that becomes known is forgotten by gn_table_sync()). */
bool gn_unknown_first(struct gn_table *t, const uint8_t mac[6]);


#endif
