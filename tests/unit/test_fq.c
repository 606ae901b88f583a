/* src/node/io/fq.c and codel.c: the flow queues between the TUN device and
 * the tunnels.  A sparse flow's packet leaves before a bulk flow's
 * backlog; two bulk flows share by bytes; CoDel signals only a wait that
 * stands for a whole interval, then faster, and stops when it is gone; at
 * the limit the fattest flow loses its head and memory stays bounded;
 * hostile headers are classified without reading outside them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "codel.h"
#include "fq.h"

#define HDR 10
#define MS 1000000LL

static const struct dp_fq_conf conf = {
	.target_ns = 5 * MS,
	.interval_ns = 100 * MS,
	.limit = 8 << 20,
	.hdr = HDR,
	.cap = HDR + 65535,
	.key = 0x5eed,           /* fixed: the flows below land in buckets of their own */
};

/* A vnet header and an IPv4 UDP packet of len bytes from port sport
 * (its first payload byte: tag). */
static size_t mk_udp(uint8_t *b, uint16_t sport, size_t len, uint8_t tag)
{
	uint8_t *ip = b + HDR;

	memset(b, 0, HDR + 28);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)len);
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 100, ip[13] = 64, ip[15] = 1;
	ip[16] = 100, ip[17] = 64, ip[19] = 2;
	put_be16(ip + 20, sport);
	put_be16(ip + 22, 5201);
	put_be16(ip + 24, (uint16_t)(len - 20));
	ip[28] = tag;
	return HDR + len;
}

static unsigned bucket_of(uint16_t sport)
{
	uint8_t b[HDR + 100];

	mk_udp(b, sport, 100, 0);
	return dp_fq_bucket(b + HDR, 100, conf.key);
}

/* The flows a test uses are apart under the fixed key (else a collision
 * would merge them: 1 in 256 with a random key). */
static void apart(uint16_t a, uint16_t b)
{
	assert_int_not_equal(bucket_of(a), bucket_of(b));
}

static void push(struct dp_fq *q, uint16_t sport, size_t len, uint8_t tag, int64_t now)
{
	uint8_t *slot = dp_fq_slot(q);

	assert_non_null(slot);
	dp_fq_push(q, mk_udp(slot, sport, len, tag), now);
}

static uint8_t pop_tag(struct dp_fq *q, int64_t now, size_t *len, bool *signal)
{
	uint8_t *p = dp_fq_pop(q, now, len, signal);

	assert_non_null(p);
	return p[HDR + 28];
}

static void test_sparse_first(void **state)
{
	struct dp_fq *q = dp_fq_new(&conf);
	size_t len;
	bool sig;

	(void)state;
	assert_non_null(q);
	apart(1000, 2000);
	for (int i = 0; i < 40; i++)
		push(q, 1000, 60000, (uint8_t)i, 0);      /* a bulk flow's super-packets */
	assert_int_equal(pop_tag(q, 0, &len, &sig), 0);
	assert_int_equal(len, HDR + 60000);
	push(q, 2000, 84, 0xee, 0);                       /* a ping */
	/* the ping's flow is new: it goes before the 39 still queued */
	assert_int_equal(pop_tag(q, 0, &len, &sig), 0xee);
	assert_int_equal(len, HDR + 84);
	for (int i = 1; i < 40; i++)
		assert_int_equal(pop_tag(q, 0, &len, &sig), i);   /* in order */
	assert_null(dp_fq_pop(q, 0, &len, &sig));
	assert_true(dp_fq_empty(q));
	assert_int_equal(dp_fq_stats(q)->packets, 41);
	assert_int_equal(dp_fq_stats(q)->bytes, 0);
	dp_fq_free(q);
}

