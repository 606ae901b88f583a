/* The adapter's addresses and routes on its LAN interface (rtnetlink):
 * its VIPv4 as a /32 and its VIPv6 as a /128 (the general nodes' router,
 * DNS and DHCP server; no duplicate-address detection), and a host route
 * per general node's VIPv4 and VIPv6 through the LAN, so the kernel's own
 * replies and NAT return traffic reach them (the TUN's route for the
 * whole VIP range would otherwise win).  Everything added is removed by
 * lanroute_free().  family: AF_INET (addr 4 bytes) or AF_INET6 (16). */
#ifndef CY_ADAPTER_LANROUTE_H
#define CY_ADAPTER_LANROUTE_H

#include <netinet/in.h>
#include <stdbool.h>

struct lanroute;

/* NULL on failure (logged). */
struct lanroute *lanroute_new(const char *lan);
void lanroute_free(struct lanroute *r);
/* Make ip/32 (ip/128) the LAN's address of its family, replacing a
 * previous one.  0 or -errno. */
int lanroute_set_lan_ip(struct lanroute *r, int family, const void *ip);
/* Host route to a general node's VIP through the LAN (idempotent). */
int lanroute_add_host(struct lanroute *r, int family, const void *vip);
int lanroute_del_host(struct lanroute *r, int family, const void *vip);

#endif
