#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONF_MAX_KEYS 128
#define CONF_TEXT_MAX 16384

struct conf_state {
	const struct conf_schema *s;
	void *obj;
	char *err;
	size_t errlen;
	size_t last_idx;                /* key of the last name = value line */
	bool indented;                  /* the current line starts with blanks */
	int line;                       /* lines read so far */
	int err_line;                   /* where our handler refused */
	bool seen[CONF_MAX_KEYS];
	bool failed;
};

bool conf_parse_bool(const char *v, bool *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

bool conf_parse_long(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return false;
	*out = n;
	return true;
}

static const struct conf_key *find_key(const struct conf_schema *s, const char *section,
				       const char *name, size_t *idx)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (!strcmp(s->keys[i].section, section) && !strcmp(s->keys[i].name, name)) {
			*idx = i;
			return &s->keys[i];
		}
	return NULL;
}

static const struct conf_section *find_section(const struct conf_schema *s,
					       const char *section)
{
	for (size_t i = 0; i < s->nsections; i++)
		if (!strcmp(s->sections[i].name, section))
			return &s->sections[i];
	return NULL;
}

static int append_text(char **slot, const char *value)
{
	size_t old = strlen(*slot), add = strlen(value);
	char *p;

	if (old + 1 + add + 1 > CONF_TEXT_MAX)
		return -1;
	p = realloc(*slot, old + 1 + add + 1);
	if (!p)
		return -1;
	p[old] = '\n';
	memcpy(p + old + 1, value, add + 1);
	*slot = p;
	return 0;
}

static int set_value(struct conf_state *st, const struct conf_key *k, const char *value)
{
	char *field = (char *)st->obj + k->off;
	long n;
	bool b;

	switch (k->type) {
	case CONF_STR:
		if (strlen(value) >= k->size) {
			snprintf(st->err, st->errlen, "value of '%s' is too long (at most %zu)",
				 k->name, k->size - 1);
			return -1;
		}
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case CONF_TEXT: {
		char *dup;
		if (strlen(value) >= CONF_TEXT_MAX || !(dup = strdup(value))) {
			snprintf(st->err, st->errlen, "value of '%s' is too long", k->name);
			return -1;
		}
		*(char **)(void *)field = dup;
		return 0;
	}
	case CONF_INT:
		if (!conf_parse_long(value, k->min, k->max, &n)) {
			snprintf(st->err, st->errlen,
				 "'%s' must be an integer from %ld to %ld, not '%s'", k->name,
				 k->min, k->max, value);
			return -1;
		}
		*(int *)(void *)field = (int)n;
		return 0;
	case CONF_BOOL:
		if (!conf_parse_bool(value, &b)) {
			snprintf(st->err, st->errlen, "'%s' must be yes or no, not '%s'",
				 k->name, value);
			return -1;
		}
		*(bool *)(void *)field = b;
		return 0;
	case CONF_FN: {
		char why[200] = "invalid value";
		if (k->fn(st->obj, value, why, sizeof(why)) < 0) {
			snprintf(st->err, st->errlen, "'%s': %s", k->name, why);
			return -1;
		}
		return 0;
	}
	}
	return -1;
}

/* inih calls this once per name = value line, and again with the same
 * name for each indented continuation line.  Returning 0 makes ini_parse
 * report this line's number. */
static int on_line(void *user, const char *section, const char *name, const char *value)
{
	struct conf_state *st = user;
	const struct conf_section *sec;
	const struct conf_key *k;
	size_t idx;

	if (st->failed)
		return 0;
	sec = find_section(st->s, section);
	if (!sec) {
		snprintf(st->err, st->errlen,
			 *section ? "unknown section [%s]" : "key '%s' outside any section",
			 *section ? section : name);
		goto fail;
	}
	k = find_key(st->s, section, name, &idx);
	if (!k) {
		snprintf(st->err, st->errlen, "unknown key '%s' in [%s]", name, section);
		goto fail;
	}
	if (sec->present_off != (size_t)-1)
		*(bool *)(void *)((char *)st->obj + sec->present_off) = true;
	/* inih hands an indented line to the key of the name = value line
	 * above it, under that key's name; a second "key = value" line of
	 * the same key looks the same to us, so tell them apart by the raw
	 * line (read_line saw it) and catch the second as a duplicate. */
	if (st->indented && st->last_idx == idx) {
		if (k->type != CONF_TEXT) {
			snprintf(st->err, st->errlen, "'%s' takes no continuation lines", name);
			goto fail;
		}
		if (append_text((char **)(void *)((char *)st->obj + k->off), value) < 0) {
			snprintf(st->err, st->errlen, "value of '%s' is too long", name);
			goto fail;
		}
		return 1;
	}
	if (st->seen[idx]) {
		snprintf(st->err, st->errlen, "duplicate key '%s' in [%s]", name, section);
		goto fail;
	}
	if (set_value(st, k, value) < 0)
		goto fail;
	st->seen[idx] = true;
	st->last_idx = idx;
	return 1;
fail:
	st->failed = true;
	st->err_line = st->line;
	return 0;
}

