/* libFuzzer: bytes into the adapter's DHCP server core and lease file.
 *
 * Four MACs 02:00:00:00:00:01..04 are enrolled (VIPs 100.64.0.11..14).
 * The first byte picks:
 *   bits 0-1: the Ethernet source MAC: 0 = the message's own chaddr (so
 *             the zero-trust checks pass and the state machine is
 *             reached), 1..3 = enrolled MAC 1..3 (mismatch unless equal)
 *   bit 2:    the bytes are a lease file instead: loaded, written out and
 *             loaded back, all in memory (no file per input: a file,
 *             its fsync and rename held this target to ~2,000 exec/s);
 *             what was loaded must come back unchanged
 *   bits 3-7: how far the clock moves on (leases expire, holds end)
 * The lease table lives across inputs, so sequences of messages are
 * explored.  Checked: a reply is a BOOTREPLY of 300..576 bytes with the
 * client's xid, addressed somewhere, and itself rejected when fed back;
 * only enrolled MACs ever hold leases. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dhcp.h"
#include "lease.h"
#include "log.h"

static struct lease_table *fz_lt;
static int64_t fz_now = 1700000000;

static bool fz_lookup(void *arg, const uint8_t mac[6], uint32_t *vip)
{
	static const uint8_t pre[5] = { 0x02, 0, 0, 0, 0 };

	if (memcmp(mac, pre, 5) != 0 || mac[5] < 1 || mac[5] > 4)
		return false;
	*vip = 0x6440000a + mac[5];
	return true;
}

static const struct dhcp_cfg fz_cfg = {
	.server_ip = 0x64400001, .netmask = 0xffc00000, .router = 0x64400001,
	.dns = 0x64400001, .lease_time = 3600, .mtu = 1380, .domain = "example.cy",
	.lookup = fz_lookup,
};

static void fz_check_lease(void *arg, const struct lease *l)
{
	uint32_t vip;

	if (!fz_lookup(NULL, l->mac, &vip) || vip != l->vip4)
		abort();
}

/* Each lease of the loaded table must come back from the written text. */
static void fz_same_lease(void *arg, const struct lease *l)
{
	const struct lease *b = l->v6 ? lease6_get(arg, l->mac) : lease_get(arg, l->mac);

	if (l->state != LEASE_BOUND || !b || b->state != LEASE_BOUND || b->v6 != l->v6 ||
	    b->vip4 != l->vip4 || memcmp(b->vip6, l->vip6, 16) || b->expires != l->expires)
		abort();
}

static void fz_lease_file(const uint8_t *data, size_t size)
{
	struct lease_table *lt = lease_table_new(NULL), *back = lease_table_new(NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!lt || !back)
		abort();
	lease_table_load_buf(lt, (const char *)data, size, fz_now);
	if (lease_count(lt) > LEASE_MAX)
		abort();
	f = open_memstream(&text, &len);
	if (!f || lease_table_write(lt, f, fz_now) < 0 || fclose(f) != 0)
		abort();
	lease_table_load_buf(back, text, len, fz_now);
	if (lease_count(back) != lease_count(lt))
		abort();
	lease_foreach(lt, fz_same_lease, back);
	free(text);
	lease_table_free(back);
	lease_table_free(lt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dhcp_result res, again;
	uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0 };
	uint8_t sel;

	if (!fz_lt) {
		log_init("fuzz_dhcp", LOG_LVL_ERR);
		fz_lt = lease_table_new(NULL);
		if (!fz_lt)
			abort();
	}
	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	fz_now += sel >> 3;
	if (sel & 4) {
		fz_lease_file(data, size);
		return 0;
	}
	if ((sel & 3) == 0) {
		if (size >= 34)
			memcpy(src, data + 28, 6);
	} else {
		src[5] = sel & 3;
	}

	dhcp_handle(&fz_cfg, fz_lt, src, data, size, fz_now, &res);
	if (!res.why)
		abort();
	if (res.len) {
		if (res.len < DHCP_REPLY_MIN || res.len > DHCP_REPLY_MAX || res.reply[0] != 2 ||
		    get_be32(res.reply + 4) != res.xid || res.dst_ip == 0)
			abort();
		dhcp_handle(&fz_cfg, fz_lt, src, res.reply, res.len, fz_now, &again);
		if (again.ev != DHCP_EV_MALFORMED || again.len)
			abort();
	}
	lease_foreach(fz_lt, fz_check_lease, NULL);
	if (lease_count(fz_lt) > 4)
		abort();
	lease_expire(fz_lt, fz_now);
	return 0;
}
