/* Realtime scheduling for the daemon's thread (rtsched.c): SCHED_FIFO at
 * the priority asked and nothing at 0; what the thread starts does not
 * inherit it; refused without CAP_SYS_NICE or RLIMIT_RTPRIO, the thread
 * stays normal.  Each case runs in a child process of its own (a policy
 * and capabilities are the process's to keep), as root, as `make check`
 * runs: the child's exit code is the step that failed. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rtsched.h"

/* The policy without the SCHED_RESET_ON_FORK flag, and the flag. */
static int policy(void) { return sched_getscheduler(0) & ~SCHED_RESET_ON_FORK; }
static bool reset_on_fork(void) { return sched_getscheduler(0) & SCHED_RESET_ON_FORK; }

static int in_child(int (*fn)(void))
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int prio_zero(void)
{
	int before = sched_getscheduler(0);

	if (rtsched_set(0))
		return 1;
	if (sched_getscheduler(0) != before || rtsched_prio() != 0)
		return 2;
	return 0;
}

static void test_prio_zero_stays_normal(void **unused)
{
	assert_int_equal(in_child(prio_zero), 0);
}

static int fifo(void)
{
	struct sched_param sp;
	pid_t pid;
	int st;

	if (!rtsched_set(1))
		return 1;
	if (policy() != SCHED_FIFO || !reset_on_fork())
		return 2;
	if (sched_getparam(0, &sp) < 0 || sp.sched_priority != 1 || rtsched_prio() != 1)
		return 3;
	/* What it starts runs normal. */
	pid = fork();
	if (pid == 0)
		_exit(policy() == SCHED_OTHER ? 0 : 1);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 4;
	return 0;
}

static void test_fifo_at_prio_not_inherited(void **unused)
{
	assert_int_equal(in_child(fifo), 0);
}

static int refused(void)
{
	const cap_value_t nice = CAP_SYS_NICE;
	const struct rlimit none = { 0, 0 };
	cap_t caps = cap_get_proc();
	int before;

	/* Neither the capability nor the limit (lowering it needs neither). */
	if (!caps || cap_set_flag(caps, CAP_EFFECTIVE, 1, &nice, CAP_CLEAR) < 0 ||
	    cap_set_flag(caps, CAP_PERMITTED, 1, &nice, CAP_CLEAR) < 0 || cap_set_proc(caps) < 0 ||
	    setrlimit(RLIMIT_RTPRIO, &none) < 0)
		return 1;
	cap_free(caps);
	before = sched_getscheduler(0);
	if (rtsched_set(1))
		return 2;
	if (sched_getscheduler(0) != before || rtsched_prio() != 0)
		return 3;
	return 0;
}

static void test_refused_stays_normal(void **unused)
{
	assert_int_equal(in_child(refused), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prio_zero_stays_normal),
		cmocka_unit_test(test_fifo_at_prio_not_inherited),
		cmocka_unit_test(test_refused_stays_normal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
