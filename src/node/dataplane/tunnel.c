#include "tunnel.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "eph.h"
#include "keylog.h"
#include "log.h"
#include "wire.h"

_Static_assert(EPH_PUB_LEN == TUNNEL_PUB_LEN, "an ephemeral key is the share a handshake carries");

/* First byte of the handshake nonce: which message, hence which sender. */
enum { DIR_REQUEST = 1, DIR_RESPONSE = 2 };

#define NONCE_RAND_LEN (AEAD_NONCE_LEN - 1)
#define MATERIAL_LEN 32
#define KDF_LABEL "cyphonic tunnel v1"

/* Our Request in flight: allocated by build_request, freed as soon as the
 * handshake completes, fails or loses a simultaneous open. */
struct handshake {
	EVP_PKEY *eph;                      /* our ephemeral X25519 key */
	uint8_t pub[TUNNEL_PUB_LEN];
	uint8_t material[MATERIAL_LEN];     /* End Key material we chose */
	uint8_t nonce[AEAD_NONCE_LEN];      /* of our last Request: the Response binds it */
	uint8_t prev_nonce[AEAD_NONCE_LEN]; /* ...and of the attempt before, if any: a late */
	bool have_prev;                     /* Response to it is not a forgery */
	uint32_t index;
	int64_t started_ms;                 /* first attempt of this handshake */
	int64_t sent_ms;                    /* last (re)transmission */
	bool resent;                        /* tunnel_resend_request sent it again */
};

/* The Response to the peer's last Request, for a duplicate of it; kept
 * while the session it created waits for its confirmation. */
struct hs_reply {
	uint8_t resp[TUNNEL_RESP_LEN];
};

/* Handshake counters; 32 bits are plenty (tunnel_get_stats widens them). */
struct hs_counts {
	uint32_t req_sent, req_recv, resp_sent, resp_recv;
	uint32_t drop_malformed, drop_auth, drop_stale, drop_unexpected, drop_crypto;
	uint32_t dup, collisions, retransmits, timeouts, rekeys;
};

/* Kept small: a daemon holds one per peer.  No cipher context (the
 * handshake seals with aead_*_once, the sessions take theirs from the
 * pool), the handshake state only while one runs. */
struct tunnel {
	uint64_t id;
	uint8_t tunnel_key[TUNNEL_KEY_LEN]; /* ChaCha20-Poly1305 key; also the HKDF salt */
	bool relay;
	bool failed;
	bool had_session;
	bool have_last_req;
	uint8_t role;                       /* enum tunnel_role */
	int8_t order;                       /* < 0: our Request wins a collision */
	uint8_t pref;                       /* enum aead_alg */
	uint8_t offer;
	bool (*index_in_use)(void *ctx, uint32_t idx);
	void *index_ctx;
	struct eph_spare *spare;            /* tunnel_params.spare */

	struct handshake *hs;               /* our Request in flight, else NULL */
	struct hs_reply *reply;
	int64_t own_ts_last;                /* last Request timestamp we sent */
	uint64_t peer_ts_last;              /* newest Request timestamp accepted */
	uint8_t last_req_tag[AEAD_TAG_LEN]; /* ...its tag: a later copy is a duplicate */
	uint8_t last_resp_tag[AEAD_TAG_LEN];/* the Response our last attempt took */
	uint8_t last_resp_aad[AEAD_NONCE_LEN]; /* ...and our Request's nonce it is bound to */
	bool have_last_resp;
	bool answered_copy;                 /* see tunnel_answered_copy() */

	struct session *cur;                /* carries our data */
	struct session *next;               /* answered a Request, not yet confirmed */
	struct session *prev;               /* replaced, opens until prev_until_ms */
	int64_t prev_until_ms;

	struct session_stats data;          /* counters of retired sessions */
	uint64_t drop_index, drop_no_session;
	bool rx_newest;                     /* see tunnel_rx_newest() */
	struct hs_counts hc;
	/* The Temp Key (TUNNEL_KEY_LEN) when relayed, then the peer's FQDN
	 * (for log lines). */
	uint8_t tail[];
};

/* One limiter for the log lines of every tunnel, as the kernel's
 * net_ratelimit(): a flood towards one peer cannot fill the log. */
static struct ratelimit tunnel_rl;

static const uint8_t *temp_key(const struct tunnel *t)
{
	return t->tail;
}

static const char *tname(const struct tunnel *t)
{
	return (const char *)t->tail + (t->relay ? TUNNEL_KEY_LEN : 0);
}

static size_t tail_len(bool relay, const char *name)
{
	return (relay ? TUNNEL_KEY_LEN : 0) + strlen(name) + 1;
}

static int64_t wall_ms(void)
{
	return clock_now() * 1000;
}

static void hs_free(struct tunnel *t)
{
	if (!t->hs)
		return;
	EVP_PKEY_free(t->hs->eph);    /* OpenSSL clears the private key */
	cy_wipe(t->hs, sizeof(*t->hs));
	free(t->hs);
	t->hs = NULL;
}

static void reply_free(struct tunnel *t)
{
	free(t->reply);
	t->reply = NULL;
}

static void retire(struct tunnel *t, struct session **sp)
{
	if (!*sp)
		return;
	session_stats_add(&t->data, session_stats(*sp));
	session_free(*sp);
	*sp = NULL;
}

/* The unconfirmed session goes, and with it the Response that made it. */
static void retire_next(struct tunnel *t)
{
	retire(t, &t->next);
	reply_free(t);
}

struct tunnel *tunnel_new(const struct tunnel_params *p)
{
	struct tunnel *t;
	size_t tail;
	int cmp;

