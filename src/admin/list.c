/* The list of everything enrolled, joined with the NMS's registrations. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "json.h"

struct list_ctx {
	struct store *st;
	int64_t now;
	struct admin_row *rows;
	size_t n, cap;
	int err;
};

const char *admin_kind_str(enum cy_kind k)
{
	switch (k) {
	case CY_KIND_NODE: return "node";
	case CY_KIND_ADAPTER: return "adapter";
	case CY_KIND_GN: return "gn";
	}
	return "unknown";
}

static int list_collect(const struct store_node *n, void *arg)
{
	struct list_ctx *ctx = arg;
	struct admin_row *r;
	struct store_reg reg;

	if (ctx->n == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 32;
		struct admin_row *rows = realloc(ctx->rows, cap * sizeof(*rows));

		if (!rows) {
			ctx->err = -ENOMEM;
			return 1;
		}
		ctx->rows = rows;
		ctx->cap = cap;
	}
	r = &ctx->rows[ctx->n++];
	memset(r, 0, sizeof(*r));
	strcpy(r->name, n->name);
	strcpy(r->fqdn, n->fqdn);
	r->kind = n->kind;
	inet_ntop(AF_INET, n->vip4, r->vip4, sizeof(r->vip4));
	inet_ntop(AF_INET6, n->vip6, r->vip6, sizeof(r->vip6));
	r->revoked = n->revoked;
	if (n->revoked)
		strcpy(r->reason, n->revoke_reason);
	r->created = n->created;
	strcpy(r->tags, n->tags);
	if (n->kind == CY_KIND_GN) {
		struct store_node ad;

		cy_mac_str(n->mac, r->mac);
		if (store_node_by_id(ctx->st, n->adapter_id, &ad) == 0)
			strcpy(r->adapter, ad.name);
		else
			strcpy(r->adapter, "?");
	}
	/* registered: a row the NMS has not let expire yet */
	if (store_reg_get(ctx->st, n->id, &reg) == 0) {
		r->updated = reg.updated;
		if (reg.expires > ctx->now) {
			r->registered = true;
			r->nat = reg.nat;
			snprintf(r->host, sizeof(r->host), "%s", reg.host[0] ? reg.host : "?");
			if (reg.observed.ss_family == AF_INET || reg.observed.ss_family == AF_INET6)
				addr_str((const struct sockaddr *)&reg.observed, r->observed);
		}
	}
	return 0;
}

int admin_list(struct store *st, int64_t now, struct admin_row **rows, size_t *n)
{
	struct list_ctx ctx = { .st = st, .now = now };
	int rc = store_node_foreach(st, -1, list_collect, &ctx);

	if (rc == 0)
		rc = ctx.err;
	if (rc < 0) {
		free(ctx.rows);
		return rc == -ENOMEM ? rc : -EIO;
	}
	*rows = ctx.rows;
	*n = ctx.n;
	return 0;
}

/* A row at its longest: every text escaped to six bytes a byte (\u00XX),
 * and the keys and numbers. */
#define ROW_JSON_MAX                                                                 \
	(512 + 6 * (3 * CY_NAME_MAX + CY_FQDN_MAX + CY_REASON_MAX + STORE_TAGS_MAX +   \
		    STORE_HOST_MAX + ADDR_STR_MAX + INET6_ADDRSTRLEN + INET_ADDRSTRLEN + \
		    CY_MAC_STR))

size_t admin_list_json_cap(size_t n)
{
	return 256 + n * ROW_JSON_MAX;
}

void admin_list_json(struct json *j, const char *key, const struct admin_row *rows, size_t n)
{
	json_arr_begin(j, key);
	for (size_t i = 0; i < n; i++) {
		const struct admin_row *r = &rows[i];

		json_obj_begin(j, NULL);
		json_str(j, "name", r->name);
		json_str(j, "fqdn", r->fqdn);
		json_str(j, "kind", admin_kind_str(r->kind));
		json_str(j, "vip4", r->vip4);
		json_str(j, "vip6", r->vip6);
		json_bool(j, "revoked", r->revoked);
		json_str(j, "reason", r->revoked ? r->reason : NULL);
		json_bool(j, "registered", r->registered);
		json_str(j, "observed", r->registered && r->observed[0] ? r->observed : NULL);
		if (r->registered) {
			json_bool(j, "nat", r->nat);
			json_str(j, "host", r->host);
		} else {
			json_null(j, "nat");
			json_null(j, "host");
		}
		json_int(j, "created", r->created);
		if (r->updated)
			json_int(j, "last_seen", r->updated);
		else
			json_null(j, "last_seen");
		if (r->kind == CY_KIND_GN) {
			json_str(j, "adapter", r->adapter);
			json_str(j, "mac", r->mac);
		}
		json_str(j, "tags", r->tags);
		json_obj_end(j);
	}
	json_arr_end(j);
}
