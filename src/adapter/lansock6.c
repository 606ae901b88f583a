/* The adapter's LAN glue over IPv6 (see lansock.h): Neighbour Discovery
 * (ndp.h) with the adapter's Router Advertisements and their timers, the
 * DHCPv6 server (dhcp6.h), and packets from a GN's VIPv6 into its
 * overlay (DNS frames of both families are lansock.c's). */
#include "lansock_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "json.h"
#include "lease.h"

/* RFC 4861 6.2.1 and 10: the router's defaults. */
#define RA_MAX_INTERVAL_MS 600000
#define RA_MIN_INTERVAL_MS 200000
#define RA_INITIAL 3                  /* MAX_INITIAL_RTR_ADVERTISEMENTS */
#define RA_INITIAL_INTERVAL_MS 16000  /* MAX_INITIAL_RTR_ADVERT_INTERVAL */
#define RA_DELAY_MS 500               /* MAX_RA_DELAY_TIME: an answer's random delay */
/* Answers to one GN's solicitations: to its MAC alone, so not bound by
 * MIN_DELAY_BETWEEN_RAS (3 s, for multicast ones), yet at most one a
 * second (a GN whose kernel and DHCP client each solicit gets both). */
#define RA_RS_GAP_MS 1000
/* Router, route, prefix and RDNSS lifetimes: 3 x MaxRtrAdvInterval
 * (RFC 4861 6.2.1, RFC 8106 5.1). */
#define RA_LIFETIME_S 1800

/* ---- set-up ---- */

/* The link-local address the kernel gave the LAN interface, if any: the
 * adapter's, so that the kernel's answers (NS for it, TCP) and ours
 * agree. */
static bool kernel_link_local(const char *ifname, uint8_t ll[16])
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)i->ifa_addr;

		if (!s || s->sin6_family != AF_INET6 || strcmp(i->ifa_name, ifname) ||
		    !IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr))
			continue;
		memcpy(ll, s->sin6_addr.s6_addr, 16);
		found = true;
	}
	freeifaddrs(ifa);
	return found;
}

static bool is_gn6(void *arg, const uint8_t ip[16])
{
	struct lansock *ls = arg;
	struct in6_addr a;

	memcpy(&a, ip, 16);
	return gn_by_vip6(ls->cfg.gns, &a) != NULL;
}

static bool dhcp6_lookup(void *arg, const uint8_t mac[6], uint8_t vip6[16])
{
	struct lansock *ls = arg;
	struct gn *g = gn_by_mac(ls->cfg.gns, mac);

	if (!g || IN6_IS_ADDR_UNSPECIFIED(&g->info.vip6))
		return false;
	memcpy(vip6, g->info.vip6.s6_addr, 16);
	return true;
}

/* Join the groups the adapter serves, all-DHCP-servers and all-routers,
 * so that the kernel reports them (MLD) and a snooping switch sends them
 * here; the packet socket's ALLMULTI lets them through the NIC.  Best
 * effort: with IPv6 off on the LAN there is no MLD to send. */
static void join_groups(struct lansock *ls)
{
	static const uint8_t groups[][16] = {
		{ 0xff, 0x02, [13] = 1, [15] = 2 },   /* ff02::1:2 */
		{ 0xff, 0x02, [15] = 2 },             /* ff02::2 */
	};

	if (ls->mld_fd >= 0)
		return;
	ls->mld_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (size_t i = 0; ls->mld_fd >= 0 && i < sizeof(groups) / sizeof(groups[0]); i++) {
		struct ipv6_mreq mr = { .ipv6mr_interface = (unsigned)ls->ifindex };

		memcpy(mr.ipv6mr_multiaddr.s6_addr, groups[i], 16);
		if (setsockopt(ls->mld_fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof(mr)) < 0)
			log_debug("%s: joining an IPv6 group: %s", ls->ifname, strerror(errno));
	}
}

