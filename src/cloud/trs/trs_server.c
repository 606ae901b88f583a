#include "trs_server.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "gso.h"
#include "log.h"

#define TRS_BATCH 256
#define TRS_DATA_MAX 65536
#define TRS_SOCK_BUF (4 << 20)  /* each relay session's socket, each way */
#define TRS_GSO_SEGS 64        /* datagrams per UDP_SEGMENT message (kernel minimum) */


struct trs_server;

struct trs_port {
	struct trs_server *srv;
	size_t slot;
	int fd;
	struct event *ev;
};

struct trs_server {
	struct event_base *base;
	struct trs *trs;
	struct sockaddr_storage listen;
	uint16_t port_lo, port_hi, port_next;
	int fd;
	struct event *ev_ctl, *ev_expire;
	struct trs_port *ports;           /* one per session slot */
	size_t nports;
	uint8_t *buf;
	bool no_gso;                      /* UDP_SEGMENT failed: one datagram per send */
	bool buf_warned;                  /* said once: the buffers are capped */
	struct ratelimit rl;
};

/* Send len bytes to to; seg != 0: they are datagrams of seg bytes (the
 * last maybe shorter) sent as one UDP GSO message.  A dual-stack socket
 * wants its IPv4 peers mapped.  0 or -errno. */
static int trs_send(struct trs_server *s, int fd, const struct sockaddr *to, const uint8_t *p,
		    size_t len, uint16_t seg)
{
	struct sockaddr_storage dst;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	mh.msg_name = &dst;
	mh.msg_namelen = addr_map(to, s->listen.ss_family, &dst);
	if (seg) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	}
	return sendmsg(fd, &mh, 0) < 0 ? -errno : 0;
}

static void trs_sendto(struct trs_server *s, int fd, const struct sockaddr *to,
		       const uint8_t *p, size_t len)
{
	int err = trs_send(s, fd, to, p, len, 0);

	if (err < 0)
		LOG_RATELIMITED(&s->rl, "trs: sendto: %s", strerror(-err));
}

/* count datagrams of seg bytes (the last maybe shorter) at p, len bytes
 * in all, for to: one GSO message, or one by one where the kernel does
 * not take it (then never again). */
static void trs_send_run(struct trs_server *s, int fd, const struct sockaddr *to,
			 const uint8_t *p, size_t len, size_t seg, unsigned count)
{
	int err;

	if (count > 1 && !s->no_gso) {
		err = trs_send(s, fd, to, p, len, (uint16_t)seg);
		if (err != -EIO && err != -EINVAL && err != -EOPNOTSUPP) {
			if (err < 0)
				LOG_RATELIMITED(&s->rl, "trs: sendmsg: %s", strerror(-err));
			return;
		}
		s->no_gso = true;
		log_warnx("trs: UDP GSO refused (%s): relaying one datagram per send",
			  strerror(-err));
	}
	for (size_t off = 0; off < len; off += seg)
		trs_sendto(s, fd, to, p + off, len - off < seg ? len - off : seg);
}

static int trs_socket(const struct sockaddr_storage *at)
{
	int fd = socket(at->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), off = 0;

	if (fd < 0)
		return -errno;
	if ((at->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0) ||
	    bind(fd, (const struct sockaddr *)at, addr_len((const struct sockaddr *)at)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Read one buffer: with UDP_GRO possibly several datagrams of *seg bytes
 * from one sender (the last maybe shorter); *seg = *len otherwise.  False
 * when the socket is drained. */
static bool trs_recv_gro(struct trs_server *s, int fd, struct sockaddr_storage *from,
			 size_t *len, size_t *seg)
{
	struct iovec iov = { .iov_base = s->buf, .iov_len = TRS_DATA_MAX };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_name = from, .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	socklen_t flen;
	ssize_t n;

	for (;;) {
		mh.msg_namelen = sizeof(*from);
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(fd, &mh, 0);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			LOG_RATELIMITED(&s->rl, "trs: recvmsg: %s", strerror(errno));
		return false;
	}
	flen = mh.msg_namelen;
	addr_unmap(from, &flen);
	*len = (size_t)n;
	*seg = *len;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int v;

		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(v))) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			if (v > 0 && (size_t)v < *len)
				*seg = (size_t)v;
		}
	}
	return true;
}

