/* Shared by the files of src/admin. */
#ifndef CY_ADMIN_IMPL_H
#define CY_ADMIN_IMPL_H

#include <stddef.h>

/* Write the reason into err and return rc. */
int admin_err(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
