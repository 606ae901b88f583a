/* The cloud's certificate authority, on OpenSSL 3.  Every key is
 * Ed25519.
 *   CA:     self-signed, CN "CYPHONIC CA <domain>", CA:TRUE, 5 years
 *   AS:     CN "as.<domain>", SAN IP for each cloud address, serverAuth
 *   node:   CN = SAN DNS = the node's FQDN, clientAuth
 * AS and node certificates live CA_LEAF_DAYS unless the cloud's config
 * says otherwise, and are renewed when CA_RENEW_DAYS or fewer are left
 * (docs/security.md, "Certificates").  The cloud's ca.pem is a bundle:
 * every CA the cloud trusts, one of them (the one ca.key belongs to)
 * signing; it holds two while the CA is rolled.
 * Every certificate gets a random positive 128-bit serial.  The store
 * keeps a node's serial as BN_bn2hex prints it (uppercase hex), which is
 * what the AS computes from the certificate a node presents. */
#ifndef CY_CA_H
#define CY_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define CA_ROOT_DAYS 1826   /* five years */
#define CA_LEAF_DAYS 90
#define CA_RENEW_DAYS 30
#define CA_BUNDLE_MAX 4     /* CAs trusted at once */
#define CA_RAW_KEY_LEN 32   /* an Ed25519 public key */
#define CA_SERIAL_MAX 64

EVP_PKEY *ca_key_new(void);
X509 *ca_issue_root(EVP_PKEY *key, const char *domain);
X509 *ca_issue_server(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *domain,
		      const struct sockaddr_storage *ips, size_t nips, int days);
X509 *ca_issue_node(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *fqdn, int days);
/* The web console's own PKI, apart from the CA nodes trust (a console's
 * key must never pass for the AS): an ECDSA P-256 CA that browsers take
 * (they do not take Ed25519) and its server certificate for localhost and
 * the addresses ips.  The CA's key is not kept. */
EVP_PKEY *ca_key_new_web(void);
X509 *ca_issue_web_root(EVP_PKEY *key, const char *domain, int days);
X509 *ca_issue_web_server(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *domain,
			  const struct sockaddr_storage *ips, size_t nips, int days);
/* A new AS certificate like old (its CN and addresses) for key. */
X509 *ca_reissue_server(const X509 *old, X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, int days);

/* notAfter as unix seconds, or -1. */
int64_t ca_not_after(const X509 *x);
/* ca issued x: names, key identifiers and signature. */
bool ca_issued_by(const X509 *x, const X509 *ca);
/* An Ed25519 public key from its 32 raw bytes, and back (0 or -EINVAL). */
EVP_PKEY *ca_key_from_raw(const uint8_t pub[CA_RAW_KEY_LEN]);
int ca_key_raw(const EVP_PKEY *key, uint8_t pub[CA_RAW_KEY_LEN]);

/* Uppercase hex serial as BN_bn2hex prints it; 0 or -EIO. */
int ca_serial_hex(const X509 *x, char out[CA_SERIAL_MAX + 1]);

/* PEM text on the heap (ca_pem_free wipes before freeing). */
char *ca_cert_pem(X509 *x);
char *ca_key_pem(EVP_PKEY *key);
char *ca_certs_pem(STACK_OF(X509) *sk);   /* each in order */
void ca_pem_free(char *pem);

/* Files: certificates mode 0644, keys 0600; excl refuses an existing
 * file.  0 or -errno. */
int ca_write_cert(const char *path, X509 *x, int excl);
int ca_write_key(const char *path, EVP_PKEY *key, int excl);
/* Replace path at once (a new file renamed over it): the certificates
 * of sk in order (mode 0644), or a key (0600).  0 or -errno. */
int ca_replace_certs(const char *path, STACK_OF(X509) *sk);
int ca_replace_key(const char *path, EVP_PKEY *key);
/* Every certificate of a PEM file (at most CA_BUNDLE_MAX), or NULL
 * with err set. */
STACK_OF(X509) *ca_bundle_read(const char *path, char *err, size_t errlen);
/* The certificate of sk that key belongs to (a reference the caller
 * frees), or NULL. */
X509 *ca_bundle_signer(STACK_OF(X509) *sk, EVP_PKEY *key);
/* A private key file: refused when group or others may read it.  NULL
 * with err set. */
EVP_PKEY *ca_key_read(const char *path, char *err, size_t errlen);
/* A cloud's CAs: the bundle (every CA trusted) and, with the key, the
 * one of them it belongs to (the signing CA). */
struct ca_set {
	STACK_OF(X509) *bundle;
	X509 *signer;           /* NULL without a key */
	EVP_PKEY *key;
};

/* The bundle cert_path and, when key_path is neither NULL nor "", the
 * signing CA.  0, or -1 with err set (nothing held). */
int ca_set_load(struct ca_set *s, const char *cert_path, const char *key_path, char *err,
		size_t errlen);
void ca_set_free(struct ca_set *s);
/* The signing CA: of the bundle cert_path, the certificate key_path
 * belongs to.  0, or -1 with err set. */
int ca_load(const char *cert_path, const char *key_path, X509 **x, EVP_PKEY **key,
	    char *err, size_t errlen);

#endif
