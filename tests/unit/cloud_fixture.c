#include "cloud_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pwhash.h"

static void check(int rc, const char *what, const char *detail)
{
	if (rc >= 0)
		return;
	fprintf(stderr, "cloud_fixture: %s %s failed (%d)\n", what, detail, rc);
	abort();
}

void cloud_fixture_open(struct cloud_fixture *cf, const char *name)
{
	char err[256] = "";

	memset(cf, 0, sizeof(*cf));
	snprintf(cf->dir, sizeof(cf->dir), "/tmp/cy-%s-XXXXXX", name);
	check(mkdtemp(cf->dir) ? 0 : -1, "mkdtemp", cf->dir);
	snprintf(cf->db, sizeof(cf->db), "%s/cloud.db", cf->dir);
	check(store_open(&cf->st, cf->db, err, sizeof(err)), "store_open", err);
	check(store_meta_set(cf->st, "domain", FIXTURE_DOMAIN), "store_meta_set", "domain");
	check(store_meta_set(cf->st, "vip4_prefix", "100.64.0.0/10"), "store_meta_set",
	      "vip4_prefix");
	check(store_meta_set(cf->st, "vip6_prefix", "fd12:3456:789a::/48"), "store_meta_set",
	      "vip6_prefix");
}

void cloud_fixture_close(struct cloud_fixture *cf)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[sizeof(cf->db) + 8];

	store_close(cf->st);
	cf->st = NULL;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", cf->db, suffix[i]);
		unlink(path);
	}
	rmdir(cf->dir);
}

int64_t cloud_fixture_node(struct cloud_fixture *cf, const struct fixture_node *spec,
			   struct store_node *out)
{
	struct store_node n = { .kind = spec->kind, .adapter_id = spec->adapter_id };

	snprintf(n.name, sizeof(n.name), "%s", spec->name);
	snprintf(n.fqdn, sizeof(n.fqdn), "%s.%s", spec->name, FIXTURE_DOMAIN);
	snprintf(n.cert_serial, sizeof(n.cert_serial), "%s", spec->serial ? spec->serial : "");
	if (spec->kind == CY_KIND_GN) {
		n.mac[0] = 0x02;
		n.mac[4] = (uint8_t)(spec->mac_id >> 8);
		n.mac[5] = (uint8_t)spec->mac_id;
	}
	if (spec->password) {
		char h[PWHASH_MAX];

		check(pwhash_create(spec->password, h), "pwhash_create", spec->name);
		snprintf(n.pwhash, sizeof(n.pwhash), "%s", h);
	}
	check(store_node_add(cf->st, &n), "store_node_add", spec->name);
	if (out)
		*out = n;
	return n.id;
}

struct aead *cloud_fixture_key(struct cloud_fixture *cf, uint64_t id, int64_t node_id,
			       int64_t expires)
{
	struct store_key k = { .key_id = id, .node_id = node_id, .expires = expires };
	struct aead *a;

	for (size_t i = 0; i < sizeof(k.key); i++)
		k.key[i] = (uint8_t)(id + i);
	check(store_key_put(cf->st, &k), "store_key_put", "");
	a = aead_new(AEAD_CHACHA20_POLY1305, k.key);
	cy_wipe(k.key, sizeof(k.key));
	check(a ? 0 : -1, "aead_new", "");
	return a;
}
