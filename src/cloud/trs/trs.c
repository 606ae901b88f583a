#include "trs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "aead.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "replay.h"
#include "seal.h"
#include "wire.h"

/* The tunnel messages a session forwards (docs/tunnel.md): the relayed
 * Tunnel Request is 136 bytes, the Response 84, Data at least its 16-byte
 * header and 16-byte tag. */
#define TUN_REQUEST 0x30
#define TUN_RESPONSE 0x31
#define TUN_DATA 0x40
#define TUN_REQ_RELAY_LEN 136
#define TUN_RESP_LEN 84
#define TUN_DATA_MIN 32
#define TRS_MSG_MAX 512

/* One NMS's link key, cached once a datagram under it authenticated. */
struct trs_link {
	uint64_t key_id;
	struct aead *aead;
	struct replay rx;
	int64_t used_ms;
};

struct trs_session {
	uint64_t tunnel_id;
	uint8_t key[TRS_KEY_LEN];          /* the Relay Key */
	uint16_t port;
	bool known[2];                     /* side 0 responder, 1 initiator */
	struct sockaddr_storage ep[2];
	uint64_t last_ts[2];               /* newest hello timestamp per side */
	int64_t active_ms;
	uint8_t held_side;                 /* the side that sent held[] */
	size_t held_len;
	uint8_t held[TRS_HELD_MAX];
};

struct trs {
	struct trs_conf conf;
	struct trs_ops ops;
	void *arg;
	struct trs_stats st;
	struct trs_link links[TRS_LINKS];
	struct trs_session **sessions;     /* conf.max_sessions slots */
	struct ratelimit rl;
	struct ratelimit rl_info;          /* sessions' sides and closings */
	struct cy_ctr ctr;                 /* reply counters, all links */
};

struct trs *trs_new(const struct trs_conf *conf, const struct trs_ops *ops, void *arg)
{
	struct trs *t;

	if (conf->idle_s <= 0 || !conf->max_sessions || !conf->npub ||
	    conf->npub > TRS_MAX_PUBLIC || !ops->open || !ops->close || !conf->ctr_reserve)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->sessions = calloc(conf->max_sessions, sizeof(*t->sessions));
	if (!t->sessions) {
		free(t);
		return NULL;
	}
	t->conf = *conf;
	t->ops = *ops;
	t->arg = arg;
	t->ctr.reserve = conf->ctr_reserve;
	t->ctr.arg = conf->ctr_arg;
	return t;
}

static void trs_session_close(struct trs *t, size_t slot)
{
	struct trs_session *s = t->sessions[slot];

	if (!s)
		return;
	t->ops.close(t->arg, slot);
	cy_wipe(s, sizeof(*s));
	free(s);
	t->sessions[slot] = NULL;
	t->st.sessions--;
}

void trs_free(struct trs *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->conf.max_sessions; i++)
		trs_session_close(t, i);
	for (size_t i = 0; i < TRS_LINKS; i++)
		aead_free(t->links[i].aead);
	free(t->sessions);
	cy_wipe(t, sizeof(*t));
	free(t);
}

const struct trs_stats *trs_stats(const struct trs *t)
{
	return &t->st;
}

size_t trs_max_sessions(const struct trs *t)
{
	return t->conf.max_sessions;
}

static int64_t trs_wall_ms(void)
{
	return clock_now() * 1000;
}

/* ---- the control port ---- */

static struct trs_link *trs_link_find(struct trs *t, uint64_t key_id)
{
	for (size_t i = 0; i < TRS_LINKS; i++)
		if (t->links[i].aead && t->links[i].key_id == key_id)
			return &t->links[i];
	return NULL;
}

/* Authenticate a datagram under key_id.  A new key id gets its key
 * derived, and a cache slot (the least recently used) only once a
 * datagram authenticated under it: forged key ids evict nothing. */
