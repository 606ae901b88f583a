/* Packets into the overlay (overlay_impl.h): datagrams by their type byte
 * (Data, the handshake, Relay Acks), the inner packets they carry (to the
 * local side, or a probe), and packets from the local side (sealed to
 * their peer, or queued while its tunnel is being made). */
#include "overlay_impl.h"

#include <errno.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "dpio.h"
#include "flowcheck.h"
#include "tunnel.h"
#include "wire.h"

/* ---- datagrams ---- */

static void count_data_err(struct overlay *o, ssize_t err)
{
	switch (err) {
	case -EALREADY: o->drops.replay++; break;
	case -EBADMSG: o->drops.auth++; break;
	case -ENOKEY: o->drops.unknown++; break;
	case -EKEYEXPIRED: o->drops.expired++; break;
	default: o->drops.malformed++; break;
	}
}

static void count_hs_err(struct overlay *o, ssize_t err)
{
	switch (err) {
	case -EBADMSG:
	case -EPERM: o->drops.auth++; break;
	case -ESTALE: o->drops.replay++; break;
	case -EALREADY: break;  /* simultaneous open (our Request wins), or a copy */
	case -ENOENT: o->drops.unknown++; break;
	default: o->drops.malformed++; break;
	}
}

/* The inner packet's source must be the peer's VIP (like WireGuard's
 * allowed IPs): a peer cannot inject packets in another node's name. */
static bool inner_src_ok(const struct peer *p, const uint8_t *pkt, size_t len)
{
	switch (pkt[0] >> 4) {
	case 4:
		return len >= 20 && p->have_vip4 && !memcmp(pkt + 12, &p->vip4, 4);
	case 6:
		return len >= 40 && p->have_vip6 && !memcmp(pkt + 8, p->vip6.s6_addr, 16);
	}
	return false;
}

/* ... and its destination one of this identity's VIPs: a node (or an
 * adapter, whose general nodes are identities of their own) delivers only
 * what is addressed to it, and never forwards a peer's packets on to the
 * Internet or a LAN. */
static bool inner_dst_ok(const struct overlay *o, const uint8_t *pkt, size_t len)
{
	if (!o->have_vips)
		return false;
	switch (pkt[0] >> 4) {
	case 4:
		return len >= 20 && !memcmp(pkt + 16, &o->vip4, 4);
	case 6:
		return len >= 40 && !memcmp(pkt + 24, o->vip6.s6_addr, 16);
	}
	return false;
}

/* An inner packet with version nibble 0: a probe of ours (ping.h).  A
 * request is echoed through the same tunnel (sealed beside the request,
 * which sits in o->out). */
static void probe_packet(struct overlay *o, struct peer *p, uint8_t *pkt, size_t len)
{
	uint8_t *echo = o->out + OVERLAY_BUF / 2;
	int r = probe_input(&o->pings, p->fqdn, pkt, len);
	ssize_t n;

	if (r < 0) {
		o->drops.malformed++;
		return;
	}
	if (r == PROBE_IN_MOVED)
		peer_move_done(o, p);
	if (r != PROBE_IN_ECHO)
		return;
	n = tunnel_seal(p->tunnel, pkt, len, echo, OVERLAY_BUF / 2);
	if (n > 0) {
		send_peer(o, p, echo, (size_t)n);
		o->st.probes_echoed++;
	}
}

