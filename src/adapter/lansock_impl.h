/* Inside the adapter's LAN glue, shared by lansock.c (the socket, ARP,
 * DHCP, DNS and packets over IPv4, DNS over IPv6, sending, counters) and
 * lansock6.c (Neighbour Discovery, Router Advertisements, DHCPv6 and
 * packets over IPv6).  Not for other parts: lansock.h is the interface. */
#ifndef CY_ADAPTER_LANSOCK_IMPL_H
#define CY_ADAPTER_LANSOCK_IMPL_H

#include <net/if.h>

#include "dhcp.h"
#include "dhcp6.h"
#include "frame.h"
#include "gso.h"
#include "lansock.h"
#include "log.h"
#include "ndp.h"

#define VLAN_LEN 4
#define FRAME_OUT_MAX (FRAME_ETH_LEN + GSO_PKT_MAX)
/* The largest frame: a 64 KB GSO super-frame behind a VLAN tag. */
#define RX_MAX (GSO_HDR_LEN + FRAME_ETH_LEN + VLAN_LEN + GSO_PKT_MAX)
#define DNS_HDR_LEN 12
#define TCP_HDR_MIN 20

struct lan_stats {
	uint64_t frames, malformed, oversize, unknown_mac, other;
	uint64_t arp_requests, arp_answered, arp_ignored, arp_malformed;
	uint64_t dhcp_in, dhcp_malformed, dhcp_unknown_mac, dhcp_chaddr_mismatch;
	uint64_t dhcp_offer, dhcp_ack, dhcp_nak, dhcp_release, dhcp_decline, dhcp_inform;
	uint64_t dhcp_ignored;
	uint64_t dns_queries, dns_malformed, dns_replies, dns_no_gn;
	uint64_t vip_packets, vip_bad_src, vip_malformed, gso_segments, gso_dropped;
	uint64_t too_big, frag_needed, mss_clamped, delivered, deliver_err, tx_err;
	/* IPv6 */
	uint64_t ndp_in, ndp_malformed, ndp_ignored;
	uint64_t ns_answered, ns_ignored, na_in, rs_in, ra_sent, ra_guard;
	uint64_t dhcp6_in, dhcp6_ev[DHCP6_EV_INFORMED + 1];
	uint64_t vip6_packets, packet_too_big;
};

struct lansock {
	int fd;
	int mld_fd;                      /* holds ff02::1:2 and ff02::2 joined (MLD) */
	int ifindex;
	int mtu;                         /* the LAN's, read at start */
	uint8_t mac[6];
	char ifname[IF_NAMESIZE];
	struct lansock_cfg cfg;
	char domain[256];
	bool have_addr;
	uint32_t ip;                     /* the LAN address (host order), 0 = not yet */
	bool have_addr6;                 /* lansock_set_addr6() was called: */
	bool kernel_ll;                  /* the kernel owns nc.ll (it answers NS for it) */
	bool kernel_ip6;                 /* ... and fc.ip6, the VIPv6 */
	int64_t ra_wake_ms;              /* lansock_ra_wake() */
	struct frame_cfg fc;
	struct dhcp_cfg dc;
	struct ndp_cfg nc;
	struct dhcp6_cfg d6;
	struct lease_table *leases;
	struct dp_tun *tx;               /* deliveries to the GNs (coalesced) */
	struct lan_stats st;
	struct ratelimit rl;
	/* rx: the frame being handled (a super-frame is cut into its GSO
	 * segments in place); out: frames the adapter builds (ARP, DHCP,
	 * DNS, ICMP, NDP); syn: a delivered SYN being clamped (deliveries may
	 * happen while rx is being cut). */
	uint8_t rx[RX_MAX];
	uint8_t out[FRAME_OUT_MAX];
	uint8_t syn[GSO_PKT_MAX];
};

/* A frame the adapter built (Ethernet header on), after what is queued
 * for the GNs.  0 or -errno (counted, logged). */
int lan_send_frame(struct lansock *ls, const uint8_t *frame, size_t len);
/* The GN behind a frame's source MAC, the owner told it was seen; NULL
 * for a MAC that is no GN (the owner told too).  lan_gn_asks: the same
 * for a DHCP or DHCPv6 message. */
struct gn *lan_gn_from(struct lansock *ls, const uint8_t mac[6]);
struct gn *lan_gn_asks(struct lansock *ls, const uint8_t mac[6]);
/* A VIP or VIP6 frame from GN g to its overlay: cut to wire packets first
 * when it is a GSO super-frame or has a partial checksum; each checked
 * against the tunnel MTU and its SYN's MSS clamped. */
void lan_vip_frame(struct lansock *ls, struct gn *g, const struct frame_info *fi);

/* The MSS a TCP segment over the tunnel may carry. */
uint16_t lan_mss(const struct lansock *ls, bool v6);

/* lansock6.c: the IPv6 kinds of frame_classify() (but DNS6), and the
 * Packet Too Big for a VIPv6 packet over the tunnel MTU. */
void lan_too_big6(struct lansock *ls, const struct gn *g, const uint8_t *pkt, size_t len);
void lan_ndp_input(struct lansock *ls, const struct frame_info *fi);
void lan_dhcp6_input(struct lansock *ls, const struct frame_info *fi);
void lan_vip6_input(struct lansock *ls, const struct frame_info *fi);
/* A GN just seen: its first RA soon when it has had none (its route to
 * the overlay and its resolver before its DHCPv6 exchange is done). */
void lan_ra_first(struct lansock *ls, struct gn *g);
/* The IPv6 part of lansock_status(). */
void lan_status6(const struct lansock *ls, struct json *j);

#endif
