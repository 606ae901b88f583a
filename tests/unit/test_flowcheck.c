/* The access policy's protocols and ports on inner packets
 * (src/node/dataplane/flowcheck.c, src/proto/flows.c): IPv4 and IPv6
 * packets classified (extension headers, fragments), the flows decided
 * both ways, hostile packets and hostile FLOWS attributes refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flowcheck.h"
#include "flows.h"

/* 20 bytes of IPv4, 20 of transport (TCP flags 0: not a SYN). */
static size_t v4(uint8_t *p, uint8_t proto, uint16_t sport, uint16_t dport, uint16_t frag)
{
	memset(p, 0, 40);
	p[0] = 0x45;
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	p[9] = proto;
	p[20] = (uint8_t)(sport >> 8);
	p[21] = (uint8_t)sport;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	return 40;
}

/* IPv6 with a hop-by-hop header (8 bytes) then proto. */
static size_t v6(uint8_t *p, uint8_t proto, uint16_t sport, uint16_t dport)
{
	memset(p, 0, 60);
	p[0] = 0x60;
	p[6] = 0;          /* hop-by-hop */
	p[40] = proto;     /* its next header */
	p[41] = 0;         /* 8 bytes */
	p[48] = (uint8_t)(sport >> 8);
	p[49] = (uint8_t)sport;
	p[50] = (uint8_t)(dport >> 8);
	p[51] = (uint8_t)dport;
	return 56;
}

static void test_classify(void **state)
{
	uint8_t p[80], proto;
	uint16_t s, d;
	bool ports, opens;

	(void)state;
	assert_int_equal(flow_classify(p, v4(p, 6, 1234, 554, 0), &proto, &s, &d, &ports, &opens),
			 0);
	assert_true(proto == 6 && s == 1234 && d == 554 && ports);
	assert_false(opens);    /* flags 0 */
	p[33] = 0x02;           /* SYN */
	assert_int_equal(flow_classify(p, 40, &proto, &s, &d, &ports, &opens), 0);
	assert_true(opens);
	p[33] = 0x12;           /* SYN ACK */
	assert_int_equal(flow_classify(p, 40, &proto, &s, &d, &ports, &opens), 0);
	assert_false(opens);
	/* Ports but no flags (a tiny first fragment): opens. */
	assert_int_equal(flow_classify(p, 28, &proto, &s, &d, &ports, &opens), 0);
	assert_true(ports && opens);
	/* DF set: still the first fragment. */
	assert_int_equal(flow_classify(p, v4(p, 17, 53, 5353, 0x4000), &proto, &s, &d, &ports, &opens), 0);
	assert_true(proto == 17 && d == 5353 && ports);
	/* A later fragment: no ports. */
	assert_int_equal(flow_classify(p, v4(p, 6, 1, 2, 0x0010), &proto, &s, &d, &ports, &opens), 0);
	assert_true(proto == 6 && !ports && s == 0 && d == 0);
	assert_int_equal(flow_classify(p, v4(p, 1, 0, 0, 0), &proto, &s, &d, &ports, &opens), 0);
	assert_true(proto == 1 && !ports);
	assert_int_equal(flow_classify(p, v6(p, 6, 999, 22), &proto, &s, &d, &ports, &opens), 0);
	assert_true(proto == 6 && s == 999 && d == 22 && ports);
	assert_int_equal(flow_classify(p, v6(p, 58, 0, 0), &proto, &s, &d, &ports, &opens), 0);
	assert_true(proto == 58 && !ports);
	/* Hostile: empty, a version that is neither, IHL below 5, headers cut
	 * short, an extension header running past the end, a loop of them. */
	assert_int_equal(flow_classify(p, 0, &proto, &s, &d, &ports, &opens), -1);
	p[0] = 0x55;
	assert_int_equal(flow_classify(p, 28, &proto, &s, &d, &ports, &opens), -1);
	v4(p, 6, 1, 2, 0);
	p[0] = 0x44;
	assert_int_equal(flow_classify(p, 28, &proto, &s, &d, &ports, &opens), -1);
	v4(p, 6, 1, 2, 0);
	assert_int_equal(flow_classify(p, 19, &proto, &s, &d, &ports, &opens), -1);
	assert_int_equal(flow_classify(p, 22, &proto, &s, &d, &ports, &opens), 0);   /* ports cut */
	assert_false(ports);
	v6(p, 6, 1, 2);
	assert_int_equal(flow_classify(p, 39, &proto, &s, &d, &ports, &opens), -1);
	p[41] = 200;   /* hop-by-hop of 1608 bytes */
	assert_int_equal(flow_classify(p, 56, &proto, &s, &d, &ports, &opens), -1);
	v6(p, 0, 1, 2);   /* hop-by-hop after hop-by-hop ... */
	memset(p + 40, 0, 16);
	assert_int_equal(flow_classify(p, 56, &proto, &s, &d, &ports, &opens), -1);
}