static void data_input(struct overlay *o, const uint8_t *buf, size_t len,
		       const struct sockaddr *from, uint32_t idx)
{
	struct peer *p = peer_by_index(o->peers, idx);
	ssize_t n;

	if (!p || !p->tunnel) {
		o->drops.unknown++;
		return;
	}
	n = tunnel_open(p->tunnel, buf, len, o->out, OVERLAY_BUF);
	if (n < 0) {
		count_data_err(o, n);
		return;
	}
	/* A packet from elsewhere moves the peer only when it is the newest
	 * (replay window passed and highest counter): an older one, replayed
	 * or late from an address the peer left, is dropped. */
	if (!tunnel_rx_newest(p->tunnel) &&
	    !(p->have_endpoint && addr_equal(&p->endpoint.sa, from))) {
		o->drops.stale_move++;
		return;
	}
	o->st.udp_rx_data++;
	p->last_rx_ms = clock_coarse_ms();
	p->unanswered_since_ms = 0;
	if (n > 0 && !p->ack_due_since_ms)
		p->ack_due_since_ms = p->last_rx_ms;
	roam(o, p, from);
	if (p->state != PEER_UP)
		peer_up(o, p);
	/* The newest Data since our move came back: the peer has the new
	 * path, whether or not the probe's echo is among it (a slow peer). */
	peer_move_done(o, p);
	if (n == 0)
		return;   /* keepalive */
	if ((o->out[0] >> 4) == 0) {
		probe_packet(o, p, o->out, (size_t)n);
		return;
	}
	if (!inner_src_ok(p, o->out, (size_t)n)) {
		o->drops.bad_src++;
		return;
	}
	if (!inner_dst_ok(o, o->out, (size_t)n)) {
		o->drops.bad_dst++;
		return;
	}
	if (p->rules && !flow_allowed(p->rules, o->out, (size_t)n, false)) {
		o->drops.policy++;
		return;
	}
	dpio_deliver(o->port, o->out, (size_t)n);
}

/* A handshake message verified (n: the bytes of our answer in o->out, -errno
 * when it did not): the peer is where it came from, gets the answer (the
 * Response to a Request; the confirming keepalive to a Response), and the
 * tunnel carries data from now on (the responder may send on the new
 * session at once). */
static void hs_done(struct overlay *o, struct peer *p, ssize_t n, const struct sockaddr *from)
{
	if (n < 0) {
		count_hs_err(o, n);
		return;
	}
	/* The handshake of a relayed tunnel runs through the TRS even when a
	 * direct path was punched meanwhile: that one stays. */
	if (!(p->relay && !on_relay(p) && addr_equal(from, &p->route_peer.sa)))
		roam(o, p, from);
	if (n > 0)
		send_peer(o, p, o->out, (size_t)n);
	peer_up(o, p);
}

static void hs_request(struct overlay *o, struct peer *p, const uint8_t *buf, size_t len,
		       const struct sockaddr *from)
{
	ssize_t n = tunnel_handle_request(p->tunnel, buf, len, o->out, OVERLAY_BUF);

	/* A copy of the Request answered last: the same Response back to
	 * where it came from (an initiator that lost ours), and nothing
	 * else: anyone who saw the Request may send a copy. */
	if (n > 0 && tunnel_answered_copy(p->tunnel)) {
		send_via(o, p, o->out, (size_t)n, from);
		return;
	}
	hs_done(o, p, n, from);
}

void early_replay(struct overlay *o, struct peer *p)
{
	struct early_req *e;

	while ((e = early_take(&o->early, p->tunnel_id, clock_now_ms())))
		hs_request(o, p, e->pkt, e->len, (const struct sockaddr *)&e->from);
}

/* A TRS saw us at seen, the NMS at o->observed: the same mapping (none,
 * or a NAPT that keeps one per socket), or one per destination. */
static void mapping_learn(struct overlay *o, const struct sockaddr *seen)
{
	char a[ADDR_STR_MAX], b[ADDR_STR_MAX];
	uint8_t m;

	if (seen->sa_family != o->observed.ss_family)
		return;
	m = addr_equal(seen, (const struct sockaddr *)&o->observed) ? CY_MAP_KEEPS : CY_MAP_VARIES;
	if (m == o->mapping)
		return;
	log_info("%s: the NMS sees us at %s, a TRS at %s: %s", o->fqdn,
		 addr_str((const struct sockaddr *)&o->observed, a), addr_str(seen, b),
		 m == CY_MAP_KEEPS ? "one mapping for every destination"
				   : "our NAPT maps each destination elsewhere");
	o->mapping = m;
}

