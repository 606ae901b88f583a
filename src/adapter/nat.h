/* The adapter's kernel side of the LAN (libnftables, sysctl): keeps the
 * kernel from also handling what the adapter takes from the LAN, and NATs
 * the general nodes' Internet traffic out of the uplink.  One table per
 * LAN interface, created at start, deleted at stop:
 *
 *   table inet cyphonic_adapter_<lan>
 *     sets gn4 (MAC . VIPv4), gn6 (MAC . VIPv6), gnmac (MAC): the enrolled
 *          general nodes (nat_gns())
 *     input:  iif lan udp dport 67 drop                (our DHCP server)
 *             iif lan ip daddr LANIP udp dport 53 drop (our DNS)
 *             iif lan ip daddr LANIP tcp dport 53, MAC . source not in gn4: drop
 *               (the same for the VIPv6 with gn6, the link-local with gnmac)
 *             iif lan udp dport 547 drop               (our DHCPv6 server)
 *             iif lan ip6 daddr {LANIP6, fe80::/10} udp dport 53 drop
 *             iif lan icmpv6 nd-router-advert drop     (RA guard)
 *     forward: iif tun drop, oif tun drop              (peers: this host only)
 *              iif lan oif != lan ip daddr VIPNET drop (we tunnel these)
 *              iif lan oif != lan ip6 daddr VIP6NET drop
 *              iif lan ip saddr VIPNET, MAC . source not in gn4: drop
 *              iif lan ip6 saddr VIP6NET, MAC . source not in gn6: drop
 *              iif lan ip saddr VIPNET accept          (nat: the GNs out)
 *              iif lan ip6 saddr VIP6NET accept        (nat)
 *              oif lan ct established,related accept   (their replies)
 *              oif lan iif != lan drop                 (nothing else into the LAN)
 *              iif lan oif lan accept, ipv4 drop       (forwarding ours: nothing else)
 *     postrouting (nat): ip saddr VIPNET oif != lan masquerade
 *                        ip6 saddr VIP6NET oif != lan masquerade
 *
 *   table netdev cyphonic_adapter_<lan>
 *     ingress (lan): ether daddr LANMAC ip daddr VIPNET ip daddr != LANIP drop
 *                    ether daddr LANMAC ip6 daddr VIP6NET ip6 daddr != LANIP6 drop
 *                    (the packet socket has read it: the kernel need not
 *                    route, track and drop it too)
 *
 * IPv4 forwarding: the general nodes' overlay traffic never needs it (the
 * AF_PACKET socket takes it from the LAN and writes it back), only their
 * NATed Internet traffic does.  So with nat = no net.ipv4.ip_forward is
 * left alone; with nat = yes it is set to 1 when it was 0 (and set back
 * at stop), and then the forward chain drops every other IPv4 packet the
 * kernel would now route (the host did not route before the adapter
 * came: it must not start routing between its other interfaces).  A host
 * that forwarded already keeps forwarding between its other interfaces:
 * only the TUN and LAN rules apply.
 *
 * IPv6 forwarding is the host's: turning it on makes Linux stop taking
 * Router Advertisements on the uplink (accept_ra 1), which would cut an
 * RA-configured adapter off.  So the general nodes' IPv6 goes out to the
 * Internet (masqueraded) only when the operator forwards IPv6
 * (net.ipv6.conf.all.forwarding = 1, accept_ra = 2 on such an uplink);
 * nat_ipv6_forwarding() says whether it does. */
#ifndef CY_ADAPTER_NAT_H
#define CY_ADAPTER_NAT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nat_cfg {
	const char *lan;                /* LAN interface */
	const char *tun;                /* the node's TUN device */
	struct in_addr lan_ip;          /* the adapter's VIPv4 */
	uint8_t lan_mac[6];             /* the LAN interface's MAC */
	struct in_addr vip_net;         /* the cloud's VIPv4 range */
	uint8_t vip_len;
	struct in6_addr lan_ip6;        /* the adapter's VIPv6 ... */
	struct in6_addr vip6_net;       /* ... the cloud's VIPv6 range ... */
	uint8_t vip6_len;               /* ... and its length; 0: no IPv6 rules */
	bool masquerade;                /* [adapter] nat = yes */
	bool host_forwards;             /* net.ipv4.ip_forward was 1 before the adapter
					 * (nat_new reads it; set by hand for the tests) */
};

/* The adapter turns IPv4 forwarding on itself, and then forwards nothing
 * but the general nodes' own traffic out of the LAN and its replies. */
static inline bool nat_sets_forward(const struct nat_cfg *cfg)
{
	return cfg->masquerade && !cfg->host_forwards;
}

/* The nft scripts for cfg into out (for the tests): length or -ENOSPC.
 * The inet table is required; the netdev one is installed in a
 * transaction of its own, best effort (a kernel without the ingress hook
 * still gets the rest). */
int nat_script(const struct nat_cfg *cfg, char *out, size_t cap);
int nat_ingress_script(const struct nat_cfg *cfg, char *out, size_t cap);
/* The table's name for lan into out. */
void nat_table_name(const char *lan, char *out, size_t cap);

struct gn_table;

/* The script that makes the sets gn4, gnmac (and gn6 with v6) hold the
 * general nodes of t: MAC . VIPv4, MAC, MAC . VIPv6 (for the tests):
 * length or -ENOSPC. */
int nat_gn_script(const char *lan, bool v6, struct gn_table *t, char *out, size_t cap);

/* Whether the host forwards IPv6 (net.ipv6.conf.all.forwarding). */
bool nat_ipv6_forwarding(void);

struct nat;

/* Creates (replaces) the table and sets ip_forward when
 * nat_sets_forward() (cfg->host_forwards is read from the system, the
 * caller's value ignored); NULL on failure (logged). */
struct nat *nat_new(const struct nat_cfg *cfg);
/* Make the table's sets hold exactly the general nodes of t (after
 * nat_new(), and whenever the list changes).  0 or -errno (logged).
 * n NULL: nothing. */
int nat_gns(struct nat *n, struct gn_table *t);
/* Deletes the table, sets ip_forward back to 0 when nat_new() set it. */
void nat_free(struct nat *n);

#endif
