/* The adapter's general-node table (gn.c): sync with the AS's list (add,
 * keep, change, remove, duplicates), lookups, unknown MACs logged once;
 * the nftables script (nat.c); and the status hook that adds the
 * adapter's members to `cyphonic status` (status.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "gn.h"
#include "json.h"
#include "nat.h"
#include "status.h"

static int drops;
static char dropped[8][CY_NAME_MAX + 1];

static void on_drop(void *arg, struct gn *g)
{
	assert_ptr_equal(arg, &drops);
	if (drops < 8)
		snprintf(dropped[drops], sizeof(dropped[0]), "%s", g->info.name);
	drops++;
}

static struct cy_gn mk(const char *name, uint8_t m, const char *vip)
{
	struct cy_gn i = { .mac = { 0x02, 0xc1, 0, 0, 0, m } };

	snprintf(i.name, sizeof(i.name), "%s", name);
	snprintf(i.fqdn, sizeof(i.fqdn), "%s.example.test", name);
	inet_pton(AF_INET, vip, &i.vip4);
	return i;
}

static void test_sync(void **state)
{
	struct gn_table *t = gn_table_new(on_drop, &drops);
	struct cy_gn l[3] = { mk("g1", 1, "100.64.0.5"), mk("g2", 2, "100.64.0.6"),
				mk("g3", 3, "100.64.0.7") };
	uint8_t mac2[6] = { 0x02, 0xc1, 0, 0, 0, 2 };
	struct in_addr a;
	struct gn *g2;
	uint64_t gen;

	drops = 0;
	assert_non_null(t);
	assert_int_equal(gn_table_sync(t, l, 3), 0);
	assert_int_equal(gn_count(t), 3);
	g2 = gn_by_mac(t, mac2);
	assert_non_null(g2);
	assert_string_equal(g2->info.name, "g2");
	g2->active = true;
	inet_pton(AF_INET, "100.64.0.7", &a);
	assert_string_equal(gn_by_vip4(t, &a)->info.name, "g3");

	/* Same list again: the same entries (owner state kept), no drops,
	 * the same generation. */
	gen = gn_table_gen(t);
	assert_int_equal(gn_table_sync(t, l, 3), 0);
	assert_true(gn_table_gen(t) == gen);
	assert_ptr_equal(gn_by_mac(t, mac2), g2);
	assert_true(g2->active);
	assert_int_equal(drops, 0);

	/* g1 gone (revoked), g3's VIP changed: both dropped, g3 re-added. */
	l[2].vip4.s_addr = htonl(0x64400009);
	assert_int_equal(gn_table_sync(t, &l[1], 2), 0);
	assert_true(gn_table_gen(t) != gen);
	assert_int_equal(drops, 2);
	assert_int_equal(gn_count(t), 2);
	assert_null(gn_by_vip4(t, &a));
	assert_ptr_equal(gn_by_mac(t, mac2), g2);
	assert_false(gn_by_mac(t, l[2].mac)->active);

	/* Empty list: everything goes. */
	assert_int_equal(gn_table_sync(t, NULL, 0), 0);
	assert_int_equal(gn_count(t), 0);
	assert_int_equal(drops, 4);
	gn_table_free(t);
	gn_table_free(NULL);
}

static void test_duplicates(void **state)
{
	struct gn_table *t = gn_table_new(on_drop, &drops);
	struct cy_gn l[3] = { mk("g1", 1, "100.64.0.5"), mk("g2", 1, "100.64.0.6"),
				mk("g3", 3, "100.64.0.5") };

	drops = 0;
	/* A MAC or VIP listed twice: the first wins. */
	assert_int_equal(gn_table_sync(t, l, 3), 2);
	assert_int_equal(gn_count(t), 1);
	assert_string_equal(gn_at(t, 0)->info.name, "g1");
	assert_null(gn_at(t, 1));
	gn_table_free(t);
	assert_int_equal(drops, 1);
}

/* VIPv6s: looked up, and one listed twice skipped as a VIPv4 is; none
 * (all zero, an old list) is no duplicate. */
