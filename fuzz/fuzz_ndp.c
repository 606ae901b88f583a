/* libFuzzer: bytes into the adapter's Neighbour Discovery parser
 * (src/adapter/lan/ndp.c).
 *
 * The first byte picks the IPv6 header around the ICMPv6 message: bits
 * 0-1 the source (a GN's link-local, the unspecified address, a GN's
 * VIPv6, a global address), bit 2 the destination (the solicited-node
 * address of the message's target, or all nodes), bit 3 a hop limit of
 * 255 (else 254), bit 4 whether the sender is an enrolled GN.  The rest is
 * the message, whose checksum is made right first when bit 5 is set (so
 * the checks behind it are reached).  Checked: a refusal has a reason;
 * an accepted NS the adapter answers yields an NA that parses back, right
 * checksum, with the same target and the adapter's MAC; the RA always
 * parses back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "ndp.h"

static const uint8_t fz_mac[6] = { 0x02, 0xad, 0, 0, 0, 1 };
static const uint8_t fz_gn_mac[6] = { 0x02, 0x6e, 0, 0, 0, 7 };
static const uint8_t fz_net[16] = { 0xfd, 0x00, 0x00, 0x64 };
static const uint8_t fz_gn_vip[16] = { 0xfd, 0x00, 0x00, 0x64, [15] = 7 };
static const uint8_t fz_global[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t fz_all[16] = { 0xff, 0x02, [15] = 1 };

static bool fz_is_gn6(void *arg, const uint8_t ip[16])
{
	return !memcmp(ip, fz_gn_vip, 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ndp_cfg cfg;
	static bool init;
	uint8_t src[16] = { 0 }, dst[16], msg[1500], out[NDP_FRAME_MAX];
	struct ndp_msg m, back;
	uint8_t sel;
	ssize_t n;

	if (!init) {
		log_init("fuzz_ndp", LOG_LVL_ERR);
		memcpy(cfg.mac, fz_mac, 6);
		ndp_link_local(fz_mac, cfg.ll);
		memcpy(cfg.vip6_net, fz_net, 16);
		cfg.vip6_len = 48;
		memcpy(cfg.dns, cfg.ll, 16);
		cfg.mtu = 1380;
		cfg.route_lifetime = cfg.rdnss_lifetime = 1800;
		cfg.is_gn6 = fz_is_gn6;
		init = true;
		n = ndp_build_ra(out, sizeof(out), &cfg, fz_all, fz_mac);
		if (n < 54 || ndp_parse(out + 54, (size_t)n - 54, cfg.ll, fz_all, 255, &back) != NDP_OK)
			abort();
	}
	if (size < 1 || size - 1 > sizeof(msg))
		return 0;
	sel = data[0];
	size--;
	memcpy(msg, data + 1, size);
	switch (sel & 3) {
	case 0: ndp_link_local(fz_gn_mac, src); break;
	case 1: break;                                   /* :: */
	case 2: memcpy(src, fz_gn_vip, 16); break;
	default: memcpy(src, fz_global, 16); break;
	}
	if ((sel & 4) || size < 24) {
		memcpy(dst, fz_all, 16);
	} else {
		static const uint8_t pre[13] = { 0xff, 0x02, [11] = 1, [12] = 0xff };

		memcpy(dst, pre, 13);
		memcpy(dst + 13, msg + 8 + 13, 3);
	}
	if ((sel & 32) && size >= 4) {
		put_be16(msg + 2, 0);
		put_be16(msg + 2, ndp_csum(src, dst, msg, size));
	}
	switch (ndp_parse(msg, size, src, dst, (sel & 8) ? 255 : 254, &m)) {
	case NDP_MALFORMED:
	case NDP_IGNORED:
		if (!m.why || !m.why[0])
			abort();
		return 0;
	case NDP_OK:
		break;
	}
	if (m.type != NDP_NS ||
	    !ndp_ns_should_answer(&cfg, &m, src, (sel & 16) ? fz_gn_vip : NULL))
		return 0;
	/* the rule: the adapter's own address, or an overlay address asked
	 * by an enrolled GN that is not that GN's */
	if (memcmp(m.target, cfg.ll, 16) &&
	    (!(sel & 16) || !ndp_in_vip6(&cfg, m.target) || !memcmp(m.target, fz_gn_vip, 16)))
		abort();
	n = ndp_build_na(out, sizeof(out), &cfg, &m, src, fz_gn_mac);
	if (n != 14 + 40 + 32 ||
	    ndp_parse(out + 54, 32, cfg.ll, out + 38, 255, &back) != NDP_OK ||
	    back.type != NDP_NA || memcmp(back.target, m.target, 16) || !back.has_lladdr ||
	    memcmp(back.lladdr, fz_mac, 6))
		abort();
	return 0;
}
