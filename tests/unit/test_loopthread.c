/* An event loop on its own thread (loopthread.c): what is set up on its
 * base runs on that thread once started; a call runs there and returns
 * with its result; before the start and after the stop a call runs on
 * the caller's thread; stopping with events still set waits for the
 * thread and frees cleanly. */
#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loopthread.h"

struct probe {
	pthread_t ran_on;
	int ticks;                /* the timer's, read only through a call */
	int seen;
};

static void where(void *arg)
{
	struct probe *p = arg;

	p->ran_on = pthread_self();
	p->seen = p->ticks;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	p->ticks++;
}

static void test_calls_run_on_the_thread(void **state)
{
	struct loopthread *t = loopthread_new("test");
	struct probe p = { 0 };
	struct timeval ms = { 0, 1000 };
	struct event *ev;

	assert_non_null(t);
	ev = event_new(loopthread_base(t), -1, EV_PERSIST, tick, &p);
	assert_non_null(ev);
	assert_int_equal(event_add(ev, &ms), 0);
	/* not started: on the caller's thread */
	loopthread_call(t, where, &p);
	assert_true(pthread_equal(p.ran_on, pthread_self()));
	assert_int_equal(p.seen, 0);

	assert_int_equal(loopthread_start(t), 0);
	loopthread_call(t, where, &p);
	assert_false(pthread_equal(p.ran_on, pthread_self()));
	/* the timer runs there: its ticks show through later calls */
	for (int i = 0; i < 10000 && p.seen < 3; i++)
		loopthread_call(t, where, &p);
	assert_true(p.seen >= 3);

	loopthread_stop(t);
	loopthread_call(t, where, &p);
	assert_true(pthread_equal(p.ran_on, pthread_self()));
	event_free(ev);
	loopthread_free(t);
}

static void test_free_without_start(void **state)
{
	struct loopthread *t = loopthread_new("idle");

	assert_non_null(t);
	loopthread_stop(t);
	loopthread_free(t);
	loopthread_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calls_run_on_the_thread),
		cmocka_unit_test(test_free_without_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
