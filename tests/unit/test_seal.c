/* The sealed UDP envelope: round trips both ways, and every tampering,
 * truncation or wrong key fails authentication with -EBADMSG.  Also the
 * AEAD's other forms (aead.h): pooled keys and one-shot calls. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdbool.h>
#include <stdlib.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "ctrfile.h"
#include "seal.h"
#include "wire.h"

static uint8_t key[AEAD_KEY_LEN], key2[AEAD_KEY_LEN];
static uint8_t inner[128], dgram[256], out[256];
static size_t inner_len;

static void make_inner(void)
{
	struct cy_builder b;
	ssize_t n;

	cy_build_start(&b, inner, sizeof(inner), CY_KEEPALIVE);
	cy_put_u64(&b, CY_A_TIME, 1700000000000ULL);
	cy_put_str(&b, CY_A_NAME, "alpha");
	n = cy_build_finish(&b);
	assert_true(n > 0);
	inner_len = (size_t)n;
}

static int setup(void **state)
{
	for (size_t i = 0; i < AEAD_KEY_LEN; i++) {
		key[i] = (uint8_t)i;
		key2[i] = (uint8_t)(i + 1);
	}
	make_inner();
	return 0;
}

static void roundtrip(enum aead_alg alg, enum cy_dir dir)
{
	struct aead *a = aead_new(alg, key);
	struct cy_seal_hdr h;
	struct cy_msg m;
	ssize_t n, p;

	assert_non_null(a);
	assert_int_equal(aead_alg(a), alg);
	n = cy_seal(a, dir, 0x1122334455667788ULL, 42, inner, inner_len, dgram, sizeof(dgram));
	assert_int_equal(n, (ssize_t)(inner_len + CY_SEAL_OVERHEAD));
	assert_int_equal(dgram[0], CY_VERSION);
	assert_int_equal(dgram[1], CY_SEALED);
	assert_int_equal(dgram[2], dir);
	assert_int_equal(dgram[3], 0);
	assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), 0);
	assert_int_equal(h.dir, dir);
	assert_true(h.key_id == 0x1122334455667788ULL);
	assert_true(h.counter == 42);
	/* the ciphertext is not the plaintext */
	assert_memory_not_equal(dgram + CY_SEAL_HDR_LEN, inner, inner_len);
	memset(out, 0, sizeof(out));
	p = cy_unseal(a, dgram, (size_t)n, out, sizeof(out));
	assert_int_equal(p, (ssize_t)inner_len);
	assert_memory_equal(out, inner, inner_len);
	assert_int_equal(cy_msg_parse(&m, out, (size_t)p), 0);
	assert_int_equal(m.type, CY_KEEPALIVE);
	aead_free(a);
}

static void test_roundtrip(void **state)
{
	roundtrip(AEAD_CHACHA20_POLY1305, CY_DIR_TO_CLOUD);
	roundtrip(AEAD_CHACHA20_POLY1305, CY_DIR_FROM_CLOUD);
	roundtrip(AEAD_AES256_GCM, CY_DIR_TO_CLOUD);
	roundtrip(AEAD_AES256_GCM, CY_DIR_FROM_CLOUD);
	aead_free(NULL);
}

static ssize_t seal_one(struct aead *a, enum cy_dir dir, uint64_t ctr)
{
	ssize_t n = cy_seal(a, dir, 7, ctr, inner, inner_len, dgram, sizeof(dgram));

	assert_true(n > 0);
	return n;
}