static void test_fair_bytes(void **state)
{
	struct dp_fq *q = dp_fq_new(&conf);
	size_t len, got[2] = { 0, 0 };
	bool sig;

	(void)state;
	apart(1000, 3000);
	/* flow A in 60000-byte super-packets, flow B in 1400-byte packets */
	for (int i = 0; i < 10; i++)
		push(q, 1000, 60000, 0, 0);
	for (int i = 0; i < 300; i++)
		push(q, 3000, 1400, 1, 0);
	/* while both have a backlog they share the bytes about equally */
	while (got[0] + got[1] < 400000)
		got[pop_tag(q, 0, &len, &sig)] += len - HDR;
	assert_true(got[0] >= 160000 && got[1] >= 160000);
	dp_fq_free(q);
}

/* One step a millisecond: a packet in, the oldest out, with N queued in
 * between, each stamped so that it leaves having waited exactly wait. */
#define N 3
static bool step(struct dp_fq *q, int64_t i, int64_t wait)
{
	int64_t t = i * MS;
	size_t len;
	bool sig;

	push(q, 1000, 1400, 0, t + (N - 1) * MS - wait);
	pop_tag(q, t, &len, &sig);
	return sig;
}

static void test_codel(void **state)
{
	struct dp_fq *q = dp_fq_new(&conf);
	int64_t i = 0;
	unsigned signals = 0, first = 0;

	(void)state;
	for (int k = 0; k < N - 1; k++)
		push(q, 1000, 1400, 0, -(int64_t)MS);
	/* A bulk flow whose packets wait 1 ms: never signalled. */
	for (; i < 500; i++)
		assert_false(step(q, i, MS));
	/* Now each waits 10 ms, for a second: a first signal after the
	 * interval (100 ms), then more and more often. */
	for (int k = 0; k < 1000; k++, i++) {
		if (step(q, i, 10 * MS) && !signals++)
			first = (unsigned)k;
	}
	/* the first two out were queued in the 1 ms phase: the wait stands
	 * from the third on, for the interval */
	assert_int_equal(first, N - 1 + 100);
	/* 100 ms / sqrt(count): far more than 9 in the 900 ms after */
	assert_true(signals > 15 && signals < 200);
	assert_int_equal(dp_fq_stats(q)->signals, signals);
	/* The wait goes back under the target: no more signals. */
	for (int k = 0; k < 300; k++, i++)
		assert_false(step(q, i, MS));
	dp_fq_free(q);
}

static void test_codel_state(void **state)
{
	const struct codel_params p = { 5 * MS, 100 * MS };
	struct codel c = { 0 };
	int64_t t = 0;

	(void)state;
	/* above target but nothing behind it: no signal, ever */
	for (int i = 0; i < 300; i++, t += MS)
		assert_false(codel_signal(&c, &p, 50 * MS, false, t));
	/* one packet under target in every interval: no signal */
	for (int i = 0; i < 1000; i++, t += MS)
		assert_false(codel_signal(&c, &p, i % 90 ? 50 * MS : 0, true, t));
	/* standing: the first after 100 ms, the next 100 ms after, then
	 * 100 / sqrt(2) ms */
	assert_false(codel_signal(&c, &p, 0, true, t));
	assert_false(codel_signal(&c, &p, 6 * MS, true, t));
	assert_false(codel_signal(&c, &p, 6 * MS, true, t + 99 * MS));
	assert_true(codel_signal(&c, &p, 6 * MS, true, t + 100 * MS));
	assert_false(codel_signal(&c, &p, 6 * MS, true, t + 199 * MS));
	assert_true(codel_signal(&c, &p, 6 * MS, true, t + 200 * MS));
	assert_false(codel_signal(&c, &p, 6 * MS, true, t + 200 * MS + 70 * MS));
	assert_true(codel_signal(&c, &p, 6 * MS, true, t + 200 * MS + 71 * MS));
	assert_int_equal(c.count, 3);
	codel_idle(&c);
	assert_false(c.dropping);
	/* back soon after: it starts near the rate that worked */
	t += 300 * MS;
	assert_false(codel_signal(&c, &p, 6 * MS, true, t));
	assert_true(codel_signal(&c, &p, 6 * MS, true, t + 100 * MS));
	assert_int_equal(c.count, 2);     /* count - lastcount: 3 - 1 */
}

