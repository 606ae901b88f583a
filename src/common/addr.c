#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"

static int parse_port(const char *s, uint16_t *port)
{
	long n;

	if (!conf_parse_long(s, 1, 65535, &n))
		return -EINVAL;
	*port = (uint16_t)n;
	return 0;
}

int addr_parse(const char *s, uint16_t default_port, struct sockaddr_storage *ss,
	       socklen_t *len)
{
	char host[ADDR_STR_MAX];
	const char *colon;
	uint16_t port = default_port;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || (size_t)(end - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, end - s - 1);
		host[end - s - 1] = '\0';
		if (end[1] == ':') {
			if (parse_port(end + 2, &port) < 0)
				return -EINVAL;
		} else if (end[1]) {
			return -EINVAL;
		}
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* bare IPv6 address */
		n = colon ? (size_t)(colon - s) : strlen(s);
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = '\0';
		if (colon && parse_port(colon + 1, &port) < 0)
			return -EINVAL;
	}
	if (port == 0 && default_port != 0)
		return -EINVAL;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

const char *addr_ip_str(const struct sockaddr *sa, char buf[ADDR_STR_MAX])
{
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
			  ADDR_STR_MAX);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			  ADDR_STR_MAX);
	else
		snprintf(buf, ADDR_STR_MAX, "(none)");
	return buf;
}

const char *addr_str(const struct sockaddr *sa, char buf[ADDR_STR_MAX])
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
	if (sa->sa_family == AF_INET)
		snprintf(buf, ADDR_STR_MAX, "%s:%u", ip, addr_port(sa));
	else if (sa->sa_family == AF_INET6)
		snprintf(buf, ADDR_STR_MAX, "[%s]:%u", ip, addr_port(sa));
	else
		snprintf(buf, ADDR_STR_MAX, "(none)");
	return buf;
}

void addr_unmap(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in sin;

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = sin6->sin6_port;
	memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin, sizeof(sin));
	if (len)
		*len = sizeof(sin);
}

socklen_t addr_map(const struct sockaddr *to, int family, struct sockaddr_storage *out)
{
	socklen_t len = addr_len(to);

	memset(out, 0, sizeof(*out));
	if (to->sa_family == AF_INET && family == AF_INET6) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)to;
		struct sockaddr_in6 *m = (struct sockaddr_in6 *)out;

		m->sin6_family = AF_INET6;
		m->sin6_port = sin->sin_port;
		m->sin6_addr.s6_addr[10] = 0xff;
		m->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&m->sin6_addr.s6_addr[12], &sin->sin_addr, 4);
		return sizeof(*m);
	}
	memcpy(out, to, len);
	return len;
}

bool addr_in6_prefix(const uint8_t a[16], const uint8_t net[16], unsigned len)
{
	size_t bytes = len / 8;
	unsigned bits = len % 8;

	if (len == 0 || len > 128 || memcmp(a, net, bytes))
		return false;
	return !bits || ((a[bytes] ^ net[bytes]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

void addr_in6_mask(const uint8_t a[16], unsigned len, uint8_t out[16])
{
	uint8_t m[16];

	if (len > 128)
		len = 128;
	memcpy(m, a, 16);
	memset(m + (len + 7) / 8, 0, 16 - (len + 7) / 8);
	if (len % 8)
		m[len / 8] &= (uint8_t)(0xff << (8 - len % 8));
	memcpy(out, m, 16);
}

socklen_t addr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					: sizeof(struct sockaddr_in6);
}

uint16_t addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void addr_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

bool addr_equal_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
	return false;
}

bool addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	return addr_equal_ip(a, b) && addr_port(a) == addr_port(b);
}

int addr_list_parse(struct sockaddr_storage *out, size_t *n, size_t max, uint16_t port,
		    const char *v, char *err, size_t errlen)
{
	char list[512], *save, *tok;

	if (strlen(v) >= sizeof(list)) {
		snprintf(err, errlen, "too long");
		return -1;
	}
	strcpy(list, v);
	*n = 0;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		socklen_t len;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		if (*n == max) {
			snprintf(err, errlen, "at most %zu addresses", max);
			return -1;
		}
		if (addr_parse(tok, port, &out[*n], &len) < 0) {
			snprintf(err, errlen, "'%s' is not an IP address", tok);
			return -1;
		}
		(*n)++;
	}
	if (*n == 0) {
		snprintf(err, errlen, "no address");
		return -1;
	}
	return 0;
}

int cy_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool cy_mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t m[6];

	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		int hi = cy_hex_digit((unsigned char)s[3 * i]);
		int lo = cy_hex_digit((unsigned char)s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return false;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, m, 6);
	return true;
}

const char *cy_mac_str(const uint8_t mac[6], char out[CY_MAC_STR])
{
	snprintf(out, CY_MAC_STR, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	return out;
}

bool cy_mac_unicast(const uint8_t mac[6])
{
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

int addr_tcp_listen(const struct sockaddr_storage *ss, int backlog)
{
	int fd, on = 1, off = 0, e;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0) ||
	    bind(fd, (const struct sockaddr *)ss, addr_len((const struct sockaddr *)ss)) < 0 ||
	    listen(fd, backlog) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int addr_sock_buffers(int fd, int bytes)
{
	int got = 0;
	socklen_t len = sizeof(got);

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
	/* socket(7): the kernel doubles the value set, for its bookkeeping. */
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) < 0)
		return -1;
	return got / 2;
}
