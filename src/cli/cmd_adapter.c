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
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return cli_enrol_cmd(argc - 1, argv + 1, CY_KIND_ADAPTER);
	return cli_subcmd_other("adapter", argc, argv);
}
