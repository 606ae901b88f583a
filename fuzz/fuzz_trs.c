/* libFuzzer: the TRS (src/cloud/trs/trs.c) and its formats (trs_wire.c).  The
 * first byte picks the target:
 *   0  a raw datagram on the control port
 *   1  the rest as the message inside a validly sealed control datagram
 *      (past the AEAD: the Relay Request parser itself)
 *   2  a raw datagram on the session port of a session whose two sides
 *      said hello (forwarding, hellos, the held handshake)
 *   3  a datagram on a session port where only side 1 is known yet
 *   4  side, timestamp and tunnel id of a validly sealed Relay Hello
 *   5  the key file parser
 *   6  a raw datagram to the node's Relay Ack parser (relay_ack, and
 *      trs_ack_open under the session's key)
 *   7  side, timestamp and tunnel id of a validly sealed Relay Ack to
 *      relay_ack (past the AEAD: only echoes of recent hellos count)
 * Invariants are checked: what is forwarded is the input, unchanged, to
 * one of the two known endpoints; replies fit their buffer; an accepted
 * hello's ack opens under the session's Relay Key and echoes it; the node
 * takes an ack only for a hello it sent and only once. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"
#include "aead.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "relay.h"
#include "seal.h"
#include "trs.h"
#include "trs_wire.h"
#include "wire.h"

#define NOW 1700000000
#define TID 0x1122334455667788ULL
#define LINK_ID 7

static const uint8_t secret[TRS_KEY_LEN] = { 0x42 };
static uint8_t relay_key[TRS_KEY_LEN], relay_key1[TRS_KEY_LEN];
static struct trs *fz_trs;
static struct aead *fz_link;
static uint64_t fz_ctr, fz_ts;
static struct sockaddr_in fz_a, fz_b;
static struct relay_table *fz_relays;       /* the node's side: tunnel TID, side 1 */
static uint64_t fz_sent_ts[RELAY_ACK_KEEP]; /* its last hellos' timestamps */
static size_t fz_nsent;

#define check(x) do { if (!(x)) abort(); } while (0)

static int fz_open(void *arg, size_t slot, uint16_t *port)
{
	*port = (uint16_t)(40000 + slot);
	return 0;
}

static void fz_close(void *arg, size_t slot)
{
}

static const struct trs_ops fz_ops = { .open = fz_open, .close = fz_close };

static size_t fz_seal(const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	ssize_t n = cy_seal(fz_link, CY_DIR_TO_CLOUD, LINK_ID, ++fz_ctr, msg, len, out, cap);

	return n > 0 ? (size_t)n : 0;
}

static void fz_hello(const uint8_t *key, uint64_t tid, uint8_t side,
		     const struct sockaddr_in *from, size_t slot)
{
	uint8_t h[TRS_HELLO_LEN];
	struct trs_fwd f;

	check(trs_hello_build(key, tid, side, (uint64_t)NOW * 1000 + ++fz_ts, h,
			      sizeof(h)) == TRS_HELLO_LEN);
	trs_handle_relay(fz_trs, slot, (const struct sockaddr *)from, h, sizeof(h), &f);
}

/* Reply counters from memory: no file per input. */
static uint64_t fz_mark;

/* A fresh session for TID in slot 0 (and one more, half open, in slot 1). */
static void fz_reset(void)
{
	struct trs_conf c = { .idle_s = 60, .max_sessions = 4, .npub = 2,
			      .ctr_reserve = cy_ctr_reserve_in_memory, .ctr_arg = &fz_mark };
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c.pub[1];
	struct sockaddr_in *s4 = (struct sockaddr_in *)&c.pub[0];
	uint8_t msg[128], pkt[256], out[TRS_PKT_MAX];
	struct cy_builder b;
	ssize_t n;

	trs_free(fz_trs);
	memcpy(c.secret, secret, sizeof(secret));
	s4->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &s4->sin_addr);
	s6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &s6->sin6_addr);
	fz_trs = trs_new(&c, &fz_ops, NULL);
	check(fz_trs);
	fz_ts = 0;
	for (uint64_t t = TID; t <= TID + 1; t++) {
		cy_build_start(&b, msg, sizeof(msg), CY_RELAY_REQ);
		cy_put_u64(&b, CY_A_TUNNEL_ID, t);
		cy_put_bytes(&b, CY_A_KEY, t == TID ? relay_key : relay_key1, TRS_KEY_LEN);
		cy_put_u64(&b, CY_A_TIME, (uint64_t)NOW * 1000);
		n = cy_build_finish(&b);
		check(n > 0);
		check(trs_handle_ctl(fz_trs, (struct sockaddr *)&fz_a, pkt,
				     fz_seal(msg, (size_t)n, pkt, sizeof(pkt)), out, sizeof(out)) > 0);
	}
	fz_hello(relay_key, TID, 1, &fz_a, 0);
	fz_hello(relay_key, TID, 0, &fz_b, 0);
	fz_hello(relay_key1, TID + 1, 1, &fz_a, 1);
}

