/* src/adapter/lan/frame.c: every classification rule, hostile frames
 * (truncated, bad IPv4 headers, bad ARP, bad UDP), the builders read back
 * through the classifier, the MSS clamp and ICMP frag-needed checked by
 * recomputing checksums. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "frame.h"
#include "gso.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const uint8_t MAC_AD[6] = { 0x02, 0xad, 0, 0, 0, 1 };
static const uint8_t MAC_GN[6] = { 0x02, 0x6e, 0, 0, 0, 7 };
static const uint8_t MAC_BC[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
#define ADAPTER_IP IP(100, 64, 0, 1)
#define GN_IP IP(100, 64, 0, 7)
#define GN2_IP IP(100, 64, 0, 8)    /* another GN on this LAN */
#define PEER_IP IP(100, 64, 3, 9)   /* a peer behind the overlay */

/* IPv6: the adapter fe80::ad:ff:fe00:1 and fd00:64::1, a GN fe80::6e:ff:fe00:7,
 * a peer behind the overlay fd00:64::3:9 */
static const uint8_t LL6_AD[16] = { 0xfe, 0x80, [9] = 0xad, [11] = 0xff, [12] = 0xfe,
				    [15] = 1 };
static const uint8_t VIP6_AD[16] = { 0xfd, 0x00, 0x00, 0x64, [15] = 1 };
static const uint8_t LL6_GN[16] = { 0xfe, 0x80, [9] = 0x6e, [11] = 0xff, [12] = 0xfe,
				    [15] = 7 };
static const uint8_t VIP6_PEER[16] = { 0xfd, 0x00, 0x00, 0x64, [13] = 3, [15] = 9 };
static const uint8_t ALL_DHCP[16] = { 0xff, 0x02, [13] = 1, [15] = 2 };
static const uint8_t OUT6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

static bool is_gn(void *arg, uint32_t ip)
{
	return ip == GN_IP || ip == GN2_IP;
}

static struct frame_cfg cfg;

static int setup(void **state)
{
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, MAC_AD, 6);
	cfg.ip = ADAPTER_IP;
	cfg.vip_net = IP(100, 64, 0, 0);
	cfg.vip_len = 10;
	cfg.is_gn = is_gn;
	memcpy(cfg.ll6, LL6_AD, 16);
	memcpy(cfg.ip6, VIP6_AD, 16);
	memcpy(cfg.vip6_net, VIP6_AD, 6);
	cfg.vip6_len = 48;
	return 0;
}

static uint8_t fr[2048];

/* A UDP frame from the GN, via the builder. */
static size_t udp_frame(const uint8_t *dmac, uint32_t dst, uint16_t dport, size_t plen)
{
	uint8_t pl[600];
	struct frame_udp u = { .src_mac = MAC_GN, .dst_mac = dmac, .src_ip = GN_IP,
			       .dst_ip = dst, .sport = 5353, .dport = dport };
	ssize_t n;
	size_t i;

	for (i = 0; i < plen; i++)
		pl[i] = (uint8_t)i;
	n = frame_build_udp4(fr, sizeof(fr), &u, pl, plen);
	assert_true(n > 0);
	return (size_t)n;
}

static void refix_ipcsum(void)
{
	put_be16(fr + 14 + 10, ip_csum(fr + 14, (size_t)(fr[14] & 0x0f) * 4));
}

static size_t arp_frame(uint16_t op, uint32_t spa, uint32_t tpa)
{
	struct wbuf w;

	wbuf_init(&w, fr, sizeof(fr));
	wbuf_put_bytes(&w, MAC_BC, 6);
	wbuf_put_bytes(&w, MAC_GN, 6);
	wbuf_put_u16(&w, FRAME_ETHERTYPE_ARP);
	wbuf_put_u16(&w, 1);
	wbuf_put_u16(&w, 0x0800);
	wbuf_put_u8(&w, 6);
	wbuf_put_u8(&w, 4);
	wbuf_put_u16(&w, op);
	wbuf_put_bytes(&w, MAC_GN, 6);
	wbuf_put_u32(&w, spa);
	wbuf_put_bytes(&w, (uint8_t[6]){ 0 }, 6);
	wbuf_put_u32(&w, tpa);
	while (w.len < 60)
		wbuf_put_u8(&w, 0);
	return w.len;
}

static void test_short_and_other(void **state)
{
	struct frame_info fi;
	uint8_t b[64] = { 0 };

	assert_int_equal(frame_classify(&cfg, b, 0, false, &fi), LAN_MALFORMED);
	assert_int_equal(frame_classify(&cfg, b, 13, false, &fi), LAN_MALFORMED);
	assert_int_equal(frame_classify(&cfg, b, 9, true, &fi), LAN_MALFORMED);
	assert_int_equal(frame_classify(&cfg, b, 23, true, &fi), LAN_MALFORMED);
	assert_string_not_equal(fi.why, "");
	/* unknown ethertypes, IPv6 not for the adapter, VLAN: other; IPv6
	 * that is no IPv6 header (version 0): malformed */
	put_be16(b + 12, 0x86dd);
	assert_int_equal(frame_classify(&cfg, b, 60, false, &fi), LAN_MALFORMED);
	assert_string_equal(fi.why, "ipv6: version");
	b[14] = 0x60;
	assert_int_equal(frame_classify(&cfg, b, 60, false, &fi), LAN_OTHER);
	b[14] = 0;
	put_be16(b + 12, 0x8100);
	assert_int_equal(frame_classify(&cfg, b, 60, false, &fi), LAN_OTHER);
	put_be16(b + 12, 0x88cc);
	assert_int_equal(frame_classify(&cfg, b, 14, false, &fi), LAN_OTHER);
	/* IPv4 ethertype with nothing after it */
	put_be16(b + 12, 0x0800);
	assert_int_equal(frame_classify(&cfg, b, 14, false, &fi), LAN_MALFORMED);
	assert_string_equal(frame_kind_str(LAN_VIP), "vip");
}

