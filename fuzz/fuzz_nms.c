/* libFuzzer: datagrams into nms_handle(), against a store set up once
 * with one node and one key (so inputs naming that key reach the AEAD
 * and, when the fuzzer cannot forge a tag, stop there). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "clock.h"
#include "log.h"
#include "nms.h"
#include "store.h"

static struct store *fz_st;
static char fz_dir[] = "/tmp/cy-fuzz-nms-XXXXXX";
static char fz_path[64];
static struct nms *fz_nms;

static void fuzz_nms_cleanup(void)
{
	char p[80];

	nms_free(fz_nms);
	store_close(fz_st);
	unlink(fz_path);
	snprintf(p, sizeof(p), "%s-wal", fz_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fz_path);
	unlink(p);
	rmdir(fz_dir);
}

static void fuzz_nms_init(void)
{
	struct nms_conf nc = { .registration_ttl = 60 };
	struct store_node n = { .kind = CY_KIND_NODE };
	struct store_key k = { .key_id = 0x0102030405060708ULL };
	char err[256];

	log_init("fuzz_nms", LOG_LVL_ERR);
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
	if (store_node_add(fz_st, &n) < 0)
		abort();
	k.node_id = n.id;
	k.expires = INT64_MAX / 2;
	memset(k.key, 0x42, sizeof(k.key));
	if (store_key_put(fz_st, &k) < 0)
		abort();
	fz_nms = nms_new(fz_st, &nc);
	if (!fz_nms)
		abort();
	atexit(fuzz_nms_cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_port = htons(7446) };
	uint8_t out[NMS_PKT_MAX];

	if (!fz_nms)
		fuzz_nms_init();
	inet_pton(AF_INET, "192.0.2.10", &from.sin_addr);
	nms_handle(fz_nms, (struct sockaddr *)&from, data, size, out, sizeof(out));
	return 0;
}
