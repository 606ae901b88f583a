/* The adapter's LAN frame codec (see frame.h). */
#include "frame.h"

#include <errno.h>
#include <string.h>

#include "addr.h"
#include "buf.h"

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58
#define TCP_F_SYN 0x02
#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define ICMP_UNREACH 3
#define ICMP_UNREACH_NEEDFRAG 4
#define ICMP_ERR_MAX 576                 /* RFC 1812 4.3.2.3 */
#define ICMP6_TOO_BIG 2
#define ICMP6_ERR_MAX 1280               /* RFC 4443 2.4 (c): the minimum MTU */

static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

uint32_t frame_prefix_mask(uint8_t len)
{
	if (len == 0)
		return 0;
	if (len >= 32)
		return 0xffffffffu;
	return ~((1u << (32 - len)) - 1);
}

static bool in_vip_prefix(const struct frame_cfg *cfg, uint32_t ip)
{
	uint32_t m;

	if (cfg->vip_len == 0 || cfg->vip_len > 32)
		return false;
	m = frame_prefix_mask(cfg->vip_len);
	return (ip & m) == (cfg->vip_net & m);
}

/* The prefix's network / broadcast addresses and the limited broadcast
 * are no host (for /31 and /32 every address is one). */
static bool vip_is_host(const struct frame_cfg *cfg, uint32_t ip)
{
	uint32_t m = frame_prefix_mask(cfg->vip_len);

	if (ip == 0xffffffffu)
		return false;
	if (cfg->vip_len >= 31)
		return true;
	return (ip & ~m) != 0 && (ip & ~m) != ~m;
}

const char *frame_kind_str(enum lan_kind k)
{
	switch (k) {
	case LAN_MALFORMED: return "malformed";
	case LAN_ARP: return "arp";
	case LAN_DHCP: return "dhcp";
	case LAN_DNS: return "dns";
	case LAN_VIP: return "vip";
	case LAN_OTHER: return "other";
	case LAN_NDP: return "ndp";
	case LAN_DHCP6: return "dhcp6";
	case LAN_DNS6: return "dns6";
	case LAN_VIP6: return "vip6";
	}
	return "?";
}

static enum lan_kind bad(struct frame_info *fi, const char *why)
{
	fi->kind = LAN_MALFORMED;
	fi->why = why;
	return LAN_MALFORMED;
}

static enum lan_kind classify_arp(struct frame_info *fi, struct cur *c)
{
	uint16_t htype, ptype, op;
	uint8_t hlen, plen;

	if (!cur_get_u16(c, &htype) || !cur_get_u16(c, &ptype) || !cur_get_u8(c, &hlen) ||
	    !cur_get_u8(c, &plen) || !cur_get_u16(c, &op) ||
	    !cur_get_bytes(c, fi->arp_sha, 6) || !cur_get_u32(c, &fi->arp_spa) ||
	    !cur_get_bytes(c, fi->arp_tha, 6) || !cur_get_u32(c, &fi->arp_tpa))
		return bad(fi, "arp: truncated");
	if (htype != 1 || ptype != FRAME_ETHERTYPE_IPV4 || hlen != 6 || plen != 4)
		return bad(fi, "arp: not Ethernet/IPv4");
	if (op != FRAME_ARP_REQUEST && op != FRAME_ARP_REPLY)
		return bad(fi, "arp: bad op");
	fi->arp_op = op;
	fi->kind = LAN_ARP;
	return LAN_ARP;
}

/* UDP of an unfragmented IPv4 packet: DHCP or DNS by port and address,
 * then (for those the adapter answers) length and checksum.  Other UDP is
 * not judged here: it goes on to the VIP / OTHER rules. */
static enum lan_kind classify_udp(const struct frame_cfg *cfg, struct frame_info *fi,
				  struct cur *l4)
{
	uint16_t ulen, csum;
	const uint8_t *udp = l4->p;
	bool ours_mac = memcmp(fi->dst_mac, cfg->mac, 6) == 0;
	bool bcast_mac = memcmp(fi->dst_mac, mac_bcast, 6) == 0;
	bool len_ok;
	enum lan_kind k = LAN_OTHER;

