/* Punching (src/node/dataplane/punch.c, docs/nat.md): two tables, one per
 * end of a tunnel, exchange probes and acks over bytes.  A burst probes
 * every PUNCH_RETRY_MS and gives up after PUNCH_BURST_MS; an ack counts
 * once and only for a recent probe of ours; a forged, reflected, replayed
 * or stale Punch gets nothing sent back.  Fake clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "addr.h"
#include "clock.h"
#include "punch.h"

#define NOW 1700000000
#define MONO 1000000
#define TID 0x1234

struct cap {
	int sent, failed, again;
	uint8_t last[PUNCH_LEN];
	struct sockaddr_storage to;
	bool alive;
};

static bool cb_alive(void *ctx, uint64_t tid)
{
	return ((struct cap *)ctx)->alive && tid == TID;
}

static void cb_send(void *ctx, uint64_t tid, const uint8_t *buf, size_t len,
		    const struct sockaddr *to)
{
	struct cap *c = ctx;

	assert_true(tid == TID);
	assert_int_equal(len, PUNCH_LEN);
	memcpy(c->last, buf, len);
	memcpy(&c->to, to, addr_len(to));
	c->sent++;
}

static void cb_failed(void *ctx, uint64_t tid)
{
	assert_true(tid == TID);
	((struct cap *)ctx)->failed++;
}

static void cb_again(void *ctx, uint64_t tid)
{
	assert_true(tid == TID);
	((struct cap *)ctx)->again++;
}

static struct sockaddr_storage ep(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t l;

	assert_int_equal(addr_parse(s, 0, &ss, &l), 0);
	return ss;
}

static uint8_t key[32];
/* Where a and b are seen (each is the other's candidate). */
static struct sockaddr_storage A_AT, B_AT;
#define FROM_A ((struct sockaddr *)&A_AT)
#define FROM_B ((struct sockaddr *)&B_AT)

/* a: initiator, b: responder; both burst; a's first probe in pa, b's in pb. */
static void pair(struct punch_table **a, struct punch_table **b, uint8_t pa[PUNCH_LEN],
		 uint8_t pb[PUNCH_LEN], int64_t again)
{
	struct sockaddr_storage ca = ep("192.0.2.21:7446"), cb = ep("192.0.2.20:7446");

	A_AT = cb;
	B_AT = ca;
	clock_set_fake(NOW, MONO);
	memset(key, 0x42, sizeof(key));
	*a = punch_table_new();
	*b = punch_table_new();
	assert_non_null(*a);
	assert_non_null(*b);
	assert_int_equal(punch_add(*a, TID, key, 1, (struct sockaddr *)&ca, NULL, true,
				   CY_PUNCH_PLAIN, again, MONO, pa, PUNCH_LEN), PUNCH_LEN);
	assert_int_equal(punch_add(*b, TID, key, 0, (struct sockaddr *)&cb, NULL, true,
				   CY_PUNCH_PLAIN, again, MONO, pb, PUNCH_LEN), PUNCH_LEN);
	assert_true(punch_bursting(*a, TID));
}

