#include "prom.h"

#include <inttypes.h>
#include <string.h>

void prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	/* HELP escapes backslash and newline */
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

void prom_sample(FILE *f, const char *name, const char *labels, uint64_t v)
{
	if (labels && labels[0])
		fprintf(f, "%s{%s} %" PRIu64 "\n", name, labels, v);
	else
		fprintf(f, "%s %" PRIu64 "\n", name, v);
}

void prom_label(char *labels, size_t cap, const char *key, const char *value)
{
	size_t n = strlen(labels);

	if (n && n + 1 < cap)
		labels[n++] = ',';
	if (n < cap)
		n += (size_t)snprintf(labels + n, cap - n, "%s=\"", key);
	for (const char *p = value; *p && n + 3 < cap; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			labels[n++] = '\\';
			labels[n++] = *p == '\n' ? 'n' : *p;
		} else {
			labels[n++] = *p;
		}
	}
	if (n + 1 < cap)
		labels[n++] = '"';
	labels[n < cap ? n : cap - 1] = '\0';
}

void prom_histogram(FILE *f, const char *name, const char *help, const double *le,
		    const uint64_t *cum, size_t n, uint64_t count, double sum)
{
	prom_head(f, name, "histogram", help);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, le[i], cum[i]);
	fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, count);
	fprintf(f, "%s_sum %.6f\n", name, sum);
	fprintf(f, "%s_count %" PRIu64 "\n", name, count);
}

void prom_counters(FILE *f, const char *prefix, const struct counter *tab, size_t n,
		   const void *stats)
{
	char name[128];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s_%s%s", prefix, tab[i].name,
			 tab[i].gauge ? "" : "_total");
		prom_head(f, name, tab[i].gauge ? "gauge" : "counter", tab[i].help);
		prom_sample(f, name, NULL, counter_get(&tab[i], stats));
	}
}

void prom_counters_labelled(FILE *f, const char *name, const char *help, const char *label,
			    const struct counter *tab, size_t n, const void *stats)
{
	char labels[128];

	prom_head(f, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		labels[0] = '\0';
		prom_label(labels, sizeof(labels), label, tab[i].name);
		prom_sample(f, name, labels, counter_get(&tab[i], stats));
	}
}
