/* src/common/gso.c: checksums, the virtio-net header, partial checksum
 * completion and GSO segmentation of 64 KB TCP/IPv4, TCP/IPv6 and UDP
 * super-packets (every segment checked by recomputing), and hostile
 * header values rejected with -EINVAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "gso.h"

#define L2 14
#define BIG (L2 + 40 + 65535)      /* IPv6: header + 64 KB payload */

static uint8_t pkt[BIG];

struct segs {
	int n;
	int ver;
	uint8_t proto;
	size_t thl;                     /* L4 header length */
	uint32_t seq0;
	uint16_t id0;
	uint8_t flags0;
	size_t mss, payload;
	size_t got;                     /* payload bytes seen */
	const uint8_t *orig;            /* original payload */
	int stop_at;                    /* return -ECANCELED at this segment (0 = never) */
	bool no_l2;                     /* cut from the IP header (l3off 0) */
};

static void mk_eth(uint8_t *p, uint16_t type)
{
	memset(p, 0x02, 6);
	memset(p + 6, 0x04, 6);
	put_be16(p + 12, type);
}

/* TCP header with 12 option bytes (NOP NOP timestamps). */
static size_t mk_tcp(uint8_t *t, uint32_t seq, uint8_t flags)
{
	memset(t, 0, 32);
	put_be16(t, 40000);
	put_be16(t + 2, 443);
	put_be32(t + 4, seq);
	put_be32(t + 8, 77);
	t[12] = 8 << 4;
	t[13] = flags;
	put_be16(t + 14, 65000);
	t[20] = 1;
	t[21] = 1;
	t[22] = 8;
	t[23] = 10;
	put_be32(t + 24, 0x11223344);
	put_be32(t + 28, 0x55667788);
	return 32;
}

static void fill(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + (i >> 8));
}

/* Ethernet + IPv4 + L4 header + payload; returns the frame length. */
static size_t mk_v4(uint8_t proto, size_t payload, uint8_t tcpflags)
{
	uint8_t *ip = pkt + L2, *l4 = ip + 20;
	size_t thl = proto == 6 ? mk_tcp(l4, 0xfffff000u, tcpflags) : 8;
	size_t tot = 20 + thl + payload;

	mk_eth(pkt, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)tot);
	put_be16(ip + 4, 0xfffe);       /* id wraps during segmentation */
	put_be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	put_be32(ip + 12, 0xc0000201);
	put_be32(ip + 16, 0xc6336402);
	put_be16(ip + 10, ip_csum(ip, 20));
	if (proto == 17) {
		put_be16(l4, 5000);
		put_be16(l4 + 2, 6000);
		put_be16(l4 + 4, (uint16_t)(8 + payload));
		put_be16(l4 + 6, 0);
	}
	fill(l4 + thl, payload);
	return L2 + tot;
}

static size_t mk_v6(uint8_t proto, size_t payload, uint8_t tcpflags)
{
	uint8_t *ip = pkt + L2, *l4 = ip + 40;
	size_t thl = proto == 6 ? mk_tcp(l4, 1000, tcpflags) : 8;

	mk_eth(pkt, 0x86dd);
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put_be16(ip + 4, (uint16_t)(thl + payload));
	ip[6] = proto;
	ip[7] = 64;
	ip[8] = 0x20;
	ip[9] = 0x01;
	ip[10] = 0x0d;
	ip[11] = 0xb8;
	ip[23] = 1;
	memcpy(ip + 24, ip + 8, 16);
	ip[39] = 2;
	if (proto == 17) {
		put_be16(l4, 5000);
		put_be16(l4 + 2, 6000);
		put_be16(l4 + 4, (uint16_t)(8 + payload));
	}
	fill(l4 + thl, payload);
	return L2 + 40 + thl + payload;
}

