/* The adapter's DHCPv4 server core (RFC 2131, options RFC 2132) as one
 * plain function: a client's UDP payload in, the reply (if any) and what
 * happened out.  No sockets, no clock, no file I/O: the caller passes
 * "now", sends the reply (frame_build_udp4 from cfg->server_ip:67 to
 * res->dst_ip:68 / res->dst_mac) and saves the lease table when
 * res->lease_changed.  IPv4 in HOST byte order.
 *
 * Zero trust: only MACs the lookup callback knows (enrolled general nodes)
 * get an answer, and always their own enrolled VIPv4; an unknown MAC gets
 * nothing (event DHCP_EV_UNKNOWN_MAC, so the caller logs it once).
 * No relays: a message with giaddr != 0 is dropped.
 *
 * Checked before anything else (else MALFORMED): 236-byte fixed header,
 * op BOOTREQUEST, htype 1, hlen 6, the magic cookie, options well formed
 * (no length past the end, an end option, at most one option 53, at most
 * DHCP_OPT_MAX options); option overload (52) is ignored: sname/file are
 * never parsed.  chaddr must equal the Ethernet source MAC (else
 * CHADDR_MISMATCH).
 *
 * Messages:
 *   DISCOVER   -> OFFER of the VIP (lease OFFERED for DHCP_OFFER_HOLD s,
 *                 a BOUND lease stays BOUND); IGNORED while DECLINED
 *   REQUEST    SELECTING (option 54 present): ours -> ACK if option 50 is
 *                 the VIP, else NAK; another server's -> our offer is
 *                 forgotten, no answer (IGNORED)
 *              INIT-REBOOT (no 54, option 50, ciaddr 0): 50 == VIP -> ACK
 *                 else NAK
 *              RENEWING/REBINDING (no 54, no 50, ciaddr set): ciaddr ==
 *                 VIP -> ACK (unicast to ciaddr) else NAK
 *   DECLINE    (54 ours, 50 == VIP) -> lease DECLINED for DHCP_DECLINE_HOLD s
 *   RELEASE    (ciaddr == VIP) -> lease removed
 *   INFORM     -> ACK without yiaddr and lease times, with the options
 * ACK: lease BOUND until now + lease_time.
 * Options sent: 53, 54, then (not for NAK) 51, 58 (T1 = 50%), 59 (T2 =
 * 87.5%) (not for INFORM), then 1, 3, 6, 15, 26 ordered by the client's
 * parameter request list (55) first; 12 is not echoed; end; padded to
 * DHCP_REPLY_MIN bytes.
 * Reply destination (RFC 2131 4.1): NAK -> broadcast; ciaddr != 0 ->
 * ciaddr / chaddr; broadcast flag -> 255.255.255.255 / ff:..:ff; else
 * yiaddr / chaddr. */
#ifndef CY_ADAPTER_DHCP_H
#define CY_ADAPTER_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lease.h"

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_FIXED_LEN 236               /* op .. file */
#define DHCP_REPLY_MIN 300               /* BOOTP minimum (RFC 1542 2.1) */
#define DHCP_REPLY_MAX 576               /* RFC 2131 2: what every client takes */
#define DHCP_OPT_MAX 255                 /* options walked in one message */
#define DHCP_OFFER_HOLD 60               /* seconds an OFFERED lease is kept */
#define DHCP_DECLINE_HOLD 60             /* seconds a declined address is not offered */

enum dhcp_msg_type {
	DHCPDISCOVER = 1,
	DHCPOFFER = 2,
	DHCPREQUEST = 3,
	DHCPDECLINE = 4,
	DHCPACK = 5,
	DHCPNAK = 6,
	DHCPRELEASE = 7,
	DHCPINFORM = 8,
};

enum dhcp_event {
	DHCP_EV_IGNORED,                 /* valid, but nothing to answer (res->why) */
	DHCP_EV_MALFORMED,               /* res->why says what */
	DHCP_EV_CHADDR_MISMATCH,         /* chaddr != Ethernet source MAC */
	DHCP_EV_UNKNOWN_MAC,             /* not an enrolled MAC: no lease */
	DHCP_EV_OFFERED,
	DHCP_EV_ACKED,
	DHCP_EV_NAKED,
	DHCP_EV_RELEASED,
	DHCP_EV_DECLINED,                /* log it: someone else uses that VIP */
	DHCP_EV_INFORMED,
};

struct dhcp_cfg {
	uint32_t server_ip;              /* the adapter's VIPv4 (option 54, reply source) */
	uint32_t netmask;                /* option 1: the VIP prefix's mask */
	uint32_t router;                 /* option 3 (0 = omit) */
	uint32_t dns;                    /* option 6 (0 = omit) */
	uint32_t lease_time;             /* option 51, seconds (>= 1) */
	uint16_t mtu;                    /* option 26 (0 = omit; >= 68) */
	const char *domain;              /* option 15 (NULL or "" = omit) */
	/* True, with *vip4 set, when mac is an enrolled general node. */
	bool (*lookup)(void *arg, const uint8_t mac[6], uint32_t *vip4);
	void *arg;
};

struct dhcp_result {
	enum dhcp_event ev;
	const char *why;                 /* static text for IGNORED/MALFORMED, else "" */
	uint8_t msg_type;                /* the client's message type (0 if unparsed) */
	uint32_t xid;
	uint32_t yiaddr;                 /* the VIP offered/acked/released/declined */
	bool lease_changed;              /* the table changed: lease_table_save() it */
	size_t len;                      /* reply bytes in reply[], 0 = no reply */
	uint32_t dst_ip;                 /* where to send it (host order), port 68 */
	uint8_t dst_mac[6];
	uint8_t reply[DHCP_REPLY_MAX];   /* BOOTP/DHCP message (the UDP payload) */
};

/* Handle one message from Ethernet source src_mac.  Always fills *res. */
void dhcp_handle(const struct dhcp_cfg *cfg, struct lease_table *lt, const uint8_t src_mac[6],
		 const uint8_t *msg, size_t len, int64_t now, struct dhcp_result *res);
const char *dhcp_event_str(enum dhcp_event ev);

#endif