static void test_arp(void **state)
{
	struct frame_info fi;
	size_t n = arp_frame(1, GN_IP, PEER_IP);

	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_ARP);
	assert_int_equal(fi.arp_op, 1);
	assert_int_equal(fi.arp_spa, GN_IP);
	assert_int_equal(fi.arp_tpa, PEER_IP);
	assert_memory_equal(fi.arp_sha, MAC_GN, 6);
	assert_memory_equal(fi.src_mac, MAC_GN, 6);

	/* truncated at every length */
	for (size_t l = 14; l < 42; l++)
		assert_int_equal(frame_classify(&cfg, fr, l, false, &fi), LAN_MALFORMED);
	/* 6/4 Ethernet/IPv4 only; op 1 or 2 only */
	fr[18] = 8;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	fr[18] = 6;
	fr[19] = 16;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	fr[19] = 4;
	put_be16(fr + 14, 6);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	put_be16(fr + 14, 1);
	put_be16(fr + 16, 0x86dd);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	put_be16(fr + 16, 0x0800);
	put_be16(fr + 20, 3);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	put_be16(fr + 20, 0);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	put_be16(fr + 20, 2);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_ARP);
}

static void test_arp_policy(void **state)
{
	struct frame_info fi;

	arp_frame(1, GN_IP, PEER_IP);
	frame_classify(&cfg, fr, 60, false, &fi);
	assert_true(frame_arp_should_answer(&cfg, &fi, true));
	assert_false(frame_arp_should_answer(&cfg, &fi, false));    /* not enrolled */

	arp_frame(2, GN_IP, PEER_IP);                                /* a reply */
	frame_classify(&cfg, fr, 60, false, &fi);
	assert_false(frame_arp_should_answer(&cfg, &fi, true));

	arp_frame(1, GN_IP, ADAPTER_IP);                             /* ours: kernel */
	frame_classify(&cfg, fr, 60, false, &fi);
	assert_false(frame_arp_should_answer(&cfg, &fi, true));

	arp_frame(1, GN_IP, GN2_IP);                                 /* a local GN */
	frame_classify(&cfg, fr, 60, false, &fi);
	assert_false(frame_arp_should_answer(&cfg, &fi, true));

	arp_frame(1, GN_IP, IP(192, 0, 2, 1));                       /* outside */
	frame_classify(&cfg, fr, 60, false, &fi);
	assert_false(frame_arp_should_answer(&cfg, &fi, true));

	arp_frame(1, GN_IP, IP(100, 127, 255, 255));                 /* prefix bcast */
	frame_classify(&cfg, fr, 60, false, &fi);
	assert_false(frame_arp_should_answer(&cfg, &fi, true));

	arp_frame(1, 0, GN_IP);                                      /* probe for itself */
	frame_classify(&cfg, fr, 60, false, &fi);
	assert_false(frame_arp_should_answer(&cfg, &fi, true));

	arp_frame(1, GN_IP, GN_IP);                                  /* gratuitous */
	frame_classify(&cfg, fr, 60, false, &fi);
	assert_false(frame_arp_should_answer(&cfg, &fi, true));
}

static void test_arp_reply(void **state)
{
	struct frame_info req, rep;
	uint8_t out[64];
	ssize_t n;

	arp_frame(1, GN_IP, PEER_IP);
	frame_classify(&cfg, fr, 60, false, &req);
	assert_int_equal(frame_build_arp_reply(out, 41, &req, MAC_AD), -ENOSPC);
	n = frame_build_arp_reply(out, sizeof(out), &req, MAC_AD);
	assert_int_equal(n, 60);
	assert_int_equal(frame_classify(&cfg, out, (size_t)n, false, &rep), LAN_ARP);
	assert_int_equal(rep.arp_op, 2);
	assert_memory_equal(rep.dst_mac, MAC_GN, 6);
	assert_memory_equal(rep.src_mac, MAC_AD, 6);
	assert_memory_equal(rep.arp_sha, MAC_AD, 6);
	assert_int_equal(rep.arp_spa, PEER_IP);
	assert_memory_equal(rep.arp_tha, MAC_GN, 6);
	assert_int_equal(rep.arp_tpa, GN_IP);
}

