#include "flowcheck.h"

#include "buf.h"

/* IPv6 extension headers walked to the transport header, at most. */
#define EXT_MAX 8

/* TCP, UDP, SCTP, UDP-Lite carry ports first.  *opens: a TCP segment
 * that starts a connection (SYN without ACK), or whose flags cannot be
 * read (a first fragment cut short: RFC 1858). */
static bool ports_of(struct cur *c, uint8_t proto, uint16_t *sport, uint16_t *dport,
		     bool *opens)
{
	uint8_t fl;

	*opens = false;
	if (proto != 6 && proto != 17 && proto != 132 && proto != 136)
		return false;
	if (!cur_get_u16(c, sport) || !cur_get_u16(c, dport))
		return false;
	if (proto == 6)
		*opens = !cur_skip(c, 9) || !cur_get_u8(c, &fl) || ((fl & 0x02) && !(fl & 0x10));
	return true;
}

int flow_classify(const uint8_t *pkt, size_t len, uint8_t *proto, uint16_t *sport,
		  uint16_t *dport, bool *ports, bool *opens)
{
	struct cur c = cur_make(pkt, len);
	uint8_t vihl, nh, hl;
	uint16_t frag;

	*sport = *dport = 0;
	*ports = *opens = false;
	if (!cur_get_u8(&c, &vihl))
		return -1;
	if (vihl >> 4 == 4) {
		size_t ihl = (size_t)(vihl & 0x0f) * 4;

		c = cur_make(pkt, len);
		if (ihl < 20 || !cur_skip(&c, 6) || !cur_get_u16(&c, &frag) || !cur_skip(&c, 1) ||
		    !cur_get_u8(&c, proto))
			return -1;
		c = cur_make(pkt, len);
		if (!cur_skip(&c, ihl))
			return -1;
		/* A later fragment has no transport header. */
		if ((frag & 0x1fff) == 0)
			*ports = ports_of(&c, *proto, sport, dport, opens);
		if (!*ports)
			*sport = *dport = 0;
		return 0;
	}
	if (vihl >> 4 != 6)
		return -1;
	c = cur_make(pkt, len);
	if (!cur_skip(&c, 6) || !cur_get_u8(&c, &nh) || !cur_skip(&c, 33))
		return -1;
	for (int i = 0; i < EXT_MAX; i++) {
		if (nh == 0 || nh == 43 || nh == 60) {     /* hop-by-hop, routing, destination */
			uint8_t next;

			if (!cur_get_u8(&c, &next) || !cur_get_u8(&c, &hl) ||
			    !cur_skip(&c, 6 + (size_t)hl * 8))
				return -1;
			nh = next;
			continue;
		}
		if (nh == 44) {                            /* fragment */
			uint8_t next;

			if (!cur_get_u8(&c, &next) || !cur_skip(&c, 1) || !cur_get_u16(&c, &frag) ||
			    !cur_skip(&c, 4))
				return -1;
			*proto = next;
			if (frag & 0xfff8)
				return 0;   /* a later fragment: no ports */
			nh = next;
			continue;
		}
		break;
	}
	*proto = nh;
	*ports = ports_of(&c, nh, sport, dport, opens);
	if (!*ports)
		*sport = *dport = 0;
	return 0;
}

/* Does flows f allow proto to port?  Without ports: only an item that
 * takes every port of the protocol. */
static bool allows(const struct cy_flows *f, uint8_t proto, uint16_t port, bool ports)
{
	if (f->all)
		return true;
	if (ports || proto == CY_PROTO_ICMP || proto == CY_PROTO_ICMP6)
		return cy_flows_match(f, proto, port);
	return cy_flows_match(f, proto, 0) && cy_flows_match(f, proto, 65535);
}

bool flow_allowed(const struct flow_rules *r, const uint8_t *pkt, size_t len, bool outbound)
{
	const struct cy_flows *mine = outbound ? &r->out : &r->in;
	const struct cy_flows *theirs = outbound ? &r->in : &r->out;
	uint16_t sport, dport;
	uint8_t proto;
	bool ports, opens;

	if (flow_classify(pkt, len, &proto, &sport, &dport, &ports, &opens) < 0)
		return false;
	/* It starts a flow allowed this way, or answers one allowed the
	 * other way (its source port is the one that flow went to): never a
	 * TCP SYN, so choosing that source port opens nothing. */
	return allows(mine, proto, dport, ports) ||
	       (!opens && allows(theirs, proto, sport, ports));
}
