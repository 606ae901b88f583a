/* cyphonic revoke NAME --dir DIR [--reason TEXT]
 *
 * Marks the node, adapter or general node revoked (its name and VIPs stay
 * reserved) and deletes its common keys and registration, so its next
 * login is refused and signaling with its current key stops at once; the
 * running cloud is told, and tears its tunnels down (both ends drop the
 * keys).
 * Revoking an adapter revokes its general nodes too: they exist only
 * through it, and the keys it obtained for them must stop working now,
 * not when they expire. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cli.h"

static void revoke_said(void *arg, const char *fqdn, const char *reason)
{
	printf("%s revoked: %s\n", fqdn, reason);
}

int cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *reason = NULL;
	struct cloud_conf c;
	struct store *st;
	char err[512];
	bool already;
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
	if (cli_cloud_conf(dir, &c) < 0 || cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	rc = admin_revoke(st, &c, argv[optind], reason, &already, revoke_said, NULL, err,
			  sizeof(err));
	store_close(st);
	if (rc < 0)
		return cli_fail("%s", err);
	if (already)
		printf("%s.%s was already revoked (%s)\n", argv[optind], c.domain, err);
	/* Its tunnels end now, not at its next login (docs/policy.md). */
	cli_cloud_authz(&c);
	return CLI_OK;
}
