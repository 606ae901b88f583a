/* Sliding anti-replay window in the style of RFC 6479: a ring of 64-bit
 * words, so moving the window clears whole words instead of shifting a
 * bitmap.  REPLAY_WINDOW counters behind the highest one seen are
 * tracked; anything older is refused.
 *
 * Check before authenticating (cheap reject), update only after the
 * packet authenticated, so forged counters cannot move the window. */
#ifndef CY_REPLAY_H
#define CY_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_WORD_BITS 64
#define REPLAY_WORDS 129 /* (129 - 1) * 64 = 8192 */
#define REPLAY_WINDOW ((REPLAY_WORDS - 1) * REPLAY_WORD_BITS)

struct replay {
	uint64_t top;  /* highest counter accepted + 1; 0 = none yet */
	uint64_t bits[REPLAY_WORDS];
};

void replay_init(struct replay *r);
/* Start from a persisted high-water mark: every counter < next is old. */
void replay_init_from(struct replay *r, uint64_t next);
bool replay_check(const struct replay *r, uint64_t ctr);
/* Returns false (and changes nothing) when ctr is a replay. */
bool replay_update(struct replay *r, uint64_t ctr);

#endif
