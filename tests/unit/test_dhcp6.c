/* src/adapter/lan/dhcp6.c: the DHCPv6 server core driven over bytes:
 * Solicit/Advertise/Request/Reply, Rapid Commit, Renew and Rebind (other
 * addresses sent back with lifetimes 0), Release, Decline and its hold,
 * Confirm (on link or not), Information-request; zero trust (unknown
 * MAC, a DUID naming another MAC changes nothing, relays dropped); the
 * server identifier rules; the lease table (with DHCPv4 leases beside);
 * hostile messages (header, options past the end, identifiers). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dhcp6.h"
#include "lease.h"

#define NOW 1700000000

static const uint8_t MAC[6] = { 0x02, 0x6e, 0, 0, 0, 7 };
static const uint8_t MAC2[6] = { 0x02, 0x6e, 0, 0, 0, 8 };
static const uint8_t MAC_UNK[6] = { 0x02, 0x66, 0, 0, 0, 9 };
static const uint8_t MAC_AD[6] = { 0x02, 0xad, 0, 0, 0, 1 };
static const uint8_t VIP[16] = { 0xfd, 0x00, 0x00, 0x64, [15] = 0x07 };
static const uint8_t VIP2[16] = { 0xfd, 0x00, 0x00, 0x64, [15] = 0x08 };
static const uint8_t OLD[16] = { 0xfd, 0x00, 0x00, 0x64, [14] = 0x99, [15] = 0x01 };
static const uint8_t OFFLINK[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t DNS[16] = { 0xfd, 0x00, 0x00, 0x64, [15] = 0x01 };

static bool lookup(void *arg, const uint8_t mac[6], uint8_t vip6[16])
{
	if (!memcmp(mac, MAC, 6))
		memcpy(vip6, VIP, 16);
	else if (!memcmp(mac, MAC2, 6))
		memcpy(vip6, VIP2, 16);
	else
		return false;
	return true;
}

static struct dhcp6_cfg cfg;
static struct lease_table *lt;

static int setup(void **state)
{
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, MAC_AD, 6);
	memcpy(cfg.dns, DNS, 16);
	cfg.domain = "example.cy";
	cfg.lifetime = 3600;
	cfg.lookup = lookup;
	lt = lease_table_new(NULL);
	return lt ? 0 : -1;
}

static int teardown(void **state)
{
	lease_table_free(lt);
	return 0;
}

struct msg {
	uint8_t b[1024];
	struct wbuf w;
};

/* type, xid 0x123456, a DUID-LLT client identifier naming mac. */
static void start(struct msg *m, uint8_t type, const uint8_t *duid_mac)
{
	wbuf_init(&m->w, m->b, sizeof(m->b));
	wbuf_put_u8(&m->w, type);
	wbuf_put_u8(&m->w, 0x12);
	wbuf_put_u16(&m->w, 0x3456);
	wbuf_put_u16(&m->w, 1);
	wbuf_put_u16(&m->w, 14);
	wbuf_put_u16(&m->w, 1);                          /* DUID-LLT */
	wbuf_put_u16(&m->w, 1);
	wbuf_put_u32(&m->w, 0x2a2a2a2a);
	wbuf_put_bytes(&m->w, duid_mac, 6);
}

static void opt(struct msg *m, uint16_t code, const void *p, size_t n)
{
	wbuf_put_u16(&m->w, code);
	wbuf_put_u16(&m->w, (uint16_t)n);
	wbuf_put_bytes(&m->w, p, n);
}

static void server_id(struct msg *m, const uint8_t mac[6])
{
	uint8_t d[10] = { 0, 3, 0, 1 };

	memcpy(d + 4, mac, 6);
	opt(m, 2, d, sizeof(d));
}

/* An IA_NA, IAID 77, with the addresses given. */
static void ia_na(struct msg *m, const uint8_t (*addrs)[16], size_t n)
{
	uint8_t b[12 + 8 * 28] = { 0, 0, 0, 77 };
	size_t len = 12;

	for (size_t i = 0; i < n; i++, len += 28) {
		put_be16(b + len, 5);
		put_be16(b + len + 2, 24);
		memcpy(b + len + 4, addrs[i], 16);
		memset(b + len + 20, 0, 8);
	}
	opt(m, 3, b, len);
}

static void ia_na1(struct msg *m, const uint8_t a[16])
{
	uint8_t one[1][16];

	memcpy(one[0], a, 16);
	ia_na(m, (const uint8_t(*)[16])one, 1);
}

