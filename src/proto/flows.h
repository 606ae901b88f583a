/* The flows a route allows (docs/policy.md, "Protocols and ports"): what
 * each end may start towards the other, as the NMS tells both ends in
 * the Route Direction and their data paths enforce on inner packets.
 *
 * FLOWS_OUT (35) and FLOWS_IN (36): what the receiving end may start
 * towards its peer, and what the peer may start towards it.  Each is a
 * list of 5-byte items, proto (8) | lowest port (16) | highest port (16),
 * ports in network order (0..65535 for protocols without ports); absent
 * means everything, present and empty nothing. */
#ifndef CY_FLOWS_H
#define CY_FLOWS_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

#define CY_FLOWS_MAX 64
#define CY_FLOW_LEN 5
#define CY_PROTO_ICMP 1
#define CY_PROTO_ICMP6 58

struct cy_flows {
	bool all;
	uint8_t n;
	struct cy_flow {
		uint8_t proto;
		uint16_t lo, hi;
	} f[CY_FLOWS_MAX];
};

/* f as attribute type (nothing when f->all). */
void cy_put_flows(struct cy_builder *b, uint16_t type, const struct cy_flows *f);
/* Attribute type of m into f (absent: all).  False for a bad length or
 * more than CY_FLOWS_MAX items. */
bool cy_msg_flows(const struct cy_msg *m, uint16_t type, struct cy_flows *f);
/* Does f allow proto (ICMPv6 counts as ICMP) to port? */
bool cy_flows_match(const struct cy_flows *f, uint8_t proto, uint16_t port);

#endif
