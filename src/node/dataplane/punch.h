/* Punching: finding a direct path to a tunnel's peer through NAPTs and
 * stateful firewalls (docs/nat.md).  Plain functions over bytes, like
 * relay.h: the overlay sends what they produce.
 *
 * A route names a candidate: where the NMS saw the peer (its NAPT's
 * mapping).  Both ends probe the other's candidate at once (the CN first,
 * before it confirms the route, the MN as soon as it has the answer): a
 * probe leaving a NAPT or firewall opens it for the answer from where it
 * went, so the later of the two probes passes both and is acknowledged.
 * An acknowledged probe proves the path both ways: the overlay moves the
 * tunnel there.  A burst sends a probe every PUNCH_RETRY_MS and gives up
 * after PUNCH_BURST_MS; a relayed tunnel then stays relayed and asks
 * again every PUNCH_AGAIN_MS (the NMS sends fresh candidates).
 *
 * The birthday approach (a NAPT that maps each destination to another
 * random port on one side, one that keeps its mapping on the other): the
 * NMS tells the hard side CY_PUNCH_MANY, the easy side CY_PUNCH_SPRAY.
 * The hard side sends one probe to the candidate from each of
 * PUNCH_MANY_SOCKETS extra sockets (the overlay's: punch_many_probe),
 * each opening a mapping at a random port of its NAPT; the easy side
 * sends PUNCH_SPRAY_PROBES probes to as many different ports of the
 * candidate's address, PUNCH_SPRAY_ROUND every PUNCH_RETRY_MS.  One of
 * them hits one of the mappings with probability
 * 1 - exp(-MANY * SPRAY / 64512), about 98% (docs/nat.md).  Each burst
 * gives up after PUNCH_BIRTHDAY_MS.  A tunnel makes PUNCH_BIRTHDAYS such
 * bursts until one finds the path, an identity PUNCH_BIRTHDAY_RATE per
 * PUNCH_BIRTHDAY_WINDOW_MS over all its tunnels: beyond, a burst asked
 * for is a plain one.
 *
 * A probe is answered only when it authenticates under the Punch Key
 * (punch_wire.h), comes from the peer's role, and is newer than the last
 * one answered and within PUNCH_MAX_SKEW_MS of our clock: a replayed or
 * forged probe makes the node send nothing.  An ack counts only when it
 * echoes one of our last PUNCH_KEEP probes not acknowledged yet, sent
 * less than PUNCH_ACK_WAIT_MS ago, and comes from where that probe went
 * (a spray's: from the candidate's address, at any port): an ack held
 * back and replayed from elsewhere moves nothing. */
#ifndef CY_NODE_PUNCH_H
#define CY_NODE_PUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "punch_wire.h"
#include "wire.h"

#define PUNCH_RETRY_MS 20
#define PUNCH_BURST_MS 400
#define PUNCH_AGAIN_MS 30000
#define PUNCH_KEEP 48                 /* > PUNCH_BURST_MS / PUNCH_RETRY_MS + extra probes,
				       * > spray rounds + extra probes */
#define PUNCH_MAX_SKEW_MS 60000
#define PUNCH_ACK_WAIT_MS 2000
#define PUNCH_MIN_GAP_MS 5000         /* bursts the NMS asks for, at most this often */
#define PUNCH_MANY_SOCKETS 256
#define PUNCH_SPRAY_PROBES 1024
#define PUNCH_SPRAY_ROUND 32          /* a stamp each: PROBES / ROUND < PUNCH_KEEP */
#define PUNCH_SPRAY_PORT_MIN 1024     /* Linux NAPTs map to 1024..65535 */
#define PUNCH_BIRTHDAY_MS 1500
#define PUNCH_BIRTHDAYS 3             /* per tunnel until one finds the path */
#define PUNCH_BIRTHDAY_RATE 4         /* per identity per window: */
#define PUNCH_BIRTHDAY_WINDOW_MS 60000

enum punch_in { PUNCH_IN_PROBE = 1, PUNCH_IN_ACK = 2 };

struct punch_table;

struct punch_table *punch_table_new(void);
/* Wipes the keys. */
void punch_table_free(struct punch_table *t);
size_t punch_count(const struct punch_table *t);

/* Punch toward cand for tunnel_id (its Tunnel Key; role: ours in the
 * route).  burst: one of mode (enum cy_punch_mode) starts at now_ms, a
 * plain one's first probe written into out (returns its length, or
 * -errno); else the entry only answers the peer's probes (returns 0).  again_ms > 0: a burst that found nothing
 * is followed by punch_cb.again that much later, else by nothing.
 * ticket (or NULL): what the route gave to show in a Punch Request.  An
 * entry of the same tunnel is replaced. */