	if (!p->tunnel_key || !p->local_fqdn || !p->peer_fqdn)
		return NULL;
	tail = tail_len(p->temp_key != NULL, p->peer_fqdn);
	t = calloc(1, sizeof(*t) + tail);
	if (!t)
		return NULL;
	t->id = p->tunnel_id;
	memcpy(t->tunnel_key, p->tunnel_key, TUNNEL_KEY_LEN);
	if (p->temp_key) {
		t->relay = true;
		memcpy(t->tail, p->temp_key, TUNNEL_KEY_LEN);
	}
	memcpy((char *)tname(t), p->peer_fqdn, strlen(p->peer_fqdn) + 1);
	/* The role goes into every handshake message we seal (a message
	 * carrying it is refused as ours): it must be one of the two. */
	if (p->role != TUNNEL_INITIATOR && p->role != TUNNEL_RESPONDER) {
		tunnel_free(t);
		return NULL;
	}
	t->role = (uint8_t)p->role;
	cmp = strcmp(p->local_fqdn, p->peer_fqdn);
	t->order = cmp < 0 ? -1 : cmp > 0 ? 1 : 0;
	t->pref = (uint8_t)(p->aead_pref ? p->aead_pref : session_aead_preferred());
	t->offer = (uint8_t)((p->aead_offer ? p->aead_offer : SESSION_AEAD_ALL) & SESSION_AEAD_ALL);
	if (!t->offer || (t->pref != AEAD_CHACHA20_POLY1305 && t->pref != AEAD_AES256_GCM)) {
		tunnel_free(t);
		return NULL;
	}
	if (!(t->offer & SESSION_AEAD_BIT(t->pref)))
		t->pref = (t->offer & SESSION_AEAD_BIT(AEAD_CHACHA20_POLY1305)) ?
			  AEAD_CHACHA20_POLY1305 : AEAD_AES256_GCM;
	t->index_in_use = p->index_in_use;
	t->index_ctx = p->index_ctx;
	t->spare = p->spare;
	return t;
}

void tunnel_free(struct tunnel *t)
{
	if (!t)
		return;
	hs_free(t);
	reply_free(t);
	session_free(t->cur);
	session_free(t->next);
	session_free(t->prev);
	cy_wipe(t, sizeof(*t) + tail_len(t->relay, tname(t)));
	free(t);
}

/* --- crypto helpers ------------------------------------------------------ */

/* X25519(priv, peer) into out.  -EPERM for a share that yields the
 * all-zero secret (a low-order point: RFC 7748 section 6.1). */
static int x25519_shared(EVP_PKEY *priv, const uint8_t peer[TUNNEL_PUB_LEN],
			 uint8_t out[32])
{
	static const uint8_t zero[32];
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer,
						   TUNNEL_PUB_LEN);
	EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new(priv, NULL) : NULL;
	size_t len = 32;
	int rc = -EPERM;

	/* OpenSSL refuses the all-zero result itself; checked again here. */
	if (ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, pk) == 1 &&
	    EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32 &&
	    CRYPTO_memcmp(out, zero, 32) != 0)
		rc = 0;
	if (rc < 0)
		cy_wipe(out, 32);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return rc;
}

struct kdf_in {
	uint64_t tunnel_id;
	enum aead_alg alg;
	uint8_t flags;
	const uint8_t *ipub, *rpub;
	uint32_t iindex, rindex;
	const uint8_t *shared;     /* 32 */
	const uint8_t *material;   /* 32 */
};

/* HKDF-SHA256(salt = Tunnel Key, IKM = X25519 shared || material,
 * info = label || tunnel id || alg || flags || pubs || indices) ->
 * initiator->responder key || responder->initiator key. */
static int tunnel_kdf(const struct tunnel *t, const struct kdf_in *in,
		      uint8_t keys[2 * AEAD_KEY_LEN])
{
	uint8_t ikm[64], info[sizeof(KDF_LABEL) - 1 + 8 + 2 + 2 * TUNNEL_PUB_LEN + 8];
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5];
	struct wbuf w;
	int rc = -EIO;

	memcpy(ikm, in->shared, 32);
	memcpy(ikm + 32, in->material, 32);
	wbuf_init(&w, info, sizeof(info));
	wbuf_put_bytes(&w, KDF_LABEL, sizeof(KDF_LABEL) - 1);
	wbuf_put_u64(&w, in->tunnel_id);
	wbuf_put_u8(&w, (uint8_t)in->alg);
	wbuf_put_u8(&w, in->flags);
	wbuf_put_bytes(&w, in->ipub, TUNNEL_PUB_LEN);
	wbuf_put_bytes(&w, in->rpub, TUNNEL_PUB_LEN);
	wbuf_put_u32(&w, in->iindex);
	wbuf_put_u32(&w, in->rindex);
	if (!ctx || !wbuf_ok(&w) || w.len != sizeof(info))
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm, sizeof(ikm));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						      (void *)t->tunnel_key, TUNNEL_KEY_LEN);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info));
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, keys, 2 * AEAD_KEY_LEN, params) == 1) {
		keylog("end", keys, AEAD_KEY_LEN);
		keylog("end", keys + AEAD_KEY_LEN, AEAD_KEY_LEN);
		rc = 0;
	}
out:
	cy_wipe(ikm, sizeof(ikm));
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

static bool index_taken(const struct tunnel *t, uint32_t idx)
{
	if ((t->cur && session_local_index(t->cur) == idx) ||
	    (t->next && session_local_index(t->next) == idx) ||
	    (t->prev && session_local_index(t->prev) == idx) ||
	    (t->hs && t->hs->index == idx))
		return true;
	return t->index_in_use && t->index_in_use(t->index_ctx, idx);
}

static int new_index(const struct tunnel *t, uint32_t *idx)
{
	for (int i = 0; i < 32; i++) {
		if (cy_random(idx, sizeof(*idx)) < 0)
			return -EIO;
		if (!index_taken(t, *idx))
			return 0;
	}
	return -EADDRINUSE;
}

static int new_nonce(uint8_t nonce[AEAD_NONCE_LEN], uint8_t dir)
{
	nonce[0] = dir;
	return cy_random(nonce + 1, NONCE_RAND_LEN);
}

static void hdr_put(struct wbuf *w, const struct tunnel *t, uint8_t type,
		    const uint8_t nonce[AEAD_NONCE_LEN])
{
	wbuf_put_u8(w, CY_VERSION);
	wbuf_put_u8(w, type);
	wbuf_put_u8(w, t->relay ? TUNNEL_FLAG_RELAY : 0);
	wbuf_put_u8(w, 0);
	wbuf_put_u64(w, t->id);
	wbuf_put_bytes(w, nonce, AEAD_NONCE_LEN);
}

struct hs_hdr {
	uint8_t flags;
	uint64_t tunnel_id;
	uint8_t nonce[AEAD_NONCE_LEN];
	const uint8_t *ct;
	size_t ctlen;
};

