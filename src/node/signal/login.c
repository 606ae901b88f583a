#include "login.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "cred.h"
#include "log.h"
#include "node_conf.h"

/* What the running request is. */
enum login_op { LOGIN_OP_LOGIN, LOGIN_OP_INFO };

struct login {
	struct event_base *base;
	const struct node_conf *conf;
	login_cb cb;
	void *arg;
	struct cred *cred;          /* the node's, shared by its logins */
	char gn_name[CY_NAME_MAX + 1];  /* login_new_for(): log in this GN; else "" */

	enum login_op op;
	login_info_cb info_cb;
	void *info_arg;
	struct login_info info;     /* LOGIN_OP_INFO: what the kick delivers */

	bool busy;
	size_t idx;                 /* cloud address being tried */
	struct bufferevent *bev;
	struct event *deadline;     /* per address */
	struct event *kick;         /* deferred start and finish */
	bool finished;              /* kick delivers res */
	struct login_result res;
	X509 *as_cert;              /* the AS that answered res (a reference) */
	char why[160];              /* last failure, for LOGIN_FAILED */
};

/* ---- wire ---- */

/* Every request: NAME, PASSWORD with password login, FOR when logging
 * in a general node, NEWKEY when a certificate login offers one. */
static ssize_t build(uint8_t type, const char *name, const char *pw, const char *gn_name,
		     const uint8_t *newkey, uint8_t *buf, size_t cap)
{
	struct cy_builder b;

	cy_build_start(&b, buf, cap, type);
	cy_put_str(&b, CY_A_NAME, name);
	if (pw)
		cy_put_str(&b, CY_A_PASSWORD, pw);
	if (gn_name)
		cy_put_str(&b, CY_A_FOR, gn_name);
	if (newkey)
		cy_put_bytes(&b, CY_A_NEWKEY, newkey, CA_RAW_KEY_LEN);
	return cy_build_finish(&b);
}

ssize_t login_build_request(const char *name, const char *pw, const uint8_t *newkey,
			    uint8_t *buf, size_t cap)
{
	return build(CY_LOGIN_REQ, name, pw, NULL, newkey, buf, cap);
}

ssize_t login_build_request_for(const char *name, const char *pw, const char *gn_name,
				uint8_t *buf, size_t cap)
{
	return build(CY_LOGIN_REQ, name, pw, gn_name, NULL, buf, cap);
}

ssize_t login_build_info_request(const char *name, const char *pw, uint8_t *buf, size_t cap)
{
	return build(CY_INFO_REQ, name, pw, NULL, NULL, buf, cap);
}

static int bad(struct login_result *r, const char *why)
{
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	return -EBADMSG;
}

