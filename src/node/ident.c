#include "ident.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "dpio.h"
#include "localaddr.h"
#include "log.h"
#include "login.h"
#include "netwatch.h"
#include "node_conf.h"
#include "overlay.h"

/* Where the identity stands: what a move changes (docs/mobility.md). */
struct ident_place {
	size_t naddrs;
	struct sockaddr_storage addrs[SIG_MAX_ADDRS];
	struct sockaddr_storage src[LOGIN_MAX_NMS];   /* route source towards each NMS */
};

struct ident {
	struct event_base *base;
	const struct node_conf *conf;
	char fqdn[CY_FQDN_MAX + 1];
	const char *const *skip_ifs;
	const struct ident_ops *ops;
	void *arg;
	struct dpio_port *port;     /* its UDP socket (dpio.h) */
	struct event *timer;
	struct login *login;
	struct sig *sig;
	struct overlay *ov;
	struct netwatch *watch;
	struct ident_place place;
	bool placed;
};

/* ---- timer ---- */

static void arm_timer(struct ident *id)
{
	int64_t at = sig_next_ms(id->sig);

	if (id->ov && overlay_next_ms(id->ov) < at)
		at = overlay_next_ms(id->ov);
	clock_timer_at(id->timer, at);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ident *id = arg;

	sig_timeout(id->sig);
	overlay_timeout(id->ov);
	arm_timer(id);
}

/* ---- signaling callbacks ---- */

static int ops_send(void *arg, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	struct ident *id = arg;

	return dpio_send(id->port, buf, len, to);
}

static void ops_login(void *arg)
{
	struct ident *id = arg;

	log_info("logging in to the AS as %s", id->fqdn);
	login_start(id->login);
}

static size_t ops_local_addrs(void *arg, struct sockaddr_storage *out, size_t max)
{
	struct ident *id = arg;
	const struct sig_info *in = sig_info(id->sig);

	return localaddr_collect(id->skip_ifs, in->have_vips ? &in->vip4 : NULL,
				 in->have_vips ? &in->vip6 : NULL, out, max);
}

/* ---- moving ---- */

static void place_get(struct ident *id, struct ident_place *pl)
{
	const struct sockaddr_storage *nms;
	size_t n = sig_nms(id->sig, &nms);

	memset(pl, 0, sizeof(*pl));
	pl->naddrs = ops_local_addrs(id, pl->addrs, SIG_MAX_ADDRS);
	for (size_t i = 0; i < n && i < LOGIN_MAX_NMS; i++)
		(void)localaddr_route_src((const struct sockaddr *)&nms[i], &pl->src[i]);
}

/* The first NMS endpoint the place has a route to, -1 for none. */
static int place_nms(const struct ident_place *pl)
{
	for (int i = 0; i < LOGIN_MAX_NMS; i++)
		if (pl->src[i].ss_family)
			return i;
	return -1;
}

/* The identity moved: the NMS and every peer learn where it is now.
 * Route requests go to an NMS endpoint there is a route to (an IPv6 one
 * on an IPv6-only network) without waiting for the registration's answer. */
static void handover(struct ident *id, const char *why)
{
	int nms = place_nms(&id->place);

	log_info("%s: %s: registering again and telling the peers", id->fqdn, why);
	if (nms >= 0)
		sig_use_nms(id->sig, (size_t)nms);
	sig_handover(id->sig);
	overlay_handover(id->ov);
	arm_timer(id);
}

/* rtnetlink saw links, addresses or routes change (netwatch.h): a move
 * when the addresses we would report, or the way to the NMS, differ. */
static void on_net_change(void *arg)
{
	struct ident *id = arg;
	struct ident_place now;

	place_get(id, &now);
	if (!memcmp(&now, &id->place, sizeof(now)))
		return;
	/* No way to any NMS (every link down, or a new one still coming
	 * up): nothing to tell anyone yet.  The place stays as it was, so
	 * the change is acted on once a way exists. */
	if (place_nms(&now) < 0)
		return;
	id->place = now;
	/* Registering or logging in carries on from the new address by
	 * itself (sig_handover does nothing then); the peers learn it now. */
	handover(id, "addresses or routes changed");
}

