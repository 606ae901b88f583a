#include "lansock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "json.h"
#include "gso.h"
#include "log.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/*
 * NOTE: the frame codecs below (classification, ARP reply, checksums,
 * GSO segmentation, MSS clamp, ICMP frag needed, DHCP server, leases) are
 * this file's private minimal versions, written while the shared LAN
 * codecs (src/adapter/frame.h, dhcp.h, lease.h, src/common/gso.h) did not
 * exist yet; they are to be replaced by those.
 */

#define SOCK_BUF (8 << 20)
#define FRAME_MAX (LANSOCK_VNET_LEN + 65536)
#define BATCH 256
#define ETH_HDR 14
#define LEASE_MAX 1024

/* virtio_net_hdr */
#define VNET_F_NEEDS_CSUM 1
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_ECN 0x80

struct vnet {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;   /* little endian on the wire */
};

struct lease {
	uint8_t mac[6];
	int64_t expires;           /* unix seconds */
};

struct lan_stats {
	uint64_t frames, malformed, oversize, unknown_mac, other;
	uint64_t arp_requests, arp_answered, arp_ignored, arp_malformed;
	uint64_t dhcp_in, dhcp_malformed, dhcp_unknown_mac, dhcp_offer, dhcp_ack, dhcp_nak;
	uint64_t dhcp_release, dhcp_decline, dhcp_inform, dhcp_ignored;
	uint64_t dns_queries, dns_malformed, dns_replies, dns_no_gn;
	uint64_t vip_packets, vip_bad_src, vip_malformed, gso_segments, gso_dropped;
	uint64_t frag_needed, mss_clamped, delivered, deliver_err, tx_err;
};

struct lansock {
	int fd;
	int ifindex;
	int mtu;                  /* the LAN's, read at start */
	uint8_t mac[6];
	char ifname[IF_NAMESIZE];
	struct lansock_cfg cfg;
	char leases_path[256];
	char domain[256];
	bool have_addr;
	struct in_addr ip, vip_net;
	uint32_t vip_mask;             /* host order */
	struct lease leases[LEASE_MAX];
	size_t nleases;
	struct lan_stats st;
	struct ratelimit rl;
	uint8_t *rx;
	uint8_t out[FRAME_MAX];
	uint8_t seg[FRAME_MAX];
};

/* ---- checksums ---- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)get_be16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* TCP/UDP checksum over the IPv4 pseudo header and seg (whose checksum
 * field must be zero). */
static uint16_t l4_csum4(const uint8_t *ip, uint8_t proto, const uint8_t *seg, size_t len)
{
	uint32_t sum = 0;

	sum = csum_add(sum, ip + 12, 8);
	sum += proto;
	sum += (uint32_t)len;
	sum = csum_add(sum, seg, len);
	return csum_fold(sum);
}

static void ip4_fix_csum(uint8_t *ip, size_t ihl)
{
	ip[10] = ip[11] = 0;
	put_be16(ip + 10, csum_fold(csum_add(0, ip, ihl)));
}

/* ---- sending ---- */

static int send_frame(struct lansock *ls, const uint8_t dst[6], uint16_t type, const uint8_t *p,
		      size_t len)
{
	static const uint8_t vnet[LANSOCK_VNET_LEN];
	uint8_t eth[ETH_HDR];
	struct iovec iov[3] = {
		{ .iov_base = (void *)vnet, .iov_len = sizeof(vnet) },
		{ .iov_base = eth, .iov_len = sizeof(eth) },
		{ .iov_base = (void *)p, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };

	memcpy(eth, dst, 6);
	memcpy(eth + 6, ls->mac, 6);
	put_be16(eth + 12, type);
	if (sendmsg(ls->fd, &mh, MSG_DONTWAIT) < 0) {
		ls->st.tx_err++;
		LOG_RATELIMITED(&ls->rl, "%s: send: %s", ls->ifname, strerror(errno));
		return -errno;
	}
	return 0;
}

/* An IPv4/UDP packet from src:sport to dst:dport into out; its length. */
static size_t build_udp4(uint8_t *out, struct in_addr src, struct in_addr dst, uint16_t sport,
			 uint16_t dport, const uint8_t *payload, size_t len)
{
	uint8_t *ip = out, *udp = out + 20;

	memset(ip, 0, 28);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(28 + len));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	ip4_fix_csum(ip, 20);
	put_be16(udp, sport);
	put_be16(udp + 2, dport);
	put_be16(udp + 4, (uint16_t)(8 + len));
	memmove(udp + 8, payload, len);
	put_be16(udp + 6, l4_csum4(ip, IPPROTO_UDP, udp, 8 + len) ?: 0xffff);
	return 28 + len;
}

/* ---- leases ---- */

