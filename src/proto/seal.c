#include "seal.h"

#include <errno.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "wire.h"

static void make_nonce(uint8_t nonce[AEAD_NONCE_LEN], uint8_t dir, uint64_t counter)
{
	put_be32(nonce, dir);
	put_be64(nonce + 4, counter);
}

ssize_t cy_seal(struct aead *a, enum cy_dir dir, uint64_t key_id, uint64_t counter,
		const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	struct wbuf w;
	ssize_t n;

	if (cap < CY_SEAL_OVERHEAD || cap - CY_SEAL_OVERHEAD < len)
		return -EMSGSIZE;
	wbuf_init(&w, out, cap);
	wbuf_put_u8(&w, CY_VERSION);
	wbuf_put_u8(&w, CY_SEALED);
	wbuf_put_u8(&w, (uint8_t)dir);
	wbuf_put_u8(&w, 0);
	wbuf_put_u64(&w, key_id);
	wbuf_put_u64(&w, counter);
	make_nonce(nonce, (uint8_t)dir, counter);
	n = aead_seal(a, nonce, out, CY_SEAL_HDR_LEN, msg, len, out + CY_SEAL_HDR_LEN);
	if (n < 0)
		return n;
	return CY_SEAL_HDR_LEN + n;
}

int cy_seal_peek(const uint8_t *buf, size_t len, struct cy_seal_hdr *h)
{
	struct cur c = cur_make(buf, len);
	uint8_t ver, type, rsv;

	if (!cur_get_u8(&c, &ver) || !cur_get_u8(&c, &type) || !cur_get_u8(&c, &h->dir) ||
	    !cur_get_u8(&c, &rsv) || !cur_get_u64(&c, &h->key_id) ||
	    !cur_get_u64(&c, &h->counter))
		return -EBADMSG;
	if (ver != CY_VERSION || type != CY_SEALED || h->dir > CY_DIR_FROM_CLOUD || rsv != 0)
		return -EBADMSG;
	if (cur_left(&c) < AEAD_TAG_LEN + CY_HDR_LEN)
		return -EBADMSG;
	return 0;
}

ssize_t cy_unseal(struct aead *a, const uint8_t *buf, size_t len, uint8_t *out, size_t cap)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	struct cy_seal_hdr h;

	if (cy_seal_peek(buf, len, &h) < 0)
		return -EBADMSG;
	if (len - CY_SEAL_OVERHEAD > cap)
		return -EBADMSG;
	make_nonce(nonce, h.dir, h.counter);
	return aead_open(a, nonce, buf, CY_SEAL_HDR_LEN, buf + CY_SEAL_HDR_LEN,
			 len - CY_SEAL_HDR_LEN, out);
}

uint64_t cy_seal_counter(uint64_t *last)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	*last = now > *last ? now : *last + 1;
	return *last;
}

/* The counter the clock asks for now, a new block reserved when it is
 * past the one in use.  0 or -errno. */
static int ctr_want(struct cy_ctr *c, uint64_t *want)
{
	uint64_t block = c->block ? c->block : CY_CTR_BLOCK, start;
	int rc;

	*want = (uint64_t)clock_now() * 1000000000ULL;
	if (*want < c->next)
		*want = c->next;
	if (*want >= c->end) {
		rc = c->reserve(c->arg, *want, block, &start);
		if (rc < 0)
			return rc;
		c->next = start;
		c->end = start + block;
		*want = start;
	}
	return 0;
}

int cy_ctr_next(struct cy_ctr *c, uint64_t *out)
{
	uint64_t want;
	int rc = ctr_want(c, &want);

	if (rc < 0)
		return rc;
	*out = want;
	c->next = want + 1;
	return 0;
}

int cy_ctr_prime(struct cy_ctr *c)
{
	uint64_t want;

	return ctr_want(c, &want);
}

int cy_ctr_reserve_in_memory(void *mark, uint64_t at_least, uint64_t block, uint64_t *start)
{
	uint64_t *m = mark;

	*start = *m > at_least ? *m : at_least;
	*m = *start + block;
	return 0;
}
