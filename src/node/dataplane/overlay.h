/* One identity's overlay: peers (peer.h), their tunnels (tunnel.h) and the
 * packet path between the local side and the UDP socket, as plain
 * functions over bytes.  The data path's I/O (dpio.h) feeds it TUN packets
 * and datagrams, and it seals and delivers through its port there; the
 * identity (ident.c) gives it routes from the signaling and DNS lookups,
 * and it answers through ops (ask for a route, complete a lookup).  The
 * unit tests wire two overlays back to back through ports with no socket.
 *
 *   TUN -> overlay_tun_input: destination VIP -> peer -> tunnel_seal -> send
 *          no tunnel yet: queue (PEER_QUEUE) + Direction Request by VIP
 *   UDP -> overlay_udp_input: 0x30/0x31 by tunnel id -> handshake;
 *          0x40 by receiver index -> tunnel_open -> inner source must be
 *          the peer's VIP -> dpio_deliver (or a probe, below)
 *   route_ready -> tunnel_new; the initiator sends its Request at once
 *   tunnel usable -> flush the queue, complete DNS lookups, start pings
 *
 * Probes (cyphonic ping): inner packets with version nibble 0, echoed by
 * the peer's daemon (ping.h, docs/tunnel.md "Overlay ping"). */
#ifndef CY_NODE_OVERLAY_H
#define CY_NODE_OVERLAY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "counters.h"
#include "resolver.h"
#include "sig.h"

#define OVERLAY_TICK_MS 1000
#define OVERLAY_KEEPALIVE_MS 25000   /* idle tunnel: keep NAPT mappings open */
/* Two routes of different kinds this close (both ends asked at once): the
 * larger tunnel id wins, unless the newer route names the peer at another
 * address (it moved and asked again: overlay.c route_replaces). */
#define OVERLAY_RACE_MS 3000
/* WireGuard's passive keepalive and dead-peer rule: Data received and
 * nothing sent back for 10 s: send a keepalive; Data sent and nothing
 * received for 15 s: the peer lost the tunnel (restart), select again. */
#define OVERLAY_ACK_MS 10000
#define OVERLAY_DEAD_MS 15000
/* A relayed tunnel on a punched direct path: Data sent and nothing
 * received for this long, and it goes back to the relay (docs/nat.md). */
#define OVERLAY_DIRECT_DEAD_MS 2000
/* ...and for this long after it took the punched path, Data still coming
 * through the relay (sent before the peer switched too) does not pull it
 * back there. */
#define OVERLAY_PUNCH_SETTLE_MS 1000
/* A move (docs/mobility.md): the move probe is repeated this often until
 * the peer echoes it, and the route selected again when it has not after
 * OVERLAY_MOVE_WAIT_MS (the peer moved too, or the path type must change). */
#define OVERLAY_MOVE_RETRY_MS 100
#define OVERLAY_MOVE_WAIT_MS 300
#define OVERLAY_PINGS 8              /* pings at once */
#define OVERLAY_PING_MAX 100         /* probes per ping */
#define OVERLAY_PING_WAIT_MS 1000    /* for replies after the last probe */
#define OVERLAY_PING_KEEP_MS 30000   /* a finished ping's result is kept */

#define PROBE_LEN 20
#define PROBE_REQUEST 1
#define PROBE_REPLY 2

struct overlay_ops {
	/* sig_direction_request(): 0 with *req_id set, or -errno. */
	int (*direction_request)(void *arg, const char *fqdn, const uint8_t *vip4,
				 const uint8_t *vip6, uint32_t *req_id);
	/* resolver_complete() (optional). */
	void (*dns_complete)(void *arg, uint64_t token, enum resolver_status st,
			     const struct in_addr *vip4, const struct in6_addr *vip6);
	/* sig_punch_request() (optional: without it a relayed tunnel punches
	 * again towards the candidate it has). */
	int (*punch_request)(void *arg, const char *peer_fqdn, uint64_t tunnel_id,
			     const uint8_t ticket[CY_TICKET_LEN], uint8_t mapping);
};

