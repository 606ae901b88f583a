/* Batched TUN I/O (batch.h): reads with a virtio-net header cut into
 * wire-size packets, writes with in-order TCP segments of one flow
 * coalesced into one super-packet. */
#include "batch.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "aead.h"
#include "buf.h"
#include "gso.h"
#include "log.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/* ---- TUN ---- */

int dp_tun_offload(int fd)
{
	unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

	if (ioctl(fd, TUNSETOFFLOAD, base | TUN_F_USO4 | TUN_F_USO6) == 0)
		return 0;
	if (ioctl(fd, TUNSETOFFLOAD, base) == 0)
		return 0;
	return -errno;
}

/* Coalescing: up to DP_GRO_FLOWS TCP super-packets being built at once,
 * one per flow (and link header), so interleaved flows each merge. */
#define DP_GRO_FLOWS 8

struct dp_gro {
	uint8_t *buf;            /* GSO_HDR_LEN + l2len + GSO_PKT_MAX: header, link header, packet */
	size_t len;              /* packet bytes held, 0: none */
	size_t l3, thl;          /* IP and TCP header lengths */
	int ver;
	size_t mss;              /* payload of the first segment */
	unsigned nseg;
	uint32_t next_seq;
	bool closed;             /* a short or PSH segment ended it */
	uint64_t used;           /* when last merged into (t->clock): the oldest is evicted */
};

struct dp_tun {
	int fd;
	bool vnet;
	bool coalesce;
	size_t l2len;            /* link header bytes in front of each packet written */
	uint8_t *buf;            /* GSO_HDR_LEN + GSO_PKT_MAX */
	struct dp_gro gro[DP_GRO_FLOWS];   /* buffers allocated on first use */
	unsigned held;           /* slots with len != 0 */
	uint64_t clock;
	struct dp_tun_stats st;
	struct ratelimit rl;
};

struct dp_tun *dp_tun_new(int fd, bool vnet, const struct dp_conf *conf)
{
	return dp_tun_new_l2(fd, vnet, 0, conf);
}

struct dp_tun *dp_tun_new_l2(int fd, bool vnet, size_t l2len, const struct dp_conf *conf)
{
	struct dp_tun *t;

	if (l2len > DP_L2_MAX)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = fd;
	t->vnet = vnet;
	t->coalesce = vnet && conf->coalesce;
	t->l2len = l2len;
	t->buf = malloc(GSO_HDR_LEN + GSO_PKT_MAX);
	if (!t->buf) {
		dp_tun_free(t);
		return NULL;
	}
	return t;
}

void dp_tun_free(struct dp_tun *t)
{
	if (!t)
		return;
	free(t->buf);
	for (size_t i = 0; i < DP_GRO_FLOWS; i++) {
		if (t->gro[i].buf)   /* plaintext */
			cy_wipe(t->gro[i].buf, GSO_HDR_LEN + t->l2len + GSO_PKT_MAX);
		free(t->gro[i].buf);
	}
	free(t);
}
bool dp_tun_vnet(const struct dp_tun *t) { return t->vnet; }
const struct dp_tun_stats *dp_tun_stats(const struct dp_tun *t) { return &t->st; }

struct seg_ctx {
	dp_pkt_fn fn;
	void *arg;
};

static int seg_out(void *arg, uint8_t *pkt, size_t len)
{
	struct seg_ctx *s = arg;

	s->fn(s->arg, pkt, len);
	return 0;
}

int dp_tun_input(uint8_t *buf, size_t len, dp_pkt_fn fn, void *arg)
{
	struct cur c = cur_make(buf, len);
	struct seg_ctx s = { fn, arg };
	struct gso_hdr h;
	uint8_t *pkt;
	size_t plen;

	if (gso_parse_hdr(&c, &h) < 0)
		return -EINVAL;
	pkt = buf + GSO_HDR_LEN;
	plen = len - GSO_HDR_LEN;
	if (h.gso_type == GSO_NONE) {
		/* The common small packet: in place, no copy. */
		if ((h.flags & GSO_F_NEEDS_CSUM) &&
		    gso_complete_csum(pkt, plen, h.csum_start, h.csum_offset) < 0)
			return -EINVAL;
		fn(arg, pkt, plen);
		return 1;
	}
	/* A super-packet: cut where it lies (nothing reads it afterwards). */
	return gso_segment(&h, pkt, plen, 0, seg_out, &s);
}

