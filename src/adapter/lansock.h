/* The adapter's LAN glue: an AF_PACKET socket on the LAN interface that
 * reads every frame (ETH_P_ALL) received there, not those this host sends
 * (PACKET_IGNORE_OUTGOING), each behind a virtio-net header
 * (PACKET_VNET_HDR: GSO super-frames and partial checksums from veths and
 * NICs).  The rules live in the LAN codecs (docs/adapter.md); this file
 * only wires them to the socket, the GN table and the owner's callbacks.
 *
 * Each frame is classified (frame_classify(), frame.h) and handled:
 *   ARP request from a GN for a peer VIP -> answered with the LAN MAC
 *                                            (frame_arp_should_answer())
 *   DHCP (udp dport 67)                   -> dhcp_handle() (dhcp.h), the
 *                                            lease file (lease.h)
 *   DNS to the LAN address (udp dport 53) -> ops->dns_query (the GN's resolver)
 *   from a GN, IPv4 source = its VIP, destination a peer VIP
 *                                         -> checksum completed, GSO split
 *                                            (in place, gso.h), MSS
 *                                            clamped, too big with DF: ICMP
 *                                            frag needed, else ops->input
 *   IPv6 (lansock6.c, once lansock_set_addr6() was called):
 *   NDP: NS -> answered for overlay addresses (ndp_ns_should_answer());
 *        RS from a GN -> an RA to it (lansock_ra_wake()); RA -> dropped
 *   DHCPv6 (udp dport 547)                -> dhcp6_handle() (dhcp6.h)
 *   DNS to the link-local or VIPv6        -> ops->dns_query
 *   from a GN's VIPv6 to a peer VIPv6     -> as IPv4 (Packet Too Big for
 *                                            what exceeds the tunnel MTU)
 *   anything else                         -> left to the kernel
 * Every drop has a counter (lansock_status()).
 *
 * Sending: packets for the GNs (lansock_deliver) go through the data
 * plane's coalescing writer (batch.h, dp_tun_write_l2): in-order TCP
 * segments of one flow to one MAC may be held and merged into one GSO
 * super-frame; the owner calls lansock_flush() before going back to the
 * event loop whenever lansock_pending().  Every other frame (ARP, DHCP,
 * DNS replies, ICMP) flushes what is held first, then goes out behind a
 * zero vnet header (complete, no offload). */
#ifndef CY_ADAPTER_LANSOCK_H
#define CY_ADAPTER_LANSOCK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gn.h"
#include "resolver.h"

#define LANSOCK_VNET_LEN 10          /* struct virtio_net_hdr (GSO_HDR_LEN) */

struct dp_conf;
struct json;
struct lansock;

struct lansock_ops {
	/* A frame (DHCP or traffic) from an enrolled GN's MAC. */
	void (*gn_seen)(void *arg, struct gn *g);
	/* A frame from a MAC that is no GN of this adapter; asks_lease: a
	 * DHCP or DHCPv6 message (the device wants to join: it may have been
	 * enrolled since the GN list was fetched). */
	void (*unknown_mac)(void *arg, const uint8_t mac[6], bool asks_lease);
	/* An IPv4 or IPv6 packet from GN g to a peer VIP, ready for its overlay. */
	void (*input)(void *arg, struct gn *g, const uint8_t *pkt, size_t len);
	/* A DNS query from g to the LAN address (client: its address, port).
	 * -EBADMSG when the resolver found it malformed (counted here). */
	int (*dns_query)(void *arg, struct gn *g, const struct resolver_client *c,
			  const uint8_t *q, size_t len);
};

struct lansock_cfg {
	const char *ifname;
	const char *leases;            /* lease file path */
	uint32_t lease_time;           /* seconds */
	int mtu;                       /* the tunnel MTU (DHCP option 26, MSS clamp) */
	const char *domain;            /* DHCP option 15 */
	struct gn_table *gns;          /* the general nodes (owned by the caller) */
	const struct dp_conf *dp;      /* the data path's switches (coalescing) */
	const struct lansock_ops *ops;
	void *arg;
};

/* NULL on failure (logged).  The lease file is read now. */
struct lansock *lansock_new(const struct lansock_cfg *cfg);
void lansock_free(struct lansock *ls);
int lansock_fd(const struct lansock *ls);
const uint8_t *lansock_mac(const struct lansock *ls);
/* The adapter's LAN address (its VIPv4) and the VIP range's prefix
 * length: nothing but ARP is served before this is known. */
void lansock_set_addr(struct lansock *ls, const struct in_addr *ip, uint8_t vip_len);
/* The adapter's VIPv6 and the VIPv6 range's prefix length: nothing of
 * IPv6 but its own link-local is served before this is known.
 * kernel_ip6: the kernel holds ip6 on the LAN (it answers NS for it);
 * default_router: it offers IPv6 Internet (RAs name it the default
 * router). */
void lansock_set_addr6(struct lansock *ls, const struct in6_addr *ip6, uint8_t prefix6,
		       bool kernel_ip6, bool default_router);
/* The link-local address the adapter uses on the LAN into *ll, when the
 * kernel holds it there (it serves TCP on it); false otherwise. */
bool lansock_kernel_ll6(const struct lansock *ls, struct in6_addr *ll);
/* Send the Router Advertisements that are due, each to an active GN's
 * MAC (3 at 16 s, then every 200 to 600 s; answers to solicitations):
 * call every second, and at the times lansock_ra_wake() names.  Returns
 * when the next one is due (clock_now_ms()), 0 for none. */
int64_t lansock_ra_tick(struct lansock *ls);
/* About once a second: a lease change whose save waits (lease.h) is
 * saved once its gap has passed. */
void lansock_tick(struct lansock *ls);
/* A Router Solicitation's answer is due at this clock_now_ms() time
 * (after a random delay): call lansock_ra_tick() then.  0 when none was
 * scheduled since the last call. */
int64_t lansock_ra_wake(struct lansock *ls);
/* Read and handle frames until the socket is empty (or a batch is done). */
void lansock_read(struct lansock *ls);
/* A packet from a GN's tunnel to its MAC (a SYN's MSS clamped); it may
 * be held for coalescing (see above).  0 or -errno. */
int lansock_deliver(struct lansock *ls, const uint8_t mac[6], const uint8_t *pkt, size_t len);
/* Send what lansock_deliver() holds.  0 or -errno (counted, logged). */
int lansock_flush(struct lansock *ls);
/* lansock_deliver() holds packets: call lansock_flush() before the loop waits. */
bool lansock_pending(const struct lansock *ls);
/* A DNS answer to a GN (UDP from the LAN address, port 53). */
void lansock_dns_reply(struct lansock *ls, const uint8_t mac[6], const struct resolver_client *c,
		       const uint8_t *buf, size_t len);
/* Lease left in seconds for mac, -1 when none: DHCPv4, DHCPv6. */
int64_t lansock_lease_left(const struct lansock *ls, const uint8_t mac[6]);
int64_t lansock_lease6_left(const struct lansock *ls, const uint8_t mac[6]);
/* Counters as "lan": {...}. */
void lansock_status(const struct lansock *ls, struct json *j);

#endif
