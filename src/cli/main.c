/* cyphonic: the admin CLI.  A table of subcommands, one file each. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"

static int cmd_help(int argc, char **argv);

static const struct cli_cmd cli_cmds[] = {
	{ "init", cmd_init,
	  "--dir DIR --domain DOMAIN --cloud ADDR[,ADDR]... [--vip4 CIDR] [--vip6 CIDR] "
	  "[--store URL]",
	  "create a cloud in DIR: CA, AS certificate, store (or a PostgreSQL one), cloud.conf" },
	{ "node", cmd_node, "add NAME --dir DIR [--password PW] [--tag TAG]... [--cert-days N]",
	  "enrol NAME.DOMAIN, allocate its VIPs, write DIR/nodes/NAME.conf" },
	{ "adapter", cmd_adapter,
	  "add NAME --dir DIR --lan IFACE [--password PW] [--tag TAG]... [--cert-days N]",
	  "enrol adapter NAME.DOMAIN serving general nodes on IFACE; writes its config" },
	{ "gn", cmd_gn, "add NAME --dir DIR --adapter ADAPTER --mac MAC [--tag TAG]...",
	  "enrol general node NAME.DOMAIN with MAC behind ADAPTER, allocate its VIPs" },
	{ "revoke", cmd_revoke, "NAME --dir DIR [--reason TEXT]",
	  "revoke a node, adapter (and its general nodes) or general node" },
	{ "tag", cmd_tag, "NAME [TAG]... --dir DIR",
	  "set the access-policy tags of a node, adapter or general node (none: clear)" },
	{ "policy", cmd_policy, "check FILE | test FROM TO [PROTO[/PORT]] --dir DIR",
	  "validate an access policy; say whether it allows FROM to reach TO, and which line" },
	{ "ca", cmd_ca, "status|roll|switch|finish --dir DIR",
	  "show the cloud's CAs; roll to a new CA with both trusted side by side" },
	{ "admin", cmd_admin, "add|remove NAME --dir DIR",
	  "add (or set the password of) or remove a web console account; the password is read "
	  "from standard input" },
	{ "list", cmd_list, "--dir DIR [--json]",
	  "list every node, adapter and general node with its VIPs and registration" },
	{ "status", cmd_status, "-c NODE.conf [--json]",
	  "ask a running cyphonicd for its status" },
	{ "ping", cmd_ping, "NAME -c NODE.conf [-n COUNT] [-i MS] [--json]",
	  "ping NAME through the overlay: path, endpoint, RTT min/avg/max" },
	{ "stats", cmd_stats, "--dir DIR [--json]",
	  "ask a running cyphonic-cloud for its counters" },
	{ "help", cmd_help, "", "show this text" },
};

#define CLI_NCMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

static void usage_all(FILE *f)
{
	size_t i;

	fprintf(f, "usage: cyphonic COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < CLI_NCMDS; i++) {
		fprintf(f, "  cyphonic %s%s%s\n", cli_cmds[i].name, cli_cmds[i].args[0] ? " " : "",
			cli_cmds[i].args);
		fprintf(f, "      %s\n", cli_cmds[i].help);
	}
	fprintf(f, "\nexit status: 0 done, 1 failed, 2 usage error\n");
}

int cli_usage(const char *cmd)
{
	size_t i;

	for (i = 0; i < CLI_NCMDS; i++)
		if (!strcmp(cli_cmds[i].name, cmd)) {
			fprintf(stderr, "usage: cyphonic %s %s\n       %s\n", cmd, cli_cmds[i].args,
				cli_cmds[i].help);
			return CLI_USAGE;
		}
	usage_all(stderr);
	return CLI_USAGE;
}

static int cmd_help(int argc, char **argv)
{
	usage_all(stdout);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	const char *name;
	size_t i;

	log_init("cyphonic", LOG_LVL_WARN);
	if (argc < 2) {
		usage_all(stderr);
		return CLI_USAGE;
	}
	name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		return cmd_help(argc - 1, argv + 1);
	if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
		printf("cyphonic %s\n", CYPHONIC_VERSION);
		return CLI_OK;
	}
	for (i = 0; i < CLI_NCMDS; i++)
		if (!strcmp(cli_cmds[i].name, name)) {
			/* each command parses its own options from argv[1] on */
			optind = 0;
			return cli_cmds[i].run(argc - 1, argv + 1);
		}
	cli_fail("unknown command '%s' (try 'cyphonic help')", name);
	return CLI_USAGE;
}