ssize_t dp_tun_recv(struct dp_tun *t, uint8_t *buf, size_t cap)
{
	ssize_t len = read(t->fd, buf, cap);

	if (len > 0)
		t->st.reads++;
	return len;
}

/* Is IP packet pkt ECN-capable (ECT(0), ECT(1) or CE already)? */
static bool ecn_capable(const uint8_t *pkt, size_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4)
		return (pkt[1] & 3) != 0;
	if (len >= 40 && pkt[0] >> 4 == 6)
		return (pkt[1] & 0x30) != 0;
	return false;
}

/* CE on an ECN-capable IP packet (the IPv4 header checksum redone). */
static void mark_ce(uint8_t *pkt, size_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4) {
		size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
		uint16_t sum;

		if (ihl < 20 || ihl > len)
			return;
		pkt[1] |= 3;
		sum = ip_csum(pkt, ihl);
		pkt[10] = (uint8_t)(sum >> 8);
		pkt[11] = (uint8_t)sum;
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		pkt[1] |= 0x30;
	}
}

/* The congestion signal rides on the first wire packet of what was read
 * (a TSO super-packet is many): marked, or dropped.  One mark, as one
 * drop, per signal: a sender that counts marks (DCTCP, L4S) is not told
 * forty times over. */
struct signal_ctx {
	dp_pkt_fn fn;
	void *arg;
	bool mark;               /* mark (ECN-capable), else drop */
	bool done;
};

static void signal_first(void *arg, uint8_t *pkt, size_t len)
{
	struct signal_ctx *c = arg;

	if (!c->done) {
		c->done = true;
		if (!c->mark)
			return;
		mark_ce(pkt, len);
	}
	c->fn(c->arg, pkt, len);
}

int dp_tun_handle(struct dp_tun *t, uint8_t *buf, size_t len, bool signal, dp_pkt_fn fn,
		  void *arg)
{
	size_t hdr = t->vnet ? GSO_HDR_LEN : 0;
	struct signal_ctx c = { fn, arg, false, false };
	int k;

	if (len <= hdr)
		return -EINVAL;
	if (signal) {
		/* Not ECN-capable: its first wire packet is lost, as a router
		 * under fq_codel would lose it, and the sender slows down. */
		c.mark = ecn_capable(buf + hdr, len - hdr);
		fn = signal_first;
		arg = &c;
	}
	if (!t->vnet) {
		fn(arg, buf, len);
		k = 1;
	} else {
		k = dp_tun_input(buf, len, fn, arg);
	}
	if (k < 0) {
		t->st.bad++;
		LOG_RATELIMITED(&t->rl, "TUN: packet with an unusable offload header dropped");
		return k;
	}
	if (signal && c.done) {
		if (c.mark)
			t->st.ce_marked++;
		else
			t->st.signal_dropped++;
	}
	t->st.packets += (unsigned)k;
	t->st.super += k > 1;
	return k;
}

int dp_tun_read(struct dp_tun *t, unsigned max, dp_pkt_fn fn, void *arg)
{
	unsigned i;

	for (i = 0; i < max; i++) {
		ssize_t len = dp_tun_recv(t, t->buf, GSO_HDR_LEN + GSO_PKT_MAX);

		if (len <= 0)
			break;
		dp_tun_handle(t, t->buf, (size_t)len, false, fn, arg);
	}
	return (int)i;
}

