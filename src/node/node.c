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
#include "cred.h"
#include "dpio.h"
#include "json.h"
#include "log.h"
#include "metrics_http.h"
#include "prom.h"
#include "ident.h"
#include "netwatch.h"
#include "node_conf.h"
#include "overlay.h"
#include "resolv_conf.h"
#include "resolver_server.h"
#include "rtsched.h"
#include "status.h"
#include "tun.h"

#define STATUS_MAX_TUNNELS 1024
#define NODE_MAX_OBS 4

struct node_obs {
	node_registered_cb cb;
	void *arg;
};

struct node {
	struct event_base *base;
	const struct node_conf *conf;
	struct tun *tun;
	struct dpio *io;            /* the data path's I/O: the TUN and every UDP port */
	struct netwatch *watch;     /* link, address and route changes: moves */
	struct cred *cred;          /* the credentials every login uses */
	struct ident *id;
	struct control *ctl;
	struct resolver_server *dns;
	struct resolv_conf_saved *resolv_saved;
	char dns_addr[ADDR_STR_MAX];
	struct sockaddr_storage ups[RESOLV_CONF_MAX_NS > NODE_MAX_UPSTREAM ?
				    RESOLV_CONF_MAX_NS : NODE_MAX_UPSTREAM];
	size_t nups;
	const char *skip_ifs[4];
	struct node_obs obs[NODE_MAX_OBS];
	node_status_cb status_cb;
	void *status_arg;
	struct metrics_http *metrics;   /* [node] metrics */
	metrics_fn metrics_cb;          /* the adapter's part of them */
	void *metrics_arg;
};

/* ---- the identity's callbacks ---- */

static void id_registered(void *arg, const struct sig_info *in)
{
	struct node *n = arg;

	tun_set_addr4(n->tun, &in->vip4, in->prefix4);
	tun_set_addr6(n->tun, &in->vip6, in->prefix6);
	for (size_t i = 0; i < NODE_MAX_OBS; i++)
		if (n->obs[i].cb)
			n->obs[i].cb(n->obs[i].arg, in);
}

static void id_dns_complete(void *arg, uint64_t token, enum resolver_status st,
			    const struct in_addr *vip4, const struct in6_addr *vip6)
{
	struct node *n = arg;

	if (n->dns)
		resolver_complete(resolver_server_resolver(n->dns), token, st, vip4, vip6);
}

/* No deliver: the identity's packets go into the TUN (dpio.h). */
static const struct ident_ops node_id_ops = {
	.registered = id_registered,
	.dns_complete = id_dns_complete,
};

/* The resolver's lookup: our own name we answer ourselves, any other
 * goes through route selection and tunnel set-up. */
static int node_lookup(void *arg, const char *fqdn, uint64_t token)
{
	struct node *n = arg;

	return ident_lookup(n->id, fqdn, token);
}

/* ---- control socket ---- */

/* The identity's tunnels as status and metrics show them (at most
 * STATUS_MAX_TUNNELS, *nt of them; free()), or NULL. */
static struct overlay_tunnel_view *node_tunnels(struct node *n, size_t *nt)
{
	struct overlay_tunnel_view *tv = calloc(STATUS_MAX_TUNNELS, sizeof(*tv));

	*nt = 0;
	if (tv) {
		*nt = overlay_tunnels(ident_overlay(n->id), tv, STATUS_MAX_TUNNELS);
		if (*nt > STATUS_MAX_TUNNELS)
			*nt = STATUS_MAX_TUNNELS;
	}
	return tv;
}

static long control_status(struct node *n, char *out, size_t cap)
{
	struct overlay_tunnel_view *tv;
	struct status_extra ex = { 0 };
	struct dpio_stats dp;
	size_t nt;
	long len;

	tv = node_tunnels(n, &nt);
	if (!tv)
		return -1;
	ex.dns = n->dns ? n->dns_addr : NULL;
	ex.tunnels = tv;
	ex.ntunnels = nt;
	ex.drops = overlay_drops(ident_overlay(n->id));
	ex.mapping = overlay_mapping(ident_overlay(n->id));
	dpio_stats_get(n->io, &dp);
	ex.dp = &dp;
	ex.sched_prio = rtsched_prio();
	ex.more = n->status_cb;
	ex.more_arg = n->status_arg;
	len = status_format_ext(ident_info(n->id), &ex, clock_now_ms(), out, cap);
	free(tv);
	return len;
}

