/* cyphonic tag NAME [TAG]... --dir DIR
 *
 * Replaces the access-policy tags (docs/policy.md) of a node, adapter or
 * general node with the TAGs given (none: clears them).  The NMS reads
 * them at each route selection: the next one follows; the running cloud
 * is told to check its tunnels (a tag taken away may end some). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_tag(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char tags[STORE_TAGS_MAX + 1] = "";
	const char *dir = NULL, *name;
	struct cloud_conf c;
	struct store *st = NULL;
	struct store_node n;
	int opt, rc = CLI_FAIL, err;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt != 'd')
			return cli_usage("tag");
		dir = optarg;
	}
	/* getopt moved the name and the tags after the options. */
	if (optind >= argc || !dir)
		return cli_usage("tag");
	name = argv[optind++];
	for (; optind < argc; optind++)
		if (cli_tag_add(tags, argv[optind]))
			return CLI_FAIL;
	if (cli_cloud_conf(dir, &c) < 0 || cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	err = store_node_by_name(st, name, &n);
	if (err == -ENOENT) {
		cli_fail("%s: no such node, adapter or general node", name);
		goto out;
	}
	if (err < 0 || (err = store_node_set_tags(st, n.id, tags)) < 0) {
		cli_fail("store: %s", strerror(-err));
		goto out;
	}
	printf("%s tags %s\n", n.fqdn, tags[0] ? tags : "(none)");
	cli_cloud_authz(&c);
	rc = CLI_OK;
out:
	store_close(st);
	return rc;
}
