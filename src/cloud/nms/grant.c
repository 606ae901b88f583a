/* The tunnels the NMS authorised (docs/policy.md, "Live changes").  Every
 * confirmed route is a grant between its two nodes for
 * CY_GRANT_LIFETIME_S.  When one of them is revoked, or the access policy
 * stops allowing the pair, the grant ends: both ends get a Tunnel
 * Teardown (0x27, sealed under the key of their registration, resent
 * every GRANT_RETX_MS GRANT_FAST_TRIES times, then every
 * GRANT_SLOW_RETX_MS, until acknowledged, GRANT_TRIES times in all) and
 * drop the tunnel's keys.  A node gone from the store or from its
 * registration is told nothing (it has no key to be told with); its peer
 * still is.
 *
 * One grant per pair of nodes (a new route between them replaces the
 * tunnel id: a node holds one tunnel per peer), at most GRANT_MAX: a
 * selection that would need more is refused, never left untracked.  It
 * remembers the tunnel id it replaced too: two selections between the
 * pair at once (each looked the other up) leave the nodes with the one
 * of the larger id, whichever was granted last, so a Teardown names
 * both. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "log.h"
#include "nms_impl.h"
#include "route.h"
#include "store.h"
#include "wire.h"

#define GRANT_RETX_MS 250
#define GRANT_FAST_TRIES 5
#define GRANT_SLOW_RETX_MS 5000
#define GRANT_TRIES (GRANT_FAST_TRIES + 12)      /* about a minute */
#define GRANT_MARGIN_MS (120 * 1000)              /* beyond the nodes' own bound */
#define GRANT_MAX (1 << 20)
#define GRANT_BUCKETS (1 << 18)                   /* pair hash heads (a power of two) */
#define GRANT_SWEEP 4096                          /* checked per expiry sweep (nodes cached) */

enum { ACK_ID = 1, ACK_PREV = 2, ACK_ALL = 3 };

struct grant {
	uint64_t tunnel_id;
	uint64_t prev_id;              /* the pair's tunnel before, 0 none */
	int64_t node[2];               /* the route's MN and CN */
	int64_t expires_ms;
	uint64_t flows;                /* nms_policy_flows_hash when granted */
	bool ending;                   /* being torn down */
	uint8_t result;                /* ...with this RESULT (grant_cancel), or none (0) */
	uint32_t hnext;                /* next in its pair's bucket: index + 1, 0 none */
	uint8_t acked[2];              /* per end: ACK_ID, ACK_PREV as each Teardown was */
	int tries, max_tries;
	int64_t next_ms;
	char reason[CY_REASON_MAX + 1];
};

/* The grants in an array (removal moves the last into the hole), found
 * by pair through a chained hash of indexes. */
struct grant_table {
	struct grant *v;
	size_t n, cap;
	size_t nending;                /* of them being torn down */
	int64_t ending_next_ms;        /* the earliest of their next_ms... */
	bool ending_next_ok;           /* ...when this says it is up to date */
	size_t sweep;                  /* where the next expiry sweep checks from */
	uint32_t head[GRANT_BUCKETS];  /* index + 1 of a bucket's first, 0 none */
};

struct grant_table *grant_table_new(void)
{
	return calloc(1, sizeof(struct grant_table));
}

void grant_table_free(struct grant_table *t)
{
	if (!t)
		return;
	free(t->v);
	free(t);
}

static uint32_t *grant_bucket(struct grant_table *t, int64_t a, int64_t b)
{
	uint64_t lo = (uint64_t)(a < b ? a : b), hi = (uint64_t)(a < b ? b : a);
	uint64_t h = (lo * 0x9e3779b97f4a7c15ULL) ^ (hi * 0xc2b2ae3d27d4eb4fULL);

	return &t->head[(h >> 32) & (GRANT_BUCKETS - 1)];
}

static void grant_link(struct grant_table *t, size_t i)
{
	uint32_t *b = grant_bucket(t, t->v[i].node[0], t->v[i].node[1]);

	t->v[i].hnext = *b;
	*b = (uint32_t)(i + 1);
}

static void grant_unlink(struct grant_table *t, size_t i)
{
	uint32_t *p = grant_bucket(t, t->v[i].node[0], t->v[i].node[1]);

	while (*p && *p != i + 1)
		p = &t->v[*p - 1].hnext;
	if (*p)
		*p = t->v[i].hnext;
}

