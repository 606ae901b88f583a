#include "route.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "buf.h"
#include "clock.h"
#include "keylog.h"
#include "log.h"
#include "nms_impl.h"
#include "nms_relay.h"
#include "store.h"
#include "flows.h"
#include "trs_wire.h"
#include "wire.h"

/* One route selection, from the Direction Request until ROUTE_KEEP_MS
 * after its answer.  The Tunnel Key stays here until then so a
 * retransmitted Direction Request gets the very same answer. */
/* One end of a selection: what the messages tell the other end. */
struct route_side {
	int64_t id;
	uint64_t key_id;                   /* MN: the request's; CN: its registration's */
	char fqdn[CY_FQDN_MAX + 1];
	uint8_t vip4[4], vip6[16];
	struct sockaddr_storage ep;        /* observed at registration */
	uint8_t fams;                      /* CY_FAM_* it has (reported, and observed) */
	struct sockaddr_storage peer;      /* where it sends: the other end, or the TRS */
};

struct route_entry {
	struct route_entry *qprev, *qnext; /* its queue, in the order of at */
	struct route_entry *tnext;         /* chain of its tunnel id's bucket */
	struct route_entry *mnext;         /* chain of its MN's bucket */
	uint64_t tunnel_id;
	uint32_t req_id;
	bool done;                         /* finished: confirmed, or failed */
	bool told;                         /* the MN has its answer before the CN confirmed */
	bool cn_dropped;                   /* ...failed, and the CN confirming late was told */
	bool grant_gone;                   /* ...its grant ended (both ends told then) */
	uint8_t result;                    /* that answer's RESULT */
	char reason[CY_REASON_MAX + 1];
	int tries;                         /* Route Directions sent to the CN */
	int64_t at;                        /* next retransmission, or forget (done) */
	uint8_t key[CY_KEY_LEN];
	bool relaying;                     /* waiting for the TRS's Relay Response */
	size_t trs;                        /* ...of this TRS (nms_relay.h) */
	uint8_t temp_key[CY_KEY_LEN];      /* relayed: seals the End Key material */
	uint8_t relay_key[CY_KEY_LEN];     /* relayed: what the TRS gets (trs_wire.h) */
	struct route_choice choice;
	struct route_side mn, cn;
	struct sockaddr_storage mn_from;   /* where the MN asked from: the answer goes there */
	struct cy_flows fw[2];             /* what the MN may start to the CN, and back */
	uint64_t flows;                    /* their digest (nms_policy_flows_hash) */
};

/* Every at is now + ROUTE_RETX_MS (waiting) or now + ROUTE_KEEP_MS
 * (answered) when set, so appending to the queue of its kind keeps each
 * queue in the order of at: the next deadline is at a head, and a tick
 * looks only at what is due.  Lookups go through two hashes, by tunnel id
 * and by the MN. */
struct route_queue {
	struct route_entry *head, *tail;
};

struct route_table {
	struct route_queue waiting, answered;
	struct route_entry *by_tunnel[ROUTE_BUCKETS];
	struct route_entry *by_mn[ROUTE_BUCKETS];
	size_t count;
};

static size_t route_hash(uint64_t v)
{
	return (size_t)((v * 0x9e3779b97f4a7c15ULL) >> 32) & (ROUTE_BUCKETS - 1);
}

static void route_q_del(struct route_queue *q, struct route_entry *e)
{
	if (e->qprev)
		e->qprev->qnext = e->qnext;
	else
		q->head = e->qnext;
	if (e->qnext)
		e->qnext->qprev = e->qprev;
	else
		q->tail = e->qprev;
	e->qprev = e->qnext = NULL;
}

static void route_q_add(struct route_queue *q, struct route_entry *e)
{
	e->qnext = NULL;
	e->qprev = q->tail;
	if (q->tail)
		q->tail->qnext = e;
	else
		q->head = e;
	q->tail = e;
}

static struct route_queue *route_q(struct route_table *t, const struct route_entry *e)
{
	return e->done ? &t->answered : &t->waiting;
}

/* Take e off the queue it is on, if any (done says which). */
static void route_q_out(struct route_table *t, struct route_entry *e)
{
	struct route_queue *q = route_q(t, e);

	if (e->qprev || q->head == e)
		route_q_del(q, e);
}

/* e's next deadline: at the end of the queue it belongs in now. */
static void route_at(struct route_table *t, struct route_entry *e, int64_t at)
{
	route_q_out(t, e);
	e->at = at;
	route_q_add(route_q(t, e), e);
}

static uint8_t route_fam(const struct sockaddr *sa)
{
	if (!sa)
		return 0;
	return sa->sa_family == AF_INET ? CY_FAM_IPV4 : sa->sa_family == AF_INET6 ? CY_FAM_IPV6 : 0;
}

/* The initiator sends its Tunnel Request to the responder's observed
 * endpoint, so the responder must be reachable there (not behind NAPT:
 * an unsolicited datagram would not pass its NAPT) and the initiator must
 * have that endpoint's family.  Prefer the CN as initiator: it gets the
 * route first and sends its Request as it confirms, so the Request meets
 * the MN's Route Direction and the MN (the one waiting) answers it at
 * once, a round trip between the two sooner than when the MN starts the
 * handshake after the NMS's answer.  A stateful firewall in front of the
 * MN costs that round trip back, not more: the MN's probe to the CN's
 * observed endpoint opens it and brings the Request again (docs/nat.md),
 * which needs both observed in one family; else the MN initiates when it
 * can. */
