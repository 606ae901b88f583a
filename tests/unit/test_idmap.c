/* idmap.h: objects found by id through growth, deletion and a walk that
 * frees. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "idmap.h"

struct thing {
	int value;
	struct idmap_node hn;
};

#define N 5000

static void count(struct idmap_node *hn, void *arg)
{
	struct thing *t = IDMAP_ENTRY(hn, struct thing, hn);

	assert_int_equal((uint64_t)t->value * 7919, hn->id);
	(*(size_t *)arg)++;
}

static void drop(struct idmap_node *hn, void *arg)
{
	idmap_del(arg, hn);
	free(IDMAP_ENTRY(hn, struct thing, hn));
}

static void test_put_get_del(void **state)
{
	struct idmap m;
	size_t seen = 0;

	(void)state;
	assert_int_equal(idmap_init(&m, 4), 0);
	assert_null(idmap_get(&m, 1));
	for (int i = 0; i < N; i++) {
		struct thing *t = calloc(1, sizeof(*t));

		assert_non_null(t);
		t->value = i;
		t->hn.id = (uint64_t)i * 7919;   /* sequential ids, spread */
		assert_int_equal(idmap_put(&m, &t->hn), 0);
	}
	assert_int_equal(m.count, N);
	assert_true(m.nbuckets >= N);      /* grew from 4 */
	for (int i = 0; i < N; i++) {
		struct thing *t = IDMAP_ENTRY(idmap_get(&m, (uint64_t)i * 7919), struct thing, hn);

		assert_non_null(t);
		assert_int_equal(t->value, i);
	}
	assert_null(IDMAP_ENTRY(idmap_get(&m, 7918), struct thing, hn));
	/* every other one out */
	for (int i = 0; i < N; i += 2) {
		struct idmap_node *hn = idmap_get(&m, (uint64_t)i * 7919);

		idmap_del(&m, hn);
		free(IDMAP_ENTRY(hn, struct thing, hn));
	}
	assert_int_equal(m.count, N / 2);
	assert_null(idmap_get(&m, 0));
	assert_non_null(idmap_get(&m, 7919));
	idmap_each(&m, count, &seen);
	assert_int_equal(seen, N / 2);
	/* a walk that takes each out and frees it */
	idmap_each(&m, drop, &m);
	assert_int_equal(m.count, 0);
	idmap_free(&m);
	/* a map whose buckets are gone refuses, and finds nothing */
	{
		struct thing t = { .hn.id = 5 };

		assert_int_equal(idmap_put(&m, &t.hn), -ENOMEM);
		assert_null(idmap_get(&m, 5));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
