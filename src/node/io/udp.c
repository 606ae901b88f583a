#include "udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

bool udp_v6sock(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET6;
}

int udp_open(uint16_t port)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				     .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, off = 0, err;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
		    bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) < 0) {
			err = -errno;
			log_warn("bind [::]:%u", port);
			close(fd);
			return err;
		}
		return fd;
	}
	if (errno != EAFNOSUPPORT)
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		err = -errno;
		log_warn("bind 0.0.0.0:%u", port);
		close(fd);
		return err;
	}
	return fd;
}

ssize_t udp_recv(int fd, void *buf, size_t cap, struct sockaddr_storage *from,
		 socklen_t *fromlen)
{
	ssize_t n;

	*fromlen = sizeof(*from);
	n = recvfrom(fd, buf, cap, MSG_TRUNC, (struct sockaddr *)from, fromlen);
	if (n < 0)
		return -errno;
	if ((size_t)n > cap)
		return -EMSGSIZE; /* truncated: drop */
	addr_unmap(from, fromlen);
	return n;
}

int udp_send(int fd, bool v6sock, const void *buf, size_t len, const struct sockaddr *to)
{
	struct sockaddr_storage dst;
	socklen_t dlen = addr_map(to, v6sock ? AF_INET6 : AF_INET, &dst);

	if (sendto(fd, buf, len, 0, (const struct sockaddr *)&dst, dlen) < 0)
		return -errno;
	return 0;
}

uint16_t udp_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return addr_port((struct sockaddr *)&ss);
}
