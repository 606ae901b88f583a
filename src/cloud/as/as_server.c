#include "as_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "aead.h"
#include "as.h"
#include "as_limit.h"
#include "as_hs.h"
#include "as_pool.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "store.h"
#include "wire.h"

/* One request in flight per connection: the next frame is read only when
 * the previous response has left (output drained) and no password check
 * runs for it, so a client that sends without reading costs one frame of
 * input and one response of output, not a queue. */
#define AS_KEY_FILE_MAX (64 * 1024)

struct as_conn {
	struct as_server *srv;
	/* Until the handshake has ended (on a worker, as_hs.h) only the
	 * socket and the SSL; then the bufferevent that owns both. */
	int fd;
	SSL *ssl;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
	char src[AS_LIMIT_KEY_MAX];          /* per-source limits: address or /64 */
	bool has_cert;
	bool checking;                       /* a password check runs for it */
	bool closing;                        /* close once the response is written */
	bool draining;                       /* response sent, FIN sent: reading to EOF */
	bool evicted;                        /* cut in its handshake to make room */
	int64_t accepted_ms;
	size_t drained;                      /* bytes read and dropped meanwhile */
	struct event *deadline;              /* absolute: handshake, lifetime, drain */
	char serial[STORE_SERIAL_MAX + 1];
	struct as_conn *prev, *next;
};

struct as_server {
	struct event_base *base;
	struct as *as;
	struct as_server_conf conf;          /* its paths: the caller's, as long as we live */
	SSL_CTX *ctx;                        /* new connections; a connection keeps its own */
	struct evconnlistener *lis;
	struct as_pool *pool;
	struct as_hs *hs;
	struct as_conn *conns;
	int nconns, max_conns;
	struct ratelimit rl_tls, rl_full;
};

static void as_conn_free(struct as_conn *c)
{
	struct as_server *s = c->srv;

	if (c->checking)
		as_pool_cancel(s->pool, c);
	if (c->deadline)
		event_free(c->deadline);

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	if (c->bev) {
		bufferevent_free(c->bev);
	} else {
		SSL_free(c->ssl);
		close(c->fd);
	}
	free(c);
}

/* The response holds the common key: hand libevent a copy that is wiped
 * when it has been written, rather than letting it linger in freed chains. */
static void as_wipe_free(const void *data, size_t len, void *arg)
{
	cy_wipe((void *)data, len);
	free((void *)data);
}

static int as_conn_send(struct as_conn *c, const uint8_t *p, size_t len)
{
	uint8_t *copy = malloc(len);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, p, len);
	if (evbuffer_add_reference(bufferevent_get_output(c->bev), copy, len, as_wipe_free,
				   NULL) < 0) {
		as_wipe_free(copy, len, NULL);
		return -ENOMEM;
	}
	return 0;
}

/* Password checks running for connections from c's source. */
static int as_src_checking(const struct as_conn *c)
{
	int n = 0;

	for (const struct as_conn *o = c->srv->conns; o; o = o->next)
		n += o->checking && !strcmp(o->src, c->src);
	return n;
}

/* Queue a response of n bytes (or close on n < 0); a refusal closes the
 * connection once it has been written. */
static void as_conn_reply(struct as_conn *c, uint8_t *resp, ssize_t n)
{
	if (n < 0 || as_conn_send(c, resp, (size_t)n) < 0) {
		cy_wipe(resp, AS_RES_MAX);
		as_conn_free(c);
		return;
	}
	if (!as_response_ok(resp, (size_t)n))
		c->closing = true;
	cy_wipe(resp, (size_t)n);
	bufferevent_disable(c->bev, EV_READ);
}

