#include "rtsched.h"

#include <errno.h>
#include <event2/event.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"

struct rtsched {
	struct event *check;
	int prio;
	enum rtsched_state state;
	bool armed;               /* a check runs */
	bool rlimit_ok;           /* RLIMIT_RTPRIO >= prio: the way back needs no capability */
	long nvcsw;               /* the thread's voluntary switches when it began */
	uint64_t stepped_back;
	struct ratelimit rl;
};

/* How often the thread has slept (blocked: each sleep is a voluntary
 * switch; being preempted is not). */
static long sleeps(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nvcsw : 0;
}

static int set_policy(int policy, int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	return sched_setscheduler(0, policy | SCHED_RESET_ON_FORK, &sp);
}

static void arm(struct rtsched *s)
{
	const struct timeval tv = { RTSCHED_CHECK_MS / 1000, (RTSCHED_CHECK_MS % 1000) * 1000 };

	s->nvcsw = sleeps();
	s->armed = event_add(s->check, &tv) == 0;
}

/* One period of RTSCHED_CHECK_MS since the thread last reported work (or
 * since it stepped back): did it sleep in it? */
static void on_check(evutil_socket_t fd, short what, void *arg)
{
	struct rtsched *s = arg;
	bool slept = sleeps() != s->nvcsw;

	(void)fd;
	(void)what;
	s->armed = false;
	if (s->state == RTSCHED_REALTIME && !slept) {
		if (set_policy(SCHED_OTHER, 0) < 0) {
			LOG_RATELIMITED(&s->rl, "scheduling: stepping back: %s", strerror(errno));
			return;
		}
		s->state = RTSCHED_STEPPED_BACK;
		s->stepped_back++;
		LOG_RATELIMITED(&s->rl, "scheduling: no pause in %d ms: normal priority until "
					"the work is done", RTSCHED_CHECK_MS);
	} else if (s->state == RTSCHED_STEPPED_BACK && slept) {
		if (set_policy(SCHED_FIFO, s->prio) < 0) {
			s->state = RTSCHED_NORMAL;
			log_warn("scheduling: back to SCHED_FIFO %d (RLIMIT_RTPRIO?): staying normal",
				 s->prio);
			return;
		}
		s->state = RTSCHED_REALTIME;
	}
	/* Stepped back, it is checked until it has slept, busy or not: an
	 * idle thread reports no work, and would stay normal. */
	if (s->state == RTSCHED_STEPPED_BACK)
		arm(s);
}

struct rtsched *rtsched_new(struct event_base *base, int prio)
{
	struct rtsched *s = calloc(1, sizeof(*s));
	struct rlimit rl;

	if (!s)
		return NULL;
	s->prio = prio;
	s->state = RTSCHED_NORMAL;
	s->check = evtimer_new(base, on_check, s);
	if (!s->check) {
		free(s);
		return NULL;
	}
	if (prio <= 0)
		return s;
	/* The way back from a step back, once the capabilities are gone. */
	if (getrlimit(RLIMIT_RTPRIO, &rl) == 0) {
		if (rl.rlim_cur < (rlim_t)prio) {
			rl.rlim_cur = (rlim_t)prio;
			if (rl.rlim_max < rl.rlim_cur)
				rl.rlim_max = rl.rlim_cur;
			s->rlimit_ok = setrlimit(RLIMIT_RTPRIO, &rl) == 0;
		} else {
			s->rlimit_ok = true;
		}
	}
	if (set_policy(SCHED_FIFO, prio) < 0) {
		log_info("scheduling: SCHED_FIFO %d refused (%s): normal priority", prio,
			 strerror(errno));
		return s;
	}
	s->state = RTSCHED_REALTIME;
	log_info("scheduling: SCHED_FIFO %d", prio);
	return s;
}

void rtsched_free(struct rtsched *s)
{
	if (!s)
		return;
	event_free(s->check);
	free(s);
}

bool rtsched_wants_nice(const struct rtsched *s)
{
	return s && s->state == RTSCHED_REALTIME && !s->rlimit_ok;
}

void rtsched_busy(struct rtsched *s)
{
	if (s && !s->armed && s->state == RTSCHED_REALTIME)
		arm(s);
}

void rtsched_stats(const struct rtsched *s, struct rtsched_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->state = s->state;
	out->prio = s->prio;
	out->stepped_back = s->stepped_back;
}

const char *rtsched_state_str(enum rtsched_state st)
{
	switch (st) {
	case RTSCHED_REALTIME:
		return "realtime";
	case RTSCHED_STEPPED_BACK:
		return "stepped_back";
	case RTSCHED_NORMAL:
		break;
	}
	return "normal";
}
