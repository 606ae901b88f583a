/* The node's one UDP socket: [::]:port, dual-stack (IPV6_V6ONLY off), so
 * signaling and (later) data share the NAPT mapping the NMS observes.
 * IPv4 peers appear as plain AF_INET addresses on both sides of this
 * interface: sources are unmapped, destinations mapped. */
#ifndef CY_NODE_UDP_H
#define CY_NODE_UDP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Non-blocking socket or -errno.  Falls back to IPv4 only when the host
 * has no IPv6. */
int udp_open(uint16_t port);
/* Like recvfrom; from is unmapped.  -errno on error (-EAGAIN when empty). */
ssize_t udp_recv(int fd, void *buf, size_t cap, struct sockaddr_storage *from,
		 socklen_t *fromlen);
/* Whether fd is a dual-stack (AF_INET6) socket, whose IPv4 destinations
 * are v4-mapped.  Asked once per socket, not per datagram. */
bool udp_v6sock(int fd);
/* 0 or -errno. */
int udp_send(int fd, bool v6sock, const void *buf, size_t len, const struct sockaddr *to);
/* The port the socket is bound to, 0 on error. */
uint16_t udp_port(int fd);

#endif
