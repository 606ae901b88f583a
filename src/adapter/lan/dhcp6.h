/* The adapter's DHCPv6 server core (RFC 8415) as one plain function, as
 * dhcp.h is for DHCPv4: a client's UDP payload in (port 546 to 547), the
 * reply (if any) and what happened out.  No sockets, no clock, no file
 * I/O: the caller passes "now", sends the reply from its link-local
 * address, port 547, to the client's source address, port 546, and saves
 * the lease table (lease6_*) when res->lease_changed.
 *
 * Zero trust: the client is the frame's source MAC, the address the LAN
 * delivered the message from, as for DHCPv4 and the data path; only MACs
 * the lookup callback knows (enrolled general nodes) get an answer, and
 * always their own enrolled VIPv6; an unknown MAC gets nothing
 * (DHCP6_EV_UNKNOWN_MAC).  The link-layer address a DUID may carry is
 * the client's own claim and names a device, often by another
 * interface's address (RFC 8415 11): it is neither trusted nor required
 * to match.  No relays: relay messages are dropped.
 *
 * Checked before anything else (else MALFORMED): the 4-byte header, a
 * message type a server takes, options well formed (none past the end, at
 * most DHCP6_OPT_MAX), exactly one Client Identifier of 3..130 bytes
 * (at most one in Information-request, where it may be left out, RFC
 * 7844), the Server Identifier as RFC 8415 16 has it: none in Solicit,
 * Rebind and Confirm; ours in Request, Renew, Decline and Release
 * (another server's: IGNORED, that one answers); none or ours in
 * Information-request, which carries no IA_NA.
 *
 * Messages:
 *   SOLICIT    -> ADVERTISE (preference 255) of the VIP in the first
 *                 IA_NA; with Rapid Commit: REPLY (Rapid Commit), BOUND;
 *                 with no address to give (no IA_NA, or declined): an
 *                 ADVERTISE with NoAddrsAvail
 *   REQUEST, RENEW, REBIND -> REPLY with the VIP, BOUND for the lifetime
 *   RELEASE    -> REPLY Success, the lease removed
 *   DECLINE    -> REPLY Success, the VIP DECLINED for DHCP6_DECLINE_HOLD s,
 *                 meanwhile every IA_NA is answered NoAddrsAvail
 *   CONFIRM    -> REPLY Success when every address in its IA_NAs is the
 *                 client's VIP, NotOnLink otherwise (a re-enrolled node
 *                 learns at once that its old address is gone)
 *   INFORMATION-REQUEST -> REPLY with the DNS options
 * An IA_NA is answered with its IAID, T1 = 50% and T2 = 80% of the
 * lifetime (preferred = valid), the VIP, and every other address the
 * client named in it with lifetimes 0 (RFC 8415 18.3.4: stop using it).
 * Only the first IA_NA gets the VIP; further ones (up to DHCP6_IA_MAX)
 * NoAddrsAvail.  IA_TA and IA_PD are not served (left out).  A lease
 * that cannot be stored (the table full) is not given: no answer.  Options
 * sent: Server Identifier (DUID-LL of the adapter's MAC), Client
 * Identifier (echoed), Preference (ADVERTISE), Rapid Commit, IA_NA,
 * Status Code, and DNS servers (23) and the domain list (24) when the
 * Option Request asks for them. */
#ifndef CY_ADAPTER_DHCP6_H
#define CY_ADAPTER_DHCP6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lease.h"

#define DHCP6_CLIENT_PORT 546
#define DHCP6_SERVER_PORT 547
#define DHCP6_REPLY_MAX 1024             /* a 130-byte DUID, 8 addresses, a long domain */
#define DHCP6_OPT_MAX 64                 /* options walked in one message */
#define DHCP6_IA_ADDRS_MAX 8             /* addresses of an IA_NA looked at */
#define DHCP6_IA_MAX 4                   /* IA_NAs of a message answered */
#define DHCP6_DECLINE_HOLD 60            /* seconds a declined address is not given */

enum dhcp6_type {
	DHCP6_SOLICIT = 1,
	DHCP6_ADVERTISE = 2,
	DHCP6_REQUEST = 3,
	DHCP6_CONFIRM = 4,
	DHCP6_RENEW = 5,
	DHCP6_REBIND = 6,
	DHCP6_REPLY = 7,
	DHCP6_RELEASE = 8,
	DHCP6_DECLINE = 9,
	DHCP6_INFORMATION_REQUEST = 11,
	DHCP6_RELAY_FORW = 12,
};

enum dhcp6_event {
	DHCP6_EV_IGNORED,                /* valid, nothing to answer (res->why) */
	DHCP6_EV_MALFORMED,              /* res->why says what */
	DHCP6_EV_UNKNOWN_MAC,            /* not an enrolled MAC: nothing */
	DHCP6_EV_ADVERTISED,
	DHCP6_EV_BOUND,                  /* REPLY with the VIP */
	DHCP6_EV_NOADDR,                 /* REPLY/ADVERTISE without it: declined */
	DHCP6_EV_RELEASED,
	DHCP6_EV_DECLINED,               /* log it: someone else uses that VIP */
	DHCP6_EV_CONFIRMED,              /* Success or NotOnLink */
	DHCP6_EV_INFORMED,
};

struct dhcp6_cfg {
	uint8_t mac[6];                  /* the adapter's: its DUID-LL */
	uint8_t dns[16];                 /* option 23; zero: omit */
	const char *domain;              /* option 24; NULL or "": omit */
	uint32_t lifetime;               /* preferred = valid lifetime, s (>= 1) */
	/* True, with *vip6 set, when mac is an enrolled general node. */
	bool (*lookup)(void *arg, const uint8_t mac[6], uint8_t vip6[16]);
	void *arg;
};

struct dhcp6_result {
	enum dhcp6_event ev;
	const char *why;                 /* static text for IGNORED/MALFORMED, else "" */
	uint8_t msg_type;                /* the client's (0 if unparsed) */
	uint32_t xid;                    /* its transaction id (24 bits) */
	uint8_t vip6[16];                /* the VIP given, released or declined */
	bool lease_changed;              /* lease_table_save() it */
	size_t len;                      /* reply bytes in reply[], 0 = none */
	uint8_t reply[DHCP6_REPLY_MAX];
};

/* Handle one message from Ethernet source src_mac.  Always fills *res. */
void dhcp6_handle(const struct dhcp6_cfg *cfg, struct lease_table *lt,
		  const uint8_t src_mac[6], const uint8_t *msg, size_t len, int64_t now,
		  struct dhcp6_result *res);
const char *dhcp6_event_str(enum dhcp6_event ev);

#endif
