/* The NMS's side of the NMS-TRS link (docs/protocol.md, "Relay Request").
 * Inside the NMS only: route.c asks a TRS for a relay session when no
 * direct path exists, and nms.c hands the TRS's sealed answers, which
 * arrive on the NMS's own socket, to nms_relay_open(). */
#ifndef CY_NMS_RELAY_H
#define CY_NMS_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nms.h"
#include "seal.h"
#include "wire.h"

#define NMS_RELAY_MAX_EPS 4
#define NMS_TRS_DOWN_MS 30000    /* a TRS that did not answer is skipped this long */

struct nms;
struct nms_relay;

/* What a Relay Response said. */
struct nms_relay_answer {
	uint64_t tunnel_id;
	uint8_t result;
	char reason[CY_REASON_MAX + 1];
	struct sockaddr_storage eps[NMS_RELAY_MAX_EPS];   /* the session's endpoints */
	size_t neps;
};

struct nms_relay *nms_relay_new(const struct nms_relay_conf *c);
void nms_relay_free(struct nms_relay *r);

/* Is this sealed datagram (already peeked) a TRS's answer to us? */
bool nms_relay_ours(const struct nms_relay *r, const struct cy_seal_hdr *h);
/* Which TRS a new relay session goes to: the configured TRSes take turns
 * (the sessions spread over all of them), skipping one that left a
 * request unanswered in the last NMS_TRS_DOWN_MS (unless all did).
 * Returns its index. */
size_t nms_relay_pick(struct nms *n);
/* A Relay Request to TRS `trs` went unanswered: it is skipped for a
 * while, and the retransmission goes to the one this returns. */
size_t nms_relay_next(struct nms *n, size_t trs);
/* Send the Relay Request for tunnel_id to TRS `trs`.  0 or -errno. */
int nms_relay_request(struct nms *n, size_t trs, uint64_t tunnel_id,
		      const uint8_t relay_key[CY_KEY_LEN]);
/* Authenticate and parse a Relay Response.  0, or -EBADMSG (counted). */
int nms_relay_open(struct nms *n, const uint8_t *pkt, size_t len, struct nms_relay_answer *a);

#endif
