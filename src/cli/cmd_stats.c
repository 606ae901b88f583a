/* cyphonic stats --dir DIR [--json]
 *
 * Asks the running cyphonic-cloud of DIR/cloud.conf for its counters
 * ("stats" on its control socket).  --json prints the reply as it comes;
 * otherwise one "path: value" line per value ("nms.registrations: 2"). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jsonread.h"

static int stats_line(void *arg, const char *path, enum jsonread_type t, const char *v)
{
	if (t == JR_ARRAY)
		printf("%s: %s item%s\n", path[0] ? path : "(top)", v, strcmp(v, "1") ? "s" : "");
	else
		printf("%s: %s\n", path[0] ? path : "(top)", v);
	return 0;
}

static int stats_print(const char *reply)
{
	if (jsonread_walk(reply, stats_line, NULL) < 0)
		return cli_fail("the cloud's reply is not valid JSON: %.80s", reply);
	return CLI_OK;
}

int cmd_stats(int argc, char **argv)
{
	const char *dir;
	struct cloud_conf c;
	char what[CY_FQDN_MAX + 32];
	bool json;
	int rc;

	rc = cli_opts_json(argc, argv, "stats", "dir", 0, &dir, &json);
	if (rc)
		return rc;
	if (cli_cloud_conf(dir, &c) < 0)
		return CLI_FAIL;
	if (!c.control[0])
		return cli_fail("%s/cloud.conf names no control socket ([cloud] control)", dir);
	snprintf(what, sizeof(what), "cyphonic-cloud for %s", c.domain);
	return cli_query_print(c.control, what, "stats", json, stats_print);
}
