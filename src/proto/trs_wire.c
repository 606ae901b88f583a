#include "trs_wire.h"
#include "addr.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aead.h"
#include "buf.h"
#include "conf.h"
#include "derive.h"
#include "wire.h"

#define RELAY_LABEL "cyphonic relay v1"
#define LINK_LABEL "cyphonic nms-trs v1"
#define TRS_KEY_FILE_MAX 256

int trs_relay_key(const uint8_t tunnel_key[TRS_KEY_LEN], uint64_t tunnel_id,
		  uint8_t out[TRS_KEY_LEN])
{
	return derive_key(RELAY_LABEL, tunnel_key, tunnel_id, out);
}

int trs_link_key(const uint8_t secret[TRS_KEY_LEN], uint64_t key_id, uint8_t out[TRS_KEY_LEN])
{
	return derive_key(LINK_LABEL, secret, key_id, out);
}

/* Relay Hello and Relay Ack share one header; the type byte (in the
 * associated data) and the nonce direction keep them apart.  The sealed
 * body is the timestamp, and in an ack the hello's source after it. */
static ssize_t trs_box_build(uint8_t type, uint8_t dir, const uint8_t key[TRS_KEY_LEN],
			     uint64_t tunnel_id, uint8_t side, const uint8_t *body,
			     size_t blen, uint8_t *out, size_t cap)
{
	size_t total = TRS_HELLO_HDR_LEN + blen + AEAD_TAG_LEN;
	struct wbuf w;
	ssize_t n;

	if (cap < total || side > 1)
		return -EMSGSIZE;
	wbuf_init(&w, out, cap);
	wbuf_put_u8(&w, CY_VERSION);
	wbuf_put_u8(&w, type);
	wbuf_put_u8(&w, side);
	wbuf_put_u8(&w, 0);
	wbuf_put_u64(&w, tunnel_id);
	wbuf_put_u8(&w, dir);
	if (!wbuf_ok(&w) || cy_random(out + w.len, AEAD_NONCE_LEN - 1) < 0)
		return -EIO;
	n = aead_seal_once(AEAD_CHACHA20_POLY1305, key, out + 12, out, TRS_HELLO_HDR_LEN,
			   body, blen, out + TRS_HELLO_HDR_LEN);
	if (n != (ssize_t)(blen + AEAD_TAG_LEN))
		return n < 0 ? n : -EIO;
	return (ssize_t)total;
}

static int trs_box_peek(uint8_t type, uint8_t dir, size_t want, const uint8_t *pkt,
			size_t len, uint64_t *tunnel_id, uint8_t *side)
{
	struct cur c = cur_make(pkt, len);
	uint8_t ver, t, rsv, d;

	if (len != want || !cur_get_u8(&c, &ver) || !cur_get_u8(&c, &t) ||
	    !cur_get_u8(&c, side) || !cur_get_u8(&c, &rsv) || !cur_get_u64(&c, tunnel_id) ||
	    !cur_get_u8(&c, &d))
		return -EPROTO;
	if (ver != CY_VERSION || t != type || *side > 1 || rsv || d != dir)
		return -EPROTO;
	return 0;
}

/* The body (blen bytes) into body.  0, -EPROTO, -EBADMSG. */
static int trs_box_open(uint8_t type, uint8_t dir, const uint8_t key[TRS_KEY_LEN],
			const uint8_t *pkt, size_t len, uint8_t *side, uint8_t *body, size_t blen)
{
	uint64_t tid;
	ssize_t n;

	if (trs_box_peek(type, dir, TRS_HELLO_HDR_LEN + blen + AEAD_TAG_LEN, pkt, len, &tid,
			 side) < 0)
		return -EPROTO;
	n = aead_open_once(AEAD_CHACHA20_POLY1305, key, pkt + 12, pkt, TRS_HELLO_HDR_LEN,
			   pkt + TRS_HELLO_HDR_LEN, len - TRS_HELLO_HDR_LEN, body);
	return n == (ssize_t)blen ? 0 : -EBADMSG;
}

ssize_t trs_hello_build(const uint8_t relay_key[TRS_KEY_LEN], uint64_t tunnel_id, uint8_t side,
			uint64_t ts_ms, uint8_t *out, size_t cap)
{
	uint8_t body[TRS_BODY_LEN] = { 0 };   /* padded to the ack's size */

	put_be64(body, ts_ms);
	return trs_box_build(CY_RELAY_HELLO, TRS_HELLO_DIR, relay_key, tunnel_id, side, body,
			     sizeof(body), out, cap);
}

