#include "resolver_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "addr.h"
#include "buf.h"
#include "clock.h"
#include "dns.h"
#include "log.h"

#define TICK_MS 100
#define UDP_BURST 64                  /* datagrams read per wake-up */
#define TCP_OUT_MAX (256 * 1024)      /* answers queued to a slow TCP client */

/* One forwarded query's socket, indexed like the resolver's handles. */
struct upsock {
	struct resolver_server *s;
	uint32_t handle;
	int fd;
	struct event *ev;
};

struct tcpconn {
	struct resolver_server *s;
	struct bufferevent *bev;
	uint64_t id;                      /* gen << 16 | index; 0 = free */
};

struct resolver_server {
	struct event_base *base;
	struct resolver *r;
	struct sockaddr_storage local;
	socklen_t local_len;
	int udp_fd;
	struct event *udp_ev;
	struct evconnlistener *lis;
	struct event *tick;
	struct upsock *up;
	unsigned n_up;
	struct tcpconn *conns;
	unsigned max_tcp, n_tcp;
	uint64_t conn_gen;
	struct timeval idle;
	struct ratelimit rl;
	void (*send_client)(void *arg, const struct resolver_client *c, const uint8_t *buf,
			    size_t len);
	void *send_arg;
	uint8_t buf[DNS_MSG_MAX + 1];
};

/* ---- the resolver's io callbacks ---- */

static struct tcpconn *conn_by_id(struct resolver_server *s, uint64_t id)
{
	uint64_t idx = id & 0xffff;

	if (idx >= s->max_tcp || s->conns[idx].id != id || !id)
		return NULL;
	return &s->conns[idx];
}

static void io_send_client(void *io, const struct resolver_client *c, const uint8_t *buf,
			   size_t len)
{
	struct resolver_server *s = io;
	struct tcpconn *tc;
	uint8_t pfx[2];

	/* TCP connections are always the server's own (listener or adopted). */
	if (!c->tcp && s->send_client) {
		s->send_client(s->send_arg, c, buf, len);
		return;
	}
	if (!c->tcp) {
		if (sendto(s->udp_fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&c->addr,
			   c->addrlen) < 0)
			LOG_RATELIMITED(&s->rl, "resolver: sendto client: %s", strerror(errno));
		return;
	}
	tc = conn_by_id(s, c->conn);
	if (!tc || len > 0xffff)
		return; /* the connection is gone */
	/* A client that sends without reading gets no more answers queued. */
	if (evbuffer_get_length(bufferevent_get_output(tc->bev)) > TCP_OUT_MAX)
		return;
	/* RFC 1035 4.2.2: "prefixed with a two byte length field" */
	put_be16(pfx, (uint16_t)len);
	bufferevent_write(tc->bev, pfx, 2);
	bufferevent_write(tc->bev, buf, len);
}

static void upsock_close(struct upsock *u)
{
	if (u->ev)
		event_free(u->ev);
	if (u->fd >= 0)
		close(u->fd);
	u->ev = NULL;
	u->fd = -1;
}

static void on_upstream(evutil_socket_t fd, short what, void *arg)
{
	struct upsock *u = arg;
	struct resolver_server *s = u->s;
	uint32_t handle = u->handle;

	for (int i = 0; i < UDP_BURST; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, s->buf, sizeof(s->buf), MSG_TRUNC,
				     (struct sockaddr *)&from, &fl);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n < 0) {
			/* ECONNREFUSED: ICMP port unreachable; try the next one now. */
			resolver_upstream_error(s->r, handle);
			return;
		}
		if ((size_t)n > DNS_MSG_MAX)
			continue;
		resolver_upstream_reply(s->r, handle, (struct sockaddr *)&from, s->buf, (size_t)n);
		/* The resolver may have closed this socket, or reused the slot. */
		if (u->fd != fd || u->handle != handle)
			return;
	}
}

static int io_send_upstream(void *io, const struct sockaddr *server, uint32_t handle,
			    const uint8_t *buf, size_t len)
{
	struct resolver_server *s = io;
	struct upsock *u;
	int fd, err;

	if ((handle & 0xffff) >= s->n_up)
		return -EINVAL;
	u = &s->up[handle & 0xffff];
	upsock_close(u);
	/* A fresh socket per query: connect() binds it to a random ephemeral
	 * port and makes the kernel drop datagrams from anyone but server. */
	fd = socket(server->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, server, addr_len(server)) < 0 || send(fd, buf, len, 0) < 0) {
		err = -errno;
		close(fd);
		LOG_RATELIMITED(&s->rl, "resolver: upstream send: %s", strerror(-err));
		return err;
	}
	u->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_upstream, u);
	if (!u->ev || event_add(u->ev, NULL) < 0) {
		if (u->ev)
			event_free(u->ev);
		u->ev = NULL;
		close(fd);
		return -ENOMEM;
	}
	u->fd = fd;
	u->handle = handle;
	return 0;
}