/* Read one datagram; false when the socket is drained. */
static bool trs_recv(struct trs_server *s, int fd, struct sockaddr_storage *from, size_t *len)
{
	socklen_t flen = sizeof(*from);
	ssize_t n;

	for (;;) {
		n = recvfrom(fd, s->buf, TRS_DATA_MAX, 0, (struct sockaddr *)from, &flen);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			LOG_RATELIMITED(&s->rl, "trs: recvfrom: %s", strerror(errno));
		return false;
	}
	addr_unmap(from, &flen);
	*len = (size_t)n;
	return true;
}

/* A run of datagrams of one buffer forwarded unchanged to one place. */
struct trs_run {
	struct sockaddr_storage to;
	const uint8_t *p;
	size_t len;
	unsigned count;
};

static void run_flush(struct trs_server *s, int fd, struct trs_run *r, size_t seg)
{
	if (r->count)
		trs_send_run(s, fd, (struct sockaddr *)&r->to, r->p, r->len, seg, r->count);
	r->count = 0;
}

/* Each datagram is checked on its own (trs_handle_relay); the ones
 * passed unchanged to the same endpoint leave together, as the UDP GRO
 * buffer they came in (one GSO message), anything else on its own. */
static void trs_port_read(evutil_socket_t fd, short what, void *arg)
{
	struct trs_port *p = arg;
	struct trs_server *s = p->srv;
	struct sockaddr_storage from;
	struct trs_run run = { .count = 0 };
	struct trs_fwd f;
	size_t len, seg;

	for (int i = 0; i < TRS_BATCH && p->fd >= 0; i++) {
		if (!trs_recv_gro(s, (int)fd, &from, &len, &seg))
			break;
		for (size_t off = 0; off < len && p->fd >= 0; off += seg) {
			uint8_t *d = s->buf + off;
			size_t n = len - off < seg ? len - off : seg;

			bool fwd = trs_handle_relay(s->trs, p->slot, (struct sockaddr *)&from, d, n,
						    &f);

			if (f.ack_len) {
				/* an accepted hello: its ack back to the sender */
				run_flush(s, (int)fd, &run, seg);
				trs_sendto(s, (int)fd, (struct sockaddr *)&from, f.ack, f.ack_len);
			}
			if (!fwd) {
				run_flush(s, (int)fd, &run, seg);
				continue;
			}
			if (f.buf != d || f.len != n) {
				/* a held handshake let go: on its own */
				run_flush(s, (int)fd, &run, seg);
				trs_sendto(s, (int)fd, f.to, f.buf, f.len);
				continue;
			}
			if (run.count && (run.count == TRS_GSO_SEGS || run.p + run.len != d ||
					  !addr_equal((const struct sockaddr *)&run.to, f.to)))
				run_flush(s, (int)fd, &run, seg);
			if (!run.count) {
				memcpy(&run.to, f.to, addr_len(f.to));
				run.p = d;
				run.len = 0;
			}
			run.len += n;
			run.count++;
		}
		run_flush(s, (int)fd, &run, seg);
	}
}

static uint16_t trs_port_pick(struct trs_server *s, int *fd)
{
	struct sockaddr_storage at = s->listen;
	unsigned span = (unsigned)s->port_hi - s->port_lo + 1;

	if (!s->port_lo) {
		struct sockaddr_storage got;
		socklen_t l = sizeof(got);

		addr_set_port((struct sockaddr *)&at, 0);
		*fd = trs_socket(&at);
		if (*fd < 0 || getsockname(*fd, (struct sockaddr *)&got, &l) < 0)
			return 0;
		return addr_port((struct sockaddr *)&got);
	}
	for (unsigned i = 0; i < span; i++) {
		uint16_t port = (uint16_t)(s->port_lo + (s->port_next + i) % span);

		addr_set_port((struct sockaddr *)&at, port);
		*fd = trs_socket(&at);
		if (*fd >= 0) {
			s->port_next = (uint16_t)((s->port_next + i + 1) % span);
			return port;
		}
	}
	return 0;
}

