#include "ctrfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define CTRFILE_MAX 32

/* fsync the directory holding path. */
static int ctrfile_sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -ENAMETOOLONG;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int ctrfile_reserve(void *path, uint64_t at_least, uint64_t block, uint64_t *start)
{
	char buf[CTRFILE_MAX + 1], *end;
	uint64_t mark = 0, from;
	ssize_t n;
	int fd, rc = 0;

	if (!block)
		return -EINVAL;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* new: its directory entry must reach the disk too */
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 && (rc = ctrfile_sync_dir(path)) < 0)
			goto out;
		if (fd < 0 && errno == EEXIST)   /* another process made it meanwhile */
			fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		rc = -errno;
		goto out;
	}
	n = pread(fd, buf, CTRFILE_MAX, 0);
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	buf[n] = '\0';
	if (n > 0) {
		errno = 0;
		mark = strtoull(buf, &end, 10);
		if (errno || end == buf || (*end && *end != '\n')) {
			rc = -EINVAL;
			goto out;
		}
	}
	from = mark > at_least ? mark : at_least;
	if (from > UINT64_MAX - block) {
		rc = -EINVAL;
		goto out;
	}
	/* The mark only grows, so the new text is never shorter than the old:
	 * overwrite in place (no moment with an empty file), then trim. */
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", from + block);
	errno = 0;   /* a short write sets none */
	if (pwrite(fd, buf, (size_t)n, 0) != n || ftruncate(fd, n) < 0 || fsync(fd) < 0) {
		rc = errno ? -errno : -EIO;
		goto out;
	}
	*start = from;
out:
	close(fd);   /* drops the lock */
	return rc;
}
