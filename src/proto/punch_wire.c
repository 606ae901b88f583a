#include "punch_wire.h"

#include <errno.h>
#include <string.h>

#include "aead.h"
#include "buf.h"
#include "derive.h"
#include "wire.h"

#define PUNCH_LABEL "cyphonic punch v1"
#define PUNCH_BODY 16

int punch_key(const uint8_t tunnel_key[PUNCH_KEY_LEN], uint64_t tunnel_id,
	      uint8_t out[PUNCH_KEY_LEN])
{
	return derive_key(PUNCH_LABEL, tunnel_key, tunnel_id, out);
}

ssize_t punch_build(const uint8_t key[PUNCH_KEY_LEN], const struct punch_msg *m, uint8_t *out,
		    size_t cap)
{
	uint8_t body[PUNCH_BODY];
	struct wbuf w;
	ssize_t n;

	if (cap < PUNCH_LEN || m->role > 1 || (m->kind != PUNCH_PROBE && m->kind != PUNCH_ACK))
		return -EINVAL;
	wbuf_init(&w, out, cap);
	wbuf_put_u8(&w, CY_VERSION);
	wbuf_put_u8(&w, CY_PUNCH);
	wbuf_put_u8(&w, m->role);
	wbuf_put_u8(&w, m->kind);
	wbuf_put_u64(&w, m->tunnel_id);
	wbuf_put_u8(&w, PUNCH_DIR);
	if (!wbuf_ok(&w) || cy_random(out + w.len, AEAD_NONCE_LEN - 1) < 0)
		return -EIO;
	put_be64(body, m->stamp);
	put_be64(body + 8, m->echo);
	n = aead_seal_once(AEAD_CHACHA20_POLY1305, key, out + 12, out, PUNCH_HDR_LEN, body,
			   sizeof(body), out + PUNCH_HDR_LEN);
	if (n != (ssize_t)(sizeof(body) + AEAD_TAG_LEN))
		return n < 0 ? n : -EIO;
	return PUNCH_LEN;
}

int punch_peek(const uint8_t *pkt, size_t len, struct punch_msg *m)
{
	struct cur c = cur_make(pkt, len);
	uint8_t ver, type, dir;

	memset(m, 0, sizeof(*m));
	if (len != PUNCH_LEN || !cur_get_u8(&c, &ver) || !cur_get_u8(&c, &type) ||
	    !cur_get_u8(&c, &m->role) || !cur_get_u8(&c, &m->kind) ||
	    !cur_get_u64(&c, &m->tunnel_id) || !cur_get_u8(&c, &dir))
		return -EPROTO;
	if (ver != CY_VERSION || type != CY_PUNCH || m->role > 1 ||
	    (m->kind != PUNCH_PROBE && m->kind != PUNCH_ACK) || dir != PUNCH_DIR)
		return -EPROTO;
	return 0;
}

int punch_open(const uint8_t key[PUNCH_KEY_LEN], const uint8_t *pkt, size_t len,
	       struct punch_msg *m)
{
	uint8_t body[PUNCH_BODY + AEAD_TAG_LEN];
	struct cur c;
	ssize_t n;

	if (punch_peek(pkt, len, m) < 0)
		return -EPROTO;
	n = aead_open_once(AEAD_CHACHA20_POLY1305, key, pkt + 12, pkt, PUNCH_HDR_LEN,
			   pkt + PUNCH_HDR_LEN, len - PUNCH_HDR_LEN, body);
	if (n != PUNCH_BODY)
		return -EBADMSG;
	c = cur_make(body, PUNCH_BODY);
	if (!cur_get_u64(&c, &m->stamp) || !cur_get_u64(&c, &m->echo))
		return -EBADMSG;
	return 0;
}