/* Handle the next complete frame, if the connection may have one now. */
static void as_conn_next(struct as_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint8_t req[CY_HDR_LEN + AS_MSG_MAX], *resp;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	struct as_peer peer = {
		.cert_serial = c->has_cert ? c->serial : NULL,
		.cert = c->has_cert && ssl ? SSL_get0_peer_certificate(ssl) : NULL,
		.addr = (struct sockaddr *)&c->peer,
	};
	struct as_check *chk;
	char pbuf[ADDR_STR_MAX];
	ssize_t flen, n;

	if (c->checking || c->closing ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(in) < CY_HDR_LEN)
		return;
	if (evbuffer_copyout(in, req, CY_HDR_LEN) != CY_HDR_LEN)
		goto close;
	flen = as_frame_len(c->srv->as, req);
	if (flen < 0) {
		LOG_RATELIMITED(&c->srv->rl_tls, "as: %s: %s frame, closing",
				addr_str((struct sockaddr *)&c->peer, pbuf),
				flen == -EMSGSIZE ? "oversized" : "bad");
		goto close;
	}
	if (evbuffer_get_length(in) < (size_t)flen)
		return;
	if (evbuffer_remove(in, req, (size_t)flen) != flen)
		goto close;
	/* An Information Response lists every general node of an adapter:
	 * up to a whole frame (CY_MSG_MAX). */
	resp = malloc(AS_RES_MAX);
	if (!resp)
		goto close;
	n = as_start(c->srv->as, &peer, req, (size_t)flen, resp, AS_RES_MAX, &chk);
	cy_wipe(req, (size_t)flen); /* may hold a password */
	if (n == AS_PENDING) {
		if (as_src_checking(c) >= AS_SRC_CHECKS ||
		    as_pool_submit(c->srv->pool, chk, c) < 0) {
			n = as_check_refuse(c->srv->as, chk, resp, AS_RES_MAX);
		} else {
			c->checking = true;
			bufferevent_disable(c->bev, EV_READ);
			free(resp);
			return;
		}
	}
	as_conn_reply(c, resp, n);
	free(resp);
	return;
close:
	as_conn_free(c);
}

static void as_conn_read(struct bufferevent *bev, void *arg)
{
	struct as_conn *c = arg;

	if (c->draining) {
		struct evbuffer *in = bufferevent_get_input(bev);

		c->drained += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (c->drained > AS_DRAIN_MAX)
			as_conn_free(c);   /* still sending after a refusal: enough */
		return;
	}
	as_conn_next(c);
}

/* (Re)arm the connection's absolute deadline. */
static void as_conn_deadline(struct as_conn *c, int seconds)
{
	struct timeval tv = { seconds, 0 };

	event_add(c->deadline, &tv);
}

static void as_conn_expired(evutil_socket_t fd, short what, void *arg)
{
	struct as_conn *c = arg;
	char pbuf[ADDR_STR_MAX];

	if (!c->draining)
		LOG_RATELIMITED(&c->srv->rl_tls, "as: %s: connection lifetime over, closing",
				addr_str((struct sockaddr *)&c->peer, pbuf));
	as_conn_free(c);
}

/* A password check came back from a worker. */
static void as_check_done(struct as_check *chk, void *tag, void *arg)
{
	struct as_conn *c = tag;
	uint8_t *resp = malloc(AS_RES_MAX);

	c->checking = false;
	if (!resp) {
		as_check_free(chk);
		as_conn_free(c);
		return;
	}
	as_conn_reply(c, resp, as_check_finish(c->srv->as, chk, resp, AS_RES_MAX));
	free(resp);
}

static void as_conn_peer_cert(struct as_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	X509 *x = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	BIGNUM *bn;
	char *hex;

	if (!x || SSL_get_verify_result(ssl) != X509_V_OK)
		return;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex && strlen(hex) <= STORE_SERIAL_MAX) {
		strcpy(c->serial, hex);
		c->has_cert = true;
	}
	OPENSSL_free(hex);
	BN_free(bn);
}

static void as_conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct as_conn *c = arg;

	/* Drain OpenSSL's error queue so errors do not pile up on the thread. */
	while (bufferevent_get_openssl_error(bev))
		;
	ERR_clear_error();
	as_conn_free(c);
}

static void as_conn_read(struct bufferevent *bev, void *arg);
static void as_conn_written(struct bufferevent *bev, void *arg);

/* The handshake is done: the connection carries requests from now on.
 * 0, or -1 (c is the caller's to free). */
