/* The 8192-counter anti-replay window, checked against a plain model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"

static struct replay r;

static void test_in_order(void **state)
{
	replay_init(&r);
	for (uint64_t c = 0; c < 20000; c++) {
		assert_true(replay_check(&r, c));
		assert_true(replay_update(&r, c));
		assert_false(replay_check(&r, c));
		assert_false(replay_update(&r, c));
	}
	assert_true(r.top == 20000);
}

static void test_duplicates_out_of_order(void **state)
{
	replay_init(&r);
	assert_true(replay_update(&r, 100));
	assert_false(replay_update(&r, 100));
	/* everything below 100 within the window was never seen */
	assert_true(replay_update(&r, 50));
	assert_true(replay_update(&r, 0));
	assert_true(replay_update(&r, 99));
	assert_false(replay_update(&r, 50));
	assert_false(replay_update(&r, 0));
	assert_false(replay_update(&r, 99));
	assert_true(replay_update(&r, 101));
	assert_true(replay_update(&r, 63));
	assert_true(replay_update(&r, 64));
	assert_true(replay_update(&r, 65));
	assert_false(replay_update(&r, 64));
	/* a refused update changes nothing */
	struct replay before = r;
	assert_false(replay_update(&r, 65));
	assert_memory_equal(&before, &r, sizeof(r));
}

static void test_window_edge(void **state)
{
	const uint64_t h = 100000;

	replay_init(&r);
	assert_true(replay_update(&r, h));
	/* the window holds REPLAY_WINDOW counters: h - 8191 .. h */
	assert_true(replay_check(&r, h - (REPLAY_WINDOW - 1)));
	assert_false(replay_check(&r, h - REPLAY_WINDOW));
	assert_false(replay_check(&r, h - REPLAY_WINDOW - 1));
	assert_false(replay_check(&r, 0));
	assert_false(replay_update(&r, h - REPLAY_WINDOW));
	assert_true(replay_update(&r, h - (REPLAY_WINDOW - 1)));
	assert_false(replay_update(&r, h - (REPLAY_WINDOW - 1)));
	/* moving the top by one pushes the oldest out */
	assert_true(replay_update(&r, h + 1));
	assert_false(replay_check(&r, h - (REPLAY_WINDOW - 1)));
	assert_true(replay_check(&r, h - (REPLAY_WINDOW - 2)));
	/* exactly at the edge with the top on a word boundary */
	replay_init(&r);
	assert_true(replay_update(&r, 64 * 200));
	assert_true(replay_check(&r, 64 * 200 - (REPLAY_WINDOW - 1)));
	assert_false(replay_check(&r, 64 * 200 - REPLAY_WINDOW));
	replay_init(&r);
	assert_true(replay_update(&r, 64 * 200 + 63));
	assert_true(replay_update(&r, 64 * 200 + 63 - (REPLAY_WINDOW - 1)));
	assert_false(replay_check(&r, 64 * 200 + 63 - REPLAY_WINDOW));
}

static void test_jumps(void **state)
{
	replay_init(&r);
	for (uint64_t c = 1; c <= 300; c++)
		assert_true(replay_update(&r, c));
	/* jump by less than a window: old counters still tracked */
	assert_true(replay_update(&r, 300 + 5000));
	for (uint64_t c = 1; c <= 300; c++)
		assert_false(replay_check(&r, c));
	assert_true(replay_check(&r, 301));
	assert_true(replay_check(&r, 5299));
	/* jump by exactly a window, and by far more: nothing stale remains
	 * marked inside the new window */
	assert_true(replay_update(&r, 5300 + REPLAY_WINDOW));
	for (uint64_t c = 5301; c < 5300 + REPLAY_WINDOW; c++)
		assert_true(replay_check(&r, c));
	assert_false(replay_check(&r, 5300));
	assert_true(replay_update(&r, 1ULL << 40));
	for (uint64_t c = (1ULL << 40) - REPLAY_WINDOW + 1; c < (1ULL << 40); c++)
		assert_true(replay_check(&r, c));
	assert_false(replay_check(&r, 5300 + REPLAY_WINDOW));
	/* jump by 129 words, and by a multiple of the ring size: the ring
	 * index of the new word equals an old one, which must be cleared */
	replay_init(&r);
	assert_true(replay_update(&r, 5));
	assert_true(replay_update(&r, 5 + 64 * REPLAY_WORDS));
	assert_true(replay_check(&r, 5 + 64 * REPLAY_WORDS - 1));
	assert_true(replay_update(&r, 5 + 64 * REPLAY_WORDS * 2 + 1));
	assert_true(replay_check(&r, 5 + 64 * REPLAY_WORDS * 2));
}