static void io_upstream_done(void *io, uint32_t handle)
{
	struct resolver_server *s = io;
	struct upsock *u;

	if ((handle & 0xffff) >= s->n_up)
		return;
	u = &s->up[handle & 0xffff];
	if (u->handle == handle)
		upsock_close(u);
}

/* ---- UDP clients ---- */

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_server *s = arg;

	for (int i = 0; i < UDP_BURST; i++) {
		struct resolver_client c = { .addrlen = sizeof(c.addr) };
		ssize_t n = recvfrom(fd, s->buf, sizeof(s->buf), MSG_TRUNC,
				     (struct sockaddr *)&c.addr, &c.addrlen);

		if (n < 0)
			return;
		if ((size_t)n > DNS_MSG_MAX)
			continue;
		resolver_query(s->r, &c, s->buf, (size_t)n);
	}
}

/* ---- TCP clients (RFC 7766) ---- */

static void conn_close(struct tcpconn *tc)
{
	bufferevent_free(tc->bev);
	tc->bev = NULL;
	tc->id = 0;
	tc->s->n_tcp--;
}

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct tcpconn *tc = arg;
	struct resolver_server *s = tc->s;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint64_t id = tc->id;

	while (conn_by_id(s, id) && evbuffer_get_length(in) >= 2) {
		struct resolver_client c = { .tcp = true, .conn = id };
		uint8_t pfx[2];
		uint16_t len;

		evbuffer_copyout(in, pfx, 2);
		len = get_be16(pfx);
		if (len < DNS_HDR_LEN) {
			conn_close(tc);
			return;
		}
		if (evbuffer_get_length(in) < 2u + len)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, s->buf, len);
		resolver_query(s->r, &c, s->buf, len);
	}
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	/* EOF, error, or the idle timeout */
	conn_close(arg);
}

/* A connected socket becomes one of the server's TCP clients (the fd is
 * its own from here: closed on failure too); peer (may be NULL) is for
 * the log. */
static int conn_adopt(struct resolver_server *s, int fd, const struct sockaddr *peer)
{
	struct tcpconn *tc = NULL;
	char a[ADDR_STR_MAX];

	for (unsigned i = 0; i < s->max_tcp; i++) {
		if (!s->conns[i].id) {
			tc = &s->conns[i];
			break;
		}
	}
	if (!tc) {
		LOG_RATELIMITED(&s->rl, "resolver: TCP connection cap reached, %s closed",
				peer ? addr_str(peer, a) : "client");
		close(fd);
		return -EMFILE;
	}
	if (evutil_make_socket_nonblocking(fd) < 0) {
		close(fd);
		return -EINVAL;
	}
	tc->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!tc->bev) {
		close(fd);
		return -ENOMEM;
	}
	if (++s->conn_gen >= (UINT64_C(1) << 47))
		s->conn_gen = 1;
	tc->s = s;
	tc->id = s->conn_gen << 16 | (uint64_t)(tc - s->conns);
	s->n_tcp++;
	bufferevent_setcb(tc->bev, on_tcp_read, NULL, on_tcp_event, tc);
	bufferevent_setwatermark(tc->bev, EV_READ, 0, 2 + DNS_MSG_MAX);
	bufferevent_set_timeouts(tc->bev, &s->idle, &s->idle);
	bufferevent_enable(tc->bev, EV_READ | EV_WRITE);
	return 0;
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	conn_adopt(arg, fd, salen > 0 ? sa : NULL);
}

int resolver_server_adopt_tcp(struct resolver_server *s, int fd, const struct sockaddr *peer,
			      socklen_t len)
{
	bool ip = peer && len >= sizeof(sa_family_t) &&
		  (peer->sa_family == AF_INET || peer->sa_family == AF_INET6) &&
		  len >= addr_len(peer);

	return conn_adopt(s, fd, ip ? peer : NULL);
}

