/* Data sessions on their own: seal/open both ways with both AEADs, the
 * exact Data format, replay, tampering, unknown index, malformed input,
 * counter and age limits, the replay window allocated only while packets
 * come out of order (and given up while traffic flows once every gap left
 * it, with the same verdicts as a window kept forever), an unknown AEAD,
 * more sessions than the cipher context pool. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "replay.h"
#include "session.h"

static uint8_t k1[AEAD_KEY_LEN], k2[AEAD_KEY_LEN];
static uint8_t ip[1400], pkt[1500], out[1500];

struct pair {
	struct session *a, *b;
};

static void pair_make(struct pair *p, enum aead_alg alg, int64_t now)
{
	struct session_params pa = { .alg = alg, .tx_key = k1, .rx_key = k2,
				     .local_index = 0x11111111, .remote_index = 0x22222222,
				     .initiator = true, .now_ms = now };
	struct session_params pb = { .alg = alg, .tx_key = k2, .rx_key = k1,
				     .local_index = 0x22222222, .remote_index = 0x11111111,
				     .initiator = false, .now_ms = now };

	p->a = session_new(&pa);
	p->b = session_new(&pb);
	assert_non_null(p->a);
	assert_non_null(p->b);
}

static void pair_free(struct pair *p)
{
	session_free(p->a);
	session_free(p->b);
}

static int setup(void **state)
{
	for (size_t i = 0; i < sizeof(k1); i++) {
		k1[i] = (uint8_t)(i * 7 + 1);
		k2[i] = (uint8_t)(i * 13 + 5);
	}
	for (size_t i = 0; i < sizeof(ip); i++)
		ip[i] = (uint8_t)i;
	ip[0] = 0x45;
	return 0;
}

static void roundtrip(enum aead_alg alg)
{
	struct pair p;
	ssize_t n, m;

	pair_make(&p, alg, 1000);
	for (int i = 0; i < 3; i++) {
		n = session_seal(p.a, ip, 100 + (size_t)i, pkt, sizeof(pkt));
		assert_int_equal(n, 100 + i + SESSION_OVERHEAD);
		/* Header: ver 1, type 0x40, reserved, receiver index, counter. */
		assert_int_equal(pkt[0], 1);
		assert_int_equal(pkt[1], CY_DATA);
		assert_int_equal(pkt[2] | pkt[3], 0);
		assert_int_equal(get_be32(pkt + 4), 0x22222222);
		assert_int_equal(get_be64(pkt + 8), (uint64_t)i);
		m = session_open(p.b, pkt, (size_t)n, out, sizeof(out));
		assert_int_equal(m, 100 + i);
		assert_memory_equal(out, ip, (size_t)m);
	}
	n = session_seal(p.b, ip, 1400, pkt, sizeof(pkt));
	assert_int_equal(n, 1400 + SESSION_OVERHEAD);
	m = session_open(p.a, pkt, (size_t)n, out, sizeof(out));
	assert_int_equal(m, 1400);
	assert_memory_equal(out, ip, 1400);
	/* Keepalive: empty inner packet. */
	n = session_seal(p.a, NULL, 0, pkt, sizeof(pkt));
	assert_int_equal(n, SESSION_OVERHEAD);
	assert_int_equal(session_open(p.b, pkt, (size_t)n, NULL, 0), 0);

	assert_int_equal(session_stats(p.a)->tx_packets, 4);
	assert_int_equal(session_stats(p.a)->tx_bytes, 100 + 101 + 102);
	assert_int_equal(session_stats(p.b)->rx_packets, 4);
	assert_int_equal(session_stats(p.b)->rx_bytes, 100 + 101 + 102);
	assert_int_equal(session_stats(p.a)->rx_bytes, 1400);
	assert_int_equal(session_alg(p.a), alg);
	pair_free(&p);
}

