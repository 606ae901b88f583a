#include "ping.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "aead.h"
#include "buf.h"
#include "clock.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void ping_table_init(struct ping_table *t)
{
	memset(t, 0, sizeof(*t));
	if (cy_random(&t->next_id, sizeof(t->next_id)) < 0)
		t->next_id = 1;
}

struct overlay_ping *ping_new(struct ping_table *t, const char *fqdn, unsigned count,
			      unsigned interval_ms)
{
	struct overlay_ping *pg = NULL;

	for (int i = 0; i < OVERLAY_PINGS && !pg; i++)
		if (!t->p[i].used)
			pg = &t->p[i];
	if (!pg)
		return NULL;
	memset(pg, 0, sizeof(*pg));
	snprintf(pg->fqdn, sizeof(pg->fqdn), "%s", fqdn);
	pg->id = ++t->next_id;
	if (pg->id == PROBE_MOVE_ID)
		pg->id = ++t->next_id;
	pg->count = count;
	pg->interval_ms = interval_ms;
	pg->state = PING_WAIT_TUNNEL;
	return pg;
}

void ping_commit(struct overlay_ping *pg)
{
	pg->used = true;
}

struct overlay_ping *ping_find(struct ping_table *t, uint32_t id)
{
	for (int i = 0; i < OVERLAY_PINGS; i++)
		if (t->p[i].used && t->p[i].id == id)
			return &t->p[i];
	return NULL;
}

void ping_fail(struct overlay_ping *pg, const char *why)
{
	/* A waiter left by a running ping may answer after it ended: what
	 * it got stands. */
	if (pg->state == PING_DONE || pg->state == PING_FAILED)
		return;
	pg->state = PING_FAILED;
	pg->error = why;
	pg->done_ms = clock_now_ms();
}

void ping_run(struct overlay_ping *pg, bool relay)
{
	if (pg->state != PING_WAIT_TUNNEL)
		return;
	pg->state = PING_RUNNING;
	pg->next_ms = clock_now_ms();
	pg->relay = pg->first_relay = relay;
}

enum ping_due ping_due(struct overlay_ping *pg, int64_t now)
{
	if (!pg->used)
		return PING_DUE_NONE;
	if (pg->state == PING_DONE || pg->state == PING_FAILED) {
		if (now - pg->done_ms > OVERLAY_PING_KEEP_MS)
			pg->used = false;
		return PING_DUE_NONE;
	}
	if (pg->state != PING_RUNNING || now < pg->next_ms)
		return PING_DUE_NONE;
	if (pg->sent >= pg->count || pg->received >= pg->count) {
		pg->state = PING_DONE;
		pg->done_ms = now;
		return PING_DUE_NONE;
	}
	return PING_DUE_PROBE;
}

static void probe_write(uint8_t *buf, uint32_t id, uint32_t seq)
{
	struct wbuf w;

	wbuf_init(&w, buf, PROBE_LEN);
	wbuf_put_u8(&w, PROBE_REQUEST);
	wbuf_put_u8(&w, 0);
	wbuf_put_u16(&w, 0);
	wbuf_put_u32(&w, id);
	wbuf_put_u32(&w, seq);
	wbuf_put_u64(&w, mono_ns());
}

void probe_build(struct overlay_ping *pg, uint8_t *buf)
{
	probe_write(buf, pg->id, pg->sent++);
}

void probe_build_move(uint8_t *buf, uint32_t seq)
{
	probe_write(buf, PROBE_MOVE_ID, seq);
}

/* The next probe after one just sent (or lost), or the wait for the last
 * replies. */
static void ping_next(struct overlay_ping *pg, int64_t now)
{
	pg->next_ms = now + (pg->sent < pg->count ? pg->interval_ms : OVERLAY_PING_WAIT_MS);
}

