/* Socket address helpers: parse and print "1.2.3.4:port", "[2001:db8::1]:port"
 * and bare addresses, normalise IPv4-mapped IPv6, compare. */
#ifndef CY_ADDR_H
#define CY_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_STR_MAX 64   /* "[ffff:...:ffff]:65535" plus NUL fits */
#define CY_MAC_STR 18     /* "aa:bb:cc:dd:ee:ff" plus NUL */

/* "ADDR", "ADDR:PORT" or "[V6]:PORT"; default_port when none is given.
 * Returns 0 or -EINVAL. */
int addr_parse(const char *s, uint16_t default_port, struct sockaddr_storage *ss,
	       socklen_t *len);
/* Formats as "1.2.3.4:5" or "[2001:db8::1]:5"; returns buf. */
const char *addr_str(const struct sockaddr *sa, char buf[ADDR_STR_MAX]);
/* Address only, no port. */
const char *addr_ip_str(const struct sockaddr *sa, char buf[ADDR_STR_MAX]);
/* ::ffff:a.b.c.d becomes AF_INET in place (what a dual-stack socket reports). */
void addr_unmap(struct sockaddr_storage *ss, socklen_t *len);
/* The reverse, for sending: to into out as a socket of family takes it,
 * AF_INET mapped to ::ffff:a.b.c.d on an AF_INET6 (dual-stack) socket,
 * anything else copied.  Its length (0 for a family addr_len does not
 * know). */
socklen_t addr_map(const struct sockaddr *to, int family, struct sockaddr_storage *out);
/* Same family, address and port. */
bool addr_equal(const struct sockaddr *a, const struct sockaddr *b);
/* Same family and address, any port. */
bool addr_equal_ip(const struct sockaddr *a, const struct sockaddr *b);
socklen_t addr_len(const struct sockaddr *sa);
/* Whether the IPv6 address a is in net/len (len 1..128; 0 or more: no). */
bool addr_in6_prefix(const uint8_t a[16], const uint8_t net[16], unsigned len);
/* a with the bits past len (0..128) cleared, into out (may be a). */
void addr_in6_mask(const uint8_t a[16], unsigned len, uint8_t out[16]);
uint16_t addr_port(const struct sockaddr *sa);
void addr_set_port(struct sockaddr *sa, uint16_t port);

/* A comma-separated list of addresses ("A, [V6]:P, ..."), at most max,
 * each with port when none is given.  0, or -1 with the reason in err. */
int addr_list_parse(struct sockaddr_storage *out, size_t *n, size_t max, uint16_t port,
		    const char *v, char *err, size_t errlen);

/* Ethernet MACs as text: exactly "xx:xx:xx:xx:xx:xx" (hex digits in either
 * case); mac is written only on success.  cy_mac_str writes lower case. */
bool cy_mac_parse(const char *s, uint8_t mac[6]);
const char *cy_mac_str(const uint8_t mac[6], char out[CY_MAC_STR]);
/* A device's own address: not a group (multicast, broadcast) one, not zero. */
bool cy_mac_unicast(const uint8_t mac[6]);

/* The value of a hex digit (either case), or -1. */
int cy_hex_digit(int c);

/* A non-blocking TCP socket listening on ss ([::] takes IPv4 too); the
 * descriptor, or -1 with errno set. */
int addr_tcp_listen(const struct sockaddr_storage *ss, int backlog);

/* Both buffers of socket fd to bytes: past the system's limits when the
 * process may (CAP_NET_ADMIN), else as far as they allow
 * (net.core.rmem_max, wmem_max).  Returns the receive buffer granted, in
 * the same units as bytes (the kernel's figure halved), or -1. */
int addr_sock_buffers(int fd, int bytes);

#endif
