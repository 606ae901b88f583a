#include "ndp.h"

#include <errno.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "frame.h"
#include "gso.h"

#define ICMP6_PROTO 58

#define OPT_SRC_LLADDR 1
#define OPT_TGT_LLADDR 2
#define OPT_PREFIX_INFO 3
#define OPT_MTU 5
#define OPT_ROUTE_INFO 24                /* RFC 4191 */
#define OPT_RDNSS 25                     /* RFC 8106 */

#define RA_MANAGED 0x80
#define RA_OTHER 0x40
#define PI_ONLINK 0x80                   /* Prefix Information: L; A stays clear */

const uint8_t ndp_all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 0x01 };

static bool is_unspecified(const uint8_t a[16])
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, 16);
}

static bool is_multicast(const uint8_t a[16])
{
	return a[0] == 0xff;
}

static bool is_link_local(const uint8_t a[16])
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* ff02::1:ffXX:XXXX for target's last 24 bits (RFC 4291 2.7.1). */
static bool is_solicited_node_of(const uint8_t dst[16], const uint8_t target[16])
{
	static const uint8_t pre[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };

	return !memcmp(dst, pre, 13) && !memcmp(dst + 13, target + 13, 3);
}

uint16_t ndp_csum(const uint8_t src[16], const uint8_t dst[16], const uint8_t *icmp, size_t len)
{
	return inet_csum_fold(inet_csum_add(inet_pseudo_sum(src, dst, 16, ICMP6_PROTO,
							    (uint32_t)len), icmp, len));
}

static enum ndp_verdict bad(struct ndp_msg *m, const char *why)
{
	m->why = why;
	return NDP_MALFORMED;
}

/* The options after the fixed part: each well formed; the link-layer
 * address of the kind this type carries is kept (an Ethernet one, of
 * length 1), and *any says whether one of that kind came at all. */
static enum ndp_verdict parse_options(struct cur *c, uint8_t want, struct ndp_msg *m, bool *any)
{
	*any = false;
	while (!cur_empty(c)) {
		struct cur body;
		uint8_t type, units;

		if (!cur_get_u8(c, &type) || !cur_get_u8(c, &units))
			return bad(m, "truncated option");
		if (units == 0)
			return bad(m, "option of length 0");
		if (!cur_get_sub(c, &body, (size_t)units * 8 - 2))
			return bad(m, "option past the end");
		if (type != want)
			continue;
		*any = true;
		if (units == 1 && !m->has_lladdr)
			m->has_lladdr = cur_get_bytes(&body, m->lladdr, 6);
	}
	return NDP_OK;
}

enum ndp_verdict ndp_parse(const uint8_t *icmp, size_t len, const uint8_t src[16],
			   const uint8_t dst[16], uint8_t hlim, struct ndp_msg *m)
{
	struct cur c = cur_make(icmp, len);
	uint8_t code, flags;
	uint16_t csum;
	size_t fixed;
	bool ll;

	memset(m, 0, sizeof(*m));
	if (!cur_get_u8(&c, &m->type) || !cur_get_u8(&c, &code) || !cur_get_u16(&c, &csum))
		return bad(m, "too short");
	switch (m->type) {
	case NDP_RS: fixed = 8; break;
	case NDP_RA: fixed = 16; break;
	case NDP_NS: fixed = 24; break;
	case NDP_NA: fixed = 24; break;
	default:
		m->why = "not neighbour discovery";
		return NDP_IGNORED;
	}
	if (hlim != 255)
		return bad(m, "hop limit not 255: not from this link");
	if (is_multicast(src))
		return bad(m, "multicast source");
	if (code != 0)
		return bad(m, "code not 0");
	if (len < fixed)
		return bad(m, "shorter than its type");
	if (ndp_csum(src, dst, icmp, len) != 0)
		return bad(m, "bad checksum");
	switch (m->type) {
	case NDP_RS:
		cur_skip(&c, 4);
		if (parse_options(&c, OPT_SRC_LLADDR, m, &ll) != NDP_OK)
			return NDP_MALFORMED;
		if (is_unspecified(src) && ll)
			return bad(m, "solicitation from :: with a link-layer address");
		break;
	case NDP_RA:
		cur_skip(&c, 2);
		cur_get_u16(&c, &m->ra_lifetime);
		cur_skip(&c, 8);
		if (!is_link_local(src))
			return bad(m, "router advertisement not from a link-local address");
		if (parse_options(&c, OPT_SRC_LLADDR, m, &ll) != NDP_OK)
			return NDP_MALFORMED;
		break;
	case NDP_NS:
		cur_skip(&c, 4);
		cur_get_bytes(&c, m->target, 16);
		if (is_multicast(m->target))
			return bad(m, "multicast target");
		if (parse_options(&c, OPT_SRC_LLADDR, m, &ll) != NDP_OK)
			return NDP_MALFORMED;
		if (is_unspecified(src) && (ll || !is_solicited_node_of(dst, m->target)))
			return bad(m, "address probe not to the solicited-node address, or "
				      "with a link-layer address");
		break;
	case NDP_NA:
		cur_get_u8(&c, &flags);
		m->na_flags = flags & (NDP_NA_ROUTER | NDP_NA_SOLICITED | NDP_NA_OVERRIDE);
		cur_skip(&c, 3);
		cur_get_bytes(&c, m->target, 16);
		if (is_multicast(m->target))
			return bad(m, "multicast target");
		if (is_multicast(dst) && (m->na_flags & NDP_NA_SOLICITED))
			return bad(m, "solicited advertisement to a multicast address");
		if (parse_options(&c, OPT_TGT_LLADDR, m, &ll) != NDP_OK)
			return NDP_MALFORMED;
		break;
	}
	return NDP_OK;
}

