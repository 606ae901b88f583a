#include "dnstcp.h"
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/listener.h>

#include "gn.h"
#include "json.h"
#include "log.h"
#include "netlink.h"
#include "resolver_server.h"

#define DNSTCP_PORT 53
#define DNSTCP_BACKLOG 64

enum { LIS_V4, LIS_V6, LIS_LL, LIS_N };   /* the listeners, by family and scope */

struct listener {
	struct evconnlistener *lis;
	uint8_t addr[16];
};

struct dnstcp {
	struct event_base *base;
	struct dnstcp_cfg cfg;
	char ifname[IF_NAMESIZE];
	int ifindex;
	struct netlink *nl;     /* neighbour lookups */
	struct listener l[LIS_N];
	uint64_t accepted;      /* handed to a GN's resolver */
	uint64_t not_gn;        /* closed: the peer is no GN of this adapter */
	uint64_t mac_mismatch;  /* closed: no neighbour entry, or a GN's VIP not from its MAC */
	uint64_t refused;       /* closed by the GN's resolver (its cap, no memory) */
	uint64_t accept_err;
	struct ratelimit rl;
};

/* The resolver for a connection from sa: that of the GN whose MAC the
 * neighbour entry for sa holds, if sa may be that GN.  NULL (counted,
 * logged) otherwise. */
static struct resolver_server *server_for(struct dnstcp *d, const struct sockaddr *sa)
{
	const void *ip = sa->sa_family == AF_INET
				 ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
				 : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	struct resolver_server *s;
	char a[INET6_ADDRSTRLEN], m[18];
	uint8_t mac[6];
	bool spoof = false;
	int err;

	inet_ntop(sa->sa_family, ip, a, sizeof(a));
	err = netlink_neigh_mac(d->nl, d->ifindex, sa->sa_family, ip, mac);
	if (err < 0) {
		d->mac_mismatch++;
		LOG_RATELIMITED(&d->rl, "DNS over TCP from %s on %s: no neighbour entry (%s), "
				"closed", a, d->ifname, strerror(-err));
		return NULL;
	}
	s = d->cfg.server_for(d->cfg.arg, mac, sa, &spoof);
	if (!s && spoof) {
		d->mac_mismatch++;
		LOG_RATELIMITED(&d->rl, "DNS over TCP from %s on %s: MAC %s, not that general "
				"node's, closed", a, d->ifname, cy_mac_str(mac, m));
	} else if (!s) {
		d->not_gn++;
		LOG_RATELIMITED(&d->rl, "DNS over TCP from %s (MAC %s) on %s: no general node, "
				"closed", a, cy_mac_str(mac, m), d->ifname);
	}
	return s;
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct dnstcp *d = arg;
	struct resolver_server *s = NULL;

	if ((sa->sa_family == AF_INET && (size_t)salen >= sizeof(struct sockaddr_in)) ||
	    (sa->sa_family == AF_INET6 && (size_t)salen >= sizeof(struct sockaddr_in6)))
		s = server_for(d, sa);
	else
		d->not_gn++;
	if (!s) {
		close(fd);
		return;
	}
	if (resolver_server_adopt_tcp(s, fd, sa, (socklen_t)salen) < 0)
		d->refused++;
	else
		d->accepted++;
}

static void on_accept_error(struct evconnlistener *lis, void *arg)
{
	struct dnstcp *d = arg;

	d->accept_err++;
	LOG_RATELIMITED(&d->rl, "DNS over TCP on %s: accept: %s", d->ifname, strerror(errno));
}

static void listener_close(struct listener *l)
{
	if (l->lis)
		evconnlistener_free(l->lis);
	l->lis = NULL;
}

/* A TCP socket on addr:53 that only takes connections from the LAN. */
static int listen_fd(const struct dnstcp *d, int family, const void *addr)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	int fd, on = 1, err;

	if (family == AF_INET) {
		sin->sin_port = htons(DNSTCP_PORT);
		memcpy(&sin->sin_addr, addr, 4);
	} else {
		sin6->sin6_port = htons(DNSTCP_PORT);
		memcpy(&sin6->sin6_addr, addr, 16);
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
			sin6->sin6_scope_id = (uint32_t)d->ifindex;
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The same VIPs are the node's on its TUN: without the device
	 * binding, peers could reach this listener through the overlay. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0) ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, d->ifname,
		       (socklen_t)strlen(d->ifname) + 1) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, addr_len((struct sockaddr *)&ss)) < 0 ||
	    listen(fd, DNSTCP_BACKLOG) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int dnstcp_set_addr(struct dnstcp *d, int family, const void *addr)
{
	size_t alen = family == AF_INET ? 4 : 16;
	struct listener *l;
	char a[INET6_ADDRSTRLEN];
	int fd;

	if (family == AF_INET)
		l = &d->l[LIS_V4];
	else
		l = &d->l[IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)addr) ? LIS_LL : LIS_V6];
	if (l->lis && !memcmp(l->addr, addr, alen))
		return 0;
	listener_close(l);
	memcpy(l->addr, addr, alen);
	inet_ntop(family, addr, a, sizeof(a));
	fd = listen_fd(d, family, addr);
	if (fd < 0) {
		errno = -fd;
		log_warn("DNS over TCP: cannot listen on %s port %d (%s)", a, DNSTCP_PORT,
			 d->ifname);
		return fd;
	}
	l->lis = evconnlistener_new(d->base, on_accept, d,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!l->lis) {
		close(fd);
		log_warnx("DNS over TCP: cannot listen on %s port %d (%s)", a, DNSTCP_PORT,
			  d->ifname);
		return -ENOMEM;
	}
	evconnlistener_set_error_cb(l->lis, on_accept_error);
	log_info("DNS over TCP for general nodes on %s port %d (%s)", a, DNSTCP_PORT, d->ifname);
	return 0;
}

struct dnstcp *dnstcp_new(struct event_base *base, const struct dnstcp_cfg *cfg)
{
	struct dnstcp *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->base = base;
	d->cfg = *cfg;
	snprintf(d->ifname, sizeof(d->ifname), "%s", cfg->ifname);
	d->cfg.ifname = d->ifname;
	d->ifindex = (int)if_nametoindex(d->ifname);
	d->nl = netlink_open();
	if (!d->nl) {
		log_warn("DNS over TCP: rtnetlink socket");
		free(d);
		return NULL;
	}
	return d;
}

void dnstcp_free(struct dnstcp *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < LIS_N; i++)
		listener_close(&d->l[i]);
	netlink_close(d->nl);
	free(d);
}

void dnstcp_status(const struct dnstcp *d, struct json *j)
{
	json_obj_begin(j, "dns_tcp");
	json_bool(j, "listening", d->l[LIS_V4].lis != NULL);
	json_bool(j, "listening6", d->l[LIS_V6].lis != NULL && d->l[LIS_LL].lis != NULL);
	json_uint(j, "accepted", d->accepted);
	json_uint(j, "not_gn", d->not_gn);
	json_uint(j, "mac_mismatch", d->mac_mismatch);
	json_uint(j, "refused", d->refused);
	json_uint(j, "accept_err", d->accept_err);
	json_obj_end(j);
}
