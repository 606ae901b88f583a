/* The resolver module driven through its plain functions with a fake glue
 * (recorded sends, fake clock), resolv.conf parsing and install/restore on
 * temporary files, and resolver_server.c on real loopback sockets with a
 * fake upstream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "buf.h"
#include "clock.h"
#include "dns.h"
#include "log.h"
#include "resolv_conf.h"
#include "resolver.h"
#include "resolver_server.h"

/* ---- the fake glue ---- */

struct sent {
	struct resolver_client c;
	uint8_t buf[4096];
	size_t len;
};

struct upq {
	struct sockaddr_storage server;
	uint32_t handle;
	uint8_t buf[4096];
	size_t len;
};

static struct sent cl[128];
static int n_cl;
static struct upq upq[128];
static int n_upq;
static uint32_t done[128];
static int n_done;
static char lk_name[64][DNS_NAME_STR_MAX];
static uint64_t lk_token[64];
static int n_lk;
static int lookup_ret;
static struct resolver *sync_r;    /* complete inside lookup() when set */
static int upstream_ret;

static const struct in_addr vip4 = { .s_addr = 0x07004064 };  /* 100.64.0.7 */
static struct in6_addr vip6;

static void fake_send_client(void *io, const struct resolver_client *c, const uint8_t *buf,
			     size_t len)
{
	assert_true(n_cl < 128 && len <= sizeof(cl[0].buf));
	cl[n_cl].c = *c;
	memcpy(cl[n_cl].buf, buf, len);
	cl[n_cl++].len = len;
}

static int fake_send_upstream(void *io, const struct sockaddr *server, uint32_t handle,
			      const uint8_t *buf, size_t len)
{
	if (upstream_ret)
		return upstream_ret;
	assert_true(n_upq < 128 && len <= sizeof(upq[0].buf));
	memcpy(&upq[n_upq].server, server, addr_len(server));
	upq[n_upq].handle = handle;
	memcpy(upq[n_upq].buf, buf, len);
	upq[n_upq++].len = len;
	return 0;
}

static void fake_upstream_done(void *io, uint32_t handle)
{
	assert_true(n_done < 128);
	done[n_done++] = handle;
}

static int fake_lookup(void *arg, const char *fqdn, uint64_t token)
{
	assert_true(n_lk < 64);
	snprintf(lk_name[n_lk], sizeof(lk_name[0]), "%s", fqdn);
	lk_token[n_lk++] = token;
	if (sync_r)
		resolver_complete(sync_r, token, RESOLVER_OK, &vip4, &vip6);
	return lookup_ret;
}

static struct sockaddr_storage ups[2];

static struct resolver *mk(unsigned max_forward, size_t n_up)
{
	struct resolver_cfg cfg = {
		.domain = "Example.Test",
		.upstreams = ups,
		.n_upstreams = n_up,
		.max_forward = max_forward,
		.lookup = fake_lookup,
		.send_client = fake_send_client,
		.send_upstream = fake_send_upstream,
		.upstream_done = fake_upstream_done,
	};
	socklen_t l;

	n_cl = n_upq = n_done = n_lk = 0;
	lookup_ret = upstream_ret = 0;
	sync_r = NULL;
	clock_set_fake(1000000, 1000);
	assert_int_equal(addr_parse("192.0.2.53:53", 53, &ups[0], &l), 0);
	assert_int_equal(addr_parse("[2001:db8::53]:53", 53, &ups[1], &l), 0);
	inet_pton(AF_INET6, "fd00:1:2::7", &vip6);
	return resolver_new(&cfg);
}

static size_t mkq(uint8_t *out, uint16_t id, const char *name, uint16_t qtype, bool opt,
		  uint16_t udp)
{
	uint8_t wire[DNS_NAME_MAX];
	size_t wl = 0;
	struct wbuf w;

	/* wire form keeping the caller's case (dns_name_from_str lower-cases) */
	for (const char *p = name; *p;) {
		size_t l = strcspn(p, ".");

		wire[wl++] = (uint8_t)l;
		memcpy(wire + wl, p, l);
		wl += l;
		p += l;
		if (*p == '.')
			p++;
	}
	wire[wl++] = 0;
	wbuf_init(&w, out, 500);
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
		wbuf_put_u32(&w, 0);
		wbuf_put_u16(&w, 0);
	}
	assert_true(wbuf_ok(&w));
	return w.len;
}

static struct resolver_client client(int n)
{
	struct resolver_client c = { .addrlen = sizeof(struct sockaddr_in) };
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.addr;

	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)(40000 + n));
	sin->sin_addr.s_addr = htonl(0x7f000001);
	return c;
}

static void parse_answer(int i, struct dns_msg *m)
{
	assert_true(i < n_cl);
	assert_int_equal(dns_parse(cl[i].buf, cl[i].len, DNS_PARSE_QUERY, m), 0);
	assert_true(m->hdr.flags & DNS_F_QR);
}

/* The first answer RR's rdata (after the question). */
static const uint8_t *first_rdata(int i, const struct dns_msg *m, uint16_t *type)
{
	const uint8_t *p = cl[i].buf + DNS_HDR_LEN + m->q.name_len + 4;

	*type = get_be16(p + 2);
	return p + 12;
}

