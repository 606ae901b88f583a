#include "punch.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "tidtab.h"

enum punch_state {
	PUNCH_BURST,     /* probing every PUNCH_RETRY_MS until burst_end */
	PUNCH_WAIT,      /* nothing found: punch_cb.again at next_ms (or never) */
	PUNCH_DONE,      /* found, or stopped: only answering */
};

struct punch_entry {
	uint64_t tunnel_id;
	uint8_t key[PUNCH_KEY_LEN];        /* the Punch Key */
	uint8_t role;
	enum punch_state state;
	uint8_t mode;                      /* of the burst: enum cy_punch_mode */
	uint8_t asked;                     /* ...as the NMS asked for it */
	uint8_t birthdays;                 /* birthday bursts since the last found */
	uint32_t sprayed;                  /* CY_PUNCH_SPRAY: probes sent, */
	uint32_t spray_at, spray_step;     /* ...the k-th to port spray_port(k) */
	struct sockaddr_storage cand;
	struct sockaddr_storage probed;    /* punch_probe_now's last destination */
	struct sockaddr_storage answered;  /* where the last probe we answered came from */
	uint8_t ticket[CY_TICKET_LEN];
	int64_t burst_at, burst_end, next_ms, again_ms;
	uint64_t last_stamp;               /* ours, rising strictly */
	uint64_t peer_stamp;               /* the newest peer probe answered */
	/* Our last probes' stamps and send times (probe n at [n % KEEP]),
	 * how many were sent, the newest acknowledged. */
	uint64_t sent[PUNCH_KEEP];
	int64_t sent_ms[PUNCH_KEEP];
	uint64_t nsent, acked;
};

_Static_assert(offsetof(struct punch_entry, tunnel_id) == 0, "tidtab.h: the id first");

struct punch_table {
	struct tidtab tab;       /* of struct punch_entry */
	/* When the last PUNCH_BIRTHDAY_RATE birthday bursts started, oldest
	 * first: the identity's budget, whatever the tunnels. */
	int64_t birthday_at[PUNCH_BIRTHDAY_RATE];
};

struct punch_table *punch_table_new(void)
{
	struct punch_table *t = calloc(1, sizeof(*t));

	if (t)
		tidtab_init(&t->tab, sizeof(struct punch_entry));
	return t;
}

void punch_table_free(struct punch_table *t)
{
	if (!t)
		return;
	tidtab_free(&t->tab);
	free(t);
}

size_t punch_count(const struct punch_table *t)
{
	return t->tab.n;
}

static struct punch_entry *punch_find(const struct punch_table *t, uint64_t tunnel_id)
{
	return tidtab_find(&t->tab, tunnel_id);
}

static uint64_t punch_stamp(struct punch_entry *e)
{
	uint64_t now = (uint64_t)clock_now() * 1000;

	e->last_stamp = now > e->last_stamp ? now : e->last_stamp + 1;
	return e->last_stamp;
}

static ssize_t punch_probe(struct punch_entry *e, int64_t now_ms, uint8_t *out, size_t cap)
{
	struct punch_msg m = { .tunnel_id = e->tunnel_id, .role = e->role, .kind = PUNCH_PROBE };
	ssize_t n;

	m.stamp = punch_stamp(e);
	n = punch_build(e->key, &m, out, cap);
	if (n > 0) {
		e->nsent++;
		e->sent[e->nsent % PUNCH_KEEP] = m.stamp;
		e->sent_ms[e->nsent % PUNCH_KEEP] = now_ms;
	}
	return n;
}

/* The spray's ports: a walk through 1024..65535 by a step coprime to its
 * length (2^10 * 3^2 * 7), so no port comes twice. */
#define SPRAY_RANGE (65536 - PUNCH_SPRAY_PORT_MIN)

static void spray_init(struct punch_entry *e)
{
	uint32_t r[2];

	if (cy_random((uint8_t *)r, sizeof(r)) < 0)
		r[0] = r[1] = (uint32_t)clock_now_ms();
	e->sprayed = 0;
	e->spray_at = r[0] % SPRAY_RANGE;
	e->spray_step = (r[1] % SPRAY_RANGE) | 1;
	while (e->spray_step % 3 == 0 || e->spray_step % 7 == 0)
		e->spray_step += 2;
}

static uint16_t spray_port(const struct punch_entry *e, uint32_t k)
{
	return (uint16_t)(PUNCH_SPRAY_PORT_MIN +
			  ((uint64_t)e->spray_at + (uint64_t)k * e->spray_step) % SPRAY_RANGE);
}

/* The birthday approach for e now, within the tunnel's PUNCH_BIRTHDAYS
 * and the identity's PUNCH_BIRTHDAY_RATE per minute?  Else plain probes.
 * Counts the one it allows. */
