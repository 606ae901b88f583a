#include "tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
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

#include "log.h"

struct tun {
	int fd;
	int ifindex;
	char name[IFNAMSIZ];
	struct mnl_socket *nl;
	uint32_t seq;
	bool has4, has6;
	struct in_addr a4;
	struct in6_addr a6;
	uint8_t p4, p6;
};

/* Send one request and wait for its acknowledgement. */
static int nl_talk(struct tun *t, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t portid = mnl_socket_get_portid(t->nl);
	ssize_t n;
	int rc;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++t->seq;
	if (mnl_socket_sendto(t->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(t->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, t->seq, portid, NULL, NULL);
		if (rc <= MNL_CB_STOP)
			return rc < 0 ? -errno : 0;
	}
}

static int link_up(struct tun *t, int mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = t->ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	return nl_talk(t, nlh);
}

static int addr_msg(struct tun *t, uint16_t type, int family, const void *addr,
		    uint8_t prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t alen = family == AF_INET ? 4 : 16;

	nlh->nlmsg_type = type;
	if (type == RTM_NEWADDR)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)t->ifindex;
	/* No duplicate address detection: the VIP is ours by allocation and
	 * must be usable at once. */
	if (family == AF_INET6) {
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	}
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	return nl_talk(t, nlh);
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

struct tun *tun_new(const char *name, int mtu)
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
	t->seq = (uint32_t)time(NULL);
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		log_warn("open /dev/net/tun");
		goto fail;
	}
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strcpy(ifr.ifr_name, name);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		log_warn("TUNSETIFF %s", name);
		goto fail;
	}
	strcpy(t->name, ifr.ifr_name);
	t->ifindex = (int)if_nametoindex(t->name);
	if (!t->ifindex) {
		log_warn("if_nametoindex %s", t->name);
		goto fail;
	}
	t->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!t->nl || mnl_socket_bind(t->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		log_warn("rtnetlink socket");
		goto fail;
	}
	if (link_up(t, mtu) < 0) {
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
	if (t->nl)
		mnl_socket_close(t->nl);
	if (t->fd >= 0)
		close(t->fd); /* not persistent: the device goes with it */
	free(t);
}

int tun_fd(const struct tun *t) { return t->fd; }
const char *tun_name(const struct tun *t) { return t->name; }
int tun_ifindex(const struct tun *t) { return t->ifindex; }
