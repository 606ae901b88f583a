/* The DNS codec fed hostile messages (compression loops, forward pointers,
 * pointers past the end, huge counts, label 64, name 256, truncation), and
 * the replies it builds checked byte by byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dns.h"

/* Header + one question for name, optionally an OPT record. */
static size_t mkquery(uint8_t *out, size_t cap, uint16_t id, const char *name, uint16_t qtype,
		      bool opt, uint16_t udp, uint32_t optttl)
{
	uint8_t wire[DNS_NAME_MAX];
	size_t wl;
	struct wbuf w;

	assert_int_equal(dns_name_from_str(name, wire, &wl), 0);
	wbuf_init(&w, out, cap);
	wbuf_put_u16(&w, id);
	wbuf_put_u16(&w, DNS_F_RD);
	wbuf_put_u16(&w, 1);
	wbuf_put_u16(&w, 0);
	wbuf_put_u16(&w, 0);
	wbuf_put_u16(&w, opt);
	wbuf_put_bytes(&w, wire, wl);
	wbuf_put_u16(&w, qtype);
	wbuf_put_u16(&w, DNS_C_IN);
	if (opt) {
		wbuf_put_u8(&w, 0);
		wbuf_put_u16(&w, DNS_T_OPT);
		wbuf_put_u16(&w, udp);
		wbuf_put_u32(&w, optttl);
		wbuf_put_u16(&w, 0);
	}
	assert_true(wbuf_ok(&w));
	return w.len;
}

static void hdr(uint8_t *b, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	memset(b, 0, DNS_HDR_LEN);
	put_be16(b, 0x1234);
	put_be16(b + 4, qd);
	put_be16(b + 6, an);
	put_be16(b + 8, ns);
	put_be16(b + 10, ar);
}

static void test_valid_query(void **state)
{
	uint8_t b[512];
	struct dns_msg m;
	size_t n = mkquery(b, sizeof(b), 0xbeef, "Alpha.Example.TEST", DNS_T_AAAA, true, 4096,
			   DNS_EDNS_DO);

	/* mkquery lower-cases (dns_name_from_str): put the case back */
	memcpy(b + 13, "Alpha\7Example\4TEST", 18);
	assert_int_equal(dns_parse(b, n, DNS_PARSE_QUERY, &m), 0);
	assert_true(m.hdr_ok && m.has_q && m.has_opt && m.do_bit);
	assert_int_equal(m.hdr.id, 0xbeef);
	assert_int_equal(m.q.qtype, DNS_T_AAAA);
	assert_int_equal(m.udp_size, 4096);
	assert_int_equal(dns_udp_limit(&m), 4096);
	assert_int_equal(m.q.name_len, 20);
	/* the lower-cased copy, and the original case kept */
	assert_memory_equal(m.q.lname, "\5alpha\7example\4test\0", 20);
	assert_memory_equal(m.q.name, "\5Alpha\7Example\4TEST\0", 20);
}

static void test_truncated_everywhere(void **state)
{
	uint8_t b[512];
	struct dns_msg m;
	size_t n = mkquery(b, sizeof(b), 1, "a.example.test", DNS_T_A, true, 1232, 0);

	/* every proper prefix is rejected; hdr_ok exactly from 12 bytes on */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(dns_parse(b, i, DNS_PARSE_QUERY, &m), -EBADMSG);
		assert_int_equal(m.hdr_ok, i >= DNS_HDR_LEN);
	}
	assert_int_equal(dns_parse(b, n, DNS_PARSE_QUERY, &m), 0);
	/* trailing garbage */
	b[n] = 0;
	assert_int_equal(dns_parse(b, n + 1, DNS_PARSE_QUERY, &m), -EBADMSG);
}

static void test_compression_loop_self(void **state)
{
	uint8_t b[32];
	struct dns_msg m;

	hdr(b, 1, 0, 0, 0);
	b[12] = 0xc0;
	b[13] = 12;          /* points at itself */
	put_be16(b + 14, 1);
	put_be16(b + 16, 1);
	assert_int_equal(dns_parse(b, 18, DNS_PARSE_QUERY, &m), -EBADMSG);
	assert_true(m.hdr_ok);
}