enum cy_result route_decide(const struct route_end *mn, const struct route_end *cn,
			    struct route_choice *c)
{
	uint8_t fm = mn->families | route_fam(mn->observed);
	uint8_t fc = cn->families | route_fam(cn->observed);
	bool mn_open = !mn->nat && (route_fam(mn->observed) & fc);
	bool cn_open = !cn->nat && (route_fam(cn->observed) & fm);

	memset(c, 0, sizeof(*c));
	c->path = CY_PATH_DIRECT;
	if (mn_open && (!cn_open || route_fam(mn->observed) == route_fam(cn->observed))) {
		c->mn_initiates = false;
		return CY_OK;
	}
	if (cn_open) {
		c->mn_initiates = true;
		return CY_OK;
	}
	/* Rule 3: only a TRS connects them.  Both send to the relay; the MN
	 * (the one waiting) sends the Tunnel Request. */
	c->path = CY_PATH_RELAY;
	c->mn_initiates = true;
	c->punch = route_fam(mn->observed) && route_fam(mn->observed) == route_fam(cn->observed) &&
		   route_punch_modes(mn->mapping, cn->mapping, &c->mn_mode, &c->cn_mode);
	if (mn->nat && cn->nat)
		c->why = "both behind NAPT";
	else if (!(fm & fc))
		c->why = "no common address family";
	else
		c->why = "no direct path";
	return CY_OK;
}

bool route_punch_modes(uint8_t a, uint8_t b, uint8_t *mode_a, uint8_t *mode_b)
{
	*mode_a = *mode_b = CY_PUNCH_PLAIN;
	if (a == CY_MAP_VARIES && b == CY_MAP_VARIES)
		return false;
	if (a == CY_MAP_VARIES && b == CY_MAP_KEEPS) {
		*mode_a = CY_PUNCH_MANY;
		*mode_b = CY_PUNCH_SPRAY;
	} else if (b == CY_MAP_VARIES && a == CY_MAP_KEEPS) {
		*mode_a = CY_PUNCH_SPRAY;
		*mode_b = CY_PUNCH_MANY;
	}
	return true;
}

struct route_table *route_table_new(void)
{
	return calloc(1, sizeof(struct route_table));
}

static void route_entry_free(struct route_entry *e)
{
	if (!e)
		return;
	cy_wipe(e, sizeof(*e));
	free(e);
}

static void route_queue_free(struct route_queue *q)
{
	while (q->head) {
		struct route_entry *e = q->head;

		q->head = e->qnext;
		route_entry_free(e);
	}
}

void route_table_free(struct route_table *t)
{
	if (!t)
		return;
	route_queue_free(&t->waiting);
	route_queue_free(&t->answered);
	free(t);
}

static void route_unlink(struct route_entry **pp, struct route_entry *e, bool mn)
{
	while (*pp && *pp != e)
		pp = mn ? &(*pp)->mnext : &(*pp)->tnext;
	if (*pp)
		*pp = mn ? e->mnext : e->tnext;
}

/* Forget e: off its queue and both hashes, and freed. */
static void route_del(struct route_table *t, struct route_entry *e)
{
	route_q_out(t, e);
	route_unlink(&t->by_tunnel[route_hash(e->tunnel_id)], e, false);
	route_unlink(&t->by_mn[route_hash((uint64_t)e->mn.id)], e, true);
	t->count--;
	route_entry_free(e);
}

static struct route_entry *route_by_tunnel(struct route_table *t, uint64_t tunnel_id)
{
	for (struct route_entry *e = t->by_tunnel[route_hash(tunnel_id)]; e; e = e->tnext)
		if (e->tunnel_id == tunnel_id)
			return e;
	return NULL;
}

static struct route_entry *route_by_req(struct route_table *t, int64_t mn_id, uint32_t req_id,
					size_t *per_node)
{
	struct route_entry *found = NULL;

	*per_node = 0;
	for (struct route_entry *e = t->by_mn[route_hash((uint64_t)mn_id)]; e; e = e->mnext) {
		if (e->mn.id != mn_id)
			continue;
		(*per_node)++;
		if (e->req_id == req_id)
			found = e;
	}
	return found;
}

/* The punch ticket of tunnel_id between nodes a and b (either order):
 * HMAC-SHA256 under this NMS's punch secret, truncated.  Only the ends of
 * a route with candidates get it, so only they can ask for a punch of
 * that tunnel (route_punch_req).  0 or -EIO. */
static int route_ticket(const struct nms *n, uint64_t tunnel_id, int64_t a, int64_t b,
			uint8_t out[CY_TICKET_LEN])
{
	uint8_t in[24], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int64_t lo = a < b ? a : b, hi = a < b ? b : a;

	put_be64(in, tunnel_id);
	put_be64(in + 8, (uint64_t)lo);
	put_be64(in + 16, (uint64_t)hi);
	if (!HMAC(EVP_sha256(), n->punch_secret, sizeof(n->punch_secret), in, sizeof(in), md,
		  &mdlen) || mdlen < CY_TICKET_LEN)
		return -EIO;
	memcpy(out, md, CY_TICKET_LEN);
	cy_wipe(md, sizeof(md));
	return 0;
}

