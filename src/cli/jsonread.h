/* A small reader for the daemons' JSON replies (status, stats), enough
 * to print them as "key: value" lines: it walks the text and reports
 * every scalar with its path ("tunnels[0].peer") and every array with
 * its element count.  Bounded depth and sizes; malformed text is an
 * error, never a crash. */
#ifndef CY_JSONREAD_H
#define CY_JSONREAD_H

enum jsonread_type { JR_STRING, JR_NUMBER, JR_BOOL, JR_NULL, JR_ARRAY };

/* value: the decoded string, the number/true/false/null as written, or
 * for JR_ARRAY the element count in decimal.  Return non-zero to stop. */
typedef int (*jsonread_fn)(void *arg, const char *path, enum jsonread_type type,
			   const char *value);

/* 0, -EINVAL for malformed text, or the callback's non-zero value. */
int jsonread_walk(const char *text, jsonread_fn fn, void *arg);

#endif
