#include "adapter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "dnstcp.h"
#include "dpio.h"
#include "gn.h"
#include "ident.h"
#include "json.h"
#include "lansock.h"
#include "log.h"
#include "login.h"
#include "nat.h"
#include "node.h"
#include "node_conf.h"
#include "prom.h"
#include "resolver_server.h"
#include "lanroute.h"
#include "sig.h"

/* A general node's running state: its identity and resolver. */
struct gnctx {
	struct adapter *a;
	struct gn *g;
	struct ident *id;
	struct resolver_server *dns;
	const char *skip[3];
	bool routed4, routed6;       /* its host routes through the LAN are in */
};

struct adapter {
	struct event_base *base;
	struct node *node;
	const struct node_conf *conf;
	char lan[IF_NAMESIZE];
	struct lansock *ls;
	struct dnstcp *dnstcp;      /* DNS over TCP on the LAN address */
	struct event *lan_ev, *tick;
	struct event *flush_ev;     /* writes coalesced deliveries (lansock_flush) */
	struct event *ra_ev;        /* Router Advertisements answering solicitations */
	int64_t ra_at_ms;           /* when ra_ev fires (while pending) */
	struct dpio *io;            /* the node's data path I/O: the GNs' ports */
	struct lanroute *route;
	struct nat *nat;
	struct gn_table *gns;
	bool have_ip;
	struct in_addr ip, vip_net;
	uint8_t vip_len;
	struct in6_addr ip6;        /* the node's VIPv6 (have_ip: known) */
	uint8_t vip6_len;
	bool have_list;
	bool fetching;
	int64_t next_fetch_ms, last_unknown_fetch_ms;
	uint64_t nat_gen;           /* the GN table's generation nftables holds */
	struct ratelimit rl, unknown_rl, start_rl;
	struct login *info;     /* Information Requests */
};

/* ---- general nodes' identities ---- */

static int gn_deliver(void *arg, const uint8_t *pkt, size_t len)
{
	struct gnctx *c = arg;
	struct adapter *a = c->a;
	int err = lansock_deliver(a->ls, c->g->info.mac, pkt, len);

	/* A TCP segment held for coalescing: written once the current burst
	 * of datagrams is handled (an active event runs before the next poll). */
	if (lansock_pending(a->ls) && !event_pending(a->flush_ev, EV_TIMEOUT, NULL))
		event_active(a->flush_ev, EV_TIMEOUT, 0);
	return err;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct adapter *a = arg;

	lansock_flush(a->ls);
}

static void gn_registered(void *arg, const struct sig_info *in)
{
	struct gnctx *c = arg;

	if (in->vip4.s_addr != c->g->info.vip4.s_addr)
		LOG_RATELIMITED(&c->a->rl, "%s: registered with VIPv4 other than its listed one",
				c->g->info.fqdn);
}

static void gn_dns_complete(void *arg, uint64_t token, enum resolver_status st,
			    const struct in_addr *vip4, const struct in6_addr *vip6)
{
	struct gnctx *c = arg;

	if (c->dns)
		resolver_complete(resolver_server_resolver(c->dns), token, st, vip4, vip6);
}

static const struct ident_ops gn_ident_ops = {
	.deliver = gn_deliver,
	.registered = gn_registered,
	.dns_complete = gn_dns_complete,
};

static int gn_lookup(void *arg, const char *fqdn, uint64_t token)
{
	struct gnctx *c = arg;

	return ident_lookup(c->id, fqdn, token);
}

/* The resolver's answer to a GN: a UDP frame from the LAN address. */
static void gn_dns_send(void *arg, const struct resolver_client *cl, const uint8_t *buf,
			size_t len)
{
	struct gnctx *c = arg;

	lansock_dns_reply(c->a->ls, c->g->info.mac, cl, buf, len);
}

static void gnctx_free(struct gnctx *c)
{
	if (!c)
		return;
	if (c->id) {
		ident_stop(c->id);
		ident_free(c->id);
	}
	resolver_server_free(c->dns);
	if (c->routed4)
		lanroute_del_host(c->a->route, AF_INET, &c->g->info.vip4);
	if (c->routed6)
		lanroute_del_host(c->a->route, AF_INET6, &c->g->info.vip6);
	c->g->ident = NULL;
	free(c);
}

