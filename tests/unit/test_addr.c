/* Socket address parsing and printing. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"

static struct sockaddr_storage ss;
static socklen_t sl;
static char out[ADDR_STR_MAX];

static void ok(const char *in, uint16_t dflt, int fam, const char *want)
{
	sl = 0;
	if (addr_parse(in, dflt, &ss, &sl) != 0)
		fail_msg("'%s' refused", in);
	assert_int_equal(ss.ss_family, fam);
	assert_int_equal(sl, fam == AF_INET ? sizeof(struct sockaddr_in)
					    : sizeof(struct sockaddr_in6));
	assert_int_equal(addr_len((struct sockaddr *)&ss), sl);
	assert_string_equal(addr_str((struct sockaddr *)&ss, out), want);
}

static void bad(const char *in, uint16_t dflt)
{
	if (addr_parse(in, dflt, &ss, &sl) != -EINVAL)
		fail_msg("'%s' accepted", in);
}

static void test_parse_good(void **state)
{
	ok("192.0.2.1", 7443, AF_INET, "192.0.2.1:7443");
	ok("192.0.2.1:7444", 7443, AF_INET, "192.0.2.1:7444");
	ok("0.0.0.0:1", 7443, AF_INET, "0.0.0.0:1");
	ok("255.255.255.255:65535", 0, AF_INET, "255.255.255.255:65535");
	ok("2001:db8::1", 7443, AF_INET6, "[2001:db8::1]:7443");
	ok("[2001:db8::1]", 7443, AF_INET6, "[2001:db8::1]:7443");
	ok("[2001:db8::1]:7446", 7443, AF_INET6, "[2001:db8::1]:7446");
	ok("[::]:7444", 7443, AF_INET6, "[::]:7444");
	ok("::", 1, AF_INET6, "[::]:1");
	ok("[::ffff:192.0.2.1]:5", 1, AF_INET6, "[::ffff:192.0.2.1]:5");
	ok("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", 1, AF_INET6,
	   "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	/* no default port: port 0 when none is given */
	ok("203.0.113.9", 0, AF_INET, "203.0.113.9:0");
	assert_int_equal(addr_port((struct sockaddr *)&ss), 0);
	/* the port is stored in network byte order */
	assert_int_equal(addr_parse("198.51.100.1:258", 0, &ss, &sl), 0);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, htons(258));
	assert_string_equal(addr_ip_str((struct sockaddr *)&ss, out), "198.51.100.1");
	assert_int_equal(addr_parse("[2001:db8::5]:9", 0, &ss, &sl), 0);
	assert_string_equal(addr_ip_str((struct sockaddr *)&ss, out), "2001:db8::5");
}

static void test_parse_bad(void **state)
{
	bad("", 1);
	bad(":", 1);
	bad(":80", 1);
	bad("192.0.2.1:", 1);
	bad("192.0.2.1:0", 1);
	bad("192.0.2.1:0", 0);
	bad("192.0.2.1:65536", 1);
	bad("192.0.2.1:99999999999999999999", 1);
	bad("192.0.2.1:-1", 1);
	bad("192.0.2.1:80x", 1);
	bad("192.0.2.1:x80", 1);
	bad("192.0.2.1:0x50", 1);
	bad("192.0.2.1:8 0", 1);
	bad("192.0.2.256", 1);
	bad("192.0.2", 1);
	bad("192.0.2.1.5", 1);
	bad("example.test", 1);
	bad("example.test:80", 1);
	bad("[2001:db8::1]:", 1);
	bad("[2001:db8::1]:0", 1);
	bad("[2001:db8::1]:65536", 1);
	bad("[2001:db8::1]x", 1);
	bad("[2001:db8::1]80", 1);
	bad("[2001:db8::1", 1);
	bad("2001:db8::1]", 1);
	bad("[]", 1);
	bad("[]:80", 1);
	bad("[2001:db8::g]", 1);
	bad("2001:db8:::1", 1);
	bad("[fe80::1%eth0]:80", 1);
	/* too long for the host buffer, bracketed and not */
	{
		char big[200];
		memset(big, '1', sizeof(big));
		big[sizeof(big) - 1] = '\0';
		bad(big, 1);
		big[0] = '[';
		big[150] = ']';
		big[151] = '\0';
		bad(big, 1);
	}
}