static int as_conn_open(struct as_conn *c)
{
	struct timeval idle = { AS_IDLE_TIMEOUT, 0 };
	char pbuf[ADDR_STR_MAX];

	c->bev = bufferevent_openssl_socket_new(c->srv->base, c->fd, c->ssl,
						BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		/* With BEV_OPT_CLOSE_ON_FREE libevent frees the SSL on
		 * failure; the socket is still c's. */
		c->ssl = NULL;
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, as_conn_read, as_conn_written, as_conn_event, c);
	/* Input is read up to one whole request frame, no further. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, CY_HDR_LEN + AS_MSG_MAX);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	as_conn_deadline(c, AS_CONN_LIFETIME);
	as_conn_peer_cert(c);
	log_debug("as: %s: TLS up, %s", addr_str((struct sockaddr *)&c->peer, pbuf),
		  c->has_cert ? "client certificate" : "no client certificate");
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
}

/* A handshake came back from a worker. */
static void as_hs_done(void *tag, bool ok, const char *err, void *arg)
{
	struct as_conn *c = tag;
	char pbuf[ADDR_STR_MAX];

	if (ok && as_conn_open(c) == 0)
		return;
	if (!ok && !c->evicted) {
		as_tls_failed(c->srv->as);
		LOG_RATELIMITED(&c->srv->rl_tls, "as: %s: TLS handshake failed: %s",
				addr_str((struct sockaddr *)&c->peer, pbuf), err);
	}
	as_conn_free(c);
}

/* The output has drained: close after a refusal, else read the next request. */
static void as_conn_written(struct bufferevent *bev, void *arg)
{
	struct as_conn *c = arg;

	if (c->closing && !c->draining) {
		/* The refusal is out.  Closing now with unread input would
		 * reset the connection, and the client could lose the answer:
		 * send FIN, read what still comes until the client closes, for
		 * a second and AS_DRAIN_MAX bytes at most. */
		c->draining = true;
		bufferevent_disable(bev, EV_WRITE);
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		/* what was read already: at most a frame (the watermark) */
		evbuffer_drain(bufferevent_get_input(bev),
			       evbuffer_get_length(bufferevent_get_input(bev)));
		bufferevent_enable(bev, EV_READ);
		as_conn_deadline(c, AS_DRAIN_TIMEOUT);
		return;
	}
	if (!c->closing)
		as_conn_next(c);
}

/* The table is full: cut the oldest connection still in its handshake
 * (one that opened and sends nothing holds a slot up to
 * AS_HANDSHAKE_TIMEOUT) if it has had AS_EVICT_AGE_MS.  Its worker sees
 * the socket shut and hands it back as failed (as_hs_done), which frees
 * it.  True when one was cut. */
static bool as_evict(struct as_server *s)
{
	int64_t now = clock_now_ms();
	struct as_conn *c, *old = NULL;

	/* newest first: the last match is the oldest */
	for (c = s->conns; c; c = c->next)
		if (!c->bev && !c->evicted && now - c->accepted_ms >= AS_EVICT_AGE_MS)
			old = c;
	if (!old)
		return false;
	old->evicted = true;
	shutdown(old->fd, SHUT_RDWR);
	as_conn_evicted(s->as);
	return true;
}

static void as_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct as_server *s = arg;
	struct sockaddr_storage peer = { 0 };
	char src[AS_LIMIT_KEY_MAX], pbuf[ADDR_STR_MAX];
	socklen_t len = (socklen_t)salen;
	struct as_conn *c;
	SSL *ssl;
	int from_src = 0, one = 1;

	if ((size_t)salen <= sizeof(peer))
		memcpy(&peer, sa, (size_t)salen);
	addr_unmap(&peer, &len);
	as_limit_key_addr((struct sockaddr *)&peer, src);
	for (c = s->conns; c; c = c->next)
		from_src += !c->evicted && !strcmp(c->src, src);
	if (from_src >= AS_SRC_CONNS) {
		LOG_RATELIMITED(&s->rl_full, "as: %s: %d connections from there, refusing more",
				addr_str((struct sockaddr *)&peer, pbuf), from_src);
		as_conn_refused(s->as);
		close(fd);
		return;
	}
	/* Only for a connection that will be taken: a source at its cap
	 * cuts nobody's handshake. */
	if (s->nconns >= s->max_conns &&
	    (s->nconns >= s->max_conns + AS_EVICT_SLACK || !as_evict(s))) {
		LOG_RATELIMITED(&s->rl_full, "as: %d connections, refusing more", s->nconns);
		as_conn_refused(s->as);
		close(fd);
		return;
	}
	/* Each answer is one frame written at once: never held for an ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	ssl = SSL_new(s->ctx);
	if (!c || !ssl || SSL_set_fd(ssl, fd) != 1)
		goto fail;
	SSL_set_accept_state(ssl);
	c->peer = peer;
	c->accepted_ms = clock_now_ms();
	memcpy(c->src, src, sizeof(c->src));
	c->srv = s;
	c->fd = fd;
	c->ssl = ssl;
	/* The connection's whole life after the handshake (which has a
	 * deadline of its own, on the worker). */
	c->deadline = evtimer_new(s->base, as_conn_expired, c);
	if (!c->deadline ||
	    as_hs_submit(s->hs, ssl, fd, AS_HANDSHAKE_TIMEOUT * 1000, c) < 0) {
		if (c->deadline)
			event_free(c->deadline);
		goto fail;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	return;
fail:
	SSL_free(ssl);
	free(c);
	close(fd);
}

static void as_accept_error(struct evconnlistener *lis, void *arg)
{
	struct as_server *s = arg;

	LOG_RATELIMITED(&s->rl_full, "as: accept: %s", strerror(errno));
}

/* The AS's private key: refused when group or others may read the file,
 * and read without stdio (whose buffer would be freed still holding it). */
static int as_server_key(SSL_CTX *ctx, const struct as_server_conf *conf)
{
	char err[512];
	EVP_PKEY *key = NULL;
	size_t len;
	char *pem;
	BIO *b;
	int rc = -1;

	pem = conf_secret_read(conf->key, AS_KEY_FILE_MAX, &len, err, sizeof(err));
	if (!pem) {
		log_err("as: %s", err);
		return -1;
	}
	b = BIO_new_mem_buf(pem, (int)len);
	key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	conf_secret_free(pem, len);
	if (!key || SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		log_err("as: cannot load private key %s (or it does not match %s)", conf->key,
			conf->cert);
	else
		rc = 0;
	EVP_PKEY_free(key);
	return rc;
}

static SSL_CTX *as_server_ctx(const struct as_server_conf *conf)
{
	STACK_OF(X509_NAME) *cas;
	static const unsigned char sid[] = "cyphonic-as";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) {
		log_err("as: cannot require TLS 1.3");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->cert) != 1) {
		log_err("as: cannot load certificate %s", conf->cert);
		goto fail;
	}
	if (as_server_key(ctx, conf) < 0)
		goto fail;
	if (SSL_CTX_load_verify_locations(ctx, conf->ca_cert, NULL) != 1) {
		log_err("as: cannot load CA certificate %s", conf->ca_cert);
		goto fail;
	}
	cas = SSL_load_client_CA_file(conf->ca_cert);
	if (cas)
		SSL_CTX_set_client_CA_list(ctx, cas);
	/* Verify a client certificate when one is sent, but do not require
	 * one: password login comes without. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* One handshake worker per CPU: handshakes are the AS's main cost. */
static int as_hs_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > AS_HS_THREADS_MAX ? AS_HS_THREADS_MAX : (int)n;
}

