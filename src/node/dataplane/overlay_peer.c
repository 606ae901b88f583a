/* The overlay's peer state machine (overlay_impl.h): sending to a peer and
 * following it, a peer's way from selecting to up or failed, the waiters
 * answered on the way, and the duties of each tick. */
#include "overlay_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "dpio.h"
#include "flowcheck.h"
#include "localaddr.h"
#include "log.h"
#include "tunnel.h"

/* The first handshake retries every second for this long. */
#define OVERLAY_FAST_RETRY_FOR_MS 10000

const char *peer_name(const struct peer *p, char *buf, size_t len)
{
	if (p->fqdn[0])
		return p->fqdn;
	if (p->have_vip4)
		return inet_ntop(AF_INET, &p->vip4, buf, (socklen_t)len);
	if (p->have_vip6)
		return inet_ntop(AF_INET6, &p->vip6, buf, (socklen_t)len);
	return "?";
}

/* ---- sending ---- */

struct dpio_port *port_to(const struct overlay *o, const struct peer *p,
			  const struct sockaddr *to)
{
	if (p && p->alt && !addr_equal(to, &p->route_peer.sa))
		return p->alt;
	return o->port;
}

int send_via(struct overlay *o, const struct peer *p, const uint8_t *buf, size_t len,
	     const struct sockaddr *to)
{
	return dpio_send(port_to(o, p, to), buf, len, to);
}

int send_to(struct overlay *o, struct peer *p, const uint8_t *buf, size_t len,
	    const struct sockaddr *to)
{
	int err = send_via(o, p, buf, len, to);

	if (err == 0 && p) {
		p->last_tx_ms = clock_coarse_ms();
		p->ack_due_since_ms = 0;
	}
	return err;
}

int send_peer(struct overlay *o, struct peer *p, const uint8_t *buf, size_t len)
{
	if (!p->have_endpoint)
		return -EDESTADDRREQ;
	return send_to(o, p, buf, len, (const struct sockaddr *)&p->endpoint);
}

int seal_send(struct overlay *o, struct peer *p, const uint8_t *pkt, size_t len)
{
	ssize_t n = tunnel_seal(p->tunnel, pkt, len, o->out, OVERLAY_BUF);

	return n > 0 ? send_peer(o, p, o->out, (size_t)n) : (int)n;
}

/* An authenticated message came from from: send there from now on
 * (the peer moved, or its NAPT mapping towards us differs from the one
 * the NMS observed), as WireGuard does. */
static void set_endpoint(struct peer *p, const struct sockaddr *to)
{
	memset(&p->endpoint, 0, sizeof(p->endpoint));
	memcpy(&p->endpoint, to, addr_len(to));
	p->have_endpoint = true;
}

bool on_relay(const struct peer *p)
{
	return p->relay && p->have_endpoint && addr_equal(&p->endpoint.sa, &p->route_peer.sa);
}

void roam(struct overlay *o, struct peer *p, const struct sockaddr *from)
{
	char a[ADDR_STR_MAX], b[ADDR_STR_MAX], nb[INET6_ADDRSTRLEN];
	int64_t now;
	bool back;

	/* Every Data datagram comes here: nothing before this test. */
	if (p->have_endpoint && addr_equal(&p->endpoint.sa, from))
		return;
	if (from->sa_family != AF_INET && from->sa_family != AF_INET6)
		return;
	/* Off the relay only to where the peer proved a direct path: its
	 * probe came from there and we answered it.  An authentic packet
	 * from anywhere else (the TRS sending one of those it forwards from
	 * another address, or someone who copied one on its way) is taken
	 * but moves nothing: it would send the tunnel's traffic there. */
	if (on_relay(p) && !punch_answered_from(o->punches, p->tunnel_id, from)) {
		if (ratelimit_ok(&o->rl_roam))
			log_info("peer %s: a packet from %s, where no probe of its came from: "
				 "staying on the relay", peer_name(p, nb, sizeof(nb)),
				 addr_str(from, b));
		return;
	}
	now = clock_now_ms();
	back = p->relay && !on_relay(p) && addr_equal(from, &p->route_peer.sa);
	/* Through the relay while on the punched path: the peer has not
	 * switched yet (just punched), or it fell back (its direct path
	 * died): only the second moves us. */
	if (back && now - p->punched_ms < OVERLAY_PUNCH_SETTLE_MS)
		return;
	if (ratelimit_ok(&o->rl_roam))
		log_info("peer %s: endpoint %s -> %s", peer_name(p, nb, sizeof(nb)),
			 p->have_endpoint ? addr_str((const struct sockaddr *)&p->endpoint, a) : "-",
			 addr_str(from, b));
	set_endpoint(p, from);
	if (back) {
		/* Punch again: the burst finds the path if it still works,
		 * else the tunnel asks again every PUNCH_AGAIN_MS. */
		punch_restart(o->punches, p->tunnel_id, NULL, now);
		o->punch_next_ms = punch_next_ms(o->punches);
	} else if (p->relay && !on_relay(p)) {
		/* The peer took a direct path it punched (its probe was
		 * answered before ours): ours are not needed any more. */
		p->punched_ms = now;
		p->birthday = punch_mode(o->punches, p->tunnel_id) != CY_PUNCH_PLAIN;
		punch_stop(o->punches, p->tunnel_id);
	}
}

