/* libFuzzer: request frames into as_handle(), with and without a client
 * certificate, against a store set up once. */
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

static void fuzz_as_init(void)
{
	struct as_conf ac = { .key_lifetime = 3600 };
	struct store_node n = { .kind = CY_KIND_NODE };
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
	fz_as = as_new(fz_st, &ac);
	if (!fz_as)
		abort();
	atexit(fuzz_as_cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct as_peer peer = { 0 };
	uint8_t resp[1024];
	ssize_t n;

	if (!fz_as)
		fuzz_as_init();
	/* The first byte chooses whether the peer showed alpha's certificate. */
	if (size && (data[0] & 1))
		peer.cert_serial = "0A1B2C3D";
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