/* An upstream reply to a recorded upstream query: QR set, one A record. */
static size_t mkreply(uint8_t *out, const struct upq *u, size_t pad)
{
	struct dns_msg m;
	size_t qend;

	assert_int_equal(dns_parse(u->buf, u->len, DNS_PARSE_QUERY, &m), 0);
	qend = DNS_HDR_LEN + m.q.name_len + 4;
	memcpy(out, u->buf, qend);
	put_be16(out + 2, DNS_F_QR | DNS_F_RD | DNS_F_RA);
	put_be16(out + 6, 1);
	put_be16(out + 10, 0);
	memcpy(out + qend, "\xc0\x0c\0\x10\0\1\0\0\0\x3c", 10);   /* TXT, TTL 60 */
	put_be16(out + qend + 10, (uint16_t)(pad + 1));
	out[qend + 12] = (uint8_t)(pad > 255 ? 255 : pad);
	memset(out + qend + 13, 'z', pad);
	return qend + 13 + pad;
}

/* ---- names under the domain ---- */

static void test_local_a_after_lookup(void **state)
{
	struct resolver *r = mk(0, 1);
	struct resolver_client c = client(1);
	uint8_t q[512];
	struct dns_msg m;
	uint16_t t;
	size_t n = mkq(q, 0xaaaa, "Alpha.EXAMPLE.test", DNS_T_A, false, 0);

	resolver_query(r, &c, q, n);
	assert_int_equal(n_lk, 1);
	assert_string_equal(lk_name[0], "alpha.example.test");
	assert_int_equal(n_cl, 0);               /* nothing before the tunnel is up */
	resolver_complete(r, lk_token[0], RESOLVER_OK, &vip4, &vip6);
	assert_int_equal(n_cl, 1);
	assert_memory_equal(&cl[0].c, &c, sizeof(c));
	parse_answer(0, &m);
	assert_int_equal(m.hdr.id, 0xaaaa);
	assert_true(m.hdr.flags & DNS_F_AA);
	assert_int_equal(m.hdr.flags & DNS_F_RCODE, DNS_R_NOERROR);
	assert_int_equal(m.hdr.ancount, 1);
	assert_memory_equal(m.q.name, "\5Alpha\7EXAMPLE\4test\0", 20);
	assert_memory_equal(first_rdata(0, &m, &t), "\x64\x40\0\7", 4);
	assert_int_equal(t, DNS_T_A);
	assert_int_equal(get_be32(cl[0].buf + DNS_HDR_LEN + 20 + 4 + 6), 5);   /* TTL */
	assert_int_equal(resolver_stats(r)->local_answers, 1);
	assert_int_equal(resolver_lookup_count(r), 0);
	/* a second completion with the same token is stale */
	resolver_complete(r, lk_token[0], RESOLVER_OK, &vip4, &vip6);
	assert_int_equal(n_cl, 1);
	resolver_free(r);
}

static void test_local_merge_a_aaaa(void **state)
{
	struct resolver *r = mk(0, 1);
	struct resolver_client c1 = client(1), c2 = client(2);
	uint8_t q[512];
	struct dns_msg m;
	uint16_t t;
	size_t n;

	n = mkq(q, 1, "beta.example.test", DNS_T_A, false, 0);
	resolver_query(r, &c1, q, n);
	n = mkq(q, 2, "beta.example.test", DNS_T_AAAA, true, 1232);
	resolver_query(r, &c2, q, n);
	resolver_query(r, &c2, q, n);            /* a retransmit is not a new waiter */
	assert_int_equal(n_lk, 1);
	resolver_complete(r, lk_token[0], RESOLVER_OK, &vip4, &vip6);
	assert_int_equal(n_cl, 2);
	parse_answer(0, &m);
	assert_int_equal(m.hdr.id, 1);
	first_rdata(0, &m, &t);
	assert_int_equal(t, DNS_T_A);
	parse_answer(1, &m);
	assert_int_equal(m.hdr.id, 2);
	assert_true(m.has_opt);
	assert_memory_equal(first_rdata(1, &m, &t), &vip6, 16);
	assert_int_equal(t, DNS_T_AAAA);
	resolver_free(r);
}

static void expect_rcode(int i, unsigned rcode, unsigned ancount)
{
	struct dns_msg m;

	parse_answer(i, &m);
	assert_int_equal(m.hdr.flags & DNS_F_RCODE, rcode);
	assert_int_equal(m.hdr.ancount, ancount);
}

static void test_local_statuses(void **state)
{
	struct resolver *r = mk(0, 1);
	struct resolver_client c = client(1);
	uint8_t q[512];
	size_t n;

	n = mkq(q, 1, "gone.example.test", DNS_T_A, false, 0);
	resolver_query(r, &c, q, n);
	resolver_complete(r, lk_token[0], RESOLVER_NXDOMAIN, NULL, NULL);
	expect_rcode(0, DNS_R_NXDOMAIN, 0);
	resolver_query(r, &c, q, n);
	resolver_complete(r, lk_token[1], RESOLVER_REFUSED, NULL, NULL);
	expect_rcode(1, DNS_R_REFUSED, 0);
	resolver_query(r, &c, q, n);
	resolver_complete(r, lk_token[2], RESOLVER_SERVFAIL, NULL, NULL);
	expect_rcode(2, DNS_R_SERVFAIL, 0);
	/* NODATA: the name exists, no record of that type */
	n = mkq(q, 1, "alpha.example.test", DNS_T_MX, false, 0);
	resolver_query(r, &c, q, n);
	resolver_complete(r, lk_token[3], RESOLVER_OK, &vip4, &vip6);
	expect_rcode(3, DNS_R_NOERROR, 0);
	n = mkq(q, 1, "v6only.example.test", DNS_T_A, false, 0);
	resolver_query(r, &c, q, n);
	resolver_complete(r, lk_token[4], RESOLVER_OK, NULL, &vip6);
	expect_rcode(4, DNS_R_NOERROR, 0);
	/* ANY: both */
	n = mkq(q, 1, "alpha.example.test", DNS_T_ANY, false, 0);
	resolver_query(r, &c, q, n);
	resolver_complete(r, lk_token[5], RESOLVER_OK, &vip4, &vip6);
	expect_rcode(5, DNS_R_NOERROR, 2);
	/* the daemon's lookup fails at once */
	lookup_ret = -EIO;
	resolver_query(r, &c, q, n);
	expect_rcode(6, DNS_R_SERVFAIL, 0);
	assert_int_equal(resolver_lookup_count(r), 0);
	assert_int_equal(n_upq, 0);
	resolver_free(r);
}