	if (!cur_get_u16(l4, &fi->sport) || !cur_get_u16(l4, &fi->dport) ||
	    !cur_get_u16(l4, &ulen) || !cur_get_u16(l4, &csum)) {
		if (fi->dport == 67 || fi->dport == 53)
			return bad(fi, "udp: truncated");
		fi->sport = fi->dport = 0;
		return LAN_OTHER;
	}
	len_ok = ulen >= FRAME_UDP_HDR && (size_t)ulen - FRAME_UDP_HDR <= cur_left(l4);
	if (len_ok) {
		fi->udp_payload = l4->p;
		fi->udp_len = ulen - FRAME_UDP_HDR;
	}

	if (fi->dport == 67 && (ours_mac || bcast_mac))
		k = LAN_DHCP;
	else if (fi->dport == 53 && cfg->ip != 0 && fi->ip_dst == cfg->ip && ours_mac)
		k = LAN_DNS;
	if (k == LAN_OTHER)
		return k;
	if (!len_ok)
		return bad(fi, "udp: bad length");
	if (csum != 0 && !(fi->vnet.flags & (GSO_F_NEEDS_CSUM | GSO_F_DATA_VALID))) {
		uint32_t sum = inet_pseudo_sum(fi->ip + 12, fi->ip + 16, 4, PROTO_UDP, ulen);

		if (inet_csum_fold(inet_csum_add(sum, udp, ulen)) != 0)
			return bad(fi, "udp: bad checksum");
	}
	return k;
}

static enum lan_kind classify_ipv4(const struct frame_cfg *cfg, struct frame_info *fi,
				   struct cur *c)
{
	struct cur ipc = *c, l4;
	uint8_t vihl, ttl;
	uint16_t tot, fragoff;
	enum lan_kind k;

	if (!cur_get_u8(&ipc, &vihl) || !cur_skip(&ipc, 1) || !cur_get_u16(&ipc, &tot) ||
	    !cur_skip(&ipc, 2) || !cur_get_u16(&ipc, &fragoff) || !cur_get_u8(&ipc, &ttl) ||
	    !cur_get_u8(&ipc, &fi->ip_proto) || !cur_skip(&ipc, 2) ||
	    !cur_get_u32(&ipc, &fi->ip_src) || !cur_get_u32(&ipc, &fi->ip_dst))
		return bad(fi, "ipv4: truncated header");
	if (vihl >> 4 != 4)
		return bad(fi, "ipv4: version");
	fi->ip_hl = (size_t)(vihl & 0x0f) * 4;
	if (fi->ip_hl < FRAME_IPV4_HDR)
		return bad(fi, "ipv4: IHL < 5");
	if (tot < fi->ip_hl || tot > cur_left(c))
		return bad(fi, "ipv4: bad total length");
	fi->ip = c->p;
	fi->ip_len = tot;
	fi->eth_len = FRAME_ETH_LEN + tot;     /* drop the Ethernet padding */
	if (ip_csum(fi->ip, fi->ip_hl) != get_be16(fi->ip + 10))
		return bad(fi, "ipv4: bad header checksum");
	fi->ip_ttl = ttl;
	fi->ip_df = (fragoff & 0x4000) != 0;
	fi->ip_frag = (fragoff & 0x3fff) != 0;
	/* Only the VIP range costs the owner a table walk. */
	if (cfg->is_gn && in_vip_prefix(cfg, fi->ip_dst))
		fi->dst_is_gn = cfg->is_gn(cfg->arg, fi->ip_dst);

	if (fi->ip_proto == PROTO_UDP && !fi->ip_frag) {
		l4 = cur_make(fi->ip + fi->ip_hl, tot - fi->ip_hl);
		k = classify_udp(cfg, fi, &l4);
		if (k != LAN_OTHER) {
			fi->kind = k;
			return k;
		}
	}
	if (memcmp(fi->dst_mac, cfg->mac, 6) == 0 && in_vip_prefix(cfg, fi->ip_dst) &&
	    fi->ip_dst != cfg->ip && vip_is_host(cfg, fi->ip_dst)) {
		fi->kind = LAN_VIP;
		return LAN_VIP;
	}
	fi->kind = LAN_OTHER;
	return LAN_OTHER;
}

