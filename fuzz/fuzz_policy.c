/* libFuzzer: the access policy's parser (src/policy/policy.c).  Refused
 * input leaves an error naming the file and a line, and no policy; a
 * parsed one decides for a few nodes without crashing, a flow it allows
 * implies the pair is allowed, and deciding twice gives the same answer
 * and line (no hidden state). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct policy_node nodes[] = {
		{ "a", "a.example.test", "" },
		{ "cam1", "cam1.example.test", "cam,outdoor" },
		{ "nvr", "nvr.example.test", "nvr" },
	};
	struct policy *p = NULL;
	char err[256] = "";
	unsigned line, line2;

	if (policy_parse((const char *)data, size, "fuzz", &p, err, sizeof(err)) < 0) {
		check(p == NULL && !strncmp(err, "fuzz:", 5));
		return 0;
	}
	check(p != NULL && policy_rules(p) <= POLICY_RULES_MAX);
	for (size_t i = 0; i < 3; i++) {
		for (size_t k = 0; k < 3; k++) {
			bool any = policy_allows(p, &nodes[i], &nodes[k], &line);
			bool tcp = policy_allows_flow(p, &nodes[i], &nodes[k], 6,
						      (uint16_t)(size * 131), &line2);

			/* A flow allowed means the pair is. */
			check(!tcp || any);
			check(any == (line != 0));
			check(policy_allows(p, &nodes[i], &nodes[k], &line2) == any &&
			      line2 == line);
		}
	}
	policy_free(p);
	return 0;
}
