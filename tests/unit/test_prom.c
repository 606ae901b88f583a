/* The Prometheus text format: HELP and TYPE lines, samples, labels with
 * their escapes, a counters table as counters and gauges, and labelled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"

struct demo {
	uint64_t hits, open;
};

static const struct counter demo_tab[] = {
	COUNTER(struct demo, hits, "hits, with a \\ and a\nnewline"),
	GAUGE(struct demo, open, "open now"),
};

/* What fn wrote, as a heap string. */
static char *capture(void (*fn)(FILE *f))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fn(f);
	fclose(f);
	return text;
}

static void write_table(FILE *f)
{
	struct demo d = { 7, 2 };

	prom_counters(f, "cy_demo", demo_tab, 2, &d);
}

static void write_labelled(FILE *f)
{
	struct demo d = { 7, 2 };

	prom_counters_labelled(f, "cy_demo_total", "by kind", "kind", demo_tab, 2, &d);
}

static void test_table(void **state)
{
	char *t = capture(write_table);

	(void)state;
	assert_string_equal(t, "# HELP cy_demo_hits_total hits, with a \\\\ and a\\nnewline\n"
			       "# TYPE cy_demo_hits_total counter\n"
			       "cy_demo_hits_total 7\n"
			       "# HELP cy_demo_open open now\n"
			       "# TYPE cy_demo_open gauge\n"
			       "cy_demo_open 2\n");
	free(t);
	t = capture(write_labelled);
	assert_string_equal(t, "# HELP cy_demo_total by kind\n"
			       "# TYPE cy_demo_total counter\n"
			       "cy_demo_total{kind=\"hits\"} 7\n"
			       "cy_demo_total{kind=\"open\"} 2\n");
	free(t);
}

static void write_histogram(FILE *f)
{
	static const double le[] = { 0.0001, 0.01, 1 };
	static const uint64_t cum[] = { 3, 5, 5 };

	prom_histogram(f, "cy_demo_seconds", "how long", le, cum, 3, 6, 2.5);
}

/* Buckets are cumulative, +Inf holds the count, then _sum and _count. */
static void test_histogram(void **state)
{
	char *t = capture(write_histogram);

	assert_string_equal(t, "# HELP cy_demo_seconds how long\n"
			       "# TYPE cy_demo_seconds histogram\n"
			       "cy_demo_seconds_bucket{le=\"0.0001\"} 3\n"
			       "cy_demo_seconds_bucket{le=\"0.01\"} 5\n"
			       "cy_demo_seconds_bucket{le=\"1\"} 5\n"
			       "cy_demo_seconds_bucket{le=\"+Inf\"} 6\n"
			       "cy_demo_seconds_sum 2.500000\n"
			       "cy_demo_seconds_count 6\n");
	free(t);
}

static void test_labels(void **state)
{
	char l[64] = "";

	(void)state;
	prom_label(l, sizeof(l), "peer", "a.example.test");
	prom_label(l, sizeof(l), "odd", "q\"b\\n\nx");
	assert_string_equal(l, "peer=\"a.example.test\",odd=\"q\\\"b\\\\n\\nx\"");
	/* too long: cut, still terminated, never past the buffer */
	char small[12] = "";
	prom_label(small, sizeof(small), "peer", "a-very-long-name");
	assert_true(strlen(small) < sizeof(small));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_histogram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
