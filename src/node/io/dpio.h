/* The data path's I/O: one object per daemon that owns every batch
 * between the kernel and the overlays (batch.h), so a packet crosses from
 * one side to the other without passing through the node or an identity:
 *
 *   TUN -> dpio on_tun: what the device holds is read into the flow
 *          queues (fq.h: per flow, round robin, CoDel), and about 256 KB
 *          of it served per turn, each packet to the local input (the
 *          node's overlay_tun_input) -> the overlay seals
 *          it straight into a slot of its port's send batch (dpio_slot,
 *          dpio_commit) -> at the end of the burst every port that queued
 *          datagrams sends them (dp_tx_flush: sendmmsg, UDP GSO).
 *   UDP -> dpio on_udp: a burst of receives on a port (dp_rx_run), each
 *          datagram to the port's input (its identity: the overlay, else
 *          the signaling) -> a packet for the local side goes to
 *          dpio_deliver: the TUN's coalescing writer, flushed once the
 *          burst is handled (or the port's own sink: a general node's MAC).
 *
 * A port is one identity's UDP socket: the node's own, and on an adapter
 * one more per general node.  A burst the owner reads itself (the
 * adapter's LAN) is bracketed by dpio_burst_begin/end so that its
 * datagrams leave together too.  Outside a burst dpio_slot gives no slot
 * and the overlay sends each datagram at once (dpio_send).
 *
 * The switches of batch.h are fixed when the object is made. */
#ifndef CY_NODE_IO_DPIO_H
#define CY_NODE_IO_DPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "batch.h"

struct event_base;
struct dpio;
struct dpio_port;

/* The switches from the environment (values 0/no/off/false or anything
 * else for on; all default on), for the bench:
 *   CY_DP=off      everything off: one packet per system call
 *   CY_DP_MMSG, CY_DP_GSO, CY_DP_GRO, CY_DP_VNET, CY_DP_COALESCE, CY_DP_FQ */
void dp_conf_from_env(struct dp_conf *c);

/* NULL on ENOMEM.  base may be NULL only when no TUN is attached (tests). */
struct dpio *dpio_new(struct event_base *base, const struct dp_conf *conf);
void dpio_free(struct dpio *io);
const struct dp_conf *dpio_conf(const struct dpio *io);

/* The node's TUN device fd (not owned; vnet: it carries virtio-net
 * headers): readable bursts go to input, packets of at most a wire
 * packet.  0 or -errno. */
int dpio_tun_attach(struct dpio *io, int fd, bool vnet, dp_pkt_fn input, void *arg);

/* A burst of local packets read by the owner (nests). */
void dpio_burst_begin(struct dpio *io);
void dpio_burst_end(struct dpio *io);

struct dpio_port_cfg {
	uint16_t port;          /* local UDP port; 0: ephemeral */
	const char *name;       /* for logs: the identity's FQDN */
	/* Each datagram received, and the end of each burst of them. */
	dp_rx_fn input;
	void (*after_read)(void *arg);
	/* Tests: no socket, every datagram sent goes to tap instead. */
	int (*tap)(void *arg, const uint8_t *buf, size_t len, const struct sockaddr *to);
	void *arg;
	/* A packet from the identity's tunnels; NULL: into the TUN. */
	int (*deliver)(void *arg, const uint8_t *pkt, size_t len);
	void *deliver_arg;
};

/* Opens the socket (udp.h, large buffers) and starts reading.  NULL on
 * failure (logged). */
struct dpio_port *dpio_port_new(struct dpio *io, const struct dpio_port_cfg *cfg);
void dpio_port_free(struct dpio_port *p);
uint16_t dpio_port_number(const struct dpio_port *p);
/* A port like `like` (its identity: input, deliveries, name) on a bound
 * socket fd it takes over, or NULL (fd is still the caller's). */
struct dpio_port *dpio_port_adopt(struct dpio_port *like, int fd);
/* False for a test port (no socket: no spares either). */
bool dpio_port_socket(const struct dpio_port *p);
struct event_base *dpio_port_base(const struct dpio_port *p);
struct dpio *dpio_port_io(const struct dpio_port *p);

/* Spare sockets beside a port: the birthday approach's many sockets
 * (punch.h).  Each is bound to its own ephemeral port and read by its own
 * event; what it reads goes to input with its index.  One of them that
 * found the way becomes a port of its own (dpio_spares_adopt), the rest
 * close with the set. */
struct dpio_spares;
#define DPIO_SPARES_MAX 512
/* The daemon's budget of spare sockets: how many of want may open now,
 * and giving them back (dpio_spare.c's). */
unsigned dpio_spares_take(struct dpio *io, unsigned want);
void dpio_spares_give(struct dpio *io, unsigned n);
typedef void (*dpio_spare_fn)(void *arg, unsigned idx, const uint8_t *buf, size_t len,
			      const struct sockaddr *from);

/* Up to count sockets beside `like` (fewer when the descriptors run out,
 * or DPIO_SPARES_MAX are open in the daemon already: an adapter's
 * identities share them), NULL when none opens or `like` has no socket. */
struct dpio_spares *dpio_spares_open(struct dpio_port *like, unsigned count,
				     dpio_spare_fn input, void *arg);
void dpio_spares_free(struct dpio_spares *s);
unsigned dpio_spares_count(const struct dpio_spares *s);
/* One datagram from socket idx.  0 or -errno. */
int dpio_spares_send(struct dpio_spares *s, unsigned idx, const uint8_t *buf, size_t len,
		     const struct sockaddr *to);
/* Socket idx as a port like the set's `like`, taken out of the set; NULL
 * on failure or when idx is gone. */
struct dpio_port *dpio_spares_adopt(struct dpio_spares *s, unsigned idx);

/* One datagram now.  0 or -errno (logged, rate-limited). */
int dpio_send(struct dpio_port *p, const uint8_t *buf, size_t len, const struct sockaddr *to);
/* During a burst: where to seal the next datagram (*cap bytes), NULL
 * otherwise (then dpio_send). */
uint8_t *dpio_slot(struct dpio_port *p, size_t *cap);
/* The slot holds a datagram of len bytes for to: queued until the end of
 * the burst.  0 or -EINVAL. */
int dpio_commit(struct dpio_port *p, size_t len, const struct sockaddr *to);
/* A packet for the local side.  0 or -errno (counted, logged). */
int dpio_deliver(struct dpio_port *p, const uint8_t *pkt, size_t len);

struct dpio_stats {
	uint64_t tun_write_err;   /* packets (or flushes) the TUN refused */
	/* the flow queues (fq.h), zero without them */
	uint64_t fq_backlog;      /* packets queued now */
	uint64_t fq_marked;       /* CoDel's congestion signals given as a CE mark */
	uint64_t fq_dropped;      /* ...or as a wire packet dropped */
	uint64_t fq_overlimit;    /* packets dropped at the memory limit */
};
void dpio_stats_get(const struct dpio *io, struct dpio_stats *out);

#endif
