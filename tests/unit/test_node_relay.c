/* The node's Relay Hellos (src/node/relay.c): the first at once, then one
 * a second while the handshake may run, then every RELAY_HELLO_MS; each
 * accepted by the TRS's parser under the Relay Key derived from the
 * Tunnel Key, with strictly rising timestamps; entries go with their
 * tunnel.  Relay Acks: only one that authenticates and echoes a recent
 * hello counts; hellos unacknowledged: retries every second, then the
 * relay session is declared dead.  Fake clock, captured datagrams. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

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
	int ndead;
	uint64_t dead_tid;
};

/* Where the TRS saw the hellos: an ack carries it back. */
static const struct sockaddr_in seen_at = { .sin_family = AF_INET, .sin_port = 0x3930,
					    .sin_addr = { 0x0a7100cb } };
#define SEEN ((const struct sockaddr *)&seen_at)
static struct sockaddr_storage seen;
/* Where the TRS of the running test is: acks come from there. */
static struct sockaddr_storage trs_at;
#define TRS_FROM ((const struct sockaddr *)&trs_at)

static bool alive(void *ctx, uint64_t tid)
{
	return ((struct cap *)ctx)->alive && tid == TID;
}

static void dead_cb(void *ctx, uint64_t tid)
{
	struct cap *c = ctx;

	c->ndead++;
	c->dead_tid = tid;
}

static void send_cb(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	struct cap *c = ctx;

	assert_int_equal(len, TRS_HELLO_LEN);
	memcpy(c->last, buf, len);
	memcpy(&c->to, to, addr_len(to));
	c->n++;
}

static void tick(struct relay_table *t, int64_t ms, struct cap *c)
{
	struct relay_cb cb = { .alive = alive, .send = send_cb, .dead = dead_cb, .ctx = c };

	relay_tick(t, MONO + ms, &cb);
}

/* What the TRS (Relay Key rk) answers to hello h: the ack echoing it,
 * sealed under key (rk, or a forger's). */
static void ack_of(const uint8_t *rk, const uint8_t *key, const uint8_t *h, uint8_t *ack)
{
	uint64_t tid, ts;
	uint8_t side;

	assert_int_equal(trs_hello_peek(h, TRS_HELLO_LEN, &tid, &side), 0);
	assert_int_equal(trs_hello_open(rk, h, TRS_HELLO_LEN, &side, &ts), 0);
	assert_int_equal(trs_ack_build(key, tid, side, ts, SEEN, ack, TRS_ACK_LEN), TRS_ACK_LEN);
}

static int ack_hello(struct relay_table *t, const uint8_t *rk, const uint8_t *h)
{
	uint8_t ack[TRS_ACK_LEN];

	ack_of(rk, rk, h, ack);
	return relay_ack(t, ack, sizeof(ack), TRS_FROM, &seen);
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
	trs_at = trs;
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
	assert_int_equal(ack_hello(t, rk, out), 0);
	tick(t, 999, &c);
	assert_int_equal(c.n, 0);
	for (ms = 1000; ms <= RELAY_HELLO_FAST_FOR_MS; ms += 1000) {
		tick(t, ms, &c);
		assert_int_equal(ack_hello(t, rk, c.last), 0);
		assert_int_equal(trs_hello_open(rk, c.last, sizeof(c.last), &side, &ts), 0);
		assert_true(ts > last);   /* same clock second: still rising */
		last = ts;
	}
	assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000);
	assert_true(addr_equal((struct sockaddr *)&c.to, (struct sockaddr *)&trs));
	tick(t, ms + RELAY_HELLO_MS - 1001, &c);
	assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000);
	tick(t, ms + RELAY_HELLO_MS - 1000, &c);
	assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000 + 1);
	assert_int_equal(ack_hello(t, rk, c.last), 0);
	tick(t, ms + 2 * RELAY_HELLO_MS - 1001, &c);
	assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000 + 1);
	assert_int_equal(c.ndead, 0);

	/* The tunnel went: so does its entry, and nothing is sent. */
	c.alive = false;
	tick(t, 10 * RELAY_HELLO_MS, &c);
	assert_int_equal(relay_count(t), 0);
	assert_int_equal(c.ndead, 0);
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
	trs_at = trs;
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

/* One relayed tunnel, its first hello acknowledged. */
static struct relay_table *setup(uint8_t rk[32], uint8_t first[TRS_HELLO_LEN])
{
	struct relay_table *t = relay_table_new();
	struct sockaddr_storage trs;
	uint8_t tk[32];
	socklen_t l;

	clock_set_fake(NOW, MONO);
	memset(tk, 0x11, sizeof(tk));
	assert_int_equal(trs_relay_key(tk, TID, rk), 0);
	assert_int_equal(addr_parse("192.0.2.1:40000", 0, &trs, &l), 0);
	trs_at = trs;
	assert_int_equal(relay_add(t, TID, tk, 0, (struct sockaddr *)&trs, first, TRS_HELLO_LEN),
			 TRS_HELLO_LEN);
	return t;
}