static void test_probe_ack(void **state)
{
	struct punch_table *a, *b;
	uint8_t pa[PUNCH_LEN], pb[PUNCH_LEN], ack[PUNCH_LEN], out[PUNCH_LEN];
	struct punch_msg m;
	size_t n;

	(void)state;
	pair(&a, &b, pa, pb, 0);
	/* b takes a's probe and answers; a takes the answer: a found the path. */
	assert_int_equal(punch_input(b, pa, sizeof(pa), FROM_A, MONO, &m, ack, sizeof(ack), &n),
			 PUNCH_IN_PROBE);
	assert_int_equal(n, PUNCH_LEN);
	assert_true(m.tunnel_id == TID);
	assert_int_equal(punch_input(a, ack, n, FROM_B, MONO, &m, out, sizeof(out), &n),
			 PUNCH_IN_ACK);
	assert_int_equal(n, 0);
	assert_false(punch_bursting(a, TID));
	/* The same ack again, and a's probe again: nothing. */
	assert_int_equal(punch_input(a, ack, sizeof(ack), FROM_B, MONO, &m, out, sizeof(out), &n),
			 -ESTALE);
	assert_int_equal(punch_input(b, pa, sizeof(pa), FROM_A, MONO, &m, out, sizeof(out), &n),
			 -ESTALE);
	assert_int_equal(n, 0);
	/* b, still bursting, probes back at once; a answers it though done. */
	assert_true(punch_bursting(b, TID));
	assert_int_equal(punch_probe_now(b, TID, FROM_A, MONO, pb, sizeof(pb)), PUNCH_LEN);
	assert_int_equal(punch_input(a, pb, sizeof(pb), FROM_B, MONO, &m, ack, sizeof(ack), &n),
			 PUNCH_IN_PROBE);
	assert_int_equal(punch_input(b, ack, n, FROM_A, MONO, &m, out, sizeof(out), &n),
			 PUNCH_IN_ACK);
	assert_int_equal(punch_probe_now(b, TID, FROM_A, MONO, pb, sizeof(pb)), -EALREADY);
	punch_table_free(a);
	punch_table_free(b);
	clock_set_fake(0, 0);
}

static void test_hostile(void **state)
{
	struct punch_table *a, *b, *other;
	uint8_t pa[PUNCH_LEN], pb[PUNCH_LEN], bad[PUNCH_LEN], out[PUNCH_LEN], k2[32];
	struct sockaddr_storage c = ep("192.0.2.21:7446");
	struct punch_msg m;
	size_t n = 99;

	(void)state;
	pair(&a, &b, pa, pb, 0);
	/* Every byte flipped in turn: never answered. */
	for (size_t i = 0; i < PUNCH_LEN; i++) {
		memcpy(bad, pa, sizeof(bad));
		bad[i] ^= 0x01;
		assert_true(punch_input(b, bad, sizeof(bad), FROM_A, MONO, &m, out, sizeof(out),
			 &n) < 0);
		assert_int_equal(n, 0);
	}
	/* Truncated, padded. */
	assert_int_equal(punch_input(b, pa, PUNCH_LEN - 1, FROM_A, MONO, &m, out, sizeof(out), &n),
			 -EPROTO);
	/* a's own probe sent back to a: reflected, refused. */
	assert_int_equal(punch_input(a, pa, sizeof(pa), FROM_B, MONO, &m, out, sizeof(out), &n),
			 -EPERM);
	/* Another tunnel key (a forger who knows the tunnel id). */
	memset(k2, 0x43, sizeof(k2));
	other = punch_table_new();
	assert_int_equal(punch_add(other, TID, k2, 1, (struct sockaddr *)&c, NULL, true,
				   CY_PUNCH_PLAIN, 0, MONO, bad, sizeof(bad)), PUNCH_LEN);
	assert_int_equal(punch_input(b, bad, sizeof(bad), FROM_A, MONO, &m, out, sizeof(out), &n),
			 -EBADMSG);
	/* A genuine ack that echoes no probe of a's (the probe of another
	 * initiator with the key, later): a takes nothing from it. */
	punch_table_free(other);
	other = punch_table_new();
	clock_set_fake(NOW + 5, MONO);
	assert_int_equal(punch_add(other, TID, key, 1, (struct sockaddr *)&c, NULL, true,
				   CY_PUNCH_PLAIN, 0, MONO, bad, sizeof(bad)), PUNCH_LEN);
	assert_int_equal(punch_input(b, bad, sizeof(bad), FROM_A, MONO, &m, out, sizeof(out), &n),
			 PUNCH_IN_PROBE);
	assert_int_equal(punch_input(a, out, n, FROM_B, MONO, &m, bad, sizeof(bad), &n), -ESTALE);
	assert_true(punch_bursting(a, TID));
	/* Unknown tunnel. */
	punch_del(b, TID);
	assert_int_equal(punch_input(b, pa, sizeof(pa), FROM_A, MONO, &m, out, sizeof(out), &n),
			 -ENOENT);
	assert_int_equal(n, 0);
	punch_table_free(other);
	punch_table_free(a);
	punch_table_free(b);
	clock_set_fake(0, 0);
}