static int trs_port_open(void *arg, size_t slot, uint16_t *port)
{
	struct trs_server *s = arg;
	struct trs_port *p;
	int fd = -1, got;

	if (slot >= s->nports)
		return -EINVAL;
	p = &s->ports[slot];
	*port = trs_port_pick(s, &fd);
	if (!*port) {
		if (fd >= 0)
			close(fd);
		log_warnx("trs: no port for a relay session");
		return -EADDRINUSE;
	}
	p->srv = s;
	p->slot = slot;
	p->fd = fd;
	/* Best effort: without it, one datagram per read. */
	(void)setsockopt(fd, SOL_UDP, UDP_GRO, &(int){ 1 }, sizeof(int));
	/* A session's socket holds what both nodes' sockets hold: with the
	 * default (rmem_default) one bulk TCP flow overflowed it, and up to
	 * 7.5 % of the pings beside it were lost (docs/performance.md). */
	got = addr_sock_buffers(fd, TRS_SOCK_BUF);
	if (got >= 0 && got < TRS_SOCK_BUF && !s->buf_warned) {
		s->buf_warned = true;
		log_warnx("trs: relay sockets get %d KB of receive buffer, not %d KB: "
			  "under load a bulk flow may fill it and lose the packets beside "
			  "it; raise net.core.rmem_max and net.core.wmem_max to %d",
			  got / 1024, TRS_SOCK_BUF / 1024, TRS_SOCK_BUF);
	}
	p->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, trs_port_read, p);
	if (!p->ev || event_add(p->ev, NULL) < 0) {
		if (p->ev)
			event_free(p->ev);
		p->ev = NULL;
		close(fd);
		p->fd = -1;
		return -ENOMEM;
	}
	return 0;
}

static void trs_port_close(void *arg, size_t slot)
{
	struct trs_server *s = arg;
	struct trs_port *p;

	if (slot >= s->nports)
		return;
	p = &s->ports[slot];
	if (p->ev)
		event_free(p->ev);
	if (p->fd >= 0)
		close(p->fd);
	p->ev = NULL;
	p->fd = -1;
}

static void trs_ctl_read(evutil_socket_t fd, short what, void *arg)
{
	struct trs_server *s = arg;
	struct sockaddr_storage from;
	uint8_t out[TRS_PKT_MAX];
	size_t len, r;

	for (int i = 0; i < TRS_BATCH; i++) {
		if (!trs_recv(s, (int)fd, &from, &len))
			break;
		r = trs_handle_ctl(s->trs, (struct sockaddr *)&from, s->buf, len, out, sizeof(out));
		if (r)
			trs_sendto(s, (int)fd, (struct sockaddr *)&from, out, r);
	}
}

static void trs_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct trs_server *s = arg;

	trs_expire(s->trs, clock_now_ms());
}

static const struct trs_ops trs_server_ops = { .open = trs_port_open, .close = trs_port_close };

struct trs_server *trs_server_new(struct event_base *base, const struct trs_server_conf *conf)
{
	struct timeval tv = { 1, 0 };
	struct trs_server *s;
	char buf[ADDR_STR_MAX];
	int fd;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base = base;
	s->fd = -1;
	s->listen = conf->listen;
	s->port_lo = conf->port_lo;
	s->port_hi = conf->port_hi;
	s->nports = conf->trs.max_sessions;
	s->ports = calloc(s->nports, sizeof(*s->ports));
	s->buf = malloc(TRS_DATA_MAX);
	if (!s->ports || !s->buf)
		goto fail;
	for (size_t i = 0; i < s->nports; i++)
		s->ports[i].fd = -1;
	s->trs = trs_new(&conf->trs, &trs_server_ops, s);
	if (!s->trs) {
		log_err("trs: bad settings");
		goto fail;
	}
	fd = trs_socket(&conf->listen);
	if (fd < 0) {
		errno = -fd;
		log_warn("trs: socket on %s", addr_str((const struct sockaddr *)&conf->listen, buf));
		goto fail;
	}
	s->fd = fd;
	s->ev_ctl = event_new(base, s->fd, EV_READ | EV_PERSIST, trs_ctl_read, s);
	s->ev_expire = event_new(base, -1, EV_PERSIST, trs_expire_cb, s);
	if (!s->ev_ctl || !s->ev_expire || event_add(s->ev_ctl, NULL) < 0 ||
	    event_add(s->ev_expire, &tv) < 0)
		goto fail;
	log_info("trs: listening on %s/udp", addr_str((const struct sockaddr *)&conf->listen, buf));
	return s;
fail:
	trs_server_free(s);
	return NULL;
}

void trs_server_free(struct trs_server *s)
{
	if (!s)
		return;
	trs_free(s->trs);   /* closes the session ports */
	if (s->ev_ctl)
		event_free(s->ev_ctl);
	if (s->ev_expire)
		event_free(s->ev_expire);
	if (s->fd >= 0)
		close(s->fd);
	free(s->ports);
	free(s->buf);
	free(s);
}

const struct trs_stats *trs_server_stats(const struct trs_server *s)
{
	return trs_stats(s->trs);
}
