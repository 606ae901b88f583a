/* The adapter's LAN frame codec: classify one Ethernet frame read from
 * the LAN interface, and build the few frames the adapter sends there.
 * Plain functions over bytes, no sockets; every read goes through
 * struct cur.  IPv4 addresses in this API are uint32_t in HOST byte order.
 *
 * Classification (frame_classify), first match wins:
 *   too short for Ethernet, or a truncated / bad vnet header   MALFORMED
 *   ethertype ARP: must be Ethernet/IPv4 (htype 1, ptype 0x0800, 6/4),
 *     op 1 or 2, 28 bytes                          ARP   else  MALFORMED
 *   ethertype IPv4: version 4, IHL >= 5, total length >= IHL*4 and within
 *     the frame (the Ethernet padding past it is dropped), header checksum
 *     correct                                                 else MALFORMED
 *     UDP, not a fragment, dport 67, dst MAC ours or broadcast      DHCP
 *     UDP, not a fragment, dport 53, dst IP == cfg ip, dst MAC ours  DNS
 *       (DHCP/DNS: UDP length must fit; the UDP checksum, when non-zero,
 *        must be right unless the vnet header says NEEDS_CSUM or
 *        DATA_VALID: else MALFORMED)
 *     dst MAC ours, dst IP in the VIP prefix, != cfg ip, not the prefix's
 *       network or broadcast address                                 VIP
 *   ethertype IPv6: version 6, the payload length within the frame (the
 *     Ethernet padding past it is dropped)                    else MALFORMED
 *     next header ICMPv6, types 133..137 (RS, RA, NS, NA, Redirect:
 *       ndp.h checks the rest)                                        NDP
 *     UDP, dport 547, to ff02::1:2 or cfg ll6                        DHCP6
 *     UDP, dport 53, to cfg ll6 or ip6, dst MAC ours                 DNS6
 *       (DHCP6/DNS6: UDP length must fit, the checksum, never 0 over
 *        IPv6, must be right unless the vnet header says NEEDS_CSUM or
 *        DATA_VALID: else MALFORMED)
 *     dst MAC ours, dst IP in the VIPv6 prefix, != cfg ip6           VIP6
 *     (extension headers are not walked: such packets are OTHER)
 *   everything else (VLAN tags, other ethertypes, multicast, frames
 *   to other MACs, Internet-bound IPv4 and IPv6)                     OTHER
 * L4 checksums of VIP packets are not checked (they may be partial: see
 * gso.h; the far end checks them). */
#ifndef CY_ADAPTER_FRAME_H
#define CY_ADAPTER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gso.h"

#define FRAME_ETH_LEN 14
#define FRAME_ETHERTYPE_IPV4 0x0800
#define FRAME_ETHERTYPE_ARP 0x0806
#define FRAME_ETHERTYPE_IPV6 0x86dd
#define FRAME_IPV6_HDR 40
#define FRAME_ARP_LEN 28                 /* Ethernet/IPv4 ARP payload */
#define FRAME_MIN_LEN 60                 /* Ethernet minimum without FCS */
#define FRAME_IPV4_HDR 20
#define FRAME_UDP_HDR 8

enum lan_kind {
	LAN_MALFORMED,
	LAN_ARP,
	LAN_DHCP,
	LAN_DNS,
	LAN_VIP,
	LAN_OTHER,
	LAN_NDP,
	LAN_DHCP6,
	LAN_DNS6,
	LAN_VIP6,
};

enum frame_arp_op { FRAME_ARP_REQUEST = 1, FRAME_ARP_REPLY = 2 };

struct frame_cfg {
	uint8_t mac[6];                  /* the adapter's LAN MAC */
	uint32_t ip;                     /* its LAN IPv4 = its VIPv4; 0 = not known yet */
	uint32_t vip_net;                /* the cloud's VIPv4 prefix (masked) ... */
	uint8_t vip_len;                 /* ... and its length, 1..32 (0 = none: no VIP) */
	/* True when ip (in the VIP prefix: only such are asked) is a general
	 * node's VIP on this LAN (may be NULL). */
	bool (*is_gn)(void *arg, uint32_t ip);
	void *arg;
	/* IPv6 (all zero, vip6_len 0: the adapter serves no IPv6) */
	uint8_t ll6[16];                 /* its link-local address */
	uint8_t ip6[16];                 /* its VIPv6; zero: not known yet */
	uint8_t vip6_net[16];            /* the overlay's IPv6 prefix... */
	uint8_t vip6_len;                /* ...and its length, 0: none */
};

struct frame_info {
	enum lan_kind kind;
	const char *why;                 /* MALFORMED: a static reason for counters/logs */

	bool have_vnet;                  /* the frame came behind a vnet header: */
	struct gso_hdr vnet;             /* it, zero otherwise */

	const uint8_t *eth;              /* the Ethernet frame (after the vnet header), */
	size_t eth_len;                  /* IPv4: cut at the IP total length */
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint16_t ethertype;

	/* LAN_ARP */
	uint16_t arp_op;                 /* enum frame_arp_op */
	uint8_t arp_sha[6], arp_tha[6];  /* sender / target hardware address */
	uint32_t arp_spa, arp_tpa;       /* sender / target IPv4 */

	/* IPv4 (DHCP, DNS, VIP, and IPv4 OTHER) */
	const uint8_t *ip;               /* the IPv4 packet = eth + 14 */
	size_t ip_len;                   /* its total length */
	size_t ip_hl;                    /* header length (IHL * 4) */
	uint32_t ip_src, ip_dst;
	uint8_t ip_proto;
	uint8_t ip_ttl;
	bool ip_df;                      /* don't fragment */
	bool ip_frag;                    /* MF set or offset != 0 */
	bool dst_is_gn;                  /* cfg->is_gn(ip_dst) */