/* One packet behind its link header l2 (t->l2len bytes) and, with vnet,
 * a header: DATA_VALID towards a TUN (the AEAD has authenticated the
 * packet), none towards a packet socket (which has no use for it). */
static int write_plain(struct dp_tun *t, const uint8_t *l2, const uint8_t *pkt, size_t len)
{
	uint8_t hdr[GSO_HDR_LEN];
	struct gso_hdr h = { .flags = t->l2len ? 0 : GSO_F_DATA_VALID };
	struct iovec iov[3];
	int n = 0;
	ssize_t r;

	if (t->vnet) {
		gso_put_hdr(hdr, &h);
		iov[n++] = (struct iovec){ .iov_base = hdr, .iov_len = sizeof(hdr) };
	}
	if (t->l2len)
		iov[n++] = (struct iovec){ .iov_base = (void *)l2, .iov_len = t->l2len };
	iov[n++] = (struct iovec){ .iov_base = (void *)pkt, .iov_len = len };
	t->st.writes++;
	r = n == 1 ? write(t->fd, pkt, len) : writev(t->fd, iov, n);
	return r < 0 ? -errno : 0;
}

/* A TCP segment that may be merged: IPv4 without options or fragments,
 * or IPv6 without extension headers; only ACK (and PSH) set; a payload;
 * lengths consistent.  Fills ver, l3, thl, payload, seq. */
struct tcp_seg {
	int ver;
	size_t l3, thl, payload;
	uint32_t seq;
	bool psh;
};

static bool tcp_candidate(const uint8_t *p, size_t len, struct tcp_seg *s)
{
	struct cur c = cur_make(p, len);
	uint8_t b0 = 0, fl, off;
	uint16_t tot = 0, frag = 0;

	if (!cur_get_u8(&c, &b0))
		return false;
	s->ver = b0 >> 4;
	if (s->ver == 4) {
		if (b0 != 0x45 || len < 40 || p[9] != 6)
			return false;
		tot = get_be16(p + 2);
		frag = get_be16(p + 6);
		if (tot != len || (frag & 0x3fff))
			return false;
		s->l3 = 20;
	} else if (s->ver == 6) {
		if (len < 60 || p[6] != 6 || (size_t)get_be16(p + 4) + 40 != len)
			return false;
		s->l3 = 40;
	} else {
		return false;
	}
	off = p[s->l3 + 12];
	fl = p[s->l3 + 13];
	s->thl = (size_t)(off >> 4) * 4;
	if (s->thl < 20 || (off & 0x0f) || s->l3 + s->thl >= len)
		return false;
	if ((fl & ~0x08) != 0x10)   /* ACK, maybe PSH: no SYN FIN RST URG ECE CWR */
		return false;
	s->psh = fl & 0x08;
	s->payload = len - s->l3 - s->thl;
	s->seq = get_be32(p + s->l3 + 4);
	return true;
}

/* The addresses and ports of an IPv4/IPv6 TCP packet (l3: its IP header
 * length) and those of the held packet q match. */
static bool same_flow(const uint8_t *p, size_t l3, const uint8_t *q, size_t ql3)
{
	if ((p[0] >> 4) != (q[0] >> 4))
		return false;
	if ((p[0] >> 4) == 4 ? memcmp(p + 12, q + 12, 8) : memcmp(p + 8, q + 8, 32))
		return false;
	return !memcmp(p + l3, q + ql3, 4);
}

static uint8_t *gro_pkt(const struct dp_tun *t, const struct dp_gro *g)
{
	return g->buf + GSO_HDR_LEN + t->l2len;
}

/* The held super-packet of p's flow behind link header l2, or NULL. */
static struct dp_gro *gro_find(struct dp_tun *t, const uint8_t *l2, const uint8_t *p, size_t l3)
{
	for (size_t i = 0; i < DP_GRO_FLOWS && t->held; i++) {
		struct dp_gro *g = &t->gro[i];

		if (g->len && same_flow(p, l3, gro_pkt(t, g), g->l3) &&
		    (!t->l2len || !memcmp(g->buf + GSO_HDR_LEN, l2, t->l2len)))
			return g;
	}
	return NULL;
}