static void test_local_without_lookup(void **state)
{
	struct resolver *r = mk(0, 1);
	struct resolver_client c = client(1);
	uint8_t q[512];
	size_t n;

	n = mkq(q, 1, "a.b.example.test", DNS_T_A, false, 0);
	resolver_query(r, &c, q, n);
	expect_rcode(0, DNS_R_NXDOMAIN, 0);
	n = mkq(q, 1, "example.test", DNS_T_SOA, false, 0);
	resolver_query(r, &c, q, n);
	expect_rcode(1, DNS_R_NOERROR, 0);       /* apex: NODATA, see resolver.h */
	/* a label that is no host name */
	n = mkq(q, 1, "a_b.example.test", DNS_T_A, false, 0);
	q[13 + 1] = '*';
	resolver_query(r, &c, q, n);
	expect_rcode(2, DNS_R_NXDOMAIN, 0);
	n = mkq(q, 1, "alpha.example.test", DNS_T_AXFR, false, 0);
	resolver_query(r, &c, q, n);
	expect_rcode(3, DNS_R_REFUSED, 0);
	assert_int_equal(n_lk, 0);
	assert_int_equal(n_upq, 0);
	assert_int_equal(resolver_stats(r)->local_answers, 4);
	resolver_free(r);
}

static void test_local_sync_complete_and_timeout(void **state)
{
	struct resolver *r = mk(0, 1);
	struct resolver_client c = client(1);
	uint8_t q[512];
	size_t n = mkq(q, 5, "alpha.example.test", DNS_T_A, false, 0);

	sync_r = r;            /* tunnel already up: answered inside lookup() */
	resolver_query(r, &c, q, n);
	assert_int_equal(n_cl, 1);
	expect_rcode(0, DNS_R_NOERROR, 1);
	assert_int_equal(resolver_lookup_count(r), 0);

	sync_r = NULL;
	resolver_query(r, &c, q, n);
	resolver_tick(r, 1000 + 4999);
	assert_int_equal(n_cl, 1);
	resolver_tick(r, 1000 + 5000);
	expect_rcode(1, DNS_R_SERVFAIL, 0);
	assert_int_equal(resolver_stats(r)->timeouts, 1);
	resolver_complete(r, lk_token[1], RESOLVER_OK, &vip4, NULL);   /* too late */
	assert_int_equal(n_cl, 2);
	resolver_free(r);
}

/* ---- hostile queries ---- */

static void test_malformed_queries(void **state)
{
	struct resolver *r = mk(0, 1);
	struct resolver_client c = client(1);
	uint8_t q[512];
	struct dns_msg m;
	size_t n;

	n = mkq(q, 0x1111, "x.example.org", DNS_T_A, false, 0);
	resolver_query(r, &c, q, 11);            /* truncated header: dropped */
	assert_int_equal(n_cl, 0);
	resolver_query(r, &c, q, n - 1);         /* truncated question: FORMERR */
	assert_int_equal(n_cl, 1);
	parse_answer(0, &m);
	assert_int_equal(m.hdr.id, 0x1111);
	assert_int_equal(m.hdr.flags & DNS_F_RCODE, DNS_R_FORMERR);
	assert_false(m.has_q);
	q[12] = 0xc0;                            /* compression loop */
	q[13] = 12;
	resolver_query(r, &c, q, n);
	expect_rcode(1, DNS_R_FORMERR, 0);
	put_be16(q + 4, 0);                      /* zero questions */
	resolver_query(r, &c, q, DNS_HDR_LEN);
	expect_rcode(2, DNS_R_FORMERR, 0);
	put_be16(q + 2, DNS_F_QR);               /* a response: never answered */
	resolver_query(r, &c, q, DNS_HDR_LEN);
	assert_int_equal(n_cl, 3);
	n = mkq(q, 1, "x.example.org", DNS_T_A, false, 0);
	put_be16(q + 2, 2 << 11);                /* opcode STATUS */
	resolver_query(r, &c, q, n);
	expect_rcode(3, DNS_R_NOTIMP, 0);
	n = mkq(q, 1, "x.example.org", DNS_T_A, true, 1232);
	q[n - 11 + 6] = 1;                       /* EDNS version 1 */
	resolver_query(r, &c, q, n);
	parse_answer(4, &m);
	assert_int_equal(m.ext_rcode, 1);        /* BADVERS */
	assert_int_equal(resolver_stats(r)->malformed, 5);
	assert_int_equal(resolver_stats(r)->queries, 7);
	assert_int_equal(n_upq, 0);
	resolver_free(r);
}