static void test_ipv4_hostile(void **state)
{
	struct frame_info fi;
	size_t n = udp_frame(MAC_AD, PEER_IP, 9, 20);

	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_VIP);
	/* truncated anywhere in the header / before the total length */
	for (size_t l = 14; l < n; l++)
		assert_int_equal(frame_classify(&cfg, fr, l, false, &fi), LAN_MALFORMED);
	/* bad version */
	fr[14] = 0x65;
	refix_ipcsum();
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	/* IHL 4 */
	fr[14] = 0x44;
	refix_ipcsum();
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	/* IHL 15 with a short packet: total length < IHL (the checksum over
	 * the 60-byte header is right, so only the length check refuses it) */
	fr[14] = 0x4f;
	refix_ipcsum();
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	assert_string_equal(fi.why, "ipv4: bad total length");
	fr[14] = 0x45;
	refix_ipcsum();
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_VIP);
	/* total length past the frame, and below the header */
	put_be16(fr + 16, (uint16_t)(n - 14 + 1));
	refix_ipcsum();
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	put_be16(fr + 16, 19);
	refix_ipcsum();
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	put_be16(fr + 16, (uint16_t)(n - 14));
	refix_ipcsum();
	/* header checksum */
	fr[14 + 8] ^= 1;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	assert_string_equal(fi.why, "ipv4: bad header checksum");
}

static void test_padding_removed(void **state)
{
	struct frame_info fi;
	size_t n = udp_frame(MAC_AD, PEER_IP, 9, 4);

	assert_int_equal(n, 14 + 32);
	memset(fr + n, 0xee, 60 - n);
	assert_int_equal(frame_classify(&cfg, fr, 60, false, &fi), LAN_VIP);
	assert_int_equal(fi.eth_len, n);
	assert_int_equal(fi.ip_len, 32);
	assert_ptr_equal(fi.ip, fr + 14);
	assert_int_equal(fi.ip_src, GN_IP);
	assert_int_equal(fi.ip_dst, PEER_IP);
	assert_false(fi.dst_is_gn);
	assert_true(fi.ip_df);
	assert_false(fi.ip_frag);
}

static void test_dhcp_dns(void **state)
{
	struct frame_info fi;
	uint8_t vb[GSO_HDR_LEN + 2048];
	struct gso_hdr vh = { .flags = GSO_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6 };
	size_t n;

	n = udp_frame(MAC_BC, 0xffffffffu, 67, 300);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_DHCP);
	assert_int_equal(fi.udp_len, 300);
	assert_ptr_equal(fi.udp_payload, fr + 42);
	assert_int_equal(fi.sport, 5353);
	assert_int_equal(fi.dport, 67);
	/* unicast REQUEST (renewing) to our MAC */
	n = udp_frame(MAC_AD, ADAPTER_IP, 67, 300);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_DHCP);
	/* to somebody else's MAC: not ours */
	n = udp_frame(MAC_GN, ADAPTER_IP, 67, 300);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);

	/* UDP checksum wrong: malformed; 0: not computed, fine */
	n = udp_frame(MAC_BC, 0xffffffffu, 67, 300);
	fr[42 + 10] ^= 0x40;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	assert_string_equal(fi.why, "udp: bad checksum");
	/* ... unless the vnet header says it is partial */
	gso_put_hdr(vb, &vh);
	memcpy(vb + GSO_HDR_LEN, fr, n);
	assert_int_equal(frame_classify(&cfg, vb, GSO_HDR_LEN + n, true, &fi), LAN_DHCP);
	assert_true(fi.have_vnet);
	assert_int_equal(fi.vnet.csum_start, 34);
	assert_ptr_equal(fi.eth, vb + GSO_HDR_LEN);
	put_be16(fr + 40, 0);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_DHCP);

	/* UDP length: below 8, past the IP packet */
	n = udp_frame(MAC_BC, 0xffffffffu, 67, 300);
	put_be16(fr + 38, 7);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	put_be16(fr + 38, 309);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	/* UDP header cut by the IP length */
	n = udp_frame(MAC_BC, 0xffffffffu, 67, 0);
	put_be16(fr + 16, 24);
	refix_ipcsum();
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);

	/* DNS: to the adapter's IP and MAC only */
	n = udp_frame(MAC_AD, ADAPTER_IP, 53, 40);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_DNS);
	assert_int_equal(fi.udp_len, 40);
	n = udp_frame(MAC_AD, IP(203, 0, 113, 53), 53, 40);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	n = udp_frame(MAC_AD, PEER_IP, 53, 40);       /* DNS to a peer: its traffic */
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_VIP);
	/* a fragment is never DNS (nor VIP: dst is the adapter) */
	n = udp_frame(MAC_AD, ADAPTER_IP, 53, 40);
	put_be16(fr + 20, 0x2000);
	refix_ipcsum();
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	assert_true(fi.ip_frag);
	/* before the adapter knows its IP: no DNS */
	n = udp_frame(MAC_AD, ADAPTER_IP, 53, 40);
	cfg.ip = 0;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_VIP);
}

