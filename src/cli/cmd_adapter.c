/* cyphonic adapter add NAME --dir DIR --lan IFACE [--password PW]
 *
 * Enrols an adapter: the same as `node add` (cmd_node.c does the work),
 * with kind adapter in the store and an [adapter] section (lan = IFACE)
 * in DIR/nodes/NAME.conf, which makes cyphonicd serve general nodes on
 * IFACE.  General nodes behind it are enrolled with `cyphonic gn add`. */
#include <string.h>

#include "cli.h"

int cmd_adapter(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("adapter");
	if (!strcmp(argv[1], "add"))
		return cli_enrol_cmd(argc - 1, argv + 1, CY_KIND_ADAPTER);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return cli_usage("adapter");
	cli_fail("adapter: unknown subcommand '%s'", argv[1]);
	return cli_usage("adapter");
}
