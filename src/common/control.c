#include "control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct control {
	struct evconnlistener *lis;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	control_fn fn;
	void *arg;
};

static void on_written(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	bufferevent_free(bev);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct control *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	if (!line) {
		if (evbuffer_get_length(in) > CONTROL_REQ_MAX)
			bufferevent_free(bev);
		return;
	}
	bufferevent_disable(bev, EV_READ);
	if (n <= CONTROL_REQ_MAX) {
		char *out = malloc(CONTROL_REPLY_MAX);
		long len = out ? c->fn(c->arg, line, out, CONTROL_REPLY_MAX) : -1;

		if (len >= 0)
			bufferevent_write(bev, out, (size_t)len);
		else
			bufferevent_write(bev, "error\n", 6);
		free(out);
	}
	free(line);
	bufferevent_setcb(bev, NULL, on_written, on_event, c);
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int len, void *arg)
{
	struct bufferevent *bev;
	struct timeval tv = { 5, 0 };

	bev = bufferevent_socket_new(evconnlistener_get_base(lis), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, on_read, NULL, on_event, arg);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

struct control *control_new(struct event_base *base, const char *path, control_fn fn,
			    void *arg)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct control *c;
	mode_t old;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("control socket path too long: %s", path);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	strcpy(sun.sun_path, path);
	strcpy(c->path, path);
	c->fn = fn;
	c->arg = arg;
	unlink(path); /* a stale socket from a daemon that did not exit cleanly */
	old = umask(0177); /* the socket file gets mode 0600 */
	c->lis = evconnlistener_new_bind(base, on_accept, c,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
					 (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (!c->lis) {
		log_warn("control socket %s", path);
		free(c);
		return NULL;
	}
	return c;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	evconnlistener_free(c->lis);
	unlink(c->path);
	free(c);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ssize_t control_query(const char *path, const char *req, char *out, size_t cap,
		      int timeout_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int64_t deadline = now_ms() + timeout_ms;
	size_t len = 0;
	ssize_t n;
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path) || cap == 0)
		return -EINVAL;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    dprintf(fd, "%s\n", req) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			close(fd);
			return -ETIMEDOUT;
		}
		if (len + 1 >= cap) {
			/* out is full: fine if the daemon has nothing more */
			char extra;

			n = read(fd, &extra, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				break;
			close(fd);
			return -EMSGSIZE;
		}
		n = read(fd, out + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	out[len] = '\0';
	return (ssize_t)len;
}