/* A probe from a clock more than a minute away is not answered. */
static void test_skew(void **state)
{
	struct punch_table *a, *b;
	uint8_t pa[PUNCH_LEN], pb[PUNCH_LEN], out[PUNCH_LEN];
	struct punch_msg m;
	size_t n;

	(void)state;
	pair(&a, &b, pa, pb, 0);
	clock_set_fake(NOW + PUNCH_MAX_SKEW_MS / 1000 + 1, MONO);
	assert_int_equal(punch_input(b, pa, sizeof(pa), FROM_A, MONO, &m, out, sizeof(out), &n),
			 -ESTALE);
	assert_int_equal(n, 0);
	punch_table_free(a);
	punch_table_free(b);
	clock_set_fake(0, 0);
}

/* The schedule: a probe every PUNCH_RETRY_MS to the candidate, the burst
 * gives up after PUNCH_BURST_MS, then again_ms later punch_cb.again; a
 * restart bursts at once; entries go with their tunnel. */
static void test_schedule(void **state)
{
	struct punch_table *a, *b;
	uint8_t pa[PUNCH_LEN], pb[PUNCH_LEN];
	struct cap c = { .alive = true };
	struct punch_cb cb = { cb_alive, cb_send, cb_failed, cb_again, &c };
	struct sockaddr_storage cand = ep("192.0.2.21:7446"), cand2 = ep("192.0.2.99:40000");
	int64_t t;

	(void)state;
	pair(&a, &b, pa, pb, 5000);
	assert_int_equal(punch_next_ms(a), MONO + PUNCH_RETRY_MS);
	for (t = MONO; t <= MONO + PUNCH_BURST_MS; t += PUNCH_RETRY_MS)
		punch_tick(a, t, &cb);
	assert_int_equal(c.sent, PUNCH_BURST_MS / PUNCH_RETRY_MS - 1);
	assert_true(addr_equal((struct sockaddr *)&c.to, (struct sockaddr *)&cand));
	assert_int_equal(c.failed, 1);
	assert_false(punch_bursting(a, TID));
	assert_int_equal(punch_next_ms(a), MONO + PUNCH_BURST_MS + 5000);
	punch_tick(a, MONO + PUNCH_BURST_MS + 4999, &cb);
	assert_int_equal(c.again, 0);
	punch_tick(a, MONO + PUNCH_BURST_MS + 5000, &cb);
	assert_int_equal(c.again, 1);
	/* A restart towards a new candidate probes at the next tick. */
	c.sent = 0;
	assert_int_equal(punch_restart(a, TID, (struct sockaddr *)&cand2, MONO + 10000), 0);
	punch_tick(a, MONO + 10000, &cb);
	assert_int_equal(c.sent, 1);
	assert_true(addr_equal((struct sockaddr *)&c.to, (struct sockaddr *)&cand2));
	/* Stopped: silent. */
	punch_stop(a, TID);
	assert_int_equal(punch_next_ms(a), INT64_MAX);
	/* The tunnel went: the entry too. */
	c.alive = false;
	punch_tick(a, MONO + 20000, &cb);
	assert_int_equal(punch_count(a), 0);
	assert_int_equal(punch_restart(a, TID, NULL, MONO), -ENOENT);
	punch_table_free(a);
	punch_table_free(b);
	clock_set_fake(0, 0);
}

/* An entry that only answers (the initiator of a direct route) sends
 * nothing of its own. */
