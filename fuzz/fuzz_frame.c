/* libFuzzer: bytes into the adapter's LAN frame codec and the GSO module.
 *
 * The first byte picks options: bit 0 = the frame comes behind a vnet
 * header (PACKET_VNET_HDR), bit 1 = the adapter does not know its IP yet.
 * The rest is the frame.  Whatever classifies is pushed further down the
 * path the adapter takes: ARP replies built and re-classified, the MSS
 * clamp (a packet with a right TCP checksum must keep it), ICMP frag-needed
 * (its checksums must be right), UDP frames rebuilt, and gso_segment() on
 * every IPv4 frame with the vnet header given (each segment must carry a
 * right IPv4 header checksum); for IPv6, what each kind points at must lie
 * within the frame, NDP goes on to ndp_parse(), DHCPv6 and DNS frames are
 * rebuilt, and the MSS clamp and Packet Too Big are checked as for IPv4. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "frame.h"
#include "gso.h"
#include "log.h"
#include "ndp.h"

static const uint8_t fz_mac[6] = { 0x02, 0xad, 0, 0, 0, 1 };

static bool fz_is_gn(void *arg, uint32_t ip)
{
	return ip == 0x64400007 || ip == 0x64400008;    /* 100.64.0.7, .8 */
}

static int fz_seg_cb(void *arg, uint8_t *pkt, size_t len)
{
	size_t *n = arg;

	(*n)++;
	if (len < 20)
		abort();
	if ((pkt[0] >> 4) == 4 && inet_csum(pkt, (size_t)(pkt[0] & 0x0f) * 4) != 0)
		abort();
	return 0;
}

static bool tcp4_csum_ok(const uint8_t *ip, size_t len)
{
	size_t hl = (size_t)(ip[0] & 0x0f) * 4;
	size_t tot = get_be16(ip + 2);

	if (len < 20 || hl < 20 || tot < hl || tot > len || ip[9] != 6)
		return false;
	return inet_csum_fold(inet_csum_add(inet_pseudo_sum(ip + 12, ip + 16, 4, 6,
							    (uint32_t)(tot - hl)),
					    ip + hl, tot - hl)) == 0;
}

