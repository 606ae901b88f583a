/* The adapter's LAN glue (see lansock.h): the AF_PACKET socket, frames in
 * through the LAN codecs (frame.h, dhcp.h, lease.h, gso.h), packets out
 * through the data plane's coalescing writer (batch.h), counters. */
#include "lansock_impl.h"
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
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

#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "json.h"
#include "lease.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

_Static_assert(LANSOCK_VNET_LEN == GSO_HDR_LEN, "the vnet header is gso.h's");

#define SOCK_BUF (8 << 20)
#define READ_BATCH 256               /* frames per lansock_read() */
#define TCP_F_SYN 0x02
#define IP_DF 0x4000

uint16_t lan_mss(const struct lansock *ls, bool v6)
{
	return (uint16_t)(ls->cfg.mtu - (v6 ? FRAME_IPV6_HDR : FRAME_IPV4_HDR) - TCP_HDR_MIN);
}

/* ---- sending ---- */

/* Behind a zero vnet header (complete, no offload), after what is queued
 * for the GNs so the LAN sees everything in order. */
int lan_send_frame(struct lansock *ls, const uint8_t *frame, size_t len)
{
	static const uint8_t vnet[GSO_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = (void *)vnet, .iov_len = sizeof(vnet) },
		{ .iov_base = (void *)frame, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	int err;

	lansock_flush(ls);
	if (sendmsg(ls->fd, &mh, MSG_DONTWAIT) < 0) {
		err = -errno;
		ls->st.tx_err++;
		LOG_RATELIMITED(&ls->rl, "%s: send: %s", ls->ifname, strerror(-err));
		return err;
	}
	return 0;
}

int lansock_flush(struct lansock *ls)
{
	int err;

	if (!lansock_pending(ls))
		return 0;
	err = dp_tun_flush(ls->tx);
	if (err < 0) {
		ls->st.deliver_err++;
		LOG_RATELIMITED(&ls->rl, "%s: send to a general node: %s", ls->ifname,
				strerror(-err));
	}
	return err;
}

bool lansock_pending(const struct lansock *ls)
{
	return ls->tx && dp_tun_pending(ls->tx);
}

/* ---- codec callbacks ---- */

static bool is_gn_ip(void *arg, uint32_t ip)
{
	struct lansock *ls = arg;
	struct in_addr a = { .s_addr = htonl(ip) };

	return gn_by_vip4(ls->cfg.gns, &a) != NULL;
}

static bool dhcp_lookup(void *arg, const uint8_t mac[6], uint32_t *vip4)
{
	struct lansock *ls = arg;
	struct gn *g = gn_by_mac(ls->cfg.gns, mac);

	if (!g)
		return false;
	*vip4 = ntohl(g->info.vip4.s_addr);
	return true;
}

/* The owner logs each unknown MAC once. */
static struct gn *gn_from(struct lansock *ls, const uint8_t mac[6], bool asks_lease)
{
	struct gn *g = gn_by_mac(ls->cfg.gns, mac);

	if (!g) {
		ls->cfg.ops->unknown_mac(ls->cfg.arg, mac, asks_lease);
		return NULL;
	}
	g->frames++;
	ls->cfg.ops->gn_seen(ls->cfg.arg, g);
	lan_ra_first(ls, g);
	return g;
}

struct gn *lan_gn_from(struct lansock *ls, const uint8_t mac[6])
{
	return gn_from(ls, mac, false);
}

struct gn *lan_gn_asks(struct lansock *ls, const uint8_t mac[6])
{
	return gn_from(ls, mac, true);
}

/* ---- ARP ---- */

static void arp_input(struct lansock *ls, const struct frame_info *fi)
{
	struct gn *g;
	bool sender_ok;
	ssize_t n;

	if (fi->arp_op != FRAME_ARP_REQUEST)
		return;                  /* replies are the kernel's */
	ls->st.arp_requests++;
	g = lan_gn_from(ls, fi->src_mac);
	if (!g) {
		ls->st.unknown_mac++;
		return;
	}
	/* Only to a GN asking from its own MAC and VIP: no probes, no
	 * spoofed senders. */
	sender_ok = memcmp(fi->arp_sha, fi->src_mac, 6) == 0 &&
		    fi->arp_spa == ntohl(g->info.vip4.s_addr);
	if (!frame_arp_should_answer(&ls->fc, fi, sender_ok)) {
		ls->st.arp_ignored++;
		return;
	}
	n = frame_build_arp_reply(ls->out, sizeof(ls->out), fi, ls->mac);
	if (n > 0 && lan_send_frame(ls, ls->out, (size_t)n) == 0)
		ls->st.arp_answered++;
}

/* ---- DHCP ---- */

static void dhcp_count(struct lansock *ls, const struct frame_info *fi,
		       const struct dhcp_result *res)
{
	char m[CY_MAC_STR];
	struct in_addr a = { .s_addr = htonl(res->yiaddr) };

	switch (res->ev) {
	case DHCP_EV_IGNORED: ls->st.dhcp_ignored++; break;
	case DHCP_EV_MALFORMED:
		ls->st.dhcp_malformed++;
		LOG_RATELIMITED(&ls->rl, "%s: malformed DHCP message from %s: %s", ls->ifname,
				cy_mac_str(fi->src_mac, m), res->why);
		break;
	case DHCP_EV_CHADDR_MISMATCH: ls->st.dhcp_chaddr_mismatch++; break;
	case DHCP_EV_UNKNOWN_MAC: ls->st.dhcp_unknown_mac++; break;
	case DHCP_EV_OFFERED: ls->st.dhcp_offer++; break;
	case DHCP_EV_ACKED: ls->st.dhcp_ack++; break;
	case DHCP_EV_NAKED: ls->st.dhcp_nak++; break;
	case DHCP_EV_RELEASED: ls->st.dhcp_release++; break;
	case DHCP_EV_DECLINED:
		ls->st.dhcp_decline++;
		LOG_RATELIMITED(&ls->rl, "%s: %s declined %s: another host on the LAN uses it",
				ls->ifname, cy_mac_str(fi->src_mac, m), inet_ntoa(a));
		break;
	case DHCP_EV_INFORMED: ls->st.dhcp_inform++; break;
	}
}

static void dhcp_input(struct lansock *ls, const struct frame_info *fi)
{
	struct dhcp_result res;
	struct frame_udp u = { .src_mac = ls->mac, .sport = DHCP_SERVER_PORT,
			       .dport = DHCP_CLIENT_PORT };
	int64_t now = clock_now();
	ssize_t n;

	ls->st.dhcp_in++;
	if (!ls->have_addr) {
		/* Nothing to offer before the adapter's own VIP is known. */
		lan_gn_asks(ls, fi->src_mac);
		ls->st.dhcp_ignored++;
		return;
	}
	lease_expire(ls->leases, now);
	dhcp_handle(&ls->dc, ls->leases, fi->src_mac, fi->udp_payload, fi->udp_len, now, &res);
	dhcp_count(ls, fi, &res);
	/* The owner hears of the MAC (seen, or unknown: logged once) unless
	 * the message was not even a well-formed request of its own. */
	if (res.ev != DHCP_EV_MALFORMED && res.ev != DHCP_EV_CHADDR_MISMATCH)
		lan_gn_asks(ls, fi->src_mac);
	if (res.lease_changed)
		lease_table_changed(ls->leases, now);      /* logs its errors */
	if (!res.len)
		return;
	u.dst_mac = res.dst_mac;
	u.src_ip = ls->ip;
	u.dst_ip = res.dst_ip;
	n = frame_build_udp4(ls->out, sizeof(ls->out), &u, res.reply, res.len);
	if (n > 0)
		lan_send_frame(ls, ls->out, (size_t)n);
}

/* ---- DNS to the adapter's addresses ---- */

/* A DNS or DNS6 frame: to the resolver of the GN its MAC is, with the
 * client's address and port. */
static void dns_input(struct lansock *ls, const struct frame_info *fi)
{
	struct resolver_client cl = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&cl.addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&cl.addr;
	struct gn *g;

	ls->st.dns_queries++;
	g = lan_gn_from(ls, fi->src_mac);
	if (!g) {
		ls->st.dns_no_gn++;
		return;
	}
	if (fi->udp_len < DNS_HDR_LEN) {
		ls->st.dns_malformed++;
		return;
	}
	if (fi->kind == LAN_DNS6) {
		cl.addrlen = sizeof(*sin6);
		sin6->sin6_family = AF_INET6;
		memcpy(sin6->sin6_addr.s6_addr, fi->ip6_src, 16);
		sin6->sin6_port = htons(fi->sport);
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
			sin6->sin6_scope_id = (uint32_t)ls->ifindex;
	} else {
		cl.addrlen = sizeof(*sin);
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(fi->ip_src);
		sin->sin_port = htons(fi->sport);
	}
	if (ls->cfg.ops->dns_query(ls->cfg.arg, g, &cl, fi->udp_payload, fi->udp_len) == -EBADMSG)
		ls->st.dns_malformed++;
}

void lansock_dns_reply(struct lansock *ls, const uint8_t mac[6], const struct resolver_client *c,
		       const uint8_t *buf, size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&c->addr;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&c->addr;
	struct frame_udp u = { .src_mac = ls->mac, .dst_mac = mac, .src_ip = ls->ip,
			       .sport = 53 };
	struct frame_udp6 u6 = { .src_mac = ls->mac, .dst_mac = mac, .sport = 53 };
	ssize_t n;

	if (c->tcp)
		return;
	if (sin->sin_family == AF_INET && ls->have_addr) {
		u.dst_ip = ntohl(sin->sin_addr.s_addr);
		u.dport = ntohs(sin->sin_port);
		n = frame_build_udp4(ls->out, sizeof(ls->out), &u, buf, len);
	} else if (sin->sin_family == AF_INET6 && ls->have_addr6) {
		/* From the address it asked: a GN asks the link-local one from
		 * its own link-local address (RFC 6724), the VIPv6 from its. */
		u6.src = IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ? ls->nc.ll : ls->fc.ip6;
		u6.dst = sin6->sin6_addr.s6_addr;
		u6.dport = ntohs(sin6->sin6_port);
		n = frame_build_udp6(ls->out, sizeof(ls->out), &u6, buf, len);
	} else {
		return;
	}
	if (n > 0 && lan_send_frame(ls, ls->out, (size_t)n) == 0)
		ls->st.dns_replies++;
}

/* ---- IPv4 from a GN to a peer VIP ---- */

/* RFC 1191: "fragmentation needed" from the LAN address back to the GN,
 * the tunnel MTU as the next-hop MTU. */
static void frag_needed(struct lansock *ls, const struct gn *g, const uint8_t *pkt, size_t len)
{
	ssize_t n = frame_icmp_frag_needed(ls->out + FRAME_ETH_LEN,
					   sizeof(ls->out) - FRAME_ETH_LEN, pkt, len, ls->ip,
					   (uint16_t)ls->cfg.mtu);

	if (n < 0)
		return;                  /* no error may be sent about it */
	frame_eth_header(ls->out, g->info.mac, ls->mac, FRAME_ETHERTYPE_IPV4);
	if (lan_send_frame(ls, ls->out, FRAME_ETH_LEN + (size_t)n) == 0)
		ls->st.frag_needed++;
}

/* One wire packet (complete checksums, IPv4 or IPv6) from GN g to a peer
 * VIP.  Too big for the tunnel: IPv6 is never fragmented on the way
 * (Packet Too Big back, RFC 8201); IPv4 only with DF (frag needed,
 * RFC 1191), else the overlay carries it whole (the tunnel's UDP is
 * fragmented on the way). */
static void vip_packet(struct lansock *ls, struct gn *g, uint8_t *pkt, size_t len)
{
	bool v6 = pkt[0] >> 4 == 6;

	if (len > (size_t)ls->cfg.mtu && (v6 || (get_be16(pkt + 6) & IP_DF))) {
		ls->st.too_big++;
		if (v6)
			lan_too_big6(ls, g, pkt, len);
		else
			frag_needed(ls, g, pkt, len);
		return;
	}
	if (frame_tcp_mss_clamp(pkt, len, lan_mss(ls, v6)))
		ls->st.mss_clamped++;
	if (v6)
		ls->st.vip6_packets++;
	else
		ls->st.vip_packets++;
	ls->cfg.ops->input(ls->cfg.arg, g, pkt, len);
}

struct seg_ctx {
	struct lansock *ls;
	struct gn *g;
};

static int vip_segment(void *arg, uint8_t *pkt, size_t len)
{
	struct seg_ctx *c = arg;

	vip_packet(c->ls, c->g, pkt, len);
	return 0;
}

/* fi: a VIP or VIP6 frame in ls->rx, from g. */
void lan_vip_frame(struct lansock *ls, struct gn *g, const struct frame_info *fi)
{
	struct seg_ctx c = { .ls = ls, .g = g };
	const uint8_t *ip = fi->ethertype == FRAME_ETHERTYPE_IPV6 ? fi->ip6 : fi->ip;
	size_t len = fi->ethertype == FRAME_ETHERTYPE_IPV6 ? fi->ip6_len : fi->ip_len;
	int n;

	if (fi->vnet.gso_type == GSO_NONE && !(fi->vnet.flags & GSO_F_NEEDS_CSUM)) {
		/* The common complete packet: in place (rx is ours). */
		vip_packet(ls, g, ls->rx + (ip - ls->rx), len);
		return;
	}
	/* Partial checksum or a super-frame: completed / cut into wire
	 * packets where it lies in rx, each with the Ethernet header in
	 * front. */
	n = gso_segment(&fi->vnet, ls->rx + (fi->eth - ls->rx), fi->eth_len, FRAME_ETH_LEN,
			vip_segment, &c);
	if (fi->vnet.gso_type == GSO_NONE) {
		if (n < 0)
			ls->st.vip_malformed++;
		return;
	}
	if (n < 0) {
		ls->st.gso_dropped++;
		LOG_RATELIMITED(&ls->rl, "%s: GSO frame from %s dropped: %s", ls->ifname,
				g->info.fqdn, strerror(-n));
		return;
	}
	ls->st.gso_segments += (unsigned)n;
}

/* fi: a VIP frame in ls->rx. */
static void vip_input(struct lansock *ls, const struct frame_info *fi)
{
	struct gn *g = lan_gn_from(ls, fi->src_mac);

	if (!g) {
		ls->st.unknown_mac++;
		return;
	}
	if (fi->ip_src != ntohl(g->info.vip4.s_addr)) {
		ls->st.vip_bad_src++;
		return;
	}
	if (fi->dst_is_gn) {
		ls->st.other++;          /* another GN on this LAN: they talk directly */
		return;
	}
	lan_vip_frame(ls, g, fi);
}

/* ---- frames ---- */

static void count_malformed(struct lansock *ls, const struct frame_info *fi)
{
	if (fi->ethertype == FRAME_ETHERTYPE_ARP)
		ls->st.arp_malformed++;
	else if (fi->dport == DHCP_SERVER_PORT)
		ls->st.dhcp_malformed++;
	else if (fi->dport == DHCP6_SERVER_PORT)
		ls->st.dhcp6_ev[DHCP6_EV_MALFORMED]++;
	else if (fi->dport == 53)
		ls->st.dns_malformed++;
	else
		ls->st.malformed++;
}

static void frame_input(struct lansock *ls, size_t n)
{
	struct frame_info fi;
	enum lan_kind k;

	ls->st.frames++;
	k = frame_classify(&ls->fc, ls->rx, n, true, &fi);
	/* A frame no LAN of this MTU carries (VLAN tag allowed); a GSO
	 * super-frame is the kernel's, cut to wire size below. */
	if (fi.have_vnet && fi.vnet.gso_type == GSO_NONE &&
	    n - GSO_HDR_LEN > (size_t)FRAME_ETH_LEN + VLAN_LEN + (size_t)ls->mtu) {
		ls->st.oversize++;
		return;
	}
	if (k == LAN_MALFORMED) {
		count_malformed(ls, &fi);
		return;
	}
	if (fi.src_mac[0] & 1) {         /* a multicast source */
		ls->st.malformed++;
		return;
	}
	switch (k) {
	case LAN_ARP: arp_input(ls, &fi); break;
	case LAN_DHCP: dhcp_input(ls, &fi); break;
	case LAN_DNS:
	case LAN_DNS6: dns_input(ls, &fi); break;
	case LAN_VIP: vip_input(ls, &fi); break;
	case LAN_NDP: lan_ndp_input(ls, &fi); break;
	case LAN_DHCP6: lan_dhcp6_input(ls, &fi); break;
	case LAN_VIP6: lan_vip6_input(ls, &fi); break;
	default: ls->st.other++; break;
	}
}

void lansock_read(struct lansock *ls)
{
	for (int i = 0; i < READ_BATCH; i++) {
		ssize_t n = recv(ls->fd, ls->rx, sizeof(ls->rx), MSG_TRUNC);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				LOG_RATELIMITED(&ls->rl, "%s: receive: %s", ls->ifname,
						strerror(errno));
			return;
		}
		if ((size_t)n > sizeof(ls->rx)) {
			ls->st.frames++;
			ls->st.oversize++;
			continue;
		}
		frame_input(ls, (size_t)n);
	}
}