/* A Relay Ack from the TRS session of a relayed tunnel (relay.h). */
static void relay_ack_input(struct overlay *o, const uint8_t *buf, size_t len,
			    const struct sockaddr *from)
{
	struct sockaddr_storage seen;

	switch (relay_ack(o->relays, buf, len, from, &seen)) {
	case 0: mapping_learn(o, (const struct sockaddr *)&seen); break;
	case -EBADMSG: o->drops.auth++; break;
	case -ESTALE: o->drops.replay++; break;
	case -ENOENT: o->drops.unknown++; break;
	default: o->drops.malformed++; break;
	}
}

/* The peer's probe, answered, was just taken (punch.h): while our own
 * wait, one goes back at once to where it came from (that way is open
 * now), when that is the candidate's address (punch_probe_now). */
static void punch_probed(struct overlay *o, struct peer *p, const struct sockaddr *from)
{
	ssize_t n = punch_probe_now(o->punches, p->tunnel_id, from, clock_now_ms(), o->out,
				    OVERLAY_BUF);

	if (n > 0)
		send_via(o, p, o->out, (size_t)n, from);
}

/* The responder of a direct route probes us as its route arrives when
 * our Request had not come: a stateful firewall in front of it dropped
 * the Request, and the probe opened it (or the Request is still on its
 * way; the copy is then a duplicate, answered alike).  The same Request
 * again, once, rather than the next attempt a second later, to where
 * the probe came from: that is the way the firewall opened (the probe
 * is authenticated and fresh, punch.h). */
static void request_on_probe(struct overlay *o, struct peer *p, const struct sockaddr *from)
{
	ssize_t n;

	if (p->relay || p->state != PEER_HANDSHAKE)
		return;
	n = tunnel_resend_request(p->tunnel, o->out, OVERLAY_BUF);
	if (n > 0) {
		send_to(o, p, o->out, (size_t)n, from);
		o->st.requests_on_probe++;
	}
}

/* A Punch (punch.h): a probe is answered, an ack moves a relayed tunnel
 * onto the direct path it proves.  spare >= 0: it came to that spare
 * socket (the birthday approach), which becomes the tunnel's own. */
static void punch_input_dg(struct overlay *o, const uint8_t *buf, size_t len,
			   const struct sockaddr *from, int spare)
{
	struct punch_msg m;
	struct peer *p;
	size_t alen;
	int r = punch_input(o->punches, buf, len, from, clock_now_ms(), &m, o->out, OVERLAY_BUF,
			    &alen);

	switch (r) {
	case PUNCH_IN_PROBE:
	case PUNCH_IN_ACK: break;
	case -EPERM:
	case -EBADMSG: o->drops.auth++; return;
	case -ESTALE: o->drops.replay++; return;
	case -ENOENT:
		/* A late probe of a direct tunnel that is up (its entry went
		 * with the handshake): nothing to answer, nothing wrong. */
		p = peer_by_tid(o->peers, m.tunnel_id);
		if (!p || p->tunnel_id != m.tunnel_id || p->state != PEER_UP || p->relay)
			o->drops.punch_early++;
		return;
	default: o->drops.malformed++; return;
	}
	p = peer_by_tid(o->peers, m.tunnel_id);
	if (!p || !p->tunnel || p->tunnel_id != m.tunnel_id) {
		o->drops.unknown++;
		return;
	}
	if (spare >= 0 && !spare_adopt(o, p, (unsigned)spare)) {
		/* The message was taken (an ack ends the burst) but its socket
		 * is lost: carry on as if nothing came. */
		punch_wait(o->punches, p->tunnel_id, PUNCH_AGAIN_MS, clock_now_ms());
		o->punch_next_ms = punch_next_ms(o->punches);
		return;
	}
	if (r == PUNCH_IN_PROBE) {
		send_via(o, p, o->out, alen, from);
		punch_probed(o, p, from);
		request_on_probe(o, p, from);
	} else {
		path_punched(o, p, from);
	}
	o->punch_next_ms = punch_next_ms(o->punches);
}