/* p (segment s) continues g: same headers, next sequence number, not
 * longer than the first segment, room left (the flow already matched). */
static bool gro_fits(const struct dp_tun *t, const struct dp_gro *g, const uint8_t *p,
		     const struct tcp_seg *s)
{
	const uint8_t *q = gro_pkt(t, g);
	const uint8_t *pt = p + s->l3, *qt = q + g->l3;

	if (g->closed || s->ver != g->ver || s->thl != g->thl || s->seq != g->next_seq ||
	    s->payload > g->mss || g->len - g->l3 + s->payload > 65535 - 40)
		return false;
	if (s->ver == 4) {
		/* tos, DF, ttl, protocol */
		if (p[1] != q[1] || p[6] != q[6] || p[8] != q[8])
			return false;
	} else if (memcmp(p, q, 4) || p[7] != q[7]) {
		return false;   /* traffic class, flow label, hop limit */
	}
	/* ack, flags (PSH aside), window, urgent, options */
	return !memcmp(pt + 8, qt + 8, 5) && (pt[13] & ~0x08) == qt[13] &&
	       !memcmp(pt + 14, qt + 14, 2) && !memcmp(pt + 18, qt + 18, s->thl - 18);
}

/* Write g out and free its slot. */
static int gro_flush(struct dp_tun *t, struct dp_gro *g)
{
	uint8_t *q = gro_pkt(t, g);
	struct gso_hdr h = { 0 };
	size_t alen = g->ver == 4 ? 4 : 16;
	ssize_t r;

	if (!g->len)
		return 0;
	t->held--;
	if (g->nseg == 1) {
		r = write_plain(t, q - t->l2len, q, g->len);
		g->len = 0;
		t->st.write_lost += r < 0;
		return (int)r;
	}
	if (g->ver == 4) {
		put_be16(q + 2, (uint16_t)g->len);
		put_be16(q + 10, ip_csum(q, 20));
	} else {
		put_be16(q + 4, (uint16_t)(g->len - 40));
	}
	/* A partial checksum, as the kernel's own TSO packets carry. */
	put_be16(q + g->l3 + 16, (uint16_t)~inet_csum_fold(inet_pseudo_sum(
		 q + (g->ver == 4 ? 12 : 8), q + (g->ver == 4 ? 16 : 24), alen, 6,
		 (uint32_t)(g->len - g->l3))));
	h.flags = GSO_F_NEEDS_CSUM;
	h.gso_type = g->ver == 4 ? GSO_TCPV4 : GSO_TCPV6;
	/* Offsets count from the link header (AF_PACKET) or the packet (TUN). */
	h.hdr_len = (uint16_t)(t->l2len + g->l3 + g->thl);
	h.gso_size = (uint16_t)g->mss;
	h.csum_start = (uint16_t)(t->l2len + g->l3);
	h.csum_offset = 16;
	gso_put_hdr(g->buf, &h);
	t->st.writes++;
	r = write(t->fd, g->buf, GSO_HDR_LEN + t->l2len + g->len);
	g->len = 0;
	if (r < 0) {
		t->st.write_lost += g->nseg;
		return -errno;
	}
	return 0;
}

int dp_tun_flush(struct dp_tun *t)
{
	int err = 0, r;

	for (size_t i = 0; i < DP_GRO_FLOWS && t->held; i++) {
		r = gro_flush(t, &t->gro[i]);
		if (r < 0)
			err = r;
	}
	return err;
}

bool dp_tun_pending(const struct dp_tun *t)
{
	return t->held != 0;
}

/* A free slot with its buffer (the least recently used one written out
 * when all are taken), or NULL when out of memory. */
static struct dp_gro *gro_slot(struct dp_tun *t)
{
	struct dp_gro *old = NULL;

