/* The console's HTTPS server: TLS, sessions, the login, and the routing
 * of the API (console_api.c) and the page (console_assets.c). */
#include "console_impl.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "addr.h"
#include "admin.h"
#include "aead.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "loopthread.h"

#define CONSOLE_TIMEOUT_S 10
#define CONSOLE_HEADERS_MAX 8192
#define CONSOLE_COOKIE "cy_session"
#define CONSOLE_CSRF_HEADER "X-CSRF-Token"

/* Sent with every answer: nothing of the page loads from elsewhere or
 * runs inline, no other site frames it, nothing is cached. */
static void console_headers(struct evhttp_request *req, const char *type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Content-Security-Policy",
			  "default-src 'none'; script-src 'self'; style-src 'self'; "
			  "img-src 'self'; connect-src 'self'; form-action 'self'; "
			  "frame-ancestors 'none'; base-uri 'none'");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
}

void console_reply_json(struct console_req *r, int code, const char *text)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		evhttp_send_error(r->req, 500, NULL);
		return;
	}
	console_headers(r->req, "application/json; charset=utf-8");
	evbuffer_add(b, text, strlen(text));
	evbuffer_add(b, "\n", 1);
	evhttp_send_reply(r->req, code, NULL, b);
	evbuffer_free(b);
}

void console_reply_error(struct console_req *r, int code, const char *fmt, ...)
{
	char msg[600], out[1400];
	struct json j;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_init(&j, out, sizeof(out));
	json_obj_begin(&j, NULL);
	json_str(&j, "error", msg);
	json_obj_end(&j);
	if (json_finish(&j) < 0)
		snprintf(out, sizeof(out), "{\"error\":\"?\"}");
	if (code == 400)
		r->c->stats.bad_requests++;
	console_reply_json(r, code, out);
}

const char *console_field(struct console_req *r, const char *name)
{
	return r->form ? evhttp_find_header(r->form, name) : NULL;
}

int console_status_of(int err)
{
	switch (err) {
	case -EINVAL: return 400;
	case -EPERM: return 403;
	case -ENOENT: return 404;
	case -EEXIST: return 409;
	default: return 500;
	}
}

void console_changed(struct console *c)
{
	uint64_t one = 1;

	if (write(c->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the loop has a wake-up pending anyway */
	}
}

static void on_changed(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;
	uint64_t v;

	if (read(c->efd, &v, sizeof(v)) == sizeof(v) && c->changed)
		c->changed(c->changed_arg);
}

void console_figures(struct console *c, const char *stats_json, const struct nms_stats *nms,
		     const struct trs_stats *trs)
{
	char *copy = strdup(stats_json);

	pthread_mutex_lock(&c->mu);
	free(c->figures_json);
	c->figures_json = copy;
	c->has_nms = nms != NULL;
	if (nms)
		c->nms = *nms;
	c->has_trs = trs != NULL;
	if (trs)
		c->trs = *trs;
	pthread_mutex_unlock(&c->mu);
}

/* The live session of the request, whose account still exists (removed
 * with `cyphonic admin remove`: its sessions end). */
static struct console_session *console_session_of(struct console *c,
						  struct evhttp_request *req)
{
	char id[CONSOLE_TOKEN_HEX + 1];
	struct console_session *s;

	if (!console_cookie_value(evhttp_find_header(evhttp_request_get_input_headers(req),
						     "Cookie"),
				  CONSOLE_COOKIE, id, sizeof(id)))
		return NULL;
	s = console_session_find(&c->sessions, id, clock_now_ms() / 1000);
	if (s && !admin_account_exists(c->st, s->name)) {
		console_session_end_name(&c->sessions, s->name);
		return NULL;
	}
	return s;
}

static void console_session_json(struct console_req *r, int code)
{
	char out[256];
	struct json j;

	json_init(&j, out, sizeof(out));
	json_obj_begin(&j, NULL);
	json_str(&j, "name", r->s->name);
	json_str(&j, "csrf", r->s->csrf);
	json_str(&j, "domain", r->c->conf->domain);
	json_obj_end(&j);
	json_finish(&j);
	console_reply_json(r, code, out);
}

/* POST /api/login: name, password.  Failures are counted by source and
 * by name (as_limit.h): after AS_LIMIT_FREE of them, each doubles a wait
 * during which that source or name is refused without a password check. */
static void console_login(struct console_req *r)
{
	struct console *c = r->c;
	const char *name = console_field(r, "name"), *pw = console_field(r, "password");
	const struct sockaddr *sa =
		evhttp_connection_get_addr(evhttp_request_get_connection(r->req));
	char kaddr[AS_LIMIT_KEY_MAX], kname[AS_LIMIT_KEY_MAX], id[CONSOLE_TOKEN_HEX], cookie[160];
	char who[ADDR_STR_MAX];
	int64_t now = clock_now_ms();
	int wait;

	if (!name || !pw || !name[0])
		return console_reply_error(r, 400, "name and password are required");
	if (sa)
		as_limit_key_addr(sa, kaddr);
	else
		snprintf(kaddr, sizeof(kaddr), "a:?");
	as_limit_key_name(name, kname);
	wait = as_limit_wait(c->limit, kaddr, now);
	if (as_limit_wait(c->limit, kname, now) > wait)
		wait = as_limit_wait(c->limit, kname, now);
	if (wait > 0) {
		char s[16];

		c->stats.login_throttled++;
		snprintf(s, sizeof(s), "%d", wait);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", s);
		return console_reply_error(r, 429, "too many failed logins: try again in %d s",
					   wait);
	}
	if (!admin_account_check(c->st, name, pw)) {
		c->stats.login_failed++;
		as_limit_failed(c->limit, kaddr, now);
		as_limit_failed(c->limit, kname, now);
		log_warnx("console: failed login as '%.*s' from %s", CY_NAME_MAX, name,
			  sa ? addr_str(sa, who) : "?");
		return console_reply_error(r, 401, "wrong name or password");
	}
	as_limit_succeeded(c->limit, kaddr);
	as_limit_succeeded(c->limit, kname);
	r->s = console_session_new(&c->sessions, name, now / 1000, id);
	if (!r->s)
		return console_reply_error(r, 500, "no random numbers");
	c->stats.logins++;
	log_info("console: %s logged in from %s", name, sa ? addr_str(sa, who) : "?");
	snprintf(cookie, sizeof(cookie),
		 CONSOLE_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%d", id,
		 CONSOLE_LIFE_S);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Set-Cookie", cookie);
	console_session_json(r, 200);
}

static void console_logout(struct console_req *r)
{
	console_session_end(r->s);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Set-Cookie",
			  CONSOLE_COOKIE "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
	console_reply_json(r, 200, "{}");
}

/* The POST body as form fields (application/x-www-form-urlencoded). */
static int console_form(struct console_req *r, struct evkeyvalq *form)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	char *body;
	int rc;

	TAILQ_INIT(form);
	if (len > CONSOLE_BODY_MAX)
		return -1;
	body = malloc(len + 1);
	if (!body)
		return -1;
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	rc = strlen(body) == len ? evhttp_parse_query_str(body, form) : -1;
	free(body);
	r->form = form;
	return rc;
}