static void test_limit(void **state)
{
	struct dp_fq_conf small = conf;
	struct dp_fq *q;
	size_t len;
	bool sig;

	(void)state;
	small.limit = 4 * small.cap;
	apart(1000, 2000);
	q = dp_fq_new(&small);
	assert_non_null(q);
	push(q, 2000, 84, 0xee, 0);                       /* a ping waits */
	for (int i = 0; i < 100; i++)
		push(q, 1000, 60000, (uint8_t)i, 0);      /* a flood */
	assert_true(dp_fq_stats(q)->bytes <= small.limit);
	assert_true(dp_fq_stats(q)->overlimit >= 96);
	/* the flood lost its oldest, the ping is still there, first */
	assert_int_equal(dp_fq_stats(q)->backlog, 4);
	assert_int_equal(pop_tag(q, 0, &len, &sig), 0xee);
	assert_int_equal(pop_tag(q, 0, &len, &sig), 97);
	dp_fq_free(q);
}

static void test_hostile(void **state)
{
	uint8_t b[128];
	struct dp_fq *q = dp_fq_new(&conf);
	size_t len;
	bool sig;

	(void)state;
	/* every length of a truncated or garbled header is classified
	 * within its bytes (ASan watches), unreadable ones in bucket 0 */
	memset(b, 0, sizeof(b));
	for (size_t n = 0; n < 60; n++) {
		uint8_t *h = malloc(n ? n : 1);

		memcpy(h, b, n);
		if (n)
			h[0] = 0x45;
		assert_true(dp_fq_bucket(h, n, 42) < DP_FQ_FLOWS);
		if (n)
			h[0] = 0x60;
		assert_true(dp_fq_bucket(h, n, 42) < DP_FQ_FLOWS);
		if (n)
			h[0] = 0x4f;     /* IHL 60 */
		assert_true(dp_fq_bucket(h, n, 42) < DP_FQ_FLOWS);
		free(h);
	}
	assert_int_equal(dp_fq_bucket(b, 3, 42), 0);
	b[0] = 0x70;
	assert_int_equal(dp_fq_bucket(b, sizeof(b), 42), 0);
	/* one flow always hashes alike; 64 flows spread over many buckets;
	 * another key puts them elsewhere */
	{
		unsigned used = 0, moved = 0;
		bool seen[DP_FQ_FLOWS] = { false };

		for (uint16_t p = 0; p < 64; p++) {
			unsigned k = bucket_of((uint16_t)(4000 + p));

			assert_int_equal(k, bucket_of((uint16_t)(4000 + p)));
			used += !seen[k];
			seen[k] = true;
			mk_udp(b, (uint16_t)(4000 + p), 100, 0);
			moved += dp_fq_bucket(b + HDR, 100, 42) != k;
		}
		assert_true(used >= 48);
		assert_true(moved >= 48);
	}
	/* a read of no more than the header, or more than cap, is not queued */
	assert_non_null(dp_fq_slot(q));
	dp_fq_push(q, HDR, 0);
	dp_fq_push(q, conf.cap + 1, 0);
	assert_true(dp_fq_empty(q));
	assert_int_equal(dp_fq_stats(q)->unusable, 2);
	assert_null(dp_fq_pop(q, 0, &len, &sig));
	dp_fq_free(q);
	/* unusable settings */
	{
		struct dp_fq_conf c = conf;

		c.limit = c.cap;
		assert_null(dp_fq_new(&c));
		c = conf;
		c.interval_ns = 0;
		assert_null(dp_fq_new(&c));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sparse_first),
		cmocka_unit_test(test_fair_bytes),
		cmocka_unit_test(test_codel),
		cmocka_unit_test(test_codel_state),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