ssize_t punch_add(struct punch_table *t, uint64_t tunnel_id, const uint8_t tunnel_key[32],
		  uint8_t role, const struct sockaddr *cand, const uint8_t *ticket, bool burst,
		  uint8_t mode, int64_t again_ms, int64_t now_ms, uint8_t *out, size_t cap);
/* The ticket of tunnel_id's route into out: 0, or -ENOENT (none). */
int punch_ticket(const struct punch_table *t, uint64_t tunnel_id, uint8_t out[CY_TICKET_LEN]);
/* No burst now; punch_cb.again in delay_ms (the entry's again_ms > 0). */
void punch_wait(struct punch_table *t, uint64_t tunnel_id, int64_t delay_ms, int64_t now_ms);
void punch_del(struct punch_table *t, uint64_t tunnel_id);
/* A new plain burst from now_ms toward cand (NULL: the candidate it
 * has).  0 or -ENOENT. */
int punch_restart(struct punch_table *t, uint64_t tunnel_id, const struct sockaddr *cand,
		  int64_t now_ms);
/* The NMS names a candidate (a Punch Direction): a new burst of mode
 * towards it from now_ms (plain beyond the birthday budgets above),
 * unless one asked for with the same mode towards the same candidate
 * started less than PUNCH_MIN_GAP_MS ago (-EAGAIN: a peer asking over and
 * over gets one burst per gap).  0, -EAGAIN, -EINVAL or -ENOENT. */
int punch_redirect(struct punch_table *t, uint64_t tunnel_id, const struct sockaddr *cand,
		   uint8_t mode, int64_t now_ms);
/* The mode of tunnel_id's last burst (running or not); CY_PUNCH_PLAIN
 * when it has none. */
uint8_t punch_mode(const struct punch_table *t, uint64_t tunnel_id);
/* A CY_PUNCH_MANY burst: the probe each extra socket sends (one for all)
 * into out: its length, or -errno (-EALREADY: no such burst runs). */
ssize_t punch_many_probe(struct punch_table *t, uint64_t tunnel_id, int64_t now_ms,
			 uint8_t *out, size_t cap);
/* The path is found (or not needed): no more bursts.  Probes are still
 * answered. */
void punch_stop(struct punch_table *t, uint64_t tunnel_id);
/* True while a burst of tunnel_id runs. */
bool punch_bursting(const struct punch_table *t, uint64_t tunnel_id);

/* A Punch datagram, whose tunnel id is in *m.  PUNCH_IN_PROBE: a fresh
 * probe of the peer's, whose ack is in out (*outlen bytes) to go back to
 * where it came from; PUNCH_IN_ACK: the answer to one of our probes, the
 * path to `from` works.  -EPROTO: not a Punch; -ENOENT: no such tunnel;
 * -EPERM: our own role (reflected); -EBADMSG: does not authenticate;
 * -ESTALE: replayed, old, from elsewhere, or acknowledges nothing
 * pending. */
int punch_input(struct punch_table *t, const uint8_t *pkt, size_t len,
		const struct sockaddr *from, int64_t now_ms, struct punch_msg *m, uint8_t *out,
		size_t cap, size_t *outlen);
/* The last probe of tunnel_id's peer that we answered came from `from`:
 * the peer holds a direct path from there (our ack proves it the way
 * back). */
bool punch_answered_from(const struct punch_table *t, uint64_t tunnel_id,
			 const struct sockaddr *from);
/* A probe of tunnel_id's burst now, to `to`, outside its schedule: the
 * peer's probe just came from there, the candidate's address at another
 * port (its NAPT maps the flow towards us elsewhere).  Its length, or
 * -errno (-EALREADY: no burst runs; -EPERM: to is not at the candidate's
 * address). */
ssize_t punch_probe_now(struct punch_table *t, uint64_t tunnel_id, const struct sockaddr *to,
			int64_t now_ms, uint8_t *out, size_t cap);

struct punch_cb {
	/* false: the tunnel is gone, its entry goes too */
	bool (*alive)(void *ctx, uint64_t tunnel_id);
	/* a probe of tunnel_id's due now */
	void (*send)(void *ctx, uint64_t tunnel_id, const uint8_t *buf, size_t len,
		     const struct sockaddr *to);
	/* a burst ended without an ack */
	void (*failed)(void *ctx, uint64_t tunnel_id);
	/* again_ms after that (and every again_ms while nothing restarts it) */
	void (*again)(void *ctx, uint64_t tunnel_id);
	void *ctx;
};

/* Probes, bursts given up, and retries due at now_ms. */
void punch_tick(struct punch_table *t, int64_t now_ms, const struct punch_cb *cb);
/* When punch_tick wants to run next; INT64_MAX for never. */
int64_t punch_next_ms(const struct punch_table *t);

#endif
