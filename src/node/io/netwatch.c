#include "netwatch.h"

#include <errno.h>
#include <event2/event.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

struct listener {
	netwatch_fn fn;
	void *arg;
};

/* Reads per readable event (then the loop's other events go first), and
 * their buffer: room for a large RTM_NEWLINK. */
#define NETWATCH_READS 64
#define NETWATCH_BUF 32768

struct netwatch {
	struct mnl_socket *nl;
	char *buf;                /* NETWATCH_BUF */
	int64_t burst_ms;         /* the first event of the burst being settled */
	struct event *ev, *settle;
	struct listener *l;      /* n used (fn NULL: removed), cap allocated */
	size_t n, cap;
	struct ratelimit rl;
};

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	int *changed = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK: case RTM_DELLINK:
	case RTM_NEWADDR: case RTM_DELADDR:
	case RTM_NEWROUTE: case RTM_DELROUTE:
		*changed = 1;
		break;
	}
	return MNL_CB_OK;
}

int netwatch_parse(const void *buf, size_t len)
{
	int changed = 0;

	/* Notifications carry sequence 0 and port id 0 (the kernel). */
	if (mnl_cb_run(buf, len, 0, 0, msg_cb, &changed) < MNL_CB_STOP)
		return 0;
	return changed;
}

static void on_settle(evutil_socket_t fd, short what, void *arg)
{
	struct netwatch *w = arg;

	/* A listener may remove itself or others meanwhile (fn NULL), not add. */
	for (size_t i = 0; i < w->n; i++)
		if (w->l[i].fn)
			w->l[i].fn(w->l[i].arg);
}

/* A burst is over when NETWATCH_SETTLE_MS pass without another event,
 * or NETWATCH_SETTLE_MAX_MS after its first (a host with endless churn
 * still gets looked at). */
static void settle_arm(struct netwatch *w)
{
	struct timeval tv = { 0, NETWATCH_SETTLE_MS * 1000 };
	int64_t now = clock_now_ms();

	if (!event_pending(w->settle, EV_TIMEOUT, NULL))
		w->burst_ms = now;
	else if (now - w->burst_ms >= NETWATCH_SETTLE_MAX_MS)
		return;
	event_add(w->settle, &tv);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct netwatch *w = arg;
	int changed = 0;

	for (int i = 0; i < NETWATCH_READS; i++) {
		ssize_t n = mnl_socket_recvfrom(w->nl, w->buf, NETWATCH_BUF);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			/* Events lost (ENOBUFS), one too large for the buffer:
			 * look anyway. */
			changed = 1;
			if (errno != ENOBUFS)
				LOG_RATELIMITED(&w->rl, "rtnetlink: %s", strerror(errno));
			continue;
		}
		changed |= netwatch_parse(w->buf, (size_t)n);
	}
	if (changed)
		settle_arm(w);
}

struct netwatch *netwatch_new(struct event_base *base)
{
	struct netwatch *w = calloc(1, sizeof(*w));
	unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
			  RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	int fd;

	if (!w)
		return NULL;
	w->buf = malloc(NETWATCH_BUF);
	w->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!w->buf || !w->nl || mnl_socket_bind(w->nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		log_warn("rtnetlink: cannot watch for address and route changes");
		netwatch_free(w);
		return NULL;
	}
	fd = mnl_socket_get_fd(w->nl);
	w->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, w);
	w->settle = evtimer_new(base, on_settle, w);
	if (!w->ev || !w->settle || event_add(w->ev, NULL) < 0) {
		netwatch_free(w);
		return NULL;
	}
	return w;
}

void netwatch_free(struct netwatch *w)
{
	if (!w)
		return;
	if (w->ev)
		event_free(w->ev);
	if (w->settle)
		event_free(w->settle);
	if (w->nl)
		mnl_socket_close(w->nl);
	free(w->l);
	free(w->buf);
	free(w);
}

int netwatch_add(struct netwatch *w, netwatch_fn fn, void *arg)
{
	size_t k = 0;

	for (size_t i = 0; i < w->n; i++)   /* drop the removed ones */
		if (w->l[i].fn)
			w->l[k++] = w->l[i];
	w->n = k;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 8;
		struct listener *l = realloc(w->l, cap * sizeof(*l));

		if (!l)
			return -ENOMEM;
		w->l = l;
		w->cap = cap;
	}
	w->l[w->n++] = (struct listener){ fn, arg };
	return 0;
}

void netwatch_del(struct netwatch *w, void *arg)
{
	for (size_t i = 0; w && i < w->n; i++)
		if (w->l[i].arg == arg)
			w->l[i].fn = NULL;
}
