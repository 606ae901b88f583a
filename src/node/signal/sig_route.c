/* Route signaling with the NMS (SPEC flow 3): Direction Requests this
 * node sends and retries, the Route Direction that answers one, and the
 * Route Direction to this node as the CN with its Confirmation. */
#include "sig_impl.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"

static void dir_send(struct sig *s, struct sig_dir *d)
{
	uint8_t msg[CY_FQDN_MAX + 64];
	struct cy_builder b;

	cy_build_start(&b, msg, sizeof(msg), CY_DIRECTION_REQ);
	cy_put_u32(&b, CY_A_REQ_ID, d->wire_id);
	if (d->fqdn[0])
		cy_put_str(&b, CY_A_FQDN, d->fqdn);
	else if (d->has4)
		cy_put_bytes(&b, CY_A_VIP4, d->vip4, sizeof(d->vip4));
	else
		cy_put_bytes(&b, CY_A_VIP6, d->vip6, sizeof(d->vip6));
	cy_put_u64(&b, CY_A_TIME, (uint64_t)clock_now() * 1000);
	sig_send_sealed(s, msg, cy_build_finish(&b));
	d->tries++;
}

/* Registered, and not moving: the NMS selects from the registration it
 * has, so during a move requests wait for the new one (proving the new
 * endpoint takes a round trip to the NMS first: docs/protocol.md), and
 * go when it is answered (sig_route_flush). */
static bool dir_may_send(const struct sig *s)
{
	return s->info.state == SIG_REGISTERED && !s->moving;
}

/* Registered (again): send what waited for it. */
void sig_route_flush(struct sig *s)
{
	int64_t now = clock_now_ms();

	for (size_t i = 0; i < SIG_DIR_MAX; i++) {
		struct sig_dir *d = &s->dirs[i];

		if (d->used && d->tries == 0) {
			dir_send(s, d);
			d->tx_at = now + SIG_DIR_RETRY_MS;
		}
	}
}

static const char *dir_target(const struct sig_dir *d, char *buf, size_t len)
{
	if (d->fqdn[0])
		return d->fqdn;
	if (d->has4)
		return inet_ntop(AF_INET, d->vip4, buf, (socklen_t)len);
	return inet_ntop(AF_INET6, d->vip6, buf, (socklen_t)len);
}

/* Forget d first, then tell the daemon (which may ask again at once). */
static void dir_fail(struct sig *s, struct sig_dir *d, enum cy_result r, const char *reason)
{
	char t[INET6_ADDRSTRLEN];
	uint32_t req_id = d->req_id;

	log_info("route to %s (request %" PRIu32 ") failed: %s%s%s",
		 dir_target(d, t, sizeof(t)), req_id, cy_result_str(r), reason[0] ? ": " : "",
		 reason);
	memset(d, 0, sizeof(*d));
	s->st.dir_failed++;
	if (s->ops->route_failed)
		s->ops->route_failed(s->arg, req_id, r, reason);
}

/* The request an answer's REQ_ID names. */
static struct sig_dir *dir_find(struct sig *s, uint32_t wire_id)
{
	for (size_t i = 0; i < SIG_DIR_MAX; i++)
		if (s->dirs[i].used && s->dirs[i].wire_id == wire_id)
			return &s->dirs[i];
	return NULL;
}

/* Whether id is some other request's, by either name. */
static bool dir_id_taken(const struct sig *s, const struct sig_dir *d, uint32_t id)
{
	for (size_t i = 0; i < SIG_DIR_MAX; i++)
		if (&s->dirs[i] != d && s->dirs[i].used &&
		    (s->dirs[i].req_id == id || s->dirs[i].wire_id == id))
			return true;
	return false;
}

/* A new id for d, nonzero and no other request's. */
static uint32_t dir_new_id(struct sig *s, const struct sig_dir *d)
{
	uint32_t id;

	do {
		id = s->next_req_id++;
	} while (id == 0 || dir_id_taken(s, d, id));
	return id;
}