static struct lease *lease_find(struct lansock *ls, const uint8_t mac[6])
{
	for (size_t i = 0; i < ls->nleases; i++)
		if (!memcmp(ls->leases[i].mac, mac, 6))
			return &ls->leases[i];
	return NULL;
}

static void leases_save(struct lansock *ls)
{
	char tmp[300];
	FILE *f;

	if (!ls->leases_path[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", ls->leases_path);
	f = fopen(tmp, "w");
	if (!f) {
		LOG_RATELIMITED(&ls->rl, "lease file %s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f, "# cyphonicd leases: MAC expiry (unix seconds)\n");
	for (size_t i = 0; i < ls->nleases; i++) {
		char m[18];

		fprintf(f, "%s %lld\n", gn_mac_str(ls->leases[i].mac, m),
			(long long)ls->leases[i].expires);
	}
	if (fclose(f) != 0 || rename(tmp, ls->leases_path) < 0)
		LOG_RATELIMITED(&ls->rl, "lease file %s: %s", ls->leases_path, strerror(errno));
}

static void leases_load(struct lansock *ls)
{
	char line[128];
	FILE *f = fopen(ls->leases_path, "r");
	unsigned m[6];
	long long exp;
	int64_t now = clock_now();

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && ls->nleases < LEASE_MAX) {
		struct lease *l = &ls->leases[ls->nleases];

		if (sscanf(line, "%2x:%2x:%2x:%2x:%2x:%2x %lld", &m[0], &m[1], &m[2], &m[3], &m[4],
			   &m[5], &exp) != 7 || exp <= now)
			continue;
		for (int i = 0; i < 6; i++)
			l->mac[i] = (uint8_t)m[i];
		if (lease_find(ls, l->mac))
			continue;
		l->expires = exp;
		ls->nleases++;
	}
	fclose(f);
	if (ls->nleases)
		log_info("%s: %zu lease(s) from %s", ls->ifname, ls->nleases, ls->leases_path);
}

static void lease_set(struct lansock *ls, const uint8_t mac[6], int64_t expires)
{
	struct lease *l = lease_find(ls, mac);

	if (!l) {
		if (expires <= 0)
			return;
		if (ls->nleases == LEASE_MAX) {
			/* Drop the one that expires first. */
			size_t j = 0;

			for (size_t i = 1; i < ls->nleases; i++)
				if (ls->leases[i].expires < ls->leases[j].expires)
					j = i;
			l = &ls->leases[j];
		} else {
			l = &ls->leases[ls->nleases++];
		}
		memcpy(l->mac, mac, 6);
	}
	if (expires <= 0) {
		*l = ls->leases[--ls->nleases];
	} else {
		l->expires = expires;
	}
	leases_save(ls);
}

int64_t lansock_lease_left(const struct lansock *ls, const uint8_t mac[6])
{
	int64_t now = clock_now();

	for (size_t i = 0; i < ls->nleases; i++)
		if (!memcmp(ls->leases[i].mac, mac, 6))
			return ls->leases[i].expires > now ? ls->leases[i].expires - now : -1;
	return -1;
}

/* ---- DHCP (RFC 2131, 2132) ---- */

enum {
	DHCPDISCOVER = 1, DHCPOFFER, DHCPREQUEST, DHCPDECLINE, DHCPACK, DHCPNAK, DHCPRELEASE,
	DHCPINFORM,
};

#define BOOTP_FIXED 236
#define DHCP_MAGIC 0x63825363
#define DHCP_MAX_OPTS 128

struct dhcp_msg {
	uint8_t xid[4], flags[2], ciaddr[4], giaddr[4], chaddr[16];
	uint8_t type;
	bool have_req, have_sid;
	struct in_addr req, sid;
};

/* Parse a BOOTREQUEST; false when malformed.  Options through a cursor,
 * at most DHCP_MAX_OPTS of them; option overload is not supported (the
 * ones we need are never that large). */
static bool dhcp_parse(const uint8_t *p, size_t len, struct dhcp_msg *m)
{
	struct cur c = cur_make(p, len), o;
	uint8_t op, htype, hlen, code, olen;
	uint32_t magic;
	int n = 0;

	memset(m, 0, sizeof(*m));
	if (!cur_get_u8(&c, &op) || !cur_get_u8(&c, &htype) || !cur_get_u8(&c, &hlen) ||
	    !cur_skip(&c, 1) || !cur_get_bytes(&c, m->xid, 4) || !cur_skip(&c, 2) ||
	    !cur_get_bytes(&c, m->flags, 2) || !cur_get_bytes(&c, m->ciaddr, 4) ||
	    !cur_skip(&c, 8) || !cur_get_bytes(&c, m->giaddr, 4) ||
	    !cur_get_bytes(&c, m->chaddr, 16) || !cur_skip(&c, 192) || !cur_get_u32(&c, &magic))
		return false;
	if (op != 1 || htype != 1 || hlen != 6 || magic != DHCP_MAGIC)
		return false;
	while (cur_get_u8(&c, &code)) {
		if (code == 255)
			break;
		if (code == 0)
			continue;
		if (++n > DHCP_MAX_OPTS || !cur_get_u8(&c, &olen) || !cur_get_sub(&c, &o, olen))
			return false;
		switch (code) {
		case 53:
			if (olen != 1 || !cur_get_u8(&o, &m->type))
				return false;
			break;
		case 50:
			if (olen != 4 || !cur_get_bytes(&o, &m->req, 4))
				return false;
			m->have_req = true;
			break;
		case 54:
			if (olen != 4 || !cur_get_bytes(&o, &m->sid, 4))
				return false;
			m->have_sid = true;
			break;
		}
	}
	return m->type >= DHCPDISCOVER && m->type <= DHCPINFORM;
}

static void opt(struct wbuf *w, uint8_t code, const void *v, size_t len)
{
	wbuf_put_u8(w, code);
	wbuf_put_u8(w, (uint8_t)len);
	wbuf_put_bytes(w, v, len);
}

static void opt32(struct wbuf *w, uint8_t code, uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	opt(w, code, b, 4);
}

/* Send a reply of type to the client (RFC 2131 4.1: to ciaddr when set,
 * else broadcast when asked or for a NAK, else to yiaddr at chaddr). */
static void dhcp_reply(struct lansock *ls, const struct dhcp_msg *m, uint8_t type,
		       const struct in_addr *yi)
{
	static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t b[600], mask[4], mtu[2];
	struct wbuf w;
	struct in_addr dst;
	const uint8_t *dmac = m->chaddr;
	size_t n, dl;
	uint32_t lt = ls->cfg.lease_time;

	wbuf_init(&w, b, sizeof(b));
	wbuf_put_u8(&w, 2);
	wbuf_put_u8(&w, 1);
	wbuf_put_u8(&w, 6);
	wbuf_put_u8(&w, 0);
	wbuf_put_bytes(&w, m->xid, 4);
	wbuf_put_u16(&w, 0);
	wbuf_put_bytes(&w, m->flags, 2);
	wbuf_put_bytes(&w, type == DHCPACK && !yi ? m->ciaddr : (const uint8_t *)"\0\0\0\0", 4);
	wbuf_put_bytes(&w, yi ? (const void *)yi : "\0\0\0\0", 4);
	wbuf_put_bytes(&w, &ls->ip, 4);              /* siaddr */
	wbuf_put_bytes(&w, m->giaddr, 4);
	wbuf_put_bytes(&w, m->chaddr, 16);
	memset(wbuf_reserve(&w, 192), 0, 192);
	wbuf_put_u32(&w, DHCP_MAGIC);
	opt(&w, 53, &type, 1);
	opt(&w, 54, &ls->ip, 4);
	if (type != DHCPNAK) {
		if (yi) {
			opt32(&w, 51, lt);
			opt32(&w, 58, lt / 2);
			opt32(&w, 59, lt / 8 * 7);
		}
		put_be32(mask, ls->vip_mask);
		opt(&w, 1, mask, 4);
		opt(&w, 3, &ls->ip, 4);
		opt(&w, 6, &ls->ip, 4);
		dl = strlen(ls->domain);
		if (dl && dl < 256)
			opt(&w, 15, ls->domain, dl);
		put_be16(mtu, (uint16_t)ls->cfg.mtu);
		opt(&w, 26, mtu, 2);
	}
	wbuf_put_u8(&w, 255);
	while (w.len < 300)                          /* BOOTP minimum, old clients */
		wbuf_put_u8(&w, 0);
	if (!wbuf_ok(&w))
		return;
	if (m->ciaddr[0] | m->ciaddr[1] | m->ciaddr[2] | m->ciaddr[3] && type != DHCPNAK) {
		memcpy(&dst, m->ciaddr, 4);
	} else if ((m->flags[0] & 0x80) || type == DHCPNAK || !yi) {
		dst.s_addr = INADDR_BROADCAST;
		dmac = bcast_mac;
	} else {
		dst = *yi;
	}
	n = build_udp4(ls->out, ls->ip, dst, 67, 68, b, w.len);
	send_frame(ls, dmac, ETH_P_IP, ls->out, n);
}

static void dhcp_input(struct lansock *ls, const uint8_t src[6], const uint8_t *p, size_t len)
{
	struct dhcp_msg m;
	struct gn *g;
	struct in_addr want;
	char ms[18];

	ls->st.dhcp_in++;
	if (!dhcp_parse(p, len, &m)) {
		ls->st.dhcp_malformed++;
		LOG_RATELIMITED(&ls->rl, "%s: malformed DHCP message from %s", ls->ifname,
				gn_mac_str(src, ms));
		return;
	}
	/* The client is chaddr; a relay (giaddr) is not served. */
	g = gn_by_mac(ls->cfg.gns, m.chaddr);
	if (!g || memcmp(m.chaddr, src, 6) || (m.giaddr[0] | m.giaddr[1] | m.giaddr[2] |
					       m.giaddr[3])) {
		ls->st.dhcp_unknown_mac++;
		if (!g)
			ls->cfg.ops->unknown_mac(ls->cfg.arg, m.chaddr);
		return;
	}
	ls->cfg.ops->gn_seen(ls->cfg.arg, g);
	if (!ls->have_addr) {
		ls->st.dhcp_ignored++;
		return;
	}
	/* A message for another server (RFC 2131 4.3.2: the client chose it). */
	if (m.have_sid && m.sid.s_addr != ls->ip.s_addr && m.type != DHCPINFORM) {
		ls->st.dhcp_ignored++;
		return;
	}
	want = g->info.vip4;
	switch (m.type) {
	case DHCPDISCOVER:
		ls->st.dhcp_offer++;
		dhcp_reply(ls, &m, DHCPOFFER, &want);
		break;
	case DHCPREQUEST: {
		struct in_addr asked = m.req;

		/* SELECTING / INIT-REBOOT: option 50; RENEWING / REBINDING: ciaddr. */
		if (!m.have_req)
			memcpy(&asked, m.ciaddr, 4);
		if (asked.s_addr != want.s_addr) {
			ls->st.dhcp_nak++;
			dhcp_reply(ls, &m, DHCPNAK, NULL);
			break;
		}
		lease_set(ls, g->info.mac, clock_now() + ls->cfg.lease_time);
		ls->st.dhcp_ack++;
		dhcp_reply(ls, &m, DHCPACK, &want);
		break;
	}
	case DHCPRELEASE:
		ls->st.dhcp_release++;
		lease_set(ls, g->info.mac, 0);
		break;
	case DHCPDECLINE:
		/* The address is in use on the LAN: nothing else to offer. */
		ls->st.dhcp_decline++;
		lease_set(ls, g->info.mac, 0);
		LOG_RATELIMITED(&ls->rl, "%s: %s declined %s", ls->ifname, g->info.fqdn,
				inet_ntoa(want));
		break;
	case DHCPINFORM:
		ls->st.dhcp_inform++;
		dhcp_reply(ls, &m, DHCPACK, NULL);
		break;
	default:
		ls->st.dhcp_ignored++;
		break;
	}
}

/* ---- ARP ---- */

static void arp_input(struct lansock *ls, const uint8_t src[6], const uint8_t *p, size_t len)
{
	struct cur c = cur_make(p, len);
	uint16_t htype, ptype, op;
	uint8_t hlen, plen, sha[6], spa[4], tha[6], tpa[4], r[28];
	struct in_addr t, s;
	struct gn *g;

	if (!cur_get_u16(&c, &htype) || !cur_get_u16(&c, &ptype) || !cur_get_u8(&c, &hlen) ||
	    !cur_get_u8(&c, &plen) || !cur_get_u16(&c, &op) || htype != 1 || ptype != ETH_P_IP ||
	    hlen != 6 || plen != 4 || !cur_get_bytes(&c, sha, 6) || !cur_get_bytes(&c, spa, 4) ||
	    !cur_get_bytes(&c, tha, 6) || !cur_get_bytes(&c, tpa, 4)) {
		ls->st.arp_malformed++;
		return;
	}
	if (op != 1)
		return;
	ls->st.arp_requests++;
	memcpy(&t, tpa, 4);
	memcpy(&s, spa, 4);
	g = gn_by_mac(ls->cfg.gns, src);
	if (!g) {
		ls->st.unknown_mac++;
		ls->cfg.ops->unknown_mac(ls->cfg.arg, src);
		return;
	}
	ls->cfg.ops->gn_seen(ls->cfg.arg, g);
	/* Only for a peer VIP: in the range, not ours (the kernel answers for
	 * it), not a GN on this LAN (it answers itself); only to the GN
	 * asking from its own VIP (no probes, no spoofed senders). */
	if (!ls->have_addr || memcmp(sha, src, 6) || s.s_addr != g->info.vip4.s_addr ||
	    (ntohl(t.s_addr) & ls->vip_mask) != ntohl(ls->vip_net.s_addr) ||
	    t.s_addr == ls->ip.s_addr || gn_by_vip4(ls->cfg.gns, &t)) {
		ls->st.arp_ignored++;
		return;
	}
	put_be16(r, 1);
	put_be16(r + 2, ETH_P_IP);
	r[4] = 6;
	r[5] = 4;
	put_be16(r + 6, 2);
	memcpy(r + 8, ls->mac, 6);
	memcpy(r + 14, tpa, 4);
	memcpy(r + 18, sha, 6);
	memcpy(r + 24, spa, 4);
	if (send_frame(ls, sha, ETH_P_ARP, r, sizeof(r)) == 0)
		ls->st.arp_answered++;
}

/* ---- IPv4 from a GN ---- */

/* Clamp a TCP SYN's MSS option to mss (checksum recomputed); ip is a
 * complete IPv4 packet of len bytes. */
static void mss_clamp(struct lansock *ls, uint8_t *ip, size_t len, uint16_t mss)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, doff, i;
	uint8_t *tcp;

	if (ip[9] != IPPROTO_TCP || len < ihl + 20 || (get_be16(ip + 6) & 0x1fff))
		return;
	tcp = ip + ihl;
	if (!(tcp[13] & 0x02))                      /* SYN */
		return;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || ihl + doff > len)
		return;
	for (i = 20; i + 1 < doff;) {
		uint8_t kind = tcp[i], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		olen = tcp[i + 1];
		if (olen < 2 || i + olen > doff)
			break;
		if (kind == 2 && olen == 4 && get_be16(tcp + i + 2) > mss) {
			put_be16(tcp + i + 2, mss);
			tcp[16] = tcp[17] = 0;
			put_be16(tcp + 16, l4_csum4(ip, IPPROTO_TCP, tcp, len - ihl));
			ls->st.mss_clamped++;
			return;
		}
		i += olen;
	}
}

/* RFC 1191: ICMP "fragmentation needed" from the LAN address back to the
 * GN, with the tunnel MTU as the next-hop MTU. */
static void frag_needed(struct lansock *ls, const uint8_t mac[6], const uint8_t *ip, size_t len)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, q = ihl + 8 < len ? ihl + 8 : len;
	uint8_t b[20 + 8 + 60 + 8], *ic = b + 20;
	struct in_addr dst;

	memcpy(&dst, ip + 12, 4);
	memset(b, 0, 28);
	b[0] = 0x45;
	put_be16(b + 2, (uint16_t)(28 + q));
	b[8] = 64;
	b[9] = IPPROTO_ICMP;
	memcpy(b + 12, &ls->ip, 4);
	memcpy(b + 16, &dst, 4);
	ip4_fix_csum(b, 20);
	ic[0] = 3;
	ic[1] = 4;
	put_be16(ic + 6, (uint16_t)ls->cfg.mtu);
	memcpy(ic + 8, ip, q);
	put_be16(ic + 2, csum_fold(csum_add(0, ic, 8 + q)));
	ls->st.frag_needed++;
	send_frame(ls, mac, ETH_P_IP, b, 28 + q);
}