static void test_tamper(void **state)
{
	struct aead *a = aead_new(AEAD_CHACHA20_POLY1305, key);
	struct cy_seal_hdr h;
	ssize_t n = seal_one(a, CY_DIR_TO_CLOUD, 5);

	/* flip every single byte in turn: header (AAD), ciphertext, tag */
	for (ssize_t i = 0; i < n; i++) {
		dgram[i] ^= 0x01;
		assert_int_equal(cy_unseal(a, dgram, (size_t)n, out, sizeof(out)), -EBADMSG);
		dgram[i] ^= 0x01;
	}
	/* key id and counter are authenticated even where peek accepts them */
	dgram[4] ^= 0x80;
	assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), 0);
	assert_int_equal(cy_unseal(a, dgram, (size_t)n, out, sizeof(out)), -EBADMSG);
	dgram[4] ^= 0x80;
	dgram[19] ^= 0x01;
	assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), 0);
	assert_int_equal(cy_unseal(a, dgram, (size_t)n, out, sizeof(out)), -EBADMSG);
	dgram[19] ^= 0x01;
	/* untouched still opens: the context recovers after failures */
	assert_int_equal(cy_unseal(a, dgram, (size_t)n, out, sizeof(out)), (ssize_t)inner_len);

	/* truncated anywhere, and one byte appended */
	for (ssize_t len = 0; len < n; len++)
		assert_int_equal(cy_unseal(a, dgram, (size_t)len, out, sizeof(out)), -EBADMSG);
	dgram[n] = 0;
	assert_int_equal(cy_unseal(a, dgram, (size_t)n + 1, out, sizeof(out)), -EBADMSG);
	aead_free(a);
}

static void test_wrong_key_dir(void **state)
{
	struct aead *a = aead_new(AEAD_CHACHA20_POLY1305, key);
	struct aead *b = aead_new(AEAD_CHACHA20_POLY1305, key2);
	struct aead *g = aead_new(AEAD_AES256_GCM, key);
	ssize_t n = seal_one(a, CY_DIR_TO_CLOUD, 9);

	assert_int_equal(cy_unseal(b, dgram, (size_t)n, out, sizeof(out)), -EBADMSG);
	/* same key, other algorithm */
	assert_int_equal(cy_unseal(g, dgram, (size_t)n, out, sizeof(out)), -EBADMSG);
	/* a datagram reflected with the direction byte rewritten: the nonce
	 * and the AAD both change, so it fails */
	dgram[2] = CY_DIR_FROM_CLOUD;
	assert_int_equal(cy_unseal(a, dgram, (size_t)n, out, sizeof(out)), -EBADMSG);
	/* sealed the other way with the same counter: a different nonce, so
	 * a different ciphertext */
	{
		uint8_t d2[256];
		ssize_t m = cy_seal(a, CY_DIR_FROM_CLOUD, 7, 9, inner, inner_len, d2, sizeof(d2));

		assert_int_equal(m, n);
		dgram[2] = CY_DIR_TO_CLOUD;
		assert_memory_not_equal(d2 + CY_SEAL_HDR_LEN, dgram + CY_SEAL_HDR_LEN,
					inner_len);
		/* splice its ciphertext under the first header */
		memcpy(dgram + CY_SEAL_HDR_LEN, d2 + CY_SEAL_HDR_LEN, (size_t)m - CY_SEAL_HDR_LEN);
		assert_int_equal(cy_unseal(a, dgram, (size_t)n, out, sizeof(out)), -EBADMSG);
	}
	aead_free(a);
	aead_free(b);
	aead_free(g);
}

static void test_peek(void **state)
{
	struct aead *a = aead_new(AEAD_CHACHA20_POLY1305, key);
	struct cy_seal_hdr h;
	ssize_t n = seal_one(a, CY_DIR_FROM_CLOUD, UINT64_MAX);
	uint8_t save[4];

	assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), 0);
	assert_true(h.counter == UINT64_MAX);
	memcpy(save, dgram, 4);
	dgram[0] = 2; /* version */
	assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), -EBADMSG);
	assert_int_equal(cy_unseal(a, dgram, (size_t)n, out, sizeof(out)), -EBADMSG);
	dgram[0] = 0;
	assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), -EBADMSG);
	memcpy(dgram, save, 4);
	dgram[1] = CY_NMS_REJECT; /* type */
	assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), -EBADMSG);
	dgram[1] = CY_REG_REQ;
	assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), -EBADMSG);
	memcpy(dgram, save, 4);
	for (int d = 2; d < 256; d++) { /* dir */
		dgram[2] = (uint8_t)d;
		assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), -EBADMSG);
	}
	memcpy(dgram, save, 4);
	for (int r = 1; r < 256; r++) { /* reserved */
		dgram[3] = (uint8_t)r;
		assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), -EBADMSG);
	}
	memcpy(dgram, save, 4);
	assert_int_equal(cy_seal_peek(dgram, (size_t)n, &h), 0);
	/* short: below header + tag + an inner header */
	for (size_t len = 0; len < CY_SEAL_OVERHEAD + CY_HDR_LEN; len++)
		assert_int_equal(cy_seal_peek(dgram, len, &h), -EBADMSG);
	assert_int_equal(cy_seal_peek(dgram, CY_SEAL_OVERHEAD + CY_HDR_LEN, &h), 0);
	aead_free(a);
}