	/* IPv6 (NDP, DHCP6, DNS6, VIP6, and IPv6 OTHER) */
	const uint8_t *ip6;              /* the IPv6 packet = eth + 14 */
	size_t ip6_len;                  /* 40 + its payload length */
	uint8_t ip6_src[16], ip6_dst[16];
	uint8_t ip6_nh;                  /* next header */
	uint8_t ip6_hlim;
	const uint8_t *l4;               /* the payload (after the fixed header), */
	size_t l4_len;                   /* its length */

	/* UDP (DHCP, DNS, DHCP6, DNS6; also other unfragmented UDP: payload
	 * NULL when its UDP length does not fit) */
	uint16_t sport, dport;
	const uint8_t *udp_payload;
	size_t udp_len;                  /* payload bytes (UDP length - 8) */
};

/* Classify buf (len bytes).  vnet: buf starts with a GSO_HDR_LEN-byte
 * virtio-net header (PACKET_VNET_HDR).  Fills *fi (pointers into buf) and
 * returns fi->kind.  Never fails otherwise. */
enum lan_kind frame_classify(const struct frame_cfg *cfg, const uint8_t *buf, size_t len,
			     bool vnet, struct frame_info *fi);
const char *frame_kind_str(enum lan_kind k);

/* ARP policy: answer with our MAC when fi is an ARP request whose target
 * IP is in the VIP prefix, is not the adapter's own IP (the kernel answers
 * that one), is not a GN on this LAN (it answers for itself), and the
 * sender MAC is an enrolled GN (sender_enrolled, looked up by the caller). */
bool frame_arp_should_answer(const struct frame_cfg *cfg, const struct frame_info *fi,
			     bool sender_enrolled);

/* The ARP reply to request req: Ethernet to req's sender, ARP op 2 with
 * mac as sender hardware address for the asked IP (req->arp_tpa), target =
 * req's sender.  Padded to FRAME_MIN_LEN.  Returns the length or -ENOSPC. */
ssize_t frame_build_arp_reply(uint8_t *out, size_t cap, const struct frame_info *req,
			      const uint8_t mac[6]);

/* The netmask of a prefix length (host order); 0 for 0, all ones from 32. */
uint32_t frame_prefix_mask(uint8_t len);

/* 14-byte Ethernet header (for writev in front of an IPv4 packet). */
void frame_eth_header(uint8_t out[FRAME_ETH_LEN], const uint8_t dst[6], const uint8_t src[6],
		      uint16_t ethertype);

struct frame_udp {
	const uint8_t *src_mac, *dst_mac;  /* dst may be ff:ff:ff:ff:ff:ff */
	uint32_t src_ip, dst_ip;           /* host order; dst may be 255.255.255.255 */
	uint16_t sport, dport;
	uint8_t ttl;                       /* 0 = 64 */
};

/* Ethernet + IPv4 (DF, id 0, correct header checksum) + UDP (correct
 * checksum) + payload into out.  Returns the frame length (not padded:
 * the kernel pads), -EMSGSIZE when the packet would exceed 65535 bytes,
 * -ENOSPC when out is too small. */
ssize_t frame_build_udp4(uint8_t *out, size_t cap, const struct frame_udp *u,
			 const uint8_t *payload, size_t plen);

/* TCP SYN (or SYN-ACK) pkt (the IPv4 or IPv6 packet, complete
 * checksums: run gso_complete_csum first): lower the MSS option to mss
 * when it is larger, fixing the TCP checksum incrementally (RFC 1624).
 * Anything else (not TCP, an IPv4 fragment, IPv6 extension headers, no
 * SYN, no MSS option, malformed options) is left alone.  Returns true
 * when the packet was changed. */
bool frame_tcp_mss_clamp(uint8_t *pkt, size_t len, uint16_t mss);

struct frame_udp6 {
	const uint8_t *src_mac, *dst_mac;
	const uint8_t *src, *dst;          /* 16 bytes each */
	uint16_t sport, dport;
	uint8_t hlim;                      /* 0 = 64 */
};

/* Ethernet + IPv6 + UDP (correct checksum) + payload into out.  Returns
 * the frame length, -EMSGSIZE or -ENOSPC as frame_build_udp4(). */
ssize_t frame_build_udp6(uint8_t *out, size_t cap, const struct frame_udp6 *u,
			 const uint8_t *payload, size_t plen);

/* RFC 792 / RFC 1191: the ICMP "fragmentation needed and DF set" (type 3
 * code 4) IPv4 packet (no Ethernet header) from src_ip to the sender of
 * pkt, carrying next-hop MTU mtu and pkt's IP header plus as much data as
 * keeps the error within 576 bytes (RFC 1812 4.3.2.3).  -EINVAL when no
 * error may be sent about pkt (malformed, not DF, a non-first fragment,
 * an ICMP error itself, source 0 / broadcast / multicast: RFC 1122
 * 3.2.2), -ENOSPC when out is too small.  Returns the length. */
ssize_t frame_icmp_frag_needed(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
			       uint32_t src_ip, uint16_t mtu);

/* RFC 4443 3.1 / RFC 8201: the ICMPv6 Packet Too Big IPv6 packet (no
 * Ethernet header) from src to the sender of the IPv6 packet pkt,
 * carrying mtu and as much of pkt as keeps the error within 1280 bytes.
 * -EINVAL when no error may be sent about pkt (malformed, an ICMPv6
 * error itself, an unspecified, loopback or multicast source: RFC 4443
 * 2.4), -ENOSPC when out is too small.  Returns the length. */
ssize_t frame_icmp6_too_big(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
			    const uint8_t src[16], uint32_t mtu);

#endif
