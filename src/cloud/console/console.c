/* The console's HTTPS server: TLS, sessions, the login, and the routing
 * of the API (console_api.c) and the page (console_assets.c). */
#include "console_impl.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <sys/queue.h>
#include <sys/socket.h>
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
/* __Host-: the browser takes it only from this origin over HTTPS, with
 * Path=/ and no Domain, so no other host of the site can plant one. */
#define CONSOLE_COOKIE "__Host-cy_session"
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

static void free_ref(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

static void wipe_free(const void *data, size_t len, void *arg)
{
	cy_wipe((void *)data, len);
	free((void *)data);
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

void console_reply_j(struct console_req *r, int code, struct json *j, bool secret)
{
	struct evbuffer *b;
	long n = json_finish(j);

	if (n < 0) {
		if (secret)
			cy_wipe(j->p, j->cap);
		free(j->p);
		return console_reply_error(r, 500, "the answer does not fit");
	}
	b = evbuffer_new();
	if (!b) {
		if (secret)
			cy_wipe(j->p, j->cap);
		free(j->p);
		return console_reply_error(r, 500, "out of memory");
	}
	/* the text itself goes out, freed (and wiped) once written */
	if (evbuffer_add_reference(b, j->p, (size_t)n, secret ? wipe_free : free_ref, NULL) < 0) {
		evbuffer_free(b);
		if (secret)
			cy_wipe(j->p, j->cap);
		free(j->p);
		return console_reply_error(r, 500, "out of memory");
	}
	console_headers(r->req, "application/json; charset=utf-8");
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
	case -ENOSPC: return 409;   /* the address ranges are full */
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

/* The session of the request's cookie, whose account still has the
 * password it logged in with: a session from before a new password ends,
 * and every session of a removed account.  NULL with *err set when the
 * store could not say (the sessions stay).  Not touched: see
 * console_api(). */
static struct console_session *console_session_of(struct console *c,
						  struct evhttp_request *req, bool *err)
{
	char id[CONSOLE_TOKEN_HEX + 1], hash[PWHASH_MAX];
	struct console_session *s;
	int rc;

	*err = false;
	if (!console_cookie_value(evhttp_find_header(evhttp_request_get_input_headers(req),
						     "Cookie"),
				  CONSOLE_COOKIE, id, sizeof(id)))
		return NULL;
	s = console_session_find(&c->sessions, id, clock_now_ms() / 1000, false);
	if (!s)
		return NULL;
	rc = admin_account_hash(c->st, s->name, hash);
	if (rc == -EIO) {
		*err = true;
		return NULL;
	}
	if (rc == -ENOENT) {
		console_session_end_name(&c->sessions, s->name);
		s = NULL;
	} else if (!console_session_account_ok(s, hash)) {
		console_session_end(s);
		s = NULL;
	}
	cy_wipe(hash, sizeof(hash));
	return s;
}

/* Did the page itself ask (not a request of another site, nor a page of
 * another port of the same host)?  Browsers say so in Sec-Fetch-Site;
 * other clients send none. */
static bool console_same_origin(struct evhttp_request *req)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req),
					   "Sec-Fetch-Site");

	return !v || !strcmp(v, "same-origin");
}

static void console_session_json(struct console_req *r, int code)
{
	char out[64 + CY_NAME_MAX + CONSOLE_TOKEN_HEX + 6 * CY_FQDN_MAX];
	struct json j;

	json_init(&j, out, sizeof(out));
	json_obj_begin(&j, NULL);
	json_str(&j, "name", r->s->name);
	json_str(&j, "csrf", r->s->csrf);
	json_str(&j, "domain", r->c->conf->domain);
	json_obj_end(&j);
	if (json_finish(&j) < 0)
		return console_reply_error(r, 500, "the answer does not fit");
	console_reply_json(r, code, out);
}

/* The name as the log may show it: a name that is no DNS label is not
 * written out (it could hold line breaks or escapes). */