/* Acks that must not count: not acks, another tunnel or side, forged,
 * tampered, replayed, echoing no hello or an old one. */
static void test_ack_hostile(void **state)
{
	uint8_t rk[32], wk[32], h[TRS_HELLO_LEN], first[TRS_HELLO_LEN], ack[TRS_ACK_LEN + 1],
		old[TRS_ACK_LEN];
	struct cap c = { .alive = true };
	struct relay_table *t = setup(rk, first);
	uint64_t tid, ts;
	uint8_t side;

	(void)state;
	assert_int_equal(trs_hello_open(rk, first, sizeof(first), &side, &ts), 0);
	/* Not an ack: the hello itself bounced back, lengths, header fields. */
	assert_int_equal(relay_ack(t, first, sizeof(first), TRS_FROM, &seen), -EPROTO);
	ack_of(rk, rk, first, ack);
	assert_int_equal(relay_ack(t, ack, 0, TRS_FROM, &seen), -EPROTO);
	assert_int_equal(relay_ack(t, ack, TRS_ACK_LEN - 1, TRS_FROM, &seen), -EPROTO);
	assert_int_equal(relay_ack(t, ack, TRS_ACK_LEN + 1, TRS_FROM, &seen), -EPROTO);
	for (size_t i = 0; i < 13; i++) {
		uint8_t bad[TRS_ACK_LEN];

		if (i >= 4 && i < 12)
			continue;          /* the tunnel id: below */
		memcpy(bad, ack, sizeof(bad));
		bad[i] ^= i == 2 ? 2 : 1;
		assert_int_equal(relay_ack(t, bad, sizeof(bad), TRS_FROM, &seen), -EPROTO);
	}
	assert_int_equal(trs_ack_peek(ack, TRS_ACK_LEN, &tid, &side), 0);
	assert_true(tid == TID && side == 0);
	/* Another tunnel, the other side: nobody's. */
	assert_int_equal(trs_ack_build(rk, TID + 1, 0, ts, SEEN, ack, TRS_ACK_LEN), TRS_ACK_LEN);
	assert_int_equal(relay_ack(t, ack, TRS_ACK_LEN, TRS_FROM, &seen), -ENOENT);
	assert_int_equal(trs_ack_build(rk, TID, 1, ts, SEEN, ack, TRS_ACK_LEN), TRS_ACK_LEN);
	assert_int_equal(relay_ack(t, ack, TRS_ACK_LEN, TRS_FROM, &seen), -ENOENT);
	/* Forged (another key), tampered (side, nonce, sealed timestamp, tag). */
	memset(wk, 0x11, sizeof(wk));   /* the Tunnel Key */
	assert_int_equal(trs_ack_build(wk, TID, 0, ts, SEEN, ack, TRS_ACK_LEN), TRS_ACK_LEN);
	assert_int_equal(relay_ack(t, ack, TRS_ACK_LEN, TRS_FROM, &seen), -EBADMSG);
	for (size_t i = 13; i < TRS_ACK_LEN; i++) {
		ack_of(rk, rk, first, ack);
		ack[i] ^= 0x80;
		assert_int_equal(relay_ack(t, ack, TRS_ACK_LEN, TRS_FROM, &seen), -EBADMSG);
	}
	/* Authentic but echoing no hello sent. */
	assert_int_equal(trs_ack_build(rk, TID, 0, ts + 1, SEEN, ack, TRS_ACK_LEN), TRS_ACK_LEN);
	assert_int_equal(relay_ack(t, ack, TRS_ACK_LEN, TRS_FROM, &seen), -ESTALE);
	assert_int_equal(trs_ack_build(rk, TID, 0, 0, SEEN, ack, TRS_ACK_LEN), TRS_ACK_LEN);
	assert_int_equal(relay_ack(t, ack, TRS_ACK_LEN, TRS_FROM, &seen), -ESTALE);
	/* The real one counts once; replayed, it does not. */
	ack_of(rk, rk, first, old);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(relay_ack(t, old, sizeof(old), TRS_FROM, &seen), 0);
	assert_true(addr_equal((struct sockaddr *)&seen, SEEN));
	assert_int_equal(relay_ack(t, old, sizeof(old), TRS_FROM, &seen), -ESTALE);
	/* An ack for an older hello after a newer one's: late, not counted. */
	tick(t, 1000, &c);
	memcpy(h, c.last, sizeof(h));
	tick(t, 2000, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(ack_hello(t, rk, c.last), 0);
	assert_int_equal(ack_hello(t, rk, h), -ESTALE);
	/* A hello too many hellos ago (out of the ring) is not recent. */
	memcpy(h, c.last, sizeof(h));
	for (int i = 0; i < RELAY_ACK_KEEP; i++) {
		tick(t, 3000 + 1000 * i, &c);
		assert_int_equal(ack_hello(t, rk, c.last), 0);
	}
	tick(t, 3000 + 1000 * RELAY_ACK_KEEP, &c);
	ack_of(rk, rk, h, ack);
	assert_int_equal(relay_ack(t, ack, TRS_ACK_LEN, TRS_FROM, &seen), -ESTALE);
	/* An authentic ack from elsewhere (the peer has the Relay Key) keeps
	 * the session alive but tells nothing of where we are. */
	ack_of(rk, rk, c.last, ack);
	{
		struct sockaddr_storage peer;
		socklen_t pl;

		assert_int_equal(addr_parse("198.51.100.7:7446", 0, &peer, &pl), 0);
		assert_int_equal(relay_ack(t, ack, TRS_ACK_LEN, (struct sockaddr *)&peer, &seen),
				 0);
		assert_int_equal(seen.ss_family, AF_UNSPEC);
	}
	relay_table_free(t);
	clock_set_fake(0, 0);
}

/* No ack: a retry every RELAY_ACK_WAIT_MS, RELAY_DEAD_HELLOS in a row
 * missed and the tunnel is dead (once); forged acks keep nothing alive. */
static void test_dead(void **state)
{
	uint8_t rk[32], wk[32], first[TRS_HELLO_LEN], ack[TRS_ACK_LEN];
	struct cap c = { .alive = true };
	struct relay_table *t = setup(rk, first);
	int64_t ms, at;
	int i;

	(void)state;
	assert_int_equal(ack_hello(t, rk, first), 0);
	/* Acknowledged through the fast phase into the slow one. */
	for (ms = 1000; ms <= RELAY_HELLO_FAST_FOR_MS; ms += 1000) {
		tick(t, ms, &c);
		assert_int_equal(ack_hello(t, rk, c.last), 0);
	}
	at = ms - 1000 + RELAY_HELLO_MS;
	tick(t, at, &c);
	assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000 + 1);
	/* The TRS is gone: that hello is missed, then retries once a second;
	 * an attacker's forged acks change nothing. */
	memset(wk, 0x55, sizeof(wk));
	for (i = 1; i < RELAY_DEAD_HELLOS; i++) {
		tick(t, at + 1000 * i - 1, &c);
		assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000 + i);
		tick(t, at + 1000 * i, &c);
		assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000 + 1 + i);
		ack_of(rk, wk, c.last, ack);
		assert_int_equal(relay_ack(t, ack, sizeof(ack), TRS_FROM, &seen), -EBADMSG);
	}
	assert_int_equal(c.ndead, 0);
	assert_int_equal(relay_count(t), 1);
	tick(t, at + 1000 * i, &c);
	assert_int_equal(c.ndead, 1);
	assert_true(c.dead_tid == TID);
	assert_int_equal(relay_count(t), 0);
	assert_int_equal(c.n, RELAY_HELLO_FAST_FOR_MS / 1000 + RELAY_DEAD_HELLOS);
	tick(t, at + 1000 * (i + 1), &c);
	assert_int_equal(c.ndead, 1);
	/* Once gone, its acks are nobody's. */
	ack_of(rk, rk, c.last, ack);
	assert_int_equal(relay_ack(t, ack, sizeof(ack), TRS_FROM, &seen), -ENOENT);
	relay_table_free(t);
	clock_set_fake(0, 0);
}