/* ---- forwarding ---- */

static void test_forward_match_rules(void **state)
{
	struct resolver *r = mk(0, 1);
	struct resolver_client c = client(1);
	uint8_t q[512], rep[1024];
	struct sockaddr_storage from = ups[0];
	size_t n = mkq(q, 0x5555, "WWW.example.org", DNS_T_TXT, false, 0), k;

	resolver_query(r, &c, q, n);
	assert_int_equal(n_upq, 1);
	assert_int_equal(n_cl, 0);
	assert_true(addr_equal((struct sockaddr *)&upq[0].server, (struct sockaddr *)&ups[0]));
	/* the same bytes but for a fresh ID */
	assert_int_equal(upq[0].len, n);
	assert_memory_equal(upq[0].buf + 2, q + 2, n - 2);
	assert_int_equal(resolver_stats(r)->forwarded, 1);

	k = mkreply(rep, &upq[0], 3);
	/* wrong ID */
	put_be16(rep, get_be16(upq[0].buf) ^ 1);
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&from, rep, k);
	put_be16(rep, get_be16(upq[0].buf));
	/* wrong question: case differs (0x20), then type differs */
	rep[13] = 'w';
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&from, rep, k);
	rep[13] = 'W';
	put_be16(rep + DNS_HDR_LEN + 17, DNS_T_A);
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&from, rep, k);
	put_be16(rep + DNS_HDR_LEN + 17, DNS_T_TXT);
	/* wrong server port, wrong server address */
	addr_set_port((struct sockaddr *)&from, 5353);
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&from, rep, k);
	from = ups[1];
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&from, rep, k);
	from = ups[0];
	/* wrong handle */
	resolver_upstream_reply(r, upq[0].handle ^ 0x10000, (struct sockaddr *)&from, rep, k);
	/* QR not set */
	put_be16(rep + 2, DNS_F_RD);
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&from, rep, k);
	put_be16(rep + 2, DNS_F_QR | DNS_F_RD | DNS_F_RA);
	assert_int_equal(resolver_stats(r)->upstream_mismatch, 7);
	assert_int_equal(n_cl, 0);
	assert_int_equal(n_done, 0);

	/* the right one: relayed unchanged but for the client's ID */
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&from, rep, k);
	assert_int_equal(n_cl, 1);
	assert_int_equal(cl[0].len, k);
	assert_int_equal(get_be16(cl[0].buf), 0x5555);
	assert_memory_equal(cl[0].buf + 2, rep + 2, k - 2);
	assert_int_equal(n_done, 1);
	assert_int_equal(done[0], upq[0].handle);
	assert_int_equal(resolver_forward_count(r), 0);
	/* a duplicate after that is stale */
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&from, rep, k);
	assert_int_equal(n_cl, 1);
	assert_int_equal(resolver_stats(r)->upstream_mismatch, 8);
	resolver_free(r);
}

static void test_forward_random_ids(void **state)
{
	struct resolver *r = mk(0, 1);
	struct resolver_client c = client(1);
	uint8_t q[512];
	char name[32];
	int same = 0;

	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "n%d.example.org", i);
		resolver_query(r, &c, q, mkq(q, 7, name, DNS_T_A, false, 0));
	}
	assert_int_equal(n_upq, 64);
	for (int i = 1; i < 64; i++) {
		same += get_be16(upq[i].buf) == get_be16(upq[i - 1].buf);
		assert_int_not_equal(upq[i].handle, upq[i - 1].handle);
	}
	assert_true(same < 3);
	resolver_free(r);
}

static void test_forward_merge(void **state)
{
	struct resolver *r = mk(0, 1);
	struct resolver_client c1 = client(1), c2 = client(2), c3 = client(3);
	uint8_t q[512], rep[1024];
	size_t n, k;

	n = mkq(q, 100, "merge.example.org", DNS_T_A, false, 0);
	resolver_query(r, &c1, q, n);
	n = mkq(q, 200, "merge.example.org", DNS_T_A, false, 0);
	resolver_query(r, &c2, q, n);
	/* different case: a different question, not merged */
	n = mkq(q, 300, "MERGE.example.org", DNS_T_A, false, 0);
	resolver_query(r, &c3, q, n);
	assert_int_equal(n_upq, 2);
	k = mkreply(rep, &upq[0], 1);
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&ups[0], rep, k);
	assert_int_equal(n_cl, 2);
	assert_int_equal(get_be16(cl[0].buf), 100);
	assert_int_equal(get_be16(cl[1].buf), 200);
	assert_int_equal(addr_port((struct sockaddr *)&cl[1].c.addr), 40002);
	assert_memory_equal(cl[0].buf + 2, cl[1].buf + 2, k - 2);
	resolver_free(r);
}