/* ---- up, failed, selecting ---- */

const char *status_reason(int st)
{
	switch (st) {
	case RESOLVER_NXDOMAIN: return "unknown name or address";
	case RESOLVER_REFUSED: return "refused by policy";
	default: return "unreachable (route selection or tunnel set-up failed)";
	}
}

static void waiters_complete(struct overlay *o, struct peer *p, int st, const char *why)
{
	for (unsigned i = 0; i < p->nwaiters; i++) {
		struct peer_waiter *w = &p->waiters[i];
		struct overlay_ping *pg;

		if (w->kind == PEER_WAIT_DNS) {
			if (o->ops->dns_complete)
				o->ops->dns_complete(o->arg, w->token, (enum resolver_status)st,
						     p->have_vip4 ? &p->vip4 : NULL,
						     p->have_vip6 ? &p->vip6 : NULL);
			continue;
		}
		pg = ping_find(&o->pings, (uint32_t)w->token);
		if (pg && st == RESOLVER_OK)
			ping_run(pg, on_relay(p));
		else if (pg)
			ping_fail(pg, why);
	}
	peer_waiters_clear(p);
}

void peer_up(struct overlay *o, struct peer *p)
{
	const uint8_t *pkt;
	char nb[INET6_ADDRSTRLEN];
	size_t len;

	if (p->state != PEER_UP) {
		log_info("tunnel %016" PRIx64 " to %s is up", p->tunnel_id,
			 peer_name(p, nb, sizeof(nb)));
		o->st.hs_completed++;
	}
	p->state = PEER_UP;
	p->neg_until_ms = 0;
	/* A direct tunnel's probes only opened the way for the handshake:
	 * its entry goes (a peer costs under 1 KB, docs/performance.md). */
	if (!p->relay)
		punch_del(o->punches, p->tunnel_id);
	while ((pkt = peer_queue_front(p, &len))) {
		/* Queued before the route said what the policy allows. */
		if (p->rules && !flow_allowed(p->rules, pkt, len, true))
			o->drops.policy++;
		else
			seal_send(o, p, pkt, len);
		peer_queue_pop(p);
	}
	waiters_complete(o, p, RESOLVER_OK, NULL);
}

/* Answer what waits, drop the queue, remember the failure for
 * PEER_NEG_MS. */
void peer_failed(struct overlay *o, struct peer *p, int st)
{
	p->state = PEER_FAILED;
	p->req_id = 0;
	p->neg_status = st;
	p->neg_until_ms = clock_now_ms() + PEER_NEG_MS;
	o->drops.no_route += peer_queue_clear(p);
	waiters_complete(o, p, st, status_reason(st));
}

int start_selection(struct overlay *o, struct peer *p, const char *fqdn, const uint8_t *vip4,
		    const uint8_t *vip6)
{
	uint32_t req = 0;
	int err;

	if (p->req_id || p->tunnel)
		return 0;
	err = o->ops->direction_request(o->arg, fqdn, vip4, vip6, &req);
	if (err < 0)
		return err;
	p->req_id = req;
	p->state = PEER_SELECTING;
	return 0;
}

