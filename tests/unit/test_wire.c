/* The message codec: round trips through cy_builder -> cy_msg_parse ->
 * getters, and every malformed shape the parser must refuse. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "wire.h"

static uint8_t buf[CY_MSG_MAX + 16];
static struct cy_msg msg, sub;

/* A raw message: header with the given version, type and length field,
 * then body bytes.  Returns the total length. */
static size_t raw(uint8_t *out, uint8_t ver, uint8_t type, uint16_t lenfield,
		  const void *body, size_t blen)
{
	out[0] = ver;
	out[1] = type;
	put_be16(out + 2, lenfield);
	if (blen)
		memcpy(out + 4, body, blen);
	return 4 + blen;
}

/* Append one attribute (type, length, value) in raw form. */
static size_t attr(uint8_t *out, uint16_t type, uint16_t len, const void *val)
{
	put_be16(out, type);
	put_be16(out + 2, len);
	if (len)
		memcpy(out + 4, val, len);
	return 4 + (size_t)len;
}

/* A well-formed message whose body is the given attribute bytes. */
static size_t wrap(uint8_t *out, const uint8_t *body, size_t blen)
{
	return raw(out, CY_VERSION, CY_REG_REQ, (uint16_t)blen, body, blen);
}

static void sin4(struct sockaddr_in *s, const char *ip, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
}

static void sin6(struct sockaddr_in6 *s, const char *ip, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
}

