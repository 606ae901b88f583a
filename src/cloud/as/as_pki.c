#include "as_pki.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "clock.h"
#include "log.h"

struct as_pki {
	struct as_pki_conf conf;
	char *paths;                 /* the strings conf points at, one block */
	struct ca_set ca;            /* ca.signer NULL: no ca_key, nothing is renewed */
	uint8_t *der[CA_BUNDLE_MAX]; /* the bundle, as the CA attributes carry it */
	size_t der_len[CA_BUNDLE_MAX];
};

static void pki_clear(struct as_pki *p)
{
	for (size_t i = 0; i < CA_BUNDLE_MAX; i++) {
		OPENSSL_free(p->der[i]);
		p->der[i] = NULL;
	}
	ca_set_free(&p->ca);
}

/* Load everything into n, which the caller swaps in on success.  A CA
 * key that does not load leaves the AS without renewal, said loudly,
 * rather than without the AS. */
static int pki_load(struct as_pki *n, char *err, size_t errlen)
{
	const struct as_pki_conf *c = &n->conf;
	int i, len;

	if (ca_set_load(&n->ca, c->ca_cert, c->ca_key, err, errlen) < 0) {
		if (!c->ca_key || !c->ca_key[0] ||
		    ca_set_load(&n->ca, c->ca_cert, NULL, err, errlen) < 0)
			return -1;
		log_warnx("as: CA key: %s: certificates are not renewed", err);
	}
	for (i = 0; i < sk_X509_num(n->ca.bundle); i++) {
		unsigned char *der = NULL;

		len = i2d_X509(sk_X509_value(n->ca.bundle, i), &der);
		if (len <= 0 || len > CY_CERT_DER_MAX) {
			OPENSSL_free(der);
			snprintf(err, errlen, "%s: certificate %d does not encode in %d bytes",
				 c->ca_cert, i + 1, CY_CERT_DER_MAX);
			return -1;
		}
		n->der[i] = der;
		n->der_len[i] = (size_t)len;
	}
	return 0;
}

static char *dup_or_null(char **at, const char *s)
{
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	memcpy(*at, s, n);
	*at += n;
	return *at - n;
}

struct as_pki *as_pki_new(const struct as_pki_conf *conf, char *err, size_t errlen)
{
	struct as_pki *p = calloc(1, sizeof(*p));
	size_t n = 0;
	char *at;

	if (!p)
		goto nomem;
	if (conf->cert_days < 2 || conf->renew_days < 1 || conf->renew_days >= conf->cert_days) {
		snprintf(err, errlen, "certificate lifetime %d days, renewal at %d: renewal must "
			 "come before the end", conf->cert_days, conf->renew_days);
		free(p);
		return NULL;
	}
	p->conf = *conf;
	n = strlen(conf->ca_cert) + strlen(conf->as_cert) + strlen(conf->as_key) + 3 +
	    (conf->ca_key ? strlen(conf->ca_key) + 1 : 0);
	p->paths = at = malloc(n);
	if (!at)
		goto nomem;
	p->conf.ca_cert = dup_or_null(&at, conf->ca_cert);
	p->conf.ca_key = dup_or_null(&at, conf->ca_key);
	p->conf.as_cert = dup_or_null(&at, conf->as_cert);
	p->conf.as_key = dup_or_null(&at, conf->as_key);
	if (pki_load(p, err, errlen) < 0) {
		as_pki_free(p);
		return NULL;
	}
	if (!p->conf.ca_key || !p->conf.ca_key[0])
		log_info("as: no CA key: certificates are not renewed");
	return p;
nomem:
	free(p);
	snprintf(err, errlen, "out of memory");
	return NULL;
}

void as_pki_free(struct as_pki *p)
{
	if (!p)
		return;
	pki_clear(p);
	free(p->paths);
	free(p);
}

int as_pki_reload(struct as_pki *p, char *err, size_t errlen)
{
	struct as_pki n = { .conf = p->conf };

	if (pki_load(&n, err, errlen) < 0) {
		pki_clear(&n);
		return -1;
	}
	pki_clear(p);
	memcpy(p->der, n.der, sizeof(p->der));
	memcpy(p->der_len, n.der_len, sizeof(p->der_len));
	p->ca = n.ca;
	return 0;
}

size_t as_pki_bundle_count(const struct as_pki *p)
{
	return (size_t)sk_X509_num(p->ca.bundle);
}

const uint8_t *as_pki_bundle_der(const struct as_pki *p, size_t i, size_t *len)
{
	if (i >= as_pki_bundle_count(p))
		return NULL;
	*len = p->der_len[i];
	return p->der[i];
}

bool as_pki_renew_due(const struct as_pki *p, const X509 *x)
{
	int64_t end = ca_not_after(x);

	if (!p->ca.signer)
		return false;
	return end < 0 || end - clock_now() <= (int64_t)p->conf.renew_days * 86400 ||
	       !ca_issued_by(x, p->ca.signer);
}

int as_pki_issue_node(struct as_pki *p, const char *fqdn, const uint8_t pub[CA_RAW_KEY_LEN],
		      uint8_t **der, size_t *len, char serial[CA_SERIAL_MAX + 1])
{
	EVP_PKEY *key;
	X509 *x = NULL;
	unsigned char *d = NULL;
	int n, rc = -EIO;

	*der = NULL;
	if (!p->ca.signer)
		return -ENOKEY;
	key = ca_key_from_raw(pub);
	if (!key)
		return -EINVAL;
	x = ca_issue_node(p->ca.signer, p->ca.key, key, fqdn, p->conf.cert_days);
	if (x && ca_serial_hex(x, serial) == 0 && (n = i2d_X509(x, &d)) > 0 &&
	    n <= CY_CERT_DER_MAX) {
		*der = malloc((size_t)n);
		if (*der) {
			memcpy(*der, d, (size_t)n);
			*len = (size_t)n;
			rc = 0;
		}
	}
	OPENSSL_free(d);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

int as_pki_renew_server(struct as_pki *p, char *err, size_t errlen)
{
	STACK_OF(X509) *cur;
	STACK_OF(X509) *fresh = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int rc = -1;

	if (!p->ca.signer)
		return 0;
	cur = ca_bundle_read(p->conf.as_cert, err, errlen);
	if (!cur)
		return -1;
	if (!as_pki_renew_due(p, sk_X509_value(cur, 0))) {
		rc = 0;
		goto out;
	}
	key = ca_key_read(p->conf.as_key, err, errlen);
	if (!key)
		goto out;
	x = ca_reissue_server(sk_X509_value(cur, 0), p->ca.signer, p->ca.key, key,
			      p->conf.cert_days);
	fresh = sk_X509_new_null();
	if (!x || !fresh || !sk_X509_push(fresh, x)) {
		snprintf(err, errlen, "%s: cannot issue a new AS certificate", p->conf.as_cert);
		goto out;
	}
	x = NULL;  /* fresh owns it */
	rc = ca_replace_certs(p->conf.as_cert, fresh);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", p->conf.as_cert, strerror(-rc));
		rc = -1;
		goto out;
	}
	rc = 1;
out:
	ERR_clear_error();
	X509_free(x);
	sk_X509_pop_free(fresh, X509_free);
	sk_X509_pop_free(cur, X509_free);
	EVP_PKEY_free(key);
	return rc;
}