static bool is_zero16(const uint8_t a[16])
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, 16);
}

/* UDP over IPv6 to the adapter's DHCPv6 server or resolver: length and
 * checksum (which IPv6 makes mandatory) checked; other UDP is OTHER. */
static enum lan_kind classify_udp6(const struct frame_cfg *cfg, struct frame_info *fi)
{
	static const uint8_t all_dhcp[16] = { 0xff, 0x02, [13] = 0x01, [15] = 0x02 };
	struct cur l4 = cur_make(fi->l4, fi->l4_len);
	bool ours_mac = memcmp(fi->dst_mac, cfg->mac, 6) == 0;
	uint16_t ulen, csum;
	enum lan_kind k = LAN_OTHER;

	if (!cur_get_u16(&l4, &fi->sport) || !cur_get_u16(&l4, &fi->dport) ||
	    !cur_get_u16(&l4, &ulen) || !cur_get_u16(&l4, &csum)) {
		if (fi->dport == 547 || fi->dport == 53)
			return bad(fi, "udp6: truncated");
		fi->sport = fi->dport = 0;
		return LAN_OTHER;
	}
	if (fi->dport == 547 && (!memcmp(fi->ip6_dst, all_dhcp, 16) ||
				 (!is_zero16(cfg->ll6) && !memcmp(fi->ip6_dst, cfg->ll6, 16))))
		k = LAN_DHCP6;
	else if (fi->dport == 53 && ours_mac &&
		 ((!is_zero16(cfg->ll6) && !memcmp(fi->ip6_dst, cfg->ll6, 16)) ||
		  (!is_zero16(cfg->ip6) && !memcmp(fi->ip6_dst, cfg->ip6, 16))))
		k = LAN_DNS6;
	if (k == LAN_OTHER)
		return k;
	if (ulen < FRAME_UDP_HDR || ulen > fi->l4_len)
		return bad(fi, "udp6: bad length");
	fi->udp_payload = fi->l4 + FRAME_UDP_HDR;
	fi->udp_len = ulen - FRAME_UDP_HDR;
	if (!(fi->vnet.flags & (GSO_F_NEEDS_CSUM | GSO_F_DATA_VALID))) {
		uint32_t sum = inet_pseudo_sum(fi->ip6_src, fi->ip6_dst, 16, PROTO_UDP, ulen);

		if (csum == 0 || inet_csum_fold(inet_csum_add(sum, fi->l4, ulen)) != 0)
			return bad(fi, "udp6: bad checksum");
	}
	return k;
}

static enum lan_kind classify_ipv6(const struct frame_cfg *cfg, struct frame_info *fi,
				   struct cur *c)
{
	struct cur ipc = *c;
	uint32_t vtf;
	uint16_t plen;
	uint8_t type;
	enum lan_kind k;

	if (!cur_get_u32(&ipc, &vtf) || !cur_get_u16(&ipc, &plen) ||
	    !cur_get_u8(&ipc, &fi->ip6_nh) || !cur_get_u8(&ipc, &fi->ip6_hlim) ||
	    !cur_get_bytes(&ipc, fi->ip6_src, 16) || !cur_get_bytes(&ipc, fi->ip6_dst, 16))
		return bad(fi, "ipv6: truncated header");
	if (vtf >> 28 != 6)
		return bad(fi, "ipv6: version");
	if (plen > cur_left(&ipc))
		return bad(fi, "ipv6: bad payload length");
	fi->ip6 = c->p;
	fi->ip6_len = FRAME_IPV6_HDR + (size_t)plen;
	fi->eth_len = FRAME_ETH_LEN + fi->ip6_len;   /* drop the Ethernet padding */
	fi->l4 = ipc.p;
	fi->l4_len = plen;
	if (fi->ip6_nh == PROTO_ICMPV6) {
		struct cur l4 = cur_make(fi->l4, fi->l4_len);

		if (cur_get_u8(&l4, &type) && type >= 133 && type <= 137) {
			fi->kind = LAN_NDP;
			return LAN_NDP;
		}
	} else if (fi->ip6_nh == PROTO_UDP) {
		k = classify_udp6(cfg, fi);
		if (k != LAN_OTHER) {
			fi->kind = k;
			return k;
		}
	}
	if (memcmp(fi->dst_mac, cfg->mac, 6) == 0 &&
	    addr_in6_prefix(fi->ip6_dst, cfg->vip6_net, cfg->vip6_len) &&
	    (is_zero16(cfg->ip6) || memcmp(fi->ip6_dst, cfg->ip6, 16))) {
		fi->kind = LAN_VIP6;
		return LAN_VIP6;
	}
	fi->kind = LAN_OTHER;
	return LAN_OTHER;
}