static void test_compression_loop_pair(void **state)
{
	/* question "a" + pointer to 20; at 20 (an RR name): "b" + pointer to 12 */
	uint8_t b[64];
	struct cur c;
	uint8_t name[DNS_NAME_MAX];
	size_t nl;

	hdr(b, 1, 1, 0, 0);
	memcpy(b + 12, "\1a\xc0\x14", 4);   /* 12: a -> 20 (forward) */
	put_be16(b + 16, 1);
	put_be16(b + 18, 1);
	memcpy(b + 20, "\1b\xc0\x0c", 4);   /* 20: b -> 12 */
	c = cur_make(b + 12, 12);
	assert_int_equal(dns_name_read(b, 24, &c, name, &nl), -EBADMSG);
	/* starting at 20 the chain goes 20 -> 12 -> 20: the second jump is not
	 * strictly backwards */
	c = cur_make(b + 20, 4);
	assert_int_equal(dns_name_read(b, 24, &c, name, &nl), -EBADMSG);
}

static void test_pointer_forward_and_past_end(void **state)
{
	uint8_t b[32];
	struct dns_msg m;

	hdr(b, 1, 0, 0, 0);
	b[12] = 0xc0;
	b[13] = 0xff;        /* past the end, and forward */
	put_be16(b + 14, 1);
	put_be16(b + 16, 1);
	assert_int_equal(dns_parse(b, 18, DNS_PARSE_QUERY, &m), -EBADMSG);
	b[12] = 0xff;        /* offset 0x3fff */
	assert_int_equal(dns_parse(b, 18, DNS_PARSE_QUERY, &m), -EBADMSG);
	b[12] = 0xc0;        /* half a pointer at the very end */
	assert_int_equal(dns_parse(b, 13, DNS_PARSE_QUERY, &m), -EBADMSG);
}

static void test_valid_backward_pointer(void **state)
{
	/* an answer RR whose owner is a pointer to the question name */
	uint8_t b[128];
	struct dns_msg m;
	struct cur c;
	uint8_t name[DNS_NAME_MAX];
	size_t n = mkquery(b, sizeof(b), 7, "x.example.test", DNS_T_A, false, 0, 0), nl;

	put_be16(b + 6, 1);
	memcpy(b + n, "\xc0\x0c\0\1\0\1\0\0\0\5\0\4\x64\x40\0\1", 16);
	assert_int_equal(dns_parse(b, n + 16, DNS_PARSE_QUERY, &m), 0);
	c = cur_make(b + n, 16);
	assert_int_equal(dns_name_read(b, n + 16, &c, name, &nl), 0);
	assert_int_equal(nl, m.q.name_len);
	assert_memory_equal(name, m.q.name, nl);
	assert_int_equal(cur_left(&c), 14);   /* the cursor moved past the pointer only */
}

static void test_label_64_and_reserved(void **state)
{
	uint8_t b[128];
	struct dns_msg m;

	hdr(b, 1, 0, 0, 0);
	b[12] = 64;
	memset(b + 13, 'a', 64);
	b[77] = 0;
	put_be16(b + 78, 1);
	put_be16(b + 80, 1);
	assert_int_equal(dns_parse(b, 82, DNS_PARSE_QUERY, &m), -EBADMSG);
	b[12] = 0x80 | 1;    /* the reserved 10 label type */
	assert_int_equal(dns_parse(b, 82, DNS_PARSE_QUERY, &m), -EBADMSG);
	b[12] = 63;          /* 63 is fine, but the next 'a' (0x61) is a reserved type */
	assert_int_equal(dns_parse(b, 82, DNS_PARSE_QUERY, &m), -EBADMSG);
}

static size_t long_name(uint8_t *p, size_t total)
{
	/* labels of 63 and a last one so the wire length is total */
	size_t o = 0;

	while (total - o - 1 > 64) {
		p[o] = 63;
		memset(p + o + 1, 'x', 63);
		o += 64;
	}
	p[o] = (uint8_t)(total - o - 2);
	memset(p + o + 1, 'y', p[o]);
	o += 1 + p[o];
	p[o++] = 0;
	return o;
}

