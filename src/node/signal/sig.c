#include "sig.h"
#include "sig_impl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "replay.h"
#include "seal.h"

const char *sig_state_str(enum sig_state st)
{
	switch (st) {
	case SIG_LOGIN: return "login";
	case SIG_REGISTER: return "register";
	case SIG_REGISTERED: return "registered";
	case SIG_REVOKED: return "revoked";
	}
	return "?";
}

static void set_state(struct sig *s, enum sig_state st)
{
	if (s->info.state == st)
		return;
	log_info("state %s -> %s", sig_state_str(s->info.state), sig_state_str(st));
	s->info.state = st;
}

static void drop_key(struct sig *s)
{
	aead_free(s->aead);
	s->aead = NULL;
	s->info.have_key = false;
	s->info.key_id = 0;
	s->rekey_at = NEVER;
}

/* ---- sending ---- */

/* The index in s->nms of the NMS endpoint `from` (an IPv4-mapped IPv6
 * address on either side taken as the IPv4 one), s->nnms for none. */
static size_t sig_nms_index(const struct sig *s, const struct sockaddr *from)
{
	struct sockaddr_storage a, b;

	if (from->sa_family != AF_INET && from->sa_family != AF_INET6)
		return s->nnms;
	memset(&a, 0, sizeof(a));
	memcpy(&a, from, addr_len(from));
	addr_unmap(&a, NULL);
	for (size_t i = 0; i < s->nnms; i++) {
		if (s->nms[i].ss_family != AF_INET && s->nms[i].ss_family != AF_INET6)
			continue;
		b = s->nms[i];
		addr_unmap(&b, NULL);
		if (addr_equal((const struct sockaddr *)&a, (const struct sockaddr *)&b))
			return i;
	}
	return s->nnms;
}

/* To NMS idx, with the cookie it gave us, if any. */
static void send_reg_to(struct sig *s, size_t idx)
{
	struct sockaddr_storage addrs[SIG_MAX_ADDRS];
	uint8_t msg[SIG_DGRAM_MAX - CY_SEAL_OVERHEAD];
	struct cy_builder b;
	uint8_t fam = 0;
	size_t n, i;

	n = s->ops->local_addrs(s->arg, addrs, SIG_MAX_ADDRS);
	if (n > SIG_MAX_ADDRS)
		n = SIG_MAX_ADDRS;
	cy_build_start(&b, msg, sizeof(msg), CY_REG_REQ);
	for (i = 0; i < n; i++) {
		struct sockaddr *sa = (struct sockaddr *)&addrs[i];

		if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
			continue;
		fam |= sa->sa_family == AF_INET ? CY_FAM_IPV4 : CY_FAM_IPV6;
		addr_set_port(sa, s->port);
		cy_put_endpoint(&b, CY_A_ADDR, sa);
	}
	cy_put_u8(&b, CY_A_FAMILIES, fam);
	cy_put_u64(&b, CY_A_TIME, (uint64_t)clock_now() * 1000);
	if (s->have_cookie[idx])
		cy_put_bytes(&b, CY_A_COOKIE, s->cookie[idx], CY_COOKIE_LEN);
	log_debug("Registration Request with %zu addresses", n);
	sig_send_sealed_to(s, msg, cy_build_finish(&b), (const struct sockaddr *)&s->nms[idx]);
}

/* all: to every NMS endpoint of the login, else to the one in use. */
static void send_reg(struct sig *s, bool all)
{
	if (s->nnms == 0) {
		s->st.tx_err++;
		return;
	}
	if (!all) {
		send_reg_to(s, s->nms_idx);
		return;
	}
	for (size_t i = 0; i < s->nnms; i++)
		send_reg_to(s, i);
}

/* An NMS asks us to prove that we are reached where it sees us: the
 * Registration again, at once, with its cookie.  Only for a new cookie
 * (one it gave before was echoed already), and once per retry period: a
 * source that changes between two datagrams (per-packet balancing over
 * uplinks, a NAPT rebinding) must not make us ping-pong; the request
 * timer sends the latest. */
