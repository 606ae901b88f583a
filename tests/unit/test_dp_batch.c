/* src/node/batch.c: the batch planner (UDP GSO runs), the UDP GRO split,
 * a TUN super-packet cut into wire packets, and real datagrams through
 * loopback sockets with every switch combination (sendmmsg + UDP_SEGMENT
 * in, recvmmsg + UDP_GRO out): every datagram arrives once, in order,
 * byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "batch.h"
#include "buf.h"
#include "dpio.h"
#include "gso.h"
#include "udp.h"

/* ---- planner ---- */

static void set_dst(struct sockaddr_storage *d, socklen_t *dl, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)d;

	memset(d, 0, sizeof(*d));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	s->sin_addr.s_addr = htonl(0xc0000201);
	*dl = sizeof(*s);
}

static void test_plan(void **state)
{
	static uint16_t len[200];
	static struct sockaddr_storage dst[200];
	static socklen_t dl[200];
	static struct dp_group g[200];
	size_t n = 0, ng, i, total = 0;

	(void)state;
	/* 70 full-size to port 1 (more than DP_GSO_SEGS... and bytes), one short,
	 * 3 full-size again, 2 to port 2, one larger than the run. */
	for (i = 0; i < 70; i++, n++) {
		len[n] = 1432;
		set_dst(&dst[n], &dl[n], 1);
	}
	len[n] = 100;
	set_dst(&dst[n], &dl[n], 1);
	n++;
	for (i = 0; i < 3; i++, n++) {
		len[n] = 1432;
		set_dst(&dst[n], &dl[n], 1);
	}
	for (i = 0; i < 2; i++, n++) {
		len[n] = 500;
		set_dst(&dst[n], &dl[n], 2);
	}
	len[n] = 600;
	set_dst(&dst[n], &dl[n], 2);
	n++;

	ng = dp_plan(len, dst, dl, n, true, g);
	/* 1432 * 45 = 64440 <= 65000 < 1432 * 46: runs of 45 */
	assert_int_equal(g[0].first, 0);
	assert_int_equal(g[0].count, 45);
	assert_int_equal(g[0].seg, 1432);
	/* 25 full + the short one end the next run */
	assert_int_equal(g[1].first, 45);
	assert_int_equal(g[1].count, 26);
	assert_int_equal(g[2].count, 3);
	assert_int_equal(g[3].count, 2);       /* new destination */
	assert_int_equal(g[3].seg, 500);
	assert_int_equal(g[4].count, 1);       /* larger: a new message */
	assert_int_equal(g[4].seg, 0);
	assert_int_equal(ng, 5);
	for (i = 0; i < ng; i++) {
		size_t b = 0;

		assert_int_equal(g[i].first, total);
		total += g[i].count;
		assert_true(g[i].count <= DP_GSO_SEGS);
		for (size_t e = g[i].first; e < g[i].first + g[i].count; e++) {
			b += len[e];
			if (e + 1 < g[i].first + g[i].count)
				assert_int_equal(len[e], g[i].seg);
			else if (g[i].count > 1)
				assert_true(len[e] <= g[i].seg);
		}
		assert_true(b <= DP_GSO_BYTES || g[i].count == 1);
	}
	assert_int_equal(total, n);

	/* Without GSO: one message per datagram. */
	ng = dp_plan(len, dst, dl, n, false, g);
	assert_int_equal(ng, n);
	for (i = 0; i < ng; i++) {
		assert_int_equal(g[i].count, 1);
		assert_int_equal(g[i].seg, 0);
	}
	assert_int_equal(dp_plan(len, dst, dl, 0, true, g), 0);
}

/* ---- GRO split ---- */

struct got {
	size_t n, bytes;
	size_t len[256];
	uint8_t first[256];
};

static void got_fn(void *arg, uint8_t *buf, size_t len, const struct sockaddr *from)
{
	struct got *g = arg;

	(void)from;
	if (g->n < 256) {
		g->len[g->n] = len;
		g->first[g->n] = len ? buf[0] : 0;
	}
	g->n++;
	g->bytes += len;
}