static void test_vip(void **state)
{
	struct frame_info fi;
	size_t n;

	n = udp_frame(MAC_AD, PEER_IP, 4000, 10);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_VIP);
	n = udp_frame(MAC_AD, GN2_IP, 4000, 10);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_VIP);
	assert_true(fi.dst_is_gn);
	assert_int_equal(fi.udp_len, 10);
	/* a bad UDP length or checksum is the far end's business */
	put_be16(fr + 38, 3);
	fr[41] ^= 0xff;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_VIP);
	assert_null(fi.udp_payload);
	/* the adapter itself, the prefix's broadcast and network, 255^4 */
	n = udp_frame(MAC_AD, ADAPTER_IP, 4000, 10);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	n = udp_frame(MAC_AD, IP(100, 127, 255, 255), 4000, 10);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	n = udp_frame(MAC_AD, IP(100, 64, 0, 0), 4000, 10);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	n = udp_frame(MAC_BC, 0xffffffffu, 4000, 10);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	/* outside the prefix: Internet traffic, the kernel's */
	n = udp_frame(MAC_AD, IP(100, 128, 0, 1), 4000, 10);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	n = udp_frame(MAC_AD, IP(198, 51, 100, 1), 4000, 10);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	/* L2-addressed to another host */
	n = udp_frame(MAC_GN, PEER_IP, 4000, 10);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	/* no prefix known */
	n = udp_frame(MAC_AD, PEER_IP, 4000, 10);
	cfg.vip_len = 0;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	cfg.vip_len = 33;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	cfg.vip_len = 32;
	cfg.vip_net = PEER_IP;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_VIP);
	/* a VIP fragment is still VIP; a non-UDP protocol too */
	cfg.vip_len = 10;
	cfg.vip_net = IP(100, 64, 0, 0);
	put_be16(fr + 20, 0x0010);
	fr[23] = 50;
	refix_ipcsum();
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_VIP);
}

static void test_build_udp4(void **state)
{
	struct frame_udp u = { .src_mac = MAC_AD, .dst_mac = MAC_BC, .src_ip = ADAPTER_IP,
			       .dst_ip = 0xffffffffu, .sport = 67, .dport = 68 };
	uint8_t out[400], pl[300];
	uint8_t *ip = out + 14, *udp = out + 34;
	ssize_t n;

	memset(pl, 0x5a, sizeof(pl));
	assert_int_equal(frame_build_udp4(out, 14 + 28 + 299, &u, pl, 300), -ENOSPC);
	assert_int_equal(frame_build_udp4(out, sizeof(out), &u, pl, 65535), -EMSGSIZE);
	n = frame_build_udp4(out, sizeof(out), &u, pl, 300);
	assert_int_equal(n, 14 + 28 + 300);
	assert_memory_equal(out, MAC_BC, 6);
	assert_memory_equal(out + 6, MAC_AD, 6);
	assert_int_equal(get_be16(out + 12), 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[8], 64);
	assert_int_equal(get_be16(ip + 2), 328);
	assert_int_equal(inet_csum(ip, 20), 0);
	assert_int_equal(get_be32(ip + 16), 0xffffffffu);
	assert_int_equal(get_be16(udp), 67);
	assert_int_equal(get_be16(udp + 2), 68);
	assert_int_equal(get_be16(udp + 4), 308);
	assert_int_equal(inet_csum_fold(inet_csum_add(inet_pseudo_sum(ip + 12, ip + 16, 4, 17, 308),
						      udp, 308)), 0);
	assert_memory_equal(udp + 8, pl, 300);
	/* empty payload */
	assert_int_equal(frame_build_udp4(out, sizeof(out), &u, NULL, 0), 42);
}

static void test_eth_header(void **state)
{
	uint8_t h[14];

	frame_eth_header(h, MAC_GN, MAC_AD, 0x0800);
	assert_memory_equal(h, MAC_GN, 6);
	assert_memory_equal(h + 6, MAC_AD, 6);
	assert_int_equal(get_be16(h + 12), 0x0800);
}

/* IPv4 TCP SYN with options at p (optlen, multiple of 4) and payload. */
static size_t mk_syn(uint8_t *p, const uint8_t *opts, size_t optlen, uint8_t flags,
		     size_t payload)
{
	size_t thl = 20 + optlen, tot = 20 + thl + payload;
	uint8_t *t = p + 20;

	memset(p, 0, tot);
	p[0] = 0x45;
	put_be16(p + 2, (uint16_t)tot);
	put_be16(p + 6, 0x4000);
	p[8] = 64;
	p[9] = 6;
	put_be32(p + 12, GN_IP);
	put_be32(p + 16, PEER_IP);
	put_be16(p + 10, ip_csum(p, 20));
	put_be16(t, 33333);
	put_be16(t + 2, 80);
	put_be32(t + 4, 12345);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	put_be16(t + 14, 64240);
	memcpy(t + 20, opts, optlen);
	memset(t + thl, 0xab, payload);
	put_be16(t + 16, inet_l4_csum(p + 12, p + 16, 4, 6, t, thl + payload, 16));
	return tot;
}

static bool tcp_ok(const uint8_t *p, size_t tot)
{
	return inet_csum_fold(inet_csum_add(inet_pseudo_sum(p + 12, p + 16, 4, 6,
							    (uint32_t)(tot - 20)),
					    p + 20, tot - 20)) == 0;
}