/* The table drops a GN (revoked, or no longer listed). */
static void on_gn_drop(void *arg, struct gn *g)
{
	struct gnctx *c = g->ident;

	if (c)
		log_info("general node %s: no longer listed, stopping it", g->info.fqdn);
	gnctx_free(c);
}

/* The GN's VIPs get host routes through the LAN (once the adapter's own
 * addresses are there: the IPv6 one needs the VIPv6 range). */
static void gn_route(struct adapter *a, struct gnctx *c)
{
	if (!a->route)
		return;
	if (!c->routed4)
		c->routed4 = lanroute_add_host(a->route, AF_INET, &c->g->info.vip4) == 0;
	if (!c->routed6 && a->have_ip && a->vip6_len &&
	    !IN6_IS_ADDR_UNSPECIFIED(&c->g->info.vip6))
		c->routed6 = lanroute_add_host(a->route, AF_INET6, &c->g->info.vip6) == 0;
}

/* Start the GN's identity (login on our behalf, registration) and its
 * resolver; its VIPs get host routes through the LAN. */
static int gn_activate(struct adapter *a, struct gn *g)
{
	struct gnctx *c;
	struct ident_cfg ic = { .io = a->io, .watch = node_netwatch(a->node), .conf = a->conf,
				.cred = node_cred(a->node),
				.ops = &gn_ident_ops };
	struct resolver_server_cfg rc = { 0 };
	const struct sockaddr_storage *ups;
	char mac[18];

	/* Its last start failed (file descriptors or memory ran out): not
	 * again for every frame it sends. */
	if (clock_now_ms() < g->retry_ms)
		return -EAGAIN;

	g->active = true;
	if (g->ident)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->a = a;
	c->g = g;
	c->skip[0] = node_tun_name(a->node);
	c->skip[1] = a->lan;
	ic.gn_name = g->info.name;
	ic.fqdn = g->info.fqdn;
	ic.port = 0;
	ic.skip_ifs = c->skip;
	ic.arg = c;
	c->id = ident_new(a->base, &ic);
	if (!c->id)
		goto fail;
	rc.listen = NULL;
	rc.send_client = gn_dns_send;
	rc.send_arg = c;
	rc.rc.domain = a->conf->domain;
	rc.rc.n_upstreams = node_dns_upstreams(a->node, &ups);
	rc.rc.upstreams = ups;
	rc.rc.lookup = gn_lookup;
	rc.rc.lookup_arg = c;
	c->dns = resolver_server_new(a->base, &rc);
	if (!c->dns)
		goto fail;
	g->ident = c;
	gn_route(a, c);
	log_info("general node %s (%s): logging in and registering on its behalf, UDP port %u",
		 g->info.fqdn, cy_mac_str(g->info.mac, mac), ident_port(c->id));
	ident_start(c->id);
	return 0;
fail:
	LOG_RATELIMITED(&a->start_rl, "general node %s: cannot start its identity, "
			"trying again in %d s", g->info.fqdn, ADAPTER_ACTIVATE_RETRY_MS / 1000);
	g->retry_ms = clock_now_ms() + ADAPTER_ACTIVATE_RETRY_MS;
	gnctx_free(c);
	g->active = false;
	return -ENOMEM;
}

/* nftables' sets of the enrolled GNs follow the table: when it changed
 * (the list is fetched every refresh, mostly the same), or for a table
 * just made (fresh). */
static void nat_sync(struct adapter *a, bool fresh)
{
	uint64_t gen = gn_table_gen(a->gns);

	if (!a->nat || (!fresh && gen == a->nat_gen))
		return;
	/* failed (logged): tried again with the next list */
	a->nat_gen = nat_gns(a->nat, a->gns) == 0 ? gen : UINT64_MAX;
}

/* ---- the general-node list from the AS ---- */

typedef void (*gn_list_cb)(void *arg, int err, const struct cy_gn *list, size_t n);

static void on_list(void *arg, int err, const struct cy_gn *list, size_t n);

/* The Information Response: its entries are the table's. */
static void on_info(void *arg, const struct login_info *r)
{
	struct adapter *a = arg;

	if (r->status != LOGIN_OK) {
		log_warnx("general-node list refused or failed: %s", r->reason);
		on_list(a, r->status == LOGIN_REFUSED ? -EACCES : -EIO, NULL, 0);
		return;
	}
	on_list(a, 0, r->gn, r->ngn);
}