static void test_split(void **state)
{
	static uint8_t buf[10000];
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct got g = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i / 1432);
	assert_int_equal(dp_split(buf, sizeof(buf), 1432, (struct sockaddr *)&from, got_fn, &g),
			 7);
	assert_int_equal(g.n, 7);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(g.len[i], 1432);
		assert_int_equal(g.first[i], i);
	}
	assert_int_equal(g.len[6], 10000 - 6 * 1432);
	assert_int_equal(g.bytes, sizeof(buf));
	/* no segment size, or one larger than the buffer: one datagram */
	memset(&g, 0, sizeof(g));
	assert_int_equal(dp_split(buf, 500, 0, (struct sockaddr *)&from, got_fn, &g), 1);
	assert_int_equal(dp_split(buf, 500, 1432, (struct sockaddr *)&from, got_fn, &g), 1);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.len[1], 500);
}

/* ---- TUN super-packet ---- */

#define PAYLOAD 20000
#define MSS 1348

static uint8_t tunbuf[GSO_HDR_LEN + 40 + 20 + PAYLOAD];
static uint8_t joined[PAYLOAD];

struct segs {
	int n;
	size_t got, maxlen;
	bool bad;
	bool tos;                /* keep each segment's ECN field in ecn[] */
	uint8_t ecn[64];
};

static void count_fn(void *arg, uint8_t *pkt, size_t len)
{
	struct segs *s = arg;

	(void)pkt;
	(void)len;
	s->n++;
}

static void seg_fn(void *arg, uint8_t *pkt, size_t len)
{
	struct segs *s = arg;
	size_t ihl = (size_t)(pkt[0] & 15) * 4, l4 = len - ihl, thl;

	if (s->tos && s->n < 64)
		s->ecn[s->n] = pkt[1] & 3;
	s->n++;
	if (len > s->maxlen)
		s->maxlen = len;
	/* valid IPv4 header and TCP checksums */
	if (inet_csum(pkt, ihl) != 0 || get_be16(pkt + 2) != len)
		s->bad = true;
	if (inet_csum_fold(inet_csum_add(inet_pseudo_sum(pkt + 12, pkt + 16, 4, 6, (uint32_t)l4),
					 pkt + ihl, l4)) != 0)
		s->bad = true;
	thl = (size_t)(pkt[ihl + 12] >> 4) * 4;
	if (s->got + l4 - thl > PAYLOAD) {
		s->bad = true;
		return;
	}
	memcpy(joined + s->got, pkt + ihl + thl, l4 - thl);
	s->got += l4 - thl;
}

/* A TCP super-packet of PAYLOAD bytes as the kernel leaves it in tunbuf
 * (vnet header, partial checksum); tos: its IP ToS byte.  Its length. */
static size_t mk_super(uint8_t tos)
{
	uint8_t *ip = tunbuf + GSO_HDR_LEN, *tcp = ip + 20;
	struct gso_hdr h = { .flags = GSO_F_NEEDS_CSUM, .gso_type = GSO_TCPV4, .hdr_len = 40,
			     .gso_size = MSS, .csum_start = 20, .csum_offset = 16 };
	size_t plen = 40 + PAYLOAD;
	uint8_t src[4] = { 100, 64, 0, 1 }, dst[4] = { 100, 64, 0, 2 };

	memset(tunbuf, 0, sizeof(tunbuf));
	ip[0] = 0x45;
	ip[1] = tos;
	put_be16(ip + 2, (uint16_t)plen);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	put_be16(ip + 10, ip_csum(ip, 20));
	put_be16(tcp, 40000);
	put_be16(tcp + 2, 5201);
	put_be32(tcp + 4, 1000);
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;
	for (size_t i = 0; i < PAYLOAD; i++)
		tcp[20 + i] = (uint8_t)(i * 7 + 3);
	/* partial checksum: the pseudo-header sum, as the kernel leaves it */
	put_be16(tcp + 16, (uint16_t)~inet_csum_fold(inet_pseudo_sum(src, dst, 4, 6,
								     20 + PAYLOAD)));
	gso_put_hdr(tunbuf, &h);
	return GSO_HDR_LEN + plen;
}

