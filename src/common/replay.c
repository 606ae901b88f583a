#include "replay.h"

#include <string.h>

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

void replay_init_from(struct replay *r, uint64_t next)
{
	replay_init(r);
	r->top = next;
	/* Mark the whole window as seen: nothing below next may pass. */
	if (next) {
		memset(r->bits, 0xff, sizeof(r->bits));
		/* ...but the rest of next's own word is still ahead of us. */
		if (next % REPLAY_WORD_BITS)
			r->bits[(next / REPLAY_WORD_BITS) % REPLAY_WORDS] &=
				(1ULL << (next % REPLAY_WORD_BITS)) - 1;
	}
}

bool replay_check(const struct replay *r, uint64_t ctr)
{
	uint64_t idx;

	if (ctr == UINT64_MAX)
		return false;
	if (ctr >= r->top)
		return true;
	if (r->top - ctr > REPLAY_WINDOW)
		return false;
	idx = (ctr / REPLAY_WORD_BITS) % REPLAY_WORDS;
	return !(r->bits[idx] & (1ULL << (ctr % REPLAY_WORD_BITS)));
}

bool replay_update(struct replay *r, uint64_t ctr)
{
	uint64_t idx;

	if (!replay_check(r, ctr))
		return false;
	if (ctr >= r->top) {
		uint64_t cur_word = r->top ? (r->top - 1) / REPLAY_WORD_BITS : 0;
		uint64_t new_word = ctr / REPLAY_WORD_BITS;
		uint64_t diff = new_word - cur_word;

		if (r->top == 0) {
			memset(r->bits, 0, sizeof(r->bits));
		} else {
			if (diff > REPLAY_WORDS)
				diff = REPLAY_WORDS;
			for (uint64_t i = 1; i <= diff; i++)
				r->bits[(cur_word + i) % REPLAY_WORDS] = 0;
		}
		r->top = ctr + 1;
	}
	idx = (ctr / REPLAY_WORD_BITS) % REPLAY_WORDS;
	r->bits[idx] |= 1ULL << (ctr % REPLAY_WORD_BITS);
	return true;
}