static void fz_cleanup(void)
{
	trs_free(fz_trs);
	aead_free(fz_link);
	relay_table_free(fz_relays);
}

/* The node's table: one relayed tunnel (Tunnel Key = secret, so its Relay
 * Key is relay_key), its first hello sent. */
/* The node's TRS: its acks come from there. */
static struct sockaddr_in fz_trs_at = { .sin_family = AF_INET };

static void fz_node_reset(void)
{
	uint8_t h[TRS_HELLO_LEN], side;
	uint64_t ts;

	relay_table_free(fz_relays);
	fz_relays = relay_table_new();
	check(fz_relays);
	fz_trs_at.sin_port = htons(40000);
	check(relay_add(fz_relays, TID, secret, 1, (const struct sockaddr *)&fz_trs_at, h,
			sizeof(h)) == TRS_HELLO_LEN);
	check(trs_hello_open(relay_key, h, sizeof(h), &side, &ts) == 0);
	memset(fz_sent_ts, 0, sizeof(fz_sent_ts));
	fz_sent_ts[0] = ts;
	fz_nsent = 1;
}

/* An ack the node took must echo one of the hellos it sent. */
static void fz_node_ack(const uint8_t *pkt, size_t len)
{
	uint8_t side;
	uint64_t ts;
	bool sent = false;
	struct sockaddr_storage seen, seen2;
	int rc = relay_ack(fz_relays, pkt, len, (const struct sockaddr *)&fz_trs_at, &seen);

	if (rc != 0)
		return;
	check(trs_ack_open(relay_key, pkt, len, &side, &ts, &seen2) == 0 && side == 1);
	check(addr_equal((struct sockaddr *)&seen, (struct sockaddr *)&seen2));
	for (size_t i = 0; i < fz_nsent && i < RELAY_ACK_KEEP; i++)
		sent |= fz_sent_ts[i] == ts;
	check(sent);
	/* Once only. */
	check(relay_ack(fz_relays, pkt, len, (const struct sockaddr *)&fz_trs_at, &seen) ==
	      -ESTALE);
}

/* An accepted hello's ack: the session's key, tunnel id, the hello's side,
 * timestamp and source. */
static void fz_check_ack(const struct trs_fwd *f, const uint8_t *key, uint64_t tid,
			 const uint8_t *hello, size_t len, const struct sockaddr_in *from)
{
	struct sockaddr_storage seen;
	uint8_t side, hside;
	uint64_t ts, hts, atid;

	if (!f->ack_len)
		return;
	check(f->ack_len == TRS_ACK_LEN);
	check(trs_ack_peek(f->ack, f->ack_len, &atid, &side) == 0 && atid == tid);
	check(trs_ack_open(key, f->ack, f->ack_len, &side, &ts, &seen) == 0);
	check(trs_hello_open(key, hello, len, &hside, &hts) == 0);
	check(side == hside && ts == hts);
	check(addr_equal((struct sockaddr *)&seen, (const struct sockaddr *)from));
}

static void fz_init(void)
{
	uint8_t k[TRS_KEY_LEN];

	log_init("fuzz_trs", LOG_LVL_ERR);
	clock_set_fake(NOW, 1000000);
	check(trs_link_key(secret, LINK_ID, k) == 0);
	fz_link = aead_new(AEAD_CHACHA20_POLY1305, k);
	check(fz_link);
	check(trs_relay_key(secret, TID, relay_key) == 0);
	check(trs_relay_key(secret, TID + 1, relay_key1) == 0);
	fz_a.sin_family = AF_INET;
	fz_a.sin_port = htons(40001);
	inet_pton(AF_INET, "203.0.113.5", &fz_a.sin_addr);
	fz_b.sin_family = AF_INET;
	fz_b.sin_port = htons(7446);
	inet_pton(AF_INET, "198.51.100.20", &fz_b.sin_addr);
	fz_reset();
	fz_node_reset();
	atexit(fz_cleanup);
}

