#include "relay.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "tidtab.h"
#include "trs_wire.h"

struct relay_entry {
	uint64_t tunnel_id;
	uint8_t key[TRS_KEY_LEN];          /* the Relay Key */
	uint8_t side;
	struct sockaddr_storage trs;
	int64_t since_ms, next_ms;
	uint64_t last_ts;
	/* The last hellos' timestamps (hello n at sent_ts[n % KEEP]), the
	 * number sent, the newest acknowledged (0: none), when the last went. */
	uint64_t sent_ts[RELAY_ACK_KEEP];
	uint64_t nsent, acked;
	int64_t sent_ms;
};

_Static_assert(offsetof(struct relay_entry, tunnel_id) == 0, "tidtab.h: the id first");

struct relay_table {
	struct tidtab tab;       /* of struct relay_entry */
};

struct relay_table *relay_table_new(void)
{
	struct relay_table *t = calloc(1, sizeof(*t));

	if (t)
		tidtab_init(&t->tab, sizeof(struct relay_entry));
	return t;
}

void relay_table_free(struct relay_table *t)
{
	if (!t)
		return;
	tidtab_free(&t->tab);
	free(t);
}

size_t relay_count(const struct relay_table *t)
{
	return t->tab.n;
}

static struct relay_entry *relay_find(struct relay_table *t, uint64_t tunnel_id)
{
	return tidtab_find(&t->tab, tunnel_id);
}

/* Hello timestamps rise strictly per tunnel: the TRS takes only newer
 * ones, and an ack names the hello it answers by its timestamp. */
static ssize_t relay_hello(struct relay_entry *e, int64_t now_ms, uint8_t *out, size_t cap)
{
	uint64_t now = (uint64_t)clock_now() * 1000;
	ssize_t n;

	e->last_ts = now > e->last_ts ? now : e->last_ts + 1;
	n = trs_hello_build(e->key, e->tunnel_id, e->side, e->last_ts, out, cap);
	if (n > 0) {
		e->nsent++;
		e->sent_ts[e->nsent % RELAY_ACK_KEEP] = e->last_ts;
		e->sent_ms = now_ms;
	}
	return n;
}

ssize_t relay_add(struct relay_table *t, uint64_t tunnel_id, const uint8_t tunnel_key[32],
		  uint8_t side, const struct sockaddr *trs, uint8_t *out, size_t cap)
{
	struct relay_entry *e;
	socklen_t l = addr_len(trs);

	if (!l || l > sizeof(e->trs) || side > 1)
		return -EINVAL;
	e = tidtab_slot(&t->tab, tunnel_id);
	if (!e)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->tunnel_id = tunnel_id;
	e->side = side;
	memcpy(&e->trs, trs, l);
	if (trs_relay_key(tunnel_key, tunnel_id, e->key) < 0) {
		relay_del(t, tunnel_id);
		return -EIO;
	}
	e->since_ms = clock_now_ms();
	e->next_ms = e->since_ms + RELAY_HELLO_FAST_MS;
	return relay_hello(e, e->since_ms, out, cap);
}

void relay_del(struct relay_table *t, uint64_t tunnel_id)
{
	tidtab_del(&t->tab, tunnel_id);
}

int relay_ack(struct relay_table *t, const uint8_t *pkt, size_t len,
	      const struct sockaddr *from, struct sockaddr_storage *seen)
{
	struct relay_entry *e;
	uint64_t tid, ts, lo;
	uint8_t side;

	if (trs_ack_peek(pkt, len, &tid, &side) < 0)
		return -EPROTO;
	e = relay_find(t, tid);
	if (!e || e->side != side)
		return -ENOENT;
	if (trs_ack_open(e->key, pkt, len, &side, &ts, seen) < 0)
		return -EBADMSG;
	/* Only the hellos still in the ring and not acknowledged yet. */
	lo = e->nsent > RELAY_ACK_KEEP ? e->nsent - RELAY_ACK_KEEP : 0;
	if (e->acked > lo)
		lo = e->acked;
	for (uint64_t seq = e->nsent; seq > lo; seq--) {
		if (e->sent_ts[seq % RELAY_ACK_KEEP] == ts) {
			e->acked = seq;
			/* The peer holds the Relay Key too and could make an ack:
			 * what it says it saw counts only from the TRS itself. */
			if (!addr_equal(from, (const struct sockaddr *)&e->trs))
				memset(seen, 0, sizeof(*seen));
			return 0;
		}
	}
	return -ESTALE;
}

/* The hellos of e due at now_ms: the schedule, or a retry after a miss.
 * False: RELAY_DEAD_HELLOS missed in a row, the relay session is gone. */
static bool relay_entry_tick(struct relay_entry *e, int64_t now_ms, const struct relay_cb *cb)
{
	uint8_t hello[TRS_HELLO_LEN];
	uint64_t unacked = e->nsent - e->acked;
	bool missed = unacked && now_ms - e->sent_ms >= RELAY_ACK_WAIT_MS;
	ssize_t n;

	if (missed && unacked >= RELAY_DEAD_HELLOS)
		return false;
	if (!missed && now_ms < e->next_ms)
		return true;
	e->next_ms = now_ms + (now_ms - e->since_ms < RELAY_HELLO_FAST_FOR_MS
				       ? RELAY_HELLO_FAST_MS
				       : RELAY_HELLO_MS);
	n = relay_hello(e, now_ms, hello, sizeof(hello));
	if (n > 0)
		cb->send(cb->ctx, hello, (size_t)n, (const struct sockaddr *)&e->trs);
	cy_wipe(hello, sizeof(hello));
	return true;
}

void relay_moved(struct relay_table *t, int64_t now_ms)
{
	for (size_t i = 0; i < t->tab.n; i++) {
		struct relay_entry *e = tidtab_at(&t->tab, i);

		e->since_ms = now_ms;
		e->next_ms = now_ms;
	}
}

void relay_tick(struct relay_table *t, int64_t now_ms, const struct relay_cb *cb)
{
	for (size_t i = 0; i < t->tab.n;) {
		struct relay_entry *e = tidtab_at(&t->tab, i);
		uint64_t tid = e->tunnel_id;

		if (!cb->alive(cb->ctx, tid)) {
			relay_del(t, tid);
			continue;
		}
		if (!relay_entry_tick(e, now_ms, cb)) {
			relay_del(t, tid);
			cb->dead(cb->ctx, tid);
			continue;
		}
		i++;
	}
}