static ssize_t trs_link_open(struct trs *t, const struct cy_seal_hdr *h, const uint8_t *pkt,
			     size_t len, uint8_t *plain, size_t cap, struct trs_link **out)
{
	struct trs_link *l = trs_link_find(t, h->key_id), *victim;
	uint8_t key[TRS_KEY_LEN];
	struct aead *a;
	ssize_t n;

	if (l) {
		if (!replay_check(&l->rx, h->counter)) {
			t->st.ctl_replay++;
			return -EALREADY;
		}
		n = cy_unseal(l->aead, pkt, len, plain, cap);
		if (n < 0) {
			t->st.ctl_auth_fail++;
			return n;
		}
		replay_update(&l->rx, h->counter);
		l->used_ms = clock_now_ms();
		*out = l;
		return n;
	}
	if (trs_link_key(t->conf.secret, h->key_id, key) < 0)
		return -EIO;
	a = aead_new(AEAD_CHACHA20_POLY1305, key);
	cy_wipe(key, sizeof(key));
	if (!a)
		return -ENOMEM;
	n = cy_unseal(a, pkt, len, plain, cap);
	if (n < 0) {
		aead_free(a);
		t->st.ctl_auth_fail++;
		return n;
	}
	victim = &t->links[0];
	for (size_t i = 0; i < TRS_LINKS; i++) {
		if (!t->links[i].aead) {
			victim = &t->links[i];
			break;
		}
		if (t->links[i].used_ms < victim->used_ms)
			victim = &t->links[i];
	}
	aead_free(victim->aead);
	memset(victim, 0, sizeof(*victim));
	victim->key_id = h->key_id;
	victim->aead = a;
	replay_init(&victim->rx);
	replay_update(&victim->rx, h->counter);
	victim->used_ms = clock_now_ms();
	*out = victim;
	return n;
}

static size_t trs_slot_by_tunnel(const struct trs *t, uint64_t tunnel_id)
{
	for (size_t i = 0; i < t->conf.max_sessions; i++)
		if (t->sessions[i] && t->sessions[i]->tunnel_id == tunnel_id)
			return i;
	return SIZE_MAX;
}

/* The session for tunnel_id: the existing one (an NMS retransmission) or
 * a new one.  CY_OK with *slot, or the RESULT to answer. */
static enum cy_result trs_session_get(struct trs *t, uint64_t tunnel_id,
				      const uint8_t key[TRS_KEY_LEN], size_t *slot,
				      const char **why)
{
	struct trs_session *s;
	size_t i = trs_slot_by_tunnel(t, tunnel_id);
	int rc;

	if (i != SIZE_MAX) {
		if (memcmp(t->sessions[i]->key, key, TRS_KEY_LEN)) {
			*why = "tunnel id in use";
			return CY_ERR_POLICY;
		}
		*slot = i;
		return CY_OK;
	}
	for (i = 0; i < t->conf.max_sessions && t->sessions[i]; i++)
		;
	if (i == t->conf.max_sessions) {
		t->st.sessions_refused++;
		*why = "relay full";
		return CY_ERR_INTERNAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		*why = "out of memory";
		return CY_ERR_INTERNAL;
	}
	rc = t->ops.open(t->arg, i, &s->port);
	if (rc < 0 || !s->port) {
		free(s);
		t->st.sessions_refused++;
		*why = "no relay port free";
		return CY_ERR_INTERNAL;
	}
	s->tunnel_id = tunnel_id;
	memcpy(s->key, key, TRS_KEY_LEN);
	s->active_ms = clock_now_ms();
	t->sessions[i] = s;
	t->st.sessions++;
	t->st.sessions_opened++;
	log_info("trs: tunnel %016" PRIx64 ": relay session on port %u", tunnel_id, s->port);
	*slot = i;
	return CY_OK;
}

static ssize_t trs_relay_res(struct trs *t, uint64_t tunnel_id, enum cy_result r,
			     const char *why, size_t slot, uint8_t *msg, size_t cap)
{
	struct cy_builder b;

	cy_build_start(&b, msg, cap, CY_RELAY_RES);
	cy_put_u8(&b, CY_A_RESULT, (uint8_t)r);
	if (why)
		cy_put_str(&b, CY_A_REASON, why);
	cy_put_u64(&b, CY_A_TUNNEL_ID, tunnel_id);
	if (r == CY_OK) {
		for (size_t i = 0; i < t->conf.npub; i++) {
			struct sockaddr_storage ep = t->conf.pub[i];

			addr_set_port((struct sockaddr *)&ep, t->sessions[slot]->port);
			cy_put_endpoint(&b, CY_A_RELAY, (const struct sockaddr *)&ep);
		}
		cy_put_u32(&b, CY_A_TTL, (uint32_t)t->conf.idle_s);
	}
	return cy_build_finish(&b);
}

