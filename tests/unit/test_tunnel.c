/* Tunnel establishment between two in-memory parties on the fake clock:
 * handshake, data both ways, tampering, replays, stale Requests,
 * simultaneous open, rekey with a grace period, counter limits,
 * retransmission and give-up, the relayed (Temp Key) form, many tunnels
 * at once with their replay windows folded when idle, a node's own
 * Request or Response sent back to it, ephemeral keys made ahead of time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "buf.h"
#include "clock.h"
#include "eph.h"
#include "tunnel.h"

#define T0_S 1700000000
#define T0_MS 1000000
#define TID 0x0123456789abcdefULL

static uint8_t tkey[TUNNEL_KEY_LEN], tmpkey[TUNNEL_KEY_LEN], other[TUNNEL_KEY_LEN];
static uint8_t req[TUNNEL_MSG_MAX], resp[TUNNEL_MSG_MAX], ka[64];
static uint8_t pkt[1600], out[1600], ip[1400];
static int64_t now_s, now_ms;

static void advance_ms(int64_t ms)
{
	now_ms += ms;
	now_s = T0_S + (now_ms - T0_MS) / 1000;
	clock_set_fake(now_s, now_ms);
}

static int setup_each(void **state)
{
	now_s = T0_S;
	now_ms = T0_MS;
	clock_set_fake(now_s, now_ms);
	return 0;
}

static int setup(void **state)
{
	for (size_t i = 0; i < TUNNEL_KEY_LEN; i++) {
		tkey[i] = (uint8_t)(0xa0 + i);
		tmpkey[i] = (uint8_t)(0x30 + i);
		other[i] = (uint8_t)(0x55 ^ i);
	}
	for (size_t i = 0; i < sizeof(ip); i++)
		ip[i] = (uint8_t)(i * 3);
	ip[0] = 0x45;
	return 0;
}

struct opts {
	const char *a_name, *b_name;
	bool relay;
	enum aead_alg a_pref, b_pref;
	unsigned a_offer, b_offer;
};

static struct tunnel *mk(const char *local, const char *peer, enum tunnel_role role,
			 bool relay, enum aead_alg pref, unsigned offer)
{
	struct tunnel_params p = {
		.tunnel_id = TID, .tunnel_key = tkey, .temp_key = relay ? tmpkey : NULL,
		.role = role, .local_fqdn = local, .peer_fqdn = peer,
		.aead_pref = pref ? pref : AEAD_CHACHA20_POLY1305, .aead_offer = offer,
	};
	struct tunnel *t = tunnel_new(&p);

	assert_non_null(t);
	return t;
}

/* a = initiator "alpha.example.net", b = responder "beta.example.net". */
static void pair(struct tunnel **a, struct tunnel **b, const struct opts *o)
{
	*a = mk(o && o->a_name ? o->a_name : "alpha.example.net",
		o && o->b_name ? o->b_name : "beta.example.net", TUNNEL_INITIATOR,
		o && o->relay, o ? o->a_pref : 0, o ? o->a_offer : 0);
	*b = mk(o && o->b_name ? o->b_name : "beta.example.net",
		o && o->a_name ? o->a_name : "alpha.example.net", TUNNEL_RESPONDER,
		o && o->relay, o ? o->b_pref : 0, o ? o->b_offer : 0);
}

/* Data from x to y must arrive intact. */
static void send_ok(struct tunnel *x, struct tunnel *y, size_t len)
{
	ssize_t n = tunnel_seal(x, ip, len, pkt, sizeof(pkt));

	assert_int_equal(n, (ssize_t)(len + SESSION_OVERHEAD));
	assert_int_equal(tunnel_open(y, pkt, (size_t)n, out, sizeof(out)), (ssize_t)len);
	assert_memory_equal(out, ip, len);
}

/* y answers x's Request (in req, n bytes) and opens x's confirming
 * keepalive: the rest of a handshake, checked step by step. */
static void answer(struct tunnel *x, struct tunnel *y, ssize_t n)
{
	ssize_t m, k;

	m = tunnel_handle_request(y, req, (size_t)n, resp, sizeof(resp));
	assert_int_equal(m, TUNNEL_RESP_LEN);
	k = tunnel_handle_response(x, resp, (size_t)m, ka, sizeof(ka));
	assert_int_equal(k, SESSION_OVERHEAD);
	assert_int_equal(tunnel_open(y, ka, (size_t)k, out, sizeof(out)), 0);
}

/* Full handshake a -> b; both end with one confirmed session. */
static void handshake(struct tunnel *a, struct tunnel *b, size_t req_len)
{
	struct tunnel_info ia, ib;
	ssize_t n;

	n = tunnel_initiate(a, req, sizeof(req));
	assert_int_equal(n, (ssize_t)req_len);
	answer(a, b, n);

	tunnel_get_info(a, &ia);
	tunnel_get_info(b, &ib);
	assert_int_equal(ia.state, TUNNEL_ESTABLISHED);
	assert_int_equal(ib.state, TUNNEL_ESTABLISHED);
	assert_int_equal(ia.local_index, ib.remote_index);
	assert_int_equal(ia.remote_index, ib.local_index);
	assert_int_equal(ia.alg, ib.alg);
}

static void test_handshake_and_data(void **state)
{
	struct tunnel *a, *b;
	struct tunnel_stats sa, sb;
	struct tunnel_info ib;
	struct tunnel_peek pk;

	pair(&a, &b, NULL);
	tunnel_get_info(a, &ib);
	assert_int_equal(ib.state, TUNNEL_IDLE);
	assert_int_equal(tunnel_seal(a, ip, 10, pkt, sizeof(pkt)), -ENOTCONN);

	handshake(a, b, TUNNEL_REQ_LEN);
	/* Clear headers as documented. */
	assert_int_equal(req[0], 1);
	assert_int_equal(req[1], CY_TUNNEL_REQ);
	assert_int_equal(req[2], 0);
	assert_int_equal(get_be64(req + 4), TID);
	assert_int_equal(req[12], 1);
	assert_int_equal(resp[1], CY_TUNNEL_RES);
	assert_int_equal(resp[12], 2);
	assert_int_equal(tunnel_peek(req, TUNNEL_REQ_LEN, &pk), 0);
	assert_int_equal(pk.type, CY_TUNNEL_REQ);
	assert_int_equal(pk.tunnel_id, TID);
	assert_int_equal(tunnel_peek(resp, TUNNEL_RESP_LEN, &pk), 0);
	assert_int_equal(tunnel_peek(req, TUNNEL_REQ_LEN - 1, &pk), -EPROTO);

	for (size_t len = 1; len <= 1400; len += 233) {
		send_ok(a, b, len);
		send_ok(b, a, len);
	}
	assert_int_equal(tunnel_seal(a, ip, 20, pkt, sizeof(pkt)), 20 + SESSION_OVERHEAD);
	assert_int_equal(tunnel_peek(pkt, 20 + SESSION_OVERHEAD, &pk), 0);
	assert_int_equal(pk.type, CY_DATA);
	assert_true(tunnel_has_index(b, pk.receiver_index));
	assert_false(tunnel_has_index(a, pk.receiver_index));

	tunnel_get_stats(a, &sa);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sa.req_sent, 1);
	assert_int_equal(sb.resp_sent, 1);
	assert_int_equal(sa.data.tx_packets, 1 + 7 + 1); /* keepalive + 7 + the last */
	assert_int_equal(sb.data.rx_packets, 1 + 7);
	assert_int_equal(sb.data.rx_bytes, sa.data.tx_bytes - 20);
	assert_int_equal(sa.rekeys, 0);
	tunnel_free(a);
	tunnel_free(b);
	tunnel_free(NULL);
}