static void test_roundtrip_chacha(void **state) { roundtrip(AEAD_CHACHA20_POLY1305); }
static void test_roundtrip_aes(void **state) { roundtrip(AEAD_AES256_GCM); }

static void test_replay(void **state)
{
	uint8_t first[200];
	struct pair p;
	ssize_t n, n1;

	pair_make(&p, AEAD_CHACHA20_POLY1305, 0);
	n1 = session_seal(p.a, ip, 50, first, sizeof(first));
	assert_true(n1 > 0);
	assert_int_equal(session_open(p.b, first, (size_t)n1, out, sizeof(out)), 50);
	assert_int_equal(session_open(p.b, first, (size_t)n1, out, sizeof(out)), -EALREADY);
	assert_int_equal(session_stats(p.b)->drop_replay, 1);

	/* Out of order within the window is fine, once. */
	for (int i = 0; i < 100; i++) {
		n = session_seal(p.a, ip, 50, pkt, sizeof(pkt));
		assert_true(n > 0);
	}
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), 50);
	/* Push the window beyond the first packet: too old now (it was
	 * already seen anyway); a fresh one far behind is refused too. */
	session_test_set_tx_counter(p.a, 20000);
	n = session_seal(p.a, ip, 50, pkt, sizeof(pkt));
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), 50);
	session_test_set_tx_counter(p.a, 20000 - REPLAY_WINDOW - 1);
	n = session_seal(p.a, ip, 50, pkt, sizeof(pkt));
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), -EALREADY);
	assert_int_equal(session_stats(p.b)->drop_replay, 2);
	assert_int_equal(session_stats(p.b)->rx_packets, 3);
	pair_free(&p);
}

static void test_tamper(void **state)
{
	struct pair p;
	uint8_t copy[200];
	ssize_t n;

	pair_make(&p, AEAD_AES256_GCM, 0);
	n = session_seal(p.a, ip, 60, pkt, sizeof(pkt));
	assert_true(n > 0);
	/* Every byte from the counter on: header bits are AAD, the rest is
	 * ciphertext and tag. */
	for (ssize_t i = 8; i < n; i++) {
		memcpy(copy, pkt, (size_t)n);
		copy[i] ^= 0x01;
		assert_int_equal(session_open(p.b, copy, (size_t)n, out, sizeof(out)), -EBADMSG);
	}
	assert_int_equal(session_stats(p.b)->drop_auth, (uint64_t)(n - 8));
	/* A forged packet with a high counter must not move the window: far
	 * enough ahead (more than REPLAY_WINDOW) that, had it moved, the
	 * genuine one would be refused as too old; no window is allocated
	 * for it either, and the genuine one still opens. */
	memcpy(copy, pkt, (size_t)n);
	put_be64(copy + 8, 100000);
	assert_true(100000 > REPLAY_WINDOW);
	assert_int_equal(session_open(p.b, copy, (size_t)n, out, sizeof(out)), -EBADMSG);
	assert_false(session_test_has_window(p.b));
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), 60);
	assert_false(session_test_has_window(p.b));
	/* Wrong direction key: b's own packet back to b (a fresh counter). */
	session_test_set_tx_counter(p.b, 7);
	n = session_seal(p.b, ip, 60, pkt, sizeof(pkt));
	put_be32(pkt + 4, 0x22222222);
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), -EBADMSG);
	pair_free(&p);
}