static void test_name_255_ok_256_not(void **state)
{
	uint8_t b[600];
	struct dns_msg m;
	size_t nl;

	hdr(b, 1, 0, 0, 0);
	nl = long_name(b + 12, 255);
	assert_int_equal(nl, 255);
	put_be16(b + 12 + nl, 1);
	put_be16(b + 14 + nl, 1);
	assert_int_equal(dns_parse(b, 16 + nl, DNS_PARSE_QUERY, &m), 0);
	assert_int_equal(m.q.name_len, 255);

	nl = long_name(b + 12, 256);
	assert_int_equal(nl, 256);
	put_be16(b + 12 + nl, 1);
	put_be16(b + 14 + nl, 1);
	assert_int_equal(dns_parse(b, 16 + nl, DNS_PARSE_QUERY, &m), -EBADMSG);
}

static void test_name_too_long_through_pointers(void **state)
{
	/* 200 bytes of labels, then a name of 100 bytes of labels + pointer to
	 * the first: each piece is fine, the whole is 300 */
	uint8_t b[600];
	struct cur c;
	uint8_t name[DNS_NAME_MAX];
	size_t o = 12, nl;

	memset(b, 0, sizeof(b));
	for (int i = 0; i < 4; i++) {
		b[o] = 49;
		memset(b + o + 1, 'a', 49);
		o += 50;
	}
	b[o++] = 0;          /* name 1: 201 bytes */
	size_t start = o;
	for (int i = 0; i < 2; i++) {
		b[o] = 49;
		memset(b + o + 1, 'b', 49);
		o += 50;
	}
	b[o++] = 0xc0;
	b[o++] = 12;
	c = cur_make(b + start, o - start);
	assert_int_equal(dns_name_read(b, o, &c, name, &nl), -EBADMSG);
}

static void test_counts(void **state)
{
	uint8_t b[512];
	struct dns_msg m;
	size_t n = mkquery(b, sizeof(b), 1, "a.test", DNS_T_A, false, 0, 0);

	put_be16(b + 6, 0xffff);   /* huge ancount, no bytes */
	assert_int_equal(dns_parse(b, n, DNS_PARSE_QUERY, &m), -EBADMSG);
	/* DNS_PARSE_QUESTION does not walk the records */
	assert_int_equal(dns_parse(b, n, DNS_PARSE_QUESTION, &m), 0);
	put_be16(b + 6, 0);
	put_be16(b + 4, 2);        /* two questions */
	assert_int_equal(dns_parse(b, n, DNS_PARSE_QUERY, &m), -EBADMSG);
	put_be16(b + 4, 0);        /* zero questions: parses, nothing to answer */
	assert_int_equal(dns_parse(b, DNS_HDR_LEN, DNS_PARSE_QUERY, &m), 0);
	assert_false(m.has_q);
}

static void test_opt_rules(void **state)
{
	uint8_t b[512];
	struct dns_msg m;
	size_t n = mkquery(b, sizeof(b), 1, "a.test", DNS_T_A, true, 100, 0x00010000);

	assert_int_equal(dns_parse(b, n, DNS_PARSE_QUERY, &m), 0);
	assert_int_equal(m.udp_size, 512);      /* raised to 512 */
	assert_int_equal(m.edns_version, 1);
	/* a second OPT: FORMERR (RFC 6891 6.1.1) */
	memcpy(b + n, b + n - 11, 11);
	put_be16(b + 10, 2);
	assert_int_equal(dns_parse(b, n + 11, DNS_PARSE_QUERY, &m), -EBADMSG);
	/* OPT in the answer section */
	put_be16(b + 10, 0);
	put_be16(b + 6, 1);
	assert_int_equal(dns_parse(b, n, DNS_PARSE_QUERY, &m), -EBADMSG);
	/* OPT with a non-root owner ("a") */
	put_be16(b + 6, 0);
	put_be16(b + 10, 1);
	memmove(b + n - 8, b + n - 10, 10);
	memcpy(b + n - 11, "\1a\0", 3);
	assert_int_equal(dns_parse(b, n + 2, DNS_PARSE_QUERY, &m), -EBADMSG);
	b[n - 11] = 0xc0;     /* "a" -> pointer to the question name: still not root */
	b[n - 10] = 12;
	memmove(b + n - 9, b + n - 8, 10);
	assert_int_equal(dns_parse(b, n + 1, DNS_PARSE_QUERY, &m), -EBADMSG);
}