static const char *console_log_name(const char *name)
{
	return cy_label_ok(name) ? name : "(not a valid name)";
}

/* A login form posted by a page of another origin (login CSRF) is
 * refused: a browser sends Origin with every POST. */
static bool console_origin_ok(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *origin = evhttp_find_header(h, "Origin");
	const char *host = evhttp_find_header(h, "Host");

	if (!origin)
		return true;   /* not a browser's (curl) */
	return host && !strncmp(origin, "https://", 8) && !strcmp(origin + 8, host);
}

/* POST /api/login: name, password.  Guarded as the AS's password logins
 * are (login_guard: failures by source and by name, a source that logged
 * the name in not held back by the name's). */
static void console_login(struct console_req *r)
{
	struct console *c = r->c;
	const char *name = console_field(r, "name"), *pw = console_field(r, "password");
	const struct sockaddr *sa =
		evhttp_connection_get_addr(evhttp_request_get_connection(r->req));
	char id[CONSOLE_TOKEN_HEX], cookie[160], who[ADDR_STR_MAX], hash[PWHASH_MAX];
	uint8_t account[CONSOLE_TOKEN_LEN];
	int64_t now = clock_now_ms();
	int wait, rc;

	if (!console_origin_ok(r->req))
		return console_reply_error(r, 403, "a login from another origin");
	if (!name || !pw || !name[0])
		return console_reply_error(r, 400, "name and password are required");
	wait = login_guard_wait(c->guard, sa, name, now);
	if (wait > 0) {
		char s[16];

		c->stats.login_throttled++;
		snprintf(s, sizeof(s), "%d", wait);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", s);
		return console_reply_error(r, 429, "too many failed logins: try again in %d s",
					   wait);
	}
	rc = admin_account_check(c->st, name, pw, hash);
	if (rc == -EIO)
		return console_reply_error(r, 500, "the store cannot be read");
	login_guard_result(c->guard, sa, name, rc == 0, now);
	if (rc < 0) {
		c->stats.login_failed++;
		LOG_RATELIMITED(&c->rl_log, "console: failed login as '%s' from %s",
				console_log_name(name), sa ? addr_str(sa, who) : "?");
		return console_reply_error(r, 401, "wrong name or password");
	}
	rc = console_session_account(hash, account);
	cy_wipe(hash, sizeof(hash));
	r->s = rc == 0 ? console_session_new(&c->sessions, name, account, now / 1000, id) : NULL;
	if (!r->s)
		return console_reply_error(r, 500, "no session could be made");
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

static void console_session_get(struct console_req *r)
{
	console_session_json(r, 200);
}

/* POST /api/touch: the page reports its user's input (console_api touches
 * the session of every POST that passed its CSRF check). */
static void console_touch(struct console_req *r)
{
	console_reply_json(r, 200, "{}");
}

/* The POST body as form fields (application/x-www-form-urlencoded), at
 * most max bytes.  The copy is wiped: it may hold a password. */
static int console_form(struct console_req *r, struct evkeyvalq *form, size_t max)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	char *body;
	int rc;

	if (len > max)
		return -1;
	body = malloc(len + 1);
	if (!body)
		return -1;
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	rc = strlen(body) == len ? evhttp_parse_query_str(body, form) : -1;
	cy_wipe(body, len);
	free(body);
	r->form = form;
	return rc;
}

/* The form's values wiped before they are freed. */
static void console_form_clear(struct evkeyvalq *form)
{
	struct evkeyval *kv;

	TAILQ_FOREACH(kv, form, next)
		if (kv->value)
			cy_wipe(kv->value, strlen(kv->value));
	evhttp_clear_headers(form);
}

enum { ROUTE_OPEN = 1 };   /* needs no session */

struct console_route {
	const char *path;
	enum evhttp_cmd_type method;
	void (*fn)(struct console_req *r);
	int flags;
};