enum lan_kind frame_classify(const struct frame_cfg *cfg, const uint8_t *buf, size_t len,
			     bool vnet, struct frame_info *fi)
{
	struct cur c = cur_make(buf, len);

	memset(fi, 0, sizeof(*fi));
	fi->why = "";
	if (vnet) {
		if (gso_parse_hdr(&c, &fi->vnet) < 0)
			return bad(fi, "vnet header truncated");
		fi->have_vnet = true;
	}
	fi->eth = c.p;
	fi->eth_len = cur_left(&c);
	if (!cur_get_bytes(&c, fi->dst_mac, 6) || !cur_get_bytes(&c, fi->src_mac, 6) ||
	    !cur_get_u16(&c, &fi->ethertype))
		return bad(fi, "ethernet: truncated");

	switch (fi->ethertype) {
	case FRAME_ETHERTYPE_ARP:
		return classify_arp(fi, &c);
	case FRAME_ETHERTYPE_IPV4:
		return classify_ipv4(cfg, fi, &c);
	case FRAME_ETHERTYPE_IPV6:
		return classify_ipv6(cfg, fi, &c);
	default:
		fi->kind = LAN_OTHER;
		return LAN_OTHER;
	}
}

bool frame_arp_should_answer(const struct frame_cfg *cfg, const struct frame_info *fi,
			     bool sender_enrolled)
{
	if (fi->kind != LAN_ARP || fi->arp_op != FRAME_ARP_REQUEST || !sender_enrolled)
		return false;
	if (!in_vip_prefix(cfg, fi->arp_tpa) || !vip_is_host(cfg, fi->arp_tpa))
		return false;
	if (fi->arp_tpa == cfg->ip || fi->arp_tpa == fi->arp_spa)
		return false;           /* ours: the kernel; the sender's: a probe/announce */
	if (cfg->is_gn && cfg->is_gn(cfg->arg, fi->arp_tpa))
		return false;           /* a GN on this LAN answers for itself */
	return true;
}

void frame_eth_header(uint8_t out[FRAME_ETH_LEN], const uint8_t dst[6], const uint8_t src[6],
		      uint16_t ethertype)
{
	memcpy(out, dst, 6);
	memcpy(out + 6, src, 6);
	put_be16(out + 12, ethertype);
}

ssize_t frame_build_arp_reply(uint8_t *out, size_t cap, const struct frame_info *req,
			      const uint8_t mac[6])
{
	struct wbuf w;
	uint8_t *eth;

	wbuf_init(&w, out, cap);
	eth = wbuf_reserve(&w, FRAME_ETH_LEN);
	if (eth)
		frame_eth_header(eth, req->arp_sha, mac, FRAME_ETHERTYPE_ARP);
	wbuf_put_u16(&w, 1);
	wbuf_put_u16(&w, FRAME_ETHERTYPE_IPV4);
	wbuf_put_u8(&w, 6);
	wbuf_put_u8(&w, 4);
	wbuf_put_u16(&w, FRAME_ARP_REPLY);
	wbuf_put_bytes(&w, mac, 6);
	wbuf_put_u32(&w, req->arp_tpa);
	wbuf_put_bytes(&w, req->arp_sha, 6);
	wbuf_put_u32(&w, req->arp_spa);
	while (wbuf_ok(&w) && w.len < FRAME_MIN_LEN)
		wbuf_put_u8(&w, 0);
	if (!wbuf_ok(&w))
		return -ENOSPC;
	return (ssize_t)w.len;
}