/* The Response cache lives while the session it created waits for its
 * confirmation: afterwards a copy of the answered Request is only stale
 * (the initiator has the Response, it used the keys). */
static void test_duplicate_after_confirmation(void **state)
{
	struct tunnel *a, *b;
	struct tunnel_stats sb;
	struct tunnel_info ib, ib2;

	pair(&a, &b, NULL);
	handshake(a, b, TUNNEL_REQ_LEN);
	tunnel_get_info(b, &ib);
	/* The exact copy: a duplicate, nothing answered, nothing made. */
	assert_int_equal(tunnel_handle_request(b, req, TUNNEL_REQ_LEN, out, sizeof(out)),
			 -EALREADY);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.hs_dup, 1);
	assert_int_equal(sb.hs_drop_stale, 0);
	tunnel_get_info(b, &ib2);
	assert_int_equal(ib2.nsessions, 1);
	assert_int_equal(ib2.local_index, ib.local_index);
	/* The Response a took, again: a duplicate too. */
	assert_int_equal(tunnel_handle_response(a, resp, TUNNEL_RESP_LEN, ka, sizeof(ka)),
			 -EALREADY);
	/* Its tag on other bytes: not a copy, and unexpected (the
	 * handshake state is gone); any other too. */
	resp[TUNNEL_HDR_LEN] ^= 1;
	assert_int_equal(tunnel_handle_response(a, resp, TUNNEL_RESP_LEN, ka, sizeof(ka)),
			 -ENOENT);
	resp[TUNNEL_HDR_LEN] ^= 1;
	resp[TUNNEL_RESP_LEN - 1] ^= 1;
	assert_int_equal(tunnel_handle_response(a, resp, TUNNEL_RESP_LEN, ka, sizeof(ka)),
			 -ENOENT);
	{
		struct tunnel_stats sa;

		tunnel_get_stats(a, &sa);
		assert_int_equal(sa.hs_dup, 1);
		assert_int_equal(sa.hs_drop_unexpected, 2);
	}
	send_ok(a, b, 100);
	send_ok(b, a, 100);
	/* The same copy past the clock skew: stale, as any old Request. */
	advance_ms(TUNNEL_REQ_MAX_SKEW_MS + 1000);
	assert_int_equal(tunnel_handle_request(b, req, TUNNEL_REQ_LEN, out, sizeof(out)),
			 -ESTALE);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.hs_dup, 1);
	assert_int_equal(sb.hs_drop_stale, 1);
	tunnel_free(a);
	tunnel_free(b);
}

/* The Request sent again (tunnel_resend_request) is the same bytes, once
 * per attempt: the responder answers the copy of one it had with the same
 * Response, and one it never had (a firewall dropped it) as the first. */
static void test_resend_request(void **state)
{
	static uint8_t again[TUNNEL_MSG_MAX], resp2[TUNNEL_MSG_MAX];
	struct tunnel *a, *b;
	struct tunnel_stats sa;
	ssize_t n;

	for (int lost = 0; lost < 2; lost++) {
		pair(&a, &b, NULL);
		assert_int_equal(tunnel_resend_request(a, again, sizeof(again)), -ENOENT);
		assert_int_equal(tunnel_resend_request(b, again, sizeof(again)), -ENOENT);
		n = tunnel_initiate(a, req, sizeof(req));
		assert_int_equal(n, TUNNEL_REQ_LEN);
		advance_ms(5);
		assert_int_equal(tunnel_resend_request(a, again, TUNNEL_REQ_LEN - 1), -EMSGSIZE);
		assert_int_equal(tunnel_resend_request(a, again, sizeof(again)), n);
		assert_memory_equal(again, req, (size_t)n);
		assert_int_equal(tunnel_resend_request(a, again, sizeof(again)), -EALREADY);
		if (!lost) {
			/* b had the first: the copy gets the same Response */
			assert_int_equal(tunnel_handle_request(b, req, (size_t)n, resp2,
							       sizeof(resp2)), TUNNEL_RESP_LEN);
			assert_int_equal(tunnel_handle_request(b, again, (size_t)n, resp,
							       sizeof(resp)), TUNNEL_RESP_LEN);
			assert_memory_equal(resp, resp2, TUNNEL_RESP_LEN);
			assert_int_equal(tunnel_handle_response(a, resp, TUNNEL_RESP_LEN, ka,
								sizeof(ka)), SESSION_OVERHEAD);
			assert_int_equal(tunnel_open(b, ka, SESSION_OVERHEAD, out, sizeof(out)), 0);
		} else {
			answer(a, b, n);   /* req holds the copy's bytes too */
		}
		tunnel_get_stats(a, &sa);
		assert_int_equal(sa.req_sent, 2);
		assert_int_equal(sa.hs_retransmits, 1);
		send_ok(a, b, 100);
		send_ok(b, a, 100);
		/* Established: nothing in flight to send again. */
		assert_int_equal(tunnel_resend_request(a, again, sizeof(again)), -ENOENT);
		tunnel_free(a);
		tunnel_free(b);
	}
}

/* More tunnels than the cipher context pool serves at once (aead.h),
 * used in turn with data both ways and a lost packet each, then idle:
 * every tunnel keeps working and its replay window goes. */
static void test_many_tunnels(void **state)
{
	enum { N = AEAD_POOL_SIZE };
	static struct tunnel *a[N], *b[N];
	ssize_t n;

	for (int i = 0; i < N; i++) {
		struct opts o = { .a_pref = i % 2 ? AEAD_AES256_GCM : 0,
				  .b_pref = i % 2 ? AEAD_AES256_GCM : 0 };

		pair(&a[i], &b[i], &o);
		handshake(a[i], b[i], TUNNEL_REQ_LEN);
	}
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < N; i++) {
			if (round == 1)   /* lost: b's window opens for the gap */
				assert_true(tunnel_seal(a[i], ip, 40, pkt, sizeof(pkt)) > 0);
			send_ok(a[i], b[i], 700);
			send_ok(b[i], a[i], 60);
		}
	/* The first tick marks the window, the next one after an idle
	 * SESSION_WINDOW_IDLE_MS folds it; data still flows after that. */
	for (int i = 0; i < N; i++)
		assert_int_equal(tunnel_tick(b[i], pkt, sizeof(pkt)), 0);
	assert_true(session_test_has_window(tunnel_test_current(b[0])));
	advance_ms(SESSION_WINDOW_IDLE_MS);
	for (int i = 0; i < N; i++) {
		assert_int_equal(tunnel_tick(b[i], pkt, sizeof(pkt)), 0);
		assert_false(session_test_has_window(tunnel_test_current(b[i])));
		send_ok(a[i], b[i], 700);
		n = tunnel_seal(b[i], ip, 60, pkt, sizeof(pkt));
		assert_int_equal(tunnel_open(a[i], pkt, (size_t)n, out, sizeof(out)), 60);
	}
	for (int i = 0; i < N; i++) {
		tunnel_free(a[i]);
		tunnel_free(b[i]);
	}
}