	for (size_t i = 0; i < DP_GRO_FLOWS; i++) {
		struct dp_gro *g = &t->gro[i];

		if (!g->len) {
			if (!g->buf)
				g->buf = malloc(GSO_HDR_LEN + t->l2len + GSO_PKT_MAX);
			return g->buf ? g : NULL;
		}
		if (!old || g->used < old->used)
			old = g;
	}
	(void)gro_flush(t, old);
	return old;
}

/* What a packet that is not merged must wait for: a TCP packet for its
 * own flow's held segments (they go first), any other IPv4/IPv6 packet
 * for nothing (another flow), anything unclear for everything. */
static int flush_before(struct dp_tun *t, const uint8_t *p, size_t len)
{
	struct dp_gro *g;
	size_t l3;
	uint8_t proto;

	if (!t->held)
		return 0;
	if (len >= 20 && (p[0] >> 4) == 4) {
		l3 = (size_t)(p[0] & 0x0f) * 4;
		proto = p[9];
		if (proto == 6 && (get_be16(p + 6) & 0x3fff))
			return dp_tun_flush(t);      /* a TCP fragment */
	} else if (len >= 40 && (p[0] >> 4) == 6) {
		l3 = 40;
		proto = p[6];
		if (proto != 6 && proto != 17 && proto != 58)
			return dp_tun_flush(t);      /* an extension header */
	} else {
		return dp_tun_flush(t);
	}
	if (proto != 6)
		return 0;
	if (l3 < 20 || len < l3 + 4)
		return dp_tun_flush(t);
	/* The connection's held segments, behind whatever link header. */
	for (size_t i = 0; i < DP_GRO_FLOWS; i++) {
		g = &t->gro[i];
		if (g->len && same_flow(p, l3, gro_pkt(t, g), g->l3))
			return gro_flush(t, g);
	}
	return 0;
}

int dp_tun_write(struct dp_tun *t, const uint8_t *pkt, size_t len)
{
	return dp_tun_write_l2(t, NULL, pkt, len);
}

int dp_tun_write_l2(struct dp_tun *t, const uint8_t *l2, const uint8_t *pkt, size_t len)
{
	struct dp_gro *g;
	struct tcp_seg s;
	int err;

	/* Held packets written out on the way count their own losses
	 * (write_lost); the return value is about pkt only. */
	if (!t->coalesce || len > GSO_PKT_MAX || !tcp_candidate(pkt, len, &s)) {
		if (t->coalesce)
			(void)flush_before(t, pkt, len);   /* keep the flow's order */
		err = write_plain(t, l2, pkt, len);
		t->st.write_lost += err < 0;
		return err;
	}
	g = gro_find(t, l2, pkt, s.l3);
	if (g && gro_fits(t, g, pkt, &s)) {
		uint8_t *q = gro_pkt(t, g);

		memcpy(q + g->len, pkt + s.l3 + s.thl, s.payload);
		g->len += s.payload;
		g->nseg++;
		g->next_seq += (uint32_t)s.payload;
		q[g->l3 + 13] |= pkt[s.l3 + 13] & 0x08;
		g->closed = s.psh || s.payload < g->mss;
		g->used = ++t->clock;
		t->st.merged++;
		return 0;
	}
	if (g)
		(void)gro_flush(t, g);
	if (s.psh || !(g = gro_slot(t))) {
		err = write_plain(t, l2, pkt, len);
		t->st.write_lost += err < 0;
		return err;
	}
	if (t->l2len)
		memcpy(g->buf + GSO_HDR_LEN, l2, t->l2len);
	memcpy(gro_pkt(t, g), pkt, len);
	g->len = len;
	g->ver = s.ver;
	g->l3 = s.l3;
	g->thl = s.thl;
	g->mss = s.payload;
	g->nseg = 1;
	g->next_seq = s.seq + (uint32_t)s.payload;
	g->closed = false;
	g->used = ++t->clock;
	t->held++;
	return 0;
}