/* A 20-byte IPv4 header (DF, id 0) with its checksum. */
static void put_ipv4(uint8_t *p, size_t total, uint8_t ttl, uint8_t proto, uint32_t src,
		     uint32_t dst)
{
	p[0] = 0x45;
	p[1] = 0;
	put_be16(p + 2, (uint16_t)total);
	put_be16(p + 4, 0);
	put_be16(p + 6, 0x4000);
	p[8] = ttl;
	p[9] = proto;
	put_be16(p + 10, 0);
	put_be32(p + 12, src);
	put_be32(p + 16, dst);
	put_be16(p + 10, ip_csum(p, FRAME_IPV4_HDR));
}

ssize_t frame_build_udp4(uint8_t *out, size_t cap, const struct frame_udp *u,
			 const uint8_t *payload, size_t plen)
{
	size_t total = FRAME_IPV4_HDR + FRAME_UDP_HDR + plen;
	uint8_t *ip, *udp;

	if (plen > 65535 - FRAME_IPV4_HDR - FRAME_UDP_HDR)
		return -EMSGSIZE;
	if (cap < FRAME_ETH_LEN + total)
		return -ENOSPC;
	frame_eth_header(out, u->dst_mac, u->src_mac, FRAME_ETHERTYPE_IPV4);
	ip = out + FRAME_ETH_LEN;
	udp = ip + FRAME_IPV4_HDR;
	put_ipv4(ip, total, u->ttl ? u->ttl : 64, PROTO_UDP, u->src_ip, u->dst_ip);
	put_be16(udp, u->sport);
	put_be16(udp + 2, u->dport);
	put_be16(udp + 4, (uint16_t)(FRAME_UDP_HDR + plen));
	put_be16(udp + 6, 0);
	if (plen)
		memmove(udp + FRAME_UDP_HDR, payload, plen);
	put_be16(udp + 6, inet_l4_csum(ip + 12, ip + 16, 4, PROTO_UDP, udp,
				       FRAME_UDP_HDR + plen, 6));
	return (ssize_t)(FRAME_ETH_LEN + total);
}

static void put_ipv6(uint8_t *p, size_t plen, uint8_t hlim, uint8_t nh, const uint8_t src[16],
		     const uint8_t dst[16])
{
	put_be32(p, 0x60000000);                 /* version 6, no class, no flow */
	put_be16(p + 4, (uint16_t)plen);
	p[6] = nh;
	p[7] = hlim;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
}

ssize_t frame_build_udp6(uint8_t *out, size_t cap, const struct frame_udp6 *u,
			 const uint8_t *payload, size_t plen)
{
	size_t ulen = FRAME_UDP_HDR + plen;
	uint8_t *ip, *udp;

	if (plen > 65535 - FRAME_UDP_HDR)
		return -EMSGSIZE;
	if (cap < FRAME_ETH_LEN + FRAME_IPV6_HDR + ulen)
		return -ENOSPC;
	frame_eth_header(out, u->dst_mac, u->src_mac, FRAME_ETHERTYPE_IPV6);
	ip = out + FRAME_ETH_LEN;
	udp = ip + FRAME_IPV6_HDR;
	if (plen)
		memmove(udp + FRAME_UDP_HDR, payload, plen);
	put_ipv6(ip, ulen, u->hlim ? u->hlim : 64, PROTO_UDP, u->src, u->dst);
	put_be16(udp, u->sport);
	put_be16(udp + 2, u->dport);
	put_be16(udp + 4, (uint16_t)ulen);
	put_be16(udp + 6, 0);
	put_be16(udp + 6, inet_l4_csum(u->src, u->dst, 16, PROTO_UDP, udp, ulen, 6));
	return (ssize_t)(FRAME_ETH_LEN + FRAME_IPV6_HDR + ulen);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). */
