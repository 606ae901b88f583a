#include "ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* A certificate for key, subject CN = cn, signed later by the caller. */
static X509 *ca_new_cert(EVP_PKEY *key, const char *cn, X509 *issuer)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (!x)
		return NULL;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 || ca_set_serial(x) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), CA_DAYS, 0, NULL) ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
				       -1, 0) != 1 ||
	    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(x, key) != 1) {
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

/* A certificate for key, subject CN = cn, with the n extensions ext (in
 * that order), signed by issuer with sign_key; issuer NULL: self-signed. */
static X509 *ca_issue(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *sign_key,
		      const struct ca_ext *ext, size_t n)
{
	X509 *x = ca_new_cert(key, cn, issuer);
	size_t i;

	if (!x)
		return NULL;
	for (i = 0; i < n; i++)
		if (ca_add_ext(x, issuer ? issuer : x, ext[i].nid, ext[i].value) < 0)
			goto fail;
	/* Ed25519 signs without a separate digest: md is NULL. */
	if (X509_sign(x, sign_key, NULL) > 0)
		return x;
fail:
	X509_free(x);
	return NULL;
}

X509 *ca_issue_root(EVP_PKEY *key, const char *domain)
{
	static const struct ca_ext ext[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage, "critical,keyCertSign,cRLSign" },
		{ NID_subject_key_identifier, "hash" },
	};
	char cn[300];

	snprintf(cn, sizeof(cn), "CYPHONIC CA %s", domain);
	return ca_issue(key, cn, NULL, key, ext, CONF_ARRAY_LEN(ext));
}

static X509 *ca_issue_leaf(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *cn,
			   const char *san, const char *eku)
{
	const struct ca_ext ext[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, eku },
		{ NID_subject_alt_name, san },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
	};

	return ca_issue(key, cn, ca, ca_key, ext, CONF_ARRAY_LEN(ext));
}

X509 *ca_issue_server(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *domain,
		      const struct sockaddr_storage *ips, size_t nips)
{
	char cn[300], san[1024], ip[ADDR_STR_MAX];
	size_t i, len = 0;

	snprintf(cn, sizeof(cn), "as.%s", domain);
	san[0] = '\0';
	for (i = 0; i < nips; i++) {
		if (ips[i].ss_family != AF_INET && ips[i].ss_family != AF_INET6)
			return NULL;
		addr_ip_str((const struct sockaddr *)&ips[i], ip);
		len += snprintf(san + len, sizeof(san) - len, "%sIP:%s", i ? "," : "", ip);
		if (len >= sizeof(san))
			return NULL;
	}
	if (!nips)
		return NULL;
	return ca_issue_leaf(ca, ca_key, key, cn, san, "serverAuth");
}

X509 *ca_issue_node(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *fqdn)
{
	char san[300];

	if (snprintf(san, sizeof(san), "DNS:%s", fqdn) >= (int)sizeof(san))
		return NULL;
	return ca_issue_leaf(ca, ca_key, key, fqdn, san, "clientAuth");
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
	int fd, rc;

	if (!pem)
		return -EIO;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (excl ? O_EXCL : O_TRUNC), mode);
	if (fd < 0) {
		rc = -errno;
	} else {
		rc = fchmod(fd, mode) < 0 ? -errno : conf_write_all(fd, pem, strlen(pem));
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

int ca_load(const char *cert_path, const char *key_path, X509 **x, EVP_PKEY **key, char *err,
	    size_t errlen)
{
	char *pem;
	size_t len;
	BIO *b;
	FILE *f;

	*x = NULL;
	*key = NULL;
	f = fopen(cert_path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", cert_path, strerror(errno));
		return -1;
	}
	*x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!*x) {
		snprintf(err, errlen, "%s: not a PEM certificate", cert_path);
		return -1;
	}
	/* The CA key: refused when group or others may read it, and read
	 * without stdio, whose buffer would be freed holding it. */
	pem = conf_secret_read(key_path, CA_KEY_FILE_MAX, &len, err, errlen);
	if (!pem)
		goto fail;
	b = BIO_new_mem_buf(pem, (int)len);
	*key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	conf_secret_free(pem, len);
	if (!*key) {
		snprintf(err, errlen, "%s: not a PEM private key", key_path);
		goto fail;
	}
	if (X509_check_private_key(*x, *key) != 1) {
		snprintf(err, errlen, "%s does not belong to %s", key_path, cert_path);
		goto fail;
	}
	return 0;
fail:
	ERR_clear_error();
	X509_free(*x);
	EVP_PKEY_free(*key);
	*x = NULL;
	*key = NULL;
	return -1;
}