/* Readers for ini_parse_stream that count lines, so the handler knows
 * which line it is looking at. */
struct line_src {
	struct conf_state *st;
	FILE *f;
	const char *text;
};

static char *read_line(char *buf, int num, void *stream)
{
	struct line_src *src = stream;
	size_t n = 0;

	if (src->f) {
		if (!fgets(buf, num, src->f))
			return NULL;
	} else {
		if (!*src->text)
			return NULL;
		while (src->text[n] && src->text[n] != '\n' && n + 2 < (size_t)num)
			n++;
		if (src->text[n] == '\n')
			n++;
		memcpy(buf, src->text, n);
		buf[n] = '\0';
		src->text += n;
	}
	src->st->line++;
	/* What inih will make of this line: an indented one continues the
	 * key above; a [section] header ends that key (inih forgets it too). */
	src->st->indented = isspace((unsigned char)buf[0]) && buf[0] != '\n';
	if (buf[0] == '[')
		src->st->last_idx = SIZE_MAX;
	/* inih would split a longer line and parse its head as a whole
	 * line, truncating the value silently: refuse it instead. */
	if (!strchr(buf, '\n') && !(src->f ? feof(src->f) : !*src->text) &&
	    !src->st->failed) {
		snprintf(src->st->err, src->st->errlen, "line longer than %d characters",
			 num - 2);
		src->st->failed = true;
		src->st->err_line = src->st->line;
		return NULL;
	}
	return buf;
}

static int finish(struct conf_state *st, const char *name, int rc)
{
	if (rc == -1) {
		snprintf(st->err, st->errlen, "%s: cannot open: %s", name, strerror(errno));
		goto fail;
	}
	if (rc == -2) {
		snprintf(st->err, st->errlen, "%s: out of memory", name);
		goto fail;
	}
	if (rc > 0 || st->failed) {
		char why[512];

		if (st->failed && (rc <= 0 || st->err_line <= rc)) {
			snprintf(why, sizeof(why), "%s", st->err);
			rc = st->err_line;
		} else {
			snprintf(why, sizeof(why),
				 "syntax error (expected [section] or name = value)");
		}
		snprintf(st->err, st->errlen, "%s:%d: %s", name, rc, why);
		goto fail;
	}
	for (size_t i = 0; i < st->s->nkeys; i++) {
		if (st->s->keys[i].required && !st->seen[i]) {
			snprintf(st->err, st->errlen, "%s: missing key '%s' in [%s]", name,
				 st->s->keys[i].name, st->s->keys[i].section);
			goto fail;
		}
	}
	return 0;
fail:
	conf_free(st->s, st->obj);
	return -1;
}

static void state_init(struct conf_state *st, const struct conf_schema *s, void *obj,
		       char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	st->s = s;
	st->obj = obj;
	st->err = err;
	st->errlen = errlen;
	st->last_idx = SIZE_MAX;
	if (s->nkeys > CONF_MAX_KEYS)
		abort(); /* a schema bug, not input */
}

int conf_load_file(const char *path, const struct conf_schema *s, void *obj, char *err,
		   size_t errlen)
{
	struct conf_state st;
	struct line_src src = { .st = &st };
	int rc;

	state_init(&st, s, obj, err, errlen);
	src.f = fopen(path, "r");
	if (!src.f)
		return finish(&st, path, -1);
	rc = ini_parse_stream(read_line, &src, on_line, &st);
	fclose(src.f);
	return finish(&st, path, rc);
}

int conf_load_string(const char *name, const char *text, const struct conf_schema *s,
		     void *obj, char *err, size_t errlen)
{
	struct conf_state st;
	struct line_src src = { .st = &st, .text = text };

	state_init(&st, s, obj, err, errlen);
	return finish(&st, name, ini_parse_stream(read_line, &src, on_line, &st));
}

void conf_free(const struct conf_schema *s, void *obj)
{
	for (size_t i = 0; i < s->nkeys; i++) {
		if (s->keys[i].type == CONF_TEXT) {
			char **slot = (char **)(void *)((char *)obj + s->keys[i].off);
			if (*slot) {
				size_t n = strlen(*slot);
				volatile char *v = *slot;
				while (n--)
					v[n] = 0; /* may hold a private key */
				free(*slot);
				*slot = NULL;
			}
		}
	}
}
