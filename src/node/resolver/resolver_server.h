/* The resolver module's sockets on libevent: UDP and TCP listeners on one
 * address, a fresh connect()ed UDP socket (kernel-chosen random source
 * port) per forwarded query, TCP connections (accepted or adopted) with an
 * idle timeout and a cap, and a 100 ms tick for timeouts.  The logic is in
 * resolver.c. */
#ifndef CY_RESOLVER_SERVER_H
#define CY_RESOLVER_SERVER_H

#include <sys/socket.h>

#include "resolver.h"

struct event_base;

struct resolver_server_cfg {
	/* e.g. 127.0.0.153:53; port 0 picks one (tests).  NULL: no
	 * listeners: queries come through resolver_server_query() and the
	 * answers go to send_client (the adapter answers its general nodes
	 * in frames it builds itself), and TCP clients through
	 * resolver_server_adopt_tcp(). */
	const struct sockaddr *listen;
	void (*send_client)(void *arg, const struct resolver_client *c, const uint8_t *buf,
			    size_t len);
	void *send_arg;
	unsigned max_tcp;                /* TCP connections at once; 0 = 64 */
	unsigned tcp_idle_ms;            /* 0 = 10000 */
	/* Domain, upstreams, limits and the lookup callback; the send_* and
	 * upstream_done callbacks and io_arg are the server's own. */
	struct resolver_cfg rc;
};

struct resolver_server;

struct resolver_server *resolver_server_new(struct event_base *base,
					    const struct resolver_server_cfg *cfg);
void resolver_server_free(struct resolver_server *s);
/* For resolver_complete() and resolver_stats(). */
struct resolver *resolver_server_resolver(struct resolver_server *s);
/* A query from a client of a server without listeners. */
void resolver_server_query(struct resolver_server *s, const struct resolver_client *c,
			   const uint8_t *buf, size_t len);
/* A TCP client connected elsewhere (the adapter's listener on its LAN
 * address) served like the server's own: RFC 7766 framing, the idle
 * timeout and the connection cap of the config; answers go over the
 * connection, never to send_client.  fd is the server's from this call
 * on, closed on failure too; peer (len bytes, may be NULL) is only for the
 * log.  0, or -EMFILE when the cap is reached, or -errno. */
int resolver_server_adopt_tcp(struct resolver_server *s, int fd, const struct sockaddr *peer,
			      socklen_t len);
/* The address actually bound (UDP and TCP share it); family AF_UNSPEC
 * without listeners. */
void resolver_server_local(const struct resolver_server *s, struct sockaddr_storage *ss,
			   socklen_t *len);

#endif