static bool tcp6_csum_ok(const uint8_t *ip, size_t len)
{
	if (len < 40 || ip[6] != 6)
		return false;
	return inet_csum_fold(inet_csum_add(inet_pseudo_sum(ip + 8, ip + 24, 16, 6,
							    (uint32_t)(len - 40)),
					    ip + 40, len - 40)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static uint8_t pkt[GSO_PKT_MAX], out[2048];
	struct frame_cfg cfg = { .ip = 0x64400001, .vip_net = 0x64400000, .vip_len = 10,
				 .is_gn = fz_is_gn,
				 .ll6 = { 0xfe, 0x80, [9] = 0xad, [11] = 0xff, [12] = 0xfe, [15] = 1 },
				 .ip6 = { 0xfd, 0x00, 0x00, 0x64, [15] = 1 },
				 .vip6_net = { 0xfd, 0x00, 0x00, 0x64 }, .vip6_len = 48 };
	struct frame_info fi, fi2;
	bool vnet;
	ssize_t n;

	if (!init) {
		log_init("fuzz_frame", LOG_LVL_ERR);
		init = true;
	}
	if (size < 1)
		return 0;
	memcpy(cfg.mac, fz_mac, 6);
	vnet = data[0] & 1;
	if (data[0] & 2)
		cfg.ip = 0;
	data++;
	size--;

	switch (frame_classify(&cfg, data, size, vnet, &fi)) {
	case LAN_MALFORMED:
		if (!fi.why || !fi.why[0])
			abort();
		return 0;
	case LAN_ARP:
		frame_arp_should_answer(&cfg, &fi, true);
		n = frame_build_arp_reply(out, sizeof(out), &fi, cfg.mac);
		if (n != FRAME_MIN_LEN ||
		    frame_classify(&cfg, out, (size_t)n, false, &fi2) != LAN_ARP ||
		    fi2.arp_op != FRAME_ARP_REPLY || fi2.arp_spa != fi.arp_tpa)
			abort();
		return 0;
	case LAN_DHCP:
	case LAN_DNS: {
		struct frame_udp u = { .src_mac = fi.src_mac, .dst_mac = cfg.mac,
				       .src_ip = fi.ip_src, .dst_ip = fi.ip_dst,
				       .sport = fi.sport, .dport = fi.dport };
		static uint8_t big[FRAME_ETH_LEN + GSO_PKT_MAX];

		if (fi.udp_payload + fi.udp_len > fi.eth + fi.eth_len)
			abort();
		n = frame_build_udp4(big, sizeof(big), &u, fi.udp_payload, fi.udp_len);
		if (n < 0 || frame_classify(&cfg, big, (size_t)n, false, &fi2) != fi.kind)
			abort();
		break;
	}
	case LAN_NDP:
	case LAN_DHCP6:
	case LAN_DNS6:
	case LAN_VIP6: {
		struct ndp_msg m;

		/* what the IPv6 kinds point at lies within the frame */
		if (!fi.ip6 || fi.ip6 < fi.eth || fi.ip6 + fi.ip6_len > fi.eth + fi.eth_len ||
		    fi.l4 + fi.l4_len != fi.ip6 + fi.ip6_len ||
		    (fi.kind != LAN_NDP && fi.kind != LAN_VIP6 &&
		     (!fi.udp_payload || fi.udp_payload + fi.udp_len > fi.l4 + fi.l4_len)))
			abort();
		if (fi.kind == LAN_NDP &&
		    ndp_parse(fi.l4, fi.l4_len, fi.ip6_src, fi.ip6_dst, fi.ip6_hlim, &m) !=
			    NDP_OK && !m.why)
			abort();
		if (fi.kind == LAN_DHCP6 || fi.kind == LAN_DNS6) {
			/* the reply path's builder: read back as the same kind */
			struct frame_udp6 u = { .src_mac = fi.src_mac, .dst_mac = cfg.mac,
						.src = fi.ip6_src, .dst = fi.ip6_dst,
						.sport = fi.sport, .dport = fi.dport };
			static uint8_t big[FRAME_ETH_LEN + FRAME_IPV6_HDR + GSO_PKT_MAX];

			n = frame_build_udp6(big, sizeof(big), &u, fi.udp_payload, fi.udp_len);
			if (n < 0 || frame_classify(&cfg, big, (size_t)n, false, &fi2) != fi.kind)
				abort();
		}
		/* the VIPv6 path: the MSS clamp keeps a right checksum right,
		 * Packet Too Big is right and within 1280 bytes */
		memcpy(pkt, fi.ip6, fi.ip6_len);
		{
			bool ok = tcp6_csum_ok(pkt, fi.ip6_len);

			if (frame_tcp_mss_clamp(pkt, fi.ip6_len, 1340) && ok &&
			    !tcp6_csum_ok(pkt, fi.ip6_len))
				abort();
		}
		n = frame_icmp6_too_big(out, sizeof(out), fi.ip6, fi.ip6_len, cfg.ip6, 1400);
		if (n > 0 && (n > 1280 || get_be16(out + 4) != (size_t)n - 40 ||
			      inet_csum_fold(inet_csum_add(inet_pseudo_sum(out + 8, out + 24, 16, 58,
									   (uint32_t)n - 40),
							   out + 40, (size_t)n - 40)) != 0))
			abort();
		return 0;
	}
	default:
		break;
	}

	if (!fi.ip)
		return 0;
	if (fi.ip < fi.eth || fi.ip + fi.ip_len > fi.eth + fi.eth_len)
		abort();

	/* the MSS clamp on a copy */
	memcpy(pkt, fi.ip, fi.ip_len);
	{
		bool ok = tcp4_csum_ok(pkt, fi.ip_len);

		if (frame_tcp_mss_clamp(pkt, fi.ip_len, 1360) && ok &&
		    !tcp4_csum_ok(pkt, fi.ip_len))
			abort();
	}

	n = frame_icmp_frag_needed(out, sizeof(out), fi.ip, fi.ip_len, cfg.ip, 1380);
	if (n > 0 && (inet_csum(out, 20) != 0 || inet_csum(out + 20, (size_t)n - 20) != 0 ||
		      n > 576))
		abort();

	if (fi.have_vnet) {
		/* cut where it lies, in a buffer of the frame's size (a write
		 * past it is caught) */
		uint8_t *work = malloc(fi.eth_len ? fi.eth_len : 1);
		size_t segs = 0;
		int r;

		if (!work)
			abort();
		memcpy(work, fi.eth, fi.eth_len);
		r = gso_segment(&fi.vnet, work, fi.eth_len, FRAME_ETH_LEN, fz_seg_cb, &segs);
		free(work);
		if ((r > 0 && (size_t)r != segs) || (r <= 0 && segs != 0))
			abort();
	}
	return 0;
}