static void test_tun_input(void **state)
{
	uint8_t *ip = tunbuf + GSO_HDR_LEN, *tcp = ip + 20;
	struct gso_hdr h;
	size_t plen = 40 + PAYLOAD;
	struct segs s = { 0 };
	uint8_t src[4] = { 100, 64, 0, 1 }, dst[4] = { 100, 64, 0, 2 };

	(void)state;
	mk_super(0);
	assert_int_equal(dp_tun_input(tunbuf, GSO_HDR_LEN + plen, seg_fn, &s),
			 (PAYLOAD + MSS - 1) / MSS);
	assert_false(s.bad);
	assert_int_equal(s.got, PAYLOAD);
	assert_true(s.maxlen <= 40 + MSS);
	for (size_t i = 0; i < PAYLOAD; i++)
		assert_int_equal(joined[i], (uint8_t)(i * 7 + 3));

	/* A plain packet with a zero header: handed over in place. */
	memset(&s, 0, sizeof(s));
	memset(&h, 0, sizeof(h));
	gso_put_hdr(tunbuf, &h);
	put_be16(ip + 2, 40 + 100);
	put_be16(ip + 10, 0);
	put_be16(ip + 10, ip_csum(ip, 20));
	put_be16(tcp + 16, 0);
	put_be16(tcp + 16, inet_l4_csum(src, dst, 4, 6, tcp, 120, 16));
	assert_int_equal(dp_tun_input(tunbuf, GSO_HDR_LEN + 140, seg_fn, &s), 1);
	assert_false(s.bad);
	assert_int_equal(s.got, 100);

	/* Hostile: shorter than a header, a GSO size of 0. */
	assert_int_equal(dp_tun_input(tunbuf, 5, seg_fn, &s), -EINVAL);
	h.gso_type = GSO_TCPV4;
	gso_put_hdr(tunbuf, &h);
	assert_true(dp_tun_input(tunbuf, GSO_HDR_LEN + 140, seg_fn, &s) < 0);
}

/* A congestion signal (fq.h): an ECN-capable packet is marked CE, its
 * header checksum still right, nothing lost; any other loses its first
 * wire packet and no more. */
static void test_tun_signal(void **state)
{
	struct dp_tun *t = dp_tun_new(-1, true, &DP_CONF_ALL);
	size_t len, nseg = (PAYLOAD + MSS - 1) / MSS;
	struct segs s = { 0 };

	(void)state;
	assert_non_null(t);
	len = mk_super(0x02);                               /* ECT(0) */
	s.tos = true;
	assert_int_equal(dp_tun_handle(t, tunbuf, len, true, seg_fn, &s), (int)nseg);
	assert_false(s.bad);                                /* checksums right */
	assert_int_equal(s.n, nseg);
	assert_int_equal(s.got, PAYLOAD);
	/* CE on the first wire packet only, ECT(0) on the rest */
	assert_int_equal(s.ecn[0], 3);
	for (size_t i = 1; i < nseg; i++)
		assert_int_equal(s.ecn[i], 2);
	/* (cut in place: the super-packet in tunbuf is left in pieces) */
	memset(&s, 0, sizeof(s));
	len = mk_super(0);                                  /* not ECT */
	assert_int_equal(dp_tun_handle(t, tunbuf, len, true, seg_fn, &s), (int)nseg);
	assert_false(s.bad);
	assert_int_equal(s.n, nseg - 1);
	assert_int_equal(s.got, PAYLOAD - MSS);             /* the first went */
	assert_int_equal(joined[0], (uint8_t)(MSS * 7 + 3));
	assert_int_equal(dp_tun_stats(t)->ce_marked, 1);
	assert_int_equal(dp_tun_stats(t)->signal_dropped, 1);
	/* the same on a plain device: the one packet marked, or dropped */
	{
		struct dp_tun *p = dp_tun_new(-1, false, &DP_CONF_ALL);
		uint8_t pkt[120];

		memset(&s, 0, sizeof(s));
		mk_super(0x01);                             /* ECT(1) */
		memcpy(pkt, tunbuf + GSO_HDR_LEN, 40);
		put_be16(pkt + 2, sizeof(pkt));
		put_be16(pkt + 10, 0);
		put_be16(pkt + 10, ip_csum(pkt, 20));
		assert_int_equal(dp_tun_handle(p, pkt, sizeof(pkt), true, count_fn, &s), 1);
		assert_int_equal(s.n, 1);
		assert_int_equal(pkt[1] & 3, 3);
		assert_int_equal(inet_csum(pkt, 20), 0);
		pkt[1] = 0;
		assert_int_equal(dp_tun_handle(p, pkt, sizeof(pkt), true, count_fn, &s), 1);
		assert_int_equal(s.n, 1);                   /* dropped */
		assert_int_equal(dp_tun_stats(p)->ce_marked, 1);
		assert_int_equal(dp_tun_stats(p)->signal_dropped, 1);
		dp_tun_free(p);
	}
	memset(&s, 0, sizeof(s));
	len = mk_super(0);                                  /* no signal: all of it */
	assert_int_equal(dp_tun_handle(t, tunbuf, len, false, seg_fn, &s), (int)nseg);
	assert_int_equal(s.got, PAYLOAD);
	dp_tun_free(t);
}

