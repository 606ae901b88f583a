#include "dpio.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "fq.h"
#include "gso.h"
#include "log.h"
#include "udp.h"
#include "wire.h"

/* A turn of work on one descriptor before the daemon yields to the
 * others: a daemon busy with one direction's bulk turns to the other
 * direction often, so a small packet there (a ping, a flow's ACKs) does
 * not wait out a whole batch.  Counted in bytes, as a read may be a 64 KB
 * TUN super-packet or UDP GRO buffer: 256 KB is about a quarter of a
 * millisecond of sealing here (1024 reads -> 16 -> 256 KB: a ping beside
 * a bulk flow waited 4.0 -> 2.0-2.8 -> 1.5-1.8 ms at its median, at the
 * same throughput; docs/performance.md). */
#define TURN_BYTES (256 << 10)
#define READ_BATCH 16           /* TUN reads per turn without the flow queues */
#define SOCK_BUF (4 << 20)      /* UDP socket buffers: bursts at line rate */
/* The flow queues (fq.h).  Tighter than fq_codel's Internet defaults
 * (5 ms, 100 ms): this queue stands only while the daemon itself is the
 * bottleneck, and here 1 ms / 10 ms kept a ping beside a bulk flow
 * shorter at no cost in throughput (docs/performance.md); a flow with a
 * far longer RTT that this host's CPU limits may lose some throughput. */
#define FQ_TARGET_NS 1000000
#define FQ_INTERVAL_NS 10000000
#define FQ_LIMIT (8 << 20)      /* bytes of buffers queued, at most */
/* Read from the TUN into the queues per turn, at most: what arrived while
 * a turn was served, several times over, not the whole kernel FIFO (500
 * packets of up to 64 KB) at once. */
#define TUN_DRAIN (4 * TURN_BYTES)

struct dpio_port {
	struct dpio *io;
	struct dpio_port_cfg cfg;
	char name[CY_FQDN_MAX + 1];
	int fd;
	bool v6sock;                    /* udp_v6sock(fd) */
	uint16_t number;
	struct event *ev;
	struct dp_tx *tx;
	struct dp_rx *rx;
	struct dpio_port *next_dirty;   /* in io->dirty while it queues datagrams */
	bool dirty;
	bool reading;                   /* on_udp runs: a free waits for its end */
	bool dead;                      /* ...and was asked for */
	struct ratelimit rl;
};

struct dpio {
	struct event_base *base;
	struct dp_conf conf;
	unsigned burst;                 /* dpio_burst_begin depth */
	struct dpio_port *dirty;        /* ports with queued datagrams */
	struct dp_tun *tun;             /* the node's TUN: reads, coalesced writes */
	dp_pkt_fn tun_input;
	void *tun_arg;
	struct event *tun_ev;
	struct event *flush_ev;         /* writes what the TUN writer holds */
	struct dp_fq *fq;               /* what was read from the TUN, by flow */
	struct event *serve_ev;         /* serves the queues on after a yield */
	struct dpio_stats st;
	struct ratelimit rl;
	unsigned spares;                /* spare sockets open (dpio_spare.c) */
};

/* ---- switches ---- */

static bool env_bool(const char *name, bool dflt)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return dflt;
	return strcmp(v, "0") && strcasecmp(v, "no") && strcasecmp(v, "off") &&
	       strcasecmp(v, "false");
}

void dp_conf_from_env(struct dp_conf *c)
{
	bool all = env_bool("CY_DP", true);

	c->mmsg = all && env_bool("CY_DP_MMSG", true);
	c->gso = all && env_bool("CY_DP_GSO", true);
	c->gro = all && env_bool("CY_DP_GRO", true);
	c->vnet = all && env_bool("CY_DP_VNET", true);
	c->coalesce = c->vnet && env_bool("CY_DP_COALESCE", true);
	c->fq = all && env_bool("CY_DP_FQ", true);
}

/* ---- the object ---- */

struct dpio *dpio_new(struct event_base *base, const struct dp_conf *conf)
{
	struct dpio *io = calloc(1, sizeof(*io));