int login_parse_response(const uint8_t *buf, size_t len, struct login_result *r)
{
	struct cy_msg m;
	const struct cy_attr *a;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	r->status = LOGIN_FAILED;
	if (cy_msg_parse(&m, buf, len) < 0)
		return bad(r, "malformed Login Response");
	if (m.type != CY_LOGIN_RES)
		return bad(r, "not a Login Response");
	if (!cy_msg_u8(&m, CY_A_RESULT, &r->result))
		return bad(r, "Login Response without RESULT");
	if (r->result != CY_OK) {
		r->status = LOGIN_REFUSED;
		if (cy_msg_find(&m, CY_A_REASON) &&
		    !cy_msg_str(&m, CY_A_REASON, r->reason, CY_REASON_MAX))
			return bad(r, "Login Response with a bad REASON");
		if (!r->reason[0])
			snprintf(r->reason, sizeof(r->reason), "%s",
				 cy_result_str((enum cy_result)r->result));
		return 0;
	}
	if (!cy_msg_str(&m, CY_A_FQDN, r->fqdn, CY_FQDN_MAX))
		return bad(r, "Login Response without FQDN");
	if (!cy_msg_u64(&m, CY_A_KEY_ID, &r->key_id))
		return bad(r, "Login Response without KEY_ID");
	if (!cy_msg_bytes(&m, CY_A_KEY, r->key, CY_KEY_LEN))
		return bad(r, "Login Response without KEY");
	if (!cy_msg_u32(&m, CY_A_LIFETIME, &r->lifetime) || r->lifetime == 0)
		return bad(r, "Login Response without LIFETIME");
	/* NAME and KIND are sent on success; tolerated when absent, refused
	 * when present and wrong. */
	if (cy_msg_find(&m, CY_A_NAME) && !cy_msg_str(&m, CY_A_NAME, r->name, CY_NAME_MAX))
		goto badid;
	if (cy_msg_find(&m, CY_A_KIND) && !cy_msg_u8(&m, CY_A_KIND, &r->kind))
		goto badid;
	while ((a = cy_msg_next(&m, CY_A_NMS, &pos))) {
		socklen_t sl;

		if (r->nnms == LOGIN_MAX_NMS)
			break;
		if (!cy_attr_endpoint(a, &r->nms[r->nnms], &sl) ||
		    addr_port((struct sockaddr *)&r->nms[r->nnms]) == 0)
			goto badid;
		r->nnms++;
	}
	if (r->nnms == 0)
		goto badid;
	pos = 0;
	while ((a = cy_msg_next(&m, CY_A_CA, &pos))) {
		if (r->pki.nca == CA_BUNDLE_MAX || a->len == 0 || a->len > CY_CERT_DER_MAX)
			goto badpki;
		memcpy(r->pki.ca[r->pki.nca], a->val, a->len);
		r->pki.ca_len[r->pki.nca++] = a->len;
	}
	if ((a = cy_msg_find(&m, CY_A_CERT))) {
		if (a->len == 0 || a->len > CY_CERT_DER_MAX)
			goto badpki;
		memcpy(r->pki.cert, a->val, a->len);
		r->pki.cert_len = a->len;
	}
	r->status = LOGIN_OK;
	return 0;
badid:
	cy_wipe(r->key, sizeof(r->key));
	return bad(r, "Login Response with a bad NAME, KIND or NMS");
badpki:
	cy_wipe(r->key, sizeof(r->key));
	return bad(r, "Login Response with a bad CA or CERT");
}

void login_info_free(struct login_info *r)
{
	if (!r)
		return;
	free(r->gn);
	r->gn = NULL;
	r->ngn = 0;
}

static int info_bad(struct login_info *r, const char *why)
{
	login_info_free(r);
	r->status = LOGIN_FAILED;
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	return -EBADMSG;
}

/* One GN entry: every attribute present with its exact length. */
static bool info_gn(const struct cy_attr *a, struct cy_gn *g)
{
	struct cy_msg sub;

	if (cy_attr_parse_nested(a, &sub) < 0)
		return false;
	return cy_msg_str(&sub, CY_A_NAME, g->name, CY_NAME_MAX) &&
	       cy_msg_str(&sub, CY_A_FQDN, g->fqdn, CY_FQDN_MAX) &&
	       cy_msg_bytes(&sub, CY_A_MAC, g->mac, sizeof(g->mac)) &&
	       cy_msg_bytes(&sub, CY_A_VIP4, &g->vip4, sizeof(g->vip4)) &&
	       cy_msg_bytes(&sub, CY_A_VIP6, &g->vip6, sizeof(g->vip6));
}

/* An Information Response may list more general nodes than a struct
 * cy_msg holds attributes, so it is walked here with a cursor, with the
 * rules of cy_msg_parse: exact length, no truncated attribute, RESULT and
 * REASON at most once. */
