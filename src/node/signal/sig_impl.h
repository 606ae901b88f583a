/* Inside the NMS signaling: the state that registration (sig.c) and
 * route signaling (sig_route.c) share, and the sending helpers both use
 * (sig_send.c).  Not part of sig.h. */
#ifndef CY_SIG_IMPL_H
#define CY_SIG_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "log.h"
#include "login.h"
#include "replay.h"
#include "sig.h"
#include "wire.h"

struct aead;

#define SIG_PLAIN_MAX 4096   /* largest sealed signaling message accepted */
#define SIG_DGRAM_MAX 2048   /* largest we send */
#define NMS_REJECT_LEN 12
#define NEVER INT64_MAX

/* A Direction Request in flight. */
struct sig_dir {
	bool used;
	uint32_t req_id;                   /* the daemon's name for it (route_ready, _failed) */
	uint32_t wire_id;                  /* the REQ_ID sent: a new one after a move */
	char fqdn[CY_FQDN_MAX + 1];        /* lower case, no root dot; "" when by VIP */
	bool has4, has6;
	uint8_t vip4[4], vip6[16];
	int tries;                         /* sent how often */
	int64_t since, tx_at;
};

/* A Route Direction we confirmed as the CN (no key kept). */
struct sig_cn_seen {
	uint64_t tunnel_id;
	int64_t at;
	uint8_t result;                    /* what we confirmed */
};

struct sig {
	const struct sig_ops *ops;
	void *arg;
	uint16_t port;
	int keepalive_ms;

	struct sig_info info;
	struct sig_stats st;
	struct ratelimit rl;

	/* the node-NMS common key */
	struct aead *aead;
	uint64_t tx_ctr;            /* last counter sent with this key */
	struct replay rx;           /* dir 1, this key */
	size_t nnms, nms_idx;
	struct sockaddr_storage nms[LOGIN_MAX_NMS];
	/* The cookie each NMS last gave us to echo in Registrations: proof
	 * that we are reached where it sees us (docs/protocol.md). */
	uint8_t cookie[LOGIN_MAX_NMS][CY_COOKIE_LEN];
	bool have_cookie[LOGIN_MAX_NMS];
	/* no Registration at once for a new cookie of NMS i before this */
	int64_t prove_until[LOGIN_MAX_NMS];

	bool login_pending;
	int login_backoff_ms;
	int64_t login_at, tx_at, rekey_at, reg_since;
	/* a Reject soon after a login (another instance of this node?) */
	int64_t login_ok_at;        /* the last successful login, NEVER before the first */
	bool login_ok_dup;          /* ...was one delayed as a suspected duplicate */
	bool dup_wait;              /* the login scheduled or running is such a one */
	int64_t dup_backoff_ms;     /* its delay, 0 outside an episode */
	int64_t ka_interval_ms;
	int ka_out;                 /* keepalives sent since the last ack */
	bool moving;                /* registering again after a move, still REGISTERED */
	int64_t reg_at;             /* the last Registration Response */

	/* route selection */
	uint32_t next_req_id;
	struct sig_dir dirs[SIG_DIR_MAX];
	struct sig_cn_seen cn_seen[SIG_CN_SEEN];
	size_t cn_seen_next;
};

/* sig_send.c: seal msg (its length, or < 0 from a failed build) under the
 * current key to `to`, or to the NMS in use when to is NULL; count a
 * datagram dropped as bad input. */
void sig_send_sealed_to(struct sig *s, const uint8_t *msg, ssize_t len,
			const struct sockaddr *to);
void sig_send_sealed(struct sig *s, const uint8_t *msg, ssize_t len);
void sig_bad_input(struct sig *s, const struct sockaddr *from, const char *why);

/* sig_route.c: Direction Requests in flight and Route Directions as the
 * CN.  flush sends the requests that waited for a registration; input
 * takes a Route Direction (true: the NMS asks us to register again
 * first); timeout retries and gives up; next_ms is when that is due. */
void sig_route_flush(struct sig *s);
/* We moved: requests sent before get new REQ_IDs (sent once registered
 * again), so none is answered from the old registration. */
void sig_route_moved(struct sig *s);
/* A Punch Direction from the NMS (sig_route.c). */
void sig_punch_input(struct sig *s, const struct cy_msg *m, const struct sockaddr *from);
/* A Tunnel Teardown: acknowledged, then handed to ops->teardown. */
void sig_teardown_input(struct sig *s, const struct cy_msg *m, const struct sockaddr *from);
bool sig_route_input(struct sig *s, const struct cy_msg *m, const struct sockaddr *from);
void sig_route_timeout(struct sig *s, int64_t now);
int64_t sig_route_next_ms(const struct sig *s);

#endif
