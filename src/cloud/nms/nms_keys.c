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


static struct nms_key *nms_key_at(struct nms *n, uint64_t key_id)
{
	return IDMAP_ENTRY(idmap_get(&n->keys, key_id), struct nms_key, hn);
}


void nms_key_drop(struct nms *n, uint64_t key_id)
{
	struct nms_key *k = nms_key_at(n, key_id);

	if (k) {
		idmap_del(&n->keys, &k->hn);
		nms_key_free(k);
	}
}


/* What the store says of k now: its expiry, and its mark, below which
 * every counter is old (a registration made with it elsewhere, or before
 * a restart, has gone). */
static void key_checked(struct nms *n, struct nms_key *k, const struct store_key *sk)
{
	k->expires = sk->expires;
	k->checked_ms = clock_now_ms();
	k->gen = n->key_gen;
	k->mark = sk->mark;
	if (sk->mark > k->rx.top)
		replay_init_from(&k->rx, sk->mark);
}

/* The cached key for sk, created on a miss.  The receive window starts
 * from the counter stored with the key's registration, or the mark its
 * registrations left on the key when they went: a datagram recorded
 * before a restart, or sent to another host, is still refused. */
struct nms_key *nms_key_get(struct nms *n, const struct store_key *sk)
{
	struct nms_key *k = nms_key_at(n, sk->key_id);
	struct store_reg reg;

	if (k) {
		key_checked(n, k, sk);
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
	k->key_id = k->hn.id = sk->key_id;
	k->node_id = sk->node_id;
	if (nms_reg_get(n, sk->node_id, &reg) == 0 && reg.key_id == sk->key_id)
		replay_init_from(&k->rx, reg.counter);
	else
		replay_init(&k->rx);
	key_checked(n, k, sk);
	if (idmap_put(&n->keys, &k->hn) < 0) {
		nms_key_free(k);
		return NULL;
	}
	return k;
}

/* Found in the store recently enough, in this generation. */
static bool key_fresh(const struct nms *n, const struct nms_key *k)
{
	return k->gen == n->key_gen && clock_now_ms() - k->checked_ms < NMS_KEY_RECHECK_MS;
}

bool nms_key_known(struct nms *n, uint64_t key_id)
{
	return nms_key_at(n, key_id) != NULL;
}

struct nms_key *nms_key_cached(struct nms *n, uint64_t key_id)
{
	struct nms_key *k = nms_key_at(n, key_id);

	return k && k->expires > clock_now() && key_fresh(n, k) ? k : NULL;
}

int nms_key_recheck(struct nms *n, struct nms_key *k)
{
	struct store_key sk;
	int rc = store_key_get(n->st, k->key_id, &sk);

	if (rc == 0) {
		key_checked(n, k, &sk);
	} else if (rc == -ENOENT) {
		k->expires = 0;
	}
	cy_wipe(&sk, sizeof(sk));
	return rc == 0 ? 0 : rc == -ENOENT ? -ENOENT : -EIO;
}


struct nms_key *nms_key_find(struct nms *n, uint64_t key_id)
{
	struct nms_key *k = nms_key_at(n, key_id);
	struct store_key sk;

	if (k && k->expires > clock_now() && !key_fresh(n, k))
		nms_key_recheck(n, k);   /* gone: marked expired, kept till the sweep */
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


int nms_keys_init(struct nms *n, bool shared)
{
	n->ctr.reserve = nms_ctr_reserve;
	n->ctr.arg = n->st;
	/* Hosts sharing the store stay within a second of each other; one
	 * alone reserves at start and about hourly after (seal.h). */
	n->ctr.block = shared ? CY_CTR_BLOCK_SHARED : CY_CTR_BLOCK_ALONE;
	if (!shared && cy_ctr_prime(&n->ctr) < 0)
		log_warnx("nms: could not reserve sealing counters: tried again at the first message");
	return idmap_init(&n->keys, NMS_BUCKETS);
}

struct key_sweep {
	struct nms *n;
	int64_t now;
};

static void key_expire(struct idmap_node *hn, void *arg)
{
	struct key_sweep *w = arg;
	struct nms_key *k = IDMAP_ENTRY(hn, struct nms_key, hn);

	if (k->expires <= w->now) {
		idmap_del(&w->n->keys, hn);
		nms_key_free(k);
	}
}

void nms_keys_expire(struct nms *n, int64_t now)
{
	struct key_sweep w = { n, now };

	idmap_each(&n->keys, key_expire, &w);
}

void nms_keys_recheck_all(struct nms *n)
{
	n->key_gen++;
}

static void key_free(struct idmap_node *hn, void *arg)
{
	(void)arg;
	nms_key_free(IDMAP_ENTRY(hn, struct nms_key, hn));
}

void nms_keys_free(struct nms *n)
{
	idmap_each(&n->keys, key_free, NULL);
	idmap_free(&n->keys);
}