void sig_route_moved(struct sig *s)
{
	for (size_t i = 0; i < SIG_DIR_MAX; i++) {
		struct sig_dir *d = &s->dirs[i];

		if (!d->used || d->tries == 0)
			continue;
		/* Sent before the move: the NMS may have selected it from the
		 * old registration, and would answer the same REQ_ID the same
		 * way.  A new one, sent once the new registration is
		 * answered; the deadline stands. */
		d->wire_id = dir_new_id(s, d);
		d->tries = 0;
	}
}

int sig_direction_request(struct sig *s, const char *fqdn, const uint8_t *vip4,
			  const uint8_t *vip6, uint32_t *req_id_out)
{
	char name[CY_FQDN_MAX + 1] = "";
	struct sig_dir *d, *slot = NULL;
	int64_t now = clock_now_ms();
	size_t len;

	if (fqdn) {
		/* DNS names: case-insensitive, the root dot optional. */
		len = strlen(fqdn);
		if (len && fqdn[len - 1] == '.')
			len--;
		if (len == 0 || len > CY_FQDN_MAX)
			return -EINVAL;
		for (size_t i = 0; i < len; i++) {
			if (fqdn[i] <= ' ' || fqdn[i] > '~')
				return -EINVAL;
			name[i] = (char)tolower((unsigned char)fqdn[i]);
		}
		name[len] = '\0';
		vip4 = vip6 = NULL;
	} else if (vip4) {
		vip6 = NULL;
	} else if (!vip6) {
		return -EINVAL;
	}
	if (s->info.state == SIG_REVOKED)
		return -EACCES;
	for (size_t i = 0; i < SIG_DIR_MAX; i++) {
		d = &s->dirs[i];
		if (!d->used) {
			if (!slot)
				slot = d;
			continue;
		}
		if (!strcmp(d->fqdn, name) && d->has4 == !!vip4 && d->has6 == !!vip6 &&
		    (!vip4 || !memcmp(d->vip4, vip4, 4)) && (!vip6 || !memcmp(d->vip6, vip6, 16))) {
			*req_id_out = d->req_id; /* merged */
			return 0;
		}
	}
	if (!slot)
		return -EBUSY;
	d = slot;
	memset(d, 0, sizeof(*d));
	d->used = true;
	d->req_id = d->wire_id = dir_new_id(s, d);
	strcpy(d->fqdn, name);
	if (vip4) {
		d->has4 = true;
		memcpy(d->vip4, vip4, 4);
	}
	if (vip6) {
		d->has6 = true;
		memcpy(d->vip6, vip6, 16);
	}
	d->since = now;
	d->tx_at = now + SIG_DIR_RETRY_MS;
	s->st.dir_req++;
	if (dir_may_send(s))
		dir_send(s, d);
	*req_id_out = d->req_id;
	return 0;
}

/* The fields a Route Direction carries about the peer. */
/* PUNCH_MODE, absent meaning plain; false when present and bad. */
static bool sig_punch_mode(const struct cy_msg *m, uint8_t *mode)
{
	*mode = CY_PUNCH_PLAIN;
	if (!cy_msg_find(m, CY_A_PUNCH_MODE))
		return true;
	return cy_msg_u8(m, CY_A_PUNCH_MODE, mode) && *mode <= CY_PUNCH_SPRAY;
}

