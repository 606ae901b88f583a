#include "as.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "aead.h"
#include "as_limit.h"
#include "as_pki.h"
#include "clock.h"
#include "keylog.h"
#include "log.h"
#include "pwhash.h"
#include "store.h"
#include "wire.h"

#define AS_KEY_TRIES 4

struct as {
	struct store *st;
	struct as_conf conf;
	struct as_stats stats;
	struct ratelimit rl_bad;     /* malformed requests */
	struct ratelimit rl_refused; /* failed logins */
	/* Failed password logins by source and by name, and the sources that
	 * logged a name in lately (they are not held back by that name's
	 * failures: a guesser elsewhere cannot lock a node out). */
	struct login_guard *guard;           /* password logins (as_limit.h) */
	char dummy[PWHASH_MAX];      /* verified against when there is no hash */
};

struct as *as_new(struct store *st, const struct as_conf *conf)
{
	struct as *as;

	if (conf->key_lifetime <= 0 || conf->nnms > AS_MAX_NMS)
		return NULL;
	as = calloc(1, sizeof(*as));
	if (!as)
		return NULL;
	as->st = st;
	as->conf = *conf;
	as->guard = login_guard_new();
	/* The hash an unknown name is checked against, made once here so no
	 * request pays for it. */
	if (!as->guard ||
	    pwhash_create("cyphonic dummy password", as->dummy) < 0) {
		as_free(as);
		return NULL;
	}
	return as;
}

void as_free(struct as *as)
{
	if (!as)
		return;
	login_guard_free(as->guard);
	free(as);
}

const struct as_stats *as_stats(const struct as *as)
{
	return &as->stats;
}

void as_tls_failed(struct as *as)
{
	as->stats.tls_fail++;
}

void as_conn_refused(struct as *as)
{
	as->stats.conn_refused++;
}

void as_conn_evicted(struct as *as)
{
	as->stats.conn_evicted++;
}

ssize_t as_frame_len(struct as *as, const uint8_t *hdr)
{
	ssize_t n = cy_frame_len(hdr);

	if (n < 0) {
		as->stats.malformed++;
		return -EBADMSG;
	}
	if (n - CY_HDR_LEN > AS_MSG_MAX) {
		as->stats.oversized++;
		return -EMSGSIZE;
	}
	return n;
}

static const char *peer_str(const struct as_peer *peer, char buf[ADDR_STR_MAX])
{
	if (!peer->addr)
		return "-";
	return addr_str(peer->addr, buf);
}

/* A failure response (Login or Information Response): RESULT and REASON only. */
static ssize_t as_fail(uint8_t *resp, size_t cap, uint8_t type, enum cy_result r,
		       const char *reason)
{
	struct cy_builder b;
	ssize_t n;

	cy_build_start(&b, resp, cap, type);
	cy_put_u8(&b, CY_A_RESULT, (uint8_t)r);
	cy_put_str(&b, CY_A_REASON, reason);
	n = cy_build_finish(&b);
	return n < 0 ? -ENOBUFS : n;
}

/* REASON must be 1..CY_REASON_MAX printable ASCII bytes. */
static void as_reason(char out[CY_REASON_MAX + 1], const char *in)
{
	size_t i;

	for (i = 0; in[i] && i < CY_REASON_MAX; i++)
		out[i] = (in[i] >= 0x20 && in[i] <= 0x7e) ? in[i] : '?';
	out[i] = '\0';
	if (!i)
		strcpy(out, "revoked");
}

/* Certificate serials are hex; accept the store's spelling in either case. */
static int as_node_by_serial(struct as *as, const char *serial, struct store_node *n)
{
	char alt[STORE_SERIAL_MAX + 1];
	size_t len = strlen(serial), i;
	int rc;

	if (len == 0 || len > STORE_SERIAL_MAX)
		return -ENOENT;
	rc = store_node_by_serial(as->st, serial, n);
	if (rc != -ENOENT)
		return rc;
	for (i = 0; i <= len; i++)
		alt[i] = (char)toupper((unsigned char)serial[i]);
	if (strcmp(alt, serial)) {
		rc = store_node_by_serial(as->st, alt, n);
		if (rc != -ENOENT)
			return rc;
	}
	for (i = 0; i <= len; i++)
		alt[i] = (char)tolower((unsigned char)serial[i]);
	if (strcmp(alt, serial))
		rc = store_node_by_serial(as->st, alt, n);
	return rc;
}