	if (!io)
		return NULL;
	io->base = base;
	io->conf = *conf;
	log_info("data plane: mmsg %s, udp gso %s, udp gro %s, tun offload %s, coalesce %s, "
		 "fq_codel %s",
		 conf->mmsg ? "on" : "off", conf->gso ? "on" : "off", conf->gro ? "on" : "off",
		 conf->vnet ? "on" : "off", conf->coalesce ? "on" : "off", conf->fq ? "on" : "off");
	return io;
}

void dpio_free(struct dpio *io)
{
	if (!io)
		return;
	if (io->tun_ev)
		event_free(io->tun_ev);
	if (io->flush_ev)
		event_free(io->flush_ev);
	if (io->serve_ev)
		event_free(io->serve_ev);
	dp_fq_free(io->fq);
	if (io->tun)
		dp_tun_flush(io->tun);
	dp_tun_free(io->tun);
	free(io);
}

const struct dp_conf *dpio_conf(const struct dpio *io) { return &io->conf; }
void dpio_stats_get(const struct dpio *io, struct dpio_stats *out)
{
	*out = io->st;
	if (io->fq) {
		const struct dp_fq_stats *f = dp_fq_stats(io->fq);

		out->fq_backlog = f->backlog;
		out->fq_overlimit = f->overlimit;
	}
	if (io->tun) {
		out->fq_marked = dp_tun_stats(io->tun)->ce_marked;
		out->fq_dropped = dp_tun_stats(io->tun)->signal_dropped;
	}
}

/* ---- bursts ---- */

void dpio_burst_begin(struct dpio *io)
{
	io->burst++;
}

/* The last burst ended: every port's queue goes out. */
void dpio_burst_end(struct dpio *io)
{
	if (!io->burst || --io->burst)
		return;
	while (io->dirty) {
		struct dpio_port *p = io->dirty;

		io->dirty = p->next_dirty;
		p->next_dirty = NULL;
		p->dirty = false;
		dp_tx_flush(p->tx);
	}
}

/* ---- TUN ---- */

