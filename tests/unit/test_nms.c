/* The NMS protocol handler, driven directly over datagrams with a
 * temporary SQLite store and a fake clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "cloud_fixture.h"
#include "nms.h"
#include "nms_impl.h"
#include "seal.h"
#include "store.h"
#include "wire.h"

#define NOW 1700000000
#define TTL 60
#define KEY_A 0x1111222233334444ULL
#define KEY_B 0x5555666677778888ULL
#define KEY_OLD 0x0badc0ffee000001ULL

struct fx {
	struct cloud_fixture cf;
	struct nms *nms;
	struct store_node alpha, beta;
	struct aead *ka, *kb, *kold;
	uint64_t ctr_a, ctr_b;
};

static struct nms *new_nms_host(struct store *st, const char *host)
{
	struct nms_conf nc = { .registration_ttl = TTL, .host = host };
	struct nms *n = nms_new(st, &nc);

	assert_non_null(n);
	return n;
}

static struct nms *new_nms(struct store *st)
{
	return new_nms_host(st, NULL);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	clock_set_fake(NOW, 1000);
	cloud_fixture_open(&f->cf, "test-nms");
	cloud_fixture_node(&f->cf, &(struct fixture_node){ .name = "alpha" }, &f->alpha);
	cloud_fixture_node(&f->cf, &(struct fixture_node){ .name = "beta" }, &f->beta);
	f->ka = cloud_fixture_key(&f->cf, KEY_A, f->alpha.id, NOW + 3600);
	f->kb = cloud_fixture_key(&f->cf, KEY_B, f->beta.id, NOW + 3600);
	/* gamma's one key expires now (a node has one live key: beta's would
	 * retire when KEY_B was stored) */
	f->kold = cloud_fixture_key(&f->cf, KEY_OLD,
				    FIXTURE_NODE(&f->cf, .name = "gamma"), NOW);
	f->nms = new_nms(f->cf.st);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nms_free(f->nms);
	aead_free(f->ka);
	aead_free(f->kb);
	aead_free(f->kold);
	cloud_fixture_close(&f->cf);
	free(f);
	clock_set_fake(0, 0);
	return 0;
}

