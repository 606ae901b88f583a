/* Time, replaceable in tests: every timer decision (key expiry,
 * registration TTL, keepalive) reads these instead of the system clock. */
#ifndef CY_CLOCK_H
#define CY_CLOCK_H

#include <stdint.h>

int64_t clock_now(void);      /* unix seconds */
int64_t clock_now_ms(void);   /* monotonic milliseconds */
/* Tests: freeze both clocks at these values (0 = use the real clocks). */
void clock_set_fake(int64_t unix_s, int64_t mono_ms);

#endif