static void oro_dns(struct msg *m)
{
	const uint8_t o[4] = { 0, 23, 0, 24 };

	opt(m, 6, o, sizeof(o));
}

static void run(struct msg *m, const uint8_t src[6], struct dhcp6_result *res, int64_t now)
{
	assert_true(wbuf_ok(&m->w));
	dhcp6_handle(&cfg, lt, src, m->b, m->w.len, now, res);
}

/* The reply's options, as the client reads them. */
struct seen {
	uint8_t type;
	uint32_t xid;
	bool serverid_ours, clientid, rapid, dns, domain;
	int preference;
	int status;                      /* top level, -1 none */
	int nia;
	uint32_t iaid, t1, t2;
	int ia_status;
	uint32_t ia2_id;                 /* the second IA_NA's */
	int ia2_status;
	size_t naddrs;
	uint8_t addr[4][16];
	uint32_t valid[4];
};

static void read_reply(const struct dhcp6_result *res, struct seen *s)
{
	struct cur c = cur_make(res->reply, res->len);
	uint8_t x[3];

	memset(s, 0, sizeof(*s));
	s->preference = -1;
	s->status = -1;
	s->ia_status = -1;
	s->ia2_status = -1;
	assert_true(res->len > 4);
	assert_true(cur_get_u8(&c, &s->type) && cur_get_bytes(&c, x, 3));
	s->xid = (uint32_t)x[0] << 16 | (uint32_t)x[1] << 8 | x[2];
	while (!cur_empty(&c)) {
		uint16_t code, len;
		struct cur o, io;
		const uint8_t *p;

		assert_true(cur_get_u16(&c, &code) && cur_get_u16(&c, &len));
		assert_true(cur_get_sub(&c, &o, len));
		switch (code) {
		case 1: s->clientid = true; break;
		case 2:
			assert_int_equal(len, 10);
			cur_get_ptr(&o, &p, 10);
			s->serverid_ours = !memcmp(p + 4, MAC_AD, 6) && p[1] == 3;
			break;
		case 7: cur_get_ptr(&o, &p, 1); s->preference = p[0]; break;
		case 13: { uint16_t st; cur_get_u16(&o, &st); s->status = st; break; }
		case 14: s->rapid = true; break;
		case 23: assert_int_equal(len, 16); cur_get_ptr(&o, &p, 16);
			assert_memory_equal(p, DNS, 16); s->dns = true; break;
		case 24: cur_get_ptr(&o, &p, len);
			assert_int_equal(len, 12);
			assert_memory_equal(p, "\x07" "example" "\x02" "cy", 12);
			s->domain = true; break;
		case 3:
			if (s->nia++) {          /* the second: its IAID and status */
				uint16_t sc, sl, st;

				assert_true(cur_get_u32(&o, &s->ia2_id) && cur_skip(&o, 8));
				assert_true(cur_get_u16(&o, &sc) && cur_get_u16(&o, &sl) &&
					    sc == 13 && cur_get_u16(&o, &st));
				s->ia2_status = st;
				break;
			}
			assert_true(cur_get_u32(&o, &s->iaid) && cur_get_u32(&o, &s->t1) &&
				    cur_get_u32(&o, &s->t2));
			while (!cur_empty(&o)) {
				uint16_t sc, sl;

				assert_true(cur_get_u16(&o, &sc) && cur_get_u16(&o, &sl));
				assert_true(cur_get_sub(&o, &io, sl));
				if (sc == 5) {
					uint32_t pref;

					assert_int_equal(sl, 24);
					assert_true(s->naddrs < 4);
					cur_get_bytes(&io, s->addr[s->naddrs], 16);
					cur_get_u32(&io, &pref);
					cur_get_u32(&io, &s->valid[s->naddrs++]);
				} else if (sc == 13) {
					uint16_t st;

					cur_get_u16(&io, &st);
					s->ia_status = st;
				}
			}
			break;
		}
	}
	assert_int_equal(s->xid, 0x123456);
	assert_true(s->serverid_ours);
}

