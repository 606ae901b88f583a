/* libFuzzer: the message codec.  Parses the input as a message, reads
 * every attribute through every getter, descends into nested attributes,
 * and checks that building the parsed attributes again gives back the
 * very same bytes (the parser accepts exactly what the builder writes). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define NESTED_MAX_DEPTH 8

static const size_t str_max[] = {
	[CY_A_REASON] = CY_REASON_MAX,
	[CY_A_NAME] = CY_NAME_MAX,
	[CY_A_FQDN] = CY_FQDN_MAX,
	[CY_A_PASSWORD] = CY_PASSWORD_MAX,
};

static void check(int ok)
{
	if (!ok)
		abort();
}

static void read_all(const struct cy_msg *m, int depth)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint8_t b[CY_KEY_LEN], u8;
	uint32_t u32;
	uint64_t u64;
	char s[256];
	size_t pos;
	const struct cy_attr *a;

	for (uint16_t t = 0; t <= CY_A_PREFIX6 + 1; t++) {
		a = cy_msg_find(m, t);
		check(cy_msg_u8(m, t, &u8) == (a && a->len == 1));
		check(cy_msg_u32(m, t, &u32) == (a && a->len == 4));
		check(cy_msg_u64(m, t, &u64) == (a && a->len == 8));
		cy_msg_bytes(m, t, b, 4);
		cy_msg_bytes(m, t, b, 6);
		cy_msg_bytes(m, t, b, 16);
		cy_msg_bytes(m, t, b, CY_KEY_LEN);
		if (cy_msg_endpoint(m, t, &ss, &sl))
			check((ss.ss_family == AF_INET && a->len == 7) ||
			      (ss.ss_family == AF_INET6 && a->len == 19));
		for (size_t i = 0; i < sizeof(str_max) / sizeof(str_max[0]); i++) {
			if (!str_max[i] || !cy_msg_str(m, t, s, str_max[i]))
				continue;
			check(strlen(s) == a->len && a->len <= str_max[i]);
			for (size_t k = 0; s[k]; k++)
				check(s[k] >= 0x20 && s[k] <= 0x7e);
		}
	}
	/* repeatable ones */
	pos = 0;
	while ((a = cy_msg_next(m, CY_A_ADDR, &pos)))
		cy_attr_endpoint(a, &ss, &sl);
	pos = 0;
	while ((a = cy_msg_next(m, CY_A_NMS, &pos)))
		cy_attr_endpoint(a, &ss, &sl);
	pos = 0;
	while ((a = cy_msg_next(m, CY_A_GN, &pos))) {
		struct cy_msg *sub;

		if (depth >= NESTED_MAX_DEPTH)
			break;
		sub = malloc(sizeof(*sub));
		check(sub != NULL);
		if (cy_attr_parse_nested(a, sub) == 0) {
			check(sub->nattrs <= CY_MSG_MAX_ATTRS);
			read_all(sub, depth + 1);
		}
		free(sub);
	}
	cy_result_str((enum cy_result)m->type);
	cy_msg_type_str(m->type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cy_msg m;
	static uint8_t again[CY_MSG_MAX];
	struct cy_builder b;
	ssize_t n;

	if (size >= CY_HDR_LEN) {
		n = cy_frame_len(data);
		check(n == -EBADMSG || (n >= CY_HDR_LEN && n <= CY_MSG_MAX));
	}
	if (cy_msg_parse(&m, data, size) < 0)
		return 0;
	check(size >= CY_HDR_LEN && size <= CY_MSG_MAX);
	check(cy_frame_len(data) == (ssize_t)size);
	check(m.nattrs <= CY_MSG_MAX_ATTRS);
	read_all(&m, 0);

	cy_build_start(&b, again, sizeof(again), m.type);
	for (size_t i = 0; i < m.nattrs; i++)
		cy_put_bytes(&b, m.attrs[i].type, m.attrs[i].val, m.attrs[i].len);
	n = cy_build_finish(&b);
	check(n == (ssize_t)size && !memcmp(again, data, size));
	return 0;
}
