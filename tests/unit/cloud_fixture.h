/* The store the AS and NMS unit tests and fuzzers run against: an SQLite
 * file in a fresh directory /tmp/cy-NAME-XXXXXX, with the cloud's domain
 * (example.test) and virtual-IP ranges set, plus nodes and node-NMS keys
 * added on request.
 *
 * No cmocka in here, so the fuzzers link it too: a failure to set up is
 * not what is under test, so it is printed and abort()s. */
#ifndef CY_CLOUD_FIXTURE_H
#define CY_CLOUD_FIXTURE_H

#include <stdint.h>

#include "aead.h"
#include "store.h"

#define FIXTURE_DOMAIN "example.test"

struct cloud_fixture {
	char dir[64];
	char db[128];
	struct store *st;
};

/* A node to add; fields left zero mean a plain node with no certificate
 * and no password. */
struct fixture_node {
	const char *name;       /* fqdn: NAME.example.test */
	enum cy_kind kind;
	const char *serial;     /* certificate serial */
	const char *password;   /* stored as its hash */
	int64_t adapter_id;     /* general nodes: the owning adapter */
	uint16_t mac_id;        /* general nodes: MAC 02:00:00:00:hi:lo */
};

void cloud_fixture_open(struct cloud_fixture *cf, const char *name);
/* Close the store and remove its files and directory. */
void cloud_fixture_close(struct cloud_fixture *cf);

/* Add a node; returns its id, and the stored row in *out unless NULL. */
int64_t cloud_fixture_node(struct cloud_fixture *cf, const struct fixture_node *spec,
			   struct store_node *out);
/* The same with the fields given inline and no row back:
 *   FIXTURE_NODE(&cf, .name = "cam", .kind = CY_KIND_GN, .adapter_id = ad, .mac_id = 1) */
#define FIXTURE_NODE(cf, ...) \
	cloud_fixture_node((cf), &(const struct fixture_node){ __VA_ARGS__ }, NULL)

/* Store key id for node_id until expires, bytes (id + i) so they are
 * easy to rebuild; returns a ChaCha20-Poly1305 context over it, to seal
 * as that node (aead_free it). */
struct aead *cloud_fixture_key(struct cloud_fixture *cf, uint64_t id, int64_t node_id,
			       int64_t expires);

#endif
