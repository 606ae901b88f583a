/* Realtime scheduling for a thread that moves packets (docs/performance.md,
 * "Priority").
 *
 * A userspace data path does for the overlay what the kernel's softirq
 * does for its own network, and like it should run as soon as a packet is
 * there, not wait for a time slice behind ordinary processes (on a busy
 * machine, a bulk flow's own iperf or backup).  rtsched_new puts the
 * calling thread in SCHED_FIFO at prio; what it starts does not inherit
 * it (SCHED_RESET_ON_FORK).
 *
 * And as the kernel hands softirq work it cannot finish to ksoftirqd, a
 * normal thread, a realtime thread that never catches up steps back: one
 * that did not sleep once in RTSCHED_CHECK_MS while it was busy (a flood,
 * or a machine too slow for its traffic) goes to normal scheduling, so
 * the rest of the machine gets its fair share, and returns to prio once
 * it has slept again.  (A bulk flow on this 2-core machine kept a node's
 * daemon from sleeping for 100 ms once in three 5 s runs, never for a
 * second.)  The check runs only while the thread reports work
 * (rtsched_busy): an idle daemon is never woken for it.
 *
 * The way back needs CAP_SYS_NICE or RLIMIT_RTPRIO >= prio: rtsched_new
 * raises the limit where it may (CAP_SYS_RESOURCE); where it may not, the
 * daemon keeps CAP_SYS_NICE (rtsched_wants_nice).
 *
 * Refused (no CAP_SYS_NICE, a container, systemd's RestrictRealtime), the
 * thread stays normal, said once in the log. */
#ifndef CY_RTSCHED_H
#define CY_RTSCHED_H

#include <stdbool.h>
#include <stdint.h>

#define RTSCHED_CHECK_MS 1000   /* the kernel's realtime throttling period */
#define RTSCHED_PRIO_MAX 99

struct event_base;
struct rtsched;

enum rtsched_state {
	RTSCHED_NORMAL,         /* prio 0, or refused */
	RTSCHED_REALTIME,       /* SCHED_FIFO at prio */
	RTSCHED_STEPPED_BACK,   /* normal until it sleeps again */
};

/* For the calling thread, whose events run on base, before it gives up
 * its capabilities.  prio 0: it stays normal.  NULL only when out of
 * memory. */
struct rtsched *rtsched_new(struct event_base *base, int prio);
void rtsched_free(struct rtsched *s);

/* True when the thread runs realtime and could come back from a step back
 * only with CAP_SYS_NICE (RLIMIT_RTPRIO stayed below prio). */
bool rtsched_wants_nice(const struct rtsched *s);

/* The thread has work (one turn of reads): starts the check when none is
 * running.  s may be NULL. */
void rtsched_busy(struct rtsched *s);

struct rtsched_stats {
	enum rtsched_state state;
	int prio;                 /* as configured */
	uint64_t stepped_back;    /* times it went to normal scheduling */
};
void rtsched_stats(const struct rtsched *s, struct rtsched_stats *out);
const char *rtsched_state_str(enum rtsched_state st);

#endif
