/* src/adapter/lan/dhcp.c: the DHCP server core driven over bytes: the full
 * DORA exchange, INIT-REBOOT, renew/rebind, NAK, DECLINE, RELEASE,
 * INFORM, zero trust (unknown MAC, chaddr spoofing, relays), reply
 * destinations (RFC 2131 4.1), and hostile messages (truncated header,
 * option past the end, no cookie, no end, duplicate 53, overload). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dhcp.h"
#include "lease.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define SERVER IP(100, 64, 0, 1)
#define VIP IP(100, 64, 0, 7)
#define NOW 1700000000

static const uint8_t MAC[6] = { 0x02, 0x6e, 0, 0, 0, 7 };
static const uint8_t MAC_UNK[6] = { 0x02, 0x66, 0, 0, 0, 9 };
static const uint8_t BC[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static bool lookup(void *arg, const uint8_t mac[6], uint32_t *vip)
{
	if (memcmp(mac, MAC, 6) != 0)
		return false;
	*vip = VIP;
	return true;
}

static const struct dhcp_cfg cfg = {
	.server_ip = SERVER,
	.netmask = IP(255, 192, 0, 0),
	.router = SERVER,
	.dns = SERVER,
	.lease_time = 3600,
	.mtu = 1380,
	.domain = "example.cy",
	.lookup = lookup,
};

struct msg {
	uint8_t b[1024];
	size_t len;
};

/* Fixed header + cookie; options are appended with opt(), then end(). */
static void hdr(struct msg *m, const uint8_t chaddr[6], uint32_t ciaddr, uint16_t flags)
{
	struct wbuf w;

	memset(m, 0, sizeof(*m));
	wbuf_init(&w, m->b, sizeof(m->b));
	wbuf_put_u8(&w, 1);
	wbuf_put_u8(&w, 1);
	wbuf_put_u8(&w, 6);
	wbuf_put_u8(&w, 0);
	wbuf_put_u32(&w, 0xdeadbeef);
	wbuf_put_u16(&w, 3);
	wbuf_put_u16(&w, flags);
	wbuf_put_u32(&w, ciaddr);
	wbuf_put_u32(&w, 0);
	wbuf_put_u32(&w, 0);
	wbuf_put_u32(&w, 0);
	wbuf_put_bytes(&w, chaddr, 6);
	wbuf_reserve(&w, 10 + 64 + 128);
	wbuf_put_u32(&w, 0x63825363);
	m->len = w.len;
}

