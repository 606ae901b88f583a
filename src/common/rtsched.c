#include "rtsched.h"

#include <sched.h>

#include "log.h"

bool rtsched_set(int prio)
{
	const struct sched_param sp = { .sched_priority = prio };

	if (prio <= 0)
		return false;
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0) {
		log_warn("scheduling: SCHED_FIFO %d refused, normal priority", prio);
		return false;
	}
	log_info("scheduling: SCHED_FIFO %d", prio);
	return true;
}

int rtsched_prio(void)
{
	struct sched_param sp;
	int pol = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;

	if ((pol != SCHED_FIFO && pol != SCHED_RR) || sched_getparam(0, &sp) < 0)
		return 0;
	return sp.sched_priority;
}
