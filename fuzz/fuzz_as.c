/* libFuzzer: request frames into as_handle(), with and without a client
 * certificate (a node's or an adapter's), against a store set up once:
 * node alpha, adapter ad1 with general nodes cam and lamp (revoked),
 * adapter ad2 with general node door.  Seeds: fuzz/corpus/fuzz_as/, one
 * selector byte (bit 0: alpha's certificate, bit 1: ad1's) then a frame. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aead.h"
#include "as.h"
#include "log.h"
#include "store.h"

static struct store *fz_st;
static char fz_dir[] = "/tmp/cy-fuzz-as-XXXXXX";
static char fz_path[64];
static struct as *fz_as;

static void fuzz_as_cleanup(void)
{
	char p[80];

	as_free(fz_as);
	store_close(fz_st);
	unlink(fz_path);
	snprintf(p, sizeof(p), "%s-wal", fz_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fz_path);
	unlink(p);
	rmdir(fz_dir);
}

static int64_t fuzz_as_add(enum cy_kind kind, const char *name, const char *serial,
			   int64_t adapter_id, uint8_t mac)
{
	struct store_node n = { .kind = kind, .adapter_id = adapter_id };

	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.fqdn, sizeof(n.fqdn), "%s.example.test", name);
	snprintf(n.cert_serial, sizeof(n.cert_serial), "%s", serial);
	n.mac[0] = 0x02;
	n.mac[5] = mac;
	if (store_node_add(fz_st, &n) < 0)
		abort();
	return n.id;
}

static void fuzz_as_init(void)
{
	struct as_conf ac = { .key_lifetime = 3600 };
	struct store_node n = { .kind = CY_KIND_NODE };
	int64_t ad1, ad2;
	char err[256];

	log_init("fuzz_as", LOG_LVL_ERR);
	if (!mkdtemp(fz_dir))
		abort();
	snprintf(fz_path, sizeof(fz_path), "%s/cloud.db", fz_dir);
	if (store_open(&fz_st, fz_path, err, sizeof(err)) < 0)
		abort();
	store_meta_set(fz_st, "domain", "example.test");
	store_meta_set(fz_st, "vip4_prefix", "100.64.0.0/10");
	store_meta_set(fz_st, "vip6_prefix", "fd12:3456:789a::/48");
	strcpy(n.name, "alpha");
	strcpy(n.fqdn, "alpha.example.test");
	strcpy(n.cert_serial, "0A1B2C3D");
	if (store_node_add(fz_st, &n) < 0)
		abort();
	ad1 = fuzz_as_add(CY_KIND_ADAPTER, "ad1", "AD01", 0, 0);
	ad2 = fuzz_as_add(CY_KIND_ADAPTER, "ad2", "AD02", 0, 0);
	fuzz_as_add(CY_KIND_GN, "cam", "", ad1, 1);
	fuzz_as_add(CY_KIND_GN, "lamp", "", ad1, 2);
	fuzz_as_add(CY_KIND_GN, "door", "", ad2, 3);
	store_node_revoke(fz_st, "lamp", "stolen");
	fz_as = as_new(fz_st, &ac);
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
	store_key_expire(fz_st, INT64_MAX);
	return 0;
}