static void test_unknown_index_and_malformed(void **state)
{
	struct pair p;
	ssize_t n;

	pair_make(&p, AEAD_CHACHA20_POLY1305, 0);
	n = session_seal(p.a, ip, 40, pkt, sizeof(pkt));
	put_be32(pkt + 4, 0x33333333);
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), -ENOKEY);
	assert_int_equal(session_stats(p.b)->drop_index, 1);
	put_be32(pkt + 4, 0x22222222);

	/* Short, wrong version, wrong type, reserved bits. */
	assert_int_equal(session_open(p.b, pkt, SESSION_OVERHEAD - 1, out, sizeof(out)), -EPROTO);
	assert_int_equal(session_open(p.b, pkt, 3, out, sizeof(out)), -EPROTO);
	pkt[0] = 2;
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), -EPROTO);
	pkt[0] = 1;
	pkt[1] = 0x80;
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), -EPROTO);
	pkt[1] = CY_DATA;
	pkt[3] = 1;
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), -EPROTO);
	pkt[3] = 0;
	assert_int_equal(session_stats(p.b)->drop_malformed, 5);
	/* Too small an output buffer is the caller's problem, not counted. */
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, 39), -EMSGSIZE);
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, 40), 40);
	assert_int_equal(session_seal(p.a, ip, 40, pkt, 40 + SESSION_OVERHEAD - 1), -EMSGSIZE);
	pair_free(&p);
}

static void test_limits(void **state)
{
	struct pair p;
	ssize_t n;

	pair_make(&p, AEAD_CHACHA20_POLY1305, 1000);
	assert_false(session_needs_rekey(p.a, 1000));
	assert_false(session_expired(p.a, 1000));
	/* Age: the initiator's session wants a rekey at 120 s, the
	 * responder's later; both expire at 180 s. */
	assert_true(session_needs_rekey(p.a, 1000 + SESSION_REKEY_AFTER_MS));
	assert_false(session_needs_rekey(p.b, 1000 + SESSION_REKEY_AFTER_MS));
	assert_true(session_needs_rekey(p.b, 1000 + SESSION_RESPONDER_REKEY_AFTER_MS));
	assert_false(session_expired(p.a, 1000 + SESSION_REJECT_AFTER_MS - 1));
	assert_true(session_expired(p.a, 1000 + SESSION_REJECT_AFTER_MS));

	/* Messages. */
	session_test_set_tx_counter(p.a, SESSION_REKEY_AFTER_MESSAGES - 1);
	assert_false(session_needs_rekey(p.a, 1000));
	n = session_seal(p.a, ip, 10, pkt, sizeof(pkt));
	assert_true(n > 0);
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), 10);
	assert_true(session_needs_rekey(p.a, 1000));
	assert_false(session_expired(p.a, 1000));

	session_test_set_tx_counter(p.a, SESSION_REJECT_AFTER_MESSAGES - 1);
	n = session_seal(p.a, ip, 10, pkt, sizeof(pkt));
	assert_true(n > 0);
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), 10);
	assert_int_equal(session_seal(p.a, ip, 10, pkt, sizeof(pkt)), -EKEYEXPIRED);
	assert_true(session_expired(p.a, 1000));
	/* A received counter at the limit is refused before decrypting. */
	put_be64(pkt + 8, SESSION_REJECT_AFTER_MESSAGES);
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), -EKEYEXPIRED);
	assert_int_equal(session_stats(p.b)->drop_expired, 1);
	pair_free(&p);
}

/* In order, a session needs no window; a gap allocates one, through
 * which the late packets pass once; session_idle folds it away once
 * nothing came for SESSION_WINDOW_IDLE_MS, refusing what never came. */
