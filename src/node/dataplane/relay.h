/* The node's side of a relayed tunnel (docs/protocol.md, "TRS"): Relay
 * Hellos to the TRS relay session of each relayed tunnel.
 *
 * A hello tells the TRS where this side of the tunnel is and opens (then
 * keeps open) the NAPT mapping towards the relay session; the TRS
 * forwards nothing to a side it has not heard a hello from.  Each relayed
 * tunnel sends one at once, then every RELAY_HELLO_FAST_MS for
 * RELAY_HELLO_FAST_FOR_MS (while the handshake runs, a lost hello must
 * not cost seconds), then every RELAY_HELLO_MS (the mapping, and the TRS
 * learning a rebound mapping).  Plain functions over bytes: the daemon
 * sends what relay_tick() produces.
 *
 * The TRS answers each hello it accepts with a Relay Ack echoing the
 * hello's timestamp (trs_wire.h).  An ack counts only when it opens under
 * the tunnel's Relay Key and echoes one of the last RELAY_ACK_KEEP hellos
 * sent, newer than the last one acknowledged: a forged, replayed or
 * stale ack moves nothing.  A hello not acknowledged within
 * RELAY_ACK_WAIT_MS is a miss: the next goes out at once, and so on, one
 * every RELAY_ACK_WAIT_MS, while none is acknowledged; RELAY_DEAD_HELLOS
 * in a row missed and the relay session is gone (the TRS restarted, or
 * expired it): the tunnel is dead. */
#ifndef CY_NODE_RELAY_H
#define CY_NODE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define RELAY_HELLO_FAST_MS 1000
#define RELAY_HELLO_FAST_FOR_MS 10000
#define RELAY_HELLO_MS 15000
#define RELAY_ACK_WAIT_MS 1000
#define RELAY_DEAD_HELLOS 6        /* a miss, then 5 s of retries: ~6 s */
#define RELAY_ACK_KEEP RELAY_DEAD_HELLOS

struct relay_table;

struct relay_table *relay_table_new(void);
/* Wipes the keys. */
void relay_table_free(struct relay_table *t);

/* A relayed tunnel: its tunnel id, Tunnel Key (the Relay Key is derived
 * from it), side (the ROLE of the route) and the TRS endpoint.  Writes
 * the first hello into out; returns its length or -errno.  An entry for
 * the same tunnel id is replaced. */
ssize_t relay_add(struct relay_table *t, uint64_t tunnel_id, const uint8_t tunnel_key[32],
		  uint8_t side, const struct sockaddr *trs, uint8_t *out, size_t cap);
void relay_del(struct relay_table *t, uint64_t tunnel_id);
size_t relay_count(const struct relay_table *t);

/* A datagram from `from` that may be a Relay Ack.  0: taken (the relay
 * session is alive), *seen where the TRS saw the hello come from (AF_UNSPEC
 * when the ack did not come from the TRS: the peer, which holds the same
 * Relay Key, could have made it); -EPROTO: not an ack; -ENOENT: no relayed
 * tunnel with its tunnel id (or side); -EBADMSG: does not authenticate;
 * -ESTALE: echoes no recent hello, or one already acknowledged (replayed,
 * late). */
int relay_ack(struct relay_table *t, const uint8_t *pkt, size_t len,
	      const struct sockaddr *from, struct sockaddr_storage *seen);

struct relay_cb {
	/* false: the tunnel is gone, its entry goes too. */
	bool (*alive)(void *ctx, uint64_t tunnel_id);
	/* each hello due at now_ms */
	void (*send)(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to);
	/* the relay session is lost (the entry is already gone): drop the
	 * tunnel, select the route again */
	void (*dead)(void *ctx, uint64_t tunnel_id);
	void *ctx;
};

/* This node moved: every tunnel's next hello is due at once (the TRS
 * learns the new endpoint from it), then fast again for a while. */
void relay_moved(struct relay_table *t, int64_t now_ms);

/* Timers: hellos due, misses, dead relay sessions. */
void relay_tick(struct relay_table *t, int64_t now_ms, const struct relay_cb *cb);

#endif