static uint8_t punch_allow(struct punch_table *t, struct punch_entry *e, uint8_t mode,
			   int64_t now_ms)
{
	int64_t *at = t->birthday_at;

	e->asked = mode;
	if (mode == CY_PUNCH_PLAIN)
		return mode;
	if (e->birthdays >= PUNCH_BIRTHDAYS ||
	    (at[0] && now_ms - at[0] < PUNCH_BIRTHDAY_WINDOW_MS))
		return CY_PUNCH_PLAIN;
	memmove(at, at + 1, (PUNCH_BIRTHDAY_RATE - 1) * sizeof(*at));
	at[PUNCH_BIRTHDAY_RATE - 1] = now_ms ? now_ms : 1;
	e->birthdays++;
	return mode;
}

static void punch_burst(struct punch_entry *e, uint8_t mode, int64_t now_ms)
{
	e->state = PUNCH_BURST;
	e->mode = mode;
	e->burst_at = now_ms;
	e->burst_end = now_ms + (mode == CY_PUNCH_PLAIN ? PUNCH_BURST_MS : PUNCH_BIRTHDAY_MS);
	e->next_ms = now_ms + PUNCH_RETRY_MS;
	if (mode == CY_PUNCH_SPRAY)
		spray_init(e);
}

ssize_t punch_add(struct punch_table *t, uint64_t tunnel_id, const uint8_t tunnel_key[32],
		  uint8_t role, const struct sockaddr *cand, const uint8_t *ticket, bool burst,
		  uint8_t mode, int64_t again_ms, int64_t now_ms, uint8_t *out, size_t cap)
{
	socklen_t l = addr_len(cand);
	struct punch_entry *e;

	if (!l || l > sizeof(e->cand) || role > 1 || mode > CY_PUNCH_SPRAY)
		return -EINVAL;
	e = tidtab_slot(&t->tab, tunnel_id);
	if (!e)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->tunnel_id = tunnel_id;
	e->role = role;
	e->again_ms = again_ms;
	memcpy(&e->cand, cand, l);
	e->burst_at = INT64_MIN;
	if (ticket)
		memcpy(e->ticket, ticket, sizeof(e->ticket));
	if (punch_key(tunnel_key, tunnel_id, e->key) < 0) {
		punch_del(t, tunnel_id);
		return -EIO;
	}
	if (!burst) {
		e->state = PUNCH_DONE;
		return 0;
	}
	mode = punch_allow(t, e, mode, now_ms);
	punch_burst(e, mode, now_ms);
	/* The birthday approach: the many sockets' probes go first (the
	 * overlay's, punch_many_probe), the spray a retry later. */
	return mode == CY_PUNCH_PLAIN ? punch_probe(e, now_ms, out, cap) : 0;
}

int punch_ticket(const struct punch_table *t, uint64_t tunnel_id, uint8_t out[CY_TICKET_LEN])
{
	const struct punch_entry *e = punch_find(t, tunnel_id);

	if (!e)
		return -ENOENT;
	memcpy(out, e->ticket, sizeof(e->ticket));
	return 0;
}

void punch_wait(struct punch_table *t, uint64_t tunnel_id, int64_t delay_ms, int64_t now_ms)
{
	struct punch_entry *e = punch_find(t, tunnel_id);

	if (!e || e->again_ms <= 0)
		return;
	e->state = PUNCH_WAIT;
	e->next_ms = now_ms + delay_ms;
}

void punch_del(struct punch_table *t, uint64_t tunnel_id)
{
	tidtab_del(&t->tab, tunnel_id);
}

/* A burst of mode towards cand (NULL: the candidate it has), its first
 * probe with the next tick. */
static int punch_start(struct punch_table *t, uint64_t tunnel_id, const struct sockaddr *cand,
		       uint8_t mode, int64_t now_ms)
{
	struct punch_entry *e = punch_find(t, tunnel_id);
	socklen_t l = cand ? addr_len(cand) : 0;

	if (!e)
		return -ENOENT;
	if (cand && (!l || l > sizeof(e->cand)))
		return -EINVAL;
	if (cand) {
		memset(&e->cand, 0, sizeof(e->cand));
		memcpy(&e->cand, cand, l);
	}
	mode = punch_allow(t, e, mode, now_ms);
	punch_burst(e, mode, now_ms);
	if (mode == CY_PUNCH_PLAIN)
		e->next_ms = now_ms;
	return 0;
}

int punch_restart(struct punch_table *t, uint64_t tunnel_id, const struct sockaddr *cand,
		  int64_t now_ms)
{
	return punch_start(t, tunnel_id, cand, CY_PUNCH_PLAIN, now_ms);
}