/* Create, store and return a fresh common key for node n. */
static int as_make_key(struct as *as, const struct store_node *n, struct store_key *k)
{
	int rc = -EIO;

	memset(k, 0, sizeof(*k));
	k->node_id = n->id;
	k->expires = clock_now() + as->conf.key_lifetime;
	if (cy_random(k->key, sizeof(k->key)) < 0)
		return -EIO;
	for (int i = 0; i < AS_KEY_TRIES; i++) {
		if (cy_random(&k->key_id, sizeof(k->key_id)) < 0)
			break;
		if (!k->key_id)
			continue;
		rc = store_key_put(as->st, k);
		if (rc != -EEXIST)
			break;
	}
	if (rc == 0)
		keylog("common", k->key, sizeof(k->key));
	if (rc < 0)
		cy_wipe(k->key, sizeof(k->key));
	return rc;
}

/* What a request says about who sends it and what it wants. */
struct as_req {
	uint8_t res_type;                    /* CY_LOGIN_RES or CY_INFO_RES */
	char name[CY_NAME_MAX + 1];
	char password[CY_PASSWORD_MAX + 1];  /* secret: wiped by as_handle */
	char for_name[CY_NAME_MAX + 1];      /* Login Request with FOR */
	uint8_t newkey[CA_RAW_KEY_LEN];      /* NEWKEY: to certify when renewing */
	bool has_name, has_pw, has_for, has_newkey;
};

static int as_req_parse(const struct cy_msg *m, struct as_req *r)
{
	r->res_type = m->type == CY_INFO_REQ ? CY_INFO_RES : CY_LOGIN_RES;
	r->has_name = cy_msg_find(m, CY_A_NAME) != NULL;
	r->has_pw = cy_msg_find(m, CY_A_PASSWORD) != NULL;
	r->has_for = m->type == CY_LOGIN_REQ && cy_msg_find(m, CY_A_FOR) != NULL;
	r->has_newkey = m->type == CY_LOGIN_REQ && cy_msg_find(m, CY_A_NEWKEY) != NULL;
	if ((r->has_newkey && !cy_msg_bytes(m, CY_A_NEWKEY, r->newkey, sizeof(r->newkey))) ||
	    (r->has_name && !cy_msg_str(m, CY_A_NAME, r->name, CY_NAME_MAX)) ||
	    (r->has_pw && !cy_msg_str(m, CY_A_PASSWORD, r->password, CY_PASSWORD_MAX)) ||
	    (r->has_for && !cy_msg_str(m, CY_A_FOR, r->for_name, CY_NAME_MAX)))
		return -EBADMSG;
	return 0;
}

/* A password login between its two halves on the loop: what the request
 * said, the hash it is checked against, and (after as_check_run) whether
 * it matched.  Holds the password: wiped when freed. */
struct as_check {
	struct as_req r;
	struct sockaddr_storage addr;
	bool has_addr;
	char hash[STORE_PWHASH_MAX + 1];   /* the node's, or as->dummy (PWHASH_MAX) */
	bool known;     /* hash is the node's own, not the dummy */
	bool ok;        /* set by as_check_run */
};

void as_check_run(struct as_check *chk)
{
	chk->ok = pwhash_verify(chk->r.password, chk->hash) && chk->known;
}

void as_check_free(struct as_check *chk)
{
	if (!chk)
		return;
	cy_wipe(chk, sizeof(*chk));
	free(chk);
}

/* Password login, first half: refused at once while the source or the
 * name is backing off after failures; otherwise a check to run off the
 * loop (the dummy hash for a name without one, so the timing does not
 * tell which names exist).  AS_PENDING with *chk set, or the length of
 * the failure response written into resp. */
