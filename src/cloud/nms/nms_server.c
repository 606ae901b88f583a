#include "nms_server.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "log.h"
#include "nms.h"

/* Datagrams handled per readiness event before yielding to the other
 * events of the loop (the read event is level-triggered: the rest are
 * picked up on the next round). */
#define NMS_BATCH 1024
#define NMS_SOCK_BUF (8 << 20)   /* bytes each way */

struct nms_server {
	struct nms *nms;
	int fd;
	int family;
	struct event *ev_read;
	struct event *ev_expire;
	struct event *ev_route;      /* route selection: retransmissions, expiry */
	struct event *ev_policy;     /* the access policy's file, every second */
	struct event *ev_flush;      /* keepalives to the store, NMS_REG_FLUSH_MS */
	struct ratelimit rl;
};

static void nms_server_send(struct nms_server *s, const struct sockaddr_storage *to,
			    const uint8_t *p, size_t len)
{
	/* A dual-stack socket wants its IPv4 peers v4-mapped. */
	struct sockaddr_storage sa;
	socklen_t sl = addr_map((const struct sockaddr *)to, s->family, &sa);

	if (sendto(s->fd, p, len, 0, (const struct sockaddr *)&sa, sl) < 0)
		LOG_RATELIMITED(&s->rl, "nms: sendto: %s", strerror(errno));
}

/* nms_ops.send: Route Directions to correspondents, late answers. */
static void nms_server_send_cb(void *arg, const struct sockaddr *to, const uint8_t *buf,
			       size_t len)
{
	struct sockaddr_storage ss;
	socklen_t l = addr_len(to);

	if (!l || l > sizeof(ss))
		return;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, to, l);
	nms_server_send(arg, &ss, buf, len);
}

/* The route timer runs exactly when nms_next_ms() says: no polling. */
static void nms_server_arm(struct nms_server *s)
{
	clock_timer_at(s->ev_route, nms_next_ms(s->nms));
}

static void nms_server_route(evutil_socket_t fd, short what, void *arg)
{
	struct nms_server *s = arg;

	nms_tick(s->nms, clock_now_ms());
	nms_server_arm(s);
}

static void nms_server_read(evutil_socket_t fd, short what, void *arg)
{
	struct nms_server *s = arg;
	uint8_t pkt[NMS_PKT_MAX + 1], out[NMS_PKT_MAX];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t n;
	size_t r;

	for (int i = 0; i < NMS_BATCH; i++) {
		flen = sizeof(from);
		n = recvfrom(fd, pkt, sizeof(pkt), MSG_TRUNC, (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				LOG_RATELIMITED(&s->rl, "nms: recvfrom: %s", strerror(errno));
			if (errno != EINTR)
				break;
			continue;
		}
		addr_unmap(&from, &flen);
		/* An oversized datagram arrives cut to NMS_PKT_MAX + 1 bytes
		 * (MSG_TRUNC tells us it was longer); nms_handle() refuses it. */
		r = nms_handle(s->nms, (struct sockaddr *)&from, pkt,
			       (size_t)n > sizeof(pkt) ? sizeof(pkt) : (size_t)n, out, sizeof(out));
		if (r)
			nms_server_send(s, &from, out, r);
	}
	nms_server_arm(s);
}

static void nms_server_expire(evutil_socket_t fd, short what, void *arg)
{
	struct nms_server *s = arg;

	nms_expire(s->nms, clock_now());
	nms_server_arm(s);   /* teardowns it started */
}

static void nms_server_flush(evutil_socket_t fd, short what, void *arg)
{
	struct nms_server *s = arg;

	nms_flush(s->nms);
}

/* The access policy's file, looked at every second. */
static void nms_server_policy(evutil_socket_t fd, short what, void *arg)
{
	struct nms_server *s = arg;

	nms_policy_reload(s->nms, false);
	nms_server_arm(s);
}

void nms_server_authz(struct nms_server *s)
{
	nms_authz_check(s->nms);
	nms_server_arm(s);
}

void nms_server_bus(void *arg, const char *channel, const char *payload)
{
	struct nms_server *s = arg;

	nms_bus_input(s->nms, channel, payload);
	nms_server_arm(s);
}

static const struct nms_ops nms_server_ops = { .send = nms_server_send_cb };

struct nms_server *nms_server_new(struct event_base *base, struct nms *nms,
				  const struct sockaddr_storage *listen)
{
	struct timeval tv = { NMS_EXPIRE_INTERVAL, 0 }, one = { 1, 0 };
	struct timeval flush = { NMS_REG_FLUSH_MS / 1000, NMS_REG_FLUSH_MS % 1000 * 1000 };
	struct nms_server *s;
	char buf[ADDR_STR_MAX];
	int off = 0;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->nms = nms;
	s->family = listen->ss_family;
	s->fd = socket(listen->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		goto fail_sock;
	if (listen->ss_family == AF_INET6 &&
	    setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0)
		goto fail_sock;
	if (bind(s->fd, (const struct sockaddr *)listen,
		 addr_len((const struct sockaddr *)listen)) < 0)
		goto fail_sock;
	/* A fleet registering at once (the cloud back after an outage) sends
	 * bursts the default buffer (about 90 small datagrams) would drop. */
	addr_sock_buffers(s->fd, NMS_SOCK_BUF);
	s->ev_read = event_new(base, s->fd, EV_READ | EV_PERSIST, nms_server_read, s);
	s->ev_expire = event_new(base, -1, EV_PERSIST, nms_server_expire, s);
	s->ev_route = evtimer_new(base, nms_server_route, s);
	s->ev_policy = event_new(base, -1, EV_PERSIST, nms_server_policy, s);
	s->ev_flush = event_new(base, -1, EV_PERSIST, nms_server_flush, s);
	if (!s->ev_read || !s->ev_expire || !s->ev_route || !s->ev_policy || !s->ev_flush ||
	    event_add(s->ev_read, NULL) < 0 || event_add(s->ev_expire, &tv) < 0 ||
	    event_add(s->ev_policy, &one) < 0 || event_add(s->ev_flush, &flush) < 0)
		goto fail;
	nms_set_ops(nms, &nms_server_ops, s);
	log_info("nms: listening on %s/udp", addr_str((const struct sockaddr *)listen, buf));
	return s;
fail_sock:
	log_warn("nms: socket on %s", addr_str((const struct sockaddr *)listen, buf));
fail:
	nms_server_free(s);
	return NULL;
}

void nms_server_free(struct nms_server *s)
{
	static const struct nms_ops none;

	if (!s)
		return;
	if (s->nms)
		nms_set_ops(s->nms, &none, NULL);
	if (s->ev_read)
		event_free(s->ev_read);
	if (s->ev_expire)
		event_free(s->ev_expire);
	if (s->ev_route)
		event_free(s->ev_route);
	if (s->ev_policy)
		event_free(s->ev_policy);
	if (s->ev_flush)
		event_free(s->ev_flush);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}
