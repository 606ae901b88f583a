/* Password checks on worker threads, so scrypt never holds the event loop
 * that also carries the NMS and the TRS's forwarding (STYLE 14).
 *
 * The loop submits a check with a tag (its connection); a worker runs
 * as_check_run() on it, and the loop gets it back through the callback,
 * in submission order per worker.  The pool holds at most `cap` checks,
 * queued or running; a full pool refuses more (-EBUSY) instead of letting
 * a queue grow.  A tag that goes away is cancelled: its check is freed
 * unanswered. */
#ifndef CY_AS_POOL_H
#define CY_AS_POOL_H

struct event_base;
struct as_check;
struct as_pool;

/* On the loop: chk is finished (the callee owns it). */
typedef void (*as_pool_done_cb)(struct as_check *chk, void *tag, void *arg);

struct as_pool *as_pool_new(struct event_base *base, int threads, int cap, as_pool_done_cb cb,
			    void *arg);
/* Stops the workers (waiting for the checks they run) and frees every
 * check still held, without calling back. */
void as_pool_free(struct as_pool *p);
/* 0, or -EBUSY (full: chk stays the caller's). */
int as_pool_submit(struct as_pool *p, struct as_check *chk, void *tag);
/* The check submitted with tag is never called back (freed instead). */
void as_pool_cancel(struct as_pool *p, const void *tag);

#endif
