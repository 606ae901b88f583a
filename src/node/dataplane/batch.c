#include "batch.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "aead.h"
#include "buf.h"
#include "gso.h"
#include "log.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif
/* GSO messages refused with EINVAL (path MTU below the segment size, an
 * old kernel) before UDP GSO is given up on a socket. */
#define DP_GSO_FAILS 8

/* ---- switches ---- */

static struct dp_conf conf;
static bool conf_loaded;

static bool env_bool(const char *name, bool dflt)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return dflt;
	if (!strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
	    !strcasecmp(v, "false"))
		return false;
	return true;
}

void dp_conf_reload(void)
{
	bool all = env_bool("CY_DP", true);

	conf.mmsg = all && env_bool("CY_DP_MMSG", true);
	conf.gso = all && env_bool("CY_DP_GSO", true);
	conf.gro = all && env_bool("CY_DP_GRO", true);
	conf.vnet = all && env_bool("CY_DP_VNET", true);
	conf.coalesce = conf.vnet && env_bool("CY_DP_COALESCE", true);
	conf_loaded = true;
}

const struct dp_conf *dp_conf(void)
{
	if (!conf_loaded) {
		dp_conf_reload();
		log_info("data plane: mmsg %s, udp gso %s, udp gro %s, tun offload %s, "
			 "coalesce %s", conf.mmsg ? "on" : "off", conf.gso ? "on" : "off",
			 conf.gro ? "on" : "off", conf.vnet ? "on" : "off",
			 conf.coalesce ? "on" : "off");
	}
	return &conf;
}

/* ---- planning ---- */

static bool same_dst(const struct sockaddr_storage *a, socklen_t alen,
		     const struct sockaddr_storage *b, socklen_t blen)
{
	return alen == blen && !memcmp(a, b, alen);
}

size_t dp_plan(const uint16_t *len, const struct sockaddr_storage *dst, const socklen_t *dstlen,
	       size_t n, bool gso, struct dp_group *g)
{
	size_t i = 0, ng = 0;

	while (i < n) {
		size_t j = i + 1, bytes = len[i];

		if (gso) {
			while (j < n && j - i < DP_GSO_SEGS && len[j] <= len[i] &&
			       bytes + len[j] <= DP_GSO_BYTES &&
			       same_dst(&dst[i], dstlen[i], &dst[j], dstlen[j])) {
				bytes += len[j];
				if (len[j++] < len[i])
					break;   /* a shorter one ends the run */
			}
		}
		g[ng].first = i;
		g[ng].count = j - i;
		g[ng].seg = j - i > 1 ? len[i] : 0;
		ng++;
		i = j;
	}
	return ng;
}

size_t dp_split(uint8_t *buf, size_t len, size_t seg, const struct sockaddr *from, dp_rx_fn fn,
		void *arg)
{
	size_t off = 0, k = 0;

	if (!seg || seg >= len) {
		fn(arg, buf, len, from);
		return 1;
	}
	while (off < len) {
		size_t l = len - off < seg ? len - off : seg;

		fn(arg, buf + off, l, from);
		off += l;
		k++;
	}
	return k;
}

/* ---- UDP send ---- */

