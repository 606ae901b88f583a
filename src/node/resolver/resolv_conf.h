/* resolv.conf: read its nameservers (our upstreams), and optionally make
 * the daemon the system's resolver: save the file, write one naming our
 * listen address, and put the saved one back on exit.
 *
 * The saved content is also written to PATH.cyphonic-save, so a daemon
 * that died without restoring finds the original again on its next start
 * (and does not take itself for an upstream). */
#ifndef CY_RESOLV_CONF_H
#define CY_RESOLV_CONF_H

#include <stddef.h>
#include <sys/socket.h>

#define RESOLV_CONF_PATH "/etc/resolv.conf"
#define RESOLV_CONF_MAX_NS 8
#define RESOLV_CONF_MAX_SIZE 65536

/* The "nameserver ADDR" lines of text (IPv4, or IPv6 with an optional
 * %scope), as port-53 addresses, at most max.  Other lines are ignored.
 * Returns how many were stored. */
size_t resolv_conf_parse(const char *text, size_t len, struct sockaddr_storage *ns, size_t max);
/* The same from a file: count, or -errno. */
int resolv_conf_read(const char *path, struct sockaddr_storage *ns, size_t max);

struct resolv_conf_saved;

/* Save path, write one that points at listen (its port must be 53: a
 * resolv.conf cannot name another) keeping the search/domain/options
 * lines, and return the original nameservers in ns[0..*n_ns).  0 or -errno. */
int resolv_conf_install(const char *path, const struct sockaddr *listen,
			struct sockaddr_storage *ns, size_t max_ns, size_t *n_ns,
			struct resolv_conf_saved **saved);
/* Put the saved file back (a symlink stays a symlink) unless someone else
 * has rewritten it since; frees saved (NULL is fine).  0, -EBUSY when the
 * file was no longer ours (left alone), or -errno. */
int resolv_conf_restore(struct resolv_conf_saved *saved);

#endif
