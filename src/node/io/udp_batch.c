/* Batched UDP I/O (batch.h): the send batch (dp_tx: sendmmsg, UDP GSO)
 * and the receive loop (dp_rx: recvmmsg, UDP GRO). */
#include "batch.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "addr.h"
#include "gso.h"
#include "log.h"
#include "udp.h"

/* GSO messages refused with EINVAL (path MTU below the segment size, an
 * old kernel) before UDP GSO is given up on a socket. */
#define DP_GSO_FAILS 8

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
	bool gso, mmsg;
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

struct dp_tx *dp_tx_new(int fd, const struct dp_conf *conf)
{
	struct dp_tx *tx = calloc(1, sizeof(*tx));

	if (!tx)
		return NULL;
	tx->fd = fd;
	tx->gso = conf->gso;
	tx->mmsg = conf->mmsg;
	tx->v6sock = udp_v6sock(fd);
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
	if (!tx->slots || tx->n >= DP_TX_MAX || !len || len > DP_SLOT || !addr_len(to))
		return -EINVAL;
	tx->dstlen[tx->n] = addr_map(to, tx->v6sock ? AF_INET6 : AF_INET, &tx->dst[tx->n]);
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
	if (tx->mmsg)
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
	bool gro, mmsg;
	size_t msg_size;                       /* bytes per message lately (for a turn's size) */
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

struct dp_rx *dp_rx_new(int fd, const struct dp_conf *conf)
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
	rx->mmsg = conf->mmsg;
	rx->msg_size = DP_RX_MSG_MIN;
	if (conf->gro) {
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

int dp_rx_run(struct dp_rx *rx, size_t budget, dp_rx_fn fn, void *arg)
{
	struct dp_rx_arena *a = arena;
	unsigned want, done = 0;
	size_t bytes = 0, got = 0;
	bool first = true;

	while (bytes < budget) {
		int r;

		/* Ask for what the budget has left, at the size the last
		 * messages had (a GRO buffer may hold 64 KB, or one small
		 * datagram), so one turn stays about its size. */
		want = rx->mmsg ? DP_RX_MSGS : 1;
		if (want > 1) {
			size_t left = (budget - bytes + rx->msg_size - 1) / rx->msg_size;

			want = left < want ? (unsigned)left : want;
		}

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
			size_t charge = a->msgs[i].msg_len;

			/* Every message costs a turn something, an empty or a
			 * truncated one too: a flood of them cannot keep it going. */
			bytes += charge > DP_RX_MSG_MIN ? charge : DP_RX_MSG_MIN;
			got += charge;
			if (h->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
				LOG_RATELIMITED(&rx->rl, "UDP receive: truncated message dropped");
				continue;
			}
			addr_unmap(&a->from[i], &fl);
			done += (unsigned)dp_split(a->iov[i].iov_base, a->msgs[i].msg_len,
						   rx->gro ? gro_size(h) : 0,
						   (const struct sockaddr *)&a->from[i], fn, arg);
		}
		rx->msg_size = got / (size_t)r > DP_RX_MSG_MIN ? got / (size_t)r : DP_RX_MSG_MIN;
		got = 0;
		if ((unsigned)r < want)
			break;   /* the socket is empty */
	}
	return (int)done;
}

