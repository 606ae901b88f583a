#include "as_pool.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "as.h"
#include "log.h"
#include "privdrop.h"

enum job_state { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
	enum job_state state;
	uint64_t seq;            /* submission order */
	struct as_check *chk;
	void *tag;               /* NULL: cancelled */
};

struct as_pool {
	as_pool_done_cb cb;
	void *arg;
	int efd;
	struct event *ev;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	uint64_t seq;
	int cap, nthreads;
	pthread_t *threads;
	struct job *jobs;
};

/* The oldest queued job, or NULL; under mu. */
static struct job *next_job(struct as_pool *p)
{
	struct job *best = NULL;

	for (int i = 0; i < p->cap; i++)
		if (p->jobs[i].state == JOB_QUEUED && (!best || p->jobs[i].seq < best->seq))
			best = &p->jobs[i];
	return best;
}

static void *worker(void *arg)
{
	struct as_pool *p = arg;
	uint64_t one = 1;
	struct job *j;

	/* It hashes what comes from the network: with no privilege at all. */
	privdrop_thread();
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !(j = next_job(p)))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&p->mu);
		as_check_run(j->chk);
		pthread_mutex_lock(&p->mu);
		j->state = JOB_DONE;
		if (write(p->efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow at these rates; the loop
			 * also drains DONE jobs on its next wake-up */
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* On the loop: hand every finished check back. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct as_pool *p = arg;
	uint64_t v;

	if (read(p->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a wake-up already consumed */
	}
	for (;;) {
		struct job *best = NULL;
		struct as_check *chk;
		void *tag;

		pthread_mutex_lock(&p->mu);
		for (int i = 0; i < p->cap; i++)
			if (p->jobs[i].state == JOB_DONE &&
			    (!best || p->jobs[i].seq < best->seq))
				best = &p->jobs[i];
		if (best) {
			chk = best->chk;
			tag = best->tag;
			best->state = JOB_FREE;
			best->chk = NULL;
			best->tag = NULL;
		}
		pthread_mutex_unlock(&p->mu);
		if (!best)
			break;
		if (tag)
			p->cb(chk, tag, p->arg);
		else
			as_check_free(chk);
	}
}

struct as_pool *as_pool_new(struct event_base *base, int threads, int cap, as_pool_done_cb cb,
			    void *arg)
{
	struct as_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cb = cb;
	p->arg = arg;
	p->cap = cap;
	p->efd = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->jobs = calloc((size_t)cap, sizeof(*p->jobs));
	p->threads = calloc((size_t)threads, sizeof(*p->threads));
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!p->jobs || !p->threads || p->efd < 0)
		goto fail;
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, on_done, p);
	if (!p->ev || event_add(p->ev, NULL) < 0)
		goto fail;
	for (; p->nthreads < threads; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0)
			goto fail;
	return p;
fail:
	log_warnx("as: cannot start the password workers");
	as_pool_free(p);
	return NULL;
}

void as_pool_free(struct as_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (int i = 0; p->jobs && i < p->cap; i++)
		as_check_free(p->jobs[i].chk);
	if (p->ev)
		event_free(p->ev);
	if (p->efd >= 0)
		close(p->efd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p->jobs);
	free(p);
}

int as_pool_submit(struct as_pool *p, struct as_check *chk, void *tag)
{
	int rc = -EBUSY;

	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->cap; i++) {
		struct job *j = &p->jobs[i];

		if (j->state != JOB_FREE)
			continue;
		j->state = JOB_QUEUED;
		j->seq = ++p->seq;
		j->chk = chk;
		j->tag = tag;
		pthread_cond_signal(&p->cv);
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void as_pool_cancel(struct as_pool *p, const void *tag)
{
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->cap; i++)
		if (p->jobs[i].state != JOB_FREE && p->jobs[i].tag == tag)
			p->jobs[i].tag = NULL;
	pthread_mutex_unlock(&p->mu);
}
