#include "cli.h"
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"

#define CLI_QUERY_TIMEOUT_MS 5000

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("cyphonic: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

int cli_opts_json(int argc, char **argv, const char *cmd, const char *name, char short_opt,
		  const char **val, bool *json)
{
	/* a long-only NAME returns 'v', which is no short option */
	const struct option opts[] = {
		{ name, required_argument, NULL, short_opt ? short_opt : 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char shorts[] = { short_opt, ':', 'h', '\0' };
	int opt;

	*val = NULL;
	*json = false;
	while ((opt = getopt_long(argc, argv, short_opt ? shorts : "h", opts, NULL)) != -1) {
		if (opt == 'j')
			*json = true;
		else if (opt == opts[0].val)
			*val = optarg;
		else
			return cli_usage(cmd);
	}
	if (optind != argc || !*val)
		return cli_usage(cmd);
	return 0;
}

int cli_cloud_conf(const char *dir, struct cloud_conf *c)
{
	char path[CLOUD_PATH_MAX], err[512];

	if (snprintf(path, sizeof(path), "%s/cloud.conf", dir) >= (int)sizeof(path)) {
		cli_fail("%s: path too long", dir);
		return -1;
	}
	if (access(path, F_OK) < 0) {
		cli_fail("%s: %s (is %s a cloud made by 'cyphonic init'?)", path,
			 strerror(errno), dir);
		return -1;
	}
	if (cloud_conf_load(c, path, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
		return -1;
	}
	return 0;
}

int cli_store_open(const struct cloud_conf *c, struct store **st)
{
	char err[512];

	if (store_open(st, c->store, err, sizeof(err)) < 0) {
		cli_fail("store: %s", err);
		return -1;
	}
	return 0;
}

int cli_write_file(const char *path, const char *text, unsigned mode)
{
	char tmp[CLOUD_PATH_MAX + 16];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	rc = fchmod(fd, (mode_t)mode) < 0 ? -errno : conf_write_all(fd, text, strlen(text));
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int cli_query(const char *sock, const char *what, const char *req, char **reply)
{
	ssize_t n;

	*reply = malloc(CONTROL_REPLY_MAX);
	if (!*reply)
		return cli_fail("out of memory");
	n = control_query(sock, req, *reply, CONTROL_REPLY_MAX, CLI_QUERY_TIMEOUT_MS);
	if (n == -ENOENT || n == -ECONNREFUSED) {
		free(*reply);
		*reply = NULL;
		return cli_fail("%s is not running (nothing listens on %s)", what, sock);
	}
	if (n < 0) {
		free(*reply);
		*reply = NULL;
		return cli_fail("%s: %s: %s", what, sock, strerror((int)-n));
	}
	if (!strcmp(*reply, "error\n") || !strcmp(*reply, "error")) {
		free(*reply);
		*reply = NULL;
		return cli_fail("%s refused the request '%s'", what, req);
	}
	return 0;
}

int cli_subcmd_other(const char *cmd, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(cmd);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return cli_usage(cmd);
	cli_fail("%s: unknown subcommand '%s'", cmd, argv[1]);
	return cli_usage(cmd);
}

void cli_cloud_authz(const struct cloud_conf *c)
{
	char reply[64];

	if (c->has_nms && c->control[0])
		control_query(c->control, "authz", reply, sizeof(reply), 2000);
}

int cli_tag_add(char *tags, const char *tag)
{
	char next[STORE_TAGS_MAX + 2], err[128];

	if (snprintf(next, sizeof(next), "%s%s%s", tags, tags[0] ? "," : "", tag) >=
		    (int)sizeof(next) ||
	    policy_tags_check(next, err, sizeof(err)) < 0)
		return cli_fail("--tag %s: %s", tag,
				strlen(next) > STORE_TAGS_MAX ? "too many tags" : err);
	strcpy(tags, next);
	return 0;
}

int cli_query_print(const char *sock, const char *what, const char *req, bool json,
		    int (*print)(const char *reply))
{
	char *reply;
	int rc;

	rc = cli_query(sock, what, req, &reply);
	if (rc)
		return rc;
	if (json) {
		size_t n = strlen(reply);

		fputs(reply, stdout);
		if (!n || reply[n - 1] != '\n')
			fputc('\n', stdout);
		rc = CLI_OK;
	} else {
		rc = print(reply);
	}
	free(reply);
	return rc;
}
