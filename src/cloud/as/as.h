/* The Authentication Service (docs/protocol.md, "AS").
 *
 * as_handle() is the whole protocol as a plain function over one
 * request frame: no sockets, no TLS.  The TLS glue (as_server.c) hands
 * it every complete frame together with what the handshake proved: the
 * verified client certificate's serial, or none for password login.
 *
 * On a successful login the AS creates a fresh node-NMS common key,
 * stores it with its expiry (now + key_lifetime) and returns it with the
 * node's identity and the NMS endpoints, the CAs the cloud trusts and,
 * when a certificate login offers a NEWKEY and its certificate is due
 * (as_pki.h), a renewed certificate.  An adapter may log in one of
 * its general nodes (FOR = the GN's name) and gets the GN's key and
 * identity; it fetches the list of its general nodes with an Information
 * Request. */
#ifndef CY_AS_H
#define CY_AS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "counters.h"
#include "wire.h"

#define AS_MSG_MAX 4096      /* attribute bytes of one request frame (header length field) */
#define AS_RES_MAX CY_MSG_MAX /* a response buffer that any response fits */
#define AS_MAX_NMS 4
#define AS_IDLE_TIMEOUT 10   /* seconds */

struct store;
struct as_pki;
struct x509_st;

struct as_conf {
	int key_lifetime;                    /* seconds */
	size_t nnms;
	struct sockaddr_storage nms[AS_MAX_NMS];
	/* The CA (as_pki.h): its bundle goes to every node that logs in,
	 * and it renews certificates.  NULL: neither. */
	struct as_pki *pki;
};

struct as_stats {
	uint64_t tls_fail;       /* handshakes that failed (no TLS 1.3, foreign cert, ...) */
	uint64_t login_ok;
	uint64_t login_refused;  /* bad credentials, unknown node (revoked not included),
				  * of Login and Information Requests */
	uint64_t malformed;      /* bad frames and requests */
	uint64_t oversized;      /* frames longer than AS_MSG_MAX */
	uint64_t revoked;        /* requests of revoked nodes, logins FOR revoked GNs */
	uint64_t for_ok;         /* logins on an adapter's behalf (FOR), also in login_ok */
	uint64_t for_refused;    /* FOR: requester no adapter, GN unknown or not its own */
	uint64_t info_ok;        /* Information Requests answered with the list */
	uint64_t info_refused;   /* Information Requests refused (any reason) */
	uint64_t throttled;      /* password logins refused unhashed: backing off after
				  * failures, or too many checks queued (RESULT 10) */
	uint64_t conn_refused;   /* connections refused: too many in all or from one source */
	uint64_t conn_evicted;   /* connections cut in their handshake: all were taken */
	uint64_t renewed;        /* node certificates renewed at login */
	uint64_t renew_failed;   /* renewals due that could not be made */
};

/* The table of those counters (counters.h), as `cyphonic stats` shows them. */
extern const struct counter as_counters[];
extern const size_t as_ncounters;

/* What the transport proved about the peer. */
struct as_peer {
	const char *cert_serial;             /* verified client cert serial (hex), or NULL */
	const struct x509_st *cert;          /* that certificate (for renewal), or NULL */
	const struct sockaddr *addr;         /* for logging; may be NULL */
};

struct as;

struct as *as_new(struct store *st, const struct as_conf *conf);
void as_free(struct as *as);

/* Check a frame header (CY_HDR_LEN bytes) before reading the body.
 * Returns the total frame length, or -EBADMSG (bad version: counted
 * malformed) / -EMSGSIZE (too long: counted oversized); the caller then
 * closes the connection. */
ssize_t as_frame_len(struct as *as, const uint8_t *hdr);

/* Handle one complete request frame and write the response into resp.
 * Returns the response length, or a negative errno when the connection
 * must be closed without an answer (-EMSGSIZE, -EBADMSG, -ENOBUFS).
 * resp holds the common key afterwards: the caller wipes it.
 *
 * A password login needs scrypt (about 0.1 s), which must not run on the
 * event loop: as_start() then returns AS_PENDING with a check in *chk;
 * the caller runs as_check_run(chk) on another thread (it touches nothing
 * but the check) and then, back on the loop, as_check_finish() answers
 * the request and frees the check.  as_check_free() drops one unanswered
 * (its connection went away).  as_handle() does all three in one call,
 * for tests and fuzzers. */
#define AS_PENDING (-EINPROGRESS)
struct as_check;
ssize_t as_start(struct as *as, const struct as_peer *peer, const uint8_t *req, size_t len,
		 uint8_t *resp, size_t cap, struct as_check **chk);
void as_check_run(struct as_check *chk);
ssize_t as_check_finish(struct as *as, struct as_check *chk, uint8_t *resp, size_t cap);
void as_check_free(struct as_check *chk);
/* Answer a request whose check cannot run now (too many queued): RESULT
 * 10, counted throttled; frees the check. */
ssize_t as_check_refuse(struct as *as, struct as_check *chk, uint8_t *resp, size_t cap);
ssize_t as_handle(struct as *as, const struct as_peer *peer, const uint8_t *req, size_t len,
		  uint8_t *resp, size_t cap);

/* A response (from the calls above) that says RESULT 0. */
bool as_response_ok(const uint8_t *resp, size_t len);

/* A TLS handshake failed / a connection was refused (counted only; the
 * glue logs). */
void as_tls_failed(struct as *as);
void as_conn_refused(struct as *as);
void as_conn_evicted(struct as *as);
const struct as_stats *as_stats(const struct as *as);

#endif