struct console_route {
	const char *path;
	enum evhttp_cmd_type method;
	void (*fn)(struct console_req *r);
};

static const struct console_route console_routes[] = {
	{ "/api/logout", EVHTTP_REQ_POST, console_logout },
	{ "/api/overview", EVHTTP_REQ_GET, console_api_overview },
	{ "/api/nodes", EVHTTP_REQ_GET, console_api_nodes },
	{ "/api/stats", EVHTTP_REQ_GET, console_api_stats },
	{ "/api/enrol", EVHTTP_REQ_POST, console_api_enrol },
	{ "/api/gn", EVHTTP_REQ_POST, console_api_gn },
	{ "/api/revoke", EVHTTP_REQ_POST, console_api_revoke },
	{ "/api/policy", EVHTTP_REQ_GET, console_api_policy },
	{ "/api/policy", EVHTTP_REQ_POST, console_api_policy_set },
};

static void console_api(struct console_req *r, const char *path, enum evhttp_cmd_type method)
{
	const struct console_route *rt = NULL;
	bool known = false;

	for (size_t i = 0; i < sizeof(console_routes) / sizeof(console_routes[0]); i++) {
		if (strcmp(console_routes[i].path, path))
			continue;
		known = true;
		if (console_routes[i].method == method)
			rt = &console_routes[i];
	}
	if (!strcmp(path, "/api/login") && method == EVHTTP_REQ_POST)
		return console_login(r);
	r->s = console_session_of(r->c, r->req);
	if (!strcmp(path, "/api/session") && method == EVHTTP_REQ_GET) {
		if (!r->s) {
			r->c->stats.no_session++;
			return console_reply_error(r, 401, "not logged in");
		}
		return console_session_json(r, 200);
	}
	if (!rt)
		return console_reply_error(r, known ? 405 : 404, known ? "method not allowed"
								       : "no such API");
	if (!r->s) {
		r->c->stats.no_session++;
		return console_reply_error(r, 401, "not logged in");
	}
	if (method == EVHTTP_REQ_POST &&
	    !console_session_csrf_ok(r->s, evhttp_find_header(
				    evhttp_request_get_input_headers(r->req),
				    CONSOLE_CSRF_HEADER))) {
		r->c->stats.csrf_refused++;
		return console_reply_error(r, 403, "missing or wrong " CONSOLE_CSRF_HEADER);
	}
	rt->fn(r);
}

