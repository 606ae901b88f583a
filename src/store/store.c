/* The store interface: pick the backend from the URL and dispatch. */
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "store_impl.h"

int store_open(struct store **out, const char *url, char *err, size_t errlen)
{
	*out = NULL;
	if (!url || !url[0]) {
		snprintf(err, errlen, "store: empty location");
		return -EINVAL;
	}
	if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
		snprintf(err, errlen, "store: the PostgreSQL backend is not built yet ('%s')",
			 url);
		return -ENOTSUP;
	}
	if (!strncmp(url, "sqlite:", 7))
		url += 7;
	else if (strstr(url, "://")) {
		snprintf(err, errlen, "store: unknown backend in '%s'", url);
		return -ENOTSUP;
	}
	return store_sqlite_open(out, url, err, errlen);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

int store_meta_set(struct store *st, const char *key, const char *value)
{
	return st->ops->meta_set(st, key, value);
}

int store_counter_reserve(struct store *st, const char *name, uint64_t at_least, uint64_t block,
			  uint64_t *start)
{
	return st->ops->counter_reserve(st, name, at_least, block, start);
}

int store_meta_get(struct store *st, const char *key, char *value, size_t len)
{
	return st->ops->meta_get(st, key, value, len);
}

int store_node_add(struct store *st, struct store_node *n)
{
	return st->ops->node_add(st, n);
}

int store_node_set_cert(struct store *st, int64_t id, const char *serial)
{
	return st->ops->node_set_cert(st, id, serial);
}

int store_node_set_pwhash(struct store *st, int64_t id, const char *pwhash)
{
	return st->ops->node_set_pwhash(st, id, pwhash);
}

int store_node_by_name(struct store *st, const char *name, struct store_node *n)
{
	return st->ops->node_by_name(st, name, n);
}

int store_node_by_fqdn(struct store *st, const char *fqdn, struct store_node *n)
{
	return st->ops->node_by_fqdn(st, fqdn, n);
}

int store_node_by_id(struct store *st, int64_t id, struct store_node *n)
{
	return st->ops->node_by_id(st, id, n);
}

int store_node_by_serial(struct store *st, const char *serial, struct store_node *n)
{
	return st->ops->node_by_serial(st, serial, n);
}

int store_node_by_vip4(struct store *st, const uint8_t vip4[4], struct store_node *n)
{
	return st->ops->node_by_vip4(st, vip4, n);
}

int store_node_by_vip6(struct store *st, const uint8_t vip6[16], struct store_node *n)
{
	return st->ops->node_by_vip6(st, vip6, n);
}

int store_node_revoke(struct store *st, const char *name, const char *reason)
{
	return st->ops->node_revoke(st, name, reason);
}

int store_node_foreach(struct store *st, int64_t adapter_id,
		       int (*cb)(const struct store_node *n, void *arg), void *arg)
{
	return st->ops->node_foreach(st, adapter_id, cb, arg);
}

int store_key_put(struct store *st, const struct store_key *k)
{
	return st->ops->key_put(st, k);
}

int store_key_get(struct store *st, uint64_t key_id, struct store_key *k)
{
	return st->ops->key_get(st, key_id, k);
}

int store_key_delete(struct store *st, uint64_t key_id)
{
	return st->ops->key_delete(st, key_id);
}

int store_key_expire(struct store *st, int64_t now)
{
	return st->ops->key_expire(st, now);
}

int store_reg_put(struct store *st, const struct store_reg *r)
{
	return st->ops->reg_put(st, r);
}

int store_reg_get(struct store *st, int64_t node_id, struct store_reg *r)
{
	return st->ops->reg_get(st, node_id, r);
}

int store_reg_delete(struct store *st, int64_t node_id)
{
	return st->ops->reg_delete(st, node_id);
}

int store_reg_expire(struct store *st, int64_t now)
{
	return st->ops->reg_expire(st, now);
}

int store_reg_foreach(struct store *st, int (*cb)(const struct store_reg *r, void *arg),
		      void *arg)
{
	return st->ops->reg_foreach(st, cb, arg);
}

/* Virtual-IP arithmetic, shared by the backends. */

static int vip_parse(const char *s, int af, uint8_t *addr, int *plen)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = af == AF_INET ? 4 : 16;
	long len;
	size_t i;

	if (!slash || (size_t)(slash - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, slash - s);
	host[slash - s] = '\0';
	if (inet_pton(af, host, addr) != 1)
		return -EINVAL;
	if (!conf_parse_long(slash + 1, 1, (long)alen * 8, &len))
		return -EINVAL;
	/* host bits must be zero: "100.64.0.1/10" is a mistake, not a range */
	for (i = 0; i < alen; i++) {
		long bit0 = (long)i * 8;
		uint8_t mask = len >= bit0 + 8 ? 0xff
			     : len <= bit0   ? 0x00
					     : (uint8_t)(0xff << (8 - (len - bit0)));
		if (addr[i] & (uint8_t)~mask)
			return -EINVAL;
	}
	*plen = (int)len;
	return 0;
}

int store_vip_parse4(const char *s, uint8_t addr[4], int *plen)
{
	return vip_parse(s, AF_INET, addr, plen);
}

int store_vip_parse6(const char *s, uint8_t addr[16], int *plen)
{
	return vip_parse(s, AF_INET6, addr, plen);
}

int64_t store_vip_capacity(int plen4, int plen6)
{
	int host4 = 32 - plen4, host6 = 128 - plen6;
	int64_t cap4, cap6;

	/* IPv4: index 0 is the network, the last one the broadcast. */
	cap4 = host4 < 2 ? 0 : ((int64_t)1 << host4) - 2;
	/* IPv6: index 0 is the subnet-router anycast address. */
	cap6 = host6 >= 62 ? INT64_MAX : ((int64_t)1 << host6) - 1;
	return cap4 < cap6 ? cap4 : cap6;
}

static void vip_add(uint8_t *a, size_t len, int64_t index)
{
	uint64_t carry = (uint64_t)index;
	size_t i;

	for (i = len; i-- > 0 && carry;) {
		carry += a[i];
		a[i] = (uint8_t)carry;
		carry >>= 8;
	}
}

void store_vip_make(const uint8_t p4[4], const uint8_t p6[16], int64_t index, uint8_t vip4[4],
		    uint8_t vip6[16])
{
	memcpy(vip4, p4, 4);
	memcpy(vip6, p6, 16);
	vip_add(vip4, 4, index);
	vip_add(vip6, 16, index);
}