/* ---- sockets ---- */

struct rxlog {
	size_t n;
	uint32_t seq[400];
	bool bad;
};

static void rx_fn(void *arg, uint8_t *buf, size_t len, const struct sockaddr *from)
{
	struct rxlog *r = arg;
	uint32_t seq;

	if (from->sa_family != AF_INET || len < 4) {
		r->bad = true;
		return;
	}
	seq = get_be32(buf);
	for (size_t i = 4; i < len; i++)
		if (buf[i] != (uint8_t)(seq + i))
			r->bad = true;
	if (len != (seq % 50 == 49 ? 200u : 1432u))
		r->bad = true;
	if (r->n < 400)
		r->seq[r->n] = seq;
	r->n++;
}

/* 300 datagrams 127.0.0.1 -> 127.0.0.1 (the sender a dual-stack socket as
 * the node's), every 50th short: all arrive in order. */
static void roundtrip(const char *env)
{
	struct dp_conf conf;
	int a = udp_open(0), b = udp_open(0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	struct dp_tx *tx;
	struct dp_rx *rx;
	struct rxlog r = { 0 };
	int v = 4 << 20;

	if (env)
		putenv((char *)env);
	dp_conf_from_env(&conf);
	assert_true(a >= 0 && b >= 0);
	setsockopt(b, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v));
	to.sin_port = htons(udp_port(b));
	tx = dp_tx_new(a, &conf);
	rx = dp_rx_new(b, &conf);
	assert_non_null(tx);
	assert_non_null(rx);
	for (uint32_t seq = 0; seq < 300; seq++) {
		size_t cap, len = seq % 50 == 49 ? 200 : 1432;
		uint8_t *slot = dp_tx_slot(tx, &cap);

		assert_non_null(slot);
		assert_true(cap >= len);
		put_be32(slot, seq);
		for (size_t i = 4; i < len; i++)
			slot[i] = (uint8_t)(seq + i);
		assert_int_equal(dp_tx_commit(tx, len, (struct sockaddr *)&to), 0);
	}
	assert_int_equal(dp_tx_flush(tx), 0);
	assert_int_equal(dp_tx_pending(tx), 0);
	assert_int_equal(dp_tx_stats(tx)->datagrams, 300);
	if (conf.gso)
		assert_true(dp_tx_stats(tx)->gso_msgs > 0);
	else
		assert_int_equal(dp_tx_stats(tx)->gso_msgs, 0);
	while (r.n < 300) {
		struct pollfd p = { .fd = b, .events = POLLIN };

		assert_true(poll(&p, 1, 2000) == 1);
		assert_true(dp_rx_run(rx, 1 << 20, rx_fn, &r) >= 0);
	}
	assert_false(r.bad);
	assert_int_equal(r.n, 300);
	for (uint32_t i = 0; i < 300; i++)
		assert_int_equal(r.seq[i], i);
	dp_tx_free(tx);
	dp_rx_free(rx);
	close(a);
	close(b);
}

static void test_sockets_on(void **state)
{
	(void)state;
	roundtrip("CY_DP=1");
}

static void test_sockets_off(void **state)
{
	(void)state;
	roundtrip("CY_DP=0");
}

static void test_sockets_mixed(void **state)
{
	(void)state;
	putenv("CY_DP=1");
	roundtrip("CY_DP_GSO=0");
	putenv("CY_DP_GSO=1");
	roundtrip("CY_DP_GRO=0");
	putenv("CY_DP_GRO=1");
	roundtrip("CY_DP_MMSG=0");
	putenv("CY_DP_MMSG=1");
}