/* The tunnel is gone (the peer lost it, or its relay session): select
 * again by name when select, else wait for the peer's route. */
static void peer_restart(struct overlay *o, struct peer *p, int64_t now, bool select)
{
	peer_set_tunnel(p, NULL, 0, now);
	p->state = PEER_IDLE;
	p->unanswered_since_ms = 0;
	if (select && start_selection(o, p, p->fqdn, NULL, NULL) < 0)
		peer_failed(o, p, RESOLVER_SERVFAIL);
}

/* ---- the path: direct (punched) or through the relay ---- */

/* The punched path has carried nothing back for OVERLAY_DIRECT_DEAD_MS
 * (maybe only because the traffic is one way): a burst to it.  An ack
 * keeps it (path_punched), none sends the tunnel back to the relay
 * (punch_failed -> path_fallback). */
static void path_check(struct overlay *o, struct peer *p, int64_t now)
{
	p->path_check = true;
	punch_restart(o->punches, p->tunnel_id, &p->endpoint.sa, now);
	o->punch_next_ms = punch_next_ms(o->punches);
}

/* The punched path stopped answering: back to the relay session the
 * tunnel kept (same session, same End Key), and punch again at once (the
 * loss may have been a flushed mapping that a new probe opens again). */
static void path_fallback(struct overlay *o, struct peer *p, int64_t now)
{
	char nb[INET6_ADDRSTRLEN], a[ADDR_STR_MAX];

	log_info("tunnel %016" PRIx64 " to %s: nothing back on the direct path %s for %d ms, "
		 "back to the relay", p->tunnel_id, peer_name(p, nb, sizeof(nb)),
		 addr_str(&p->endpoint.sa, a), OVERLAY_DIRECT_DEAD_MS);
	set_endpoint(p, &p->route_peer.sa);
	p->unanswered_since_ms = now;
	p->path_check = false;
	o->st.path_fallbacks++;
	punch_restart(o->punches, p->tunnel_id, NULL, now);
	o->punch_next_ms = punch_next_ms(o->punches);
}

void path_punched(struct overlay *o, struct peer *p, const struct sockaddr *from)
{
	char nb[INET6_ADDRSTRLEN], a[ADDR_STR_MAX];

	/* An answer on the path, whatever it is now. */
	p->unanswered_since_ms = 0;
	p->path_check = false;
	if (!p->relay || (!on_relay(p) && addr_equal(&p->endpoint.sa, from)))
		return;
	o->st.punched++;
	log_info("tunnel %016" PRIx64 " to %s: direct path to %s found by punching, "
		 "leaving the relay", p->tunnel_id, peer_name(p, nb, sizeof(nb)),
		 addr_str(from, a));
	set_endpoint(p, from);
	p->punch = true;
	p->birthday = punch_mode(o->punches, p->tunnel_id) != CY_PUNCH_PLAIN;
	p->punched_ms = clock_now_ms();
}

/* A candidate: both ends burst.  A direct route: only the responder does
 * (the initiator's Request opens its own way), unless the Request came
 * and was answered already; the initiator's entry answers its probes
 * until the tunnel is up (peer_up drops it). */
void punch_route(struct overlay *o, struct peer *p, const struct sig_route *r, int64_t now)
{
	/* The birthday approach only beside a relay (the NMS's choice). */
	uint8_t mode = r->have_cand && p->relay ? r->punch_mode : CY_PUNCH_PLAIN;
	const struct sockaddr *cand = NULL;
	bool burst = true;
	ssize_t n;

	if (r->have_cand) {
		cand = (const struct sockaddr *)&r->cand;
	} else if (r->path == CY_PATH_DIRECT && p->have_endpoint && p->state != PEER_UP) {
		cand = (const struct sockaddr *)&r->peer;
		burst = r->role == CY_ROLE_RESPONDER;
	}
	p->punch = r->have_cand;
	p->birthday = false;
	if (!cand)
		return;
	n = punch_add(o->punches, r->tunnel_id, r->key, (uint8_t)r->role, cand,
		      r->have_cand ? r->ticket : NULL, burst, mode, p->relay ? PUNCH_AGAIN_MS : 0,
		      now, o->out, OVERLAY_BUF);
	if (n > 0)
		send_via(o, p, o->out, (size_t)n, cand);
	if (n >= 0 && burst && mode == CY_PUNCH_MANY)
		punch_many(o, p, cand);
	o->punch_next_ms = punch_next_ms(o->punches);
}