/* ---- messages ---- */

static ssize_t route_fail_msg(uint32_t req_id, enum cy_result r, const char *reason,
			      uint8_t *msg, size_t cap)
{
	struct cy_builder b;

	cy_build_start(&b, msg, cap, CY_ROUTE_DIRECTION);
	cy_put_u8(&b, CY_A_RESULT, (uint8_t)r);
	if (reason && *reason)
		cy_put_str(&b, CY_A_REASON, reason);
	cy_put_u32(&b, CY_A_REQ_ID, req_id);
	return cy_build_finish(&b);
}

/* The Route Direction to the CN (to_mn false) or the answer to the MN. */
static ssize_t route_msg(const struct nms *n, const struct route_entry *e, bool to_mn,
			 uint8_t *msg, size_t cap)
{
	const struct route_side *other = to_mn ? &e->cn : &e->mn;
	bool initiator = to_mn ? e->choice.mn_initiates : !e->choice.mn_initiates;
	struct cy_builder b;

	if (to_mn && e->result != CY_OK)
		return route_fail_msg(e->req_id, e->result, e->reason, msg, cap);
	cy_build_start(&b, msg, cap, CY_ROUTE_DIRECTION);
	if (to_mn) {
		cy_put_u8(&b, CY_A_RESULT, CY_OK);
		cy_put_u32(&b, CY_A_REQ_ID, e->req_id);
	}
	cy_put_u64(&b, CY_A_TUNNEL_ID, e->tunnel_id);
	cy_put_bytes(&b, CY_A_KEY, e->key, sizeof(e->key));
	cy_put_str(&b, CY_A_FQDN, other->fqdn);
	cy_put_bytes(&b, CY_A_VIP4, other->vip4, sizeof(other->vip4));
	cy_put_bytes(&b, CY_A_VIP6, other->vip6, sizeof(other->vip6));
	cy_put_endpoint(&b, CY_A_PEER, (const struct sockaddr *)(to_mn ? &e->mn.peer : &e->cn.peer));
	cy_put_u8(&b, CY_A_ROLE, initiator ? CY_ROLE_INITIATOR : CY_ROLE_RESPONDER);
	cy_put_u8(&b, CY_A_PATH, (uint8_t)e->choice.path);
	/* The flows each may start (docs/policy.md): ours, then the peer's. */
	cy_put_flows(&b, CY_A_FLOWS_OUT, &e->fw[to_mn ? 0 : 1]);
	cy_put_flows(&b, CY_A_FLOWS_IN, &e->fw[to_mn ? 1 : 0]);
	if (e->choice.path == CY_PATH_RELAY)
		cy_put_bytes(&b, CY_A_TEMP_KEY, e->temp_key, sizeof(e->temp_key));
	if (e->choice.punch) {
		uint8_t ticket[CY_TICKET_LEN];

		uint8_t mode = to_mn ? e->choice.mn_mode : e->choice.cn_mode;

		cy_put_endpoint(&b, CY_A_CANDIDATE, (const struct sockaddr *)&other->ep);
		if (route_ticket(n, e->tunnel_id, e->mn.id, e->cn.id, ticket) == 0)
			cy_put_bytes(&b, CY_A_TICKET, ticket, sizeof(ticket));
		if (mode != CY_PUNCH_PLAIN)
			cy_put_u8(&b, CY_A_PUNCH_MODE, mode);
	}
	return cy_build_finish(&b);
}

static void route_send_cn(struct nms *n, struct route_entry *e)
{
	uint8_t msg[NMS_MSG_MAX];
	struct nms_key *k = nms_key_find(n, e->cn.key_id);
	ssize_t len = route_msg(n, e, false, msg, sizeof(msg));

	if (k && len > 0)
		nms_send_sealed(n, k, (const struct sockaddr *)&e->cn.ep, msg, (size_t)len);
	else if (len <= 0)
		LOG_RATELIMITED(&n->rl_log, "nms: tunnel %016" PRIx64 ": Route Direction does not "
				"fit (%zd)", e->tunnel_id, len);
	cy_wipe(msg, sizeof(msg));
	e->tries++;
}

/* The answer to the MN, outside the reply path (it did not send the
 * datagram being handled). */
static void route_send_mn(struct nms *n, const struct route_entry *e)
{
	uint8_t msg[NMS_MSG_MAX];
	struct nms_key *k = nms_key_find(n, e->mn.key_id);
	ssize_t len = route_msg(n, e, true, msg, sizeof(msg));

	/* Without the key (renewed meanwhile), the MN's retransmission under
	 * its new key picks the answer up from this entry. */
	if (k && len > 0)
		nms_send_sealed(n, k, (const struct sockaddr *)&e->mn_from, msg, (size_t)len);
	cy_wipe(msg, sizeof(msg));
}

/* Finish e: answer the MN (unless it was told already) and keep the
 * answer for its retransmissions. */