static bool route_parse(const struct cy_msg *m, struct sig_route *r)
{
	uint8_t role, path;
	socklen_t l;

	memset(r, 0, sizeof(*r));
	if (!cy_msg_u64(m, CY_A_TUNNEL_ID, &r->tunnel_id) || r->tunnel_id == 0 ||
	    !cy_msg_bytes(m, CY_A_KEY, r->key, CY_KEY_LEN) ||
	    !cy_msg_endpoint(m, CY_A_PEER, &r->peer, &l) || !cy_msg_u8(m, CY_A_ROLE, &role) ||
	    role > CY_ROLE_INITIATOR || !cy_msg_u8(m, CY_A_PATH, &path) || path > CY_PATH_RELAY)
		return false;
	r->role = (enum cy_role)role;
	r->path = (enum cy_path)path;
	/* A relayed route cannot work without the Temp Key; a direct one
	 * carries none. */
	if (path == CY_PATH_RELAY &&
	    !cy_msg_bytes(m, CY_A_TEMP_KEY, r->temp_key, sizeof(r->temp_key)))
		return false;
	if (cy_msg_find(m, CY_A_FQDN) && !cy_msg_str(m, CY_A_FQDN, r->peer_fqdn, CY_FQDN_MAX))
		return false;
	if (!cy_msg_flows(m, CY_A_FLOWS_OUT, &r->flows_out) ||
	    !cy_msg_flows(m, CY_A_FLOWS_IN, &r->flows_in))
		return false;
	if (cy_msg_find(m, CY_A_CANDIDATE)) {
		if (!cy_msg_endpoint(m, CY_A_CANDIDATE, &r->cand, &l) ||
		    !cy_msg_bytes(m, CY_A_TICKET, r->ticket, sizeof(r->ticket)) ||
		    !sig_punch_mode(m, &r->punch_mode))
			return false;
		r->have_cand = true;
	}
	if (cy_msg_find(m, CY_A_VIP4)) {
		if (!cy_msg_bytes(m, CY_A_VIP4, &r->peer_vip4, 4))
			return false;
		r->have_vip4 = true;
	}
	if (cy_msg_find(m, CY_A_VIP6)) {
		if (!cy_msg_bytes(m, CY_A_VIP6, &r->peer_vip6, 16))
			return false;
		r->have_vip6 = true;
	}
	return true;
}

static void log_route(const char *what, const struct sig_route *r)
{
	char p[ADDR_STR_MAX], c[ADDR_STR_MAX], v4[INET_ADDRSTRLEN] = "-";

	if (r->have_vip4)
		inet_ntop(AF_INET, &r->peer_vip4, v4, sizeof(v4));
	/* Never the key. */
	log_info("%s %s (%s): tunnel %016" PRIx64 ", %s, %s, peer %s%s%s", what,
		 r->peer_fqdn[0] ? r->peer_fqdn : "?", v4, r->tunnel_id,
		 r->role == CY_ROLE_INITIATOR ? "we initiate" : "we wait for the Tunnel Request",
		 r->path == CY_PATH_RELAY ? "relay" : "direct",
		 addr_str((const struct sockaddr *)&r->peer, p),
		 r->have_cand ? ", punching towards " : "",
		 r->have_cand ? addr_str((const struct sockaddr *)&r->cand, c) : "");
}

/* The answer to our Direction Request. */
/* True when the NMS asks us to register again first. */
static bool on_route_answer(struct sig *s, const struct cy_msg *m, uint32_t req_id,
			    const struct sockaddr *from)
{
	char reason[CY_REASON_MAX + 1] = "";
	struct sig_route r;
	struct sig_dir *d;
	uint8_t res;

	if (!cy_msg_u8(m, CY_A_RESULT, &res)) {
		sig_bad_input(s, from, "Route Direction answer without RESULT");
		return false;
	}
	d = dir_find(s, req_id);
	if (!d) {
		s->st.dir_late++; /* answered already, or given up */
		return false;
	}
	if (res == CY_ERR_REREGISTER) {
		/* Sent again once registered; the deadline stands. */
		d->tries = 0;
		if (s->info.state == SIG_REGISTERED) {
			log_info("NMS asks to register again before selecting a route");
			return true;
		}
		return false;
	}
	if (res != CY_OK) {
		cy_msg_str(m, CY_A_REASON, reason, CY_REASON_MAX);
		dir_fail(s, d, (enum cy_result)res, reason);
		return false;
	}
	if (!route_parse(m, &r)) {
		cy_wipe(&r, sizeof(r));
		sig_bad_input(s, from, "Route Direction missing a required attribute");
		return false;
	}
	r.req_id = d->req_id;
	memset(d, 0, sizeof(*d));
	s->st.dir_ok++;
	log_route("route to", &r);
	if (s->ops->route_ready)
		s->ops->route_ready(s->arg, &r);
	cy_wipe(&r, sizeof(r));
	return false;
}