/* The switches are read from the environment once, by the daemon. */
static void test_conf_env(void **state)
{
	struct dp_conf c;

	(void)state;
	unsetenv("CY_DP");
	unsetenv("CY_DP_GSO");
	unsetenv("CY_DP_GRO");
	unsetenv("CY_DP_MMSG");
	unsetenv("CY_DP_VNET");
	unsetenv("CY_DP_COALESCE");
	unsetenv("CY_DP_FQ");
	dp_conf_from_env(&c);
	assert_true(c.mmsg && c.gso && c.gro && c.vnet && c.coalesce && c.fq);
	setenv("CY_DP_FQ", "off", 1);
	dp_conf_from_env(&c);
	assert_true(c.mmsg && c.coalesce && !c.fq);
	unsetenv("CY_DP_FQ");
	setenv("CY_DP_GSO", "no", 1);
	setenv("CY_DP_VNET", "Off", 1);   /* coalescing needs the vnet header */
	dp_conf_from_env(&c);
	assert_true(c.mmsg && !c.gso && c.gro && !c.vnet && !c.coalesce);
	setenv("CY_DP", "0", 1);
	setenv("CY_DP_GSO", "1", 1);
	setenv("CY_DP_VNET", "yes", 1);
	dp_conf_from_env(&c);
	assert_true(!c.mmsg && !c.gso && !c.gro && !c.vnet && !c.coalesce && !c.fq);
	unsetenv("CY_DP");
	unsetenv("CY_DP_GSO");
	unsetenv("CY_DP_VNET");
}

/* ---- coalescing towards the TUN ---- */

#define NSEG 12
#define SEGP 1000

static size_t mk_seg(uint8_t *p, int ver, uint32_t seq, size_t payload, uint8_t flags)
{
	size_t l3 = ver == 4 ? 20 : 40, len = l3 + 32 + payload;
	uint8_t *t = p + l3;

	memset(p, 0, l3 + 32);
	if (ver == 4) {
		p[0] = 0x45;
		put_be16(p + 2, (uint16_t)len);
		p[6] = 0x40;
		p[8] = 64;
		p[9] = 6;
		memcpy(p + 12, "\x64\x40\x00\x01\x64\x40\x00\x02", 8);
		put_be16(p + 10, ip_csum(p, 20));
	} else {
		p[0] = 0x60;
		put_be16(p + 4, (uint16_t)(len - 40));
		p[6] = 6;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 1;
		p[24] = 0xfd;
		p[39] = 2;
	}
	put_be16(t, 5201);
	put_be16(t + 2, 40000);
	put_be32(t + 4, seq);
	put_be32(t + 8, 4242);
	t[12] = 8 << 4;
	t[13] = flags;
	put_be16(t + 14, 500);
	t[20] = 1;
	t[21] = 1;
	t[22] = 8;
	t[23] = 10;
	put_be32(t + 24, 777);
	for (size_t i = 0; i < payload; i++)
		t[32 + i] = (uint8_t)(seq + i);
	put_be16(t + 16, inet_l4_csum(p + (ver == 4 ? 12 : 8), p + (ver == 4 ? 16 : 24),
				      ver == 4 ? 4 : 16, 6, t, len - l3, 16));
	return len;
}

static uint8_t wire[GSO_HDR_LEN + GSO_PKT_MAX];

struct resegs {
	int n;
	size_t bytes;
	uint32_t next;
	bool bad;
};

static void reseg_fn(void *arg, uint8_t *pkt, size_t len)
{
	struct resegs *r = arg;
	int ver = pkt[0] >> 4;
	size_t l3 = ver == 4 ? 20 : 40, alen = ver == 4 ? 4 : 16;
	const uint8_t *src = pkt + (ver == 4 ? 12 : 8), *dst = pkt + (ver == 4 ? 16 : 24);
	uint32_t seq = get_be32(pkt + l3 + 4);

	r->n++;
	if (inet_csum_fold(inet_csum_add(inet_pseudo_sum(src, dst, alen, 6,
							 (uint32_t)(len - l3)),
					 pkt + l3, len - l3)) != 0)
		r->bad = true;
	if (ver == 4 && inet_csum(pkt, 20) != 0)
		r->bad = true;
	if (seq != r->next)
		r->bad = true;
	for (size_t i = 0; i < len - l3 - 32; i++)
		if (pkt[l3 + 32 + i] != (uint8_t)(seq + i))
			r->bad = true;
	r->next = seq + (uint32_t)(len - l3 - 32);
	r->bytes += len - l3 - 32;
}

