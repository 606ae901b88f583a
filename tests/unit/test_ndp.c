/* src/adapter/lan/ndp.c: Neighbour Solicitations parsed and answered (or
 * not) as the adapter must, its Neighbour and Router Advertisements read
 * back through the parser, and hostile messages (hop limit, code,
 * checksum, lengths, options, probes) refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "ndp.h"

static const uint8_t MAC_AD[6] = { 0x02, 0xad, 0, 0, 0, 1 };
static const uint8_t MAC_GN[6] = { 0x02, 0x6e, 0, 0, 0, 7 };
/* the overlay fd00:64::/48; GN fd00:64::7, another GN fd00:64::8, a peer
 * behind the overlay fd00:64::3:9 */
static const uint8_t VIP6_NET[16] = { 0xfd, 0x00, 0x00, 0x64 };
static const uint8_t GN_VIP[16] = { 0xfd, 0x00, 0x00, 0x64, [15] = 0x07 };
static const uint8_t GN2_VIP[16] = { 0xfd, 0x00, 0x00, 0x64, [15] = 0x08 };
static const uint8_t PEER_VIP[16] = { 0xfd, 0x00, 0x00, 0x64, [13] = 0x03, [15] = 0x09 };
static const uint8_t OUTSIDE[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t UNSPEC[16];
static const uint8_t ALL_NODES[16] = { 0xff, 0x02, [15] = 0x01 };
static uint8_t GN_LL[16];

static bool is_gn6(void *arg, const uint8_t ip[16])
{
	return !memcmp(ip, GN_VIP, 16) || !memcmp(ip, GN2_VIP, 16);
}

static struct ndp_cfg cfg;

static int setup(void **state)
{
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, MAC_AD, 6);
	ndp_link_local(MAC_AD, cfg.ll);
	memcpy(cfg.vip6_net, VIP6_NET, 16);
	cfg.vip6_len = 48;
	memcpy(cfg.dns, cfg.ll, 16);
	cfg.mtu = 1380;
	cfg.route_lifetime = 1800;
	cfg.rdnss_lifetime = 1800;
	cfg.is_gn6 = is_gn6;
	ndp_link_local(MAC_GN, GN_LL);
	return 0;
}

/* ff02::1:ffXX:XXXX of t */
static void sol_node(const uint8_t t[16], uint8_t out[16])
{
	static const uint8_t pre[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };

	memcpy(out, pre, 13);
	memcpy(out + 13, t + 13, 3);
}

/* An NS for target from src to dst, with a source link-layer option
 * (mac) unless mac is NULL; checksum right. */
static size_t ns_msg(uint8_t *m, const uint8_t target[16], const uint8_t src[16],
		     const uint8_t dst[16], const uint8_t *mac)
{
	size_t len = 24;

	memset(m, 0, 32);
	m[0] = NDP_NS;
	memcpy(m + 8, target, 16);
	if (mac) {
		m[24] = 1;
		m[25] = 1;
		memcpy(m + 26, mac, 6);
		len = 32;
	}
	put_be16(m + 2, ndp_csum(src, dst, m, len));
	return len;
}

/* Against a checksum computed elsewhere (Python, from RFC 8200 8.1), so
 * a mistake made alike in building and checking cannot hide. */
static void test_known_checksum(void **state)
{
	uint8_t m[64], dst[16];
	struct ndp_msg ns;
	size_t len;

	sol_node(PEER_VIP, dst);
	len = ns_msg(m, PEER_VIP, GN_LL, dst, MAC_GN);
	assert_int_equal(get_be16(m + 2), 0x7bb7);
	assert_int_equal(ndp_parse(m, len, GN_LL, dst, 255, &ns), NDP_OK);
}

static void test_link_local(void **state)
{
	static const uint8_t want[16] = { 0xfe, 0x80, [8] = 0x00, 0xad, 0x00, 0xff, 0xfe,
					  0x00, 0x00, 0x01 };

	assert_memory_equal(cfg.ll, want, 16);
}

/* A GN asks for a peer's overlay address: the adapter answers with its
 * own MAC, unicast to the asker, Solicited and Router set, no Override
 * (a proxy); the NA parses back with a right checksum. */
