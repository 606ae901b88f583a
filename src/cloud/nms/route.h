/* Route selection on the NMS (docs/protocol.md, "Route selection"):
 *
 *   MN --Direction Request--> NMS --Route Direction--> CN
 *   MN <--Route Direction---- NMS <--Confirmation----- CN
 *
 * route_direction_req() checks the requester and the correspondent, picks
 * the path (route_decide(), a pure function), creates the Tunnel Key and
 * tunnel id, sends the Route Direction to the CN at once and keeps the
 * selection pending.  When the CN initiates, the MN is answered at once
 * too; otherwise route_confirmation() answers it the moment the CN
 * confirms.  route_tick() retransmits to a silent CN and gives up (an MN
 * answered already then gets a Teardown: grant_cancel()).
 * Finished selections are kept a few seconds so a retransmitted Direction
 * Request gets the same answer instead of a second tunnel. */
#ifndef CY_NMS_ROUTE_H
#define CY_NMS_ROUTE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "wire.h"

#define ROUTE_RETX_MS 250        /* Route Direction to the CN, until confirmed */
#define ROUTE_RETX_MAX 4         /* retransmissions; then the MN gets 9 */
#define ROUTE_KEEP_MS 5000       /* a finished selection answers retransmissions */
#define ROUTE_MAX 65536          /* selections held (pending + finished): 13,000 a second
				  * answered and kept ROUTE_KEEP_MS */
#define ROUTE_BUCKETS 65536      /* of each lookup hash (a power of two) */
#define ROUTE_MAX_PER_NODE 64    /* of them asked by one node */

struct nms;
struct nms_key;
struct route_table;

/* One end of a route as the NMS knows it from the registration. */
struct route_end {
	bool nat;                          /* behind NAPT */
	uint8_t families;                  /* CY_FAM_* the node reported */
	const struct sockaddr *observed;   /* where the NMS sees it */
	uint8_t mapping;                   /* enum cy_mapping, as it last said */
};

struct route_choice {
	bool mn_initiates;                 /* else the CN sends the Tunnel Request */
	enum cy_path path;
	bool punch;                        /* relayed, but both may punch a direct path
					    * to the other's observed endpoint */
	uint8_t mn_mode, cn_mode;          /* ...each how (enum cy_punch_mode) */
	const char *why;                   /* on failure: for REASON and the log */
};

/* The path between mn and cn: CY_OK with *c filled; path CY_PATH_RELAY
 * (c->why saying why) when no direct path is known by address alone, and
 * then c->punch when both were seen in one family (each can send to the
 * other's observed endpoint: docs/nat.md) and not both map per
 * destination (no punch can meet then). */
enum cy_result route_decide(const struct route_end *mn, const struct route_end *cn,
			    struct route_choice *c);
/* How two ends punch, from how their NAPTs map (enum cy_mapping): plain
 * probes, or the birthday approach when exactly one maps per destination
 * (it opens many sockets, the other probes many ports).  False when both
 * do: nothing to try. */
bool route_punch_modes(uint8_t a, uint8_t b, uint8_t *mode_a, uint8_t *mode_b);

struct route_table *route_table_new(void);
/* Wipes the Tunnel Keys it holds. */
void route_table_free(struct route_table *t);

/* A Direction Request from the holder of k.  Writes the immediate answer
 * (a failure, or a finished selection's answer again) as a plain message
 * into msg and returns its length; 0 when the answer comes later. */
ssize_t route_direction_req(struct nms *n, struct nms_key *k, const struct sockaddr *from,
			    const struct cy_msg *m, uint8_t *msg, size_t cap);
/* A Confirmation from the holder of k: answers the requester. */
/* A Punch Request (docs/nat.md): both ends of the tunnel it names get a
 * Punch Direction with the other's observed endpoint, when both are
 * registered and were seen in one family.  Nothing is answered otherwise. */
void route_punch_req(struct nms *n, struct nms_key *k, const struct sockaddr *from,
		     const struct cy_msg *m);
/* false: no route of this host waits on that tunnel (another host's
 * may: nms_bus.c). */
bool route_confirmation(struct nms *n, struct nms_key *k, const struct sockaddr *from,
			const struct cy_msg *m);
/* A sealed datagram under our NMS-TRS link key: the TRS's Relay
 * Response.  The selection goes on with the Route Direction to the CN. */
void route_relay_response(struct nms *n, const struct sockaddr *from, const uint8_t *pkt,
			  size_t len);
/* The grant of tunnel_id ended (grant.c): a selection of it whose MN had
 * its answer and whose CN has not confirmed yet fails (RESULT 4), and
 * nothing of it is sent again. */
void route_grant_ended(struct nms *n, uint64_t tunnel_id);
void route_tick(struct nms *n, int64_t now_ms);
int64_t route_next_ms(const struct nms *n);

#endif