/* The Information Request over the AS's TLS connection (login.h); the
 * answer comes to on_info later, never from inside this call.  0 or
 * -errno. */
static int gn_list_fetch(struct adapter *a)
{
	if (!a->info && !(a->info = login_new(a->base, a->conf, node_cred(a->node), NULL, NULL)))
		return -ENOMEM;
	return login_info_start(a->info, on_info, a);
}

static void fetch_list(struct adapter *a);

static void on_list(void *arg, int err, const struct cy_gn *list, size_t n)
{
	struct adapter *a = arg;
	int skipped;

	a->fetching = false;
	a->next_fetch_ms = clock_now_ms() + (int64_t)a->conf->adapter_refresh * 1000;
	if (err < 0) {
		LOG_RATELIMITED(&a->rl, "general-node list: %s", strerror(-err));
		/* Retry sooner than the refresh when we have nothing yet. */
		if (!a->have_list)
			a->next_fetch_ms = clock_now_ms() + 2000;
		return;
	}
	skipped = gn_table_sync(a->gns, list, n);
	if (skipped < 0) {
		log_warnx("general-node list: out of memory");
		return;
	}
	nat_sync(a, false);
	if (skipped > 0)
		log_warnx("general-node list: %d entries with a duplicate MAC or VIP skipped",
			  skipped);
	if (!a->have_list || gn_count(a->gns) != n)
		log_info("general-node list: %zu general node(s)", gn_count(a->gns));
	a->have_list = true;
	/* GNs with a valid lease from before a restart start at once. */
	for (size_t i = 0; i < gn_count(a->gns); i++) {
		struct gn *g = gn_at(a->gns, i);

		if (!g->ident && (lansock_lease_left(a->ls, g->info.mac) > 0 ||
				  lansock_lease6_left(a->ls, g->info.mac) > 0))
			gn_activate(a, g);
	}
}

static void fetch_list(struct adapter *a)
{
	int err;

	if (a->fetching)
		return;
	a->fetching = true;
	err = gn_list_fetch(a);
	if (err < 0) {
		a->fetching = false;
		a->next_fetch_ms = clock_now_ms() + 2000;
	}
}

/* ---- the LAN ---- */

static void lan_gn_seen(void *arg, struct gn *g)
{
	struct adapter *a = arg;

	if (!g->ident)
		gn_activate(a, g);
}

static void lan_unknown_mac(void *arg, const uint8_t mac[6], bool asks_lease)
{
	struct adapter *a = arg;
	int64_t now = clock_now_ms();
	char s[18];

	/* Each MAC once; a flood of random ones a few lines per 10 s. */
	if (gn_unknown_first(a->gns, mac))
		LOG_RATELIMITED(&a->unknown_rl,
				"unknown MAC %s on %s: not a general node of this adapter, no lease",
				cy_mac_str(mac, s), a->lan);
	/* A device asking for a lease may have been enrolled since the last
	 * fetch.  Only then: the LAN's other hosts ARP and solicit all the
	 * time, and each fetch is a TLS login to the AS. */
	if (asks_lease && a->have_ip && now - a->last_unknown_fetch_ms >= ADAPTER_UNKNOWN_FETCH_MS) {
		a->last_unknown_fetch_ms = now;
		fetch_list(a);
	}
}

static void lan_input(void *arg, struct gn *g, const uint8_t *pkt, size_t len)
{
	struct gnctx *c = g->ident;

	if (c)
		ident_input(c->id, pkt, len);
}

static int lan_dns_query(void *arg, struct gn *g, const struct resolver_client *cl,
			 const uint8_t *q, size_t len)
{
	struct gnctx *c = g->ident;
	const struct resolver_stats *rs;
	uint64_t bad;

	if (!c || !c->dns)
		return -ENOENT;
	rs = resolver_stats(resolver_server_resolver(c->dns));
	bad = rs->malformed;
	resolver_server_query(c->dns, cl, q, len);
	return rs->malformed != bad ? -EBADMSG : 0;
}