/* addr_map: what addr_unmap undoes, only towards a dual-stack socket. */
static void test_map(void **state)
{
	struct sockaddr_storage v4, v6, m;
	socklen_t l;

	assert_int_equal(addr_parse("192.0.2.7:7446", 0, &v4, &l), 0);
	assert_int_equal(addr_parse("[2001:db8::7]:1", 0, &v6, &l), 0);
	assert_int_equal(addr_map((struct sockaddr *)&v4, AF_INET6, &m),
			 sizeof(struct sockaddr_in6));
	assert_string_equal(addr_str((struct sockaddr *)&m, out), "[::ffff:192.0.2.7]:7446");
	l = sizeof(struct sockaddr_in6);
	addr_unmap(&m, &l);
	assert_true(addr_equal((struct sockaddr *)&m, (struct sockaddr *)&v4));
	assert_int_equal(addr_map((struct sockaddr *)&v4, AF_INET, &m), sizeof(struct sockaddr_in));
	assert_true(addr_equal((struct sockaddr *)&m, (struct sockaddr *)&v4));
	assert_int_equal(addr_map((struct sockaddr *)&v6, AF_INET6, &m),
			 sizeof(struct sockaddr_in6));
	assert_true(addr_equal((struct sockaddr *)&m, (struct sockaddr *)&v6));
}

static void test_unmap(void **state)
{
	struct sockaddr_storage b;
	socklen_t bl;

	assert_int_equal(addr_parse("[::ffff:192.0.2.7]:7446", 0, &ss, &sl), 0);
	addr_unmap(&ss, &sl);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(sl, sizeof(struct sockaddr_in));
	assert_string_equal(addr_str((struct sockaddr *)&ss, out), "192.0.2.7:7446");
	assert_int_equal(addr_parse("192.0.2.7:7446", 0, &b, &bl), 0);
	assert_true(addr_equal((struct sockaddr *)&ss, (struct sockaddr *)&b));
	/* len may be NULL */
	assert_int_equal(addr_parse("[::ffff:10.0.0.1]:1", 0, &ss, &sl), 0);
	addr_unmap(&ss, NULL);
	assert_int_equal(ss.ss_family, AF_INET);
	/* a plain v6 address and a v4 one stay as they are */
	assert_int_equal(addr_parse("[2001:db8::7]:1", 0, &ss, &sl), 0);
	b = ss;
	addr_unmap(&ss, &sl);
	assert_memory_equal(&b, &ss, sizeof(ss));
	assert_int_equal(sl, sizeof(struct sockaddr_in6));
	assert_int_equal(addr_parse("[::192.0.2.1]:1", 0, &ss, &sl), 0); /* compat, not mapped */
	addr_unmap(&ss, &sl);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(addr_parse("192.0.2.1:1", 0, &ss, &sl), 0);
	b = ss;
	addr_unmap(&ss, &sl);
	assert_memory_equal(&b, &ss, sizeof(ss));
}