static void test_allowed(void **state)
{
	struct flow_rules r = { .out = { .n = 2, .f = { { 6, 554, 554 }, { 1, 0, 65535 } } },
				.in = { .n = 1, .f = { { 17, 0, 65535 } } } };
	uint8_t p[80];

	(void)state;
	memset(p, 0, sizeof(p));
	/* Out: TCP to 554 and ICMP; in: any UDP. */
	assert_true(flow_allowed(&r, p, v4(p, 6, 40000, 554, 0), true));
	assert_false(flow_allowed(&r, p, v4(p, 6, 40000, 80, 0), true));
	assert_true(flow_allowed(&r, p, v4(p, 6, 554, 40000, 0), false));   /* the answer */
	/* ...unless it is a SYN: the peer choosing source port 554 to open a
	 * connection to our port 22 gets nothing; a SYN ACK answers. */
	v4(p, 6, 554, 22, 0);
	p[33] = 0x02;
	assert_false(flow_allowed(&r, p, 40, false));
	p[33] = 0x12;
	assert_true(flow_allowed(&r, p, 40, false));
	assert_false(flow_allowed(&r, p, 28, false));   /* flags cut off */
	assert_false(flow_allowed(&r, p, v4(p, 6, 555, 40000, 0), false));
	assert_true(flow_allowed(&r, p, v4(p, 1, 0, 0, 0), true));
	assert_true(flow_allowed(&r, p, v6(p, 58, 0, 0), false));
	assert_true(flow_allowed(&r, p, v4(p, 17, 9, 53, 0), false));      /* theirs: any UDP */
	assert_true(flow_allowed(&r, p, v4(p, 17, 53, 9, 0), true));       /* our answer */
	/* A later TCP fragment: only where TCP goes to every port. */
	assert_false(flow_allowed(&r, p, v4(p, 6, 0, 0, 0x0010), true));
	assert_true(flow_allowed(&r, p, v4(p, 17, 0, 0, 0x0010), false));
	/* Unreadable: refused. */
	assert_false(flow_allowed(&r, p, 3, true));
}

static void test_wire(void **state)
{
	struct cy_flows f = { .n = 2, .f = { { 6, 554, 554 }, { 17, 1000, 2000 } } }, g;
	uint8_t buf[512];
	struct cy_builder b;
	struct cy_msg m;
	ssize_t n;

	(void)state;
	cy_build_start(&b, buf, sizeof(buf), CY_ROUTE_DIRECTION);
	cy_put_flows(&b, CY_A_FLOWS_OUT, &f);
	f.all = true;
	cy_put_flows(&b, CY_A_FLOWS_IN, &f);   /* everything: no attribute */
	n = cy_build_finish(&b);
	assert_true(n > 0);
	assert_int_equal(cy_msg_parse(&m, buf, (size_t)n), 0);
	assert_true(cy_msg_flows(&m, CY_A_FLOWS_OUT, &g));
	assert_false(g.all);
	assert_int_equal(g.n, 2);
	assert_true(g.f[0].proto == 6 && g.f[0].lo == 554 && g.f[0].hi == 554);
	assert_true(g.f[1].proto == 17 && g.f[1].lo == 1000 && g.f[1].hi == 2000);
	assert_true(cy_msg_flows(&m, CY_A_FLOWS_IN, &g));
	assert_true(g.all);
	/* An empty one: nothing allowed. */
	cy_build_start(&b, buf, sizeof(buf), CY_ROUTE_DIRECTION);
	cy_put_bytes(&b, CY_A_FLOWS_OUT, buf, 0);
	n = cy_build_finish(&b);
	assert_int_equal(cy_msg_parse(&m, buf, (size_t)n), 0);
	assert_true(cy_msg_flows(&m, CY_A_FLOWS_OUT, &g));
	assert_false(g.all);
	assert_int_equal(g.n, 0);
	assert_false(cy_flows_match(&g, 6, 80));
	/* Hostile: not a multiple of 5, a range upside down, too many. */
	{
		uint8_t v[CY_FLOWS_MAX * CY_FLOW_LEN + CY_FLOW_LEN] = { 0 };

		cy_build_start(&b, buf, sizeof(buf), CY_ROUTE_DIRECTION);
		cy_put_bytes(&b, CY_A_FLOWS_OUT, v, 4);
		n = cy_build_finish(&b);
		assert_int_equal(cy_msg_parse(&m, buf, (size_t)n), 0);
		assert_false(cy_msg_flows(&m, CY_A_FLOWS_OUT, &g));
		v[0] = 6;
		v[1] = 0;
		v[2] = 90;
		v[3] = 0;
		v[4] = 80;
		cy_build_start(&b, buf, sizeof(buf), CY_ROUTE_DIRECTION);
		cy_put_bytes(&b, CY_A_FLOWS_OUT, v, 5);
		n = cy_build_finish(&b);
		assert_int_equal(cy_msg_parse(&m, buf, (size_t)n), 0);
		assert_false(cy_msg_flows(&m, CY_A_FLOWS_OUT, &g));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_wire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