static void test_ns_for_peer_answered(void **state)
{
	uint8_t m[64], dst[16], fr[NDP_FRAME_MAX];
	struct ndp_msg ns, na;
	ssize_t n;

	sol_node(PEER_VIP, dst);
	size_t len = ns_msg(m, PEER_VIP, GN_LL, dst, MAC_GN);
	assert_int_equal(ndp_parse(m, len, GN_LL, dst, 255, &ns), NDP_OK);
	assert_int_equal(ns.type, NDP_NS);
	assert_memory_equal(ns.target, PEER_VIP, 16);
	assert_true(ns.has_lladdr);
	assert_memory_equal(ns.lladdr, MAC_GN, 6);
	assert_true(ndp_ns_should_answer(&cfg, &ns, GN_LL, GN_VIP));

	n = ndp_build_na(fr, sizeof(fr), &cfg, &ns, GN_LL, MAC_GN);
	assert_int_equal(n, 14 + 40 + 32);
	assert_memory_equal(fr, MAC_GN, 6);              /* Ethernet to the asker */
	assert_memory_equal(fr + 6, MAC_AD, 6);
	assert_int_equal(get_be16(fr + 12), 0x86dd);
	assert_int_equal(fr[14] >> 4, 6);
	assert_int_equal(get_be16(fr + 18), 32);         /* payload length */
	assert_int_equal(fr[20], 58);
	assert_int_equal(fr[21], 255);
	assert_memory_equal(fr + 22, cfg.ll, 16);
	assert_memory_equal(fr + 38, GN_LL, 16);
	assert_int_equal(ndp_parse(fr + 54, 32, cfg.ll, GN_LL, 255, &na), NDP_OK);
	assert_int_equal(na.type, NDP_NA);
	assert_int_equal(na.na_flags, NDP_NA_ROUTER | NDP_NA_SOLICITED);
	assert_memory_equal(na.target, PEER_VIP, 16);
	assert_true(na.has_lladdr);
	assert_memory_equal(na.lladdr, MAC_AD, 6);
	/* too small a buffer */
	assert_int_equal(ndp_build_na(fr, 60, &cfg, &ns, GN_LL, MAC_GN), -ENOSPC);
}

