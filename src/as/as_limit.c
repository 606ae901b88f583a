#include "as_limit.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

#define PROBE 8

struct slot {
	char key[AS_LIMIT_KEY_MAX];
	uint32_t failures;
	int64_t last_ms;      /* last failure */
	int64_t until_ms;     /* refused before this */
};

struct as_limit {
	struct slot s[AS_LIMIT_SLOTS];
};

struct as_limit *as_limit_new(void)
{
	return calloc(1, sizeof(struct as_limit));
}

void as_limit_free(struct as_limit *l)
{
	free(l);
}

void as_limit_key_addr(const struct sockaddr *sa, char key[AS_LIMIT_KEY_MAX])
{
	char buf[ADDR_STR_MAX];

	if (sa && sa->sa_family == AF_INET6) {
		struct sockaddr_in6 p = *(const struct sockaddr_in6 *)sa;

		memset(p.sin6_addr.s6_addr + 8, 0, 8);
		p.sin6_port = 0;
		snprintf(key, AS_LIMIT_KEY_MAX, "a:%s/64", addr_str((struct sockaddr *)&p, buf));
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

/* FNV-1a: keys come from outside, but a collision only shares a probe
 * window, and the window evicts by age. */
static uint32_t hash(const char *k)
{
	uint32_t h = 2166136261u;

	while (*k)
		h = (h ^ (uint8_t)*k++) * 16777619u;
	return h;
}

static struct slot *find(struct as_limit *l, const char *key, bool add)
{
	uint32_t h = hash(key);
	struct slot *old = NULL;

	for (int i = 0; i < PROBE; i++) {
		struct slot *s = &l->s[(h + (uint32_t)i) % AS_LIMIT_SLOTS];

		if (s->key[0] && !strcmp(s->key, key))
			return s;
		if (!old || !s->key[0] || (old->key[0] && s->last_ms < old->last_ms))
			old = s;
	}
	if (!add)
		return NULL;
	memset(old, 0, sizeof(*old));
	snprintf(old->key, sizeof(old->key), "%s", key);
	return old;
}

int as_limit_wait(struct as_limit *l, const char *key, int64_t now_ms)
{
	struct slot *s = find(l, key, false);

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
	struct slot *s = find(l, key, true);
	int64_t backoff_s;

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
	struct slot *s = find(l, key, false);

	if (s)
		memset(s, 0, sizeof(*s));
}
