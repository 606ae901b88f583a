/* The control socket: a libevent server in this thread, blocking clients
 * in a second thread; the client thread wakes the loop through a pipe
 * when it is done, so nothing sleeps. */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"

static char dir[] = "/tmp/cy_test_ctl_XXXXXX";
static char path[128];
static struct event_base *base;
static struct control *ctl;
static int wake[2];

static int calls;
static char last_req[CONTROL_REQ_MAX + 8];

static long handler(void *arg, const char *req, char *out, size_t cap)
{
	calls++;
	snprintf(last_req, sizeof(last_req), "%s", req);
	if (!strcmp(req, "fail"))
		return -1;
	if (!strncmp(req, "len ", 4)) {
		long n = atol(req + 4);
		memset(out, 'r', (size_t)n);
		return n;
	}
	return snprintf(out, cap, "reply to %s\n", req);
}

struct job {
	/* inputs */
	const char *req;
	size_t cap;
	int timeout_ms;
	bool raw;          /* write req as is, no newline, read what comes */
	/* outputs */
	ssize_t rc;
	char out[4096];
};

static void *client(void *arg)
{
	struct job *j = arg;

	if (!j->raw) {
		j->rc = control_query(path, j->req, j->out, j->cap, j->timeout_ms);
	} else {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ssize_t n, len = 0;

		strcpy(sun.sun_path, path);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
		    write(fd, j->req, strlen(j->req)) < 0) {
			j->rc = -errno;
		} else {
			while ((n = read(fd, j->out + len, sizeof(j->out) - 1 - (size_t)len)) > 0)
				len += n;
			j->rc = n < 0 ? -errno : len;
		}
		if (fd >= 0)
			close(fd);
	}
	if (write(wake[1], "x", 1) != 1)
		abort();
	return NULL;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	char c;

	if (read(fd, &c, 1) != 1)
		abort();
	event_base_loopbreak(base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	fail_msg("client did not finish in time");
}

/* Run one client against the server loop until it is done. */
static void run(struct job *j)
{
	struct event *ev = event_new(base, wake[0], EV_READ, on_wake, NULL);
	struct event *dl = evtimer_new(base, on_deadline, NULL);
	struct timeval tv = { 20, 0 };
	pthread_t t;

	assert_non_null(ev);
	assert_non_null(dl);
	if (!j->cap)
		j->cap = sizeof(j->out);
	event_add(ev, NULL);
	evtimer_add(dl, &tv);
	assert_int_equal(pthread_create(&t, NULL, client, j), 0);
	event_base_dispatch(base);
	pthread_join(t, NULL);
	event_free(ev);
	event_free(dl);
	/* let the server finish closing its side */
	event_base_loop(base, EVLOOP_NONBLOCK);
}

