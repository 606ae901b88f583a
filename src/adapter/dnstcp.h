/* DNS over TCP (RFC 7766) from the general nodes to the adapter: a
 * listener on port 53 of each of its LAN addresses (its VIPv4, its VIPv6
 * and its link-local address), each bound to the LAN interface
 * (SO_BINDTODEVICE), so only connections that came in on the LAN reach
 * them.  Each accepted connection is looked up by the MAC the kernel's
 * neighbour table holds for its peer address on the LAN (it has just
 * completed the handshake with it): the GN with that MAC gets it, handed
 * to its resolver (resolver_server_adopt_tcp(): framing, idle timeout
 * and connection cap are the resolver's), when the peer address is that
 * GN's VIPv4 or VIPv6, or a link-local address (the MAC is the identity
 * there, as for UDP); anything else is closed at once and counted.  UDP
 * DNS does not come here: lansock.c takes it from the LAN by AF_PACKET,
 * and nftables keeps the kernel from answering it; TCP to port 53 passes
 * those rules to these listeners. */
#ifndef CY_ADAPTER_DNSTCP_H
#define CY_ADAPTER_DNSTCP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct json;
struct resolver_server;

struct dnstcp_cfg {
	const char *ifname;     /* the LAN interface */
	/* The resolver of the GN with MAC mac, when peer (AF_INET or
	 * AF_INET6) may be that GN (see above); NULL otherwise, with
	 * *spoof set when peer is another GN's VIP. */
	struct resolver_server *(*server_for)(void *arg, const uint8_t mac[6],
					      const struct sockaddr *peer, bool *spoof);
	void *arg;
};

struct dnstcp;

/* No listener until dnstcp_set_addr().  NULL: no memory or no netlink. */
struct dnstcp *dnstcp_new(struct event_base *base, const struct dnstcp_cfg *cfg);
void dnstcp_free(struct dnstcp *d);
/* Listen on port 53 of addr (family AF_INET: 4 bytes, AF_INET6: 16), one
 * listener per family and scope (IPv4, IPv6 global, IPv6 link-local),
 * replacing that one's previous address.  0 or -errno (logged; no
 * listener there then). */
int dnstcp_set_addr(struct dnstcp *d, int family, const void *addr);
/* Counters as "dns_tcp": {...}. */
void dnstcp_status(const struct dnstcp *d, struct json *j);

#endif