static const struct console_route console_routes[] = {
	{ "/api/login", EVHTTP_REQ_POST, console_login, ROUTE_OPEN },
	{ "/api/logout", EVHTTP_REQ_POST, console_logout, 0 },
	{ "/api/session", EVHTTP_REQ_GET, console_session_get, 0 },
	{ "/api/touch", EVHTTP_REQ_POST, console_touch, 0 },
	{ "/api/view", EVHTTP_REQ_GET, console_api_view, 0 },
	{ "/api/overview", EVHTTP_REQ_GET, console_api_overview, 0 },
	{ "/api/nodes", EVHTTP_REQ_GET, console_api_nodes, 0 },
	{ "/api/stats", EVHTTP_REQ_GET, console_api_stats, 0 },
	{ "/api/enrol", EVHTTP_REQ_POST, console_api_enrol, 0 },
	{ "/api/gn", EVHTTP_REQ_POST, console_api_gn, 0 },
	{ "/api/revoke", EVHTTP_REQ_POST, console_api_revoke, 0 },
	{ "/api/policy", EVHTTP_REQ_GET, console_api_policy, 0 },
	{ "/api/policy", EVHTTP_REQ_POST, console_api_policy_set, 0 },
};

/* An API request: the route, then the session and (to change anything)
 * the CSRF token, and only then the body is read. */
static void console_api(struct console_req *r, const char *path, enum evhttp_cmd_type method)
{
	const struct console_route *rt = NULL;
	struct evkeyvalq form;
	bool known = false, store_err;

	for (size_t i = 0; i < sizeof(console_routes) / sizeof(console_routes[0]); i++) {
		if (strcmp(console_routes[i].path, path))
			continue;
		known = true;
		if (console_routes[i].method == method)
			rt = &console_routes[i];
	}
	if (!rt)
		return console_reply_error(r, known ? 405 : 404, known ? "method not allowed"
								       : "no such API");
	if (!(rt->flags & ROUTE_OPEN)) {
		r->s = console_session_of(r->c, r->req, &store_err);
		if (store_err)
			return console_reply_error(r, 500, "the store cannot be read");
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
		/* what keeps a session alive: its user's doing (a change, the
		 * page's report of input, loading the page), never the page's
		 * own refresh, nor another site's request */
		if (method == EVHTTP_REQ_POST ||
		    (rt->fn == console_session_get && console_same_origin(r->req)))
			r->s->used = clock_now_ms() / 1000;
	}
	TAILQ_INIT(&form);
	if (method == EVHTTP_REQ_POST &&
	    console_form(r, &form, rt->flags & ROUTE_OPEN ? CONSOLE_LOGIN_BODY_MAX
							  : CONSOLE_BODY_MAX) < 0)
		console_reply_error(r, 400, "the body is not a form "
				    "(application/x-www-form-urlencoded) or is too large");
	else
		rt->fn(r);
	console_form_clear(&form);
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
	struct bufferevent *bev =
		evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));

	/* Never an answer without TLS: libevent falls back to a plain
	 * connection when console_bev could not make one. */
	if (!bev || !bufferevent_openssl_get_ssl(bev)) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	r.c->stats.requests++;
	if (!path)
		return console_reply_error(&r, 400, "no path");
	if (strncmp(path, "/api/", 5)) {
		if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD)
			return console_reply_error(&r, 405, "method not allowed");
		return console_static(&r, path);
	}
	console_api(&r, path, method);
}

/* Each TLS connection is counted from its SSL object's birth to its free
 * (ex_data's free callback: libevent frees the SSL with the connection),
 * and lives at most CONSOLE_CONN_LIFE_S, however slowly it trickles: the
 * listener pauses while CONSOLE_CONNS are open, so the console cannot
 * hold the descriptors the AS, NMS and TRS share with it. */
struct console_conn {
	struct console *c;
	struct event *deadline;
	SSL *ssl;
	struct bufferevent *bev;
	int graces;               /* deadlines put off for a request in hand */
};