static void test_capacity(void **state)
{
	struct aead *a = aead_new(AEAD_CHACHA20_POLY1305, key);
	size_t need = inner_len + CY_SEAL_OVERHEAD;
	ssize_t n;

	/* seal: exact fit, one short, smaller than the overhead itself */
	assert_int_equal(cy_seal(a, CY_DIR_TO_CLOUD, 1, 1, inner, inner_len, dgram, need),
			 (ssize_t)need);
	assert_int_equal(cy_seal(a, CY_DIR_TO_CLOUD, 1, 1, inner, inner_len, dgram, need - 1),
			 -EMSGSIZE);
	assert_int_equal(cy_seal(a, CY_DIR_TO_CLOUD, 1, 1, inner, inner_len, dgram,
				 CY_SEAL_OVERHEAD - 1), -EMSGSIZE);
	assert_int_equal(cy_seal(a, CY_DIR_TO_CLOUD, 1, 1, inner, inner_len, dgram, 0),
			 -EMSGSIZE);
	/* a length that would wrap the capacity check */
	assert_int_equal(cy_seal(a, CY_DIR_TO_CLOUD, 1, 1, inner, SIZE_MAX - 8, dgram,
				 sizeof(dgram)), -EMSGSIZE);

	/* unseal: output exactly the inner length, and one byte short */
	n = seal_one(a, CY_DIR_TO_CLOUD, 3);
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(cy_unseal(a, dgram, (size_t)n, out, inner_len), (ssize_t)inner_len);
	assert_int_equal(out[inner_len], 0xaa);
	assert_int_equal(cy_unseal(a, dgram, (size_t)n, out, inner_len - 1), -EBADMSG);
	assert_int_equal(cy_unseal(a, dgram, (size_t)n, out, 0), -EBADMSG);
	aead_free(a);
}

static void test_random_wipe(void **state)
{
	uint8_t r1[32], r2[32], z[32];

	assert_int_equal(cy_random(r1, sizeof(r1)), 0);
	assert_int_equal(cy_random(r2, sizeof(r2)), 0);
	assert_memory_not_equal(r1, r2, sizeof(r1));
	memset(z, 0, sizeof(z));
	cy_wipe(r1, sizeof(r1));
	assert_memory_equal(r1, z, sizeof(z));
}

/* ---- pooled keys ---- */

#define NKEYS (AEAD_POOL_SIZE * 2 + 3)

static const uint8_t nonce[AEAD_NONCE_LEN] = { 9, 8, 7 };
static const uint8_t aad[] = "header";

static void key_n(uint8_t k[AEAD_KEY_LEN], unsigned n)
{
	memcpy(k, key, AEAD_KEY_LEN);
	k[0] = (uint8_t)n;
	k[1] = (uint8_t)(n >> 8);
}

/* A pooled key, a struct aead and a one-shot call with the same key are
 * interchangeable. */