static void test_aead_negotiation(void **state)
{
	struct { enum aead_alg ap, bp; unsigned ao, bo; enum aead_alg want; } c[] = {
		{ AEAD_AES256_GCM, AEAD_AES256_GCM, 0, 0, AEAD_AES256_GCM },
		{ AEAD_AES256_GCM, AEAD_CHACHA20_POLY1305, 0, 0, AEAD_CHACHA20_POLY1305 },
		{ AEAD_CHACHA20_POLY1305, AEAD_AES256_GCM, 0, 0, AEAD_CHACHA20_POLY1305 },
		{ AEAD_AES256_GCM, AEAD_CHACHA20_POLY1305,
		  SESSION_AEAD_BIT(AEAD_AES256_GCM), 0, AEAD_AES256_GCM },
	};
	struct tunnel *a, *b;
	struct tunnel_info ia;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct opts o = { .a_pref = c[i].ap, .b_pref = c[i].bp,
				  .a_offer = c[i].ao, .b_offer = c[i].bo };

		pair(&a, &b, &o);
		handshake(a, b, TUNNEL_REQ_LEN);
		tunnel_get_info(a, &ia);
		assert_int_equal(ia.alg, c[i].want);
		send_ok(a, b, 300);
		send_ok(b, a, 300);
		tunnel_free(a);
		tunnel_free(b);
	}

	/* Nothing in common: refused. */
	{
		struct opts o = { .a_pref = AEAD_AES256_GCM, .b_pref = AEAD_CHACHA20_POLY1305,
				  .a_offer = SESSION_AEAD_BIT(AEAD_AES256_GCM),
				  .b_offer = SESSION_AEAD_BIT(AEAD_CHACHA20_POLY1305) };
		struct tunnel_stats sb;
		ssize_t n;

		pair(&a, &b, &o);
		n = tunnel_initiate(a, req, sizeof(req));
		assert_int_equal(tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp)),
				 -EPERM);
		tunnel_get_stats(b, &sb);
		assert_int_equal(sb.hs_drop_crypto, 1);
		tunnel_free(a);
		tunnel_free(b);
	}
}

static void test_tampered_handshake(void **state)
{
	struct tunnel *a, *b;
	struct tunnel_stats sa, sb;
	struct tunnel_info ib;
	uint8_t copy[TUNNEL_MSG_MAX];
	ssize_t n, m, r;

	pair(&a, &b, NULL);
	n = tunnel_initiate(a, req, sizeof(req));
	assert_int_equal(n, TUNNEL_REQ_LEN);
	for (ssize_t i = 0; i < n; i++) {
		memcpy(copy, req, (size_t)n);
		copy[i] ^= 0x80;
		r = tunnel_handle_request(b, copy, (size_t)n, resp, sizeof(resp));
		assert_true(r == -EPROTO || r == -EBADMSG);
	}
	/* Truncated and extended. */
	assert_int_equal(tunnel_handle_request(b, req, (size_t)n - 1, resp, sizeof(resp)), -EPROTO);
	assert_int_equal(tunnel_handle_request(b, req, (size_t)n + 1, resp, sizeof(resp)), -EPROTO);
	tunnel_get_info(b, &ib);
	assert_int_equal(ib.nsessions, 0);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.hs_drop_auth + sb.hs_drop_malformed, (uint64_t)n + 2);
	assert_true(sb.hs_drop_auth >= (uint64_t)n - TUNNEL_HDR_LEN);

	/* Another Tunnel Key: authentication fails. */
	{
		struct tunnel_params p = { .tunnel_id = TID, .tunnel_key = other,
					   .local_fqdn = "c.example.net",
					   .peer_fqdn = "alpha.example.net",
					   .aead_pref = AEAD_CHACHA20_POLY1305 };
		struct tunnel *c = tunnel_new(&p);

		assert_non_null(c);
		assert_int_equal(tunnel_handle_request(c, req, (size_t)n, resp, sizeof(resp)),
				 -EBADMSG);
		tunnel_free(c);
	}

	m = tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp));
	assert_int_equal(m, TUNNEL_RESP_LEN);
	for (ssize_t i = 0; i < m; i++) {
		memcpy(copy, resp, (size_t)m);
		copy[i] ^= 0x01;
		r = tunnel_handle_response(a, copy, (size_t)m, ka, sizeof(ka));
		assert_true(r == -EPROTO || r == -EBADMSG);
	}
	tunnel_get_stats(a, &sa);
	assert_int_equal(sa.hs_drop_auth + sa.hs_drop_malformed, (uint64_t)m);
	assert_true(tunnel_handle_response(a, resp, (size_t)m, ka, sizeof(ka)) > 0);
	/* The same Response again: a duplicate, no handshake waits for it. */
	assert_int_equal(tunnel_handle_response(a, resp, (size_t)m, ka, sizeof(ka)), -EALREADY);
	assert_int_equal(tunnel_open(b, ka, SESSION_OVERHEAD, out, sizeof(out)), 0);
	send_ok(a, b, 64);
	send_ok(b, a, 64);
	tunnel_free(a);
	tunnel_free(b);
}

/* The Response to an attempt that a retry replaced (a path slower than
 * the retries): not taken, and not a forgery either; the retry's own
 * Response completes the handshake. */
static void test_late_response(void **state)
{
	uint8_t req1[TUNNEL_MSG_MAX], resp1[TUNNEL_MSG_MAX];
	struct tunnel *a, *b;
	struct tunnel_stats sa;
	ssize_t n1, n, m1;

	pair(&a, &b, NULL);
	n1 = tunnel_initiate(a, req1, sizeof(req1));
	advance_ms(1000);
	n = tunnel_initiate(a, req, sizeof(req));   /* the retry */
	m1 = tunnel_handle_request(b, req1, (size_t)n1, resp1, sizeof(resp1));
	assert_int_equal(m1, TUNNEL_RESP_LEN);
	assert_int_equal(tunnel_handle_response(a, resp1, (size_t)m1, ka, sizeof(ka)), -ENOENT);
	tunnel_get_stats(a, &sa);
	assert_int_equal(sa.hs_drop_unexpected, 1);
	assert_int_equal(sa.hs_drop_auth, 0);
	/* one bit off: a forgery still */
	resp1[TUNNEL_RESP_LEN - 1] ^= 1;
	assert_int_equal(tunnel_handle_response(a, resp1, (size_t)m1, ka, sizeof(ka)), -EBADMSG);
	answer(a, b, n);
	send_ok(a, b, 300);
	send_ok(b, a, 300);
	tunnel_free(a);
	tunnel_free(b);
}