static void send_confirmation(struct sig *s, uint64_t tunnel_id, uint8_t result,
			      const struct sockaddr *to)
{
	uint8_t msg[64];
	struct cy_builder b;

	cy_build_start(&b, msg, sizeof(msg), CY_CONFIRMATION);
	cy_put_u64(&b, CY_A_TUNNEL_ID, tunnel_id);
	cy_put_u8(&b, CY_A_RESULT, result);
	cy_put_u64(&b, CY_A_TIME, (uint64_t)clock_now() * 1000);
	sig_send_sealed_to(s, msg, cy_build_finish(&b), to);
}

/* A Route Direction naming us as the CN.  The daemon learns the route
 * before the NMS learns we are ready: as responder, the MN's Tunnel
 * Request (sent when the NMS answers it) always finds us prepared; as
 * initiator, our Request leaves ahead of the Confirmation, so it reaches
 * the MN before the NMS's answer does.  The answer goes to the NMS that
 * sent the direction. */
static void on_route_to_cn(struct sig *s, const struct cy_msg *m, const struct sockaddr *from)
{
	int64_t now = clock_now_ms();
	struct sig_cn_seen *seen;
	struct sig_route r;
	uint8_t res;

	if (cy_msg_u8(m, CY_A_RESULT, &res) && res != CY_OK) {
		sig_bad_input(s, from, "Route Direction to us with a failure RESULT");
		return;
	}
	if (!route_parse(m, &r)) {
		cy_wipe(&r, sizeof(r));
		sig_bad_input(s, from, "Route Direction missing a required attribute");
		return;
	}
	for (size_t i = 0; i < SIG_CN_SEEN; i++) {
		seen = &s->cn_seen[i];
		if (seen->tunnel_id == r.tunnel_id && now - seen->at < SIG_CN_SEEN_MS) {
			/* Our Confirmation was lost: repeat it, nothing else. */
			s->st.cn_dups++;
			send_confirmation(s, r.tunnel_id, seen->result, from);
			cy_wipe(&r, sizeof(r));
			return;
		}
	}
	seen = &s->cn_seen[s->cn_seen_next++ % SIG_CN_SEEN];
	seen->tunnel_id = r.tunnel_id;
	seen->at = now;
	seen->result = s->ops->route_ready ? CY_OK : CY_ERR_UNREACHABLE;
	s->st.cn_routes++;
	log_route("route from", &r);
	if (s->ops->route_ready)
		s->ops->route_ready(s->arg, &r);
	cy_wipe(&r, sizeof(r));
	send_confirmation(s, seen->tunnel_id, seen->result, from);
}

bool sig_route_input(struct sig *s, const struct cy_msg *m, const struct sockaddr *from)
{
	uint32_t req_id;

	if (!cy_msg_find(m, CY_A_REQ_ID)) {
		on_route_to_cn(s, m, from);
		return false;
	}
	if (!cy_msg_u32(m, CY_A_REQ_ID, &req_id)) {
		sig_bad_input(s, from, "Route Direction with a bad REQ_ID");
		return false;
	}
	return on_route_answer(s, m, req_id, from);
}

/* ---- punching again (docs/nat.md) ---- */

int sig_punch_request(struct sig *s, const char *peer_fqdn, uint64_t tunnel_id,
		      const uint8_t ticket[CY_TICKET_LEN], uint8_t mapping)
{
	uint8_t msg[CY_FQDN_MAX + 64];
	struct cy_builder b;
	size_t len = strlen(peer_fqdn);

	if (!len || len > CY_FQDN_MAX || !tunnel_id)
		return -EINVAL;
	if (s->info.state != SIG_REGISTERED)
		return -ENOTCONN;
	cy_build_start(&b, msg, sizeof(msg), CY_PUNCH_REQ);
	cy_put_u64(&b, CY_A_TUNNEL_ID, tunnel_id);
	cy_put_str(&b, CY_A_FQDN, peer_fqdn);
	cy_put_bytes(&b, CY_A_TICKET, ticket, CY_TICKET_LEN);
	if (mapping != CY_MAP_UNKNOWN)
		cy_put_u8(&b, CY_A_MAPPING, mapping);
	cy_put_u64(&b, CY_A_TIME, (uint64_t)clock_now() * 1000);
	sig_send_sealed(s, msg, cy_build_finish(&b));
	s->st.punch_req++;
	return 0;
}

