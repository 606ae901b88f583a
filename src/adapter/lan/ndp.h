/* The adapter's IPv6 Neighbour Discovery on the LAN (RFC 4861), as plain
 * functions over bytes, no sockets, no clock: parse the ICMPv6 messages
 * general nodes send, decide which Neighbour Solicitations the adapter
 * answers, and build its Neighbour and Router Advertisements.
 *
 * Parsing (ndp_parse) checks what RFC 4861 6.1.1, 6.1.2, 7.1.1 and 7.1.2
 * ask a receiver to check, else the message is MALFORMED (and dropped):
 * the IP hop limit is 255 (so it came from this link), the code is 0,
 * the ICMPv6 checksum is right, the message has its type's fixed length,
 * every option has a non-zero length and ends within the message; an NS
 * or NA target is not multicast; an NS from the unspecified address (a
 * duplicate-address probe) goes to a solicited-node address and carries
 * no source link-layer option; an NA to a multicast address is not
 * solicited; no source is multicast.  Only RS, RA, NS and NA are
 * parsed; other types are IGNORED.
 *
 * The adapter (docs/adapter.md, "IPv6"):
 *   - answers an NS for its own link-local address, and, as proxy (as it
 *     answers ARP), for any address of the overlay's IPv6 prefix that is
 *     no general node's on this LAN, asked by an enrolled general node;
 *     never for the asker's own VIPv6 nor another general node's, so
 *     that a duplicate-address probe succeeds and each answers for
 *     itself;
 *   - sends Router Advertisements, unicast to each enrolled general node
 *     (the other devices on the LAN are not its business: a multicast RA
 *     would hand them its MTU and resolver too): Managed and Other set
 *     (addresses and DNS from DHCPv6), the overlay's prefix on link but
 *     not for autoconfiguration (Prefix Information, L set, A clear), a
 *     Route Information option (RFC 4191) for it as well, RDNSS (RFC
 *     8106), the overlay's MTU, and a router lifetime only when it offers
 *     IPv6 Internet (it is then the default router);
 *   - drops Router Advertisements from general nodes (RA guard). */
#ifndef CY_ADAPTER_NDP_H
#define CY_ADAPTER_NDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NDP_RS 133
#define NDP_RA 134
#define NDP_NS 135
#define NDP_NA 136

#define NDP_NA_ROUTER 0x80
#define NDP_NA_SOLICITED 0x40
#define NDP_NA_OVERRIDE 0x20

#define NDP_FRAME_MAX 256          /* what the builders write at most */

extern const uint8_t ndp_all_nodes[16];   /* ff02::1 */

enum ndp_verdict {
	NDP_OK,
	NDP_IGNORED,                 /* an ICMPv6 type ND does not handle here */
	NDP_MALFORMED,
};

struct ndp_msg {
	uint8_t type;                /* NDP_RS ... NDP_NA */
	const char *why;             /* NDP_MALFORMED / NDP_IGNORED: static reason */
	uint8_t target[16];          /* NS, NA */
	bool has_lladdr;             /* a source (RS, RA, NS) or target (NA) */
	uint8_t lladdr[6];           /* link-layer address option */
	uint8_t na_flags;            /* NA: NDP_NA_* */
	uint16_t ra_lifetime;        /* RA: router lifetime, seconds */
};

/* Parse the ICMPv6 message icmp (len bytes) of an IPv6 packet from src to
 * dst with hop limit hlim. */
enum ndp_verdict ndp_parse(const uint8_t *icmp, size_t len, const uint8_t src[16],
			   const uint8_t dst[16], uint8_t hlim, struct ndp_msg *m);

/* The ICMPv6 checksum of icmp (its checksum field counted as it is) over
 * the IPv6 pseudo-header of src, dst: 0 when a received message is
 * right; for one being built, with its field zero, the value to store. */
uint16_t ndp_csum(const uint8_t src[16], const uint8_t dst[16], const uint8_t *icmp, size_t len);

struct ndp_cfg {
	uint8_t mac[6];              /* the adapter's LAN MAC */
	uint8_t ll[16];              /* its link-local address (fe80::/64) */
	uint8_t vip6_net[16];        /* the overlay's IPv6 prefix... */
	uint8_t vip6_len;            /* ...and its length, 1..128 */
	uint8_t dns[16];             /* RDNSS: the adapter's resolver; zero: none */
	uint16_t mtu;                /* the MTU option; 0: none */
	uint16_t router_lifetime;    /* seconds; 0: not a default router */
	uint32_t route_lifetime;     /* of the Route Information option, seconds */
	uint32_t rdnss_lifetime;     /* seconds */
	/* True when ip is a general node's VIPv6 on this LAN (may be NULL). */
	bool (*is_gn6)(void *arg, const uint8_t ip[16]);
	void *arg;
};

/* Whether ip is in cfg's overlay prefix. */
bool ndp_in_vip6(const struct ndp_cfg *cfg, const uint8_t ip[16]);

/* Whether the adapter answers ns (an NDP_NS from src): see above.
 * sender_vip6: the VIPv6 of the enrolled general node the frame's source
 * MAC is (the caller looks it up), NULL when it is none; the adapter's
 * own link-local is answered to anyone.  Without cfg->is_gn6 no overlay
 * address is answered. */
bool ndp_ns_should_answer(const struct ndp_cfg *cfg, const struct ndp_msg *ns,
			  const uint8_t src[16], const uint8_t *sender_vip6);

/* The Neighbour Advertisement answering ns, sent from src (src_mac): an
 * Ethernet frame from cfg->mac and cfg->ll, hop limit 255, Router flag
 * set; to src (Solicited set) or, for a duplicate-address probe, to
 * ff02::1 (Solicited clear); Override only for the adapter's own address;
 * with a target link-layer option.  Returns the frame length or -ENOSPC. */
ssize_t ndp_build_na(uint8_t *out, size_t cap, const struct ndp_cfg *cfg,
		     const struct ndp_msg *ns, const uint8_t src[16], const uint8_t src_mac[6]);

/* A Router Advertisement (see above) to dst / dst_mac: a soliciting
 * node, or ff02::1 / 33:33:00:00:00:01 for an unsolicited one.  Returns
 * the frame length or -ENOSPC. */
ssize_t ndp_build_ra(uint8_t *out, size_t cap, const struct ndp_cfg *cfg, const uint8_t dst[16],
		     const uint8_t dst_mac[6]);

/* fe80::/64 with the modified EUI-64 of mac (RFC 4291 2.5.1). */
void ndp_link_local(const uint8_t mac[6], uint8_t out[16]);

#endif