static void on_reg_prove(struct sig *s, const struct cy_msg *m, const struct sockaddr *from)
{
	uint8_t cookie[CY_COOKIE_LEN];
	int64_t now = clock_now_ms();
	size_t i = sig_nms_index(s, from);

	if (!cy_msg_bytes(m, CY_A_COOKIE, cookie, sizeof(cookie))) {
		sig_bad_input(s, from, "Registration Response 11 without a COOKIE");
		return;
	}
	/* Sealed by our NMS, whichever address it answered from (a host
	 * with several): taken for the one in use. */
	if (i >= s->nnms)
		i = s->nms_idx;
	s->st.reg_cookies++;
	if (s->have_cookie[i] && !memcmp(s->cookie[i], cookie, sizeof(cookie)))
		return;
	memcpy(s->cookie[i], cookie, sizeof(cookie));
	s->have_cookie[i] = true;
	if (now < s->prove_until[i])
		return;
	s->prove_until[i] = now + SIG_REG_RETRY_MS;
	log_debug("NMS %zu asks us to prove our address: registering again with its cookie", i);
	send_reg_to(s, i);
}

static void send_simple(struct sig *s, uint8_t type)
{
	uint8_t msg[64];
	struct cy_builder b;

	cy_build_start(&b, msg, sizeof(msg), type);
	cy_put_u64(&b, CY_A_TIME, (uint64_t)clock_now() * 1000);
	sig_send_sealed(s, msg, cy_build_finish(&b));
}

/* ---- transitions ---- */

static void start_login(struct sig *s)
{
	s->login_pending = true;
	s->login_at = NEVER;
	s->ops->login(s->arg);
}

/* keep: stay REGISTERED on the old key while the new one is fetched.
 * A login already scheduled (the backoff after a failed one, the wait a
 * busy AS asked for, the delay of a suspected duplicate instance) is not
 * brought forward. */
static void relogin(struct sig *s, const char *why, bool keep)
{
	if (!keep || s->info.state != SIG_REGISTERED) {
		set_state(s, SIG_LOGIN);
		s->tx_at = NEVER;
	}
	if (s->login_pending)
		return;
	if (s->login_at != NEVER) {
		log_info("%s: logging in again in %" PRId64 " s, as scheduled", why,
			 (s->login_at - clock_now_ms() + 999) / 1000);
		return;
	}
	log_info("logging in again: %s", why);
	start_login(s);
}

static void enter_register(struct sig *s)
{
	int64_t now = clock_now_ms();

	set_state(s, SIG_REGISTER);
	s->reg_since = now;
	s->ka_out = 0;
	s->moving = false;
	send_reg(s, false);
	s->tx_at = now + SIG_REG_RETRY_MS;
}

void sig_start(struct sig *s)
{
	set_state(s, SIG_LOGIN);
	if (!s->login_pending)
		start_login(s);
}

/* The wait a RESULT 10 asks for: "... retry in N s" in REASON, in ms
 * (at most SIG_BUSY_WAIT_MAX_MS); 0 when it names none. */
static int64_t busy_wait_ms(const char *reason)
{
	const char *p = strstr(reason, "retry in ");
	int64_t v = 0;

	if (!p)
		return 0;
	p += strlen("retry in ");
	if (!isdigit((unsigned char)*p))
		return 0;
	for (; isdigit((unsigned char)*p); p++)
		if (v <= SIG_BUSY_WAIT_MAX_MS / 1000)
			v = v * 10 + (*p - '0');
	if (p[0] != ' ' || p[1] != 's')
		return 0;
	v *= 1000;
	return v > SIG_BUSY_WAIT_MAX_MS ? SIG_BUSY_WAIT_MAX_MS : v;
}

/* The login did not happen, but nothing says the key or the registration
 * is bad (no AS answered, or the AS was busy): keep both and try again
 * after the backoff, or after min_ms when that is longer. */