void spare_input(void *overlay, unsigned idx, const uint8_t *buf, size_t len,
		 const struct sockaddr *from)
{
	struct overlay *o = overlay;

	if (len < 2 || buf[1] != CY_PUNCH) {
		o->drops.malformed++;
		return;
	}
	punch_input_dg(o, buf, len, from, (int)idx);
}

int overlay_udp_input(struct overlay *o, const uint8_t *buf, size_t len,
		      const struct sockaddr *from)
{
	struct tunnel_peek pk;
	struct peer *p;

	if (len >= 2 && buf[1] == CY_RELAY_ACK) {
		relay_ack_input(o, buf, len, from);
		return 0;
	}
	if (len >= 2 && buf[1] == CY_PUNCH) {
		punch_input_dg(o, buf, len, from, -1);
		return 0;
	}
	if (len < 2 || (buf[1] != CY_DATA && buf[1] != CY_TUNNEL_REQ &&
			buf[1] != CY_TUNNEL_RES))
		return -ENOMSG;
	if (tunnel_peek(buf, len, &pk) < 0) {
		o->drops.malformed++;
		return 0;
	}
	if (pk.type == CY_DATA) {
		data_input(o, buf, len, from, pk.receiver_index);
		return 0;
	}
	p = peer_by_tid(o->peers, pk.tunnel_id);
	if (p && p->tunnel && pk.type == CY_TUNNEL_REQ)
		hs_request(o, p, buf, len, from);
	else if (p && p->tunnel)
		hs_done(o, p, tunnel_handle_response(p->tunnel, buf, len, o->out, OVERLAY_BUF),
			from);
	else if (pk.type == CY_TUNNEL_REQ)
		o->drops.unknown += early_store(&o->early, pk.tunnel_id, buf, len, from,
						clock_now_ms());
	else
		o->drops.unknown++;
	return 0;
}

void overlay_count_malformed(struct overlay *o)
{
	o->drops.malformed++;
}

/* ---- TUN packets ---- */

/* Destinations that never name a peer: multicast, broadcast, link-local
 * (the kernel's own chatter on the device: MLD, router solicitations). */
static bool dst4_special(const uint8_t *d)
{
	return d[0] >= 224 || (d[0] == 169 && d[1] == 254) || d[0] == 0;
}

static bool dst6_special(const uint8_t *d)
{
	return d[0] == 0xff || (d[0] == 0xfe && (d[1] & 0xc0) == 0x80);
}

/* Seal straight into the send batch of a burst (dpio.h): no copy between
 * sealing and the kernel.  -EMSGSIZE when there is no slot or it is too
 * small (the caller then seals into o->out and sends), else as
 * tunnel_seal. */
static ssize_t seal_batched(struct overlay *o, struct peer *p, const uint8_t *pkt, size_t len)
{
	struct dpio_port *port = p->alt ? port_to(o, p, &p->endpoint.sa) : o->port;
	size_t cap = 0;
	uint8_t *slot = dpio_slot(port, &cap);
	ssize_t n;

	if (!slot || cap < len + SESSION_OVERHEAD)
		return -EMSGSIZE;
	n = tunnel_seal(p->tunnel, pkt, len, slot, cap);
	if (n > 0 && p->have_endpoint &&
	    dpio_commit(port, (size_t)n, (const struct sockaddr *)&p->endpoint) == 0) {
		p->last_tx_ms = clock_coarse_ms();
		p->ack_due_since_ms = 0;
	}
	return n;
}

/* A local packet's destination: 1 with *dst4 or *dst6 its VIP and *p
 * its peer (NULL: none yet); 0 for the kernel's own chatter, which never
 * names a peer; -1 when it is not an IP packet. */