struct dp_tx {
	int fd;
	bool v6sock;            /* dual-stack socket: IPv4 destinations v4-mapped */
	bool gso;
	unsigned gso_fails;
	size_t n;
	uint8_t *slots;         /* DP_TX_MAX * DP_SLOT, allocated on first use */
	uint16_t len[DP_TX_MAX];
	socklen_t dstlen[DP_TX_MAX];
	struct sockaddr_storage dst[DP_TX_MAX];
	struct dp_group groups[DP_TX_MAX];
	struct iovec iov[DP_TX_MAX];
	struct mmsghdr msgs[DP_TX_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cm[DP_TX_MAX];
	struct dp_tx_stats st;
	struct ratelimit rl;
};

struct dp_tx *dp_tx_new(int fd)
{
	struct dp_tx *tx = calloc(1, sizeof(*tx));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (!tx)
		return NULL;
	tx->fd = fd;
	tx->gso = dp_conf()->gso;
	tx->v6sock = getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
		     ss.ss_family == AF_INET6;
	return tx;
}

void dp_tx_free(struct dp_tx *tx)
{
	if (!tx)
		return;
	free(tx->slots);   /* ciphertext only: nothing to wipe */
	free(tx);
}

uint8_t *dp_tx_slot(struct dp_tx *tx, size_t *cap)
{
	if (!tx->slots) {
		tx->slots = malloc((size_t)DP_TX_MAX * DP_SLOT);
		if (!tx->slots)
			return NULL;
	}
	if (tx->n == DP_TX_MAX)
		dp_tx_flush(tx);
	*cap = DP_SLOT;
	return tx->slots + tx->n * DP_SLOT;
}

int dp_tx_commit(struct dp_tx *tx, size_t len, const struct sockaddr *to)
{
	struct sockaddr_storage *d;
	socklen_t dl = addr_len(to);

	if (!tx->slots || tx->n >= DP_TX_MAX || !len || len > DP_SLOT || !dl)
		return -EINVAL;
	d = &tx->dst[tx->n];
	memset(d, 0, sizeof(*d));
	if (to->sa_family == AF_INET && tx->v6sock) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)to;
		struct sockaddr_in6 *m = (struct sockaddr_in6 *)d;

		m->sin6_family = AF_INET6;
		m->sin6_port = sin->sin_port;
		m->sin6_addr.s6_addr[10] = 0xff;
		m->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&m->sin6_addr.s6_addr[12], &sin->sin_addr, 4);
		dl = sizeof(*m);
	} else {
		memcpy(d, to, dl);
	}
	tx->dstlen[tx->n] = dl;
	tx->len[tx->n] = (uint16_t)len;
	tx->n++;
	if (tx->n == DP_TX_MAX)
		dp_tx_flush(tx);
	return 0;
}

static void msg_setup(struct dp_tx *tx, struct mmsghdr *m, size_t k, const struct dp_group *g)
{
	struct msghdr *h = &m->msg_hdr;

	memset(m, 0, sizeof(*m));
	for (size_t e = g->first; e < g->first + g->count; e++) {
		tx->iov[e].iov_base = tx->slots + e * DP_SLOT;
		tx->iov[e].iov_len = tx->len[e];
	}
	h->msg_name = &tx->dst[g->first];
	h->msg_namelen = tx->dstlen[g->first];
	h->msg_iov = &tx->iov[g->first];
	h->msg_iovlen = g->count;
	if (g->count > 1) {
		struct cmsghdr *c;
		uint16_t seg = g->seg;

		h->msg_control = tx->cm[k].buf;
		h->msg_controllen = sizeof(tx->cm[k].buf);
		c = CMSG_FIRSTHDR(h);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	}
}

static int send_msgs(struct dp_tx *tx, struct mmsghdr *m, size_t n)
{
	int r;

	tx->st.syscalls++;
	if (dp_conf()->mmsg)
		return sendmmsg(tx->fd, m, (unsigned)n, MSG_DONTWAIT);
	r = (int)sendmsg(tx->fd, &m->msg_hdr, MSG_DONTWAIT);
	return r < 0 ? -1 : 1;
}

/* A GSO message the kernel refused: its datagrams one by one. */
static void send_singles(struct dp_tx *tx, const struct dp_group *g)
{
	for (size_t e = g->first; e < g->first + g->count; e++) {
		struct msghdr h = { .msg_name = &tx->dst[e], .msg_namelen = tx->dstlen[e],
				    .msg_iov = &tx->iov[e], .msg_iovlen = 1 };

		tx->st.syscalls++;
		if (sendmsg(tx->fd, &h, MSG_DONTWAIT) < 0)
			tx->st.dropped++;
		else
			tx->st.datagrams++;
	}
}