static void raw(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void opt(struct msg *m, uint8_t code, uint8_t len, const void *v)
{
	m->b[m->len++] = code;
	m->b[m->len++] = len;
	raw(m, v, len);
}

static void opt_u32(struct msg *m, uint8_t code, uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	opt(m, code, 4, b);
}

static void type(struct msg *m, uint8_t t)
{
	opt(m, 53, 1, &t);
}

static void end(struct msg *m)
{
	m->b[m->len++] = 255;
}

/* The option code in a reply, or NULL; *len set. */
static const uint8_t *reply_opt(const struct dhcp_result *r, uint8_t code, size_t *len)
{
	struct cur c = cur_make(r->reply + 240, r->len - 240);
	uint8_t k, l;
	const uint8_t *v;

	while (cur_get_u8(&c, &k) && k != 255) {
		if (k == 0)
			continue;
		assert_true(cur_get_u8(&c, &l));
		assert_true(cur_get_ptr(&c, &v, l));
		if (k == code) {
			*len = l;
			return v;
		}
	}
	return NULL;
}

static uint32_t reply_u32(const struct dhcp_result *r, uint8_t code)
{
	size_t l = 0;
	const uint8_t *v = reply_opt(r, code, &l);

	assert_non_null(v);
	assert_int_equal(l, 4);
	return get_be32(v);
}

static void check_reply(const struct dhcp_result *r, uint8_t want_type, uint32_t yiaddr)
{
	size_t l;
	const uint8_t *v;

	assert_true(r->len >= DHCP_REPLY_MIN);
	assert_true(r->len <= DHCP_REPLY_MAX);
	assert_int_equal(r->reply[0], 2);
	assert_int_equal(r->reply[1], 1);
	assert_int_equal(r->reply[2], 6);
	assert_int_equal(get_be32(r->reply + 4), 0xdeadbeef);
	assert_int_equal(get_be32(r->reply + 16), yiaddr);
	assert_int_equal(get_be32(r->reply + 24), 0);
	assert_memory_equal(r->reply + 28, MAC, 6);
	assert_int_equal(get_be32(r->reply + 236), 0x63825363);
	v = reply_opt(r, 53, &l);
	assert_non_null(v);
	assert_int_equal(l, 1);
	assert_int_equal(v[0], want_type);
	assert_int_equal(reply_u32(r, 54), SERVER);
	assert_null(reply_opt(r, 12, &l));
}

static void check_config(const struct dhcp_result *r, bool lease)
{
	size_t l;
	const uint8_t *v;

	assert_int_equal(reply_u32(r, 1), IP(255, 192, 0, 0));
	assert_int_equal(reply_u32(r, 3), SERVER);
	assert_int_equal(reply_u32(r, 6), SERVER);
	v = reply_opt(r, 15, &l);
	assert_non_null(v);
	assert_int_equal(l, 10);
	assert_memory_equal(v, "example.cy", 10);
	v = reply_opt(r, 26, &l);
	assert_non_null(v);
	assert_int_equal(get_be16(v), 1380);
	if (lease) {
		assert_int_equal(reply_u32(r, 51), 3600);
		assert_int_equal(reply_u32(r, 58), 1800);
		assert_int_equal(reply_u32(r, 59), 3150);
	} else {
		assert_null(reply_opt(r, 51, &l));
		assert_null(reply_opt(r, 58, &l));
	}
}

static struct lease_table *lt;

static int setup(void **state)
{
	lt = lease_table_new(NULL);
	assert_non_null(lt);
	return 0;
}

static int teardown(void **state)
{
	lease_table_free(lt);
	lt = NULL;
	return 0;
}

static void run(struct msg *m, const uint8_t *src, struct dhcp_result *r)
{
	dhcp_handle(&cfg, lt, src, m->b, m->len, NOW, r);
}

static void test_dora(void **state)
{
	struct dhcp_result r;
	struct msg m;
	const struct lease *l;
	uint8_t prl[] = { 6, 3, 1, 15, 12, 26, 42 };
	size_t ol;

	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	opt(&m, 55, sizeof(prl), prl);
	opt(&m, 12, 4, "iot1");
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_OFFERED);
	assert_int_equal(r.msg_type, DHCPDISCOVER);
	check_reply(&r, DHCPOFFER, VIP);
	check_config(&r, true);
	/* parameter request list order honoured: 6 comes before 3 and 1 */
	assert_true(reply_opt(&r, 6, &ol) < reply_opt(&r, 3, &ol));
	assert_true(reply_opt(&r, 3, &ol) < reply_opt(&r, 1, &ol));
	/* no broadcast flag: unicast to yiaddr / chaddr */
	assert_int_equal(r.dst_ip, VIP);
	assert_memory_equal(r.dst_mac, MAC, 6);
	assert_false(r.lease_changed);
	l = lease_get(lt, MAC);
	assert_non_null(l);
	assert_int_equal(l->state, LEASE_OFFERED);

	hdr(&m, MAC, 0, 0x8000);
	type(&m, DHCPREQUEST);
	opt_u32(&m, 54, SERVER);
	opt_u32(&m, 50, VIP);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_ACKED);
	check_reply(&r, DHCPACK, VIP);
	check_config(&r, true);
	assert_true(r.lease_changed);
	/* broadcast flag: broadcast */
	assert_int_equal(r.dst_ip, 0xffffffffu);
	assert_memory_equal(r.dst_mac, BC, 6);
	assert_int_equal(get_be16(r.reply + 10), 0x8000);
	l = lease_get(lt, MAC);
	assert_int_equal(l->state, LEASE_BOUND);
	assert_int_equal(l->expires, NOW + 3600);
	assert_int_equal(lease_left(lt, MAC, NOW + 100), 3500);

	/* a DISCOVER while bound keeps the lease bound */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_OFFERED);
	assert_int_equal(lease_get(lt, MAC)->state, LEASE_BOUND);
}

