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

#define ROUTE_MAX 1024

struct lanroute {
	struct netlink *nl;
	int ifindex;
	char lan[IF_NAMESIZE];
	bool has_ip;
	struct in_addr ip;
	struct in_addr *hosts;
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

static void log_res(const char *what, const struct in_addr *a, const char *lan, int err)
{
	char s[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, a, s, sizeof(s));
	if (err < 0) {
		errno = -err;
		log_warn("%s %s/32 on %s", what, s, lan);
	} else {
		log_info("%s %s/32 on %s", what, s, lan);
	}
}

int lanroute_set_lan_ip(struct lanroute *r, const struct in_addr *ip)
{
	int err;

	if (r->has_ip && r->ip.s_addr == ip->s_addr)
		return 0;
	if (r->has_ip) {
		err = netlink_addr(r->nl, RTM_DELADDR, r->ifindex, AF_INET, &r->ip, 32);
		log_res("removed address", &r->ip, r->lan, err);
		r->has_ip = false;
	}
	err = netlink_addr(r->nl, RTM_NEWADDR, r->ifindex, AF_INET, ip, 32);
	log_res("added address", ip, r->lan, err);
	if (err < 0)
		return err;
	r->has_ip = true;
	r->ip = *ip;
	return 0;
}

int lanroute_add_host(struct lanroute *r, const struct in_addr *vip)
{
	int err;

	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].s_addr == vip->s_addr)
			return 0;
	if (r->nhosts == ROUTE_MAX)
		return -ENOSPC;
	err = netlink_route4(r->nl, RTM_NEWROUTE, r->ifindex, vip, 32);
	log_res("host route", vip, r->lan, err);
	if (err < 0)
		return err;
	r->hosts[r->nhosts++] = *vip;
	return 0;
}

int lanroute_del_host(struct lanroute *r, const struct in_addr *vip)
{
	for (size_t i = 0; i < r->nhosts; i++) {
		if (r->hosts[i].s_addr != vip->s_addr)
			continue;
		r->hosts[i] = r->hosts[--r->nhosts];
		return netlink_route4(r->nl, RTM_DELROUTE, r->ifindex, vip, 32);
	}
	return -ENOENT;
}

void lanroute_free(struct lanroute *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->nl && i < r->nhosts; i++)
		netlink_route4(r->nl, RTM_DELROUTE, r->ifindex, &r->hosts[i], 32);
	if (r->nl && r->has_ip) {
		int err = netlink_addr(r->nl, RTM_DELADDR, r->ifindex, AF_INET, &r->ip, 32);

		log_res("removed address", &r->ip, r->lan, err);
	}
	netlink_close(r->nl);
	free(r->hosts);
	free(r);
}
