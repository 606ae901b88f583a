/* Time, replaceable in tests: every timer decision (key expiry,
 * registration TTL, keepalive) reads these instead of the system clock. */
#ifndef CY_CLOCK_H
#define CY_CLOCK_H

#include <stdint.h>

int64_t clock_now(void);      /* unix seconds */
int64_t clock_now_ms(void);   /* monotonic milliseconds */
/* The same clock as of the kernel's last tick: up to one tick (1-10 ms)
 * behind clock_now_ms(), never ahead of it, and a third of its cost (10
 * against 33 ns here, CLOCK_MONOTONIC_COARSE).  For what every packet
 * stamps (last sent, last received, a key's age), which is only ever
 * compared against limits of a second or more. */
int64_t clock_coarse_ms(void);
/* Tests: freeze both clocks at these values (0 = use the real clocks). */
void clock_set_fake(int64_t unix_s, int64_t mono_ms);

/* Arm the libevent timer ev to fire at at_ms (this clock's milliseconds;
 * at once when that has passed), or stop it when at_ms is INT64_MAX:
 * timers run when they are due, never by polling. */
struct event;
void clock_timer_at(struct event *ev, int64_t at_ms);

#endif