static void test_forward_cap(void **state)
{
	struct resolver *r = mk(4, 1);
	struct resolver_client c = client(1);
	uint8_t q[512], rep[1024];
	char name[32];
	size_t k;

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "c%d.example.org", i);
		resolver_query(r, &c, q, mkq(q, (uint16_t)i, name, DNS_T_A, false, 0));
	}
	assert_int_equal(n_upq, 4);
	assert_int_equal(n_cl, 1);               /* the fifth: SERVFAIL at once */
	expect_rcode(0, DNS_R_SERVFAIL, 0);
	assert_int_equal(get_be16(cl[0].buf), 4);
	assert_int_equal(resolver_stats(r)->overflow, 1);
	/* one answered: room again */
	k = mkreply(rep, &upq[2], 1);
	resolver_upstream_reply(r, upq[2].handle, (struct sockaddr *)&ups[0], rep, k);
	resolver_query(r, &c, q, mkq(q, 9, "again.example.org", DNS_T_A, false, 0));
	assert_int_equal(n_upq, 5);
	/* the new query reuses slot 2 under a new handle; the old one is stale */
	assert_int_equal(upq[4].handle & 0xffff, upq[2].handle & 0xffff);
	assert_int_not_equal(upq[4].handle, upq[2].handle);
	resolver_upstream_reply(r, upq[2].handle, (struct sockaddr *)&ups[0], rep, k);
	assert_int_equal(n_cl, 2);
	resolver_free(r);
}

static void test_forward_timeout_and_failover(void **state)
{
	struct resolver *r = mk(0, 2);
	struct resolver_client c = client(1);
	uint8_t q[512], rep[1024];
	size_t n = mkq(q, 77, "slow.example.org", DNS_T_A, false, 0), k;

	resolver_query(r, &c, q, n);
	assert_int_equal(n_upq, 1);
	resolver_tick(r, 1000 + 2999);
	assert_int_equal(n_upq, 1);
	/* first upstream silent: the second one is asked, new handle, new ID */
	resolver_tick(r, 1000 + 3000);
	assert_int_equal(n_done, 1);
	assert_int_equal(done[0], upq[0].handle);
	assert_int_equal(n_upq, 2);
	assert_false(addr_equal((struct sockaddr *)&upq[0].server,
				(struct sockaddr *)&upq[1].server));
	assert_int_not_equal(upq[1].handle, upq[0].handle);
	/* a late answer from the first one is not taken */
	k = mkreply(rep, &upq[0], 1);
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&upq[0].server, rep, k);
	assert_int_equal(n_cl, 0);
	/* the second is silent too: SERVFAIL */
	clock_set_fake(1000000, 4000);
	resolver_tick(r, 4000 + 3000);
	expect_rcode(0, DNS_R_SERVFAIL, 0);
	assert_int_equal(get_be16(cl[0].buf), 77);
	assert_int_equal(n_done, 2);
	assert_int_equal(resolver_stats(r)->timeouts, 2);
	assert_int_equal(resolver_forward_count(r), 0);

	/* an ICMP error fails over at once */
	resolver_query(r, &c, q, n);
	resolver_upstream_error(r, upq[2].handle);
	assert_int_equal(n_upq, 4);
	resolver_upstream_error(r, upq[3].handle);
	expect_rcode(1, DNS_R_SERVFAIL, 0);
	/* no upstreams accept the send */
	upstream_ret = -ENETUNREACH;
	resolver_query(r, &c, q, n);
	expect_rcode(2, DNS_R_SERVFAIL, 0);
	resolver_free(r);
}

static void test_forward_truncation(void **state)
{
	struct resolver *r = mk(0, 1);
	struct resolver_client udp = client(1), tcp = { .tcp = true, .conn = 42 };
	uint8_t q[512], rep[2048];
	struct dns_msg m;
	size_t n = mkq(q, 11, "big.example.org", DNS_T_TXT, false, 0), k;

	resolver_query(r, &udp, q, n);
	n = mkq(q, 12, "big.example.org", DNS_T_TXT, false, 0);
	resolver_query(r, &tcp, q, n);
	assert_int_equal(n_upq, 1);
	k = mkreply(rep, &upq[0], 700);
	assert_true(k > 512);
	resolver_upstream_reply(r, upq[0].handle, (struct sockaddr *)&ups[0], rep, k);
	assert_int_equal(n_cl, 2);
	parse_answer(0, &m);                     /* UDP without EDNS: 512, so TC */
	assert_true(m.hdr.flags & DNS_F_TC);
	assert_int_equal(m.hdr.id, 11);
	assert_int_equal(m.hdr.ancount, 0);
	assert_true(m.has_q);
	assert_true(cl[0].len <= 512);
	assert_int_equal(cl[1].len, k);          /* TCP: whole */
	assert_int_equal(get_be16(cl[1].buf), 12);
	resolver_free(r);
}

static void test_forward_none_and_loop(void **state)
{
	struct resolver_cfg cfg = {
		.domain = "example.test",
		.upstreams = ups,
		.n_upstreams = 1,
		.listen = (struct sockaddr *)&ups[0],   /* an upstream that is us */
		.lookup = fake_lookup,
		.send_client = fake_send_client,
		.send_upstream = fake_send_upstream,
		.upstream_done = fake_upstream_done,
	};
	struct resolver *r;
	struct resolver_client c = client(1);
	uint8_t q[512];

	resolver_free(mk(0, 0));
	r = resolver_new(&cfg);
	assert_non_null(r);
	resolver_query(r, &c, q, mkq(q, 1, "x.example.org", DNS_T_A, false, 0));
	assert_int_equal(n_upq, 0);
	expect_rcode(0, DNS_R_SERVFAIL, 0);
	resolver_free(r);
	cfg.domain = "a..b";
	assert_null(resolver_new(&cfg));
	resolver_free(NULL);
}