/* A Relay Request, authenticated: the answer as a plain message. */
static ssize_t trs_relay_req(struct trs *t, const struct sockaddr *from, const struct cy_msg *m,
			     uint8_t *msg, size_t cap)
{
	char fb[ADDR_STR_MAX];
	uint8_t key[TRS_KEY_LEN];
	const char *why = NULL;
	uint64_t tunnel_id = 0, now_ms = (uint64_t)trs_wall_ms(), time_ms;
	enum cy_result r;
	size_t slot = 0;
	ssize_t n;

	if (m->type != CY_RELAY_REQ || !cy_msg_u64(m, CY_A_TUNNEL_ID, &tunnel_id) ||
	    !tunnel_id || !cy_msg_bytes(m, CY_A_KEY, key, sizeof(key)) ||
	    !cy_msg_u64(m, CY_A_TIME, &time_ms)) {
		t->st.ctl_malformed++;
		LOG_RATELIMITED(&t->rl, "trs: %s: malformed Relay Request", addr_str(from, fb));
		cy_wipe(key, sizeof(key));
		return trs_relay_res(t, tunnel_id, CY_ERR_MALFORMED, NULL, 0, msg, cap);
	}
	/* The replay window does not survive a restart: the clock bounds what
	 * an old request could still do. */
	if (time_ms + TRS_REQ_MAX_SKEW_MS < now_ms || time_ms > now_ms + TRS_REQ_MAX_SKEW_MS) {
		t->st.ctl_replay++;
		LOG_RATELIMITED(&t->rl, "trs: %s: Relay Request with a stale TIME",
				addr_str(from, fb));
		cy_wipe(key, sizeof(key));
		return 0;
	}
	t->st.relay_requests++;
	r = trs_session_get(t, tunnel_id, key, &slot, &why);
	cy_wipe(key, sizeof(key));
	if (r != CY_OK)
		log_warnx("trs: tunnel %016" PRIx64 ": refused: %s", tunnel_id, why);
	n = trs_relay_res(t, tunnel_id, r, why, slot, msg, cap);
	return n;
}

size_t trs_handle_ctl(struct trs *t, const struct sockaddr *from, const uint8_t *pkt, size_t len,
		      uint8_t *out, size_t cap)
{
	uint8_t plain[TRS_PKT_MAX], msg[TRS_MSG_MAX];
	char fb[ADDR_STR_MAX];
	struct cy_seal_hdr h;
	struct trs_link *l = NULL;
	struct cy_msg *m = NULL;
	ssize_t n, mlen = 0;
	size_t ret = 0;
	uint64_t ctr;

	t->st.ctl_rx++;
	if (len > TRS_PKT_MAX || cy_seal_peek(pkt, len, &h) < 0 || h.dir != CY_DIR_TO_CLOUD) {
		t->st.ctl_malformed++;
		LOG_RATELIMITED(&t->rl, "trs: %s: malformed control datagram (%zu bytes)",
				addr_str(from, fb), len);
		return 0;
	}
	n = trs_link_open(t, &h, pkt, len, plain, sizeof(plain), &l);
	if (n < 0) {
		LOG_RATELIMITED(&t->rl, "trs: %s: control datagram refused (%s)",
				addr_str(from, fb), n == -EALREADY ? "replay" : "authentication");
		return 0;
	}
	m = malloc(sizeof(*m));
	if (!m)
		goto out;
	if (cy_msg_parse(m, plain, (size_t)n) < 0) {
		t->st.ctl_malformed++;
		LOG_RATELIMITED(&t->rl, "trs: %s: malformed message", addr_str(from, fb));
		goto out;
	}
	mlen = trs_relay_req(t, from, m, msg, sizeof(msg));
	if (mlen > 0 && (n = cy_ctr_next(&t->ctr, &ctr)) < 0) {
		LOG_RATELIMITED(&t->rl, "trs: no reply counter reserved (%s): reply dropped",
				strerror((int)-n));
	} else if (mlen > 0) {
		n = cy_seal(l->aead, CY_DIR_FROM_CLOUD, l->key_id, ctr, msg, (size_t)mlen, out, cap);
		ret = n > 0 ? (size_t)n : 0;
	}
out:
	cy_wipe(plain, sizeof(plain));
	free(m);
	return ret;
}

