/* Small rtnetlink helpers over libmnl, shared by the TUN device (tun.c)
 * and the adapter (its LAN addresses and host routes, lanroute.c; the
 * neighbour lookups of dnstcp.c):
 * one request at a time, each waiting for its acknowledgement. */
#ifndef CY_NODE_NETLINK_H
#define CY_NODE_NETLINK_H

#include <stdint.h>

struct nlmsghdr;
struct netlink;

/* NULL on failure (errno set). */
struct netlink *netlink_open(void);
void netlink_close(struct netlink *nl);
/* Send one request (REQUEST | ACK added) and wait for its ack.  0 or -errno. */
int netlink_talk(struct netlink *nl, struct nlmsghdr *nlh);
/* Bring ifindex up; mtu > 0 also sets the MTU. */
int netlink_link_up(struct netlink *nl, int ifindex, int mtu);
/* RTM_NEWADDR (create or replace) / RTM_DELADDR of addr/prefix on ifindex;
 * family AF_INET (4 bytes) or AF_INET6 (16 bytes, no DAD). */
int netlink_addr(struct netlink *nl, uint16_t type, int ifindex, int family, const void *addr,
		 uint8_t prefix);
/* RTM_NEWROUTE (create or replace) / RTM_DELROUTE of dst/prefix (family
 * AF_INET or AF_INET6) through ifindex, link scope, main table, protocol
 * "static". */
int netlink_route(struct netlink *nl, uint16_t type, int ifindex, int family, const void *dst,
		  uint8_t prefix);

/* The link-layer address the neighbour table holds for addr (family
 * AF_INET or AF_INET6) on ifindex, in a state that has one (reachable,
 * stale, delay, probe, permanent).  0, -ENXIO (none) or -errno. */
int netlink_neigh_mac(struct netlink *nl, int ifindex, int family, const void *addr,
		      uint8_t mac[6]);

#endif