/* One complete IPv4 packet from GN g to a peer VIP. */
static void vip_packet(struct lansock *ls, struct gn *g, uint8_t *ip, size_t len)
{
	if (len > (size_t)ls->cfg.mtu) {
		if (get_be16(ip + 6) & 0x4000) {
			frag_needed(ls, g->info.mac, ip, len);
			return;
		}
		/* No DF: the overlay carries it whole (the tunnel's UDP is
		 * fragmented on the way). */
	}
	mss_clamp(ls, ip, len, (uint16_t)(ls->cfg.mtu - 40));
	ls->st.vip_packets++;
	ls->cfg.ops->input(ls->cfg.arg, g, ip, len);
}

/* Split a TCPv4 GSO super-packet (ip, len: IP header onwards) into
 * segments of gso_size payload bytes each. */
static void gso_tcp4(struct lansock *ls, struct gn *g, const uint8_t *ip, size_t len,
		     uint16_t gso_size)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, doff, hl, pay, off;
	uint32_t seq;
	uint16_t id;
	uint8_t flags;
	unsigned i = 0;

	if (ip[9] != IPPROTO_TCP || len < ihl + 20 || !gso_size) {
		ls->st.gso_dropped++;
		return;
	}
	doff = (size_t)(ip[ihl + 12] >> 4) * 4;
	hl = ihl + doff;
	if (doff < 20 || hl > len) {
		ls->st.gso_dropped++;
		return;
	}
	pay = len - hl;
	seq = get_be32(ip + ihl + 4);
	id = get_be16(ip + 4);
	flags = ip[ihl + 13];
	for (off = 0; off < pay || (pay == 0 && off == 0); off += gso_size, i++) {
		size_t n = pay - off < gso_size ? pay - off : gso_size;
		uint8_t *s = ls->seg, *t;
		bool last = off + n >= pay;

		memcpy(s, ip, hl);
		memcpy(s + hl, ip + hl + off, n);
		put_be16(s + 2, (uint16_t)(hl + n));
		put_be16(s + 4, (uint16_t)(id + i));
		ip4_fix_csum(s, ihl);
		t = s + ihl;
		put_be32(t + 4, seq + (uint32_t)off);
		/* CWR on the first segment only; FIN and PSH on the last only. */
		t[13] = (uint8_t)(flags & ~(off ? 0x80 : 0) & ~(last ? 0 : 0x09));
		t[16] = t[17] = 0;
		put_be16(t + 16, l4_csum4(s, IPPROTO_TCP, t, doff + n));
		ls->st.gso_segments++;
		vip_packet(ls, g, s, hl + n);
		if (pay == 0)
			break;
	}
}

