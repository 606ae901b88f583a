/* The Prometheus text exposition format (version 0.0.4): a metric's HELP
 * and TYPE lines, then its samples, "name{label="value",...} value".
 * A part's counters table (counters.h) writes as one metric per counter
 * (PREFIX_NAME_total, or PREFIX_NAME for a gauge) or, labelled, as one
 * metric with a label per counter (drops by reason). */
#ifndef CY_PROM_H
#define CY_PROM_H

#include <stdint.h>
#include <stdio.h>

#include "counters.h"

/* "# HELP name help" and "# TYPE name type" (type "counter" or "gauge"). */
void prom_head(FILE *f, const char *name, const char *type, const char *help);
/* One sample; labels "" or NULL for none, else written as given
 * (prom_label() builds one). */
void prom_sample(FILE *f, const char *name, const char *labels, uint64_t v);
/* Append key="value" (escaped) to labels (cap bytes), comma-separated. */
void prom_label(char *labels, size_t cap, const char *key, const char *value);

/* Every counter of tab as its own metric: prefix_NAME_total (counters) or
 * prefix_NAME (gauges). */
void prom_counters(FILE *f, const char *prefix, const struct counter *tab, size_t n,
		   const void *stats);
/* Every counter of tab as one labelled metric, name{label="NAME"}; name
 * ends in _total, all of tab are counters. */
void prom_counters_labelled(FILE *f, const char *name, const char *help, const char *label,
			    const struct counter *tab, size_t n, const void *stats);

/* A histogram from cumulative counts: cum[i] observations were le[i]
 * (seconds, rising) or less, count in all, summing sum: name_bucket{le=},
 * including le="+Inf", name_sum and name_count. */
void prom_histogram(FILE *f, const char *name, const char *help, const double *le,
		    const uint64_t *cum, size_t n, uint64_t count, double sum);

#endif
