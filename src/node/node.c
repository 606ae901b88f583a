#include "node.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "control.h"
#include "localaddr.h"
#include "log.h"
#include "login.h"
#include "node_conf.h"
#include "sig.h"
#include "status.h"
#include "tun.h"
#include "udp.h"

#define UDP_BUF 65536
#define TUN_BUF 65536
#define READ_BATCH 64
#define NODE_ROUTES 32   /* routes selected, waiting for the tunnel module */

/* A route the NMS selected, kept for the tunnel set-up (the next step
 * takes it from here: Tunnel Request to r.peer when r.role is INITIATOR,
 * else accept the one for r.tunnel_id).  Holds the Tunnel Key: wiped
 * when the slot is reused and on exit. */
struct node_route {
	bool used;
	int64_t at;      /* clock_now_ms() when selected */
	struct sig_route r;
};

struct node {
	struct event_base *base;
	const struct node_conf *conf;
	struct tun *tun;
	int udp;
	uint16_t port;
	struct event *udp_ev, *tun_ev, *timer;
	struct login *login;
	struct sig *sig;
	struct control *ctl;
	uint8_t *buf;
	struct ratelimit rl;
	uint64_t tun_rx_pkts, tun_rx_bytes, udp_unknown;
	struct node_route routes[NODE_ROUTES];
	size_t routes_next;
};

/* ---- timers ---- */

static void arm_timer(struct node *n)
{
	int64_t at = sig_next_ms(n->sig), now = clock_now_ms(), d;
	struct timeval tv;

	if (at == INT64_MAX) {
		evtimer_del(n->timer);
		return;
	}
	d = at > now ? at - now : 0;
	tv.tv_sec = d / 1000;
	tv.tv_usec = (d % 1000) * 1000;
	evtimer_add(n->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;

	sig_timeout(n->sig);
	arm_timer(n);
}

/* ---- signaling callbacks ---- */

static int ops_send(void *arg, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	struct node *n = arg;
	char a[ADDR_STR_MAX];
	int err = udp_send(n->udp, buf, len, to);

	if (err < 0) {
		errno = -err;
		LOG_RATELIMITED(&n->rl, "send to %s: %s", addr_str(to, a), strerror(-err));
	}
	return err;
}

static void ops_login(void *arg)
{
	struct node *n = arg;

	log_info("logging in to the AS as %s", n->conf->fqdn);
	login_start(n->login);
}

static size_t ops_local_addrs(void *arg, struct sockaddr_storage *out, size_t max)
{
	struct node *n = arg;
	const struct sig_info *in = sig_info(n->sig);

	return localaddr_collect(tun_name(n->tun), in->have_vips ? &in->vip4 : NULL,
				 in->have_vips ? &in->vip6 : NULL, out, max);
}

static void ops_registered(void *arg, const struct sig_info *in)
{
	struct node *n = arg;

	tun_set_addr4(n->tun, &in->vip4, in->prefix4);
	tun_set_addr6(n->tun, &in->vip6, in->prefix6);
}

static void ops_route_ready(void *arg, const struct sig_route *r)
{
	struct node *n = arg;
	struct node_route *slot = &n->routes[n->routes_next++ % NODE_ROUTES];
	char p[ADDR_STR_MAX];

	/* Never the key. */
	log_info("route to %s: tunnel id %016" PRIx64 ", role %s, path %s, peer %s",
		 r->peer_fqdn[0] ? r->peer_fqdn : "?", r->tunnel_id,
		 r->role == CY_ROLE_INITIATOR ? "initiator" : "responder",
		 r->path == CY_PATH_RELAY ? "relay" : "direct",
		 addr_str((const struct sockaddr *)&r->peer, p));
	cy_wipe(slot, sizeof(*slot));
	slot->used = true;
	slot->at = clock_now_ms();
	slot->r = *r;
}

static void ops_route_failed(void *arg, uint32_t req_id, enum cy_result result,
			     const char *reason)
{
	log_info("route request %" PRIu32 " failed: %s%s%s", req_id, cy_result_str(result),
		 reason && reason[0] ? ": " : "", reason ? reason : "");
}

static const struct sig_ops node_sig_ops = {
	.send = ops_send,
	.login = ops_login,
	.local_addrs = ops_local_addrs,
	.registered = ops_registered,
	.route_ready = ops_route_ready,
	.route_failed = ops_route_failed,
};

static void on_login(void *arg, const struct login_result *r)
{
	struct node *n = arg;

	sig_login_done(n->sig, r);
	arm_timer(n);
}

/* ---- sockets ---- */

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	struct sockaddr_storage from;
	socklen_t fromlen;
	ssize_t len;
	int i;

	for (i = 0; i < READ_BATCH; i++) {
		len = udp_recv(n->udp, n->buf, UDP_BUF, &from, &fromlen);
		if (len == -EAGAIN || len == -EWOULDBLOCK)
			break;
		if (len < 0) {
			if (len != -EMSGSIZE)
				LOG_RATELIMITED(&n->rl, "udp receive: %s", strerror((int)-len));
			continue;
		}
		if (sig_input(n->sig, n->buf, (size_t)len, (struct sockaddr *)&from) == -ENOMSG)
			n->udp_unknown++; /* the data path comes with the next issue */
	}
	arm_timer(n);
}

