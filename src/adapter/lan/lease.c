/* The adapter's DHCP lease table and its file (see lease.h). */
#include "lease.h"
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define LEASE_LOAD_WARN_MAX 10

struct lease_table {
	char *path;
	struct lease *v;
	size_t n, cap;
	bool dirty;                      /* changed since the last save */
	int64_t saved_at;                /* the last save's now (0: none yet) */
};

struct lease_table *lease_table_new(const char *path)
{
	struct lease_table *lt = calloc(1, sizeof(*lt));

	if (!lt)
		return NULL;
	if (path && !(lt->path = strdup(path))) {
		free(lt);
		return NULL;
	}
	return lt;
}

void lease_table_free(struct lease_table *lt)
{
	if (!lt)
		return;
	free(lt->path);
	free(lt->v);
	free(lt);
}

static ssize_t lease_idx(const struct lease_table *lt, const uint8_t mac[6], bool v6)
{
	size_t i;

	for (i = 0; i < lt->n; i++)
		if (lt->v[i].v6 == v6 && memcmp(lt->v[i].mac, mac, 6) == 0)
			return (ssize_t)i;
	return -1;
}

const struct lease *lease_get(const struct lease_table *lt, const uint8_t mac[6])
{
	ssize_t i = lease_idx(lt, mac, false);

	return i < 0 ? NULL : &lt->v[i];
}

const struct lease *lease6_get(const struct lease_table *lt, const uint8_t mac[6])
{
	ssize_t i = lease_idx(lt, mac, true);

	return i < 0 ? NULL : &lt->v[i];
}

const struct lease *lease_find_ip(const struct lease_table *lt, uint32_t vip4)
{
	size_t i;

	for (i = 0; i < lt->n; i++)
		if (!lt->v[i].v6 && lt->v[i].vip4 == vip4)
			return &lt->v[i];
	return NULL;
}

/* mac's entry of the family of tmpl (tmpl->v6), created or replaced. */
static int lease_put(struct lease_table *lt, const struct lease *tmpl)
{
	ssize_t i = lease_idx(lt, tmpl->mac, tmpl->v6);

	if (i < 0) {
		if (lt->n == lt->cap) {
			size_t cap = lt->cap ? lt->cap * 2 : 16;
			struct lease *v;

			if (lt->n >= LEASE_MAX)
				return -ENOSPC;
			if (cap > LEASE_MAX)
				cap = LEASE_MAX;
			v = realloc(lt->v, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			lt->v = v;
			lt->cap = cap;
		}
		i = (ssize_t)lt->n++;
	}
	lt->v[i] = *tmpl;
	return 0;
}

int lease_set(struct lease_table *lt, const uint8_t mac[6], uint32_t vip4, int64_t expires,
	      enum lease_state state)
{
	struct lease l = { .vip4 = vip4, .expires = expires, .state = state };

	memcpy(l.mac, mac, 6);
	return lease_put(lt, &l);
}

int lease6_set(struct lease_table *lt, const uint8_t mac[6], const uint8_t vip6[16],
	       int64_t expires, enum lease_state state)
{
	struct lease l = { .v6 = true, .expires = expires, .state = state };

	memcpy(l.mac, mac, 6);
	memcpy(l.vip6, vip6, 16);
	return lease_put(lt, &l);
}

static void lease_del(struct lease_table *lt, size_t i)
{
	lt->v[i] = lt->v[--lt->n];
}

static bool release(struct lease_table *lt, const uint8_t mac[6], bool v6)
{
	ssize_t i = lease_idx(lt, mac, v6);

	if (i < 0)
		return false;
	lease_del(lt, (size_t)i);
	return true;
}

bool lease_release(struct lease_table *lt, const uint8_t mac[6])
{
	return release(lt, mac, false);
}

bool lease6_release(struct lease_table *lt, const uint8_t mac[6])
{
	return release(lt, mac, true);
}

static int64_t left(const struct lease *l, int64_t now)
{
	if (!l || l->state != LEASE_BOUND || l->expires <= now)
		return -1;
	return l->expires - now;
}

int64_t lease_left(const struct lease_table *lt, const uint8_t mac[6], int64_t now)
{
	return left(lease_get(lt, mac), now);
}

int64_t lease6_left(const struct lease_table *lt, const uint8_t mac[6], int64_t now)
{
	return left(lease6_get(lt, mac), now);
}

size_t lease_expire(struct lease_table *lt, int64_t now)
{
	size_t i = 0, n = 0;

	while (i < lt->n) {
		if (lt->v[i].expires <= now) {
			lease_del(lt, i);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

size_t lease_count(const struct lease_table *lt)
{
	return lt->n;
}

void lease_foreach(const struct lease_table *lt, void (*fn)(void *arg, const struct lease *l),
		   void *arg)
{
	size_t i;

	for (i = 0; i < lt->n; i++)
		fn(arg, &lt->v[i]);
}

/* "MAC VIP EXPIRES": exactly three fields, VIP an IPv4 or IPv6 address;
 * into l (a BOUND lease). */
static bool lease_parse_line(char *line, struct lease *l)
{
	char *f[4], *save = NULL, *end;
	struct in_addr a;
	long long e;
	int n = 0;

	memset(l, 0, sizeof(*l));
	for (char *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == 4)
			return false;
		f[n++] = t;
	}
	if (n != 3 || !cy_mac_parse(f[0], l->mac))
		return false;
	if (inet_pton(AF_INET, f[1], &a) == 1)
		l->vip4 = ntohl(a.s_addr);
	else if (inet_pton(AF_INET6, f[1], l->vip6) == 1)
		l->v6 = true;
	else
		return false;
	errno = 0;
	e = strtoll(f[2], &end, 10);
	if (errno || *end || end == f[2] || e < 0)
		return false;
	l->expires = e;
	l->state = LEASE_BOUND;
	return true;
}

/* One line of a lease file (with its '\n', if any), lineno counting from
 * 1.  Returns false when the table is full and the rest is skipped. */
static bool lease_load_line(struct lease_table *lt, const char *name, const char *line,
			    size_t len, unsigned lineno, unsigned *bad, int64_t now)
{
	char buf[256], *s = buf;
	struct lease l;

	if (len > 255 || memchr(line, '\0', len))
		goto bad_line;
	memcpy(buf, line, len);
	buf[len] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0')
		return true;
	if (!lease_parse_line(s, &l))
		goto bad_line;
	if (l.expires <= now)
		return true;    /* expired */
	if (lease_put(lt, &l) < 0) {
		log_warnx("%s:%u: lease table full, rest skipped", name, lineno);
		return false;
	}
	return true;
bad_line:
	/* a damaged file costs a bounded number of log lines */
	if (++*bad <= LEASE_LOAD_WARN_MAX)
		log_warnx("%s:%u: bad lease line, skipped%s", name, lineno,
			  *bad == LEASE_LOAD_WARN_MAX ? " (no more reported)" : "");
	return true;
}

int lease_table_load(struct lease_table *lt, int64_t now)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0, bad = 0;
	FILE *f;
	int r = 0;

	if (!lt->path)
		return 0;
	f = fopen(lt->path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		log_warn("%s: open", lt->path);
		return r;
	}
	while ((len = getline(&line, &cap, f)) >= 0)
		if (!lease_load_line(lt, lt->path, line, (size_t)len, ++lineno, &bad, now))
			break;
	if (ferror(f)) {
		r = -EIO;
		log_warnx("%s: read error", lt->path);
	}
	free(line);
	fclose(f);
	return r;
}

void lease_table_load_buf(struct lease_table *lt, const char *buf, size_t len, int64_t now)
{
	const char *name = lt->path ? lt->path : "(lease text)";
	unsigned lineno = 0, bad = 0;
	size_t off = 0;

	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) + 1 : len - off;

		if (!lease_load_line(lt, name, buf + off, n, ++lineno, &bad, now))
			break;
		off += n;
	}
}

