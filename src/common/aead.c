#include "aead.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>

struct aead {
	enum aead_alg alg;
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
};

static const EVP_CIPHER *alg_cipher(enum aead_alg alg)
{
	return alg == AEAD_AES256_GCM ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
}

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
	int n, fin;

	if (ptlen > INT32_MAX || aadlen > INT32_MAX)
		return -EIO;
	if (EVP_EncryptInit_ex(a->enc, NULL, NULL, NULL, nonce) != 1 ||
	    (aadlen && EVP_EncryptUpdate(a->enc, NULL, &n, aad, (int)aadlen) != 1) ||
	    EVP_EncryptUpdate(a->enc, out, &n, pt, (int)ptlen) != 1 ||
	    EVP_EncryptFinal_ex(a->enc, out + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN,
				out + ptlen) != 1)
		return -EIO;
	return (ssize_t)(ptlen + AEAD_TAG_LEN);
}

ssize_t aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t *aad,
		  size_t aadlen, const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	size_t ptlen;
	int n, fin;

	if (ctlen < AEAD_TAG_LEN || ctlen > INT32_MAX || aadlen > INT32_MAX)
		return -EBADMSG;
	ptlen = ctlen - AEAD_TAG_LEN;
	if (EVP_DecryptInit_ex(a->dec, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN,
				(void *)(ct + ptlen)) != 1 ||
	    (aadlen && EVP_DecryptUpdate(a->dec, NULL, &n, aad, (int)aadlen) != 1) ||
	    EVP_DecryptUpdate(a->dec, out, &n, ct, (int)ptlen) != 1 ||
	    EVP_DecryptFinal_ex(a->dec, out + n, &fin) != 1)
		return -EBADMSG;
	return (ssize_t)ptlen;
}

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