static void test_mss_clamp(void **state)
{
	static const uint8_t o_even[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0 };
	static const uint8_t o_odd[] = { 1, 2, 4, 0xff, 0xd7, 1, 1, 0 };
	static const uint8_t o_last_odd[] = { 1, 1, 1, 2, 4, 0x23, 0x45, 0 };
	static const uint8_t o_none[] = { 1, 1, 4, 2 };
	static const uint8_t o_zero_len[] = { 3, 0, 2, 4, 0x05, 0xb4, 0, 0 };
	static const uint8_t o_past[] = { 1, 1, 8, 10, 2, 4, 0x05, 0xb4 };
	static const uint8_t o_eol[] = { 0, 0, 0, 0, 2, 4, 0x05, 0xb4 };
	static const uint8_t o_mss3[] = { 2, 3, 0x05, 0xb4, 1, 1, 1, 1 };
	uint8_t p[200];
	size_t n;

	n = mk_syn(p, o_even, sizeof(o_even), 0x02, 0);
	assert_true(frame_tcp_mss_clamp(p, n, 1360));
	assert_int_equal(get_be16(p + 42), 1360);
	assert_true(tcp_ok(p, n));
	assert_false(frame_tcp_mss_clamp(p, n, 1360));     /* already low enough */
	assert_false(frame_tcp_mss_clamp(p, n, 1400));

	n = mk_syn(p, o_even, sizeof(o_even), 0x12, 0);    /* SYN-ACK */
	assert_true(frame_tcp_mss_clamp(p, n, 1000));
	assert_true(tcp_ok(p, n));

	/* MSS value at an odd offset: two checksum words touched */
	n = mk_syn(p, o_odd, sizeof(o_odd), 0x02, 0);
	assert_true(frame_tcp_mss_clamp(p, n, 1360));
	assert_int_equal(get_be16(p + 43), 1360);
	assert_true(tcp_ok(p, n));
	n = mk_syn(p, o_odd, sizeof(o_odd), 0x02, 3);      /* with (odd) payload */
	assert_true(frame_tcp_mss_clamp(p, n, 1360));
	assert_true(tcp_ok(p, n));
	n = mk_syn(p, o_last_odd, sizeof(o_last_odd), 0x02, 0);
	assert_true(frame_tcp_mss_clamp(p, n, 1024));
	assert_true(tcp_ok(p, n));

	/* left alone: not SYN, no MSS, malformed options, EOL before */
	n = mk_syn(p, o_even, sizeof(o_even), 0x10, 0);
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	n = mk_syn(p, o_none, sizeof(o_none), 0x02, 0);
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	n = mk_syn(p, o_zero_len, sizeof(o_zero_len), 0x02, 0);
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	n = mk_syn(p, o_past, sizeof(o_past), 0x02, 0);
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	n = mk_syn(p, o_eol, sizeof(o_eol), 0x02, 0);
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	n = mk_syn(p, o_mss3, sizeof(o_mss3), 0x02, 0);
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	/* truncated packets, data offset past the end, fragments, UDP */
	n = mk_syn(p, o_even, sizeof(o_even), 0x02, 0);
	for (size_t l = 0; l < n; l++)
		assert_false(frame_tcp_mss_clamp(p, l, 536));
	p[32] = 0xf0;
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	p[32] = 0x40;
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	n = mk_syn(p, o_even, sizeof(o_even), 0x02, 0);
	put_be16(p + 6, 0x2000);
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	n = mk_syn(p, o_even, sizeof(o_even), 0x02, 0);
	p[9] = 17;
	assert_false(frame_tcp_mss_clamp(p, n, 536));
}

static void test_icmp_frag_needed(void **state)
{
	uint8_t p[1600], out[700];
	size_t n = mk_syn(p, (const uint8_t[]){ 1, 1, 1, 1 }, 4, 0x10, 1400);
	ssize_t r;

	assert_int_equal(frame_icmp_frag_needed(out, 100, p, n, ADAPTER_IP, 1380), -ENOSPC);
	r = frame_icmp_frag_needed(out, sizeof(out), p, n, ADAPTER_IP, 1380);
	assert_int_equal(r, 576);
	assert_int_equal(inet_csum(out, 20), 0);
	assert_int_equal(out[9], 1);
	assert_int_equal(get_be32(out + 12), ADAPTER_IP);
	assert_int_equal(get_be32(out + 16), GN_IP);
	assert_int_equal(get_be16(out + 2), 576);
	assert_int_equal(out[20], 3);
	assert_int_equal(out[21], 4);
	assert_int_equal(get_be16(out + 26), 1380);
	assert_int_equal(inet_csum(out + 20, 556), 0);
	assert_memory_equal(out + 28, p, 548);

	/* small packet: quoted whole */
	n = mk_syn(p, (const uint8_t[]){ 1, 1, 1, 1 }, 4, 0x10, 10);
	r = frame_icmp_frag_needed(out, sizeof(out), p, n, ADAPTER_IP, 1380);
	assert_int_equal(r, 28 + n);

	/* not DF */
	put_be16(p + 6, 0);
	assert_int_equal(frame_icmp_frag_needed(out, sizeof(out), p, n, ADAPTER_IP, 1380), -EINVAL);
	/* non-first fragment */
	put_be16(p + 6, 0x4001);
	assert_int_equal(frame_icmp_frag_needed(out, sizeof(out), p, n, ADAPTER_IP, 1380), -EINVAL);
	put_be16(p + 6, 0x4000);
	/* source multicast / zero / broadcast */
	put_be32(p + 12, IP(224, 0, 0, 1));
	assert_int_equal(frame_icmp_frag_needed(out, sizeof(out), p, n, ADAPTER_IP, 1380), -EINVAL);
	put_be32(p + 12, 0);
	assert_int_equal(frame_icmp_frag_needed(out, sizeof(out), p, n, ADAPTER_IP, 1380), -EINVAL);
	put_be32(p + 12, GN_IP);
	/* about an ICMP error: never; about an echo request: yes */
	p[9] = 1;
	p[20] = 3;
	assert_int_equal(frame_icmp_frag_needed(out, sizeof(out), p, n, ADAPTER_IP, 1380), -EINVAL);
	p[20] = 8;
	assert_true(frame_icmp_frag_needed(out, sizeof(out), p, n, ADAPTER_IP, 1380) > 0);
	/* truncated */
	for (size_t l = 0; l < n; l++)
		assert_int_equal(frame_icmp_frag_needed(out, sizeof(out), p, l, ADAPTER_IP, 1380),
				 -EINVAL);
}

