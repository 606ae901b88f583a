#include "node.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "control.h"
#include "json.h"
#include "localaddr.h"
#include "log.h"
#include "login.h"
#include "node_conf.h"
#include "overlay.h"
#include "resolv_conf.h"
#include "resolver_server.h"
#include "sig.h"
#include "status.h"
#include "tun.h"
#include "udp.h"

#define UDP_BUF 65536
#define TUN_BUF 65536
/* Read until EAGAIN, but yield to the other events after this many. */
#define READ_BATCH 1024
#define SOCK_BUF (4 << 20)          /* UDP socket buffers: bursts at line rate */
#define STATUS_MAX_TUNNELS 1024

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
	struct overlay *ov;
	struct resolver_server *dns;
	struct resolv_conf_saved *resolv_saved;
	char dns_addr[ADDR_STR_MAX];
	uint8_t *buf;
	struct ratelimit rl;
	uint64_t tun_write_err;
};

/* ---- timers ---- */

static void arm_timer(struct node *n)
{
	int64_t at = sig_next_ms(n->sig), now = clock_now_ms(), d;
	struct timeval tv;

	if (n->ov && overlay_next_ms(n->ov) < at)
		at = overlay_next_ms(n->ov);

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
	overlay_timeout(n->ov);
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
	char p[ADDR_STR_MAX];

	/* Never the key. */
	log_info("route to %s: tunnel id %016" PRIx64 ", role %s, path %s, peer %s",
		 r->peer_fqdn[0] ? r->peer_fqdn : "?", r->tunnel_id,
		 r->role == CY_ROLE_INITIATOR ? "initiator" : "responder",
		 r->path == CY_PATH_RELAY ? "relay" : "direct",
		 addr_str((const struct sockaddr *)&r->peer, p));
	overlay_route_ready(n->ov, r);
}

static void ops_route_failed(void *arg, uint32_t req_id, enum cy_result result,
			     const char *reason)
{
	struct node *n = arg;

	log_info("route request %" PRIu32 " failed: %s%s%s", req_id, cy_result_str(result),
		 reason && reason[0] ? ": " : "", reason ? reason : "");
	overlay_route_failed(n->ov, req_id, result);
}

static const struct sig_ops node_sig_ops = {
	.send = ops_send,
	.login = ops_login,
	.local_addrs = ops_local_addrs,
	.registered = ops_registered,
	.route_ready = ops_route_ready,
	.route_failed = ops_route_failed,
};

/* ---- overlay callbacks ---- */

static int ov_tun_write(void *arg, const uint8_t *pkt, size_t len)
{
	struct node *n = arg;

	if (write(tun_fd(n->tun), pkt, len) < 0) {
		n->tun_write_err++;
		if (errno != EAGAIN)
			LOG_RATELIMITED(&n->rl, "TUN write: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int ov_direction_request(void *arg, const char *fqdn, const uint8_t *vip4,
				const uint8_t *vip6, uint32_t *req_id)
{
	struct node *n = arg;

	return sig_direction_request(n->sig, fqdn, vip4, vip6, req_id);
}

static void ov_dns_complete(void *arg, uint64_t token, enum resolver_status st,
			    const struct in_addr *vip4, const struct in6_addr *vip6)
{
	struct node *n = arg;

	if (n->dns)
		resolver_complete(resolver_server_resolver(n->dns), token, st, vip4, vip6);
}

static const struct overlay_ops node_ov_ops = {
	.send = ops_send,
	.tun_write = ov_tun_write,
	.direction_request = ov_direction_request,
	.dns_complete = ov_dns_complete,
};

/* The resolver's lookup: our own name we answer ourselves, any other
 * goes through route selection and tunnel set-up. */
static int node_lookup(void *arg, const char *fqdn, uint64_t token)
{
	struct node *n = arg;
	const struct sig_info *in = sig_info(n->sig);
	int err;

	if (!strcasecmp(fqdn, n->conf->fqdn)) {
		if (!in->have_vips)
			return -EAGAIN;
		resolver_complete(resolver_server_resolver(n->dns), token, RESOLVER_OK, &in->vip4,
				  &in->vip6);
		return 0;
	}
	err = overlay_lookup(n->ov, fqdn, token);
	arm_timer(n);
	return err;
}

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
		if (overlay_udp_input(n->ov, n->buf, (size_t)len, (struct sockaddr *)&from) == 0)
			continue;
		if (sig_input(n->sig, n->buf, (size_t)len, (struct sockaddr *)&from) == -ENOMSG)
			overlay_count_malformed(n->ov);
	}
	arm_timer(n);
}