static void test_equal_port(void **state)
{
	struct sockaddr_storage a, b;
	socklen_t al, bl;

	assert_int_equal(addr_parse("192.0.2.1:5", 0, &a, &al), 0);
	assert_int_equal(addr_parse("192.0.2.1:5", 0, &b, &bl), 0);
	assert_true(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_true(addr_equal_ip((struct sockaddr *)&a, (struct sockaddr *)&b));
	addr_set_port((struct sockaddr *)&b, 6);
	assert_int_equal(addr_port((struct sockaddr *)&b), 6);
	assert_false(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_true(addr_equal_ip((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_int_equal(addr_parse("192.0.2.2:5", 0, &b, &bl), 0);
	assert_false(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_false(addr_equal_ip((struct sockaddr *)&a, (struct sockaddr *)&b));
	/* a mapped v6 is not equal to its v4 until unmapped */
	assert_int_equal(addr_parse("[::ffff:192.0.2.1]:5", 0, &b, &bl), 0);
	assert_false(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_false(addr_equal_ip((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_int_equal(addr_parse("[2001:db8::1]:5", 0, &a, &al), 0);
	assert_int_equal(addr_parse("[2001:db8::1]:5", 0, &b, &bl), 0);
	assert_true(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	addr_set_port((struct sockaddr *)&b, 65535);
	assert_false(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_int_equal(addr_parse("[2001:db8::2]:5", 0, &b, &bl), 0);
	assert_false(addr_equal_ip((struct sockaddr *)&a, (struct sockaddr *)&b));
	/* other families: never equal, printed as (none), port 0 */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.ss_family = b.ss_family = AF_UNIX;
	assert_false(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_string_equal(addr_str((struct sockaddr *)&a, out), "(none)");
	assert_string_equal(addr_ip_str((struct sockaddr *)&a, out), "(none)");
	assert_int_equal(addr_port((struct sockaddr *)&a), 0);
	addr_set_port((struct sockaddr *)&a, 5); /* ignored */
	assert_int_equal(addr_port((struct sockaddr *)&a), 0);
}

/* MACs as text: the exact form only, either case in, lower case out, the
 * MAC untouched on failure; a device's own (unicast, not zero) told apart
 * from group addresses. */
/* IPv6 prefixes: whole bytes, a partial byte, the edges (0, 128, past). */
static void test_in6_prefix(void **state)
{
	const uint8_t net[16] = { 0xfd, 0x00, 0x00, 0x64 };
	uint8_t a[16] = { 0xfd, 0x00, 0x00, 0x64, [15] = 7 };

	assert_true(addr_in6_prefix(a, net, 48));
	assert_true(addr_in6_prefix(a, net, 30));
	a[5] = 1;
	assert_true(addr_in6_prefix(a, net, 40));
	assert_false(addr_in6_prefix(a, net, 48));
	assert_true(addr_in6_prefix(a, net, 47));
	a[3] = 0x65;                     /* ...0110 0101 against ...0110 0100 */
	assert_true(addr_in6_prefix(a, net, 31));
	assert_false(addr_in6_prefix(a, net, 32));
	assert_false(addr_in6_prefix(net, net, 0));
	assert_true(addr_in6_prefix(net, net, 128));
	assert_false(addr_in6_prefix(net, net, 129));
}

static void test_mac(void **state)
{
	static const char *const bad[] = {
		"", "02:00:00:00:00", "02:00:00:00:00:01:", "02-00-00-00-00-01",
		"02:00:00:00:00:0g", "2:0:0:0:0:1", "02:00:00:00:00:001", "02:00:00:00:00: 1",
		"02:00:00:00:00:01 ", "020000000001x", "2:0a:ff:00:10:9b0",
	};
	static const char *const group[] = {
		"01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "33:33:00:00:00:01",
	};
	uint8_t mac[6];
	char s[CY_MAC_STR];

	assert_true(cy_mac_parse("02:AA:bb:Cc:dD:ef", mac));
	assert_string_equal(cy_mac_str(mac, s), "02:aa:bb:cc:dd:ef");
	assert_true(cy_mac_unicast(mac));
	assert_true(cy_mac_parse("00:00:00:00:00:01", mac));
	assert_true(cy_mac_unicast(mac));
	assert_true(cy_mac_parse("fe:ff:ff:ff:ff:ff", mac));
	assert_true(cy_mac_unicast(mac));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(mac, 0x5a, sizeof(mac));
		if (cy_mac_parse(bad[i], mac))
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(mac[0], 0x5a); /* untouched */
	}
	for (size_t i = 0; i < sizeof(group) / sizeof(group[0]); i++) {
		assert_true(cy_mac_parse(group[i], mac));
		if (cy_mac_unicast(mac))
			fail_msg("'%s' taken for a device's own MAC", group[i]);
	}
	assert_int_equal(cy_hex_digit('7'), 7);
	assert_int_equal(cy_hex_digit('B'), 11);
	assert_int_equal(cy_hex_digit('g'), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_in6_prefix),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_equal_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