static void interop(enum aead_alg alg)
{
	struct aead *a = aead_new(alg, key);
	struct aead_key k;
	ssize_t n;

	assert_non_null(a);
	assert_int_equal(aead_key_init(&k, alg, key), 0);
	n = aead_key_seal(&k, nonce, aad, sizeof(aad), inner, inner_len, dgram);
	assert_int_equal(n, (ssize_t)(inner_len + AEAD_TAG_LEN));
	assert_true(aead_key_pooled(&k));
	assert_int_equal(aead_open(a, nonce, aad, sizeof(aad), dgram, (size_t)n, out),
			 (ssize_t)inner_len);
	assert_memory_equal(out, inner, inner_len);
	assert_int_equal(aead_open_once(alg, key, nonce, aad, sizeof(aad), dgram, (size_t)n,
					out), (ssize_t)inner_len);
	/* the other way round, and the same key opens what it sealed */
	n = aead_seal_once(alg, key, nonce, aad, sizeof(aad), inner, inner_len, dgram);
	assert_int_equal(n, (ssize_t)(inner_len + AEAD_TAG_LEN));
	assert_int_equal(aead_key_open(&k, nonce, aad, sizeof(aad), dgram, (size_t)n, out),
			 (ssize_t)inner_len);
	assert_memory_equal(out, inner, inner_len);
	dgram[3] ^= 1;
	assert_int_equal(aead_key_open(&k, nonce, aad, sizeof(aad), dgram, (size_t)n, out),
			 -EBADMSG);
	assert_int_equal(aead_open_once(alg, key, nonce, aad, sizeof(aad), dgram, (size_t)n,
					out), -EBADMSG);
	/* a one-shot call with another key does not open it */
	dgram[3] ^= 1;
	assert_int_equal(aead_open_once(alg, key2, nonce, aad, sizeof(aad), dgram, (size_t)n,
					out), -EBADMSG);
	aead_key_wipe(&k);
	assert_false(aead_key_pooled(&k));
	aead_free(a);
}

static void test_key_interop(void **state)
{
	struct aead_key k;

	interop(AEAD_CHACHA20_POLY1305);
	interop(AEAD_AES256_GCM);
	assert_int_equal(aead_key_init(&k, (enum aead_alg)7, key), -EINVAL);
	assert_int_equal(aead_seal_once((enum aead_alg)0, key, nonce, NULL, 0, inner,
					inner_len, dgram), -EIO);
}

/* More keys than the pool has contexts, both algorithms, used in turns
 * that defeat the LRU: every key still seals with its own key (checked
 * by a context of its own), and the pool never grows. */
static void test_key_pool_eviction(void **state)
{
	static struct aead_key k[NKEYS];
	uint8_t kb[AEAD_KEY_LEN];
	ssize_t n;

	for (unsigned i = 0; i < NKEYS; i++) {
		key_n(kb, i);
		assert_int_equal(aead_key_init(&k[i], i % 3 ? AEAD_AES256_GCM :
					       AEAD_CHACHA20_POLY1305, kb), 0);
	}
	for (int round = 0; round < 3; round++)
		for (unsigned i = 0; i < NKEYS; i++) {
			enum aead_alg alg = i % 3 ? AEAD_AES256_GCM : AEAD_CHACHA20_POLY1305;

			key_n(kb, i);
			n = aead_key_seal(&k[i], nonce, aad, sizeof(aad), inner, inner_len, dgram);
			assert_int_equal(n, (ssize_t)(inner_len + AEAD_TAG_LEN));
			assert_int_equal(aead_open_once(alg, kb, nonce, aad, sizeof(aad), dgram,
							(size_t)n, out), (ssize_t)inner_len);
			assert_memory_equal(out, inner, inner_len);
			/* the neighbour's key does not open it */
			assert_int_equal(aead_key_open(&k[(i + 3) % NKEYS], nonce, aad,
						       sizeof(aad), dgram, (size_t)n, out),
					 -EBADMSG);
			assert_int_equal(aead_key_open(&k[i], nonce, aad, sizeof(aad), dgram,
						       (size_t)n, out), (ssize_t)inner_len);
		}
	assert_int_equal(aead_pool_contexts(), AEAD_POOL_SIZE);
	/* Only the most recently used keys still hold a context. */
	n = 0;
	for (unsigned i = 0; i < NKEYS; i++)
		n += aead_key_pooled(&k[i]);
	assert_int_equal(n, AEAD_POOL_SIZE);
	assert_true(aead_key_pooled(&k[NKEYS - 1]));
	assert_false(aead_key_pooled(&k[NKEYS / 2]));
	for (unsigned i = 0; i < NKEYS; i++)
		aead_key_wipe(&k[i]);
}

/* A wiped key frees its slot for the next key first: a key used often
 * keeps its context meanwhile. */