bool ndp_in_vip6(const struct ndp_cfg *cfg, const uint8_t ip[16])
{
	return addr_in6_prefix(ip, cfg->vip6_net, cfg->vip6_len);
}

bool ndp_ns_should_answer(const struct ndp_cfg *cfg, const struct ndp_msg *ns,
			  const uint8_t src[16], const uint8_t *sender_vip6)
{
	if (ns->type != NDP_NS)
		return false;
	if (!memcmp(ns->target, cfg->ll, 16))
		return true;
	if (!sender_vip6 || !ndp_in_vip6(cfg, ns->target))
		return false;
	/* the asker's own address (its probe from :: included), or another
	 * general node's here: that one answers for itself; without the
	 * means to tell, nobody's */
	if (!memcmp(ns->target, sender_vip6, 16) || !memcmp(ns->target, src, 16))
		return false;
	return cfg->is_gn6 && !cfg->is_gn6(cfg->arg, ns->target);
}

/* Ethernet and IPv6 headers for an ICMPv6 message of plen bytes; the
 * caller writes the message, then ndp_finish() its checksum. */
static void put_headers(struct wbuf *w, const uint8_t dst_mac[6], const uint8_t src_mac[6],
			const uint8_t src[16], const uint8_t dst[16], size_t plen)
{
	uint8_t *eth = wbuf_reserve(w, FRAME_ETH_LEN);

	if (eth)
		frame_eth_header(eth, dst_mac, src_mac, FRAME_ETHERTYPE_IPV6);
	wbuf_put_u32(w, 0x60000000);          /* version 6, no class or flow */
	wbuf_put_u16(w, (uint16_t)plen);
	wbuf_put_u8(w, ICMP6_PROTO);
	wbuf_put_u8(w, 255);
	wbuf_put_bytes(w, src, 16);
	wbuf_put_bytes(w, dst, 16);
}

/* The ICMPv6 checksum of the message that starts at off. */
static ssize_t finish(struct wbuf *w, size_t off, const uint8_t src[16], const uint8_t dst[16])
{
	uint8_t *icmp = w->p + off;

	if (!wbuf_ok(w))
		return -ENOSPC;
	put_be16(icmp + 2, ndp_csum(src, dst, icmp, w->len - off));
	return (ssize_t)w->len;
}

