/* libFuzzer: the node's Punch parser (src/node/dataplane/punch.c,
 * src/proto/punch_wire.c).  The first byte picks the target:
 *   0  a raw datagram to punch_input, for a table holding one tunnel that
 *      has sent one probe
 *   1  role, kind, stamp and echo of a validly sealed Punch of that
 *      tunnel (past the AEAD: the freshness and echo rules themselves)
 * Invariants: an answer is exactly one Punch ack that opens under the
 * Punch Key and echoes the probe it answers; an ack (from the candidate)
 * is taken only when it echoes the one probe sent, and only once. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "buf.h"
#include "clock.h"
#include "punch.h"

#define TID 0x0102030405060708ULL
#define NOW 1700000000

static void one(const uint8_t *data, size_t size, bool sealed)
{
	static const uint8_t tkey[32] = { 7 };
	struct sockaddr_in cand = { .sin_family = AF_INET, .sin_port = htons(7446) };
	uint8_t pkey[PUNCH_KEY_LEN], probe[PUNCH_LEN], pkt[PUNCH_LEN], out[PUNCH_LEN];
	struct punch_table *t = punch_table_new();
	struct punch_msg m, a;
	uint64_t sent;
	size_t n;
	int r, r2;

	if (!t || punch_key(tkey, TID, pkey) < 0)
		abort();
	cand.sin_addr.s_addr = htonl(0xc0000215);
	if (punch_add(t, TID, tkey, 0, (struct sockaddr *)&cand, NULL, true, CY_PUNCH_PLAIN, 0,
		      1000, probe, sizeof(probe)) != PUNCH_LEN ||
	    punch_open(pkey, probe, sizeof(probe), &m) < 0)
		abort();
	sent = m.stamp;
	if (sealed) {
		struct cur c = cur_make(data, size);

		memset(&m, 0, sizeof(m));
		m.tunnel_id = TID;
		if (!cur_get_u8(&c, &m.role) || !cur_get_u8(&c, &m.kind) ||
		    !cur_get_u64(&c, &m.stamp) || !cur_get_u64(&c, &m.echo) ||
		    punch_build(pkey, &m, pkt, sizeof(pkt)) != PUNCH_LEN)
			goto out;
		data = pkt;
		size = sizeof(pkt);
	}
	r = punch_input(t, data, size, (struct sockaddr *)&cand, 1000, &m, out, sizeof(out), &n);
	if (r == PUNCH_IN_PROBE) {
		if (n != PUNCH_LEN || punch_open(pkey, out, n, &a) < 0 || a.kind != PUNCH_ACK ||
		    a.role != 0 || a.echo != m.stamp)
			abort();
	} else if (n != 0) {
		abort();
	}
	if (r == PUNCH_IN_ACK) {
		if (m.echo != sent || m.role != 1)
			abort();
		/* Once only. */
		r2 = punch_input(t, data, size, (struct sockaddr *)&cand, 1000, &m, out, sizeof(out),
				 &n);
		if (r2 == PUNCH_IN_ACK)
			abort();
	}
out:
	punch_table_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	clock_set_fake(NOW, 1000);
	if (size < 1)
		return 0;
	one(data + 1, size - 1, data[0] & 1);
	return 0;
}
