/* The data plane's batched I/O (docs/performance.md): many datagrams per
 * system call on the UDP socket, large segments on the TUN device.
 *
 *   UDP send    dp_tx: the overlay seals each datagram straight into a
 *               slot of a per-socket batch (dp_tx_slot / dp_tx_commit);
 *               dp_tx_flush sends the batch with one sendmmsg, runs of
 *               same-size datagrams to one endpoint as one UDP GSO message
 *               (UDP_SEGMENT cmsg: the kernel cuts it up).
 *   UDP receive dp_rx: recvmmsg into reused buffers; with UDP_GRO one
 *               buffer holds several same-size datagrams of one sender
 *               (the UDP_GRO cmsg gives their size): split, one callback
 *               per datagram.
 *   TUN         dp_tun: with IFF_VNET_HDR + TUNSETOFFLOAD (checksum, TSO4/6,
 *               USO) a read returns a virtio-net header and possibly a
 *               64 KB TCP/UDP super-packet, cut into wire-size packets
 *               with gso.h; writes carry a header too (DATA_VALID: the
 *               AEAD has authenticated the packet; the kernel need not
 *               verify its checksum again); in-order TCP segments of one
 *               flow are merged into one super-packet write (coalescing,
 *               up to 8 flows at once).
 *
 * Each technique is a field of struct dp_conf, given to each object when
 * it is made (all on by default; dpio.h reads them from the environment
 * once at start, for the bench):
 *   mmsg       recvmmsg / sendmmsg (off: recvmsg / sendmsg in a loop)
 *   gso        UDP_SEGMENT on send
 *   gro        UDP_GRO on receive
 *   vnet       TUN IFF_VNET_HDR + TUNSETOFFLOAD (TSO/USO/checksum)
 *   coalesce   (with vnet) received in-order TCP segments of one flow
 *              written to the TUN as one super-packet (GRO towards the
 *              kernel: its TCP stack runs once per 64 KB)
 * Where the kernel lacks one (setsockopt or ioctl fails, the first GSO
 * send fails with EIO) it is turned off for that socket or device and
 * logged once; traffic goes on without it.
 *
 * Buffers are allocated once per object (the receive buffers once per
 * process: one thread reads all sockets), nothing per packet.  Nothing is
 * locked: one thread uses these objects. */
#ifndef CY_NODE_IO_BATCH_H
#define CY_NODE_IO_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The switches (above). */
struct dp_conf {
	bool mmsg, gso, gro, vnet, coalesce, fq;
};
#define DP_CONF_ALL ((struct dp_conf){ true, true, true, true, true, true })

#define DP_SLOT 2048            /* one sealed datagram (inner MTU up to ~2000) */
#define DP_TX_MAX 128           /* datagrams per batch */
#define DP_GSO_SEGS 64          /* datagrams per UDP GSO message (kernel: 64 or 128) */
#define DP_GSO_BYTES 65000      /* bytes per UDP GSO message (< 64 KB UDP length) */
#define DP_RX_MSGS 32           /* messages per recvmmsg */
#define DP_RX_BUF 65536         /* per message: a UDP GRO buffer or one datagram */
#define DP_RX_MSG_MIN 2048      /* what a message costs a receive turn at least */

/* ---- planning (pure, for tests) ---- */

/* One message of a batch: entries [first, first + count); seg is the
 * UDP_SEGMENT size when count > 1 (every entry but the last has exactly
 * seg bytes, the last at most seg), 0 for a single datagram. */
struct dp_group {
	size_t first, count;
	uint16_t seg;
};

/* Cut entries [0, n) (lengths len[], destinations dst[] of dstlen[] bytes)
 * into messages: with gso, runs to the same destination as above, at most
 * DP_GSO_SEGS datagrams and DP_GSO_BYTES bytes each; without, one per
 * entry.  Returns the number of groups written to g (room for n). */
size_t dp_plan(const uint16_t *len, const struct sockaddr_storage *dst, const socklen_t *dstlen,
	       size_t n, bool gso, struct dp_group *g);

/* One datagram of a received buffer. */
typedef void (*dp_rx_fn)(void *arg, uint8_t *buf, size_t len, const struct sockaddr *from);

/* Hand buf (len bytes, received with UDP_GRO segment size seg; 0: one
 * datagram) to fn as datagrams of seg bytes, the last possibly shorter.
 * Returns how many. */
size_t dp_split(uint8_t *buf, size_t len, size_t seg, const struct sockaddr *from, dp_rx_fn fn,
		void *arg);

/* ---- UDP send ---- */

struct dp_tx_stats {
	uint64_t datagrams;     /* handed to the kernel */
	uint64_t syscalls;      /* sendmmsg / sendmsg calls */
	uint64_t gso_msgs;      /* messages with UDP_SEGMENT */
	uint64_t dropped;       /* not sent: socket buffer full or an error */
};

struct dp_tx;

/* For the UDP socket fd (the object does not own it).  NULL on ENOMEM. */
struct dp_tx *dp_tx_new(int fd, const struct dp_conf *conf);
void dp_tx_free(struct dp_tx *tx);
/* Where to seal the next datagram (*cap bytes); NULL when out of memory. */
uint8_t *dp_tx_slot(struct dp_tx *tx, size_t *cap);
/* The slot holds a datagram of len bytes for to: queue it (a full batch
 * is sent at once).  0 or -EINVAL (len or address unusable). */
