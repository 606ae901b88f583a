/* The control socket's "status" answer: one JSON object
 *   { fqdn, vip4, vip6, dns, registered, nat, observed, state, tunnels,
 *     key_expires_in }
 * where the strings are null until known, nat and observed are null
 * until the NMS has seen the node, dns is null (no resolver yet) and
 * tunnels is empty (no data path yet). */
#ifndef CY_NODE_STATUS_H
#define CY_NODE_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "sig.h"

/* Length of the text written to out (NUL-terminated, newline-ended), or
 * -1 when it does not fit.  now_ms is clock_now_ms(). */
long status_format(const struct sig_info *in, int64_t now_ms, char *out, size_t cap);

#endif