static void test_data_tamper_replay_index(void **state)
{
	struct tunnel *a, *b;
	struct tunnel_stats sb;
	uint8_t copy[200];
	ssize_t n;

	pair(&a, &b, NULL);
	handshake(a, b, TUNNEL_REQ_LEN);
	n = tunnel_seal(a, ip, 100, pkt, sizeof(pkt));
	assert_true(n > 0);

	memcpy(copy, pkt, (size_t)n);
	copy[n - 1] ^= 1;
	assert_int_equal(tunnel_open(b, copy, (size_t)n, out, sizeof(out)), -EBADMSG);
	memcpy(copy, pkt, (size_t)n);
	copy[20] ^= 1;
	assert_int_equal(tunnel_open(b, copy, (size_t)n, out, sizeof(out)), -EBADMSG);

	assert_int_equal(tunnel_open(b, pkt, (size_t)n, out, sizeof(out)), 100);
	assert_int_equal(tunnel_open(b, pkt, (size_t)n, out, sizeof(out)), -EALREADY);
	assert_int_equal(tunnel_open(b, pkt, (size_t)n, out, sizeof(out)), -EALREADY);

	memcpy(copy, pkt, (size_t)n);
	put_be32(copy + 4, get_be32(pkt + 4) ^ 0xffffffffu);
	assert_int_equal(tunnel_open(b, copy, (size_t)n, out, sizeof(out)), -ENOKEY);
	assert_int_equal(tunnel_open(b, copy, 5, out, sizeof(out)), -EPROTO);

	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.data.drop_auth, 2);
	assert_int_equal(sb.data.drop_replay, 2);
	assert_int_equal(sb.drop_index, 1);
	assert_int_equal(sb.data.drop_malformed, 1);
	assert_int_equal(sb.data.rx_packets, 2); /* keepalive + one */
	tunnel_free(a);
	tunnel_free(b);
}

static void test_stale_request(void **state)
{
	struct tunnel *a, *b;
	struct tunnel_stats sb;
	struct tunnel_info ib;
	ssize_t n;

	pair(&a, &b, NULL);
	n = tunnel_initiate(a, req, sizeof(req));
	advance_ms(TUNNEL_REQ_MAX_SKEW_MS + 1000);
	assert_int_equal(tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp)), -ESTALE);
	tunnel_get_info(b, &ib);
	assert_int_equal(ib.nsessions, 0);

	/* From the future (the sender's clock is far ahead). */
	advance_ms(10 * 60 * 1000);
	n = tunnel_initiate(a, req, sizeof(req));
	now_s -= 5 * 60;
	clock_set_fake(now_s, now_ms);
	assert_int_equal(tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp)), -ESTALE);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.hs_drop_stale, 2);

	/* Clocks agree again: fine. */
	now_s += 5 * 60;
	clock_set_fake(now_s, now_ms);
	n = tunnel_initiate(a, req, sizeof(req));
	assert_int_equal(tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp)),
			 TUNNEL_RESP_LEN);
	tunnel_free(a);
	tunnel_free(b);
}

static void test_replayed_request(void **state)
{
	uint8_t old[TUNNEL_MSG_MAX], resp2[TUNNEL_MSG_MAX];
	struct tunnel *a, *b;
	struct tunnel_stats sb;
	struct tunnel_info ib, ib2;
	ssize_t n, n_old, m;

	pair(&a, &b, NULL);
	n_old = tunnel_initiate(a, old, sizeof(old));
	advance_ms(1000);
	n = tunnel_initiate(a, req, sizeof(req)); /* a newer attempt */
	m = tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp));
	assert_int_equal(m, TUNNEL_RESP_LEN);
	tunnel_get_info(b, &ib);

	/* Duplicate: the same Response, no second session. */
	assert_int_equal(tunnel_handle_request(b, req, (size_t)n, resp2, sizeof(resp2)),
			 TUNNEL_RESP_LEN);
	assert_memory_equal(resp, resp2, TUNNEL_RESP_LEN);
	tunnel_get_info(b, &ib2);
	assert_int_equal(ib2.nsessions, 1);
	assert_int_equal(ib2.local_index, ib.local_index);

	/* An older Request, still within the skew: refused. */
	assert_int_equal(tunnel_handle_request(b, old, (size_t)n_old, resp2, sizeof(resp2)),
			 -ESTALE);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.hs_dup, 1);
	assert_int_equal(sb.hs_drop_stale, 1);
	tunnel_get_info(b, &ib2);
	assert_int_equal(ib2.nsessions, 1);
	assert_int_equal(ib2.local_index, ib.local_index);

	/* The handshake still completes. */
	assert_int_equal(tunnel_handle_response(a, resp, (size_t)m, ka, sizeof(ka)),
			 SESSION_OVERHEAD);
	assert_int_equal(tunnel_open(b, ka, SESSION_OVERHEAD, out, sizeof(out)), 0);
	send_ok(a, b, 500);
	send_ok(b, a, 500);
	tunnel_free(a);
	tunnel_free(b);
}