static void login_retry(struct sig *s, int64_t now, int64_t min_ms)
{
	int64_t delay;

	s->login_backoff_ms = s->login_backoff_ms ? s->login_backoff_ms * 2 : 1000;
	if (s->login_backoff_ms > SIG_LOGIN_BACKOFF_MAX_MS)
		s->login_backoff_ms = SIG_LOGIN_BACKOFF_MAX_MS;
	if (s->info.state == SIG_REVOKED) {
		s->login_at = now + (min_ms > SIG_REFUSED_RETRY_MS ? min_ms : SIG_REFUSED_RETRY_MS);
		return;
	}
	/* A failed key renewal keeps the registration on the old key, and a
	 * registration under way (a Reject came while registering) goes on. */
	if (s->info.state != SIG_REGISTERED && s->info.state != SIG_REGISTER) {
		set_state(s, SIG_LOGIN);
		s->tx_at = NEVER;
	}
	delay = s->login_backoff_ms > min_ms ? s->login_backoff_ms : min_ms;
	s->login_at = now + delay;
	log_info("logging in again in %" PRId64 " s%s", (delay + 999) / 1000,
		 s->info.have_key ? ", keeping the current key meanwhile" : "");
}

void sig_login_done(struct sig *s, const struct login_result *r)
{
	int64_t now = clock_now_ms();

	s->login_pending = false;
	if (r->status == LOGIN_OK) {
		struct aead *a = aead_new(AEAD_CHACHA20_POLY1305, r->key);

		if (!a) {
			log_warnx("login: cannot set up the common key");
			login_retry(s, now, 0);
			return;
		}
		aead_free(s->aead);
		s->aead = a;
		s->info.have_key = true;
		s->info.key_id = r->key_id;
		s->info.key_expires_ms = now + (int64_t)r->lifetime * 1000;
		s->rekey_at = now + (int64_t)r->lifetime * 800; /* 80 % */
		s->tx_ctr = 0;
		replay_init(&s->rx);
		s->nnms = r->nnms < LOGIN_MAX_NMS ? r->nnms : LOGIN_MAX_NMS;
		memcpy(s->nms, r->nms, s->nnms * sizeof(s->nms[0]));
		s->nms_idx = 0;
		/* Cookies are of a key: the new one needs new ones. */
		memset(s->have_cookie, 0, sizeof(s->have_cookie));
		memset(s->prove_until, 0, sizeof(s->prove_until));
		snprintf(s->info.fqdn, sizeof(s->info.fqdn), "%s", r->fqdn);
		s->login_backoff_ms = 0;
		s->login_at = NEVER;
		s->login_ok_at = now;
		s->login_ok_dup = s->dup_wait;
		s->dup_wait = false;
		log_info("logged in as %s: key %016" PRIx64 ", lifetime %" PRIu32 " s, %zu NMS",
			 r->fqdn, r->key_id, r->lifetime, s->nnms);
		enter_register(s);
		return;
	}
	if (r->status == LOGIN_REFUSED &&
	    (r->result == CY_ERR_BUSY || r->result == CY_ERR_INTERNAL)) {
		/* "Try again later", or the cloud's own trouble (its store
		 * away), says nothing about the key or the registration: a
		 * renewal or a Reject-triggered login that meets a throttled,
		 * loaded or failing AS must not cost them, and the next try
		 * comes with the usual backoff, not a minute later. */
		const char *what = cy_result_str((enum cy_result)r->result);
		int64_t wait = busy_wait_ms(r->reason);
		uint16_t jitter = 0;

		if (r->result == CY_ERR_BUSY) {
			s->st.login_busy++;
		} else {
			(void)cy_random(&jitter, sizeof(jitter));
			wait = SIG_INTERNAL_WAIT_MS +
			       (int64_t)jitter * SIG_INTERNAL_WAIT_MS / UINT16_MAX;
		}
		log_warnx("login refused for now: %s%s%s", what, strcmp(what, r->reason) ? ": " : "",
			  strcmp(what, r->reason) ? r->reason : "");
		login_retry(s, now, wait);
		return;
	}
	if (r->status == LOGIN_REFUSED) {
		const char *what = cy_result_str((enum cy_result)r->result);

		s->dup_wait = false;
		if (strcmp(what, r->reason))
			log_err("login refused: %s: %s", what, r->reason);
		else
			log_err("login refused: %s", what);
		drop_key(s);
		if (r->result == CY_ERR_REVOKED) {
			set_state(s, SIG_REVOKED);
			s->info.have_vips = false;
			s->info.have_observed = false;
		} else {
			set_state(s, SIG_LOGIN);
		}
		s->tx_at = NEVER;
		s->login_at = now + SIG_REFUSED_RETRY_MS;
		return;
	}
	log_warnx("login failed: %s", r->reason);
	login_retry(s, now, 0);
}