/* ---- Prometheus metrics ([node] metrics) ---- */

static void node_metrics(void *arg, FILE *f)
{
	static const char *const paths[] = { "direct", "relay" };
	struct node *n = arg;
	struct overlay *ov = ident_overlay(n->id);
	size_t nt, on[2] = { 0, 0 };
	struct overlay_tunnel_view *tv = node_tunnels(n, &nt);
	char labels[CY_FQDN_MAX * 2 + 64];

	prom_head(f, "cyphonic_node_registered", "gauge", "1 while registered with the NMS");
	prom_sample(f, "cyphonic_node_registered", NULL,
		    ident_info(n->id)->state == SIG_REGISTERED);
	prom_counters(f, "cyphonic_node", overlay_counters, overlay_ncounters, overlay_stats(ov));
	prom_counters_labelled(f, "cyphonic_node_drops_total", "packets dropped, by reason",
			       "reason", overlay_drop_counters, overlay_ndrop_counters,
			       overlay_drops(ov));
	for (size_t i = 0; i < nt; i++)
		on[tv[i].relay ? 1 : 0]++;
	prom_head(f, "cyphonic_node_tunnels", "gauge", "tunnels held, by path");
	for (size_t i = 0; i < 2; i++) {
		labels[0] = '\0';
		prom_label(labels, sizeof(labels), "path", paths[i]);
		prom_sample(f, "cyphonic_node_tunnels", labels, on[i]);
	}
#define PER_TUNNEL(metric, field, help)                                              \
	do {                                                                           \
		prom_head(f, metric, "counter", help);                                 \
		for (size_t i = 0; i < nt; i++) {                                      \
			labels[0] = '\0';                                              \
			prom_label(labels, sizeof(labels), "peer",                     \
				   tv[i].peer ? tv[i].peer : "");                      \
			prom_sample(f, metric, labels, tv[i].field);                   \
		}                                                                      \
	} while (0)
	PER_TUNNEL("cyphonic_node_tunnel_rx_bytes_total", rx_bytes, "bytes received, by tunnel");
	PER_TUNNEL("cyphonic_node_tunnel_tx_bytes_total", tx_bytes, "bytes sent, by tunnel");
	PER_TUNNEL("cyphonic_node_tunnel_rx_packets_total", rx_packets,
		   "packets received, by tunnel");
	PER_TUNNEL("cyphonic_node_tunnel_tx_packets_total", tx_packets, "packets sent, by tunnel");
#undef PER_TUNNEL
	free(tv);
	prom_head(f, "cyphonic_node_sched_realtime", "gauge",
		  "1 while the daemon runs realtime ([node] sched_priority, or as started)");
	prom_sample(f, "cyphonic_node_sched_realtime", NULL, rtsched_prio() > 0);
	if (n->metrics_cb)
		n->metrics_cb(n->metrics_arg, f);
}