static void route_finish(struct nms *n, struct route_entry *e, enum cy_result r,
			 const char *reason)
{
	/* The policy or a revocation may have changed since the selection
	 * (the CN confirmed, a TRS answered): the grant is checked before the
	 * MN gets the key, and the CN, which has it, is told to drop it.  An
	 * MN told early has had its grant since then: a change since ended
	 * it, told both ends and finished this selection already
	 * (route_grant_ended). */
	if (r == CY_OK && !e->told &&
	    !grant_add(n, e->tunnel_id, e->mn.id, e->cn.id, e->flows, clock_now_ms())) {
		r = CY_ERR_UNKNOWN;
		reason = "unknown name or address";
	}
	route_q_out(n->routes, e);
	e->done = true;
	e->result = (uint8_t)r;
	snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
	route_at(n->routes, e, clock_now_ms() + ROUTE_KEEP_MS);
	if (r == CY_OK) {
		n->stats.directions_ok++;
		log_info("nms: route %s -> %s: tunnel %016" PRIx64 " confirmed", e->mn.fqdn,
			 e->cn.fqdn, e->tunnel_id);
	} else {
		n->stats.directions_failed++;
		log_info("nms: route %s -> %s: tunnel %016" PRIx64 " failed: %s%s%s", e->mn.fqdn,
			 e->cn.fqdn, e->tunnel_id, cy_result_str(r), e->reason[0] ? ": " : "",
			 e->reason);
		/* The keys are never handed out now: forget them at once. */
		cy_wipe(e->key, sizeof(e->key));
		cy_wipe(e->temp_key, sizeof(e->temp_key));
		if (e->choice.path == CY_PATH_RELAY)
			n->stats.relays_failed++;
		/* The MN has the key already: its tunnel is torn down, with
		 * this RESULT for what waits on it (unless the grant's end
		 * told it already). */
		if (e->told && !e->grant_gone)
			grant_cancel(n, e->tunnel_id, e->mn.id, e->cn.id, r, e->reason,
				     clock_now_ms());
	}
	if (!e->told)
		route_send_mn(n, e);
}

/* ---- the correspondent ---- */

/* FQDNs compare as DNS names: case-insensitive, a trailing dot allowed. */
static void route_norm_fqdn(char *s)
{
	size_t len = strlen(s);

	if (len > 1 && s[len - 1] == '.')
		s[len - 1] = '\0';
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Find the CN the request names.  CY_OK or the answer's RESULT (with
 * *why set); CY_ERR_MALFORMED when it names nobody. */
static enum cy_result route_lookup(struct nms *n, const struct cy_msg *m, struct store_node *cn,
				   const char **why)
{
	char fqdn[CY_FQDN_MAX + 1];
	uint8_t vip[16];
	int rc;

	if (cy_msg_find(m, CY_A_FQDN)) {
		if (!cy_msg_str(m, CY_A_FQDN, fqdn, CY_FQDN_MAX))
			return CY_ERR_MALFORMED;
		route_norm_fqdn(fqdn);
		rc = nms_node_by_fqdn(n, fqdn, cn);
	} else if (cy_msg_find(m, CY_A_VIP4)) {
		if (!cy_msg_bytes(m, CY_A_VIP4, vip, 4))
			return CY_ERR_MALFORMED;
		rc = store_node_by_vip4(n->st, vip, cn);
	} else if (cy_msg_find(m, CY_A_VIP6)) {
		if (!cy_msg_bytes(m, CY_A_VIP6, vip, 16))
			return CY_ERR_MALFORMED;
		rc = store_node_by_vip6(n->st, vip, cn);
	} else {
		return CY_ERR_MALFORMED;
	}
	if (rc == -ENOENT) {
		/* The same words as a name the policy denies: nothing told. */
		*why = "unknown name or address";
		return CY_ERR_UNKNOWN;
	}
	if (rc < 0) {
		*why = "store unavailable";
		return CY_ERR_INTERNAL;
	}
	return CY_OK;
}

static bool route_reg_live(struct nms *n, int64_t node_id, struct store_reg *reg)
{
	return nms_reg_get(n, node_id, reg) == 0 && reg->expires > clock_now();
}

static uint64_t route_new_tunnel_id(struct route_table *t)
{
	uint64_t id;

	do {
		if (cy_random(&id, sizeof(id)) < 0)
			return 0;
	} while (id == 0 || route_by_tunnel(t, id));
	return id;
}

static const char *route_no_trs(const char *why)
{
	if (why && !strcmp(why, "both behind NAPT"))
		return "both behind NAPT: needs a relay, and no TRS is configured";
	if (why && !strcmp(why, "no common address family"))
		return "no common address family: needs a relay, and no TRS is configured";
	return "no direct path: needs a relay, and no TRS is configured";
}

/* A selection being decided: both ends, their registrations, the path,
 * and why it fails when it does (for the log and the answer). */
struct route_sel {
	struct store_node mn, cn;
	struct store_reg mreg, creg;
	struct route_choice choice;
	const char *why;
};

static enum cy_result route_why(struct route_sel *s, enum cy_result r, const char *why)
{
	s->why = why;
	return r;
}

/* Both ends and the path between them, for the requester k and the
 * correspondent route_lookup() found (r: what it said).  CY_OK, else
 * the answer's RESULT with s->why set. */
