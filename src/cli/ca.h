/* The cloud's certificate authority, on OpenSSL 3.  Every key is
 * Ed25519.
 *   CA:     self-signed, CN "CYPHONIC CA <domain>", CA:TRUE, 10 years
 *   AS:     CN "as.<domain>", SAN IP for each cloud address, serverAuth
 *   node:   CN = SAN DNS = the node's FQDN, clientAuth
 * Every certificate gets a random positive 128-bit serial.  The store
 * keeps a node's serial as BN_bn2hex prints it (uppercase hex), which is
 * what the AS computes from the certificate a node presents. */
#ifndef CY_CA_H
#define CY_CA_H

#include <stddef.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define CA_DAYS 3650
#define CA_SERIAL_MAX 64

EVP_PKEY *ca_key_new(void);
X509 *ca_issue_root(EVP_PKEY *key, const char *domain);
X509 *ca_issue_server(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *domain,
		      const struct sockaddr_storage *ips, size_t nips);
X509 *ca_issue_node(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *fqdn);

/* Uppercase hex serial as BN_bn2hex prints it; 0 or -EIO. */
int ca_serial_hex(const X509 *x, char out[CA_SERIAL_MAX + 1]);

/* PEM text on the heap (ca_pem_free wipes before freeing). */
char *ca_cert_pem(X509 *x);
char *ca_key_pem(EVP_PKEY *key);
void ca_pem_free(char *pem);

/* Files: certificates mode 0644, keys 0600; excl refuses an existing
 * file.  0 or -errno. */
int ca_write_cert(const char *path, X509 *x, int excl);
int ca_write_key(const char *path, EVP_PKEY *key, int excl);
int ca_load(const char *cert_path, const char *key_path, X509 **x, EVP_PKEY **key,
	    char *err, size_t errlen);

#endif