/* ---- receiving ---- */

static void on_reg_res(struct sig *s, const struct cy_msg *m, const struct sockaddr *from)
{
	struct sig_info *in = &s->info;
	char reason[CY_REASON_MAX + 1] = "", fqdn[CY_FQDN_MAX + 1];
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], ob[ADDR_STR_MAX];
	struct sockaddr_storage obs;
	socklen_t obslen;
	uint8_t res, p4, p6, nat;
	bool moved;
	uint32_t ttl;
	size_t idx;
	struct in_addr a4;
	struct in6_addr a6;

	if (!cy_msg_u8(m, CY_A_RESULT, &res)) {
		sig_bad_input(s, from, "Registration Response without RESULT");
		return;
	}
	if (in->state != SIG_REGISTER && in->state != SIG_REGISTERED)
		return; /* a late answer while logging in */
	if (res == CY_ERR_PROVE) {
		on_reg_prove(s, m, from);
		return;
	}
	if (res != CY_OK) {
		cy_msg_str(m, CY_A_REASON, reason, CY_REASON_MAX);
		log_warnx("registration refused: %s%s%s", cy_result_str((enum cy_result)res),
			  reason[0] ? ": " : "", reason);
		if (res == CY_ERR_REREGISTER)
			send_reg(s, false);
		else if (res != CY_ERR_INTERNAL)
			relogin(s, "registration refused", false);
		return;
	}
	if (!cy_msg_str(m, CY_A_FQDN, fqdn, CY_FQDN_MAX) ||
	    !cy_msg_bytes(m, CY_A_VIP4, &a4, 4) || !cy_msg_bytes(m, CY_A_VIP6, &a6, 16) ||
	    !cy_msg_u8(m, CY_A_PREFIX4, &p4) || p4 > 32 || !cy_msg_u8(m, CY_A_PREFIX6, &p6) ||
	    p6 > 128 || !cy_msg_endpoint(m, CY_A_OBSERVED, &obs, &obslen) ||
	    !cy_msg_u8(m, CY_A_NAT, &nat) || !cy_msg_u32(m, CY_A_TTL, &ttl) || ttl == 0) {
		sig_bad_input(s, from, "Registration Response missing a required attribute");
		return;
	}
	/* Registered again without moving ourselves (the NMS asked: it saw
	 * our keepalive come from elsewhere), now seen at another endpoint:
	 * our NAPT's mapping changed, as on_ka_ack notices it. */
	moved = !s->moving && in->have_observed &&
		!addr_equal((struct sockaddr *)&obs, (struct sockaddr *)&in->observed);
	s->moving = false;
	s->reg_at = clock_now_ms();
	/* Keepalives go to the NMS that answered. */
	idx = sig_nms_index(s, from);
	if (idx < s->nnms)
		s->nms_idx = idx;
	strcpy(in->fqdn, fqdn);
	in->have_vips = true;
	in->vip4 = a4;
	in->vip6 = a6;
	in->prefix4 = p4;
	in->prefix6 = p6;
	in->have_observed = true;
	in->observed = obs;
	in->nat = nat == 1;
	in->ttl = ttl;
	s->ka_interval_ms = (int64_t)s->keepalive_ms;
	if (s->ka_interval_ms > (int64_t)ttl * 1000 / 3)
		s->ka_interval_ms = (int64_t)ttl * 1000 / 3;
	if (s->ka_interval_ms < 1000)
		s->ka_interval_ms = 1000;
	s->ka_out = 0;
	s->tx_at = clock_now_ms() + s->ka_interval_ms;
	set_state(s, SIG_REGISTERED);
	log_info("registered as %s vip4 %s/%u vip6 %s/%u observed %s nat %s, ttl %" PRIu32
		 " s, keepalive every %" PRId64 " s",
		 fqdn, inet_ntop(AF_INET, &a4, v4, sizeof(v4)), p4,
		 inet_ntop(AF_INET6, &a6, v6, sizeof(v6)), p6,
		 addr_str((struct sockaddr *)&obs, ob), in->nat ? "yes" : "no", ttl,
		 s->ka_interval_ms / 1000);
	s->ops->registered(s->arg, in);
	sig_route_flush(s);
	if (moved && s->ops->observed_moved)
		s->ops->observed_moved(s->arg, in);
}

