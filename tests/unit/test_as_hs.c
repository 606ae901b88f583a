/* The AS's TLS handshake workers (as_hs.c): a handshake done on a worker
 * hands back an SSL the loop can use; a failed, silent or foreign one is
 * reported with a reason; stopping the workers drops what they hold
 * without calling back. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "as_hs.h"
#include "ca.h"

struct pki {
	EVP_PKEY *ca_key, *srv_key, *node_key, *other_key;
	X509 *ca, *srv, *node, *other_ca, *other_node;
};

static struct pki P;

enum client_mode { GOOD, SILENT, GARBAGE, FOREIGN };

struct client {
	int fd;
	enum client_mode mode;
	SSL_CTX *ctx;
	char got[8];            /* what the server sent after the handshake */
	pthread_t thread;
};

struct done {
	int calls;
	bool ok;
	char err[AS_HS_ERR_MAX];
	void *tag;
	struct event_base *base;
};

static int setup(void **state)
{
	struct sockaddr_storage ip = { .ss_family = AF_INET };

	P.ca_key = ca_key_new();
	P.srv_key = ca_key_new();
	P.node_key = ca_key_new();
	P.other_key = ca_key_new();
	P.ca = ca_issue_root(P.ca_key, "example.test");
	P.srv = ca_issue_server(P.ca, P.ca_key, P.srv_key, "example.test", &ip, 1, 30);
	P.node = ca_issue_node(P.ca, P.ca_key, P.node_key, "n1.example.test", 30);
	P.other_ca = ca_issue_root(P.other_key, "other.test");
	P.other_node = ca_issue_node(P.other_ca, P.other_key, P.node_key, "n1.other.test", 30);
	assert_non_null(P.srv);
	assert_non_null(P.node);
	assert_non_null(P.other_node);
	return 0;
}

static int teardown(void **state)
{
	X509_free(P.ca);
	X509_free(P.srv);
	X509_free(P.node);
	X509_free(P.other_ca);
	X509_free(P.other_node);
	EVP_PKEY_free(P.ca_key);
	EVP_PKEY_free(P.srv_key);
	EVP_PKEY_free(P.node_key);
	EVP_PKEY_free(P.other_key);
	return 0;
}

/* As the AS's: TLS 1.3, client certificates optional but verified. */
static SSL_CTX *server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION), 1);
	assert_int_equal(SSL_CTX_use_certificate(ctx, P.srv), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, P.srv_key), 1);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), P.ca), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_num_tickets(ctx, 0);
	return ctx;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	SSL *ssl;
	char b;

	switch (c->mode) {
	case SILENT:
		/* until the server closes */
		while (read(c->fd, &b, 1) > 0)
			;
		return NULL;
	case GARBAGE:
		if (write(c->fd, "GET / HTTP/1.0\r\n\r\n", 18) < 0)
			return NULL;
		while (read(c->fd, &b, 1) > 0)
			;
		return NULL;
	default:
		break;
	}
	c->ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_use_certificate(c->ctx, c->mode == FOREIGN ? P.other_node : P.node);
	SSL_CTX_use_PrivateKey(c->ctx, P.node_key);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(c->ctx), P.ca);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	ssl = SSL_new(c->ctx);
	SSL_set_fd(ssl, c->fd);
	if (SSL_connect(ssl) == 1)
		SSL_read(ssl, c->got, sizeof(c->got) - 1);
	SSL_free(ssl);
	SSL_CTX_free(c->ctx);
	return NULL;
}

static void on_done(void *tag, bool ok, const char *err, void *arg)
{
	struct done *d = arg;

	d->calls++;
	d->ok = ok;
	d->tag = tag;
	snprintf(d->err, sizeof(d->err), "%s", err);
	event_base_loopbreak(d->base);
}

/* Start a client of that mode on one end of a socket pair; *srv_fd is the
 * other, non-blocking, for the server. */
static void client_start(struct client *c, enum client_mode mode, int *srv_fd)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	memset(c, 0, sizeof(*c));
	c->fd = sv[1];
	c->mode = mode;
	*srv_fd = sv[0];
	assert_int_equal(pthread_create(&c->thread, NULL, client_main, c), 0);
}