static int conn_index = -1;
static pthread_once_t conn_index_once = PTHREAD_ONCE_INIT;

static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
		      void *argp)
{
	struct console_conn *cc = ptr;

	if (!cc)
		return;
	event_free(cc->deadline);
	if (cc->c->nconns-- == CONSOLE_CONNS && cc->c->listener)
		evconnlistener_enable(cc->c->listener);
	free(cc);
}

static void conn_index_make(void)
{
	conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
}

static void conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct console_conn *cc = arg;
	struct timeval grace = { CONSOLE_TIMEOUT_S, 0 };
	int s = SSL_get_fd(cc->ssl);

	/* a request read or an answer not yet written: it finishes first (an
	 * enrolment's reply carries the only copy of the node's key) */
	if (cc->bev && (evbuffer_get_length(bufferevent_get_input(cc->bev)) ||
			evbuffer_get_length(bufferevent_get_output(cc->bev))) &&
	    cc->graces++ < 3) {
		evtimer_add(cc->deadline, &grace);
		return;
	}

	/* evhttp sees the end of the stream and closes the connection */
	cc->c->stats.conns_expired++;
	if (s >= 0)
		shutdown(s, SHUT_RDWR);
}

static struct bufferevent *console_bev(struct event_base *base, void *arg)
{
	struct console *c = arg;
	struct timeval life = { CONSOLE_CONN_LIFE_S, 0 };
	struct console_conn *cc = calloc(1, sizeof(*cc));
	struct bufferevent *bev;
	SSL *ssl = SSL_new(c->ctx);

	if (!cc || !ssl || conn_index < 0)
		goto fail;
	cc->c = c;
	cc->ssl = ssl;
	cc->deadline = evtimer_new(base, conn_deadline, cc);
	if (!cc->deadline || evtimer_add(cc->deadline, &life) < 0 ||
	    !SSL_set_ex_data(ssl, conn_index, cc)) {
		if (cc->deadline)
			event_free(cc->deadline);
		goto fail;
	}
	/* counted from here: conn_free uncounts it when the SSL goes */
	if (++c->nconns == CONSOLE_CONNS && c->listener) {
		c->stats.conns_refused++;
		evconnlistener_disable(c->listener);
	}
	/* on failure libevent frees the SSL itself (and cc with it) */
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	cc->bev = bev;
	return bev;
fail:
	free(cc);
	SSL_free(ssl);
	return NULL;
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
	struct evhttp_bound_socket *bound;
	int fd;

	if (!c)
		return NULL;
	pthread_once(&conn_index_once, conn_index_make);
	pthread_mutex_init(&c->mu, NULL);
	c->conf = conf;
	c->loop = loop;
	c->changed = changed;
	c->changed_arg = arg;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->ctx = console_tls(conf);
	c->guard = login_guard_new();
	c->thread = loopthread_new("console");
	if (c->efd < 0 || !c->ctx || !c->guard || !c->thread || conn_index < 0)
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
	bound = fd >= 0 ? evhttp_accept_socket_with_handle(c->http, fd) : NULL;
	if (!bound) {
		if (fd >= 0)
			close(fd);
		log_warn("console: cannot listen on %s",
			 addr_str((const struct sockaddr *)&conf->console_listen, a));
		goto fail;
	}
	c->listener = evhttp_bound_socket_get_listener(bound);
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
	c->listener = NULL;
	if (c->http)
		evhttp_free(c->http);
	loopthread_free(c->thread);
	if (c->ev_changed)
		event_free(c->ev_changed);
	if (c->efd >= 0)
		close(c->efd);
	store_close(c->st);
	login_guard_free(c->guard);
	SSL_CTX_free(c->ctx);
	free(c->figures_json);
	pthread_mutex_destroy(&c->mu);
	cy_wipe(&c->sessions, sizeof(c->sessions));
	free(c);
}
