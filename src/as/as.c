#include "as.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
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
	return as;
}

void as_free(struct as *as)
{
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

/* A failure response: RESULT and REASON only. */
static ssize_t as_fail(uint8_t *resp, size_t cap, enum cy_result r, const char *reason)
{
	struct cy_builder b;
	ssize_t n;

	cy_build_start(&b, resp, cap, CY_LOGIN_RES);
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

/* Spend the time of a real verification when the name is unknown or has
 * no password, so the answer's timing does not tell which names exist. */
static void as_dummy_verify(struct as *as, const char *password)
{
	if (!as->dummy[0] && pwhash_create("cyphonic dummy password", as->dummy) < 0)
		as->dummy[0] = '\0';
	if (as->dummy[0])
		(void)pwhash_verify(password, as->dummy);
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
	if (rc < 0)
		cy_wipe(k->key, sizeof(k->key));
	return rc;
}

static ssize_t as_login(struct as *as, const struct as_peer *peer, const struct cy_msg *m,
			uint8_t *resp, size_t cap)
{
	char name[CY_NAME_MAX + 1] = "", password[CY_PASSWORD_MAX + 1] = "";
	char reason[CY_REASON_MAX + 1], pbuf[ADDR_STR_MAX];
	bool has_name, has_pw, ok;
	struct store_node n;
	struct store_key k;
	struct cy_builder b;
	uint64_t key_id;
	const char *how;
	ssize_t len;
	int rc;

	has_name = cy_msg_find(m, CY_A_NAME) != NULL;
	has_pw = cy_msg_find(m, CY_A_PASSWORD) != NULL;
	if ((has_name && !cy_msg_str(m, CY_A_NAME, name, CY_NAME_MAX)) ||
	    (has_pw && !cy_msg_str(m, CY_A_PASSWORD, password, CY_PASSWORD_MAX))) {
		as->stats.malformed++;
		LOG_RATELIMITED(&as->rl_bad, "as: %s: malformed Login Request",
				peer_str(peer, pbuf));
		len = as_fail(resp, cap, CY_ERR_MALFORMED, "malformed request");
		goto out;
	}

	if (peer->cert_serial) {
		how = "certificate";
		rc = as_node_by_serial(as, peer->cert_serial, &n);
		ok = rc == 0 && (!has_name || !strcmp(name, n.name));
	} else if (has_name && has_pw) {
		how = "password";
		rc = store_node_by_name(as->st, name, &n);
		ok = rc == 0 && n.pwhash[0] && pwhash_verify(password, n.pwhash);
		if (rc == -ENOENT || (rc == 0 && !n.pwhash[0]))
			as_dummy_verify(as, password);
	} else {
		how = "none";
		rc = -ENOENT;
		ok = false;
	}
	if (rc == -EIO) {
		len = as_fail(resp, cap, CY_ERR_INTERNAL, "store unavailable");
		goto out;
	}
	if (!ok) {
		as->stats.login_refused++;
		LOG_RATELIMITED(&as->rl_refused, "as: %s: login refused (%s%s%s)",
				peer_str(peer, pbuf), how, has_name ? ", name " : "",
				has_name ? name : "");
		len = as_fail(resp, cap, CY_ERR_AUTH, "authentication failed");
		goto out;
	}
	if (n.revoked) {
		as->stats.revoked++;
		as_reason(reason, n.revoke_reason);
		log_warnx("as: %s: login of revoked node %s refused: %s", peer_str(peer, pbuf),
			  n.name, reason);
		len = as_fail(resp, cap, CY_ERR_REVOKED, reason);
		goto out;
	}

	rc = as_make_key(as, &n, &k);
	if (rc < 0) {
		log_warnx("as: %s: cannot store a key for %s", peer_str(peer, pbuf), n.name);
		len = as_fail(resp, cap, CY_ERR_INTERNAL, "internal error");
		goto out;
	}
	cy_build_start(&b, resp, cap, CY_LOGIN_RES);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	cy_put_str(&b, CY_A_NAME, n.name);
	cy_put_str(&b, CY_A_FQDN, n.fqdn);
	cy_put_u8(&b, CY_A_KIND, (uint8_t)n.kind);
	cy_put_u64(&b, CY_A_KEY_ID, k.key_id);
	cy_put_bytes(&b, CY_A_KEY, k.key, sizeof(k.key));
	cy_put_u32(&b, CY_A_LIFETIME, (uint32_t)as->conf.key_lifetime);
	for (size_t i = 0; i < as->conf.nnms; i++)
		cy_put_endpoint(&b, CY_A_NMS, (const struct sockaddr *)&as->conf.nms[i]);
	len = cy_build_finish(&b);
	key_id = k.key_id;
	cy_wipe(&k, sizeof(k));
	if (len < 0) {
		cy_wipe(resp, cap);
		len = -ENOBUFS;
		goto out;
	}
	as->stats.login_ok++;
	log_info("as: %s: %s logged in (%s), key %016" PRIx64 " for %ds", peer_str(peer, pbuf),
		 n.fqdn, how, key_id, as->conf.key_lifetime);
out:
	cy_wipe(password, sizeof(password));
	return len;
}

ssize_t as_handle(struct as *as, const struct as_peer *peer, const uint8_t *req, size_t len,
		  uint8_t *resp, size_t cap)
{
	char pbuf[ADDR_STR_MAX];
	struct cy_msg *m;
	ssize_t n;

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
	if (!m)
		return -ENOMEM;
	if (cy_msg_parse(m, req, len) < 0 || m->type != CY_LOGIN_REQ) {
		as->stats.malformed++;
		LOG_RATELIMITED(&as->rl_bad, "as: %s: malformed request (type %u)",
				peer_str(peer, pbuf), req[1]);
		n = as_fail(resp, cap, CY_ERR_MALFORMED, "malformed request");
		goto out;
	}
	n = as_login(as, peer, m, resp, cap);
out:
	free(m);
	return n;
}