static void test_window_lazy(void **state)
{
	uint8_t held[3][200], copy[200];
	ssize_t hn[3], n;
	struct pair p;

	pair_make(&p, AEAD_AES256_GCM, 0);
	for (int i = 0; i < 5; i++) {
		n = session_seal(p.a, ip, 50, pkt, sizeof(pkt));
		assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), 50);
	}
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), -EALREADY);
	assert_false(session_test_has_window(p.b));
	session_idle(p.b, 100000);    /* nothing to fold */

	for (int i = 0; i < 3; i++) {   /* counters 5, 6, 7 held back */
		hn[i] = session_seal(p.a, ip, 50, held[i], sizeof(held[i]));
		assert_true(hn[i] > 0);
	}
	/* A forged packet far ahead allocates nothing: authentication first. */
	memcpy(copy, held[0], (size_t)hn[0]);
	put_be64(copy + 8, 5000);
	assert_int_equal(session_open(p.b, copy, (size_t)hn[0], out, sizeof(out)), -EBADMSG);
	assert_false(session_test_has_window(p.b));

	n = session_seal(p.a, ip, 50, pkt, sizeof(pkt));   /* 8 */
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), 50);
	assert_true(session_test_has_window(p.b));
	assert_int_equal(session_open(p.b, held[1], (size_t)hn[1], out, sizeof(out)), 50);
	assert_int_equal(session_open(p.b, held[1], (size_t)hn[1], out, sizeof(out)), -EALREADY);
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), -EALREADY);

	/* Traffic keeps the window: only an idle stretch folds it. */
	session_idle(p.b, 1000);
	session_idle(p.b, 1000 + SESSION_WINDOW_IDLE_MS - 1);
	assert_true(session_test_has_window(p.b));
	assert_int_equal(session_open(p.b, held[2], (size_t)hn[2], out, sizeof(out)), 50);
	session_idle(p.b, 1000 + SESSION_WINDOW_IDLE_MS);
	assert_true(session_test_has_window(p.b));
	session_idle(p.b, 1000 + 2 * SESSION_WINDOW_IDLE_MS - 1);
	assert_true(session_test_has_window(p.b));
	session_idle(p.b, 1000 + 2 * SESSION_WINDOW_IDLE_MS);
	assert_false(session_test_has_window(p.b));

	/* Folded: 5 never came and is refused now, 7 and 8 still are; what
	 * follows passes without a window. */
	assert_int_equal(session_open(p.b, held[0], (size_t)hn[0], out, sizeof(out)), -EALREADY);
	assert_int_equal(session_open(p.b, held[2], (size_t)hn[2], out, sizeof(out)), -EALREADY);
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), -EALREADY);
	n = session_seal(p.a, ip, 50, pkt, sizeof(pkt));
	assert_int_equal(session_open(p.b, pkt, (size_t)n, out, sizeof(out)), 50);
	assert_false(session_test_has_window(p.b));
	assert_int_equal(session_stats(p.b)->rx_packets, 9);
	assert_int_equal(session_stats(p.b)->drop_replay, 6);
	assert_int_equal(session_stats(p.b)->drop_auth, 1);
	pair_free(&p);
}

/* Seal counter ctr from a to b and open it: 50 (accepted) or -EALREADY. */
static ssize_t deliver(struct pair *p, uint64_t ctr)
{
	ssize_t n;

	session_test_set_tx_counter(p->a, ctr);
	n = session_seal(p->a, ip, 50, pkt, sizeof(pkt));
	assert_int_equal(n, 50 + SESSION_OVERHEAD);
	return session_open(p->b, pkt, (size_t)n, out, sizeof(out));
}

/* One lost packet on a busy session: the window goes by itself once the
 * gap is more than REPLAY_WINDOW behind, with no idle stretch; the lost
 * counter and anything already seen stay refused. */