static void test_vip6(void **state)
{
	struct gn_table *t = gn_table_new(on_drop, &drops);
	struct cy_gn l[4] = { mk("g1", 1, "100.64.0.5"), mk("g2", 2, "100.64.0.6"),
				mk("g3", 3, "100.64.0.7"), mk("g4", 4, "100.64.0.8") };
	struct in6_addr a;

	drops = 0;
	inet_pton(AF_INET6, "fd00:64::5", &l[0].vip6);
	inet_pton(AF_INET6, "fd00:64::6", &l[1].vip6);
	inet_pton(AF_INET6, "fd00:64::5", &l[2].vip6);     /* g1's */
	assert_int_equal(gn_table_sync(t, l, 4), 1);
	assert_int_equal(gn_count(t), 3);
	inet_pton(AF_INET6, "fd00:64::6", &a);
	assert_string_equal(gn_by_vip6(t, &a)->info.name, "g2");
	inet_pton(AF_INET6, "fd00:64::5", &a);
	assert_string_equal(gn_by_vip6(t, &a)->info.name, "g1");
	inet_pton(AF_INET6, "fd00:64::7", &a);
	assert_null(gn_by_vip6(t, &a));
	/* g3 and g4: no VIPv6 of their own, yet both listed */
	l[2].vip6 = in6addr_any;
	assert_int_equal(gn_table_sync(t, l, 4), 0);
	assert_int_equal(gn_count(t), 4);
	gn_table_free(t);
}

static void test_unknown_once(void **state)
{
	struct gn_table *t = gn_table_new(NULL, NULL);
	uint8_t m[6] = { 0x02, 0xc1, 0, 0, 0, 9 }, zero[6] = { 0 };
	struct cy_gn l = mk("g9", 9, "100.64.0.9");

	assert_true(gn_unknown_first(t, m));
	assert_false(gn_unknown_first(t, m));
	assert_false(gn_unknown_first(t, zero));
	/* Enrolled later: forgotten, so a later removal logs it again. */
	assert_int_equal(gn_table_sync(t, &l, 1), 0);
	assert_int_equal(gn_table_sync(t, NULL, 0), 0);
	assert_true(gn_unknown_first(t, m));
	/* A flood of MACs never grows the set past its bound. */
	for (unsigned i = 0; i < 3 * GN_UNKNOWN_MAX; i++) {
		uint8_t x[6] = { 0x02, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };

		assert_true(gn_unknown_first(t, x));
	}
	gn_table_free(t);
}

static void test_mac_str(void **state)
{
	uint8_t m[6] = { 0x02, 0xAB, 0, 0x10, 0xff, 1 };
	char s[18];

	assert_string_equal(cy_mac_str(m, s), "02:ab:00:10:ff:01");
}

static void test_nat_script(void **state)
{
	struct nat_cfg c = { .lan = "lan0", .tun = "cy0", .vip_len = 10, .masquerade = true,
			     .lan_mac = { 2, 0, 0x5e, 0, 0, 0xa1 } };
	char s[4096], small[64];

	inet_pton(AF_INET, "100.64.0.3", &c.lan_ip);
	inet_pton(AF_INET, "100.64.0.3", &c.vip_net);    /* masked to the network */
	assert_true(nat_script(&c, s, sizeof(s)) > 0);
	assert_non_null(strstr(s, "table inet cyphonic_adapter_lan0 {"));
	assert_non_null(strstr(s, "iifname \"lan0\" udp dport 67 counter drop"));
	assert_null(strstr(s, "netdev"));
	assert_true(nat_ingress_script(&c, s, sizeof(s)) > 0);
	assert_non_null(strstr(s, "table netdev cyphonic_adapter_lan0 {"));
	assert_non_null(strstr(s, "hook ingress device \"lan0\""));
	assert_non_null(strstr(s, "ether daddr 02:00:5e:00:00:a1 ip daddr 100.64.0.0/10 "
			       "ip daddr != 100.64.0.3 counter drop"));
	assert_int_equal(nat_ingress_script(&c, small, sizeof(small)), -ENOSPC);
	assert_true(nat_script(&c, s, sizeof(s)) > 0);
	assert_non_null(strstr(s, "iifname \"lan0\" ip daddr 100.64.0.3 udp dport 53"));
	/* a VIP source from another MAC: neither taken (input) nor routed
	 * (forward) */
	{
		const char *rule = "iifname \"lan0\" ip saddr 100.64.0.0/10 ether saddr . ip saddr "
				   "!= @gn4 counter drop";
		const char *in = strstr(s, "chain input"), *fwd = strstr(s, "chain forward");
		const char *r1 = strstr(s, rule), *r2 = r1 ? strstr(r1 + 1, rule) : NULL;

		assert_non_null(in);
		assert_non_null(fwd);
		assert_non_null(r2);
		assert_true(in < r1 && r1 < fwd && fwd < r2);
	}
	assert_non_null(strstr(s, "iifname \"lan0\" oifname != \"lan0\" ip daddr 100.64.0.0/10 counter drop"));
	/* only the LAN's own traffic is masqueraded, nothing from the TUN
	 * (overlay peers) is forwarded, and the uplink reaches the LAN only
	 * with replies */
	assert_non_null(strstr(s, "iifname \"lan0\" ip saddr 100.64.0.0/10 oifname != \"lan0\""
			       " counter masquerade"));
	assert_non_null(strstr(s, "iifname \"cy0\" counter drop"));
	assert_non_null(strstr(s, "oifname \"cy0\" counter drop"));
	assert_non_null(strstr(s, "oifname \"lan0\" ct state established,related accept\n"
			       "    oifname \"lan0\" iifname != \"lan0\" counter drop"));
	c.masquerade = false;
	assert_true(nat_script(&c, s, sizeof(s)) > 0);
	assert_null(strstr(s, "masquerade"));
	assert_non_null(strstr(s, "iifname \"cy0\" counter drop"));
	assert_int_equal(nat_script(&c, small, sizeof(small)), -ENOSPC);
	nat_table_name("lan.1-x", small, sizeof(small));
	assert_string_equal(small, "cyphonic_adapter_lan_1_x");
}

