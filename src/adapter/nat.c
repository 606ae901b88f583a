#include "nat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "gn.h"
#include "log.h"

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"
#define IPV6_FORWARD "/proc/sys/net/ipv6/conf/all/forwarding"
#define SCRIPT_MAX 4096

struct nat {
	char table[64];
	char lan[IF_NAMESIZE];
	bool v6;                 /* the table has the IPv6 rules (and set gn6) */
	bool forward_set;        /* we set ip_forward to 1: back to 0 at stop */
	bool ingress;            /* the netdev table is installed */
};

void nat_table_name(const char *lan, char *out, size_t cap)
{
	size_t i, o = 0;
	const char *pfx = "cyphonic_adapter_";

	snprintf(out, cap, "%s", pfx);
	o = strlen(out);
	/* Interface names may hold characters nft identifiers may not. */
	for (i = 0; lan[i] && o + 1 < cap; i++)
		out[o++] = (char)((lan[i] >= 'a' && lan[i] <= 'z') || (lan[i] >= 'A' &&
				  lan[i] <= 'Z') || (lan[i] >= '0' && lan[i] <= '9') ? lan[i] : '_');
	out[o] = '\0';
}

/* What the scripts name: the table, the LAN addresses, the VIP prefixes
 * (ip6[0]: the adapter serves no IPv6). */
struct nat_names {
	char table[64], ip[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN + 4];
	char ip6[INET6_ADDRSTRLEN], net6[INET6_ADDRSTRLEN + 5];
};

static int nat_names(const struct nat_cfg *c, struct nat_names *nm)
{
	char a4[INET_ADDRSTRLEN];
	struct in_addr nw = c->vip_net;

	if (c->vip_len > 32)
		return -EINVAL;
	if (c->vip_len < 32)
		nw.s_addr &= htonl(c->vip_len ? ~0u << (32 - c->vip_len) : 0);
	nat_table_name(c->lan, nm->table, sizeof(nm->table));
	inet_ntop(AF_INET, &c->lan_ip, nm->ip, sizeof(nm->ip));
	snprintf(nm->net, sizeof(nm->net), "%s/%u", inet_ntop(AF_INET, &nw, a4, sizeof(a4)),
		 c->vip_len);
	nm->ip6[0] = nm->net6[0] = '\0';
	if (c->vip6_len) {
		char a6[INET6_ADDRSTRLEN];
		struct in6_addr nw6 = { 0 };

		if (c->vip6_len > 128)
			return -EINVAL;
		addr_in6_mask(c->vip6_net.s6_addr, c->vip6_len, nw6.s6_addr);
		inet_ntop(AF_INET6, &c->lan_ip6, nm->ip6, sizeof(nm->ip6));
		snprintf(nm->net6, sizeof(nm->net6), "%s/%u",
			 inet_ntop(AF_INET6, &nw6, a6, sizeof(a6)), c->vip6_len);
	}
	return 0;
}

/* Append to out (cap bytes, o used, n scratch) or return -ENOSPC. */
#define PUT(...)                                                       \
	do {                                                           \
		n = snprintf(out + o, cap - o, __VA_ARGS__);           \
		if (n < 0 || (size_t)n >= cap - o)                     \
			return -ENOSPC;                                \
		o += (size_t)n;                                        \
	} while (0)

