#include "console_session.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "aead.h"

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* 64 lower-case hex digits into CONSOLE_TOKEN_LEN bytes. */
static bool unhex(const char *s, uint8_t out[CONSOLE_TOKEN_LEN])
{
	for (size_t i = 0; i < CONSOLE_TOKEN_LEN; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + k];

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (unsigned)(c - 'a' + 10);
			else
				return false;
		}
		out[i] = (uint8_t)v;
	}
	return s[2 * CONSOLE_TOKEN_LEN] == '\0';
}

static bool live(const struct console_session *s, int64_t now)
{
	return s->name[0] && now - s->used < CONSOLE_IDLE_S && now - s->born < CONSOLE_LIFE_S;
}

struct console_session *console_session_new(struct console_sessions *t, const char *name,
					    const uint8_t account[CONSOLE_TOKEN_LEN], int64_t now,
					    char id_hex[CONSOLE_TOKEN_HEX])
{
	struct console_session *s = &t->s[0];
	uint8_t csrf[CONSOLE_TOKEN_LEN];

	/* a free or dead slot, else the one used longest ago */
	for (size_t i = 0; i < CONSOLE_SESSIONS; i++) {
		if (!live(&t->s[i], now)) {
			s = &t->s[i];
			break;
		}
		if (t->s[i].used < s->used)
			s = &t->s[i];
	}
	memset(s, 0, sizeof(*s));
	if (cy_random(s->id, sizeof(s->id)) < 0 || cy_random(csrf, sizeof(csrf)) < 0) {
		memset(s, 0, sizeof(*s));
		return NULL;
	}
	hex(csrf, sizeof(csrf), s->csrf);
	hex(s->id, sizeof(s->id), id_hex);
	snprintf(s->name, sizeof(s->name), "%s", name);
	memcpy(s->account, account, sizeof(s->account));
	s->born = s->used = now;
	return s;
}

struct console_session *console_session_find(struct console_sessions *t, const char *id_hex,
					     int64_t now, bool touch)
{
	uint8_t id[CONSOLE_TOKEN_LEN];
	struct console_session *hit = NULL;

	if (!id_hex || strlen(id_hex) != CONSOLE_TOKEN_HEX - 1 || !unhex(id_hex, id))
		return NULL;
	/* every slot compared, in constant time each */
	for (size_t i = 0; i < CONSOLE_SESSIONS; i++)
		if (t->s[i].name[0] && !CRYPTO_memcmp(t->s[i].id, id, sizeof(id)))
			hit = &t->s[i];
	if (!hit)
		return NULL;
	if (!live(hit, now)) {
		console_session_end(hit);
		return NULL;
	}
	if (touch)
		hit->used = now;
	return hit;
}

bool console_session_csrf_ok(const struct console_session *s, const char *csrf)
{
	return csrf && strlen(csrf) == CONSOLE_TOKEN_HEX - 1 &&
	       !CRYPTO_memcmp(s->csrf, csrf, CONSOLE_TOKEN_HEX - 1);
}

void console_session_end(struct console_session *s)
{
	cy_wipe(s, sizeof(*s));
}

void console_session_end_name(struct console_sessions *t, const char *name)
{
	char n[CY_NAME_MAX + 1];

	/* name may be a session's own, wiped on the way */
	snprintf(n, sizeof(n), "%s", name);
	for (size_t i = 0; i < CONSOLE_SESSIONS; i++)
		if (t->s[i].name[0] && !strcmp(t->s[i].name, n))
			console_session_end(&t->s[i]);
}

bool console_cookie_value(const char *h, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);

	while (h && *h) {
		const char *end;

		h += strspn(h, " \t");
		end = h + strcspn(h, ";");
		if ((size_t)(end - h) > nl && !strncmp(h, name, nl) && h[nl] == '=') {
			size_t vl = (size_t)(end - h) - nl - 1;

			if (vl >= len)
				return false;
			memcpy(out, h + nl + 1, vl);
			out[vl] = '\0';
			return true;
		}
		h = *end ? end + 1 : end;
	}
	return false;
}

int console_session_account(const char *pwhash, uint8_t out[CONSOLE_TOKEN_LEN])
{
	unsigned len = 0;

	return EVP_Digest(pwhash, strlen(pwhash), out, &len, EVP_sha256(), NULL) == 1 &&
			       len == CONSOLE_TOKEN_LEN
		       ? 0
		       : -1;
}

bool console_session_account_ok(const struct console_session *s, const char *pwhash)
{
	uint8_t now[CONSOLE_TOKEN_LEN];

	return console_session_account(pwhash, now) == 0 &&
	       !CRYPTO_memcmp(now, s->account, sizeof(now));
}