/* Ethernet + IPv6 (hop limit hlim) + a payload of next header nh; for
 * UDP the checksum is made right.  Padded to 60 bytes. */
static size_t frame6(const uint8_t *dmac, const uint8_t src[16], const uint8_t dst[16],
		     uint8_t nh, uint8_t hlim, const uint8_t *pl, size_t plen)
{
	size_t n = 14 + 40 + plen;

	memset(fr, 0, 128);
	memcpy(fr, dmac, 6);
	memcpy(fr + 6, MAC_GN, 6);
	put_be16(fr + 12, 0x86dd);
	put_be32(fr + 14, 0x60000000);
	put_be16(fr + 18, (uint16_t)plen);
	fr[20] = nh;
	fr[21] = hlim;
	memcpy(fr + 22, src, 16);
	memcpy(fr + 38, dst, 16);
	memcpy(fr + 54, pl, plen);
	if (nh == 17) {
		put_be16(fr + 54 + 6, 0);
		put_be16(fr + 54 + 6, inet_l4_csum(src, dst, 16, 17, fr + 54, plen, 6));
	}
	return n < 60 ? 60 : n;
}

static size_t udp6(const uint8_t *dmac, const uint8_t src[16], const uint8_t dst[16],
		   uint16_t dport, size_t datalen)
{
	uint8_t u[64] = { 0 };

	put_be16(u, 546);
	put_be16(u + 2, dport);
	put_be16(u + 4, (uint16_t)(8 + datalen));
	for (size_t i = 0; i < datalen; i++)
		u[8 + i] = (uint8_t)i;
	return frame6(dmac, src, dst, 17, 1, u, 8 + datalen);
}

static void test_ipv6(void **state)
{
	static const uint8_t MAC_33[6] = { 0x33, 0x33, 0, 1, 0, 2 };
	struct frame_info fi;
	uint8_t icmp[24] = { 135 };
	size_t n;

	/* an NS: NDP, the fields for ndp_parse */
	n = frame6(MAC_33, LL6_GN, ALL_DHCP, 58, 255, icmp, sizeof(icmp));
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_NDP);
	assert_memory_equal(fi.ip6_src, LL6_GN, 16);
	assert_int_equal(fi.ip6_hlim, 255);
	assert_int_equal(fi.l4_len, 24);
	assert_ptr_equal(fi.l4, fr + 54);
	assert_int_equal(fi.eth_len, 14 + 40 + 24);   /* the padding dropped */
	/* other ICMPv6 (an echo request) is not NDP */
	icmp[0] = 128;
	n = frame6(MAC_AD, LL6_GN, LL6_AD, 58, 64, icmp, 8);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);

	/* DHCPv6 to all servers; the payload; a bad or zero checksum */
	n = udp6(MAC_33, LL6_GN, ALL_DHCP, 547, 12);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_DHCP6);
	assert_int_equal(fi.udp_len, 12);
	assert_ptr_equal(fi.udp_payload, fr + 54 + 8);
	fr[54 + 8] ^= 1;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	assert_string_equal(fi.why, "udp6: bad checksum");
	put_be16(fr + 54 + 6, 0);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	/* ...unless the vnet header says the kernel checks it */
	{
		uint8_t v[GSO_HDR_LEN + 128] = { GSO_F_DATA_VALID };

		memcpy(v + GSO_HDR_LEN, fr, n);
		assert_int_equal(frame_classify(&cfg, v, GSO_HDR_LEN + n, true, &fi), LAN_DHCP6);
	}
	/* a UDP length past the payload */
	n = udp6(MAC_33, LL6_GN, ALL_DHCP, 547, 12);
	put_be16(fr + 54 + 4, 40);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);

	/* DNS to the adapter's addresses, from our MAC only */
	n = udp6(MAC_AD, LL6_GN, LL6_AD, 53, 20);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_DNS6);
	n = udp6(MAC_AD, LL6_GN, VIP6_AD, 53, 20);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_DNS6);
	n = udp6(MAC_GN, LL6_GN, LL6_AD, 53, 20);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);

	/* the overlay through us: VIP6; the adapter's own, or the Internet:
	 * OTHER; a hop-by-hop header is not walked */
	n = frame6(MAC_AD, LL6_GN, VIP6_PEER, 6, 64, icmp, 20);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_VIP6);
	n = frame6(MAC_AD, LL6_GN, VIP6_AD, 6, 64, icmp, 20);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	n = frame6(MAC_AD, LL6_GN, OUT6, 6, 64, icmp, 20);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);
	icmp[0] = 135;
	n = frame6(MAC_33, LL6_GN, ALL_DHCP, 0, 1, icmp, 24);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_OTHER);

	/* hostile: truncated, version, payload length past the frame */
	n = frame6(MAC_AD, LL6_GN, VIP6_PEER, 6, 64, icmp, 20);
	assert_int_equal(frame_classify(&cfg, fr, 14 + 30, false, &fi), LAN_MALFORMED);
	assert_string_equal(fi.why, "ipv6: truncated header");
	fr[14] = 0x40;
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	assert_string_equal(fi.why, "ipv6: version");
	fr[14] = 0x60;
	put_be16(fr + 18, 200);
	assert_int_equal(frame_classify(&cfg, fr, n, false, &fi), LAN_MALFORMED);
	assert_string_equal(fi.why, "ipv6: bad payload length");
	assert_string_equal(frame_kind_str(LAN_VIP6), "vip6");
}