size_t dp_tx_flush(struct dp_tx *tx)
{
	uint64_t dropped = tx->st.dropped;
	size_t ng, m = 0;

	if (!tx->n)
		return 0;
	ng = dp_plan(tx->len, tx->dst, tx->dstlen, tx->n, tx->gso, tx->groups);
	for (size_t k = 0; k < ng; k++)
		msg_setup(tx, &tx->msgs[k], k, &tx->groups[k]);
	while (m < ng) {
		const struct dp_group *g = &tx->groups[m];
		int r = send_msgs(tx, &tx->msgs[m], ng - m);
		int err = errno;

		if (r > 0) {
			for (int i = 0; i < r; i++) {
				tx->st.datagrams += tx->groups[m + (size_t)i].count;
				tx->st.gso_msgs += tx->groups[m + (size_t)i].count > 1;
			}
			m += (size_t)r;
			continue;
		}
		if (err == EINTR)
			continue;
		if (g->count > 1 && (err == EIO || err == EINVAL || err == ENOPROTOOPT ||
				     err == EOPNOTSUPP)) {
			if (err != EINVAL || ++tx->gso_fails >= DP_GSO_FAILS) {
				tx->gso = false;
				log_warnx("UDP GSO refused by the kernel (%s): sending datagrams "
					  "one by one", strerror(err));
			}
			send_singles(tx, g);
			m++;
			continue;
		}
		if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
			/* socket buffer full: like any UDP sender, drop */
			for (; m < ng; m++)
				tx->st.dropped += tx->groups[m].count;
			break;
		}
		LOG_RATELIMITED(&tx->rl, "UDP send: %s", strerror(err));
		tx->st.dropped += g->count;
		m++;
	}
	tx->n = 0;
	return (size_t)(tx->st.dropped - dropped);
}

size_t dp_tx_pending(const struct dp_tx *tx) { return tx->n; }
const struct dp_tx_stats *dp_tx_stats(const struct dp_tx *tx) { return &tx->st; }
bool dp_tx_gso(const struct dp_tx *tx) { return tx->gso; }

/* ---- UDP receive ---- */

/* The receive buffers, shared by every dp_rx of the process: one thread
 * reads all sockets, each read is consumed before the next. */
struct dp_rx_arena {
	unsigned refs;
	uint8_t *buf;                          /* DP_RX_MSGS * DP_RX_BUF */
	struct mmsghdr msgs[DP_RX_MSGS];
	struct iovec iov[DP_RX_MSGS];
	struct sockaddr_storage from[DP_RX_MSGS];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm[DP_RX_MSGS];
};

static struct dp_rx_arena *arena;

struct dp_rx {
	int fd;
	bool gro;
	struct ratelimit rl;
};

static struct dp_rx_arena *arena_get(void)
{
	if (arena) {
		arena->refs++;
		return arena;
	}
	arena = calloc(1, sizeof(*arena));
	if (!arena)
		return NULL;
	arena->buf = malloc((size_t)DP_RX_MSGS * DP_RX_BUF);
	if (!arena->buf) {
		free(arena);
		arena = NULL;
		return NULL;
	}
	arena->refs = 1;
	return arena;
}

static void arena_put(void)
{
	if (!arena || --arena->refs)
		return;
	free(arena->buf);
	free(arena);
	arena = NULL;
}

struct dp_rx *dp_rx_new(int fd)
{
	struct dp_rx *rx = calloc(1, sizeof(*rx));
	int one = 1;

	if (!rx)
		return NULL;
	if (!arena_get()) {
		free(rx);
		return NULL;
	}
	rx->fd = fd;
	if (dp_conf()->gro) {
		if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0)
			rx->gro = true;
		else
			log_info("UDP GRO not available (%s): one datagram per buffer",
				 strerror(errno));
	}
	return rx;
}

void dp_rx_free(struct dp_rx *rx)
{
	if (!rx)
		return;
	arena_put();
	free(rx);
}

bool dp_rx_gro(const struct dp_rx *rx) { return rx->gro; }

static size_t gro_size(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		int v;

		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(v))) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v > 0 ? (size_t)v : 0;
		}
	}
	return 0;
}