static void test_answer_only(void **state)
{
	struct punch_table *t = punch_table_new();
	struct sockaddr_storage cand = ep("192.0.2.21:7446");
	struct cap c = { .alive = true };
	struct punch_cb cb = { cb_alive, cb_send, cb_failed, cb_again, &c };
	uint8_t out[PUNCH_LEN];

	(void)state;
	clock_set_fake(NOW, MONO);
	assert_int_equal(punch_add(t, TID, key, 1, (struct sockaddr *)&cand, NULL, false,
				   CY_PUNCH_PLAIN, 0, MONO, out, sizeof(out)), 0);
	punch_tick(t, MONO + 1000, &cb);
	assert_int_equal(c.sent + c.failed + c.again, 0);
	assert_int_equal(punch_next_ms(t), INT64_MAX);
	punch_table_free(t);
	clock_set_fake(0, 0);
}

/* An ack counts only from where our probe went, and only while fresh; a
 * probe goes outside the schedule only to the candidate's address; the
 * NMS's redirects to the same candidate come at most once per gap. */
static void test_ack_rules(void **state)
{
	struct punch_table *a, *b;
	uint8_t pa[PUNCH_LEN], pb[PUNCH_LEN], ack[PUNCH_LEN], out[PUNCH_LEN];
	struct sockaddr_storage elsewhere = ep("198.51.100.66:7446");
	struct sockaddr_storage cand = ep("192.0.2.21:7446"), other_port = ep("192.0.2.21:9999");
	struct punch_msg m;
	size_t n;

	(void)state;
	pair(&a, &b, pa, pb, 5000);
	assert_int_equal(punch_input(b, pa, sizeof(pa), FROM_A, MONO, &m, ack, sizeof(ack), &n),
			 PUNCH_IN_PROBE);
	/* Held back and sent from elsewhere: refused; too late: refused. */
	assert_int_equal(punch_input(a, ack, n, (struct sockaddr *)&elsewhere, MONO, &m, out,
				     sizeof(out), &n), -ESTALE);
	assert_int_equal(punch_input(a, ack, sizeof(ack), FROM_B, MONO + PUNCH_ACK_WAIT_MS + 1, &m,
				     out, sizeof(out), &n), -ESTALE);
	assert_true(punch_bursting(a, TID));
	/* Out of schedule: to the candidate's address at another port yes
	 * (and an ack from there counts), elsewhere no. */
	assert_int_equal(punch_probe_now(a, TID, (struct sockaddr *)&elsewhere, MONO, out,
					 sizeof(out)), -EPERM);
	assert_int_equal(punch_probe_now(a, TID, (struct sockaddr *)&other_port, MONO, pa,
					 sizeof(pa)), PUNCH_LEN);
	assert_int_equal(punch_input(b, pa, sizeof(pa), FROM_A, MONO, &m, ack, sizeof(ack), &n),
			 PUNCH_IN_PROBE);
	assert_int_equal(punch_input(a, ack, n, (struct sockaddr *)&other_port, MONO, &m, out,
				     sizeof(out), &n), PUNCH_IN_ACK);
	/* Redirects: the same candidate again within the gap is refused
	 * (the burst of pair() started at MONO), another one is not. */
	assert_int_equal(punch_redirect(a, TID, (struct sockaddr *)&cand, CY_PUNCH_PLAIN, MONO + 10),
			 -EAGAIN);
	assert_int_equal(punch_redirect(a, TID, (struct sockaddr *)&cand, CY_PUNCH_PLAIN,
					MONO + PUNCH_MIN_GAP_MS), 0);
	assert_int_equal(punch_redirect(a, TID, (struct sockaddr *)&cand, CY_PUNCH_PLAIN,
					MONO + PUNCH_MIN_GAP_MS + 10), -EAGAIN);
	assert_int_equal(punch_redirect(a, TID, (struct sockaddr *)&other_port, CY_PUNCH_PLAIN,
					MONO + PUNCH_MIN_GAP_MS + 20), 0);
	punch_table_free(a);
	punch_table_free(b);
	clock_set_fake(0, 0);
}