static void test_build_a_reply(void **state)
{
	uint8_t q[512], out[512];
	struct dns_msg m, r;
	const uint8_t v4[4] = { 100, 64, 0, 7 };
	struct dns_rr an = { DNS_T_A, v4, 4 };
	struct dns_reply rep = { .rcode = DNS_R_NOERROR, .aa = true, .an = &an, .n_an = 1,
				 .ttl = 5, .limit = 512 };
	size_t n = mkquery(q, sizeof(q), 0x4242, "Alpha.example.test", DNS_T_A, true, 1232,
			   DNS_EDNS_DO);
	ssize_t k;

	assert_int_equal(dns_parse(q, n, DNS_PARSE_QUERY, &m), 0);
	k = dns_build_reply(out, sizeof(out), &m, &rep);
	assert_true(k > 0);
	assert_int_equal(dns_parse(out, (size_t)k, DNS_PARSE_QUERY, &r), 0);
	assert_int_equal(r.hdr.id, 0x4242);
	assert_int_equal(r.hdr.flags, DNS_F_QR | DNS_F_AA | DNS_F_RD | DNS_F_RA);
	assert_int_equal(r.hdr.ancount, 1);
	assert_true(dns_question_equal(&r.q, &m.q));   /* echoed in the original case */
	assert_true(r.has_opt && r.do_bit);
	/* answer: pointer to 12, A, IN, TTL 5, 4 bytes */
	size_t a = DNS_HDR_LEN + m.q.name_len + 4;
	assert_memory_equal(out + a, "\xc0\x0c\0\1\0\1\0\0\0\5\0\4\x64\x40\0\7", 16);

	/* too small a limit: answers dropped, TC set */
	rep.limit = 40;
	k = dns_build_reply(out, sizeof(out), &m, &rep);
	assert_true(k > 0);
	assert_int_equal(dns_parse(out, (size_t)k, DNS_PARSE_QUERY, &r), 0);
	assert_true(r.hdr.flags & DNS_F_TC);
	assert_int_equal(r.hdr.ancount, 0);
	/* no room at all */
	assert_int_equal(dns_build_reply(out, 20, &m, &rep), -ENOSPC);
}

static void test_build_rcodes(void **state)
{
	uint8_t q[512], out[512];
	struct dns_msg m, r;
	struct dns_reply rep = { 0 };
	size_t n = mkquery(q, sizeof(q), 9, "x.test", DNS_T_MX, false, 0, 0);
	ssize_t k;

	assert_int_equal(dns_parse(q, n, DNS_PARSE_QUERY, &m), 0);
	const unsigned rc[] = { DNS_R_NXDOMAIN, DNS_R_REFUSED, DNS_R_SERVFAIL, DNS_R_FORMERR };
	for (size_t i = 0; i < 4; i++) {
		rep.rcode = rc[i];
		k = dns_build_reply(out, sizeof(out), &m, &rep);
		assert_int_equal(k, n);
		assert_int_equal(dns_parse(out, (size_t)k, DNS_PARSE_QUERY, &r), 0);
		assert_int_equal(r.hdr.flags & DNS_F_RCODE, rc[i]);
		assert_false(r.has_opt);
	}
	/* BADVERS needs EDNS: extended rcode 1 in the OPT, 0 in the header */
	n = mkquery(q, sizeof(q), 9, "x.test", DNS_T_A, true, 1232, 0x00010000);
	assert_int_equal(dns_parse(q, n, DNS_PARSE_QUERY, &m), 0);
	rep.rcode = DNS_R_BADVERS;
	k = dns_build_reply(out, sizeof(out), &m, &rep);
	assert_int_equal(dns_parse(out, (size_t)k, DNS_PARSE_QUERY, &r), 0);
	assert_int_equal(r.hdr.flags & DNS_F_RCODE, 0);
	assert_int_equal(r.ext_rcode, 1);
}

