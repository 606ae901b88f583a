/* The access policy's file, read and replaced whole (the console's
 * editor).  The NMS notices the change within a second (nms_policy.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "admin_impl.h"
#include "conf.h"
#include "policy.h"

int admin_policy_get(const struct cloud_conf *c, char **text, size_t *len, char *err,
		     size_t errlen)
{
	FILE *f;
	char *buf = NULL;
	size_t n = 0;

	*text = NULL;
	*len = 0;
	if (!c->policy[0])
		return admin_err(err, errlen, -ENOENT, "cloud.conf names no [nms] policy file");
	f = fopen(c->policy, "r");
	if (!f && errno == ENOENT)
		return 0;   /* no file: every pair allowed */
	if (!f)
		return admin_err(err, errlen, -EIO, "%s: %s", c->policy, strerror(errno));
	buf = malloc(ADMIN_POLICY_MAX + 1);
	if (buf)
		n = fread(buf, 1, ADMIN_POLICY_MAX + 1, f);
	if (!buf || ferror(f) || n > ADMIN_POLICY_MAX) {
		fclose(f);
		free(buf);
		return admin_err(err, errlen, -EIO, "%s: cannot read it (or over %d bytes)",
				 c->policy, ADMIN_POLICY_MAX);
	}
	fclose(f);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

int admin_policy_set(const struct cloud_conf *c, const char *text, size_t len, unsigned *line,
		     char *err, size_t errlen)
{
	char tmp[CLOUD_PATH_MAX + 16];
	struct policy *p = NULL;
	int fd, rc;

	*line = 0;
	if (!c->policy[0])
		return admin_err(err, errlen, -ENOENT, "cloud.conf names no [nms] policy file");
	if (len > ADMIN_POLICY_MAX)
		return admin_err(err, errlen, -EINVAL, "the policy is over %d bytes",
				 ADMIN_POLICY_MAX);
	if (policy_parse(text, len, "policy", &p, err, errlen) < 0) {
		const char *colon = strchr(err, ':');

		if (colon)
			*line = (unsigned)strtoul(colon + 1, NULL, 10);
		return -EINVAL;
	}
	policy_free(p);
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", c->policy) >= (int)sizeof(tmp))
		return admin_err(err, errlen, -EIO, "%s: path too long", c->policy);
	fd = mkstemp(tmp);
	if (fd < 0)
		return admin_err(err, errlen, -EIO, "%s: %s", tmp, strerror(errno));
	rc = fchmod(fd, 0644) < 0 ? -errno : conf_write_all(fd, text, len);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, c->policy) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return admin_err(err, errlen, -EIO, "%s: %s", c->policy, strerror(-rc));
	}
	return 0;
}