static void ipv4_input(struct lansock *ls, const uint8_t src[6], uint8_t *p, size_t len,
		       const struct vnet *vh, size_t eth_len)
{
	struct cur c = cur_make(p, len);
	uint8_t vihl, proto, b[20];
	uint16_t tot, frag, sport, dport;
	struct in_addr s, d;
	size_t ihl;
	struct gn *g;

	if (!cur_get_bytes(&c, b, 20)) {
		ls->st.malformed++;
		return;
	}
	vihl = b[0];
	ihl = (size_t)(vihl & 0x0f) * 4;
	tot = get_be16(b + 2);
	frag = get_be16(b + 6);
	proto = b[9];
	memcpy(&s, b + 12, 4);
	memcpy(&d, b + 16, 4);
	/* A GSO super-packet's total length may be 0 (BIG TCP) or the whole. */
	/* The header checksum is always complete (offloads cover L4 only). */
	if ((vihl >> 4) != 4 || ihl < 20 || ihl > len || inet_csum(p, ihl) != 0 ||
	    (vh->gso_type == VNET_GSO_NONE && (tot < ihl || tot > len))) {
		ls->st.malformed++;
		return;
	}
	if (vh->gso_type == VNET_GSO_NONE)
		len = tot;                               /* Ethernet padding off */
	if (!ls->have_addr) {
		ls->st.other++;
		return;
	}
	/* DHCP: to port 67, any destination (broadcast before a lease). */
	if (proto == IPPROTO_UDP && !(frag & 0x3fff) && len >= ihl + 8) {
		sport = get_be16(p + ihl);
		dport = get_be16(p + ihl + 2);
		if (dport == 67) {
			uint16_t ul = get_be16(p + ihl + 4);

			if (ul < 8 || ihl + ul > len) {
				ls->st.dhcp_malformed++;
				return;
			}
			dhcp_input(ls, src, p + ihl + 8, ul - 8u);
			return;
		}
		if (dport == 53 && d.s_addr == ls->ip.s_addr) {
			struct resolver_client cl = { .addrlen = sizeof(struct sockaddr_in) };
			struct sockaddr_in *sin = (struct sockaddr_in *)&cl.addr;
			uint16_t ul = get_be16(p + ihl + 4);

			ls->st.dns_queries++;
			g = gn_by_mac(ls->cfg.gns, src);
			if (!g) {
				ls->st.dns_no_gn++;
				ls->cfg.ops->unknown_mac(ls->cfg.arg, src);
				return;
			}
			if (ul < 8 + 12 || ihl + ul > len) {
				ls->st.dns_malformed++;
				return;
			}
			ls->cfg.ops->gn_seen(ls->cfg.arg, g);
			sin->sin_family = AF_INET;
			sin->sin_addr = s;
			sin->sin_port = htons(sport);
			if (ls->cfg.ops->dns_query(ls->cfg.arg, g, &cl, p + ihl + 8, ul - 8u) ==
			    -EBADMSG)
				ls->st.dns_malformed++;
			return;
		}
	}
	/* A packet to a peer VIP. */
	if ((ntohl(d.s_addr) & ls->vip_mask) != ntohl(ls->vip_net.s_addr) ||
	    d.s_addr == ls->ip.s_addr || d.s_addr == htonl(ntohl(ls->vip_net.s_addr) |
							    ~ls->vip_mask)) {
		ls->st.other++;
		return;
	}
	g = gn_by_mac(ls->cfg.gns, src);
	if (!g) {
		ls->st.unknown_mac++;
		ls->cfg.ops->unknown_mac(ls->cfg.arg, src);
		return;
	}
	ls->cfg.ops->gn_seen(ls->cfg.arg, g);
	if (s.s_addr != g->info.vip4.s_addr) {
		ls->st.vip_bad_src++;
		return;
	}
	if (gn_by_vip4(ls->cfg.gns, &d)) {
		/* Another GN on this LAN: they talk directly. */
		ls->st.other++;
		return;
	}
	/* Partial checksum (the vnet header's csum_start is from the frame's
	 * start): complete it now, the tunnel carries complete packets. */
	if ((vh->flags & VNET_F_NEEDS_CSUM) && vh->gso_type == VNET_GSO_NONE) {
		size_t cs = vh->csum_start, co = vh->csum_offset;

		if (cs < eth_len || cs - eth_len + co + 2 > len) {
			ls->st.vip_malformed++;
			return;
		}
		cs -= eth_len;
		/* The field holds the pseudo-header sum: summed along. */
		put_be16(p + cs + co, csum_fold(csum_add(0, p + cs, len - cs)));
	}
	if ((vh->gso_type & ~VNET_GSO_ECN) == VNET_GSO_TCPV4) {
		gso_tcp4(ls, g, p, len, vh->gso_size);
		return;
	}
	if (vh->gso_type != VNET_GSO_NONE) {
		ls->st.gso_dropped++;
		return;
	}
	vip_packet(ls, g, p, len);
}

