/* The access policy's protocol and port rules on a tunnel's inner packets
 * (docs/policy.md, "Protocols and ports").  The NMS tells each end what
 * it may start towards the peer (out) and what the peer may start
 * towards it (in); a packet passes when it starts an allowed flow or
 * answers one: stateless, a reply is known by its source port (or, for
 * ICMP, by ICMP being allowed the other way), and a TCP SYN is never a
 * reply.  Packets whose ports cannot be read (a later fragment, an
 * unknown protocol) pass only where their protocol is allowed with every
 * port. */
#ifndef CY_NODE_FLOWCHECK_H
#define CY_NODE_FLOWCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flows.h"

struct flow_rules {
	struct cy_flows out, in;
};

/* An IP packet's protocol and ports (0 when it has none, or they cannot
 * be read: *ports false); *opens: a TCP SYN without ACK, or TCP whose
 * flags cannot be read.  -1: not a readable IPv4/IPv6 packet. */
int flow_classify(const uint8_t *pkt, size_t len, uint8_t *proto, uint16_t *sport,
		  uint16_t *dport, bool *ports, bool *opens);

/* May pkt go to the peer (outbound) or come from it (inbound)? */
bool flow_allowed(const struct flow_rules *r, const uint8_t *pkt, size_t len, bool outbound);

#endif