/* The clear header of a Request or Response, checked against this
 * tunnel; the rest must be exactly the sealed body's length. */
static int hs_parse(const struct tunnel *t, const uint8_t *pkt, size_t len, uint8_t want_type,
		    struct hs_hdr *h)
{
	struct cur c = cur_make(pkt, len);
	uint8_t ver, type, rsv;
	size_t body;

	if (!cur_get_u8(&c, &ver) || !cur_get_u8(&c, &type) || !cur_get_u8(&c, &h->flags) ||
	    !cur_get_u8(&c, &rsv) || !cur_get_u64(&c, &h->tunnel_id) ||
	    !cur_get_bytes(&c, h->nonce, AEAD_NONCE_LEN))
		return -EPROTO;
	if (ver != CY_VERSION || type != want_type || rsv != 0 ||
	    (h->flags & ~TUNNEL_FLAG_RELAY) || h->tunnel_id != t->id)
		return -EPROTO;
	/* A relayed tunnel accepts only the relayed form (the TRS holds the
	 * Tunnel Key, so the Temp Key seal is what keeps the End Key from
	 * it), and a direct one only the direct form. */
	if (!!(h->flags & TUNNEL_FLAG_RELAY) != t->relay)
		return -EPROTO;
	if (type == CY_TUNNEL_REQ) {
		body = t->relay ? TUNNEL_REQ_BODY_RELAY_LEN : TUNNEL_REQ_BODY_LEN;
		if (h->nonce[0] != DIR_REQUEST)
			return -EPROTO;
	} else {
		body = TUNNEL_RESP_BODY_LEN;
		if (h->nonce[0] != DIR_RESPONSE)
			return -EPROTO;
	}
	h->ctlen = body + AEAD_TAG_LEN;
	if (cur_left(&c) != h->ctlen || !cur_get_ptr(&c, &h->ct, h->ctlen) || !cur_empty(&c))
		return -EPROTO;
	return 0;
}

/* --- Request -------------------------------------------------------------- */

/* A fresh attempt replaces the old one; while it is being built the
 * tunnel has none (so new_index does not see the old index). */
static struct handshake *hs_detach(struct tunnel *t)
{
	struct handshake *hs = t->hs;

	t->hs = NULL;
	if (!hs)
		return calloc(1, sizeof(*hs));
	EVP_PKEY_free(hs->eph);
	cy_wipe(hs, sizeof(*hs));
	return hs;
}

/* New share, End Key material, nonce and index for this attempt. */
static int hs_generate(const struct tunnel *t, struct handshake *hs)
{
	hs->eph = eph_take(t->spare, hs->pub);
	if (!hs->eph || cy_random(hs->material, MATERIAL_LEN) < 0 ||
	    new_nonce(hs->nonce, DIR_REQUEST) < 0 || new_index(t, &hs->index) < 0)
		return -EIO;
	return 0;
}

/* Strictly rising per tunnel, so the responder can refuse anything
 * not newer than what it accepted last. */
static int64_t request_ts(const struct tunnel *t)
{
	int64_t ts = wall_ms();

	if (ts <= t->own_ts_last)
		ts = t->own_ts_last + 1;
	return ts;
}

/* The Request's body into b; hdr is its clear header, already written. */
static int request_body(const struct tunnel *t, const struct handshake *hs, int64_t ts,
			const uint8_t *hdr, struct wbuf *b)
{
	uint8_t aad[TUNNEL_HDR_LEN + TUNNEL_PUB_LEN];
	uint8_t *slot;

	wbuf_put_u32(b, hs->index);
	wbuf_put_u8(b, t->offer);
	wbuf_put_u8(b, t->pref);
	wbuf_put_u8(b, t->role);    /* who sealed it: see check_sender() */
	wbuf_put_u8(b, 0);
	wbuf_put_u64(b, (uint64_t)ts);
	wbuf_put_bytes(b, hs->pub, TUNNEL_PUB_LEN);
	if (!t->relay) {
		wbuf_put_bytes(b, hs->material, MATERIAL_LEN);
		return 0;
	}
	/* Inner seal under the Temp Key, bound to the outer header and
	 * our share; the nonce is the outer one (another key). */
	memcpy(aad, hdr, TUNNEL_HDR_LEN);
	memcpy(aad + TUNNEL_HDR_LEN, hs->pub, TUNNEL_PUB_LEN);
	slot = wbuf_reserve(b, MATERIAL_LEN + AEAD_TAG_LEN);
	if (!slot || aead_seal_once(AEAD_CHACHA20_POLY1305, temp_key(t), hs->nonce, aad,
				    sizeof(aad), hs->material, MATERIAL_LEN, slot) < 0)
		return -EIO;
	return 0;
}

/* The whole Request into out: the header, then the body sealed under
 * the Tunnel Key with the header as AAD.  0, or -EIO. */
static int seal_request(const struct tunnel *t, const struct handshake *hs, int64_t ts,
			uint8_t *out, size_t cap, size_t total)
{
	uint8_t body[TUNNEL_REQ_BODY_RELAY_LEN];
	struct wbuf w, b;
	uint8_t *slot;
	int rc = -EIO;

	wbuf_init(&w, out, cap);
	hdr_put(&w, t, CY_TUNNEL_REQ, hs->nonce);

	wbuf_init(&b, body, sizeof(body));
	if (request_body(t, hs, ts, out, &b) < 0)
		goto out;
	slot = wbuf_reserve(&w, b.len + AEAD_TAG_LEN);
	if (!wbuf_ok(&b) || !slot ||
	    aead_seal_once(AEAD_CHACHA20_POLY1305, t->tunnel_key, hs->nonce, out, TUNNEL_HDR_LEN,
			   body, b.len, slot) < 0)
		goto out;
	if (!wbuf_ok(&w) || w.len != total)
		goto out;
	rc = 0;
out:
	cy_wipe(body, sizeof(body));
	return rc;
}

