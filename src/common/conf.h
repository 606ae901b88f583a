/* Table-driven INI configuration over libinih.
 *
 * Each part describes its keys once, in a table: section, name, type and
 * where the value goes.  Unknown sections and keys, duplicates, values
 * out of range and missing required keys are refused with
 * "FILE:LINE: what is wrong" (no line for a missing key).  Multi-line
 * values (continuation lines indented) are joined with '\n'; that is how
 * PEM certificates and keys sit inside a node's config.
 *
 * Secrets: a CONF_SECRET value (a private key, a password) may only come
 * from a file its owner alone can read: conf_load_file refuses the file
 * when group or others may read it and it sets such a key.  Files that
 * are themselves secrets (key files) go through conf_secret_read or, when
 * someone else opens them, conf_secret_path_check.  Every copy of a
 * file's text or of a value the loader makes is wiped before it is freed. */
#ifndef CY_CONF_H
#define CY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

enum conf_type {
	CONF_STR,    /* char[size], must fit */
	CONF_TEXT,   /* char *, heap, multi-line allowed; caller frees */
	CONF_SECRET, /* CONF_TEXT holding a secret (private key, password): a
		      * file that sets it must be readable by its owner only */
	CONF_INT,    /* int, within [min, max] */
	CONF_BOOL,   /* bool: yes/no, true/false, on/off, 1/0 */
	CONF_FN,     /* custom: fn(obj, value, err, errlen) returns 0 or -1 */
};

struct conf_key {
	const char *section;
	const char *name;
	enum conf_type type;
	size_t off;      /* offsetof(obj, field) */
	size_t size;     /* CONF_STR: sizeof the char array */
	long min, max;   /* CONF_INT */
	bool required;
	int (*fn)(void *obj, const char *value, char *err, size_t errlen);
};

/* Sections that may appear; *present is set in obj at present_off when a
 * key of that section is seen (sections are only seen through keys). */
struct conf_section {
	const char *name;
	size_t present_off;  /* offsetof(obj, bool field), or (size_t)-1 */
};

struct conf_schema {
	const struct conf_section *sections;
	size_t nsections;
	const struct conf_key *keys;
	size_t nkeys;
};

/* 0 on success; -1 with err filled in.  On failure, CONF_TEXT (and
 * CONF_SECRET) values
 * already stored are freed again (conf_free) so nothing leaks. */
int conf_load_file(const char *path, const struct conf_schema *s, void *obj, char *err,
		   size_t errlen);
int conf_load_string(const char *name, const char *text, const struct conf_schema *s,
		     void *obj, char *err, size_t errlen);
/* Every key of s as "section key" lines on f, in the table's order (what
 * `cyphonicd -K` and `cyphonic-cloud -K` print; the man page test reads
 * it). */
void conf_keys_print(const struct conf_schema *s, FILE *f);
/* Wipe and free the CONF_TEXT and CONF_SECRET values of obj. */
void conf_free(const struct conf_schema *s, void *obj);

/* A file holding a secret may be readable by its owner only.  mode is its
 * st_mode.  0, or -1 with err "PATH: mode 0644 lets others read a secret;
 * chmod 600" (or "lets its group read"). */
int conf_secret_mode_check(const char *path, mode_t mode, char *err, size_t errlen);
/* The same for a key file named in a config and opened by someone else
 * later (stat(2), following links).  A path that cannot be stat'ed passes:
 * whoever opens it reports why it cannot. */
int conf_secret_path_check(const char *path, char *err, size_t errlen);
/* Read a whole file holding a secret (a PEM private key, a key file):
 * refused when group or others may read it (checked on the open file) or
 * when it is longer than max bytes.  No stdio, so no buffer copy is left
 * behind.  Returns the text, NUL-terminated, with its length in *len;
 * release it with conf_secret_free (wipes).  NULL with err "PATH: ...". */
char *conf_secret_read(const char *path, size_t max, size_t *len, char *err, size_t errlen);
void conf_secret_free(char *text, size_t len);
/* The writers' side: all len bytes of buf to fd, again after EINTR and
 * short writes.  0 or -errno. */
int conf_write_all(int fd, const void *buf, size_t len);

/* Helpers for CONF_FN parsers and others. */
bool conf_parse_bool(const char *v, bool *out);
bool conf_parse_long(const char *v, long min, long max, long *out);

#define CONF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
