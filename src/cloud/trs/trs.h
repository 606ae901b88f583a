/* The Tunnel Relay Service (docs/protocol.md, "TRS").
 *
 * Plain functions over datagrams, no sockets (trs_server.c holds those):
 *
 *   trs_handle_ctl()    the control port (7445): a Relay Request from an
 *                       NMS, sealed with the NMS-TRS link key, allocates a
 *                       relay session for a tunnel id (a UDP port of its
 *                       own, opened through ops->open) and is answered
 *                       with the session's public endpoints;
 *   trs_handle_relay()  a datagram on a session's port: an authenticated
 *                       Relay Hello tells the TRS where one side of the
 *                       tunnel is (and opens that side's NAPT mapping)
 *                       and is answered with a Relay Ack to its source;
 *                       any other datagram from a known side is forwarded
 *                       unchanged to the other side;
 *   trs_expire()        closes sessions idle for conf.idle_s.
 *
 * One port per session keeps the forwarding a lookup by source endpoint
 * even when one node (one NAPT mapping) relays to several peers: Data
 * messages carry only the receiver's index, no tunnel id.  The TRS holds
 * the Relay Key only (trs_wire.h): it never sees the Tunnel Key, the
 * Temp Key or the End Key.  Everything it cannot use is dropped and
 * counted in trs_stats. */
#ifndef CY_TRS_H
#define CY_TRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "counters.h"
#include "trs_wire.h"

#define TRS_PKT_MAX 2048            /* control datagrams */
#define TRS_MAX_PUBLIC 4
#define TRS_REQ_MAX_SKEW_MS (60 * 1000)
#define TRS_LINKS 8                 /* NMS link keys (one per NMS process) cached */
#define TRS_HELD_MAX 256            /* a handshake waiting for the other side */
/* A session no side has said hello to is closed after this, not after
 * the idle time: its nodes hello as their routes arrive, and a node
 * selecting route after route must not hold a port a minute each. */
#define TRS_HELLO_WAIT_MS 10000

struct trs_conf {
	uint8_t secret[TRS_KEY_LEN];               /* the NMS-TRS key */
	struct sockaddr_storage pub[TRS_MAX_PUBLIC]; /* addresses nodes reach us at */
	size_t npub;
	int idle_s;                                /* close a session idle this long */
	size_t max_sessions;
	/* Reserves blocks of our reply counters in persistent storage (the
	 * reserve of a struct cy_ctr, seal.h): a link key lives as long as
	 * the NMS process that drew it, which may outlive this TRS, so our
	 * counters under it must not repeat across our restarts.
	 * cyphonic-cloud keeps the mark in a file beside the key (ctrfile.h). */
	int (*ctr_reserve)(void *arg, uint64_t at_least, uint64_t block, uint64_t *start);
	void *ctr_arg;
};

struct trs_stats {
	uint64_t ctl_rx;            /* datagrams on the control port */
	uint64_t ctl_malformed;
	uint64_t ctl_auth_fail;
	uint64_t ctl_replay;        /* replayed counter, or TIME too far off */
	uint64_t relay_requests;    /* authenticated Relay Requests */
	uint64_t sessions_opened;
	uint64_t sessions_refused;  /* table full, no port */
	uint64_t sessions_expired;
	uint64_t sessions;          /* open now */
	uint64_t hellos;            /* accepted Relay Hellos */
	uint64_t acks;              /* Relay Acks sent (one per accepted hello) */
	uint64_t hello_auth_fail;
	uint64_t hello_stale;       /* timestamp too old/new, or not newer than the last */
	uint64_t fwd_packets;
	uint64_t fwd_bytes;
	uint64_t held;              /* handshakes kept until the other side said hello */
	uint64_t drop_malformed;    /* not a tunnel message, wrong tunnel id, bad length */
	uint64_t drop_unknown_src;  /* from an endpoint that is neither side */
	uint64_t drop_no_peer;      /* the other side has not said hello yet */
	uint64_t drop_no_session;   /* a session port that is closed */
};

/* The table of those counters (counters.h). */
extern const struct counter trs_counters[];
extern const size_t trs_ncounters;

/* Sockets, from trs_server.c (or a test). */
struct trs_ops {
	/* Open the UDP port of session slot; *port gets its number. 0 or -errno. */
	int (*open)(void *arg, size_t slot, uint16_t *port);
	void (*close)(void *arg, size_t slot);
};

/* What to send after a datagram on a session port: to/buf/len a
 * datagram to forward; ack_len nonzero: a Relay Ack (ack) back to the
 * hello's source. */
struct trs_fwd {
	const struct sockaddr *to;
	const uint8_t *buf;
	size_t len;
	size_t ack_len;
	uint8_t ack[TRS_ACK_LEN];
};

struct trs;

/* NULL on bad settings or ENOMEM. */
struct trs *trs_new(const struct trs_conf *conf, const struct trs_ops *ops, void *arg);
/* Closes every session (ops->close). */
void trs_free(struct trs *t);

/* A datagram on the control port (from unmapped).  Returns the reply's
 * length in out, 0 for none. */
size_t trs_handle_ctl(struct trs *t, const struct sockaddr *from, const uint8_t *pkt, size_t len,
		      uint8_t *out, size_t cap);
/* A datagram on session slot's port.  Returns true with f->to, f->buf,
 * f->len filled when something is to be forwarded from that port (the
 * datagram itself to the other side, or, after a hello, a handshake held
 * for the sender).  Apart from that, f->ack_len nonzero: an accepted
 * hello's Relay Ack, to be sent from that port to from. */
bool trs_handle_relay(struct trs *t, size_t slot, const struct sockaddr *from, uint8_t *pkt,
		      size_t len, struct trs_fwd *f);
/* Close sessions idle since before now_ms - idle_s (clock_now_ms() time). */
void trs_expire(struct trs *t, int64_t now_ms);

const struct trs_stats *trs_stats(const struct trs *t);
size_t trs_max_sessions(const struct trs *t);

#endif
