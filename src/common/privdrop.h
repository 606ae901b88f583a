/* Least privilege for the daemons (docs/security.md, "Privileges").
 *
 * After start-up (devices made, sockets bound, files opened) a daemon
 * keeps only the capabilities it still needs, and becomes the user its
 * config names.  Everything else goes: the other capabilities from every
 * set including the bounding set, so nothing it runs could regain them,
 * the supplementary groups, and any way back to more (no_new_privs). */
#ifndef CY_PRIVDROP_H
#define CY_PRIVDROP_H

#include <stddef.h>
#include <sys/capability.h>

#define PRIVDROP_USER_MAX 32

/* Become user (NULL or "": stay who we are) keeping exactly the n
 * capabilities keep (of those we have).  0, or -1 with err set: the
 * caller must not go on with more privilege than it asked for. */
int privdrop(const char *user, const cap_value_t *keep, size_t n, char *err, size_t errlen);

/* Before becoming user: the directory of file, where the daemon will
 * write as user, is made (0700, user's) when missing, and refused when
 * user could not write there.  0, or -1 with err set. */
int privdrop_state_dir(const char *file, const char *user, char *err, size_t errlen);

/* For a thread started before privdrop() (capabilities are per thread):
 * it gives up every capability and any way back.  0 or -1 (logged). */
int privdrop_thread(void);

/* A user name a config may give (1..32 of [a-z0-9_-], not starting with
 * '-') copied to out (PRIVDROP_USER_MAX + 1 bytes): 0, or -1 with err
 * set.  Whether the user exists is seen at privdrop(). */
int privdrop_user_parse(char *out, const char *v, char *err, size_t errlen);

#endif