static struct grant *grant_of_pair(struct grant_table *t, int64_t a, int64_t b)
{
	for (uint32_t j = *grant_bucket(t, a, b); j; j = t->v[j - 1].hnext) {
		struct grant *g = &t->v[j - 1];

		if (!g->ending && ((g->node[0] == a && g->node[1] == b) ||
				   (g->node[0] == b && g->node[1] == a)))
			return g;
	}
	return NULL;
}

bool grant_room(struct nms *n, int64_t a, int64_t b)
{
	struct grant_table *t = n->grants;

	return t->n < GRANT_MAX || grant_of_pair(t, a, b);
}

static struct grant *grant_new(struct grant_table *t)
{
	struct grant *g;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		if (cap > GRANT_MAX)
			cap = GRANT_MAX;
		if (cap <= t->n || !(g = realloc(t->v, cap * sizeof(*g))))
			return NULL;
		t->v = g;
		t->cap = cap;
	}
	g = &t->v[t->n++];
	memset(g, 0, sizeof(*g));
	return g;
}

static bool grant_valid(struct nms *n, const struct grant *g, char *why, size_t len);
static void grant_end(struct nms *n, struct grant *g, const char *why, int64_t now_ms);

bool grant_add(struct nms *n, uint64_t tunnel_id, int64_t mn, int64_t cn, uint64_t flows,
	       int64_t now_ms)
{
	struct grant_table *t = n->grants;
	struct grant *g = grant_of_pair(t, mn, cn);
	char why[2 * CY_FQDN_MAX + 64];

	if (!g) {
		g = grant_new(t);
		if (!g) {
			/* grant_room said yes at the selection; out of memory now. */
			LOG_RATELIMITED(&n->rl_log, "nms: cannot track tunnel %016" PRIx64,
					tunnel_id);
			return true;
		}
		g->node[0] = mn;
		g->node[1] = cn;
		grant_link(t, (size_t)(g - t->v));
	}
	/* The pair's latest route decides who is the MN (the flows digest
	 * depends on it); the pair hash does not: no relink. */
	g->node[0] = mn;
	g->node[1] = cn;
	if (g->tunnel_id != tunnel_id)
		g->prev_id = g->tunnel_id;
	g->tunnel_id = tunnel_id;
	g->expires_ms = now_ms + (int64_t)CY_GRANT_LIFETIME_S * 1000 + GRANT_MARGIN_MS;
	g->flows = flows;
	if (grant_valid(n, g, why, sizeof(why)))
		return true;
	/* The MN gets no key of this tunnel: only the CN has one to drop
	 * (and both the tunnel before, if any). */
	g->acked[0] = ACK_ID;
	grant_end(n, g, why, now_ms);
	return false;
}

static void grant_del(struct grant_table *t, size_t i)
{
	size_t last = t->n - 1;

	if (t->v[i].ending) {
		t->nending--;
		t->ending_next_ok = false;
	}
	grant_unlink(t, i);
	if (i != last) {
		grant_unlink(t, last);
		t->v[i] = t->v[last];
		grant_link(t, i);
	}
	t->n--;
}

enum tell { TOLD, NOBODY, LATER };

/* The Teardown to end side of g: where and under which key its
 * registration is now.  NOBODY: it has no registration or key (revoked,
 * gone); LATER: the store did not answer, or the send failed. */
static enum tell grant_tell(struct nms *n, const struct grant *g, int side)
{
	struct store_node other;
	struct store_reg reg;
	struct nms_key *k;
	uint8_t msg[CY_FQDN_MAX + CY_REASON_MAX + 64];
	struct cy_builder b;
	int rc = nms_reg_get(n, g->node[side], &reg);

	if (rc == -ENOENT)
		return NOBODY;
	if (rc < 0)
		return LATER;
	if (!(k = nms_key_find(n, reg.key_id)))
		return NOBODY;
	rc = nms_node_by_id(n, g->node[!side], &other);
	if (rc < 0)
		return rc == -ENOENT ? NOBODY : LATER;
	for (int i = 0; i < 2; i++) {
		uint64_t id = i ? g->prev_id : g->tunnel_id;

		if (!id || (g->acked[side] & (i ? ACK_PREV : ACK_ID)))
			continue;
		cy_build_start(&b, msg, sizeof(msg), CY_TEARDOWN);
		cy_put_u64(&b, CY_A_TUNNEL_ID, id);
		cy_put_str(&b, CY_A_FQDN, other.fqdn);
		cy_put_str(&b, CY_A_REASON, g->reason);
		if (g->result != CY_OK)
			cy_put_u8(&b, CY_A_RESULT, g->result);
		cy_put_u64(&b, CY_A_TIME, (uint64_t)clock_now() * 1000);
		if (nms_send_sealed(n, k, (const struct sockaddr *)&reg.observed, msg,
				    (size_t)cy_build_finish(&b)) < 0)
			return LATER;
	}
	return TOLD;
}