/* ---- towards the GNs ---- */

/* A TCP SYN (cheap test before copying it to clamp the MSS): IPv4 not
 * a fragment, IPv6 without extension headers. */
static bool tcp_syn(const uint8_t *pkt, size_t len)
{
	size_t hl = (size_t)(pkt[0] & 0x0f) * 4;

	if (pkt[0] >> 4 == 6)
		return pkt[6] == IPPROTO_TCP && FRAME_IPV6_HDR + TCP_HDR_MIN <= len &&
		       (pkt[FRAME_IPV6_HDR + 13] & TCP_F_SYN);
	return pkt[9] == IPPROTO_TCP && !(get_be16(pkt + 6) & 0x1fff) &&
	       hl + TCP_HDR_MIN <= len && (pkt[hl + 13] & TCP_F_SYN);
}

int lansock_deliver(struct lansock *ls, const uint8_t mac[6], const uint8_t *pkt, size_t len)
{
	uint8_t eth[FRAME_ETH_LEN];
	bool v6 = len && pkt[0] >> 4 == 6;
	int err;

	if (len < (v6 ? FRAME_IPV6_HDR : FRAME_IPV4_HDR) || len > GSO_PKT_MAX ||
	    (!v6 && pkt[0] >> 4 != 4)) {
		ls->st.deliver_err++;
		return -EINVAL;
	}
	/* A SYN from a peer: its MSS clamped for the GN's way back too. */
	if (tcp_syn(pkt, len)) {
		memcpy(ls->syn, pkt, len);
		if (frame_tcp_mss_clamp(ls->syn, len, lan_mss(ls, v6))) {
			ls->st.mss_clamped++;
			pkt = ls->syn;
		}
	}
	frame_eth_header(eth, mac, ls->mac, v6 ? FRAME_ETHERTYPE_IPV6 : FRAME_ETHERTYPE_IPV4);
	err = dp_tun_write_l2(ls->tx, eth, pkt, len);
	if (err < 0) {
		ls->st.deliver_err++;
		LOG_RATELIMITED(&ls->rl, "%s: send to a general node: %s", ls->ifname,
				strerror(-err));
		return err;
	}
	ls->st.delivered++;
	return 0;
}