/* DNS over TCP from peer, whose neighbour entry holds mac: the resolver
 * of the GN with that MAC, when peer is its VIPv4 or VIPv6, or a
 * link-local address (dnstcp.h); *spoof: peer is another GN's VIP. */
static struct resolver_server *lan_dns_server(void *arg, const uint8_t mac[6],
					      const struct sockaddr *peer, bool *spoof)
{
	struct adapter *a = arg;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
	struct gn *g = gn_by_mac(a->gns, mac), *owner;
	struct gnctx *c = g ? g->ident : NULL;

	if (peer->sa_family == AF_INET)
		owner = gn_by_vip4(a->gns, &sin->sin_addr);
	else if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
		owner = g;
	else
		owner = gn_by_vip6(a->gns, &sin6->sin6_addr);
	*spoof = owner && owner != g;
	return c && owner == g ? c->dns : NULL;
}

static const struct lansock_ops lan_ops = {
	.gn_seen = lan_gn_seen,
	.unknown_mac = lan_unknown_mac,
	.input = lan_input,
	.dns_query = lan_dns_query,
};

/* ra_ev at when (clock_now_ms(); 0: nothing), unless it fires sooner. */
static void ra_arm(struct adapter *a, int64_t when)
{
	int64_t ms = when - clock_now_ms();
	struct timeval tv = { .tv_sec = 0, .tv_usec = ms > 0 ? (suseconds_t)(ms * 1000) : 0 };

	if (!when || ms >= 1000 ||
	    (event_pending(a->ra_ev, EV_TIMEOUT, NULL) && a->ra_at_ms <= when))
		return;
	a->ra_at_ms = when;
	event_add(a->ra_ev, &tv);
}

static void on_lan(evutil_socket_t fd, short what, void *arg)
{
	struct adapter *a = arg;

	/* The GNs' datagrams of one read leave together (dpio.h). */
	dpio_burst_begin(a->io);
	lansock_read(a->ls);
	dpio_burst_end(a->io);
	/* A solicitation's RA, after its random delay. */
	ra_arm(a, lansock_ra_wake(a->ls));
}

/* Every RA due by now goes; the timer again for the next one when it is
 * due before the 1 s tick. */
static void on_ra(evutil_socket_t fd, short what, void *arg)
{
	struct adapter *a = arg;

	ra_arm(a, lansock_ra_tick(a->ls));
}

/* ---- the node's registration, the timer ---- */