/* ---- each tick ---- */

/* The first handshake retries every second for a while, not only every
 * TUNNEL_REKEY_TIMEOUT_MS: a lost Request should not cost a waiting DNS
 * client 5 s.  True when it sent one. */
static bool fast_retry(struct overlay *o, struct peer *p, int64_t now)
{
	struct tunnel_info ti;
	ssize_t n;

	if (p->state != PEER_HANDSHAKE || now - p->tunnel_at_ms >= OVERLAY_FAST_RETRY_FOR_MS ||
	    now - p->last_tx_ms < OVERLAY_TICK_MS)
		return false;
	tunnel_get_info(p->tunnel, &ti);
	if (ti.state != TUNNEL_HANDSHAKE)
		return false;
	n = tunnel_initiate(p->tunnel, o->out, OVERLAY_BUF);
	if (n > 0)
		send_peer(o, p, o->out, (size_t)n);
	return true;
}

/* The tunnel's own timers (retransmit, rekey).  False when the handshake
 * gave up and p failed. */
static bool tunnel_timers(struct overlay *o, struct peer *p, int64_t now)
{
	struct tunnel_info ti;
	ssize_t n = tunnel_tick(p->tunnel, o->out, OVERLAY_BUF);

	if (n > 0) {
		send_peer(o, p, o->out, (size_t)n);
		return true;
	}
	if (n != -ETIMEDOUT)
		return true;
	tunnel_get_info(p->tunnel, &ti);
	if (ti.state == TUNNEL_ESTABLISHED)
		return true;
	peer_set_tunnel(p, NULL, 0, now);
	peer_failed(o, p, RESOLVER_SERVFAIL);
	return false;
}

/* We wait for the initiator's Request and none came while it retried
 * every second: its Requests do not get through (a firewall our probe
 * could not open, an address the NMS saw that is not ours any more).
 * The tunnel goes and what waits on it fails, as when an initiator's
 * handshake times out; the next lookup or packet selects again.  True
 * when it went. */
static bool request_never_came(struct overlay *o, struct peer *p, int64_t now)
{
	char nb[INET6_ADDRSTRLEN];
	struct tunnel_info ti;

	if (p->state != PEER_HANDSHAKE || now - p->tunnel_at_ms < OVERLAY_FAST_RETRY_FOR_MS)
		return false;
	tunnel_get_info(p->tunnel, &ti);
	if (ti.state != TUNNEL_IDLE)
		return false;
	log_info("tunnel %016" PRIx64 " to %s: no Tunnel Request in %d s, giving it up",
		 p->tunnel_id, peer_name(p, nb, sizeof(nb)), OVERLAY_FAST_RETRY_FOR_MS / 1000);
	o->st.requests_missed++;
	peer_set_tunnel(p, NULL, 0, now);
	peer_failed(o, p, RESOLVER_SERVFAIL);
	return true;
}

void peer_tick(struct overlay *o, struct peer *p, int64_t now)
{
	char nb[INET6_ADDRSTRLEN];

	if (!p->tunnel || fast_retry(o, p, now) || !tunnel_timers(o, p, now) ||
	    request_never_came(o, p, now))
		return;
	if (p->state != PEER_UP)
		return;
	/* Its authorisation ran out: the NMS decides again (docs/policy.md).
	 * The end that asked for it selects; the other waits for the route. */
	if (now - p->tunnel_at_ms >= (int64_t)CY_GRANT_LIFETIME_S * 1000) {
		log_info("tunnel %016" PRIx64 " to %s: its authorisation of %d s ran out, "
			 "selecting the route again", p->tunnel_id, peer_name(p, nb, sizeof(nb)),
			 CY_GRANT_LIFETIME_S);
		o->st.regrants++;
		peer_restart(o, p, now, p->fqdn[0] && !p->tunnel_as_cn);
		return;
	}
	if (p->relay && !on_relay(p) && p->unanswered_since_ms && !p->path_check &&
	    now - p->unanswered_since_ms >= OVERLAY_DIRECT_DEAD_MS)
		path_check(o, p, now);
	if (p->unanswered_since_ms && now - p->unanswered_since_ms >= OVERLAY_DEAD_MS &&
	    p->fqdn[0]) {
		log_info("tunnel %016" PRIx64 " to %s: nothing received for %d s after sending, "
			 "selecting the route again", p->tunnel_id, peer_name(p, nb, sizeof(nb)),
			 OVERLAY_DEAD_MS / 1000);
		peer_restart(o, p, now, true);
		return;
	}
	if (p->ack_due_since_ms && now - p->ack_due_since_ms >= OVERLAY_ACK_MS)
		seal_send(o, p, NULL, 0);
	if (now - p->last_tx_ms >= OVERLAY_KEEPALIVE_MS)
		seal_send(o, p, NULL, 0);
}

