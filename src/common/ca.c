#include "ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "addr.h"
#include "aead.h"
#include "conf.h"

#define CA_KEY_FILE_MAX (64 * 1024)

static int ca_set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = 0;

	/* 128 random bits, non-negative: fits the 20 octets RFC 5280 allows. */
	if (bn && BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 && !BN_is_zero(bn))
		ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -EIO;
}

static int ca_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EIO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EIO;
}

/* A certificate for key, subject CN = cn, valid from an hour ago (for
 * clocks a little behind) for days from now, but never past its issuer;
 * signed later by the caller. */
static X509 *ca_new_cert(EVP_PKEY *key, const char *cn, X509 *issuer, int days)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (!x)
		return NULL;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 || ca_set_serial(x) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    days < 1 || !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
				       -1, 0) != 1 ||
	    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(x, key) != 1 ||
	    (issuer && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)) > 0 &&
	     X509_set1_notAfter(x, X509_get0_notAfter(issuer)) != 1)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

EVP_PKEY *ca_key_new(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

struct ca_ext {
	int nid;
	const char *value;
};

/* A certificate for key, subject CN = cn, for days, with the n
 * extensions ext (in that order) and the subject alternative name san
 * copied when not NULL, signed by issuer with sign_key; issuer NULL:
 * self-signed. */
static X509 *ca_issue(EVP_PKEY *key, const char *cn, int days, X509 *issuer,
		      EVP_PKEY *sign_key, const struct ca_ext *ext, size_t n,
		      const X509_EXTENSION *san)
{
	X509 *x = ca_new_cert(key, cn, issuer, days);
	size_t i;

	if (!x)
		return NULL;
	for (i = 0; i < n; i++)
		if (ca_add_ext(x, issuer ? issuer : x, ext[i].nid, ext[i].value) < 0)
			goto fail;
	if (san && X509_add_ext(x, (X509_EXTENSION *)san, -1) != 1)
		goto fail;
	/* Ed25519 signs without a separate digest: md is NULL; the
	 * console's ECDSA keys sign SHA-256. */
	if (X509_sign(x, sign_key, EVP_PKEY_get_id(sign_key) == EVP_PKEY_ED25519 ? NULL
									       : EVP_sha256()) > 0)
		return x;
fail:
	X509_free(x);
	return NULL;
}

/* A self-signed CA for key; constraints: its basicConstraints. */
static X509 *ca_issue_ca(EVP_PKEY *key, const char *cn, int days, const char *constraints)
{
	const struct ca_ext ext[] = {
		{ NID_basic_constraints, constraints },
		{ NID_key_usage, "critical,keyCertSign,cRLSign" },
		{ NID_subject_key_identifier, "hash" },
	};

	return ca_issue(key, cn, days, NULL, key, ext, CONF_ARRAY_LEN(ext), NULL);
}

X509 *ca_issue_root(EVP_PKEY *key, const char *domain)
{
	char cn[300];

	snprintf(cn, sizeof(cn), "CYPHONIC CA %s", domain);
	return ca_issue_ca(key, cn, CA_ROOT_DAYS, "critical,CA:TRUE");
}

/* san: "DNS:..." or "IP:...,IP:..." text, or NULL with san_ext the
 * extension to copy. */
static X509 *ca_issue_leaf(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *cn, int days,
			   const char *san, const X509_EXTENSION *san_ext, const char *eku)
{
	const struct ca_ext ext[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, eku },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
		{ NID_subject_alt_name, san },
	};

	return ca_issue(key, cn, days, ca, ca_key, ext, CONF_ARRAY_LEN(ext) - !san, san_ext);
}

/* "IP:a,IP:b..." for ips after what san holds (len bytes): 0, or -1 when
 * an address is not IP or it does not fit. */
static int ca_san_ips(char *san, size_t cap, size_t len, const struct sockaddr_storage *ips,
		      size_t nips)
{
	char ip[ADDR_STR_MAX];

	for (size_t i = 0; i < nips; i++) {
		if (ips[i].ss_family != AF_INET && ips[i].ss_family != AF_INET6)
			return -1;
		len += (size_t)snprintf(san + len, cap - len, "%sIP:%s", len ? "," : "",
					addr_ip_str((const struct sockaddr *)&ips[i], ip));
		if (len >= cap)
			return -1;
	}
	return 0;
}

X509 *ca_issue_server(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *domain,
		      const struct sockaddr_storage *ips, size_t nips, int days)
{
	char cn[300], san[1024] = "";

	snprintf(cn, sizeof(cn), "as.%s", domain);
	if (!nips || ca_san_ips(san, sizeof(san), 0, ips, nips) < 0)
		return NULL;
	return ca_issue_leaf(ca, ca_key, key, cn, days, san, NULL, "serverAuth");
}