struct dpio_port;

struct overlay_cfg {
	const char *local_fqdn;
	struct dpio_port *port;       /* sends and deliveries (dpio.h) */
	const struct overlay_ops *ops;
	void *arg;
};

/* Dropped datagrams and packets, by reason. */
struct overlay_drops {
	uint64_t replay;      /* Data counter seen before; stale or replayed Request */
	uint64_t auth;        /* Data or handshake tag did not verify */
	uint64_t unknown;     /* no tunnel for this receiver index or tunnel id */
	uint64_t malformed;   /* not a plausible message, bad inner packet */
	uint64_t bad_src;     /* inner source address is not the peer's VIP */
	uint64_t bad_dst;     /* inner destination is not this identity's VIP */
	uint64_t no_route;    /* TUN packet: no peer, negative cache, queue full */
	uint64_t expired;     /* Data on a session past its limits */
	uint64_t stale_move;  /* authentic but not the newest, from an address the peer is not at */
	uint64_t punch_early; /* Punch for a tunnel not held: its route is still on the way */
	uint64_t policy;      /* inner packet outside the flows the access policy allows */
};

/* The table of those counters (counters.h), as `cyphonic status` shows them. */
extern const struct counter overlay_drop_counters[];
extern const size_t overlay_ndrop_counters;

struct overlay_stats {
	uint64_t tun_rx, udp_rx_data, hs_completed, routes, routes_ignored, probes_echoed;
	uint64_t moves, moves_confirmed, moves_reselected;
	uint64_t punched, punch_failed, path_fallbacks, punch_dirs_ignored;
	uint64_t requests_on_probe;             /* our Request sent again on the responder's probe */
	uint64_t requests_missed;               /* tunnels given up: no Request came to answer */
	uint64_t teardowns, teardowns_ignored;  /* Tunnel Teardowns acted on, or not */
	uint64_t regrants;                      /* tunnels selected again at CY_GRANT_LIFETIME_S */
	uint64_t keys_ahead, keys_made_now;     /* handshakes' ephemeral keys: made ahead, or then */
};

/* The table of those counters (counters.h), as the metrics show them. */
extern const struct counter overlay_counters[];
extern const size_t overlay_ncounters;

/* What status shows per tunnel. */
struct overlay_tunnel_view {
	const char *peer;
	bool have_vip4, have_vip6;
	struct in_addr vip4;
	struct in6_addr vip6;
	bool relay;                   /* its data goes through the TRS now */
	const char *found;            /* how: "address", "punch" or "relay" */
	const char *state;
	struct sockaddr_storage endpoint;
	uint64_t tunnel_id;
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	int64_t age_s;
};

enum overlay_ping_state { PING_WAIT_TUNNEL, PING_RUNNING, PING_DONE, PING_FAILED };

struct overlay_ping_result {
	enum overlay_ping_state state;
	char peer[CY_FQDN_MAX + 1];
	bool relay;                   /* the path of the last probe */
	bool first_relay;             /* ...and of the first */
	unsigned path_changes;        /* times the path changed under the ping */
	struct sockaddr_storage endpoint;
	bool have_endpoint;
	unsigned sent, received;
	double rtt_min_ms, rtt_avg_ms, rtt_max_ms;
	const char *error;            /* PING_FAILED */
};

struct overlay;

struct overlay *overlay_new(const struct overlay_cfg *cfg);
void overlay_free(struct overlay *o);

/* A route from the signaling (sig_ops.route_ready / route_failed). */
void overlay_route_ready(struct overlay *o, const struct sig_route *r);
void overlay_route_failed(struct overlay *o, uint32_t req_id, enum cy_result result);

/* A datagram on the node's socket.  -ENOMSG when it is not a tunnel
 * message (type 0x30/0x31/0x40): give it to sig_input; otherwise 0 (taken
 * or dropped and counted). */
