/* cyphonic admin add NAME --dir DIR
 * cyphonic admin remove NAME --dir DIR
 *
 * Accounts of the web console (docs/console.md).  add reads the password
 * from standard input, one line (asking for it, not echoed, on a
 * terminal), so it never shows in a process list or a shell history;
 * adding a name that has an account sets a new password.  remove ends
 * the account: its next request is refused (sessions are checked
 * against the store). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "admin.h"
#include "aead.h"
#include "cli.h"

#define ADMIN_PW_LINE 256

/* One line of stdin into pw, without its newline; prompt and no echo on
 * a terminal.  0 or -1. */
static int admin_read_password(char pw[ADMIN_PW_LINE])
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	bool got;

	if (tty) {
		fputs("password: ", stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	got = fgets(pw, ADMIN_PW_LINE, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!got)
		return -1;
	pw[strcspn(pw, "\r\n")] = '\0';
	return 0;
}

int cmd_admin(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *sub, *name;
	char pw[ADMIN_PW_LINE], err[512];
	struct cloud_conf c;
	struct store *st;
	int opt, rc;

	if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "remove")))
		return cli_subcmd_other("admin", argc, argv);
	sub = argv[1];
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt != 'd')
			return cli_usage("admin");
		dir = optarg;
	}
	if (optind != argc - 1 || !dir)
		return cli_usage("admin");
	name = argv[optind];
	if (cli_cloud_conf(dir, &c) < 0 || cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	if (!strcmp(sub, "remove")) {
		rc = admin_account_remove(st, name);
		store_close(st);
		if (rc == -ENOENT)
			return cli_fail("no console account named '%s'", name);
		if (rc < 0)
			return cli_fail("store: cannot remove the account %s", name);
		printf("console account %s removed\n", name);
		return CLI_OK;
	}
	if (admin_read_password(pw) < 0) {
		store_close(st);
		return cli_fail("no password on standard input");
	}
	rc = admin_account_set(st, name, pw, err, sizeof(err));
	cy_wipe(pw, sizeof(pw));
	store_close(st);
	if (rc < 0)
		return cli_fail("%s", err);
	printf("console account %s set\n", name);
	return CLI_OK;
}
