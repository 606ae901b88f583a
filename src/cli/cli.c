#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	size_t len = strlen(text), off = 0;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, (mode_t)mode) < 0)
		rc = -errno;
	while (!rc && off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else
			off += (size_t)n;
	}
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
