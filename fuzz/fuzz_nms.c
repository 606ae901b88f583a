/* libFuzzer: datagrams into nms_handle(), against a store set up once
 * with one node and one key (so inputs naming that key reach the AEAD
 * and, when the fuzzer cannot forge a tag, stop there). */
#include <stdint.h>
#include <stdlib.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "aead.h"
#include "cloud_fixture.h"
#include "log.h"
#include "nms.h"
#include "store.h"

static struct cloud_fixture fz;
static struct nms *fz_nms;

static void fuzz_nms_cleanup(void)
{
	nms_free(fz_nms);
	cloud_fixture_close(&fz);
}

static void fuzz_nms_init(void)
{
	struct nms_conf nc = { .registration_ttl = 60 };
	struct store_node n;

	log_init("fuzz_nms", LOG_LVL_ERR);
	cloud_fixture_open(&fz, "fuzz-nms");
	cloud_fixture_node(&fz, &(struct fixture_node){ .name = "alpha" }, &n);
	aead_free(cloud_fixture_key(&fz, 0x0102030405060708ULL, n.id, INT64_MAX / 2));
	fz_nms = nms_new(fz.st, &nc);
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