/* One handshake through the workers: what the callback said. */
static void handshake(enum client_mode mode, int timeout_ms, struct done *d,
		      struct client *c, SSL **ssl_out, int *fd_out)
{
	struct event_base *base = event_base_new();
	SSL_CTX *ctx = server_ctx();
	struct as_hs *h;
	SSL *ssl;
	int fd;
	struct timeval limit = { 10, 0 };

	memset(d, 0, sizeof(*d));
	d->base = base;
	h = as_hs_new(base, 2, on_done, d);
	assert_non_null(h);
	client_start(c, mode, &fd);
	ssl = SSL_new(ctx);
	assert_int_equal(SSL_set_fd(ssl, fd), 1);
	SSL_set_accept_state(ssl);
	assert_int_equal(as_hs_submit(h, ssl, fd, timeout_ms, &fd), 0);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(d->calls, 1);
	assert_ptr_equal(d->tag, &fd);
	as_hs_free(h);
	event_base_free(base);
	SSL_CTX_free(ctx);
	*ssl_out = ssl;
	*fd_out = fd;
}

static void finish(struct client *c, SSL *ssl, int fd)
{
	SSL_free(ssl);
	close(fd);
	pthread_join(c->thread, NULL);
	close(c->fd);
}

static void test_good_handshake(void **state)
{
	struct client c;
	struct done d;
	SSL *ssl;
	int fd;

	handshake(GOOD, 5000, &d, &c, &ssl, &fd);
	assert_true(d.ok);
	/* The connection is the loop's now: the client certificate was
	 * verified, and the SSL carries data. */
	assert_non_null(SSL_get0_peer_certificate(ssl));
	assert_int_equal(SSL_get_verify_result(ssl), X509_V_OK);
	assert_int_equal(fcntl(fd, F_SETFL, 0), 0);
	assert_int_equal(SSL_write(ssl, "hi", 2), 2);
	pthread_join(c.thread, NULL);
	assert_string_equal(c.got, "hi");
	SSL_free(ssl);
	close(fd);
	close(c.fd);
}

static void test_silent_client_times_out(void **state)
{
	struct client c;
	struct done d;
	SSL *ssl;
	int fd;

	handshake(SILENT, 200, &d, &c, &ssl, &fd);
	assert_false(d.ok);
	assert_string_equal(d.err, "too slow");
	finish(&c, ssl, fd);
}

static void test_garbage_fails(void **state)
{
	struct client c;
	struct done d;
	SSL *ssl;
	int fd;

	handshake(GARBAGE, 5000, &d, &c, &ssl, &fd);
	assert_false(d.ok);
	assert_non_null(strstr(d.err, "SSL routines"));
	finish(&c, ssl, fd);
}

static void test_foreign_certificate_fails(void **state)
{
	struct client c;
	struct done d;
	SSL *ssl;
	int fd;

	handshake(FOREIGN, 5000, &d, &c, &ssl, &fd);
	assert_false(d.ok);
	assert_non_null(strstr(d.err, "certificate"));
	finish(&c, ssl, fd);
}

static void never_called(void *tag, bool ok, const char *err, void *arg)
{
	fail_msg("called back after as_hs_free");
}

/* Stopping the workers with handshakes under way (and a submission not
 * yet picked up) calls nobody back and leaves each SSL and socket to the
 * caller (ASan would see a double free or a leak). */
static void test_free_with_handshakes_held(void **state)
{
	struct event_base *base = event_base_new();
	SSL_CTX *ctx = server_ctx();
	struct as_hs *h = as_hs_new(base, 1, never_called, NULL);
	struct client c[3];
	SSL *ssl[3];
	int fd[3];

	assert_non_null(h);
	for (int i = 0; i < 3; i++) {
		client_start(&c[i], SILENT, &fd[i]);
		ssl[i] = SSL_new(ctx);
		SSL_set_fd(ssl[i], fd[i]);
		SSL_set_accept_state(ssl[i]);
		assert_int_equal(as_hs_submit(h, ssl[i], fd[i], 10000, &c[i]), 0);
	}
	as_hs_free(h);
	event_base_loop(base, EVLOOP_NONBLOCK);
	for (int i = 0; i < 3; i++)
		finish(&c[i], ssl[i], fd[i]);
	event_base_free(base);
	SSL_CTX_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_handshake),
		cmocka_unit_test(test_silent_client_times_out),
		cmocka_unit_test(test_garbage_fails),
		cmocka_unit_test(test_foreign_certificate_fails),
		cmocka_unit_test(test_free_with_handshakes_held),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
