/* The adapter's addresses and routes on its LAN interface (rtnetlink):
 * its VIPv4 as a /32 (the general nodes' router, DNS and DHCP server) and
 * a /32 host route per general node's VIPv4 through the LAN, so the
 * kernel's own replies and NAT return traffic reach them (the TUN's route
 * for the whole VIP range would otherwise win).  Everything added is
 * removed by lanroute_free(). */
#ifndef CY_ADAPTER_LANROUTE_H
#define CY_ADAPTER_LANROUTE_H

#include <netinet/in.h>
#include <stdbool.h>

struct lanroute;

/* NULL on failure (logged). */
struct lanroute *lanroute_new(const char *lan);
void lanroute_free(struct lanroute *r);
/* Make ip/32 the LAN's address (replacing a previous one).  0 or -errno. */
int lanroute_set_lan_ip(struct lanroute *r, const struct in_addr *ip);
/* Host route to a general node's VIPv4 through the LAN (idempotent). */
int lanroute_add_host(struct lanroute *r, const struct in_addr *vip);
int lanroute_del_host(struct lanroute *r, const struct in_addr *vip);

#endif
