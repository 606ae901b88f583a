/* libFuzzer: the sealed envelope and the anti-replay window.
 *
 * 1. The input as a datagram: cy_seal_peek and cy_unseal with a fixed
 *    key (a forgery must never open).
 * 2. The input as an inner message: seal, unseal, compare; then the
 *    datagram with one byte flipped (chosen by the input) must not open.
 * 3. The input as a list of counter operations run through replay_update
 *    and compared with a model that remembers every counter it accepted. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "replay.h"
#include "seal.h"
#include "wire.h"

#define MAX_OPS 512

static void check(int ok)
{
	if (!ok)
		abort();
}

static struct aead *the_key(void)
{
	static struct aead *a;
	static const uint8_t key[AEAD_KEY_LEN] = "cyphonic fuzz key, 32 bytes long";

	if (!a)
		a = aead_new(AEAD_CHACHA20_POLY1305, key);
	check(a != NULL);
	return a;
}

static void fuzz_datagram(const uint8_t *data, size_t size)
{
	static uint8_t out[CY_MSG_MAX];
	struct cy_seal_hdr h;
	int peek = cy_seal_peek(data, size, &h);
	ssize_t n = cy_unseal(the_key(), data, size, out, sizeof(out));

	check(peek == 0 || n == -EBADMSG);
	if (peek == 0)
		check(h.dir <= CY_DIR_FROM_CLOUD && size >= CY_SEAL_OVERHEAD + CY_HDR_LEN);
	/* random bytes do not authenticate under our key */
	check(n == -EBADMSG);
}

static void fuzz_roundtrip(const uint8_t *data, size_t size)
{
	static uint8_t dgram[CY_MSG_MAX + CY_SEAL_OVERHEAD], out[CY_MSG_MAX];
	enum cy_dir dir = size && (data[0] & 1) ? CY_DIR_FROM_CLOUD : CY_DIR_TO_CLOUD;
	uint64_t ctr = size >= 9 ? get_be64(data + 1) : 1;
	struct cy_seal_hdr h;
	ssize_t n, p;
	size_t flip;

	if (size > CY_MSG_MAX)
		return;
	n = cy_seal(the_key(), dir, 0x42, ctr, data, size, dgram, sizeof(dgram));
	check(n == (ssize_t)(size + CY_SEAL_OVERHEAD));
	if (size < CY_HDR_LEN) {
		check(cy_seal_peek(dgram, (size_t)n, &h) == -EBADMSG);
		return;
	}
	check(cy_seal_peek(dgram, (size_t)n, &h) == 0);
	check(h.dir == dir && h.key_id == 0x42 && h.counter == ctr);
	p = cy_unseal(the_key(), dgram, (size_t)n, out, sizeof(out));
	check(p == (ssize_t)size && !memcmp(out, data, size));
	/* too small an output buffer is refused, not overrun */
	check(cy_unseal(the_key(), dgram, (size_t)n, out, size - 1) == -EBADMSG);
	/* any single flipped bit is caught */
	flip = (size >= 11 ? get_be16(data + 9) : size) % (size_t)n;
	dgram[flip] ^= (uint8_t)(1u << (data[0] % 8));
	check(cy_unseal(the_key(), dgram, (size_t)n, out, sizeof(out)) == -EBADMSG);
	/* and so is a cut */
	check(cy_unseal(the_key(), dgram, (size_t)n - 1, out, sizeof(out)) == -EBADMSG);
}

/* Model of the window: a counter passes when it is not UINT64_MAX, was
 * never accepted, is not below the persisted floor, and is at most
 * REPLAY_WINDOW - 1 behind the highest accepted one. */
static void fuzz_replay(const uint8_t *data, size_t size)
{
	static struct replay r;
	static uint64_t seen[MAX_OPS];
	struct cur c = cur_make(data, size);
	uint64_t top = 0, floor = 0, v;
	size_t nseen = 0;
	uint8_t op;
	uint16_t d;

	if (!cur_get_u8(&c, &op))
		return;
	if (op & 1) {
		if (!cur_get_u64(&c, &floor))
			return;
		if (op & 2)
			floor &= 0xffffff; /* keep it reachable */
		replay_init_from(&r, floor);
		top = floor;
	} else {
		replay_init(&r);
	}
	for (int i = 0; i < MAX_OPS && cur_get_u8(&c, &op) && cur_get_u16(&c, &d); i++) {
		bool dup = false, want, got;

		switch (op % 6) {
		case 0: v = top + d; break;                          /* ahead */
		case 1: v = top - d; break;                          /* behind */
		case 2: v = top - REPLAY_WINDOW + (d % 4); break;    /* at the edge */
		case 3: v = top + (uint64_t)d * REPLAY_WORD_BITS; break; /* word jumps */
		case 4: v = UINT64_MAX - d; break;
		default: v = nseen ? seen[d % nseen] : d; break;     /* replays */
		}
		for (size_t k = 0; k < nseen; k++)
			if (seen[k] == v)
				dup = true;
		want = v != UINT64_MAX && !dup && v >= floor &&
		       (v >= top || top - v <= REPLAY_WINDOW);
		check(replay_check(&r, v) == want);
		got = replay_update(&r, v);
		check(got == want);
		check(!replay_check(&r, v) || !got);
		if (got) {
			seen[nseen++] = v;
			if (v >= top)
				top = v + 1;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_datagram(data, size);
	fuzz_roundtrip(data, size);
	fuzz_replay(data, size);
	return 0;
}
