#include "as_hs.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

/* A job moves: the worker's inbox (submitted) -> the worker's own list
 * (handshaking, touched by that thread only) -> the shared outbox (ended)
 * -> the loop, which calls back and frees it. */
struct job {
	struct worker *w;
	SSL *ssl;
	int fd;
	void *tag;
	struct timespec deadline;        /* CLOCK_MONOTONIC */
	struct event *rd, *wr, *timer;   /* the worker's */
	bool ok;
	char err[AS_HS_ERR_MAX];
	struct job *prev, *next;
};

struct worker {
	struct as_hs *h;
	pthread_t thread;
	bool started;
	struct event_base *base;
	int efd;                         /* wakes the worker: inbox or stop */
	struct event *wake;
	struct job *inbox;               /* under h->mu */
	struct job *active;              /* the worker's alone */
};

struct as_hs {
	as_hs_done_cb cb;
	void *arg;
	pthread_mutex_t mu;
	bool stop;                       /* under mu */
	struct job *outbox;              /* under mu, newest first */
	int efd;                         /* wakes the loop: outbox */
	struct event *done;
	int nworkers;
	unsigned next;                   /* round robin, the loop's */
	struct worker *workers;
};

static void list_push(struct job **head, struct job *j)
{
	j->prev = NULL;
	j->next = *head;
	if (*head)
		(*head)->prev = j;
	*head = j;
}

static void list_del(struct job **head, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		*head = j->next;
	if (j->next)
		j->next->prev = j->prev;
}

static void wake(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, a wake-up is pending anyway */
	}
}

static void job_events_free(struct job *j)
{
	if (j->rd)
		event_free(j->rd);
	if (j->wr)
		event_free(j->wr);
	if (j->timer)
		event_free(j->timer);
	j->rd = j->wr = j->timer = NULL;
}

/* ---- on a worker ---- */

/* The handshake ended: to the outbox, and wake the loop. */
static void job_end(struct job *j, bool ok, const char *err)
{
	struct as_hs *h = j->w->h;

	job_events_free(j);
	list_del(&j->w->active, j);
	j->ok = ok;
	if (err)
		snprintf(j->err, sizeof(j->err), "%s", err);
	/* OpenSSL's errors are per thread: none may stay for the next job. */
	ERR_clear_error();
	pthread_mutex_lock(&h->mu);
	list_push(&h->outbox, j);
	pthread_mutex_unlock(&h->mu);
	wake(h->efd);
}

