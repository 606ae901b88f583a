/* libFuzzer: the access policy's flows on inner packets
 * (src/node/dataplane/flowcheck.c), the flow queues' classifier on the
 * same packets (src/node/io/fq.c), and the FLOWS attribute's parser
 * (src/proto/flows.c).  Any bytes: the classifier never reads outside
 * them and says ports only for a protocol that has them; a parsed FLOWS
 * list holds at most CY_FLOWS_MAX items, each with lo <= hi. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowcheck.h"
#include "flows.h"
#include "fq.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct flow_rules r = {
		.out = { .n = 2, .f = { { 6, 554, 554 }, { 1, 0, 65535 } } },
		.in = { .n = 1, .f = { { 17, 1000, 2000 } } },
	};
	uint8_t proto, buf[1024];
	uint16_t s, d;
	bool ports, opens;
	struct cy_builder b;
	struct cy_msg m;
	struct cy_flows f;
	ssize_t n;

	if (flow_classify(data, size, &proto, &s, &d, &ports, &opens) == 0 && ports)
		check(proto == 6 || proto == 17 || proto == 132 || proto == 136);
	check(!opens || proto == 6);
	(void)flow_allowed(&r, data, size, true);
	(void)flow_allowed(&r, data, size, false);
	check(dp_fq_bucket(data, size, 0x9e3779b97f4a7c15ULL) < DP_FQ_FLOWS);
	/* The same bytes as a FLOWS attribute. */
	cy_build_start(&b, buf, sizeof(buf), CY_ROUTE_DIRECTION);
	cy_put_bytes(&b, CY_A_FLOWS_OUT, data, size > 400 ? 400 : size);
	n = cy_build_finish(&b);
	if (n > 0 && cy_msg_parse(&m, buf, (size_t)n) == 0 && cy_msg_flows(&m, CY_A_FLOWS_OUT, &f)) {
		check(!f.all && f.n <= CY_FLOWS_MAX);
		for (unsigned i = 0; i < f.n; i++)
			check(f.f[i].lo <= f.f[i].hi);
	}
	return 0;
}
