/* Bounds-checked byte cursor (reader) and bounded writer.
 *
 * Every byte that comes from outside the process is read through a
 * struct cur.  Each read checks the remaining length first and returns
 * false without moving when it would run past the end; nothing is ever
 * cast from packet memory to a struct.  Sub-cursors carve nested fields,
 * and cur_empty() lets a parser reject trailing garbage.
 *
 * struct wbuf writes into caller-owned memory; an overflow is sticky and
 * checked once at the end with wbuf_ok(). */
#ifndef CY_BUF_H
#define CY_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cur {
	const uint8_t *p;
	size_t left;
};

static inline struct cur cur_make(const void *p, size_t n)
{
	struct cur c = { .p = p, .left = n };
	return c;
}

static inline size_t cur_left(const struct cur *c) { return c->left; }
static inline bool cur_empty(const struct cur *c) { return c->left == 0; }

bool cur_get_u8(struct cur *c, uint8_t *v);
bool cur_get_u16(struct cur *c, uint16_t *v);   /* network byte order */
bool cur_get_u32(struct cur *c, uint32_t *v);
bool cur_get_u64(struct cur *c, uint64_t *v);
bool cur_get_bytes(struct cur *c, void *out, size_t n);
/* Zero-copy: *p points into the cursor's memory, valid as long as it is. */
bool cur_get_ptr(struct cur *c, const uint8_t **p, size_t n);
/* Carve the next n bytes as an independent cursor. */
bool cur_get_sub(struct cur *c, struct cur *sub, size_t n);
bool cur_skip(struct cur *c, size_t n);

struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool overflow;
};

static inline void wbuf_init(struct wbuf *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
}

static inline bool wbuf_ok(const struct wbuf *w) { return !w->overflow; }

/* Reserve n bytes and return where they start, or NULL (and mark the
 * buffer overflowed) when they do not fit. */
uint8_t *wbuf_reserve(struct wbuf *w, size_t n);
void wbuf_put_u8(struct wbuf *w, uint8_t v);
void wbuf_put_u16(struct wbuf *w, uint16_t v);
void wbuf_put_u32(struct wbuf *w, uint32_t v);
void wbuf_put_u64(struct wbuf *w, uint64_t v);
void wbuf_put_bytes(struct wbuf *w, const void *p, size_t n);

/* Store big-endian integers at a known position (for length back-patching). */
void put_be16(uint8_t *p, uint16_t v);
void put_be32(uint8_t *p, uint32_t v);
void put_be64(uint8_t *p, uint64_t v);
uint16_t get_be16(const uint8_t *p);
uint32_t get_be32(const uint8_t *p);
uint64_t get_be64(const uint8_t *p);

#endif
