/* libFuzzer: the tunnel handshake and the data path with fixed keys.
 *
 * The first input byte picks what the rest is:
 *   0  a datagram to tunnel_handle_request (direct tunnel)
 *   1  a datagram to tunnel_handle_request (relayed tunnel)
 *   2  a datagram to tunnel_handle_response while a handshake waits
 *   3  a datagram to tunnel_open / session_open on an established tunnel
 *   4  a Request body, sealed here with the Tunnel Key (so the fuzzer
 *      reaches past authentication: indices, offers, timestamps, shares)
 *   5  a Response body, sealed here likewise
 *   6  tunnel_peek
 * Bit 7 of the first byte, in modes 4 and 5, stamps the current time
 * into the timestamp so the freshness check passes.
 *
 * Invariants: nothing crashes or leaks; a datagram the fuzzer made up
 * never authenticates as Data; every accepted message has an exact
 * length. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "tunnel.h"

#define TID 0x1122334455667788ULL
#define NOW_S 1700000000

static const uint8_t tkey[TUNNEL_KEY_LEN] = "cyphonic fuzz tunnel key 32 byte";
static const uint8_t tmpkey[TUNNEL_KEY_LEN] = "cyphonic fuzz temp key, 32 bytes";

static void check(bool ok)
{
	if (!ok)
		abort();
}

static struct tunnel *mk(bool initiator, bool relay)
{
	struct tunnel_params p = {
		.tunnel_id = TID, .tunnel_key = tkey, .temp_key = relay ? tmpkey : NULL,
		.role = initiator ? TUNNEL_INITIATOR : TUNNEL_RESPONDER,
		.local_fqdn = initiator ? "a.fuzz.example" : "b.fuzz.example",
		.peer_fqdn = initiator ? "b.fuzz.example" : "a.fuzz.example",
		.aead_pref = AEAD_CHACHA20_POLY1305,
	};
	struct tunnel *t = tunnel_new(&p);

	check(t != NULL);
	return t;
}

static void seal_body(uint8_t type, const uint8_t *data, size_t size, bool stamp,
		      const uint8_t *req_nonce, uint8_t *dgram, size_t len)
{
	size_t body_len = len - TUNNEL_HDR_LEN - AEAD_TAG_LEN;
	uint8_t body[TUNNEL_MSG_MAX], aad[TUNNEL_HDR_LEN + AEAD_NONCE_LEN];
	struct aead *k = aead_new(AEAD_CHACHA20_POLY1305, tkey);
	size_t aadlen = TUNNEL_HDR_LEN;

	check(k != NULL);
	memset(body, 0, sizeof(body));
	memcpy(body, data, size < body_len ? size : body_len);
	if (stamp && type == CY_TUNNEL_REQ)
		put_be64(body + 8, (uint64_t)NOW_S * 1000);
	dgram[0] = 1;
	dgram[1] = type;
	dgram[2] = 0;
	dgram[3] = 0;
	put_be64(dgram + 4, TID);
	dgram[12] = type == CY_TUNNEL_REQ ? 1 : 2;
	memset(dgram + 13, 0x5a, AEAD_NONCE_LEN - 1);
	memcpy(aad, dgram, TUNNEL_HDR_LEN);
	if (req_nonce) {
		memcpy(aad + TUNNEL_HDR_LEN, req_nonce, AEAD_NONCE_LEN);
		aadlen += AEAD_NONCE_LEN;
	}
	check(aead_seal(k, dgram + 12, aad, aadlen, body, body_len, dgram + TUNNEL_HDR_LEN) ==
	      (ssize_t)(body_len + AEAD_TAG_LEN));
	aead_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[2048], req[TUNNEL_MSG_MAX], resp[TUNNEL_MSG_MAX];
	static uint8_t dgram[TUNNEL_MSG_MAX];
	struct tunnel *a = NULL, *b = NULL;
	struct tunnel_peek pk;
	uint8_t mode;
	ssize_t n, m;

	if (size < 1)
		return 0;
	log_set_level(LOG_LVL_ERR);
	clock_set_fake(NOW_S, 5000000);
	mode = data[0];
	data++;
	size--;

	switch (mode & 0x7f) {
	case 0:
	case 1:
		b = mk(false, mode & 1);
		n = tunnel_handle_request(b, data, size, out, sizeof(out));
		check(n < 0 || n == TUNNEL_RESP_LEN);
		check(n < 0 || size == TUNNEL_REQ_LEN || size == TUNNEL_REQ_RELAY_LEN);
		break;
	case 2:
		a = mk(true, false);
		check(tunnel_initiate(a, req, sizeof(req)) == TUNNEL_REQ_LEN);
		n = tunnel_handle_response(a, data, size, out, sizeof(out));
		check(n < 0 || size == TUNNEL_RESP_LEN);
		break;
	case 3:
		a = mk(true, false);
		b = mk(false, false);
		n = tunnel_initiate(a, req, sizeof(req));
		m = tunnel_handle_request(b, req, (size_t)n, resp, sizeof(resp));
		check(m == TUNNEL_RESP_LEN);
		n = tunnel_handle_response(a, resp, (size_t)m, out, sizeof(out));
		check(n == SESSION_OVERHEAD);
		memcpy(dgram, out, (size_t)n);
		check(tunnel_open(b, dgram, (size_t)n, out, sizeof(out)) == 0);
		/* Made-up bytes never authenticate. */
		n = tunnel_open(b, data, size, out, sizeof(out));
		check(n < 0);
		n = session_open(tunnel_test_current(a), data, size, out, sizeof(out));
		check(n < 0);
		/* The tunnel still works afterwards. */
		m = size > 64 ? 64 : (ssize_t)size;
		n = tunnel_seal(b, data, (size_t)m, dgram, sizeof(dgram));
		check(n == m + SESSION_OVERHEAD);
		check(tunnel_open(a, dgram, (size_t)n, out, sizeof(out)) == m);
		check(m == 0 || !memcmp(out, data, (size_t)m));
		break;
	case 4:
		b = mk(false, false);
		seal_body(CY_TUNNEL_REQ, data, size, mode & 0x80, NULL, dgram,
			  TUNNEL_REQ_LEN);
		n = tunnel_handle_request(b, dgram, TUNNEL_REQ_LEN, out, sizeof(out));
		check(n < 0 || n == TUNNEL_RESP_LEN);
		break;
	case 5:
		a = mk(true, false);
		check(tunnel_initiate(a, req, sizeof(req)) == TUNNEL_REQ_LEN);
		seal_body(CY_TUNNEL_RES, data, size, false, req + 12, dgram,
			  TUNNEL_RESP_LEN);
		n = tunnel_handle_response(a, dgram, TUNNEL_RESP_LEN, out, sizeof(out));
		/* Even when it completes, the result is a keepalive or an error. */
		check(n < 0 || n == SESSION_OVERHEAD);
		break;
	case 6:
		if (tunnel_peek(data, size, &pk) == 0)
			check(pk.type == CY_TUNNEL_REQ || pk.type == CY_TUNNEL_RES ||
			      pk.type == CY_DATA);
		break;
	default:
		break;
	}
	tunnel_free(a);
	tunnel_free(b);
	return 0;
}