static int check_seg(void *arg, uint8_t *p, size_t len)
{
	struct segs *s = arg;
	size_t hl = s->ver == 4 ? 20 : 40, n = len - hl - s->thl;
	const uint8_t *l4 = p + hl;
	bool last = s->got + n == s->payload;
	uint32_t sum;

	s->n++;
	if (s->stop_at && s->n == s->stop_at)
		return -ECANCELED;
	/* the link header was copied in front */
	if (!s->no_l2)
		assert_memory_equal(p - L2, pkt, L2);
	assert_true(n <= s->mss);
	if (!last)
		assert_int_equal(n, s->mss);
	if (s->ver == 4) {
		assert_int_equal(get_be16(p + 2), len);
		assert_int_equal(get_be16(p + 4), (uint16_t)(s->id0 + s->n - 1));
		assert_int_equal(inet_csum(p, 20), 0);
		assert_int_equal(ip_csum(p, 20), get_be16(p + 10));
		sum = inet_pseudo_sum(p + 12, p + 16, 4, s->proto, (uint32_t)(len - hl));
	} else {
		assert_int_equal(get_be16(p + 4), len - 40);
		sum = inet_pseudo_sum(p + 8, p + 24, 16, s->proto, (uint32_t)(len - hl));
	}
	/* the L4 checksum verifies over pseudo header + segment */
	assert_int_equal(inet_csum_fold(inet_csum_add(sum, l4, len - hl)), 0);
	if (s->proto == 6) {
		uint8_t f = l4[13];

		assert_int_equal(get_be32(l4 + 4), s->seq0 + (uint32_t)s->got);
		assert_int_equal(f & 0x01, last ? (s->flags0 & 0x01) : 0);      /* FIN */
		assert_int_equal(f & 0x08, last ? (s->flags0 & 0x08) : 0);      /* PSH */
		assert_int_equal(f & 0x80, s->n == 1 ? (s->flags0 & 0x80) : 0); /* CWR */
		assert_int_equal(f & 0x10, s->flags0 & 0x10);                    /* ACK kept */
		assert_memory_equal(l4 + 20, s->orig - s->thl + 20, 12);         /* options */
	} else {
		assert_int_equal(get_be16(l4 + 4), 8 + n);
	}
	assert_memory_equal(l4 + s->thl, s->orig + s->got, n);
	s->got += n;
	return 0;
}

/* gso_segment() on a copy of the frame in pkt (len bytes; with l3off 0
 * from its IP header on), in a buffer of exactly that size so that a
 * write past it is caught by the sanitizers; pkt stays as built, for the
 * callbacks to compare with. */
static int cut(const struct gso_hdr *h, size_t len, size_t l3off, gso_seg_fn fn, void *arg)
{
	const uint8_t *from = l3off ? pkt : pkt + L2;
	size_t flen = l3off ? len : len - L2;
	uint8_t *b = malloc(flen);
	int r;

	assert_non_null(b);
	memcpy(b, from, flen);
	r = gso_segment(h, b, flen, l3off, fn, arg);
	free(b);
	return r;
}