static enum cy_result route_select(struct nms *n, struct nms_key *k, enum cy_result r,
				   size_t per_node, struct route_sel *s)
{
	struct route_end me, ce;

	if (nms_node_by_id(n, k->node_id, &s->mn) < 0)
		return route_why(s, CY_ERR_INTERNAL, "store unavailable");
	if (s->mn.revoked)
		return route_why(s, CY_ERR_REVOKED, "revoked");
	/* ...under this key: one a login replaced may still be cached */
	if (nms_reg_get_requester(n, s->mn.id, &s->mreg) < 0 || s->mreg.expires <= clock_now() ||
	    strcmp(s->mreg.host, n->host) || s->mreg.key_id != k->key_id)
		return route_why(s, CY_ERR_REREGISTER, "the requester is not registered here");
	if (r != CY_OK)
		return r;
	/* Denied by the access policy: as if the name did not exist (the
	 * requester learns nothing about the correspondent, not even that it
	 * was revoked). */
	if (s->cn.id != s->mn.id && !nms_policy_allows(n, &s->mn, &s->cn))
		return route_why(s, CY_ERR_UNKNOWN, "unknown name or address");
	/* Revoked nodes are refused by policy (REFUSED to the user), not
	 * hidden as unknown: the name exists, the cloud refuses it. */
	if (s->cn.revoked || s->cn.id == s->mn.id)
		return route_why(s, CY_ERR_POLICY, s->cn.revoked ? "correspondent revoked" :
								   "a route to yourself");
	if (!grant_room(n, s->mn.id, s->cn.id))
		return route_why(s, CY_ERR_BUSY, "too many tunnels granted");
	/* Registered on another cloud host: the key is in the store, and that
	 * host delivers what this one seals for it (nms_bus.c). */
	if (!route_reg_live(n, s->cn.id, &s->creg) || !nms_key_find(n, s->creg.key_id))
		return route_why(s, CY_ERR_UNREACHABLE, "correspondent not registered");
	me = (struct route_end){ s->mreg.nat, s->mreg.families,
				 (struct sockaddr *)&s->mreg.observed, s->mreg.mapping };
	ce = (struct route_end){ s->creg.nat, s->creg.families,
				 (struct sockaddr *)&s->creg.observed, s->creg.mapping };
	r = route_decide(&me, &ce, &s->choice);
	if (r != CY_OK)
		return route_why(s, r, s->choice.why);
	if (s->choice.path == CY_PATH_RELAY && !n->relay && s->choice.punch) {
		/* No TRS to fall back on: punching is the only way. */
		s->choice.path = CY_PATH_DIRECT;
	} else if (s->choice.path == CY_PATH_RELAY && !n->relay) {
		n->stats.relays_failed++;
		return route_why(s, CY_ERR_UNREACHABLE, route_no_trs(s->choice.why));
	}
	if (n->routes->count >= ROUTE_MAX || per_node >= ROUTE_MAX_PER_NODE)
		return route_why(s, CY_ERR_INTERNAL, "too many route selections in progress");
	return CY_OK;
}

static void route_side_set(struct route_side *sd, const struct store_node *node,
			   const struct store_reg *reg, uint64_t key_id)
{
	sd->id = node->id;
	sd->key_id = key_id;
	snprintf(sd->fqdn, sizeof(sd->fqdn), "%s", node->fqdn);
	memcpy(sd->vip4, node->vip4, 4);
	memcpy(sd->vip6, node->vip6, 16);
	sd->ep = reg->observed;
	sd->fams = reg->families | route_fam((const struct sockaddr *)&reg->observed);
}

/* The entry for selection s, with its Tunnel ID and keys, at the head of
 * the table; NULL (s->why set) when there is no memory or randomness. */
static struct route_entry *route_entry_new(struct nms *n, struct nms_key *k, uint32_t req_id,
					   const struct sockaddr *from, struct route_sel *s)
{
	struct route_table *t = n->routes;
	struct route_entry *e = calloc(1, sizeof(*e));

	if (!e) {
		s->why = "out of memory";
		return NULL;
	}
	e->tunnel_id = route_new_tunnel_id(t);
	if (!e->tunnel_id || cy_random(e->key, sizeof(e->key)) < 0 ||
	    (s->choice.path == CY_PATH_RELAY &&
	     (cy_random(e->temp_key, sizeof(e->temp_key)) < 0 ||
	      trs_relay_key(e->key, e->tunnel_id, e->relay_key) < 0))) {
		route_entry_free(e);
		s->why = "no randomness";
		return NULL;
	}
	keylog("tunnel", e->key, sizeof(e->key));
	if (s->choice.path == CY_PATH_RELAY)
		keylog("temp", e->temp_key, sizeof(e->temp_key));
	e->req_id = req_id;
	e->choice = s->choice;
	nms_policy_flows(n, &s->mn, &s->cn, &e->fw[0]);
	nms_policy_flows(n, &s->cn, &s->mn, &e->fw[1]);
	e->flows = nms_flows_digest(e->fw);
	route_side_set(&e->mn, &s->mn, &s->mreg, k->key_id);
	route_side_set(&e->cn, &s->cn, &s->creg, s->creg.key_id);
	/* Direct: each sends to the other's observed endpoint (the initiator
	 * does; the responder learns it from the Request anyway).  Relayed:
	 * to the TRS, once it answered. */
	e->mn.peer = e->cn.ep;
	e->cn.peer = e->mn.ep;
	memcpy(&e->mn_from, from, addr_len(from));
	e->tnext = t->by_tunnel[route_hash(e->tunnel_id)];
	t->by_tunnel[route_hash(e->tunnel_id)] = e;
	e->mnext = t->by_mn[route_hash((uint64_t)e->mn.id)];
	t->by_mn[route_hash((uint64_t)e->mn.id)] = e;
	t->count++;
	return e;
}