static void coalesce(int ver)
{
	static uint8_t p[2000];
	int fd[2];
	struct dp_tun *t;
	struct resegs r = { .next = 1000 };
	struct cur c;
	struct gso_hdr h;
	size_t l3 = ver == 4 ? 20 : 40, len, want;

	assert_int_equal(pipe(fd), 0);
	t = dp_tun_new(fd[1], true, &DP_CONF_ALL);
	assert_non_null(t);
	/* NSEG full segments, the last with PSH: one super-packet */
	for (int i = 0; i < NSEG; i++) {
		len = mk_seg(p, ver, 1000 + (uint32_t)i * SEGP, SEGP,
			     i == NSEG - 1 ? 0x18 : 0x10);
		assert_int_equal(dp_tun_write(t, p, len), 0);
		assert_true(dp_tun_pending(t));
	}
	/* the next segment does not join a closed one; a SYN flushes it */
	len = mk_seg(p, ver, 1000 + NSEG * SEGP, SEGP, 0x10);
	assert_int_equal(dp_tun_write(t, p, len), 0);
	len = mk_seg(p, ver, 1, 0, 0x02);
	assert_int_equal(dp_tun_write(t, p, len), 0);
	assert_false(dp_tun_pending(t));
	assert_int_equal(dp_tun_flush(t), 0);

	want = GSO_HDR_LEN + l3 + 32 + NSEG * SEGP;
	assert_int_equal(read(fd[0], wire, want), want);
	c = cur_make(wire, GSO_HDR_LEN);
	assert_int_equal(gso_parse_hdr(&c, &h), 0);
	assert_int_equal(h.gso_type, ver == 4 ? GSO_TCPV4 : GSO_TCPV6);
	assert_int_equal(h.gso_size, SEGP);
	assert_int_equal(h.flags, GSO_F_NEEDS_CSUM);
	/* what the kernel does with it: segments as sent, checksums valid */
	assert_int_equal(dp_tun_input(wire, want, reseg_fn, &r), NSEG);
	assert_false(r.bad);
	assert_int_equal(r.bytes, NSEG * SEGP);
	/* the one after the PSH alone (plain, data valid), then the SYN */
	want = GSO_HDR_LEN + l3 + 32 + SEGP;
	assert_int_equal(read(fd[0], wire, want), want);
	assert_int_equal(wire[0], GSO_F_DATA_VALID);
	assert_int_equal(wire[1], GSO_NONE);
	assert_int_equal(get_be32(wire + GSO_HDR_LEN + l3 + 4), 1000 + NSEG * SEGP);
	want = GSO_HDR_LEN + l3 + 32;
	assert_int_equal(read(fd[0], wire, want), want);
	assert_int_equal(wire[GSO_HDR_LEN + l3 + 13], 0x02);
	assert_int_equal(dp_tun_stats(t)->merged, NSEG - 1);
	assert_int_equal(dp_tun_stats(t)->writes, 3);
	dp_tun_free(t);
	close(fd[0]);
	close(fd[1]);
}

static void test_coalesce4(void **state)
{
	(void)state;
	coalesce(4);
}

static void test_coalesce6(void **state)
{
	(void)state;
	coalesce(6);
}