int trs_hello_peek(const uint8_t *pkt, size_t len, uint64_t *tunnel_id, uint8_t *side)
{
	return trs_box_peek(CY_RELAY_HELLO, TRS_HELLO_DIR, TRS_HELLO_LEN, pkt, len, tunnel_id,
			    side);
}

int trs_hello_open(const uint8_t relay_key[TRS_KEY_LEN], const uint8_t *pkt, size_t len,
		   uint8_t *side, uint64_t *ts_ms)
{
	uint8_t body[TRS_BODY_LEN + AEAD_TAG_LEN];
	int err = trs_box_open(CY_RELAY_HELLO, TRS_HELLO_DIR, relay_key, pkt, len, side, body,
			       TRS_BODY_LEN);

	if (err == 0)
		*ts_ms = get_be64(body);
	return err;
}

ssize_t trs_ack_build(const uint8_t relay_key[TRS_KEY_LEN], uint64_t tunnel_id, uint8_t side,
		      uint64_t ts_ms, const struct sockaddr *seen, uint8_t *out, size_t cap)
{
	uint8_t body[TRS_BODY_LEN] = { 0 };

	put_be64(body, ts_ms);
	if (seen->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)seen;

		memcpy(body + 8, &s4->sin_port, 2);
		body[10 + 10] = body[10 + 11] = 0xff;   /* ::ffff:a.b.c.d */
		memcpy(body + 10 + 12, &s4->sin_addr, 4);
	} else if (seen->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)seen;

		memcpy(body + 8, &s6->sin6_port, 2);
		memcpy(body + 10, &s6->sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}
	return trs_box_build(CY_RELAY_ACK, TRS_ACK_DIR, relay_key, tunnel_id, side, body,
			     sizeof(body), out, cap);
}

int trs_ack_peek(const uint8_t *pkt, size_t len, uint64_t *tunnel_id, uint8_t *side)
{
	return trs_box_peek(CY_RELAY_ACK, TRS_ACK_DIR, TRS_ACK_LEN, pkt, len, tunnel_id, side);
}

int trs_ack_open(const uint8_t relay_key[TRS_KEY_LEN], const uint8_t *pkt, size_t len,
		 uint8_t *side, uint64_t *ts_ms, struct sockaddr_storage *seen)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t body[TRS_BODY_LEN + AEAD_TAG_LEN];
	int err = trs_box_open(CY_RELAY_ACK, TRS_ACK_DIR, relay_key, pkt, len, side, body,
			       TRS_BODY_LEN);

	if (err < 0)
		return err;
	*ts_ms = get_be64(body);
	memset(seen, 0, sizeof(*seen));
	if (!memcmp(body + 10, mapped, sizeof(mapped))) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)seen;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_port, body + 8, 2);
		memcpy(&s4->sin_addr, body + 22, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)seen;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_port, body + 8, 2);
		memcpy(&s6->sin6_addr, body + 10, 16);
	}
	cy_wipe(body, sizeof(body));
	return 0;
}

int trs_key_parse(const char *text, size_t len, uint8_t key[TRS_KEY_LEN])
{
	size_t i = 0, n = 0;
	int hi, lo;

	while (i < len && isspace((unsigned char)text[i]))
		i++;
	for (; n < TRS_KEY_LEN; n++, i += 2) {
		if (i + 1 >= len || (hi = cy_hex_digit((unsigned char)text[i])) < 0 ||
		    (lo = cy_hex_digit((unsigned char)text[i + 1])) < 0)
			goto bad;
		key[n] = (uint8_t)(hi << 4 | lo);
	}
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	if (i == len)
		return 0;
bad:
	cy_wipe(key, TRS_KEY_LEN);
	return -EINVAL;
}

/* Not through stdio: its buffer would be freed holding the key.  A key
 * file group or others may read is refused (conf_secret_mode_check). */
int trs_key_read(const char *path, uint8_t key[TRS_KEY_LEN], char *err, size_t errlen)
{
	char buf[TRS_KEY_FILE_MAX];
	size_t n = 0;
	struct stat sb;
	ssize_t r = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (conf_secret_mode_check(path, sb.st_mode, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	while (n < sizeof(buf)) {
		r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	rc = r < 0 ? -errno : 0;
	close(fd);
	if (rc < 0) {
		cy_wipe(buf, sizeof(buf));
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return -1;
	}
	rc = n < sizeof(buf) ? trs_key_parse(buf, n, key) : -EINVAL;
	cy_wipe(buf, sizeof(buf));
	if (rc < 0) {
		snprintf(err, errlen, "%s: not a key (64 hex digits)", path);
		return -1;
	}
	return 0;
}