/* ---- resolv.conf ---- */

static char tmpdir[64];

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static char *read_all(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_resolv_conf_parse(void **state)
{
	static const char text[] =
		"# comment\n"
		"search example.org\n"
		"nameserver 192.0.2.1\n"
		"nameserver\t2001:db8::1 # trailing comment\n"
		"nameserver 198.51.100.300\n"
		"nameserverx 203.0.113.9\n"
		"  nameserver 203.0.113.8\n"
		"nameserver fe80::1%lo\n"
		"nameserver\n"
		"nameserver 203.0.113.7";
	struct sockaddr_storage ns[8];
	char a[ADDR_STR_MAX];
	size_t n = resolv_conf_parse(text, sizeof(text) - 1, ns, 8);

	assert_int_equal(n, 4);
	assert_string_equal(addr_str((struct sockaddr *)&ns[0], a), "192.0.2.1:53");
	assert_string_equal(addr_str((struct sockaddr *)&ns[1], a), "[2001:db8::1]:53");
	assert_int_equal(ns[2].ss_family, AF_INET6);
	assert_int_not_equal(((struct sockaddr_in6 *)&ns[2])->sin6_scope_id, 0);
	assert_string_equal(addr_str((struct sockaddr *)&ns[3], a), "203.0.113.7:53");
	assert_int_equal(resolv_conf_parse(text, sizeof(text) - 1, ns, 1), 1);
	/* no NUL needed, any bytes */
	assert_int_equal(resolv_conf_parse("nameserver 1.2.3.4", 12, ns, 8), 0);
	assert_int_equal(resolv_conf_parse("nameserver \0\xff\n", 14, ns, 8), 0);
	assert_int_equal(resolv_conf_read("/nonexistent/resolv.conf", ns, 8), -ENOENT);
}

static void test_resolv_conf_install_restore(void **state)
{
	static const char orig[] = "search example.org\noptions edns0\n"
				   "nameserver 192.0.2.1\nnameserver 198.51.100.2\n";
	struct sockaddr_storage listen, ns[8];
	struct resolv_conf_saved *sv;
	char path[128], save[160];
	socklen_t l;
	size_t n;
	char *now;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cy-resolv-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/resolv.conf", tmpdir);
	snprintf(save, sizeof(save), "%s.cyphonic-save", path);
	write_file(path, orig);
	assert_int_equal(addr_parse("127.0.0.153:53", 53, &listen, &l), 0);

	assert_int_equal(resolv_conf_install(path, (struct sockaddr *)&listen, ns, 8, &n, &sv),
			 0);
	assert_int_equal(n, 2);
	now = read_all(path);
	assert_non_null(strstr(now, "\nnameserver 127.0.0.153\n"));
	assert_non_null(strstr(now, "search example.org\n"));
	assert_non_null(strstr(now, "options edns0\n"));
	assert_null(strstr(now, "192.0.2.1"));
	assert_string_equal(read_all(save), orig);
	assert_int_equal(resolv_conf_read(path, ns, 8), 1);

	/* a crash: the next start finds the original again */
	struct resolv_conf_saved *sv2;
	assert_int_equal(resolv_conf_install(path, (struct sockaddr *)&listen, ns, 8, &n, &sv2),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(resolv_conf_restore(sv2), 0);
	assert_string_equal(read_all(path), orig);
	assert_null(read_all(save));
	resolv_conf_restore(sv);                 /* the file is not ours any more */

	/* someone rewrote it meanwhile: left alone */
	assert_int_equal(resolv_conf_install(path, (struct sockaddr *)&listen, ns, 8, &n, &sv),
			 0);
	write_file(path, "nameserver 203.0.113.1\n");
	assert_int_equal(resolv_conf_restore(sv), -EBUSY);
	assert_string_equal(read_all(path), "nameserver 203.0.113.1\n");

	/* not port 53: refused */
	addr_set_port((struct sockaddr *)&listen, 5353);
	assert_int_equal(resolv_conf_install(path, (struct sockaddr *)&listen, ns, 8, &n, &sv),
			 -EINVAL);
	assert_null(sv);
	unlink(path);
}

static void test_resolv_conf_symlink(void **state)
{
	struct sockaddr_storage listen, ns[8];
	struct resolv_conf_saved *sv;
	char path[128], target[128], link[256];
	socklen_t l;
	size_t n;
	ssize_t ll;
	struct stat st;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cy-resolv-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/resolv.conf", tmpdir);
	snprintf(target, sizeof(target), "%s/stub-resolv.conf", tmpdir);
	write_file(target, "nameserver 127.0.0.53\n");
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(addr_parse("127.0.0.153", 53, &listen, &l), 0);
	assert_int_equal(resolv_conf_install(path, (struct sockaddr *)&listen, ns, 8, &n, &sv),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(read_all(target), "nameserver 127.0.0.53\n");   /* untouched */
	assert_int_equal(resolv_conf_restore(sv), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	ll = readlink(path, link, sizeof(link) - 1);
	assert_true(ll > 0);
	link[ll] = '\0';
	assert_string_equal(link, target);
	unlink(path);
	unlink(target);
}

/* ---- resolver_server.c on loopback ---- */

static struct resolver_server *srv_for_lookup;

static int srv_lookup(void *arg, const char *fqdn, uint64_t token)
{
	if (strcmp(fqdn, "alpha.example.test") == 0)
		resolver_complete(resolver_server_resolver(srv_for_lookup), token, RESOLVER_OK,
				  &vip4, &vip6);
	else
		resolver_complete(resolver_server_resolver(srv_for_lookup), token,
				  RESOLVER_NXDOMAIN, NULL, NULL);
	return 0;
}

/* Run the loop until fd is readable (or 5 s pass). */
static bool pump_until_readable(struct event_base *base, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (int i = 0; i < 5000; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 1) == 1)
			return true;
	}
	return false;
}

static int udp_sock(struct sockaddr_in *bound)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t l = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(0x7f000001);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)bound, &l);
	return fd;
}