EVP_PKEY *ca_key_new_web(void)
{
	return EVP_EC_gen("P-256");
}

X509 *ca_issue_web_root(EVP_PKEY *key, const char *domain, int days)
{
	char cn[300];

	snprintf(cn, sizeof(cn), "CYPHONIC console CA %s", domain);
	return ca_issue_ca(key, cn, days, "critical,CA:TRUE,pathlen:0");
}

X509 *ca_issue_web_server(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *domain,
			  const struct sockaddr_storage *ips, size_t nips, int days)
{
	char cn[300], san[1024] = "DNS:localhost";

	snprintf(cn, sizeof(cn), "console.%s", domain);
	if (ca_san_ips(san, sizeof(san), strlen(san), ips, nips) < 0)
		return NULL;
	return ca_issue_leaf(ca, ca_key, key, cn, days, san, NULL, "serverAuth");
}

X509 *ca_issue_node(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *fqdn, int days)
{
	char san[300];

	if (snprintf(san, sizeof(san), "DNS:%s", fqdn) >= (int)sizeof(san))
		return NULL;
	return ca_issue_leaf(ca, ca_key, key, fqdn, days, san, NULL, "clientAuth");
}

X509 *ca_reissue_server(const X509 *old, X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, int days)
{
	const X509_NAME *subj = X509_get_subject_name(old);
	int i = X509_get_ext_by_NID(old, NID_subject_alt_name, -1);
	char cn[300];

	if (i < 0 || X509_NAME_get_text_by_NID((X509_NAME *)subj, NID_commonName, cn,
					       sizeof(cn)) <= 0)
		return NULL;
	return ca_issue_leaf(ca, ca_key, key, cn, days, NULL, X509_get_ext(old, i), "serverAuth");
}

int64_t ca_not_after(const X509 *x)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		return -1;
	return (int64_t)timegm(&tm);
}

bool ca_issued_by(const X509 *x, const X509 *ca)
{
	EVP_PKEY *pub = X509_get0_pubkey(ca);

	return X509_check_issued((X509 *)ca, (X509 *)x) == X509_V_OK && pub &&
	       X509_verify((X509 *)x, pub) == 1;
}

EVP_PKEY *ca_key_from_raw(const uint8_t pub[CA_RAW_KEY_LEN])
{
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, CA_RAW_KEY_LEN);
}

int ca_key_raw(const EVP_PKEY *key, uint8_t pub[CA_RAW_KEY_LEN])
{
	size_t len = CA_RAW_KEY_LEN;

	if (EVP_PKEY_get_raw_public_key(key, pub, &len) != 1 || len != CA_RAW_KEY_LEN) {
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

int ca_serial_hex(const X509 *x, char out[CA_SERIAL_MAX + 1])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	int rc = -EIO;

	if (hex && strlen(hex) <= CA_SERIAL_MAX) {
		strcpy(out, hex);
		rc = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* BIO contents as a NUL-terminated heap string. */
static char *ca_bio_string(BIO *b)
{
	char *data, *s;
	long n = BIO_get_mem_data(b, &data);

	if (n <= 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

char *ca_cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_X509(b, x) == 1)
		s = ca_bio_string(b);
	BIO_free(b);
	return s;
}

char *ca_key_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *s = NULL;

	if (!b)
		b = BIO_new(BIO_s_mem());
	if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1)
		s = ca_bio_string(b);
	BIO_free(b);
	return s;
}

void ca_pem_free(char *pem)
{
	if (!pem)
		return;
	cy_wipe(pem, strlen(pem));
	free(pem);
}

/* Write pem to path and free it; pem NULL (making it failed): -EIO.  It
 * is wiped on the way (ca_pem_free): a key must be, a certificate may. */
static int ca_write_pem(const char *path, char *pem, mode_t mode, int excl)
{
	char dir[PATH_MAX], *slash;
	struct stat sb;
	int fd, rc;

	if (!pem)
		return -EIO;
	/* Root writing into a cloud directory that belongs to the cloud's
	 * user ([cloud] user) gives the file to that user, who must read it. */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (geteuid() != 0 || stat(slash ? (dir[0] ? dir : "/") : ".", &sb) < 0)
		sb.st_uid = 0;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (excl ? O_EXCL : O_TRUNC), mode);
	if (fd < 0) {
		rc = -errno;
	} else {
		rc = fchmod(fd, mode) < 0 ? -errno : conf_write_all(fd, pem, strlen(pem));
		if (!rc && sb.st_uid != 0 && fchown(fd, sb.st_uid, sb.st_gid) < 0)
			rc = -errno;
		if (!rc && fsync(fd) < 0)   /* on disk before a rename makes it the file */
			rc = -errno;
		if (close(fd) < 0 && !rc)
			rc = -errno;
	}
	ca_pem_free(pem);
	return rc;
}

