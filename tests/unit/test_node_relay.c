/* The node's Relay Hellos (src/node/relay.c): the first at once, then one
 * a second while the handshake may run, then every RELAY_HELLO_MS; each
 * accepted by the TRS's parser under the Relay Key derived from the
 * Tunnel Key, with strictly rising timestamps; entries go with their
 * tunnel.  Fake clock, captured datagrams. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "clock.h"
#include "relay.h"
#include "trs_wire.h"

#define NOW 1700000000
#define MONO 1000000
#define TID 77

struct cap {
	int n;
	uint8_t last[TRS_HELLO_LEN];
	struct sockaddr_storage to;
	bool alive;
};

static bool alive(void *ctx, uint64_t tid)
{
	return ((struct cap *)ctx)->alive && tid == TID;
}

static void send_cb(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	struct cap *c = ctx;

	assert_int_equal(len, TRS_HELLO_LEN);
	memcpy(c->last, buf, len);
	memcpy(&c->to, to, addr_len(to));
	c->n++;
}

static void test_hellos(void **state)
{
	uint8_t tk[32], rk[32], out[TRS_HELLO_LEN], side;
	struct sockaddr_storage trs;
	struct relay_table *t = relay_table_new();
	struct cap c = { .alive = true };
	uint64_t ts, last;
	socklen_t l;
	ssize_t n;
	int64_t ms;

	(void)state;
	clock_set_fake(NOW, MONO);
	memset(tk, 0x11, sizeof(tk));
	assert_int_equal(trs_relay_key(tk, TID, rk), 0);
	assert_int_equal(addr_parse("[2001:db8::1]:40000", 0, &trs, &l), 0);
	assert_non_null(t);
	assert_int_equal(relay_add(t, TID, tk, 2, (struct sockaddr *)&trs, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(relay_add(t, TID, tk, 1, (struct sockaddr *)&trs, out, 10), -EMSGSIZE);
	n = relay_add(t, TID, tk, 1, (struct sockaddr *)&trs, out, sizeof(out));
	assert_int_equal(n, TRS_HELLO_LEN);
	assert_int_equal(relay_count(t), 1);
	/* The TRS takes it with the derived key, not with the Tunnel Key. */
	assert_int_equal(trs_hello_open(tk, out, (size_t)n, &side, &ts), -EBADMSG);
	assert_int_equal(trs_hello_open(rk, out, (size_t)n, &side, &ts), 0);
	assert_int_equal(side, 1);
	assert_true(ts == (uint64_t)NOW * 1000);
	last = ts;

	/* Fast for RELAY_HELLO_FAST_FOR_MS, then every RELAY_HELLO_MS. */
	relay_tick(t, MONO + 999, alive, send_cb, &c);
	assert_int_equal(c.n, 0);
	for (ms = 1000; ms <= RELAY_HELLO_FAST_FOR_MS; ms += 1000) {
		relay_tick(t, MONO + ms, alive, send_cb, &c);
		assert_int_equal(trs_hello_open(rk, c.last, sizeof(c.last), &side, &ts), 0);
		assert_true(ts > last);   /* same clock second: still rising */
		last = ts;
	}
	assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000);
	assert_true(addr_equal((struct sockaddr *)&c.to, (struct sockaddr *)&trs));
	relay_tick(t, MONO + ms + RELAY_HELLO_MS - 1001, alive, send_cb, &c);
	assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000);
	relay_tick(t, MONO + ms + RELAY_HELLO_MS - 1000, alive, send_cb, &c);
	assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000 + 1);

	/* The tunnel went: so does its entry, and nothing is sent. */
	c.alive = false;
	relay_tick(t, MONO + 10 * RELAY_HELLO_MS, alive, send_cb, &c);
	assert_int_equal(relay_count(t), 0);
	assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000 + 1);
	relay_del(t, TID);   /* absent: nothing */
	relay_table_free(t);
	relay_table_free(NULL);
	clock_set_fake(0, 0);
}

static void test_many(void **state)
{
	struct relay_table *t = relay_table_new();
	struct sockaddr_storage trs;
	uint8_t tk[32] = { 0 }, out[TRS_HELLO_LEN];
	socklen_t l;

	(void)state;
	assert_int_equal(addr_parse("192.0.2.1:40000", 0, &trs, &l), 0);
	for (uint64_t i = 1; i <= 100; i++)
		assert_int_equal(relay_add(t, i, tk, 0, (struct sockaddr *)&trs, out, sizeof(out)),
				 TRS_HELLO_LEN);
	/* The same tunnel again replaces its entry. */
	assert_int_equal(relay_add(t, 50, tk, 1, (struct sockaddr *)&trs, out, sizeof(out)),
			 TRS_HELLO_LEN);
	assert_int_equal(relay_count(t), 100);
	for (uint64_t i = 1; i <= 100; i += 2)
		relay_del(t, i);
	assert_int_equal(relay_count(t), 50);
	relay_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hellos),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