static void test_roundtrip_all(void **state)
{
	struct cy_builder b;
	struct sockaddr_in a4, n4;
	struct sockaddr_in6 a6, o6, n6;
	struct sockaddr_storage ss;
	socklen_t sl;
	uint8_t key[CY_KEY_LEN], vip4[4] = { 100, 64, 0, 7 }, vip6[16], mac[6] = { 2, 0, 0, 0, 0, 9 };
	uint8_t k2[CY_KEY_LEN], v4[4], v6[16], m2[6], u8;
	uint32_t u32;
	uint64_t u64;
	char s[CY_FQDN_MAX + 1];
	const struct cy_attr *a;
	size_t pos, tok, tok2;
	ssize_t n;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	memset(vip6, 0, sizeof(vip6));
	vip6[0] = 0xfd;
	vip6[15] = 1;
	sin4(&a4, "192.0.2.10", 7446);
	sin6(&a6, "2001:db8::10", 7446);
	sin6(&o6, "2001:db8::99", 40000);
	sin4(&n4, "203.0.113.1", 7444);
	sin6(&n6, "2001:db8:1::1", 7444);

	cy_build_start(&b, buf, sizeof(buf), CY_REG_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_ERR_REVOKED);
	cy_put_str(&b, CY_A_REASON, "certificate revoked by admin");
	cy_put_str(&b, CY_A_NAME, "alpha");
	cy_put_str(&b, CY_A_FQDN, "alpha.example.test");
	cy_put_str(&b, CY_A_PASSWORD, "s3cret pass!");
	cy_put_u64(&b, CY_A_KEY_ID, 0x0123456789abcdefULL);
	cy_put_bytes(&b, CY_A_KEY, key, sizeof(key));
	cy_put_u32(&b, CY_A_LIFETIME, 3600);
	cy_put_bytes(&b, CY_A_VIP4, vip4, 4);
	cy_put_bytes(&b, CY_A_VIP6, vip6, 16);
	cy_put_endpoint(&b, CY_A_ADDR, (struct sockaddr *)&a4);
	cy_put_endpoint(&b, CY_A_ADDR, (struct sockaddr *)&a6);
	cy_put_endpoint(&b, CY_A_OBSERVED, (struct sockaddr *)&o6);
	cy_put_u8(&b, CY_A_NAT, 1);
	cy_put_u32(&b, CY_A_TTL, 60);
	cy_put_u64(&b, CY_A_TIME, UINT64_MAX);
	cy_put_bytes(&b, CY_A_MAC, mac, 6);
	cy_put_u8(&b, CY_A_FAMILIES, CY_FAM_IPV4 | CY_FAM_IPV6);
	cy_put_endpoint(&b, CY_A_NMS, (struct sockaddr *)&n4);
	cy_put_endpoint(&b, CY_A_NMS, (struct sockaddr *)&n6);
	cy_put_u8(&b, CY_A_KIND, CY_KIND_GN);
	tok = cy_put_nested_begin(&b, CY_A_GN);
	cy_put_str(&b, CY_A_NAME, "gn1");
	cy_put_bytes(&b, CY_A_VIP4, vip4, 4);
	tok2 = cy_put_nested_begin(&b, CY_A_GN); /* nested inside nested */
	cy_put_u8(&b, CY_A_KIND, CY_KIND_NODE);
	cy_put_nested_end(&b, tok2);
	cy_put_nested_end(&b, tok);
	tok = cy_put_nested_begin(&b, CY_A_GN); /* empty nested */
	cy_put_nested_end(&b, tok);
	cy_put_u8(&b, CY_A_PREFIX4, 10);
	cy_put_u8(&b, CY_A_PREFIX6, 48);
	cy_put_u32(&b, 999, 0xdeadbeef); /* unknown: kept, skipped by handlers */
	n = cy_build_finish(&b);
	assert_true(n > 0);

	assert_int_equal(cy_frame_len(buf), n);
	assert_int_equal(cy_msg_parse(&msg, buf, (size_t)n), 0);
	assert_int_equal(msg.version, CY_VERSION);
	assert_int_equal(msg.type, CY_REG_RES);
	assert_int_equal(msg.nattrs, 26);

	assert_true(cy_msg_u8(&msg, CY_A_RESULT, &u8));
	assert_int_equal(u8, CY_ERR_REVOKED);
	assert_true(cy_msg_str(&msg, CY_A_REASON, s, CY_REASON_MAX));
	assert_string_equal(s, "certificate revoked by admin");
	assert_true(cy_msg_str(&msg, CY_A_NAME, s, CY_NAME_MAX));
	assert_string_equal(s, "alpha");
	assert_true(cy_msg_str(&msg, CY_A_FQDN, s, CY_FQDN_MAX));
	assert_string_equal(s, "alpha.example.test");
	assert_true(cy_msg_str(&msg, CY_A_PASSWORD, s, CY_PASSWORD_MAX));
	assert_string_equal(s, "s3cret pass!");
	assert_true(cy_msg_u64(&msg, CY_A_KEY_ID, &u64));
	assert_true(u64 == 0x0123456789abcdefULL);
	assert_true(cy_msg_bytes(&msg, CY_A_KEY, k2, sizeof(k2)));
	assert_memory_equal(k2, key, sizeof(key));
	assert_true(cy_msg_u32(&msg, CY_A_LIFETIME, &u32));
	assert_int_equal(u32, 3600);
	assert_true(cy_msg_bytes(&msg, CY_A_VIP4, v4, 4));
	assert_memory_equal(v4, vip4, 4);
	assert_true(cy_msg_bytes(&msg, CY_A_VIP6, v6, 16));
	assert_memory_equal(v6, vip6, 16);

	/* repeated ADDR, in order, through cy_msg_next */
	pos = 0;
	a = cy_msg_next(&msg, CY_A_ADDR, &pos);
	assert_non_null(a);
	assert_true(cy_attr_endpoint(a, &ss, &sl));
	assert_int_equal(sl, sizeof(struct sockaddr_in));
	assert_memory_equal(&ss, &a4, sizeof(a4));
	a = cy_msg_next(&msg, CY_A_ADDR, &pos);
	assert_non_null(a);
	assert_true(cy_attr_endpoint(a, &ss, &sl));
	assert_int_equal(sl, sizeof(struct sockaddr_in6));
	assert_memory_equal(&ss, &a6, sizeof(a6));
	assert_null(cy_msg_next(&msg, CY_A_ADDR, &pos));
	assert_null(cy_msg_next(&msg, CY_A_ADDR, &pos)); /* stays at the end */

	assert_true(cy_msg_endpoint(&msg, CY_A_OBSERVED, &ss, &sl));
	assert_memory_equal(&ss, &o6, sizeof(o6));
	assert_true(cy_msg_u8(&msg, CY_A_NAT, &u8));
	assert_int_equal(u8, 1);
	assert_true(cy_msg_u32(&msg, CY_A_TTL, &u32));
	assert_int_equal(u32, 60);
	assert_true(cy_msg_u64(&msg, CY_A_TIME, &u64));
	assert_true(u64 == UINT64_MAX);
	assert_true(cy_msg_bytes(&msg, CY_A_MAC, m2, 6));
	assert_memory_equal(m2, mac, 6);
	assert_true(cy_msg_u8(&msg, CY_A_FAMILIES, &u8));
	assert_int_equal(u8, 3);
	pos = 0;
	a = cy_msg_next(&msg, CY_A_NMS, &pos);
	assert_true(a && cy_attr_endpoint(a, &ss, &sl));
	assert_memory_equal(&ss, &n4, sizeof(n4));
	a = cy_msg_next(&msg, CY_A_NMS, &pos);
	assert_true(a && cy_attr_endpoint(a, &ss, &sl));
	assert_memory_equal(&ss, &n6, sizeof(n6));
	assert_null(cy_msg_next(&msg, CY_A_NMS, &pos));
	assert_true(cy_msg_u8(&msg, CY_A_KIND, &u8));
	assert_int_equal(u8, CY_KIND_GN);
	assert_true(cy_msg_u8(&msg, CY_A_PREFIX4, &u8));
	assert_int_equal(u8, 10);
	assert_true(cy_msg_u8(&msg, CY_A_PREFIX6, &u8));
	assert_int_equal(u8, 48);
	assert_true(cy_msg_u32(&msg, 999, &u32));

	/* nested GN */
	pos = 0;
	a = cy_msg_next(&msg, CY_A_GN, &pos);
	assert_non_null(a);
	assert_int_equal(cy_attr_parse_nested(a, &sub), 0);
	assert_int_equal(sub.version, 0);
	assert_int_equal(sub.type, 0);
	assert_int_equal(sub.nattrs, 3);
	assert_true(cy_msg_str(&sub, CY_A_NAME, s, CY_NAME_MAX));
	assert_string_equal(s, "gn1");
	assert_true(cy_msg_bytes(&sub, CY_A_VIP4, v4, 4));
	{
		struct cy_msg inner;
		const struct cy_attr *ia = cy_msg_find(&sub, CY_A_GN);

		assert_non_null(ia);
		assert_int_equal(cy_attr_parse_nested(ia, &inner), 0);
		assert_true(cy_msg_u8(&inner, CY_A_KIND, &u8));
		assert_int_equal(u8, CY_KIND_NODE);
	}
	a = cy_msg_next(&msg, CY_A_GN, &pos);
	assert_non_null(a);
	assert_int_equal(a->len, 0);
	assert_int_equal(cy_attr_parse_nested(a, &sub), 0);
	assert_int_equal(sub.nattrs, 0);
	assert_null(cy_msg_next(&msg, CY_A_GN, &pos));

	/* absent attributes */
	assert_null(cy_msg_find(&msg, 1234));
	assert_false(cy_msg_u8(&msg, 1234, &u8));
	assert_false(cy_msg_endpoint(&msg, 1234, &ss, &sl));
	assert_false(cy_msg_str(&msg, 1234, s, CY_NAME_MAX));
}

