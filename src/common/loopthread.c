#include "loopthread.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

struct loopthread {
	char name[32];
	struct event_base *base;
	pthread_t thread;
	bool running;
	int efd;                      /* wakes the loop: a call, or stop */
	struct event *wake;
	pthread_mutex_t mu;
	pthread_cond_t done;
	void (*fn)(void *arg);        /* the call waiting to run, under mu */
	void *arg;
	uint64_t calls, ran;          /* under mu */
	bool stop;                    /* under mu */
};

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct loopthread *t = arg;
	uint64_t v;

	if (read(t->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a wake-up already consumed */
	}
	pthread_mutex_lock(&t->mu);
	if (t->fn) {
		t->fn(t->arg);
		t->fn = NULL;
		t->ran = t->calls;
		pthread_cond_broadcast(&t->done);
	}
	if (t->stop)
		event_base_loopbreak(t->base);
	pthread_mutex_unlock(&t->mu);
}

static void *loop_main(void *arg)
{
	struct loopthread *t = arg;

	privdrop_thread();
	event_base_dispatch(t->base);
	return NULL;
}

static void wake(struct loopthread *t)
{
	uint64_t one = 1;

	if (write(t->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, a wake-up is pending anyway */
	}
}

struct loopthread *loopthread_new(const char *name)
{
	struct loopthread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->done, NULL);
	t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	t->base = event_base_new();
	if (t->efd < 0 || !t->base)
		goto fail;
	t->wake = event_new(t->base, t->efd, EV_READ | EV_PERSIST, on_wake, t);
	if (!t->wake || event_add(t->wake, NULL) < 0)
		goto fail;
	return t;
fail:
	log_warnx("%s: cannot make its event loop", name);
	loopthread_free(t);
	return NULL;
}

struct event_base *loopthread_base(struct loopthread *t)
{
	return t->base;
}

int loopthread_start(struct loopthread *t)
{
	if (pthread_create(&t->thread, NULL, loop_main, t) != 0) {
		log_warnx("%s: cannot start its thread", t->name);
		return -1;
	}
	t->running = true;
	return 0;
}

void loopthread_call(struct loopthread *t, void (*fn)(void *arg), void *arg)
{
	uint64_t mine;

	if (!t->running) {
		fn(arg);
		return;
	}
	pthread_mutex_lock(&t->mu);
	/* one call at a time: the starting thread is the only caller */
	t->fn = fn;
	t->arg = arg;
	mine = ++t->calls;
	wake(t);
	while (t->ran < mine)
		pthread_cond_wait(&t->done, &t->mu);
	pthread_mutex_unlock(&t->mu);
}

void loopthread_stop(struct loopthread *t)
{
	if (!t || !t->running)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_mutex_unlock(&t->mu);
	wake(t);
	pthread_join(t->thread, NULL);
	t->running = false;
}

void loopthread_free(struct loopthread *t)
{
	if (!t)
		return;
	loopthread_stop(t);
	if (t->wake)
		event_free(t->wake);
	if (t->base)
		event_base_free(t->base);
	if (t->efd >= 0)
		close(t->efd);
	pthread_cond_destroy(&t->done);
	pthread_mutex_destroy(&t->mu);
	free(t);
}
