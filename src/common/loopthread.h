/* An event loop on a thread of its own, for a part whose latency must not
 * wait for the rest of its process: the TRS's forwarding beside the AS's
 * logins and the NMS's store (cyphonic-cloud).
 *
 * The part is set up on its base from the starting thread, before
 * loopthread_start(); from then on only the thread touches it, and the
 * starting thread reads its state through loopthread_call(), which runs
 * a function on the thread and waits for it.  Each base is used by one
 * thread at a time, so libevent needs no locking of its own. */
#ifndef CY_LOOPTHREAD_H
#define CY_LOOPTHREAD_H

struct event_base;
struct loopthread;

/* A base, its thread not started yet.  NULL on failure (logged). */
struct loopthread *loopthread_new(const char *name);
struct event_base *loopthread_base(struct loopthread *t);
/* Run the loop on a new thread, which gives up every capability first
 * (privdrop_thread()).  0, or -1 (logged). */
int loopthread_start(struct loopthread *t);
/* fn(arg) on the loop's thread, between two of its events, returning when
 * it has run; before loopthread_start() and after loopthread_stop(), on
 * the caller's own. */
void loopthread_call(struct loopthread *t, void (*fn)(void *arg), void *arg);
/* Stop the loop and wait for the thread: afterwards the part may be freed
 * from the caller's thread, then the base with loopthread_free(). */
void loopthread_stop(struct loopthread *t);
void loopthread_free(struct loopthread *t);

#endif
