#include "aead.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct aead {
	enum aead_alg alg;
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
};

static bool alg_ok(enum aead_alg alg)
{
	return alg == AEAD_CHACHA20_POLY1305 || alg == AEAD_AES256_GCM;
}

static const EVP_CIPHER *alg_cipher(enum aead_alg alg)
{
	return alg == AEAD_AES256_GCM ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
}

/* ---- one keyed context: the operations every form shares ---- */

static ssize_t ctx_seal(EVP_CIPHER_CTX *c, const uint8_t nonce[AEAD_NONCE_LEN],
			const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen,
			uint8_t *out)
{
	int n, fin;

	if (ptlen > INT32_MAX || aadlen > INT32_MAX)
		return -EIO;
	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    (aadlen && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1) ||
	    EVP_EncryptUpdate(c, out, &n, pt, (int)ptlen) != 1 ||
	    EVP_EncryptFinal_ex(c, out + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, out + ptlen) != 1)
		return -EIO;
	return (ssize_t)(ptlen + AEAD_TAG_LEN);
}

static ssize_t ctx_open(EVP_CIPHER_CTX *c, const uint8_t nonce[AEAD_NONCE_LEN],
			const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t ctlen,
			uint8_t *out)
{
	size_t ptlen;
	int n, fin;

	if (ctlen < AEAD_TAG_LEN || ctlen > INT32_MAX || aadlen > INT32_MAX)
		return -EBADMSG;
	ptlen = ctlen - AEAD_TAG_LEN;
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN,
				(void *)(ct + ptlen)) != 1 ||
	    (aadlen && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1) ||
	    EVP_DecryptUpdate(c, out, &n, ct, (int)ptlen) != 1 ||
	    EVP_DecryptFinal_ex(c, out + n, &fin) != 1)
		return -EBADMSG;
	return (ssize_t)ptlen;
}

/* (Re)key c for alg; *cur is the algorithm c is set up for (0: none) and
 * is updated.  Switching algorithms sets the context up again (OpenSSL
 * allocates); the same algorithm only changes the key schedule. */
static int ctx_key(EVP_CIPHER_CTX *c, uint8_t *cur, enum aead_alg alg, const uint8_t *key)
{
	if (*cur == alg)
		return EVP_CipherInit_ex(c, NULL, NULL, key, NULL, -1) == 1 ? 0 : -EIO;
	*cur = 0;
	if (EVP_CipherInit_ex(c, alg_cipher(alg), NULL, key, NULL, 1) != 1)
		return -EIO;
	*cur = (uint8_t)alg;
	return 0;
}

/* Overwrite what c holds of a key: the key schedule, by keying it with
 * the zero key, and what was derived per nonce (GCM's E(K, Y0), the
 * Poly1305 key), by one empty seal under the zero key and nonce.  If that
 * fails, c is freed (which clears it) and *c set to NULL.  Not on the
 * packet path: only when a key goes or could not be set. */
static void ctx_scrub(EVP_CIPHER_CTX **c, uint8_t *cur, enum aead_alg alg)
{
	static const uint8_t zero_key[AEAD_KEY_LEN], zero_nonce[AEAD_NONCE_LEN];
	uint8_t tag[AEAD_TAG_LEN];

	if (*c && ctx_key(*c, cur, alg, zero_key) == 0 &&
	    ctx_seal(*c, zero_nonce, NULL, 0, tag, 0, tag) == AEAD_TAG_LEN)
		return;
	EVP_CIPHER_CTX_free(*c);
	*c = NULL;
	*cur = 0;
}

/* ---- struct aead ---- */

struct aead *aead_new(enum aead_alg alg, const uint8_t key[AEAD_KEY_LEN])
{
	struct aead *a = calloc(1, sizeof(*a));
	const EVP_CIPHER *c = alg_cipher(alg);

	if (!a)
		return NULL;
	a->alg = alg;
	a->enc = EVP_CIPHER_CTX_new();
	a->dec = EVP_CIPHER_CTX_new();
	if (!a->enc || !a->dec ||
	    EVP_EncryptInit_ex(a->enc, c, NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(a->dec, c, NULL, key, NULL) != 1) {
		aead_free(a);
		return NULL;
	}
	return a;
}

void aead_free(struct aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->enc); /* clears the key schedule */
	EVP_CIPHER_CTX_free(a->dec);
	free(a);
}

