/* libFuzzer: request frames into as_handle(), with and without a client
 * certificate (a node's or an adapter's), against a store set up once:
 * node alpha, adapter ad1 with general nodes cam and lamp (revoked),
 * adapter ad2 with general node door.  Seeds: fuzz/corpus/fuzz_as/, one
 * selector byte (bit 0: alpha's certificate, bit 1: ad1's) then a frame. */
#include <stdint.h>
#include <stdlib.h>

#include "aead.h"
#include "as.h"
#include "cloud_fixture.h"
#include "log.h"
#include "store.h"

static struct cloud_fixture fz;
static struct as *fz_as;

static void fuzz_as_cleanup(void)
{
	as_free(fz_as);
	cloud_fixture_close(&fz);
}

static void fuzz_as_init(void)
{
	struct as_conf ac = { .key_lifetime = 3600 };
	int64_t ad1, ad2;

	log_init("fuzz_as", LOG_LVL_ERR);
	cloud_fixture_open(&fz, "fuzz-as");
	FIXTURE_NODE(&fz, .name = "alpha", .serial = "0A1B2C3D");
	ad1 = FIXTURE_NODE(&fz, .name = "ad1", .kind = CY_KIND_ADAPTER, .serial = "AD01");
	ad2 = FIXTURE_NODE(&fz, .name = "ad2", .kind = CY_KIND_ADAPTER, .serial = "AD02");
	FIXTURE_NODE(&fz, .name = "cam", .kind = CY_KIND_GN, .adapter_id = ad1, .mac_id = 1);
	FIXTURE_NODE(&fz, .name = "lamp", .kind = CY_KIND_GN, .adapter_id = ad1, .mac_id = 2);
	FIXTURE_NODE(&fz, .name = "door", .kind = CY_KIND_GN, .adapter_id = ad2, .mac_id = 3);
	store_node_revoke(fz.st, "lamp", "stolen");
	fz_as = as_new(fz.st, &ac);
	if (!fz_as)
		abort();
	atexit(fuzz_as_cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t resp[AS_RES_MAX];
	struct as_peer peer = { 0 };
	ssize_t n;

	if (!fz_as)
		fuzz_as_init();
	/* The first byte chooses the certificate the peer showed: none,
	 * alpha's (a node) or ad1's (an adapter). */
	if (size && (data[0] & 1))
		peer.cert_serial = "0A1B2C3D";
	else if (size && (data[0] & 2))
		peer.cert_serial = "AD01";
	if (size) {
		data++;
		size--;
	}
	n = as_handle(fz_as, &peer, data, size, resp, sizeof(resp));
	if (n > 0)
		cy_wipe(resp, (size_t)n);
	/* Successful logins store a key each: keep the store small. */
	store_key_expire(fz.st, INT64_MAX);
	return 0;
}