static void on_tun(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	ssize_t len;
	int i;

	/* No data path yet: read so the queue does not fill, count, drop. */
	for (i = 0; i < READ_BATCH; i++) {
		len = read(fd, n->buf, TUN_BUF);
		if (len <= 0)
			break;
		n->tun_rx_pkts++;
		n->tun_rx_bytes += (uint64_t)len;
	}
}

static long on_control(void *arg, const char *req, char *out, size_t cap)
{
	struct node *n = arg;

	if (!strcmp(req, "status"))
		return status_format(sig_info(n->sig), clock_now_ms(), out, cap);
	return -1;
}

/* mkdir -p for the control socket's directory, new levels mode 0700. */
static int mkdir_parents(const char *path)
{
	char dir[PATH_MAX];
	char *p;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---- lifecycle ---- */

struct node *node_new(struct event_base *base, const struct node_conf *conf)
{
	struct node *n = calloc(1, sizeof(*n));
	int err;

	if (!n)
		return NULL;
	n->base = base;
	n->conf = conf;
	n->udp = -1;
	n->buf = malloc(UDP_BUF > TUN_BUF ? UDP_BUF : TUN_BUF);
	if (!n->buf)
		goto fail;
	n->login = login_new(base, conf, on_login, n);
	if (!n->login)
		goto fail;
	n->tun = tun_new(conf->tun, conf->mtu);
	if (!n->tun)
		goto fail;
	n->udp = udp_open((uint16_t)conf->port);
	if (n->udp < 0) {
		errno = -n->udp;
		log_warn("UDP socket on port %d", conf->port);
		goto fail;
	}
	n->port = udp_port(n->udp);
	n->sig = sig_new(n->port, conf->keepalive, &node_sig_ops, n);
	n->timer = evtimer_new(base, on_timer, n);
	n->udp_ev = event_new(base, n->udp, EV_READ | EV_PERSIST, on_udp, n);
	n->tun_ev = event_new(base, tun_fd(n->tun), EV_READ | EV_PERSIST, on_tun, n);
	if (!n->sig || !n->timer || !n->udp_ev || !n->tun_ev)
		goto fail;
	err = mkdir_parents(conf->control);
	if (err < 0) {
		errno = -err;
		log_warn("cannot create the directory of %s", conf->control);
		goto fail;
	}
	n->ctl = control_new(base, conf->control, on_control, n);
	if (!n->ctl)
		goto fail;
	event_add(n->udp_ev, NULL);
	event_add(n->tun_ev, NULL);
	log_info("%s: UDP port %u, control socket %s", conf->fqdn, n->port, conf->control);
	sig_start(n->sig);
	arm_timer(n);
	return n;
fail:
	node_free(n);
	return NULL;
}

void node_stop(struct node *n)
{
	if (n && n->sig)
		sig_stop(n->sig);
}

void node_free(struct node *n)
{
	if (!n)
		return;
	control_free(n->ctl);
	if (n->timer)
		event_free(n->timer);
	if (n->udp_ev)
		event_free(n->udp_ev);
	if (n->tun_ev)
		event_free(n->tun_ev);
	login_free(n->login);
	sig_free(n->sig);
	if (n->udp >= 0)
		close(n->udp);
	if (n->tun) {
		log_info("removing TUN %s", tun_name(n->tun));
		tun_free(n->tun);
	}
	free(n->buf);
	cy_wipe(n->routes, sizeof(n->routes));
	free(n);
}
