#include "as_limit.h"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"

#define PROBE 8
#define SIPHASH_KEY_LEN 16

struct slot {
	char key[AS_LIMIT_KEY_MAX];
	uint32_t failures;
	int64_t last_ms;      /* last failure, or the mark */
	int64_t until_ms;     /* refused before this */
};

struct as_limit {
	uint8_t hkey[SIPHASH_KEY_LEN];
	struct slot s[AS_LIMIT_SLOTS];
};

struct as_limit *as_limit_new(void)
{
	struct as_limit *l = calloc(1, sizeof(*l));

	if (l && cy_random(l->hkey, sizeof(l->hkey)) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void as_limit_free(struct as_limit *l)
{
	free(l);
}

void as_limit_key_addr(const struct sockaddr *sa, char key[AS_LIMIT_KEY_MAX])
{
	char buf[ADDR_STR_MAX];

	/* An IPv4 client of a dual-stack socket is keyed as IPv4, not as
	 * part of ::ffff:0:0/56, which every IPv4 client would share. */
	if (sa && sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		struct sockaddr_in p = { .sin_family = AF_INET };

		memcpy(&p.sin_addr, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr + 12, 4);
		snprintf(key, AS_LIMIT_KEY_MAX, "a:%s", addr_str((struct sockaddr *)&p, buf));
	} else if (sa && sa->sa_family == AF_INET6) {
		struct sockaddr_in6 p = *(const struct sockaddr_in6 *)sa;

		memset(p.sin6_addr.s6_addr + 7, 0, 9);
		p.sin6_port = 0;
		p.sin6_scope_id = 0;
		p.sin6_flowinfo = 0;
		snprintf(key, AS_LIMIT_KEY_MAX, "a:%s/56", addr_str((struct sockaddr *)&p, buf));
	} else if (sa && sa->sa_family == AF_INET) {
		struct sockaddr_in p = *(const struct sockaddr_in *)sa;

		p.sin_port = 0;
		snprintf(key, AS_LIMIT_KEY_MAX, "a:%s", addr_str((struct sockaddr *)&p, buf));
	} else {
		snprintf(key, AS_LIMIT_KEY_MAX, "a:?");
	}
}

void as_limit_key_name(const char *name, char key[AS_LIMIT_KEY_MAX])
{
	snprintf(key, AS_LIMIT_KEY_MAX, "n:%s", name);
}

void as_limit_key_pair(const char *src_key, const char *name, char key[AS_LIMIT_KEY_MAX])
{
	/* "a:" + at most 58 characters of address, "|n:" + at most 63: fits */
	snprintf(key, AS_LIMIT_KEY_MAX, "%.60s|n:%.63s", src_key, name);
}

/* SipHash-2-4 of the key under the table's own random key (OpenSSL), so
 * where a key lands cannot be chosen from outside. */
static uint32_t hash(const struct as_limit *l, const char *k)
{
	uint8_t out[8] = { 0 };
	size_t outlen = 0;

	if (!EVP_Q_mac(NULL, "SIPHASH", NULL, NULL, NULL, l->hkey, sizeof(l->hkey),
		       (const unsigned char *)k, strlen(k), out, sizeof(out), &outlen))
		return 0;
	return (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
	       (uint32_t)out[3] << 24;
}

/* Holds something against someone: never evicted for a newcomer. */
static bool protected(const struct slot *s, int64_t now_ms)
{
	return s->key[0] && (s->failures >= AS_LIMIT_FREE || s->until_ms > now_ms) &&
	       now_ms - s->last_ms <= (int64_t)AS_LIMIT_FORGET_S * 1000;
}

static struct slot *find(struct as_limit *l, const char *key, bool add, int64_t now_ms)
{
	uint32_t h = hash(l, key);
	struct slot *old = NULL;

	for (int i = 0; i < PROBE; i++) {
		struct slot *s = &l->s[(h + (uint32_t)i) % AS_LIMIT_SLOTS];

		if (s->key[0] && !strcmp(s->key, key))
			return s;
		if (protected(s, now_ms))
			continue;
		if (!old || !s->key[0] || (old->key[0] && s->last_ms < old->last_ms))
			old = s;
	}
	if (!add || !old)
		return NULL;
	memset(old, 0, sizeof(*old));
	snprintf(old->key, sizeof(old->key), "%s", key);
	return old;
}

int as_limit_wait(struct as_limit *l, const char *key, int64_t now_ms)
{
	struct slot *s = find(l, key, false, now_ms);

	if (!s)
		return 0;
	if (now_ms - s->last_ms > (int64_t)AS_LIMIT_FORGET_S * 1000) {
		memset(s, 0, sizeof(*s));
		return 0;
	}
	if (now_ms >= s->until_ms)
		return 0;
	return (int)((s->until_ms - now_ms + 999) / 1000);
}

void as_limit_failed(struct as_limit *l, const char *key, int64_t now_ms)
{
	struct slot *s = find(l, key, true, now_ms);
	int64_t backoff_s;

	if (!s)
		return;   /* every slot of its window holds someone back */
	if (now_ms - s->last_ms > (int64_t)AS_LIMIT_FORGET_S * 1000)
		s->failures = 0;
	s->failures++;
	s->last_ms = now_ms;
	if (s->failures <= AS_LIMIT_FREE)
		return;
	backoff_s = s->failures - AS_LIMIT_FREE >= 7 ? AS_LIMIT_MAX_BACKOFF_S
						       : (int64_t)1 << (s->failures - AS_LIMIT_FREE - 1);
	if (backoff_s > AS_LIMIT_MAX_BACKOFF_S)
		backoff_s = AS_LIMIT_MAX_BACKOFF_S;
	s->until_ms = now_ms + backoff_s * 1000;
}

void as_limit_succeeded(struct as_limit *l, const char *key)
{
	struct slot *s = find(l, key, false, 0);

	if (s)
		memset(s, 0, sizeof(*s));
}

void as_limit_mark(struct as_limit *l, const char *key, int64_t now_ms)
{
	struct slot *s = find(l, key, true, now_ms);

	if (s)
		s->last_ms = now_ms;
}

bool as_limit_marked(struct as_limit *l, const char *key, int64_t now_ms, int64_t max_age_ms)
{
	struct slot *s = find(l, key, false, now_ms);

	return s && now_ms - s->last_ms <= max_age_ms;
}

struct login_guard {
	struct as_limit *by_src, *by_name, *good;
};

struct login_guard *login_guard_new(void)
{
	struct login_guard *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->by_src = as_limit_new();
	g->by_name = as_limit_new();
	g->good = as_limit_new();
	if (!g->by_src || !g->by_name || !g->good) {
		login_guard_free(g);
		return NULL;
	}
	return g;
}

void login_guard_free(struct login_guard *g)
{
	if (!g)
		return;
	as_limit_free(g->by_src);
	as_limit_free(g->by_name);
	as_limit_free(g->good);
	free(g);
}

struct guard_keys {
	char src[AS_LIMIT_KEY_MAX], name[AS_LIMIT_KEY_MAX], pair[AS_LIMIT_KEY_MAX];
};

static void guard_keys(const struct sockaddr *src, const char *name, struct guard_keys *k)
{
	as_limit_key_addr(src, k->src);
	as_limit_key_name(name, k->name);
	as_limit_key_pair(k->src, name, k->pair);
}

int login_guard_wait(struct login_guard *g, const struct sockaddr *src, const char *name,
		     int64_t now_ms)
{
	struct guard_keys k;
	int wait, w;

	guard_keys(src, name, &k);
	/* A source that logged this name in lately is not held back by the
	 * name's failures (a guesser elsewhere must not lock it out), nor by
	 * its own (a site behind one NAPT with one bad client). */
	if (as_limit_marked(g->good, k.pair, now_ms, LOGIN_GUARD_GOOD_MS))
		return 0;
	wait = as_limit_wait(g->by_src, k.src, now_ms);
	w = as_limit_wait(g->by_name, k.name, now_ms);
	return w > wait ? w : wait;
}

void login_guard_result(struct login_guard *g, const struct sockaddr *src, const char *name,
			bool ok, int64_t now_ms)
{
	struct guard_keys k;

	guard_keys(src, name, &k);
	/* A success clears the name's failures and vouches for this source
	 * with this name; the source's own failures stay (one good account
	 * must not buy a guesser fresh tries). */
	if (ok) {
		as_limit_succeeded(g->by_name, k.name);
		as_limit_mark(g->good, k.pair, now_ms);
	} else {
		as_limit_failed(g->by_src, k.src, now_ms);
		as_limit_failed(g->by_name, k.name, now_ms);
	}
}
