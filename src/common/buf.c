#include "buf.h"

#include <string.h>

void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v);
}

void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, v);
}

uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
uint32_t get_be32(const uint8_t *p) { return (uint32_t)get_be16(p) << 16 | get_be16(p + 2); }
uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + 4); }

bool cur_get_ptr(struct cur *c, const uint8_t **p, size_t n)
{
	if (c->left < n)
		return false;
	*p = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

bool cur_skip(struct cur *c, size_t n)
{
	const uint8_t *p;
	return cur_get_ptr(c, &p, n);
}

bool cur_get_bytes(struct cur *c, void *out, size_t n)
{
	const uint8_t *p;
	if (!cur_get_ptr(c, &p, n))
		return false;
	if (n)
		memcpy(out, p, n);
	return true;
}

bool cur_get_sub(struct cur *c, struct cur *sub, size_t n)
{
	const uint8_t *p;
	if (!cur_get_ptr(c, &p, n))
		return false;
	*sub = cur_make(p, n);
	return true;
}

bool cur_get_u8(struct cur *c, uint8_t *v)
{
	const uint8_t *p;
	if (!cur_get_ptr(c, &p, 1))
		return false;
	*v = p[0];
	return true;
}

bool cur_get_u16(struct cur *c, uint16_t *v)
{
	const uint8_t *p;
	if (!cur_get_ptr(c, &p, 2))
		return false;
	*v = get_be16(p);
	return true;
}

bool cur_get_u32(struct cur *c, uint32_t *v)
{
	const uint8_t *p;
	if (!cur_get_ptr(c, &p, 4))
		return false;
	*v = get_be32(p);
	return true;
}

bool cur_get_u64(struct cur *c, uint64_t *v)
{
	const uint8_t *p;
	if (!cur_get_ptr(c, &p, 8))
		return false;
	*v = get_be64(p);
	return true;
}

uint8_t *wbuf_reserve(struct wbuf *w, size_t n)
{
	uint8_t *p;

	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return NULL;
	}
	p = w->p + w->len;
	w->len += n;
	return p;
}

void wbuf_put_bytes(struct wbuf *w, const void *src, size_t n)
{
	uint8_t *p = wbuf_reserve(w, n);
	if (p && n)
		memcpy(p, src, n);
}

void wbuf_put_u8(struct wbuf *w, uint8_t v)
{
	uint8_t *p = wbuf_reserve(w, 1);
	if (p)
		p[0] = v;
}

void wbuf_put_u16(struct wbuf *w, uint16_t v)
{
	uint8_t *p = wbuf_reserve(w, 2);
	if (p)
		put_be16(p, v);
}

void wbuf_put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t *p = wbuf_reserve(w, 4);
	if (p)
		put_be32(p, v);
}

void wbuf_put_u64(struct wbuf *w, uint64_t v)
{
	uint8_t *p = wbuf_reserve(w, 8);
	if (p)
		put_be64(p, v);
}
