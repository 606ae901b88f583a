/* A test hook, in builds configured with -DCYPHONIC_KEYLOG=ON only (the
 * ASan build `make check` runs the network tests with; never a release
 * build): with CYPHONIC_KEYLOG=FILE in its environment a daemon appends
 * every key it makes or derives to FILE, one "LABEL HEX" line each, so
 * tests/net/t_secrets.sh can look for each of them in the logs.  In every
 * other build keylog() is empty and compiled away. */
#ifndef CY_KEYLOG_H
#define CY_KEYLOG_H

#include <stddef.h>

#ifdef CYPHONIC_KEYLOG
void keylog(const char *label, const void *key, size_t len);
#else
static inline void keylog(const char *label, const void *key, size_t len)
{
	(void)label;
	(void)key;
	(void)len;
}
#endif

#endif