static void simultaneous(const char *an, const char *bn)
{
	uint8_t ra[TUNNEL_MSG_MAX], rb[TUNNEL_MSG_MAX], pa[TUNNEL_MSG_MAX], pb[TUNNEL_MSG_MAX];
	struct opts o = { .a_name = an, .b_name = bn };
	struct tunnel *a, *b, *win, *lose;
	struct tunnel_info ia, ib;
	struct tunnel_stats sa, sb;
	ssize_t na, nb, xa, xb, k;
	uint8_t *resp_from_loser;

	pair(&a, &b, &o);
	na = tunnel_initiate(a, ra, sizeof(ra));
	nb = tunnel_initiate(b, rb, sizeof(rb));
	assert_true(na > 0 && nb > 0);
	/* Both Requests cross in flight. */
	xa = tunnel_handle_request(a, rb, (size_t)nb, pa, sizeof(pa));
	xb = tunnel_handle_request(b, ra, (size_t)na, pb, sizeof(pb));
	if (strcmp(an, bn) < 0) {
		/* a's Request wins: a drops b's, b answers a's. */
		assert_int_equal(xa, -EALREADY);
		assert_int_equal(xb, TUNNEL_RESP_LEN);
		win = a, lose = b, resp_from_loser = pb;
	} else {
		assert_int_equal(xb, -EALREADY);
		assert_int_equal(xa, TUNNEL_RESP_LEN);
		win = b, lose = a, resp_from_loser = pa;
	}
	k = tunnel_handle_response(win, resp_from_loser, TUNNEL_RESP_LEN, ka, sizeof(ka));
	assert_int_equal(k, SESSION_OVERHEAD);
	assert_int_equal(tunnel_open(lose, ka, (size_t)k, out, sizeof(out)), 0);
	/* The loser gave its own attempt up: nothing to retransmit. */
	advance_ms(TUNNEL_REKEY_TIMEOUT_MS);
	assert_int_equal(tunnel_tick(lose, req, sizeof(req)), 0);
	assert_int_equal(tunnel_tick(win, req, sizeof(req)), 0);

	tunnel_get_info(a, &ia);
	tunnel_get_info(b, &ib);
	assert_int_equal(ia.nsessions, 1);
	assert_int_equal(ib.nsessions, 1);
	assert_int_equal(ia.local_index, ib.remote_index);
	assert_int_equal(ia.remote_index, ib.local_index);
	send_ok(a, b, 700);
	send_ok(b, a, 700);
	tunnel_get_stats(a, &sa);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sa.hs_collisions, 1);
	assert_int_equal(sb.hs_collisions, 1);
	/* The losing Request again, now that the winner's attempt is done:
	 * a copy of one it saw, not a Request to answer (it would make a
	 * session the loser never confirms). */
	{
		struct tunnel_info iw, iw2;
		struct tunnel_stats sw;

		tunnel_get_info(win, &iw);
		assert_int_equal(tunnel_handle_request(win, win == a ? rb : ra,
						       (size_t)(win == a ? nb : na), pa, sizeof(pa)),
				 -EALREADY);
		tunnel_get_info(win, &iw2);
		assert_int_equal(iw2.nsessions, 1);
		assert_int_equal(iw2.local_index, iw.local_index);
		tunnel_get_stats(win, &sw);
		assert_int_equal(sw.hs_dup, 1);
		assert_int_equal(sw.resp_sent, 0);
		send_ok(a, b, 70);
		send_ok(b, a, 70);
	}
	tunnel_free(a);
	tunnel_free(b);
}

static void test_simultaneous_open(void **state)
{
	simultaneous("alpha.example.net", "beta.example.net");
	simultaneous("zulu.example.net", "beta.example.net");
}

static void test_rekey_grace(void **state)
{
	uint8_t old_ab[200], old_ba[200], old_late[200];
	struct tunnel *a, *b;
	struct tunnel_info ia0, ia1, ib1;
	struct tunnel_stats sa, sb;
	ssize_t n, m, k, nab, nba, nlate;

	pair(&a, &b, NULL);
	handshake(a, b, TUNNEL_REQ_LEN);
	tunnel_get_info(a, &ia0);
	assert_int_equal(tunnel_tick(a, req, sizeof(req)), 0);
	assert_int_equal(tunnel_tick(b, req, sizeof(req)), 0);

	advance_ms(SESSION_REKEY_AFTER_MS);
	/* The responder's session does not ask yet; the initiator's does. */
	assert_int_equal(tunnel_tick(b, req, sizeof(req)), 0);
	n = tunnel_tick(a, req, sizeof(req));
	assert_int_equal(n, TUNNEL_REQ_LEN);

	/* In flight on the old keys, both ways. */
	nab = tunnel_seal(a, ip, 80, old_ab, sizeof(old_ab));
	nba = tunnel_seal(b, ip, 90, old_ba, sizeof(old_ba));
	nlate = tunnel_seal(b, ip, 95, old_late, sizeof(old_late));

	m = tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp));
	assert_int_equal(m, TUNNEL_RESP_LEN);
	/* b keeps sending on the old keys until the new ones are confirmed. */
	send_ok(b, a, 33);
	k = tunnel_handle_response(a, resp, (size_t)m, ka, sizeof(ka));
	assert_int_equal(k, SESSION_OVERHEAD);
	tunnel_get_info(a, &ia1);
	assert_int_not_equal(ia1.local_index, ia0.local_index);
	assert_int_equal(ia1.nsessions, 2);

	/* New keys both ways once b saw the keepalive. */
	assert_int_equal(tunnel_open(b, old_ab, (size_t)nab, out, sizeof(out)), 80);
	assert_int_equal(tunnel_open(b, ka, (size_t)k, out, sizeof(out)), 0);
	tunnel_get_info(b, &ib1);
	assert_int_equal(ib1.local_index, ia1.remote_index);
	assert_int_equal(ib1.remote_index, ia1.local_index);
	send_ok(a, b, 100);
	send_ok(b, a, 100);

	/* New keys really differ: a new packet forced onto the old index
	 * does not authenticate there. */
	n = tunnel_seal(b, ip, 10, pkt, sizeof(pkt));
	put_be32(pkt + 4, ia0.local_index);
	assert_int_equal(tunnel_open(a, pkt, (size_t)n, out, sizeof(out)), -EBADMSG);

	/* The old in-flight packet still opens during the grace period. */
	assert_int_equal(tunnel_open(a, old_ba, (size_t)nba, out, sizeof(out)), 90);
	advance_ms(TUNNEL_GRACE_MS);
	assert_int_equal(tunnel_tick(a, req, sizeof(req)), 0);
	assert_int_equal(tunnel_open(a, old_late, (size_t)nlate, out, sizeof(out)), -ENOKEY);
	tunnel_get_info(a, &ia1);
	assert_int_equal(ia1.nsessions, 1);

	tunnel_get_stats(a, &sa);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sa.rekeys, 1);
	assert_int_equal(sb.rekeys, 1);
	/* Counters survive the retired session. */
	assert_int_equal(sb.data.rx_bytes, 80 + 100);
	assert_int_equal(sa.data.rx_bytes, 33 + 100 + 90);

	/* Hard limit: without a rekey, the session dies at 180 s. */
	advance_ms(SESSION_REJECT_AFTER_MS);
	assert_int_equal(tunnel_seal(a, ip, 10, pkt, sizeof(pkt)), -ENOTCONN);
	tunnel_free(a);
	tunnel_free(b);
}

static void test_counter_limits(void **state)
{
	struct tunnel *a, *b;
	ssize_t n;

	pair(&a, &b, NULL);
	handshake(a, b, TUNNEL_REQ_LEN);
	session_test_set_tx_counter(tunnel_test_current(b), SESSION_REKEY_AFTER_MESSAGES);
	/* A responder-made session past the message limit rekeys too. */
	n = tunnel_tick(b, req, sizeof(req));
	assert_int_equal(n, TUNNEL_REQ_LEN);
	/* Still usable until the hard limit. */
	send_ok(b, a, 10);

	session_test_set_tx_counter(tunnel_test_current(b), SESSION_REJECT_AFTER_MESSAGES);
	assert_int_equal(tunnel_seal(b, ip, 10, pkt, sizeof(pkt)), -ENOTCONN);
	/* The rekey it asked for brings the tunnel back (b initiates now). */
	n = tunnel_handle_request(a, req, (size_t)n, resp, sizeof(resp));
	assert_int_equal(n, TUNNEL_RESP_LEN);
	n = tunnel_handle_response(b, resp, (size_t)n, ka, sizeof(ka));
	assert_int_equal(tunnel_open(a, ka, (size_t)n, out, sizeof(out)), 0);
	send_ok(b, a, 10);
	send_ok(a, b, 10);
	tunnel_free(a);
	tunnel_free(b);
}

