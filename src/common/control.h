/* The UNIX control socket of a daemon (cyphonic status, stats).
 *
 * A client connects, writes one request line ("status\n"), and reads the
 * reply until the daemon closes.  Requests are at most CONTROL_REQ_MAX
 * bytes; a longer or unterminated one is refused.  The socket is created
 * mode 0600 (root's tool talking to root's daemon). */
#ifndef CY_CONTROL_H
#define CY_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#define CONTROL_REQ_MAX 256
#define CONTROL_REPLY_MAX (256 * 1024)

struct event_base;
struct control;

/* Fill out (cap bytes) with the reply to req (NUL-terminated, without
 * the newline); return its length, or -1 to send "error\n". */
typedef long (*control_fn)(void *arg, const char *req, char *out, size_t cap);

struct control *control_new(struct event_base *base, const char *path, control_fn fn,
			    void *arg);
void control_free(struct control *c);

/* Blocking client: returns the reply length (NUL-terminated in out) or
 * -errno (-ECONNREFUSED/-ENOENT when no daemon listens, -ETIMEDOUT). */
ssize_t control_query(const char *path, const char *req, char *out, size_t cap,
		      int timeout_ms);

#endif