static ssize_t build_request(struct tunnel *t, uint8_t *out, size_t cap, bool restart)
{
	size_t total = t->relay ? TUNNEL_REQ_RELAY_LEN : TUNNEL_REQ_LEN;
	int64_t now = clock_now_ms();
	int64_t started = t->hs ? t->hs->started_ms : now;
	uint8_t prev[AEAD_NONCE_LEN];
	bool have_prev = t->hs != NULL;
	struct handshake *hs;
	int64_t ts;

	if (cap < total)
		return -EMSGSIZE;
	if (have_prev)
		memcpy(prev, t->hs->nonce, AEAD_NONCE_LEN);
	hs = hs_detach(t);
	if (!hs)
		return -ENOMEM;
	if (hs_generate(t, hs) < 0)
		goto fail;
	if (have_prev)
		memcpy(hs->prev_nonce, prev, AEAD_NONCE_LEN);
	hs->have_prev = have_prev;
	ts = request_ts(t);
	if (seal_request(t, hs, ts, out, cap, total) < 0)
		goto fail;

	hs->started_ms = restart ? now : started;
	hs->sent_ms = now;
	t->hs = hs;
	t->own_ts_last = ts;
	t->failed = false;
	t->hc.req_sent++;
	return (ssize_t)total;
fail:
	t->hs = hs;
	hs_free(t);
	return -EIO;
}

ssize_t tunnel_initiate(struct tunnel *t, uint8_t *out, size_t cap)
{
	return build_request(t, out, cap, true);
}

/* Sealed again from the same share, material, nonce and timestamp (the
 * last one we sent is this attempt's), so the bytes are those sent
 * before, the AEAD being deterministic: no new attempt, nothing a
 * Response to the first copy would not match. */
ssize_t tunnel_resend_request(struct tunnel *t, uint8_t *out, size_t cap)
{
	size_t total = t->relay ? TUNNEL_REQ_RELAY_LEN : TUNNEL_REQ_LEN;
	struct handshake *hs = t->hs;

	if (!hs)
		return -ENOENT;
	if (hs->resent)
		return -EALREADY;
	if (cap < total)
		return -EMSGSIZE;
	if (seal_request(t, hs, t->own_ts_last, out, cap, total) < 0)
		return -EIO;
	hs->resent = true;
	hs->sent_ms = clock_now_ms();
	t->hc.req_sent++;
	t->hc.retransmits++;
	return (ssize_t)total;
}

/* The responder picks from what the initiator offers: the initiator's
 * preference when it is also ours (both have fast AES, say), else
 * ChaCha20-Poly1305, which is fast everywhere without special hardware. */
static int choose_aead(const struct tunnel *t, unsigned offer, enum aead_alg peer_pref,
		       enum aead_alg *alg)
{
	unsigned both = offer & t->offer;

	if (peer_pref == t->pref && (both & SESSION_AEAD_BIT(peer_pref)))
		*alg = peer_pref;
	else if (both & SESSION_AEAD_BIT(AEAD_CHACHA20_POLY1305))
		*alg = AEAD_CHACHA20_POLY1305;
	else if (both & SESSION_AEAD_BIT(AEAD_AES256_GCM))
		*alg = AEAD_AES256_GCM;
	else
		return -EPERM;
	return 0;
}

static ssize_t refuse(struct tunnel *t, uint32_t *counter, ssize_t err, const char *what)
{
	(*counter)++;
	LOG_RATELIMITED(&tunnel_rl, "tunnel %016" PRIx64 " (%s): %s dropped", t->id, tname(t),
			what);
	return err;
}

/* Both ends hold the same Tunnel Key, so the AEAD alone cannot tell a
 * message the peer sealed from one we sealed ourselves and someone sent
 * back to us (an on-path attacker, a TRS).  Every handshake body therefore
 * carries, authenticated, the sender's role from its Route Direction; the
 * NMS gives the two ends of a tunnel opposite roles, so a message carrying
 * our own role is one of ours, reflected.  Answering our own Request would
 * install a session only we have, drop our genuine handshake and stop its
 * retransmission.  0, -EPROTO for a role that is neither, -EBADMSG (an
 * authentication failure) for our own. */
static int check_sender(const struct tunnel *t, uint8_t role)
{
	if (role != TUNNEL_INITIATOR && role != TUNNEL_RESPONDER)
		return -EPROTO;
	return role == t->role ? -EBADMSG : 0;
}

/* A Request being answered: its header and what its body says, then
 * what we answer it with. */
struct req_ctx {
	struct hs_hdr h;
	uint32_t iindex, rindex;
	uint8_t offer, pref;
	uint64_t ts;
	uint8_t ipub[TUNNEL_PUB_LEN], rpub[TUNNEL_PUB_LEN];
	uint8_t material[MATERIAL_LEN];
	enum aead_alg alg;
	struct session *s;                  /* made for it, not yet installed */
};

/* The opened body into rc (*sealed: the End Key material, sealed when
 * relayed).  0 or the refusal. */
static ssize_t request_parse(struct tunnel *t, const uint8_t *body, size_t len,
			     struct req_ctx *rc, const uint8_t **sealed)
{
	struct cur c = cur_make(body, len);
	int sender = -EPROTO;
	uint8_t role, rsv;

	if (!cur_get_u32(&c, &rc->iindex) || !cur_get_u8(&c, &rc->offer) ||
	    !cur_get_u8(&c, &rc->pref) || !cur_get_u8(&c, &role) || !cur_get_u8(&c, &rsv) ||
	    !cur_get_u64(&c, &rc->ts) || !cur_get_bytes(&c, rc->ipub, TUNNEL_PUB_LEN) ||
	    !cur_get_ptr(&c, sealed, t->relay ? MATERIAL_LEN + AEAD_TAG_LEN : MATERIAL_LEN) ||
	    !cur_empty(&c) || rsv != 0 || (sender = check_sender(t, role)) == -EPROTO)
		return refuse(t, &t->hc.drop_malformed, -EPROTO, "malformed Request body");
	/* Before anything looks at our handshake or our sessions. */
	if (sender < 0)
		return refuse(t, &t->hc.drop_auth, -EBADMSG, "our own Request reflected back");
	return 0;
}

/* The End Key material: relayed, under the Temp Key seal bound to the
 * clear header and the initiator's share; direct, as it stands. */
static ssize_t request_material(struct tunnel *t, const uint8_t *pkt, const uint8_t *sealed,
				struct req_ctx *rc)
{
	uint8_t aad[TUNNEL_HDR_LEN + TUNNEL_PUB_LEN];

