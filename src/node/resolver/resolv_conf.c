#include "resolv_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

#define MARKER "# written by cyphonicd; the original is saved in "
#define SAVE_SUFFIX ".cyphonic-save"
#define TMP_SUFFIX ".cyphonic-tmp"

struct resolv_conf_saved {
	char *path;
	char *content;           /* the original file */
	size_t len;
	char *link;              /* or the original symlink's target */
};

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* One "nameserver ADDR[%scope]" token into a port-53 address. */
static bool ns_parse(const char *tok, size_t n, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char *pct;

	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, tok, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(53);
		return true;
	}
	pct = strchr(host, '%');
	if (pct)
		*pct++ = '\0';
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return false;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(53);
	if (pct) {
		sin6->sin6_scope_id = if_nametoindex(pct);
		if (!sin6->sin6_scope_id)
			return false;
	}
	return true;
}

size_t resolv_conf_parse(const char *text, size_t len, struct sockaddr_storage *ns, size_t max)
{
	static const char kw[] = "nameserver";
	size_t pos = 0, n = 0;

	while (pos < len && n < max) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos, i, start;

		pos += ll + (nl ? 1 : 0);
		if (ll <= sizeof(kw) - 1 || memcmp(line, kw, sizeof(kw) - 1) != 0 ||
		    !is_space(line[sizeof(kw) - 1]))
			continue;
		for (i = sizeof(kw) - 1; i < ll && is_space(line[i]); i++)
			;
		for (start = i; i < ll && !is_space(line[i]) && line[i] != '#' && line[i] != ';';
		     i++)
			;
		if (ns_parse(line + start, i - start, &ns[n]))
			n++;
	}
	return n;
}