static void on_ka_ack(struct sig *s, const struct cy_msg *m, const struct sockaddr *from)
{
	struct sockaddr_storage obs;
	socklen_t obslen;
	char a[ADDR_STR_MAX], b[ADDR_STR_MAX];
	uint8_t res;

	if (!cy_msg_u8(m, CY_A_RESULT, &res)) {
		sig_bad_input(s, from, "Keepalive Ack without RESULT");
		return;
	}
	if (s->info.state != SIG_REGISTERED)
		return;
	switch (res) {
	case CY_OK:
		s->ka_out = 0;
		/* An ack to a keepalive sent before a move's registration can
		 * carry the old endpoint: observed changes count only from
		 * keepalives sent after the last Registration Response. */
		if (!s->moving && clock_now_ms() - s->reg_at >= s->ka_interval_ms &&
		    cy_msg_endpoint(m, CY_A_OBSERVED, &obs, &obslen) &&
		    !addr_equal((struct sockaddr *)&obs, (struct sockaddr *)&s->info.observed)) {
			log_info("observed endpoint changed: %s -> %s",
				 addr_str((struct sockaddr *)&s->info.observed, a),
				 addr_str((struct sockaddr *)&obs, b));
			s->info.observed = obs;
			if (s->ops->observed_moved)
				s->ops->observed_moved(s->arg, &s->info);
		}
		break;
	case CY_ERR_REREGISTER:
		log_info("NMS asks to register again");
		enter_register(s);
		break;
	case CY_ERR_INTERNAL:
		log_warnx("keepalive: NMS internal error");
		break;
	default:
		log_warnx("keepalive refused: %s", cy_result_str((enum cy_result)res));
		relogin(s, "keepalive refused", false);
	}
}

static int on_reject(struct sig *s, const uint8_t *buf, size_t len,
		     const struct sockaddr *from)
{
	struct cur c = cur_make(buf, len);
	uint8_t ver, type, res, rsv;
	uint64_t key_id;
	int64_t now = clock_now_ms();
	char a[ADDR_STR_MAX];

	if (len != NMS_REJECT_LEN || !cur_get_u8(&c, &ver) || !cur_get_u8(&c, &type) ||
	    !cur_get_u8(&c, &res) || !cur_get_u8(&c, &rsv) || !cur_get_u64(&c, &key_id)) {
		sig_bad_input(s, from, "malformed NMS Reject");
		return 0;
	}
	/* Unauthenticated, and the key id it names travels in clear in every
	 * datagram we seal: anyone who saw one can write it.  So it counts
	 * only from an NMS endpoint of our login... */
	if (sig_nms_index(s, from) >= s->nnms) {
		s->st.rx_reject_ignored++;
		LOG_RATELIMITED(&s->rl, "ignored NMS Reject from %s: not an NMS of our login",
				addr_str(from, a));
		return 0;
	}
	/* ...only when it names the key we use now... */
	if (!s->info.have_key || key_id != s->info.key_id ||
	    (s->info.state != SIG_REGISTER && s->info.state != SIG_REGISTERED)) {
		s->st.rx_reject_ignored++;
		return 0;
	}
	/* ...and it may only make us log in again.  The key and the state
	 * stay until that login succeeds (sig_login_done then registers the
	 * new key), as for a key renewal: a forged Reject, even one that
	 * spoofs the NMS's address, costs a login, never the registration;
	 * a genuine one (the NMS lost or expired the key) is followed by the
	 * new key's registration as soon as the AS answers.  A login running
	 * or already scheduled (the backoff after a failed one) is not
	 * started again or brought forward. */
	if (s->login_pending || s->login_at != NEVER)
		return 0;
	/* The AS keeps one live key per node: a key rejected soon after the
	 * login that got it was most likely retired by another login of
	 * this node, i.e. another instance of it (a redeployed node whose
	 * old copy still runs).  Logging in at once would retire that one's
	 * key in turn, and both would go on at every keepalive: back off,
	 * doubling while the episode lasts (the key of a delayed login
	 * rejected soon again), and say so once per episode. */
	if (s->login_ok_at != NEVER && now - s->login_ok_at < SIG_DUP_LOGIN_WINDOW_MS) {
		if (!s->login_ok_dup || !s->dup_backoff_ms) {
			s->dup_backoff_ms = SIG_DUP_BACKOFF_MIN_MS;
			log_err("%s: key retired again shortly after login: is another instance of "
				"this node running?", s->info.fqdn);
		} else if (s->dup_backoff_ms < SIG_DUP_BACKOFF_MAX_MS) {
			s->dup_backoff_ms *= 2;
			if (s->dup_backoff_ms > SIG_DUP_BACKOFF_MAX_MS)
				s->dup_backoff_ms = SIG_DUP_BACKOFF_MAX_MS;
		}
		s->st.login_dup_delayed++;
		s->dup_wait = true;
		s->login_at = now + s->dup_backoff_ms;
		log_warnx("NMS %s rejected key %016" PRIx64 " (%s) %" PRId64 " s after the login: "
			  "logging in again in %" PRId64 " s", addr_str(from, a), key_id,
			  cy_result_str((enum cy_result)res), (now - s->login_ok_at) / 1000,
			  s->dup_backoff_ms / 1000);
		return 0;
	}
	s->dup_backoff_ms = 0;
	log_info("logging in again: NMS %s rejected key %016" PRIx64 " (%s)", addr_str(from, a),
		 key_id, cy_result_str((enum cy_result)res));
	start_login(s);
	return 0;
}

