#include "metrics_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

/* A scrape is one short request: bounded in every way, so the endpoint
 * cannot hold the daemon's memory or descriptors. */
#define METRICS_CONNS 8          /* at once; more are closed at accept */
#define METRICS_DEADLINE_S 5     /* a connection's whole life */
#define METRICS_REQ_MAX 4096     /* request line and headers */

struct metrics_conn {
	struct metrics_http *m;
	struct bufferevent *bev;
	struct event *deadline;
	bool answered;
	struct metrics_conn *next;
};

struct metrics_http {
	struct event_base *base;
	struct evconnlistener *lis;
	metrics_fn fn;
	void *arg;
	struct metrics_conn *conns;
	int nconns;
};

static void conn_free(struct metrics_conn *c)
{
	struct metrics_conn **pp = &c->m->conns;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	c->m->nconns--;
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c);
}

static void reply(struct metrics_conn *c, int code, const char *reason, const char *extra,
		  const char *body, size_t len, bool head_only)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			    "Connection: close\r\n%s\r\n", code, reason,
			    code == 200 ? "text/plain; version=0.0.4; charset=utf-8"
					: "text/plain; charset=utf-8", len, extra);
	if (!head_only)
		evbuffer_add(out, body, len);
	c->answered = true;
	bufferevent_disable(c->bev, EV_READ);
}

static void error_reply(struct metrics_conn *c, int code, const char *reason, const char *extra)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", code, reason);

	reply(c, code, reason, extra, body, (size_t)n, false);
}

/* The request line of a complete request head: "METHOD PATH HTTP/1.x". */
static void handle(struct metrics_conn *c, const char *line)
{
	char method[8], path[64], version[16];
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (sscanf(line, "%7s %63s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7)) {
		error_reply(c, 400, "Bad Request", "");
		return;
	}
	if (strcmp(path, "/metrics") && strncmp(path, "/metrics?", 9)) {
		error_reply(c, 404, "Not Found", "");
		return;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		error_reply(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	f = open_memstream(&text, &len);
	if (!f) {
		error_reply(c, 500, "Internal Server Error", "");
		return;
	}
	c->m->fn(c->m->arg, f);
	if (fclose(f) != 0) {
		free(text);
		error_reply(c, 500, "Internal Server Error", "");
		return;
	}
	reply(c, 200, "OK", "", text, len, !strcmp(method, "HEAD"));
	free(text);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct metrics_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	char *line;

	if (end.pos < 0)
		end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos < 0) {
		if (evbuffer_get_length(in) > METRICS_REQ_MAX)
			error_reply(c, 431, "Request Header Fields Too Large", "");
		return;
	}
	line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
	if (!line || strlen(line) > METRICS_REQ_MAX)
		error_reply(c, 400, "Bad Request", "");
	else
		handle(c, line);
	free(line);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct metrics_conn *c = arg;

	if (c->answered && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	conn_free(arg);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct metrics_http *m = arg;
	struct timeval tv = { METRICS_DEADLINE_S, 0 };
	struct metrics_conn *c;

	if (m->nconns >= METRICS_CONNS || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->m = m;
	c->bev = bufferevent_socket_new(m->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(m->base, on_deadline, c);
	if (!c->bev || !c->deadline || evtimer_add(c->deadline, &tv) < 0) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->deadline)
			event_free(c->deadline);
		free(c);
		return;
	}
	c->next = m->conns;
	m->conns = c;
	m->nconns++;
	bufferevent_setwatermark(c->bev, EV_READ, 0, METRICS_REQ_MAX + 1);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

struct metrics_http *metrics_http_new(struct event_base *base, const struct sockaddr_storage *addr,
				      metrics_fn fn, void *arg)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	char buf[ADDR_STR_MAX];
	int fd;

	if (!m)
		return NULL;
	m->base = base;
	m->fn = fn;
	m->arg = arg;
	fd = addr_tcp_listen(addr, 16);
	if (fd >= 0)
		m->lis = evconnlistener_new(base, on_accept, m, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!m->lis) {
		log_warn("metrics: cannot listen on %s",
			 addr_str((const struct sockaddr *)addr, buf));
		if (fd >= 0)
			close(fd);
		free(m);
		return NULL;
	}
	log_info("metrics: http://%s/metrics", addr_str((const struct sockaddr *)addr, buf));
	return m;
}

void metrics_http_free(struct metrics_http *m)
{
	if (!m)
		return;
	while (m->conns)
		conn_free(m->conns);
	if (m->lis)
		evconnlistener_free(m->lis);
	free(m);
}