static bool tcp_two_frames(const uint8_t *b, size_t got)
{
	size_t l1;

	if (got < 2)
		return false;
	l1 = get_be16(b);
	return got >= 2 + l1 + 2 && got >= 2 + l1 + 2 + get_be16(b + 2 + l1);
}

static void test_server_loopback(void **state)
{
	struct event_base *base = event_base_new();
	struct sockaddr_in up_addr, cl_addr, listen = { .sin_family = AF_INET };
	struct sockaddr_storage up_ss, srv;
	socklen_t sl;
	int up_fd = udp_sock(&up_addr), cl_fd = udp_sock(&cl_addr), tfd;
	struct resolver_server_cfg cfg = { .listen = (struct sockaddr *)&listen };
	struct resolver_server *s;
	uint8_t q[512], b[2048];
	struct dns_msg m;
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	ssize_t k;
	size_t n;

	clock_set_fake(0, 0);
	listen.sin_addr.s_addr = htonl(0x7f000001);
	memset(&up_ss, 0, sizeof(up_ss));
	memcpy(&up_ss, &up_addr, sizeof(up_addr));
	cfg.rc.domain = "example.test";
	cfg.rc.upstreams = &up_ss;
	cfg.rc.n_upstreams = 1;
	cfg.rc.lookup = srv_lookup;
	s = resolver_server_new(base, &cfg);
	assert_non_null(s);
	srv_for_lookup = s;
	resolver_server_local(s, &srv, &sl);
	assert_int_not_equal(addr_port((struct sockaddr *)&srv), 0);

	/* a CYPHONIC name over UDP, answered from lookup() */
	n = mkq(q, 0x0101, "alpha.example.test", DNS_T_A, false, 0);
	assert_true(sendto(cl_fd, q, n, 0, (struct sockaddr *)&srv, sl) == (ssize_t)n);
	assert_true(pump_until_readable(base, cl_fd));
	k = recv(cl_fd, b, sizeof(b), 0);
	assert_int_equal(dns_parse(b, (size_t)k, DNS_PARSE_QUERY, &m), 0);
	assert_int_equal(m.hdr.id, 0x0101);
	assert_int_equal(m.hdr.ancount, 1);
	assert_memory_equal(b + k - 4, "\x64\x40\0\7", 4);

	/* a forwarded name: the upstream sees a random port and ID */
	n = mkq(q, 0x0202, "www.example.org", DNS_T_A, false, 0);
	assert_true(sendto(cl_fd, q, n, 0, (struct sockaddr *)&srv, sl) == (ssize_t)n);
	assert_true(pump_until_readable(base, up_fd));
	k = recvfrom(up_fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
	assert_int_equal(k, n);
	assert_memory_equal(b + 2, q + 2, n - 2);
	assert_int_not_equal(addr_port((struct sockaddr *)&from),
			     addr_port((struct sockaddr *)&srv));
	/* first a reply from the right address but a wrong ID, then the right one */
	{
		struct upq u = { .len = (size_t)k };
		uint8_t rep[1024];
		size_t rl;

		memcpy(u.buf, b, (size_t)k);
		rl = mkreply(rep, &u, 2);
		put_be16(rep, get_be16(b) ^ 0x8000);
		sendto(up_fd, rep, rl, 0, (struct sockaddr *)&from, fl);
		put_be16(rep, get_be16(b));
		sendto(up_fd, rep, rl, 0, (struct sockaddr *)&from, fl);
		assert_true(pump_until_readable(base, cl_fd));
		k = recv(cl_fd, b, sizeof(b), 0);
		assert_int_equal(k, rl);
		assert_int_equal(get_be16(b), 0x0202);
		assert_memory_equal(b + 2, rep + 2, rl - 2);
	}
	assert_int_equal(resolver_stats(resolver_server_resolver(s))->upstream_mismatch, 1);

	/* TCP: two pipelined queries in one write, two framed answers */
	tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(tfd, (struct sockaddr *)&srv, sl), 0);
	n = mkq(q + 2, 0x0303, "alpha.example.test", DNS_T_AAAA, false, 0);
	put_be16(q, (uint16_t)n);
	memcpy(q + 2 + n, q, 2 + n);
	put_be16(q + 2 + n + 2, 0x0404);
	assert_true(write(tfd, q, 2 * (2 + n)) == (ssize_t)(2 * (2 + n)));
	size_t got = 0;
	struct pollfd p = { .fd = tfd, .events = POLLIN };
	for (int i = 0; i < 5000 && !tcp_two_frames(b, got); i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 1) == 1) {
			k = recv(tfd, b + got, sizeof(b) - got, 0);
			assert_true(k > 0);
			got += (size_t)k;
		}
	}
	assert_true(tcp_two_frames(b, got));
	size_t l1 = get_be16(b);
	assert_int_equal(dns_parse(b + 2, l1, DNS_PARSE_QUERY, &m), 0);
	assert_int_equal(m.hdr.id, 0x0303);
	assert_memory_equal(b + 2 + l1 - 16, &vip6, 16);
	assert_int_equal(dns_parse(b + 4 + l1, get_be16(b + 2 + l1), DNS_PARSE_QUERY, &m), 0);
	assert_int_equal(m.hdr.id, 0x0404);
	close(tfd);
	for (int i = 0; i < 10; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);

	resolver_server_free(s);
	event_base_free(base);
	close(up_fd);
	close(cl_fd);
}