struct as_server *as_server_new(struct event_base *base, struct as *as,
				const struct as_server_conf *conf)
{
	struct as_server *s;
	char buf[ADDR_STR_MAX];
	int fd;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base = base;
	s->as = as;
	s->max_conns = conf->max_conns > 0 ? conf->max_conns : AS_MAX_CONNS;
	s->conf = *conf;
	s->ctx = as_server_ctx(conf);
	if (!s->ctx)
		goto fail;
	s->pool = as_pool_new(base, AS_CHECK_THREADS, AS_CHECK_QUEUE, as_check_done, s);
	s->hs = as_hs_new(base, as_hs_threads(), as_hs_done, s);
	if (!s->pool || !s->hs)
		goto fail;
	fd = addr_tcp_listen(&conf->listen, 128);
	if (fd < 0) {
		log_warn("as: listen on %s", addr_str((const struct sockaddr *)&conf->listen, buf));
		goto fail;
	}
	s->lis = evconnlistener_new(base, as_accept, s, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!s->lis) {
		close(fd);
		goto fail;
	}
	evconnlistener_set_error_cb(s->lis, as_accept_error);
	log_info("as: listening on %s (TLS 1.3)",
		 addr_str((const struct sockaddr *)&conf->listen, buf));
	return s;
fail:
	as_server_free(s);
	return NULL;
}

int as_server_reload(struct as_server *s)
{
	SSL_CTX *ctx = as_server_ctx(&s->conf);

	if (!ctx)
		return -1;
	/* Every SSL holds a reference to the context it was made from. */
	SSL_CTX_free(s->ctx);
	s->ctx = ctx;
	log_info("as: certificate %s and CAs %s loaded", s->conf.cert, s->conf.ca_cert);
	return 0;
}

void as_server_free(struct as_server *s)
{
	if (!s)
		return;
	/* First the workers, which may hold connections' SSLs. */
	as_hs_free(s->hs);
	s->hs = NULL;
	while (s->conns)
		as_conn_free(s->conns);
	as_pool_free(s->pool);
	if (s->lis)
		evconnlistener_free(s->lis);
	SSL_CTX_free(s->ctx);
	free(s);
}
