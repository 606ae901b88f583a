/* Watching the host's networks for a move (docs/mobility.md): an
 * rtnetlink socket (libmnl) subscribed to link, address and route
 * changes, IPv4 and IPv6.  Events come in bursts (an address and its
 * routes, a link and its addresses, DHCP adding the address and then the
 * route): every listener is told once, NETWATCH_SETTLE_MS after the last
 * event of a burst (at most NETWATCH_SETTLE_MAX_MS after its first).  Listeners decide for themselves whether anything that matters
 * to them changed (ident.c compares its addresses and routes). */
#ifndef CY_NODE_NETWATCH_H
#define CY_NODE_NETWATCH_H

#include <stddef.h>

#define NETWATCH_SETTLE_MS 5
#define NETWATCH_SETTLE_MAX_MS 50

struct event_base;
struct netwatch;

typedef void (*netwatch_fn)(void *arg);

/* NULL on failure (logged): the daemon runs on without noticing moves. */
struct netwatch *netwatch_new(struct event_base *base);
void netwatch_free(struct netwatch *w);
/* Listeners: the node's identity and each general node's.  0 or -ENOMEM. */
int netwatch_add(struct netwatch *w, netwatch_fn fn, void *arg);
/* Forget the listener with arg (w may be NULL). */
void netwatch_del(struct netwatch *w, void *arg);

/* Pure, for tests and fuzzing: whether a buffer of rtnetlink messages as
 * read from the socket holds a change worth a look (link, address or
 * route added or removed).  Malformed messages count as no change. */
int netwatch_parse(const void *buf, size_t len);

#endif
