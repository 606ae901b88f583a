/* struct cur / struct wbuf: every read checks its length first and does
 * not move on failure; writer overflow is sticky. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static const uint8_t data[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };

static void test_u8(void **state)
{
	struct cur c = cur_make(data, 1);
	uint8_t v = 0xee;

	assert_true(cur_get_u8(&c, &v));
	assert_int_equal(v, 0x01);
	assert_true(cur_empty(&c));
	v = 0xee;
	assert_false(cur_get_u8(&c, &v));
	assert_int_equal(v, 0xee);

	c = cur_make(NULL, 0);
	assert_false(cur_get_u8(&c, &v));
}

static void test_u16(void **state)
{
	struct cur c = cur_make(data, 2);
	uint16_t v = 0;

	assert_true(cur_get_u16(&c, &v));
	assert_int_equal(v, 0x0102);
	assert_true(cur_empty(&c));

	c = cur_make(data, 1); /* one short */
	v = 0xbeef;
	assert_false(cur_get_u16(&c, &v));
	assert_int_equal(v, 0xbeef);
	assert_int_equal(cur_left(&c), 1);
	assert_ptr_equal(c.p, data);

	c = cur_make(data, 0);
	assert_false(cur_get_u16(&c, &v));
}

static void test_u32(void **state)
{
	struct cur c = cur_make(data, 4);
	uint32_t v = 0;

	assert_true(cur_get_u32(&c, &v));
	assert_int_equal(v, 0x01020304);
	assert_true(cur_empty(&c));

	c = cur_make(data, 3);
	v = 7;
	assert_false(cur_get_u32(&c, &v));
	assert_int_equal(v, 7);
	assert_int_equal(cur_left(&c), 3);

	c = cur_make(data, 0);
	assert_false(cur_get_u32(&c, &v));
}

static void test_u64(void **state)
{
	struct cur c = cur_make(data, 8);
	uint64_t v = 0;

	assert_true(cur_get_u64(&c, &v));
	assert_true(v == 0x0102030405060708ULL);
	assert_true(cur_empty(&c));

	c = cur_make(data, 7);
	v = 7;
	assert_false(cur_get_u64(&c, &v));
	assert_true(v == 7);
	assert_int_equal(cur_left(&c), 7);

	c = cur_make(data, 0);
	assert_false(cur_get_u64(&c, &v));
}

static void test_bytes_ptr_skip(void **state)
{
	struct cur c = cur_make(data, 8);
	uint8_t out[8];
	const uint8_t *p = NULL;

	memset(out, 0xaa, sizeof(out));
	assert_false(cur_get_bytes(&c, out, 9));
	assert_int_equal(out[0], 0xaa);
	assert_int_equal(cur_left(&c), 8);
	assert_true(cur_get_bytes(&c, out, 0)); /* zero length always fits */
	assert_true(cur_get_bytes(&c, out, 3));
	assert_memory_equal(out, data, 3);
	assert_false(cur_get_ptr(&c, &p, 6));
	assert_null(p);
	assert_true(cur_get_ptr(&c, &p, 5));
	assert_ptr_equal(p, data + 3);
	assert_true(cur_empty(&c));
	assert_true(cur_get_ptr(&c, &p, 0));
	assert_false(cur_skip(&c, 1));
	assert_true(cur_skip(&c, 0));

	c = cur_make(data, 8);
	assert_false(cur_skip(&c, SIZE_MAX));
	assert_true(cur_skip(&c, 8));
	assert_true(cur_empty(&c));

	/* zero-length cursor over NULL: zero-sized reads work, others fail */
	c = cur_make(NULL, 0);
	assert_true(cur_get_bytes(&c, out, 0));
	assert_false(cur_get_bytes(&c, out, 1));
	assert_false(cur_get_ptr(&c, &p, SIZE_MAX));
}

static void test_sub(void **state)
{
	struct cur c = cur_make(data, 8), sub, sub2;
	uint32_t v;
	uint8_t b;

	assert_false(cur_get_sub(&c, &sub, 9));
	assert_int_equal(cur_left(&c), 8);
	assert_true(cur_get_sub(&c, &sub, 5));
	assert_int_equal(cur_left(&sub), 5);
	assert_int_equal(cur_left(&c), 3);
	/* the sub-cursor cannot read into its parent's remaining bytes */
	assert_true(cur_get_u32(&sub, &v));
	assert_int_equal(v, 0x01020304);
	assert_false(cur_get_u32(&sub, &v));
	assert_true(cur_get_u8(&sub, &b));
	assert_int_equal(b, 0x05);
	assert_true(cur_empty(&sub));
	/* nested sub of a sub */
	assert_true(cur_get_sub(&c, &sub, 3));
	assert_false(cur_get_sub(&sub, &sub2, 4));
	assert_true(cur_get_sub(&sub, &sub2, 0));
	assert_true(cur_empty(&sub2));
	assert_false(cur_get_u8(&sub2, &b));
	assert_true(cur_get_sub(&sub, &sub2, 3));
	assert_true(cur_empty(&sub));
	assert_true(cur_get_u8(&sub2, &b));
	assert_int_equal(b, 0x06);
	assert_true(cur_empty(&c));
}