static void test_key_wipe_lru(void **state)
{
	static struct aead_key k[AEAD_POOL_SIZE], hot, fresh;
	uint8_t kb[AEAD_KEY_LEN];

	for (unsigned i = 0; i < AEAD_POOL_SIZE; i++) {
		key_n(kb, 1000 + i);
		aead_key_init(&k[i], AEAD_AES256_GCM, kb);
		assert_true(aead_key_seal(&k[i], nonce, NULL, 0, inner, 16, dgram) > 0);
	}
	hot = k[0];                     /* a copy names the same context */
	assert_true(aead_key_pooled(&hot));
	aead_key_wipe(&k[5]);
	key_n(kb, 2000);
	aead_key_init(&fresh, AEAD_AES256_GCM, kb);
	assert_false(aead_key_pooled(&fresh));
	assert_true(aead_key_seal(&fresh, nonce, NULL, 0, inner, 16, dgram) > 0);
	assert_true(aead_key_pooled(&fresh));
	for (unsigned i = 0; i < AEAD_POOL_SIZE; i++)
		if (i != 5)
			assert_true(aead_key_pooled(&k[i]));
	for (unsigned i = 0; i < AEAD_POOL_SIZE; i++)
		aead_key_wipe(&k[i]);
	assert_false(aead_key_pooled(&hot));   /* its context was wiped with k[0] */
	aead_key_wipe(&fresh);
	aead_key_wipe(&hot);
}

/* A wiped key's context, keyed again (the other algorithm too), seals
 * exactly what a context of its own does: the throwaway seal of the wipe
 * leaves nothing behind that the next key would use. */
static void test_key_wipe_reuse(void **state)
{
	static const enum aead_alg algs[] = { AEAD_AES256_GCM, AEAD_CHACHA20_POLY1305 };
	uint8_t kb[AEAD_KEY_LEN], ref[sizeof(dgram)];
	struct aead_key k;
	ssize_t n;

	for (unsigned i = 0; i < 8; i++) {
		enum aead_alg alg = algs[(i / 2) % 2];

		key_n(kb, 3000 + i);
		assert_int_equal(aead_key_init(&k, alg, kb), 0);
		n = aead_key_seal(&k, nonce, aad, sizeof(aad), inner, inner_len, dgram);
		assert_int_equal(n, (ssize_t)(inner_len + AEAD_TAG_LEN));
		assert_int_equal(aead_seal_once(alg, kb, nonce, aad, sizeof(aad), inner,
						inner_len, ref), n);
		assert_memory_equal(dgram, ref, (size_t)n);
		assert_int_equal(aead_key_open(&k, nonce, aad, sizeof(aad), dgram, (size_t)n,
					       out), (ssize_t)inner_len);
		aead_key_wipe(&k);   /* the next key takes this slot first */
		/* scrubbed in place, not freed and set up again */
		assert_int_equal(aead_pool_contexts(), AEAD_POOL_SIZE);
	}
}

/* OpenSSL's allocations can be made to fail (set up in main). */
static bool alloc_fail;

static void *t_malloc(size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return alloc_fail ? NULL : malloc(n);
}

static void *t_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return alloc_fail ? NULL : realloc(p, n);
}

static void t_free(void *p, const char *file, int line)
{
	(void)file, (void)line;
	free(p);
}

static bool alloc_hooked;

/* A context that fails to take a key (here: switching algorithms needs
 * memory OpenSSL cannot get) is not kept with whatever it held: it is
 * freed, nothing is sealed, the keys in the other contexts keep working
 * without any allocation, and the slot is set up again later. */