int sig_input(struct sig *s, const uint8_t *buf, size_t len, const struct sockaddr *from)
{
	uint8_t plain[SIG_PLAIN_MAX];
	struct cy_seal_hdr h;
	struct cy_msg m;
	ssize_t n;

	if (len < 2 || buf[0] != CY_VERSION)
		return -ENOMSG;
	if (buf[1] == CY_NMS_REJECT)
		return on_reject(s, buf, len, from);
	if (buf[1] != CY_SEALED)
		return -ENOMSG;
	if (cy_seal_peek(buf, len, &h) < 0 || h.dir != CY_DIR_FROM_CLOUD) {
		sig_bad_input(s, from, "bad sealed header");
		return 0;
	}
	if (!s->aead || h.key_id != s->info.key_id) {
		s->st.rx_other_key++;
		LOG_RATELIMITED(&s->rl, "dropped datagram sealed with key %016" PRIx64
				" (not the current key)", h.key_id);
		return 0;
	}
	/* Check before authenticating, update only after. */
	if (!replay_check(&s->rx, h.counter)) {
		s->st.rx_replay++;
		LOG_RATELIMITED(&s->rl, "dropped replayed datagram (counter %" PRIu64 ")",
				h.counter);
		return 0;
	}
	n = cy_unseal(s->aead, buf, len, plain, sizeof(plain));
	if (n < 0) {
		sig_bad_input(s, from, "does not authenticate");
		return 0;
	}
	if (!replay_update(&s->rx, h.counter)) {
		s->st.rx_replay++;
		return 0;
	}
	if (cy_msg_parse(&m, plain, (size_t)n) < 0) {
		cy_wipe(plain, sizeof(plain));
		sig_bad_input(s, from, "malformed message inside the seal");
		return 0;
	}
	s->st.rx_ok++;
	switch (m.type) {
	case CY_REG_RES:
		on_reg_res(s, &m, from);
		break;
	case CY_KEEPALIVE_ACK:
		on_ka_ack(s, &m, from);
		break;
	case CY_DEREG:
		break; /* the answer to our Deregistration */
	case CY_ROUTE_DIRECTION:
		if (sig_route_input(s, &m, from))
			enter_register(s);
		break;
	case CY_PUNCH_DIRECTION:
		sig_punch_input(s, &m, from);
		break;
	case CY_TEARDOWN:
		sig_teardown_input(s, &m, from);
		break;
	default:
		sig_bad_input(s, from, "unexpected message type");
	}
	cy_wipe(plain, sizeof(plain));
	return 0;
}

/* ---- timers ---- */