/* ---- frames ---- */

static void frame_input(struct lansock *ls, uint8_t *f, size_t n)
{
	struct cur c = cur_make(f, n);
	struct vnet vh;
	uint8_t v[LANSOCK_VNET_LEN], dst[6], src[6];
	uint16_t type;

	ls->st.frames++;
	if (!cur_get_bytes(&c, v, sizeof(v)) || !cur_get_bytes(&c, dst, 6) ||
	    !cur_get_bytes(&c, src, 6) || !cur_get_u16(&c, &type)) {
		ls->st.malformed++;
		return;
	}
	vh.flags = v[0];
	vh.gso_type = v[1];
	vh.hdr_len = (uint16_t)(v[2] | v[3] << 8);
	vh.gso_size = (uint16_t)(v[4] | v[5] << 8);
	vh.csum_start = (uint16_t)(v[6] | v[7] << 8);
	vh.csum_offset = (uint16_t)(v[8] | v[9] << 8);
	if (src[0] & 1) {                            /* a multicast source */
		ls->st.malformed++;
		return;
	}
	/* A frame no LAN of this MTU can carry (VLAN tag allowed); a GSO
	 * super-frame is the kernel's, cut to MTU size below. */
	if (vh.gso_type == VNET_GSO_NONE &&
	    n - LANSOCK_VNET_LEN > (size_t)ETH_HDR + 4 + (size_t)ls->mtu) {
		ls->st.oversize++;
		return;
	}
	switch (type) {
	case ETH_P_ARP:
		arp_input(ls, src, f + LANSOCK_VNET_LEN + ETH_HDR, cur_left(&c));
		break;
	case ETH_P_IP:
		ipv4_input(ls, src, f + LANSOCK_VNET_LEN + ETH_HDR, cur_left(&c), &vh, ETH_HDR);
		break;
	default:
		ls->st.other++;
		break;
	}
}