/* Out of order, another flow, a different ACK: never merged. */
static void test_coalesce_breaks(void **state)
{
	static uint8_t p[2000];
	int fd[2];
	struct dp_tun *t;
	size_t len;

	(void)state;
	assert_int_equal(pipe(fd), 0);
	t = dp_tun_new(fd[1], true, &DP_CONF_ALL);
	len = mk_seg(p, 4, 1000, SEGP, 0x10);
	dp_tun_write(t, p, len);
	len = mk_seg(p, 4, 1000 + 2 * SEGP, SEGP, 0x10);   /* a gap */
	dp_tun_write(t, p, len);
	len = mk_seg(p, 4, 1000 + 3 * SEGP, SEGP, 0x10);
	put_be16(p + 20, 5202);                              /* another port */
	dp_tun_write(t, p, len);
	len = mk_seg(p, 6, 1000 + 4 * SEGP, SEGP, 0x10);    /* another family */
	dp_tun_write(t, p, len);
	len = mk_seg(p, 6, 1000 + 5 * SEGP, SEGP, 0x10);
	put_be32(p + 40 + 8, 4243);                         /* another ACK */
	dp_tun_write(t, p, len);
	dp_tun_flush(t);
	assert_int_equal(dp_tun_stats(t)->merged, 0);
	assert_int_equal(dp_tun_stats(t)->writes, 5);
	/* off: every write is a plain one */
	dp_tun_free(t);
	t = dp_tun_new(fd[1], true, &(struct dp_conf){ .vnet = true, .coalesce = false });
	for (int i = 0; i < 3; i++) {
		len = mk_seg(p, 4, 1000 + (uint32_t)i * SEGP, SEGP, 0x10);
		dp_tun_write(t, p, len);
		assert_false(dp_tun_pending(t));
	}
	assert_int_equal(dp_tun_stats(t)->writes, 3);
	dp_tun_free(t);
	close(fd[0]);
	close(fd[1]);
}

/* A packet socket (Ethernet behind the vnet header): segments behind the
 * same link header merge, the vnet offsets count from it; another
 * destination MAC is another super-packet. */
struct l2segs {
	struct resegs r;
	const uint8_t *eth;
};

static int l2seg_fn(void *arg, uint8_t *pkt, size_t len)
{
	struct l2segs *s = arg;

	if (memcmp(pkt - 14, s->eth, 14))
		s->r.bad = true;
	reseg_fn(&s->r, pkt, len);
	return 0;
}

static void test_coalesce_l2(void **state)
{
	static uint8_t p[2000];
	const uint8_t a[14] = { 2, 0, 0, 0, 0, 0xa, 2, 0, 0, 0, 0, 1, 8, 0 };
	const uint8_t b[14] = { 2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 1, 8, 0 };
	struct l2segs s = { .r = { .next = 1000 }, .eth = a };
	struct gso_hdr h;
	struct dp_tun *t;
	struct cur c;
	size_t len, want;
	int fd[2];

	(void)state;
	assert_int_equal(pipe(fd), 0);
	assert_null(dp_tun_new_l2(fd[1], true, DP_L2_MAX + 1, &DP_CONF_ALL));
	t = dp_tun_new_l2(fd[1], true, 14, &DP_CONF_ALL);
	assert_non_null(t);
	for (int i = 0; i < 4; i++) {
		len = mk_seg(p, 4, 1000 + (uint32_t)i * SEGP, SEGP, 0x10);
		assert_int_equal(dp_tun_write_l2(t, a, p, len), 0);
	}
	/* in sequence, but for another MAC */
	len = mk_seg(p, 4, 1000 + 4 * SEGP, SEGP, 0x10);
	assert_int_equal(dp_tun_write_l2(t, b, p, len), 0);
	assert_int_equal(dp_tun_flush(t), 0);

	want = GSO_HDR_LEN + 14 + 20 + 32 + 4 * SEGP;
	assert_int_equal(read(fd[0], wire, want), want);
	c = cur_make(wire, GSO_HDR_LEN);
	assert_int_equal(gso_parse_hdr(&c, &h), 0);
	assert_int_equal(h.gso_type, GSO_TCPV4);
	assert_int_equal(h.flags, GSO_F_NEEDS_CSUM);
	assert_int_equal(h.csum_start, 14 + 20);
	assert_int_equal(h.hdr_len, 14 + 20 + 32);
	assert_memory_equal(wire + GSO_HDR_LEN, a, 14);
	assert_int_equal(gso_segment(&h, wire + GSO_HDR_LEN, want - GSO_HDR_LEN, 14, l2seg_fn,
				     &s), 4);
	assert_false(s.r.bad);
	assert_int_equal(s.r.bytes, 4 * SEGP);
	/* the single one: a zero vnet header (no DATA_VALID on a packet
	 * socket), its own link header */
	want = GSO_HDR_LEN + 14 + 20 + 32 + SEGP;
	assert_int_equal(read(fd[0], wire, want), want);
	for (int i = 0; i < GSO_HDR_LEN; i++)
		assert_int_equal(wire[i], 0);
	assert_memory_equal(wire + GSO_HDR_LEN, b, 14);
	assert_int_equal(get_be32(wire + GSO_HDR_LEN + 14 + 20 + 4), 1000 + 4 * SEGP);
	assert_int_equal(dp_tun_stats(t)->merged, 3);
	assert_int_equal(dp_tun_stats(t)->writes, 2);
	dp_tun_free(t);
	close(fd[0]);
	close(fd[1]);
}

