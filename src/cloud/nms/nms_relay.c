#include "nms_relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aead.h"
#include "clock.h"
#include "nms_impl.h"
#include "replay.h"
#include "trs_wire.h"

/* One link per configured TRS, each with a key id of its own: two TRSes
 * never seal under one key (so never share a nonce), and each has its
 * own replay window (their counters come from their own clocks). */
struct nms_link {
	uint64_t key_id;             /* random per process and TRS (trs_wire.h) */
	struct aead *aead;
	uint64_t tx;
	struct replay rx;
	struct sockaddr_storage trs;
	int64_t down_until;          /* clock_now_ms(): left a request unanswered */
};

struct nms_relay {
	struct nms_link link[NMS_MAX_TRS];
	size_t ntrs;
	size_t turn;                 /* the next new session's TRS */
};

/* The link with key_id among the first ntrs (those set up so far). */
static struct nms_link *nms_relay_link(struct nms_relay *r, uint64_t key_id)
{
	for (size_t i = 0; i < NMS_MAX_TRS; i++)
		if (r->link[i].key_id == key_id && key_id)
			return &r->link[i];
	return NULL;
}

struct nms_relay *nms_relay_new(const struct nms_relay_conf *c)
{
	uint8_t key[TRS_KEY_LEN];
	struct nms_relay *r;

	if (!c->ntrs || c->ntrs > NMS_MAX_TRS)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	for (size_t i = 0; i < c->ntrs; i++) {
		struct nms_link *l = &r->link[i];

		do {
			if (cy_random(&l->key_id, sizeof(l->key_id)) < 0)
				goto fail;
		} while (!l->key_id || nms_relay_link(r, l->key_id) != l);
		if (trs_link_key(c->secret, l->key_id, key) < 0)
			goto fail;
		l->aead = aead_new(AEAD_CHACHA20_POLY1305, key);
		cy_wipe(key, sizeof(key));
		if (!l->aead)
			goto fail;
		replay_init(&l->rx);
		l->trs = c->trs[i];
		r->ntrs = i + 1;
	}
	return r;
fail:
	nms_relay_free(r);
	return NULL;
}

void nms_relay_free(struct nms_relay *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ntrs; i++)
		aead_free(r->link[i].aead);
	cy_wipe(r, sizeof(*r));
	free(r);
}

bool nms_relay_ours(const struct nms_relay *r, const struct cy_seal_hdr *h)
{
	return r && h->dir == CY_DIR_FROM_CLOUD && nms_relay_link((struct nms_relay *)r, h->key_id);
}

/* The first TRS from `from` on (round the list) not marked down; `from`
 * itself when all are. */
static size_t nms_relay_up_from(const struct nms_relay *r, size_t from)
{
	int64_t now = clock_now_ms();

	for (size_t i = 0; i < r->ntrs; i++) {
		size_t k = (from + i) % r->ntrs;

		if (r->link[k].down_until <= now)
			return k;
	}
	return from % r->ntrs;
}

size_t nms_relay_pick(struct nms *n)
{
	struct nms_relay *r = n->relay;
	size_t k = nms_relay_up_from(r, r->turn);

	r->turn = (k + 1) % r->ntrs;
	return k;
}

size_t nms_relay_next(struct nms *n, size_t trs)
{
	struct nms_relay *r = n->relay;

	r->link[trs % r->ntrs].down_until = clock_now_ms() + NMS_TRS_DOWN_MS;
	return nms_relay_up_from(r, trs + 1);
}

int nms_relay_request(struct nms *n, size_t trs, uint64_t tunnel_id,
		      const uint8_t relay_key[CY_KEY_LEN])
{
	struct nms_link *l;
	uint8_t msg[128], out[256];
	struct cy_builder b;
	ssize_t len, olen;

	if (!n->relay || !n->ops.send)
		return -ENOTCONN;
	l = &n->relay->link[trs % n->relay->ntrs];
	cy_build_start(&b, msg, sizeof(msg), CY_RELAY_REQ);
	cy_put_u64(&b, CY_A_TUNNEL_ID, tunnel_id);
	cy_put_bytes(&b, CY_A_KEY, relay_key, CY_KEY_LEN);
	cy_put_u64(&b, CY_A_TIME, (uint64_t)clock_now() * 1000);
	len = cy_build_finish(&b);
	olen = len > 0 ? cy_seal(l->aead, CY_DIR_TO_CLOUD, l->key_id, cy_seal_counter(&l->tx), msg,
				 (size_t)len, out, sizeof(out))
		       : -EMSGSIZE;
	cy_wipe(msg, sizeof(msg));
	if (olen < 0)
		return (int)olen;
	n->ops.send(n->ops_arg, (const struct sockaddr *)&l->trs, out, (size_t)olen);
	return 0;
}

int nms_relay_open(struct nms *n, const uint8_t *pkt, size_t len, struct nms_relay_answer *a)
{
	struct nms_link *l;
	uint8_t plain[NMS_MSG_MAX];
	struct cy_seal_hdr h;
	const struct cy_attr *at;
	struct cy_msg *m = NULL;
	socklen_t sl;
	size_t pos = 0;
	ssize_t pl;
	int rc = -EBADMSG;

	memset(a, 0, sizeof(*a));
	if (!n->relay || cy_seal_peek(pkt, len, &h) < 0 || !nms_relay_ours(n->relay, &h) ||
	    len - CY_SEAL_OVERHEAD > sizeof(plain))
		goto bad;
	l = nms_relay_link(n->relay, h.key_id);
	if (!replay_check(&l->rx, h.counter)) {
		n->stats.replay++;
		return -EBADMSG;
	}
	pl = cy_unseal(l->aead, pkt, len, plain, sizeof(plain));
	if (pl < 0) {
		n->stats.auth_fail++;
		return -EBADMSG;
	}
	replay_update(&l->rx, h.counter);
	l->down_until = 0;   /* it answers */
	m = malloc(sizeof(*m));
	if (!m || cy_msg_parse(m, plain, (size_t)pl) < 0 || m->type != CY_RELAY_RES ||
	    !cy_msg_u64(m, CY_A_TUNNEL_ID, &a->tunnel_id) ||
	    !cy_msg_u8(m, CY_A_RESULT, &a->result))
		goto bad;
	if (cy_msg_find(m, CY_A_REASON) &&
	    !cy_msg_str(m, CY_A_REASON, a->reason, CY_REASON_MAX))
		goto bad;
	while ((at = cy_msg_next(m, CY_A_RELAY, &pos))) {
		if (a->neps == NMS_RELAY_MAX_EPS)
			continue;
		if (!cy_attr_endpoint(at, &a->eps[a->neps], &sl))
			goto bad;
		a->neps++;
	}
	if (a->result == CY_OK && !a->neps)
		goto bad;
	rc = 0;
	goto out;
bad:
	n->stats.malformed++;
out:
	free(m);
	return rc;
}