/* With a VIPv6 range: DHCPv6, DNS and RAs from the LAN kept from the
 * kernel, the range tunnelled (not forwarded), masqueraded with nat,
 * and dropped at ingress as the IPv4 one. */
static void test_nat_script6(void **state)
{
	struct nat_cfg c = { .lan = "lan0", .tun = "cy0", .vip_len = 10, .masquerade = true,
			     .lan_mac = { 2, 0, 0x5e, 0, 0, 0xa1 }, .vip6_len = 48 };
	char s[4096];

	inet_pton(AF_INET, "100.64.0.3", &c.lan_ip);
	inet_pton(AF_INET, "100.64.0.3", &c.vip_net);
	inet_pton(AF_INET6, "fd00:64:1::3", &c.lan_ip6);
	inet_pton(AF_INET6, "fd00:64:1::3", &c.vip6_net);   /* masked to the network */
	assert_true(nat_script(&c, s, sizeof(s)) > 0);
	assert_non_null(strstr(s, "iifname \"lan0\" udp dport 547 counter drop"));
	assert_non_null(strstr(s, "iifname \"lan0\" ip6 daddr { fd00:64:1::3, fe80::/10 } "
			       "udp dport 53 counter drop"));
	assert_non_null(strstr(s, "iifname \"lan0\" icmpv6 type nd-router-advert counter drop"));
	{
		const char *rule = "iifname \"lan0\" ip6 saddr fd00:64:1::/48 ether saddr . ip6 saddr "
				   "!= @gn6 counter drop";
		const char *r1 = strstr(s, rule), *fwd = strstr(s, "chain forward");

		assert_non_null(r1);
		assert_true(r1 < fwd);
		assert_non_null(strstr(fwd, rule));
	}
	assert_non_null(strstr(s, "iifname \"lan0\" oifname != \"lan0\" ip6 daddr "
			       "fd00:64:1::/48 counter drop"));
	assert_non_null(strstr(s, "iifname \"lan0\" ip6 saddr fd00:64:1::/48 accept"));
	assert_non_null(strstr(s, "iifname \"lan0\" ip6 saddr fd00:64:1::/48 oifname != \"lan0\" "
			       "counter masquerade"));
	assert_true(nat_ingress_script(&c, s, sizeof(s)) > 0);
	assert_non_null(strstr(s, "ether daddr 02:00:5e:00:00:a1 ip6 daddr fd00:64:1::/48 "
			       "ip6 daddr != fd00:64:1::3 counter drop"));
	c.masquerade = false;
	assert_true(nat_script(&c, s, sizeof(s)) > 0);
	assert_null(strstr(s, "masquerade"));
	assert_null(strstr(s, "ip6 saddr fd00:64:1::/48 accept"));
	/* without IPv6: no IPv6 rule at all */
	c.vip6_len = 0;
	assert_true(nat_script(&c, s, sizeof(s)) > 0);
	assert_null(strstr(s, "ip6"));
	assert_null(strstr(s, "547"));
	c.vip6_len = 129;
	assert_int_equal(nat_script(&c, s, sizeof(s)), -EINVAL);
}

/* The rules that check MAC . source against the enrolled general nodes,
 * and the script that fills their sets. */