static void ops_observed_moved(void *arg, const struct sig_info *in)
{
	struct ident *id = arg;

	/* Our addresses are the same, our NAPT's mapping is not (it
	 * restarted, or dropped the mapping): the peers must learn it. */
	log_info("%s: the NMS sees us at a new endpoint: telling the peers", id->fqdn);
	overlay_set_observed(id->ov, (const struct sockaddr *)&in->observed);
	overlay_handover(id->ov);
	arm_timer(id);
}

static void ops_registered(void *arg, const struct sig_info *in)
{
	struct ident *id = arg;

	if (in->have_vips)
		overlay_set_vips(id->ov, &in->vip4, &in->vip6);
	if (in->have_observed)
		overlay_set_observed(id->ov, (const struct sockaddr *)&in->observed);
	/* Where we first registered from; from then on only a noticed change
	 * moves it (on_net_change), so a Registration Response that comes
	 * while the next change is being applied cannot swallow that change. */
	if (!id->placed) {
		place_get(id, &id->place);
		id->placed = true;
	}
	if (id->ops->registered)
		id->ops->registered(id->arg, in);
}

static void ops_route_ready(void *arg, const struct sig_route *r)
{
	struct ident *id = arg;
	char p[ADDR_STR_MAX];

	/* Never the key. */
	log_info("%s: route to %s: tunnel id %016" PRIx64 ", role %s, path %s, peer %s",
		 id->fqdn, r->peer_fqdn[0] ? r->peer_fqdn : "?", r->tunnel_id,
		 r->role == CY_ROLE_INITIATOR ? "initiator" : "responder",
		 r->path == CY_PATH_RELAY ? "relay" : "direct",
		 addr_str((const struct sockaddr *)&r->peer, p));
	overlay_route_ready(id->ov, r);
}

static void ops_route_failed(void *arg, uint32_t req_id, enum cy_result result,
			     const char *reason)
{
	struct ident *id = arg;

	log_info("%s: route request %" PRIu32 " failed: %s%s%s", id->fqdn, req_id,
		 cy_result_str(result), reason && reason[0] ? ": " : "", reason ? reason : "");
	overlay_route_failed(id->ov, req_id, result);
}

static void ops_punch_direction(void *arg, uint64_t tunnel_id, const char *peer_fqdn,
				const struct sockaddr *cand, uint8_t mode)
{
	struct ident *id = arg;

	overlay_punch_direction(id->ov, tunnel_id, peer_fqdn, cand, mode);
	arm_timer(id);
}

static void ops_teardown(void *arg, uint64_t tunnel_id, const char *peer_fqdn,
			 const char *reason, enum cy_result result)
{
	struct ident *id = arg;

	overlay_teardown(id->ov, tunnel_id, peer_fqdn, reason, result);
	arm_timer(id);
}

static const struct sig_ops ident_sig_ops = {
	.send = ops_send,
	.login = ops_login,
	.local_addrs = ops_local_addrs,
	.registered = ops_registered,
	.route_ready = ops_route_ready,
	.route_failed = ops_route_failed,
	.observed_moved = ops_observed_moved,
	.punch_direction = ops_punch_direction,
	.teardown = ops_teardown,
};

/* ---- overlay callbacks ---- */

static int ov_direction_request(void *arg, const char *fqdn, const uint8_t *vip4,
				const uint8_t *vip6, uint32_t *req_id)
{
	struct ident *id = arg;
	int err = sig_direction_request(id->sig, fqdn, vip4, vip6, req_id);

	/* The request's retransmission is due earlier than anything armed. */
	arm_timer(id);
	return err;
}

static void ov_dns_complete(void *arg, uint64_t token, enum resolver_status st,
			    const struct in_addr *vip4, const struct in6_addr *vip6)
{
	struct ident *id = arg;

	if (id->ops->dns_complete)
		id->ops->dns_complete(id->arg, token, st, vip4, vip6);
}

static int ov_punch_request(void *arg, const char *peer_fqdn, uint64_t tunnel_id,
			    const uint8_t ticket[CY_TICKET_LEN], uint8_t mapping)
{
	struct ident *id = arg;

	return sig_punch_request(id->sig, peer_fqdn, tunnel_id, ticket, mapping);
}

static const struct overlay_ops ident_ov_ops = {
	.direction_request = ov_direction_request,
	.dns_complete = ov_dns_complete,
	.punch_request = ov_punch_request,
};

static void on_login(void *arg, const struct login_result *r)
{
	struct ident *id = arg;

	sig_login_done(id->sig, r);
	arm_timer(id);
}