void sig_punch_input(struct sig *s, const struct cy_msg *m, const struct sockaddr *from)
{
	char fqdn[CY_FQDN_MAX + 1];
	struct sockaddr_storage cand;
	uint64_t tunnel_id;
	uint8_t mode;
	socklen_t l;

	if (!cy_msg_u64(m, CY_A_TUNNEL_ID, &tunnel_id) || !tunnel_id ||
	    !cy_msg_str(m, CY_A_FQDN, fqdn, CY_FQDN_MAX) ||
	    !cy_msg_endpoint(m, CY_A_CANDIDATE, &cand, &l) || !sig_punch_mode(m, &mode)) {
		sig_bad_input(s, from, "Punch Direction missing a required attribute");
		return;
	}
	s->st.punch_dirs++;
	if (s->ops->punch_direction)
		s->ops->punch_direction(s->arg, tunnel_id, fqdn, (const struct sockaddr *)&cand,
					mode);
}

void sig_teardown_input(struct sig *s, const struct cy_msg *m, const struct sockaddr *from)
{
	char fqdn[CY_FQDN_MAX + 1], reason[CY_REASON_MAX + 1] = "";
	uint8_t msg[64], result = CY_ERR_UNKNOWN;
	struct cy_builder b;
	uint64_t tunnel_id;

	if (!cy_msg_u64(m, CY_A_TUNNEL_ID, &tunnel_id) || !tunnel_id ||
	    !cy_msg_str(m, CY_A_FQDN, fqdn, CY_FQDN_MAX) ||
	    (cy_msg_find(m, CY_A_REASON) && !cy_msg_str(m, CY_A_REASON, reason, CY_REASON_MAX)) ||
	    (cy_msg_find(m, CY_A_RESULT) &&
	     (!cy_msg_u8(m, CY_A_RESULT, &result) || result == CY_OK))) {
		sig_bad_input(s, from, "Tunnel Teardown missing a required attribute");
		return;
	}
	s->st.teardowns++;
	/* Acknowledged whatever we hold: a retransmission after our ack was
	 * lost finds the tunnel gone already. */
	cy_build_start(&b, msg, sizeof(msg), CY_TEARDOWN_ACK);
	cy_put_u64(&b, CY_A_TUNNEL_ID, tunnel_id);
	cy_put_u64(&b, CY_A_TIME, (uint64_t)clock_now() * 1000);
	sig_send_sealed(s, msg, cy_build_finish(&b));
	if (s->ops->teardown)
		s->ops->teardown(s->arg, tunnel_id, fqdn, reason, (enum cy_result)result);
}

void sig_route_timeout(struct sig *s, int64_t now)
{
	for (size_t i = 0; i < SIG_DIR_MAX; i++) {
		struct sig_dir *d = &s->dirs[i];

		if (!d->used)
			continue;
		if (now - d->since >= SIG_DIR_GIVEUP_MS) {
			dir_fail(s, d, CY_ERR_UNREACHABLE, "no answer from the NMS");
			continue;
		}
		if (now >= d->tx_at) {
			if (dir_may_send(s))
				dir_send(s, d);
			d->tx_at = now + SIG_DIR_RETRY_MS;
		}
	}
}

int64_t sig_route_next_ms(const struct sig *s)
{
	int64_t t = NEVER;

	for (size_t i = 0; i < SIG_DIR_MAX; i++) {
		const struct sig_dir *d = &s->dirs[i];

		if (!d->used)
			continue;
		if (d->tx_at < t)
			t = d->tx_at;
		if (d->since + SIG_DIR_GIVEUP_MS < t)
			t = d->since + SIG_DIR_GIVEUP_MS;
	}
	return t;
}