	if (!t->relay) {
		memcpy(rc->material, sealed, MATERIAL_LEN);
		return 0;
	}
	memcpy(aad, pkt, TUNNEL_HDR_LEN);
	memcpy(aad + TUNNEL_HDR_LEN, rc->ipub, TUNNEL_PUB_LEN);
	if (aead_open_once(AEAD_CHACHA20_POLY1305, temp_key(t), rc->h.nonce, aad,
			   TUNNEL_HDR_LEN + TUNNEL_PUB_LEN, sealed, MATERIAL_LEN + AEAD_TAG_LEN,
			   rc->material) < 0)
		return refuse(t, &t->hc.drop_auth, -EBADMSG, "Request with bad Temp Key seal");
	return 0;
}

/* Open the Request pkt (its header already in rc->h) and read it into
 * rc.  0 or the refusal. */
static ssize_t request_open(struct tunnel *t, const uint8_t *pkt, struct req_ctx *rc)
{
	uint8_t body[TUNNEL_REQ_BODY_RELAY_LEN];
	const uint8_t *sealed;
	ssize_t n;

	if (aead_open_once(AEAD_CHACHA20_POLY1305, t->tunnel_key, rc->h.nonce, pkt, TUNNEL_HDR_LEN,
			   rc->h.ct, rc->h.ctlen, body) < 0)
		return refuse(t, &t->hc.drop_auth, -EBADMSG, "unauthenticated Request");
	n = request_parse(t, body, rc->h.ctlen - AEAD_TAG_LEN, rc, &sealed);
	if (!n)
		n = request_material(t, pkt, sealed, rc);
	cy_wipe(body, sizeof(body));
	return n;
}

/* An exact copy of the last Request we accepted (its timestamp and tag;
 * it authenticated): the network doubled it, our Response was lost and
 * the initiator or someone else sends it again, or the initiator sent it
 * again on our probe (tunnel_resend_request) while the first was on its
 * way.  While the session it created waits for its confirmation it gets
 * the same Response again (t->reply); afterwards the initiator has that
 * Response and the copy changes nothing, as long as it is within the
 * clock skew (later it is stale, as any old Request). */
static bool request_copy(const struct tunnel *t, const struct req_ctx *rc, const uint8_t *pkt,
			 size_t len)
{
	return t->have_last_req && rc->ts == t->peer_ts_last &&
	       !memcmp(pkt + len - AEAD_TAG_LEN, t->last_req_tag, AEAD_TAG_LEN);
}

static ssize_t resend_reply(struct tunnel *t, uint8_t *out)
{
	t->hc.dup++;
	t->hc.resp_sent++;
	t->answered_copy = true;
	memcpy(out, t->reply->resp, TUNNEL_RESP_LEN);
	return TUNNEL_RESP_LEN;
}

/* The peer's Request with timestamp ts and tag authenticated and was
 * fresh: it is the newest, and a later copy of it is a duplicate. */
static void request_seen(struct tunnel *t, uint64_t ts, const uint8_t *tag)
{
	t->have_last_req = true;
	t->peer_ts_last = ts;
	memcpy(t->last_req_tag, tag, AEAD_TAG_LEN);
}

/* A Request's timestamp within the skew of our clock (wall). */
static bool request_in_skew(uint64_t ts, int64_t wall)
{
	return ts <= INT64_MAX && (int64_t)ts >= wall - TUNNEL_REQ_MAX_SKEW_MS &&
	       (int64_t)ts <= wall + TUNNEL_REQ_MAX_SKEW_MS;
}

/* Freshness: within the skew, and newer than the last Request we
 * accepted. */
static bool request_stale(const struct tunnel *t, uint64_t ts, int64_t wall)
{
	return !request_in_skew(ts, wall) || (t->have_last_req && ts <= t->peer_ts_last);
}

/* Simultaneous open: both sent a Request.  The one from the side with
 * the smaller FQDN wins (equal names, impossible between two nodes,
 * fall back to the smaller share); the loser drops its own attempt and
 * answers, the winner drops the loser's Request.  True: ours won; false
 * with no attempt of ours, or after freeing the one that lost (counted
 * as a collision either way there was one). */
static bool collision_ours_wins(struct tunnel *t, const uint8_t ipub[TUNNEL_PUB_LEN])
{
	int order;

	if (!t->hs)
		return false;
	order = t->order ? t->order : memcmp(t->hs->pub, ipub, TUNNEL_PUB_LEN);
	t->hc.collisions++;
	if (order < 0)
		return true;
	hs_free(t);
	return false;
}

/* Our share and index, the keys, and the responder's session they make
 * (rc->s).  0 or -errno. */
static ssize_t responder_session(struct tunnel *t, struct req_ctx *rc)
{
	uint8_t shared[32], keys[2 * AEAD_KEY_LEN];
	struct session_params sp;
	struct kdf_in kin;
	EVP_PKEY *eph;
	ssize_t n = -EIO;

	eph = eph_take(t->spare, rc->rpub);
	if (!eph)
		return -EIO;
	if (x25519_shared(eph, rc->ipub, shared) < 0) {
		n = refuse(t, &t->hc.drop_crypto, -EPERM, "Request with a bad key share");
		goto out;
	}
	if (new_index(t, &rc->rindex) < 0)
		goto out;
	kin = (struct kdf_in){ .tunnel_id = t->id, .alg = rc->alg, .flags = rc->h.flags,
			       .ipub = rc->ipub, .rpub = rc->rpub, .iindex = rc->iindex,
			       .rindex = rc->rindex, .shared = shared, .material = rc->material };
	if (tunnel_kdf(t, &kin, keys) < 0)
		goto out;
	sp = (struct session_params){ .alg = rc->alg, .tx_key = keys + AEAD_KEY_LEN,
				      .rx_key = keys, .local_index = rc->rindex,
				      .remote_index = rc->iindex, .initiator = false,
				      .now_ms = clock_now_ms() };
	rc->s = session_new(&sp);
	n = rc->s ? 0 : -ENOMEM;
out:
	EVP_PKEY_free(eph);
	cy_wipe(shared, sizeof(shared));
	cy_wipe(keys, sizeof(keys));
	return n;
}

/* The Response into out, its AAD = header || the Request's nonce.  0 or
 * -EIO. */