static void test_window_folds_busy(void **state)
{
	const uint64_t lost = 5, fold = lost + REPLAY_WINDOW;
	uint8_t held[200];
	ssize_t hn;
	struct pair p;

	pair_make(&p, AEAD_AES256_GCM, 0);
	for (uint64_t c = 0; c < lost; c++)
		assert_int_equal(deliver(&p, c), 50);
	hn = session_seal(p.a, ip, 50, held, sizeof(held));   /* lost: 5 */
	assert_true(hn > 0);
	assert_false(session_test_has_window(p.b));
	/* In order from 6 on: the window holds while 5 is inside it... */
	for (uint64_t c = lost + 1; c < fold; c++) {
		assert_int_equal(deliver(&p, c), 50);
		assert_true(session_test_has_window(p.b));
	}
	/* ...and goes with the first packet that pushes 5 out of it. */
	assert_int_equal(deliver(&p, fold), 50);
	assert_false(session_test_has_window(p.b));
	assert_int_equal(session_open(p.b, held, (size_t)hn, out, sizeof(out)), -EALREADY);
	assert_int_equal(deliver(&p, fold), -EALREADY);
	assert_int_equal(deliver(&p, fold - 1), -EALREADY);
	assert_int_equal(deliver(&p, fold - 100), -EALREADY);
	assert_int_equal(deliver(&p, 0), -EALREADY);
	assert_int_equal(deliver(&p, fold + 1), 50);
	assert_false(session_test_has_window(p.b));

	/* A gap that was filled still needs the top to move on, and the
	 * latest of several gaps is what counts. */
	assert_int_equal(deliver(&p, fold + 3), 50);       /* gap fold+2 */
	assert_true(session_test_has_window(p.b));
	assert_int_equal(deliver(&p, fold + 2), 50);       /* filled */
	assert_int_equal(deliver(&p, fold + 10), 50);      /* gap ..fold+9 */
	for (uint64_t c = fold + 11; c < fold + 9 + REPLAY_WINDOW; c++)
		assert_int_equal(deliver(&p, c), 50);
	assert_true(session_test_has_window(p.b));
	assert_int_equal(deliver(&p, fold + 9), 50);       /* still inside: late, once */
	assert_int_equal(deliver(&p, fold + 9), -EALREADY);
	assert_int_equal(deliver(&p, fold + 9 + REPLAY_WINDOW), 50);
	assert_false(session_test_has_window(p.b));
	assert_int_equal(deliver(&p, fold + 4), -EALREADY);   /* never came */
	assert_int_equal(deliver(&p, fold + 9 + REPLAY_WINDOW), -EALREADY);
	assert_int_equal(session_stats(p.b)->drop_replay, 8);
	pair_free(&p);
}

/* The session's verdict on every counter is that of a window that is
 * never given up (replay.h), whatever the order: lazy allocation and
 * folding change the memory, never what is accepted. */
static void test_window_same_verdicts(void **state)
{
	struct replay ref;
	uint64_t next = 0, seed = 0x9e3779b97f4a7c15ULL;
	unsigned folds = 0;
	bool had = false;
	struct pair p;

	replay_init(&ref);
	pair_make(&p, AEAD_CHACHA20_POLY1305, 0);
	for (int i = 0; i < 60000; i++) {
		uint64_t r, ctr;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		r = seed >> 33;
		/* Stretches with loss and reordering alternate with stretches
		 * longer than the window with none (but with replays). */
		if (r % 1000 < 985 || (r % 1000 < 990 && (i / 10000) % 2))
			ctr = next;
		else if (r % 1000 < 990)            /* jump ahead */
			ctr = next + 1 + (r >> 10) % 64;
		else if (r % 1000 < 995)            /* late or replayed, in the window */
			ctr = next > 0 ? next - 1 - (r >> 10) % (next < 200 ? next : 200) : 0;
		else                                /* far behind: at the window's edge */
			ctr = next > REPLAY_WINDOW + 2 ? next - REPLAY_WINDOW - 2 + (r >> 10) % 4 : 0;
		if (ctr >= next)
			next = ctr + 1;
		assert_int_equal(deliver(&p, ctr), replay_update(&ref, ctr) ? 50 : -EALREADY);
		folds += had && !session_test_has_window(p.b);
		had = session_test_has_window(p.b);
	}
	assert_true(folds > 0);    /* the sequence did exercise the folding */
	pair_free(&p);
}

static void test_new_bad_alg(void **state)
{
	struct session_params sp = { .alg = (enum aead_alg)0, .tx_key = k1, .rx_key = k2 };

	assert_null(session_new(&sp));
	sp.alg = (enum aead_alg)3;
	assert_null(session_new(&sp));
	sp.alg = AEAD_CHACHA20_POLY1305;
	sp.tx_key = k1;
	struct session *s = session_new(&sp);
	assert_non_null(s);
	assert_int_equal(session_alg(s), AEAD_CHACHA20_POLY1305);
	session_free(s);
}