/* Relayed: ask a TRS first (the CN hears once it answered).  Direct:
 * tell the CN. */
static void route_start(struct nms *n, struct route_entry *e, const struct route_sel *s)
{
	char pbuf[ADDR_STR_MAX];

	if (s->choice.path == CY_PATH_RELAY) {
		log_info("nms: route %s -> %s: tunnel %016" PRIx64 ", relayed (%s)%s: asking a TRS",
			 s->mn.fqdn, s->cn.fqdn, e->tunnel_id, s->choice.why,
			 s->choice.punch ? ", punching beside it" : "");
		n->stats.relays++;
		e->relaying = true;
		e->trs = nms_relay_pick(n);
		nms_relay_request(n, e->trs, e->tunnel_id, e->relay_key);
		e->tries = 1;
		route_at(n->routes, e, clock_now_ms() + ROUTE_RETX_MS);
		return;
	}
	log_info("nms: route %s -> %s: tunnel %016" PRIx64 ", %s initiates to %s, direct%s",
		 s->mn.fqdn, s->cn.fqdn, e->tunnel_id,
		 s->choice.mn_initiates ? s->mn.fqdn : s->cn.fqdn,
		 addr_str((struct sockaddr *)(s->choice.mn_initiates ? &e->cn.ep : &e->mn.ep),
			  pbuf), s->choice.punch ? " by punching (no TRS)" : "");
	route_at(n->routes, e, clock_now_ms() + ROUTE_RETX_MS);
	if (s->choice.mn_initiates) {
		/* At once: the MN's DNS answer waits on this. */
		route_send_cn(n, e);
		return;
	}
	/* The CN initiates: the MN gets its answer now, right after the
	 * CN's, not after the Confirmation, so it holds the route when the
	 * CN's Request comes (one hop later, not three).  A CN that refuses
	 * or never confirms tears the MN's tunnel down again (route_finish).
	 * The grant is made before either key leaves. */
	if (!grant_add(n, e->tunnel_id, e->mn.id, e->cn.id, e->flows, clock_now_ms())) {
		route_finish(n, e, CY_ERR_UNKNOWN, "unknown name or address");
		return;
	}
	route_send_cn(n, e);
	e->told = true;
	route_send_mn(n, e);
}

ssize_t route_direction_req(struct nms *n, struct nms_key *k, const struct sockaddr *from,
			    const struct cy_msg *m, uint8_t *msg, size_t cap)
{
	struct route_sel s;
	struct route_entry *e;
	char fbuf[ADDR_STR_MAX];
	enum cy_result r;
	uint32_t req_id;
	size_t per_node;

	memset(&s, 0, sizeof(s));
	if (!cy_msg_u32(m, CY_A_REQ_ID, &req_id)) {
		n->stats.malformed++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: Direction Request without REQ_ID",
				addr_str(from, fbuf));
		return route_fail_msg(0, CY_ERR_MALFORMED, "REQ_ID missing", msg, cap);
	}
	/* A retransmission: the same answer, or none yet. */
	e = route_by_req(n->routes, k->node_id, req_id, &per_node);
	if (e)
		return e->done || e->told ? route_msg(n, e, true, msg, cap) : 0;

	r = route_lookup(n, m, &s.cn, &s.why);
	if (r == CY_ERR_MALFORMED) {
		n->stats.malformed++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: Direction Request names no correspondent",
				addr_str(from, fbuf));
		return route_fail_msg(req_id, r, "name a correspondent by FQDN, VIP4 or VIP6",
				      msg, cap);
	}
	n->stats.directions++;
	r = route_select(n, k, r, per_node, &s);
	if (r != CY_OK)
		goto fail;
	e = route_entry_new(n, k, req_id, from, &s);
	if (!e) {
		r = CY_ERR_INTERNAL;
		goto fail;
	}
	route_start(n, e, &s);
	return 0;
fail:
	n->stats.directions_failed++;
	/* A node can ask for names that fail as fast as it likes. */
	LOG_RATELIMITED_INFO(&n->rl_route, "nms: route %s -> %s: %s%s%s",
			     s.mn.id ? s.mn.fqdn : addr_str(from, fbuf), s.cn.id ? s.cn.fqdn : "?",
			     cy_result_str(r), s.why ? ": " : "", s.why ? s.why : "");
	return route_fail_msg(req_id, r, s.why, msg, cap);
}