void node_on_metrics(struct node *n, metrics_fn cb, void *arg)
{
	n->metrics_cb = cb;
	n->metrics_arg = arg;
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
	else if ((err = overlay_ping_start(ident_overlay(n->id), fqdn, count, interval, &id)) < 0)
		json_str(&j, "error", strerror(-err));
	else
		json_uint(&j, "id", id);
	json_obj_end(&j);
	ident_kick(n->id);
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
	if (overlay_ping_get(ident_overlay(n->id), (uint32_t)id, &r) < 0) {
		json_str(&j, "state", "unknown");
	} else {
		json_str(&j, "state", ping_states[r.state]);
		json_str(&j, "peer", r.peer);
		json_str(&j, "path", r.have_endpoint ? (r.relay ? "relay" : "direct") : NULL);
		json_str(&j, "first_path", r.have_endpoint ? (r.first_relay ? "relay" : "direct")
							   : NULL);
		json_uint(&j, "path_changes", r.path_changes);
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
		memcpy(n->ups, c->upstream, c->nupstream * sizeof(c->upstream[0]));
		n->nups = c->nupstream;
	} else {
		memcpy(n->ups, ns, nns * sizeof(ns[0]));
		n->nups = nns;
	}
	rc.rc.upstreams = n->ups;
	rc.rc.n_upstreams = n->nups;
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

/* ---- lifecycle ---- */

struct node *node_new(struct event_base *base, const struct node_conf *conf,
		      const struct dp_conf *dp)
{
	struct node *n = calloc(1, sizeof(*n));
	struct ident_cfg ic = { .conf = conf, .ops = &node_id_ops };
	int err;

	if (!n)
		return NULL;
	n->base = base;
	n->conf = conf;
	n->cred = cred_new(conf);
	if (!n->cred)
		goto fail;
	n->tun = tun_new(conf->tun, conf->mtu, dp->vnet);
	n->io = dpio_new(base, dp);
	if (!n->tun || !n->io)
		goto fail;
	rtsched_set(conf->sched_priority);   /* refused: logged, it runs as it was */
	n->skip_ifs[0] = tun_name(n->tun);
	n->watch = netwatch_new(base);   /* without it moves go unnoticed, logged */
	ic.io = n->io;
	ic.cred = n->cred;
	ic.watch = n->watch;
	ic.port = (uint16_t)conf->port;
	ic.skip_ifs = n->skip_ifs;
	ic.arg = n;
	n->id = ident_new(base, &ic);
	if (!n->id)
		goto fail;
	err = dpio_tun_attach(n->io, tun_fd(n->tun), tun_vnet(n->tun), overlay_tun_packet,
			      ident_overlay(n->id));
	if (err < 0) {
		errno = -err;
		log_warn("reading %s", tun_name(n->tun));
		goto fail;
	}
	err = mkdir_parents(conf->control);
	if (err < 0) {
		errno = -err;
		log_warn("cannot create the directory of %s", conf->control);
		goto fail;
	}
	if (conf->has_metrics) {
		n->metrics = metrics_http_new(base, &conf->metrics, node_metrics, n);
		if (!n->metrics)
			goto fail;
	}
	n->ctl = control_new(base, conf->control, on_control, n);
	if (!n->ctl)
		goto fail;
	dns_start(n);
	log_info("%s: UDP port %u, control socket %s", conf->fqdn, ident_port(n->id),
		 conf->control);
	ident_start(n->id);
	return n;
fail:
	node_free(n);
	return NULL;
}

void node_stop(struct node *n)
{
	if (n)
		ident_stop(n->id);
}

void node_free(struct node *n)
{
	if (!n)
		return;
	control_free(n->ctl);
	metrics_http_free(n->metrics);
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
	ident_free(n->id);
	dpio_free(n->io);   /* after the identities: their ports are gone */
	netwatch_free(n->watch);
	cred_free(n->cred);
	if (n->tun) {
		log_info("removing TUN %s", tun_name(n->tun));
		tun_free(n->tun);
	}
	free(n);
}

/* ---- for the adapter ---- */

const struct sig_info *node_info(const struct node *n)
{
	return ident_info(n->id);
}

struct dpio *node_dpio(struct node *n)
{
	return n->io;
}

struct netwatch *node_netwatch(struct node *n)
{
	return n->watch;
}

struct cred *node_cred(struct node *n)
{
	return n->cred;
}

const char *node_tun_name(const struct node *n)
{
	return tun_name(n->tun);
}

int node_skip_if(struct node *n, const char *ifname)
{
	for (size_t i = 0; i + 1 < sizeof(n->skip_ifs) / sizeof(n->skip_ifs[0]); i++) {
		if (!n->skip_ifs[i]) {
			n->skip_ifs[i] = ifname;
			return 0;
		}
	}
	return -ENOSPC;
}

int node_on_registered(struct node *n, node_registered_cb cb, void *arg)
{
	for (size_t i = 0; i < NODE_MAX_OBS; i++) {
		if (!n->obs[i].cb) {
			n->obs[i].cb = cb;
			n->obs[i].arg = arg;
			if (ident_info(n->id)->state == SIG_REGISTERED)
				cb(arg, ident_info(n->id));
			return 0;
		}
	}
	return -ENOSPC;
}

void node_on_status(struct node *n, node_status_cb cb, void *arg)
{
	n->status_cb = cb;
	n->status_arg = arg;
}

size_t node_dns_upstreams(const struct node *n, const struct sockaddr_storage **ups)
{
	*ups = n->ups;
	return n->nups;
}
