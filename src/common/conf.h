/* Table-driven INI configuration over libinih.
 *
 * Each part describes its keys once, in a table: section, name, type and
 * where the value goes.  Unknown sections and keys, duplicates, values
 * out of range and missing required keys are refused with
 * "FILE:LINE: what is wrong" (no line for a missing key).  Multi-line
 * values (continuation lines indented) are joined with '\n'; that is how
 * PEM certificates and keys sit inside a node's config. */
#ifndef CY_CONF_H
#define CY_CONF_H

#include <stdbool.h>
#include <stddef.h>

enum conf_type {
	CONF_STR,    /* char[size], must fit */
	CONF_TEXT,   /* char *, heap, multi-line allowed; caller frees */
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

/* 0 on success; -1 with err filled in.  On failure, CONF_TEXT values
 * already stored are freed again (conf_free) so nothing leaks. */
int conf_load_file(const char *path, const struct conf_schema *s, void *obj, char *err,
		   size_t errlen);
int conf_load_string(const char *name, const char *text, const struct conf_schema *s,
		     void *obj, char *err, size_t errlen);
/* Free the CONF_TEXT values of obj. */
void conf_free(const struct conf_schema *s, void *obj);

/* Helpers for CONF_FN parsers and others. */
bool conf_parse_bool(const char *v, bool *out);
bool conf_parse_long(const char *v, long min, long max, long *out);

#define CONF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