/* ---- set-up ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_server *s = arg;

	resolver_tick(s->r, clock_now_ms());
}

static int udp_listen(struct resolver_server *s, const struct sockaddr *sa)
{
	int fd, on = 1;

	fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, sa, addr_len(sa)) < 0) {
		int err = -errno;
		char a[ADDR_STR_MAX];

		log_warn("resolver: bind udp %s", addr_str(sa, a));
		close(fd);
		return err;
	}
	s->udp_fd = fd;
	s->local_len = sizeof(s->local);
	getsockname(fd, (struct sockaddr *)&s->local, &s->local_len);
	return 0;
}

struct resolver_server *resolver_server_new(struct event_base *base,
					    const struct resolver_server_cfg *cfg)
{
	struct resolver_server *s;
	struct resolver_cfg rc = cfg->rc;
	char a[ADDR_STR_MAX];

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base = base;
	s->udp_fd = -1;
	s->max_tcp = cfg->max_tcp ? cfg->max_tcp : 64;
	if (s->max_tcp > 0xffff)
		s->max_tcp = 0xffff;
	s->idle.tv_sec = (cfg->tcp_idle_ms ? cfg->tcp_idle_ms : 10000) / 1000;
	s->idle.tv_usec = (cfg->tcp_idle_ms ? cfg->tcp_idle_ms : 10000) % 1000 * 1000;
	s->send_client = cfg->send_client;
	s->send_arg = cfg->send_arg;
	if (cfg->listen && udp_listen(s, cfg->listen) < 0)
		goto fail;
	rc.listen = cfg->listen ? (const struct sockaddr *)&s->local : NULL;
	rc.send_client = io_send_client;
	rc.send_upstream = io_send_upstream;
	rc.upstream_done = io_upstream_done;
	rc.io_arg = s;
	s->r = resolver_new(&rc);
	if (!s->r)
		goto fail;
	s->n_up = rc.max_forward ? rc.max_forward : 256;
	if (s->n_up > 0xffff)
		s->n_up = 0xffff;
	s->up = calloc(s->n_up, sizeof(*s->up));
	s->conns = calloc(s->max_tcp, sizeof(*s->conns));
	if (!s->up || !s->conns)
		goto fail;
	for (unsigned i = 0; i < s->n_up; i++) {
		s->up[i].s = s;
		s->up[i].fd = -1;
	}
	s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
	if (!s->tick)
		goto fail;
	struct timeval tv = { 0, TICK_MS * 1000 };
	event_add(s->tick, &tv);
	if (!cfg->listen)
		return s;
	s->udp_ev = event_new(base, s->udp_fd, EV_READ | EV_PERSIST, on_udp, s);
	/* TCP on the same address and port as UDP (port 0 resolved above). */
	s->lis = evconnlistener_new_bind(base, on_accept, s,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					 LEV_OPT_CLOSE_ON_EXEC, 64,
					 (struct sockaddr *)&s->local, (int)s->local_len);
	if (!s->udp_ev || !s->lis) {
		log_warn("resolver: listen tcp %s", addr_str((struct sockaddr *)&s->local, a));
		goto fail;
	}
	event_add(s->udp_ev, NULL);
	log_info("resolver: listening on %s (udp, tcp)", addr_str((struct sockaddr *)&s->local, a));
	return s;
fail:
	resolver_server_free(s);
	return NULL;
}

void resolver_server_free(struct resolver_server *s)
{
	if (!s)
		return;
	resolver_free(s->r);
	for (unsigned i = 0; s->up && i < s->n_up; i++)
		upsock_close(&s->up[i]);
	for (unsigned i = 0; s->conns && i < s->max_tcp; i++)
		if (s->conns[i].id)
			conn_close(&s->conns[i]);
	if (s->lis)
		evconnlistener_free(s->lis);
	if (s->udp_ev)
		event_free(s->udp_ev);
	if (s->tick)
		event_free(s->tick);
	if (s->udp_fd >= 0)
		close(s->udp_fd);
	free(s->up);
	free(s->conns);
	free(s);
}

void resolver_server_query(struct resolver_server *s, const struct resolver_client *c,
			   const uint8_t *buf, size_t len)
{
	resolver_query(s->r, c, buf, len);
}

struct resolver *resolver_server_resolver(struct resolver_server *s)
{
	return s->r;
}

void resolver_server_local(const struct resolver_server *s, struct sockaddr_storage *ss,
			   socklen_t *len)
{
	*ss = s->local;
	*len = s->local_len;
}