void lansock_read(struct lansock *ls)
{
	for (int i = 0; i < BATCH; i++) {
		ssize_t n = recv(ls->fd, ls->rx, FRAME_MAX, MSG_TRUNC);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				LOG_RATELIMITED(&ls->rl, "%s: receive: %s", ls->ifname,
						strerror(errno));
			return;
		}
		if ((size_t)n > FRAME_MAX) {
			ls->st.frames++;
			ls->st.oversize++;
			continue;
		}
		frame_input(ls, ls->rx, (size_t)n);
	}
}

/* ---- towards the GNs ---- */

int lansock_deliver(struct lansock *ls, const uint8_t mac[6], const uint8_t *pkt, size_t len)
{
	const uint8_t *p = pkt;
	int err;

	if (len < 20 || len > sizeof(ls->seg))
		return -EINVAL;
	if ((pkt[0] >> 4) != 4) {
		/* IPv6 is not served on the LAN (the GNs are IPv4). */
		ls->st.deliver_err++;
		return -EAFNOSUPPORT;
	}
	/* A SYN from a peer: clamp its MSS for the GN's way back too. */
	if (pkt[9] == IPPROTO_TCP && len >= (size_t)(pkt[0] & 0x0f) * 4 + 14 &&
	    (pkt[(pkt[0] & 0x0f) * 4 + 13] & 0x02)) {
		memcpy(ls->seg, pkt, len);
		mss_clamp(ls, ls->seg, len, (uint16_t)(ls->cfg.mtu - 40));
		p = ls->seg;
	}
	err = send_frame(ls, mac, ETH_P_IP, p, len);
	if (err < 0)
		ls->st.deliver_err++;
	else
		ls->st.delivered++;
	return err;
}

