#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aead.h"

#define CONF_MAX_KEYS 128
#define CONF_TEXT_MAX 16384
#define CONF_FILE_MAX (1024 * 1024)   /* a config file, read whole */

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

/* A continuation line onto a CONF_TEXT value.  It may be a private
 * key, so no realloc: a new buffer, and the old one wiped before it is
 * freed (realloc would leave a freed copy behind whenever it moves). */
static int append_text(char **slot, const char *value)
{
	size_t old = strlen(*slot), add = strlen(value);
	char *p;

	if (old + 1 + add + 1 > CONF_TEXT_MAX)
		return -1;
	p = malloc(old + 1 + add + 1);
	if (!p)
		return -1;
	memcpy(p, *slot, old);
	p[old] = '\n';
	memcpy(p + old + 1, value, add + 1);
	cy_wipe(*slot, old);
	free(*slot);
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
	case CONF_TEXT:
	case CONF_SECRET: {
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
		if (k->type != CONF_TEXT && k->type != CONF_SECRET) {
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

/* The reader for ini_parse_stream: lines of text .. end (a string, or a
 * file read whole; a NUL byte inside a line ends it for inih, as with
 * fgets), counted so the handler knows which line it is looking at. */
struct line_src {
	struct conf_state *st;
	const char *text;
	const char *end;
};

static char *read_line(char *buf, int num, void *stream)
{
	struct line_src *src = stream;
	size_t n = 0, left = (size_t)(src->end - src->text);

	if (!left)
		return NULL;
	while (n < left && src->text[n] != '\n' && n + 2 < (size_t)num)
		n++;
	if (n < left && src->text[n] == '\n')
		n++;
	memcpy(buf, src->text, n);
	buf[n] = '\0';
	src->text += n;
	src->st->line++;
	/* What inih will make of this line: an indented one continues the
	 * key above; a [section] header ends that key (inih forgets it too). */
	src->st->indented = isspace((unsigned char)buf[0]) && buf[0] != '\n';
	if (buf[0] == '[')
		src->st->last_idx = SIZE_MAX;
	/* inih would split a longer line and parse its head as a whole
	 * line, truncating the value silently: refuse it instead. */
	if (!memchr(buf, '\n', n) && src->text < src->end && !src->st->failed) {
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

/* The whole of fd, NUL-terminated, in *out (*len bytes): 0, -EFBIG when
 * longer than max, or -errno.  hint: the expected size.  Buffers that
 * grow are copied and the old one wiped, never realloc'd: the text may
 * hold a private key. */
static int read_all(int fd, size_t hint, size_t max, char **out, size_t *len)
{
	size_t cap = (hint < max ? hint : max) + 2, n = 0;
	char *buf = malloc(cap), *p;
	ssize_t r;
	int rc;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n + 1 == cap) {
			size_t ncap = cap > max / 2 ? max + 2 : 2 * cap;

			if (n > max)
				break;
			p = malloc(ncap);
			if (!p) {
				rc = -ENOMEM;
				goto fail;
			}
			memcpy(p, buf, n);
			cy_wipe(buf, cap);
			free(buf);
			buf = p;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		rc = -EFBIG;
		goto fail;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
fail:
	cy_wipe(buf, cap);
	free(buf);
	return rc;
}

int conf_write_all(int fd, const void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, (const char *)buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

/* Open and read path whole; on failure err says "PATH: why". */
static char *read_file(const char *path, size_t max, struct stat *sb, size_t *len,
		       bool secret, char *err, size_t errlen)
{
	char *text = NULL;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, sb) < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (secret && conf_secret_mode_check(path, sb->st_mode, err, errlen) < 0) {
		close(fd);
		return NULL;
	}
	rc = read_all(fd, S_ISREG(sb->st_mode) ? (size_t)sb->st_size : 4096, max, &text, len);
	close(fd);
	if (rc == -EFBIG)
		snprintf(err, errlen, "%s: longer than %zu bytes", path, max);
	else if (rc < 0)
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
	return rc < 0 ? NULL : text;
}

int conf_load_file(const char *path, const struct conf_schema *s, void *obj, char *err,
		   size_t errlen)
{
	struct conf_state st;
	struct line_src src = { .st = &st };
	struct stat sb;
	size_t len = 0;
	char *text;
	int rc;

	state_init(&st, s, obj, err, errlen);
	/* Read whole, not through stdio: its buffer would be freed holding
	 * the file, private keys and all. */
	text = read_file(path, CONF_FILE_MAX, &sb, &len, false, err, errlen);
	if (!text) {
		conf_free(s, obj);
		return -1;
	}
	src.text = text;
	src.end = text + len;
	rc = finish(&st, path, ini_parse_stream(read_line, &src, on_line, &st));
	for (size_t i = 0; rc == 0 && i < s->nkeys; i++) {
		if (s->keys[i].type == CONF_SECRET && st.seen[i] &&
		    conf_secret_mode_check(path, sb.st_mode, err, errlen) < 0) {
			conf_free(s, obj);
			rc = -1;
		}
	}
	cy_wipe(text, len);
	free(text);
	return rc;
}

int conf_load_string(const char *name, const char *text, const struct conf_schema *s,
		     void *obj, char *err, size_t errlen)
{
	struct conf_state st;
	struct line_src src = { .st = &st, .text = text, .end = text + strlen(text) };

	state_init(&st, s, obj, err, errlen);
	return finish(&st, name, ini_parse_stream(read_line, &src, on_line, &st));
}

int conf_secret_mode_check(const char *path, mode_t mode, char *err, size_t errlen)
{
	if (!(mode & (S_IRGRP | S_IROTH)))
		return 0;
	snprintf(err, errlen, "%s: mode %04o lets %s read a secret; chmod 600", path,
		 (unsigned)(mode & 07777), mode & S_IROTH ? "others" : "its group");
	return -1;
}

int conf_secret_path_check(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return 0;
	return conf_secret_mode_check(path, sb.st_mode, err, errlen);
}

char *conf_secret_read(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	struct stat sb;

	return read_file(path, max, &sb, len, true, err, errlen);
}

void conf_secret_free(char *text, size_t len)
{
	if (!text)
		return;
	cy_wipe(text, len);
	free(text);
}

void conf_keys_print(const struct conf_schema *s, FILE *f)
{
	for (size_t i = 0; i < s->nkeys; i++)
		fprintf(f, "%s %s\n", s->keys[i].section, s->keys[i].name);
}

void conf_free(const struct conf_schema *s, void *obj)
{
	for (size_t i = 0; i < s->nkeys; i++) {
		if (s->keys[i].type == CONF_TEXT || s->keys[i].type == CONF_SECRET) {
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
