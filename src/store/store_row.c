#include "store_row.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *col(const char *v)
{
	return v ? v : "";
}

static int64_t col_int(const char *v)
{
	return v ? strtoll(v, NULL, 10) : 0;
}

static void col_copy(char *dst, size_t size, const char *v)
{
	snprintf(dst, size, "%s", col(v));
}

void store_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	int i;

	memset(mac, 0, 6);
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
}

void store_row_node(const char *const v[STORE_NODE_NCOLS], struct store_node *n)
{
	memset(n, 0, sizeof(*n));
	n->id = col_int(v[0]);
	col_copy(n->name, sizeof(n->name), v[1]);
	col_copy(n->fqdn, sizeof(n->fqdn), v[2]);
	n->kind = (enum cy_kind)col_int(v[3]);
	n->adapter_id = col_int(v[4]);
	store_mac_parse(col(v[5]), n->mac);
	inet_pton(AF_INET, col(v[6]), n->vip4);
	inet_pton(AF_INET6, col(v[7]), n->vip6);
	col_copy(n->cert_serial, sizeof(n->cert_serial), v[8]);
	col_copy(n->pwhash, sizeof(n->pwhash), v[9]);
	n->revoked = col_int(v[10]) != 0;
	col_copy(n->revoke_reason, sizeof(n->revoke_reason), v[11]);
	n->created = col_int(v[12]);
	col_copy(n->tags, sizeof(n->tags), v[13]);
	col_copy(n->cert_prev, sizeof(n->cert_prev), v[14]);
}

void store_row_reg(const char *const v[STORE_REG_NCOLS], struct store_reg *r)
{
	char list[STORE_ADDRS_TEXT_MAX], *tok, *save;
	socklen_t len;

	memset(r, 0, sizeof(*r));
	r->node_id = col_int(v[0]);
	r->key_id = (uint64_t)col_int(v[1]);
	if (col(v[2])[0])
		addr_parse(v[2], 0, &r->observed, &len);
	col_copy(list, sizeof(list), v[3]);
	for (tok = strtok_r(list, ",", &save); tok && r->naddrs < STORE_MAX_ADDRS;
	     tok = strtok_r(NULL, ",", &save))
		if (addr_parse(tok, 0, &r->addrs[r->naddrs], &len) == 0)
			r->naddrs++;
	r->families = (uint8_t)col_int(v[4]);
	r->nat = col_int(v[5]) != 0;
	r->counter = (uint64_t)col_int(v[6]);
	r->updated = col_int(v[7]);
	r->expires = col_int(v[8]);
	r->mapping = (uint8_t)col_int(v[9]);
	col_copy(r->host, sizeof(r->host), v[10]);
}

int store_reg_text(const struct store_reg *r, char observed[ADDR_STR_MAX],
		   char list[STORE_ADDRS_TEXT_MAX])
{
	char a[ADDR_STR_MAX];
	size_t i, len = 0;

	if (r->naddrs > STORE_MAX_ADDRS)
		return -EINVAL;
	observed[0] = '\0';
	if (r->observed.ss_family == AF_INET || r->observed.ss_family == AF_INET6)
		addr_str((const struct sockaddr *)&r->observed, observed);
	list[0] = '\0';
	for (i = 0; i < r->naddrs; i++) {
		if (r->addrs[i].ss_family != AF_INET && r->addrs[i].ss_family != AF_INET6)
			return -EINVAL;
		len += (size_t)snprintf(list + len, STORE_ADDRS_TEXT_MAX - len, "%s%s",
					i ? "," : "",
					addr_str((const struct sockaddr *)&r->addrs[i], a));
	}
	return 0;
}