bool route_confirmation(struct nms *n, struct nms_key *k, const struct sockaddr *from,
			const struct cy_msg *m)
{
	struct route_entry *e;
	char fbuf[ADDR_STR_MAX];
	uint64_t tunnel_id;
	uint8_t res;

	if (!cy_msg_u64(m, CY_A_TUNNEL_ID, &tunnel_id) || !cy_msg_u8(m, CY_A_RESULT, &res)) {
		n->stats.malformed++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: malformed Confirmation",
				addr_str(from, fbuf));
		return true;
	}
	e = route_by_tunnel(n->routes, tunnel_id);
	/* Only the CN the direction went to confirms it. */
	if (!e || e->cn.id != k->node_id)
		return false;
	/* Late, for a selection that failed after the MN had its answer
	 * (the grant ended, or this CN was given up on): the CN took the
	 * route, and is told to drop it, once. */
	if (e->done && e->told && e->result != CY_OK && res == CY_OK && !e->cn_dropped) {
		e->cn_dropped = true;
		grant_drop_cn(n, e->tunnel_id, e->mn.id, e->cn.id,
			      "the route was withdrawn before it was confirmed",
			      clock_now_ms());
		return true;
	}
	if (e->done)
		return true; /* a duplicate */
	if (res == CY_OK)
		route_finish(n, e, CY_OK, NULL);
	else
		route_finish(n, e, res == CY_ERR_POLICY ? CY_ERR_POLICY : CY_ERR_UNREACHABLE,
			     "the correspondent refused");
	return true;
}

void route_grant_ended(struct nms *n, uint64_t tunnel_id)
{
	struct route_entry *e = route_by_tunnel(n->routes, tunnel_id);

	/* No more Route Directions to the CN, no more answers with the key
	 * to the MN: it fails as the answer would have (the Teardown said
	 * so already). */
	if (e && e->told && !e->done) {
		e->grant_gone = true;
		route_finish(n, e, CY_ERR_UNKNOWN, "unknown name or address");
	}
}

/* ---- punching again ---- */

static void punch_direction(struct nms *n, struct nms_key *k, const struct sockaddr *to,
			    uint64_t tunnel_id, const char *fqdn, const struct sockaddr *cand,
			    uint8_t mode)
{
	uint8_t msg[CY_FQDN_MAX + 96];
	struct cy_builder b;

	cy_build_start(&b, msg, sizeof(msg), CY_PUNCH_DIRECTION);
	cy_put_u64(&b, CY_A_TUNNEL_ID, tunnel_id);
	cy_put_str(&b, CY_A_FQDN, fqdn);
	cy_put_endpoint(&b, CY_A_CANDIDATE, cand);
	if (mode != CY_PUNCH_PLAIN)
		cy_put_u8(&b, CY_A_PUNCH_MODE, mode);
	cy_put_u64(&b, CY_A_TIME, (uint64_t)clock_now() * 1000);
	nms_send_sealed(n, k, to, msg, (size_t)cy_build_finish(&b));
}

void route_punch_req(struct nms *n, struct nms_key *k, const struct sockaddr *from,
		     const struct cy_msg *m)
{
	char fqdn[CY_FQDN_MAX + 1], fbuf[ADDR_STR_MAX];
	uint8_t ticket[CY_TICKET_LEN], want[CY_TICKET_LEN];
	struct store_node me, peer;
	struct store_reg mreg, preg;
	struct nms_key *pk;
	uint64_t tunnel_id;
	uint8_t mapping = CY_MAP_UNKNOWN, mmode, pmode;

	if ((cy_msg_find(m, CY_A_MAPPING) &&
	     (!cy_msg_u8(m, CY_A_MAPPING, &mapping) || mapping > CY_MAP_VARIES)) ||
	    !cy_msg_u64(m, CY_A_TUNNEL_ID, &tunnel_id) || !tunnel_id ||
	    !cy_msg_str(m, CY_A_FQDN, fqdn, CY_FQDN_MAX) ||
	    !cy_msg_bytes(m, CY_A_TICKET, ticket, sizeof(ticket))) {
		n->stats.malformed++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: malformed Punch Request",
				addr_str(from, fbuf));
		return;
	}
	route_norm_fqdn(fqdn);
	/* Both live, the peer not revoked, both seen in one family: the
	 * same conditions a route with candidates had. */
	/* Only the host the requester is registered on acts on its requests. */
	if (nms_node_by_id(n, k->node_id, &me) < 0 || me.revoked ||
	    nms_reg_get_requester(n, me.id, &mreg) < 0 || mreg.expires <= clock_now() ||
	    strcmp(mreg.host, n->host) || mreg.key_id != k->key_id ||
	    nms_node_by_fqdn(n, fqdn, &peer) < 0 || peer.revoked || peer.id == me.id ||
	    /* A pair the policy no longer allows learns nothing new. */
	    (!nms_policy_decide(n, &me, &peer) && !nms_policy_decide(n, &peer, &me)) ||
	    !route_reg_live(n, peer.id, &preg) || !(pk = nms_key_find(n, preg.key_id)) ||
	    route_fam((struct sockaddr *)&mreg.observed) !=
		    route_fam((struct sockaddr *)&preg.observed) ||
	    /* ...and the two ends of that very tunnel (its ticket). */
	    route_ticket(n, tunnel_id, me.id, peer.id, want) < 0 ||
	    CRYPTO_memcmp(ticket, want, sizeof(want))) {
		n->stats.punches_refused++;
		return;
	}
	/* Where it saw itself from the TRS: how its NAPT maps, kept with its
	 * registration for this and later routes. */
	if (mapping != CY_MAP_UNKNOWN && mapping != mreg.mapping) {
		struct store_reg full;

		/* the whole row (what is kept in memory lacks its addresses) */
		mreg.mapping = mapping;
		if (store_reg_get(n->st, me.id, &full) == 0 && full.key_id == mreg.key_id &&
		    !strcmp(full.host, n->host)) {
			full.mapping = mapping;
			full.counter = mreg.counter;
			full.updated = mreg.updated;
			full.expires = mreg.expires;
			if (store_reg_put(n->st, &full) == 0)
				nms_reg_kept(n, &full);
		}
	}
	if (!route_punch_modes(mreg.mapping, preg.mapping, &mmode, &pmode)) {
		n->stats.punches_hopeless++;
		return;
	}
	n->stats.punches++;
	log_info("nms: punch %s <-> %s: tunnel %016" PRIx64 "%s", me.fqdn, peer.fqdn, tunnel_id,
		 mmode != CY_PUNCH_PLAIN ? ", the birthday approach" : "");
	punch_direction(n, k, (struct sockaddr *)&mreg.observed, tunnel_id, peer.fqdn,
			(struct sockaddr *)&preg.observed, mmode);
	punch_direction(n, pk, (struct sockaddr *)&preg.observed, tunnel_id, me.fqdn,
			(struct sockaddr *)&mreg.observed, pmode);
}