static void on_tun_flush(evutil_socket_t fd, short what, void *arg)
{
	struct dpio *io = arg;
	int err = dp_tun_flush(io->tun);

	if (err < 0) {
		io->st.tun_write_err++;
		LOG_RATELIMITED(&io->rl, "TUN write: %s", strerror(-err));
	}
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Without the queues: a burst of reads (each maybe a TSO super-packet,
 * cut into wire packets), their datagrams leaving in one batch per port
 * at the end. */
static void tun_direct(struct dpio *io)
{
	dpio_burst_begin(io);
	dp_tun_read(io->tun, READ_BATCH, io->tun_input, io->tun_arg);
	dpio_burst_end(io);
}

/* With them (fq.h): what the device holds moves into the flow queues
 * (about TUN_DRAIN bytes at most, and not past the queues' limit), each
 * packet stamped as it is read; then about TURN_BYTES are served in their
 * order and sent as one batch; if more wait, the daemon turns to its
 * sockets and comes back. */
static void tun_turn(struct dpio *io)
{
	const struct timeval now = { 0, 0 };
	size_t drained = 0;

	while (drained < TUN_DRAIN && dp_fq_stats(io->fq)->bytes < FQ_LIMIT - TUN_DRAIN) {
		uint8_t *slot = dp_fq_slot(io->fq);
		ssize_t len;

		if (!slot) {            /* out of memory: the device's order, then */
			if (dp_fq_empty(io->fq))
				tun_direct(io);
			break;
		}
		len = dp_tun_recv(io->tun, slot, GSO_HDR_LEN + GSO_PKT_MAX);
		if (len <= 0)
			break;
		dp_fq_push(io->fq, (size_t)len, mono_ns());
		drained += (size_t)len;
	}
	dpio_burst_begin(io);
	for (size_t done = 0; done < TURN_BYTES;) {
		bool signal;
		size_t len;
		uint8_t *pkt = dp_fq_pop(io->fq, mono_ns(), &len, &signal);

		if (!pkt)
			break;
		dp_tun_handle(io->tun, pkt, len, signal, io->tun_input, io->tun_arg);
		done += len;
	}
	dpio_burst_end(io);
	if (!dp_fq_empty(io->fq))
		event_add(io->serve_ev, &now);
}

static void on_tun(evutil_socket_t fd, short what, void *arg)
{
	struct dpio *io = arg;

	if (io->fq)
		tun_turn(io);
	else
		tun_direct(io);
}

static void on_serve(evutil_socket_t fd, short what, void *arg)
{
	tun_turn(arg);
}

int dpio_tun_attach(struct dpio *io, int fd, bool vnet, dp_pkt_fn input, void *arg)
{
	if (io->tun || !io->base)
		return -EINVAL;
	io->tun = dp_tun_new(fd, vnet, &io->conf);
	if (!io->tun)
		return -ENOMEM;
	io->tun_input = input;
	io->tun_arg = arg;
	if (io->conf.fq) {
		struct dp_fq_conf fc = {
			.target_ns = FQ_TARGET_NS,
			.interval_ns = FQ_INTERVAL_NS,
			.limit = FQ_LIMIT,
			.hdr = vnet ? GSO_HDR_LEN : 0,
			.cap = GSO_HDR_LEN + GSO_PKT_MAX,
		};

		io->fq = dp_fq_new(&fc);
		io->serve_ev = event_new(io->base, -1, 0, on_serve, io);
		if (!io->fq || !io->serve_ev)
			return -ENOMEM;
	}
	io->tun_ev = event_new(io->base, fd, EV_READ | EV_PERSIST, on_tun, io);
	io->flush_ev = event_new(io->base, -1, 0, on_tun_flush, io);
	if (!io->tun_ev || !io->flush_ev || event_add(io->tun_ev, NULL) < 0)
		return -ENOMEM;   /* the rest goes with dpio_free */
	return 0;
}

static int tun_deliver(struct dpio *io, const uint8_t *pkt, size_t len)
{
	int err;

	if (!io->tun)
		return -ENODEV;
	err = dp_tun_write(io->tun, pkt, len);
	/* A TCP segment held for coalescing: written once the current burst
	 * of datagrams is handled (an active event runs before the next poll). */
	if (dp_tun_pending(io->tun) && !event_pending(io->flush_ev, EV_TIMEOUT, NULL))
		event_active(io->flush_ev, EV_TIMEOUT, 0);
	if (err < 0) {
		io->st.tun_write_err++;
		if (err != -EAGAIN)
			LOG_RATELIMITED(&io->rl, "TUN write: %s", strerror(-err));
	}
	return err;
}

/* ---- ports ---- */

static void port_release(struct dpio_port *p);

/* What the input does may free this very port (a tunnel's own socket,
 * dropped with its tunnel): the free waits until the burst is handled. */
static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct dpio_port *p = arg;
	int n;

	p->reading = true;
	n = dp_rx_run(p->rx, TURN_BYTES, p->cfg.input, p->cfg.arg);
	if (n < 0)
		LOG_RATELIMITED(&p->rl, "%s: udp receive: %s", p->name, strerror(-n));
	if (p->cfg.after_read)
		p->cfg.after_read(p->cfg.arg);
	p->reading = false;
	if (p->dead)
		port_release(p);
}

/* Batches and reading on p->fd. */
static int port_start(struct dpio_port *p)
{
	struct dpio *io = p->io;

	p->number = udp_port(p->fd);
	p->v6sock = udp_v6sock(p->fd);
	addr_sock_buffers(p->fd, SOCK_BUF);
	p->tx = dp_tx_new(p->fd, &io->conf);
	p->rx = dp_rx_new(p->fd, &io->conf);
	if (!p->tx || !p->rx)
		return -1;
	p->ev = event_new(io->base, p->fd, EV_READ | EV_PERSIST, on_udp, p);
	if (!p->ev || event_add(p->ev, NULL) < 0)
		return -1;
	return 0;
}

