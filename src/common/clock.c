#include "clock.h"

#include <event2/event.h>
#include <time.h>

static int64_t fake_s, fake_ms;

int64_t clock_now(void)
{
	return fake_s ? fake_s : (int64_t)time(NULL);
}

/* Clock id in milliseconds, or the fake clock. */
static int64_t mono_ms(clockid_t id)
{
	struct timespec ts;

	if (fake_ms)
		return fake_ms;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_now_ms(void)
{
	return mono_ms(CLOCK_MONOTONIC);
}

int64_t clock_coarse_ms(void)
{
	return mono_ms(CLOCK_MONOTONIC_COARSE);
}

void clock_set_fake(int64_t unix_s, int64_t mono_ms)
{
	fake_s = unix_s;
	fake_ms = mono_ms;
}

void clock_timer_at(struct event *ev, int64_t at_ms)
{
	int64_t now = clock_now_ms(), d;
	struct timeval tv;

	if (at_ms == INT64_MAX) {
		evtimer_del(ev);
		return;
	}
	d = at_ms > now ? at_ms - now : 0;
	tv.tv_sec = d / 1000;
	tv.tv_usec = (d % 1000) * 1000;
	evtimer_add(ev, &tv);
}