/* A few hellos lost, then an ack again (even a late one for a retry):
 * alive, and back to the slow schedule. */
static void test_recover(void **state)
{
	uint8_t rk[32], first[TRS_HELLO_LEN], h[TRS_HELLO_LEN];
	struct cap c = { .alive = true };
	struct relay_table *t = setup(rk, first);
	int64_t at = RELAY_HELLO_FAST_FOR_MS + RELAY_HELLO_MS;
	int i, n;

	(void)state;
	assert_int_equal(ack_hello(t, rk, first), 0);
	for (int64_t ms = 1000; ms <= RELAY_HELLO_FAST_FOR_MS; ms += 1000) {
		tick(t, ms, &c);
		assert_int_equal(ack_hello(t, rk, c.last), 0);
	}
	tick(t, at, &c);
	for (i = 1; i < RELAY_DEAD_HELLOS - 1; i++) {
		tick(t, at + 1000 * i, &c);
		if (i == 2)
			memcpy(h, c.last, sizeof(h));
	}
	/* The ack of an earlier retry: the later ones are still missed. */
	assert_int_equal(ack_hello(t, rk, h), 0);
	n = c.n;
	tick(t, at + 1000 * i, &c);
	assert_int_equal(c.n, n + 1);
	assert_int_equal(ack_hello(t, rk, c.last), 0);
	for (int k = 1; k < RELAY_HELLO_MS / 1000; k++)
		tick(t, at + 1000 * (i + k), &c);
	assert_int_equal(c.n, n + 1);
	tick(t, at + 1000 * i + RELAY_HELLO_MS, &c);
	assert_int_equal(c.n, n + 2);
	assert_int_equal(c.ndead, 0);
	assert_int_equal(relay_count(t), 1);
	relay_table_free(t);
	clock_set_fake(0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hellos),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_ack_hostile),
		cmocka_unit_test(test_dead),
		cmocka_unit_test(test_recover),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
