#include "jsonread.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define JR_DEPTH 16
#define JR_PATH 512
#define JR_VALUE 1024

struct jr {
	const char *p;
	int depth;
	char path[JR_PATH];
	size_t plen;
	char val[JR_VALUE];
	jsonread_fn fn;
	void *arg;
};

static void jr_ws(struct jr *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

/* A string at r->p into out (NUL-terminated); -EINVAL if bad or too long. */
static int jr_string(struct jr *r, char *out, size_t cap)
{
	size_t n = 0;

	if (*r->p++ != '"')
		return -EINVAL;
	for (;;) {
		unsigned char c = (unsigned char)*r->p++;
		if (c == '"')
			break;
		if (c < 0x20 || n + 1 >= cap)
			return -EINVAL;
		if (c == '\\') {
			c = (unsigned char)*r->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				unsigned v = 0;
				for (int i = 0; i < 4; i++) {
					char h = *r->p++;
					v <<= 4;
					if (h >= '0' && h <= '9')
						v |= (unsigned)(h - '0');
					else if (h >= 'a' && h <= 'f')
						v |= (unsigned)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F')
						v |= (unsigned)(h - 'A' + 10);
					else
						return -EINVAL;
				}
				c = v < 0x80 ? (unsigned char)v : '?';
				break;
			}
			default:
				return -EINVAL;
			}
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

/* Append ".key" (or "key" at the top) or "[idx]" to the path. */
static int jr_push(struct jr *r, const char *key, size_t idx)
{
	size_t room = JR_PATH - r->plen;
	int n;

	if (key)
		n = snprintf(r->path + r->plen, room, "%s%s", r->plen ? "." : "", key);
	else
		n = snprintf(r->path + r->plen, room, "[%zu]", idx);
	if (n < 0 || (size_t)n >= room)
		return -EINVAL;
	r->plen += (size_t)n;
	return 0;
}

/* After a member or element: take it off the path again, then read past
 * ',' (1: another follows) or end (0: the last); -EINVAL otherwise. */
static int jr_next(struct jr *r, size_t saved, char end)
{
	r->plen = saved;
	r->path[saved] = '\0';
	jr_ws(r);
	if (*r->p == ',') {
		r->p++;
		return 1;
	}
	return *r->p++ == end ? 0 : -EINVAL;
}

static int jr_value(struct jr *r);

static int jr_object(struct jr *r)
{
	char key[256];
	size_t saved = r->plen;
	int rc;

	r->p++;
	jr_ws(r);
	if (*r->p == '}') {
		r->p++;
		return 0;
	}
	do {
		jr_ws(r);
		if ((rc = jr_string(r, key, sizeof(key))) < 0)
			return rc;
		jr_ws(r);
		if (*r->p++ != ':')
			return -EINVAL;
		if ((rc = jr_push(r, key, 0)) < 0)
			return rc;
		if ((rc = jr_value(r)) != 0)
			return rc;
	} while ((rc = jr_next(r, saved, '}')) > 0);
	return rc;
}

static int jr_array(struct jr *r)
{
	size_t saved = r->plen, count = 0;
	int rc;

	r->p++;
	jr_ws(r);
	if (*r->p == ']') {
		r->p++;
	} else {
		do {
			if ((rc = jr_push(r, NULL, count)) < 0)
				return rc;
			if ((rc = jr_value(r)) != 0)
				return rc;
			count++;
		} while ((rc = jr_next(r, saved, ']')) > 0);
		if (rc < 0)
			return rc;
	}
	snprintf(r->val, sizeof(r->val), "%zu", count);
	return r->fn(r->arg, r->path, JR_ARRAY, r->val);
}

static int jr_value(struct jr *r)
{
	static const char *const lit[] = { "true", "false", "null" };
	size_t n, i;
	int rc;

	jr_ws(r);
	switch (*r->p) {
	case '{':
	case '[':
		if (++r->depth > JR_DEPTH)
			return -EINVAL;
		rc = *r->p == '{' ? jr_object(r) : jr_array(r);
		r->depth--;
		return rc;
	case '"':
		if ((rc = jr_string(r, r->val, sizeof(r->val))) < 0)
			return rc;
		return r->fn(r->arg, r->path, JR_STRING, r->val);
	}
	for (i = 0; i < 3; i++) {
		n = strlen(lit[i]);
		if (!strncmp(r->p, lit[i], n)) {
			r->p += n;
			return r->fn(r->arg, r->path, i < 2 ? JR_BOOL : JR_NULL, lit[i]);
		}
	}
	/* a number: optional '-', then a digit first; the rest loosely */
	i = *r->p == '-';
	if (r->p[i] < '0' || r->p[i] > '9')
		return -EINVAL;
	n = strspn(r->p, "-+.eE0123456789");
	if (n >= sizeof(r->val))
		return -EINVAL;
	memcpy(r->val, r->p, n);
	r->val[n] = '\0';
	r->p += n;
	return r->fn(r->arg, r->path, JR_NUMBER, r->val);
}

int jsonread_walk(const char *text, jsonread_fn fn, void *arg)
{
	struct jr r = { .p = text, .fn = fn, .arg = arg };
	int rc;

	rc = jr_value(&r);
	if (rc)
		return rc;
	jr_ws(&r);
	return *r.p ? -EINVAL : 0;
}