static void job_step(struct job *j)
{
	char err[AS_HS_ERR_MAX];
	unsigned long e;
	int r, saved;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(j->ssl);
	if (r == 1) {
		job_end(j, true, NULL);
		return;
	}
	saved = errno;
	switch (SSL_get_error(j->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		event_add(j->rd, NULL);
		return;
	case SSL_ERROR_WANT_WRITE:
		event_add(j->wr, NULL);
		return;
	case SSL_ERROR_SYSCALL:
		e = ERR_peek_error();
		if (!e) {
			job_end(j, false, saved ? strerror(saved) : "closed by the peer");
			return;
		}
		break;
	case SSL_ERROR_ZERO_RETURN:
		job_end(j, false, "closed by the peer");
		return;
	default:
		e = ERR_peek_error();
		break;
	}
	if (e)
		ERR_error_string_n(e, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "TLS error");
	job_end(j, false, err);
}

static void job_io(evutil_socket_t fd, short what, void *arg)
{
	job_step(arg);
}

static void job_expired(evutil_socket_t fd, short what, void *arg)
{
	job_end(arg, false, "too slow");
}

/* Start the handshakes submitted to this worker. */
static void job_start(struct worker *w, struct job *j)
{
	struct timespec now;
	struct timeval tv = { 0, 0 };
	int64_t left_us;

	list_push(&w->active, j);
	clock_gettime(CLOCK_MONOTONIC, &now);
	left_us = (int64_t)(j->deadline.tv_sec - now.tv_sec) * 1000000 +
		  (j->deadline.tv_nsec - now.tv_nsec) / 1000;
	if (left_us > 0) {
		tv.tv_sec = left_us / 1000000;
		tv.tv_usec = left_us % 1000000;
	}
	j->rd = event_new(w->base, j->fd, EV_READ, job_io, j);
	j->wr = event_new(w->base, j->fd, EV_WRITE, job_io, j);
	j->timer = evtimer_new(w->base, job_expired, j);
	if (!j->rd || !j->wr || !j->timer || evtimer_add(j->timer, &tv) < 0) {
		job_end(j, false, "out of memory");
		return;
	}
	job_step(j);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct as_hs *h = w->h;
	struct job *in, *next;
	uint64_t v;
	bool stop;

	if (read(w->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a wake-up already consumed */
	}
	pthread_mutex_lock(&h->mu);
	stop = h->stop;
	in = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&h->mu);
	if (stop) {
		/* as_hs_free() takes back what was submitted */
		pthread_mutex_lock(&h->mu);
		w->inbox = in;
		pthread_mutex_unlock(&h->mu);
		event_base_loopbreak(w->base);
		return;
	}
	for (; in; in = next) {
		next = in->next;
		job_start(w, in);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/* It parses what comes from the network: with no privilege at all. */
	privdrop_thread();
	event_base_dispatch(w->base);
	return NULL;
}

/* ---- on the loop ---- */

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct as_hs *h = arg;
	struct job *out, *next;
	uint64_t v;

	if (read(h->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a wake-up already consumed */
	}
	pthread_mutex_lock(&h->mu);
	out = h->outbox;
	h->outbox = NULL;
	pthread_mutex_unlock(&h->mu);
	/* oldest first */
	while (out && out->next)
		out = out->next;
	for (; out; out = next) {
		next = out->prev;
		h->cb(out->tag, out->ok, out->err, h->arg);
		free(out);
	}
}

int as_hs_submit(struct as_hs *h, SSL *ssl, int fd, int timeout_ms, void *tag)
{
	struct job *j = calloc(1, sizeof(*j));
	struct worker *w;

	if (!j)
		return -ENOMEM;
	w = &h->workers[h->next++ % (unsigned)h->nworkers];
	j->w = w;
	j->ssl = ssl;
	j->fd = fd;
	j->tag = tag;
	clock_gettime(CLOCK_MONOTONIC, &j->deadline);
	j->deadline.tv_sec += timeout_ms / 1000;
	j->deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (j->deadline.tv_nsec >= 1000000000) {
		j->deadline.tv_sec++;
		j->deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&h->mu);
	list_push(&w->inbox, j);
	pthread_mutex_unlock(&h->mu);
	wake(w->efd);
	return 0;
}

static void jobs_free(struct job *j)
{
	struct job *next;

	for (; j; j = next) {
		next = j->next;
		job_events_free(j);
		free(j);
	}
}

struct as_hs *as_hs_new(struct event_base *base, int threads, as_hs_done_cb cb, void *arg)
{
	struct as_hs *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cb = cb;
	h->arg = arg;
	h->efd = -1;
	pthread_mutex_init(&h->mu, NULL);
	h->workers = calloc((size_t)threads, sizeof(*h->workers));
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!h->workers || h->efd < 0)
		goto fail;
	h->done = event_new(base, h->efd, EV_READ | EV_PERSIST, on_done, h);
	if (!h->done || event_add(h->done, NULL) < 0)
		goto fail;
	for (; h->nworkers < threads; h->nworkers++) {
		struct worker *w = &h->workers[h->nworkers];

		w->h = h;
		w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		w->base = event_base_new();
		if (w->efd < 0 || !w->base)
			goto fail_worker;
		w->wake = event_new(w->base, w->efd, EV_READ | EV_PERSIST, on_wake, w);
		if (!w->wake || event_add(w->wake, NULL) < 0)
			goto fail_worker;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			goto fail_worker;
		w->started = true;
	}
	return h;
fail_worker:
	h->nworkers++;   /* so that as_hs_free() releases it */
fail:
	log_warnx("as: cannot start the TLS handshake workers");
	as_hs_free(h);
	return NULL;
}

void as_hs_free(struct as_hs *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_mutex_unlock(&h->mu);
	for (int i = 0; i < h->nworkers; i++) {
		struct worker *w = &h->workers[i];

		if (w->started) {
			wake(w->efd);
			pthread_join(w->thread, NULL);
		}
		jobs_free(w->inbox);
		jobs_free(w->active);
		if (w->wake)
			event_free(w->wake);
		if (w->base)
			event_base_free(w->base);
		if (w->efd >= 0)
			close(w->efd);
	}
	jobs_free(h->outbox);
	if (h->done)
		event_free(h->done);
	if (h->efd >= 0)
		close(h->efd);
	pthread_mutex_destroy(&h->mu);
	free(h->workers);
	free(h);
}