static struct sockaddr_storage ep(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;

	assert_int_equal(addr_parse(s, 0, &ss, &len), 0);
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

/* Seal an inner message the way a node does. */
static size_t seal(struct aead *a, uint64_t key_id, uint64_t ctr, const uint8_t *msg,
		   size_t len, uint8_t *out, size_t cap)
{
	ssize_t n = cy_seal(a, CY_DIR_TO_CLOUD, key_id, ctr, msg, len, out, cap);

	assert_true(n > 0);
	return (size_t)n;
}

/* A Registration Request reporting addr, sent from `from` with the cookie
 * f's NMS gives that endpoint (as a node echoes it: nms_cookie.c), none
 * when from is NULL. */
static size_t reg_req(struct fx *f, struct aead *a, uint64_t key_id, uint64_t ctr,
		      const char *addr, const struct sockaddr *from, uint8_t *out, size_t cap)
{
	uint8_t msg[256], cookie[CY_COOKIE_LEN];
	struct cy_builder b;
	struct sockaddr_storage ss;
	ssize_t n;

	cy_build_start(&b, msg, sizeof(msg), CY_REG_REQ);
	if (addr) {
		ss = ep(addr);
		cy_put_endpoint(&b, CY_A_ADDR, SA(ss));
	}
	cy_put_u8(&b, CY_A_FAMILIES, CY_FAM_IPV4);
	cy_put_u64(&b, CY_A_TIME, (uint64_t)NOW * 1000);
	if (from) {
		assert_true(nms_reg_cookie(f->nms, key_id, from, clock_now(), cookie));
		cy_put_bytes(&b, CY_A_COOKIE, cookie, sizeof(cookie));
	}
	n = cy_build_finish(&b);
	assert_true(n > 0);
	return seal(a, key_id, ctr, msg, (size_t)n, out, cap);
}

static size_t simple_req(struct aead *a, uint64_t key_id, uint64_t ctr, uint8_t type,
			 uint8_t *out, size_t cap)
{
	uint8_t msg[64];
	struct cy_builder b;
	ssize_t n;

	cy_build_start(&b, msg, sizeof(msg), type);
	if (type == CY_KEEPALIVE)
		cy_put_u64(&b, CY_A_TIME, (uint64_t)NOW * 1000);
	n = cy_build_finish(&b);
	assert_true(n > 0);
	return seal(a, key_id, ctr, msg, (size_t)n, out, cap);
}

/* Open a sealed reply and parse it; returns its RESULT. */
static int open_reply(struct aead *a, uint64_t key_id, const uint8_t *pkt, size_t len,
		      uint8_t type, struct cy_msg *m, uint8_t *plain, size_t cap)
{
	struct cy_seal_hdr h;
	ssize_t n;
	uint8_t r;

	assert_true(len > 0);
	assert_int_equal(cy_seal_peek(pkt, len, &h), 0);
	assert_int_equal(h.dir, CY_DIR_FROM_CLOUD);
	assert_true(h.key_id == key_id);
	n = cy_unseal(a, pkt, len, plain, cap);
	assert_true(n > 0);
	assert_int_equal(cy_msg_parse(m, plain, (size_t)n), 0);
	assert_int_equal(m->type, type);
	assert_true(cy_msg_u8(m, CY_A_RESULT, &r));
	return r;
}

static void test_register_direct(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("192.0.2.10:7446"), obs;
	uint8_t pkt[512], out[NMS_PKT_MAX], plain[NMS_PKT_MAX], u8, vip[16];
	char fqdn[CY_FQDN_MAX + 1];
	struct store_reg reg;
	struct cy_msg m;
	socklen_t sl;
	uint32_t ttl;
	size_t len, r;

	len = reg_req(f, f->ka, KEY_A, 1, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	assert_true(cy_msg_str(&m, CY_A_FQDN, fqdn, CY_FQDN_MAX));
	assert_string_equal(fqdn, "alpha.example.test");
	assert_true(cy_msg_bytes(&m, CY_A_VIP4, vip, 4));
	assert_memory_equal(vip, f->alpha.vip4, 4);
	assert_true(cy_msg_bytes(&m, CY_A_VIP6, vip, 16));
	assert_memory_equal(vip, f->alpha.vip6, 16);
	assert_true(cy_msg_u8(&m, CY_A_PREFIX4, &u8));
	assert_int_equal(u8, 10);
	assert_true(cy_msg_u8(&m, CY_A_PREFIX6, &u8));
	assert_int_equal(u8, 48);
	assert_true(cy_msg_endpoint(&m, CY_A_OBSERVED, &obs, &sl));
	assert_true(addr_equal(SA(obs), SA(from)));
	assert_true(cy_msg_u8(&m, CY_A_NAT, &u8));
	assert_int_equal(u8, 0);
	assert_true(cy_msg_u32(&m, CY_A_TTL, &ttl));
	assert_int_equal(ttl, TTL);

	assert_int_equal(store_reg_get(f->cf.st, f->alpha.id, &reg), 0);
	assert_false(reg.nat);
	assert_true(reg.key_id == KEY_A);
	assert_int_equal(reg.naddrs, 1);
	assert_true(addr_equal(SA(reg.observed), SA(from)));
	assert_int_equal(reg.expires, NOW + TTL);
	assert_true(reg.counter == 2);
	assert_int_equal(nms_stats(f->nms)->registrations, 1);
}

/* The counter of a reply (its sealed header). */
static uint64_t reply_counter(const uint8_t *out, size_t r)
{
	struct cy_seal_hdr h;

	assert_true(r > 0);
	assert_int_equal(cy_seal_peek(out, r, &h), 0);
	return h.counter;
}

/* Replies under a common key never reuse a nonce: not after the NMS
 * restarts with the clock stepped back an hour (the key lives on in the
 * store), and not when two NMS processes share the store. */
static void test_reply_counters_never_repeat(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("192.0.2.10:7446");
	uint8_t pkt[512], out[NMS_PKT_MAX];
	uint64_t c[4];
	struct nms *other;
	size_t len, r;

	len = reg_req(f, f->ka, KEY_A, 1, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	c[0] = reply_counter(out, r);
	/* restart, the wall clock an hour behind */
	nms_free(f->nms);
	clock_set_fake(NOW - 3600, 1000);
	f->nms = new_nms(f->cf.st);
	len = reg_req(f, f->ka, KEY_A, 2, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	c[1] = reply_counter(out, r);
	assert_true(c[1] > c[0]);
	/* a second NMS on the same store answers under the same key */
	other = new_nms(f->cf.st);
	len = reg_req(f, f->ka, KEY_A, 3, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(other, SA(from), pkt, len, out, sizeof(out));
	c[2] = reply_counter(out, r);
	len = reg_req(f, f->ka, KEY_A, 4, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	c[3] = reply_counter(out, r);
	nms_free(other);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			assert_true(c[i] != c[j]);
	assert_true(c[2] > c[1]);
}

/* A Registration with cookie (NULL: none) from `from` as alpha under
 * KEY_A with counter ctr; returns its RESULT, and the cookie the answer
 * gave in *got (when 11). */
static int reg_with(struct fx *f, uint64_t ctr, const char *from, const uint8_t *cookie,
		    uint8_t got[CY_COOKIE_LEN], size_t *req_len, size_t *res_len)
{
	struct sockaddr_storage src = ep(from);
	uint8_t msg[256], pkt[512], out[NMS_PKT_MAX], plain[NMS_PKT_MAX];
	struct cy_builder b;
	struct cy_msg m;
	size_t len, r;
	int res;

	cy_build_start(&b, msg, sizeof(msg), CY_REG_REQ);
	cy_put_endpoint(&b, CY_A_ADDR, SA(src));
	cy_put_u8(&b, CY_A_FAMILIES, CY_FAM_IPV4);
	cy_put_u64(&b, CY_A_TIME, (uint64_t)NOW * 1000);
	if (cookie)
		cy_put_bytes(&b, CY_A_COOKIE, cookie, CY_COOKIE_LEN);
	len = seal(f->ka, KEY_A, ctr, msg, (size_t)cy_build_finish(&b), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(src), pkt, len, out, sizeof(out));
	res = open_reply(f->ka, KEY_A, out, r, CY_REG_RES, &m, plain, sizeof(plain));
	if (res == CY_ERR_PROVE)
		assert_true(cy_msg_bytes(&m, CY_A_COOKIE, got, CY_COOKIE_LEN));
	else
		assert_null(cy_msg_find(&m, CY_A_COOKIE));
	if (req_len)
		*req_len = len;
	if (res_len)
		*res_len = r;
	return res;
}

static void assert_registered_at(struct fx *f, const char *where)
{
	struct sockaddr_storage want = ep(where);
	struct store_reg reg;

	assert_int_equal(store_reg_get(f->cf.st, f->alpha.id, &reg), 0);
	assert_true(addr_equal(SA(reg.observed), SA(want)));
}

/* Return routability: a Registration takes the registration to a new
 * endpoint (or makes it) only when it echoes the cookie the NMS sent
 * there.  Without one it gets RESULT 11 and a cookie, no bigger than the
 * request, and nothing changes; a refresh from where it is registered
 * needs none.  A copy of a fresh Registration raced from elsewhere (or
 * a node forging its source) does not move it, whatever cookie it shows:
 * of another endpoint, of another key, or older than the last window. */
static void test_register_proves_endpoint(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage b_ep = ep("203.0.113.66:7446");
	uint8_t c1[CY_COOKIE_LEN], c2[CY_COOKIE_LEN], cb[CY_COOKIE_LEN], other[CY_COOKIE_LEN];
	struct store_reg reg;
	size_t qlen, rlen;

	assert_int_equal(reg_with(f, 1, "192.0.2.10:7446", NULL, c1, &qlen, &rlen), CY_ERR_PROVE);
	assert_true(rlen <= qlen);
	assert_int_equal(store_reg_get(f->cf.st, f->alpha.id, &reg), -ENOENT);
	assert_int_equal(nms_stats(f->nms)->registrations, 0);
	assert_int_equal(nms_stats(f->nms)->reg_challenges, 1);
	/* The cookie back, from there: registered. */
	assert_int_equal(reg_with(f, 2, "192.0.2.10:7446", c1, c2, NULL, NULL), CY_OK);
	assert_registered_at(f, "192.0.2.10:7446");
	/* A refresh from there needs none. */
	assert_int_equal(reg_with(f, 3, "192.0.2.10:7446", NULL, c2, NULL, NULL), CY_OK);
	assert_int_equal(nms_stats(f->nms)->registrations, 2);
	/* From elsewhere: challenged, not moved, with no cookie, the cookie
	 * of the endpoint it is at, or a cookie of that endpoint for another
	 * key. */
	assert_int_equal(reg_with(f, 4, "203.0.113.66:7446", NULL, cb, NULL, NULL), CY_ERR_PROVE);
	assert_int_equal(reg_with(f, 5, "203.0.113.66:7446", c1, c2, NULL, NULL), CY_ERR_PROVE);
	assert_true(nms_reg_cookie(f->nms, KEY_B, SA(b_ep), clock_now(), other));
	assert_int_equal(reg_with(f, 6, "203.0.113.66:7446", other, c2, NULL, NULL),
			 CY_ERR_PROVE);
	assert_registered_at(f, "192.0.2.10:7446");
	assert_int_equal(nms_stats(f->nms)->reg_challenges, 4);
	/* The cookie sent there takes it, this window or the next, not
	 * later. */
	clock_set_fake(NOW + NMS_COOKIE_WINDOW_S, 2000);
	assert_int_equal(reg_with(f, 7, "203.0.113.66:7446", cb, c2, NULL, NULL), CY_OK);
	assert_registered_at(f, "203.0.113.66:7446");
	clock_set_fake(NOW + 2 * NMS_COOKIE_WINDOW_S, 3000);
	assert_int_equal(reg_with(f, 8, "192.0.2.10:7446", c1, c2, NULL, NULL), CY_ERR_PROVE);
	assert_registered_at(f, "203.0.113.66:7446");
	assert_int_equal(reg_with(f, 9, "192.0.2.10:7446", c2, c1, NULL, NULL), CY_OK);
	assert_registered_at(f, "192.0.2.10:7446");
	/* Expired, even where it was: a cookie again. */
	clock_set_fake(NOW + 2 * NMS_COOKIE_WINDOW_S + TTL, 4000);
	assert_int_equal(reg_with(f, 10, "192.0.2.10:7446", NULL, c1, NULL, NULL), CY_ERR_PROVE);
	assert_int_equal(reg_with(f, 11, "192.0.2.10:7446", c1, c2, NULL, NULL), CY_OK);
}

/* A Registration held back by a copier and let go later, from where the
 * node was, with that endpoint's (still valid) cookie: its counter is
 * older than the registration's, so it moves nothing. */
static void test_register_late_copy(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage old_ep = ep("203.0.113.66:7446"), now_ep = ep("192.0.2.10:7446");
	uint8_t held[512], pkt[512], out[NMS_PKT_MAX];
	size_t hlen, len;
	uint64_t replays;

	/* The node at old_ep sends counter 3 with the cookie; the copier
	 * keeps it, the NMS never sees it. */
	hlen = reg_req(f, f->ka, KEY_A, 3, "203.0.113.66:7446", SA(old_ep), held, sizeof(held));
	/* It registers at now_ep (counter 4). */
	len = reg_req(f, f->ka, KEY_A, 4, "192.0.2.10:7446", SA(now_ep), pkt, sizeof(pkt));
	assert_true(nms_handle(f->nms, SA(now_ep), pkt, len, out, sizeof(out)) > 0);
	assert_registered_at(f, "192.0.2.10:7446");
	replays = nms_stats(f->nms)->replay;
	assert_int_equal(nms_handle(f->nms, SA(old_ep), held, hlen, out, sizeof(out)), 0);
	assert_registered_at(f, "192.0.2.10:7446");
	assert_int_equal(nms_stats(f->nms)->replay, replays + 1);
}

static void test_register_napt(void **state)
{
	struct fx *f = *state;
	/* The node reports its private address; the NMS sees the NAPT's. */
	struct sockaddr_storage from = ep("203.0.113.5:40123"), obs;
	uint8_t pkt[512], out[NMS_PKT_MAX], plain[NMS_PKT_MAX], u8;
	struct store_reg reg;
	struct cy_msg m;
	socklen_t sl;
	size_t len, r;

	len = reg_req(f, f->kb, KEY_B, 1, "10.0.0.2:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->kb, KEY_B, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	assert_true(cy_msg_u8(&m, CY_A_NAT, &u8));
	assert_int_equal(u8, 1);
	assert_true(cy_msg_endpoint(&m, CY_A_OBSERVED, &obs, &sl));
	assert_true(addr_equal(SA(obs), SA(from)));
	assert_int_equal(store_reg_get(f->cf.st, f->beta.id, &reg), 0);
	assert_true(reg.nat);

	/* Same address but another port: a port-translating NAPT. */
	from = ep("10.0.0.2:50000");
	len = reg_req(f, f->kb, KEY_B, 2, "10.0.0.2:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->kb, KEY_B, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	assert_true(cy_msg_u8(&m, CY_A_NAT, &u8));
	assert_int_equal(u8, 1);

	/* IPv6, direct. */
	from = ep("[2001:db8::5]:7446");
	len = reg_req(f, f->kb, KEY_B, 3, "[2001:db8::5]:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->kb, KEY_B, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	assert_true(cy_msg_u8(&m, CY_A_NAT, &u8));
	assert_int_equal(u8, 0);
}

static void test_keepalive(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("203.0.113.5:40123"), other = ep("203.0.113.5:40999");
	uint8_t pkt[512], out[NMS_PKT_MAX], plain[NMS_PKT_MAX];
	struct store_reg reg;
	struct cy_msg m;
	uint64_t ctr = 1;
	size_t len, r;

	/* Not registered yet: register again. */
	len = simple_req(f->kb, KEY_B, ctr++, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->kb, KEY_B, out, r, CY_KEEPALIVE_ACK, &m, plain,
				    sizeof(plain)), CY_ERR_REREGISTER);

	len = reg_req(f, f->kb, KEY_B, ctr++, "10.0.0.2:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->kb, KEY_B, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);

	/* 30 s later a keepalive refreshes the registration. */
	clock_set_fake(NOW + 30, 31000);
	len = simple_req(f->kb, KEY_B, ctr++, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->kb, KEY_B, out, r, CY_KEEPALIVE_ACK, &m, plain,
				    sizeof(plain)), CY_OK);
	assert_non_null(cy_msg_find(&m, CY_A_OBSERVED));
	/* answered from memory, written to the store by the next flush */
	assert_int_equal(store_reg_get(f->cf.st, f->beta.id, &reg), 0);
	assert_int_equal(reg.expires, NOW + TTL);
	nms_flush(f->nms);
	assert_int_equal(store_reg_get(f->cf.st, f->beta.id, &reg), 0);
	assert_int_equal(reg.expires, NOW + 30 + TTL);
	assert_true(reg.counter == ctr);

	/* From another endpoint (the NAPT mapping changed): register again,
	 * and the registration does not move. */
	len = simple_req(f->kb, KEY_B, ctr++, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(other), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->kb, KEY_B, out, r, CY_KEEPALIVE_ACK, &m, plain,
				    sizeof(plain)), CY_ERR_REREGISTER);
	assert_int_equal(store_reg_get(f->cf.st, f->beta.id, &reg), 0);
	assert_true(addr_equal(SA(reg.observed), SA(from)));

	/* Without keepalives past the TTL the registration expires. */
	clock_set_fake(NOW + 30 + TTL, 100000);
	nms_expire(f->nms, clock_now());
	assert_int_equal(store_reg_get(f->cf.st, f->beta.id, &reg), -ENOENT);
	len = simple_req(f->kb, KEY_B, ctr++, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->kb, KEY_B, out, r, CY_KEEPALIVE_ACK, &m, plain,
				    sizeof(plain)), CY_ERR_REREGISTER);
	assert_int_equal(nms_stats(f->nms)->keepalives, 4);
}

static void test_deregister(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("192.0.2.10:7446");
	uint8_t pkt[512], out[NMS_PKT_MAX], plain[NMS_PKT_MAX];
	struct store_reg reg;
	struct cy_msg m;
	size_t len, r;

	len = reg_req(f, f->ka, KEY_A, 1, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	len = simple_req(f->ka, KEY_A, 2, CY_DEREG, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_DEREG, &m, plain, sizeof(plain)),
			 CY_OK);
	assert_int_equal(store_reg_get(f->cf.st, f->alpha.id, &reg), -ENOENT);
}

static void test_replay(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("192.0.2.10:7446");
	uint8_t pkt[512], out[NMS_PKT_MAX];
	size_t len;

	len = reg_req(f, f->ka, KEY_A, 7, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	assert_true(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)) > 0);
	assert_int_equal(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)), 0);
	assert_int_equal(nms_stats(f->nms)->replay, 1);
	assert_int_equal(nms_stats(f->nms)->registrations, 1);
	/* Older but inside the window and unseen: fine. */
	len = reg_req(f, f->ka, KEY_A, 3, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	assert_true(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)) > 0);
}

static void test_modified(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("192.0.2.10:7446");
	uint8_t pkt[512], out[NMS_PKT_MAX];
	size_t len;

	len = reg_req(f, f->ka, KEY_A, 1, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	for (size_t i = CY_SEAL_HDR_LEN; i < len; i++) {
		pkt[i] ^= 0x01;
		assert_int_equal(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)), 0);
		pkt[i] ^= 0x01;
	}
	/* The header is authenticated too (counter and key id aside, which
	 * change the nonce or the key). */
	pkt[16] ^= 0x80; /* counter */
	assert_int_equal(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)), 0);
	pkt[16] ^= 0x80;
	assert_int_equal(nms_stats(f->nms)->auth_fail, len - CY_SEAL_HDR_LEN + 1);
	assert_int_equal(nms_stats(f->nms)->registrations, 0);
	/* A forged counter did not move the window: the real one passes. */
	assert_true(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)) > 0);
	assert_int_equal(nms_stats(f->nms)->registrations, 1);
}