/* The builder's frame read back by the classifier (a DNS query from a GN
 * to the adapter's link-local); checksum, lengths, limits. */
static void test_build_udp6(void **state)
{
	struct frame_udp6 u = { .src_mac = MAC_GN, .dst_mac = MAC_AD, .src = LL6_GN,
				.dst = LL6_AD, .sport = 40000, .dport = 53 };
	static uint8_t big[70000];
	uint8_t pl[40];
	struct frame_info fi;
	ssize_t n;

	memset(pl, 0x3c, sizeof(pl));
	assert_int_equal(frame_build_udp6(fr, 14 + 40 + 8 + 39, &u, pl, 40), -ENOSPC);
	assert_int_equal(frame_build_udp6(big, sizeof(big), &u, big, 65535 - 7), -EMSGSIZE);
	n = frame_build_udp6(fr, sizeof(fr), &u, pl, 40);
	assert_int_equal(n, 14 + 40 + 48);
	assert_int_equal(get_be16(fr + 12), 0x86dd);
	assert_int_equal(fr[14] >> 4, 6);
	assert_int_equal(get_be16(fr + 18), 48);
	assert_int_equal(fr[20], 17);
	assert_int_equal(fr[21], 64);
	assert_int_equal(frame_classify(&cfg, fr, (size_t)n, false, &fi), LAN_DNS6);
	assert_int_equal(fi.sport, 40000);
	assert_int_equal(fi.udp_len, 40);
	assert_memory_equal(fi.udp_payload, pl, 40);
	/* the checksum covers the payload: one bit off is caught */
	fr[14 + 40 + 8 + 5] ^= 0x10;
	assert_int_equal(frame_classify(&cfg, fr, (size_t)n, false, &fi), LAN_MALFORMED);
	/* an empty payload */
	assert_int_equal(frame_build_udp6(fr, sizeof(fr), &u, NULL, 0), 14 + 40 + 8);
}

/* An IPv6 TCP segment (no extension headers) with options. */
static size_t mk_syn6(uint8_t *p, const uint8_t *opts, size_t optlen, uint8_t flags,
		      size_t payload)
{
	size_t thl = 20 + optlen, tot = 40 + thl + payload;
	uint8_t *t = p + 40;

	memset(p, 0, tot);
	put_be32(p, 0x60000000);
	put_be16(p + 4, (uint16_t)(thl + payload));
	p[6] = 6;
	p[7] = 64;
	memcpy(p + 8, VIP6_AD, 16);
	memcpy(p + 24, VIP6_PEER, 16);
	put_be16(t, 33333);
	put_be16(t + 2, 80);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	memcpy(t + 20, opts, optlen);
	memset(t + thl, 0xcd, payload);
	put_be16(t + 16, inet_l4_csum(p + 8, p + 24, 16, 6, t, thl + payload, 16));
	return tot;
}

static bool tcp6_ok(const uint8_t *p, size_t tot)
{
	return inet_csum_fold(inet_csum_add(inet_pseudo_sum(p + 8, p + 24, 16, 6,
							    (uint32_t)(tot - 40)),
					    p + 40, tot - 40)) == 0;
}