static void test_header(void **state)
{
	uint8_t body[8];
	size_t n;

	/* empty body is a valid message */
	n = raw(buf, CY_VERSION, CY_KEEPALIVE, 0, NULL, 0);
	assert_int_equal(cy_msg_parse(&msg, buf, n), 0);
	assert_int_equal(msg.nattrs, 0);
	assert_int_equal(msg.type, CY_KEEPALIVE);

	/* truncated header: 0..3 bytes */
	for (size_t i = 0; i < CY_HDR_LEN; i++)
		assert_int_equal(cy_msg_parse(&msg, buf, i), -EBADMSG);
	assert_int_equal(cy_msg_parse(&msg, NULL, 0), -EBADMSG);

	/* wrong versions */
	n = raw(buf, 0, CY_KEEPALIVE, 0, NULL, 0);
	assert_int_equal(cy_msg_parse(&msg, buf, n), -EBADMSG);
	n = raw(buf, 2, CY_KEEPALIVE, 0, NULL, 0);
	assert_int_equal(cy_msg_parse(&msg, buf, n), -EBADMSG);
	n = raw(buf, 0xff, CY_KEEPALIVE, 0, NULL, 0);
	assert_int_equal(cy_msg_parse(&msg, buf, n), -EBADMSG);

	/* length field longer than the bytes, and shorter (trailing bytes) */
	n = attr(body, CY_A_NAT, 1, "\x01");
	raw(buf, CY_VERSION, CY_KEEPALIVE, (uint16_t)(n + 1), body, n);
	assert_int_equal(cy_msg_parse(&msg, buf, 4 + n), -EBADMSG);
	raw(buf, CY_VERSION, CY_KEEPALIVE, (uint16_t)(n - 1), body, n);
	assert_int_equal(cy_msg_parse(&msg, buf, 4 + n), -EBADMSG);
	raw(buf, CY_VERSION, CY_KEEPALIVE, 0xffff, body, n);
	assert_int_equal(cy_msg_parse(&msg, buf, 4 + n), -EBADMSG);
	raw(buf, CY_VERSION, CY_KEEPALIVE, (uint16_t)n, body, n);
	assert_int_equal(cy_msg_parse(&msg, buf, 4 + n), 0);
	/* the same bytes with one more trailing byte */
	buf[4 + n] = 0;
	assert_int_equal(cy_msg_parse(&msg, buf, 4 + n + 1), -EBADMSG);
	/* and one fewer */
	assert_int_equal(cy_msg_parse(&msg, buf, 4 + n - 1), -EBADMSG);
}

