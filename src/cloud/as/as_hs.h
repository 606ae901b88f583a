/* TLS handshakes on threads of their own, so that the AS's key exchange,
 * signature and client-certificate check (about 0.8 ms of CPU each with
 * OpenSSL 3.0 and a certificate) never hold the event loop that also
 * carries the NMS and the TRS's forwarding (STYLE 14).
 *
 * The loop accepts a connection, makes its SSL (bound to the socket) and
 * hands both to as_hs_submit().  One of the workers, each with an event
 * loop of its own, drives the handshake without blocking, so a slow client
 * holds nobody, until it completes, fails or passes its deadline; then
 * the connection comes back through the callback, on the loop.  While the
 * handshake runs the worker only borrows the socket and the SSL: they stay
 * the caller's, who must not touch them until the callback (or
 * as_hs_free()). */
#ifndef CY_AS_HS_H
#define CY_AS_HS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#define AS_HS_ERR_MAX 160

struct event_base;
struct as_hs;

/* On the loop: the handshake of the connection submitted with tag ended,
 * ok or not (err says why: an OpenSSL error, "closed by the peer", "too
 * slow"). */
typedef void (*as_hs_done_cb)(void *tag, bool ok, const char *err, void *arg);

/* NULL on failure (logged). */
struct as_hs *as_hs_new(struct event_base *base, int threads, as_hs_done_cb cb, void *arg);
/* Stops the workers, waiting for them, and drops every handshake still
 * held without calling back: their sockets and SSLs are the caller's to
 * free afterwards. */
void as_hs_free(struct as_hs *h);
/* Start the handshake of ssl (bound to the non-blocking socket fd), to end
 * within timeout_ms of now.  0, or -ENOMEM. */
int as_hs_submit(struct as_hs *h, SSL *ssl, int fd, int timeout_ms, void *tag);

#endif
