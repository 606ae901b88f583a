/* cyphonic list --dir DIR [--json]
 *
 * Every enrolled node, adapter and general node with its virtual IPs and
 * what the NMS currently knows of it.  JSON: an array of objects with
 * exactly the keys name, fqdn, kind ("node", "adapter" or "gn"), vip4,
 * vip6, revoked, reason (why, null unless revoked), registered, observed,
 * nat, host (the cloud host it is registered on; observed, nat and host
 * are null while not registered), created, last_seen (unix seconds of its
 * last registration, null if none is kept), tags; general nodes add
 * adapter (its name) and mac.  The rows are src/admin's (admin_list). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cli.h"
#include "clock.h"
#include "json.h"

static int list_json(const struct admin_row *rows, size_t n)
{
	size_t cap = admin_list_json_cap(n);
	char *buf = malloc(cap);
	struct json j;

	if (!buf)
		return cli_fail("out of memory");
	json_init(&j, buf, cap);
	admin_list_json(&j, NULL, rows, n);
	if (json_finish(&j) < 0) {
		free(buf);
		return cli_fail("internal error: list output too large");
	}
	printf("%s\n", buf);
	free(buf);
	return CLI_OK;
}

static int list_table(const struct admin_row *rows, size_t n)
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
		for (r = 0; r <= n; r++) {
			const struct admin_row *x = r ? &rows[r - 1] : NULL;

			if (!x) {
				if (!pass)
					continue;
				memcpy(cell, head, sizeof(cell));
			} else {
				cell[0] = x->name;
				cell[1] = x->fqdn;
				cell[2] = admin_kind_str(x->kind);
				cell[3] = x->vip4;
				cell[4] = x->vip6;
				cell[5] = x->revoked ? "revoked"
					  : x->registered ? "registered" : "-";
				cell[6] = x->registered ? x->host : "-";
				cell[7] = x->registered && x->observed[0] ? x->observed : "-";
				cell[8] = x->registered ? (x->nat ? "yes" : "no") : "-";
				cell[9] = x->kind == CY_KIND_GN ? x->adapter : "-";
				cell[10] = x->kind == CY_KIND_GN ? x->mac : "-";
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
	if (!n)
		printf("(no nodes)\n");
	return CLI_OK;
}

int cmd_list(int argc, char **argv)
{
	struct admin_row *rows = NULL;
	struct store *st;
	const char *dir;
	struct cloud_conf c;
	size_t n = 0;
	bool json;
	int rc;

	rc = cli_opts_json(argc, argv, "list", "dir", 0, &dir, &json);
	if (rc)
		return rc;
	if (cli_cloud_conf(dir, &c) < 0 || cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	rc = admin_list(st, clock_now(), &rows, &n);
	store_close(st);
	if (rc < 0)
		rc = cli_fail("store: cannot list nodes: %s", strerror(-rc));
	else
		rc = json ? list_json(rows, n) : list_table(rows, n);
	free(rows);
	return rc;
}