static void test_ns_policy(void **state)
{
	uint8_t m[64], dst[16], fr[NDP_FRAME_MAX];
	struct ndp_msg ns, na;
	size_t len;

	/* the adapter's own link-local: answered to anyone, with Override */
	sol_node(cfg.ll, dst);
	len = ns_msg(m, cfg.ll, GN_LL, dst, MAC_GN);
	assert_int_equal(ndp_parse(m, len, GN_LL, dst, 255, &ns), NDP_OK);
	assert_true(ndp_ns_should_answer(&cfg, &ns, GN_LL, NULL));
	assert_int_equal(ndp_build_na(fr, sizeof(fr), &cfg, &ns, GN_LL, MAC_GN), 86);
	assert_int_equal(ndp_parse(fr + 54, 32, cfg.ll, GN_LL, 255, &na), NDP_OK);
	assert_int_equal(na.na_flags, NDP_NA_ROUTER | NDP_NA_SOLICITED | NDP_NA_OVERRIDE);

	/* an overlay address asked by a MAC that is not enrolled: no */
	sol_node(PEER_VIP, dst);
	len = ns_msg(m, PEER_VIP, GN_LL, dst, MAC_GN);
	assert_int_equal(ndp_parse(m, len, GN_LL, dst, 255, &ns), NDP_OK);
	assert_false(ndp_ns_should_answer(&cfg, &ns, GN_LL, NULL));
	/* another GN's address on this LAN: it answers for itself */
	sol_node(GN2_VIP, dst);
	len = ns_msg(m, GN2_VIP, GN_VIP, dst, MAC_GN);
	assert_int_equal(ndp_parse(m, len, GN_VIP, dst, 255, &ns), NDP_OK);
	assert_false(ndp_ns_should_answer(&cfg, &ns, GN_VIP, GN_VIP));
	/* the asker's own address */
	sol_node(GN_VIP, dst);
	len = ns_msg(m, GN_VIP, GN_VIP, dst, MAC_GN);
	assert_int_equal(ndp_parse(m, len, GN_VIP, dst, 255, &ns), NDP_OK);
	assert_false(ndp_ns_should_answer(&cfg, &ns, GN_VIP, GN_VIP));
	/* an address outside the overlay */
	sol_node(OUTSIDE, dst);
	len = ns_msg(m, OUTSIDE, GN_LL, dst, MAC_GN);
	assert_int_equal(ndp_parse(m, len, GN_LL, dst, 255, &ns), NDP_OK);
	assert_false(ndp_ns_should_answer(&cfg, &ns, GN_LL, GN_VIP));

	/* duplicate-address detection of the GN's own VIP: unanswered, so
	 * it succeeds */
	sol_node(GN_VIP, dst);
	len = ns_msg(m, GN_VIP, UNSPEC, dst, NULL);
	assert_int_equal(ndp_parse(m, len, UNSPEC, dst, 255, &ns), NDP_OK);
	assert_false(ndp_ns_should_answer(&cfg, &ns, UNSPEC, GN_VIP));
	/* the same before the adapter knows the GN's address as one of its
	 * GNs: the asker's own VIP is never defended */
	cfg.is_gn6 = NULL;
	assert_false(ndp_ns_should_answer(&cfg, &ns, UNSPEC, GN_VIP));
	/* and without is_gn6 no overlay address is answered at all */
	sol_node(PEER_VIP, dst);
	len = ns_msg(m, PEER_VIP, GN_LL, dst, MAC_GN);
	assert_int_equal(ndp_parse(m, len, GN_LL, dst, 255, &ns), NDP_OK);
	assert_false(ndp_ns_should_answer(&cfg, &ns, GN_LL, GN_VIP));
	cfg.is_gn6 = is_gn6;
	/* a probe for a peer's address: defended, to all nodes, not
	 * Solicited */
	sol_node(PEER_VIP, dst);
	len = ns_msg(m, PEER_VIP, UNSPEC, dst, NULL);
	assert_int_equal(ndp_parse(m, len, UNSPEC, dst, 255, &ns), NDP_OK);
	assert_true(ndp_ns_should_answer(&cfg, &ns, UNSPEC, GN_VIP));
	assert_int_equal(ndp_build_na(fr, sizeof(fr), &cfg, &ns, UNSPEC, MAC_GN), 86);
	assert_memory_equal(fr, ((const uint8_t[]){ 0x33, 0x33, 0, 0, 0, 1 }), 6);
	assert_memory_equal(fr + 38, ALL_NODES, 16);
	assert_int_equal(ndp_parse(fr + 54, 32, cfg.ll, ALL_NODES, 255, &na), NDP_OK);
	assert_int_equal(na.na_flags, NDP_NA_ROUTER);
}

/* The RA reads back: Managed and Other, the router lifetime, and the
 * source link-layer, MTU, route (the overlay /48) and RDNSS options. */
