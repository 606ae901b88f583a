#include "tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "log.h"
#include "netlink.h"

struct tun {
	int fd;
	int ifindex;
	char name[IFNAMSIZ];
	struct netlink *nl;
	bool has4, has6;
	struct in_addr a4;
	struct in6_addr a6;
	uint8_t p4, p6;
	bool vnet;              /* IFF_VNET_HDR: a virtio-net header before each packet */
};

static int addr_msg(struct tun *t, uint16_t type, int family, const void *addr,
		    uint8_t prefix)
{
	return netlink_addr(t->nl, type, t->ifindex, family, addr, prefix);
}

static void log_addr(const char *what, struct tun *t, int family, const void *addr,
		     uint8_t prefix, int err)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, s, sizeof(s));
	if (err < 0) {
		errno = -err;
		log_warn("%s %s/%u on %s", what, s, prefix, t->name);
	} else {
		log_info("%s %s/%u on %s", what, s, prefix, t->name);
	}
}

int tun_set_addr4(struct tun *t, const struct in_addr *addr, uint8_t prefix)
{
	int err;

	if (t->has4 && t->a4.s_addr == addr->s_addr && t->p4 == prefix)
		return 0;
	if (t->has4) {
		err = addr_msg(t, RTM_DELADDR, AF_INET, &t->a4, t->p4);
		log_addr("removed", t, AF_INET, &t->a4, t->p4, err);
		t->has4 = false;
	}
	err = addr_msg(t, RTM_NEWADDR, AF_INET, addr, prefix);
	log_addr("added", t, AF_INET, addr, prefix, err);
	if (err < 0)
		return err;
	t->has4 = true;
	t->a4 = *addr;
	t->p4 = prefix;
	return 0;
}

int tun_set_addr6(struct tun *t, const struct in6_addr *addr, uint8_t prefix)
{
	int err;

	if (t->has6 && !memcmp(&t->a6, addr, sizeof(*addr)) && t->p6 == prefix)
		return 0;
	if (t->has6) {
		err = addr_msg(t, RTM_DELADDR, AF_INET6, &t->a6, t->p6);
		log_addr("removed", t, AF_INET6, &t->a6, t->p6, err);
		t->has6 = false;
	}
	err = addr_msg(t, RTM_NEWADDR, AF_INET6, addr, prefix);
	log_addr("added", t, AF_INET6, addr, prefix, err);
	if (err < 0)
		return err;
	t->has6 = true;
	t->a6 = *addr;
	t->p6 = prefix;
	return 0;
}

struct tun *tun_new(const char *name, int mtu, bool vnet)
{
	struct ifreq ifr = { 0 };
	struct tun *t;

	if (strlen(name) >= IFNAMSIZ) {
		log_warnx("TUN name too long: %s", name);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		log_warn("open /dev/net/tun");
		goto fail;
	}
	/* With the offload switch (batch.h) a vnet header; without, or when
	 * the kernel refuses it, plain packets. */
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
	strcpy(ifr.ifr_name, name);
	t->vnet = vnet;
	if (t->vnet && ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		log_warn("TUNSETIFF %s with IFF_VNET_HDR: plain packets", name);
		t->vnet = false;
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	}
	if (!t->vnet && ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		log_warn("TUNSETIFF %s", name);
		goto fail;
	}
	strcpy(t->name, ifr.ifr_name);
	if (t->vnet && dp_tun_offload(t->fd) < 0)
		log_warn("TUNSETOFFLOAD on %s: no TSO/checksum offload", t->name);
	t->ifindex = (int)if_nametoindex(t->name);
	if (!t->ifindex) {
		log_warn("if_nametoindex %s", t->name);
		goto fail;
	}
	t->nl = netlink_open();
	if (!t->nl) {
		log_warn("rtnetlink socket");
		goto fail;
	}
	if (netlink_link_up(t->nl, t->ifindex, mtu) < 0) {
		log_warn("bring %s up with mtu %d", t->name, mtu);
		goto fail;
	}
	log_info("TUN %s up, mtu %d", t->name, mtu);
	return t;
fail:
	tun_free(t);
	return NULL;
}

void tun_free(struct tun *t)
{
	if (!t)
		return;
	netlink_close(t->nl);
	if (t->fd >= 0)
		close(t->fd); /* not persistent: the device goes with it */
	free(t);
}

int tun_fd(const struct tun *t) { return t->fd; }
const char *tun_name(const struct tun *t) { return t->name; }
int tun_ifindex(const struct tun *t) { return t->ifindex; }
bool tun_vnet(const struct tun *t) { return t->vnet; }
