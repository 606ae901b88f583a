/* Password hashes: a right password verifies, a wrong one does not, and
 * malformed or doctored hash strings are refused without crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "pwhash.h"

static char good[PWHASH_MAX];

/* A genuine scrypt hash of password in the stored form, with any
 * parameters (the ones pwhash_create never uses included), computed here
 * with OpenSSL directly, the way src/common/pwhash.c encodes it. */
static void scrypt_hash(const char *password, unsigned ln, unsigned r, unsigned p,
			char out[PWHASH_MAX])
{
	static const uint8_t salt[16] = "0123456789abcdef";
	uint8_t hash[32];
	char salt64[25], hash64[45];
	uint64_t n = (uint64_t)1 << ln, maxmem = 128 * (uint64_t)r * (n + p) + (1u << 20);
	OSSL_PARAM params[7], *q = params;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *ctx;

	assert_non_null(kdf);
	ctx = EVP_KDF_CTX_new(kdf);
	assert_non_null(ctx);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
						 strlen(password));
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
						 sizeof(salt));
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	*q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	*q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	*q = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_KDF_derive(ctx, hash, sizeof(hash), params), 1);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof(salt));
	EVP_EncodeBlock((unsigned char *)hash64, hash, sizeof(hash));
	snprintf(out, PWHASH_MAX, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", ln, r, p, salt64, hash64);
}

static void test_roundtrip(void **state)
{
	char other[PWHASH_MAX];

	assert_int_equal(pwhash_create("correct horse", good), 0);
	assert_int_equal(strncmp(good, "$scrypt$ln=15,r=8,p=1$", 22), 0);
	assert_true(strlen(good) < PWHASH_MAX);
	assert_true(pwhash_verify("correct horse", good));
	assert_false(pwhash_verify("correct horsE", good));
	assert_false(pwhash_verify("", good));
	assert_false(pwhash_verify(NULL, good));
	/* random salt: the same password hashes differently */
	assert_int_equal(pwhash_create("correct horse", other), 0);
	assert_string_not_equal(good, other);
	assert_true(pwhash_verify("correct horse", other));
	/* empty password is still hashed and checked */
	assert_int_equal(pwhash_create("", other), 0);
	assert_true(pwhash_verify("", other));
	assert_false(pwhash_verify("x", other));
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"$scrypt$",
		"$scrypt$ln=15,r=8,p=1$",
		"$scrypt$ln=15,r=8,p=1$$",
		"$scrypt$ln=15,r=8,p=1$AAAA",
		"$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$",
		"$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$!!!!",
		"$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAA",
		"$scrypt$ln=15,r=8,p=1$AA=A$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"$scrypt$ln=0,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"$scrypt$ln=15,r=999,p=1$AAAAAAAAAAAAAAAAAAAAAA==$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"$scrypt$ln=15,r=8,p=-1$AAAAAAAAAAAAAAAAAAAAAA==$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
		"plaintext-password",
	};
	char doctored[PWHASH_MAX], huge[PWHASH_MAX * 2];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(pwhash_verify("correct horse", bad[i]));
	assert_false(pwhash_verify("correct horse", NULL));

	/* flipping one character of the hash part breaks it */
	assert_int_equal(pwhash_create("correct horse", good), 0);
	strcpy(doctored, good);
	n = strlen(doctored);
	doctored[n - 3] = doctored[n - 3] == 'A' ? 'B' : 'A';
	assert_false(pwhash_verify("correct horse", doctored));
	/* truncated at every length */
	for (n = 0; n < strlen(good); n += 7) {
		memcpy(doctored, good, n);
		doctored[n] = '\0';
		assert_false(pwhash_verify("correct horse", doctored));
	}
	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	assert_false(pwhash_verify("correct horse", huge));
}

/* Doctored cost parameters: genuine hashes of the right password, cheap
 * to compute but just past the bounds pwhash_verify accepts (r <= 32,
 * p <= 16), are refused on the bounds alone.  The same hashes just inside
 * the bounds verify, so nothing else refuses them. */
static void test_cost_bounds(void **state)
{
	char h[PWHASH_MAX];

	scrypt_hash("correct horse", 2, 32, 1, h);
	assert_true(pwhash_verify("correct horse", h));
	scrypt_hash("correct horse", 2, 33, 1, h);
	assert_false(pwhash_verify("correct horse", h));

	scrypt_hash("correct horse", 2, 1, 16, h);
	assert_true(pwhash_verify("correct horse", h));
	scrypt_hash("correct horse", 2, 1, 17, h);
	assert_false(pwhash_verify("correct horse", h));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_cost_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
