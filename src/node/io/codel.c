/* CoDel (codel.h), after RFC 8289's pseudocode. */
#include "codel.h"

static uint64_t isqrt64(uint64_t n)
{
	uint64_t r = 0, b = 1ULL << 62;

	while (b > n)
		b >>= 2;
	while (b) {
		if (n >= r + b) {
			n -= r + b;
			r = (r >> 1) + b;
		} else {
			r >>= 1;
		}
		b >>= 2;
	}
	return r;
}

/* t + interval / sqrt(count), sqrt in 16.16 fixed point. */
static int64_t control_law(const struct codel_params *p, int64_t t, uint32_t count)
{
	uint64_t s = isqrt64((uint64_t)(count ? count : 1) << 32);

	return t + (int64_t)(((uint64_t)p->interval_ns << 16) / s);
}

/* Has the wait stayed above target for an interval? */
static bool ok_to_signal(struct codel *c, const struct codel_params *p, int64_t sojourn,
			 bool backlog, int64_t now)
{
	if (sojourn < p->target_ns || !backlog) {
		c->first_above = 0;
		return false;
	}
	if (!c->first_above) {
		c->first_above = now + p->interval_ns;
		return false;
	}
	return now >= c->first_above;
}

bool codel_signal(struct codel *c, const struct codel_params *p, int64_t sojourn, bool backlog,
		  int64_t now)
{
	bool ok = ok_to_signal(c, p, sojourn, backlog, now);
	uint32_t delta;

	if (c->dropping) {
		if (!ok) {
			c->dropping = false;
			return false;
		}
		if (now < c->drop_next)
			return false;
		c->count++;
		c->drop_next = control_law(p, c->drop_next, c->count);
		return true;
	}
	if (!ok)
		return false;
	/* Back into the signalling state soon after leaving it: start near
	 * the rate that controlled the queue last time. */
	c->dropping = true;
	delta = c->count - c->lastcount;
	c->count = delta > 1 && now - c->drop_next < 16 * p->interval_ns ? delta : 1;
	c->drop_next = control_law(p, now, c->count);
	c->lastcount = c->count;
	return true;
}

void codel_idle(struct codel *c)
{
	c->first_above = 0;
	c->dropping = false;
}