static void test_be_helpers(void **state)
{
	uint8_t b[8];

	put_be16(b, 0xa1b2);
	assert_int_equal(b[0], 0xa1);
	assert_int_equal(get_be16(b), 0xa1b2);
	put_be32(b, 0xdeadbeef);
	assert_int_equal(b[0], 0xde);
	assert_int_equal(b[3], 0xef);
	assert_true(get_be32(b) == 0xdeadbeef);
	put_be64(b, 0xfedcba9876543210ULL);
	assert_int_equal(b[0], 0xfe);
	assert_int_equal(b[7], 0x10);
	assert_true(get_be64(b) == 0xfedcba9876543210ULL);
}

static void test_wbuf_exact(void **state)
{
	uint8_t buf[15 + 2];
	struct wbuf w;

	memset(buf, 0x55, sizeof(buf));
	wbuf_init(&w, buf, 15);
	wbuf_put_u8(&w, 0x11);
	wbuf_put_u16(&w, 0x2233);
	wbuf_put_u32(&w, 0x44556677);
	wbuf_put_u64(&w, 0x8899aabbccddeeffULL);
	assert_true(wbuf_ok(&w));
	assert_int_equal(w.len, 15);
	assert_int_equal(buf[0], 0x11);
	assert_int_equal(get_be16(buf + 1), 0x2233);
	assert_true(get_be32(buf + 3) == 0x44556677);
	assert_true(get_be64(buf + 7) == 0x8899aabbccddeeffULL);
	assert_int_equal(buf[15], 0x55); /* nothing past cap */
	/* zero bytes into a full buffer is fine */
	wbuf_put_bytes(&w, NULL, 0);
	assert_true(wbuf_ok(&w));
	assert_non_null(wbuf_reserve(&w, 0));
}

static void test_wbuf_overflow_sticky(void **state)
{
	uint8_t buf[8];
	struct wbuf w;

	memset(buf, 0, sizeof(buf));
	wbuf_init(&w, buf, 3);
	wbuf_put_u16(&w, 0x0102);
	wbuf_put_u16(&w, 0x0304); /* one short */
	assert_false(wbuf_ok(&w));
	assert_int_equal(w.len, 2);
	assert_int_equal(buf[2], 0); /* not partially written */
	/* a write that would have fitted before does not clear it */
	wbuf_put_u8(&w, 0x05);
	assert_false(wbuf_ok(&w));
	assert_int_equal(w.len, 2);
	assert_int_equal(buf[2], 0);
	assert_null(wbuf_reserve(&w, 0));
	wbuf_put_bytes(&w, "", 0);
	assert_false(wbuf_ok(&w));

	/* each writer overflows on its own */
	wbuf_init(&w, buf, 7);
	wbuf_put_u64(&w, 1);
	assert_false(wbuf_ok(&w));
	assert_int_equal(w.len, 0);
	wbuf_init(&w, buf, 3);
	wbuf_put_u32(&w, 1);
	assert_false(wbuf_ok(&w));
	wbuf_init(&w, buf, 0);
	wbuf_put_u8(&w, 1);
	assert_false(wbuf_ok(&w));
	wbuf_init(&w, buf, 4);
	wbuf_put_bytes(&w, "abcde", 5);
	assert_false(wbuf_ok(&w));
	/* a huge reservation must not wrap around */
	wbuf_init(&w, buf, 4);
	wbuf_put_u8(&w, 1);
	assert_null(wbuf_reserve(&w, SIZE_MAX));
	assert_false(wbuf_ok(&w));
	assert_int_equal(w.len, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u8),
		cmocka_unit_test(test_u16),
		cmocka_unit_test(test_u32),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_bytes_ptr_skip),
		cmocka_unit_test(test_sub),
		cmocka_unit_test(test_be_helpers),
		cmocka_unit_test(test_wbuf_exact),
		cmocka_unit_test(test_wbuf_overflow_sticky),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