int punch_redirect(struct punch_table *t, uint64_t tunnel_id, const struct sockaddr *cand,
		   uint8_t mode, int64_t now_ms)
{
	struct punch_entry *e = punch_find(t, tunnel_id);

	if (!e)
		return -ENOENT;
	if (mode > CY_PUNCH_SPRAY)
		return -EINVAL;
	if (e->burst_at != INT64_MIN && now_ms - e->burst_at < PUNCH_MIN_GAP_MS &&
	    e->asked == mode && addr_equal((const struct sockaddr *)&e->cand, cand))
		return -EAGAIN;
	return punch_start(t, tunnel_id, cand, mode, now_ms);
}

uint8_t punch_mode(const struct punch_table *t, uint64_t tunnel_id)
{
	const struct punch_entry *e = punch_find(t, tunnel_id);

	return e ? e->mode : CY_PUNCH_PLAIN;
}

ssize_t punch_many_probe(struct punch_table *t, uint64_t tunnel_id, int64_t now_ms,
			 uint8_t *out, size_t cap)
{
	struct punch_entry *e = punch_find(t, tunnel_id);

	if (!e || e->state != PUNCH_BURST || e->mode != CY_PUNCH_MANY)
		return -EALREADY;
	return punch_probe(e, now_ms, out, cap);
}

void punch_stop(struct punch_table *t, uint64_t tunnel_id)
{
	struct punch_entry *e = punch_find(t, tunnel_id);

	if (e)
		e->state = PUNCH_DONE;
}

bool punch_bursting(const struct punch_table *t, uint64_t tunnel_id)
{
	const struct punch_entry *e = punch_find(t, tunnel_id);

	return e && e->state == PUNCH_BURST;
}

ssize_t punch_probe_now(struct punch_table *t, uint64_t tunnel_id, const struct sockaddr *to,
			int64_t now_ms, uint8_t *out, size_t cap)
{
	struct punch_entry *e = punch_find(t, tunnel_id);
	socklen_t l = addr_len(to);

	if (!e || e->state != PUNCH_BURST)
		return -EALREADY;
	if (!l || l > sizeof(e->probed) || !addr_equal_ip((const struct sockaddr *)&e->cand, to))
		return -EPERM;
	memset(&e->probed, 0, sizeof(e->probed));
	memcpy(&e->probed, to, l);
	return punch_probe(e, now_ms, out, cap);
}

/* The peer's probe: answered when fresh. */
static int punch_answer(struct punch_entry *e, const struct punch_msg *m, uint8_t *out,
			size_t cap, size_t *outlen)
{
	struct punch_msg a = { .tunnel_id = e->tunnel_id, .role = e->role, .kind = PUNCH_ACK };
	uint64_t now = (uint64_t)clock_now() * 1000;
	ssize_t n;

	if (m->stamp <= e->peer_stamp || m->stamp > now + PUNCH_MAX_SKEW_MS ||
	    m->stamp + PUNCH_MAX_SKEW_MS < now)
		return -ESTALE;
	e->peer_stamp = m->stamp;
	a.stamp = punch_stamp(e);
	a.echo = m->stamp;
	n = punch_build(e->key, &a, out, cap);
	if (n < 0)
		return (int)n;
	*outlen = (size_t)n;
	return PUNCH_IN_PROBE;
}

/* An ack: of one of our probes still in the ring, newer than the last
 * one acknowledged and recent, from where our probes went. */
static int punch_acked(struct punch_entry *e, const struct punch_msg *m,
		       const struct sockaddr *from, int64_t now_ms)
{
	uint64_t lo = e->nsent > PUNCH_KEEP ? e->nsent - PUNCH_KEEP : 0;

	/* A spray's answer comes from whichever port it hit. */
	if (!addr_equal((const struct sockaddr *)&e->cand, from) &&
	    !addr_equal((const struct sockaddr *)&e->probed, from) &&
	    !(e->mode == CY_PUNCH_SPRAY && addr_equal_ip((const struct sockaddr *)&e->cand, from)))
		return -ESTALE;
	if (e->acked > lo)
		lo = e->acked;
	for (uint64_t seq = e->nsent; seq > lo; seq--) {
		if (e->sent[seq % PUNCH_KEEP] == m->echo) {
			if (now_ms - e->sent_ms[seq % PUNCH_KEEP] > PUNCH_ACK_WAIT_MS)
				return -ESTALE;
			e->acked = seq;
			e->state = PUNCH_DONE;
			e->birthdays = 0;   /* found: a later loss may try again */
			return PUNCH_IN_ACK;
		}
	}
	return -ESTALE;
}

