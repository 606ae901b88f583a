/* The adapter's addresses and routes on its LAN interface (rtnetlink):
 * its VIPv4 as a /32 (the general nodes' router, DNS and DHCP server) and
 * a /32 host route per general node's VIPv4 through the LAN, so the
 * kernel's own replies and NAT return traffic reach them (the TUN's route
 * for the whole VIP range would otherwise win).  Everything added is
 * removed by route_free(). */
#ifndef CY_ADAPTER_ROUTE_H
#define CY_ADAPTER_ROUTE_H

#include <netinet/in.h>
#include <stdbool.h>

struct route;

/* NULL on failure (logged). */
struct route *route_new(const char *lan);
void route_free(struct route *r);
/* Make ip/32 the LAN's address (replacing a previous one).  0 or -errno. */
int route_set_lan_ip(struct route *r, const struct in_addr *ip);
/* Host route to a general node's VIPv4 through the LAN (idempotent). */
int route_add_host(struct route *r, const struct in_addr *vip);
int route_del_host(struct route *r, const struct in_addr *vip);

#endif