/* Tell the ends not acknowledged yet, again.  False: nobody is left to
 * tell, or it was told GRANT_TRIES times: the grant goes. */
static bool grant_retell(struct nms *n, struct grant *g, int64_t now_ms)
{
	bool more = false;

	if (g->tries >= g->max_tries)
		return false;
	for (int side = 0; side < 2; side++) {
		if (g->acked[side] == ACK_ALL)
			continue;
		if (grant_tell(n, g, side) == NOBODY)
			g->acked[side] = ACK_ALL;   /* nobody to wait for */
		else
			more = true;
	}
	g->tries++;
	g->next_ms = now_ms + (g->tries < GRANT_FAST_TRIES ? GRANT_RETX_MS : GRANT_SLOW_RETX_MS);
	n->grants->ending_next_ok = false;
	return more;
}

static void grant_end(struct nms *n, struct grant *g, const char *why, int64_t now_ms)
{
	uint64_t tunnel_id = g->tunnel_id, prev_id = g->prev_id;

	g->ending = true;
	if (!g->max_tries)
		g->max_tries = GRANT_TRIES;
	/* Nothing to wait for of an id there is none of. */
	if (!prev_id) {
		g->acked[0] |= ACK_PREV;
		g->acked[1] |= ACK_PREV;
	}
	n->grants->nending++;
	snprintf(g->reason, sizeof(g->reason), "%.*s", (int)sizeof(g->reason) - 1, why);
	n->stats.teardowns++;
	log_info("nms: tunnel %016" PRIx64 " torn down: %s", g->tunnel_id, g->reason);
	grant_retell(n, g, now_ms);
	/* A selection of either still waiting on its CN ends too. */
	route_grant_ended(n, tunnel_id);
	if (prev_id)
		route_grant_ended(n, prev_id);
}

/* A Teardown of tunnel_id alone, to one end of the pair mn, cn (side 0
 * the MN, 1 the CN), apart from the pair's grant: a record that only
 * tells, max_tries times at most. */
static void grant_tell_alone(struct nms *n, uint64_t tunnel_id, int64_t mn, int64_t cn,
			     int side, uint8_t result, const char *why, int max_tries,
			     int64_t now_ms)
{
	struct grant *g = grant_new(n->grants);

	if (!g) {
		LOG_RATELIMITED(&n->rl_log, "nms: cannot tell an end of tunnel %016" PRIx64
				" to drop it", tunnel_id);
		return;
	}
	g->node[0] = mn;
	g->node[1] = cn;
	g->tunnel_id = tunnel_id;
	g->expires_ms = now_ms + (int64_t)CY_GRANT_LIFETIME_S * 1000 + GRANT_MARGIN_MS;
	grant_link(n->grants, (size_t)(g - n->grants->v));
	g->acked[!side] = ACK_ALL;
	g->result = result;
	g->max_tries = max_tries;
	grant_end(n, g, why, now_ms);
}

void grant_cancel(struct nms *n, uint64_t tunnel_id, int64_t mn, int64_t cn, uint8_t result,
		  const char *why, int64_t now_ms)
{
	struct grant_table *t = n->grants;
	struct grant *g = grant_of_pair(t, mn, cn);

	/* Nothing of this tunnel stays granted: the pair's grant goes back
	 * to the tunnel it had before (the nodes may hold it still: the CN
	 * never got this one, or two selections raced), or goes when there
	 * was none.  A grant that ended already told both ends. */
	if (g && g->tunnel_id == tunnel_id) {
		g->tunnel_id = g->prev_id;
		g->prev_id = 0;
		if (!g->tunnel_id)
			grant_del(t, (size_t)(g - t->v));
	} else if (g && g->prev_id == tunnel_id) {
		g->prev_id = 0;
	}
	/* The CN refused, or never confirmed: it holds nothing the NMS
	 * knows of (one that confirms late is told: grant_drop_cn).  The MN
	 * waits on the tunnel: told quickly, and not for long (its own
	 * handshake gives up in seconds anyway). */
	grant_tell_alone(n, tunnel_id, mn, cn, 0, result, why, GRANT_FAST_TRIES, now_ms);
}