void route_tick(struct nms *n, int64_t now_ms)
{
	struct route_table *t = n->routes;
	struct route_entry *e;

	while ((e = t->answered.head) && now_ms >= e->at)
		route_del(t, e);
	/* Each due entry is answered (to the other queue) or requeued at
	 * the tail, later than now: the loop ends. */
	while ((e = t->waiting.head) && now_ms >= e->at) {
		if (e->relaying && e->tries > ROUTE_RETX_MAX) {
			route_finish(n, e, CY_ERR_UNREACHABLE, "no answer from the TRS");
		} else if (e->relaying) {
			e->trs = nms_relay_next(n, e->trs);
			nms_relay_request(n, e->trs, e->tunnel_id, e->relay_key);
			e->tries++;
			route_at(t, e, now_ms + ROUTE_RETX_MS);
		} else if (e->tries > ROUTE_RETX_MAX) {
			route_finish(n, e, CY_ERR_UNREACHABLE,
				     "no confirmation from the correspondent");
		} else {
			route_send_cn(n, e);
			route_at(t, e, now_ms + ROUTE_RETX_MS);
		}
	}
}

int64_t route_next_ms(const struct nms *n)
{
	const struct route_table *t = n->routes;
	int64_t w = t->waiting.head ? t->waiting.head->at : INT64_MAX;
	int64_t a = t->answered.head ? t->answered.head->at : INT64_MAX;

	return w < a ? w : a;
}

/* ---- the relay ---- */

/* The relay endpoint a node sends to: in the family the NMS sees it on
 * (that one surely passes its NAPT), else in any family it has. */
static bool route_relay_pick(const struct nms_relay_answer *a, const struct route_side *sd,
			     struct sockaddr_storage *out)
{
	uint8_t seen = route_fam((const struct sockaddr *)&sd->ep);

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < a->neps; i++) {
			uint8_t f = route_fam((const struct sockaddr *)&a->eps[i]);

			if (pass == 0 ? f == seen : (f & sd->fams) != 0) {
				*out = a->eps[i];
				return true;
			}
		}
	return false;
}

void route_relay_response(struct nms *n, const struct sockaddr *from, const uint8_t *pkt,
			  size_t len)
{
	char fbuf[ADDR_STR_MAX], reason[CY_REASON_MAX + 1];
	struct nms_relay_answer a;
	struct route_entry *e;

	if (nms_relay_open(n, pkt, len, &a) < 0) {
		LOG_RATELIMITED(&n->rl_log, "nms: %s: bad Relay Response", addr_str(from, fbuf));
		return;
	}
	e = route_by_tunnel(n->routes, a.tunnel_id);
	if (!e || e->done || !e->relaying)
		return; /* a duplicate, or too late */
	if (a.result != CY_OK) {
		snprintf(reason, sizeof(reason), "the TRS refused%s%.160s", a.reason[0] ? ": " : "",
			 a.reason);
		route_finish(n, e, CY_ERR_UNREACHABLE, reason);
		return;
	}
	if (!route_relay_pick(&a, &e->mn, &e->mn.peer) ||
	    !route_relay_pick(&a, &e->cn, &e->cn.peer)) {
		route_finish(n, e, CY_ERR_UNREACHABLE, "the TRS has no address in a node's family");
		return;
	}
	log_info("nms: route %s -> %s: tunnel %016" PRIx64 " relayed: %s sends to %s, %s to %s",
		 e->mn.fqdn, e->cn.fqdn, e->tunnel_id, e->mn.fqdn,
		 addr_str((struct sockaddr *)&e->mn.peer, fbuf), e->cn.fqdn,
		 addr_str((struct sockaddr *)&e->cn.peer, reason));
	e->relaying = false;
	e->tries = 0;
	route_send_cn(n, e);
	route_at(n->routes, e, clock_now_ms() + ROUTE_RETX_MS);
}
