/* DNS over TCP (RFC 7766) from the general nodes to the adapter's LAN
 * address: a listener on LAN_IP:53 bound to the LAN interface
 * (SO_BINDTODEVICE), so only connections that came in on the LAN reach it.
 * Each accepted connection is looked up by its peer's IPv4: a GN's VIP
 * whose neighbour entry on the LAN interface (SIOCGARP) holds that GN's MAC
 * hands it to that GN's resolver (resolver_server_adopt_tcp(): framing,
 * idle timeout and connection cap are the resolver's), anything else is
 * closed at once and counted.  UDP DNS does not come here: lansock.c takes
 * it from the LAN by AF_PACKET, and nftables keeps the kernel from
 * answering it; TCP to port 53 passes those rules to this listener. */
#ifndef CY_ADAPTER_DNSTCP_H
#define CY_ADAPTER_DNSTCP_H

#include <netinet/in.h>
#include <stdint.h>

struct event_base;
struct json;
struct resolver_server;

struct dnstcp_cfg {
	const char *ifname;     /* the LAN interface */
	/* The resolver of the GN whose VIPv4 is addr, and its MAC in mac;
	 * NULL when addr is no (running) GN of this adapter. */
	struct resolver_server *(*server_for)(void *arg, const struct in_addr *addr,
					      uint8_t mac[6]);
	void *arg;
};

struct dnstcp;

/* No listener until dnstcp_set_addr().  NULL: no memory. */
struct dnstcp *dnstcp_new(struct event_base *base, const struct dnstcp_cfg *cfg);
void dnstcp_free(struct dnstcp *d);
/* Listen on ip:53 (replacing a listener on another address).  0 or
 * -errno (logged; no listener then). */
int dnstcp_set_addr(struct dnstcp *d, const struct in_addr *ip);
/* Counters as "dns_tcp": {...}. */
void dnstcp_status(const struct dnstcp *d, struct json *j);

#endif
