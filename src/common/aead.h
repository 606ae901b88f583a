/* AEAD through OpenSSL: ChaCha20-Poly1305 or AES-256-GCM, 32-byte keys,
 * 12-byte nonces, 16-byte tags, in three forms:
 *
 *   struct aead      owns two cipher contexts keyed once (about 2 KB):
 *                    for the few long-lived keys of a process (NMS keys).
 *   struct aead_key  owns only the 32-byte key; its cipher context comes
 *                    from a pool of AEAD_POOL_SIZE contexts shared by the
 *                    process, for keys that exist by the thousand but are
 *                    used only now and then (the data sessions of the
 *                    node's tunnels).  See below.
 *   aead_*_once      a scratch context re-keyed for one call (handshakes),
 *                    one per algorithm and thread.
 *
 * None of them allocates when sealing or opening, except an aead_key
 * whose pool context last served the other algorithm. */
#ifndef CY_AEAD_H
#define CY_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AEAD_KEY_LEN 32
#define AEAD_NONCE_LEN 12
#define AEAD_TAG_LEN 16

enum aead_alg { AEAD_CHACHA20_POLY1305 = 1, AEAD_AES256_GCM = 2 };

struct aead;

struct aead *aead_new(enum aead_alg alg, const uint8_t key[AEAD_KEY_LEN]);
void aead_free(struct aead *a);
enum aead_alg aead_alg(const struct aead *a);

/* out must hold ptlen + AEAD_TAG_LEN bytes (out may equal pt).
 * Returns the sealed length or -EIO. */
ssize_t aead_seal(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
		  const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen,
		  uint8_t *out);
/* ct includes the tag; out must hold ctlen - AEAD_TAG_LEN bytes (out may
 * equal ct).  Returns the plaintext length or -EBADMSG. */
ssize_t aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
		  const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t ctlen,
		  uint8_t *out);

/* The pool.  A context is set up for its algorithm once; a key whose
 * context is still in the pool (named by slot and a tag that is never
 * reused) seals and opens at the cost of a struct aead; otherwise the
 * least recently used context is keyed again with this key, which costs
 * a key schedule (AES-256: well under a microsecond, ChaCha20: a copy)
 * and no allocation.  AEAD_POOL_SIZE / 2 tunnels can send and receive at
 * once without any re-keying.  The contexts are allocated on the first
 * use, all at once, so the memory of a process does not grow with the
 * number of keys.  A forged packet with a valid receiver index can make
 * the pool re-key before its tag is checked: a bounded cost, one key
 * schedule for it and one for the tunnel whose context it took.  A context
 * a key leaves (aead_key_wipe) or that fails to take a key is keyed with
 * the zero key and sealed once under it, so nothing derived from the old
 * key remains (or it is freed).  One thread uses the pool (cyphonicd has
 * one); keys are not locked either. */
#define AEAD_POOL_SIZE 32

struct aead_key {
	uint8_t key[AEAD_KEY_LEN];
	uint64_t tag;       /* of the pool context keyed with it, 0 none */
	uint16_t slot;
	uint8_t alg;        /* enum aead_alg */
};

/* 0, or -EINVAL for an unknown algorithm. */
int aead_key_init(struct aead_key *k, enum aead_alg alg, const uint8_t key[AEAD_KEY_LEN]);
/* Wipes the key, and the key schedule of its pool context if it has one.
 * Call it before the memory of k is freed. */
void aead_key_wipe(struct aead_key *k);
/* As aead_seal / aead_open; -ENOMEM when no context could be set up
 * (nothing was sealed or checked). */
ssize_t aead_key_seal(struct aead_key *k, const uint8_t nonce[AEAD_NONCE_LEN],
		      const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen,
		      uint8_t *out);
ssize_t aead_key_open(struct aead_key *k, const uint8_t nonce[AEAD_NONCE_LEN],
		      const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t ctlen,
		      uint8_t *out);
/* Tests: whether k's context is in the pool now; contexts allocated. */
bool aead_key_pooled(const struct aead_key *k);
size_t aead_pool_contexts(void);

/* One call with a key held nowhere else: a scratch context per algorithm
 * (allocated once) is keyed for the call and wiped after it.  As
 * aead_seal / aead_open, -ENOMEM as above. */
ssize_t aead_seal_once(enum aead_alg alg, const uint8_t key[AEAD_KEY_LEN],
		       const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *aad, size_t aadlen,
		       const uint8_t *pt, size_t ptlen, uint8_t *out);
ssize_t aead_open_once(enum aead_alg alg, const uint8_t key[AEAD_KEY_LEN],
		       const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *aad, size_t aadlen,
		       const uint8_t *ct, size_t ctlen, uint8_t *out);

/* Fill with cryptographically secure random bytes; 0 or -EIO. */
int cy_random(void *buf, size_t n);
/* Zero memory that held secrets (not optimised away). */
void cy_wipe(void *p, size_t n);

#endif
