/* A small JSON writer into a bounded buffer (status and list output).
 * Commas and string escaping are handled here; an overflow is sticky and
 * reported by json_finish(). */
#ifndef CY_JSON_H
#define CY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 16

struct json {
	char *p;
	size_t cap, len;
	bool overflow;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
};

void json_init(struct json *j, char *buf, size_t cap);
void json_obj_begin(struct json *j, const char *key);  /* key NULL inside arrays/top */
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j, const char *key);
void json_arr_end(struct json *j);
void json_str(struct json *j, const char *key, const char *v);   /* v NULL -> null */
void json_int(struct json *j, const char *key, int64_t v);
void json_uint(struct json *j, const char *key, uint64_t v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
/* Returns the NUL-terminated text length, or -1 on overflow. */
long json_finish(struct json *j);

#endif
