#include "flows.h"

#include <string.h>

#include "buf.h"

void cy_put_flows(struct cy_builder *b, uint16_t type, const struct cy_flows *f)
{
	uint8_t v[CY_FLOWS_MAX * CY_FLOW_LEN];
	unsigned n = f->n < CY_FLOWS_MAX ? f->n : CY_FLOWS_MAX;

	if (f->all)
		return;
	for (unsigned i = 0; i < n; i++) {
		v[i * CY_FLOW_LEN] = f->f[i].proto;
		put_be16(v + i * CY_FLOW_LEN + 1, f->f[i].lo);
		put_be16(v + i * CY_FLOW_LEN + 3, f->f[i].hi);
	}
	cy_put_bytes(b, type, v, (size_t)n * CY_FLOW_LEN);
}

bool cy_msg_flows(const struct cy_msg *m, uint16_t type, struct cy_flows *f)
{
	const struct cy_attr *a = cy_msg_find(m, type);
	struct cur c;

	memset(f, 0, sizeof(*f));
	if (!a) {
		f->all = true;
		return true;
	}
	if (a->len % CY_FLOW_LEN || a->len / CY_FLOW_LEN > CY_FLOWS_MAX)
		return false;
	c = cur_make(a->val, a->len);
	while (!cur_empty(&c)) {
		struct cy_flow *x = &f->f[f->n];

		if (!cur_get_u8(&c, &x->proto) || !cur_get_u16(&c, &x->lo) ||
		    !cur_get_u16(&c, &x->hi) || x->lo > x->hi)
			return false;
		f->n++;
	}
	return true;
}

bool cy_flows_match(const struct cy_flows *f, uint8_t proto, uint16_t port)
{
	if (f->all)
		return true;
	if (proto == CY_PROTO_ICMP6)
		proto = CY_PROTO_ICMP;
	for (unsigned i = 0; i < f->n; i++)
		if (f->f[i].proto == proto && port >= f->f[i].lo && port <= f->f[i].hi)
			return true;
	return false;
}
