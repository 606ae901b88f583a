/* The node-NMS common keys in use: a cache over the store, and sealing
 * under them.  Shared by registration (nms.c) and route selection
 * (route.c), which call here and never each other for it. */
#include "nms_impl.h"

#include <errno.h>
#include <stdlib.h>

#include "aead.h"
#include "clock.h"
#include "log.h"
#include "seal.h"
#include "store.h"
#include "wire.h"

static int nms_ctr_reserve(void *arg, uint64_t at_least, uint64_t block, uint64_t *start)
{
	return store_counter_reserve(arg, "nms_seal", at_least, block, start);
}


static void nms_key_free(struct nms_key *k)
{
	if (!k)
		return;
	aead_free(k->aead);
	free(k);
}


static struct nms_key **nms_key_slot(struct nms *n, uint64_t key_id)
{
	struct nms_key **pp = &n->keys[key_id & (n->nbuckets - 1)];

	while (*pp && (*pp)->key_id != key_id)
		pp = &(*pp)->next;
	return pp;
}


void nms_key_drop(struct nms *n, uint64_t key_id)
{
	struct nms_key **pp = nms_key_slot(n, key_id), *k = *pp;

	if (k) {
		*pp = k->next;
		nms_key_free(k);
		n->nkeys--;
	}
}

/* Twice the buckets once there are more keys than buckets: a lookup
 * stays a step or two with 100,000 nodes (key ids are random). */
static void nms_keys_grow(struct nms *n)
{
	size_t nb = n->nbuckets * 2;
	struct nms_key **t;

	if (n->nkeys <= n->nbuckets || nb > ((size_t)1 << 24))
		return;
	t = calloc(nb, sizeof(*t));
	if (!t)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < n->nbuckets; i++) {
		while (n->keys[i]) {
			struct nms_key *k = n->keys[i];

			n->keys[i] = k->next;
			k->next = t[k->key_id & (nb - 1)];
			t[k->key_id & (nb - 1)] = k;
		}
	}
	free(n->keys);
	n->keys = t;
	n->nbuckets = nb;
}


/* The cached key for sk, created on a miss.  After a restart the receive
 * window starts from the counter stored with the registration, so a
 * datagram recorded before the restart is still refused. */
struct nms_key *nms_key_get(struct nms *n, const struct store_key *sk)
{
	struct nms_key **pp = nms_key_slot(n, sk->key_id), *k = *pp;
	struct store_reg reg;

	if (k) {
		k->expires = sk->expires;
		k->checked_ms = clock_now_ms();
		k->gen = n->key_gen;
		return k;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->aead = aead_new(AEAD_CHACHA20_POLY1305, sk->key);
	if (!k->aead) {
		free(k);
		return NULL;
	}
	k->key_id = sk->key_id;
	k->node_id = sk->node_id;
	k->expires = sk->expires;
	k->checked_ms = clock_now_ms();
	k->gen = n->key_gen;
	if (store_reg_get(n->st, sk->node_id, &reg) == 0 && reg.key_id == sk->key_id)
		replay_init_from(&k->rx, reg.counter);
	else
		replay_init(&k->rx);
	*pp = k;
	n->nkeys++;
	nms_keys_grow(n);
	return k;
}

struct nms_key *nms_key_cached(struct nms *n, uint64_t key_id)
{
	struct nms_key *k = *nms_key_slot(n, key_id);

	if (!k || k->gen != n->key_gen || k->expires <= clock_now() ||
	    clock_now_ms() - k->checked_ms >= NMS_KEY_RECHECK_MS)
		return NULL;
	return k;
}

int nms_key_recheck(struct nms *n, struct nms_key *k)
{
	struct store_key sk;
	int rc = store_key_get(n->st, k->key_id, &sk);

	if (rc == 0) {
		k->expires = sk.expires;
		k->checked_ms = clock_now_ms();
		k->gen = n->key_gen;
	} else if (rc == -ENOENT) {
		k->expires = 0;
	}
	cy_wipe(&sk, sizeof(sk));
	return rc == 0 ? 0 : rc == -ENOENT ? -ENOENT : -EIO;
}


struct nms_key *nms_key_find(struct nms *n, uint64_t key_id)
{
	struct nms_key *k = *nms_key_slot(n, key_id);
	struct store_key sk;

	if (k)
		return k->expires > clock_now() ? k : NULL;
	if (store_key_get(n->st, key_id, &sk) < 0)
		return NULL;
	if (sk.expires > clock_now())
		k = nms_key_get(n, &sk);
	cy_wipe(&sk, sizeof(sk));
	return k;
}


size_t nms_seal_reply(struct nms *n, struct nms_key *k, const uint8_t *msg, size_t len,
		      uint8_t *out, size_t cap)
{
	uint64_t ctr;
	ssize_t olen;

	if (cy_ctr_next(&n->ctr, &ctr) < 0) {
		LOG_RATELIMITED(&n->rl_log, "nms: no sending counter reserved (store): reply dropped");
		return 0;
	}
	olen = cy_seal(k->aead, CY_DIR_FROM_CLOUD, k->key_id, ctr, msg, len, out, cap);
	return olen > 0 ? (size_t)olen : 0;
}


int nms_send_sealed(struct nms *n, struct nms_key *k, const struct sockaddr *to,
		    const uint8_t *msg, size_t len)
{
	uint8_t out[NMS_PKT_MAX];
	size_t olen;

	char host[STORE_HOST_MAX + 1];

	if (!n->ops.send)
		return -ENOTCONN;
	/* A node registered on another host: its NAPT lets in only that one,
	 * and it seals (the node's window wants one sender's counters). */
	if (nms_bus_remote(n, k->node_id, host))
		return nms_bus_deliver(n, host, to, k->key_id, msg, len);
	olen = nms_seal_reply(n, k, msg, len, out, sizeof(out));
	if (!olen)
		return -EMSGSIZE;
	n->ops.send(n->ops_arg, to, out, olen);
	return 0;
}


int nms_keys_init(struct nms *n)
{
	n->ctr.reserve = nms_ctr_reserve;
	n->ctr.arg = n->st;
	n->nbuckets = NMS_BUCKETS;
	n->keys = calloc(n->nbuckets, sizeof(*n->keys));
	return n->keys ? 0 : -ENOMEM;
}

void nms_keys_expire(struct nms *n, int64_t now)
{
	for (size_t i = 0; i < n->nbuckets; i++) {
		struct nms_key **pp = &n->keys[i];

		while (*pp) {
			struct nms_key *k = *pp;

			if (k->expires <= now) {
				*pp = k->next;
				nms_key_free(k);
				n->nkeys--;
			} else {
				pp = &k->next;
			}
		}
	}
}

void nms_keys_recheck_all(struct nms *n)
{
	n->key_gen++;
}

void nms_keys_free(struct nms *n)
{
	for (size_t i = 0; n->keys && i < n->nbuckets; i++) {
		while (n->keys[i]) {
			struct nms_key *k = n->keys[i];

			n->keys[i] = k->next;
			nms_key_free(k);
		}
	}
	n->nkeys = 0;
	free(n->keys);
	n->keys = NULL;
}
