/* CoDel (RFC 8289): whether a queue's wait is a standing one, and when to
 * tell its senders so.  The caller measures each packet's sojourn time
 * (now - when it was queued) as it leaves; the state says "signal" (drop
 * or mark this packet) once the wait has stayed above `target` for a
 * whole `interval`, then at the control law's rate (interval /
 * sqrt(count)) while it stays, and forgets it as soon as one packet is
 * below target.  One signal per packet at most: the data path still
 * sends most of a signalled super-packet, so there is no further head to
 * drop as RFC 8289's dequeue loop does.  Pure; time is the caller's. */
#ifndef CY_NODE_IO_CODEL_H
#define CY_NODE_IO_CODEL_H

#include <stdbool.h>
#include <stdint.h>

struct codel_params {
	int64_t target_ns;
	int64_t interval_ns;
};

struct codel {
	bool dropping;
	uint32_t count, lastcount;
	int64_t first_above, drop_next;
};

/* A packet leaves at now after waiting sojourn; backlog: more is queued
 * behind it than one packet (RFC 8289's "bytes > maxpacket").  True: give
 * it a congestion signal. */
bool codel_signal(struct codel *c, const struct codel_params *p, int64_t sojourn, bool backlog,
		  int64_t now);
/* The queue ran empty. */
void codel_idle(struct codel *c);

#endif
