#include "rtsched.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

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