void lansock_set_addr6(struct lansock *ls, const struct in6_addr *ip6, uint8_t prefix6,
		       bool kernel_ip6, bool default_router)
{
	uint8_t ll[16];

	if (prefix6 == 0 || prefix6 > 128)
		return;
	join_groups(ls);
	ls->kernel_ll = kernel_link_local(ls->ifname, ll);
	ls->kernel_ip6 = kernel_ip6;
	if (!ls->kernel_ll)
		ndp_link_local(ls->mac, ll);     /* IPv6 off on the LAN: ours alone */
	memcpy(ls->fc.ll6, ll, 16);
	memcpy(ls->fc.ip6, ip6->s6_addr, 16);
	addr_in6_mask(ip6->s6_addr, prefix6, ls->fc.vip6_net);
	ls->fc.vip6_len = prefix6;

	memcpy(ls->nc.mac, ls->mac, 6);
	memcpy(ls->nc.ll, ll, 16);
	memcpy(ls->nc.vip6_net, ls->fc.vip6_net, 16);
	ls->nc.vip6_len = prefix6;
	memcpy(ls->nc.dns, ip6->s6_addr, 16);
	ls->nc.mtu = ls->cfg.mtu >= 1280 && ls->cfg.mtu <= 65535 ? (uint16_t)ls->cfg.mtu : 0;
	ls->nc.router_lifetime = default_router ? RA_LIFETIME_S : 0;
	ls->nc.route_lifetime = RA_LIFETIME_S;
	ls->nc.rdnss_lifetime = RA_LIFETIME_S;
	ls->nc.is_gn6 = is_gn6;
	ls->nc.arg = ls;

	memcpy(ls->d6.mac, ls->mac, 6);
	memcpy(ls->d6.dns, ip6->s6_addr, 16);
	ls->d6.domain = ls->domain;
	ls->d6.lifetime = ls->dc.lease_time;
	ls->d6.lookup = dhcp6_lookup;
	ls->d6.arg = ls;
	ls->have_addr6 = true;
	/* What the GNs were told may have changed: a new series of RAs. */
	for (size_t i = 0; i < gn_count(ls->cfg.gns); i++) {
		struct gn *g = gn_at(ls->cfg.gns, i);

		g->ra_count = 0;
		g->ra_next_ms = 0;
	}
}

bool lansock_kernel_ll6(const struct lansock *ls, struct in6_addr *ll)
{
	if (!ls->have_addr6 || !ls->kernel_ll)
		return false;
	memcpy(ll->s6_addr, ls->nc.ll, 16);
	return true;
}

/* ---- Router Advertisements ----
 *
 * Per GN: ra_next_ms, when its next one is due (0: at once, once seen),
 * ra_count, the unsolicited ones so far (their interval), ra_last_ms,
 * the last one sent (answers to solicitations at most once a second). */

/* One RA to GN g: to dst, always to its MAC (the LAN's other devices are
 * not told the overlay's MTU or resolver). */
static void ra_send(struct lansock *ls, struct gn *g, const uint8_t dst[16], int64_t now)
{
	ssize_t n = ndp_build_ra(ls->out, sizeof(ls->out), &ls->nc, dst, g->info.mac);

	g->ra_last_ms = now;
	if (n > 0 && lan_send_frame(ls, ls->out, (size_t)n) == 0)
		ls->st.ra_sent++;
}

/* RFC 4861 6.2.4: a random interval between the minimum and the maximum,
 * at most 16 s for the first few. */
static int64_t ra_interval_ms(const struct gn *g)
{
	uint32_t r = 0;

	if (g->ra_count < RA_INITIAL)
		return RA_INITIAL_INTERVAL_MS;
	(void)cy_random(&r, sizeof(r));
	return RA_MIN_INTERVAL_MS + (int64_t)(r % (RA_MAX_INTERVAL_MS - RA_MIN_INTERVAL_MS));
}

/* g's unsolicited RA when it is due. */
static void ra_due(struct lansock *ls, struct gn *g, int64_t now)
{
	if (!g->active || now < g->ra_next_ms)
		return;
	ra_send(ls, g, ndp_all_nodes, now);
	if (g->ra_count < 255)
		g->ra_count++;
	g->ra_next_ms = now + ra_interval_ms(g);
}

int64_t lansock_ra_tick(struct lansock *ls)
{
	int64_t now = clock_now_ms(), next = 0;

	if (!ls->have_addr6)
		return 0;
	for (size_t i = 0; i < gn_count(ls->cfg.gns); i++) {
		struct gn *g = gn_at(ls->cfg.gns, i);

		ra_due(ls, g, now);
		if (g->active && (!next || g->ra_next_ms < next))
			next = g->ra_next_ms;
	}
	return next;
}

/* The next RA to g within the random delay of an answer (0 to 0.5 s,
 * RFC 4861 6.2.6), unless one is due sooner; lansock_ra_wake() tells. */
static void ra_soon(struct lansock *ls, struct gn *g, int64_t now)
{
	uint32_t r = 0;
	int64_t due;

	(void)cy_random(&r, sizeof(r));
	due = now + 1 + (int64_t)(r % RA_DELAY_MS);
	if (g->ra_next_ms && due >= g->ra_next_ms)
		return;
	g->ra_next_ms = due;
	if (!ls->ra_wake_ms || due < ls->ra_wake_ms)
		ls->ra_wake_ms = due;
}