static int setup(void **state)
{
	if (!mkdtemp(dir) || pipe(wake) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	base = event_base_new();
	ctl = base ? control_new(base, path, handler, NULL) : NULL;
	return ctl ? 0 : -1;
}

static int teardown(void **state)
{
	control_free(ctl);
	event_base_free(base);
	close(wake[0]);
	close(wake[1]);
	rmdir(dir);
	return 0;
}

static void test_query(void **state)
{
	struct job j = { .req = "status", .timeout_ms = 5000 };
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	calls = 0;
	run(&j);
	assert_int_equal(j.rc, (ssize_t)strlen("reply to status\n"));
	assert_string_equal(j.out, "reply to status\n");
	assert_string_equal(last_req, "status");
	assert_int_equal(calls, 1);

	j = (struct job){ .req = "fail", .timeout_ms = 5000 };
	run(&j);
	assert_string_equal(j.out, "error\n");
	assert_int_equal(calls, 2);

	/* a large reply arrives whole */
	j = (struct job){ .req = "len 4000", .timeout_ms = 5000 };
	run(&j);
	assert_int_equal(j.rc, 4000);
	assert_int_equal(strlen(j.out), 4000);
	/* an empty reply is a reply */
	j = (struct job){ .req = "len 0", .timeout_ms = 5000 };
	run(&j);
	assert_int_equal(j.rc, 0);
	assert_string_equal(j.out, "");
}

static void test_reply_capacity(void **state)
{
	struct job j = { .req = "len 16", .cap = 16, .timeout_ms = 5000 };

	/* 16 bytes and a NUL do not fit into 16 */
	run(&j);
	assert_int_equal(j.rc, -EMSGSIZE);
	/* 15 bytes and the NUL do */
	j = (struct job){ .req = "len 15", .cap = 16, .timeout_ms = 5000 };
	run(&j);
	assert_int_equal(j.rc, 15);
	assert_int_equal(strlen(j.out), 15);
}

static void test_long_request(void **state)
{
	char req[CONTROL_REQ_MAX + 64];
	struct job j;
	int before;

	/* exactly the maximum is served */
	memset(req, 'a', CONTROL_REQ_MAX);
	req[CONTROL_REQ_MAX] = '\0';
	j = (struct job){ .req = req, .timeout_ms = 5000 };
	before = calls;
	run(&j);
	assert_int_equal(calls, before + 1);
	assert_true(j.rc > 0);
	assert_int_equal(strlen(last_req), CONTROL_REQ_MAX);

	/* one more byte is refused: the handler never sees it and no reply
	 * comes back (the connection is closed, or reset) */
	memset(req, 'b', CONTROL_REQ_MAX + 1);
	req[CONTROL_REQ_MAX + 1] = '\0';
	j = (struct job){ .req = req, .timeout_ms = 5000 };
	before = calls;
	run(&j);
	assert_int_equal(calls, before);
	assert_true(j.rc <= 0);

	/* a long line without a newline is cut off too */
	memset(req, 'c', sizeof(req) - 1);
	req[sizeof(req) - 1] = '\0';
	j = (struct job){ .req = req, .raw = true };
	before = calls;
	run(&j);
	assert_int_equal(calls, before);
	assert_true(j.rc <= 0);

	/* the server still answers afterwards */
	j = (struct job){ .req = "status", .timeout_ms = 5000 };
	run(&j);
	assert_string_equal(j.out, "reply to status\n");
}

static void test_no_server(void **state)
{
	char p2[160], out[64];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(p2, sizeof(p2), "%s/none.sock", dir);
	assert_int_equal(control_query(p2, "status", out, sizeof(out), 1000), -ENOENT);
	/* a stale socket file: nobody listens */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	strcpy(sun.sun_path, p2);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(control_query(p2, "status", out, sizeof(out), 1000), -ECONNREFUSED);
	/* a listener that never answers: the timeout */
	unlink(p2);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(control_query(p2, "status", out, sizeof(out), 100), -ETIMEDOUT);
	close(fd);
	unlink(p2);
	/* bad arguments */
	assert_int_equal(control_query(p2, "status", out, 0, 100), -EINVAL);
	{
		char longp[200];
		memset(longp, 'p', sizeof(longp) - 1);
		longp[sizeof(longp) - 1] = '\0';
		assert_int_equal(control_query(longp, "status", out, sizeof(out), 100),
				 -EINVAL);
		assert_null(control_new(base, longp, handler, NULL));
	}
	control_free(NULL);
}

static void test_free_unlinks(void **state)
{
	char p2[160], out[64];
	struct control *c2;
	struct stat st;

	snprintf(p2, sizeof(p2), "%s/second.sock", dir);
	/* a stale file at the path is replaced */
	fclose(fopen(p2, "w"));
	c2 = control_new(base, p2, handler, NULL);
	assert_non_null(c2);
	assert_int_equal(stat(p2, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	control_free(c2);
	assert_int_equal(stat(p2, &st), -1);
	assert_int_equal(control_query(p2, "status", out, sizeof(out), 100), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_reply_capacity),
		cmocka_unit_test(test_long_request),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_free_unlinks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
