/* scrypt password hashes through OpenSSL 3's EVP_KDF "SCRYPT".
 *
 * Stored form: "$scrypt$ln=15,r=8,p=1$SALT$HASH", SALT (16 random bytes)
 * and HASH (32 bytes) in standard base64 with padding.  N = 2^ln.  A
 * stored hash names its own parameters, so they can be raised later; the
 * ones accepted when verifying are bounded so a doctored hash cannot make
 * a login cost gigabytes. */
#include "pwhash.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "aead.h"
#include "log.h"

#define PWHASH_LN 15
#define PWHASH_R 8
#define PWHASH_P 1
#define PWHASH_SALT_LEN 16
#define PWHASH_LEN 32
#define PWHASH_BIN_MAX 64

static int pwhash_derive(const char *password, const uint8_t *salt, size_t saltlen,
			 unsigned ln, unsigned r, unsigned p, uint8_t *out, size_t outlen)
{
	uint64_t n = (uint64_t)1 << ln;
	/* scrypt needs 128 * r * (N + p) bytes; leave room for the rest. */
	uint64_t maxmem = 128 * (uint64_t)r * (n + p) + (1u << 20);
	OSSL_PARAM params[7], *q = params;
	EVP_KDF_CTX *ctx = NULL;
	EVP_KDF *kdf;
	int rc = -EIO;

	kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	if (!kdf)
		goto out;
	ctx = EVP_KDF_CTX_new(kdf);
	if (!ctx)
		goto out;
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
						 strlen(password));
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	*q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	*q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	*q = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, outlen, params) != 1)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		log_err("pwhash: scrypt failed");
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* Strict base64 of len bytes: returns the decoded length or -1. */
static int pwhash_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
	uint8_t tmp[PWHASH_BIN_MAX + 3];
	size_t i, pad = 0;
	int n;

	if (len == 0 || len % 4 || len / 4 * 3 > sizeof(tmp))
		return -1;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c == '=') {
			if (i < len - 2)
				return -1;
			pad++;
		} else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				    (c >= '0' && c <= '9') || c == '+' || c == '/')) {
			return -1;
		}
	}
	n = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad > cap)
		return -1;
	n -= (int)pad;
	memcpy(out, tmp, (size_t)n);
	return n;
}

int pwhash_create(const char *password, char out[PWHASH_MAX])
{
	uint8_t salt[PWHASH_SALT_LEN], hash[PWHASH_LEN];
	char salt64[4 * ((PWHASH_SALT_LEN + 2) / 3) + 1], hash64[4 * ((PWHASH_LEN + 2) / 3) + 1];
	int rc;

	if (cy_random(salt, sizeof(salt)) < 0)
		return -EIO;
	rc = pwhash_derive(password, salt, sizeof(salt), PWHASH_LN, PWHASH_R, PWHASH_P, hash,
			   sizeof(hash));
	if (rc < 0)
		goto out;
	EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof(salt));
	EVP_EncodeBlock((unsigned char *)hash64, hash, sizeof(hash));
	snprintf(out, PWHASH_MAX, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", PWHASH_LN, PWHASH_R,
		 PWHASH_P, salt64, hash64);
out:
	cy_wipe(hash, sizeof(hash));
	return rc;
}

bool pwhash_verify(const char *password, const char *hash)
{
	uint8_t salt[PWHASH_BIN_MAX], want[PWHASH_BIN_MAX], got[PWHASH_BIN_MAX];
	const char *salt64, *hash64;
	unsigned ln, r, p;
	int used = 0, saltlen, hashlen;
	bool ok = false;

	if (!password || !hash || strlen(hash) >= PWHASH_MAX)
		return false;
	if (sscanf(hash, "$scrypt$ln=%2u,r=%2u,p=%2u$%n", &ln, &r, &p, &used) != 3 || !used)
		return false;
	/* Bounds: N up to 2^20 (128 MiB with r=8), small r and p. */
	if (ln < 1 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16)
		return false;
	salt64 = hash + used;
	hash64 = strchr(salt64, '$');
	if (!hash64)
		return false;
	saltlen = pwhash_b64_decode(salt64, (size_t)(hash64 - salt64), salt, sizeof(salt));
	hash64++;
	hashlen = pwhash_b64_decode(hash64, strlen(hash64), want, sizeof(want));
	if (saltlen < 8 || hashlen < 16)
		return false;
	if (pwhash_derive(password, salt, (size_t)saltlen, ln, r, p, got, (size_t)hashlen) < 0)
		goto out;
	ok = CRYPTO_memcmp(got, want, (size_t)hashlen) == 0;
out:
	cy_wipe(got, sizeof(got));
	return ok;
}
