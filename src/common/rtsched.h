/* Realtime scheduling for a thread that moves packets (docs/performance.md,
 * "Priority").
 *
 * A userspace data path does for the overlay what the kernel's softirq
 * does for its own network, and at SCHED_FIFO it runs, like softirq, as
 * soon as a packet is there instead of waiting for a time slice behind
 * ordinary processes (ksoftirqd, where the kernel defers its own packet
 * work, included).  What bounds it is the kernel's: realtime threads get
 * at most sched_rt_runtime_us of every sched_rt_period_us (95 % of a CPU
 * by default; -1: no bound), so a flooded daemon can leave ordinary
 * processes on its CPU that 5 %; which is why it is the operator's
 * choice. */
#ifndef CY_RTSCHED_H
#define CY_RTSCHED_H

#include <stdbool.h>

#define RTSCHED_PRIO_MAX 99

/* The calling thread to SCHED_FIFO at prio, not inherited by what it
 * starts (SCHED_RESET_ON_FORK).  prio 0: nothing.  True when it runs
 * realtime now; refused (no CAP_SYS_NICE nor RLIMIT_RTPRIO >= prio, a
 * container, systemd's RestrictRealtime): logged, false, and the thread
 * stays as it was. */
bool rtsched_set(int prio);

/* The calling thread's realtime priority now (SCHED_FIFO or SCHED_RR,
 * however it got it: this call, chrt, systemd's CPUSchedulingPolicy), 0
 * when it is not realtime. */
int rtsched_prio(void);

#endif