static ssize_t as_check_start(struct as *as, const struct as_peer *peer, const struct as_req *r,
			      uint8_t *resp, size_t cap, struct as_check **chk)
{
	char pbuf[ADDR_STR_MAX], why[64];
	int64_t now = clock_now_ms();
	struct store_node n;
	struct as_check *c;
	int wait, rc;

	wait = login_guard_wait(as->guard, peer->addr, r->name, now);
	if (wait > 0) {
		as->stats.throttled++;
		LOG_RATELIMITED(&as->rl_refused, "as: %s: password login for %s refused for %d s "
				"after repeated failures", peer_str(peer, pbuf), r->name, wait);
		snprintf(why, sizeof(why), "too many failed logins: retry in %d s", wait);
		return as_fail(resp, cap, r->res_type, CY_ERR_BUSY, why);
	}
	rc = store_node_by_name(as->st, r->name, &n);
	if (rc < 0 && rc != -ENOENT)
		return as_fail(resp, cap, r->res_type, CY_ERR_INTERNAL, "store unavailable");
	c = calloc(1, sizeof(*c));
	if (!c)
		return as_fail(resp, cap, r->res_type, CY_ERR_INTERNAL, "internal error");
	c->r = *r;
	if (peer->addr && addr_len(peer->addr) <= sizeof(c->addr)) {
		memcpy(&c->addr, peer->addr, addr_len(peer->addr));
		c->has_addr = true;
	}
	c->known = rc == 0 && n.pwhash[0];
	snprintf(c->hash, sizeof(c->hash), "%s", c->known ? n.pwhash : as->dummy);
	cy_wipe(&n, sizeof(n));
	*chk = c;
	return AS_PENDING;
}

/* Authenticate the sender of a request (certificate, or NAME + PASSWORD)
 * and check it is not revoked.  0 with *n filled in; otherwise the length
 * of the failure response already written into resp (or -ENOBUFS).  A
 * password is verified off the loop: without a finished check in *chk
 * this starts one and returns AS_PENDING; called again with it, it uses
 * its verdict (against the hash the node still has now). */
static ssize_t as_auth(struct as *as, const struct as_peer *peer, const struct as_req *r,
		       struct store_node *n, const char **how, uint8_t *resp, size_t cap,
		       struct as_check **chk)
{
	char reason[CY_REASON_MAX + 1], pbuf[ADDR_STR_MAX];
	bool ok;
	int rc;

	if (peer->cert_serial) {
		*how = "certificate";
		rc = as_node_by_serial(as, peer->cert_serial, n);
		ok = rc == 0 && (!r->has_name || !strcmp(r->name, n->name));
	} else if (r->has_name && r->has_pw) {
		*how = "password";
		if (!*chk)
			return as_check_start(as, peer, r, resp, cap, chk);
		rc = store_node_by_name(as->st, r->name, n);
		ok = rc == 0 && (*chk)->ok && !strcmp(n->pwhash, (*chk)->hash);
		if (rc != -EIO)
			login_guard_result(as->guard, peer->addr, r->name, ok, clock_now_ms());
	} else {
		*how = "none";
		rc = -ENOENT;
		ok = false;
	}
	if (rc == -EIO)
		return as_fail(resp, cap, r->res_type, CY_ERR_INTERNAL, "store unavailable");
	if (!ok) {
		as->stats.login_refused++;
		LOG_RATELIMITED(&as->rl_refused, "as: %s: %s refused (%s%s%s)",
				peer_str(peer, pbuf), cy_msg_type_str(r->res_type - 1), *how,
				r->has_name ? ", name " : "", r->has_name ? r->name : "");
		return as_fail(resp, cap, r->res_type, CY_ERR_AUTH, "authentication failed");
	}
	if (n->revoked) {
		as->stats.revoked++;
		as_reason(reason, n->revoke_reason);
		log_warnx("as: %s: %s of revoked node %s refused: %s", peer_str(peer, pbuf),
			  cy_msg_type_str(r->res_type - 1), n->name, reason);
		return as_fail(resp, cap, r->res_type, CY_ERR_REVOKED, reason);
	}
	/* The renewed certificate is in use: the one it replaced goes, so a
	 * copy of the old key can neither log in nor renew any more. */
	if (peer->cert_serial && n->cert_prev[0] &&
	    !strcasecmp(peer->cert_serial, n->cert_serial) &&
	    store_node_cert_used(as->st, n->id, n->cert_serial) == 0)
		n->cert_prev[0] = '\0';
	return 0;
}

/* Login Request with FOR: the authenticated adapter ad asks for its
 * general node r->for_name.  0 with *gn filled in, or the length of the
 * failure response written into resp. */