enum aead_alg aead_alg(const struct aead *a) { return a->alg; }

ssize_t aead_seal(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *aad,
		  size_t aadlen, const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	return ctx_seal(a->enc, nonce, aad, aadlen, pt, ptlen, out);
}

ssize_t aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *aad,
		  size_t aadlen, const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	return ctx_open(a->dec, nonce, aad, aadlen, ct, ctlen, out);
}

/* ---- the pool ---- */

#define SLOT_NONE UINT16_MAX

struct pool_slot {
	EVP_CIPHER_CTX *ctx;
	uint64_t tag;       /* of the key it holds, 0 none */
	uint64_t used;      /* LRU stamp, 0 free */
	uint8_t alg;        /* what ctx is set up for, 0 nothing */
};

static struct pool_slot pool[AEAD_POOL_SIZE];
static uint64_t pool_tags, pool_clock;
static bool pool_filled, pool_atexit;

/* Scratch contexts of aead_*_once, one per algorithm and thread (the
 * cloud's TRS thread and its loop both use them): freed at the thread's
 * end (scratch_key), or with the pool at exit for the main thread. */
static _Thread_local EVP_CIPHER_CTX *scratch[3];
static _Thread_local uint8_t scratch_alg[3];
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_release(void *unused)
{
	for (size_t i = 0; i < 3; i++)
		EVP_CIPHER_CTX_free(scratch[i]);
	memset(scratch, 0, sizeof(scratch));
	memset(scratch_alg, 0, sizeof(scratch_alg));
}

static void scratch_key_make(void)
{
	(void)pthread_key_create(&scratch_key, scratch_release);
}

static void pool_release(void)
{
	for (size_t i = 0; i < AEAD_POOL_SIZE; i++)
		EVP_CIPHER_CTX_free(pool[i].ctx);   /* clears the key schedules */
	scratch_release(NULL);              /* the exiting thread's */
	memset(pool, 0, sizeof(pool));
	pool_filled = false;
}

/* Frees the contexts at exit, before OpenSSL's own clean-up: that one is
 * registered first (OPENSSL_init_crypto), so it runs after ours. */
static void pool_at_exit(void)
{
	if (!pool_atexit && OPENSSL_init_crypto(0, NULL) == 1 && atexit(pool_release) == 0)
		pool_atexit = true;
}

/* Every context at once, set up for alg (the one the first key uses:
 * normally the only one), so the process's memory does not grow with
 * the number of keys.  A context that fails is tried again when needed. */
static void pool_fill(enum aead_alg alg)
{
	pool_at_exit();
	for (size_t i = 0; i < AEAD_POOL_SIZE; i++) {
		struct pool_slot *s = &pool[i];

		if (!s->ctx)
			s->ctx = EVP_CIPHER_CTX_new();
		if (s->ctx && !s->alg)
			(void)ctx_key(s->ctx, &s->alg, alg, NULL);
	}
	pool_filled = true;
}

static bool pool_hit(const struct aead_key *k)
{
	return k->tag && k->slot < AEAD_POOL_SIZE && pool[k->slot].tag == k->tag;
}

/* The least recently used slot keyed with k. */
static EVP_CIPHER_CTX *pool_rekey(struct aead_key *k)
{
	struct pool_slot *s = &pool[0];

	if (!pool_filled)
		pool_fill((enum aead_alg)k->alg);
	for (size_t i = 1; i < AEAD_POOL_SIZE; i++)
		if (pool[i].used < s->used)
			s = &pool[i];
	s->tag = 0;
	s->used = 0;
	if (!s->ctx && !(s->ctx = EVP_CIPHER_CTX_new()))
		return NULL;
	if (ctx_key(s->ctx, &s->alg, (enum aead_alg)k->alg, k->key) < 0) {
		/* It may still hold the previous key's schedule, which that
		 * key's aead_key_wipe no longer reaches (the tag is gone). */
		ctx_scrub(&s->ctx, &s->alg, (enum aead_alg)k->alg);
		return NULL;
	}
	s->tag = k->tag = ++pool_tags;
	s->used = ++pool_clock;
	k->slot = (uint16_t)(s - pool);
	return s->ctx;
}

