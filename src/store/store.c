/* The store interface: pick the backend from the URL and dispatch. */
#include "store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store_impl.h"

/* The backends by the scheme that starts the location; a plain path is
 * a SQLite file.  keep: the backend takes the whole URL (libpq's own);
 * server: a database server, reached by round trips. */
static const struct {
	const char *scheme;
	int (*open)(struct store **out, const char *where, char *err, size_t errlen);
	bool keep, server;
} backends[] = {
	{ "sqlite:", store_sqlite_open, false, false },
	{ "postgresql://", store_pg_open, true, true },
	{ "postgres://", store_pg_open, true, true },
};

const struct counter store_counters[] = {
	COUNTER(struct store_stats, calls, "calls into the store"),
	COUNTER(struct store_stats, failed, "calls that failed (not: not found, exists)"),
	COUNTER(struct store_stats, usec, "microseconds the calls took in all"),
	COUNTER(struct store_stats, le_100us, "calls that took 100 us or less"),
	COUNTER(struct store_stats, le_1ms, "calls that took 1 ms or less"),
	COUNTER(struct store_stats, le_10ms, "calls that took 10 ms or less"),
	COUNTER(struct store_stats, le_100ms, "calls that took 100 ms or less"),
	COUNTER(struct store_stats, le_1s, "calls that took 1 s or less"),
};
const size_t store_ncounters = sizeof(store_counters) / sizeof(store_counters[0]);
const double store_buckets_s[STORE_NBUCKETS] = { 0.0001, 0.001, 0.01, 0.1, 1 };

const struct store_stats *store_stats(const struct store *st)
{
	return &st->stats;
}

static int64_t call_start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* rc, after counting the call that returned it. */
static int call_end(struct store *st, int64_t t0, int rc)
{
	struct store_stats *s = &st->stats;
	uint64_t us = (uint64_t)(call_start() - t0);

	s->calls++;
	s->usec += us;
	if (rc < 0 && rc != -ENOENT && rc != -EEXIST)
		s->failed++;
	s->le_100us += us <= 100;
	s->le_1ms += us <= 1000;
	s->le_10ms += us <= 10000;
	s->le_100ms += us <= 100000;
	s->le_1s += us <= 1000000;
	return rc;
}

bool store_url_server(const char *url)
{
	for (size_t i = 0; url && i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strncmp(url, backends[i].scheme, strlen(backends[i].scheme)))
			return backends[i].server;
	return false;
}

void store_url_redact(char *t)
{
	char *p, *at, *end;

	for (p = t; (p = strstr(p, "://")); p += 3) {
		/* userinfo: up to an '@' before the path, with a ':' in it */
		at = strchr(p + 3, '@');
		end = p + 3 + strcspn(p + 3, "/?\" ");
		if (at && at < end && memchr(p + 3, ':', (size_t)(at - p - 3)))
			for (char *c = memchr(p + 3, ':', (size_t)(at - p - 3)) + 1; c < at; c++)
				*c = '*';
	}
	for (p = t; (p = strstr(p, "password=")); p += 9)
		for (char *c = p + 9; *c && !strchr("& \"'", *c); c++)
			*c = '*';
}

int store_open(struct store **out, const char *url, char *err, size_t errlen)
{
	size_t i, n;

	*out = NULL;
	if (!url || !url[0]) {
		snprintf(err, errlen, "store: empty location");
		return -EINVAL;
	}
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		n = strlen(backends[i].scheme);
		if (!strncmp(url, backends[i].scheme, n))
			return backends[i].open(out, backends[i].keep ? url : url + n, err, errlen);
	}
	if (strstr(url, "://")) {
		snprintf(err, errlen, "store: unknown backend in '%.*s'", (int)(strstr(url, "://") - url),
			 url);
		return -ENOTSUP;
	}
	return store_sqlite_open(out, url, err, errlen);
}

int store_notify(struct store *st, const char *channel, const char *payload)
{
	if (!st->ops->notify)
		return -ENOTSUP;
	if (strlen(payload) > STORE_NOTIFY_MAX)
		return -EMSGSIZE;
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->notify(st, channel, payload));
}