static void test_csum_vectors(void **state)
{
	/* RFC 1071 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 */
	static const uint8_t v[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	static const uint8_t iph[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
				       0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	uint8_t odd[3] = { 0x01, 0x02, 0x03 };

	assert_int_equal(inet_csum_add(0, v, sizeof(v)) % 0xffff, 0x2ddf0 % 0xffff);
	assert_int_equal(inet_csum(v, sizeof(v)), (uint16_t)~0xddf2);
	assert_int_equal(ip_csum(iph, sizeof(iph)), 0xb861);
	assert_int_equal(inet_csum(iph, sizeof(iph)), 0);
	/* odd length: last byte padded with zero */
	assert_int_equal(inet_csum(odd, 3), (uint16_t)~(0x0102 + 0x0300));
}

/* The sum as RFC 1071 defines it, a byte pair at a time. */
static uint16_t csum_ref(uint32_t sum, const uint8_t *b, size_t len)
{
	uint64_t s = sum;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The word-at-a-time sum agrees with the definition at every length and
 * alignment, after any incoming partial sum and split over two calls,
 * over all-zero, all-ones and random bytes. */
static void test_csum_words(void **state)
{
	static const uint32_t sums[] = { 0x12345, 0xffff, 0x1fffe, 0x80000000, 0xfffffffe,
					 0xffffffff };
	static uint8_t buf[70000];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (uint8_t)(seed >> 16);
	}
	for (size_t len = 0; len < 300; len++)
		for (size_t off = 0; off < 8; off++) {
			assert_int_equal(inet_csum(buf + off, len), csum_ref(0, buf + off, len));
			for (size_t k = 0; k < sizeof(sums) / sizeof(sums[0]); k++)
				assert_int_equal(inet_csum_fold(inet_csum_add(sums[k], buf + off, len)),
						 csum_ref(sums[k], buf + off, len));
			/* chained: an even first part, then the rest */
			assert_int_equal(inet_csum_fold(inet_csum_add(inet_csum_add(0, buf + off,
										    len / 4 * 2),
								      buf + off + len / 4 * 2,
								      len - len / 4 * 2)),
					 csum_ref(0, buf + off, len));
		}
	assert_int_equal(inet_csum(buf + 3, 65535), csum_ref(0, buf + 3, 65535));
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(inet_csum(buf, 65536), csum_ref(0, buf, 65536));
	assert_int_equal(inet_csum(buf + 1, 1001), csum_ref(0, buf + 1, 1001));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(inet_csum_add(0, buf, 1500), 0);
	assert_int_equal(inet_csum(buf, 1500), 0xffff);
}

static void test_hdr_parse(void **state)
{
	struct gso_hdr h = { .flags = 1, .gso_type = GSO_TCPV6 | GSO_ECN, .hdr_len = 86,
			     .gso_size = 1428, .csum_start = 54, .csum_offset = 16 }, g;
	uint8_t b[GSO_HDR_LEN + 1];
	struct cur c;

	gso_put_hdr(b, &h);
	b[GSO_HDR_LEN] = 0xaa;
	c = cur_make(b, sizeof(b));
	assert_int_equal(gso_parse_hdr(&c, &g), 0);
	assert_memory_equal(&g, &h, sizeof(g));
	assert_int_equal(cur_left(&c), 1);

	c = cur_make(b, GSO_HDR_LEN - 1);
	assert_int_equal(gso_parse_hdr(&c, &g), -EINVAL);
	assert_int_equal(cur_left(&c), GSO_HDR_LEN - 1);
}

static void test_tcp4_64k(void **state)
{
	size_t payload = 65535 - 20 - 32;
	size_t len = mk_v4(6, payload, 0x80 | 0x10 | 0x08 | 0x01);
	struct gso_hdr h = { .flags = GSO_F_NEEDS_CSUM, .gso_type = GSO_TCPV4 | GSO_ECN,
			     .hdr_len = L2 + 52, .gso_size = 1448, .csum_start = L2 + 20,
			     .csum_offset = 16 };
	struct segs s = { .ver = 4, .proto = 6, .thl = 32, .seq0 = 0xfffff000u, .id0 = 0xfffe,
			  .flags0 = 0x80 | 0x10 | 0x08 | 0x01, .mss = 1448, .payload = payload,
			  .orig = pkt + L2 + 52 };
	int r;

	/* the partial checksum field holds garbage: it is recomputed */
	put_be16(pkt + L2 + 20 + 16, 0x1234);
	r = cut(&h, len, L2, check_seg, &s);
	assert_int_equal(r, (int)((payload + 1447) / 1448));
	assert_int_equal(s.n, r);
	assert_int_equal(s.got, payload);
}

static void test_tcp6_64k(void **state)
{
	size_t payload = 65535 - 32;
	size_t len = mk_v6(6, payload, 0x10 | 0x08);
	struct gso_hdr h = { .gso_type = GSO_TCPV6, .hdr_len = 0, .gso_size = 1428 };
	struct segs s = { .ver = 6, .proto = 6, .thl = 32, .seq0 = 1000, .flags0 = 0x18,
			  .mss = 1428, .payload = payload, .orig = pkt + L2 + 72 };
	int r;

	r = cut(&h, len, L2, check_seg, &s);
	assert_int_equal(r, (int)((payload + 1427) / 1428));
	assert_int_equal(s.got, payload);
}

static int count_cb(void *arg, uint8_t *p, size_t len);

static void test_udp_l4(void **state)
{
	size_t payload = 9000;
	size_t len = mk_v4(17, payload, 0);
	struct gso_hdr h = { .gso_type = GSO_UDP_L4, .gso_size = 1200 };
	struct segs s = { .ver = 4, .proto = 17, .thl = 8, .id0 = 0xfffe, .mss = 1200,
			  .payload = payload, .orig = pkt + L2 + 28 };

	assert_int_equal(cut(&h, len, L2, check_seg, &s), 8);
	assert_int_equal(s.got, payload);

	len = mk_v6(17, payload, 0);
	memset(&s, 0, sizeof(s));
	s = (struct segs){ .ver = 6, .proto = 17, .thl = 8, .mss = 1200, .payload = payload,
			   .orig = pkt + L2 + 48 };
	assert_int_equal(cut(&h, len, L2, check_seg, &s), 8);

	/* more segments than a UDP GSO send may have: refused */
	{
		struct gso_hdr x = { .gso_type = GSO_UDP_L4, .gso_size = 8 };
		int n = 0;

		len = mk_v4(17, GSO_UDP_MAX_SEGS * 8 + 1, 0);
		assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
		len = mk_v4(17, GSO_UDP_MAX_SEGS * 8, 0);
		assert_int_equal(cut(&x, len, L2, count_cb, &n), GSO_UDP_MAX_SEGS);
	}
}

static size_t tun_len;
static uint8_t tun_pkt[200];

static int tun_cb(void *arg, uint8_t *q, size_t n)
{
	(*(int *)arg)++;
	assert_int_equal(n, tun_len);
	assert_ptr_equal(q, tun_pkt);          /* where it lay */
	assert_int_equal(inet_csum(q, 20), 0);
	assert_int_equal(q[20 + 13], 0x19);     /* FIN/PSH kept: it is the last */
	return 0;
}

/* TUN style: no link header (l3off 0), and a packet smaller than gso_size. */
static void test_tun_single(void **state)
{
	struct gso_hdr h = { .gso_type = GSO_TCPV4, .gso_size = 1448 };
	int calls = 0;

	tun_len = mk_v4(6, 100, 0x19) - L2;
	memcpy(tun_pkt, pkt + L2, tun_len);
	assert_int_equal(gso_segment(&h, tun_pkt, tun_len, 0, tun_cb, &calls), 1);
	assert_int_equal(calls, 1);
}

static int count_cb(void *arg, uint8_t *p, size_t len)
{
	(*(int *)arg)++;
	return 0;
}

/* The UDP checksum of the one packet handed over. */
static int udp_csum_cb(void *arg, uint8_t *p, size_t len)
{
	*(uint16_t *)arg = get_be16(p + 20 + 6);
	return 0;
}

/* NEEDS_CSUM without GSO: the pseudo-header sum in the field is completed. */
static void test_complete_csum(void **state)
{
	size_t len = mk_v4(17, 33, 0);
	uint8_t *ip = pkt + L2, *udp = ip + 20;
	uint32_t ps = inet_pseudo_sum(ip + 12, ip + 16, 4, 17, 8 + 33);
	uint16_t want, got = 0;
	struct gso_hdr h = { .flags = GSO_F_NEEDS_CSUM, .gso_type = GSO_NONE,
			     .csum_start = L2 + 20, .csum_offset = 6 };

	want = inet_l4_csum(ip + 12, ip + 16, 4, 17, udp, 8 + 33, 6);
	/* what the kernel leaves: the folded, uncomplemented pseudo sum */
	put_be16(udp + 6, (uint16_t)~inet_csum_fold(ps));
	/* and Ethernet padding past the IP length, which is dropped */
	memset(pkt + len, 0xee, 10);
	assert_int_equal(cut(&h, len + 10, L2, udp_csum_cb, &got), 1);
	assert_int_equal(got, want);

	assert_int_equal(gso_complete_csum(pkt, len, L2 + 20, 6), 0);
	assert_int_equal(get_be16(udp + 6), want);
	/* hostile offsets */
	assert_int_equal(gso_complete_csum(pkt, len, (uint16_t)(len + 1), 0), -EINVAL);
	assert_int_equal(gso_complete_csum(pkt, len, (uint16_t)len, 0), -EINVAL);
	assert_int_equal(gso_complete_csum(pkt, len, (uint16_t)(len - 1), 0), -EINVAL);
	assert_int_equal(gso_complete_csum(pkt, len, L2 + 20, (uint16_t)(len - L2 - 21)),
			 -EINVAL);
	assert_int_equal(gso_complete_csum(pkt, len, L2 + 20, 0xffff), -EINVAL);
}

static void test_hostile(void **state)
{
	size_t len = mk_v4(6, 5000, 0x10);
	struct gso_hdr h = { .gso_type = GSO_TCPV4, .gso_size = 1448 }, x;
	int n = 0;

	x = h;
	x.gso_size = 0;
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	/* cut finer than any TCP cuts: more than GSO_TCP_MAX_SEGS packets
	 * out of one frame */
	len = mk_v4(6, 60000, 0x10);
	x.gso_size = 1;
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	x.gso_size = 60000 / GSO_TCP_MAX_SEGS;      /* 29: 2069 segments */
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	assert_int_equal(n, 0);
	x.gso_size = 36;   /* the smallest a kernel sends: 1667 segments */
	assert_int_equal(cut(&x, len, L2, count_cb, &n), (60000 + 35) / 36);
	n = 0;
	len = mk_v4(6, 5000, 0x10);     /* cut in pieces: build it again */
	x = h;
	x.hdr_len = (uint16_t)(len + 1);
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	x = h;
	x.flags = GSO_F_NEEDS_CSUM;
	x.csum_start = L2 + 20;
	x.csum_offset = (uint16_t)(len - L2 - 20 - 1);
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	x.csum_start = (uint16_t)(len + 4);
	x.csum_offset = 0;
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	x.csum_start = 2;               /* inside the link header */
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	/* fuzz_frame found: a GSO_NONE "checksum" inside the IPv4 header */
	x.gso_type = GSO_NONE;
	x.csum_start = L2 + 11;
	x.csum_offset = 6;
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	x.gso_type = GSO_TCPV4;
	/* type / packet mismatches */
	x = h;
	x.gso_type = GSO_TCPV6;
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	x.gso_type = GSO_UDP_L4;
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	x.gso_type = GSO_UDP;
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	x.gso_type = 42;
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	/* truncated: IP total length past the buffer */
	assert_int_equal(cut(&h, len - 1, L2, count_cb, &n),
			 -EINVAL);
	assert_int_equal(cut(&h, L2 + 10, L2, count_cb, &n),
			 -EINVAL);
	assert_int_equal(cut(&h, 4, L2, count_cb, &n), -EINVAL);
	/* TCP data offset below 5 / past the packet */
	pkt[L2 + 20 + 12] = 4 << 4;
	assert_int_equal(cut(&h, len, L2, count_cb, &n), -EINVAL);
	pkt[L2 + 20 + 12] = 8 << 4;
	/* a fragment cannot be segmented */
	put_be16(pkt + L2 + 6, 0x2000);
	assert_int_equal(cut(&h, len, L2, count_cb, &n), -EINVAL);
	put_be16(pkt + L2 + 6, 0x4000);
	/* non-TCP with a TCP GSO type */
	len = mk_v4(17, 5000, 0);
	assert_int_equal(cut(&h, len, L2, count_cb, &n), -EINVAL);
	/* IPv4 version nibble wrong */
	len = mk_v4(6, 5000, 0x10);
	pkt[L2] = 0x55;
	assert_int_equal(cut(&h, len, L2, count_cb, &n), -EINVAL);
	/* IPv6 jumbo (payload length 0) */
	len = mk_v6(6, 5000, 0x10);
	put_be16(pkt + L2 + 4, 0);
	x = h;
	x.gso_type = GSO_TCPV6;
	assert_int_equal(cut(&x, len, L2, count_cb, &n), -EINVAL);
	assert_int_equal(n, 0);

	/* headers past GSO_HDRS_MAX (a link header of 150 bytes) */
	len = mk_v4(6, 5000, 0x10);
	{
		uint8_t *b = malloc(150 + len - L2);

		assert_non_null(b);
		memset(b, 0, 150);
		memcpy(b + 150, pkt + L2, len - L2);
		assert_int_equal(gso_segment(&h, b, 150 + len - L2, 150, count_cb, &n), -EINVAL);
		free(b);
		assert_int_equal(n, 0);
	}
	/* callback error stops and propagates */
	{
		struct segs s = { .ver = 4, .proto = 6, .thl = 32, .seq0 = 0xfffff000u,
				  .id0 = 0xfffe, .flags0 = 0x10, .mss = 1448, .payload = 5000,
				  .orig = pkt + L2 + 52, .stop_at = 2 };

		assert_int_equal(cut(&h, len, L2, check_seg, &s),
				 -ECANCELED);
		assert_int_equal(s.n, 2);
	}
}

/* Every payload size around the segment size, TCP and UDP over IPv4 and
 * IPv6, behind a link header and from the IP header on: each segment
 * checked by check_seg against the packet as built. */
static void test_sizes(void **state)
{
	struct gso_hdr t4 = { .flags = GSO_F_NEEDS_CSUM, .gso_type = GSO_TCPV4 | GSO_ECN,
			      .gso_size = 1448, .csum_offset = 16 };
	struct gso_hdr t6 = { .gso_type = GSO_TCPV6, .gso_size = 1428 };
	struct gso_hdr u = { .gso_type = GSO_UDP_L4, .gso_size = 1200 };
	size_t sizes[] = { 0, 1, 100, 1199, 1200, 1447, 1448, 1449, 1448 * 5, 9001,
			   65535 - 20 - 32 };
	uint8_t f4 = 0x80 | 0x10 | 0x08 | 0x01, f6 = 0x10 | 0x08;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t pl = sizes[i];

		for (size_t l3off = 0; l3off <= L2; l3off += L2) {
			struct segs s;
			size_t len;
			int r;

			t4.csum_start = (uint16_t)(l3off + 20);
			len = mk_v4(6, pl, f4);
			s = (struct segs){ .ver = 4, .proto = 6, .thl = 32, .seq0 = 0xfffff000u,
					   .id0 = 0xfffe, .flags0 = f4, .mss = 1448, .payload = pl,
					   .orig = pkt + L2 + 52, .no_l2 = !l3off };
			r = cut(&t4, len, l3off, check_seg, &s);
			assert_int_equal(r, pl ? (int)((pl + 1447) / 1448) : 1);
			assert_int_equal(s.n, r);
			assert_int_equal(s.got, pl);
			len = mk_v6(6, pl, f6);
			s = (struct segs){ .ver = 6, .proto = 6, .thl = 32, .seq0 = 1000,
					   .flags0 = f6, .mss = 1428, .payload = pl,
					   .orig = pkt + L2 + 72, .no_l2 = !l3off };
			r = cut(&t6, len, l3off, check_seg, &s);
			assert_int_equal(r, pl ? (int)((pl + 1427) / 1428) : 1);
			assert_int_equal(s.got, pl);
			if (pl > 9001)
				continue;
			len = mk_v4(17, pl, 0);
			s = (struct segs){ .ver = 4, .proto = 17, .thl = 8, .id0 = 0xfffe,
					   .mss = 1200, .payload = pl, .orig = pkt + L2 + 28,
					   .no_l2 = !l3off };
			r = cut(&u, len, l3off, check_seg, &s);
			assert_int_equal(r, pl ? (int)((pl + 1199) / 1200) : 1);
			assert_int_equal(s.got, pl);
			len = mk_v6(17, pl, 0);
			s = (struct segs){ .ver = 6, .proto = 17, .thl = 8, .mss = 1200,
					   .payload = pl, .orig = pkt + L2 + 48, .no_l2 = !l3off };
			r = cut(&u, len, l3off, check_seg, &s);
			assert_int_equal(r, pl ? (int)((pl + 1199) / 1200) : 1);
			assert_int_equal(s.got, pl);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_vectors),
		cmocka_unit_test(test_csum_words),
		cmocka_unit_test(test_hdr_parse),
		cmocka_unit_test(test_tcp4_64k),
		cmocka_unit_test(test_tcp6_64k),
		cmocka_unit_test(test_udp_l4),
		cmocka_unit_test(test_tun_single),
		cmocka_unit_test(test_complete_csum),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
