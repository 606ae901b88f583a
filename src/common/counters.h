/* A part's counters as a table: each one's name (as the JSON outputs and
 * the Prometheus metrics, prom.h, show it), a one-line help text, where it
 * sits in the part's stats struct (a uint64_t), and whether it only goes
 * up (a counter) or is a value now (a gauge).  Every output reads the same
 * table, so a counter is named once, beside the struct that holds it. */
#ifndef CY_COUNTERS_H
#define CY_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json;

struct counter {
	const char *name;
	const char *help;
	size_t offset;
	bool gauge;
};

/* One entry: COUNTER(struct as_stats, login_ok, "logins that succeeded");
 * GAUGE() for a value that goes down too. */
#define COUNTER(type, field, text) { #field, text, offsetof(type, field), false }
#define GAUGE(type, field, text) { #field, text, offsetof(type, field), true }

/* The value of counter c in stats. */
static inline uint64_t counter_get(const struct counter *c, const void *stats)
{
	return *(const uint64_t *)((const char *)stats + c->offset);
}

/* Every counter of tab (n of them) from stats as JSON members, inside an
 * object named obj (NULL: into the object being written). */
void counters_json(struct json *j, const char *obj, const struct counter *tab, size_t n,
		   const void *stats);

#endif
