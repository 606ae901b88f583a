/* The AS on the network: a libevent listener accepting TLS 1.3, the
 * handshakes run by worker threads (as_hs.h), then each connection on the
 * loop through bufferevent_openssl; client certificates verified against
 * the cloud CA but optional (password login has none), each complete
 * frame passed to as_start(), password checks run by a pool of worker
 * threads (as_pool.h).  A failed handshake (for instance a certificate from
 * another CA) is counted in as_stats.tls_fail.  docs/protocol.md ("AS")
 * states the limits below. */
#ifndef CY_AS_SERVER_H
#define CY_AS_SERVER_H

#include <sys/socket.h>

#define AS_MAX_CONNS 1024
/* All taken: the oldest connection still in its TLS handshake for at
 * least AS_EVICT_AGE_MS is cut to make room for the new one (while up to
 * AS_EVICT_SLACK cut ones wait for their worker to let go of them). */
#define AS_EVICT_AGE_MS 200
#define AS_EVICT_SLACK 64
#define AS_SRC_CONNS 8            /* connections at once from one source */
#define AS_HANDSHAKE_TIMEOUT 3    /* seconds for the TLS handshake, from accept */
#define AS_CONN_LIFETIME 30       /* seconds a connection may live after it */
#define AS_DRAIN_TIMEOUT 1        /* seconds to read to EOF after a refusal */
#define AS_DRAIN_MAX 65536        /* ... and bytes */
#define AS_HS_THREADS_MAX 8       /* TLS handshake workers: one per CPU, up to this */
#define AS_CHECK_THREADS 2        /* password-hashing workers */
#define AS_CHECK_QUEUE 32         /* password checks queued or running, in all */
#define AS_SRC_CHECKS 2           /* ... for one source */

struct event_base;
struct as;

struct as_server_conf {
	struct sockaddr_storage listen;      /* [::]:port is dual-stack */
	const char *cert;                    /* PEM server certificate (chain) */
	const char *key;                     /* PEM private key */
	const char *ca_cert;                 /* PEM cloud CAs: client certs must chain to one */
	int max_conns;                       /* 0 = AS_MAX_CONNS */
};

struct as_server;

/* NULL on failure (logged). */
struct as_server *as_server_new(struct event_base *base, struct as *as,
				const struct as_server_conf *conf);
void as_server_free(struct as_server *s);
/* Read the certificate, key and CA files again for the connections to
 * come (a renewed certificate, a CA roll); on failure (logged) the old
 * ones stay.  0 or -1. */
int as_server_reload(struct as_server *s);

#endif