ssize_t ndp_build_na(uint8_t *out, size_t cap, const struct ndp_cfg *cfg,
		     const struct ndp_msg *ns, const uint8_t src[16], const uint8_t src_mac[6])
{
	bool probe = is_unspecified(src);
	const uint8_t *to = probe ? ndp_all_nodes : src;
	uint8_t flags = NDP_NA_ROUTER;
	struct wbuf w;
	size_t off;

	if (!probe)
		flags |= NDP_NA_SOLICITED;
	if (!memcmp(ns->target, cfg->ll, 16))
		flags |= NDP_NA_OVERRIDE;    /* a proxy does not override (7.2.8) */
	wbuf_init(&w, out, cap);
	put_headers(&w, probe ? all_nodes_mac : src_mac, cfg->mac, cfg->ll, to, 24 + 8);
	off = w.len;
	wbuf_put_u8(&w, NDP_NA);
	wbuf_put_u8(&w, 0);
	wbuf_put_u16(&w, 0);
	wbuf_put_u8(&w, flags);
	wbuf_put_bytes(&w, (const uint8_t[3]){ 0 }, 3);
	wbuf_put_bytes(&w, ns->target, 16);
	wbuf_put_u8(&w, OPT_TGT_LLADDR);
	wbuf_put_u8(&w, 1);
	wbuf_put_bytes(&w, cfg->mac, 6);
	return finish(&w, off, cfg->ll, to);
}

ssize_t ndp_build_ra(uint8_t *out, size_t cap, const struct ndp_cfg *cfg, const uint8_t dst[16],
		     const uint8_t dst_mac[6])
{
	/* RFC 4191 2.3: the prefix in 0, 8 or 16 bytes, its bits past the
	 * length zero */
	uint8_t len = cfg->vip6_len > 128 ? 128 : cfg->vip6_len;
	size_t pbytes = len == 0 ? 0 : len <= 64 ? 8 : 16;
	size_t plen = 16 + 8 + (cfg->mtu ? 8 : 0) + 32 + 8 + pbytes +
		      (is_unspecified(cfg->dns) ? 0 : 24);
	uint8_t net[16];
	struct wbuf w;
	size_t off;

	addr_in6_mask(cfg->vip6_net, len, net);

	wbuf_init(&w, out, cap);
	put_headers(&w, dst_mac, cfg->mac, cfg->ll, dst, plen);
	off = w.len;
	wbuf_put_u8(&w, NDP_RA);
	wbuf_put_u8(&w, 0);
	wbuf_put_u16(&w, 0);
	wbuf_put_u8(&w, 64);                   /* current hop limit */
	wbuf_put_u8(&w, RA_MANAGED | RA_OTHER);
	wbuf_put_u16(&w, cfg->router_lifetime);
	wbuf_put_u32(&w, 0);                   /* reachable time: unspecified */
	wbuf_put_u32(&w, 0);                   /* retrans timer: unspecified */
	wbuf_put_u8(&w, OPT_SRC_LLADDR);
	wbuf_put_u8(&w, 1);
	wbuf_put_bytes(&w, cfg->mac, 6);
	if (cfg->mtu) {
		wbuf_put_u8(&w, OPT_MTU);
		wbuf_put_u8(&w, 1);
		wbuf_put_u16(&w, 0);
		wbuf_put_u32(&w, cfg->mtu);
	}
	/* The overlay on link, without addresses from it (those come from
	 * DHCPv6, /128): every stack honours this, where the Linux kernel
	 * takes a Route Information option only up to
	 * accept_ra_rt_info_max_plen, 0 by default.  So a GN sends to
	 * overlay addresses on the LAN, and the adapter answers for them
	 * (proxy, as with ARP). */
	wbuf_put_u8(&w, OPT_PREFIX_INFO);
	wbuf_put_u8(&w, 4);
	wbuf_put_u8(&w, len);
	wbuf_put_u8(&w, PI_ONLINK);
	wbuf_put_u32(&w, cfg->route_lifetime); /* valid */
	wbuf_put_u32(&w, cfg->route_lifetime); /* preferred */
	wbuf_put_u32(&w, 0);
	wbuf_put_bytes(&w, net, 16);
	wbuf_put_u8(&w, OPT_ROUTE_INFO);
	wbuf_put_u8(&w, (uint8_t)(1 + pbytes / 8));
	wbuf_put_u8(&w, len);
	wbuf_put_u8(&w, 0);                    /* preference medium */
	wbuf_put_u32(&w, cfg->route_lifetime);
	wbuf_put_bytes(&w, net, pbytes);
	if (!is_unspecified(cfg->dns)) {
		wbuf_put_u8(&w, OPT_RDNSS);
		wbuf_put_u8(&w, 3);
		wbuf_put_u16(&w, 0);
		wbuf_put_u32(&w, cfg->rdnss_lifetime);
		wbuf_put_bytes(&w, cfg->dns, 16);
	}
	return finish(&w, off, cfg->ll, dst);
}

void ndp_link_local(const uint8_t mac[6], uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = mac[0] ^ 0x02;
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}