static void test_truncate(void **state)
{
	uint8_t q[512], out[512];
	struct dns_msg m, r;
	size_t n = mkquery(q, sizeof(q), 9, "x.test", DNS_T_TXT, false, 0, 0);
	ssize_t k;

	put_be16(q + 2, DNS_F_QR | DNS_F_RD | DNS_F_RA | DNS_R_NXDOMAIN);
	assert_int_equal(dns_parse(q, n, DNS_PARSE_QUESTION, &m), 0);
	k = dns_truncate(out, sizeof(out), &m, 0x7777, true, false);
	assert_true(k > 0);
	assert_int_equal(dns_parse(out, (size_t)k, DNS_PARSE_QUERY, &r), 0);
	assert_int_equal(r.hdr.id, 0x7777);
	assert_int_equal(r.hdr.flags, DNS_F_QR | DNS_F_RD | DNS_F_RA | DNS_F_TC | DNS_R_NXDOMAIN);
	assert_true(r.has_opt);
	assert_true(dns_question_equal(&r.q, &m.q));
}

static void test_names(void **state)
{
	uint8_t w[DNS_NAME_MAX], d[DNS_NAME_MAX];
	char s[DNS_NAME_STR_MAX];
	size_t wl, dl;
	unsigned pre;
	char big[300];

	assert_int_equal(dns_name_from_str("A.Example.Test.", w, &wl), 0);
	assert_string_equal(dns_name_to_str(w, wl, s), "a.example.test");
	assert_int_equal(dns_name_labels(w, wl), 3);
	assert_int_equal(dns_name_from_str("example.test", d, &dl), 0);
	assert_true(dns_name_under(w, wl, d, dl, &pre));
	assert_int_equal(pre, 1);
	assert_true(dns_name_under(d, dl, d, dl, &pre));
	assert_int_equal(pre, 0);
	/* "xexample.test" is not under example.test */
	assert_int_equal(dns_name_from_str("xexample.test", w, &wl), 0);
	assert_false(dns_name_under(w, wl, d, dl, &pre));
	assert_int_equal(dns_name_from_str(".", w, &wl), 0);
	assert_int_equal(wl, 1);
	assert_string_equal(dns_name_to_str(w, wl, s), ".");
	assert_int_equal(dns_name_from_str("a..b", w, &wl), -EINVAL);
	memset(big, 'a', 64);
	big[64] = '\0';
	assert_int_equal(dns_name_from_str(big, w, &wl), -EINVAL);
	/* escapes */
	memcpy(w, "\3a.\xff\0", 5);
	assert_string_equal(dns_name_to_str(w, 5, s), "a\\046\\255");
}

static void test_question_equal_is_exact(void **state)
{
	uint8_t b1[128], b2[128];
	struct dns_msg a, b;

	mkquery(b1, sizeof(b1), 1, "x.test", DNS_T_A, false, 0, 0);
	mkquery(b2, sizeof(b2), 1, "x.test", DNS_T_A, false, 0, 0);
	b2[13] = 'X';
	assert_int_equal(dns_parse(b1, 24, DNS_PARSE_QUERY, &a), 0);
	assert_int_equal(dns_parse(b2, 24, DNS_PARSE_QUERY, &b), 0);
	assert_false(dns_question_equal(&a.q, &b.q));
	b2[13] = 'x';
	assert_int_equal(dns_parse(b2, 24, DNS_PARSE_QUERY, &b), 0);
	assert_true(dns_question_equal(&a.q, &b.q));
	b.q.qtype = DNS_T_AAAA;
	assert_false(dns_question_equal(&a.q, &b.q));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_query),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_compression_loop_self),
		cmocka_unit_test(test_compression_loop_pair),
		cmocka_unit_test(test_pointer_forward_and_past_end),
		cmocka_unit_test(test_valid_backward_pointer),
		cmocka_unit_test(test_label_64_and_reserved),
		cmocka_unit_test(test_name_255_ok_256_not),
		cmocka_unit_test(test_name_too_long_through_pointers),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_opt_rules),
		cmocka_unit_test(test_build_a_reply),
		cmocka_unit_test(test_build_rcodes),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_question_equal_is_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