static ssize_t as_for(struct as *as, const struct as_peer *peer, const struct as_req *r,
		      const struct store_node *ad, struct store_node *gn, uint8_t *resp,
		      size_t cap)
{
	char reason[CY_REASON_MAX + 1], pbuf[ADDR_STR_MAX];
	int rc;

	if (ad->kind != CY_KIND_ADAPTER) {
		as->stats.for_refused++;
		LOG_RATELIMITED(&as->rl_refused, "as: %s: %s is no adapter, login for %s refused",
				peer_str(peer, pbuf), ad->name, r->for_name);
		return as_fail(resp, cap, CY_LOGIN_RES, CY_ERR_POLICY,
			       "only an adapter logs in on another node's behalf");
	}
	rc = store_node_by_name(as->st, r->for_name, gn);
	if (rc == -ENOENT) {
		as->stats.for_refused++;
		LOG_RATELIMITED(&as->rl_refused, "as: %s: adapter %s: no general node %s",
				peer_str(peer, pbuf), ad->name, r->for_name);
		return as_fail(resp, cap, CY_LOGIN_RES, CY_ERR_UNKNOWN, "unknown general node");
	}
	if (rc < 0)
		return as_fail(resp, cap, CY_LOGIN_RES, CY_ERR_INTERNAL, "store unavailable");
	if (gn->kind != CY_KIND_GN || gn->adapter_id != ad->id) {
		as->stats.for_refused++;
		log_warnx("as: %s: adapter %s asked to log in %s, which is not its general node",
			  peer_str(peer, pbuf), ad->name, gn->name);
		return as_fail(resp, cap, CY_LOGIN_RES, CY_ERR_POLICY,
			       "not a general node of this adapter");
	}
	if (gn->revoked) {
		as->stats.revoked++;
		as_reason(reason, gn->revoke_reason);
		log_warnx("as: %s: adapter %s: login of revoked general node %s refused: %s",
			  peer_str(peer, pbuf), ad->name, gn->name, reason);
		return as_fail(resp, cap, CY_LOGIN_RES, CY_ERR_REVOKED, reason);
	}
	return 0;
}

/* The cloud's CAs, and a renewed certificate when the node logged in
 * with one that is due and offered a key for it: the Login Response's
 * CA and CERT.  A renewal that fails leaves the login as it was: the old
 * certificate still works until it expires. */
static void as_put_pki(struct as *as, const struct as_peer *peer, const struct as_req *r,
		       const struct store_node *n, struct cy_builder *b)
{
	char serial[CA_SERIAL_MAX + 1], pbuf[ADDR_STR_MAX];
	const uint8_t *der;
	uint8_t *cert;
	size_t len, i;
	int rc;

	if (!as->conf.pki)
		return;
	for (i = 0; (der = as_pki_bundle_der(as->conf.pki, i, &len)); i++)
		cy_put_bytes(b, CY_A_CA, der, len);
	if (r->has_for || !r->has_newkey || !peer->cert || !peer->cert_serial ||
	    !as_pki_renew_due(as->conf.pki, (const X509 *)peer->cert))
		return;
	rc = as_pki_issue_node(as->conf.pki, n->fqdn, r->newkey, &cert, &len, serial);
	if (rc == 0)
		rc = store_node_renew_cert(as->st, n->id, peer->cert_serial, serial);
	if (rc < 0) {
		as->stats.renew_failed++;
		log_warnx("as: %s: cannot renew the certificate of %s: %s", peer_str(peer, pbuf),
			  n->fqdn, strerror(-rc));
		free(cert);
		return;
	}
	cy_put_bytes(b, CY_A_CERT, cert, len);
	free(cert);
	as->stats.renewed++;
	log_info("as: %s: certificate of %s renewed (serial %s)", peer_str(peer, pbuf), n->fqdn,
		 serial);
}

