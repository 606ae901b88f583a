#include "localaddr.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"

#include "log.h"

bool localaddr_usable(const struct sockaddr *sa, const struct in_addr *vip4,
		      const struct in6_addr *vip6)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);

		if ((a >> 24) == 127 || (a >> 16) == 0xa9fe ||   /* loopback, 169.254/16 */
		    (a & 0xffc00000) == 0x64400000 ||            /* 100.64.0.0/10 */
		    a == 0 || (a >> 28) == 0xe)                  /* any, multicast */
			return false;
		return !vip4 || vip4->s_addr != htonl(a);
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
		    IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_MULTICAST(a) ||
		    IN6_IS_ADDR_V4MAPPED(a))
			return false;
		return !vip6 || memcmp(vip6, a, sizeof(*a));
	}
	return false;
}

static bool localaddr_skipped(const char *const *skip, const char *ifname)
{
	for (size_t i = 0; skip && skip[i]; i++)
		if (!strcmp(skip[i], ifname))
			return true;
	return false;
}

size_t localaddr_collect(const char *const *skip, const struct in_addr *vip4,
			 const struct in6_addr *vip6, struct sockaddr_storage *out, size_t max)
{
	struct ifaddrs *ifa, *i;
	size_t n = 0;

	if (getifaddrs(&ifa) < 0) {
		log_warn("getifaddrs");
		return 0;
	}
	for (i = ifa; i && n < max; i = i->ifa_next) {
		/* Up and with a carrier: a link that lost it reaches nobody. */
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || !(i->ifa_flags & IFF_RUNNING) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (localaddr_skipped(skip, i->ifa_name))
			continue;
		if (!localaddr_usable(i->ifa_addr, vip4, vip6))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		memcpy(&out[n], i->ifa_addr, i->ifa_addr->sa_family == AF_INET ?
		       sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		((struct sockaddr_in6 *)&out[n])->sin6_port = 0; /* same offset for both */
		if (i->ifa_addr->sa_family == AF_INET6)
			((struct sockaddr_in6 *)&out[n])->sin6_scope_id = 0;
		n++;
	}
	freeifaddrs(ifa);
	return n;
}

int localaddr_route_src(const struct sockaddr *dst, struct sockaddr_storage *src)
{
	socklen_t len = sizeof(*src);
	int fd, err = 0;

	if (dst->sa_family != AF_INET && dst->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	fd = socket(dst->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A UDP connect sends nothing: it only asks the routing table. */
	if (connect(fd, dst, addr_len(dst)) < 0 ||
	    getsockname(fd, (struct sockaddr *)src, &len) < 0)
		err = -errno;
	close(fd);
	if (!err)
		addr_set_port((struct sockaddr *)src, 0);
	return err;
}