static void test_unknown_key(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("198.51.100.9:1234");
	uint8_t pkt[512], out[NMS_PKT_MAX];
	size_t len, r;
	int replies = 0;

	len = reg_req(f, f->ka, 0x4242, 1, "198.51.100.9:1234", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(r, NMS_REJECT_LEN);
	assert_int_equal(out[0], CY_VERSION);
	assert_int_equal(out[1], CY_NMS_REJECT);
	assert_int_equal(out[2], CY_ERR_UNKNOWN);
	assert_int_equal(out[3], 0);
	assert_true(get_be64(out + 4) == 0x4242);
	/* Rejects are rate-limited per source (the fake clock stands still). */
	for (int i = 0; i < 20; i++)
		replies += nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)) > 0;
	assert_int_equal(replies, NMS_REJECT_PER_SEC - 1);
	assert_int_equal(nms_stats(f->nms)->unknown_key, 21);
	/* Another source still gets its answer; a second later this one too. */
	from = ep("198.51.100.10:1234");
	assert_int_equal(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)),
			 NMS_REJECT_LEN);
	clock_set_fake(NOW + 1, 2000);
	from = ep("198.51.100.9:1234");
	assert_int_equal(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)),
			 NMS_REJECT_LEN);
}

/* Made-up key ids cost at most NMS_KEY_MISSES_PER_SOURCE store lookups a
 * second from one source, NMS_KEY_MISSES_PER_SEC from all; past that they
 * are dropped without one (and counted), other sources' keys are still
 * looked up, and in the next second the NMS looks again. */
