#include "json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

void json_init(struct json *j, char *buf, size_t cap)
{
	j->p = buf;
	j->cap = cap;
	j->len = 0;
	j->overflow = cap == 0;
	j->depth = 0;
	j->need_comma[0] = false;
	if (cap)
		buf[0] = '\0';
}

static void emit(struct json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct json *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->p + j->len, j->cap - j->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= j->cap - j->len) {
		j->overflow = true;
		return;
	}
	j->len += (size_t)n;
}

static void emit_string(struct json *j, const char *s)
{
	emit(j, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			emit(j, "\\%c", c);
		else if (c < 0x20)
			emit(j, "\\u%04x", c);
		else
			emit(j, "%c", c);
	}
	emit(j, "\"");
}

static void member(struct json *j, const char *key)
{
	if (j->need_comma[j->depth])
		emit(j, ",");
	j->need_comma[j->depth] = true;
	if (key) {
		emit_string(j, key);
		emit(j, ":");
	}
}

static void open_(struct json *j, const char *key, char c)
{
	member(j, key);
	emit(j, "%c", c);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->overflow = true;
		return;
	}
	j->need_comma[++j->depth] = false;
}

static void close_(struct json *j, char c)
{
	if (j->depth == 0) {
		j->overflow = true; /* unbalanced: the text would not be JSON */
		return;
	}
	j->depth--;
	emit(j, "%c", c);
}

void json_obj_begin(struct json *j, const char *key) { open_(j, key, '{'); }
void json_obj_end(struct json *j) { close_(j, '}'); }
void json_arr_begin(struct json *j, const char *key) { open_(j, key, '['); }
void json_arr_end(struct json *j) { close_(j, ']'); }

void json_str(struct json *j, const char *key, const char *v)
{
	member(j, key);
	if (v)
		emit_string(j, v);
	else
		emit(j, "null");
}

void json_int(struct json *j, const char *key, int64_t v)
{
	member(j, key);
	emit(j, "%" PRId64, v);
}

void json_uint(struct json *j, const char *key, uint64_t v)
{
	member(j, key);
	emit(j, "%" PRIu64, v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	member(j, key);
	emit(j, "%s", v ? "true" : "false");
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	emit(j, "null");
}

long json_finish(struct json *j)
{
	return j->overflow || j->depth != 0 ? -1 : (long)j->len;
}