static void test_retransmit_and_give_up(void **state)
{
	struct tunnel *a, *b;
	struct tunnel_info ia;
	struct tunnel_stats sa;
	ssize_t n, m;

	pair(&a, &b, NULL);
	/* The initiator's first tick opens the handshake; the responder waits. */
	assert_int_equal(tunnel_tick(b, req, sizeof(req)), 0);
	n = tunnel_tick(a, req, sizeof(req));
	assert_int_equal(n, TUNNEL_REQ_LEN);
	tunnel_get_info(a, &ia);
	assert_int_equal(ia.state, TUNNEL_HANDSHAKE);
	/* Lost.  Nothing before the timeout, then a fresh Request. */
	advance_ms(TUNNEL_REKEY_TIMEOUT_MS - 1);
	assert_int_equal(tunnel_tick(a, req, sizeof(req)), 0);
	advance_ms(1);
	n = tunnel_tick(a, req, sizeof(req));
	assert_int_equal(n, TUNNEL_REQ_LEN);
	m = tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp));
	assert_int_equal(m, TUNNEL_RESP_LEN);
	/* b can already answer on the unconfirmed session (no other one). */
	n = tunnel_seal(b, ip, 40, pkt, sizeof(pkt));
	assert_int_equal(tunnel_handle_response(a, resp, (size_t)m, ka, sizeof(ka)),
			 SESSION_OVERHEAD);
	assert_int_equal(tunnel_open(a, pkt, (size_t)n, out, sizeof(out)), 40);
	tunnel_get_stats(a, &sa);
	assert_int_equal(sa.hs_retransmits, 1);
	tunnel_free(a);
	tunnel_free(b);

	/* Nobody answers: give up after TUNNEL_REKEY_ATTEMPT_MS. */
	pair(&a, &b, NULL);
	assert_true(tunnel_initiate(a, req, sizeof(req)) > 0);
	for (int i = 0; i < TUNNEL_REKEY_ATTEMPT_MS / TUNNEL_REKEY_TIMEOUT_MS - 1; i++) {
		advance_ms(TUNNEL_REKEY_TIMEOUT_MS);
		assert_int_equal(tunnel_tick(a, req, sizeof(req)), TUNNEL_REQ_LEN);
	}
	advance_ms(TUNNEL_REKEY_TIMEOUT_MS);
	assert_int_equal(tunnel_tick(a, req, sizeof(req)), -ETIMEDOUT);
	tunnel_get_info(a, &ia);
	assert_int_equal(ia.state, TUNNEL_FAILED);
	advance_ms(TUNNEL_REKEY_TIMEOUT_MS);
	assert_int_equal(tunnel_tick(a, req, sizeof(req)), 0);
	tunnel_get_stats(a, &sa);
	assert_int_equal(sa.hs_timeouts, 1);
	/* A late Response finds nothing waiting. */
	tunnel_free(a);
	tunnel_free(b);
}

static void test_relay_format(void **state)
{
	struct opts o = { .relay = true };
	struct tunnel *a, *b;
	uint8_t copy[TUNNEL_MSG_MAX];
	ssize_t n;

	pair(&a, &b, &o);
	handshake(a, b, TUNNEL_REQ_RELAY_LEN);
	assert_int_equal(req[2], TUNNEL_FLAG_RELAY);
	send_ok(a, b, 1000);
	send_ok(b, a, 1000);
	tunnel_free(a);
	tunnel_free(b);

	/* A responder with the Tunnel Key but another Temp Key (what a TRS
	 * would be if it had a Temp Key at all) cannot open the End Key. */
	pair(&a, &b, &o);
	n = tunnel_initiate(a, req, sizeof(req));
	{
		struct tunnel_params p = { .tunnel_id = TID, .tunnel_key = tkey,
					   .temp_key = other, .local_fqdn = "beta.example.net",
					   .peer_fqdn = "alpha.example.net",
					   .aead_pref = AEAD_CHACHA20_POLY1305 };
		struct tunnel *c = tunnel_new(&p);
		struct tunnel_stats sc;

		assert_non_null(c);
		assert_int_equal(tunnel_handle_request(c, req, (size_t)n, resp, sizeof(resp)),
				 -EBADMSG);
		tunnel_get_stats(c, &sc);
		assert_int_equal(sc.hs_drop_auth, 1);
		tunnel_free(c);
	}
	/* Direct and relayed forms are not interchangeable. */
	{
		struct tunnel *d = mk("beta.example.net", "alpha.example.net", TUNNEL_RESPONDER,
				      false, 0, 0);

		assert_int_equal(tunnel_handle_request(d, req, (size_t)n, resp, sizeof(resp)),
				 -EPROTO);
		tunnel_free(d);
	}
	memcpy(copy, req, (size_t)n);
	copy[2] = 0;
	assert_int_equal(tunnel_handle_request(b, copy, (size_t)n, resp, sizeof(resp)), -EPROTO);
	assert_int_equal(tunnel_handle_request(b, copy, TUNNEL_REQ_LEN, resp, sizeof(resp)),
			 -EPROTO);
	assert_int_equal(tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp)),
			 TUNNEL_RESP_LEN);
	tunnel_free(a);
	tunnel_free(b);
}

/* A Request built by hand with the Tunnel Key, carrying a chosen share. */
static size_t forge_request(const uint8_t pub[TUNNEL_PUB_LEN], uint64_t ts)
{
	struct aead *k = aead_new(AEAD_CHACHA20_POLY1305, tkey);
	uint8_t body[TUNNEL_REQ_BODY_LEN];
	struct wbuf w;

	assert_non_null(k);
	wbuf_init(&w, req, sizeof(req));
	wbuf_put_u8(&w, 1);
	wbuf_put_u8(&w, CY_TUNNEL_REQ);
	wbuf_put_u16(&w, 0);
	wbuf_put_u64(&w, TID);
	wbuf_put_u8(&w, 1);
	wbuf_put_bytes(&w, "forged nonc", 11);
	wbuf_init(&w, body, sizeof(body));
	wbuf_put_u32(&w, 77);
	wbuf_put_u8(&w, SESSION_AEAD_ALL);
	wbuf_put_u8(&w, AEAD_CHACHA20_POLY1305);
	wbuf_put_u8(&w, TUNNEL_INITIATOR);   /* the sender's role: b is the responder */
	wbuf_put_u8(&w, 0);
	wbuf_put_u64(&w, ts);
	wbuf_put_bytes(&w, pub, TUNNEL_PUB_LEN);
	wbuf_put_bytes(&w, tmpkey, 32);
	assert_true(wbuf_ok(&w));
	assert_int_equal(aead_seal(k, req + 12, req, TUNNEL_HDR_LEN, body, sizeof(body),
				   req + TUNNEL_HDR_LEN), TUNNEL_REQ_BODY_LEN + AEAD_TAG_LEN);
	aead_free(k);
	return TUNNEL_REQ_LEN;
}