static void on_tun(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	ssize_t len;
	int i;

	for (i = 0; i < READ_BATCH; i++) {
		len = read(fd, n->buf, TUN_BUF);
		if (len <= 0)
			break;
		overlay_tun_input(n->ov, n->buf, (size_t)len);
	}
	arm_timer(n);
}

static long control_status(struct node *n, char *out, size_t cap)
{
	struct overlay_tunnel_view *tv;
	struct status_extra ex = { 0 };
	size_t nt;
	long len;

	tv = calloc(STATUS_MAX_TUNNELS, sizeof(*tv));
	if (!tv)
		return -1;
	nt = overlay_tunnels(n->ov, tv, STATUS_MAX_TUNNELS);
	ex.dns = n->dns ? n->dns_addr : NULL;
	ex.tunnels = tv;
	ex.ntunnels = nt < STATUS_MAX_TUNNELS ? nt : STATUS_MAX_TUNNELS;
	ex.drops = overlay_drops(n->ov);
	len = status_format_ext(sig_info(n->sig), &ex, clock_now_ms(), out, cap);
	free(tv);
	return len;
}

/* "ping NAME COUNT INTERVAL_MS" -> {"id": N} (or {"error": ...});
 * "ping-result ID" -> the state, and once done the path and the RTTs. */
