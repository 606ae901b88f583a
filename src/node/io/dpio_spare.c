/* Spare sockets beside a port (dpio.h): the birthday approach's hard side
 * (docs/nat.md).  Plain sockets with the kernel's default buffers: each
 * carries a probe out and, with luck, one back. */
#include "dpio.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <unistd.h>

#include "udp.h"

#define SPARE_BUF 2048     /* probes and acks are 56 bytes; the rest is dropped */

struct spare {
	struct dpio_spares *set;
	unsigned idx;
	int fd;
	bool v6sock;                 /* udp_v6sock(fd) */
	struct event *ev;
};

struct dpio_spares {
	struct dpio *io;             /* its budget (dpio_spares_take) */
	struct dpio_port *like;      /* what an adopted socket becomes like */
	dpio_spare_fn input;
	void *arg;
	unsigned count;
	struct spare s[];
};

static void spare_close(struct spare *sp)
{
	if (sp->ev)
		event_free(sp->ev);
	if (sp->fd >= 0)
		close(sp->fd);
	sp->ev = NULL;
	sp->fd = -1;
}

/* One datagram per wake-up (the event is level-triggered): the input
 * may adopt this socket or free the whole set. */
static void on_spare(evutil_socket_t fd, short what, void *arg)
{
	struct spare *sp = arg;
	struct dpio_spares *set = sp->set;
	uint8_t buf[SPARE_BUF];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n = udp_recv(sp->fd, buf, sizeof(buf), &from, &flen);

	if (n >= 0)
		set->input(set->arg, sp->idx, buf, (size_t)n, (const struct sockaddr *)&from);
}

struct dpio_spares *dpio_spares_open(struct dpio_port *like, unsigned count,
				     dpio_spare_fn input, void *arg)
{
	struct dpio_spares *set;
	unsigned n = 0;

	if (!count || !dpio_port_socket(like))
		return NULL;
	count = dpio_spares_take(dpio_port_io(like), count);
	set = count ? calloc(1, sizeof(*set) + count * sizeof(set->s[0])) : NULL;
	if (!set) {
		dpio_spares_give(dpio_port_io(like), count);
		return NULL;
	}
	set->io = dpio_port_io(like);
	set->like = like;
	set->input = input;
	set->arg = arg;
	for (; n < count; n++) {
		struct spare *sp = &set->s[n];

		sp->set = set;
		sp->idx = n;
		sp->fd = udp_open(0);
		if (sp->fd < 0)
			break;   /* out of descriptors: what opened will do */
		sp->v6sock = udp_v6sock(sp->fd);
		sp->ev = event_new(dpio_port_base(like), sp->fd, EV_READ | EV_PERSIST, on_spare, sp);
		if (!sp->ev || event_add(sp->ev, NULL) < 0) {
			spare_close(sp);
			break;
		}
	}
	dpio_spares_give(set->io, count - n);
	set->count = n;
	if (!n) {
		free(set);
		return NULL;
	}
	return set;
}

void dpio_spares_free(struct dpio_spares *set)
{
	if (!set)
		return;
	for (unsigned i = 0; i < set->count; i++)
		spare_close(&set->s[i]);
	dpio_spares_give(set->io, set->count);
	free(set);
}

unsigned dpio_spares_count(const struct dpio_spares *set)
{
	return set->count;
}

int dpio_spares_send(struct dpio_spares *set, unsigned idx, const uint8_t *buf, size_t len,
		     const struct sockaddr *to)
{
	if (idx >= set->count || set->s[idx].fd < 0)
		return -EBADF;
	return udp_send(set->s[idx].fd, set->s[idx].v6sock, buf, len, to);
}

struct dpio_port *dpio_spares_adopt(struct dpio_spares *set, unsigned idx)
{
	struct spare *sp;
	struct dpio_port *p;

	if (idx >= set->count || set->s[idx].fd < 0)
		return NULL;
	sp = &set->s[idx];
	event_free(sp->ev);
	sp->ev = NULL;
	p = dpio_port_adopt(set->like, sp->fd);
	if (!p) {
		spare_close(sp);
		return NULL;
	}
	sp->fd = -1;
	return p;
}