static void test_mss_clamp6(void **state)
{
	static const uint8_t o_even[] = { 2, 4, 0x05, 0xa0, 1, 3, 3, 7, 4, 2, 0, 0 };
	static const uint8_t o_odd[] = { 1, 2, 4, 0xff, 0xc3, 1, 1, 0 };
	uint8_t p[200];
	size_t n;

	n = mk_syn6(p, o_even, sizeof(o_even), 0x02, 0);
	assert_true(frame_tcp_mss_clamp(p, n, 1340));
	assert_int_equal(get_be16(p + 62), 1340);
	assert_true(tcp6_ok(p, n));
	assert_false(frame_tcp_mss_clamp(p, n, 1340));
	n = mk_syn6(p, o_odd, sizeof(o_odd), 0x12, 5);
	assert_true(frame_tcp_mss_clamp(p, n, 1340));
	assert_int_equal(get_be16(p + 63), 1340);
	assert_true(tcp6_ok(p, n));
	/* left alone: not a SYN, an extension header first, UDP, truncated,
	 * a payload length past the buffer */
	n = mk_syn6(p, o_even, sizeof(o_even), 0x10, 0);
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	n = mk_syn6(p, o_even, sizeof(o_even), 0x02, 0);
	p[6] = 0;
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	p[6] = 17;
	assert_false(frame_tcp_mss_clamp(p, n, 536));
	p[6] = 6;
	for (size_t l = 0; l < n; l++)
		assert_false(frame_tcp_mss_clamp(p, l, 536));
	put_be16(p + 4, 200);
	assert_false(frame_tcp_mss_clamp(p, n, 536));
}

static void test_icmp6_too_big(void **state)
{
	static uint8_t p[1500], out[1400];
	static const uint8_t MCAST[16] = { 0xff, 0x02, [15] = 1 };
	static const uint8_t LOOP[16] = { [15] = 1 };
	size_t n = mk_syn6(p, (const uint8_t[1]){ 0 }, 0, 0x10, 1500 - 60);
	ssize_t m;

	m = frame_icmp6_too_big(out, sizeof(out), p, n, VIP6_PEER, 1400);
	assert_int_equal(m, 1280);                     /* within the minimum MTU */
	assert_int_equal(out[0] >> 4, 6);
	assert_int_equal(get_be16(out + 4), 1280 - 40);
	assert_int_equal(out[6], 58);
	assert_memory_equal(out + 8, VIP6_PEER, 16);
	assert_memory_equal(out + 24, VIP6_AD, 16);     /* back to the sender */
	assert_int_equal(out[40], 2);
	assert_int_equal(out[41], 0);
	assert_int_equal(get_be32(out + 44), 1400);
	assert_memory_equal(out + 48, p, 1280 - 48);
	assert_int_equal(inet_csum_fold(inet_csum_add(inet_pseudo_sum(out + 8, out + 24, 16, 58,
									1240),
						      out + 40, 1240)), 0);
	assert_int_equal(frame_icmp6_too_big(out, 1279, p, n, VIP6_PEER, 1400), -ENOSPC);
	/* never about an ICMPv6 error, to a multicast, loopback or unspecified
	 * source, or a malformed packet; an echo request is fine */
	p[6] = 58;
	p[40] = 1;
	assert_int_equal(frame_icmp6_too_big(out, sizeof(out), p, n, VIP6_PEER, 1400), -EINVAL);
	p[40] = 128;
	assert_true(frame_icmp6_too_big(out, sizeof(out), p, n, VIP6_PEER, 1400) > 0);
	p[6] = 6;
	memcpy(p + 8, MCAST, 16);
	assert_int_equal(frame_icmp6_too_big(out, sizeof(out), p, n, VIP6_PEER, 1400), -EINVAL);
	memcpy(p + 8, LOOP, 16);
	assert_int_equal(frame_icmp6_too_big(out, sizeof(out), p, n, VIP6_PEER, 1400), -EINVAL);
	memset(p + 8, 0, 16);
	assert_int_equal(frame_icmp6_too_big(out, sizeof(out), p, n, VIP6_PEER, 1400), -EINVAL);
	memcpy(p + 8, VIP6_AD, 16);
	for (size_t l = 0; l < 40; l++)
		assert_int_equal(frame_icmp6_too_big(out, sizeof(out), p, l, VIP6_PEER, 1400),
				 -EINVAL);
	assert_int_equal(frame_icmp6_too_big(out, sizeof(out), p, n - 1, VIP6_PEER, 1400),
			 -EINVAL);
	p[0] = 0x45;
	assert_int_equal(frame_icmp6_too_big(out, sizeof(out), p, n, VIP6_PEER, 1400), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_short_and_other, setup),
		cmocka_unit_test_setup(test_arp, setup),
		cmocka_unit_test_setup(test_arp_policy, setup),
		cmocka_unit_test_setup(test_arp_reply, setup),
		cmocka_unit_test_setup(test_ipv4_hostile, setup),
		cmocka_unit_test_setup(test_padding_removed, setup),
		cmocka_unit_test_setup(test_dhcp_dns, setup),
		cmocka_unit_test_setup(test_vip, setup),
		cmocka_unit_test_setup(test_build_udp4, setup),
		cmocka_unit_test_setup(test_eth_header, setup),
		cmocka_unit_test_setup(test_mss_clamp, setup),
		cmocka_unit_test_setup(test_icmp_frag_needed, setup),
		cmocka_unit_test_setup(test_ipv6, setup),
		cmocka_unit_test_setup(test_build_udp6, setup),
		cmocka_unit_test_setup(test_mss_clamp6, setup),
		cmocka_unit_test_setup(test_icmp6_too_big, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
