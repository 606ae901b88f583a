/* cyphonic revoke NAME --dir DIR [--reason TEXT]
 *
 * Marks the node revoked (its name and VIPs stay reserved) and deletes
 * its common keys and registration, so its next login is refused and
 * signaling with its current key stops at once. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define REVOKE_DEFAULT_REASON "revoked by the administrator"

int cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *reason = REVOKE_DEFAULT_REASON, *name;
	struct cloud_conf c;
	struct store *st;
	struct store_node n;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'r': reason = optarg; break;
		default: return cli_usage("revoke");
		}
	}
	if (optind != argc - 1 || !dir)
		return cli_usage("revoke");
	name = argv[optind];
	if (!cli_label_ok(name))
		return cli_fail("'%s' is not a valid node name", name);
	if (strlen(reason) > CY_REASON_MAX || strchr(reason, '\n'))
		return cli_fail("--reason: one line of at most %d characters", CY_REASON_MAX);
	if (cli_cloud_conf(dir, &c) < 0 || cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	rc = store_node_by_name(st, name, &n);
	if (rc == 0 && n.revoked) {
		printf("%s was already revoked (%s)\n", n.fqdn, n.revoke_reason);
		store_close(st);
		return CLI_OK;
	}
	if (rc == 0)
		rc = store_node_revoke(st, name, reason);
	store_close(st);
	if (rc == -ENOENT)
		return cli_fail("no node named '%s' in %s", name, c.domain);
	if (rc < 0)
		return cli_fail("store: cannot revoke %s: %s", name, strerror(-rc));
	printf("%s revoked: %s\n", n.fqdn, reason);
	return CLI_OK;
}