static int tun_dst(struct overlay *o, const uint8_t *pkt, size_t len, struct peer **p,
		   const uint8_t **dst4, const uint8_t **dst6)
{
	if (len >= 20 && (pkt[0] >> 4) == 4) {
		*dst4 = pkt + 16;
		if (dst4_special(*dst4))
			return 0;
		*p = peer_by_vip4(o->peers, *dst4);
		return 1;
	}
	if (len >= 40 && (pkt[0] >> 4) == 6) {
		*dst6 = pkt + 24;
		if (dst6_special(*dst6))
			return 0;
		*p = peer_by_vip6(o->peers, *dst6);
		return 1;
	}
	return -1;
}

/* p's tunnel carries pkt.  -ENOTCONN while its handshake runs (queue
 * it), another -errno when it cannot go (dropped). */
static int tun_seal(struct overlay *o, struct peer *p, const uint8_t *pkt, size_t len)
{
	ssize_t n = seal_batched(o, p, pkt, len);

	if (n == -EMSGSIZE) {
		n = tunnel_seal(p->tunnel, pkt, len, o->out, OVERLAY_BUF);
		if (n > 0)
			send_peer(o, p, o->out, (size_t)n);
	}
	if (n <= 0)
		return n == -ENOTCONN ? -ENOTCONN : -EIO;
	if (!p->unanswered_since_ms)
		p->unanswered_since_ms = p->last_tx_ms;
	return 0;
}

/* A peer for a packet's destination VIP, made when none has it. */
static struct peer *vip_peer(struct overlay *o, const uint8_t *dst4, const uint8_t *dst6)
{
	struct peer *p = peer_new(o->peers);
	struct in_addr a4;
	struct in6_addr a6;

	if (!p)
		return NULL;
	if (dst4) {
		memcpy(&a4, dst4, 4);
		peer_set_vip4(p, &a4);
	} else {
		memcpy(&a6, dst6, 16);
		peer_set_vip6(p, &a6);
	}
	return p;
}

/* No usable tunnel to p (NULL: none known) for pkt: queued until there is
 * one, the route selected first (users ping addresses too, not only
 * names). */
static void tun_queue(struct overlay *o, struct peer *p, const uint8_t *pkt, size_t len,
		      const uint8_t *dst4, const uint8_t *dst6)
{
	if (!p && !(p = vip_peer(o, dst4, dst6))) {
		o->drops.no_route++;
		return;
	}
	if (p->state == PEER_FAILED && clock_now_ms() < p->neg_until_ms) {
		o->drops.no_route++;
		return;
	}
	if (!p->tunnel && !p->req_id && start_selection(o, p, NULL, dst4, dst6) < 0) {
		o->drops.no_route++;
		if (!p->fqdn[0] && !p->nwaiters)
			peer_del(p);
		return;
	}
	if (peer_queue_push(p, pkt, len) < 0)
		o->drops.no_route++;
}

void overlay_tun_input(struct overlay *o, const uint8_t *pkt, size_t len)
{
	const uint8_t *dst4 = NULL, *dst6 = NULL;
	struct peer *p = NULL;
	int err, k;

	o->st.tun_rx++;
	k = tun_dst(o, pkt, len, &p, &dst4, &dst6);
	if (k <= 0) {
		o->drops.malformed += k < 0;
		return;
	}
	if (p && p->rules && !flow_allowed(p->rules, pkt, len, true)) {
		o->drops.policy++;
		return;
	}
	if (p && p->tunnel) {
		err = tun_seal(o, p, pkt, len);
		if (err != -ENOTCONN) {
			o->drops.no_route += err < 0;
			return;
		}
		/* handshake still running: queue */
	}
	tun_queue(o, p, pkt, len, dst4, dst6);
}

void overlay_tun_packet(void *overlay, uint8_t *pkt, size_t len)
{
	overlay_tun_input(overlay, pkt, len);
}