void ping_sent(struct overlay_ping *pg, const struct sockaddr_storage *endpoint, bool have,
	       bool relay, int64_t now)
{
	/* The path moved under the ping (punched, fallen back to the relay, a
	 * move): counted, so `cyphonic ping` can say so. */
	if (pg->sent > 1 && pg->have_endpoint &&
	    (relay != pg->relay || !have ||
	     !addr_equal((const struct sockaddr *)&pg->endpoint, (const struct sockaddr *)endpoint)))
		pg->path_changes++;
	if (pg->sent == 1)
		pg->first_relay = relay;
	pg->have_endpoint = have;
	pg->endpoint = *endpoint;
	pg->relay = relay;
	ping_next(pg, now);
}

void ping_lost(struct overlay_ping *pg, int64_t now)
{
	pg->sent++;
	ping_next(pg, now);
}

int64_t ping_next_ms(const struct ping_table *t, int64_t at)
{
	for (int i = 0; i < OVERLAY_PINGS; i++)
		if (t->p[i].used && t->p[i].state == PING_RUNNING && t->p[i].next_ms < at)
			at = t->p[i].next_ms;
	return at;
}

int ping_get(struct ping_table *t, uint32_t id, struct overlay_ping_result *res)
{
	struct overlay_ping *pg = ping_find(t, id);

	if (!pg)
		return -ENOENT;
	memset(res, 0, sizeof(*res));
	res->state = pg->state;
	snprintf(res->peer, sizeof(res->peer), "%s", pg->fqdn);
	res->relay = pg->relay;
	res->first_relay = pg->first_relay;
	res->path_changes = pg->path_changes;
	res->have_endpoint = pg->have_endpoint;
	res->endpoint = pg->endpoint;
	res->sent = pg->sent;
	res->received = pg->received;
	if (pg->received) {
		res->rtt_min_ms = (double)pg->rtt_min_ns / 1e6;
		res->rtt_max_ms = (double)pg->rtt_max_ns / 1e6;
		res->rtt_avg_ms = (double)pg->rtt_sum_ns / pg->received / 1e6;
	}
	res->error = pg->error;
	if (pg->state == PING_DONE || pg->state == PING_FAILED)
		pg->used = false;
	return 0;
}

/* Reply seq of ping pg came back after rtt ns. */
static void ping_count(struct overlay_ping *pg, uint32_t seq, uint64_t rtt)
{
	pg->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	if (!pg->received || rtt < pg->rtt_min_ns)
		pg->rtt_min_ns = rtt;
	if (rtt > pg->rtt_max_ns)
		pg->rtt_max_ns = rtt;
	pg->rtt_sum_ns += rtt;
	pg->received++;
	if (pg->received >= pg->count) {
		pg->state = PING_DONE;
		pg->done_ms = clock_now_ms();
	}
}

int probe_input(struct ping_table *t, const char *fqdn, uint8_t *pkt, size_t len)
{
	struct cur c = cur_make(pkt, len);
	uint8_t type = 0, z8 = 0;
	uint16_t z16 = 0;
	uint32_t id = 0, seq = 0;
	uint64_t sent_ns = 0, now;
	struct overlay_ping *pg;
	bool ok = cur_get_u8(&c, &type) && cur_get_u8(&c, &z8) && cur_get_u16(&c, &z16) &&
		  cur_get_u32(&c, &id) && cur_get_u32(&c, &seq) && cur_get_u64(&c, &sent_ns) &&
		  cur_empty(&c);

	if (!ok || z8 || z16 || (type != PROBE_REQUEST && type != PROBE_REPLY))
		return -EBADMSG;
	if (type == PROBE_REQUEST) {
		pkt[0] = PROBE_REPLY;
		return PROBE_IN_ECHO;
	}
	if (id == PROBE_MOVE_ID)
		return PROBE_IN_MOVED;
	pg = ping_find(t, id);
	if (!pg || pg->state != PING_RUNNING || seq >= pg->sent || strcmp(pg->fqdn, fqdn) ||
	    (pg->seen[seq / 8] & (1u << (seq % 8))))
		return PROBE_IN_REPLY;
	now = mono_ns();
	ping_count(pg, seq, now > sent_ns ? now - sent_ns : 0);
	return PROBE_IN_REPLY;
}