static void test_frame_len(void **state)
{
	uint8_t h[CY_HDR_LEN] = { CY_VERSION, CY_LOGIN_REQ, 0x01, 0x00 };

	assert_int_equal(cy_frame_len(h), 4 + 256);
	h[2] = 0;
	h[3] = 0;
	assert_int_equal(cy_frame_len(h), 4);
	h[2] = 0xff;
	h[3] = 0xff;
	assert_int_equal(cy_frame_len(h), CY_MSG_MAX);
	h[0] = 0;
	assert_int_equal(cy_frame_len(h), -EBADMSG);
	h[0] = 2;
	assert_int_equal(cy_frame_len(h), -EBADMSG);
}

static void test_truncated_attrs(void **state)
{
	uint8_t body[64];
	size_t n;

	/* attribute header cut after 1, 2 and 3 bytes */
	n = attr(body, CY_A_NAT, 1, "\x01");
	for (size_t cut = 1; cut < CY_ATTR_HDR_LEN; cut++) {
		size_t m = wrap(buf, body, n + cut);
		/* the bytes after the first attribute are a partial header */
		memcpy(buf + 4 + n, "\x00\x0d\x00", cut);
		assert_int_equal(cy_msg_parse(&msg, buf, m), -EBADMSG);
	}
	/* attribute length past the end, by one and by a lot */
	put_be16(body, CY_A_NAME);
	put_be16(body + 2, 6);
	memcpy(body + 4, "alpha", 5);
	n = wrap(buf, body, 9);
	assert_int_equal(cy_msg_parse(&msg, buf, n), -EBADMSG);
	put_be16(body + 2, 0xffff);
	n = wrap(buf, body, 9);
	assert_int_equal(cy_msg_parse(&msg, buf, n), -EBADMSG);
	put_be16(body + 2, 5);
	n = wrap(buf, body, 9);
	assert_int_equal(cy_msg_parse(&msg, buf, n), 0);
	/* zero-length attribute at the very end is fine */
	n = attr(body, CY_A_REASON, 0, NULL);
	n = wrap(buf, body, n);
	assert_int_equal(cy_msg_parse(&msg, buf, n), 0);
	assert_int_equal(msg.nattrs, 1);
	assert_int_equal(msg.attrs[0].len, 0);
}