void lan_ra_first(struct lansock *ls, struct gn *g)
{
	if (ls->have_addr6 && g->ra_count == 0 && !g->ra_next_ms)
		ra_soon(ls, g, clock_now_ms());
}

/* ---- Neighbour Discovery ---- */

static void ns_input(struct lansock *ls, const struct frame_info *fi, const struct ndp_msg *m)
{
	struct gn *g = lan_gn_from(ls, fi->src_mac);
	ssize_t n;

	/* The kernel answers for the addresses it holds on the LAN: its
	 * link-local and the adapter's VIPv6 (when it could add them). */
	if (!ls->have_addr6 || (ls->kernel_ll && !memcmp(m->target, ls->nc.ll, 16)) ||
	    (ls->kernel_ip6 && !memcmp(m->target, ls->fc.ip6, 16)) ||
	    !ndp_ns_should_answer(&ls->nc, m, fi->ip6_src, g ? g->info.vip6.s6_addr : NULL)) {
		ls->st.ns_ignored++;
		return;
	}
	n = ndp_build_na(ls->out, sizeof(ls->out), &ls->nc, m, fi->ip6_src, fi->src_mac);
	if (n > 0 && lan_send_frame(ls, ls->out, (size_t)n) == 0)
		ls->st.ns_answered++;
}

/* RFC 4861 6.2.6: the answer after a random delay of up to 0.5 s (a
 * client that solicits may not listen yet: dhcpcd 9 misses an instant
 * one), to all-nodes as usual, yet to the GN's MAC alone. */
static void rs_input(struct lansock *ls, const struct frame_info *fi)
{
	struct gn *g = lan_gn_from(ls, fi->src_mac);
	int64_t now = clock_now_ms();

	ls->st.rs_in++;
	if (!g) {
		ls->st.unknown_mac++;
		return;
	}
	if (ls->have_addr6 && (!g->ra_last_ms || now - g->ra_last_ms >= RA_RS_GAP_MS))
		ra_soon(ls, g, now);
}

int64_t lansock_ra_wake(struct lansock *ls)
{
	int64_t w = ls->ra_wake_ms;

	ls->ra_wake_ms = 0;
	return w;
}

void lan_ndp_input(struct lansock *ls, const struct frame_info *fi)
{
	struct ndp_msg m;
	char mac[CY_MAC_STR];

	ls->st.ndp_in++;
	switch (ndp_parse(fi->l4, fi->l4_len, fi->ip6_src, fi->ip6_dst, fi->ip6_hlim, &m)) {
	case NDP_MALFORMED:
		ls->st.ndp_malformed++;
		LOG_RATELIMITED(&ls->rl, "%s: malformed NDP message from %s: %s", ls->ifname,
				cy_mac_str(fi->src_mac, mac), m.why);
		return;
	case NDP_IGNORED:
		ls->st.ndp_ignored++;
		return;
	case NDP_OK:
		break;
	}
	switch (m.type) {
	case NDP_NS: ns_input(ls, fi, &m); break;
	case NDP_RS: rs_input(ls, fi); break;
	case NDP_NA: ls->st.na_in++; break;
	case NDP_RA:
		/* RA guard: the adapter is the LAN's router for the overlay;
		 * nftables keeps the kernel from taking it either. */
		ls->st.ra_guard++;
		LOG_RATELIMITED(&ls->rl, "%s: Router Advertisement from %s ignored (RA guard)",
				ls->ifname, cy_mac_str(fi->src_mac, mac));
		break;
	}
}

/* ---- DHCPv6 ---- */