/* ---- relay liveness ---- */

/* relay_tick, punch_tick: a tunnel's entry lives as long as its peer
 * holds the tunnel. */
static bool tunnel_alive(void *ctx, uint64_t tunnel_id)
{
	struct overlay *o = ctx;
	struct peer *p = peer_by_tid(o->peers, tunnel_id);

	return p && p->tunnel && p->tunnel_id == tunnel_id;
}

/* relay_tick: hellos leave through our port. */
static void port_send(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	struct overlay *o = ctx;

	dpio_send(o->port, buf, len, to);
}

/* punch_tick: probes leave from where the tunnel's direct path does. */
static void punch_send(void *ctx, uint64_t tunnel_id, const uint8_t *buf, size_t len,
		       const struct sockaddr *to)
{
	struct overlay *o = ctx;

	send_via(o, peer_by_tid(o->peers, tunnel_id), buf, len, to);
}

/* relay_tick: the TRS acknowledged none of the last hellos, the relay
 * session is gone (TRS restarted, session expired).  The tunnel goes; the
 * initiator selects the route again (the NMS asks the TRS for a new
 * session), the responder waits for that route unless something of its
 * own waits for the tunnel. */
static void relay_dead(void *ctx, uint64_t tunnel_id)
{
	struct overlay *o = ctx;
	struct peer *p = peer_by_tid(o->peers, tunnel_id);
	char nb[INET6_ADDRSTRLEN];
	bool again;

	if (!p || !p->tunnel || p->tunnel_id != tunnel_id)
		return;
	if (!on_relay(p)) {
		/* Its data goes the punched direct path: it stays there, as a
		 * direct tunnel from now on (nothing to fall back to). */
		log_info("tunnel %016" PRIx64 " to %s: the TRS acknowledged none of %d Relay "
			 "Hellos; the tunnel keeps its direct path", tunnel_id,
			 peer_name(p, nb, sizeof(nb)), RELAY_DEAD_HELLOS);
		p->relay = false;
		return;
	}
	again = p->fqdn[0] && (!p->tunnel_as_cn || p->nwaiters || p->qcount);
	log_info("tunnel %016" PRIx64 " to %s: the TRS acknowledged none of %d Relay Hellos, "
		 "relay session lost%s", tunnel_id, peer_name(p, nb, sizeof(nb)),
		 RELAY_DEAD_HELLOS, again ? ", selecting the route again" : "");
	peer_restart(o, p, clock_now_ms(), again);
}

void peer_relay_tick(struct overlay *o, int64_t now)
{
	relay_tick(o->relays, now,
		   &(struct relay_cb){ .alive = tunnel_alive, .send = port_send,
				       .dead = relay_dead, .ctx = o });
}

/* ---- punching ---- */

static void punch_failed(void *ctx, uint64_t tunnel_id)
{
	struct overlay *o = ctx;
	struct peer *p = peer_by_tid(o->peers, tunnel_id);
	char nb[INET6_ADDRSTRLEN];

	o->st.punch_failed++;
	spares_check(o);
	if (p && p->relay && !on_relay(p) && p->path_check) {
		path_fallback(o, p, clock_now_ms());
		return;
	}
	if (!p || !p->relay || !on_relay(p))
		return;
	log_info("tunnel %016" PRIx64 " to %s: no direct path found by punching, staying on "
		 "the relay", tunnel_id, peer_name(p, nb, sizeof(nb)));
	/* The NMS does not know yet how our NAPT maps us (a TRS just told
	 * us): it may know a better way to punch.  Ask now. */
	if (o->mapping != CY_MAP_UNKNOWN && o->mapping != o->mapping_told && p->fqdn[0])
		punch_ask(o, p);
}