void grant_drop_cn(struct nms *n, uint64_t tunnel_id, int64_t mn, int64_t cn, const char *why,
		   int64_t now_ms)
{
	grant_tell_alone(n, tunnel_id, mn, cn, 1, CY_OK, why, GRANT_TRIES, now_ms);
}

/* Whether g may go on: its nodes not revoked, the policy allowing them.
 * why gets the reason when not. */
static bool grant_valid(struct nms *n, const struct grant *g, char *why, size_t len)
{
	struct store_node a, b;
	int ra = nms_node_by_id(n, g->node[0], &a);
	int rb = nms_node_by_id(n, g->node[1], &b);

	if (ra == -ENOENT || rb == -ENOENT) {
		snprintf(why, len, "a node was removed");
		return false;
	}
	if (ra < 0 || rb < 0)
		return true;      /* the store is not answering: decide later */
	if (a.revoked || b.revoked) {
		snprintf(why, len, "%s revoked", a.revoked ? a.fqdn : b.fqdn);
		return false;
	}
	if (!nms_policy_decide(n, &a, &b)) {
		snprintf(why, len, "%s -> %s no longer allowed by the access policy", a.fqdn,
			 b.fqdn);
		return false;
	}
	if (nms_policy_flows_hash(n, &a, &b) != g->flows) {
		snprintf(why, len, "the access policy changed what %s and %s may send", a.fqdn,
			 b.fqdn);
		return false;
	}
	return true;
}

void grants_check(struct nms *n, int64_t now_ms)
{
	struct grant_table *t = n->grants;
	char why[2 * CY_FQDN_MAX + 64];

	for (size_t i = 0; i < t->n; i++) {
		struct grant *g = &t->v[i];

		if (!g->ending && !grant_valid(n, g, why, sizeof(why)))
			grant_end(n, g, why, now_ms);
	}
}

void grants_sweep(struct nms *n, int64_t now_ms)
{
	struct grant_table *t = n->grants;
	char why[2 * CY_FQDN_MAX + 64];

	for (size_t done = 0; done < GRANT_SWEEP && done < t->n; done++) {
		struct grant *g;

		if (t->sweep >= t->n)
			t->sweep = 0;
		g = &t->v[t->sweep++];
		if (!g->ending && !grant_valid(n, g, why, sizeof(why)))
			grant_end(n, g, why, now_ms);
	}
}

bool grant_ack(struct nms *n, struct nms_key *k, const struct cy_msg *m)
{
	struct grant_table *t = n->grants;
	bool found = false;
	uint64_t tid;

	if (!cy_msg_u64(m, CY_A_TUNNEL_ID, &tid)) {
		n->stats.malformed++;
		return true;
	}
	/* Every ending grant naming it (a pair's, and a Teardown told alone
	 * may both): each end acknowledges each id. */
	for (size_t i = 0; i < t->n; i++) {
		struct grant *g = &t->v[i];

		if ((g->tunnel_id != tid && g->prev_id != tid) || !g->ending)
			continue;
		for (int side = 0; side < 2; side++)
			if (g->node[side] == k->node_id)
				g->acked[side] |= g->tunnel_id == tid ? ACK_ID : ACK_PREV;
		found = true;
	}
	return found;
}

void grants_tick(struct nms *n, int64_t now_ms)
{
	struct grant_table *t = n->grants;

	for (size_t i = 0; i < t->n;) {
		struct grant *g = &t->v[i];
		bool done = now_ms >= g->expires_ms;

		if (!done && g->ending) {
			done = g->acked[0] == ACK_ALL && g->acked[1] == ACK_ALL;
			if (!done && now_ms >= g->next_ms)
				done = !grant_retell(n, g, now_ms);
		}
		if (done)
			grant_del(t, i);
		else
			i++;
	}
}

int64_t grants_next_ms(const struct nms *n)
{
	const struct grant_table *t = n->grants;
	int64_t next = INT64_MAX;

	/* Expiries are swept by nms_expire: only teardowns need the timer.
	 * Asked after every batch of datagrams: the earliest is kept until
	 * a teardown starts, retells or goes. */
	if (!t->nending)
		return INT64_MAX;
	if (t->ending_next_ok)
		return t->ending_next_ms;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].ending && t->v[i].next_ms < next)
			next = t->v[i].next_ms;
	n->grants->ending_next_ms = next;
	n->grants->ending_next_ok = true;
	return next;
}