static void test_duplicates(void **state)
{
	uint8_t body[64];
	size_t n = 0;

	n += attr(body + n, CY_A_NAME, 5, "alpha");
	n += attr(body + n, CY_A_NAT, 1, "\x00");
	n += attr(body + n, CY_A_NAME, 4, "beta");
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), -EBADMSG);

	/* every non-repeatable known type refuses a second copy */
	for (uint16_t t = CY_A_RESULT; t <= CY_A_PREFIX6; t++) {
		bool rep = t == CY_A_ADDR || t == CY_A_NMS || t == CY_A_GN;

		n = 0;
		n += attr(body + n, t, 1, "x");
		n += attr(body + n, t, 1, "y");
		assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), rep ? 0 : -EBADMSG);
	}
}

static void test_attr_count(void **state)
{
	static uint8_t body[CY_MSG_MAX];
	size_t n = 0;
	uint8_t ep[7] = { 4, 0x1d, 0x16, 192, 0, 2, 1 };

	for (int i = 0; i < CY_MSG_MAX_ATTRS; i++)
		n += attr(body + n, CY_A_ADDR, sizeof(ep), ep);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	assert_int_equal(msg.nattrs, CY_MSG_MAX_ATTRS);
	n += attr(body + n, CY_A_ADDR, sizeof(ep), ep);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), -EBADMSG);

	/* 129 empty unknown attributes of distinct types */
	n = 0;
	for (int i = 0; i < CY_MSG_MAX_ATTRS + 1; i++)
		n += attr(body + n, (uint16_t)(1000 + i), 0, NULL);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), -EBADMSG);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n - 4)), 0);

	/* the same limit applies to nested attribute lists */
	{
		struct cy_attr a = { .type = CY_A_GN, .len = (uint16_t)n, .val = body };
		assert_int_equal(cy_attr_parse_nested(&a, &sub), -EBADMSG);
		a.len = (uint16_t)(n - 4);
		assert_int_equal(cy_attr_parse_nested(&a, &sub), 0);
		assert_int_equal(sub.nattrs, CY_MSG_MAX_ATTRS);
	}
}

static void test_getter_lengths(void **state)
{
	uint8_t body[256];
	size_t n = 0;
	uint8_t u8;
	uint32_t u32 = 42;
	uint64_t u64 = 42;
	uint8_t key[CY_KEY_LEN + 1];

	n += attr(body + n, CY_A_RESULT, 2, "\x00\x00");       /* u8 with 2 */
	n += attr(body + n, CY_A_NAT, 0, NULL);                /* u8 with 0 */
	n += attr(body + n, CY_A_LIFETIME, 3, "\x00\x00\x01"); /* u32 with 3 */
	n += attr(body + n, CY_A_TTL, 5, "\x00\x00\x00\x00\x01");
	n += attr(body + n, CY_A_KEY_ID, 7, "1234567");       /* u64 with 7 */
	n += attr(body + n, CY_A_TIME, 9, "123456789");
	n += attr(body + n, CY_A_KEY, CY_KEY_LEN - 1, "0123456789012345678901234567890");
	n += attr(body + n, CY_A_VIP4, 16, "0123456789abcdef"); /* a v6 in VIP4 */
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);

	assert_false(cy_msg_u8(&msg, CY_A_RESULT, &u8));
	assert_false(cy_msg_u8(&msg, CY_A_NAT, &u8));
	assert_false(cy_msg_u32(&msg, CY_A_LIFETIME, &u32));
	assert_false(cy_msg_u32(&msg, CY_A_TTL, &u32));
	assert_int_equal(u32, 42);
	assert_false(cy_msg_u64(&msg, CY_A_KEY_ID, &u64));
	assert_false(cy_msg_u64(&msg, CY_A_TIME, &u64));
	assert_true(u64 == 42);
	assert_false(cy_msg_bytes(&msg, CY_A_KEY, key, CY_KEY_LEN));
	assert_true(cy_msg_bytes(&msg, CY_A_KEY, key, CY_KEY_LEN - 1));
	assert_false(cy_msg_bytes(&msg, CY_A_VIP4, key, 4));
	/* a u64 read of a u32 attribute, and the reverse */
	assert_false(cy_msg_u64(&msg, CY_A_LIFETIME, &u64));
}

