#include "lanroute.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "netlink.h"

#define ROUTE_MAX 2048               /* a VIPv4 and a VIPv6 per general node */

/* One address or host route of ours: family AF_INET or AF_INET6. */
struct lanaddr {
	int family;
	uint8_t a[16];
};

struct lanroute {
	struct netlink *nl;
	int ifindex;
	char lan[IF_NAMESIZE];
	struct lanaddr ip[2];            /* [0] IPv4, [1] IPv6; family 0: none */
	struct lanaddr *hosts;
	size_t nhosts;
};

struct lanroute *lanroute_new(const char *lan)
{
	struct lanroute *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	snprintf(r->lan, sizeof(r->lan), "%s", lan);
	r->ifindex = (int)if_nametoindex(lan);
	if (!r->ifindex) {
		log_warn("LAN interface %s", lan);
		goto fail;
	}
	r->hosts = calloc(ROUTE_MAX, sizeof(*r->hosts));
	r->nl = netlink_open();
	if (!r->hosts || !r->nl) {
		log_warn("rtnetlink socket");
		goto fail;
	}
	/* Up, as a LAN must be (MTU left alone). */
	netlink_link_up(r->nl, r->ifindex, 0);
	return r;
fail:
	lanroute_free(r);
	return NULL;
}

static size_t alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void log_res(const char *what, const struct lanaddr *a, const char *lan, int err)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(a->family, a->a, s, sizeof(s));
	if (err < 0) {
		errno = -err;
		log_warn("%s %s/%zu on %s", what, s, alen(a->family) * 8, lan);
	} else {
		log_info("%s %s/%zu on %s", what, s, alen(a->family) * 8, lan);
	}
}

static struct lanaddr make(int family, const void *addr)
{
	struct lanaddr a = { .family = family };

	memcpy(a.a, addr, alen(family));
	return a;
}

static bool same(const struct lanaddr *x, const struct lanaddr *y)
{
	return x->family == y->family && !memcmp(x->a, y->a, alen(x->family));
}

static int addr_msg(struct lanroute *r, uint16_t type, const struct lanaddr *a)
{
	return netlink_addr(r->nl, type, r->ifindex, a->family, a->a,
			    (uint8_t)(alen(a->family) * 8));
}

static int route_msg(struct lanroute *r, uint16_t type, const struct lanaddr *a)
{
	return netlink_route(r->nl, type, r->ifindex, a->family, a->a,
			     (uint8_t)(alen(a->family) * 8));
}

int lanroute_set_lan_ip(struct lanroute *r, int family, const void *ip)
{
	struct lanaddr *cur = &r->ip[family == AF_INET6], a = make(family, ip);
	int err;

	if (cur->family && same(cur, &a))
		return 0;
	if (cur->family) {
		err = addr_msg(r, RTM_DELADDR, cur);
		log_res("removed address", cur, r->lan, err);
		cur->family = 0;
	}
	err = addr_msg(r, RTM_NEWADDR, &a);
	log_res("added address", &a, r->lan, err);
	if (err < 0)
		return err;
	*cur = a;
	return 0;
}

int lanroute_add_host(struct lanroute *r, int family, const void *vip)
{
	struct lanaddr a = make(family, vip);
	int err;

	for (size_t i = 0; i < r->nhosts; i++)
		if (same(&r->hosts[i], &a))
			return 0;
	if (r->nhosts == ROUTE_MAX)
		return -ENOSPC;
	err = route_msg(r, RTM_NEWROUTE, &a);
	log_res("host route", &a, r->lan, err);
	if (err < 0)
		return err;
	r->hosts[r->nhosts++] = a;
	return 0;
}

int lanroute_del_host(struct lanroute *r, int family, const void *vip)
{
	struct lanaddr a = make(family, vip);

	for (size_t i = 0; i < r->nhosts; i++) {
		if (!same(&r->hosts[i], &a))
			continue;
		r->hosts[i] = r->hosts[--r->nhosts];
		return route_msg(r, RTM_DELROUTE, &a);
	}
	return -ENOENT;
}

void lanroute_free(struct lanroute *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->nl && i < r->nhosts; i++)
		route_msg(r, RTM_DELROUTE, &r->hosts[i]);
	for (size_t i = 0; r->nl && i < 2; i++) {
		if (r->ip[i].family)
			log_res("removed address", &r->ip[i], r->lan,
				addr_msg(r, RTM_DELADDR, &r->ip[i]));
	}
	netlink_close(r->nl);
	free(r->hosts);
	free(r);
}