static void test_solicit_request_renew(void **state)
{
	struct dhcp6_result res;
	struct msg m;
	struct seen s;

	start(&m, DHCP6_SOLICIT, MAC);
	ia_na(&m, NULL, 0);
	oro_dns(&m);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_ADVERTISED);
	assert_false(res.lease_changed);
	read_reply(&res, &s);
	assert_int_equal(s.type, DHCP6_ADVERTISE);
	assert_true(s.clientid);
	assert_int_equal(s.preference, 255);
	assert_int_equal(s.iaid, 77);
	assert_int_equal(s.t1, 1800);
	assert_int_equal(s.t2, 2880);
	assert_int_equal(s.naddrs, 1);
	assert_memory_equal(s.addr[0], VIP, 16);
	assert_int_equal(s.valid[0], 3600);
	assert_true(s.dns && s.domain);

	start(&m, DHCP6_REQUEST, MAC);
	server_id(&m, MAC_AD);
	ia_na1(&m, VIP);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_BOUND);
	assert_true(res.lease_changed);
	read_reply(&res, &s);
	assert_int_equal(s.type, DHCP6_REPLY);
	assert_int_equal(s.naddrs, 1);
	assert_false(s.dns);                             /* not asked */
	assert_int_equal(lease6_left(lt, MAC, NOW), 3600);
	assert_int_equal(lease_left(lt, MAC, NOW), -1);  /* no DHCPv4 lease */

	/* Renew naming an address it should no longer use: the VIP, and that
	 * one with lifetimes 0 */
	start(&m, DHCP6_RENEW, MAC);
	server_id(&m, MAC_AD);
	{
		uint8_t two[2][16];

		memcpy(two[0], OLD, 16);
		memcpy(two[1], VIP, 16);
		ia_na(&m, (const uint8_t(*)[16])two, 2);
	}
	run(&m, MAC, &res, NOW + 1800);
	assert_int_equal(res.ev, DHCP6_EV_BOUND);
	read_reply(&res, &s);
	assert_int_equal(s.naddrs, 2);
	assert_memory_equal(s.addr[0], VIP, 16);
	assert_int_equal(s.valid[0], 3600);
	assert_memory_equal(s.addr[1], OLD, 16);
	assert_int_equal(s.valid[1], 0);
	assert_int_equal(lease6_left(lt, MAC, NOW + 1800), 3600);

	/* Rebind: no server identifier */
	start(&m, DHCP6_REBIND, MAC);
	ia_na1(&m, VIP);
	run(&m, MAC, &res, NOW + 3000);
	assert_int_equal(res.ev, DHCP6_EV_BOUND);

	/* Release */
	start(&m, DHCP6_RELEASE, MAC);
	server_id(&m, MAC_AD);
	ia_na1(&m, VIP);
	run(&m, MAC, &res, NOW + 3000);
	assert_int_equal(res.ev, DHCP6_EV_RELEASED);
	assert_true(res.lease_changed);
	read_reply(&res, &s);
	assert_int_equal(s.status, 0);
	assert_null(lease6_get(lt, MAC));
}

static void test_rapid_commit(void **state)
{
	struct dhcp6_result res;
	struct msg m;
	struct seen s;

	start(&m, DHCP6_SOLICIT, MAC);
	opt(&m, 14, NULL, 0);
	ia_na(&m, NULL, 0);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_BOUND);
	read_reply(&res, &s);
	assert_int_equal(s.type, DHCP6_REPLY);
	assert_true(s.rapid);
	assert_memory_equal(s.addr[0], VIP, 16);
	assert_int_equal(lease6_left(lt, MAC, NOW), 3600);
}

/* The DUID names another enrolled MAC: the frame's source decides. */
static void test_duid_mac_not_trusted(void **state)
{
	struct dhcp6_result res;
	struct msg m;
	struct seen s;

	start(&m, DHCP6_SOLICIT, MAC2);
	opt(&m, 14, NULL, 0);
	ia_na(&m, NULL, 0);
	run(&m, MAC, &res, NOW);
	read_reply(&res, &s);
	assert_memory_equal(s.addr[0], VIP, 16);
	assert_null(lease6_get(lt, MAC2));
	/* and an unknown source gets nothing, whatever its DUID says */
	run(&m, MAC_UNK, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_UNKNOWN_MAC);
	assert_int_equal(res.len, 0);
	assert_null(lease6_get(lt, MAC_UNK));
}