/* ---- resolver_server_adopt_tcp(): a server without listeners ---- */

static int adopt_udp_sends;

static void adopt_send_client(void *arg, const struct resolver_client *c, const uint8_t *buf,
			      size_t len)
{
	adopt_udp_sends++;
}

/* Run the loop until fd has a whole framed message (or EOF: 0), 5 s at most. */
static ssize_t pump_read_frame(struct event_base *base, int fd, uint8_t *b, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	for (int i = 0; i < 5000; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 1) != 1)
			continue;
		ssize_t k = recv(fd, b + got, cap - got, MSG_DONTWAIT);

		if (k == 0)
			return (ssize_t)got;
		if (k < 0)
			continue;
		got += (size_t)k;
		if (got >= 2 && got >= 2u + get_be16(b))
			return (ssize_t)got;
	}
	return -1;
}

static void test_server_adopt_tcp(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver_server_cfg cfg = { .send_client = adopt_send_client,
					   .max_tcp = 1, .tcp_idle_ms = 200 };
	struct resolver_server *s;
	struct sockaddr_storage local;
	struct sockaddr_in peer = { .sin_family = AF_INET };
	socklen_t ll = sizeof(local);
	uint8_t q[512], b[2048];
	struct dns_msg m;
	int sp[2], sp2[2];
	ssize_t k;
	size_t n;

	clock_set_fake(0, 0);
	adopt_udp_sends = 0;
	peer.sin_addr.s_addr = htonl(0x64400009);
	cfg.rc.domain = "example.test";
	cfg.rc.lookup = srv_lookup;
	s = resolver_server_new(base, &cfg);
	assert_non_null(s);
	srv_for_lookup = s;
	resolver_server_local(s, &local, &ll);
	assert_int_equal(local.ss_family, AF_UNSPEC);

	/* one framed query in, one framed answer out, over the adopted socket */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(resolver_server_adopt_tcp(s, sp[1], (struct sockaddr *)&peer,
						   sizeof(peer)), 0);
	n = mkq(q + 2, 0x0505, "alpha.example.test", DNS_T_A, false, 0);
	put_be16(q, (uint16_t)n);
	assert_true(write(sp[0], q, 2 + n) == (ssize_t)(2 + n));
	k = pump_read_frame(base, sp[0], b, sizeof(b));
	assert_true(k >= 2 && (size_t)k == 2u + get_be16(b));
	assert_int_equal(dns_parse(b + 2, (size_t)k - 2, DNS_PARSE_QUERY, &m), 0);
	assert_int_equal(m.hdr.id, 0x0505);
	assert_int_equal(m.hdr.ancount, 1);
	assert_memory_equal(b + k - 4, "\x64\x40\0\7", 4);
	/* TCP answers never go to send_client (the adapter's UDP frames) */
	assert_int_equal(adopt_udp_sends, 0);

	/* the cap (1) is shared with the server's own connections: a second
	 * one is refused and closed */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp2), 0);
	assert_int_equal(resolver_server_adopt_tcp(s, sp2[1], NULL, 0), -EMFILE);
	assert_int_equal(read(sp2[0], b, sizeof(b)), 0);
	close(sp2[0]);

	/* the idle timeout closes the first one (EOF), which frees its slot */
	assert_int_equal(pump_read_frame(base, sp[0], b, sizeof(b)), 0);
	close(sp[0]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp2), 0);
	assert_int_equal(resolver_server_adopt_tcp(s, sp2[1], NULL, 0), 0);

	/* a length below a DNS header closes the connection */
	assert_true(write(sp2[0], "\0\3abc", 5) == 5);
	assert_int_equal(pump_read_frame(base, sp2[0], b, sizeof(b)), 0);
	close(sp2[0]);

	resolver_server_free(s);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_a_after_lookup),
		cmocka_unit_test(test_local_merge_a_aaaa),
		cmocka_unit_test(test_local_statuses),
		cmocka_unit_test(test_local_without_lookup),
		cmocka_unit_test(test_local_sync_complete_and_timeout),
		cmocka_unit_test(test_malformed_queries),
		cmocka_unit_test(test_forward_match_rules),
		cmocka_unit_test(test_forward_random_ids),
		cmocka_unit_test(test_forward_merge),
		cmocka_unit_test(test_forward_cap),
		cmocka_unit_test(test_forward_timeout_and_failover),
		cmocka_unit_test(test_forward_truncation),
		cmocka_unit_test(test_forward_none_and_loop),
		cmocka_unit_test(test_resolv_conf_parse),
		cmocka_unit_test(test_resolv_conf_install_restore),
		cmocka_unit_test(test_resolv_conf_symlink),
		cmocka_unit_test(test_server_loopback),
		cmocka_unit_test(test_server_adopt_tcp),
	};
	log_init("test_resolver", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