static uint16_t csum_update16(uint16_t hc, uint16_t old, uint16_t new)
{
	uint32_t sum = (uint16_t)~hc;

	sum += (uint16_t)~old;
	sum += new;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The TCP segment of an IPv4 packet (not a fragment) or of an IPv6 one
 * without extension headers: its offset (*hl) and the packet's length
 * past which nothing is read (*tot).  False for anything else. */
static bool tcp_of(const uint8_t *pkt, size_t len, size_t *hl, size_t *tot)
{
	struct cur c = cur_make(pkt, len);
	uint8_t vihl, proto;
	uint16_t t, fragoff;

	if (!cur_get_u8(&c, &vihl))
		return false;
	if (vihl >> 4 == 6) {
		if (!cur_skip(&c, 3) || !cur_get_u16(&c, &t) || !cur_get_u8(&c, &proto) ||
		    proto != PROTO_TCP || FRAME_IPV6_HDR + (size_t)t > len)
			return false;
		*hl = FRAME_IPV6_HDR;
		*tot = FRAME_IPV6_HDR + (size_t)t;
		return true;
	}
	if (!cur_skip(&c, 1) || !cur_get_u16(&c, &t) || !cur_skip(&c, 2) ||
	    !cur_get_u16(&c, &fragoff) || !cur_skip(&c, 1) || !cur_get_u8(&c, &proto))
		return false;
	*hl = (size_t)(vihl & 0x0f) * 4;
	*tot = t;
	return vihl >> 4 == 4 && *hl >= FRAME_IPV4_HDR && t >= *hl && t <= len &&
	       proto == PROTO_TCP && (fragoff & 0x3fff) == 0;
}

bool frame_tcp_mss_clamp(uint8_t *pkt, size_t len, uint16_t mss)
{
	struct cur c, opts;
	uint8_t flags, doff;
	size_t hl, thl, tot;
	uint8_t *tcp;

	if (!tcp_of(pkt, len, &hl, &tot))
		return false;
	c = cur_make(pkt + hl, tot - hl);
	if (!cur_skip(&c, 12) || !cur_get_u8(&c, &doff) || !cur_get_u8(&c, &flags))
		return false;
	thl = (size_t)(doff >> 4) * 4;
	if (!(flags & TCP_F_SYN) || thl < 20 || thl > tot - hl)
		return false;
	tcp = pkt + hl;
	opts = cur_make(tcp + 20, thl - 20);
	while (!cur_empty(&opts)) {
		uint8_t kind, olen;
		uint16_t cur_mss;
		size_t at;

		if (!cur_get_u8(&opts, &kind) || kind == TCP_OPT_EOL)
			return false;
		if (kind == TCP_OPT_NOP)
			continue;
		if (!cur_get_u8(&opts, &olen) || olen < 2 || olen - 2u > cur_left(&opts))
			return false;
		if (kind != TCP_OPT_MSS) {
			cur_skip(&opts, olen - 2u);
			continue;
		}
		at = (size_t)(opts.p - pkt);
		if (olen != 4 || !cur_get_u16(&opts, &cur_mss))
			return false;
		if (cur_mss <= mss)
			return false;
		/* RFC 1624 over the 16-bit words of the segment the value
		 * touches: one when its offset in the TCP header is even, else
		 * two, each half shared with a neighbour byte (a missing one at
		 * the end of the segment counts as the zero pad). */
		if (((at - hl) & 1) == 0) {
			put_be16(tcp + 16, csum_update16(get_be16(tcp + 16), cur_mss, mss));
		} else {
			uint8_t prev = pkt[at - 1];
			uint8_t next = at + 2 < tot ? pkt[at + 2] : 0;
			uint16_t hc = get_be16(tcp + 16);

			hc = csum_update16(hc, (uint16_t)(prev << 8 | cur_mss >> 8),
					   (uint16_t)(prev << 8 | mss >> 8));
			hc = csum_update16(hc, (uint16_t)((cur_mss & 0xff) << 8 | next),
					   (uint16_t)((mss & 0xff) << 8 | next));
			put_be16(tcp + 16, hc);
		}
		put_be16(pkt + at, mss);
		return true;
	}
	return false;
}

ssize_t frame_icmp_frag_needed(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
			       uint32_t src_ip, uint16_t mtu)
{
	struct cur c = cur_make(pkt, len);
	uint8_t vihl, proto, itype = 0;
	uint16_t tot, fragoff;
	uint32_t osrc;
	size_t hl, quote, total;
	uint8_t *icmp;

	if (!cur_get_u8(&c, &vihl) || !cur_skip(&c, 1) || !cur_get_u16(&c, &tot) ||
	    !cur_skip(&c, 2) || !cur_get_u16(&c, &fragoff) || !cur_skip(&c, 1) ||
	    !cur_get_u8(&c, &proto) || !cur_skip(&c, 2) || !cur_get_u32(&c, &osrc))
		return -EINVAL;
	hl = (size_t)(vihl & 0x0f) * 4;
	if (vihl >> 4 != 4 || hl < FRAME_IPV4_HDR || tot < hl || tot > len)
		return -EINVAL;
	if (!(fragoff & 0x4000) || (fragoff & 0x1fff) != 0)
		return -EINVAL;         /* not DF, or not the first fragment */
	/* RFC 1122 3.2.2: never about an ICMP error, nor to a source that is
	 * no single host. */
	if (proto == PROTO_ICMP) {
		if (tot < hl + 1)
			return -EINVAL;
		itype = pkt[hl];
		if (itype != 0 && itype != 8 && itype != 13 && itype != 14 && itype != 15 &&
		    itype != 16 && itype != 17 && itype != 18)
			return -EINVAL;
	}
	if (osrc == 0 || osrc == 0xffffffffu || (osrc >> 28) == 0xe || (osrc >> 24) == 127)
		return -EINVAL;

	quote = tot;
	if (quote > ICMP_ERR_MAX - FRAME_IPV4_HDR - 8)
		quote = ICMP_ERR_MAX - FRAME_IPV4_HDR - 8;
	total = FRAME_IPV4_HDR + 8 + quote;
	if (cap < total)
		return -ENOSPC;
	put_ipv4(out, total, 64, PROTO_ICMP, src_ip, osrc);
	icmp = out + FRAME_IPV4_HDR;
	icmp[0] = ICMP_UNREACH;
	icmp[1] = ICMP_UNREACH_NEEDFRAG;
	put_be16(icmp + 2, 0);
	put_be16(icmp + 4, 0);          /* unused (RFC 1191) */
	put_be16(icmp + 6, mtu);        /* next-hop MTU */
	memcpy(icmp + 8, pkt, quote);
	put_be16(icmp + 2, inet_csum(icmp, 8 + quote));
	return (ssize_t)total;
}

ssize_t frame_icmp6_too_big(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
			    const uint8_t src[16], uint32_t mtu)
{
	struct cur c = cur_make(pkt, len);
	uint8_t ver, nh, osrc[16];
	uint16_t plen;
	size_t tot, quote, total;
	uint8_t *icmp;

	if (!cur_get_u8(&c, &ver) || !cur_skip(&c, 3) || !cur_get_u16(&c, &plen) ||
	    !cur_get_u8(&c, &nh) || !cur_skip(&c, 1) || !cur_get_bytes(&c, osrc, 16))
		return -EINVAL;
	tot = FRAME_IPV6_HDR + (size_t)plen;
	if (ver >> 4 != 6 || tot > len)
		return -EINVAL;
	/* RFC 4443 2.4 (e): never about an ICMPv6 error (types below 128;
	 * extension headers are not walked, so such a packet is let be), nor
	 * to an unspecified, loopback or multicast source. */
	if (nh == PROTO_ICMPV6 && (tot < FRAME_IPV6_HDR + 1 || pkt[FRAME_IPV6_HDR] < 128))
		return -EINVAL;
	if (is_zero16(osrc) || osrc[0] == 0xff ||
	    !memcmp(osrc, (const uint8_t[16]){ [15] = 1 }, 16))
		return -EINVAL;
	/* As much of it as keeps the error within the minimum MTU. */
	quote = tot;
	if (quote > ICMP6_ERR_MAX - FRAME_IPV6_HDR - 8)
		quote = ICMP6_ERR_MAX - FRAME_IPV6_HDR - 8;
	total = FRAME_IPV6_HDR + 8 + quote;
	if (cap < total)
		return -ENOSPC;
	put_ipv6(out, 8 + quote, 64, PROTO_ICMPV6, src, osrc);
	icmp = out + FRAME_IPV6_HDR;
	icmp[0] = ICMP6_TOO_BIG;
	icmp[1] = 0;
	put_be16(icmp + 2, 0);
	put_be32(icmp + 4, mtu);
	memcpy(icmp + 8, pkt, quote);
	put_be16(icmp + 2, inet_l4_csum(src, osrc, 16, PROTO_ICMPV6, icmp, 8 + quote, 2));
	return (ssize_t)total;
}