static void test_selecting_other_server(void **state)
{
	struct dhcp_result r;
	struct msg m;

	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	end(&m);
	run(&m, MAC, &r);
	assert_non_null(lease_get(lt, MAC));

	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	opt_u32(&m, 54, IP(192, 0, 2, 1));
	opt_u32(&m, 50, IP(192, 0, 2, 50));
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_IGNORED);
	assert_int_equal(r.len, 0);
	assert_null(lease_get(lt, MAC));       /* offer forgotten */

	/* ours, but the wrong address: NAK, broadcast */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	opt_u32(&m, 54, SERVER);
	opt_u32(&m, 50, VIP + 1);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_NAKED);
	check_reply(&r, DHCPNAK, 0);
	assert_int_equal(r.dst_ip, 0xffffffffu);
	assert_memory_equal(r.dst_mac, BC, 6);
	assert_null(reply_opt(&r, 51, &(size_t){ 0 }));
	assert_null(reply_opt(&r, 1, &(size_t){ 0 }));

	/* SELECTING without option 50 */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	opt_u32(&m, 54, SERVER);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_MALFORMED);
}

static void test_init_reboot_renew(void **state)
{
	struct dhcp_result r;
	struct msg m;

	/* INIT-REBOOT: right address -> ACK, wrong -> NAK */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	opt_u32(&m, 50, VIP);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_ACKED);
	assert_int_equal(lease_get(lt, MAC)->state, LEASE_BOUND);

	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	opt_u32(&m, 50, IP(10, 0, 0, 5));
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_NAKED);
	assert_null(lease_get(lt, MAC));
	assert_true(r.lease_changed);

	/* RENEWING: ciaddr, unicast back to it */
	hdr(&m, MAC, VIP, 0);
	type(&m, DHCPREQUEST);
	end(&m);
	dhcp_handle(&cfg, lt, MAC, m.b, m.len, NOW + 1800, &r);
	assert_int_equal(r.ev, DHCP_EV_ACKED);
	check_reply(&r, DHCPACK, VIP);
	assert_int_equal(get_be32(r.reply + 12), VIP);      /* ciaddr echoed */
	assert_int_equal(r.dst_ip, VIP);
	assert_memory_equal(r.dst_mac, MAC, 6);
	assert_int_equal(lease_get(lt, MAC)->expires, NOW + 1800 + 3600);

	/* REBINDING (broadcast flag) from the wrong ciaddr: NAK */
	hdr(&m, MAC, VIP + 5, 0x8000);
	type(&m, DHCPREQUEST);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_NAKED);

	/* no address at all */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_MALFORMED);
}

static void test_decline_release_inform(void **state)
{
	struct dhcp_result r;
	struct msg m;

	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDECLINE);
	opt_u32(&m, 54, SERVER);
	opt_u32(&m, 50, VIP);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_DECLINED);
	assert_int_equal(r.len, 0);
	assert_int_equal(r.yiaddr, VIP);
	assert_int_equal(lease_get(lt, MAC)->state, LEASE_DECLINED);

	/* while declined, nothing is offered; after the hold, again */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_IGNORED);
	dhcp_handle(&cfg, lt, MAC, m.b, m.len, NOW + DHCP_DECLINE_HOLD + 1, &r);
	assert_int_equal(r.ev, DHCP_EV_OFFERED);

	/* DECLINE of somebody else's address, or to another server */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDECLINE);
	opt_u32(&m, 50, VIP + 1);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_IGNORED);
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDECLINE);
	opt_u32(&m, 54, SERVER + 1);
	opt_u32(&m, 50, VIP);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_IGNORED);

	/* RELEASE */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	opt_u32(&m, 50, VIP);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_ACKED);
	hdr(&m, MAC, VIP + 3, 0);
	type(&m, DHCPRELEASE);
	opt_u32(&m, 54, SERVER);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_IGNORED);
	assert_non_null(lease_get(lt, MAC));
	hdr(&m, MAC, VIP, 0);
	type(&m, DHCPRELEASE);
	opt_u32(&m, 54, SERVER);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_RELEASED);
	assert_int_equal(r.len, 0);
	assert_true(r.lease_changed);
	assert_null(lease_get(lt, MAC));

	/* INFORM: ACK with options, no lease, yiaddr 0, to ciaddr */
	hdr(&m, MAC, VIP, 0);
	type(&m, DHCPINFORM);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_INFORMED);
	check_reply(&r, DHCPACK, 0);
	check_config(&r, false);
	assert_int_equal(r.dst_ip, VIP);
	assert_null(lease_get(lt, MAC));
}