static void test_unknown_keys_shed(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("198.51.100.9:1234"), other = ep("203.0.113.77:1234");
	uint8_t pkt[512], out[NMS_PKT_MAX];
	const struct store_stats *ss = store_stats(f->cf.st);
	uint64_t calls0, shed0;
	char a[64];
	size_t len;
	int extra = 10;

	calls0 = ss->calls;
	for (int i = 0; i < NMS_KEY_MISSES_PER_SOURCE + extra; i++) {
		len = reg_req(f, f->ka, 0x10000 + (uint64_t)i, 1, "198.51.100.9:1234", SA(from), pkt,
			      sizeof(pkt));
		nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	}
	assert_int_equal(nms_stats(f->nms)->unknown_key, NMS_KEY_MISSES_PER_SOURCE + extra);
	assert_int_equal(nms_stats(f->nms)->unknown_key_shed, extra);
	assert_int_equal(ss->calls - calls0, NMS_KEY_MISSES_PER_SOURCE);
	/* another source is still looked up, and a known key still works */
	calls0 = ss->calls;
	len = reg_req(f, f->ka, 0x20000, 1, "203.0.113.77:1234", SA(other), pkt, sizeof(pkt));
	nms_handle(f->nms, SA(other), pkt, len, out, sizeof(out));
	assert_int_equal(ss->calls - calls0, 1);
	len = reg_req(f, f->ka, KEY_A, ++f->ctr_a, "203.0.113.77:1234", SA(other), pkt, sizeof(pkt));
	assert_true(nms_handle(f->nms, SA(other), pkt, len, out, sizeof(out)) > 0);
	assert_int_equal(nms_stats(f->nms)->registrations, 1);
	/* from many sources: no more than the total */
	shed0 = nms_stats(f->nms)->unknown_key_shed;
	calls0 = ss->calls;
	for (int i = 0; i < 4 * NMS_KEY_MISSES_PER_SEC; i++) {
		struct sockaddr_storage x;

		snprintf(a, sizeof(a), "10.%d.%d.1:1234", i / 256, i % 256);
		x = ep(a);
		len = reg_req(f, f->ka, 0x30000 + (uint64_t)i, 1, a, SA(x), pkt, sizeof(pkt));
		nms_handle(f->nms, SA(x), pkt, len, out, sizeof(out));
	}
	assert_true(ss->calls - calls0 <= NMS_KEY_MISSES_PER_SEC);
	assert_true(nms_stats(f->nms)->unknown_key_shed - shed0 >= 3 * NMS_KEY_MISSES_PER_SEC);
	/* ...and a key the NMS holds, due for its re-check (a revocation
	 * somewhere), is still looked up and taken that same second */
	nms_authz_check(f->nms);
	shed0 = nms_stats(f->nms)->unknown_key_shed;
	len = reg_req(f, f->ka, KEY_A, ++f->ctr_a, "203.0.113.77:1234", SA(other), pkt, sizeof(pkt));
	assert_true(nms_handle(f->nms, SA(other), pkt, len, out, sizeof(out)) > 0);
	assert_int_equal(nms_stats(f->nms)->registrations, 2);
	assert_int_equal(nms_stats(f->nms)->unknown_key_shed, shed0);
	/* an IPv6 host is one source for its whole /64 */
	{
		struct sockaddr_storage v6;

		shed0 = nms_stats(f->nms)->unknown_key_shed;
		clock_set_fake(NOW + 5, 6000);
		for (int i = 0; i < NMS_KEY_MISSES_PER_SOURCE + extra; i++) {
			snprintf(a, sizeof(a), "[2001:db8:5:6::%x]:1234", i + 1);
			v6 = ep(a);
			len = reg_req(f, f->ka, 0x50000 + (uint64_t)i, 1, a, SA(v6), pkt, sizeof(pkt));
			nms_handle(f->nms, SA(v6), pkt, len, out, sizeof(out));
		}
		assert_int_equal(nms_stats(f->nms)->unknown_key_shed - shed0, extra);
	}
	/* the next second: looked up again */
	clock_set_fake(NOW + 6, 7000);
	calls0 = ss->calls;
	shed0 = nms_stats(f->nms)->unknown_key_shed;
	len = reg_req(f, f->ka, 0x40000, 1, "198.51.100.9:1234", SA(from), pkt, sizeof(pkt));
	nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(ss->calls - calls0, 1);
	assert_int_equal(nms_stats(f->nms)->unknown_key_shed, shed0);
}