static void test_bad_share_and_misc(void **state)
{
	static const uint8_t zero[TUNNEL_PUB_LEN];
	struct tunnel *a, *b;
	struct tunnel_stats sb;
	struct tunnel_params p = { .tunnel_id = TID, .tunnel_key = tkey };
	uint64_t malformed;
	size_t n;

	pair(&a, &b, NULL);
	/* The all-zero share (a low-order point) yields the all-zero secret. */
	n = forge_request(zero, (uint64_t)now_s * 1000);
	assert_int_equal(tunnel_handle_request(b, req, n, resp, sizeof(resp)), -EPERM);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.hs_drop_crypto, 1);

	/* Another tunnel id. */
	n = (size_t)tunnel_initiate(a, req, sizeof(req));
	put_be64(req + 4, TID + 1);
	assert_int_equal(tunnel_handle_request(b, req, n, resp, sizeof(resp)), -EPROTO);
	/* A Response when none is awaited, and an output buffer too small. */
	n = (size_t)tunnel_initiate(a, req, sizeof(req));
	assert_int_equal(tunnel_handle_request(b, req, n, resp, TUNNEL_RESP_LEN - 1), -EMSGSIZE);
	assert_int_equal(tunnel_initiate(a, req, TUNNEL_REQ_LEN - 1), -EMSGSIZE);
	/* A genuine direct-form Response (b's answer to a's Request) handed to
	 * b, which waits for none: well-formed, so only the "no handshake
	 * waiting" check refuses it. */
	assert_int_equal(tunnel_handle_request(b, req, n, resp, sizeof(resp)), TUNNEL_RESP_LEN);
	assert_int_equal(resp[2] & TUNNEL_FLAG_RELAY, 0);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.hs_drop_unexpected, 0);
	malformed = sb.hs_drop_malformed;
	assert_int_equal(tunnel_handle_response(b, resp, TUNNEL_RESP_LEN, ka, sizeof(ka)),
			 -ENOENT);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.hs_drop_unexpected, 1);
	assert_int_equal(sb.hs_drop_malformed, malformed);
	/* Bad parameters. */
	assert_null(tunnel_new(&p));
	tunnel_free(a);
	tunnel_free(b);
}

/* A Response built by hand with the Tunnel Key, answering the Request in
 * req (its nonce in the AAD, its sender index as receiver index), sealed
 * as if by a node of the given role. */
static size_t forge_response(uint8_t role)
{
	struct aead *k = aead_new(AEAD_CHACHA20_POLY1305, tkey);
	uint8_t rbody[TUNNEL_REQ_BODY_LEN], body[TUNNEL_RESP_BODY_LEN];
	uint8_t aad[TUNNEL_HDR_LEN + AEAD_NONCE_LEN], pub[TUNNEL_PUB_LEN] = { 9 };
	struct wbuf w;

	assert_non_null(k);
	/* The initiator's index, from inside its Request. */
	assert_int_equal(aead_open(k, req + 12, req, TUNNEL_HDR_LEN, req + TUNNEL_HDR_LEN,
				   TUNNEL_REQ_BODY_LEN + AEAD_TAG_LEN, rbody),
			 TUNNEL_REQ_BODY_LEN);
	wbuf_init(&w, resp, sizeof(resp));
	wbuf_put_u8(&w, 1);
	wbuf_put_u8(&w, CY_TUNNEL_RES);
	wbuf_put_u16(&w, 0);
	wbuf_put_u64(&w, TID);
	wbuf_put_u8(&w, 2);
	wbuf_put_bytes(&w, "forged nonc", 11);
	memcpy(aad, resp, TUNNEL_HDR_LEN);
	memcpy(aad + TUNNEL_HDR_LEN, req + 12, AEAD_NONCE_LEN);
	wbuf_init(&w, body, sizeof(body));
	wbuf_put_u32(&w, 99);
	wbuf_put_bytes(&w, rbody, 4);
	wbuf_put_u8(&w, AEAD_CHACHA20_POLY1305);
	wbuf_put_u8(&w, role);
	wbuf_put_u16(&w, 0);
	wbuf_put_bytes(&w, pub, TUNNEL_PUB_LEN);   /* the X25519 base point */
	assert_true(wbuf_ok(&w));
	assert_int_equal(aead_seal(k, resp + 12, aad, sizeof(aad), body, sizeof(body),
				   resp + TUNNEL_HDR_LEN), TUNNEL_RESP_BODY_LEN + AEAD_TAG_LEN);
	aead_free(k);
	return TUNNEL_RESP_LEN;
}

/* Both ends hold the Tunnel Key, so a node's own Request sent back to it
 * (by anyone on the path, or a TRS) authenticates.  The side with the
 * larger FQDN took it for a simultaneous open: it dropped its handshake,
 * answered itself and kept a session nobody else has, refused the
 * genuine Response and never retransmitted.  The sender's role inside
 * the sealed body now gives a reflected message away: refused, counted
 * as an authentication drop, and nothing else changes. */