static void test_uint64_max(void **state)
{
	replay_init(&r);
	assert_false(replay_check(&r, UINT64_MAX));
	assert_false(replay_update(&r, UINT64_MAX));
	assert_true(replay_update(&r, UINT64_MAX - 1));
	assert_false(replay_update(&r, UINT64_MAX - 1));
	assert_false(replay_update(&r, UINT64_MAX));
	assert_true(replay_update(&r, UINT64_MAX - 2));
	assert_true(replay_update(&r, UINT64_MAX - REPLAY_WINDOW));
	assert_false(replay_check(&r, UINT64_MAX - REPLAY_WINDOW - 1));
	assert_false(replay_check(&r, 0));
}

static void test_init_from(void **state)
{
	static const uint64_t nexts[] = { 1, 63, 64, 65, 100, 128, 8191, 8192, 8193,
					  100000, 64 * 1000 + 17, UINT64_MAX - 1 };

	for (size_t i = 0; i < sizeof(nexts) / sizeof(nexts[0]); i++) {
		uint64_t next = nexts[i];
		uint64_t lo = next > REPLAY_WINDOW + 70 ? next - REPLAY_WINDOW - 70 : 0;

		replay_init_from(&r, next);
		/* everything below next is refused, near and far */
		for (uint64_t c = lo; c < next; c++)
			assert_false(replay_check(&r, c));
		assert_false(replay_check(&r, 0));
		/* everything from next on is accepted, and out of order within
		 * next's own first word */
		for (uint64_t c = next; c < next + 70 && c != UINT64_MAX; c++)
			assert_true(replay_check(&r, c));
		if (next + 70 > next && next + 70 != UINT64_MAX) {
			assert_true(replay_update(&r, next + 69));
			for (uint64_t c = next; c < next + 69; c += 2)
				assert_true(replay_update(&r, c));
			for (uint64_t c = next; c < next + 69; c += 2)
				assert_false(replay_update(&r, c));
			for (uint64_t c = next + 1; c < next + 69; c += 2)
				assert_true(replay_update(&r, c));
			for (uint64_t c = lo; c < next; c++)
				assert_false(replay_check(&r, c));
		} else {
			assert_true(replay_update(&r, next));
			assert_false(replay_update(&r, next));
		}
	}
	/* from 0 is the same as a fresh window */
	replay_init_from(&r, 0);
	assert_true(replay_update(&r, 0));
	assert_true(replay_update(&r, 5));
	assert_true(replay_update(&r, 3));
}

/* Random walks compared with a model that remembers every counter. */
static void test_model(void **state)
{
	enum { N = 20000 };
	static uint64_t seen[N];
	size_t nseen = 0;
	uint64_t top = 0, base = 1000000;

	srand(1);
	replay_init(&r);
	for (int i = 0; i < N; i++) {
		uint64_t c;
		int k = rand() % 10;
		bool dup = false, want;

		if (k < 5 || nseen == 0)
			c = base + (uint64_t)(rand() % 9000);      /* around the window */
		else if (k < 8)
			c = seen[rand() % nseen];                  /* replay */
		else
			c = (base += (uint64_t)(rand() % 3000));   /* move ahead */
		for (size_t j = 0; j < nseen; j++)
			if (seen[j] == c)
				dup = true;
		want = !dup && (c >= top || top - c <= REPLAY_WINDOW);
		assert_int_equal(replay_check(&r, c), want);
		assert_int_equal(replay_update(&r, c), want);
		if (want) {
			seen[nseen++] = c;
			if (c >= top)
				top = c + 1;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_duplicates_out_of_order),
		cmocka_unit_test(test_window_edge),
		cmocka_unit_test(test_jumps),
		cmocka_unit_test(test_uint64_max),
		cmocka_unit_test(test_init_from),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