int dp_rx_run(struct dp_rx *rx, unsigned max, dp_rx_fn fn, void *arg)
{
	struct dp_rx_arena *a = arena;
	unsigned want = dp_conf()->mmsg ? DP_RX_MSGS : 1, done = 0;
	bool first = true;

	while (done < max) {
		int r;

		for (unsigned i = 0; i < want; i++) {
			struct msghdr *h = &a->msgs[i].msg_hdr;

			a->iov[i].iov_base = a->buf + (size_t)i * DP_RX_BUF;
			a->iov[i].iov_len = DP_RX_BUF;
			memset(h, 0, sizeof(*h));
			h->msg_name = &a->from[i];
			h->msg_namelen = sizeof(a->from[i]);
			h->msg_iov = &a->iov[i];
			h->msg_iovlen = 1;
			if (rx->gro) {
				h->msg_control = a->cm[i].buf;
				h->msg_controllen = sizeof(a->cm[i].buf);
			}
		}
		if (want > 1) {
			r = recvmmsg(rx->fd, a->msgs, want, MSG_DONTWAIT, NULL);
		} else {
			ssize_t l = recvmsg(rx->fd, &a->msgs[0].msg_hdr, MSG_DONTWAIT);

			r = l < 0 ? -1 : 1;
			if (l >= 0)
				a->msgs[0].msg_len = (unsigned)l;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (first)
				return -errno;
			break;
		}
		first = false;
		for (int i = 0; i < r; i++) {
			struct msghdr *h = &a->msgs[i].msg_hdr;
			socklen_t fl = h->msg_namelen;

			if (h->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
				LOG_RATELIMITED(&rx->rl, "UDP receive: truncated message dropped");
				continue;
			}
			addr_unmap(&a->from[i], &fl);
			done += (unsigned)dp_split(a->iov[i].iov_base, a->msgs[i].msg_len,
						   rx->gro ? gro_size(h) : 0,
						   (const struct sockaddr *)&a->from[i], fn, arg);
		}
		if ((unsigned)r < want)
			break;   /* the socket is empty */
	}
	return (int)done;
}

/* ---- TUN ---- */

int dp_tun_flags(void)
{
	return dp_conf()->vnet ? IFF_VNET_HDR : 0;
}

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
	uint8_t *seg;            /* GSO_PKT_MAX: segments of a super-packet */
	struct dp_gro gro[DP_GRO_FLOWS];   /* buffers allocated on first use */
	unsigned held;           /* slots with len != 0 */
	uint64_t clock;
	struct dp_tun_stats st;
	struct ratelimit rl;
};

struct dp_tun *dp_tun_new(int fd, bool vnet)
{
	return dp_tun_new_l2(fd, vnet, 0);
}

struct dp_tun *dp_tun_new_l2(int fd, bool vnet, size_t l2len)
{
	struct dp_tun *t;

	if (l2len > DP_L2_MAX)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = fd;
	t->vnet = vnet;
	t->coalesce = vnet && dp_conf()->coalesce;
	t->l2len = l2len;
	t->buf = malloc(GSO_HDR_LEN + GSO_PKT_MAX);
	t->seg = vnet ? malloc(GSO_PKT_MAX) : NULL;
	if (!t->buf || (vnet && !t->seg)) {
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
	free(t->seg);
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

int dp_tun_input(uint8_t *buf, size_t len, uint8_t *scratch, dp_pkt_fn fn, void *arg)
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
	return gso_segment(&h, pkt, plen, 0, scratch, GSO_PKT_MAX, seg_out, &s);
}

int dp_tun_read(struct dp_tun *t, unsigned max, dp_pkt_fn fn, void *arg)
{
	unsigned i;

	for (i = 0; i < max; i++) {
		ssize_t len = read(t->fd, t->buf, GSO_HDR_LEN + GSO_PKT_MAX);
		int k;

		if (len <= 0)
			break;
		t->st.reads++;
		if (!t->vnet) {
			t->st.packets++;
			fn(arg, t->buf, (size_t)len);
			continue;
		}
		k = dp_tun_input(t->buf, (size_t)len, t->seg, fn, arg);
		if (k < 0) {
			t->st.bad++;
			LOG_RATELIMITED(&t->rl, "TUN: packet with an unusable offload header "
					"dropped");
			continue;
		}
		t->st.packets += (unsigned)k;
		t->st.super += k > 1;
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