static void test_expired_key(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("198.51.100.9:1234");
	uint8_t pkt[512], out[NMS_PKT_MAX];
	size_t len, r;

	len = reg_req(f, f->kold, KEY_OLD, 1, "198.51.100.9:1234", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(r, NMS_REJECT_LEN);
	assert_int_equal(out[1], CY_NMS_REJECT);
	assert_int_equal(out[2], CY_ERR_EXPIRED);
	assert_true(get_be64(out + 4) == KEY_OLD);
	assert_int_equal(nms_stats(f->nms)->expired_key, 1);
	assert_int_equal(nms_stats(f->nms)->registrations, 0);

	/* A key that was fine goes past its expiry while cached. */
	len = reg_req(f, f->ka, KEY_A, 1, "198.51.100.9:1234", SA(from), pkt, sizeof(pkt));
	assert_true(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)) > NMS_REJECT_LEN);
	clock_set_fake(NOW + 3600, 5000);
	len = reg_req(f, f->ka, KEY_A, 2, "198.51.100.9:1234", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(r, NMS_REJECT_LEN);
	assert_int_equal(out[2], CY_ERR_EXPIRED);
	/* After the sweep it is gone from the store: unknown. */
	nms_expire(f->nms, clock_now());
	len = reg_req(f, f->ka, KEY_A, 3, "198.51.100.9:1234", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(r, NMS_REJECT_LEN);
	assert_int_equal(out[2], CY_ERR_UNKNOWN);
}

/* alpha registers from `from` under KEY_A, counter 1. */
static void alpha_registered(struct fx *f, const struct sockaddr_storage *from)
{
	uint8_t pkt[512], out[NMS_PKT_MAX];
	size_t len = reg_req(f, f->ka, KEY_A, 1, "192.0.2.10:7446", SA(*from), pkt, sizeof(pkt));

	assert_true(nms_handle(f->nms, SA(*from), pkt, len, out, sizeof(out)) > NMS_REJECT_LEN);
}

static void test_revoked(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("192.0.2.10:7446");
	uint8_t pkt[512], out[NMS_PKT_MAX];
	size_t len, r;

	alpha_registered(f, &from);
	/* Revocation deletes the keys and `cyphonic revoke` tells the NMS
	 * (nms_authz_check): the cached one stops working at once. */
	assert_int_equal(store_node_revoke(f->cf.st, "alpha", "stolen"), 0);
	nms_authz_check(f->nms);
	len = simple_req(f->ka, KEY_A, 2, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(r, NMS_REJECT_LEN);
	assert_int_equal(out[2], CY_ERR_UNKNOWN);
}

/* A key gone from the store where nobody told this NMS (another host's
 * login replaced it, the store edited by hand): a keepalive under it is
 * taken from the cache for at most NMS_KEY_RECHECK_MS, a registration
 * never. */
static void test_key_recheck(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("192.0.2.10:7446");
	uint8_t pkt[512], out[NMS_PKT_MAX];
	size_t len, r;

	alpha_registered(f, &from);
	assert_int_equal(store_key_delete(f->cf.st, KEY_A), 0);
	clock_set_fake(NOW, 1001);
	len = reg_req(f, f->ka, KEY_A, 2, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_true(r > NMS_REJECT_LEN); /* sealed: the Registration Response */
	assert_int_equal(nms_stats(f->nms)->registrations, 1);
	/* ...refused with RESULT 1, and the key is no longer taken */
	len = simple_req(f->ka, KEY_A, 3, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(r, NMS_REJECT_LEN);
	assert_int_equal(out[2], CY_ERR_UNKNOWN);
}

static void test_key_recheck_later(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("192.0.2.10:7446");
	uint8_t pkt[512], out[NMS_PKT_MAX];
	size_t len, r;

	alpha_registered(f, &from);
	assert_int_equal(store_key_delete(f->cf.st, KEY_A), 0);
	clock_set_fake(NOW + NMS_KEY_RECHECK_MS / 1000, 1000 + NMS_KEY_RECHECK_MS);
	len = simple_req(f->ka, KEY_A, 2, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(r, NMS_REJECT_LEN);
	assert_int_equal(out[2], CY_ERR_UNKNOWN);
}

static void test_garbage(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("198.51.100.9:1234");
	uint8_t pkt[NMS_PKT_MAX + 64], out[NMS_PKT_MAX], good[512];
	const struct nms_stats *s = nms_stats(f->nms);
	uint64_t sent = 0;
	size_t len;

	srand(1234);
	for (int i = 0; i < 2000; i++) {
		len = (size_t)rand() % 200;
		for (size_t j = 0; j < len; j++)
			pkt[j] = (uint8_t)rand();
		/* Half of them look like a sealed envelope naming a real key. */
		if (i % 2 && len >= CY_SEAL_HDR_LEN) {
			pkt[0] = CY_VERSION;
			pkt[1] = CY_SEALED;
			pkt[2] = 0;
			pkt[3] = 0;
			put_be64(pkt + 4, KEY_A);
		}
		assert_int_equal(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)), 0);
		sent++;
	}
	/* Every truncation of a good datagram. */
	len = reg_req(f, f->ka, KEY_A, 1, "198.51.100.9:1234", SA(from), good, sizeof(good));
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(nms_handle(f->nms, SA(from), good, i, out, sizeof(out)), 0);
		sent++;
	}
	/* Oversized. */
	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, good, len);
	assert_int_equal(nms_handle(f->nms, SA(from), pkt, NMS_PKT_MAX + 1, out, sizeof(out)),
			 0);
	sent++;
	/* A reply direction datagram is not accepted from outside: a
	 * well-formed Registration Request, genuinely sealed with alpha's key
	 * but in the cloud-to-node direction (so it authenticates), with a
	 * counter far ahead.  It is refused as malformed before any key use,
	 * and it does not move the window: the good one (counter 1) still
	 * works below. */
	{
		uint64_t mal = s->malformed, af = s->auth_fail;
		uint8_t msg[256];
		struct cy_builder b;
		struct sockaddr_storage ss = ep("198.51.100.9:1234");
		ssize_t n;

		cy_build_start(&b, msg, sizeof(msg), CY_REG_REQ);
		cy_put_endpoint(&b, CY_A_ADDR, SA(ss));
		cy_put_u8(&b, CY_A_FAMILIES, CY_FAM_IPV4);
		cy_put_u64(&b, CY_A_TIME, (uint64_t)NOW * 1000);
		n = cy_build_finish(&b);
		assert_true(n > 0);
		n = cy_seal(f->ka, CY_DIR_FROM_CLOUD, KEY_A, 1000000, msg, (size_t)n, pkt,
			    sizeof(pkt));
		assert_true(n > 0);
		assert_int_equal(nms_handle(f->nms, SA(from), pkt, (size_t)n, out, sizeof(out)),
				 0);
		sent++;
		assert_int_equal(s->malformed, mal + 1);
		assert_int_equal(s->auth_fail, af);
	}

	assert_int_equal(s->rx, sent);
	assert_int_equal(s->malformed + s->auth_fail, sent);
	assert_true(s->malformed > 0);
	assert_int_equal(s->registrations, 0);
	assert_int_equal(s->unknown_key, 0);
	/* ...and the good one still works afterwards. */
	assert_true(nms_handle(f->nms, SA(from), good, len, out, sizeof(out)) > 0);
	assert_int_equal(s->registrations, 1);
}

/* An authenticated message that is malformed inside: counted, no reply. */
static void test_bad_inner(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("198.51.100.9:1234");
	uint8_t pkt[512], out[NMS_PKT_MAX], plain[NMS_PKT_MAX];
	const uint8_t bad[] = { 1, CY_REG_REQ, 0, 8, 0, CY_A_ADDR, 0, 9, 4, 0, 1, 2 };
	const uint8_t badep[] = { 1, CY_REG_REQ, 0, 7, 0, CY_A_ADDR, 0, 3, 4, 0, 1 };
	const uint8_t unknown[] = { 1, 0x7f, 0, 0 };
	struct cy_msg m;
	size_t len, r;

	len = seal(f->ka, KEY_A, 1, bad, sizeof(bad), pkt, sizeof(pkt));
	assert_int_equal(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)), 0);
	len = seal(f->ka, KEY_A, 2, unknown, sizeof(unknown), pkt, sizeof(pkt));
	assert_int_equal(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)), 0);
	/* A well-formed message with a bad endpoint gets RESULT 1. */
	len = seal(f->ka, KEY_A, 3, badep, sizeof(badep), pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_ERR_MALFORMED);
	assert_int_equal(nms_stats(f->nms)->malformed, 3);
	assert_int_equal(nms_stats(f->nms)->registrations, 0);
}

