#include "secbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"

static void grow(struct secbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 2048;
	char *p;

	while (cap < need)
		cap *= 2;
	p = malloc(cap);
	if (!p) {
		b->ok = false;
		return;
	}
	if (b->p) {
		memcpy(p, b->p, b->len);
		cy_wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = cap;
}

void secbuf_printf(struct secbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->ok && !b->p)
		grow(b, 1);
	if (!b->ok)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->ok = false;
		return;
	}
	if (b->len + (size_t)n >= b->cap) {
		grow(b, b->len + (size_t)n + 1);
		if (!b->ok)
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

bool secbuf_text(struct secbuf *b, const char *key, const char *text)
{
	const char *p = text, *nl;
	bool first = true;

	while (*p) {
		nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n) {
			if (first)
				secbuf_printf(b, "%s = %.*s\n", key, (int)n, p);
			else
				secbuf_printf(b, "\t%.*s\n", (int)n, p);
			first = false;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return !first;
}

char *secbuf_finish(struct secbuf *b, bool ok)
{
	if (!ok || !b->ok || !b->p) {
		if (b->p)
			cy_wipe(b->p, b->cap);
		free(b->p);
		b->p = NULL;
		return NULL;
	}
	return b->p;
}

void secbuf_free(char *text)
{
	if (!text)
		return;
	cy_wipe(text, strlen(text));
	free(text);
}