int login_parse_info(const uint8_t *buf, size_t len, struct login_info *r)
{
	struct cur c = cur_make(buf, len), body, walk;
	struct cy_msg one = { .nattrs = 1 };
	bool has_result = false, has_reason = false;
	uint8_t ver, type;
	uint16_t blen;
	size_t ngn = 0;

	memset(r, 0, sizeof(*r));
	r->status = LOGIN_FAILED;
	if (!cur_get_u8(&c, &ver) || !cur_get_u8(&c, &type) || !cur_get_u16(&c, &blen) ||
	    ver != CY_VERSION || cur_left(&c) != blen || !cur_get_sub(&c, &body, blen))
		return info_bad(r, "malformed Information Response");
	if (type != CY_INFO_RES)
		return info_bad(r, "not an Information Response");
	/* Pass 1: framing, RESULT, REASON, count the entries. */
	walk = body;
	while (!cur_empty(&walk)) {
		struct cy_attr *a = &one.attrs[0];

		if (!cur_get_u16(&walk, &a->type) || !cur_get_u16(&walk, &a->len) ||
		    !cur_get_ptr(&walk, &a->val, a->len))
			return info_bad(r, "malformed Information Response");
		if (a->type == CY_A_RESULT) {
			if (has_result || !cy_msg_u8(&one, CY_A_RESULT, &r->result))
				return info_bad(r, "Information Response with a bad RESULT");
			has_result = true;
		} else if (a->type == CY_A_REASON) {
			if (has_reason || !cy_msg_str(&one, CY_A_REASON, r->reason, CY_REASON_MAX))
				return info_bad(r, "Information Response with a bad REASON");
			has_reason = true;
		} else if (a->type == CY_A_GN && ++ngn > LOGIN_GN_MAX) {
			return info_bad(r, "Information Response with too many general nodes");
		}
	}
	if (!has_result)
		return info_bad(r, "Information Response without RESULT");
	if (r->result != CY_OK) {
		r->status = LOGIN_REFUSED;
		if (!r->reason[0])
			snprintf(r->reason, sizeof(r->reason), "%s",
				 cy_result_str((enum cy_result)r->result));
		return 0;
	}
	r->reason[0] = '\0';
	/* Pass 2: the entries. */
	r->gn = calloc(ngn ? ngn : 1, sizeof(*r->gn));
	if (!r->gn) {
		snprintf(r->reason, sizeof(r->reason), "out of memory");
		return -ENOMEM;
	}
	walk = body;
	while (!cur_empty(&walk)) {
		struct cy_attr a;

		/* Checked in pass 1. */
		(void)(cur_get_u16(&walk, &a.type) && cur_get_u16(&walk, &a.len) &&
		       cur_get_ptr(&walk, &a.val, a.len));
		if (a.type != CY_A_GN)
			continue;
		if (!info_gn(&a, &r->gn[r->ngn]))
			return info_bad(r, "Information Response with a bad general node entry");
		r->ngn++;
	}
	r->status = LOGIN_OK;
	return 0;
}

/* ---- TLS context ---- */


/* ---- one attempt per cloud address ---- */

static void attempt(struct login *l);

static void close_conn(struct login *l)
{
	if (l->bev) {
		bufferevent_free(l->bev); /* frees the SSL and closes the socket */
		l->bev = NULL;
	}
	evtimer_del(l->deadline);
}

static void finish(struct login *l)
{
	close_conn(l);
	l->finished = true;
	event_active(l->kick, EV_TIMEOUT, 0);
}

static void fail_attempt(struct login *l, const char *why)
{
	char as[ADDR_STR_MAX];

	addr_str((struct sockaddr *)&l->conf->cloud[l->idx], as);
	snprintf(l->why, sizeof(l->why), "AS %s: %s", as, why);
	if (l->conf->ncloud > 1) /* the last one is the caller's to log */
		log_warnx("%s%s%s: %s", l->op == LOGIN_OP_INFO ? "information request" : "login",
			  l->gn_name[0] && l->op == LOGIN_OP_LOGIN ? " for " : "",
			  l->op == LOGIN_OP_LOGIN ? l->gn_name : "", l->why);
	else
		log_debug("login: %s", l->why);
	close_conn(l);
	l->idx++;
	attempt(l);
}

