#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "trs_wire.h"

struct relay_entry {
	uint64_t tunnel_id;
	uint8_t key[TRS_KEY_LEN];          /* the Relay Key */
	uint8_t side;
	struct sockaddr_storage trs;
	int64_t since_ms, next_ms;
	uint64_t last_ts;
};

struct relay_table {
	struct relay_entry *e;
	size_t n, cap;
};

struct relay_table *relay_table_new(void)
{
	return calloc(1, sizeof(struct relay_table));
}

void relay_table_free(struct relay_table *t)
{
	if (!t)
		return;
	if (t->e)
		cy_wipe(t->e, t->cap * sizeof(*t->e));
	free(t->e);
	free(t);
}

size_t relay_count(const struct relay_table *t)
{
	return t->n;
}

static struct relay_entry *relay_find(struct relay_table *t, uint64_t tunnel_id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].tunnel_id == tunnel_id)
			return &t->e[i];
	return NULL;
}

/* Hello timestamps rise strictly per tunnel: the TRS takes only newer ones. */
static ssize_t relay_hello(struct relay_entry *e, uint8_t *out, size_t cap)
{
	uint64_t now = (uint64_t)clock_now() * 1000;

	e->last_ts = now > e->last_ts ? now : e->last_ts + 1;
	return trs_hello_build(e->key, e->tunnel_id, e->side, e->last_ts, out, cap);
}

ssize_t relay_add(struct relay_table *t, uint64_t tunnel_id, const uint8_t tunnel_key[32],
		  uint8_t side, const struct sockaddr *trs, uint8_t *out, size_t cap)
{
	struct relay_entry *e = relay_find(t, tunnel_id);
	socklen_t l = addr_len(trs);

	if (!l || l > sizeof(e->trs) || side > 1)
		return -EINVAL;
	if (!e) {
		if (t->n == t->cap) {
			size_t nc = t->cap ? 2 * t->cap : 8;
			struct relay_entry *ne = calloc(nc, sizeof(*ne));

			if (!ne)
				return -ENOMEM;
			if (t->e) {
				memcpy(ne, t->e, t->n * sizeof(*ne));
				cy_wipe(t->e, t->cap * sizeof(*t->e));
				free(t->e);
			}
			t->e = ne;
			t->cap = nc;
		}
		e = &t->e[t->n++];
	}
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
	return relay_hello(e, out, cap);
}

void relay_del(struct relay_table *t, uint64_t tunnel_id)
{
	struct relay_entry *e = relay_find(t, tunnel_id);

	if (!e)
		return;
	*e = t->e[--t->n];
	cy_wipe(&t->e[t->n], sizeof(t->e[t->n]));
}

void relay_tick(struct relay_table *t, int64_t now_ms,
		bool (*alive)(void *ctx, uint64_t tunnel_id),
		void (*send)(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to),
		void *ctx)
{
	uint8_t hello[TRS_HELLO_LEN];
	ssize_t n;

	for (size_t i = 0; i < t->n;) {
		struct relay_entry *e = &t->e[i];

		if (!alive(ctx, e->tunnel_id)) {
			relay_del(t, e->tunnel_id);
			continue;
		}
		i++;
		if (now_ms < e->next_ms)
			continue;
		e->next_ms = now_ms + (now_ms - e->since_ms < RELAY_HELLO_FAST_FOR_MS
					       ? RELAY_HELLO_FAST_MS
					       : RELAY_HELLO_MS);
		n = relay_hello(e, hello, sizeof(hello));
		if (n > 0)
			send(ctx, hello, (size_t)n, (const struct sockaddr *)&e->trs);
	}
	cy_wipe(hello, sizeof(hello));
}