static void fz_relay(size_t slot, const uint8_t *data, size_t size)
{
	uint8_t buf[4096], hello[TRS_HELLO_LEN];
	struct trs_fwd f;
	const struct sockaddr_in *from = size && (data[0] & 1) ? &fz_b : &fz_a;
	bool fwd;

	if (!size || size - 1 > sizeof(buf))
		return;
	memcpy(buf, data + 1, size - 1);
	if (size - 1 == TRS_HELLO_LEN)
		memcpy(hello, buf, TRS_HELLO_LEN);
	fwd = trs_handle_relay(fz_trs, slot, (const struct sockaddr *)from, buf, size - 1, &f);
	if (f.ack_len) {
		check(size - 1 == TRS_HELLO_LEN);
		fz_check_ack(&f, slot ? relay_key1 : relay_key, slot ? TID + 1 : TID, hello,
			     TRS_HELLO_LEN, from);
	}
	if (fwd) {
		const struct sockaddr_in *to = (const struct sockaddr_in *)f.to;

		check(f.len > 0 && f.len <= TRS_HELD_MAX + sizeof(buf));
		check(to->sin_port == fz_a.sin_port || to->sin_port == fz_b.sin_port);
		if (f.buf == buf)
			check(f.len == size - 1 && to != from);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[TRS_PKT_MAX], pkt[TRS_PKT_MAX + 64], key[TRS_KEY_LEN];
	struct sockaddr_in nms = { .sin_family = AF_INET, .sin_port = htons(7444) };
	struct cur c;
	size_t n;

	if (!fz_trs)
		fz_init();
	if (size < 1)
		return 0;
	c = cur_make(data + 1, size - 1);
	switch (data[0] % 8) {
	case 0:
		n = trs_handle_ctl(fz_trs, (struct sockaddr *)&nms, data + 1, size - 1, out,
				   sizeof(out));
		check(n <= sizeof(out));
		break;
	case 1:
		n = size - 1 <= TRS_PKT_MAX - CY_SEAL_OVERHEAD ? fz_seal(data + 1, size - 1, pkt,
									  sizeof(pkt))
							       : 0;
		if (n)
			check(trs_handle_ctl(fz_trs, (struct sockaddr *)&nms, pkt, n, out,
					     sizeof(out)) <= sizeof(out));
		break;
	case 2:
		fz_relay(0, data + 1, size - 1);
		break;
	case 3:
		fz_relay(1, data + 1, size - 1);
		break;
	case 4: {
		uint8_t side = 0, h[TRS_HELLO_LEN];
		uint64_t ts = 0, tid = 0;
		struct trs_fwd f;

		if (!cur_get_u8(&c, &side) || !cur_get_u64(&c, &ts) || !cur_get_u64(&c, &tid))
			break;
		if (trs_hello_build(relay_key, tid, side & 1, ts, h, sizeof(h)) != TRS_HELLO_LEN)
			break;
		trs_handle_relay(fz_trs, 0, (struct sockaddr *)(side & 2 ? &fz_b : &fz_a), h,
				 sizeof(h), &f);
		fz_check_ack(&f, relay_key, TID, h, sizeof(h), side & 2 ? &fz_b : &fz_a);
		if (f.ack_len)
			check(tid == TID);
		break;
	}
	case 6:
		fz_node_ack(data + 1, size - 1);
		break;
	case 7: {
		uint8_t side = 0, a[TRS_ACK_LEN];
		uint64_t ts = 0, tid = 0;

		if (!cur_get_u8(&c, &side) || !cur_get_u64(&c, &ts))
			break;
		/* Mostly the real tunnel, now and then another; mostly a
		 * timestamp near the hellos sent. */
		if (!cur_get_u64(&c, &tid))
			tid = TID;
		if (side & 4)
			ts = fz_sent_ts[0] + (ts & 7) - 2;
		if (trs_ack_build(relay_key, tid, side & 1, ts, (struct sockaddr *)&fz_a, a,
				  sizeof(a)) == TRS_ACK_LEN)
			fz_node_ack(a, sizeof(a));
		break;
	}
	case 5:
		trs_key_parse((const char *)data + 1, size - 1, key);
		break;
	}
	/* Now and then a clean state, so one input's hellos do not shape
	 * every later input. */
	if (size > 2 && data[size - 1] == 0xa5) {
		fz_reset();
		fz_node_reset();
	}
	return 0;
}
