/* The node's own real addresses, as reported in a Registration Request:
 * every address of an interface that is up and has a carrier, except loopback, link-local,
 * the TUN device's own, anything in 100.64.0.0/10 (the virtual IPv4
 * range) and the node's VIPs. */
#ifndef CY_NODE_LOCALADDR_H
#define CY_NODE_LOCALADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Whether one address may be reported (vip4/vip6 may be NULL). */
bool localaddr_usable(const struct sockaddr *sa, const struct in_addr *vip4,
		      const struct in6_addr *vip6);
/* Fill out with up to max addresses (port 0), leaving out the interfaces
named in skip (NULL-terminated; NULL for none); returns how many. */
size_t localaddr_collect(const char *const *skip, const struct in_addr *vip4,
			 const struct in6_addr *vip6, struct sockaddr_storage *out, size_t max);

/* The source address the routing table picks towards dst (port 0):
 * 0, or -ENETUNREACH (no route of that family) or another -errno. */
int localaddr_route_src(const struct sockaddr *dst, struct sockaddr_storage *src);

#endif