int dp_tx_commit(struct dp_tx *tx, size_t len, const struct sockaddr *to);
/* Send what is queued.  Returns the number of datagrams dropped. */
size_t dp_tx_flush(struct dp_tx *tx);
size_t dp_tx_pending(const struct dp_tx *tx);
const struct dp_tx_stats *dp_tx_stats(const struct dp_tx *tx);
bool dp_tx_gso(const struct dp_tx *tx);

/* ---- UDP receive ---- */

struct dp_rx;

/* For the UDP socket fd; turns UDP_GRO on when switched on. */
struct dp_rx *dp_rx_new(int fd, const struct dp_conf *conf);
void dp_rx_free(struct dp_rx *rx);
/* Receive until the socket is empty or about budget bytes were handed to
 * fn (from unmapped, as udp_recv does), each message counted as at least
 * DP_RX_MSG_MIN; a receive asks for no more messages than the budget has
 * left at the size the last ones had.  Truncated messages are dropped.
 * Returns the number of datagrams, or -errno other than EAGAIN when the
 * first receive failed. */
int dp_rx_run(struct dp_rx *rx, size_t budget, dp_rx_fn fn, void *arg);
bool dp_rx_gro(const struct dp_rx *rx);

/* ---- TUN ---- */

/* After TUNSETIFF with IFF_VNET_HDR: turn the offloads on.  0, or -errno
 * when the kernel refused (the device then carries plain packets behind
 * the header, which still works). */
int dp_tun_offload(int fd);

/* A packet of the local side, at most a wire packet (checksums complete).
 * Changed, if at all, within its len bytes; gone once fn returns (it may
 * lie inside a super-packet being cut in place). */
typedef void (*dp_pkt_fn)(void *arg, uint8_t *pkt, size_t len);

struct dp_tun_stats {
	uint64_t reads, packets, super, bad;   /* read side */
	uint64_t ce_marked, signal_dropped;    /* congestion signals (fq.h) given */
	uint64_t writes, merged;               /* write side: system calls, segments merged */
	uint64_t write_lost;                   /* packets in writes that failed */
};

struct dp_tun;

/* For the TUN descriptor fd; vnet: it was created with IFF_VNET_HDR. */
struct dp_tun *dp_tun_new(int fd, bool vnet, const struct dp_conf *conf);
/* The writer (dp_tun_write_l2, dp_tun_flush) for a device whose packets
 * carry an l2len-byte link header (at most DP_L2_MAX) after the vnet
 * header: an AF_PACKET socket with PACKET_VNET_HDR (l2len 14, Ethernet).
 * The vnet header's offsets then count from the link header. */
#define DP_L2_MAX 64
struct dp_tun *dp_tun_new_l2(int fd, bool vnet, size_t l2len, const struct dp_conf *conf);
void dp_tun_free(struct dp_tun *t);
/* One read from the device into buf (cap bytes: GSO_HDR_LEN +
 * GSO_PKT_MAX with vnet): its length, 0 or -1 (errno) as read(2). */
ssize_t dp_tun_recv(struct dp_tun *t, uint8_t *buf, size_t cap);
/* What dp_tun_recv read (len bytes) to fn, cut into wire packets inside
 * buf (left in pieces).  With
 * signal (a congestion signal from fq.h) the packet is marked CE when it
 * is ECN-capable, else its first wire packet is dropped.  Returns the
 * number of packets cut, or -EINVAL (unusable offload header). */
int dp_tun_handle(struct dp_tun *t, uint8_t *buf, size_t len, bool signal, dp_pkt_fn fn,
		  void *arg);
/* Up to max reads into the device's own buffer, each handled as above
 * without a signal.  Returns the number of reads. */
int dp_tun_read(struct dp_tun *t, unsigned max, dp_pkt_fn fn, void *arg);
/* One plain IP packet to the device (with a header when vnet).  With
 * coalescing a TCP segment may be held to be merged with the next ones of
 * its flow (up to 8 flows held): call dp_tun_flush() before going back to
 * the event loop (the node does when dp_tun_pending()).  0 or -errno for
 * pkt itself; held packets written out meanwhile count their failures
 * in dp_tun_stats()->write_lost. */
int dp_tun_write(struct dp_tun *t, const uint8_t *pkt, size_t len);
/* The same with the link header l2 (l2len bytes) in front of pkt; only
 * segments behind the same link header are merged. */
int dp_tun_write_l2(struct dp_tun *t, const uint8_t *l2, const uint8_t *pkt, size_t len);
/* Write the held super-packets, if any.  0 or the last -errno. */
int dp_tun_flush(struct dp_tun *t);
bool dp_tun_pending(const struct dp_tun *t);
/* Pure: one buffer as read from a vnet TUN (header + packet) to fn, a
 * super-packet cut into its wire packets inside buf (which it leaves in
 * pieces).  Packets handed, or -EINVAL. */
int dp_tun_input(uint8_t *buf, size_t len, dp_pkt_fn fn, void *arg);
bool dp_tun_vnet(const struct dp_tun *t);
const struct dp_tun_stats *dp_tun_stats(const struct dp_tun *t);

#endif
