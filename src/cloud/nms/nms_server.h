/* The NMS on the network: one UDP socket (dual-stack when bound to ::),
 * read until EAGAIN on each readiness event, each datagram handed to
 * nms_handle() and its reply sent back; the expiry timer; and the route
 * selection timer, armed for nms_next_ms() after every batch and tick. */
#ifndef CY_NMS_SERVER_H
#define CY_NMS_SERVER_H

#include <sys/socket.h>

#define NMS_EXPIRE_INTERVAL 5   /* seconds between expiry sweeps */

struct event_base;
struct nms;
struct nms_server;

/* NULL on failure (logged). */
struct nms_server *nms_server_new(struct event_base *base, struct nms *nms,
				  const struct sockaddr_storage *listen);
void nms_server_free(struct nms_server *s);
/* nms_authz_check() (an administrator changed nodes), its teardowns'
 * retransmissions scheduled. */
void nms_server_authz(struct nms_server *s);
/* A signal from another cloud host (a store_bus_cb: arg is the server). */
void nms_server_bus(void *arg, const char *channel, const char *payload);

#endif