static void test_endpoint(void **state)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	struct cy_attr a;
	uint8_t v[32];

	memset(v, 0, sizeof(v));
	a.type = CY_A_ADDR;
	a.val = v;

	/* good v4 and v6 */
	v[0] = 4;
	put_be16(v + 1, 7446);
	v[3] = 198;
	v[4] = 51;
	v[5] = 100;
	v[6] = 1;
	a.len = 7;
	assert_true(cy_attr_endpoint(&a, &ss, &sl));
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 7446);
	assert_int_equal(sl, sizeof(struct sockaddr_in));
	v[0] = 6;
	a.len = 19;
	assert_true(cy_attr_endpoint(&a, &ss, &sl));
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(sl, sizeof(struct sockaddr_in6));

	/* bad: family 4 with v6 length, 6 with v4 length, other families,
	 * one byte short or long, empty, header only */
	v[0] = 4;
	a.len = 19;
	assert_false(cy_attr_endpoint(&a, &ss, &sl));
	a.len = 6;
	assert_false(cy_attr_endpoint(&a, &ss, &sl));
	a.len = 8;
	assert_false(cy_attr_endpoint(&a, &ss, &sl));
	v[0] = 6;
	a.len = 7;
	assert_false(cy_attr_endpoint(&a, &ss, &sl));
	a.len = 18;
	assert_false(cy_attr_endpoint(&a, &ss, &sl));
	a.len = 20;
	assert_false(cy_attr_endpoint(&a, &ss, &sl));
	for (int fam = 0; fam < 256; fam++) {
		if (fam == 4 || fam == 6)
			continue;
		v[0] = (uint8_t)fam;
		a.len = 7;
		assert_false(cy_attr_endpoint(&a, &ss, &sl));
		a.len = 19;
		assert_false(cy_attr_endpoint(&a, &ss, &sl));
	}
	v[0] = AF_INET; /* the socket constant is not the wire family */
	a.len = 7;
	assert_false(cy_attr_endpoint(&a, &ss, &sl));
	for (uint16_t len = 0; len < 3; len++) {
		a.len = len;
		assert_false(cy_attr_endpoint(&a, &ss, &sl));
	}
}

static void test_strings(void **state)
{
	uint8_t body[512], val[300];
	char s[CY_FQDN_MAX + 1];
	size_t n;

	/* a NUL inside */
	n = attr(body, CY_A_NAME, 5, "al\0ha");
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	assert_false(cy_msg_str(&msg, CY_A_NAME, s, CY_NAME_MAX));
	/* control characters, DEL, 8-bit */
	const char bad[] = { '\n', '\r', '\t', 0x1b, 0x1f, 0x7f, (char)0x80, (char)0xff };
	for (size_t i = 0; i < sizeof(bad); i++) {
		memcpy(val, "abcd", 4);
		val[2] = (uint8_t)bad[i];
		n = attr(body, CY_A_REASON, 4, val);
		assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
		assert_false(cy_msg_str(&msg, CY_A_REASON, s, CY_REASON_MAX));
	}
	/* empty */
	n = attr(body, CY_A_NAME, 0, NULL);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	assert_false(cy_msg_str(&msg, CY_A_NAME, s, CY_NAME_MAX));
	/* exactly max and one over */
	memset(val, 'a', sizeof(val));
	n = attr(body, CY_A_NAME, CY_NAME_MAX, val);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	memset(s, 'X', sizeof(s));
	assert_true(cy_msg_str(&msg, CY_A_NAME, s, CY_NAME_MAX));
	assert_int_equal(strlen(s), CY_NAME_MAX);
	n = attr(body, CY_A_NAME, CY_NAME_MAX + 1, val);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	assert_false(cy_msg_str(&msg, CY_A_NAME, s, CY_NAME_MAX));
	n = attr(body, CY_A_FQDN, CY_FQDN_MAX, val);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	assert_true(cy_msg_str(&msg, CY_A_FQDN, s, CY_FQDN_MAX));
	assert_int_equal(strlen(s), CY_FQDN_MAX);
	n = attr(body, CY_A_FQDN, CY_FQDN_MAX + 1, val);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	assert_false(cy_msg_str(&msg, CY_A_FQDN, s, CY_FQDN_MAX));
	/* space and tilde are the printable edges */
	n = attr(body, CY_A_REASON, 3, " ~!");
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	assert_true(cy_msg_str(&msg, CY_A_REASON, s, CY_REASON_MAX));
	assert_string_equal(s, " ~!");
}