/* The whole file, NUL-terminated, at most RESOLV_CONF_MAX_SIZE. */
static int slurp(const char *path, char **out, size_t *outlen)
{
	char *buf;
	size_t n = 0;
	ssize_t k;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(RESOLV_CONF_MAX_SIZE + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (n < RESOLV_CONF_MAX_SIZE) {
		k = read(fd, buf + n, RESOLV_CONF_MAX_SIZE - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			err = -errno;
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

int resolv_conf_read(const char *path, struct sockaddr_storage *ns, size_t max)
{
	char *text;
	size_t len, n;
	int err;

	err = slurp(path, &text, &len);
	if (err < 0)
		return err;
	n = resolv_conf_parse(text, len, ns, max);
	free(text);
	return (int)n;
}

static char *path_with(const char *path, const char *suffix)
{
	char *p;

	if (asprintf(&p, "%s%s", path, suffix) < 0)
		return NULL;
	return p;
}

/* Write content to path through a temporary file and rename(), so readers
 * never see half a file.  rename() replaces a symlink itself, not its target. */
static int write_atomic(const char *path, const char *content, size_t len)
{
	char *tmp = path_with(path, TMP_SUFFIX);
	size_t off = 0;
	int fd, err = 0;

	if (!tmp)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t k = write(fd, content + off, len - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			err = -errno;
			break;
		}
		off += (size_t)k;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
out:
	free(tmp);
	return err;
}

static int symlink_atomic(const char *target, const char *path)
{
	char *tmp = path_with(path, TMP_SUFFIX);
	int err = 0;

	if (!tmp)
		return -ENOMEM;
	unlink(tmp);
	if (symlink(target, tmp) < 0 || rename(tmp, path) < 0) {
		err = -errno;
		unlink(tmp);
	}
	free(tmp);
	return err;
}

static bool ours(const char *content, size_t len)
{
	return len >= sizeof(MARKER) - 1 && memcmp(content, MARKER, sizeof(MARKER) - 1) == 0;
}

/* Our file: the marker, our nameserver, and the original's search, domain
 * and options lines. */
static char *compose(const struct resolv_conf_saved *s, const char *save_path,
		     const struct sockaddr *listen)
{
	char ip[ADDR_STR_MAX];
	char *out = NULL;
	size_t cap = 0, pos = 0;
	FILE *f = open_memstream(&out, &cap);

	if (!f)
		return NULL;
	fprintf(f, "%s%s\nnameserver %s\n", MARKER, save_path, addr_ip_str(listen, ip));
	while (pos < s->len) {
		const char *line = s->content + pos;
		const char *nl = memchr(line, '\n', s->len - pos);
		size_t ll = nl ? (size_t)(nl - line) : s->len - pos;

		pos += ll + (nl ? 1 : 0);
		if ((ll > 7 && memcmp(line, "search", 6) == 0 && is_space(line[6])) ||
		    (ll > 7 && memcmp(line, "domain", 6) == 0 && is_space(line[6])) ||
		    (ll > 8 && memcmp(line, "options", 7) == 0 && is_space(line[7])))
			fprintf(f, "%.*s\n", (int)ll, line);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static void saved_free(struct resolv_conf_saved *s)
{
	if (!s)
		return;
	free(s->path);
	free(s->content);
	free(s->link);
	free(s);
}

int resolv_conf_install(const char *path, const struct sockaddr *listen,
			struct sockaddr_storage *ns, size_t max_ns, size_t *n_ns,
			struct resolv_conf_saved **saved)
{
	struct resolv_conf_saved *s;
	char *save_path = NULL, *mine = NULL, linkbuf[PATH_MAX];
	struct stat st;
	ssize_t ll;
	int err;

	*saved = NULL;
	*n_ns = 0;
	if (addr_port(listen) != 53) {
		log_warnx("resolv.conf can only name port 53");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->path = strdup(path);
	save_path = path_with(path, SAVE_SUFFIX);
	if (!s->path || !save_path) {
		err = -ENOMEM;
		goto out;
	}
	err = slurp(path, &s->content, &s->len);
	if (err < 0)
		goto out;
	if (ours(s->content, s->len)) {
		/* We died without restoring: the original is in the save file. */
		free(s->content);
		s->content = NULL;
		err = slurp(save_path, &s->content, &s->len);
		if (err < 0) {
			log_warnx("%s is ours but %s is missing", path, save_path);
			goto out;
		}
		log_info("%s: recovered the original from %s", path, save_path);
	} else {
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
			ll = readlink(path, linkbuf, sizeof(linkbuf) - 1);
			if (ll < 0) {
				err = -errno;
				goto out;
			}
			linkbuf[ll] = '\0';
			s->link = strdup(linkbuf);
			if (!s->link) {
				err = -ENOMEM;
				goto out;
			}
		}
		err = write_atomic(save_path, s->content, s->len);
		if (err < 0)
			goto out;
	}
	*n_ns = resolv_conf_parse(s->content, s->len, ns, max_ns);
	mine = compose(s, save_path, listen);
	if (!mine) {
		err = -ENOMEM;
		goto out;
	}
	err = write_atomic(path, mine, strlen(mine));
	if (err < 0)
		goto out;
	*saved = s;
	s = NULL;
out:
	if (err < 0)
		log_msg(LOG_LVL_WARN, false, "installing %s: %s", path, strerror(-err));
	free(mine);
	free(save_path);
	saved_free(s);
	return err;
}

int resolv_conf_restore(struct resolv_conf_saved *s)
{
	char *cur = NULL, *save_path;
	size_t len;
	int err;

	if (!s)
		return 0;
	save_path = path_with(s->path, SAVE_SUFFIX);
	if (!save_path) {
		saved_free(s);
		return -ENOMEM;
	}
	err = slurp(s->path, &cur, &len);
	if (err == 0 && !ours(cur, len)) {
		/* Someone (a DHCP client, the admin) wrote it since: theirs wins. */
		log_warnx("%s was rewritten by someone else; leaving it", s->path);
		err = -EBUSY;
	} else if (s->link) {
		err = symlink_atomic(s->link, s->path);
	} else {
		err = write_atomic(s->path, s->content, s->len);
	}
	if (err == 0 || err == -EBUSY)
		unlink(save_path);
	free(cur);
	free(save_path);
	saved_free(s);
	return err;
}