static void test_key_rekey_failure(void **state)
{
	static struct aead_key k[AEAD_POOL_SIZE];
	uint8_t kb[AEAD_KEY_LEN], ref[sizeof(dgram)];
	struct aead_key c;
	ssize_t n;

	/* main() hooked OpenSSL's allocator before anything else ran */
	assert_true(alloc_hooked);
	for (unsigned i = 0; i < AEAD_POOL_SIZE; i++) {   /* every context: GCM */
		key_n(kb, 4000 + i);
		assert_int_equal(aead_key_init(&k[i], AEAD_AES256_GCM, kb), 0);
		assert_true(aead_key_seal(&k[i], nonce, NULL, 0, inner, 16, dgram) > 0);
	}
	assert_int_equal(aead_pool_contexts(), AEAD_POOL_SIZE);
	key_n(kb, 5000);
	assert_int_equal(aead_key_init(&c, AEAD_CHACHA20_POLY1305, kb), 0);

	alloc_fail = true;
	n = aead_key_seal(&c, nonce, aad, sizeof(aad), inner, inner_len, dgram);
	for (unsigned i = 1; i < AEAD_POOL_SIZE; i++)
		assert_int_equal(aead_key_seal(&k[i], nonce, NULL, 0, inner, 16, dgram),
				 16 + AEAD_TAG_LEN);
	alloc_fail = false;
	ERR_clear_error();
	assert_int_equal(n, -ENOMEM);
	assert_false(aead_key_pooled(&c));
	assert_false(aead_key_pooled(&k[0]));          /* its context was taken */
	assert_int_equal(aead_pool_contexts(), AEAD_POOL_SIZE - 1);

	n = aead_key_seal(&c, nonce, aad, sizeof(aad), inner, inner_len, dgram);
	assert_int_equal(n, (ssize_t)(inner_len + AEAD_TAG_LEN));
	assert_int_equal(aead_pool_contexts(), AEAD_POOL_SIZE);
	assert_int_equal(aead_seal_once(AEAD_CHACHA20_POLY1305, kb, nonce, aad, sizeof(aad),
					inner, inner_len, ref), n);
	assert_memory_equal(dgram, ref, (size_t)n);
	for (unsigned i = 0; i < AEAD_POOL_SIZE; i++)
		aead_key_wipe(&k[i]);
	aead_key_wipe(&c);
}

/* Counters of keys that outlive a process: from reserved blocks, rising
 * with the clock, never repeating across a "restart" (a new struct cy_ctr
 * on the same file) even with the clock stepped back, nor between two
 * users of one file. */