static void test_zero_trust(void **state)
{
	struct dhcp_result r;
	struct msg m;

	/* unknown MAC: nothing, and said so */
	hdr(&m, MAC_UNK, 0, 0);
	type(&m, DHCPDISCOVER);
	end(&m);
	run(&m, MAC_UNK, &r);
	assert_int_equal(r.ev, DHCP_EV_UNKNOWN_MAC);
	assert_int_equal(r.len, 0);
	assert_int_equal(lease_count(lt), 0);
	hdr(&m, MAC_UNK, 0, 0);
	type(&m, DHCPREQUEST);
	opt_u32(&m, 50, VIP);
	end(&m);
	run(&m, MAC_UNK, &r);
	assert_int_equal(r.ev, DHCP_EV_UNKNOWN_MAC);

	/* an unknown MAC claiming an enrolled chaddr */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	opt_u32(&m, 50, VIP);
	end(&m);
	run(&m, MAC_UNK, &r);
	assert_int_equal(r.ev, DHCP_EV_CHADDR_MISMATCH);
	assert_int_equal(r.len, 0);
	assert_int_equal(lease_count(lt), 0);

	/* relayed: dropped */
	hdr(&m, MAC, 0, 0);
	put_be32(m.b + 24, IP(192, 0, 2, 1));
	type(&m, DHCPDISCOVER);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_IGNORED);
	assert_int_equal(r.len, 0);

	/* a stale lease of another MAC on the VIP (re-enrolment) is dropped */
	assert_int_equal(lease_set(lt, MAC_UNK, VIP, NOW + 500, LEASE_BOUND), 0);
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	opt_u32(&m, 50, VIP);
	end(&m);
	run(&m, MAC, &r);
	assert_int_equal(r.ev, DHCP_EV_ACKED);
	assert_null(lease_get(lt, MAC_UNK));
	assert_int_equal(lease_find_ip(lt, VIP)->state, LEASE_BOUND);
}

static void expect(struct msg *m, enum dhcp_event ev)
{
	struct dhcp_result r;

	memset(&r, 0x5a, sizeof(r));
	run(m, MAC, &r);
	assert_int_equal(r.ev, ev);
	if (ev == DHCP_EV_MALFORMED) {
		assert_int_equal(r.len, 0);
		assert_string_not_equal(r.why, "");
	}
}