void lansock_dns_reply(struct lansock *ls, const uint8_t mac[6], const struct resolver_client *c,
		       const uint8_t *buf, size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&c->addr;
	size_t n;

	if (c->tcp || sin->sin_family != AF_INET || len > 65535 - 28)
		return;
	n = build_udp4(ls->out, ls->ip, sin->sin_addr, 53, ntohs(sin->sin_port), buf, len);
	if (send_frame(ls, mac, ETH_P_IP, ls->out, n) == 0)
		ls->st.dns_replies++;
}

/* ---- set-up ---- */

void lansock_set_addr(struct lansock *ls, const struct in_addr *ip, uint8_t vip_len)
{
	ls->ip = *ip;
	ls->vip_mask = vip_len ? ~0u << (32 - (vip_len > 32 ? 32 : vip_len)) : 0;
	ls->vip_net.s_addr = htonl(ntohl(ip->s_addr) & ls->vip_mask);
	ls->have_addr = true;
}

struct lansock *lansock_new(const struct lansock_cfg *cfg)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct ifreq ifr = { 0 };
	struct lansock *ls;
	int one = 1, v = SOCK_BUF;

	if (strlen(cfg->ifname) >= IFNAMSIZ)
		return NULL;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return NULL;
	ls->fd = -1;
	ls->cfg = *cfg;
	snprintf(ls->ifname, sizeof(ls->ifname), "%s", cfg->ifname);
	snprintf(ls->leases_path, sizeof(ls->leases_path), "%s", cfg->leases ? cfg->leases : "");
	snprintf(ls->domain, sizeof(ls->domain), "%s", cfg->domain ? cfg->domain : "");
	ls->cfg.ifname = ls->ifname;
	ls->rx = malloc(FRAME_MAX);
	if (!ls->rx)
		goto fail;
	ls->ifindex = (int)if_nametoindex(cfg->ifname);
	if (!ls->ifindex)
		goto fail;
	ls->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls->fd < 0)
		goto fail;
	strcpy(ifr.ifr_name, cfg->ifname);
	if (ioctl(ls->fd, SIOCGIFHWADDR, &ifr) < 0)
		goto fail;
	memcpy(ls->mac, ifr.ifr_hwaddr.sa_data, 6);
	ls->mtu = ioctl(ls->fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 576 ? ifr.ifr_mtu : 1500;
	if (setsockopt(ls->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(ls->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		goto fail;
	if (setsockopt(ls->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(ls->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (setsockopt(ls->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(ls->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	sll.sll_ifindex = ls->ifindex;
	if (bind(ls->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto fail;
	leases_load(ls);
	return ls;
fail:
	log_warn("AF_PACKET socket on %s", cfg->ifname);
	lansock_free(ls);
	return NULL;
}

void lansock_free(struct lansock *ls)
{
	if (!ls)
		return;
	if (ls->fd >= 0)
		close(ls->fd);
	free(ls->rx);
	free(ls);
}

int lansock_fd(const struct lansock *ls) { return ls->fd; }
const uint8_t *lansock_mac(const struct lansock *ls) { return ls->mac; }

void lansock_status(const struct lansock *ls, struct json *j)
{
	const struct lan_stats *s = &ls->st;

	json_obj_begin(j, "lan");
	json_uint(j, "frames", s->frames);
	json_uint(j, "malformed", s->malformed);
	json_uint(j, "oversize", s->oversize);
	json_uint(j, "unknown_mac", s->unknown_mac);
	json_uint(j, "other", s->other);
	json_uint(j, "arp_requests", s->arp_requests);
	json_uint(j, "arp_answered", s->arp_answered);
	json_uint(j, "arp_ignored", s->arp_ignored);
	json_uint(j, "arp_malformed", s->arp_malformed);
	json_uint(j, "dhcp_in", s->dhcp_in);
	json_uint(j, "dhcp_malformed", s->dhcp_malformed);
	json_uint(j, "dhcp_unknown_mac", s->dhcp_unknown_mac);
	json_uint(j, "dhcp_offer", s->dhcp_offer);
	json_uint(j, "dhcp_ack", s->dhcp_ack);
	json_uint(j, "dhcp_nak", s->dhcp_nak);
	json_uint(j, "dhcp_release", s->dhcp_release);
	json_uint(j, "dhcp_decline", s->dhcp_decline);
	json_uint(j, "dhcp_inform", s->dhcp_inform);
	json_uint(j, "dhcp_ignored", s->dhcp_ignored);
	json_uint(j, "dns_queries", s->dns_queries);
	json_uint(j, "dns_replies", s->dns_replies);
	json_uint(j, "dns_malformed", s->dns_malformed);
	json_uint(j, "dns_no_gn", s->dns_no_gn);
	json_uint(j, "vip_packets", s->vip_packets);
	json_uint(j, "vip_bad_src", s->vip_bad_src);
	json_uint(j, "vip_malformed", s->vip_malformed);
	json_uint(j, "gso_segments", s->gso_segments);
	json_uint(j, "gso_dropped", s->gso_dropped);
	json_uint(j, "frag_needed", s->frag_needed);
	json_uint(j, "mss_clamped", s->mss_clamped);
	json_uint(j, "delivered", s->delivered);
	json_uint(j, "deliver_err", s->deliver_err);
	json_uint(j, "tx_err", s->tx_err);
	json_obj_end(j);
}
