/* netwatch_parse: which rtnetlink notifications count as a possible move. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netwatch.h"

/* One message of type with a zeroed payload of plen bytes at buf. */
static size_t msg(uint8_t *buf, uint16_t type, size_t plen)
{
	struct nlmsghdr *h = (struct nlmsghdr *)buf;

	memset(buf, 0, NLMSG_SPACE(plen));
	h->nlmsg_len = (uint32_t)NLMSG_LENGTH(plen);
	h->nlmsg_type = type;
	return NLMSG_SPACE(plen);
}

static void test_changes(void **state)
{
	static const uint16_t yes[] = { RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR,
					RTM_DELADDR, RTM_NEWROUTE, RTM_DELROUTE };
	_Alignas(struct nlmsghdr) uint8_t buf[512] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_int_equal(netwatch_parse(buf, msg(buf, yes[i], 16)), 1);
	assert_int_equal(netwatch_parse(buf, msg(buf, RTM_NEWNEIGH, 16)), 0);
	assert_int_equal(netwatch_parse(buf, msg(buf, RTM_GETLINK, 16)), 0);
}

/* A change after an uninteresting message in the same read counts. */
static void test_batch(void **state)
{
	_Alignas(struct nlmsghdr) uint8_t buf[512] = { 0 };
	size_t n;

	(void)state;
	n = msg(buf, RTM_NEWNEIGH, 16);
	n += msg(buf + n, RTM_DELADDR, 24);
	assert_int_equal(netwatch_parse(buf, n), 1);
}

/* Truncated or lying lengths are no change, and read nothing beyond. */
static void test_hostile(void **state)
{
	_Alignas(struct nlmsghdr) uint8_t buf[512] = { 0 };
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	size_t n;

	(void)state;
	assert_int_equal(netwatch_parse(buf, 0), 0);
	n = msg(buf, RTM_NEWADDR, 16);
	assert_int_equal(netwatch_parse(buf, sizeof(*h) - 1), 0);
	h->nlmsg_len = 4096;                     /* longer than the read */
	assert_int_equal(netwatch_parse(buf, n), 0);
	h->nlmsg_len = 3;                        /* shorter than a header */
	assert_int_equal(netwatch_parse(buf, n), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