static int port_open(struct dpio_port *p)
{
	p->fd = udp_open(p->cfg.port);
	if (p->fd < 0) {
		errno = -p->fd;
		log_warn("%s: UDP socket on port %u", p->name, p->cfg.port);
		return -1;
	}
	return port_start(p);
}

struct dpio_port *dpio_port_new(struct dpio *io, const struct dpio_port_cfg *cfg)
{
	struct dpio_port *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->io = io;
	p->cfg = *cfg;
	p->fd = -1;
	snprintf(p->name, sizeof(p->name), "%s", cfg->name ? cfg->name : "");
	if (!cfg->tap && port_open(p) < 0) {
		dpio_port_free(p);
		return NULL;
	}
	return p;
}

struct dpio_port *dpio_port_adopt(struct dpio_port *like, int fd)
{
	struct dpio_port *p = calloc(1, sizeof(*p));

	if (!p || like->cfg.tap) {
		free(p);
		return NULL;
	}
	p->io = like->io;
	p->cfg = like->cfg;
	memcpy(p->name, like->name, sizeof(p->name));
	p->fd = fd;
	if (port_start(p) < 0) {
		p->fd = -1;            /* still the caller's */
		dpio_port_free(p);
		return NULL;
	}
	return p;
}

struct dpio *dpio_port_io(const struct dpio_port *p)
{
	return p->io;
}

unsigned dpio_spares_take(struct dpio *io, unsigned want)
{
	unsigned left = io->spares < DPIO_SPARES_MAX ? DPIO_SPARES_MAX - io->spares : 0;
	unsigned n = want < left ? want : left;

	io->spares += n;
	return n;
}

void dpio_spares_give(struct dpio *io, unsigned n)
{
	io->spares -= n <= io->spares ? n : io->spares;
}

bool dpio_port_socket(const struct dpio_port *p)
{
	return !p->cfg.tap;
}

struct event_base *dpio_port_base(const struct dpio_port *p)
{
	return p->io->base;
}

void dpio_port_free(struct dpio_port *p)
{
	if (!p)
		return;
	if (p->reading) {
		/* Inside its own read: no more reading, the rest after it. */
		p->dead = true;
		if (p->ev)
			event_del(p->ev);
		return;
	}
	port_release(p);
}

static void port_release(struct dpio_port *p)
{
	struct dpio_port **pp;

	for (pp = &p->io->dirty; *pp; pp = &(*pp)->next_dirty) {
		if (*pp == p) {
			*pp = p->next_dirty;
			break;
		}
	}
	if (p->tx)
		dp_tx_flush(p->tx);
	if (p->ev)
		event_free(p->ev);
	dp_tx_free(p->tx);
	dp_rx_free(p->rx);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

uint16_t dpio_port_number(const struct dpio_port *p) { return p->number; }

/* ---- the overlay's side ---- */

int dpio_send(struct dpio_port *p, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	char a[ADDR_STR_MAX];
	int err;

	if (p->cfg.tap)
		return p->cfg.tap(p->cfg.arg, buf, len, to);
	err = udp_send(p->fd, p->v6sock, buf, len, to);
	if (err < 0)
		LOG_RATELIMITED(&p->rl, "%s: send to %s: %s", p->name, addr_str(to, a),
				strerror(-err));
	return err;
}

uint8_t *dpio_slot(struct dpio_port *p, size_t *cap)
{
	if (!p->io->burst || !p->tx)
		return NULL;
	return dp_tx_slot(p->tx, cap);
}

int dpio_commit(struct dpio_port *p, size_t len, const struct sockaddr *to)
{
	struct dpio *io = p->io;
	int err = dp_tx_commit(p->tx, len, to);

	if (err == 0 && !p->dirty) {
		p->dirty = true;
		p->next_dirty = io->dirty;
		io->dirty = p;
	}
	return err;
}

int dpio_deliver(struct dpio_port *p, const uint8_t *pkt, size_t len)
{
	if (p->cfg.deliver)
		return p->cfg.deliver(p->cfg.deliver_arg, pkt, len);
	return tun_deliver(p->io, pkt, len);
}
