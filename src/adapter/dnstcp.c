#include "dnstcp.h"
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/listener.h>

#include "gn.h"
#include "json.h"
#include "log.h"
#include "resolver_server.h"

#define DNSTCP_PORT 53
#define DNSTCP_BACKLOG 64

struct dnstcp {
	struct event_base *base;
	struct dnstcp_cfg cfg;
	char ifname[IF_NAMESIZE];
	struct evconnlistener *lis;
	struct in_addr ip;
	uint64_t accepted;      /* handed to a GN's resolver */
	uint64_t not_gn;        /* closed: the peer is no GN of this adapter */
	uint64_t mac_mismatch;  /* closed: a GN's VIP, but not from that GN's MAC */
	uint64_t refused;       /* closed by the GN's resolver (its cap, no memory) */
	uint64_t accept_err;
	struct ratelimit rl;
};

/* The MAC the kernel's neighbour table holds for ip on the LAN interface.
 * The kernel has just completed a TCP handshake with ip there, so the
 * entry exists and names the host that answered.  0 or -errno. */
static int peer_mac(const struct dnstcp *d, int fd, const struct in_addr *ip, uint8_t mac[6])
{
	struct arpreq r;
	struct sockaddr_in pa = { .sin_family = AF_INET, .sin_addr = *ip };

	memset(&r, 0, sizeof(r));
	memcpy(&r.arp_pa, &pa, sizeof(pa));
	snprintf(r.arp_dev, sizeof(r.arp_dev), "%s", d->ifname);
	if (ioctl(fd, SIOCGARP, &r) < 0)
		return -errno;
	if (!(r.arp_flags & ATF_COM) || r.arp_ha.sa_family != ARPHRD_ETHER)
		return -ENXIO;
	memcpy(mac, r.arp_ha.sa_data, 6);
	return 0;
}

/* The resolver for a connection from sin: that of the GN whose VIPv4 it
 * is, if the neighbour entry for it holds that GN's MAC (as lansock.c
 * checks the MAC of UDP queries).  NULL (counted, logged) otherwise. */
static struct resolver_server *server_for(struct dnstcp *d, int fd,
					  const struct sockaddr_in *sin)
{
	struct resolver_server *s;
	uint8_t want[6], got[6];
	char a[INET_ADDRSTRLEN], m1[18], m2[18];
	int err;

	inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
	s = d->cfg.server_for(d->cfg.arg, &sin->sin_addr, want);
	if (!s) {
		d->not_gn++;
		LOG_RATELIMITED(&d->rl, "DNS over TCP from %s on %s: no general node, closed", a,
				d->ifname);
		return NULL;
	}
	err = peer_mac(d, fd, &sin->sin_addr, got);
	if (err < 0) {
		d->mac_mismatch++;
		LOG_RATELIMITED(&d->rl, "DNS over TCP from %s on %s: no neighbour entry (%s), "
				"closed", a, d->ifname, strerror(-err));
		return NULL;
	}
	if (memcmp(got, want, sizeof(want)) != 0) {
		d->mac_mismatch++;
		LOG_RATELIMITED(&d->rl, "DNS over TCP from %s on %s: MAC %s, not the general "
				"node's %s, closed", a, d->ifname, cy_mac_str(got, m1),
				cy_mac_str(want, m2));
		return NULL;
	}
	return s;
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct dnstcp *d = arg;
	struct resolver_server *s = NULL;

	if (sa->sa_family == AF_INET && (size_t)salen >= sizeof(struct sockaddr_in))
		s = server_for(d, fd, (const struct sockaddr_in *)sa);
	else {
		d->not_gn++;
		LOG_RATELIMITED(&d->rl, "DNS over TCP on %s: not from IPv4, closed", d->ifname);
	}
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

static void listener_close(struct dnstcp *d)
{
	if (d->lis)
		evconnlistener_free(d->lis);
	d->lis = NULL;
}

/* A TCP socket on ip:53 that only takes connections from the LAN. */
static int listen_fd(const struct dnstcp *d, const struct in_addr *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(DNSTCP_PORT),
				   .sin_addr = *ip };
	int fd, on = 1, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The same address is the node's VIP on its TUN: without the device
	 * binding, peers could reach this listener through the overlay. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, d->ifname,
		       (socklen_t)strlen(d->ifname) + 1) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(fd, DNSTCP_BACKLOG) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int dnstcp_set_addr(struct dnstcp *d, const struct in_addr *ip)
{
	char a[INET_ADDRSTRLEN];
	int fd;

	if (d->lis && d->ip.s_addr == ip->s_addr)
		return 0;
	listener_close(d);
	d->ip = *ip;
	inet_ntop(AF_INET, ip, a, sizeof(a));
	fd = listen_fd(d, ip);
	if (fd < 0) {
		errno = -fd;
		log_warn("DNS over TCP: cannot listen on %s:%d (%s)", a, DNSTCP_PORT, d->ifname);
		return fd;
	}
	d->lis = evconnlistener_new(d->base, on_accept, d,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!d->lis) {
		close(fd);
		log_warnx("DNS over TCP: cannot listen on %s:%d (%s)", a, DNSTCP_PORT, d->ifname);
		return -ENOMEM;
	}
	evconnlistener_set_error_cb(d->lis, on_accept_error);
	log_info("DNS over TCP for general nodes on %s:%d (%s)", a, DNSTCP_PORT, d->ifname);
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
	return d;
}

void dnstcp_free(struct dnstcp *d)
{
	if (!d)
		return;
	listener_close(d);
	free(d);
}

void dnstcp_status(const struct dnstcp *d, struct json *j)
{
	json_obj_begin(j, "dns_tcp");
	json_bool(j, "listening", d->lis != NULL);
	json_uint(j, "accepted", d->accepted);
	json_uint(j, "not_gn", d->not_gn);
	json_uint(j, "mac_mismatch", d->mac_mismatch);
	json_uint(j, "refused", d->refused);
	json_uint(j, "accept_err", d->accept_err);
	json_obj_end(j);
}