/* More sessions than the pool has cipher contexts (aead.h), used in
 * turn, each pair with keys of its own and the same indexes: every
 * packet opens with its own session and with no other. */
static void test_many_sessions(void **state)
{
	enum { N = AEAD_POOL_SIZE + 7 };
	static struct session *a[N], *b[N];
	uint8_t ka[AEAD_KEY_LEN], kb[AEAD_KEY_LEN];
	ssize_t n;

	for (int i = 0; i < N; i++) {
		struct session_params pa = { .alg = i % 2 ? AEAD_AES256_GCM :
						     AEAD_CHACHA20_POLY1305,
					     .tx_key = ka, .rx_key = kb,
					     .local_index = 1, .remote_index = 2 };
		struct session_params pb = pa;

		memcpy(ka, k1, sizeof(ka));
		memcpy(kb, k2, sizeof(kb));
		ka[0] = kb[0] = (uint8_t)i;
		pb.tx_key = kb;
		pb.rx_key = ka;
		pb.local_index = 2;
		pb.remote_index = 1;
		a[i] = session_new(&pa);
		b[i] = session_new(&pb);
		assert_non_null(a[i]);
		assert_non_null(b[i]);
	}
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < N; i++) {
			n = session_seal(a[i], ip, 300, pkt, sizeof(pkt));
			assert_int_equal(n, 300 + SESSION_OVERHEAD);
			if (i + 1 < N)   /* a session that has not seen this counter yet */
				assert_int_equal(session_open(b[i + 1], pkt, (size_t)n, out,
							      sizeof(out)), -EBADMSG);
			assert_int_equal(session_open(b[i], pkt, (size_t)n, out, sizeof(out)),
					 300);
			assert_memory_equal(out, ip, 300);
			n = session_seal(b[i], ip, 20, pkt, sizeof(pkt));
			assert_int_equal(session_open(a[i], pkt, (size_t)n, out, sizeof(out)), 20);
		}
	assert_int_equal(aead_pool_contexts(), AEAD_POOL_SIZE);
	for (int i = 0; i < N; i++) {
		assert_int_equal(session_stats(b[i])->rx_packets, 3);
		assert_false(session_test_has_window(b[i]));
		session_free(a[i]);
		session_free(b[i]);
	}
}

static void test_peek_and_pref(void **state)
{
	struct pair p;
	uint32_t idx = 0;
	ssize_t n;

	pair_make(&p, AEAD_CHACHA20_POLY1305, 0);
	n = session_seal(p.a, ip, 10, pkt, sizeof(pkt));
	assert_int_equal(session_peek_index(pkt, (size_t)n, &idx), 0);
	assert_int_equal(idx, 0x22222222);
	assert_int_equal(session_peek_index(pkt, 10, &idx), -EPROTO);
	pair_free(&p);

	setenv("CYPHONIC_AEAD", "chacha20-poly1305", 1);
	assert_int_equal(session_aead_preferred(), AEAD_CHACHA20_POLY1305);
	setenv("CYPHONIC_AEAD", "AES-256-GCM", 1);
	assert_int_equal(session_aead_preferred(), AEAD_AES256_GCM);
	unsetenv("CYPHONIC_AEAD");
	assert_true(session_aead_preferred() == AEAD_AES256_GCM ||
		    session_aead_preferred() == AEAD_CHACHA20_POLY1305);
	session_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_chacha),
		cmocka_unit_test(test_roundtrip_aes),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_unknown_index_and_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_window_lazy),
		cmocka_unit_test(test_window_folds_busy),
		cmocka_unit_test(test_window_same_verdicts),
		cmocka_unit_test(test_new_bad_alg),
		cmocka_unit_test(test_many_sessions),
		cmocka_unit_test(test_peek_and_pref),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