int punch_input(struct punch_table *t, const uint8_t *pkt, size_t len,
		const struct sockaddr *from, int64_t now_ms, struct punch_msg *m, uint8_t *out,
		size_t cap, size_t *outlen)
{
	struct punch_entry *e;

	*outlen = 0;
	if (punch_peek(pkt, len, m) < 0)
		return -EPROTO;
	e = punch_find(t, m->tunnel_id);
	if (!e)
		return -ENOENT;
	/* Our own role: our own probe sent back to us. */
	if (m->role == e->role)
		return -EPERM;
	if (punch_open(e->key, pkt, len, m) < 0)
		return -EBADMSG;
	if (m->kind == PUNCH_PROBE) {
		int r = punch_answer(e, m, out, cap, outlen);
		socklen_t l = addr_len(from);

		if (r == PUNCH_IN_PROBE && l && l <= sizeof(e->answered)) {
			memset(&e->answered, 0, sizeof(e->answered));
			memcpy(&e->answered, from, l);
		}
		return r;
	}
	return punch_acked(e, m, from, now_ms);
}

bool punch_answered_from(const struct punch_table *t, uint64_t tunnel_id,
			 const struct sockaddr *from)
{
	const struct punch_entry *e = punch_find(t, tunnel_id);

	return e && e->answered.ss_family != AF_UNSPEC &&
	       addr_equal((const struct sockaddr *)&e->answered, from);
}

/* A round of the spray: PUNCH_SPRAY_ROUND probes, one stamp, each to the
 * candidate's address at the next port of the walk. */
static void punch_spray(struct punch_entry *e, int64_t now_ms, uint8_t *buf, size_t cap,
			const struct punch_cb *cb)
{
	struct sockaddr_storage to = e->cand;
	ssize_t n = e->sprayed < PUNCH_SPRAY_PROBES ? punch_probe(e, now_ms, buf, cap) : 0;

	for (unsigned i = 0; n > 0 && i < PUNCH_SPRAY_ROUND && e->sprayed < PUNCH_SPRAY_PROBES;
	     i++, e->sprayed++) {
		uint16_t port = htons(spray_port(e, e->sprayed));

		if (to.ss_family == AF_INET)
			((struct sockaddr_in *)&to)->sin_port = port;
		else
			((struct sockaddr_in6 *)&to)->sin6_port = port;
		cb->send(cb->ctx, e->tunnel_id, buf, (size_t)n, (const struct sockaddr *)&to);
	}
}

/* e's schedule at now_ms: its probes sent; returns what else happened. */
enum punch_due { DUE_NONE, DUE_FAILED, DUE_AGAIN };

static enum punch_due punch_entry_due(struct punch_entry *e, int64_t now_ms, uint8_t *buf,
				      size_t cap, const struct punch_cb *cb)
{
	ssize_t n;

	if (e->state == PUNCH_DONE || now_ms < e->next_ms)
		return DUE_NONE;
	if (e->state == PUNCH_WAIT) {
		e->next_ms = now_ms + e->again_ms;
		return DUE_AGAIN;
	}
	if (now_ms >= e->burst_end) {
		e->state = e->again_ms > 0 ? PUNCH_WAIT : PUNCH_DONE;
		e->next_ms = now_ms + e->again_ms;
		return DUE_FAILED;
	}
	e->next_ms = now_ms + PUNCH_RETRY_MS;
	if (e->mode == CY_PUNCH_SPRAY) {
		punch_spray(e, now_ms, buf, cap, cb);
	} else if (e->mode == CY_PUNCH_PLAIN) {
		n = punch_probe(e, now_ms, buf, cap);
		if (n > 0)
			cb->send(cb->ctx, e->tunnel_id, buf, (size_t)n,
				 (const struct sockaddr *)&e->cand);
	}
	/* CY_PUNCH_MANY: the overlay's sockets sent theirs; it only waits. */
	return DUE_NONE;
}

void punch_tick(struct punch_table *t, int64_t now_ms, const struct punch_cb *cb)
{
	uint8_t buf[PUNCH_LEN];

	for (size_t i = 0; i < t->tab.n;) {
		struct punch_entry *e = tidtab_at(&t->tab, i);
		uint64_t tid = e->tunnel_id;

		if (!cb->alive(cb->ctx, tid)) {
			punch_del(t, tid);
			continue;
		}
		switch (punch_entry_due(e, now_ms, buf, sizeof(buf), cb)) {
		case DUE_FAILED:
			cb->failed(cb->ctx, tid);
			break;
		case DUE_AGAIN:
			cb->again(cb->ctx, tid);
			break;
		case DUE_NONE:
			break;
		}
		/* The callbacks may have deleted or restarted entries: look
		 * again at the same index only when it still holds tid. */
		if (i < t->tab.n && ((struct punch_entry *)tidtab_at(&t->tab, i))->tunnel_id == tid)
			i++;
	}
	cy_wipe(buf, sizeof(buf));
}

int64_t punch_next_ms(const struct punch_table *t)
{
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < t->tab.n; i++) {
		const struct punch_entry *e = tidtab_at(&t->tab, i);

		if (e->state != PUNCH_DONE && e->next_ms < next)
			next = e->next_ms;
	}
	return next;
}
