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
/* Send the Relay Request for tunnel_id (attempt 0, 1, ...: retransmissions
 * go round the configured TRS addresses).  0 or -errno. */
int nms_relay_request(struct nms *n, uint64_t tunnel_id, const uint8_t relay_key[CY_KEY_LEN],
		      int attempt);
/* Authenticate and parse a Relay Response.  0, or -EBADMSG (counted). */
int nms_relay_open(struct nms *n, const uint8_t *pkt, size_t len, struct nms_relay_answer *a);

#endif