int nat_script(const struct nat_cfg *c, char *out, size_t cap)
{
	struct nat_names nm;
	const char *table = nm.table, *ip = nm.ip, *net = nm.net;
	size_t o = 0;
	int n;

	if (nat_names(c, &nm) < 0)
		return -EINVAL;
	/* "add" then "delete" then the table: the add makes sure the delete
	 * finds one, so a table left by a crash is replaced in one
	 * transaction. */
	PUT("add table inet %s\ndelete table inet %s\n", table, table);
	PUT("table inet %s {\n", table);
	/* The enrolled general nodes, MAC with VIP (nat_gn_script()): what
	 * the kernel takes from the LAN in their name must come from their
	 * MAC, packet by packet. */
	PUT("  set gn4 { type ether_addr . ipv4_addr; }\n"
	    "  set gnmac { type ether_addr; }\n");
	if (nm.ip6[0])
		PUT("  set gn6 { type ether_addr . ipv6_addr; }\n");
	PUT("  chain input {\n"
	    "    type filter hook input priority -10; policy accept;\n"
	    "    iifname \"%s\" udp dport 67 counter drop\n"
	    "    iifname \"%s\" ip daddr %s udp dport 53 counter drop\n", c->lan, c->lan, ip);
	/* A VIP source from the LAN is a general node's, from its MAC, or
	 * nothing this host takes (another's VIP, or an overlay peer's,
	 * would reach its services without the tunnel's authentication). */
	PUT("    iifname \"%s\" ip saddr %s ether saddr . ip saddr != @gn4 counter drop\n",
	    c->lan, net);
	if (nm.ip6[0])
		PUT("    iifname \"%s\" ip6 saddr %s ether saddr . ip6 saddr != @gn6 counter drop\n",
		    c->lan, nm.net6);
	/* DNS over TCP (dnstcp.c): the kernel's TCP, so each segment is
	 * checked here; the MAC the listener reads from the neighbour table
	 * at accept is the one a LAN host may have announced for itself. */
	PUT("    iifname \"%s\" ip daddr %s tcp dport 53 ether saddr . ip saddr != @gn4 "
	    "counter drop\n", c->lan, ip);
	/* IPv6: DHCPv6 and DNS are ours too; and the kernel takes no Router
	 * Advertisement from a general node (RA guard: it would make one
	 * this host's router). */
	if (nm.ip6[0])
		PUT("    iifname \"%s\" udp dport 547 counter drop\n"
		    "    iifname \"%s\" ip6 daddr { %s, fe80::/10 } udp dport 53 counter drop\n"
		    "    iifname \"%s\" icmpv6 type nd-router-advert counter drop\n"
		    "    iifname \"%s\" ip6 daddr %s tcp dport 53 ether saddr . ip6 saddr != @gn6 "
		    "counter drop\n"
		    "    iifname \"%s\" ip6 daddr fe80::/10 tcp dport 53 ether saddr != @gnmac "
		    "counter drop\n",
		    c->lan, c->lan, nm.ip6, c->lan, c->lan, nm.ip6, c->lan);
	PUT("  }\n");
	/* oifname != lan: frames bridged within the LAN (a bridge with
	 * br_netfilter shows them here with the bridge as in and out) are
	 * the LAN's own business. */
	/* What arrives on the TUN came from overlay peers: it is for this
	 * host only and is never forwarded (a peer must not use the adapter
	 * as a router to the Internet or into the LAN).  Only the LAN's own
	 * general nodes are forwarded and masqueraded out, and only their
	 * replies come back in. */
	/* Into the LAN only replies (also with nat = no, where the kernel
	 * routes only when the host forwards on its own): the GNs are
	 * reached through the overlay, never routed to from the uplink. */
	PUT("  chain forward {\n"
	    "    type filter hook forward priority -10; policy accept;\n"
	    "    iifname \"%s\" counter drop\n"
	    "    oifname \"%s\" counter drop\n"
	    "    iifname \"%s\" oifname != \"%s\" ip daddr %s counter drop\n",
	    c->tun, c->tun, c->lan, c->lan, net);
	if (nm.ip6[0])
		PUT("    iifname \"%s\" oifname != \"%s\" ip6 daddr %s counter drop\n", c->lan,
		    c->lan, nm.net6);
	/* A VIP source not from that general node's MAC is never routed
	 * (nor masqueraded: nat or not). */
	PUT("    iifname \"%s\" ip saddr %s ether saddr . ip saddr != @gn4 counter drop\n",
	    c->lan, net);
	if (nm.ip6[0])
		PUT("    iifname \"%s\" ip6 saddr %s ether saddr . ip6 saddr != @gn6 counter drop\n",
		    c->lan, nm.net6);
	if (c->masquerade)
		PUT("    iifname \"%s\" ip saddr %s accept\n", c->lan, net);
	if (c->masquerade && nm.ip6[0])
		PUT("    iifname \"%s\" ip6 saddr %s accept\n", c->lan, nm.net6);
	PUT("    oifname \"%s\" ct state established,related accept\n"
	    "    oifname \"%s\" iifname != \"%s\" counter drop\n", c->lan, c->lan, c->lan);
	/* Forwarding is on only because of us: the kernel routes the GNs'
	 * traffic out and its replies in (above), and nothing else between
	 * the host's other interfaces (uplink, container bridges, VPNs).
	 * IPv4 only: we did not touch IPv6 forwarding. */
	if (nat_sets_forward(c))
		PUT("    iifname \"%s\" oifname \"%s\" accept\n"
		    "    meta nfproto ipv4 counter drop\n", c->lan, c->lan);
	PUT("  }\n");
	if (c->masquerade) {
		PUT("  chain postrouting {\n"
		    "    type nat hook postrouting priority 100; policy accept;\n"
		    "    iifname \"%s\" ip saddr %s oifname != \"%s\" counter masquerade\n",
		    c->lan, net, c->lan);
		/* The overlay's IPv6 range is a ULA: out through the uplink's
		 * address, as the IPv4 one (when the host forwards IPv6). */
		if (nm.ip6[0])
			PUT("    iifname \"%s\" ip6 saddr %s oifname != \"%s\" counter masquerade\n",
			    c->lan, nm.net6, c->lan);
		PUT("  }\n");
	}
	PUT("}\n");
	return (int)o;
}

