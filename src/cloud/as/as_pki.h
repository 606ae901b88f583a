/* The AS's certificate authority at run time: the cloud's trust bundle
 * (every CA in [cloud] ca_cert, two while the CA is rolled), the signing
 * CA (the one [cloud] ca_key belongs to) and the lifetimes it issues.
 * With it the AS renews node certificates at login (a node offers a
 * fresh public key, NEWKEY; the AS answers with a certificate for it,
 * CERT, when its own has CA_RENEW_DAYS or fewer left or was issued by a
 * CA that no longer signs) and its own server certificate before it
 * expires.  Without ca_key nothing is renewed: the bundle is still given
 * to nodes.  docs/security.md ("Certificates") has the lifetimes and
 * the CA roll. */
#ifndef CY_AS_PKI_H
#define CY_AS_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "ca.h"
#include "wire.h"

struct as_pki_conf {
	const char *ca_cert;    /* the trust bundle (PEM) */
	const char *ca_key;     /* the signing CA's key; NULL or "": no renewal */
	const char *as_cert;    /* the AS's own certificate and key, renewed in place */
	const char *as_key;
	int cert_days;          /* lifetime of what it issues */
	int renew_days;         /* renew with this many days left, < cert_days */
};

struct as_pki;

/* NULL with err set when the files do not load. */
struct as_pki *as_pki_new(const struct as_pki_conf *conf, char *err, size_t errlen);
void as_pki_free(struct as_pki *p);
/* Read the files again (after `cyphonic ca`); on failure the loaded ones
 * stay and err says why.  0 or -1. */
int as_pki_reload(struct as_pki *p, char *err, size_t errlen);

/* The bundle: n certificates as DER, for the CA attributes. */
size_t as_pki_bundle_count(const struct as_pki *p);
const uint8_t *as_pki_bundle_der(const struct as_pki *p, size_t i, size_t *len);

/* Whether a (verified) certificate is due for renewal: it ends within
 * renew_days or the signing CA did not issue it.  Always false without a
 * signing key. */
bool as_pki_renew_due(const struct as_pki *p, const X509 *x);

/* A node certificate for fqdn and the raw Ed25519 key pub: its DER (on
 * the heap, *der, free()) and serial.  0 or -errno. */
int as_pki_issue_node(struct as_pki *p, const char *fqdn, const uint8_t pub[CA_RAW_KEY_LEN],
		      uint8_t **der, size_t *len, char serial[CA_SERIAL_MAX + 1]);

/* The AS certificate renewed in place when due (same key, same names,
 * written to a new file and renamed over the old).  1 renewed, 0 not due
 * (or no signing key), -1 failed (err). */
int as_pki_renew_server(struct as_pki *p, char *err, size_t errlen);

#endif
