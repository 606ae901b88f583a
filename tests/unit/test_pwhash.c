/* Password hashes: a right password verifies, a wrong one does not, and
 * malformed or doctored hash strings are refused without crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pwhash.h"

static char good[PWHASH_MAX];

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
