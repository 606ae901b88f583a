/* The TRS on the network: the control socket (Relay Requests from the
 * NMS), one UDP socket per relay session (opened and closed through
 * trs_ops), and the expiry timer.  Datagrams are read until EAGAIN on each
 * readiness event and handed to trs.c. */
#ifndef CY_TRS_SERVER_H
#define CY_TRS_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

#include "trs.h"

struct event_base;
struct trs_server;

struct trs_server_conf {
	struct sockaddr_storage listen;   /* control port; session sockets bind its address */
	uint16_t port_lo, port_hi;        /* session ports; 0, 0: the kernel picks */
	struct trs_conf trs;
};

/* NULL on failure (logged). */
struct trs_server *trs_server_new(struct event_base *base, const struct trs_server_conf *conf);
void trs_server_free(struct trs_server *s);
const struct trs_stats *trs_server_stats(const struct trs_server *s);

#endif