/* ---- leases ---- */

int64_t lansock_lease_left(const struct lansock *ls, const uint8_t mac[6])
{
	return lease_left(ls->leases, mac, clock_now());
}

/* ---- set-up ---- */

void lansock_set_addr(struct lansock *ls, const struct in_addr *ip, uint8_t vip_len)
{
	uint32_t mask = frame_prefix_mask(vip_len);

	ls->ip = ntohl(ip->s_addr);
	ls->have_addr = true;
	ls->fc.ip = ls->ip;
	ls->fc.vip_net = ls->ip & mask;
	ls->fc.vip_len = vip_len > 32 ? 32 : vip_len;
	ls->dc.server_ip = ls->ip;
	ls->dc.router = ls->ip;
	ls->dc.dns = ls->ip;
	ls->dc.netmask = mask;
}

static int lansock_open(struct lansock *ls)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct ifreq ifr = { 0 };
	struct packet_mreq mr = { 0 };
	int one = 1, v = SOCK_BUF;

	ls->ifindex = (int)if_nametoindex(ls->ifname);
	if (!ls->ifindex)
		return -errno;
	ls->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls->fd < 0)
		return -errno;
	memcpy(ifr.ifr_name, ls->ifname, sizeof(ls->ifname));
	if (ioctl(ls->fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(ls->mac, ifr.ifr_hwaddr.sa_data, 6);
	ls->mtu = ioctl(ls->fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 576 ? ifr.ifr_mtu : 1500;
	if (setsockopt(ls->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(ls->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		return -errno;
	/* Every multicast group through the NIC's filter: DHCPv6 to
	 * ff02::1:2, solicitations to ff02::2 and to the solicited-node
	 * groups of every overlay address the adapter answers for (no fixed
	 * list to join). */
	mr.mr_ifindex = ls->ifindex;
	mr.mr_type = PACKET_MR_ALLMULTI;
	if (setsockopt(ls->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		return -errno;
	addr_sock_buffers(ls->fd, v);
	sll.sll_ifindex = ls->ifindex;
	if (bind(ls->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

struct lansock *lansock_new(const struct lansock_cfg *cfg)
{
	struct lansock *ls;
	const char *path = cfg->leases && cfg->leases[0] ? cfg->leases : NULL;

	if (strlen(cfg->ifname) >= IF_NAMESIZE)
		return NULL;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return NULL;
	ls->fd = -1;
	ls->mld_fd = -1;
	ls->cfg = *cfg;
	snprintf(ls->ifname, sizeof(ls->ifname), "%s", cfg->ifname);
	snprintf(ls->domain, sizeof(ls->domain), "%s", cfg->domain ? cfg->domain : "");
	ls->cfg.ifname = ls->ifname;
	ls->cfg.domain = ls->domain;
	ls->cfg.leases = NULL;           /* the lease table keeps its own copy */
	if (lansock_open(ls) < 0) {
		log_warn("AF_PACKET socket on %s", cfg->ifname);
		goto fail;
	}
	memcpy(ls->fc.mac, ls->mac, 6);
	ls->fc.is_gn = is_gn_ip;
	ls->fc.arg = ls;
	ls->dc.lease_time = cfg->lease_time ? cfg->lease_time : 1;
	ls->dc.mtu = cfg->mtu >= 68 && cfg->mtu <= 65535 ? (uint16_t)cfg->mtu : 0;
	ls->dc.domain = ls->domain;
	ls->dc.lookup = dhcp_lookup;
	ls->dc.arg = ls;
	ls->tx = dp_tun_new_l2(ls->fd, true, FRAME_ETH_LEN, cfg->dp);
	ls->leases = lease_table_new(path);
	if (!ls->tx || !ls->leases) {
		log_warnx("%s: out of memory", cfg->ifname);
		goto fail;
	}
	/* A bad file is logged line by line; what loads is served. */
	lease_table_load(ls->leases, clock_now());
	if (lease_count(ls->leases))
		log_info("%s: %zu lease(s) from %s", ls->ifname, lease_count(ls->leases), path);
	return ls;
fail:
	lansock_free(ls);
	return NULL;
}

void lansock_free(struct lansock *ls)
{
	const struct lan_stats *s;

	if (!ls)
		return;
	/* What the LAN saw, for the log of a stopped adapter. */
	s = &ls->st;
	log_info("%s: %" PRIu64 " frames (%" PRIu64 " malformed, %" PRIu64 " from unknown MACs); "
		 "DHCP %" PRIu64 " in, %" PRIu64 " offers, %" PRIu64 " acks, %" PRIu64 " naks, "
		 "%" PRIu64 " ignored; ARP %" PRIu64 " answered; DNS %" PRIu64 " queries; "
		 "%" PRIu64 " packets to peers, %" PRIu64 " delivered; %" PRIu64 " send errors; "
		 "IPv6: NDP %" PRIu64 " in, %" PRIu64 " NS answered, %" PRIu64 " RAs sent, "
		 "%" PRIu64 " dropped (RA guard); DHCPv6 %" PRIu64 " in, %" PRIu64 " replies; "
		 "%" PRIu64 " packets to peers",
		 ls->ifname, s->frames, s->malformed, s->unknown_mac, s->dhcp_in, s->dhcp_offer,
		 s->dhcp_ack, s->dhcp_nak, s->dhcp_ignored, s->arp_answered, s->dns_queries,
		 s->vip_packets, s->delivered, s->tx_err, s->ndp_in, s->ns_answered, s->ra_sent,
		 s->ra_guard, s->dhcp6_in, s->dhcp6_ev[DHCP6_EV_BOUND], s->vip6_packets);
	if (ls->tx) {
		lansock_flush(ls);
		dp_tun_free(ls->tx);
	}
	lease_table_flush(ls->leases, clock_now(), true);
	lease_table_free(ls->leases);
	if (ls->fd >= 0)
		close(ls->fd);
	if (ls->mld_fd >= 0)
		close(ls->mld_fd);
	free(ls);
}

int lansock_fd(const struct lansock *ls) { return ls->fd; }
const uint8_t *lansock_mac(const struct lansock *ls) { return ls->mac; }

void lansock_status(const struct lansock *ls, struct json *j)
{
	const struct lan_stats *s = &ls->st;
	const struct dp_tun_stats *t = dp_tun_stats(ls->tx);

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
	json_uint(j, "dhcp_chaddr_mismatch", s->dhcp_chaddr_mismatch);
	json_uint(j, "dhcp_offer", s->dhcp_offer);
	json_uint(j, "dhcp_ack", s->dhcp_ack);
	json_uint(j, "dhcp_nak", s->dhcp_nak);
	json_uint(j, "dhcp_release", s->dhcp_release);
	json_uint(j, "dhcp_decline", s->dhcp_decline);
	json_uint(j, "dhcp_inform", s->dhcp_inform);
	json_uint(j, "dhcp_ignored", s->dhcp_ignored);
	json_uint(j, "leases", lease_count(ls->leases));
	json_uint(j, "dns_queries", s->dns_queries);
	json_uint(j, "dns_replies", s->dns_replies);
	json_uint(j, "dns_malformed", s->dns_malformed);
	json_uint(j, "dns_no_gn", s->dns_no_gn);
	json_uint(j, "vip_packets", s->vip_packets);
	json_uint(j, "vip_bad_src", s->vip_bad_src);
	json_uint(j, "vip_malformed", s->vip_malformed);
	json_uint(j, "gso_segments", s->gso_segments);
	json_uint(j, "gso_dropped", s->gso_dropped);
	json_uint(j, "too_big", s->too_big);
	json_uint(j, "frag_needed", s->frag_needed);
	json_uint(j, "mss_clamped", s->mss_clamped);
	json_uint(j, "delivered", s->delivered);
	json_uint(j, "deliver_err", s->deliver_err);
	json_uint(j, "deliver_writes", t->writes);
	json_uint(j, "deliver_merged", t->merged);
	json_uint(j, "deliver_lost", t->write_lost);
	json_uint(j, "tx_err", s->tx_err);
	lan_status6(ls, j);
	json_obj_end(j);
}

void lansock_tick(struct lansock *ls)
{
	lease_table_flush(ls->leases, clock_now(), false);
}