static void test_nat_gn_sets(void **state)
{
	struct nat_cfg c = { .lan = "lan0", .tun = "cy0", .vip_len = 10, .masquerade = true,
			     .vip6_len = 48 };
	struct gn_table *t = gn_table_new(NULL, NULL);
	struct cy_gn l[2] = { mk("g1", 1, "100.64.0.5"), mk("g2", 2, "100.64.0.6") };
	char s[4096], small[80];

	inet_pton(AF_INET, "100.64.0.3", &c.lan_ip);
	inet_pton(AF_INET, "100.64.0.3", &c.vip_net);
	inet_pton(AF_INET6, "fd00:64:1::3", &c.lan_ip6);
	inet_pton(AF_INET6, "fd00:64:1::3", &c.vip6_net);
	assert_true(nat_script(&c, s, sizeof(s)) > 0);
	assert_non_null(strstr(s, "set gn4 { type ether_addr . ipv4_addr; }"));
	assert_non_null(strstr(s, "set gn6 { type ether_addr . ipv6_addr; }"));
	assert_non_null(strstr(s, "iifname \"lan0\" ip daddr 100.64.0.3 tcp dport 53 "
			       "ether saddr . ip saddr != @gn4 counter drop"));
	assert_non_null(strstr(s, "iifname \"lan0\" ip6 daddr fe80::/10 tcp dport 53 "
			       "ether saddr != @gnmac counter drop"));
	assert_non_null(strstr(s, "iifname \"lan0\" ip saddr 100.64.0.0/10 "
			       "ether saddr . ip saddr != @gn4 counter drop\n"
			       "    iifname \"lan0\" ip6 saddr fd00:64:1::/48 "
			       "ether saddr . ip6 saddr != @gn6 counter drop\n"
			       "    iifname \"lan0\" ip saddr 100.64.0.0/10 accept"));

	/* empty: the sets flushed, no element added (an empty list is no
	 * valid nft) */
	assert_true(nat_gn_script("lan0", true, t, s, sizeof(s)) > 0);
	assert_string_equal(s, "flush set inet cyphonic_adapter_lan0 gn4\n"
			       "flush set inet cyphonic_adapter_lan0 gnmac\n"
			       "flush set inet cyphonic_adapter_lan0 gn6\n");
	/* g2 has no VIPv6: in gn4 and gnmac only */
	inet_pton(AF_INET6, "fd00:64:1::5", &l[0].vip6);
	assert_int_equal(gn_table_sync(t, l, 2), 0);
	assert_true(nat_gn_script("lan0", true, t, s, sizeof(s)) > 0);
	assert_non_null(strstr(s, "add element inet cyphonic_adapter_lan0 gn4 { "
			       "02:c1:00:00:00:01 . 100.64.0.5, 02:c1:00:00:00:02 . 100.64.0.6, }\n"));
	assert_non_null(strstr(s, "add element inet cyphonic_adapter_lan0 gnmac { "
			       "02:c1:00:00:00:01, 02:c1:00:00:00:02, }\n"));
	assert_non_null(strstr(s, "add element inet cyphonic_adapter_lan0 gn6 { "
			       "02:c1:00:00:00:01 . fd00:64:1::5, }\n"));
	assert_true(nat_gn_script("lan0", false, t, s, sizeof(s)) > 0);
	assert_null(strstr(s, "gn6"));
	assert_int_equal(nat_gn_script("lan0", true, t, small, sizeof(small)), -ENOSPC);
	gn_table_free(t);
}

/* The forward chain of a script: from its first line to its closing brace. */
static const char *forward_chain(const char *script, char *out, size_t cap)
{
	const char *b = strstr(script, "  chain forward {\n"), *e;

	assert_non_null(b);
	e = strstr(b, "\n  }\n");
	assert_non_null(e);
	assert_true((size_t)(e - b) + 1 < cap);
	memcpy(out, b, (size_t)(e - b) + 1);
	out[e - b + 1] = '\0';
	return out;
}

/* IPv4 forwarding (net.ipv4.ip_forward): the GNs' overlay traffic goes
 * through the packet socket, only their NATed Internet traffic needs the
 * kernel to route.  Three cases:
 *   - nat = no: the adapter never turns forwarding on; the TUN and LAN
 *     rules stay (they matter when the host forwards on its own);
 *   - nat = yes on a host that did not forward: the adapter turns it on,
 *     and the forward chain passes only the GNs' own traffic out of the
 *     LAN and its replies (and the LAN's bridged frames), then drops every
 *     other IPv4 packet: no routing between the host's other interfaces
 *     (uplink -> a container bridge or a VPN) because of the adapter;
 *   - nat = yes on a host that forwarded already: left alone, only the
 *     TUN and LAN rules. */