/* The birthday approach: the spray side (a) sends PUNCH_SPRAY_ROUND
 * probes a round to the candidate's address, each at another port, until
 * PUNCH_SPRAY_PROBES went, all distinct, none below the NAPTs' range; the
 * many-sockets side (b) has one probe for all its sockets and sends
 * nothing on its schedule.  The one spray probe that got through is
 * answered from the port it hit, and that ack counts; one from another
 * address does not.  Both give up after PUNCH_BIRTHDAY_MS; a tunnel gets
 * PUNCH_BIRTHDAYS birthday bursts. */
static struct {
	int n;
	uint16_t port[PUNCH_SPRAY_PROBES + 1];
	uint8_t probe[PUNCH_LEN];
} spray;

static void spray_send(void *ctx, uint64_t tid, const uint8_t *buf, size_t len,
		       const struct sockaddr *to)
{
	(void)ctx;
	assert_true(tid == TID && len == PUNCH_LEN && to->sa_family == AF_INET);
	assert_true(addr_equal_ip(to, FROM_B));
	assert_true(spray.n <= PUNCH_SPRAY_PROBES);
	spray.port[spray.n++] = ntohs(((const struct sockaddr_in *)to)->sin_port);
	memcpy(spray.probe, buf, len);
}

static void test_birthday(void **state)
{
	struct punch_table *a = punch_table_new(), *b = punch_table_new();
	struct sockaddr_storage ca = ep("192.0.2.21:7446"), cb = ep("192.0.2.20:7446");
	struct sockaddr_storage hit = ep("192.0.2.21:51234"), other = ep("192.0.2.99:51234");
	struct cap c = { .alive = true };
	struct punch_cb scb = { cb_alive, spray_send, cb_failed, cb_again, &c };
	struct punch_cb bcb = { cb_alive, cb_send, cb_failed, cb_again, &c };
	uint8_t out[PUNCH_LEN], ack[PUNCH_LEN], bp[PUNCH_LEN];
	static uint8_t seen[65536];
	struct punch_msg m;
	int64_t t;
	size_t n;

	(void)state;
	A_AT = cb;
	B_AT = ca;
	clock_set_fake(NOW, MONO);
	memset(key, 0x42, sizeof(key));
	memset(&spray, 0, sizeof(spray));
	memset(seen, 0, sizeof(seen));
	assert_int_equal(punch_add(a, TID, key, 1, (struct sockaddr *)&ca, NULL, true,
				   CY_PUNCH_SPRAY, 0, MONO, out, sizeof(out)), 0);
	assert_int_equal(punch_add(b, TID, key, 0, (struct sockaddr *)&cb, NULL, true,
				   CY_PUNCH_MANY, 0, MONO, out, sizeof(out)), 0);
	assert_int_equal(punch_mode(a, TID), CY_PUNCH_SPRAY);
	assert_int_equal(punch_mode(b, TID), CY_PUNCH_MANY);
	assert_int_equal(punch_many_probe(a, TID, MONO, out, sizeof(out)), -EALREADY);
	assert_int_equal(punch_many_probe(b, TID, MONO, bp, sizeof(bp)), PUNCH_LEN);
	/* The spray starts a retry after the sockets' probes. */
	punch_tick(a, MONO, &scb);
	assert_int_equal(spray.n, 0);
	punch_tick(a, MONO + PUNCH_RETRY_MS, &scb);
	assert_int_equal(spray.n, PUNCH_SPRAY_ROUND);
	for (t = MONO + 2 * PUNCH_RETRY_MS; t < MONO + PUNCH_BIRTHDAY_MS; t += PUNCH_RETRY_MS) {
		punch_tick(a, t, &scb);
		punch_tick(b, t, &bcb);
	}
	assert_int_equal(spray.n, PUNCH_SPRAY_PROBES);
	assert_int_equal(c.sent, 0);           /* b: nothing on its schedule */
	for (int i = 0; i < spray.n; i++) {
		assert_true(spray.port[i] >= PUNCH_SPRAY_PORT_MIN);
		assert_int_equal(seen[spray.port[i]], 0);
		seen[spray.port[i]] = 1;
	}
	/* The last round's probe reached b on one of its sockets: answered
	 * there, the ack from the port it hit counts; from elsewhere not. */
	assert_int_equal(punch_input(b, spray.probe, PUNCH_LEN, FROM_A, t, &m, ack, sizeof(ack),
				     &n), PUNCH_IN_PROBE);
	assert_int_equal(punch_input(a, ack, n, (struct sockaddr *)&other, t, &m, out,
				     sizeof(out), &n), -ESTALE);
	assert_int_equal(punch_input(a, ack, PUNCH_LEN, (struct sockaddr *)&hit, t, &m, out,
				     sizeof(out), &n), PUNCH_IN_ACK);
	assert_false(punch_bursting(a, TID));
	assert_int_equal(punch_mode(a, TID), CY_PUNCH_SPRAY);   /* how it was found */
	assert_int_equal(c.failed, 0);
	/* b's burst gives up (a's found the way: b follows the data). */
	punch_tick(b, MONO + PUNCH_BIRTHDAY_MS, &bcb);
	assert_int_equal(c.failed, 1);
	/* Found: the tunnel may try PUNCH_BIRTHDAYS more times, then a
	 * burst asked for is a plain one (still one per gap). */
	t = MONO + PUNCH_BIRTHDAY_MS;
	for (int i = 0; i < PUNCH_BIRTHDAYS; i++) {
		t += PUNCH_MIN_GAP_MS;
		assert_int_equal(punch_redirect(a, TID, (struct sockaddr *)&ca, CY_PUNCH_SPRAY, t), 0);
		assert_int_equal(punch_mode(a, TID), CY_PUNCH_SPRAY);
	}
	t += PUNCH_MIN_GAP_MS;
	assert_int_equal(punch_redirect(a, TID, (struct sockaddr *)&ca, CY_PUNCH_SPRAY, t), 0);
	assert_int_equal(punch_mode(a, TID), CY_PUNCH_PLAIN);
	assert_true(punch_bursting(a, TID));
	assert_int_equal(punch_redirect(a, TID, (struct sockaddr *)&ca, CY_PUNCH_SPRAY, t + 10),
			 -EAGAIN);
	assert_int_equal(punch_redirect(a, TID, (struct sockaddr *)&ca, 3, t + PUNCH_MIN_GAP_MS),
			 -EINVAL);
	/* The identity's budget, over all tunnels: PUNCH_BIRTHDAY_RATE per
	 * window (b made one above). */
	for (uint64_t k = 1; k < PUNCH_BIRTHDAY_RATE; k++) {
		assert_int_equal(punch_add(b, TID + k, key, 0, (struct sockaddr *)&cb, NULL, true,
					   CY_PUNCH_MANY, 0, MONO + 10, out, sizeof(out)), 0);
		assert_int_equal(punch_mode(b, TID + k), CY_PUNCH_MANY);
	}
	assert_int_equal(punch_add(b, TID + 9, key, 0, (struct sockaddr *)&cb, NULL, true,
				   CY_PUNCH_MANY, 0, MONO + 20, out, sizeof(out)), PUNCH_LEN);
	assert_int_equal(punch_mode(b, TID + 9), CY_PUNCH_PLAIN);
	assert_int_equal(punch_many_probe(b, TID + 9, MONO + 20, out, sizeof(out)), -EALREADY);
	assert_int_equal(punch_redirect(b, TID + 9, (struct sockaddr *)&cb, CY_PUNCH_MANY,
					MONO + PUNCH_BIRTHDAY_WINDOW_MS), 0);
	assert_int_equal(punch_mode(b, TID + 9), CY_PUNCH_MANY);
	punch_table_free(a);
	punch_table_free(b);
	clock_set_fake(0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_ack),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_skew),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_answer_only),
		cmocka_unit_test(test_ack_rules),
		cmocka_unit_test(test_birthday),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