static void test_decline_hold(void **state)
{
	struct dhcp6_result res;
	struct msg m;
	struct seen s;

	start(&m, DHCP6_DECLINE, MAC);
	server_id(&m, MAC_AD);
	ia_na1(&m, VIP);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_DECLINED);
	read_reply(&res, &s);
	assert_int_equal(s.status, 0);
	/* within the hold: NoAddrsAvail, even with Rapid Commit */
	start(&m, DHCP6_SOLICIT, MAC);
	opt(&m, 14, NULL, 0);
	ia_na(&m, NULL, 0);
	run(&m, MAC, &res, NOW + 10);
	assert_int_equal(res.ev, DHCP6_EV_NOADDR);
	read_reply(&res, &s);
	assert_int_equal(s.type, DHCP6_ADVERTISE);
	assert_int_equal(s.status, 2);
	assert_int_equal(s.ia_status, 2);
	assert_int_equal(s.naddrs, 0);
	/* after it: the address again */
	run(&m, MAC, &res, NOW + DHCP6_DECLINE_HOLD + 1);
	assert_int_equal(res.ev, DHCP6_EV_BOUND);
	/* declining someone else's address does nothing */
	start(&m, DHCP6_DECLINE, MAC);
	server_id(&m, MAC_AD);
	ia_na1(&m, VIP2);
	run(&m, MAC, &res, NOW + 100);
	assert_int_equal(res.ev, DHCP6_EV_IGNORED);
	assert_int_equal(lease6_get(lt, MAC)->state, LEASE_BOUND);
}

static void test_confirm_and_information(void **state)
{
	struct dhcp6_result res;
	struct msg m;
	struct seen s;

	start(&m, DHCP6_CONFIRM, MAC);
	ia_na1(&m, VIP);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_CONFIRMED);
	read_reply(&res, &s);
	assert_int_equal(s.status, 0);
	start(&m, DHCP6_CONFIRM, MAC);
	ia_na1(&m, VIP2);                                /* in the overlay, not its own */
	run(&m, MAC, &res, NOW);
	read_reply(&res, &s);
	assert_int_equal(s.status, 4);
	start(&m, DHCP6_CONFIRM, MAC);
	ia_na1(&m, OFFLINK);
	run(&m, MAC, &res, NOW);
	read_reply(&res, &s);
	assert_int_equal(s.status, 4);                   /* NotOnLink */
	start(&m, DHCP6_CONFIRM, MAC);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_IGNORED);      /* nothing to confirm */

	start(&m, DHCP6_INFORMATION_REQUEST, MAC);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_INFORMED);
	read_reply(&res, &s);
	assert_true(s.dns && s.domain);
	assert_int_equal(s.naddrs, 0);
	assert_false(res.lease_changed);
}

/* Two IA_NAs: the first gets the VIP, the second NoAddrsAvail; a Rapid
 * Commit Solicit without one: an Advertise with NoAddrsAvail, nothing
 * bound. */
static void test_ia_count(void **state)
{
	uint8_t b[12] = { 0, 0, 0, 88 };
	struct dhcp6_result res;
	struct msg m;
	struct seen s;

	start(&m, DHCP6_REQUEST, MAC);
	server_id(&m, MAC_AD);
	ia_na1(&m, VIP);
	opt(&m, 3, b, sizeof(b));
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_BOUND);
	read_reply(&res, &s);
	assert_int_equal(s.nia, 2);
	assert_int_equal(s.iaid, 77);
	assert_memory_equal(s.addr[0], VIP, 16);
	assert_int_equal(s.ia2_id, 88);
	assert_int_equal(s.ia2_status, 2);

	lease6_release(lt, MAC);
	start(&m, DHCP6_SOLICIT, MAC);
	opt(&m, 14, NULL, 0);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_NOADDR);
	read_reply(&res, &s);
	assert_int_equal(s.type, DHCP6_ADVERTISE);
	assert_false(s.rapid);
	assert_int_equal(s.status, 2);
	assert_null(lease6_get(lt, MAC));
}

/* An Information-request may leave its Client Identifier out (RFC 7844):
 * answered, with none echoed. */
static void test_information_anonymous(void **state)
{
	const uint8_t b[] = { DHCP6_INFORMATION_REQUEST, 0x12, 0x34, 0x56, 0, 6, 0, 2, 0, 23 };
	struct dhcp6_result res;
	struct seen s;

	dhcp6_handle(&cfg, lt, MAC, b, sizeof(b), NOW, &res);
	assert_int_equal(res.ev, DHCP6_EV_INFORMED);
	read_reply(&res, &s);
	assert_false(s.clientid);
	assert_true(s.dns);
}

/* Server identifiers where RFC 8415 16 wants them, another server's
 * message ignored, relays and server messages dropped. */