static void test_restart_replay(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("192.0.2.10:7446");
	uint8_t pkt[512], old[512], out[NMS_PKT_MAX], plain[NMS_PKT_MAX];
	struct cy_msg m;
	size_t len, olen, r;

	olen = reg_req(f, f->ka, KEY_A, 5, "192.0.2.10:7446", SA(from), old, sizeof(old));
	assert_true(nms_handle(f->nms, SA(from), old, olen, out, sizeof(out)) > 0);

	/* The NMS restarts on the same store: the recorded registration is
	 * still refused, the node's next counter is still accepted. */
	nms_free(f->nms);
	f->nms = new_nms(f->cf.st);
	assert_int_equal(nms_handle(f->nms, SA(from), old, olen, out, sizeof(out)), 0);
	assert_int_equal(nms_stats(f->nms)->replay, 1);
	len = reg_req(f, f->ka, KEY_A, 4, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	assert_int_equal(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)), 0);
	assert_int_equal(nms_stats(f->nms)->replay, 2);
	len = simple_req(f->ka, KEY_A, 6, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_KEEPALIVE_ACK, &m, plain,
				    sizeof(plain)), CY_OK);

	/* Keepalives move the stored counter too. */
	nms_free(f->nms);
	f->nms = new_nms(f->cf.st);
	assert_int_equal(nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out)), 0);
	assert_int_equal(nms_stats(f->nms)->replay, 1);
}

