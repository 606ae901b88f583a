/* Realtime scheduling for the data path's thread (rtsched.c): SCHED_FIFO
 * at the priority asked, nothing at 0; a thread busy for a whole check
 * period without sleeping steps back to normal scheduling and returns
 * once it has slept; an idle thread is never woken for the check; without
 * CAP_SYS_NICE the way back is there exactly when rtsched_wants_nice says
 * so.  Each case runs on a thread of its own (a policy is a thread's), as
 * root, as `make check` runs. */
#include <event2/event.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/capability.h>
#include <time.h>

#include <cmocka.h>

#include "rtsched.h"

static int policy(void)
{
	return sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum rtsched_state state(const struct rtsched *s)
{
	struct rtsched_stats st;

	rtsched_stats(s, &st);
	return st.state;
}

static int events(struct event_base *base)
{
	return event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);
}

/* Busy without sleeping (the loop polled, never waited) until the state
 * leaves `from` or 3 periods pass; the milliseconds it took. */
static int64_t spin_while(struct event_base *base, struct rtsched *s, enum rtsched_state from)
{
	int64_t t0 = now_ms();

	rtsched_busy(s);
	while (state(s) == from && now_ms() - t0 < 3 * RTSCHED_CHECK_MS) {
		rtsched_busy(s);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	return now_ms() - t0;
}

static int back_to_normal(void **unused)
{
	const struct sched_param sp = { 0 };

	/* Keeping SCHED_RESET_ON_FORK: clearing it needs CAP_SYS_NICE. */
	return sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, &sp);
}

static void test_prio_zero_stays_normal(void **unused)
{
	struct event_base *base = event_base_new();
	struct rtsched *s = rtsched_new(base, 0);
	struct rtsched_stats st;

	assert_non_null(s);
	assert_int_equal(policy(), SCHED_OTHER);
	rtsched_busy(s);
	assert_int_equal(events(base), 0);
	rtsched_stats(s, &st);
	assert_int_equal(st.state, RTSCHED_NORMAL);
	assert_int_equal(st.prio, 0);
	assert_false(rtsched_wants_nice(s));
	assert_string_equal(rtsched_state_str(st.state), "normal");
	rtsched_free(s);
	event_base_free(base);
}

static void test_busy_without_pause_steps_back_and_returns(void **unused)
{
	struct event_base *base = event_base_new();
	struct rtsched *s = rtsched_new(base, 1);
	struct rtsched_stats st;
	int64_t took;

	assert_non_null(s);
	assert_int_equal(state(s), RTSCHED_REALTIME);
	assert_int_equal(policy(), SCHED_FIFO);
	/* A thread that polls for work and never waits: after one period,
	 * not before, normal scheduling. */
	took = spin_while(base, s, RTSCHED_REALTIME);
	rtsched_stats(s, &st);
	assert_int_equal(st.state, RTSCHED_STEPPED_BACK);
	assert_string_equal(rtsched_state_str(st.state), "stepped_back");
	assert_int_equal(st.stepped_back, 1);
	assert_int_equal(policy(), SCHED_OTHER);
	/* libevent's timers read the coarse clock: up to a tick early. */
	assert_true(took >= RTSCHED_CHECK_MS - 10);
	/* Idle now: the check that follows a step back runs without work,
	 * finds that the thread slept in the loop's wait, and returns it. */
	assert_int_equal(events(base), 1);
	event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(state(s), RTSCHED_REALTIME);
	assert_int_equal(policy(), SCHED_FIFO);
	assert_int_equal(events(base), 0);
	rtsched_free(s);
	event_base_free(base);
}

static void test_idle_thread_not_woken(void **unused)
{
	struct event_base *base = event_base_new();
	struct rtsched *s = rtsched_new(base, 1);
	struct timespec pause = { 0, 50 * 1000 * 1000 };

	assert_int_equal(state(s), RTSCHED_REALTIME);
	/* No work, no timer: an idle daemon is not woken for the check. */
	assert_int_equal(events(base), 0);
	/* A turn of work, then it waits: the check finds it slept, keeps it
	 * realtime and is not armed again until the next turn. */
	rtsched_busy(s);
	assert_int_equal(events(base), 1);
	rtsched_busy(s);
	assert_int_equal(events(base), 1);
	nanosleep(&pause, NULL);
	event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(state(s), RTSCHED_REALTIME);
	assert_int_equal(policy(), SCHED_FIFO);
	assert_int_equal(events(base), 0);
	rtsched_free(s);
	event_base_free(base);
}

static void test_way_back_without_cap_sys_nice(void **unused)
{
	struct event_base *base = event_base_new();
	struct rtsched *s = rtsched_new(base, 1);
	const cap_value_t nice = CAP_SYS_NICE;
	bool wants = rtsched_wants_nice(s);
	cap_t caps = cap_get_proc();

	assert_int_equal(state(s), RTSCHED_REALTIME);
	/* As after the daemon's privilege drop without CAP_SYS_NICE. */
	assert_non_null(caps);
	assert_int_equal(cap_set_flag(caps, CAP_EFFECTIVE, 1, &nice, CAP_CLEAR), 0);
	assert_int_equal(cap_set_flag(caps, CAP_PERMITTED, 1, &nice, CAP_CLEAR), 0);
	assert_int_equal(cap_set_proc(caps), 0);
	cap_free(caps);
	spin_while(base, s, RTSCHED_REALTIME);
	assert_int_equal(state(s), RTSCHED_STEPPED_BACK);
	event_base_loop(base, EVLOOP_ONCE);
	/* RLIMIT_RTPRIO raised at the start: back; it could not be (no
	 * CAP_SYS_RESOURCE, as in some containers): the daemon would have
	 * kept CAP_SYS_NICE, which this thread gave up, so it stays normal. */
	if (wants) {
		assert_int_equal(state(s), RTSCHED_NORMAL);
		assert_int_equal(policy(), SCHED_OTHER);
	} else {
		assert_int_equal(state(s), RTSCHED_REALTIME);
		assert_int_equal(policy(), SCHED_FIFO);
	}
	assert_int_equal(events(base), 0);
	rtsched_free(s);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_prio_zero_stays_normal, back_to_normal),
		cmocka_unit_test_teardown(test_busy_without_pause_steps_back_and_returns, back_to_normal),
		cmocka_unit_test_teardown(test_idle_thread_not_woken, back_to_normal),
		cmocka_unit_test_teardown(test_way_back_without_cap_sys_nice, back_to_normal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