int nat_ingress_script(const struct nat_cfg *c, char *out, size_t cap)
{
	struct nat_names nm;
	int n;

	if (nat_names(c, &nm) < 0)
		return -EINVAL;
	/* Our packet socket has seen the frame before the ingress hook: a
	 * packet for the tunnels ends here, before the kernel routes it,
	 * tracks it and drops it in forward (that rule stays as the net for
	 * whatever this one does not match). */
	char mac[18];
	size_t o = 0;

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", c->lan_mac[0], c->lan_mac[1],
		 c->lan_mac[2], c->lan_mac[3], c->lan_mac[4], c->lan_mac[5]);
	PUT("add table netdev %s\ndelete table netdev %s\n"
	    "table netdev %s {\n"
	    "  chain ingress {\n"
	    "    type filter hook ingress device \"%s\" priority -500; policy accept;\n"
	    "    ether daddr %s ip daddr %s ip daddr != %s counter drop\n",
	    nm.table, nm.table, nm.table, c->lan, mac, nm.net, nm.ip);
	if (nm.ip6[0])
		PUT("    ether daddr %s ip6 daddr %s ip6 daddr != %s counter drop\n", mac, nm.net6,
		    nm.ip6);
	PUT("  }\n}\n");
	return (int)o;
}

int nat_gn_script(const char *lan, bool v6, struct gn_table *t, char *out, size_t cap)
{
	char table[64], mac[CY_MAC_STR], a[INET6_ADDRSTRLEN];
	const char *set[3] = { "gn4", "gnmac", "gn6" };
	size_t o = 0, count = gn_count(t);
	int n;

	nat_table_name(lan, table, sizeof(table));
	for (size_t s = 0; s < (v6 ? 3u : 2u); s++) {
		size_t start, added = 0;

		PUT("flush set inet %s %s\n", table, set[s]);
		start = o;
		PUT("add element inet %s %s { ", table, set[s]);
		for (size_t i = 0; i < count; i++) {
			const struct cy_gn *g = &gn_at(t, i)->info;

			cy_mac_str(g->mac, mac);
			if (s == 0)
				PUT("%s . %s, ", mac, inet_ntop(AF_INET, &g->vip4, a, sizeof(a)));
			else if (s == 1)
				PUT("%s, ", mac);
			else if (!IN6_IS_ADDR_UNSPECIFIED(&g->vip6))
				PUT("%s . %s, ", mac, inet_ntop(AF_INET6, &g->vip6, a, sizeof(a)));
			else
				continue;
			added++;
		}
		if (added) {
			PUT("}\n");
		} else {
			o = start;               /* no element: no "add element" */
			out[o] = '\0';
		}
	}
	return (int)o;
}