static int lease_fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, r = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

int lease_table_write(const struct lease_table *lt, FILE *f, int64_t now)
{
	char mac[CY_MAC_STR], ip[INET6_ADDRSTRLEN];

	fprintf(f, "# cyphonic adapter DHCP leases: MAC VIP(v4 or v6) EXPIRES(unix s)\n");
	for (size_t i = 0; i < lt->n; i++) {
		const struct lease *l = &lt->v[i];
		struct in_addr a = { .s_addr = htonl(l->vip4) };

		if (l->state != LEASE_BOUND || l->expires <= now)
			continue;
		if (l->v6)
			inet_ntop(AF_INET6, l->vip6, ip, sizeof(ip));
		else
			inet_ntop(AF_INET, &a, ip, sizeof(ip));
		fprintf(f, "%s %s %" PRId64 "\n", cy_mac_str(l->mac, mac), ip, l->expires);
	}
	return ferror(f) ? -EIO : 0;
}

int lease_table_save(struct lease_table *lt, int64_t now)
{
	char tmp[4096];
	FILE *f = NULL;
	int fd = -1, r = 0;

	if (!lt->path)
		return 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", lt->path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		log_warn("%s: create", tmp);
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		log_warn("%s: fdopen", tmp);
		goto out;
	}
	fd = -1;
	lease_table_write(lt, f, now);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		r = -errno;
		log_warn("%s: write", tmp);
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		r = -errno;
		log_warn("%s: close", tmp);
		goto out;
	}
	f = NULL;
	if (rename(tmp, lt->path) < 0) {
		r = -errno;
		log_warn("%s: rename to %s", tmp, lt->path);
		goto out;
	}
	lease_fsync_dir(lt->path);
	return 0;
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

void lease_table_changed(struct lease_table *lt, int64_t now)
{
	lt->dirty = true;
	lease_table_flush(lt, now, false);
}

void lease_table_flush(struct lease_table *lt, int64_t now, bool force)
{
	/* (A clock stepped back is no gap to wait for.) */
	if (!lt || !lt->dirty ||
	    (!force && now >= lt->saved_at && now - lt->saved_at < LEASE_SAVE_GAP_S))
		return;
	/* A failed save is tried again after the gap, not before: its
	 * warning comes once per gap. */
	lt->saved_at = now;
	lt->dirty = lease_table_save(lt, now) < 0;
}

bool lease_table_dirty(const struct lease_table *lt)
{
	return lt->dirty;
}