static ssize_t as_login(struct as *as, const struct as_peer *peer, const struct as_req *r,
			uint8_t *resp, size_t cap, struct as_check **chk)
{
	char pbuf[ADDR_STR_MAX], by[CY_NAME_MAX + 16] = "";
	struct store_node ad, gn, *n = &ad;
	struct store_key k;
	struct cy_builder b;
	uint64_t key_id;
	const char *how;
	ssize_t len;

	len = as_auth(as, peer, r, &ad, &how, resp, cap, chk);
	if (len != 0)
		return len;
	if (r->has_for) {
		len = as_for(as, peer, r, &ad, &gn, resp, cap);
		if (len != 0)
			return len;
		n = &gn;
		snprintf(by, sizeof(by), " by %s", ad.name);
	}

	if (as_make_key(as, n, &k) < 0) {
		log_warnx("as: %s: cannot store a key for %s", peer_str(peer, pbuf), n->name);
		return as_fail(resp, cap, CY_LOGIN_RES, CY_ERR_INTERNAL, "internal error");
	}
	cy_build_start(&b, resp, cap, CY_LOGIN_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	cy_put_str(&b, CY_A_NAME, n->name);
	cy_put_str(&b, CY_A_FQDN, n->fqdn);
	cy_put_u8(&b, CY_A_KIND, (uint8_t)n->kind);
	cy_put_u64(&b, CY_A_KEY_ID, k.key_id);
	cy_put_bytes(&b, CY_A_KEY, k.key, sizeof(k.key));
	cy_put_u32(&b, CY_A_LIFETIME, (uint32_t)as->conf.key_lifetime);
	for (size_t i = 0; i < as->conf.nnms; i++)
		cy_put_endpoint(&b, CY_A_NMS, (const struct sockaddr *)&as->conf.nms[i]);
	as_put_pki(as, peer, r, n, &b);
	len = cy_build_finish(&b);
	key_id = k.key_id;
	cy_wipe(&k, sizeof(k));
	if (len < 0) {
		cy_wipe(resp, cap);
		return -ENOBUFS;
	}
	as->stats.login_ok++;
	if (r->has_for)
		as->stats.for_ok++;
	log_info("as: %s: %s logged in%s (%s), key %016" PRIx64 " for %ds", peer_str(peer, pbuf),
		 n->fqdn, by, how, key_id, as->conf.key_lifetime);
	return len;
}

struct as_list {
	struct cy_builder *b;
	size_t n;
};

static int as_list_gn(const struct store_node *n, void *arg)
{
	struct as_list *l = arg;
	size_t tok;

	if (n->revoked || n->kind != CY_KIND_GN)
		return 0;
	tok = cy_put_nested_begin(l->b, CY_A_GN);
	cy_put_str(l->b, CY_A_NAME, n->name);
	cy_put_str(l->b, CY_A_FQDN, n->fqdn);
	cy_put_bytes(l->b, CY_A_MAC, n->mac, sizeof(n->mac));
	cy_put_bytes(l->b, CY_A_VIP4, n->vip4, sizeof(n->vip4));
	cy_put_bytes(l->b, CY_A_VIP6, n->vip6, sizeof(n->vip6));
	cy_put_nested_end(l->b, tok);
	l->n++;
	return 0;
}

/* Information Request: the adapter's non-revoked general nodes. */
static ssize_t as_info(struct as *as, const struct as_peer *peer, const struct as_req *r,
		       uint8_t *resp, size_t cap, struct as_check **chk)
{
	char pbuf[ADDR_STR_MAX];
	struct store_node ad;
	struct cy_builder b;
	struct as_list l = { .b = &b };
	const char *how;
	ssize_t len;

	len = as_auth(as, peer, r, &ad, &how, resp, cap, chk);
	if (len == AS_PENDING)
		return len;
	if (len != 0) {
		as->stats.info_refused++;
		return len;
	}
	if (ad.kind != CY_KIND_ADAPTER) {
		as->stats.info_refused++;
		LOG_RATELIMITED(&as->rl_refused, "as: %s: Information Request of %s refused: "
				"no adapter", peer_str(peer, pbuf), ad.name);
		return as_fail(resp, cap, CY_INFO_RES, CY_ERR_POLICY,
			       "only an adapter has general nodes");
	}
	cy_build_start(&b, resp, cap, CY_INFO_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	if (store_node_foreach(as->st, ad.id, as_list_gn, &l) < 0) {
		as->stats.info_refused++;
		return as_fail(resp, cap, CY_INFO_RES, CY_ERR_INTERNAL, "store unavailable");
	}
	len = cy_build_finish(&b);
	if (len < 0) {
		/* More general nodes than one frame holds (64 KiB of attributes,
		 * some hundreds with long names). */
		as->stats.info_refused++;
		log_warnx("as: %s: the %zu general nodes of %s do not fit one Information "
			  "Response", peer_str(peer, pbuf), l.n, ad.name);
		return as_fail(resp, cap, CY_INFO_RES, CY_ERR_INTERNAL,
			       "general-node list too long for one response");
	}
	as->stats.info_ok++;
	log_debug("as: %s: %s (%s) fetched its %zu general node(s)", peer_str(peer, pbuf),
		  ad.fqdn, how, l.n);
	return len;
}

/* Either half of a request: the parsed request r, and a finished check
 * or none. */
static ssize_t as_dispatch(struct as *as, const struct as_peer *peer, const struct as_req *r,
			   uint8_t *resp, size_t cap, struct as_check **chk)
{
	if (r->res_type == CY_INFO_RES)
		return as_info(as, peer, r, resp, cap, chk);
	return as_login(as, peer, r, resp, cap, chk);
}

ssize_t as_start(struct as *as, const struct as_peer *peer, const uint8_t *req, size_t len,
		 uint8_t *resp, size_t cap, struct as_check **chk)
{
	char pbuf[ADDR_STR_MAX];
	struct cy_msg *m;
	struct as_req *r;
	ssize_t n;

	*chk = NULL;
	if (len < CY_HDR_LEN) {
		as->stats.malformed++;
		return -EBADMSG;
	}
	n = as_frame_len(as, req);
	if (n < 0)
		return n;
	if ((size_t)n != len) {
		as->stats.malformed++;
		return -EBADMSG;
	}
	m = malloc(sizeof(*m));
	r = calloc(1, sizeof(*r));
	if (!m || !r) {
		n = -ENOMEM;
		goto out;
	}
	if (cy_msg_parse(m, req, len) < 0 ||
	    (m->type != CY_LOGIN_REQ && m->type != CY_INFO_REQ) || as_req_parse(m, r) < 0) {
		as->stats.malformed++;
		LOG_RATELIMITED(&as->rl_bad, "as: %s: malformed request (type %u)",
				peer_str(peer, pbuf), req[1]);
		n = as_fail(resp, cap, req[1] == CY_INFO_REQ ? CY_INFO_RES : CY_LOGIN_RES,
			    CY_ERR_MALFORMED, "malformed request");
		goto out;
	}
	n = as_dispatch(as, peer, r, resp, cap, chk);
out:
	if (r)
		cy_wipe(r, sizeof(*r));
	free(r);
	free(m);
	return n;
}

ssize_t as_check_finish(struct as *as, struct as_check *chk, uint8_t *resp, size_t cap)
{
	struct as_peer peer = { .addr = chk->has_addr ? (struct sockaddr *)&chk->addr : NULL };
	ssize_t n = as_dispatch(as, &peer, &chk->r, resp, cap, &chk);

	as_check_free(chk);
	return n;
}

ssize_t as_check_refuse(struct as *as, struct as_check *chk, uint8_t *resp, size_t cap)
{
	uint8_t type = chk->r.res_type;

	as_check_free(chk);
	as->stats.throttled++;
	return as_fail(resp, cap, type, CY_ERR_BUSY, "too many password logins at once");
}

ssize_t as_handle(struct as *as, const struct as_peer *peer, const uint8_t *req, size_t len,
		  uint8_t *resp, size_t cap)
{
	struct as_check *chk;
	ssize_t n = as_start(as, peer, req, len, resp, cap, &chk);

	if (n != AS_PENDING)
		return n;
	as_check_run(chk);
	return as_check_finish(as, chk, resp, cap);
}

bool as_response_ok(const uint8_t *resp, size_t len)
{
	struct cy_msg m;
	uint8_t result;

	return cy_msg_parse(&m, resp, len) == 0 && cy_msg_u8(&m, CY_A_RESULT, &result) &&
	       result == CY_OK;
}

const struct counter as_counters[] = {
	COUNTER(struct as_stats, tls_fail, "TLS handshakes that failed"),
	COUNTER(struct as_stats, login_ok, "logins that succeeded"),
	COUNTER(struct as_stats, login_refused, "logins and Information Requests refused: credentials"),
	COUNTER(struct as_stats, malformed, "bad frames and requests"),
	COUNTER(struct as_stats, oversized, "frames over the size limit"),
	COUNTER(struct as_stats, revoked, "requests of revoked nodes"),
	COUNTER(struct as_stats, for_ok, "logins on an adapter's behalf"),
	COUNTER(struct as_stats, for_refused, "logins on an adapter's behalf refused"),
	COUNTER(struct as_stats, info_ok, "Information Requests answered"),
	COUNTER(struct as_stats, info_refused, "Information Requests refused"),
	COUNTER(struct as_stats, throttled, "password logins refused without hashing"),
	COUNTER(struct as_stats, conn_refused, "connections refused over a cap"),
	COUNTER(struct as_stats, conn_evicted,
		"connections cut in their TLS handshake to make room for a new one"),
	COUNTER(struct as_stats, renewed, "node certificates renewed"),
	COUNTER(struct as_stats, renew_failed, "node certificate renewals that failed"),
};
const size_t as_ncounters = sizeof(as_counters) / sizeof(as_counters[0]);
