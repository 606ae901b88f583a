/* A growing text buffer for text that holds secrets (a private key, a
 * password): it grows into a new allocation and wipes the old one, where
 * open_memstream would realloc and leave freed copies behind.  Errors
 * are sticky and seen once at the end, as for struct wbuf (buf.h). */
#ifndef CY_SECBUF_H
#define CY_SECBUF_H

#include <stdbool.h>
#include <stddef.h>

struct secbuf {
	char *p;
	size_t len, cap;
	bool ok;
};

#define SECBUF_INIT { .ok = true }

__attribute__((format(printf, 2, 3)))
void secbuf_printf(struct secbuf *b, const char *fmt, ...);
/* An INI value of several lines (a PEM block): "key = " and its first
 * line, every further non-empty line indented by one tab (a continuation
 * line: conf.c joins them with '\n').  false when text has no line. */
bool secbuf_text(struct secbuf *b, const char *key, const char *text);
/* The NUL-terminated text (free with secbuf_free), or NULL (and the
 * buffer wiped) when ok is false or anything failed. */
char *secbuf_finish(struct secbuf *b, bool ok);
/* Wipe and free text from secbuf_finish; NULL is fine. */
void secbuf_free(char *text);

#endif