static void test_nested_bad(void **state)
{
	uint8_t body[128], inner[64];
	size_t n, in = 0;
	const struct cy_attr *a;

	/* nested value is not a clean attribute list: truncated header */
	in = attr(inner, CY_A_NAME, 3, "gn1");
	inner[in++] = 0x00;
	n = attr(body, CY_A_GN, (uint16_t)in, inner);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	a = cy_msg_find(&msg, CY_A_GN);
	assert_non_null(a);
	assert_int_equal(cy_attr_parse_nested(a, &sub), -EBADMSG);
	/* inner length past the nested value (but inside the outer message) */
	in = attr(inner, CY_A_NAME, 3, "gn1");
	put_be16(inner + 2, 4);
	n = attr(body, CY_A_GN, (uint16_t)in, inner);
	n += attr(body + n, CY_A_NAT, 1, "\x01");
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	assert_int_equal(cy_attr_parse_nested(cy_msg_find(&msg, CY_A_GN), &sub), -EBADMSG);
	/* duplicate inside the nested list */
	in = attr(inner, CY_A_NAME, 3, "gn1");
	in += attr(inner + in, CY_A_NAME, 3, "gn2");
	n = attr(body, CY_A_GN, (uint16_t)in, inner);
	assert_int_equal(cy_msg_parse(&msg, buf, wrap(buf, body, n)), 0);
	assert_int_equal(cy_attr_parse_nested(cy_msg_find(&msg, CY_A_GN), &sub), -EBADMSG);
}

static void test_builder_overflow(void **state)
{
	static uint8_t big[CY_MSG_MAX];
	struct cy_builder b;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t tok;
	ssize_t n;

	/* fits exactly */
	cy_build_start(&b, buf, 4 + 4 + 5, CY_LOGIN_REQ);
	cy_put_str(&b, CY_A_NAME, "alpha");
	assert_int_equal(cy_build_finish(&b), 13);
	/* one byte short */
	cy_build_start(&b, buf, 4 + 4 + 4, CY_LOGIN_REQ);
	cy_put_str(&b, CY_A_NAME, "alpha");
	assert_int_equal(cy_build_finish(&b), -EMSGSIZE);
	/* sticky: a smaller attribute after the failed one does not help */
	cy_put_u8(&b, CY_A_NAT, 1);
	assert_int_equal(cy_build_finish(&b), -EMSGSIZE);
	/* not even room for the header */
	cy_build_start(&b, buf, 3, CY_LOGIN_REQ);
	assert_int_equal(cy_build_finish(&b), -EMSGSIZE);
	cy_build_start(&b, buf, 4, CY_LOGIN_REQ);
	assert_int_equal(cy_build_finish(&b), 4);
	/* value longer than a length field holds */
	cy_build_start(&b, buf, sizeof(buf), CY_LOGIN_REQ);
	cy_put_bytes(&b, CY_A_REASON, big, (size_t)UINT16_MAX + 1);
	assert_int_equal(cy_build_finish(&b), -EMSGSIZE);
	/* the largest message there is, and one byte more */
	cy_build_start(&b, buf, sizeof(buf), CY_LOGIN_REQ);
	cy_put_bytes(&b, CY_A_REASON, big, CY_MSG_MAX - 8);
	n = cy_build_finish(&b);
	assert_int_equal(n, CY_MSG_MAX);
	assert_int_equal(cy_msg_parse(&msg, buf, (size_t)n), 0);
	cy_build_start(&b, buf, sizeof(buf), CY_LOGIN_REQ);
	cy_put_bytes(&b, CY_A_REASON, big, CY_MSG_MAX - 8 + 1);
	assert_int_equal(cy_build_finish(&b), -EMSGSIZE);
	/* an endpoint of a family the wire cannot carry */
	cy_build_start(&b, buf, sizeof(buf), CY_REG_REQ);
	cy_put_endpoint(&b, CY_A_ADDR, (struct sockaddr *)&sun);
	assert_int_equal(cy_build_finish(&b), -EMSGSIZE);
	/* nested overflow */
	cy_build_start(&b, buf, 4 + 4 + 4 + 3, CY_REG_RES);
	tok = cy_put_nested_begin(&b, CY_A_GN);
	cy_put_str(&b, CY_A_NAME, "gn1x");
	cy_put_nested_end(&b, tok);
	assert_int_equal(cy_build_finish(&b), -EMSGSIZE);
	cy_build_start(&b, buf, 2, CY_REG_RES);
	tok = cy_put_nested_begin(&b, CY_A_GN);
	cy_put_nested_end(&b, tok);
	assert_int_equal(cy_build_finish(&b), -EMSGSIZE);
}