static int build_response(const struct tunnel *t, const struct req_ctx *rc, uint8_t *out,
			  size_t cap)
{
	uint8_t aad[TUNNEL_HDR_LEN + AEAD_NONCE_LEN], nonce[AEAD_NONCE_LEN];
	uint8_t rbody[TUNNEL_RESP_BODY_LEN];
	struct wbuf w, b;
	uint8_t *slot;

	if (new_nonce(nonce, DIR_RESPONSE) < 0)
		return -EIO;
	wbuf_init(&w, out, cap);
	hdr_put(&w, t, CY_TUNNEL_RES, nonce);
	memcpy(aad, out, TUNNEL_HDR_LEN);
	memcpy(aad + TUNNEL_HDR_LEN, rc->h.nonce, AEAD_NONCE_LEN);

	wbuf_init(&b, rbody, sizeof(rbody));
	wbuf_put_u32(&b, rc->rindex);
	wbuf_put_u32(&b, rc->iindex);
	wbuf_put_u8(&b, (uint8_t)rc->alg);
	wbuf_put_u8(&b, t->role);
	wbuf_put_u16(&b, 0);
	wbuf_put_bytes(&b, rc->rpub, TUNNEL_PUB_LEN);
	slot = wbuf_reserve(&w, TUNNEL_RESP_BODY_LEN + AEAD_TAG_LEN);
	if (!wbuf_ok(&b) || b.len != TUNNEL_RESP_BODY_LEN || !slot ||
	    aead_seal_once(AEAD_CHACHA20_POLY1305, t->tunnel_key, nonce, aad,
			   TUNNEL_HDR_LEN + AEAD_NONCE_LEN, rbody, b.len, slot) < 0 ||
	    !wbuf_ok(&w) || w.len != TUNNEL_RESP_LEN)
		return -EIO;
	return 0;
}

/* Install: the new session waits for its first Data message before it
 * carries ours (the Response may be lost), unless there is no other
 * session at all.  resp is the Response, kept for a duplicate. */
static void install_next(struct tunnel *t, struct req_ctx *rc, const uint8_t *req_tag,
			 const uint8_t *resp)
{
	retire(t, &t->next);
	t->next = rc->s;
	rc->s = NULL;
	t->failed = false;
	request_seen(t, rc->ts, req_tag);
	/* Without memory for it a copy is only not answered again. */
	if (t->reply || (t->reply = malloc(sizeof(*t->reply))))
		memcpy(t->reply->resp, resp, TUNNEL_RESP_LEN);
	t->hc.resp_sent++;
}

ssize_t tunnel_handle_request(struct tunnel *t, const uint8_t *pkt, size_t len, uint8_t *out,
			      size_t cap)
{
	int64_t wall = wall_ms();
	struct req_ctx rc = { .s = NULL };
	ssize_t n;

	t->hc.req_recv++;
	t->answered_copy = false;
	if (hs_parse(t, pkt, len, CY_TUNNEL_REQ, &rc.h) < 0)
		return refuse(t, &t->hc.drop_malformed, -EPROTO, "malformed Request");
	if (cap < TUNNEL_RESP_LEN)
		return -EMSGSIZE;
	n = request_open(t, pkt, &rc);
	if (n < 0)
		goto out;
	if (request_copy(t, &rc, pkt, len) && (t->reply || request_in_skew(rc.ts, wall))) {
		if (t->reply) {
			n = resend_reply(t, out);
		} else {
			t->hc.dup++;
			n = -EALREADY;
		}
		goto out;
	}
	if (request_stale(t, rc.ts, wall)) {
		n = refuse(t, &t->hc.drop_stale, -ESTALE, "stale or replayed Request");
		goto out;
	}
	if (collision_ours_wins(t, rc.ipub)) {
		/* Not answered, but seen: a copy of it later, once our own
		 * attempt is done, must not make a session (nor move the
		 * peer).  A Response kept for an older Request goes: that
		 * one is stale now. */
		request_seen(t, rc.ts, pkt + len - AEAD_TAG_LEN);
		reply_free(t);
		n = -EALREADY;
		goto out;
	}
	if (choose_aead(t, rc.offer, (enum aead_alg)rc.pref, &rc.alg) < 0) {
		n = refuse(t, &t->hc.drop_crypto, -EPERM, "Request with no common AEAD");
		goto out;
	}
	n = responder_session(t, &rc);
	if (n < 0)
		goto out;
	if (build_response(t, &rc, out, cap) < 0) {
		n = -EIO;
		goto out;
	}
	install_next(t, &rc, pkt + len - AEAD_TAG_LEN, out);
	n = TUNNEL_RESP_LEN;
out:
	session_free(rc.s);
	cy_wipe(&rc, sizeof(rc));
	return n;
}

/* --- Response ------------------------------------------------------------- */

static void install_current(struct tunnel *t, struct session *s)
{
	if (t->cur) {
		retire(t, &t->prev);
		t->prev = t->cur;
		t->prev_until_ms = clock_now_ms() + TUNNEL_GRACE_MS;
	}
	t->cur = s;
	if (t->had_session)
		t->hc.rekeys++;
	t->had_session = true;
}

/* A Response's body. */
struct resp_in {
	uint32_t rindex, iindex;
	uint8_t alg;
	uint8_t rpub[TUNNEL_PUB_LEN];
};

/* Authenticate the Response pkt as an answer to our Request with the
 * nonce req_nonce; its body into body.  0 or -1. */
static int response_auth(const struct tunnel *t, const uint8_t *pkt, const struct hs_hdr *h,
			 const uint8_t *req_nonce, uint8_t body[TUNNEL_RESP_BODY_LEN])
{
	uint8_t aad[TUNNEL_HDR_LEN + AEAD_NONCE_LEN];

	memcpy(aad, pkt, TUNNEL_HDR_LEN);
	memcpy(aad + TUNNEL_HDR_LEN, req_nonce, AEAD_NONCE_LEN);
	return aead_open_once(AEAD_CHACHA20_POLY1305, t->tunnel_key, h->nonce, aad, sizeof(aad),
			      h->ct, h->ctlen, body) < 0 ? -1 : 0;
}

/* A copy of the Response our last handshake took (doubled by the
 * network, or answering a copy of our Request): its tag, and it
 * authenticates, so that a forgery is not counted as one. */