static void test_ra(void **state)
{
	uint8_t fr[NDP_FRAME_MAX];
	const uint8_t mac_all[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	bool seen_rio = false, seen_rdnss = false, seen_mtu = false, seen_pio = false;
	struct ndp_msg ra;
	struct cur c;
	ssize_t n;
	size_t len;

	n = ndp_build_ra(fr, sizeof(fr), &cfg, ALL_NODES, mac_all);
	assert_true(n > 54);
	len = (size_t)n - 54;
	assert_int_equal(get_be16(fr + 18), len);
	assert_int_equal(ndp_parse(fr + 54, len, cfg.ll, ALL_NODES, 255, &ra), NDP_OK);
	assert_int_equal(ra.type, NDP_RA);
	assert_true(ra.has_lladdr);
	assert_memory_equal(ra.lladdr, MAC_AD, 6);
	assert_int_equal(ra.ra_lifetime, 0);             /* no IPv6 Internet: no default */
	assert_int_equal(fr[54 + 4], 64);
	assert_int_equal(fr[54 + 5], 0xc0);              /* M and O */
	c = cur_make(fr + 54 + 16, len - 16);
	while (!cur_empty(&c)) {
		uint8_t type, units;
		const uint8_t *o;

		assert_true(cur_get_u8(&c, &type) && cur_get_u8(&c, &units));
		assert_true(cur_get_ptr(&c, &o, units * 8u - 2));
		if (type == 3) {                         /* Prefix Information */
			assert_int_equal(units, 4);
			assert_int_equal(o[0], 48);
			assert_int_equal(o[1], 0x80);    /* on link, not autonomous */
			assert_int_equal(get_be32(o + 2), 1800);
			assert_memory_equal(o + 14, VIP6_NET, 16);
			seen_pio = true;
		} else if (type == 24) {                 /* Route Information */
			assert_int_equal(units, 2);
			assert_int_equal(o[0], 48);
			assert_int_equal(get_be32(o + 2), 1800);
			assert_memory_equal(o + 6, VIP6_NET, 8);
			seen_rio = true;
		} else if (type == 25) {                 /* RDNSS */
			assert_int_equal(units, 3);
			assert_int_equal(get_be32(o + 2), 1800);
			assert_memory_equal(o + 6, cfg.ll, 16);
			seen_rdnss = true;
		} else if (type == 5) {
			assert_int_equal(get_be32(o + 2), 1380);
			seen_mtu = true;
		}
	}
	assert_true(seen_rio && seen_rdnss && seen_mtu && seen_pio);
	/* with IPv6 Internet: the default router */
	cfg.router_lifetime = 1800;
	n = ndp_build_ra(fr, sizeof(fr), &cfg, ALL_NODES, mac_all);
	assert_int_equal(ndp_parse(fr + 54, (size_t)n - 54, cfg.ll, ALL_NODES, 255, &ra), NDP_OK);
	assert_int_equal(ra.ra_lifetime, 1800);
	assert_int_equal(ndp_build_ra(fr, 80, &cfg, ALL_NODES, mac_all), -ENOSPC);

	/* a prefix past /64: a Route Information option of 3 units, the
	 * bits past the length zero; without DNS and MTU, neither option */
	cfg.vip6_net[8] = 0xab;
	cfg.vip6_net[9] = 0xff;
	cfg.vip6_len = 72;
	memset(cfg.dns, 0, 16);
	cfg.mtu = 0;
	n = ndp_build_ra(fr, sizeof(fr), &cfg, ALL_NODES, mac_all);
	len = (size_t)n - 54;
	assert_int_equal(ndp_parse(fr + 54, len, cfg.ll, ALL_NODES, 255, &ra), NDP_OK);
	seen_rio = false;
	c = cur_make(fr + 54 + 16, len - 16);
	while (!cur_empty(&c)) {
		uint8_t type, units;
		const uint8_t *o;

		assert_true(cur_get_u8(&c, &type) && cur_get_u8(&c, &units));
		assert_true(cur_get_ptr(&c, &o, units * 8u - 2));
		assert_true(type != 25 && type != 5);
		if (type == 24) {
			assert_int_equal(units, 3);
			assert_int_equal(o[0], 72);
			assert_int_equal(o[6 + 8], 0xab);
			assert_int_equal(o[6 + 9], 0);   /* past /72 */
			seen_rio = true;
		}
	}
	assert_true(seen_rio);
}

static void expect_bad(const uint8_t *m, size_t len, const uint8_t src[16],
		       const uint8_t dst[16], uint8_t hlim, const char *why)
{
	struct ndp_msg x;

	assert_int_equal(ndp_parse(m, len, src, dst, hlim, &x), NDP_MALFORMED);
	assert_non_null(x.why);
	assert_non_null(strstr(x.why, why));
}

static void test_hostile(void **state)
{
	uint8_t m[64], dst[16];
	struct ndp_msg x;
	size_t len;

	sol_node(PEER_VIP, dst);
	len = ns_msg(m, PEER_VIP, GN_LL, dst, MAC_GN);
	expect_bad(m, len, GN_LL, dst, 254, "hop limit");     /* routed in */
	expect_bad(m, 3, GN_LL, dst, 255, "too short");
	expect_bad(m, 20, GN_LL, dst, 255, "shorter");        /* before the checksum */
	m[9] ^= 1;
	expect_bad(m, len, GN_LL, dst, 255, "checksum");
	m[9] ^= 1;
	m[1] = 1;
	expect_bad(m, len, GN_LL, dst, 255, "code");
	m[1] = 0;

	/* options: of length 0, and past the end */
	len = ns_msg(m, PEER_VIP, GN_LL, dst, MAC_GN);
	m[25] = 0;
	put_be16(m + 2, 0);
	put_be16(m + 2, ndp_csum(GN_LL, dst, m, len));
	expect_bad(m, len, GN_LL, dst, 255, "length 0");
	m[25] = 2;
	put_be16(m + 2, 0);
	put_be16(m + 2, ndp_csum(GN_LL, dst, m, len));
	expect_bad(m, len, GN_LL, dst, 255, "past the end");
	/* an odd trailing byte: a truncated option */
	len = ns_msg(m, PEER_VIP, GN_LL, dst, NULL);
	m[24] = 1;
	put_be16(m + 2, 0);
	put_be16(m + 2, ndp_csum(GN_LL, dst, m, 25));
	expect_bad(m, 25, GN_LL, dst, 255, "truncated option");

	/* a multicast source; a probe's link-layer option of length 2 */
	len = ns_msg(m, PEER_VIP, ALL_NODES, dst, MAC_GN);
	expect_bad(m, len, ALL_NODES, dst, 255, "multicast source");
	len = ns_msg(m, PEER_VIP, UNSPEC, dst, NULL);
	m[24] = 1;
	m[25] = 2;
	memset(m + 26, 0, 14);
	put_be16(m + 2, 0);
	put_be16(m + 2, ndp_csum(UNSPEC, dst, m, 40));
	expect_bad(m, 40, UNSPEC, dst, 255, "probe");

	/* a multicast target */
	len = ns_msg(m, ALL_NODES, GN_LL, dst, MAC_GN);
	expect_bad(m, len, GN_LL, dst, 255, "multicast target");
	/* probes: with a link-layer option, or not to the solicited node */
	len = ns_msg(m, PEER_VIP, UNSPEC, dst, MAC_GN);
	expect_bad(m, len, UNSPEC, dst, 255, "probe");
	len = ns_msg(m, PEER_VIP, UNSPEC, ALL_NODES, NULL);
	expect_bad(m, len, UNSPEC, ALL_NODES, 255, "probe");

	/* an NA to a multicast address marked solicited */
	memset(m, 0, 32);
	m[0] = NDP_NA;
	m[4] = NDP_NA_SOLICITED;
	memcpy(m + 8, GN_VIP, 16);
	put_be16(m + 2, ndp_csum(GN_LL, ALL_NODES, m, 24));
	expect_bad(m, 24, GN_LL, ALL_NODES, 255, "solicited");

	/* an RA from a global address */
	memset(m, 0, 16);
	m[0] = NDP_RA;
	put_be16(m + 2, ndp_csum(GN_VIP, ALL_NODES, m, 16));
	expect_bad(m, 16, GN_VIP, ALL_NODES, 255, "link-local");
	/* an RS from :: with a link-layer option */
	memset(m, 0, 16);
	m[0] = NDP_RS;
	m[8] = 1;
	m[9] = 1;
	memcpy(m + 10, MAC_GN, 6);
	put_be16(m + 2, ndp_csum(UNSPEC, ALL_NODES, m, 16));
	expect_bad(m, 16, UNSPEC, ALL_NODES, 255, "link-layer");

	/* not neighbour discovery: ignored, not malformed */
	memset(m, 0, 8);
	m[0] = 128;                                      /* echo request */
	assert_int_equal(ndp_parse(m, 8, GN_LL, ALL_NODES, 64, &x), NDP_IGNORED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_known_checksum, setup),
		cmocka_unit_test_setup(test_link_local, setup),
		cmocka_unit_test_setup(test_ns_for_peer_answered, setup),
		cmocka_unit_test_setup(test_ns_policy, setup),
		cmocka_unit_test_setup(test_ra, setup),
		cmocka_unit_test_setup(test_hostile, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