/* ---- socket ---- */

/* One datagram of a burst on the identity's port (dpio.h). */
static void on_datagram(void *arg, uint8_t *buf, size_t len, const struct sockaddr *from)
{
	struct ident *id = arg;

	if (overlay_udp_input(id->ov, buf, len, from) == 0)
		return;
	if (sig_input(id->sig, buf, len, from) == -ENOMSG)
		overlay_count_malformed(id->ov);
}

/* After a burst of datagrams: handshakes and Route Directions may have
 * moved the timers. */
static void after_read(void *arg)
{
	arm_timer(arg);
}

/* ---- API ---- */

void ident_input(struct ident *id, const uint8_t *pkt, size_t len)
{
	overlay_tun_input(id->ov, pkt, len);
}

int ident_lookup(struct ident *id, const char *fqdn, uint64_t token)
{
	const struct sig_info *in = sig_info(id->sig);
	int err;

	if (!strcasecmp(fqdn, id->fqdn)) {
		if (!in->have_vips)
			return -EAGAIN;
		if (id->ops->dns_complete)
			id->ops->dns_complete(id->arg, token, RESOLVER_OK, &in->vip4, &in->vip6);
		return 0;
	}
	err = overlay_lookup(id->ov, fqdn, token);
	arm_timer(id);
	return err;
}

void ident_kick(struct ident *id)
{
	arm_timer(id);
}

struct ident *ident_new(struct event_base *base, const struct ident_cfg *cfg)
{
	struct ident *id = calloc(1, sizeof(*id));
	struct overlay_cfg oc = { .ops = &ident_ov_ops };
	struct dpio_port_cfg pc = { .input = on_datagram, .after_read = after_read };
	const char *fqdn = cfg->fqdn ? cfg->fqdn : cfg->conf->fqdn;

	if (!id)
		return NULL;
	id->base = base;
	id->conf = cfg->conf;
	id->skip_ifs = cfg->skip_ifs;
	id->ops = cfg->ops;
	id->arg = cfg->arg;
	snprintf(id->fqdn, sizeof(id->fqdn), "%s", fqdn);
	if (cfg->gn_name) {
		id->login = login_new_for(base, cfg->conf, cfg->cred, cfg->gn_name, on_login, id);
	} else {
		id->login = login_new(base, cfg->conf, cfg->cred, on_login, id);
	}
	if (!id->login)
		goto fail;
	/* The ident must be whole before its port can read. */
	id->timer = evtimer_new(base, on_timer, id);
	if (!id->timer)
		goto fail;
	pc.port = cfg->port;
	pc.name = id->fqdn;
	pc.arg = id;
	pc.deliver = cfg->ops->deliver;
	pc.deliver_arg = cfg->arg;
	id->port = dpio_port_new(cfg->io, &pc);
	if (!id->port)
		goto fail;
	oc.local_fqdn = id->fqdn;
	oc.port = id->port;
	oc.arg = id;
	id->ov = overlay_new(&oc);
	id->sig = sig_new(dpio_port_number(id->port), cfg->conf->keepalive, &ident_sig_ops, id);
	if (!id->ov || !id->sig)
		goto fail;
	id->watch = cfg->watch;
	if (id->watch && netwatch_add(id->watch, on_net_change, id) < 0)
		goto fail;
	return id;
fail:
	ident_free(id);
	return NULL;
}

void ident_start(struct ident *id)
{
	sig_start(id->sig);
	arm_timer(id);
}

void ident_stop(struct ident *id)
{
	if (id && id->sig)
		sig_stop(id->sig);
}

void ident_free(struct ident *id)
{
	if (!id)
		return;
	netwatch_del(id->watch, id);
	dpio_port_free(id->port);   /* first: nothing more is read */
	if (id->timer)
		event_free(id->timer);
	login_free(id->login);
	overlay_free(id->ov);
	sig_free(id->sig);
	free(id);
}

struct sig *ident_sig(struct ident *id) { return id->sig; }
const struct sig_info *ident_info(const struct ident *id) { return sig_info(id->sig); }
struct overlay *ident_overlay(struct ident *id) { return id->ov; }
size_t ident_tunnels(const struct ident *id) { return overlay_tunnels(id->ov, NULL, 0); }
uint16_t ident_port(const struct ident *id) { return dpio_port_number(id->port); }
const char *ident_fqdn(const struct ident *id) { return id->fqdn; }
