/* The adapter's kernel side of the LAN (libnftables, sysctl): keeps the
 * kernel from also handling what the adapter takes from the LAN, and NATs
 * the general nodes' Internet traffic out of the uplink.  One table per
 * LAN interface, created at start, deleted at stop:
 *
 *   table inet cyphonic_adapter_<lan>
 *     input:  iif lan udp dport 67 drop                (our DHCP server)
 *             iif lan ip daddr LANIP udp dport 53 drop (our DNS)
 *     forward: iif lan ip daddr VIPNET drop            (we tunnel these)
 *              iif lan ip saddr VIPNET oif != lan,tun accept      (nat)
 *     postrouting (nat): ip saddr VIPNET oif != lan,tun masquerade (nat)
 *
 *   table netdev cyphonic_adapter_<lan>
 *     ingress (lan): ether daddr LANMAC ip daddr VIPNET ip daddr != LANIP drop
 *                    (the packet socket has read it: the kernel need not
 *                    route, track and drop it too)
 *
 * and net.ipv4.ip_forward = 1 (the previous value restored at stop). */
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
	bool masquerade;                /* [adapter] nat = yes */
};

/* The nft scripts for cfg into out (for the tests): length or -ENOSPC.
 * The inet table is required; the netdev one is installed in a
 * transaction of its own, best effort (a kernel without the ingress hook
 * still gets the rest). */
int nat_script(const struct nat_cfg *cfg, char *out, size_t cap);
int nat_ingress_script(const struct nat_cfg *cfg, char *out, size_t cap);
/* The table's name for lan into out. */
void nat_table_name(const char *lan, char *out, size_t cap);

struct nat;

/* Creates (replaces) the table and sets ip_forward; NULL on failure
 * (logged). */
struct nat *nat_new(const struct nat_cfg *cfg);
/* Deletes the table, restores ip_forward. */
void nat_free(struct nat *n);

#endif