static void test_hostile(void **state)
{
	struct msg m;
	size_t l;

	/* truncated fixed header, at every length */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	end(&m);
	for (l = 0; l < m.len; l++) {
		struct dhcp_result r;

		dhcp_handle(&cfg, lt, MAC, m.b, l, NOW, &r);
		assert_int_equal(r.ev, DHCP_EV_MALFORMED);
		assert_int_equal(r.len, 0);
	}
	/* op, htype, hlen */
	m.b[0] = 2;
	expect(&m, DHCP_EV_MALFORMED);
	m.b[0] = 1;
	m.b[1] = 6;
	expect(&m, DHCP_EV_MALFORMED);
	m.b[1] = 1;
	m.b[2] = 16;
	expect(&m, DHCP_EV_MALFORMED);
	m.b[2] = 6;
	/* cookie */
	m.b[239] ^= 1;
	expect(&m, DHCP_EV_MALFORMED);
	m.b[239] ^= 1;
	expect(&m, DHCP_EV_OFFERED);

	/* option length past the end */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	raw(&m, (uint8_t[]){ 61, 200, 1, 2, 3 }, 5);
	expect(&m, DHCP_EV_MALFORMED);
	/* option code as the last byte (no length) */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	raw(&m, (uint8_t[]){ 61 }, 1);
	expect(&m, DHCP_EV_MALFORMED);
	/* no end option */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	expect(&m, DHCP_EV_MALFORMED);
	/* only pad, no end */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	raw(&m, (uint8_t[]){ 0, 0, 0, 0 }, 4);
	expect(&m, DHCP_EV_MALFORMED);
	/* duplicate 53, 53 of length 2 and 0, type 0 */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	type(&m, DHCPREQUEST);
	end(&m);
	expect(&m, DHCP_EV_MALFORMED);
	hdr(&m, MAC, 0, 0);
	opt(&m, 53, 2, "\x01\x01");
	end(&m);
	expect(&m, DHCP_EV_MALFORMED);
	hdr(&m, MAC, 0, 0);
	opt(&m, 53, 0, "");
	end(&m);
	expect(&m, DHCP_EV_MALFORMED);
	hdr(&m, MAC, 0, 0);
	type(&m, 0);
	end(&m);
	expect(&m, DHCP_EV_MALFORMED);
	/* option 50/54 of the wrong length */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	opt(&m, 50, 3, "\x64\x40\x00");
	end(&m);
	expect(&m, DHCP_EV_MALFORMED);
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPREQUEST);
	opt(&m, 54, 5, "\x64\x40\x00\x01\x00");
	end(&m);
	expect(&m, DHCP_EV_MALFORMED);
	/* overlong (255-byte) options are fine when they fit */
	{
		uint8_t big[255];

		memset(big, 'x', sizeof(big));
		hdr(&m, MAC, 0, 0);
		type(&m, DHCPDISCOVER);
		opt(&m, 12, 255, big);
		opt(&m, 55, 255, big);
		end(&m);
		expect(&m, DHCP_EV_OFFERED);
	}
	/* too many options */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	for (l = 0; l < DHCP_OPT_MAX + 1; l++)
		raw(&m, (uint8_t[]){ 250, 0 }, 2);
	end(&m);
	expect(&m, DHCP_EV_MALFORMED);
	/* option overload (52): ignored; sname/file never parsed */
	hdr(&m, MAC, 0, 0);
	memset(m.b + 44, 0xff, 64 + 128);
	type(&m, DHCPDISCOVER);
	opt(&m, 52, 1, "\x03");
	end(&m);
	expect(&m, DHCP_EV_OFFERED);
	/* BOOTP (no 53); server-side types from a client */
	hdr(&m, MAC, 0, 0);
	end(&m);
	expect(&m, DHCP_EV_IGNORED);
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPOFFER);
	end(&m);
	expect(&m, DHCP_EV_IGNORED);
	hdr(&m, MAC, 0, 0);
	type(&m, 200);
	end(&m);
	expect(&m, DHCP_EV_IGNORED);
	/* bytes after the end option are padding */
	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	end(&m);
	raw(&m, (uint8_t[]){ 53, 1, 3, 99 }, 4);
	expect(&m, DHCP_EV_OFFERED);
	assert_string_equal(dhcp_event_str(DHCP_EV_UNKNOWN_MAC), "unknown MAC");
}

/* A config without router/dns/domain/mtu: those options are left out. */
static void test_minimal_cfg(void **state)
{
	struct dhcp_cfg c = { .server_ip = SERVER, .netmask = IP(255, 255, 255, 0),
			      .lease_time = 0, .lookup = lookup };
	struct dhcp_result r;
	struct msg m;
	size_t l;

	hdr(&m, MAC, 0, 0);
	type(&m, DHCPDISCOVER);
	end(&m);
	dhcp_handle(&c, lt, MAC, m.b, m.len, NOW, &r);
	assert_int_equal(r.ev, DHCP_EV_OFFERED);
	assert_int_equal(r.len, DHCP_REPLY_MIN);
	assert_int_equal(reply_u32(&r, 1), IP(255, 255, 255, 0));
	assert_int_equal(reply_u32(&r, 51), 1);
	assert_null(reply_opt(&r, 3, &l));
	assert_null(reply_opt(&r, 6, &l));
	assert_null(reply_opt(&r, 15, &l));
	assert_null(reply_opt(&r, 26, &l));
	/* no lookup at all: nobody is known */
	c.lookup = NULL;
	dhcp_handle(&c, lt, MAC, m.b, m.len, NOW, &r);
	assert_int_equal(r.ev, DHCP_EV_UNKNOWN_MAC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dora, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selecting_other_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_reboot_renew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decline_release_inform, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_trust, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minimal_cfg, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