/* ---- session ports ---- */

static bool trs_hello(struct trs *t, struct trs_session *s, const struct sockaddr *from,
		      const uint8_t *pkt, size_t len, struct trs_fwd *f)
{
	char fb[ADDR_STR_MAX];
	uint64_t tid, ts;
	int64_t now = trs_wall_ms();
	uint8_t side;
	int rc;

	if (trs_hello_peek(pkt, len, &tid, &side) < 0 || tid != s->tunnel_id) {
		t->st.drop_malformed++;
		return false;
	}
	rc = trs_hello_open(s->key, pkt, len, &side, &ts);
	if (rc < 0) {
		t->st.hello_auth_fail++;
		LOG_RATELIMITED(&t->rl, "trs: %s: Relay Hello failed authentication",
				addr_str(from, fb));
		return false;
	}
	if (ts <= s->last_ts[side] || (int64_t)ts < now - TRS_HELLO_MAX_SKEW_MS ||
	    (int64_t)ts > now + TRS_HELLO_MAX_SKEW_MS) {
		t->st.hello_stale++;
		return false;
	}
	/* One endpoint cannot be both ends of a tunnel. */
	if (s->known[!side] && addr_equal((const struct sockaddr *)&s->ep[!side], from)) {
		t->st.drop_malformed++;
		return false;
	}
	t->st.hellos++;
	s->last_ts[side] = ts;
	s->active_ms = clock_now_ms();
	if (!s->known[side] || !addr_equal((const struct sockaddr *)&s->ep[side], from))
		LOG_RATELIMITED_INFO(&t->rl_info, "trs: tunnel %016" PRIx64 ": side %u at %s",
				     s->tunnel_id, side, addr_str(from, fb));
	memset(&s->ep[side], 0, sizeof(s->ep[side]));
	memcpy(&s->ep[side], from, addr_len(from));
	s->known[side] = true;
	/* Stateless: the ack echoes what the node sent; the node checks it. */
	if (trs_ack_build(s->key, s->tunnel_id, side, ts, from, f->ack, sizeof(f->ack)) ==
	    TRS_ACK_LEN) {
		f->ack_len = TRS_ACK_LEN;
		t->st.acks++;
	}
	if (s->held_len && s->held_side != side) {
		/* f->buf stays valid: the slot is cleared, not the bytes. */
		f->to = (const struct sockaddr *)&s->ep[side];
		f->buf = s->held;
		f->len = s->held_len;
		s->held_len = 0;
		t->st.fwd_packets++;
		t->st.fwd_bytes += f->len;
		return true;
	}
	return false;
}

/* The clear header of a tunnel message, enough to refuse what no node
 * would send: the relayed forms only, this session's tunnel id. */
static bool trs_tunnel_msg_ok(const struct trs_session *s, const uint8_t *pkt, size_t len)
{
	struct cur c = cur_make(pkt, len);
	uint8_t ver, type, flags, rsv;
	uint64_t tid;

	if (!cur_get_u8(&c, &ver) || !cur_get_u8(&c, &type) || ver != CY_VERSION)
		return false;
	if (type == TUN_DATA)
		return len >= TUN_DATA_MIN;
	if (type != TUN_REQUEST && type != TUN_RESPONSE)
		return false;
	if (len != (type == TUN_REQUEST ? TUN_REQ_RELAY_LEN : TUN_RESP_LEN))
		return false;
	if (!cur_get_u8(&c, &flags) || !cur_get_u8(&c, &rsv) || !cur_get_u64(&c, &tid))
		return false;
	return tid == s->tunnel_id;
}