static EVP_CIPHER_CTX *pool_ctx(struct aead_key *k)
{
	if (pool_hit(k)) {
		pool[k->slot].used = ++pool_clock;
		return pool[k->slot].ctx;
	}
	return pool_rekey(k);
}

int aead_key_init(struct aead_key *k, enum aead_alg alg, const uint8_t key[AEAD_KEY_LEN])
{
	if (!alg_ok(alg))
		return -EINVAL;
	memcpy(k->key, key, AEAD_KEY_LEN);
	k->tag = 0;
	k->slot = SLOT_NONE;
	k->alg = (uint8_t)alg;
	return 0;
}

void aead_key_wipe(struct aead_key *k)
{
	if (pool_hit(k)) {
		struct pool_slot *s = &pool[k->slot];

		/* Overwrite the key's state; the slot goes first next time. */
		ctx_scrub(&s->ctx, &s->alg, (enum aead_alg)k->alg);
		s->tag = 0;
		s->used = 0;
	}
	cy_wipe(k, sizeof(*k));
	k->slot = SLOT_NONE;
}

ssize_t aead_key_seal(struct aead_key *k, const uint8_t nonce[AEAD_NONCE_LEN],
		      const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen,
		      uint8_t *out)
{
	EVP_CIPHER_CTX *c = pool_ctx(k);

	return c ? ctx_seal(c, nonce, aad, aadlen, pt, ptlen, out) : -ENOMEM;
}

ssize_t aead_key_open(struct aead_key *k, const uint8_t nonce[AEAD_NONCE_LEN],
		      const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t ctlen,
		      uint8_t *out)
{
	EVP_CIPHER_CTX *c = pool_ctx(k);

	return c ? ctx_open(c, nonce, aad, aadlen, ct, ctlen, out) : -ENOMEM;
}

bool aead_key_pooled(const struct aead_key *k)
{
	return pool_hit(k);
}

size_t aead_pool_contexts(void)
{
	size_t n = 0;

	for (size_t i = 0; i < AEAD_POOL_SIZE; i++)
		n += pool[i].ctx != NULL;
	return n;
}

/* ---- one-shot ---- */

static EVP_CIPHER_CTX *scratch_get(enum aead_alg alg, const uint8_t *key)
{
	EVP_CIPHER_CTX **c = &scratch[alg];

	if (!*c) {
		pool_at_exit();
		/* freed when this thread ends (a non-NULL value runs the
		 * destructor) */
		pthread_once(&scratch_once, scratch_key_make);
		(void)pthread_setspecific(scratch_key, scratch);
		if (!(*c = EVP_CIPHER_CTX_new()))
			return NULL;
	}
	return ctx_key(*c, &scratch_alg[alg], alg, key) < 0 ? NULL : *c;
}

static void scratch_wipe(enum aead_alg alg)
{
	ctx_scrub(&scratch[alg], &scratch_alg[alg], alg);
}

ssize_t aead_seal_once(enum aead_alg alg, const uint8_t key[AEAD_KEY_LEN],
		       const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *aad, size_t aadlen,
		       const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	EVP_CIPHER_CTX *c;
	ssize_t n;

	if (!alg_ok(alg))
		return -EIO;
	if (!(c = scratch_get(alg, key)))
		return -ENOMEM;
	n = ctx_seal(c, nonce, aad, aadlen, pt, ptlen, out);
	scratch_wipe(alg);
	return n;
}

ssize_t aead_open_once(enum aead_alg alg, const uint8_t key[AEAD_KEY_LEN],
		       const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *aad, size_t aadlen,
		       const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	EVP_CIPHER_CTX *c;
	ssize_t n;

	if (!alg_ok(alg))
		return -EBADMSG;
	if (!(c = scratch_get(alg, key)))
		return -ENOMEM;
	n = ctx_open(c, nonce, aad, aadlen, ct, ctlen, out);
	scratch_wipe(alg);
	return n;
}

/* ---- misc ---- */

int cy_random(void *buf, size_t n)
{
	if (n > INT32_MAX || RAND_bytes(buf, (int)n) != 1)
		return -EIO;
	return 0;
}

void cy_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}