void sig_timeout(struct sig *s)
{
	int64_t now = clock_now_ms();

	if (s->info.have_key && now >= s->info.key_expires_ms) {
		log_warnx("common key %016" PRIx64 " expired", s->info.key_id);
		drop_key(s);
		if (s->info.state == SIG_REGISTER || s->info.state == SIG_REGISTERED) {
			set_state(s, SIG_LOGIN);
			s->tx_at = NEVER;
		}
		if (!s->login_pending && s->login_at == NEVER)
			start_login(s);
	}
	if (now >= s->rekey_at) {
		s->rekey_at = NEVER;
		relogin(s, "the common key reached 80% of its lifetime", true);
	}
	if (now >= s->login_at && !s->login_pending)
		start_login(s);
	sig_route_timeout(s, now);
	if (now < s->tx_at)
		return;
	switch (s->info.state) {
	case SIG_REGISTER:
		if (now - s->reg_since >= SIG_REG_GIVEUP_MS) {
			log_warnx("no Registration Response for %d s", SIG_REG_GIVEUP_MS / 1000);
			relogin(s, "registration failed", false);
			break;
		}
		if (s->nnms)
			s->nms_idx = (s->nms_idx + 1) % s->nnms;
		send_reg(s, false);
		s->tx_at = now + SIG_REG_RETRY_MS;
		break;
	case SIG_REGISTERED:
		if (s->moving) {
			if (now - s->reg_since >= SIG_REG_GIVEUP_MS) {
				log_warnx("no Registration Response for %d s after a move",
					  SIG_REG_GIVEUP_MS / 1000);
				enter_register(s);
				break;
			}
			send_reg(s, true);
			s->tx_at = now + SIG_MOVE_RETRY_MS;
			break;
		}
		if (s->ka_out >= SIG_KA_MISSES) {
			log_warnx("%d keepalives unanswered: not registered", SIG_KA_MISSES);
			enter_register(s);
			break;
		}
		send_simple(s, CY_KEEPALIVE);
		s->ka_out++;
		s->tx_at = now + s->ka_interval_ms;
		break;
	default:
		s->tx_at = NEVER;
	}
}

int64_t sig_next_ms(const struct sig *s)
{
	int64_t t = s->login_pending ? NEVER : s->login_at;

	if (s->tx_at < t)
		t = s->tx_at;
	if (s->rekey_at < t)
		t = s->rekey_at;
	if (s->info.have_key && s->info.key_expires_ms < t)
		t = s->info.key_expires_ms;
	if (sig_route_next_ms(s) < t)
		t = sig_route_next_ms(s);
	return t;
}

void sig_handover(struct sig *s)
{
	int64_t now = clock_now_ms();

	if (s->info.state != SIG_REGISTERED)
		return;
	/* A move during a move keeps the first one's give-up time. */
	if (!s->moving)
		s->reg_since = now;
	s->moving = true;
	/* From here the NMS asks for new cookies: answered at once. */
	memset(s->prove_until, 0, sizeof(s->prove_until));
	sig_route_moved(s);
	send_reg(s, true);
	s->tx_at = now + SIG_MOVE_RETRY_MS;
}

size_t sig_nms(const struct sig *s, const struct sockaddr_storage **out)
{
	*out = s->nms;
	return s->nnms;
}

void sig_use_nms(struct sig *s, size_t i)
{
	if (i < s->nnms)
		s->nms_idx = i;
}

void sig_stop(struct sig *s)
{
	if (s->aead && (s->info.state == SIG_REGISTERED || s->info.state == SIG_REGISTER)) {
		log_info("deregistering");
		send_simple(s, CY_DEREG);
	}
}

/* ---- lifecycle ---- */

struct sig *sig_new(uint16_t port, int keepalive, const struct sig_ops *ops, void *arg)
{
	struct sig *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ops = ops;
	s->arg = arg;
	s->port = port;
	s->keepalive_ms = (keepalive > 0 ? keepalive : 15) * 1000;
	s->info.state = SIG_LOGIN;
	s->login_at = s->tx_at = s->rekey_at = s->login_ok_at = NEVER;
	replay_init(&s->rx);
	if (cy_random(&s->next_req_id, sizeof(s->next_req_id)) < 0)
		s->next_req_id = 1;
	return s;
}

void sig_free(struct sig *s)
{
	if (!s)
		return;
	aead_free(s->aead);
	cy_wipe(s, sizeof(*s));
	free(s);
}

const struct sig_info *sig_info(const struct sig *s)
{
	return &s->info;
}

const struct sig_stats *sig_stats(const struct sig *s)
{
	return &s->st;
}