void lan_dhcp6_input(struct lansock *ls, const struct frame_info *fi)
{
	struct dhcp6_result res;
	struct frame_udp6 u = { .src_mac = ls->mac, .dst_mac = fi->src_mac, .src = ls->nc.ll,
				.dst = fi->ip6_src, .sport = DHCP6_SERVER_PORT, .dport = fi->sport };
	int64_t now = clock_now();
	char mac[CY_MAC_STR], a[INET6_ADDRSTRLEN];
	ssize_t n;

	ls->st.dhcp6_in++;
	if (!ls->have_addr6) {
		/* Nothing to give before the adapter's own VIPv6 is known. */
		lan_gn_asks(ls, fi->src_mac);
		ls->st.dhcp6_ev[DHCP6_EV_IGNORED]++;
		return;
	}
	lease_expire(ls->leases, now);
	dhcp6_handle(&ls->d6, ls->leases, fi->src_mac, fi->udp_payload, fi->udp_len, now, &res);
	ls->st.dhcp6_ev[res.ev]++;
	if (res.ev == DHCP6_EV_MALFORMED)
		LOG_RATELIMITED(&ls->rl, "%s: malformed DHCPv6 message from %s: %s", ls->ifname,
				cy_mac_str(fi->src_mac, mac), res.why);
	else
		lan_gn_asks(ls, fi->src_mac);    /* seen, or unknown: logged once */
	if (res.ev == DHCP6_EV_DECLINED)
		LOG_RATELIMITED(&ls->rl, "%s: %s declined %s: another host on the LAN uses it",
				ls->ifname, cy_mac_str(fi->src_mac, mac),
				inet_ntop(AF_INET6, res.vip6, a, sizeof(a)));
	if (res.lease_changed)
		lease_table_changed(ls->leases, now);      /* logs its errors */
	if (!res.len)
		return;
	n = frame_build_udp6(ls->out, sizeof(ls->out), &u, res.reply, res.len);
	if (n > 0)
		lan_send_frame(ls, ls->out, (size_t)n);
}

int64_t lansock_lease6_left(const struct lansock *ls, const uint8_t mac[6])
{
	return lease6_left(ls->leases, mac, clock_now());
}

/* ---- IPv6 from a GN to a peer VIPv6 ---- */

/* RFC 8201: a Packet Too Big back to the GN, from the adapter's VIPv6,
 * with the tunnel MTU. */
void lan_too_big6(struct lansock *ls, const struct gn *g, const uint8_t *pkt, size_t len)
{
	ssize_t n = frame_icmp6_too_big(ls->out + FRAME_ETH_LEN, sizeof(ls->out) - FRAME_ETH_LEN,
					pkt, len, ls->fc.ip6, (uint32_t)ls->cfg.mtu);

	if (n < 0)
		return;
	frame_eth_header(ls->out, g->info.mac, ls->mac, FRAME_ETHERTYPE_IPV6);
	if (lan_send_frame(ls, ls->out, FRAME_ETH_LEN + (size_t)n) == 0)
		ls->st.packet_too_big++;
}

void lan_vip6_input(struct lansock *ls, const struct frame_info *fi)
{
	struct gn *g = lan_gn_from(ls, fi->src_mac);
	struct in6_addr dst;

	if (!g) {
		ls->st.unknown_mac++;
		return;
	}
	if (IN6_IS_ADDR_UNSPECIFIED(&g->info.vip6) ||
	    memcmp(fi->ip6_src, g->info.vip6.s6_addr, 16)) {
		ls->st.vip_bad_src++;
		return;
	}
	memcpy(&dst, fi->ip6_dst, 16);
	if (gn_by_vip6(ls->cfg.gns, &dst)) {
		ls->st.other++;          /* another GN on this LAN: they talk directly */
		return;
	}
	lan_vip_frame(ls, g, fi);
}

/* ---- counters ---- */

void lan_status6(const struct lansock *ls, struct json *j)
{
	static const char *const ev[] = {
		[DHCP6_EV_IGNORED] = "dhcp6_ignored",     [DHCP6_EV_MALFORMED] = "dhcp6_malformed",
		[DHCP6_EV_UNKNOWN_MAC] = "dhcp6_unknown_mac",
		[DHCP6_EV_ADVERTISED] = "dhcp6_advertise", [DHCP6_EV_BOUND] = "dhcp6_reply",
		[DHCP6_EV_NOADDR] = "dhcp6_noaddr",       [DHCP6_EV_RELEASED] = "dhcp6_release",
		[DHCP6_EV_DECLINED] = "dhcp6_decline",    [DHCP6_EV_CONFIRMED] = "dhcp6_confirm",
		[DHCP6_EV_INFORMED] = "dhcp6_inform",
	};
	const struct lan_stats *s = &ls->st;

	json_uint(j, "ndp_in", s->ndp_in);
	json_uint(j, "ndp_malformed", s->ndp_malformed);
	json_uint(j, "ndp_ignored", s->ndp_ignored);
	json_uint(j, "ns_answered", s->ns_answered);
	json_uint(j, "ns_ignored", s->ns_ignored);
	json_uint(j, "na_in", s->na_in);
	json_uint(j, "rs_in", s->rs_in);
	json_uint(j, "ra_sent", s->ra_sent);
	json_uint(j, "ra_guard", s->ra_guard);
	json_uint(j, "dhcp6_in", s->dhcp6_in);
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		json_uint(j, ev[i], s->dhcp6_ev[i]);
	json_uint(j, "vip6_packets", s->vip6_packets);
	json_uint(j, "packet_too_big", s->packet_too_big);
}