/* The answer to the running request: 0, or -1 with why set. */
static int parse_answer(struct login *l, const uint8_t *p, size_t len, const char **why)
{
	if (l->op == LOGIN_OP_INFO) {
		login_info_free(&l->info);
		if (login_parse_info(p, len, &l->info) < 0) {
			*why = l->info.reason;
			return -1;
		}
		return 0;
	}
	if (login_parse_response(p, len, &l->res) < 0) {
		*why = l->res.reason;
		return -1;
	}
	/* On a general node's behalf: the answer must be about that one. */
	if (l->gn_name[0] && l->res.status == LOGIN_OK &&
	    (strcmp(l->res.name, l->gn_name) || l->res.kind != CY_KIND_GN)) {
		cy_wipe(&l->res, sizeof(l->res));
		*why = "Login Response for another node";
		return -1;
	}
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct login *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t max = l->op == LOGIN_OP_INFO ? LOGIN_INFO_RES_MAX : LOGIN_RES_MAX;
	uint8_t hdr[CY_HDR_LEN];
	const char *why;
	ssize_t flen;
	uint8_t *p;

	if (evbuffer_get_length(in) < CY_HDR_LEN)
		return;
	evbuffer_copyout(in, hdr, sizeof(hdr));
	flen = cy_frame_len(hdr);
	if (flen < 0 || (size_t)flen > max) {
		fail_attempt(l, "bad frame from the AS");
		return;
	}
	if (evbuffer_get_length(in) < (size_t)flen)
		return;
	p = evbuffer_pullup(in, flen);
	if (!p) {
		fail_attempt(l, "out of memory");
		return;
	}
	if (parse_answer(l, p, (size_t)flen, &why) < 0) {
		char buf[CY_REASON_MAX + 1];

		snprintf(buf, sizeof(buf), "%s", why); /* fail_attempt may reuse it */
		fail_attempt(l, buf);
		return;
	}
	evbuffer_drain(in, (size_t)flen);
	X509_free(l->as_cert);
	l->as_cert = SSL_get1_peer_certificate(bufferevent_openssl_get_ssl(bev));
	finish(l);
}

static void conn_error(struct login *l, struct bufferevent *bev, short what)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long e = bufferevent_get_openssl_error(bev);
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	int serr = EVUTIL_SOCKET_ERROR();
	char buf[128];

	if (vr != X509_V_OK) {
		snprintf(buf, sizeof(buf), "certificate verification failed: %s",
			 X509_verify_cert_error_string(vr));
	} else if (e && ERR_GET_LIB(e) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
	} else if (serr) {
		snprintf(buf, sizeof(buf), "%s", evutil_socket_error_to_string(serr));
	} else if (what & BEV_EVENT_EOF) {
		snprintf(buf, sizeof(buf), "connection closed by the AS");
	} else {
		snprintf(buf, sizeof(buf), "TLS error");
	}
	while (bufferevent_get_openssl_error(bev))
		;
	ERR_clear_error();
	fail_attempt(l, buf);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct login *l = arg;
	uint8_t req[CY_HDR_LEN + 4 * CY_ATTR_HDR_LEN + 2 * CY_NAME_MAX + CY_PASSWORD_MAX +
		    CA_RAW_KEY_LEN];
	const char *pw = cred_password(l->cred) ? l->conf->password : NULL;
	uint8_t newkey[CA_RAW_KEY_LEN];
	bool offer;
	ssize_t n;

	if (what & BEV_EVENT_CONNECTED) {
		/* A certificate login of the node itself offers a key for
		 * renewal; the AS decides whether it is due. */
		offer = l->op == LOGIN_OP_LOGIN && !l->gn_name[0] && cred_newkey(l->cred, newkey);
		if (l->op == LOGIN_OP_INFO)
			n = login_build_info_request(l->conf->name, pw, req, sizeof(req));
		else
			n = build(CY_LOGIN_REQ, l->conf->name, pw,
				  l->gn_name[0] ? l->gn_name : NULL, offer ? newkey : NULL, req,
				  sizeof(req));
		if (n < 0 || bufferevent_write(bev, req, (size_t)n) < 0)
			fail_attempt(l, "cannot send the request");
		cy_wipe(req, sizeof(req));
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT))
		conn_error(l, bev, what);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	fail_attempt(arg, "timed out");
}

