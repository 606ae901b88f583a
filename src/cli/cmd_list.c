/* cyphonic list --dir DIR [--json]
 *
 * Every enrolled node, adapter and general node with its virtual IPs and
 * what the NMS currently knows of it.  JSON: an array of objects with
 * exactly the keys name, fqdn, kind ("node", "adapter" or "gn"), vip4,
 * vip6, revoked, registered, observed, nat, host (the cloud host it is
 * registered on; observed, nat and host are null while not registered),
 * tags; general nodes add adapter (its name) and mac. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli.h"
#include "clock.h"
#include "json.h"

struct list_row {
	char name[CY_NAME_MAX + 1];
	char fqdn[CY_FQDN_MAX + 1];
	const char *kind;
	char vip4[INET_ADDRSTRLEN];
	char vip6[INET6_ADDRSTRLEN];
	bool revoked, registered, nat;
	char observed[ADDR_STR_MAX];
	char host[STORE_HOST_MAX + 1];
	bool gn;
	char adapter[CY_NAME_MAX + 1];       /* general nodes: the adapter's name */
	char mac[18];
	char tags[STORE_TAGS_MAX + 1];
};

struct list_ctx {
	struct store *st;
	int64_t now;
	struct list_row *rows;
	size_t n, cap;
	int err;
};

static const char *list_kind(enum cy_kind k)
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
	struct list_row *r;
	struct store_reg reg;

	if (ctx->n == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 32;
		struct list_row *rows = realloc(ctx->rows, cap * sizeof(*rows));
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
	r->kind = list_kind(n->kind);
	inet_ntop(AF_INET, n->vip4, r->vip4, sizeof(r->vip4));
	inet_ntop(AF_INET6, n->vip6, r->vip6, sizeof(r->vip6));
	r->revoked = n->revoked;
	strcpy(r->tags, n->tags);
	if (n->kind == CY_KIND_GN) {
		struct store_node ad;

		r->gn = true;
		cy_mac_str(n->mac, r->mac);
		if (store_node_by_id(ctx->st, n->adapter_id, &ad) == 0)
			strcpy(r->adapter, ad.name);
		else
			strcpy(r->adapter, "?");
	}
	/* registered: a row the NMS has not let expire yet */
	if (store_reg_get(ctx->st, n->id, &reg) == 0 && reg.expires > ctx->now) {
		r->registered = true;
		r->nat = reg.nat;
		snprintf(r->host, sizeof(r->host), "%s", reg.host[0] ? reg.host : "?");
		if (reg.observed.ss_family == AF_INET || reg.observed.ss_family == AF_INET6)
			addr_str((const struct sockaddr *)&reg.observed, r->observed);
	}
	return 0;
}

static int list_json(const struct list_ctx *ctx)
{
	size_t cap = 256 + ctx->n * 1536, i;
	char *buf = malloc(cap);
	struct json j;

	if (!buf)
		return cli_fail("out of memory");
	json_init(&j, buf, cap);
	json_arr_begin(&j, NULL);
	for (i = 0; i < ctx->n; i++) {
		const struct list_row *r = &ctx->rows[i];
		json_obj_begin(&j, NULL);
		json_str(&j, "name", r->name);
		json_str(&j, "fqdn", r->fqdn);
		json_str(&j, "kind", r->kind);
		json_str(&j, "vip4", r->vip4);
		json_str(&j, "vip6", r->vip6);
		json_bool(&j, "revoked", r->revoked);
		json_bool(&j, "registered", r->registered);
		if (r->registered && r->observed[0])
			json_str(&j, "observed", r->observed);
		else
			json_null(&j, "observed");
		if (r->registered) {
			json_bool(&j, "nat", r->nat);
			json_str(&j, "host", r->host);
		} else {
			json_null(&j, "nat");
			json_null(&j, "host");
		}
		if (r->gn) {
			json_str(&j, "adapter", r->adapter);
			json_str(&j, "mac", r->mac);
		}
		json_str(&j, "tags", r->tags);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	if (json_finish(&j) < 0) {
		free(buf);
		return cli_fail("internal error: list output too large");
	}
	printf("%s\n", buf);
	free(buf);
	return CLI_OK;
}

static int list_table(const struct list_ctx *ctx)
{
	static const char *const head[] = { "NAME", "FQDN", "KIND", "VIP4", "VIP6", "STATE",
					    "HOST", "OBSERVED", "NAT", "ADAPTER", "MAC", "TAGS" };
	enum { NCOL = sizeof(head) / sizeof(head[0]) };
	const char *cell[NCOL];
	int w[NCOL], i;
	size_t r;

	for (i = 0; i < NCOL; i++)
		w[i] = (int)strlen(head[i]);
	/* two passes: widths, then rows (the header row is printed first) */
	for (int pass = 0; pass < 2; pass++) {
		for (r = 0; r <= ctx->n; r++) {
			const struct list_row *x = r ? &ctx->rows[r - 1] : NULL;

			if (!x) {
				if (!pass)
					continue;
				memcpy(cell, head, sizeof(cell));
			} else {
				cell[0] = x->name;
				cell[1] = x->fqdn;
				cell[2] = x->kind;
				cell[3] = x->vip4;
				cell[4] = x->vip6;
				cell[5] = x->revoked ? "revoked"
					  : x->registered ? "registered" : "-";
				cell[6] = x->registered ? x->host : "-";
				cell[7] = x->registered && x->observed[0] ? x->observed : "-";
				cell[8] = x->registered ? (x->nat ? "yes" : "no") : "-";
				cell[9] = x->gn ? x->adapter : "-";
				cell[10] = x->gn ? x->mac : "-";
				cell[11] = x->tags[0] ? x->tags : "-";
			}
			if (!pass) {
				for (i = 0; i < NCOL; i++)
					if ((int)strlen(cell[i]) > w[i])
						w[i] = (int)strlen(cell[i]);
				continue;
			}
			for (i = 0; i < NCOL - 1; i++)
				printf("%-*s  ", w[i], cell[i]);
			printf("%s\n", cell[NCOL - 1]);
		}
	}
	if (!ctx->n)
		printf("(no nodes)\n");
	return CLI_OK;
}

int cmd_list(int argc, char **argv)
{
	struct list_ctx ctx = { 0 };
	const char *dir;
	struct cloud_conf c;
	bool json;
	int rc;

	rc = cli_opts_json(argc, argv, "list", "dir", 0, &dir, &json);
	if (rc)
		return rc;
	if (cli_cloud_conf(dir, &c) < 0 || cli_store_open(&c, &ctx.st) < 0)
		return CLI_FAIL;
	ctx.now = clock_now();
	rc = store_node_foreach(ctx.st, -1, list_collect, &ctx);
	store_close(ctx.st);
	if (rc == 0)
		rc = ctx.err;
	if (rc < 0)
		rc = cli_fail("store: cannot list nodes: %s", strerror(-rc));
	else
		rc = json ? list_json(&ctx) : list_table(&ctx);
	free(ctx.rows);
	return rc;
}