static bool response_copy(const struct tunnel *t, const uint8_t *pkt, size_t len,
			  const struct hs_hdr *h)
{
	uint8_t body[TUNNEL_RESP_BODY_LEN];
	bool copy;

	if (t->hs || !t->have_last_resp ||
	    memcmp(pkt + len - AEAD_TAG_LEN, t->last_resp_tag, AEAD_TAG_LEN))
		return false;
	copy = response_auth(t, pkt, h, t->last_resp_aad, body) == 0;
	cy_wipe(body, sizeof(body));
	return copy;
}

/* Open the Response pkt (bound to our Request's nonce) and read its
 * body into r.  0 or the refusal. */
static ssize_t response_open(struct tunnel *t, const uint8_t *pkt, const struct hs_hdr *h,
			     struct resp_in *r)
{
	uint8_t body[TUNNEL_RESP_BODY_LEN];
	int sender = -EPROTO;
	uint8_t role;
	uint16_t rsv16;
	struct cur c;
	ssize_t n = 0;

	if (response_auth(t, pkt, h, t->hs->nonce, body) < 0) {
		/* A retry replaced the attempt it answers (a slow path). */
		if (t->hs->have_prev && response_auth(t, pkt, h, t->hs->prev_nonce, body) == 0) {
			cy_wipe(body, sizeof(body));
			return refuse(t, &t->hc.drop_unexpected, -ENOENT,
				      "Response to an attempt retried since");
		}
		return refuse(t, &t->hc.drop_auth, -EBADMSG, "unauthenticated Response");
	}

	c = cur_make(body, sizeof(body));
	if (!cur_get_u32(&c, &r->rindex) || !cur_get_u32(&c, &r->iindex) ||
	    !cur_get_u8(&c, &r->alg) || !cur_get_u8(&c, &role) || !cur_get_u16(&c, &rsv16) ||
	    !cur_get_bytes(&c, r->rpub, TUNNEL_PUB_LEN) || !cur_empty(&c) || rsv16 ||
	    (sender = check_sender(t, role)) == -EPROTO)
		n = refuse(t, &t->hc.drop_malformed, -EPROTO, "malformed Response body");
	else if (sender < 0)
		n = refuse(t, &t->hc.drop_auth, -EBADMSG, "our own Response reflected back");
	cy_wipe(body, sizeof(body));
	return n;
}

/* It must answer our Request in flight, with an AEAD we offered. */
static ssize_t response_check(struct tunnel *t, const struct resp_in *r)
{
	if (r->iindex != t->hs->index)
		return refuse(t, &t->hc.drop_unexpected, -ENOENT, "Response to another Request");
	if ((r->alg != AEAD_CHACHA20_POLY1305 && r->alg != AEAD_AES256_GCM) ||
	    !(t->offer & SESSION_AEAD_BIT(r->alg)))
		return refuse(t, &t->hc.drop_crypto, -EPERM, "Response with an AEAD not offered");
	return 0;
}

/* The keys from our handshake and the responder's share, and the
 * initiator's session they make (*s).  0 or -errno. */
static ssize_t initiator_session(struct tunnel *t, const struct hs_hdr *h,
				 const struct resp_in *r, struct session **s)
{
	uint8_t shared[32], keys[2 * AEAD_KEY_LEN];
	struct session_params sp;
	struct kdf_in kin;
	ssize_t n = -EIO;

	if (x25519_shared(t->hs->eph, r->rpub, shared) < 0)
		return refuse(t, &t->hc.drop_crypto, -EPERM, "Response with a bad key share");
	kin = (struct kdf_in){ .tunnel_id = t->id, .alg = r->alg, .flags = h->flags,
			       .ipub = t->hs->pub, .rpub = r->rpub, .iindex = r->iindex,
			       .rindex = r->rindex, .shared = shared, .material = t->hs->material };
	if (tunnel_kdf(t, &kin, keys) < 0)
		goto out;
	sp = (struct session_params){ .alg = r->alg, .tx_key = keys, .rx_key = keys + AEAD_KEY_LEN,
				      .local_index = r->iindex, .remote_index = r->rindex,
				      .initiator = true, .now_ms = clock_now_ms() };
	*s = session_new(&sp);
	n = *s ? 0 : -ENOMEM;
out:
	cy_wipe(shared, sizeof(shared));
	cy_wipe(keys, sizeof(keys));
	return n;
}

ssize_t tunnel_handle_response(struct tunnel *t, const uint8_t *pkt, size_t len, uint8_t *out,
			       size_t cap)
{
	struct session *s = NULL;
	struct resp_in r;
	struct hs_hdr h;
	ssize_t n;

	t->hc.resp_recv++;
	if (hs_parse(t, pkt, len, CY_TUNNEL_RES, &h) < 0)
		return refuse(t, &t->hc.drop_malformed, -EPROTO, "malformed Response");
	if (response_copy(t, pkt, len, &h)) {
		t->hc.dup++;
		return -EALREADY;
	}
	if (!t->hs)
		return refuse(t, &t->hc.drop_unexpected, -ENOENT, "unexpected Response");
	n = response_open(t, pkt, &h, &r);
	if (!n)
		n = response_check(t, &r);
	if (!n)
		n = initiator_session(t, &h, &r, &s);
	cy_wipe(&r, sizeof(r));
	if (n < 0)
		return n;
	memcpy(t->last_resp_tag, pkt + len - AEAD_TAG_LEN, AEAD_TAG_LEN);
	memcpy(t->last_resp_aad, t->hs->nonce, AEAD_NONCE_LEN);
	t->have_last_resp = true;
	hs_free(t);
	/* Our own Request was answered: a session we created by answering
	 * the peer's earlier Request is superseded. */
	retire_next(t);
	install_current(t, s);
	t->failed = false;
	/* The first Data message confirms the session to the responder. */
	return session_seal(t->cur, NULL, 0, out, cap);
}

/* --- data ----------------------------------------------------------------- */

ssize_t tunnel_seal(struct tunnel *t, const uint8_t *ip, size_t len, uint8_t *out, size_t cap)
{
	struct session *s = t->cur ? t->cur : t->next;

	if (!s || session_expired(s, clock_coarse_ms())) {
		t->drop_no_session++;
		return -ENOTCONN;
	}
	return session_seal(s, ip, len, out, cap);
}

