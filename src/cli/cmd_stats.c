/* cyphonic stats --dir DIR [--json]
 *
 * Asks the running cyphonic-cloud of DIR/cloud.conf for its counters
 * ("stats" on its control socket).  --json prints the reply as it comes;
 * otherwise one "path: value" line per value ("nms.registrations: 2"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
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

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	struct cloud_conf c;
	char what[CY_FQDN_MAX + 32], *reply;
	bool json = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'j': json = true; break;
		default: return cli_usage("stats");
		}
	}
	if (optind != argc || !dir)
		return cli_usage("stats");
	if (cli_cloud_conf(dir, &c) < 0)
		return CLI_FAIL;
	if (!c.control[0])
		return cli_fail("%s/cloud.conf names no control socket ([cloud] control)", dir);
	snprintf(what, sizeof(what), "cyphonic-cloud for %s", c.domain);
	rc = cli_query(c.control, what, "stats", &reply);
	if (rc)
		return rc;
	if (json) {
		size_t n = strlen(reply);
		fputs(reply, stdout);
		if (!n || reply[n - 1] != '\n')
			fputc('\n', stdout);
		rc = CLI_OK;
	} else if (jsonread_walk(reply, stats_line, NULL) < 0) {
		rc = cli_fail("the cloud's reply is not valid JSON: %.80s", reply);
	} else {
		rc = CLI_OK;
	}
	free(reply);
	return rc;
}
