/* The control socket's "status" answer: one JSON object
 *   { fqdn, vip4, vip6, dns, registered, nat, observed, state,
 *     key_expires_in, tunnels: [...], drops: {...} }
 * where the strings are null until known and nat and observed are null
 * until the NMS has seen the node.  Each tunnel (the SPEC's contract plus
 * a few more):
 *   { peer, vip4, vip6, path: "direct"|"relay", endpoint, rx_bytes,
 *     tx_bytes, rx_packets, tx_packets, state, tunnel_id, age }
 * rx/tx_bytes count inner bytes (the IP packets carried).  drops counts
 * dropped datagrams and packets by reason:
 *   { replay, auth, unknown, malformed, bad_src, no_route, expired }
 * queue: the flow queues between the TUN and the tunnels (fq.h):
 *   { backlog, marked, dropped, overlimit, tun_write_errors }
 * sched: the daemon's scheduling as it is now (rtsched.h):
 *   { policy: "realtime"|"normal", priority: its realtime priority or 0 } */
#ifndef CY_NODE_STATUS_H
#define CY_NODE_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "overlay.h"
#include "sig.h"

struct dpio_stats;
struct json;

struct status_extra {
	const char *dns;                           /* "ADDR:PORT", NULL: no resolver */
	const struct overlay_tunnel_view *tunnels;
	size_t ntunnels;
	const struct overlay_drops *drops;         /* NULL: no "drops" */
	const struct dpio_stats *dp;               /* NULL: no "queue" */
	int sched_prio;                            /* rtsched_prio(): 0 normal */
	uint8_t mapping;                           /* enum cy_mapping: "mapping" */
	/* Adds members at the end of the object (the adapter's
	 * "general_nodes" and "lan"); NULL: none. */
	void (*more)(void *arg, struct json *j);
	void *more_arg;
};

/* Length of the text written to out (NUL-terminated, newline-ended), or
 * -1 when it does not fit.  now_ms is clock_now_ms(); ex may be NULL (no
 * resolver, no tunnels). */
long status_format_ext(const struct sig_info *in, const struct status_extra *ex, int64_t now_ms,
		       char *out, size_t cap);
long status_format(const struct sig_info *in, int64_t now_ms, char *out, size_t cap);

#endif