bool trs_handle_relay(struct trs *t, size_t slot, const struct sockaddr *from, uint8_t *pkt,
		      size_t len, struct trs_fwd *f)
{
	struct trs_session *s = slot < t->conf.max_sessions ? t->sessions[slot] : NULL;
	int side;

	memset(f, 0, sizeof(*f));
	if (!s) {
		t->st.drop_no_session++;
		return false;
	}
	if (len >= 2 && pkt[0] == CY_VERSION && pkt[1] == CY_RELAY_HELLO)
		return trs_hello(t, s, from, pkt, len, f);
	if (!trs_tunnel_msg_ok(s, pkt, len)) {
		t->st.drop_malformed++;
		return false;
	}
	if (s->known[0] && addr_equal((const struct sockaddr *)&s->ep[0], from))
		side = 0;
	else if (s->known[1] && addr_equal((const struct sockaddr *)&s->ep[1], from))
		side = 1;
	else {
		t->st.drop_unknown_src++;
		return false;
	}
	s->active_ms = clock_coarse_ms();     /* per datagram: only expiry reads it */
	if (!s->known[!side]) {
		/* The initiator's hello and Request can overtake the
		 * responder's hello: keep the newest handshake briefly. */
		if (pkt[1] != TUN_DATA && len <= sizeof(s->held)) {
			memcpy(s->held, pkt, len);
			s->held_len = len;
			s->held_side = (uint8_t)side;
			t->st.held++;
		} else {
			t->st.drop_no_peer++;
		}
		return false;
	}
	f->to = (const struct sockaddr *)&s->ep[!side];
	f->buf = pkt;
	f->len = len;
	t->st.fwd_packets++;
	t->st.fwd_bytes += len;
	return true;
}

void trs_expire(struct trs *t, int64_t now_ms)
{
	int64_t idle_ms = (int64_t)t->conf.idle_s * 1000;

	for (size_t i = 0; i < t->conf.max_sessions; i++) {
		struct trs_session *s = t->sessions[i];
		bool greeted = s && (s->known[0] || s->known[1]);

		if (!s || now_ms - s->active_ms <
				  (greeted || idle_ms < TRS_HELLO_WAIT_MS ? idle_ms : TRS_HELLO_WAIT_MS))
			continue;
		LOG_RATELIMITED_INFO(&t->rl_info, "trs: tunnel %016" PRIx64 ": relay session on port %u %s, "
				"closed", s->tunnel_id, s->port, greeted ? "idle" : "never greeted");
		t->st.sessions_expired++;
		trs_session_close(t, i);
	}
}

const struct counter trs_counters[] = {
	COUNTER(struct trs_stats, ctl_rx, "datagrams on the control port"),
	COUNTER(struct trs_stats, ctl_malformed, "control datagrams malformed"),
	COUNTER(struct trs_stats, ctl_auth_fail, "control datagrams that did not authenticate"),
	COUNTER(struct trs_stats, ctl_replay, "control datagrams replayed or stale"),
	COUNTER(struct trs_stats, relay_requests, "authenticated Relay Requests"),
	GAUGE(struct trs_stats, sessions, "relay sessions open now"),
	COUNTER(struct trs_stats, sessions_opened, "relay sessions opened"),
	COUNTER(struct trs_stats, sessions_refused, "relay sessions refused: table full, no port"),
	COUNTER(struct trs_stats, sessions_expired, "relay sessions closed idle"),
	COUNTER(struct trs_stats, hellos, "Relay Hellos accepted"),
	COUNTER(struct trs_stats, hello_auth_fail, "Relay Hellos that did not authenticate"),
	COUNTER(struct trs_stats, hello_stale, "Relay Hellos too old or not newer"),
	COUNTER(struct trs_stats, acks, "Relay Acks sent"),
	COUNTER(struct trs_stats, fwd_packets, "datagrams forwarded"),
	COUNTER(struct trs_stats, fwd_bytes, "bytes forwarded"),
	COUNTER(struct trs_stats, held, "handshakes held until the other side said hello"),
	COUNTER(struct trs_stats, drop_malformed, "session datagrams malformed"),
	COUNTER(struct trs_stats, drop_unknown_src, "session datagrams from neither side"),
	COUNTER(struct trs_stats, drop_no_peer, "session datagrams before the other side's hello"),
	COUNTER(struct trs_stats, drop_no_session, "datagrams on a closed session port"),
};
const size_t trs_ncounters = sizeof(trs_counters) / sizeof(trs_counters[0]);
