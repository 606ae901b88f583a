/* The `cyphonic` admin CLI: a table of subcommands (main.c), one file
 * each (cmd_*.c), and the helpers they share (cli.c).
 *
 * A command returns the process exit status: 0 done, 1 failed (one line
 * on stderr saying why), 2 usage error. */
#ifndef CY_CLI_H
#define CY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud_conf.h"
#include "store.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);   /* argv[0] is the command name */
	const char *args;
	const char *help;
};

int cmd_init(int argc, char **argv);
int cmd_node(int argc, char **argv);
int cmd_adapter(int argc, char **argv);
int cmd_gn(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_ca(int argc, char **argv);
int cmd_admin(int argc, char **argv);

/* `node add` and `adapter add` (cmd_node.c): argv[0] is "add"; kind
 * CY_KIND_NODE or CY_KIND_ADAPTER (which also takes --lan IFACE). */
int cli_enrol_cmd(int argc, char **argv, enum cy_kind kind);


/* "cyphonic: <message>" on stderr; returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "usage: cyphonic <cmd> <args>" on stderr; returns CLI_USAGE. */
int cli_usage(const char *cmd);
/* The options of the commands that ask for one thing and print it (list,
 * stats, status): "--NAME VALUE [--json]", NAME also -short_opt unless
 * that is 0.  0 with *val and *json set, or cli_usage(cmd) for anything
 * else or a missing --NAME. */
int cli_opts_json(int argc, char **argv, const char *cmd, const char *name, char short_opt,
		  const char **val, bool *json);

/* Load DIR/cloud.conf; on failure prints why and returns -1. */
int cli_cloud_conf(const char *dir, struct cloud_conf *c);
/* Open the store named by cloud.conf; on failure prints why, -1. */
int cli_store_open(const struct cloud_conf *c, struct store **st);

/* Write text to path through a temporary file and rename(), mode as
 * given; 0 or -errno. */
int cli_write_file(const char *path, const char *text, unsigned mode);

/* Send req to the control socket sock of a daemon (what: "cyphonicd
 * for x.example.test", for messages); *reply is a heap NUL-terminated
 * text.  On failure prints why (not running, refused) and returns
 * CLI_FAIL. */
int cli_query(const char *sock, const char *what, const char *req, char **reply);
/* cli_query() and print the JSON reply: as it comes with json (ending in
 * a newline), else through print(), whose result is returned. */
int cli_query_print(const char *sock, const char *what, const char *req, bool json,
		    int (*print)(const char *reply));

/* The rest of a `cyphonic CMD` whose one subcommand is add, for argv[1]
 * anything else: usage for none or help, else says it is unknown, then
 * usage.  Returns CLI_USAGE. */
int cli_subcmd_other(const char *cmd, int argc, char **argv);

/* Tell the running cyphonic-cloud of c (its control socket) that nodes
 * changed: it checks its tunnels again at once (revoked, tags).  Quiet
 * when no cloud runs here: it checks every few seconds anyway. */
void cli_cloud_authz(const struct cloud_conf *c);

/* --tag TAG: TAG added to tags (STORE_TAGS_MAX + 1 bytes, "a,b"), checked
 * (policy_tags_check).  0, or CLI_FAIL saying why. */
int cli_tag_add(char *tags, const char *tag);

#endif