/* Two cloud hosts on one store: a node registered on one gets "register
 * again" from the other for anything but a Registration; a Registration
 * replayed from its traffic with the first is refused; its next one
 * moves it, and from then the first refuses it and the second refuses
 * every counter of the first's time. */
/* On SQLite the NMS is alone (its sealing counters run in long blocks):
 * a second one on the same file is refused until the first is gone. */
static void test_sqlite_alone(void **state)
{
	struct fx *f = *state;
	char url[160], lock[160];
	struct nms_conf nc = { .registration_ttl = TTL, .store = url };
	struct nms *a, *b;

	snprintf(url, sizeof(url), "sqlite:%s", f->cf.db);
	snprintf(lock, sizeof(lock), "%s.nms-lock", f->cf.db);
	a = nms_new(f->cf.st, &nc);
	assert_non_null(a);
	assert_null(nms_new(f->cf.st, &nc));
	/* the same file named as a plain path, as cloud.conf usually does */
	nc.store = f->cf.db;
	assert_null(nms_new(f->cf.st, &nc));
	nc.store = url;
	nms_free(a);
	b = nms_new(f->cf.st, &nc);
	assert_non_null(b);
	nms_free(b);
	unlink(lock);
}

static void test_two_hosts(void **state)
{
	struct fx *f = *state;
	struct nms *b = new_nms_host(f->cf.st, "host-b");
	struct sockaddr_storage from = ep("192.0.2.10:7446");
	uint8_t pkt[512], old[512], out[NMS_PKT_MAX], plain[NMS_PKT_MAX];
	struct store_reg reg;
	struct cy_msg m;
	size_t len, olen, r;

	olen = reg_req(f, f->ka, KEY_A, 5, "192.0.2.10:7446", SA(from), old, sizeof(old));
	r = nms_handle(f->nms, SA(from), old, olen, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	for (uint64_t c = 6; c <= 9; c++) {
		len = simple_req(f->ka, KEY_A, c, CY_KEEPALIVE, pkt, sizeof(pkt));
		r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
		assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_KEEPALIVE_ACK, &m, plain,
					    sizeof(plain)), CY_OK);
	}
	assert_int_equal(store_reg_get(f->cf.st, f->alpha.id, &reg), 0);
	assert_string_equal(reg.host, "local");

	/* host-b: not registered here */
	len = simple_req(f->ka, KEY_A, 20, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(b, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_KEEPALIVE_ACK, &m, plain,
				    sizeof(plain)), CY_ERR_REREGISTER);
	/* the Registration of counter 5, replayed to host-b: refused */
	assert_int_equal(nms_handle(b, SA(from), old, olen, out, sizeof(out)), 0);
	assert_int_equal(nms_stats(b)->replay, 1);
	assert_int_equal(store_reg_get(f->cf.st, f->alpha.id, &reg), 0);
	assert_string_equal(reg.host, "local");

	/* the node's next Registration moves it */
	len = reg_req(f, f->ka, KEY_A, 21, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(b, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	assert_int_equal(store_reg_get(f->cf.st, f->alpha.id, &reg), 0);
	assert_string_equal(reg.host, "host-b");
	/* The first host kept the registration in memory; it learns of the
	 * move from host-b's "R" signal (PostgreSQL's NOTIFY, not in this
	 * test) or, here, when it writes its keepalives: the store's row is
	 * host-b's now, and it forgets its own.  Then it sends the node to
	 * register again. */
	nms_flush(f->nms);
	len = simple_req(f->ka, KEY_A, 22, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_KEEPALIVE_ACK, &m, plain,
				    sizeof(plain)), CY_ERR_REREGISTER);
	/* host-b never saw counter 7, but it is of the first host's time */
	len = simple_req(f->ka, KEY_A, 7, CY_KEEPALIVE, pkt, sizeof(pkt));
	assert_int_equal(nms_handle(b, SA(from), pkt, len, out, sizeof(out)), 0);
	assert_int_equal(nms_stats(b)->replay, 2);
	len = simple_req(f->ka, KEY_A, 23, CY_KEEPALIVE, pkt, sizeof(pkt));
	r = nms_handle(b, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_KEEPALIVE_ACK, &m, plain,
				    sizeof(plain)), CY_OK);
	nms_free(b);
}