static void test_names(void **state)
{
	assert_string_equal(cy_result_str(CY_ERR_REVOKED), "revoked");
	assert_string_equal(cy_result_str((enum cy_result)200), "unknown result");
	assert_string_equal(cy_msg_type_str(CY_REG_REQ), "Registration Request");
	assert_string_equal(cy_msg_type_str(0xee), "unknown");
}

/* Names: one label for a node, dotted labels for a domain. */
static void test_label_domain(void **state)
{
	char long_label[CY_NAME_MAX + 2], long_domain[CY_FQDN_MAX + 2];

	assert_true(cy_label_ok("alpha"));
	assert_true(cy_label_ok("a-1"));
	assert_false(cy_label_ok(""));
	assert_false(cy_label_ok("-a"));
	assert_false(cy_label_ok("a-"));
	assert_false(cy_label_ok("Alpha"));
	assert_false(cy_label_ok("a.b"));
	assert_false(cy_label_ok("a_b"));
	memset(long_label, 'a', sizeof(long_label));
	long_label[CY_NAME_MAX] = '\0';
	assert_true(cy_label_ok(long_label));
	long_label[CY_NAME_MAX] = 'a';
	long_label[CY_NAME_MAX + 1] = '\0';
	assert_false(cy_label_ok(long_label));

	assert_true(cy_domain_ok("example.test"));
	assert_true(cy_domain_ok("test"));
	assert_false(cy_domain_ok(""));
	assert_false(cy_domain_ok(".example.test"));
	assert_false(cy_domain_ok("example.test."));
	assert_false(cy_domain_ok("example..test"));
	assert_false(cy_domain_ok("exa_mple.test"));
	memset(long_domain, 'a', sizeof(long_domain));
	for (size_t i = 50; i < sizeof(long_domain); i += 51)
		long_domain[i] = '.';
	long_domain[CY_FQDN_MAX + 1] = '\0';
	assert_false(cy_domain_ok(long_domain));   /* one byte too long */
	long_domain[CY_FQDN_MAX] = '\0';
	assert_true(long_domain[CY_FQDN_MAX - 1] != '.');
	assert_true(cy_domain_ok(long_domain));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_domain),
		cmocka_unit_test(test_roundtrip_all),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_frame_len),
		cmocka_unit_test(test_truncated_attrs),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_attr_count),
		cmocka_unit_test(test_getter_lengths),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_nested_bad),
		cmocka_unit_test(test_builder_overflow),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