static void test_server_id_rules(void **state)
{
	struct dhcp6_result res;
	struct msg m;

	start(&m, DHCP6_SOLICIT, MAC);
	server_id(&m, MAC_AD);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_MALFORMED);
	start(&m, DHCP6_REQUEST, MAC);
	ia_na(&m, NULL, 0);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_MALFORMED);
	start(&m, DHCP6_REQUEST, MAC);
	server_id(&m, MAC2);                             /* another server */
	ia_na(&m, NULL, 0);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_IGNORED);
	assert_int_equal(res.len, 0);
	start(&m, DHCP6_INFORMATION_REQUEST, MAC);
	ia_na(&m, NULL, 0);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_MALFORMED);
	start(&m, DHCP6_RELAY_FORW, MAC);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_MALFORMED);
	start(&m, DHCP6_REPLY, MAC);
	run(&m, MAC, &res, NOW);
	assert_int_equal(res.ev, DHCP6_EV_MALFORMED);
	assert_int_equal(lease_count(lt), 0);
}

static void expect_malformed(const uint8_t *b, size_t len, const char *why)
{
	struct dhcp6_result res;

	dhcp6_handle(&cfg, lt, MAC, b, len, NOW, &res);
	assert_int_equal(res.ev, DHCP6_EV_MALFORMED);
	assert_int_equal(res.len, 0);
	assert_non_null(strstr(res.why, why));
}

static void test_hostile(void **state)
{
	struct msg m;

	expect_malformed((const uint8_t *)"\x01\x00", 2, "header");
	/* no client identifier; two; one too short */
	expect_malformed((const uint8_t *)"\x01\x12\x34\x56", 4, "client identifier");
	start(&m, DHCP6_SOLICIT, MAC);
	opt(&m, 1, m.b + 8, 14);
	expect_malformed(m.b, m.w.len, "client identifier");
	start(&m, DHCP6_SOLICIT, MAC);
	put_be16(m.b + 6, 2);                            /* a type and nothing */
	expect_malformed(m.b, 4 + 4 + 2, "client identifier");
	/* an option running past the end */
	start(&m, DHCP6_SOLICIT, MAC);
	opt(&m, 3, "\0\0\0\x4d\0\0\0\0\0\0\0\0", 12);
	put_be16(m.b + m.w.len - 14, 200);
	expect_malformed(m.b, m.w.len, "past the end");
	/* an IA_NA too short, an IA address option too short */
	start(&m, DHCP6_SOLICIT, MAC);
	opt(&m, 3, "\0\0\0\x4d", 4);
	expect_malformed(m.b, m.w.len, "IA_NA");
	start(&m, DHCP6_SOLICIT, MAC);
	opt(&m, 3, "\0\0\0\x4d\0\0\0\0\0\0\0\0\0\x05\0\x02\0\0", 18);
	expect_malformed(m.b, m.w.len, "IA address");
	/* too many options */
	start(&m, DHCP6_SOLICIT, MAC);
	for (int i = 0; i < DHCP6_OPT_MAX; i++)
		opt(&m, 8, "\0\0", 2);
	expect_malformed(m.b, m.w.len, "too many");
	/* an odd option request */
	start(&m, DHCP6_SOLICIT, MAC);
	opt(&m, 6, "\0\x17\0", 3);
	expect_malformed(m.b, m.w.len, "odd");
	assert_int_equal(lease_count(lt), 0);
}

/* DHCPv4 and DHCPv6 leases of one MAC side by side, and in the file. */
static void test_lease_table_both(void **state)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f;
	struct lease_table *back = lease_table_new(NULL);

	assert_int_equal(lease_set(lt, MAC, 0x64400007, NOW + 100, LEASE_BOUND), 0);
	assert_int_equal(lease6_set(lt, MAC, VIP, NOW + 200, LEASE_BOUND), 0);
	assert_int_equal(lease_count(lt), 2);
	assert_int_equal(lease_left(lt, MAC, NOW), 100);
	assert_int_equal(lease6_left(lt, MAC, NOW), 200);
	assert_null(lease_find_ip(lt, 0));
	f = open_memstream(&text, &n);
	assert_int_equal(lease_table_write(lt, f, NOW), 0);
	fclose(f);
	assert_non_null(strstr(text, "02:6e:00:00:00:07 fd00:64::7 1700000200"));
	lease_table_load_buf(back, text, n, NOW);
	assert_int_equal(lease_count(back), 2);
	assert_memory_equal(lease6_get(back, MAC)->vip6, VIP, 16);
	assert_int_equal(lease_get(back, MAC)->vip4, 0x64400007);
	assert_true(lease_release(lt, MAC));
	assert_non_null(lease6_get(lt, MAC));
	free(text);
	lease_table_free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_solicit_request_renew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rapid_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duid_mac_not_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decline_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_confirm_and_information, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ia_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_information_anonymous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_id_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_table_both, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