static void test_ctr_file_never_repeats(void **state)
{
	char dir[] = "/tmp/cy-test-ctr-XXXXXX", path[64];
	struct cy_ctr a = { .reserve = ctrfile_reserve }, b, c;
	uint64_t v[6], start;
	struct stat st;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/trs.key.counter", dir);
	a.arg = path;
	b = c = a;
	clock_set_fake(1700000000, 1000);
	assert_int_equal(cy_ctr_next(&a, &v[0]), 0);
	assert_true(v[0] == 1700000000ULL * 1000000000ULL);
	assert_int_equal(cy_ctr_next(&a, &v[1]), 0);
	assert_true(v[1] == v[0] + 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* restart an hour back in time: above the reserved block */
	clock_set_fake(1700000000 - 3600, 1000);
	assert_int_equal(cy_ctr_next(&b, &v[2]), 0);
	assert_true(v[2] >= v[0] + CY_CTR_BLOCK);
	/* a second user of the file meanwhile: a block of its own */
	assert_int_equal(cy_ctr_next(&c, &v[3]), 0);
	assert_true(v[3] >= v[2] + CY_CTR_BLOCK);
	assert_int_equal(cy_ctr_next(&a, &v[4]), 0);
	assert_int_equal(cy_ctr_next(&b, &v[5]), 0);
	for (int i = 0; i < 6; i++)
		for (int j = i + 1; j < 6; j++)
			assert_true(v[i] != v[j]);
	/* the clock jumps past the block: a new reservation, at the clock */
	clock_set_fake(1800000000, 1000);
	assert_int_equal(cy_ctr_next(&a, &v[0]), 0);
	assert_true(v[0] == 1800000000ULL * 1000000000ULL);
	/* a file that holds no number is refused, and nothing is sealed */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("garbage\n", f);
	fclose(f);
	assert_int_equal(ctrfile_reserve(path, 0, 10, &start), -EINVAL);
	c.next = c.end = 0;
	assert_int_equal(cy_ctr_next(&c, &v[0]), -EINVAL);
	assert_int_equal(ctrfile_reserve(path, 0, 0, &start), -EINVAL);
	unlink(path);
	rmdir(dir);
	clock_set_fake(0, 0);
}

/* A process alone on its store (the NMS on SQLite): one reservation at
 * start (cy_ctr_prime), none for the next hour of messages, however
 * quiet; counters still rise and never repeat. */
struct counting_mark {
	uint64_t mark;
	int calls;
};

static int counting_reserve(void *arg, uint64_t at_least, uint64_t block, uint64_t *start)
{
	struct counting_mark *m = arg;

	m->calls++;
	return cy_ctr_reserve_in_memory(&m->mark, at_least, block, start);
}

static void test_ctr_alone_reserves_at_start(void **state)
{
	struct counting_mark m = { 0, 0 };
	struct cy_ctr c = { .reserve = counting_reserve, .arg = &m, .block = CY_CTR_BLOCK_ALONE };
	uint64_t prev = 0, v;

	(void)state;
	clock_set_fake(1700000000, 1000);
	assert_int_equal(cy_ctr_prime(&c), 0);
	assert_int_equal(m.calls, 1);
	assert_int_equal(cy_ctr_prime(&c), 0);          /* still covered */
	assert_int_equal(m.calls, 1);
	/* a message now and then, with minutes of quiet between: no write */
	for (int i = 0; i < 30; i++) {
		clock_set_fake(1700000000 + i * 120, 1000);
		assert_int_equal(cy_ctr_next(&c, &v), 0);
		assert_true(v > prev);
		prev = v;
	}
	assert_int_equal(m.calls, 1);
	/* past the block (73 minutes): the next one reserves again */
	clock_set_fake(1700000000 + 5000, 1000);
	assert_int_equal(cy_ctr_next(&c, &v), 0);
	assert_true(v > prev);
	assert_int_equal(m.calls, 2);
	/* the same quiet spells with a shared block reserve every time */
	{
		struct counting_mark s = { 0, 0 };
		struct cy_ctr sh = { .reserve = counting_reserve, .arg = &s,
				     .block = CY_CTR_BLOCK_SHARED };

		for (int i = 0; i < 5; i++) {
			clock_set_fake(1700000000 + i * 2, 1000);
			assert_int_equal(cy_ctr_next(&sh, &v), 0);
		}
		assert_int_equal(s.calls, 5);
	}
	clock_set_fake(0, 0);
}

/* Two processes sharing one mark (NMS hosts on one store): whichever
 * reserved last is ahead, but by a block at most, so a node moving from
 * one to the other finds the new one's counters that close behind; and no
 * counter repeats between them. */
static void test_ctr_shared_hosts_stay_close(void **state)
{
	uint64_t mark = 0, a_v[40], b_v[40];
	struct cy_ctr a = { .reserve = cy_ctr_reserve_in_memory, .arg = &mark,
			    .block = CY_CTR_BLOCK_SHARED }, b = a;

	for (int i = 0; i < 40; i++) {
		/* a quarter second a step, at the clock's resolution */
		clock_set_fake(1700000000 + i / 4, 1000);
		assert_int_equal(cy_ctr_next(&a, &a_v[i]), 0);
		assert_int_equal(cy_ctr_next(&b, &b_v[i]), 0);
		assert_true(a_v[i] <= b_v[i] + CY_CTR_BLOCK_SHARED);
		assert_true(b_v[i] <= a_v[i] + CY_CTR_BLOCK_SHARED);
		for (int j = 0; j <= i; j++)
			assert_true(a_v[i] != b_v[j] && b_v[i] != a_v[j]);
	}
	clock_set_fake(0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_ctr_file_never_repeats),
		cmocka_unit_test(test_ctr_shared_hosts_stay_close),
		cmocka_unit_test(test_ctr_alone_reserves_at_start),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_wrong_key_dir),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_random_wipe),
		cmocka_unit_test(test_key_interop),
		cmocka_unit_test(test_key_pool_eviction),
		cmocka_unit_test(test_key_wipe_lru),
		cmocka_unit_test(test_key_wipe_reuse),
		cmocka_unit_test(test_key_rekey_failure),
	};

	/* Before OpenSSL allocates anything, or it refuses. */
	alloc_hooked = CRYPTO_set_mem_functions(t_malloc, t_realloc, t_free) == 1;

	return cmocka_run_group_tests(tests, setup, NULL);
}
