#include "metrics_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

#define METRICS_TIMEOUT_S 10   /* a scraper that stalls is cut off */

struct metrics_http {
	struct evhttp *http;
	metrics_fn fn;
	void *arg;
};

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http *m = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *body;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!uri || (strcmp(uri, "/metrics") && strncmp(uri, "/metrics?", 9))) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics is here");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		evhttp_send_error(req, HTTP_BADMETHOD, NULL);
		return;
	}
	f = open_memstream(&text, &len);
	if (!f) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	m->fn(m->arg, f);
	if (fclose(f) != 0 || !(body = evbuffer_new())) {
		free(text);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add(body, text, len);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

struct metrics_http *metrics_http_new(struct event_base *base, const struct sockaddr_storage *addr,
				      metrics_fn fn, void *arg)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	char buf[ADDR_STR_MAX];
	int fd = -1, on = 1;

	if (!m)
		return NULL;
	m->fn = fn;
	m->arg = arg;
	m->http = evhttp_new(base);
	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!m->http || fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, (const struct sockaddr *)addr, addr_len((const struct sockaddr *)addr)) < 0 ||
	    listen(fd, 16) < 0 || !evhttp_accept_socket_with_handle(m->http, fd)) {
		log_warn("metrics: cannot listen on %s",
			 addr_str((const struct sockaddr *)addr, buf));
		if (fd >= 0)
			close(fd);
		metrics_http_free(m);
		return NULL;
	}
	/* evhttp owns the socket now */
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	/* Every method reaches on_request, which says 405 to all but GET. */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
					    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
					    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(m->http, on_request, m);
	log_info("metrics: http://%s/metrics", addr_str((const struct sockaddr *)addr, buf));
	return m;
}

void metrics_http_free(struct metrics_http *m)
{
	if (!m)
		return;
	if (m->http)
		evhttp_free(m->http);
	free(m);
}
