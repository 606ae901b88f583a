#include "login.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "log.h"
#include "node_conf.h"

struct login {
	struct event_base *base;
	const struct node_conf *conf;
	login_cb cb;
	void *arg;
	SSL_CTX *ctx;
	bool use_password;

	bool busy;
	size_t idx;                 /* cloud address being tried */
	struct bufferevent *bev;
	struct event *deadline;     /* per address */
	struct event *kick;         /* deferred start and finish */
	bool finished;              /* kick delivers res */
	struct login_result res;
	char why[160];              /* last failure, for LOGIN_FAILED */
};

/* ---- wire ---- */

ssize_t login_build_request(const char *name, const char *pw, uint8_t *buf, size_t cap)
{
	struct cy_builder b;

	cy_build_start(&b, buf, cap, CY_LOGIN_REQ);
	cy_put_str(&b, CY_A_NAME, name);
	if (pw)
		cy_put_str(&b, CY_A_PASSWORD, pw);
	return cy_build_finish(&b);
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
	r->status = LOGIN_OK;
	return 0;
badid:
	cy_wipe(r->key, sizeof(r->key));
	return bad(r, "Login Response with a bad NAME, KIND or NMS");
}

/* ---- TLS context ---- */

static void ssl_errors(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	log_warnx("%s: %s", what, e ? buf : "no PEM data");
	ERR_clear_error();
}

static int ctx_load_ca(SSL_CTX *ctx, const char *pem)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;
	int n = 0;

	if (!bio)
		return -ENOMEM;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (X509_STORE_add_cert(st, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error(); /* the end of the PEM data reads as an error */
	BIO_free(bio);
	return n > 0 ? 0 : -EINVAL;
}

static int ctx_load_cert(SSL_CTX *ctx, const char *cert_pem, const char *key_pem)
{
	BIO *bio = BIO_new_mem_buf(cert_pem, -1);
	EVP_PKEY *pkey = NULL;
	X509 *x;
	int err = -EINVAL;

	if (!bio)
		return -ENOMEM;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!x || SSL_CTX_use_certificate(ctx, x) != 1)
		goto out;
	X509_free(x);
	/* Any further certificates are intermediates. */
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
			goto out;
	ERR_clear_error();
	BIO_free(bio);
	bio = BIO_new_mem_buf(key_pem, -1);
	if (!bio)
		return -ENOMEM;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!pkey || SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto out_nox;
	err = 0;
	goto out_nox;
out:
	X509_free(x);
out_nox:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return err;
}

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
	if (l->conf->ncloud > 1)
		log_warnx("login: %s", l->why); /* the last one is the caller's to log */
	else
		log_debug("login: %s", l->why);
	close_conn(l);
	l->idx++;
	attempt(l);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct login *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[CY_HDR_LEN];
	ssize_t flen;
	uint8_t *p;

	if (evbuffer_get_length(in) < CY_HDR_LEN)
		return;
	evbuffer_copyout(in, hdr, sizeof(hdr));
	flen = cy_frame_len(hdr);
	if (flen < 0 || flen > LOGIN_RES_MAX) {
		fail_attempt(l, "bad frame from the AS");
		return;
	}
	if (evbuffer_get_length(in) < (size_t)flen)
		return;
	p = evbuffer_pullup(in, flen);
	if (!p || login_parse_response(p, (size_t)flen, &l->res) < 0) {
		fail_attempt(l, p ? l->res.reason : "out of memory");
		return;
	}
	evbuffer_drain(in, (size_t)flen);
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
	uint8_t req[CY_HDR_LEN + 4 + CY_NAME_MAX + 4 + CY_PASSWORD_MAX];
	ssize_t n;

	if (what & BEV_EVENT_CONNECTED) {
		n = login_build_request(l->conf->name, l->use_password ? l->conf->password : NULL,
					req, sizeof(req));
		if (n < 0 || bufferevent_write(bev, req, (size_t)n) < 0)
			fail_attempt(l, "cannot send the Login Request");
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
	int rc;

	if (l->idx >= l->conf->ncloud) {
		memset(&l->res, 0, sizeof(l->res));
		l->res.status = LOGIN_FAILED;
		snprintf(l->res.reason, sizeof(l->res.reason), "%s",
			 l->why[0] ? l->why : "no cloud address");
		finish(l);
		return;
	}
	sa = (const struct sockaddr *)&l->conf->cloud[l->idx];
	ssl = SSL_new(l->ctx);
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
	if (bufferevent_socket_connect(l->bev, sa, (int)addr_len(sa)) < 0)
		fail_attempt(l, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
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
	l->cb(l->arg, &l->res);
	cy_wipe(&l->res, sizeof(l->res));
}

/* ---- lifecycle ---- */

struct login *login_new(struct event_base *base, const struct node_conf *conf, login_cb cb,
			void *arg)
{
	struct login *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->base = base;
	l->conf = conf;
	l->cb = cb;
	l->arg = arg;
	l->ctx = SSL_CTX_new(TLS_client_method());
	l->deadline = evtimer_new(base, on_deadline, l);
	l->kick = event_new(base, -1, 0, on_kick, l);
	if (!l->ctx || !l->deadline || !l->kick)
		goto fail;
	SSL_CTX_set_min_proto_version(l->ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(l->ctx, SSL_VERIFY_PEER, NULL);
	if (!conf->ca_pem || ctx_load_ca(l->ctx, conf->ca_pem) < 0) {
		ssl_errors("cannot load the cloud CA certificate");
		goto fail;
	}
	if (conf->cert_pem && conf->key_pem) {
		if (ctx_load_cert(l->ctx, conf->cert_pem, conf->key_pem) < 0) {
			ssl_errors("cannot load the node certificate and key");
			goto fail;
		}
	} else if (conf->password) {
		l->use_password = true;
	} else {
		log_warnx("no credentials: neither cert+key nor password");
		goto fail;
	}
	return l;
fail:
	login_free(l);
	return NULL;
}

void login_free(struct login *l)
{
	if (!l)
		return;
	if (l->bev)
		bufferevent_free(l->bev);
	if (l->deadline)
		event_free(l->deadline);
	if (l->kick)
		event_free(l->kick);
	SSL_CTX_free(l->ctx);
	cy_wipe(&l->res, sizeof(l->res));
	free(l);
}

void login_start(struct login *l)
{
	if (l->busy)
		return;
	l->busy = true;
	l->finished = false;
	l->idx = 0;
	l->why[0] = '\0';
	event_active(l->kick, EV_TIMEOUT, 0);
}

bool login_busy(const struct login *l)
{
	return l->busy;
}