static void test_nat_forwarding(void **state)
{
	static const char *const lan_rules[] = {
		"    iifname \"cy0\" counter drop\n",
		"    oifname \"cy0\" counter drop\n",
		"    iifname \"lan0\" oifname != \"lan0\" ip daddr 100.64.0.0/10 counter drop\n",
		"    oifname \"lan0\" ct state established,related accept\n"
		"    oifname \"lan0\" iifname != \"lan0\" counter drop\n",
	};
	static const char gn_out[] = "    iifname \"lan0\" ip saddr 100.64.0.0/10 accept\n";
	static const char only_ours[] = "    iifname \"lan0\" oifname \"lan0\" accept\n"
					"    meta nfproto ipv4 counter drop\n";
	struct nat_cfg c = { .lan = "lan0", .tun = "cy0", .vip_len = 10 };
	char s[4096], fw[2048];
	const char *f;

	inet_pton(AF_INET, "100.64.0.3", &c.lan_ip);
	inet_pton(AF_INET, "100.64.0.0", &c.vip_net);

	/* nat = no, whatever the host did: forwarding is not ours to turn on. */
	for (int host = 0; host < 2; host++) {
		c.masquerade = false;
		c.host_forwards = host;
		assert_false(nat_sets_forward(&c));
		assert_true(nat_script(&c, s, sizeof(s)) > 0);
		f = forward_chain(s, fw, sizeof(fw));
		for (size_t i = 0; i < sizeof(lan_rules) / sizeof(lan_rules[0]); i++)
			assert_non_null(strstr(f, lan_rules[i]));
		assert_null(strstr(f, gn_out));
		assert_null(strstr(f, "nfproto ipv4"));
		assert_null(strstr(s, "masquerade"));
	}

	/* nat = yes, forwarding off before: on, for the GNs only.  The drop
	 * is the chain's last rule, after what it lets through. */
	c.masquerade = true;
	c.host_forwards = false;
	assert_true(nat_sets_forward(&c));
	assert_true(nat_script(&c, s, sizeof(s)) > 0);
	f = forward_chain(s, fw, sizeof(fw));
	for (size_t i = 0; i < sizeof(lan_rules) / sizeof(lan_rules[0]); i++)
		assert_non_null(strstr(f, lan_rules[i]));
	assert_non_null(strstr(f, gn_out));
	assert_non_null(strstr(f, only_ours));
	assert_true(strstr(f, only_ours) > strstr(f, gn_out));
	assert_true(strstr(f, only_ours) > strstr(f, lan_rules[3]));
	assert_string_equal(strstr(f, only_ours), only_ours); /* nothing after it */
	assert_non_null(strstr(s, "counter masquerade"));

	/* nat = yes, the host forwarded already: its other interfaces are
	 * left alone. */
	c.host_forwards = true;
	assert_false(nat_sets_forward(&c));
	assert_true(nat_script(&c, s, sizeof(s)) > 0);
	f = forward_chain(s, fw, sizeof(fw));
	for (size_t i = 0; i < sizeof(lan_rules) / sizeof(lan_rules[0]); i++)
		assert_non_null(strstr(f, lan_rules[i]));
	assert_non_null(strstr(f, gn_out));
	assert_null(strstr(f, "nfproto ipv4"));
	assert_non_null(strstr(s, "counter masquerade"));
}

static void more(void *arg, struct json *j)
{
	json_arr_begin(j, "general_nodes");
	json_obj_begin(j, NULL);
	json_str(j, "fqdn", arg);
	json_null(j, "lease");
	json_obj_end(j);
	json_arr_end(j);
}

static void test_status_more(void **state)
{
	struct sig_info in = { .state = SIG_REGISTERED };
	struct status_extra ex = { .more = more, .more_arg = "g1.example.test" };
	char out[2048];
	long n;

	n = status_format_ext(&in, &ex, 0, out, sizeof(out));
	assert_true(n > 0);
	assert_non_null(strstr(out, ",\"general_nodes\":[{\"fqdn\":\"g1.example.test\","
				    "\"lease\":null}]}\n"));
	/* Too small: refused, never truncated JSON. */
	assert_int_equal(status_format_ext(&in, &ex, 0, out, 40), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_unknown_once),
		cmocka_unit_test(test_mac_str),
		cmocka_unit_test(test_vip6),
		cmocka_unit_test(test_nat_script),
		cmocka_unit_test(test_nat_script6),
		cmocka_unit_test(test_nat_gn_sets),
		cmocka_unit_test(test_nat_forwarding),
		cmocka_unit_test(test_status_more),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
