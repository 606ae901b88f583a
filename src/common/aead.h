/* AEAD through OpenSSL: ChaCha20-Poly1305 or AES-256-GCM, 32-byte keys,
 * 12-byte nonces, 16-byte tags.  A struct aead keeps its cipher contexts
 * keyed once, so sealing a message costs no allocation. */
#ifndef CY_AEAD_H
#define CY_AEAD_H

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

/* Fill with cryptographically secure random bytes; 0 or -EIO. */
int cy_random(void *buf, size_t n);
/* Zero memory that held secrets (not optimised away). */
void cy_wipe(void *p, size_t n);

#endif