static void console_static(struct console_req *r, const char *path)
{
	struct evbuffer *b;

	if (!strcmp(path, "/"))
		path = "/index.html";
	for (size_t i = 0; i < console_nassets; i++) {
		const struct console_asset *a = &console_assets[i];

		if (strcmp(a->path, path))
			continue;
		b = evbuffer_new();
		if (!b)
			break;
		console_headers(r->req, a->type);
		evbuffer_add_reference(b, a->data, a->len, NULL, NULL);
		evhttp_send_reply(r->req, 200, NULL, b);
		evbuffer_free(b);
		return;
	}
	console_reply_error(r, 404, "not found");
}

static void console_request(struct evhttp_request *req, void *arg)
{
	struct console_req r = { .c = arg, .req = req };
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evkeyvalq form;

	r.c->stats.requests++;
	TAILQ_INIT(&form);
	if (!path)
		return console_reply_error(&r, 400, "no path");
	if (strncmp(path, "/api/", 5)) {
		if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD)
			return console_reply_error(&r, 405, "method not allowed");
		return console_static(&r, path);
	}
	if (method == EVHTTP_REQ_POST && console_form(&r, &form) < 0) {
		evhttp_clear_headers(&form);
		return console_reply_error(&r, 400, "the body is not a form "
					   "(application/x-www-form-urlencoded)");
	}
	if (method != EVHTTP_REQ_POST && method != EVHTTP_REQ_GET) {
		console_reply_error(&r, 405, "method not allowed");
	} else {
		console_api(&r, path, method);
	}
	evhttp_clear_headers(&form);
}

static struct bufferevent *console_bev(struct event_base *base, void *arg)
{
	struct console *c = arg;
	SSL *ssl = SSL_new(c->ctx);

	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

static SSL_CTX *console_tls(const struct cloud_conf *conf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, conf->console_cert) != 1) {
		log_err("console: cannot use the certificate %s", conf->console_cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, conf->console_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_err("console: cannot use the key %s", conf->console_key);
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct console *console_new(struct event_base *loop, const struct cloud_conf *conf,
			    console_changed_fn changed, void *arg)
{
	struct console *c = calloc(1, sizeof(*c));
	char err[CLOUD_PATH_MAX + 128], a[ADDR_STR_MAX];
	int fd;

	if (!c)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	c->conf = conf;
	c->loop = loop;
	c->changed = changed;
	c->changed_arg = arg;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->ctx = console_tls(conf);
	c->limit = as_limit_new();
	c->thread = loopthread_new("console");
	if (c->efd < 0 || !c->ctx || !c->limit || !c->thread)
		goto fail;
	c->ev_changed = event_new(loop, c->efd, EV_READ | EV_PERSIST, on_changed, c);
	if (!c->ev_changed || event_add(c->ev_changed, NULL) < 0)
		goto fail;
	if (store_open(&c->st, conf->store, err, sizeof(err)) < 0) {
		log_err("console: store: %s", err);
		goto fail;
	}
	c->base = loopthread_base(c->thread);
	c->http = evhttp_new(c->base);
	if (!c->http)
		goto fail;
	evhttp_set_bevcb(c->http, console_bev, c);
	evhttp_set_gencb(c->http, console_request, c);
	evhttp_set_timeout(c->http, CONSOLE_TIMEOUT_S);
	evhttp_set_max_body_size(c->http, CONSOLE_BODY_MAX);
	evhttp_set_max_headers_size(c->http, CONSOLE_HEADERS_MAX);
	evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	fd = addr_tcp_listen(&conf->console_listen, 64);
	if (fd < 0 || !evhttp_accept_socket_with_handle(c->http, fd)) {
		if (fd >= 0)
			close(fd);
		log_warn("console: cannot listen on %s",
			 addr_str((const struct sockaddr *)&conf->console_listen, a));
		goto fail;
	}
	log_info("console: https on %s",
		 addr_str((const struct sockaddr *)&conf->console_listen, a));
	return c;
fail:
	console_free(c);
	return NULL;
}

int console_start(struct console *c)
{
	return loopthread_start(c->thread);
}

void console_free(struct console *c)
{
	if (!c)
		return;
	loopthread_stop(c->thread);
	if (c->http)
		evhttp_free(c->http);
	loopthread_free(c->thread);
	if (c->ev_changed)
		event_free(c->ev_changed);
	if (c->efd >= 0)
		close(c->efd);
	store_close(c->st);
	as_limit_free(c->limit);
	SSL_CTX_free(c->ctx);
	free(c->figures_json);
	pthread_mutex_destroy(&c->mu);
	cy_wipe(&c->sessions, sizeof(c->sessions));
	free(c);
}