struct store_bus *store_bus_new(struct event_base *base, const char *url, const char *channel,
				store_bus_cb cb, void *arg, char *err, size_t errlen)
{
	err[0] = '\0';
	if (strncmp(url, "postgresql://", 13) && strncmp(url, "postgres://", 11))
		return NULL;
	return store_pg_bus_new(base, url, channel, cb, arg, err, errlen);
}

void store_bus_free(struct store_bus *b)
{
	store_pg_bus_free(b);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

int store_meta_set(struct store *st, const char *key, const char *value)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->meta_set(st, key, value));
}

int store_meta_add(struct store *st, const char *key, const char *value)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->meta_add(st, key, value));
}

int store_counter_reserve(struct store *st, const char *name, uint64_t at_least, uint64_t block,
			  uint64_t *start)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->counter_reserve(st, name, at_least, block, start));
}

int store_meta_get(struct store *st, const char *key, char *value, size_t len)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->meta_get(st, key, value, len));
}

int store_node_add(struct store *st, struct store_node *n)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_add(st, n));
}

int store_node_renew_cert(struct store *st, int64_t id, const char *presented,
			  const char *fresh)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_renew_cert(st, id, presented, fresh));
}

int store_node_cert_used(struct store *st, int64_t id, const char *serial)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_cert_used(st, id, serial));
}

int store_node_set_pwhash(struct store *st, int64_t id, const char *pwhash)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_set_pwhash(st, id, pwhash));
}

int store_node_set_tags(struct store *st, int64_t id, const char *tags)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_set_tags(st, id, tags));
}

int store_node_by_name(struct store *st, const char *name, struct store_node *n)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_by_name(st, name, n));
}

int store_node_by_fqdn(struct store *st, const char *fqdn, struct store_node *n)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_by_fqdn(st, fqdn, n));
}

int store_node_by_id(struct store *st, int64_t id, struct store_node *n)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_by_id(st, id, n));
}

int store_node_by_serial(struct store *st, const char *serial, struct store_node *n)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_by_serial(st, serial, n));
}

int store_node_by_vip4(struct store *st, const uint8_t vip4[4], struct store_node *n)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_by_vip4(st, vip4, n));
}

int store_node_by_vip6(struct store *st, const uint8_t vip6[16], struct store_node *n)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_by_vip6(st, vip6, n));
}

int store_node_revoke(struct store *st, const char *name, const char *reason)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_revoke(st, name, reason));
}

int store_node_foreach(struct store *st, int64_t adapter_id,
		       int (*cb)(const struct store_node *n, void *arg), void *arg)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->node_foreach(st, adapter_id, cb, arg));
}

int store_key_put(struct store *st, const struct store_key *k)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->key_put(st, k));
}

int store_key_get(struct store *st, uint64_t key_id, struct store_key *k)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->key_get(st, key_id, k));
}

int store_key_delete(struct store *st, uint64_t key_id)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->key_delete(st, key_id));
}

int store_key_expire(struct store *st, int64_t now)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->key_expire(st, now));
}

int store_reg_put(struct store *st, const struct store_reg *r)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->reg_put(st, r));
}

int store_reg_touch(struct store *st, const struct store_reg *r)
{
	int64_t t0 = call_start();
	int result, rc = call_end(st, t0, st->ops->reg_touch(st, r, 1, &result));

	return rc < 0 ? rc : result;
}

int store_reg_touch_many(struct store *st, const struct store_reg *v, size_t n, int *result)
{
	int64_t t0;

	if (!n)
		return 0;
	t0 = call_start();
	return call_end(st, t0, st->ops->reg_touch(st, v, n, result));
}

int store_reg_get(struct store *st, int64_t node_id, struct store_reg *r)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->reg_get(st, node_id, r));
}

int store_reg_delete(struct store *st, int64_t node_id)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->reg_delete(st, node_id));
}

int store_reg_expire(struct store *st, int64_t now)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->reg_expire(st, now));
}

int store_reg_foreach(struct store *st, int (*cb)(const struct store_reg *r, void *arg),
		      void *arg)
{
	int64_t t0 = call_start();

	return call_end(st, t0, st->ops->reg_foreach(st, cb, arg));
}
