/* Inside the overlay (overlay.h): its state and the calls between its
 * files, which run one way only:
 *
 *   overlay.c        the public face: routes, lookups, pings, timers, status
 *     -> overlay_input.c   packets in from either side: datagrams by type,
 *                          Data, the handshake, TUN packets, probes
 *       -> overlay_peer.c  the peer state machine: sending to a peer,
 *                          following it (roam), up / failed / selecting,
 *                          the waiters, the per-tick duties, relay liveness
 *         -> ping.c (its table), early.c (its cache), peer.c, relay.c,
 *            punch.c, tunnel.c, dpio.c
 *
 * No other part includes this header. */
#ifndef CY_NODE_OVERLAY_IMPL_H
#define CY_NODE_OVERLAY_IMPL_H

#include "early.h"
#include "eph.h"
#include "log.h"
#include "overlay.h"
#include "peer.h"
#include "ping.h"
#include "punch.h"
#include "relay.h"

/* Room to seal or open the largest message. */
#define OVERLAY_BUF (65536 + SESSION_OVERHEAD + 64)

struct overlay {
	char fqdn[CY_FQDN_MAX + 1];
	const struct overlay_ops *ops;
	void *arg;
	struct dpio_port *port;       /* the identity's UDP socket, its local side */
	struct peer_table *peers;
	uint8_t *out;                 /* OVERLAY_BUF: what is sealed or opened */
	struct overlay_drops drops;
	struct overlay_stats st;
	struct ratelimit rl;
	struct ratelimit rl_roam;     /* "endpoint a -> b": every move, at packet rate if forced */
	int64_t next_tick_ms;
	int64_t move_next_ms;         /* the earliest move probe or deadline, INT64_MAX */
	struct ping_table pings;
	struct early_cache early;
	struct relay_table *relays;   /* hellos to the TRS of relayed tunnels */
	struct punch_table *punches;  /* probes towards direct candidates */
	struct eph_spare eph;         /* the next handshake's ephemeral key */
	int64_t punch_next_ms;        /* punch_next_ms(punches), INT64_MAX */
	struct dpio_spares *spares;   /* the birthday approach's sockets (one set at a time), */
	uint64_t spares_tid;          /* ...for this tunnel's CY_PUNCH_MANY burst */
	struct sockaddr_storage observed;  /* where the NMS sees us (AF_UNSPEC: not yet) */
	uint8_t mapping;              /* enum cy_mapping: NMS and TRS views compared */
	uint8_t mapping_told;         /* ...as the last Punch Request said it */
	bool have_vips;               /* this identity's own, the only inner destinations */
	struct in_addr vip4;
	struct in6_addr vip6;
};

/* ---- overlay_peer.c ---- */

const char *peer_name(const struct peer *p, char *buf, size_t len);
/* The port datagrams of p (or NULL) to `to` leave from: p's own socket
 * (found by the birthday approach) for all but its relay, else ours. */
struct dpio_port *port_to(const struct overlay *o, const struct peer *p,
			  const struct sockaddr *to);
/* buf to to from port_to; 0 or -errno (the send failed, logged). */
int send_via(struct overlay *o, const struct peer *p, const uint8_t *buf, size_t len,
	     const struct sockaddr *to);
/* send_via, and p's send clock (if p) is reset. */
int send_to(struct overlay *o, struct peer *p, const uint8_t *buf, size_t len,
	    const struct sockaddr *to);
/* buf to p's endpoint; -EDESTADDRREQ when it has none. */
int send_peer(struct overlay *o, struct peer *p, const uint8_t *buf, size_t len);
/* Seal pkt (len bytes; NULL, 0: a keepalive) in p's tunnel and send it;
 * 0 or -errno. */
int seal_send(struct overlay *o, struct peer *p, const uint8_t *pkt, size_t len);
void roam(struct overlay *o, struct peer *p, const struct sockaddr *from);
/* p's tunnel is relayed and its data goes through the TRS now (not a
 * punched direct path). */
bool on_relay(const struct peer *p);
/* The tunnel can carry data: the queue goes, the waiters are answered. */
void peer_up(struct overlay *o, struct peer *p);
/* Selection or handshake failed (st: a resolver status). */
void peer_failed(struct overlay *o, struct peer *p, int st);
/* Ask the NMS for a route to p (by fqdn or a VIP) unless one is asked or
 * held.  0 or -errno. */
int start_selection(struct overlay *o, struct peer *p, const char *fqdn, const uint8_t *vip4,
		    const uint8_t *vip6);
const char *status_reason(int st);
/* Retries, rekeys, keepalives and dead-peer detection of p at now. */
void peer_tick(struct overlay *o, struct peer *p, int64_t now);
/* The relayed tunnels' hellos due at now (relay_tick over the peers). */
void peer_relay_tick(struct overlay *o, int64_t now);
/* This node moved: tell p from here (the move probe), or select its
 * route again when its endpoint cannot be reached from here. */
void peer_move(struct overlay *o, struct peer *p, int64_t now);
/* p echoed our move probe: it follows us. */
void peer_move_done(struct overlay *o, struct peer *p);
/* Move probes due at now, moves given up on; returns when next. */
int64_t peer_move_tick(struct overlay *o, struct peer *p, int64_t now);

/* Punching (punch.h): the route r gave p a direct candidate (or names the
 * peer directly): probe it. */
void punch_route(struct overlay *o, struct peer *p, const struct sig_route *r, int64_t now);
/* One of our probes was acknowledged from `from`: a direct path. */
void path_punched(struct overlay *o, struct peer *p, const struct sockaddr *from);
/* Ask for p's tunnel to be punched again (relayed, not punched yet). */
void punch_ask(struct overlay *o, struct peer *p);
/* Punch timers due at now. */
void peer_punch_tick(struct overlay *o, int64_t now);
/* A CY_PUNCH_MANY burst of p's just started towards cand: the spare
 * sockets open and each sends its probe. */
void punch_many(struct overlay *o, struct peer *p, const struct sockaddr *cand);
/* The spares belong to no running CY_PUNCH_MANY burst any more: closed. */
void spares_check(struct overlay *o);
/* Spare socket idx brought p's Punch: it becomes p's own socket (alt). */
bool spare_adopt(struct overlay *o, struct peer *p, unsigned idx);

/* ---- overlay_input.c ---- */

/* The route for p's tunnel id just arrived: Requests that waited for it. */
void early_replay(struct overlay *o, struct peer *p);
/* What a spare socket read (dpio_spare_fn over the overlay). */
void spare_input(void *overlay, unsigned idx, const uint8_t *buf, size_t len,
		 const struct sockaddr *from);

#endif