static int run(const char *script)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	if (!ctx)
		return -ENOMEM;
	nft_ctx_buffer_error(ctx);
	nft_ctx_buffer_output(ctx);
	rc = nft_run_cmd_from_buffer(ctx, script);
	if (rc) {
		const char *e = nft_ctx_get_error_buffer(ctx);

		log_warnx("nftables: %s", e && e[0] ? e : "failed");
	}
	nft_ctx_free(ctx);
	return rc ? -EINVAL : 0;
}

static char sysctl_get(const char *path)
{
	char c = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c;
}

bool nat_ipv6_forwarding(void)
{
	return sysctl_get(IPV6_FORWARD) == '1';
}

static int sysctl_set(const char *path, char v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, &v, 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

/* Each table in its own transaction ("add" first, so the delete always
 * finds one): one that is missing does not keep the other. */
static void del_tables(const char *table)
{
	static const char *const family[] = { "inet", "netdev" };
	char del[256];

	for (size_t i = 0; i < 2; i++) {
		snprintf(del, sizeof(del), "add table %s %s\ndelete table %s %s\n", family[i],
			 table, family[i], table);
		if (run(del) == 0)
			log_info("nftables table %s %s deleted", family[i], table);
	}
}

struct nat *nat_new(const struct nat_cfg *cfg)
{
	struct nat *n = calloc(1, sizeof(*n));
	char *script = malloc(SCRIPT_MAX);
	struct nat_cfg c = *cfg;
	const char *fwd;
	int err;

	if (!n || !script)
		goto fail;
	nat_table_name(cfg->lan, n->table, sizeof(n->table));
	snprintf(n->lan, sizeof(n->lan), "%s", cfg->lan);
	n->v6 = cfg->vip6_len != 0;
	/* Read before anything is set: whether the host routed on its own
	 * decides what the forward chain leaves alone. */
	c.host_forwards = sysctl_get(IP_FORWARD) == '1';
	cfg = &c;
	if (nat_script(cfg, script, SCRIPT_MAX) < 0 || run(script) < 0) {
		log_warnx("cannot install nftables table %s", n->table);
		goto fail;
	}
	/* Best effort: without it (no netdev ingress hook in this kernel)
	 * the forward rule drops the same packets, later. */
	n->ingress = nat_ingress_script(cfg, script, SCRIPT_MAX) >= 0 && run(script) == 0;
	if (!n->ingress)
		log_warnx("nftables: no ingress table on %s: the kernel drops VIP packets from the "
			  "LAN in forward instead (slower)", cfg->lan);
	/* With nat = no nothing needs the kernel to route: the GNs' overlay
	 * traffic goes through the packet socket. */
	if (nat_sets_forward(cfg)) {
		err = sysctl_set(IP_FORWARD, '1');
		if (err < 0) {
			errno = -err;
			log_warn("%s = 1", IP_FORWARD);
		}
		n->forward_set = err == 0;
	}
	if (n->forward_set)
		fwd = "set by the adapter: only the LAN's traffic is forwarded";
	else if (cfg->host_forwards)
		fwd = "on already: left alone";
	else
		fwd = "off";
	log_info("nftables table inet %s installed (nat %s, ingress drop %s, ip_forward %s)",
		 n->table, cfg->masquerade ? "on" : "off", n->ingress ? "on" : "off", fwd);
	free(script);
	return n;
fail:
	free(script);
	if (n && n->table[0])
		del_tables(n->table);
	free(n);
	return NULL;
}

int nat_gns(struct nat *n, struct gn_table *t)
{
	size_t cap = 256 + gn_count(t) * 160;
	char *script = malloc(cap);
	int err;

	if (!n)
		return 0;
	if (!script)
		return -ENOMEM;
	err = nat_gn_script(n->lan, n->v6, t, script, cap);
	if (err >= 0)
		err = run(script);
	free(script);
	if (err < 0)
		log_warnx("nftables: cannot update the general nodes of table %s", n->table);
	return err < 0 ? err : 0;
}

void nat_free(struct nat *n)
{
	if (!n)
		return;
	del_tables(n->table);
	if (n->forward_set)
		sysctl_set(IP_FORWARD, '0');
	free(n);
}
