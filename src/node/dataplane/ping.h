/* The overlay's pings (cyphonic ping): a table of up to OVERLAY_PINGS
 * running pings, the probes they send and the replies they count.  Plain
 * functions over the table and over probe bytes; the overlay seals and
 * sends (overlay.c, overlay_input.c).
 *
 * A probe is an inner packet whose first byte has version nibble 0, never
 * an IP packet (docs/tunnel.md, "Overlay ping"):
 *   type (1: echo request, 2: echo reply) | 0 (3) | id (32) | seq (32) | t (64)
 * The peer's daemon echoes a request back with type 2 through the same
 * tunnel; the sender's RTT is now - t (t is its own monotonic ns, opaque
 * to the peer).
 *
 * Id 0 is no ping's: it is the move probe (docs/mobility.md), sent by a
 * node that moved to tell the peer where it is now.  It is a Data packet
 * like any other (End Key, replay window), so the peer follows it only
 * when it is authentic and the newest; the echo tells the mover that the
 * new path works both ways. */
#ifndef CY_NODE_PING_H
#define CY_NODE_PING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "overlay.h"

struct overlay_ping {
	bool used;
	uint32_t id;
	enum overlay_ping_state state;
	char fqdn[CY_FQDN_MAX + 1];
	unsigned count, interval_ms, sent, received;
	int64_t next_ms;        /* next probe, or the end of the wait */
	int64_t done_ms;
	uint64_t rtt_sum_ns, rtt_min_ns, rtt_max_ns;
	uint8_t seen[(OVERLAY_PING_MAX + 7) / 8];
	const char *error;
	bool relay, have_endpoint;
	bool first_relay;       /* the path of the first probe */
	unsigned path_changes;  /* probes sent on another path than the one before */
	struct sockaddr_storage endpoint;
};

struct ping_table {
	uint32_t next_id;
	struct overlay_ping p[OVERLAY_PINGS];
};

void ping_table_init(struct ping_table *t);
/* A new ping waiting for its tunnel, not yet in use (ping_commit); NULL:
 * OVERLAY_PINGS running. */
struct overlay_ping *ping_new(struct ping_table *t, const char *fqdn, unsigned count,
			      unsigned interval_ms);
void ping_commit(struct overlay_ping *pg);
struct overlay_ping *ping_find(struct ping_table *t, uint32_t id);
/* The tunnel is up: probes start now (relay: the path it runs over). */
void ping_run(struct overlay_ping *pg, bool relay);
/* pg ends with why, unless it already ended. */
void ping_fail(struct overlay_ping *pg, const char *why);
/* What the timer must do for pg at now: PING_DUE_PROBE (send one with
 * probe_build), or nothing (finished pings are forgotten after
 * OVERLAY_PING_KEEP_MS). */
enum ping_due { PING_DUE_NONE, PING_DUE_PROBE };
enum ping_due ping_due(struct overlay_ping *pg, int64_t now);
/* The next probe of pg into buf (PROBE_LEN bytes); pg counts it. */
void probe_build(struct overlay_ping *pg, uint8_t *buf);
/* pg's probe just went to endpoint (relay: over a TRS); the next is due. */
void ping_sent(struct overlay_ping *pg, const struct sockaddr_storage *endpoint, bool have,
	       bool relay, int64_t now);
/* pg's probe was due while its peer had no tunnel (between one and the
 * next): counted as sent and lost, the next is due. */
void ping_lost(struct overlay_ping *pg, int64_t now);
/* The earliest probe due, or at if none is earlier. */
int64_t ping_next_ms(const struct ping_table *t, int64_t at);
/* 0 with *res filled (a finished ping is forgotten once read), -ENOENT. */
int ping_get(struct ping_table *t, uint32_t id, struct overlay_ping_result *res);

#define PROBE_MOVE_ID 0

/* A move probe (seq: which one of this move) into buf (PROBE_LEN bytes). */
void probe_build_move(uint8_t *buf, uint32_t seq);

/* What probe_input found. */
enum probe_in {
	PROBE_IN_REPLY,       /* a reply to a ping (counted by it, if it has one) */
	PROBE_IN_ECHO,        /* a request, turned into its reply in place: seal it back */
	PROBE_IN_MOVED,       /* the echo of our move probe: the peer follows us */
};

/* A probe from peer fqdn (pkt, len bytes): an enum probe_in, or -EBADMSG
 * when malformed. */
int probe_input(struct ping_table *t, const char *fqdn, uint8_t *pkt, size_t len);

#endif