/* A relayed tunnel tries again now and then.  The NMS sends both ends
 * where it sees the other now (a NAPT may have changed, or restarted),
 * asked by either end; with no NMS to ask, another burst towards
 * the candidate it has. */
void punch_ask(struct overlay *o, struct peer *p)
{
	uint8_t ticket[CY_TICKET_LEN];
	int64_t now = clock_now_ms();

	if (!o->ops->punch_request) {
		punch_restart(o->punches, p->tunnel_id, NULL, now);
		o->mapping_told = o->mapping;   /* nobody to tell: no asking at once */
	} else if (punch_ticket(o->punches, p->tunnel_id, ticket) == 0) {
		if (o->ops->punch_request(o->arg, p->fqdn, p->tunnel_id, ticket, o->mapping) == 0)
			o->mapping_told = o->mapping;
		/* Not retransmitted: asked again later whatever comes of it. */
		punch_wait(o->punches, p->tunnel_id, PUNCH_AGAIN_MS, now);
	}
	o->punch_next_ms = punch_next_ms(o->punches);
}

static void punch_again(void *ctx, uint64_t tunnel_id)
{
	struct overlay *o = ctx;
	struct peer *p = peer_by_tid(o->peers, tunnel_id);

	if (p && on_relay(p) && p->fqdn[0])
		punch_ask(o, p);
}

void peer_punch_tick(struct overlay *o, int64_t now)
{
	punch_tick(o->punches, now,
		   &(struct punch_cb){ .alive = tunnel_alive, .send = punch_send,
				       .failed = punch_failed, .again = punch_again, .ctx = o });
	o->punch_next_ms = punch_next_ms(o->punches);
}

/* ---- the birthday approach's hard side (docs/nat.md) ---- */

static void spares_close(struct overlay *o)
{
	dpio_spares_free(o->spares);
	o->spares = NULL;
	o->spares_tid = 0;
}

void spares_check(struct overlay *o)
{
	if (o->spares && (!punch_bursting(o->punches, o->spares_tid) ||
			  punch_mode(o->punches, o->spares_tid) != CY_PUNCH_MANY))
		spares_close(o);
}

/* Each socket's probe opens a mapping of our NAPT towards the candidate
 * at a port of its own choosing; the peer's spray may hit one.  One set
 * per identity at a time: a second tunnel's burst only waits. */
void punch_many(struct overlay *o, struct peer *p, const struct sockaddr *cand)
{
	char nb[INET6_ADDRSTRLEN], a[ADDR_STR_MAX];
	unsigned sent = 0;
	ssize_t n;

	spares_check(o);
	if (o->spares && o->spares_tid != p->tunnel_id)
		return;
	spares_close(o);
	n = punch_many_probe(o->punches, p->tunnel_id, clock_now_ms(), o->out, OVERLAY_BUF);
	if (n <= 0)
		return;
	o->spares = dpio_spares_open(o->port, PUNCH_MANY_SOCKETS, spare_input, o);
	if (!o->spares)
		return;
	o->spares_tid = p->tunnel_id;
	for (unsigned k = 0; k < dpio_spares_count(o->spares); k++)
		sent += dpio_spares_send(o->spares, k, o->out, (size_t)n, cand) == 0;
	log_info("tunnel %016" PRIx64 " to %s: the birthday approach: %u probes to %s, each from "
		 "a socket of its own", p->tunnel_id, peer_name(p, nb, sizeof(nb)), sent,
		 addr_str(cand, a));
}

bool spare_adopt(struct overlay *o, struct peer *p, unsigned idx)
{
	char nb[INET6_ADDRSTRLEN];
	struct dpio_port *port;

	if (!o->spares || o->spares_tid != p->tunnel_id)
		return false;
	port = dpio_spares_adopt(o->spares, idx);
	spares_close(o);
	if (!port)
		return false;
	peer_drop_alt(p);
	p->alt = port;
	log_info("tunnel %016" PRIx64 " to %s: the birthday approach met on socket %u (port %u)",
		 p->tunnel_id, peer_name(p, nb, sizeof(nb)), idx, dpio_port_number(port));
	return true;
}