/* A registration that has gone leaves its mark on the key: its
 * Registration, replayed to a host that never saw the key, to the host it
 * was made on after a restart, or to a host that knew the key from
 * before, is refused, and the node's next one is taken. */
static void test_replay_after_registration_gone(void **state)
{
	struct fx *f = *state;
	struct nms *b = new_nms_host(f->cf.st, "host-b");
	struct nms *c;
	struct sockaddr_storage from = ep("192.0.2.10:7446"), evil = ep("198.51.100.66:4000");
	uint8_t pkt[512], old[512], out[NMS_PKT_MAX], plain[NMS_PKT_MAX];
	struct store_reg reg;
	struct cy_msg m;
	size_t len, olen, r;

	/* host-b knows the key from an earlier registration there */
	len = reg_req(f, f->ka, KEY_A, 3, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(b, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	/* the node moves to the first host, and deregisters there */
	olen = reg_req(f, f->ka, KEY_A, 5, "192.0.2.10:7446", SA(from), old, sizeof(old));
	r = nms_handle(f->nms, SA(from), old, olen, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	len = simple_req(f->ka, KEY_A, 6, CY_DEREG, pkt, sizeof(pkt));
	r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_DEREG, &m, plain, sizeof(plain)),
			 CY_OK);
	assert_int_equal(store_reg_get(f->cf.st, f->alpha.id, &reg), -ENOENT);

	/* replayed from elsewhere: to host-b, whose window for the key is
	 * from before; to a host that never saw the key; to the first host
	 * after a restart */
	assert_int_equal(nms_handle(b, SA(evil), old, olen, out, sizeof(out)), 0);
	assert_int_equal(nms_stats(b)->replay, 1);
	c = new_nms_host(f->cf.st, "host-c");
	assert_int_equal(nms_handle(c, SA(evil), old, olen, out, sizeof(out)), 0);
	assert_int_equal(nms_stats(c)->replay, 1);
	nms_free(c);
	c = new_nms_host(f->cf.st, "local");
	assert_int_equal(nms_handle(c, SA(evil), old, olen, out, sizeof(out)), 0);
	assert_int_equal(nms_stats(c)->replay, 1);
	assert_int_equal(store_reg_get(f->cf.st, f->alpha.id, &reg), -ENOENT);

	/* the same after the registration expires, and the node itself goes
	 * on: its next Registration is taken */
	len = reg_req(f, f->ka, KEY_A, 30, "192.0.2.10:7446", SA(from), old, sizeof(old));
	r = nms_handle(c, SA(from), old, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	olen = len;
	nms_flush(c);
	assert_int_equal(store_reg_expire(f->cf.st, INT64_MAX), 1);
	nms_free(c);
	c = new_nms_host(f->cf.st, "host-c");
	assert_int_equal(nms_handle(c, SA(evil), old, olen, out, sizeof(out)), 0);
	assert_int_equal(nms_stats(c)->replay, 1);
	len = reg_req(f, f->ka, KEY_A, 31, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
	r = nms_handle(c, SA(from), pkt, len, out, sizeof(out));
	assert_int_equal(open_reply(f->ka, KEY_A, out, r, CY_REG_RES, &m, plain, sizeof(plain)),
			 CY_OK);
	assert_int_equal(store_reg_get(f->cf.st, f->alpha.id, &reg), 0);
	assert_string_equal(reg.host, "host-c");
	nms_free(c);
	nms_free(b);
}

static void test_reply_counters_rise(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage from = ep("192.0.2.10:7446");
	uint8_t pkt[512], out[NMS_PKT_MAX];
	struct cy_seal_hdr h;
	uint64_t prev = 0;
	size_t len, r;

	for (uint64_t i = 1; i <= 50; i++) {
		len = reg_req(f, f->ka, KEY_A, i, "192.0.2.10:7446", SA(from), pkt, sizeof(pkt));
		r = nms_handle(f->nms, SA(from), pkt, len, out, sizeof(out));
		assert_true(r > 0);
		assert_int_equal(cy_seal_peek(out, r, &h), 0);
		assert_true(h.counter > prev);
		prev = h.counter;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_counters_never_repeat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_napt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_proves_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_late_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deregister, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys_shed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_recheck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_recheck_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_after_registration_gone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reply_counters_rise, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