ssize_t tunnel_open(struct tunnel *t, const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
	int64_t now = clock_coarse_ms();
	struct session *s = NULL;
	uint32_t idx;
	ssize_t n;

	if (session_peek_index(pkt, len, &idx) < 0) {
		t->data.drop_malformed++;
		return -EPROTO;
	}
	if (t->cur && session_local_index(t->cur) == idx)
		s = t->cur;
	else if (t->next && session_local_index(t->next) == idx)
		s = t->next;
	else if (t->prev && session_local_index(t->prev) == idx && now < t->prev_until_ms)
		s = t->prev;
	if (!s) {
		t->drop_index++;
		return -ENOKEY;
	}
	if (session_expired(s, now)) {
		t->data.drop_expired++;
		return -EKEYEXPIRED;
	}
	n = session_open(s, pkt, len, out, cap);
	t->rx_newest = n >= 0 && s != t->prev && session_rx_newest(s);
	if (n >= 0 && s == t->next) {
		/* The initiator uses the new keys: they are confirmed (and
		 * it has our Response: no need to answer its Request again). */
		t->next = NULL;
		reply_free(t);
		install_current(t, s);
	}
	return n;
}

bool tunnel_rx_newest(const struct tunnel *t)
{
	return t->rx_newest;
}

bool tunnel_answered_copy(const struct tunnel *t)
{
	return t->answered_copy;
}

/* --- timers --------------------------------------------------------------- */

ssize_t tunnel_tick(struct tunnel *t, uint8_t *out, size_t cap)
{
	int64_t now = clock_now_ms();
	ssize_t n;

	if (t->prev && now >= t->prev_until_ms)
		retire(t, &t->prev);
	if (t->cur && session_expired(t->cur, now))
		retire(t, &t->cur);
	if (t->next && session_expired(t->next, now))
		retire_next(t);
	if (t->cur)
		session_idle(t->cur, now);
	if (t->next)
		session_idle(t->next, now);
	if (t->prev)
		session_idle(t->prev, now);

	if (t->hs) {
		if (now - t->hs->started_ms >= TUNNEL_REKEY_ATTEMPT_MS) {
			hs_free(t);
			t->hc.timeouts++;
			if (!t->cur)
				t->failed = true;
			log_warnx("tunnel %016" PRIx64 " (%s): no Tunnel Response, giving up",
				  t->id, tname(t));
			return -ETIMEDOUT;
		}
		if (now - t->hs->sent_ms < TUNNEL_REKEY_TIMEOUT_MS)
			return 0;
		n = build_request(t, out, cap, false);
		if (n > 0)
			t->hc.retransmits++;
		return n;
	}
	if (t->next)
		return 0;    /* the peer is (re)keying; wait for its Data */
	if (t->cur && session_needs_rekey(t->cur, now))
		return build_request(t, out, cap, true);
	if (!t->cur && !t->failed && t->role == TUNNEL_INITIATOR)
		return build_request(t, out, cap, true);
	return 0;
}

/* --- introspection -------------------------------------------------------- */

int tunnel_peek(const uint8_t *pkt, size_t len, struct tunnel_peek *pk)
{
	struct cur c = cur_make(pkt, len);
	uint8_t ver, type;

	memset(pk, 0, sizeof(*pk));
	if (!cur_get_u8(&c, &ver) || !cur_get_u8(&c, &type) || ver != CY_VERSION)
		return -EPROTO;
	pk->type = type;
	switch (type) {
	case CY_TUNNEL_REQ:
		if (len != TUNNEL_REQ_LEN && len != TUNNEL_REQ_RELAY_LEN)
			return -EPROTO;
		break;
	case CY_TUNNEL_RES:
		if (len != TUNNEL_RESP_LEN)
			return -EPROTO;
		break;
	case CY_DATA:
		return session_peek_index(pkt, len, &pk->receiver_index) < 0 ? -EPROTO : 0;
	default:
		return -EPROTO;
	}
	if (!cur_skip(&c, 2) || !cur_get_u64(&c, &pk->tunnel_id))
		return -EPROTO;
	return 0;
}

bool tunnel_has_index(const struct tunnel *t, uint32_t idx)
{
	return (t->cur && session_local_index(t->cur) == idx) ||
	       (t->next && session_local_index(t->next) == idx) ||
	       (t->prev && session_local_index(t->prev) == idx);
}

uint64_t tunnel_id(const struct tunnel *t) { return t->id; }

void tunnel_get_info(const struct tunnel *t, struct tunnel_info *info)
{
	const struct session *s = t->cur ? t->cur : t->next;

	memset(info, 0, sizeof(*info));
	if (s)
		info->state = TUNNEL_ESTABLISHED;
	else if (t->hs)
		info->state = TUNNEL_HANDSHAKE;
	else if (t->failed)
		info->state = TUNNEL_FAILED;
	else
		info->state = TUNNEL_IDLE;
	info->relay = t->relay;
	if (s) {
		info->alg = session_alg(s);
		info->local_index = session_local_index(s);
		info->remote_index = session_remote_index(s);
	}
	info->nsessions = !!t->cur + !!t->next + !!t->prev;
}

void tunnel_get_stats(const struct tunnel *t, struct tunnel_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->data = t->data;
	st->drop_index = t->drop_index;
	st->drop_no_session = t->drop_no_session;
	st->req_sent = t->hc.req_sent;
	st->req_recv = t->hc.req_recv;
	st->resp_sent = t->hc.resp_sent;
	st->resp_recv = t->hc.resp_recv;
	st->hs_drop_malformed = t->hc.drop_malformed;
	st->hs_drop_auth = t->hc.drop_auth;
	st->hs_drop_stale = t->hc.drop_stale;
	st->hs_drop_unexpected = t->hc.drop_unexpected;
	st->hs_drop_crypto = t->hc.drop_crypto;
	st->hs_dup = t->hc.dup;
	st->hs_collisions = t->hc.collisions;
	st->hs_retransmits = t->hc.retransmits;
	st->hs_timeouts = t->hc.timeouts;
	st->rekeys = t->hc.rekeys;
	if (t->cur)
		session_stats_add(&st->data, session_stats(t->cur));
	if (t->next)
		session_stats_add(&st->data, session_stats(t->next));
	if (t->prev)
		session_stats_add(&st->data, session_stats(t->prev));
}

struct session *tunnel_test_current(struct tunnel *t)
{
	return t->cur;
}