int ca_write_cert(const char *path, X509 *x, int excl)
{
	return ca_write_pem(path, ca_cert_pem(x), 0644, excl);
}

int ca_write_key(const char *path, EVP_PKEY *key, int excl)
{
	return ca_write_pem(path, ca_key_pem(key), 0600, excl);
}

/* pem written to path.new and renamed over path: a reader sees the old
 * file or the new, never half of one. */
static int ca_replace_pem(const char *path, char *pem, mode_t mode)
{
	char tmp[PATH_MAX];
	int rc;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp)) {
		ca_pem_free(pem);
		return -ENAMETOOLONG;
	}
	unlink(tmp);
	rc = ca_write_pem(tmp, pem, mode, 1);
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

char *ca_certs_pem(STACK_OF(X509) *sk)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *pem = NULL;

	for (int i = 0; b && i < sk_X509_num(sk); i++)
		if (PEM_write_bio_X509(b, sk_X509_value(sk, i)) != 1)
			goto out;
	if (b)
		pem = ca_bio_string(b);
out:
	BIO_free(b);
	return pem;
}

int ca_replace_certs(const char *path, STACK_OF(X509) *sk)
{
	return ca_replace_pem(path, ca_certs_pem(sk), 0644);
}

int ca_replace_key(const char *path, EVP_PKEY *key)
{
	return ca_replace_pem(path, ca_key_pem(key), 0600);
}

/* The certificates of a PEM file (a bundle), or NULL with err set. */
STACK_OF(X509) *ca_bundle_read(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f || !sk) {
		snprintf(err, errlen, "%s: %s", path, f ? "out of memory" : strerror(errno));
		goto fail;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)))
		if (sk_X509_num(sk) == CA_BUNDLE_MAX || !sk_X509_push(sk, x)) {
			X509_free(x);
			snprintf(err, errlen, "%s: more than %d certificates", path,
				 CA_BUNDLE_MAX);
			goto fail;
		}
	ERR_clear_error(); /* the end of the PEM data reads as an error */
	if (!sk_X509_num(sk)) {
		snprintf(err, errlen, "%s: not a PEM certificate", path);
		goto fail;
	}
	fclose(f);
	return sk;
fail:
	if (f)
		fclose(f);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

EVP_PKEY *ca_key_read(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	size_t len;
	char *pem;
	BIO *b;

	/* Refused when group or others may read it, and read without stdio,
	 * whose buffer would be freed holding it. */
	pem = conf_secret_read(path, CA_KEY_FILE_MAX, &len, err, errlen);
	if (!pem)
		return NULL;
	b = BIO_new_mem_buf(pem, (int)len);
	key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	conf_secret_free(pem, len);
	if (!key)
		snprintf(err, errlen, "%s: not a PEM private key", path);
	ERR_clear_error();
	return key;
}

int ca_set_load(struct ca_set *s, const char *cert_path, const char *key_path, char *err,
		size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->bundle = ca_bundle_read(cert_path, err, errlen);
	if (!s->bundle)
		return -1;
	if (!key_path || !key_path[0])
		return 0;
	s->key = ca_key_read(key_path, err, errlen);
	if (!s->key)
		goto fail;
	s->signer = ca_bundle_signer(s->bundle, s->key);
	if (!s->signer) {
		snprintf(err, errlen, "%s belongs to no certificate of %s", key_path, cert_path);
		goto fail;
	}
	return 0;
fail:
	ca_set_free(s);
	return -1;
}

void ca_set_free(struct ca_set *s)
{
	sk_X509_pop_free(s->bundle, X509_free);
	X509_free(s->signer);
	EVP_PKEY_free(s->key);
	memset(s, 0, sizeof(*s));
}

int ca_load(const char *cert_path, const char *key_path, X509 **x, EVP_PKEY **key, char *err,
	    size_t errlen)
{
	struct ca_set s;

	*x = NULL;
	*key = NULL;
	if (ca_set_load(&s, cert_path, key_path, err, errlen) < 0)
		return -1;
	*x = s.signer;
	*key = s.key;
	s.signer = NULL;
	s.key = NULL;
	ca_set_free(&s);
	return 0;
}

X509 *ca_bundle_signer(STACK_OF(X509) *sk, EVP_PKEY *key)
{
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);

		if (X509_check_private_key(x, key) == 1 && X509_up_ref(x) == 1) {
			ERR_clear_error();
			return x;
		}
	}
	ERR_clear_error();
	return NULL;
}
