/* Shared by the console's files: the server (console.c) and the API
 * handlers (console_api.c). */
#ifndef CY_CONSOLE_IMPL_H
#define CY_CONSOLE_IMPL_H

#include <event2/http.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "admin.h"
#include "as_limit.h"
#include "log.h"
#include "console.h"
#include "console_session.h"
#include "json.h"
#include "store.h"

#define CONSOLE_BODY_MAX (3 * ADMIN_POLICY_MAX + 4096)   /* a policy, form-encoded */
#define CONSOLE_LOGIN_BODY_MAX 4096
#define CONSOLE_STATS_MAX (64 * 1024)
#define CONSOLE_CONNS 32                 /* at once; the listener pauses at this many */
#define CONSOLE_CONN_LIFE_S 60           /* a connection's whole life, however it trickles */

/* What the console counts (docs/console.md; `cyphonic stats` "console"). */
struct console_stats {
	uint64_t requests;
	uint64_t logins;
	uint64_t login_failed;
	uint64_t login_throttled;
	uint64_t no_session;       /* an API request without a live session */
	uint64_t csrf_refused;     /* a change without the session's CSRF token */
	uint64_t bad_requests;
	uint64_t changes;          /* enrolments, revocations, policies saved */
	uint64_t conns_refused;    /* connections past CONSOLE_CONNS waited in the backlog */
	uint64_t conns_expired;    /* connections closed at CONSOLE_CONN_LIFE_S */
};

struct console {
	const struct cloud_conf *conf;
	struct loopthread *thread;
	struct event_base *base;             /* the console's loop */
	struct evhttp *http;
	SSL_CTX *ctx;
	struct store *st;                    /* used on the console's thread only */
	struct login_guard *guard;           /* failed logins (as_limit.h) */
	struct ratelimit rl_log;
	struct console_sessions sessions;
	struct console_stats stats;
	struct evconnlistener *listener;
	int nconns;                          /* TLS connections open */

	/* the cloud loop's side */
	struct event_base *loop;
	int efd;                             /* the console wakes the loop */
	struct event *ev_changed;
	console_changed_fn changed;
	void *changed_arg;

	pthread_mutex_t mu;                  /* guards the figures below */
	char *figures_json;                  /* `cyphonic stats --json` */
	bool has_nms, has_trs;
	struct nms_stats nms;
	struct trs_stats trs;
};

/* A request being answered: its session (NULL: none) and form fields. */
struct console_req {
	struct console *c;
	struct evhttp_request *req;
	struct console_session *s;
	struct evkeyvalq *form;              /* POST body, decoded */
};

/* Reply with a JSON body. */
void console_reply_json(struct console_req *r, int code, const char *text);
/* Reply with the JSON in j (finished here), or 500 when it did not fit;
 * secret: wiped from every buffer once sent (a node's private key). */
void console_reply_j(struct console_req *r, int code, struct json *j, bool secret);
void console_reply_error(struct console_req *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A form field, or NULL. */
const char *console_field(struct console_req *r, const char *name);
/* The HTTP status of an admin_* error (admin.h). */
int console_status_of(int err);
/* Ask the cloud loop to check tunnels again. */
void console_changed(struct console *c);

/* The API's handlers (console_api.c). */
void console_api_overview(struct console_req *r);
void console_api_view(struct console_req *r);
void console_api_nodes(struct console_req *r);
void console_api_stats(struct console_req *r);
void console_api_enrol(struct console_req *r);
void console_api_gn(struct console_req *r);
void console_api_revoke(struct console_req *r);
void console_api_policy(struct console_req *r);
void console_api_policy_set(struct console_req *r);

/* The page (console_assets.c, generated from www/ at build time). */
struct console_asset {
	const char *path;
	const char *type;
	const unsigned char *data;
	size_t len;
};
extern const struct console_asset console_assets[];
extern const size_t console_nassets;

#endif