static void on_node_registered(void *arg, const struct sig_info *in)
{
	struct adapter *a = arg;
	struct nat_cfg nc = { .lan = a->lan, .tun = node_tun_name(a->node),
			      .masquerade = a->conf->adapter_nat };
	char s[INET_ADDRSTRLEN], n4[INET_ADDRSTRLEN], s6[INET6_ADDRSTRLEN];
	struct in6_addr ll;
	bool internet6, kernel_ip6;

	if (a->have_ip && a->ip.s_addr == in->vip4.s_addr && a->vip_len == in->prefix4 &&
	    !memcmp(&a->ip6, &in->vip6, sizeof(a->ip6)) && a->vip6_len == in->prefix6)
		return;
	a->ip = in->vip4;
	a->vip_len = in->prefix4;
	a->vip_net.s_addr = in->vip4.s_addr &
			    htonl(in->prefix4 ? ~0u << (32 - (in->prefix4 > 32 ? 32 : in->prefix4)) : 0);
	a->ip6 = in->vip6;
	a->vip6_len = in->prefix6 <= 128 ? in->prefix6 : 0;
	a->have_ip = true;
	/* IPv6 Internet for the GNs: masqueraded, when the host forwards
	 * IPv6 (nat.h); RAs then name the adapter their default router. */
	internet6 = a->conf->adapter_nat && nat_ipv6_forwarding();
	log_info("adapter: LAN %s address %s and %s, VIPv4 range %s/%u, VIPv6 /%u, "
		 "IPv6 Internet %s", a->lan, inet_ntop(AF_INET, &a->ip, s, sizeof(s)),
		 inet_ntop(AF_INET6, &a->ip6, s6, sizeof(s6)),
		 inet_ntop(AF_INET, &a->vip_net, n4, sizeof(n4)), a->vip_len, a->vip6_len,
		 internet6 ? "yes" : a->conf->adapter_nat ? "no (the host does not forward IPv6)"
							  : "no");
	lanroute_set_lan_ip(a->route, AF_INET, &a->ip);
	/* With IPv6 off on the LAN the kernel cannot hold it: lansock
	 * answers for it then. */
	kernel_ip6 = a->vip6_len && lanroute_set_lan_ip(a->route, AF_INET6, &a->ip6) == 0;
	for (size_t i = 0; i < gn_count(a->gns); i++) {
		struct gnctx *c = gn_at(a->gns, i)->ident;

		if (c)
			gn_route(a, c);
	}
	nat_free(a->nat);
	nc.lan_ip = a->ip;
	memcpy(nc.lan_mac, lansock_mac(a->ls), sizeof(nc.lan_mac));
	nc.vip_net = a->vip_net;
	nc.vip_len = a->vip_len;
	nc.lan_ip6 = a->ip6;
	nc.vip6_net = a->ip6;
	nc.vip6_len = a->vip6_len;
	a->nat = nat_new(&nc);
	nat_sync(a, true);
	lansock_set_addr(a->ls, &a->ip, a->vip_len);
	dnstcp_set_addr(a->dnstcp, AF_INET, &a->ip);
	if (a->vip6_len) {
		lansock_set_addr6(a->ls, &a->ip6, a->vip6_len, kernel_ip6, internet6);
		dnstcp_set_addr(a->dnstcp, AF_INET6, &a->ip6);
		if (lansock_kernel_ll6(a->ls, &ll))
			dnstcp_set_addr(a->dnstcp, AF_INET6, &ll);
	}
	fetch_list(a);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct adapter *a = arg;

	if (a->have_ip && clock_now_ms() >= a->next_fetch_ms)
		fetch_list(a);
	ra_arm(a, lansock_ra_tick(a->ls));
	lansock_tick(a->ls);
}

/* ---- status ---- */

/* The adapter's part of [node] metrics: its general nodes. */
static void on_metrics(void *arg, FILE *f)
{
	struct adapter *a = arg;
	uint64_t reg = 0, leases = 0, leases6 = 0;

	for (size_t i = 0; i < gn_count(a->gns); i++) {
		struct gn *g = gn_at(a->gns, i);
		struct gnctx *c = g->ident;

		reg += c && ident_info(c->id)->state == SIG_REGISTERED;
		leases += lansock_lease_left(a->ls, g->info.mac) >= 0;
		leases6 += lansock_lease6_left(a->ls, g->info.mac) >= 0;
	}
	prom_head(f, "cyphonic_adapter_general_nodes", "gauge",
		  "general nodes of this adapter the AS lists");
	prom_sample(f, "cyphonic_adapter_general_nodes", NULL, gn_count(a->gns));
	prom_head(f, "cyphonic_adapter_general_nodes_registered", "gauge",
		  "general nodes registered with the NMS");
	prom_sample(f, "cyphonic_adapter_general_nodes_registered", NULL, reg);
	prom_head(f, "cyphonic_adapter_dhcp_leases", "gauge", "general nodes holding a DHCP lease");
	prom_sample(f, "cyphonic_adapter_dhcp_leases", NULL, leases);
	prom_head(f, "cyphonic_adapter_dhcp6_leases", "gauge",
		  "general nodes holding a DHCPv6 lease");
	prom_sample(f, "cyphonic_adapter_dhcp6_leases", NULL, leases6);
}

static void on_status(void *arg, struct json *j)
{
	struct adapter *a = arg;
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], mac[18];

	json_arr_begin(j, "general_nodes");
	for (size_t i = 0; i < gn_count(a->gns); i++) {
		struct gn *g = gn_at(a->gns, i);
		struct gnctx *c = g->ident;
		int64_t left = lansock_lease_left(a->ls, g->info.mac);
		int64_t left6 = lansock_lease6_left(a->ls, g->info.mac);

		json_obj_begin(j, NULL);
		json_str(j, "fqdn", g->info.fqdn);
		json_str(j, "mac", cy_mac_str(g->info.mac, mac));
		json_str(j, "vip4", inet_ntop(AF_INET, &g->info.vip4, v4, sizeof(v4)));
		json_str(j, "vip6", inet_ntop(AF_INET6, &g->info.vip6, v6, sizeof(v6)));
		if (left >= 0)
			json_int(j, "lease", left);
		else
			json_null(j, "lease");
		if (left6 >= 0)
			json_int(j, "lease6", left6);
		else
			json_null(j, "lease6");
		json_bool(j, "registered", c && ident_info(c->id)->state == SIG_REGISTERED);
		json_str(j, "state", c ? sig_state_str(ident_info(c->id)->state) : "idle");
		json_uint(j, "tunnels", c ? ident_tunnels(c->id) : 0);
		json_uint(j, "port", c ? ident_port(c->id) : 0);
		json_obj_end(j);
	}
	json_arr_end(j);
	lansock_status(a->ls, j);
	dnstcp_status(a->dnstcp, j);
}

