/* The adapter: cyphonicd with an [adapter] section.  It extends the node
 * (node.h) with the general nodes (GN) on its LAN interface:
 *
 *  - once the node's own identity is registered, its VIPv4 becomes the LAN
 *    address (/32), the nftables table goes in (nat.h) and the GN list is
 *    fetched from the AS (again every `refresh` s, and when an unknown MAC
 *    asks for a lease, at most once per ADAPTER_UNKNOWN_FETCH_MS);
 *  - every frame of the LAN is read from an AF_PACKET socket (lansock.h)
 *    and classified: DHCP -> the DHCP server (lease file), ARP -> answered
 *    for peer VIPs, DNS to the LAN address -> that GN's resolver, packets
 *    from a GN to a peer VIP -> that GN's identity (ident.h: its own login
 *    on the adapter's behalf, registration, tunnels, UDP port); packets
 *    from a GN's tunnels are written to its MAC; the rest is the kernel's;
 *  - `cyphonic status` gets "general_nodes" and "lan" (counters).
 * Everything it set up is removed by adapter_free(). */
#ifndef CY_ADAPTER_ADAPTER_H
#define CY_ADAPTER_ADAPTER_H

#define ADAPTER_UNKNOWN_FETCH_MS 5000
#define ADAPTER_ACTIVATE_RETRY_MS 5000   /* a general node whose identity failed to start */

struct event_base;
struct node;
struct node_conf;
struct adapter;

/* NULL on failure (logged).  node and conf outlive the adapter. */
struct adapter *adapter_new(struct event_base *base, struct node *node,
			    const struct node_conf *conf);
/* Deregister the general nodes (best effort), before the node stops. */
void adapter_stop(struct adapter *a);
/* Removes the LAN address, host routes and the nftables table. */
void adapter_free(struct adapter *a);

#endif
