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

/* A user name a config may give (1..32 of [a-z0-9_-], not starting with
 * '-') copied to out (PRIVDROP_USER_MAX + 1 bytes): 0, or -1 with err
 * set.  Whether the user exists is seen at privdrop(). */
int privdrop_user_parse(char *out, const char *v, char *err, size_t errlen);

#endif