/* ---- lifecycle ---- */

struct adapter *adapter_new(struct event_base *base, struct node *node,
			    const struct node_conf *conf)
{
	struct adapter *a = calloc(1, sizeof(*a));
	struct lansock_cfg lc = { .ops = &lan_ops };
	struct dnstcp_cfg dc = { .server_for = lan_dns_server };
	struct timeval tv = { 1, 0 };
	char mstr[CY_MAC_STR];

	if (!a)
		return NULL;
	a->base = base;
	a->node = node;
	a->io = node_dpio(node);
	a->conf = conf;
	snprintf(a->lan, sizeof(a->lan), "%s", conf->adapter_lan);
	a->gns = gn_table_new(on_gn_drop, a);
	if (!a->gns)
		goto fail;
	lc.ifname = a->lan;
	lc.leases = conf->adapter_leases;
	lc.lease_time = (uint32_t)conf->adapter_lease_time;
	lc.mtu = conf->mtu;
	lc.domain = conf->domain;
	lc.gns = a->gns;
	lc.dp = dpio_conf(a->io);
	lc.arg = a;
	a->ls = lansock_new(&lc);
	if (!a->ls)
		goto fail;
	dc.ifname = a->lan;
	dc.arg = a;
	a->dnstcp = dnstcp_new(base, &dc);
	if (!a->dnstcp)
		goto fail;
	a->route = lanroute_new(a->lan);
	if (!a->route)
		goto fail;
	a->lan_ev = event_new(base, lansock_fd(a->ls), EV_READ | EV_PERSIST, on_lan, a);
	a->tick = event_new(base, -1, EV_PERSIST, on_tick, a);
	a->flush_ev = event_new(base, -1, 0, on_flush, a);
	a->ra_ev = event_new(base, -1, 0, on_ra, a);
	if (!a->lan_ev || !a->tick || !a->flush_ev || !a->ra_ev || event_add(a->lan_ev, NULL) < 0 ||
	    event_add(a->tick, &tv) < 0)
		goto fail;
	node_skip_if(node, a->lan);
	node_on_status(node, on_status, a);
	node_on_metrics(node, on_metrics, a);
	node_on_registered(node, on_node_registered, a);
	log_info("adapter: serving general nodes on %s (MAC %s)", a->lan,
		 cy_mac_str(lansock_mac(a->ls), mstr));
	return a;
fail:
	log_warnx("adapter: cannot serve %s", conf->adapter_lan);
	adapter_free(a);
	return NULL;
}

void adapter_stop(struct adapter *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < gn_count(a->gns); i++) {
		struct gnctx *c = gn_at(a->gns, i)->ident;

		if (c)
			ident_stop(c->id);
	}
}

void adapter_free(struct adapter *a)
{
	if (!a)
		return;
	node_on_status(a->node, NULL, NULL);
	node_on_metrics(a->node, NULL, NULL);
	if (a->lan_ev)
		event_free(a->lan_ev);
	if (a->tick)
		event_free(a->tick);
	if (a->ra_ev)
		event_free(a->ra_ev);
	dnstcp_free(a->dnstcp);
	/* GN identities stop before the routes go (their drop callback). */
	login_free(a->info);
	gn_table_free(a->gns);
	if (a->flush_ev)         /* after the GNs: none can deliver any more */
		event_free(a->flush_ev);
	nat_free(a->nat);
	lanroute_free(a->route);
	lansock_free(a->ls);
	free(a);
}
