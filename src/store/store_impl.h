/* What a store backend implements.  store.c only parses the URL and
 * dispatches; every call of store.h has one entry here, and a backend's
 * own state embeds struct store as its first member:
 *
 *   struct store_sqlite { struct store base; sqlite3 *db; ... };
 *
 * Backends keep their SQL plain (tables, indexes, INSERT/UPDATE/DELETE,
 * INSERT ... ON CONFLICT upserts, no engine-specific types in the
 * interface) so a PostgreSQL backend can mirror the same schema. */
#ifndef CY_STORE_IMPL_H
#define CY_STORE_IMPL_H

#include <stddef.h>

#include "store.h"

struct store_ops {
	const char *name;
	void (*close)(struct store *st);
	int (*meta_set)(struct store *st, const char *key, const char *value);
	int (*meta_add)(struct store *st, const char *key, const char *value);
	int (*meta_get)(struct store *st, const char *key, char *value, size_t len);
	int (*counter_reserve)(struct store *st, const char *name, uint64_t at_least,
			       uint64_t block, uint64_t *start);
	int (*node_add)(struct store *st, struct store_node *n);
	int (*node_renew_cert)(struct store *st, int64_t id, const char *presented,
			       const char *fresh);
	int (*node_cert_used)(struct store *st, int64_t id, const char *serial);
	int (*node_set_pwhash)(struct store *st, int64_t id, const char *pwhash);
	int (*node_set_tags)(struct store *st, int64_t id, const char *tags);
	int (*node_by_name)(struct store *st, const char *name, struct store_node *n);
	int (*node_by_fqdn)(struct store *st, const char *fqdn, struct store_node *n);
	int (*node_by_id)(struct store *st, int64_t id, struct store_node *n);
	int (*node_by_serial)(struct store *st, const char *serial, struct store_node *n);
	int (*node_by_vip4)(struct store *st, const uint8_t vip4[4], struct store_node *n);
	int (*node_by_vip6)(struct store *st, const uint8_t vip6[16], struct store_node *n);
	int (*node_revoke)(struct store *st, const char *name, const char *reason);
	int (*node_foreach)(struct store *st, int64_t adapter_id,
			    int (*cb)(const struct store_node *n, void *arg), void *arg);
	int (*key_put)(struct store *st, const struct store_key *k);
	int (*key_get)(struct store *st, uint64_t key_id, struct store_key *k);
	int (*key_delete)(struct store *st, uint64_t key_id);
	int (*key_expire)(struct store *st, int64_t now);
	int (*reg_put)(struct store *st, const struct store_reg *r);
	int (*reg_touch)(struct store *st, const struct store_reg *v, size_t n, int *result);
	int (*reg_get)(struct store *st, int64_t node_id, struct store_reg *r);
	int (*reg_delete)(struct store *st, int64_t node_id);
	int (*reg_expire)(struct store *st, int64_t now);
	int (*reg_foreach)(struct store *st, int (*cb)(const struct store_reg *r, void *arg),
			   void *arg);
	/* NULL: no signals between hosts */
	int (*notify)(struct store *st, const char *channel, const char *payload);
};

struct store {
	const struct store_ops *ops;
	struct store_stats stats;            /* store.c times every call */
};

/* Backends.  path/url is what follows the scheme. */
int store_sqlite_open(struct store **out, const char *path, char *err, size_t errlen);
int store_pg_open(struct store **out, const char *url, char *err, size_t errlen);
struct store_bus *store_pg_bus_new(struct event_base *base, const char *url, const char *channel,
				   store_bus_cb cb, void *arg, char *err, size_t errlen);
void store_pg_bus_free(struct store_bus *b);

#endif
