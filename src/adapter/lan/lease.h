/* The adapter's DHCP lease table: MAC -> {VIPv4, expiry, state} for
 * DHCPv4, and MAC -> {VIPv6, expiry, state} for DHCPv6 (lease6_*), a MAC
 * holding at most one of each.  Plain data structure plus its text file;
 * no sockets, no clock of its own (callers pass "now", unix seconds).
 * IPv4 in HOST byte order.
 *
 * File format (docs/adapter.md), one lease per line, '#' comments:
 *     MAC VIP EXPIRES
 *     02:00:5e:10:00:01 100.64.0.7 1735689600
 *     02:00:5e:10:00:01 fd00:64::7 1735689600
 * Only BOUND leases are written: to PATH.tmp, fsync, rename to PATH,
 * fsync of the directory.  Loading skips bad lines with a FILE:LINE
 * warning and drops expired leases. */
#ifndef CY_ADAPTER_LEASE_H
#define CY_ADAPTER_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LEASE_MAX 4096                   /* entries (enrolled MACs only get one of each) */

enum lease_state {
	LEASE_OFFERED = 1,               /* DHCPOFFER sent, not yet requested */
	LEASE_BOUND,                     /* DHCPACK sent: the address is the client's */
	LEASE_DECLINED,                  /* DHCPDECLINE: address in use by someone else */
};

struct lease {
	uint8_t mac[6];
	bool v6;                         /* a DHCPv6 lease: vip6, not vip4 */
	uint32_t vip4;
	uint8_t vip6[16];
	int64_t expires;                 /* unix seconds */
	enum lease_state state;
};

struct lease_table;

/* path: the lease file (NULL = in memory only).  NULL on ENOMEM. */
struct lease_table *lease_table_new(const char *path);
void lease_table_free(struct lease_table *lt);
/* Read the file (a missing file is an empty table).  Entries replace
 * existing ones with the same MAC.  0 or -errno (open/read error). */
int lease_table_load(struct lease_table *lt, int64_t now);
/* Write all BOUND, unexpired leases (see above).  0 or -errno (logged).
 * No-op without a path. */
int lease_table_save(struct lease_table *lt, int64_t now);
/* The table changed (a lease given, renewed, released): saved now when
 * the last save is at least LEASE_SAVE_GAP_S old, else by the first
 * lease_table_flush() after that, so a flood of renewals writes the file
 * (and waits for the disk) once per gap, not once per message. */
#define LEASE_SAVE_GAP_S 5
void lease_table_changed(struct lease_table *lt, int64_t now);
/* A pending change saved, when its gap has passed or with force (at
 * exit).  Call about once a second. */
void lease_table_flush(struct lease_table *lt, int64_t now, bool force);
/* A change waits for its save. */
bool lease_table_dirty(const struct lease_table *lt);
/* The same two on text in memory, no file involved (the fuzzer's way in):
 * load lines of the file format from buf (the same rules and warnings,
 * named after the table's path or "(lease text)"), and write the file's
 * text to f.  lease_table_write returns 0 or -EIO (f failed). */
void lease_table_load_buf(struct lease_table *lt, const char *buf, size_t len, int64_t now);
int lease_table_write(const struct lease_table *lt, FILE *f, int64_t now);

/* The functions below without a 6 are about DHCPv4 leases; lease_expire,
 * lease_count and lease_foreach about both.
 *
 * The entry for mac (any state, maybe expired), or NULL. */
const struct lease *lease_get(const struct lease_table *lt, const uint8_t mac[6]);
/* The entry holding vip4 (any state), or NULL. */
const struct lease *lease_find_ip(const struct lease_table *lt, uint32_t vip4);
/* Create or replace mac's entry.  0, -ENOSPC when the table is full. */
int lease_set(struct lease_table *lt, const uint8_t mac[6], uint32_t vip4, int64_t expires,
	      enum lease_state state);
/* Remove mac's entry.  True when there was one. */
bool lease_release(struct lease_table *lt, const uint8_t mac[6]);
/* Seconds left on mac's BOUND lease, -1 when it has none (or it expired). */
int64_t lease_left(const struct lease_table *lt, const uint8_t mac[6], int64_t now);
/* The same for DHCPv6 leases. */
const struct lease *lease6_get(const struct lease_table *lt, const uint8_t mac[6]);
int lease6_set(struct lease_table *lt, const uint8_t mac[6], const uint8_t vip6[16],
	       int64_t expires, enum lease_state state);
bool lease6_release(struct lease_table *lt, const uint8_t mac[6]);
int64_t lease6_left(const struct lease_table *lt, const uint8_t mac[6], int64_t now);
/* Remove expired entries (all states).  Returns how many. */
size_t lease_expire(struct lease_table *lt, int64_t now);
size_t lease_count(const struct lease_table *lt);
/* Call fn for each entry (do not change the table from fn). */
void lease_foreach(const struct lease_table *lt, void (*fn)(void *arg, const struct lease *l),
		   void *arg);

#endif