static long control_ping(struct node *n, const char *args, char *out, size_t cap)
{
	char name[CY_FQDN_MAX + 2], fqdn[CY_FQDN_MAX + 1];
	unsigned count, interval;
	struct json j;
	uint32_t id = 0;
	size_t len;
	int err;

	if (sscanf(args, "%254s %u %u", name, &count, &interval) != 3)
		return -1;
	len = strlen(name);
	if (len && name[len - 1] == '.')
		name[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	/* A bare label is a name in our own domain. */
	if (len > CY_FQDN_MAX)
		return -1;
	if (strchr(name, '.'))
		memcpy(fqdn, name, len + 1);
	else if (snprintf(fqdn, sizeof(fqdn), "%s.%s", name, n->conf->domain) >= (int)sizeof(fqdn))
		return -1;
	json_init(&j, out, cap - 1);
	json_obj_begin(&j, NULL);
	if (!strcmp(fqdn, n->conf->fqdn))
		json_str(&j, "error", "that is this node");
	else if ((err = overlay_ping_start(n->ov, fqdn, count, interval, &id)) < 0)
		json_str(&j, "error", strerror(-err));
	else
		json_uint(&j, "id", id);
	json_obj_end(&j);
	arm_timer(n);
	return json_finish(&j);
}

static const char *const ping_states[] = {
	[PING_WAIT_TUNNEL] = "waiting", [PING_RUNNING] = "running",
	[PING_DONE] = "done", [PING_FAILED] = "failed",
};

static long control_ping_result(struct node *n, const char *args, char *out, size_t cap)
{
	struct overlay_ping_result r;
	char ep[ADDR_STR_MAX];
	struct json j;
	unsigned long id;
	char *end;

	id = strtoul(args, &end, 10);
	if (end == args || *end || id > UINT32_MAX)
		return -1;
	json_init(&j, out, cap - 1);
	json_obj_begin(&j, NULL);
	if (overlay_ping_get(n->ov, (uint32_t)id, &r) < 0) {
		json_str(&j, "state", "unknown");
	} else {
		json_str(&j, "state", ping_states[r.state]);
		json_str(&j, "peer", r.peer);
		json_str(&j, "path", r.have_endpoint ? (r.relay ? "relay" : "direct") : NULL);
		json_str(&j, "endpoint", r.have_endpoint ?
			 addr_str((const struct sockaddr *)&r.endpoint, ep) : NULL);
		json_uint(&j, "sent", r.sent);
		json_uint(&j, "received", r.received);
		/* microseconds: the JSON writer has integers only */
		json_uint(&j, "rtt_min_us", (uint64_t)(r.rtt_min_ms * 1000));
		json_uint(&j, "rtt_avg_us", (uint64_t)(r.rtt_avg_ms * 1000));
		json_uint(&j, "rtt_max_us", (uint64_t)(r.rtt_max_ms * 1000));
		json_str(&j, "error", r.error);
	}
	json_obj_end(&j);
	return json_finish(&j);
}

static long on_control(void *arg, const char *req, char *out, size_t cap)
{
	struct node *n = arg;

	if (cap < 2)
		return -1;
	if (!strcmp(req, "status"))
		return control_status(n, out, cap);
	if (!strncmp(req, "ping ", 5))
		return control_ping(n, req + 5, out, cap);
	if (!strncmp(req, "ping-result ", 12))
		return control_ping_result(n, req + 12, out, cap);
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

/* ---- resolver ---- */

/* The DNS server at [resolver] listen, forwarding other names to the
 * configured upstreams, else to the nameservers of /etc/resolv.conf (with
 * system = yes: those it replaced).  A resolver that cannot start is
 * logged and left out; the rest of the node works without it. */
static void dns_start(struct node *n)
{
	const struct node_conf *c = n->conf;
	struct sockaddr_storage ns[RESOLV_CONF_MAX_NS], local;
	struct resolver_server_cfg rc = { 0 };
	size_t nns = 0;
	socklen_t llen = sizeof(local);
	int err;

	if (c->dns_system) {
		err = resolv_conf_install(RESOLV_CONF_PATH, (const struct sockaddr *)&c->dns_listen,
					  ns, RESOLV_CONF_MAX_NS, &nns, &n->resolv_saved);
		if (err < 0) {
			errno = -err;
			log_warn("cannot install the resolver in %s", RESOLV_CONF_PATH);
			nns = 0;
		} else {
			log_info("installed as the system's resolver in %s", RESOLV_CONF_PATH);
		}
	} else if (!c->nupstream) {
		err = resolv_conf_read(RESOLV_CONF_PATH, ns, RESOLV_CONF_MAX_NS);
		nns = err > 0 ? (size_t)err : 0;
	}
	if (c->nupstream) {
		rc.rc.upstreams = c->upstream;
		rc.rc.n_upstreams = c->nupstream;
	} else {
		rc.rc.upstreams = ns;
		rc.rc.n_upstreams = nns;
	}
	rc.listen = (const struct sockaddr *)&c->dns_listen;
	rc.rc.domain = c->domain;
	rc.rc.listen = rc.listen;
	rc.rc.lookup = node_lookup;
	rc.rc.lookup_arg = n;
	n->dns = resolver_server_new(n->base, &rc);
	if (!n->dns) {
		log_warnx("no resolver: cannot serve DNS on %s",
			  addr_str((const struct sockaddr *)&c->dns_listen, n->dns_addr));
		return;
	}
	resolver_server_local(n->dns, &local, &llen);
	addr_str((const struct sockaddr *)&local, n->dns_addr);
	log_info("resolver on %s (UDP and TCP) for *.%s, %zu upstream(s)", n->dns_addr, c->domain,
		 rc.rc.n_upstreams);
}

static void sock_buffers(int fd)
{
	int v = SOCK_BUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

/* ---- lifecycle ---- */

struct node *node_new(struct event_base *base, const struct node_conf *conf)
{
	struct node *n = calloc(1, sizeof(*n));
	struct overlay_cfg oc = { .local_fqdn = conf->fqdn, .ops = &node_ov_ops };
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
	sock_buffers(n->udp);
	oc.arg = n;
	n->ov = overlay_new(&oc);
	if (!n->ov)
		goto fail;
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
	dns_start(n);
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
	resolver_server_free(n->dns);
	if (n->resolv_saved) {
		int err = resolv_conf_restore(n->resolv_saved);

		if (err < 0) {
			errno = -err;
			log_warn("restoring %s", RESOLV_CONF_PATH);
		} else {
			log_info("restored %s", RESOLV_CONF_PATH);
		}
	}
	if (n->timer)
		event_free(n->timer);
	if (n->udp_ev)
		event_free(n->udp_ev);
	if (n->tun_ev)
		event_free(n->tun_ev);
	login_free(n->login);
	overlay_free(n->ov);
	sig_free(n->sig);
	if (n->udp >= 0)
		close(n->udp);
	if (n->tun) {
		log_info("removing TUN %s", tun_name(n->tun));
		tun_free(n->tun);
	}
	free(n->buf);
	free(n);
}