static void attempt(struct login *l)
{
	const struct sockaddr *sa;
	const unsigned char *ip;
	SSL *ssl;
	struct timeval tv = { LOGIN_TIMEOUT_S, 0 };
	int rc, one = 1;

	if (l->idx >= l->conf->ncloud) {
		const char *why = l->why[0] ? l->why : "no cloud address";

		if (l->op == LOGIN_OP_INFO) {
			login_info_free(&l->info);
			memset(&l->info, 0, sizeof(l->info));
			l->info.status = LOGIN_FAILED;
			snprintf(l->info.reason, sizeof(l->info.reason), "%s", why);
		} else {
			memset(&l->res, 0, sizeof(l->res));
			l->res.status = LOGIN_FAILED;
			snprintf(l->res.reason, sizeof(l->res.reason), "%s", why);
		}
		finish(l);
		return;
	}
	sa = (const struct sockaddr *)&l->conf->cloud[l->idx];
	ssl = SSL_new(cred_ctx(l->cred));
	if (!ssl) {
		fail_attempt(l, "SSL_new failed");
		return;
	}
	/* The AS certificate must name the address we dial as an IP SAN. */
	if (sa->sa_family == AF_INET)
		ip = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	else
		ip = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	rc = X509_VERIFY_PARAM_set1_ip(SSL_get0_param(ssl), ip,
				       sa->sa_family == AF_INET ? 4 : 16);
	if (rc != 1) {
		SSL_free(ssl);
		fail_attempt(l, "cannot set the expected IP SAN");
		return;
	}
	l->bev = bufferevent_openssl_socket_new(l->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!l->bev) {
		SSL_free(ssl);
		fail_attempt(l, "cannot create the TLS connection");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
	bufferevent_setcb(l->bev, on_read, NULL, on_event, l);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	evtimer_add(l->deadline, &tv);
	if (bufferevent_socket_connect(l->bev, sa, (int)addr_len(sa)) < 0) {
		fail_attempt(l, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return;
	}
	/* The request follows the handshake's last flight at once: without
	 * this, Nagle holds it until the AS acknowledges that flight, which a
	 * delayed ACK puts off by up to 40 ms. */
	setsockopt(bufferevent_getfd(l->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct login *l = arg;

	if (!l->finished) {
		attempt(l);
		return;
	}
	l->finished = false;
	l->busy = false;
	if (l->op == LOGIN_OP_INFO) {
		l->info_cb(l->info_arg, &l->info);
		login_info_free(&l->info);
		return;
	}
	/* New CAs or a renewed certificate serve the logins to come. */
	if (l->res.status == LOGIN_OK)
		cred_apply(l->cred, &l->res.pki, l->as_cert);
	X509_free(l->as_cert);
	l->as_cert = NULL;
	if (l->cb)
		l->cb(l->arg, &l->res);
	cy_wipe(&l->res, sizeof(l->res));
}

/* ---- lifecycle ---- */

struct login *login_new(struct event_base *base, const struct node_conf *conf,
			struct cred *cred, login_cb cb, void *arg)
{
	struct login *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->base = base;
	l->conf = conf;
	l->cred = cred;
	l->cb = cb;
	l->arg = arg;
	l->deadline = evtimer_new(base, on_deadline, l);
	l->kick = event_new(base, -1, 0, on_kick, l);
	if (!l->deadline || !l->kick) {
		login_free(l);
		return NULL;
	}
	return l;
}

struct login *login_new_for(struct event_base *base, const struct node_conf *conf,
			    struct cred *cred, const char *gn_name, login_cb cb, void *arg)
{
	struct login *l;

	if (!gn_name || !cy_label_ok(gn_name)) {
		log_warnx("login: '%s' is not a general node name", gn_name ? gn_name : "");
		return NULL;
	}
	l = login_new(base, conf, cred, cb, arg);
	if (l)
		snprintf(l->gn_name, sizeof(l->gn_name), "%s", gn_name);
	return l;
}

void login_free(struct login *l)
{
	if (!l)
		return;
	login_info_free(&l->info);
	if (l->bev)
		bufferevent_free(l->bev);
	if (l->deadline)
		event_free(l->deadline);
	if (l->kick)
		event_free(l->kick);
	X509_free(l->as_cert);
	cy_wipe(&l->res, sizeof(l->res));
	free(l);
}

static void start(struct login *l, enum login_op op)
{
	l->op = op;
	l->busy = true;
	l->finished = false;
	l->idx = 0;
	l->why[0] = '\0';
	event_active(l->kick, EV_TIMEOUT, 0);
}

void login_start(struct login *l)
{
	if (l->busy || !l->cb)
		return;
	start(l, LOGIN_OP_LOGIN);
}

int login_info_start(struct login *l, login_info_cb cb, void *arg)
{
	if (!cb)
		return -EINVAL;
	if (l->busy)
		return -EBUSY;
	l->info_cb = cb;
	l->info_arg = arg;
	start(l, LOGIN_OP_INFO);
	return 0;
}

bool login_busy(const struct login *l)
{
	return l->busy;
}