/* ---- moving ---- */

/* The peer's endpoint cannot be reached from here (an IPv4 peer and an
 * IPv6-only network now, or the other way round): only the NMS knows
 * another way to it. */
static void move_unreachable(struct overlay *o, struct peer *p, int64_t now)
{
	char nb[INET6_ADDRSTRLEN], a[ADDR_STR_MAX];

	log_info("tunnel %016" PRIx64 " to %s: %s cannot be reached from here, "
		 "selecting the route again", p->tunnel_id, peer_name(p, nb, sizeof(nb)),
		 addr_str(&p->endpoint.sa, a));
	o->st.moves_reselected++;
	peer_restart(o, p, now, p->fqdn[0]);
}

/* False when the kernel has no way to the peer any more (the routing table
 * was still settling when the move was noticed). */
static bool move_probe(struct overlay *o, struct peer *p, int64_t now)
{
	uint8_t probe[PROBE_LEN];
	int err;

	probe_build_move(probe, (uint32_t)(now - p->move_since_ms));
	err = seal_send(o, p, probe, sizeof(probe));
	p->move_sent_ms = now;
	return err != -ENETUNREACH && err != -EHOSTUNREACH && err != -EADDRNOTAVAIL;
}

void peer_move(struct overlay *o, struct peer *p, int64_t now)
{
	struct sockaddr_storage src;

	if (!p->tunnel || !p->have_endpoint)
		return;
	/* The birthday approach's socket was one mapping of the NAPT we
	 * were behind: from here the tunnel goes from our own socket. */
	peer_drop_alt(p);
	/* A punched path does not survive our NAPT changing: back to the
	 * relay (its hello went first), and both ends punch again towards
	 * where the NMS sees them now. */
	if (p->relay && p->punch && p->fqdn[0]) {
		if (!on_relay(p))
			set_endpoint(p, &p->route_peer.sa);
		punch_ask(o, p);
	}
	/* A move on top of one in progress (a flapping link) keeps its
	 * deadline: changes faster than OVERLAY_MOVE_WAIT_MS must not put
	 * off the re-selection forever. */
	if (!p->move_since_ms)
		p->move_since_ms = now;
	if (localaddr_route_src(&p->endpoint.sa, &src) < 0 || !move_probe(o, p, now))
		move_unreachable(o, p, now);
}

void peer_move_done(struct overlay *o, struct peer *p)
{
	char nb[INET6_ADDRSTRLEN];

	if (!p->move_since_ms)
		return;
	log_info("tunnel %016" PRIx64 " to %s: the peer follows the move (%" PRId64 " ms)",
		 p->tunnel_id, peer_name(p, nb, sizeof(nb)), clock_now_ms() - p->move_since_ms);
	p->move_since_ms = 0;
	o->st.moves_confirmed++;
}

int64_t peer_move_tick(struct overlay *o, struct peer *p, int64_t now)
{
	char nb[INET6_ADDRSTRLEN];

	if (!p->move_since_ms || !p->tunnel)
		return INT64_MAX;
	if (now - p->move_since_ms >= OVERLAY_MOVE_WAIT_MS) {
		/* The peer moved too, or this path cannot work (a NAPT on
		 * both sides now, another address family): ask the NMS. */
		log_info("tunnel %016" PRIx64 " to %s: no answer %d ms after the move, "
			 "selecting the route again", p->tunnel_id, peer_name(p, nb, sizeof(nb)),
			 OVERLAY_MOVE_WAIT_MS);
		o->st.moves_reselected++;
		peer_restart(o, p, now, p->fqdn[0]);
		return INT64_MAX;
	}
	if (now - p->move_sent_ms >= OVERLAY_MOVE_RETRY_MS && !move_probe(o, p, now)) {
		move_unreachable(o, p, now);
		return INT64_MAX;
	}
	return p->move_sent_ms + OVERLAY_MOVE_RETRY_MS < p->move_since_ms + OVERLAY_MOVE_WAIT_MS
		       ? p->move_sent_ms + OVERLAY_MOVE_RETRY_MS
		       : p->move_since_ms + OVERLAY_MOVE_WAIT_MS;
}