int overlay_udp_input(struct overlay *o, const uint8_t *buf, size_t len,
		      const struct sockaddr *from);
/* sig_input did not want it either. */
void overlay_count_malformed(struct overlay *o);
/* A packet from the local side (TUN, general node); within a burst
 * (dpio_burst_begin) its datagram leaves with the others at the end. */
void overlay_tun_input(struct overlay *o, const uint8_t *pkt, size_t len);
/* The same as a dp_pkt_fn (batch.h) over an overlay: the TUN's input. */
void overlay_tun_packet(void *overlay, uint8_t *pkt, size_t len);

/* The resolver's lookup callback: 0 (completed now or later) or -errno
 * (answer SERVFAIL now). */
int overlay_lookup(struct overlay *o, const char *fqdn, uint64_t token);

/* This identity moved (its addresses or routes changed, or the NMS sees
 * it elsewhere): every tunnel is told from where it is now (relay hellos
 * first for relayed ones), and one whose peer cannot be reached from
 * here any more is selected again at once. */
void overlay_handover(struct overlay *o);

/* A Punch Direction from the NMS (sig_ops.punch_direction): a relayed
 * tunnel tunnel_id to peer_fqdn still on its relay punches towards cand
 * at once, as mode says (enum cy_punch_mode).  Anything else is ignored:
 * a node punches only for a tunnel it holds, to that tunnel's peer. */
void overlay_punch_direction(struct overlay *o, uint64_t tunnel_id, const char *peer_fqdn,
			     const struct sockaddr *cand, uint8_t mode);

/* A Tunnel Teardown from the NMS (sig_ops.teardown): our tunnel
 * tunnel_id to peer_fqdn lost its authorisation (a node revoked, the
 * access policy changed) or its route selection failed after we had our
 * answer (the CN refused or never confirmed): its keys go now, what waits
 * on it is answered as result says (as a failed selection is), and the
 * peer's name or VIP gets the NMS's new answer after PEER_NEG_MS.
 * Anything else is ignored (counted). */
void overlay_teardown(struct overlay *o, uint64_t tunnel_id, const char *peer_fqdn,
		      const char *reason, enum cy_result result);

/* Where the NMS sees this identity (its registration).  Compared with
 * where each TRS sees it (Relay Acks), it tells how the NAPT in front of
 * it maps (enum cy_mapping), which the Punch Requests carry. */
void overlay_set_observed(struct overlay *o, const struct sockaddr *observed);
uint8_t overlay_mapping(const struct overlay *o);

/* Timers: run what is due at clock_now_ms(); overlay_next_ms() says when
 * next (clock_now_ms() time). */
void overlay_timeout(struct overlay *o);
int64_t overlay_next_ms(const struct overlay *o);

/* cyphonic ping: start count probes (1..OVERLAY_PING_MAX) every
 * interval_ms to fqdn; *id names the ping.  0, -EBUSY (OVERLAY_PINGS
 * running), -EINVAL, or what the route request returned. */
int overlay_ping_start(struct overlay *o, const char *fqdn, unsigned count,
		       unsigned interval_ms, uint32_t *id);
/* 0 with *res filled (a finished ping is forgotten once read), -ENOENT. */
int overlay_ping_get(struct overlay *o, uint32_t id, struct overlay_ping_result *res);

/* Tunnels for status: up to max views, returns how many exist. */
size_t overlay_tunnels(const struct overlay *o, struct overlay_tunnel_view *v, size_t max);
const struct overlay_drops *overlay_drops(const struct overlay *o);
/* This identity's VIPs (from its registration): the only destinations a
 * received inner packet may have.  Until they are set, none is delivered. */
void overlay_set_vips(struct overlay *o, const struct in_addr *vip4, const struct in6_addr *vip6);
const struct overlay_stats *overlay_stats(struct overlay *o);

/* Tests. */
struct peer_table *overlay_peers(struct overlay *o);

#endif
