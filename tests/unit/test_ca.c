/* The CLI's CA: a root that verifies its own leaves, node certificates
 * with the FQDN in CN and SAN and clientAuth, the AS certificate with an
 * IP SAN per cloud address, and serials as the store keeps them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "addr.h"
#include "ca.h"

struct pki {
	EVP_PKEY *ca_key;
	X509 *ca;
};

static int setup(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));

	p->ca_key = ca_key_new();
	p->ca = p->ca_key ? ca_issue_root(p->ca_key, "example.test") : NULL;
	if (!p->ca)
		return -1;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pki *p = *state;

	X509_free(p->ca);
	EVP_PKEY_free(p->ca_key);
	free(p);
	return 0;
}

/* X509_verify_cert against the CA alone, with a purpose (or 0). */
static int verify(X509 *ca, X509 *leaf, int purpose)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	if (purpose)
		X509_STORE_CTX_set_purpose(ctx, purpose);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static void test_root(void **state)
{
	struct pki *p = *state;
	char cn[256];

	assert_int_equal(X509_check_ca(p->ca), 1);
	assert_int_equal(X509_check_issued(p->ca, p->ca), X509_V_OK);
	assert_int_equal(EVP_PKEY_get_id(X509_get0_pubkey(p->ca)), EVP_PKEY_ED25519);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(p->ca), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "CYPHONIC CA example.test");
	/* about ten years */
	{
		int days, secs;
		assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(p->ca),
						X509_get0_notAfter(p->ca)), 1);
		assert_true(days >= CA_ROOT_DAYS && days <= CA_ROOT_DAYS + 1);
	}
	assert_int_equal(verify(p->ca, p->ca, 0), 1);
}

static void test_node_cert(void **state)
{
	struct pki *p = *state;
	EVP_PKEY *key = ca_key_new(), *other_key = ca_key_new();
	X509 *x = ca_issue_node(p->ca, p->ca_key, key, "alpha.example.test", CA_LEAF_DAYS);
	X509 *other_ca = ca_issue_root(other_key, "evil.test");
	char cn[256];

	assert_non_null(x);
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "alpha.example.test");
	assert_int_equal(X509_check_host(x, "alpha.example.test", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "beta.example.test", 0, 0, NULL), 0);
	assert_int_equal(X509_check_private_key(x, key), 1);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);

	assert_int_equal(verify(p->ca, x, X509_PURPOSE_SSL_CLIENT), 1);
	/* a node certificate is no server certificate */
	assert_int_equal(verify(p->ca, x, X509_PURPOSE_SSL_SERVER), 0);
	/* and a foreign CA does not vouch for it */
	assert_int_equal(verify(other_ca, x, 0), 0);

	X509_free(x);
	X509_free(other_ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other_key);
}

static void test_server_cert(void **state)
{
	struct pki *p = *state;
	struct sockaddr_storage ips[2];
	EVP_PKEY *key = ca_key_new();
	socklen_t len;
	X509 *x;

	assert_int_equal(addr_parse("192.0.2.1", 0, &ips[0], &len), 0);
	assert_int_equal(addr_parse("2001:db8::1", 0, &ips[1], &len), 0);
	x = ca_issue_server(p->ca, p->ca_key, key, "example.test", ips, 2, CA_LEAF_DAYS);
	assert_non_null(x);
	assert_int_equal(X509_check_ip_asc(x, "192.0.2.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "2001:db8::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "192.0.2.2", 0), 0);
	assert_int_equal(verify(p->ca, x, X509_PURPOSE_SSL_SERVER), 1);
	assert_null(ca_issue_server(p->ca, p->ca_key, key, "example.test", ips, 0, CA_LEAF_DAYS));
	X509_free(x);
	EVP_PKEY_free(key);
}

static void test_serial(void **state)
{
	struct pki *p = *state;
	EVP_PKEY *key = ca_key_new();
	char s1[CA_SERIAL_MAX + 1], s2[CA_SERIAL_MAX + 1];
	X509 *a = ca_issue_node(p->ca, p->ca_key, key, "a.example.test", CA_LEAF_DAYS);
	X509 *b = ca_issue_node(p->ca, p->ca_key, key, "b.example.test", CA_LEAF_DAYS);
	BIGNUM *bn = NULL;
	size_t i;

	assert_int_equal(ca_serial_hex(a, s1), 0);
	assert_int_equal(ca_serial_hex(b, s2), 0);
	assert_string_not_equal(s1, s2);
	/* uppercase hex, at most 128 bits, what BN_bn2hex prints */
	assert_true(strlen(s1) > 0 && strlen(s1) <= 32);
	for (i = 0; s1[i]; i++)
		assert_non_null(strchr("0123456789ABCDEF", s1[i]));
	assert_true(BN_hex2bn(&bn, s1) > 0);
	{
		ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
		assert_int_equal(ASN1_INTEGER_cmp(ai, X509_get0_serialNumber(a)), 0);
		ASN1_INTEGER_free(ai);
	}
	assert_false(BN_is_negative(bn));
	BN_free(bn);
	X509_free(a);
	X509_free(b);
	EVP_PKEY_free(key);
}

/* Lifetimes, renewal of the AS certificate like the old one, and which
 * CA issued what. */
