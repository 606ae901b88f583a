/* libFuzzer: bytes into the adapter's DHCPv6 server core
 * (src/adapter/lan/dhcp6.c).
 *
 * Three MACs 02:00:00:00:00:01..03 are enrolled (VIPs fd00:64::11..13).
 * The first byte picks: bits 0-1 the Ethernet source MAC (0: one nobody
 * enrolled, 1..3 an enrolled one), bits 2-7 how far the clock moves on.
 * The lease table lives across inputs, so sequences are explored.
 * Checked: every event has a reason or a known kind; a reply is an
 * ADVERTISE or REPLY with the client's transaction id, fits, starts with
 * the adapter's server identifier, and is itself refused when fed back
 * (a server takes no server messages); only enrolled MACs ever hold a
 * DHCPv6 lease, and on their own VIP. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp6.h"
#include "lease.h"
#include "log.h"

static struct lease_table *fz_lt;
static int64_t fz_now = 1700000000;

static bool fz_lookup(void *arg, const uint8_t mac[6], uint8_t vip6[16])
{
	static const uint8_t pre[5] = { 0x02, 0, 0, 0, 0 };
	static const uint8_t net[15] = { 0xfd, 0x00, 0x00, 0x64 };

	if (memcmp(mac, pre, 5) != 0 || mac[5] < 1 || mac[5] > 3)
		return false;
	memcpy(vip6, net, 15);
	vip6[15] = (uint8_t)(0x10 + mac[5]);
	return true;
}

static struct dhcp6_cfg fz_cfg = {
	.mac = { 0x02, 0xad, 0, 0, 0, 1 }, .dns = { 0xfd, 0x00, 0x00, 0x64, [15] = 1 }, .domain = "example.cy",
	.lifetime = 3600, .lookup = fz_lookup,
};

static void fz_check_lease(void *arg, const struct lease *l)
{
	uint8_t vip[16];

	if (!l->v6 || !fz_lookup(NULL, l->mac, vip) || memcmp(vip, l->vip6, 16))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dhcp6_result res, again;
	uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0 };
	static const uint8_t sid[8] = { 0, 2, 0, 10, 0, 3, 0, 1 };
	uint8_t sel;

	if (!fz_lt) {
		log_init("fuzz_dhcp6", LOG_LVL_ERR);
		fz_lt = lease_table_new(NULL);
		if (!fz_lt)
			abort();
	}
	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	fz_now += sel >> 2;
	src[5] = (sel & 3) ? (sel & 3) : 0x77;

	dhcp6_handle(&fz_cfg, fz_lt, src, data, size, fz_now, &res);
	if (!res.why || (res.ev == DHCP6_EV_MALFORMED && !res.why[0]))
		abort();
	if (res.len) {
		if (res.len > DHCP6_REPLY_MAX || res.len < 4 + 14 ||
		    (res.reply[0] != DHCP6_ADVERTISE && res.reply[0] != DHCP6_REPLY) ||
		    size < 4 || memcmp(res.reply + 1, data + 1, 3) ||
		    memcmp(res.reply + 4, sid, 8) || memcmp(res.reply + 12, fz_cfg.mac, 6))
			abort();
		dhcp6_handle(&fz_cfg, fz_lt, src, res.reply, res.len, fz_now, &again);
		if (again.ev != DHCP6_EV_MALFORMED || again.len)
			abort();
	}
	lease_foreach(fz_lt, fz_check_lease, NULL);
	if (lease_count(fz_lt) > 3)
		abort();
	lease_expire(fz_lt, fz_now);
	return 0;
}