/* A segment of flow f (source port 40000 + f), checksums fixed. */
static size_t mk_flow_seg(uint8_t *p, unsigned f, uint32_t seq)
{
	size_t len = mk_seg(p, 4, seq, SEGP, 0x10);

	put_be16(p + 20 + 2, (uint16_t)(40000 + f));
	put_be16(p + 20 + 16, 0);
	put_be16(p + 20 + 16, inet_l4_csum(p + 12, p + 16, 4, 6, p + 20, len - 20, 16));
	return len;
}

/* Interleaved flows each merge into their own super-packet; a UDP packet
 * in between waits for none of them; a ninth flow evicts the oldest. */
static void test_coalesce_flows(void **state)
{
	static uint8_t p[2000];
	struct dp_tun *t;
	struct cur c;
	struct gso_hdr h;
	size_t len, want;
	int fd[2];

	(void)state;
	assert_int_equal(pipe(fd), 0);
	assert_int_equal(fcntl(fd[0], F_SETPIPE_SZ, 1 << 20), 1 << 20);
	t = dp_tun_new(fd[1], true, &DP_CONF_ALL);
	assert_non_null(t);
	for (uint32_t i = 0; i < 4; i++) {
		for (unsigned f = 0; f < 3; f++) {
			len = mk_flow_seg(p, f, 1000 + i * SEGP);
			assert_int_equal(dp_tun_write(t, p, len), 0);
		}
		if (i == 1) {
			/* UDP: written at once, nothing flushed */
			len = mk_seg(p, 4, 0, 100, 0);
			p[9] = 17;
			put_be16(p + 10, 0);
			put_be16(p + 10, ip_csum(p, 20));
			assert_int_equal(dp_tun_write(t, p, len), 0);
			assert_int_equal(dp_tun_stats(t)->writes, 1);
		}
	}
	assert_int_equal(dp_tun_stats(t)->merged, 3 * 3);
	/* six more flows: the ninth slot needed evicts flow 0 (the oldest) */
	for (unsigned f = 3; f < 9; f++) {
		len = mk_flow_seg(p, f, 1000);
		assert_int_equal(dp_tun_write(t, p, len), 0);
	}
	assert_int_equal(dp_tun_stats(t)->writes, 2);
	assert_int_equal(dp_tun_flush(t), 0);
	assert_false(dp_tun_pending(t));
	assert_int_equal(dp_tun_stats(t)->writes, 2 + 8);

	/* the UDP packet, then flow 0's four segments as one */
	want = GSO_HDR_LEN + 20 + 32 + 100;
	assert_int_equal(read(fd[0], wire, want), want);
	assert_int_equal(wire[GSO_HDR_LEN + 9], 17);
	want = GSO_HDR_LEN + 20 + 32 + 4 * SEGP;
	assert_int_equal(read(fd[0], wire, want), want);
	c = cur_make(wire, GSO_HDR_LEN);
	assert_int_equal(gso_parse_hdr(&c, &h), 0);
	assert_int_equal(h.gso_type, GSO_TCPV4);
	assert_int_equal(get_be16(wire + GSO_HDR_LEN + 20 + 2), 40000);
	dp_tun_free(t);
	close(fd[0]);
	close(fd[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_tun_input),
		cmocka_unit_test(test_tun_signal),
		cmocka_unit_test(test_sockets_on),
		cmocka_unit_test(test_sockets_off),
		cmocka_unit_test(test_sockets_mixed),
		cmocka_unit_test(test_conf_env),
		cmocka_unit_test(test_coalesce4),
		cmocka_unit_test(test_coalesce6),
		cmocka_unit_test(test_coalesce_breaks),
		cmocka_unit_test(test_coalesce_l2),
		cmocka_unit_test(test_coalesce_flows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