static void test_lifetimes_and_reissue(void **state)
{
	struct pki *p = *state;
	struct sockaddr_storage ips[1];
	EVP_PKEY *key = ca_key_new(), *k2 = ca_key_new(), *raw;
	X509 *other = ca_issue_root(k2, "example.test");
	X509 *node = ca_issue_node(p->ca, p->ca_key, key, "a.example.test", 10);
	X509 *as, *again;
	uint8_t pub[CA_RAW_KEY_LEN], pub2[CA_RAW_KEY_LEN];
	socklen_t len;
	int64_t end;

	assert_non_null(node);
	end = ca_not_after(node);
	assert_true(end > time(NULL) + 10 * 86400 - 60 && end <= time(NULL) + 10 * 86400);
	assert_null(ca_issue_node(p->ca, p->ca_key, key, "a.example.test", 0));
	/* never past the CA's own end */
	{
		X509 *longer = ca_issue_node(p->ca, p->ca_key, key, "a.example.test",
					     CA_ROOT_DAYS + 100);

		assert_int_equal(ca_not_after(longer), ca_not_after(p->ca));
		X509_free(longer);
	}
	assert_true(ca_issued_by(node, p->ca));
	assert_false(ca_issued_by(node, other));   /* same name, other key */

	addr_parse("192.0.2.1", 0, &ips[0], &len);
	as = ca_issue_server(p->ca, p->ca_key, key, "example.test", ips, 1, 5);
	assert_non_null(as);
	again = ca_reissue_server(as, other, k2, key, CA_LEAF_DAYS);
	assert_non_null(again);
	assert_true(ca_issued_by(again, other));
	assert_int_equal(X509_check_ip_asc(again, "192.0.2.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(again, "192.0.2.2", 0), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(as), X509_get_subject_name(again)),
			 0);
	assert_true(ca_not_after(again) > ca_not_after(as) + 80 * 86400);
	assert_true(X509_get_extended_key_usage(again) & XKU_SSL_SERVER);
	assert_int_equal(verify(other, again, X509_PURPOSE_SSL_SERVER), 1);
	assert_null(ca_reissue_server(node, p->ca, p->ca_key, key, 0));

	/* raw public keys both ways */
	assert_int_equal(ca_key_raw(key, pub), 0);
	raw = ca_key_from_raw(pub);
	assert_non_null(raw);
	assert_int_equal(ca_key_raw(raw, pub2), 0);
	assert_memory_equal(pub, pub2, sizeof(pub));
	assert_int_equal(X509_check_private_key(node, key), 1);
	EVP_PKEY_free(raw);

	X509_free(as);
	X509_free(again);
	X509_free(node);
	X509_free(other);
	EVP_PKEY_free(key);
	EVP_PKEY_free(k2);
}

/* ca.pem as a bundle of two CAs (a roll): ca_load picks the one the key
 * belongs to, whichever comes first; a replaced file holds them in order. */
static void test_bundle(void **state)
{
	struct pki *p = *state;
	char dir[] = "/tmp/cy-test-ca-XXXXXX", cert[64], key[64], err[256];
	EVP_PKEY *k2 = ca_key_new(), *k;
	X509 *next = ca_issue_root(k2, "example.test"), *x;
	STACK_OF(X509) *sk = sk_X509_new_null(), *back;

	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	sk_X509_push(sk, p->ca);
	sk_X509_push(sk, next);
	assert_int_equal(ca_replace_certs(cert, sk), 0);
	assert_int_equal(ca_replace_key(key, k2), 0);
	back = ca_bundle_read(cert, err, sizeof(err));
	assert_non_null(back);
	assert_int_equal(sk_X509_num(back), 2);
	assert_int_equal(X509_cmp(sk_X509_value(back, 1), next), 0);
	sk_X509_pop_free(back, X509_free);
	assert_int_equal(ca_load(cert, key, &x, &k, err, sizeof(err)), 0);
	assert_int_equal(X509_cmp(x, next), 0);
	X509_free(x);
	EVP_PKEY_free(k);
	assert_int_equal(ca_replace_key(key, p->ca_key), 0);
	assert_int_equal(ca_load(cert, key, &x, &k, err, sizeof(err)), 0);
	assert_int_equal(X509_cmp(x, p->ca), 0);
	X509_free(x);
	EVP_PKEY_free(k);
	assert_null(ca_bundle_read("/nonexistent", err, sizeof(err)));
	sk_X509_free(sk);
	X509_free(next);
	EVP_PKEY_free(k2);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

static void test_files(void **state)
{
	struct pki *p = *state;
	char dir[] = "/tmp/cy-test-ca-XXXXXX", cert[64], key[64];
	X509 *x;
	EVP_PKEY *k, *other = ca_key_new();
	char err[256];
	struct stat sb;

	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	assert_int_equal(ca_write_cert(cert, p->ca, 1), 0);
	assert_int_equal(ca_write_key(key, p->ca_key, 1), 0);
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(cert, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	/* excl refuses to overwrite */
	assert_true(ca_write_key(key, p->ca_key, 1) < 0);

	assert_int_equal(ca_load(cert, key, &x, &k, err, sizeof(err)), 0);
	assert_int_equal(X509_cmp(x, p->ca), 0);
	X509_free(x);
	EVP_PKEY_free(k);

	/* a key that does not match the certificate */
	assert_int_equal(ca_write_key(key, other, 0), 0);
	assert_int_equal(ca_load(cert, key, &x, &k, err, sizeof(err)), -1);
	assert_null(x);
	assert_non_null(strstr(err, "belongs to no certificate"));
	assert_int_equal(ca_load("/nonexistent", key, &x, &k, err, sizeof(err)), -1);
	/* PEM text of a key is a PRIVATE KEY block */
	{
		char *pem = ca_key_pem(other);
		assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
		ca_pem_free(pem);
	}
	EVP_PKEY_free(other);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_root), T(test_node_cert), T(test_server_cert), T(test_serial), T(test_files),
		T(test_lifetimes_and_reissue), T(test_bundle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