static void reflected(bool relay)
{
	struct opts o = { .relay = relay };
	ssize_t req_len = relay ? TUNNEL_REQ_RELAY_LEN : TUNNEL_REQ_LEN;
	struct tunnel *a, *b;
	struct tunnel_info ia, ib;
	struct tunnel_stats sa, sb;
	ssize_t n;

	/* b ("beta", the larger FQDN) opens, e.g. a rekey of its own. */
	pair(&a, &b, &o);
	n = tunnel_initiate(b, req, sizeof(req));
	assert_int_equal(n, req_len);
	assert_int_equal(tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp)), -EBADMSG);
	tunnel_get_info(b, &ib);
	assert_int_equal(ib.state, TUNNEL_HANDSHAKE);
	assert_int_equal(ib.nsessions, 0);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.hs_drop_auth, 1);
	assert_int_equal(sb.hs_collisions, 0);
	assert_int_equal(sb.resp_sent, 0);
	/* The genuine Response to that very Request completes it. */
	answer(b, a, n);
	send_ok(a, b, 100);
	send_ok(b, a, 100);
	/* Reflected later, it still changes nothing. */
	assert_int_equal(tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp)), -EBADMSG);
	tunnel_get_info(b, &ib);
	assert_int_equal(ib.nsessions, 1);
	send_ok(b, a, 100);
	tunnel_free(a);
	tunnel_free(b);

	/* Unanswered and reflected: retransmitted on time all the same. */
	pair(&a, &b, &o);
	n = tunnel_initiate(b, req, sizeof(req));
	assert_int_equal(tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp)), -EBADMSG);
	advance_ms(TUNNEL_REKEY_TIMEOUT_MS);
	n = tunnel_tick(b, req, sizeof(req));
	assert_int_equal(n, req_len);
	tunnel_get_stats(b, &sb);
	assert_int_equal(sb.hs_retransmits, 1);
	answer(b, a, n);
	send_ok(a, b, 100);
	send_ok(b, a, 100);
	tunnel_free(a);
	tunnel_free(b);

	/* The smaller FQDN's side: refused too (not taken for a collision),
	 * and so is a Response sealed in its own role. */
	pair(&a, &b, &o);
	n = tunnel_initiate(a, req, sizeof(req));
	assert_int_equal(tunnel_handle_request(a, req, (size_t)n, resp, sizeof(resp)), -EBADMSG);
	if (!relay) {
		assert_int_equal(forge_response(TUNNEL_INITIATOR), TUNNEL_RESP_LEN);
		assert_int_equal(tunnel_handle_response(a, resp, TUNNEL_RESP_LEN, ka, sizeof(ka)),
				 -EBADMSG);
		/* A role that is neither: malformed. */
		assert_int_equal(forge_response(2), TUNNEL_RESP_LEN);
		assert_int_equal(tunnel_handle_response(a, resp, TUNNEL_RESP_LEN, ka, sizeof(ka)),
				 -EPROTO);
	}
	tunnel_get_info(a, &ia);
	assert_int_equal(ia.state, TUNNEL_HANDSHAKE);
	tunnel_get_stats(a, &sa);
	assert_int_equal(sa.hs_drop_auth, relay ? 1 : 2);
	assert_int_equal(sa.hs_collisions, 0);
	/* a's handshake goes on. */
	answer(a, b, n);
	send_ok(a, b, 100);
	send_ok(b, a, 100);
	tunnel_free(a);
	tunnel_free(b);
}

static void test_tunnel_reflected_request_refused(void **state)
{
	reflected(false);
	reflected(true);
}

/* Each side's handshake takes its spare ephemeral key (made ahead of
 * time) instead of making one; once taken, a spare is gone until it is
 * made again, and the next is a different key.  Without a spare, or
 * with none ready, the key is made on the spot. */
static void test_spare_ephemeral(void **state)
{
	struct eph_spare sa = { 0 }, sb = { 0 };
	uint8_t first_a[EPH_PUB_LEN], first_b[EPH_PUB_LEN], pub[EPH_PUB_LEN];
	struct tunnel_params p = {
		.tunnel_id = TID, .tunnel_key = tkey, .role = TUNNEL_INITIATOR,
		.local_fqdn = "alpha.example.net", .peer_fqdn = "beta.example.net",
		.spare = &sa,
	};
	struct tunnel *a, *b;
	EVP_PKEY *k;

	assert_true(eph_next_ms(&sa) <= now_ms);
	eph_refill(&sa, now_ms);
	eph_refill(&sb, now_ms);
	assert_non_null(sa.key);
	assert_non_null(sb.key);
	assert_int_equal(eph_next_ms(&sa), now_ms + EPH_MAX_AGE_MS);
	memcpy(first_a, sa.pub, EPH_PUB_LEN);
	memcpy(first_b, sb.pub, EPH_PUB_LEN);
	assert_memory_not_equal(first_a, first_b, EPH_PUB_LEN);

	a = tunnel_new(&p);
	p.role = TUNNEL_RESPONDER;
	p.local_fqdn = "beta.example.net";
	p.peer_fqdn = "alpha.example.net";
	p.spare = &sb;
	b = tunnel_new(&p);
	assert_non_null(a);
	assert_non_null(b);
	handshake(a, b, TUNNEL_REQ_LEN);
	send_ok(a, b, 100);
	send_ok(b, a, 100);
	assert_null(sa.key);
	assert_null(sb.key);
	assert_int_equal(sa.taken, 1);
	assert_int_equal(sb.taken, 1);
	assert_int_equal(sa.made_now + sb.made_now, 0);
	assert_true(eph_next_ms(&sa) <= now_ms);

	/* A rekey with no spare ready makes its key on the spot. */
	advance_ms(1000);
	handshake(a, b, TUNNEL_REQ_LEN);
	assert_int_equal(sa.made_now, 1);
	assert_int_equal(sb.made_now, 1);

	/* Made again: a new key, and the next handshake takes it. */
	eph_refill(&sa, now_ms);
	assert_non_null(sa.key);
	assert_memory_not_equal(sa.pub, first_a, EPH_PUB_LEN);
	advance_ms(1000);
	handshake(a, b, TUNNEL_REQ_LEN);
	assert_int_equal(sa.taken, 2);
	assert_null(sa.key);

	/* A spare is made again once it is EPH_MAX_AGE_MS old, and not before. */
	eph_refill(&sa, now_ms);
	memcpy(first_a, sa.pub, EPH_PUB_LEN);
	assert_int_equal(eph_next_ms(&sa), now_ms + EPH_MAX_AGE_MS);
	eph_refill(&sa, now_ms + EPH_MAX_AGE_MS - 1);
	assert_memory_equal(sa.pub, first_a, EPH_PUB_LEN);
	eph_refill(&sa, now_ms + EPH_MAX_AGE_MS);
	assert_non_null(sa.key);
	assert_memory_not_equal(sa.pub, first_a, EPH_PUB_LEN);
	assert_int_equal(eph_next_ms(&sa), now_ms + 2 * EPH_MAX_AGE_MS);

	/* No spare at all: made now. */
	k = eph_take(NULL, pub);
	assert_non_null(k);
	EVP_PKEY_free(k);
	eph_clear(&sa);
	eph_clear(&sb);
	tunnel_free(a);
	tunnel_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_handshake_and_data, setup_each),
		cmocka_unit_test_setup(test_aead_negotiation, setup_each),
		cmocka_unit_test_setup(test_tampered_handshake, setup_each),
		cmocka_unit_test_setup(test_late_response, setup_each),
		cmocka_unit_test_setup(test_data_tamper_replay_index, setup_each),
		cmocka_unit_test_setup(test_stale_request, setup_each),
		cmocka_unit_test_setup(test_replayed_request, setup_each),
		cmocka_unit_test_setup(test_duplicate_after_confirmation, setup_each),
		cmocka_unit_test_setup(test_resend_request, setup_each),
		cmocka_unit_test_setup(test_many_tunnels, setup_each),
		cmocka_unit_test_setup(test_simultaneous_open, setup_each),
		cmocka_unit_test_setup(test_rekey_grace, setup_each),
		cmocka_unit_test_setup(test_counter_limits, setup_each),
		cmocka_unit_test_setup(test_retransmit_and_give_up, setup_each),
		cmocka_unit_test_setup(test_relay_format, setup_each),
		cmocka_unit_test_setup(test_bad_share_and_misc, setup_each),
		cmocka_unit_test_setup(test_tunnel_reflected_request_refused, setup_each),
		cmocka_unit_test_setup(test_spare_ephemeral, setup_each),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
