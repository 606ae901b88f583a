#include "cred.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "aead.h"
#include "clock.h"
#include "conf.h"
#include "keylog.h"
#include "log.h"
#include "node_conf.h"
#include "secbuf.h"

#define CRED_ENROLLED_LEN 64   /* hex SHA-256 */

struct cred {
	const struct node_conf *conf;
	char enrolled[CRED_ENROLLED_LEN + 1];  /* of the config's credentials */
	STACK_OF(X509) *cas;
	X509 *cert;          /* NULL: password login */
	EVP_PKEY *key;
	EVP_PKEY *next;      /* offered for renewal (NEWKEY) */
	SSL_CTX *ctx;
};

/* ---- PEM and DER ---- */

static STACK_OF(X509) *pem_certs(const char *pem)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x;

	bool over = false;

	while (sk && b && !over && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		if (sk_X509_num(sk) == CA_BUNDLE_MAX || !sk_X509_push(sk, x)) {
			X509_free(x);
			over = true;
		}
	ERR_clear_error(); /* the end of the PEM data reads as an error */
	BIO_free(b);
	if (sk && (sk_X509_num(sk) == 0 || over)) {
		sk_X509_pop_free(sk, X509_free);
		sk = NULL;
	}
	return sk;
}

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	ERR_clear_error();
	return x;
}

static EVP_PKEY *pem_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	ERR_clear_error();
	return k;
}

static X509 *der_cert(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x && p != der + len) {   /* trailing bytes */
		X509_free(x);
		x = NULL;
	}
	ERR_clear_error();
	return x;
}

static bool same_certs(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
	if (sk_X509_num(a) != sk_X509_num(b))
		return false;
	for (int i = 0; i < sk_X509_num(a); i++)
		if (X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)))
			return false;
	return true;
}

/* Issued by one of cas. */
static bool vouched(STACK_OF(X509) *cas, const X509 *x)
{
	for (int i = 0; i < sk_X509_num(cas); i++)
		if (ca_issued_by(x, sk_X509_value(cas, i)))
			return true;
	return false;
}

/* One of the CAs trusted now is among cas: a roll adds a CA or drops one,
 * never swaps them all at once (which only a forger would need). */
static bool keeps_one(STACK_OF(X509) *cas, STACK_OF(X509) *now)
{
	for (int i = 0; i < sk_X509_num(now); i++)
		for (int j = 0; j < sk_X509_num(cas); j++)
			if (!X509_cmp(sk_X509_value(now, i), sk_X509_value(cas, j)))
				return true;
	return false;
}

/* A certificate of this node for key: its name, its key, one of cas. */
static bool cert_fits(const struct cred *c, STACK_OF(X509) *cas, X509 *x, EVP_PKEY *key)
{
	bool ok = X509_check_private_key(x, key) == 1 &&
		  X509_check_host(x, c->conf->fqdn, 0, 0, NULL) == 1 && vouched(cas, x) &&
		  ca_not_after(x) > clock_now();

	ERR_clear_error();
	return ok;
}

static SSL_CTX *make_ctx(STACK_OF(X509) *cas, X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	X509_STORE *st;

	if (!ctx)
		return NULL;
	st = SSL_CTX_get_cert_store(ctx);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	for (int i = 0; i < sk_X509_num(cas); i++)
		if (X509_STORE_add_cert(st, sk_X509_value(cas, i)) != 1)
			goto fail;
	if (cert && (SSL_CTX_use_certificate(ctx, cert) != 1 ||
		     SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1))
		goto fail;
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* ---- the renewed file ---- */

/* The renewed file names the enrolment it grew from: the SHA-256 of the
 * config's certificate (its CA for a password node).  A config written
 * anew (the node enrolled again) makes an older file moot. */
static int enrolled_digest(const struct node_conf *conf, char out[CRED_ENROLLED_LEN + 1])
{
	const char *text = conf->cert_pem ? conf->cert_pem : conf->ca_pem;
	unsigned char md[32];
	unsigned int n = 0;

	if (!text || EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL) != 1 ||
	    n != sizeof(md))
		return -1;
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

struct cred_file {
	char enrolled[CRED_ENROLLED_LEN + 1];
	char *ca, *cert, *key;
	bool has_credentials;
};

static const struct conf_key file_keys[] = {
	{ "credentials", "enrolled", CONF_STR, offsetof(struct cred_file, enrolled),
	  sizeof(((struct cred_file *)0)->enrolled), 0, 0, true, NULL },
	{ "credentials", "ca", CONF_TEXT, offsetof(struct cred_file, ca), 0, 0, 0, true, NULL },
	{ "credentials", "cert", CONF_TEXT, offsetof(struct cred_file, cert), 0, 0, 0, false,
	  NULL },
	{ "credentials", "key", CONF_SECRET, offsetof(struct cred_file, key), 0, 0, 0, false,
	  NULL },
};
static const struct conf_section file_sections[] = {
	{ "credentials", offsetof(struct cred_file, has_credentials) },
};
static const struct conf_schema file_schema = {
	file_sections, CONF_ARRAY_LEN(file_sections), file_keys, CONF_ARRAY_LEN(file_keys),
};

/* The renewed file's credentials replace the config's when they grew
 * from them and are for this node. */
static void load_renewed(struct cred *c)
{
	const char *path = c->conf->renewed;
	struct cred_file f = { 0 };
	STACK_OF(X509) *cas = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char err[NODE_FILE_MAX + 128];

	if (access(path, F_OK) < 0)
		return;
	if (conf_load_file(path, &file_schema, &f, err, sizeof(err)) < 0) {
		log_warnx("credentials: %s (ignored: the config's are used)", err);
		return;
	}
	if (strcmp(f.enrolled, c->enrolled)) {
		log_info("credentials: %s was written for an earlier enrolment: the config's are "
			 "used", path);
		goto out;
	}
	cas = pem_certs(f.ca);
	if (f.cert && f.key) {
		cert = pem_cert(f.cert);
		key = pem_key(f.key);
	}
	if (!cas || !!c->cert != !!cert || (cert && (!key || !cert_fits(c, cas, cert, key)))) {
		log_warnx("credentials: %s holds none that fit %s: the config's are used", path,
			  c->conf->fqdn);
		goto out;
	}
	sk_X509_pop_free(c->cas, X509_free);
	c->cas = cas;
	cas = NULL;
	if (cert) {
		X509_free(c->cert);
		EVP_PKEY_free(c->key);
		c->cert = cert;
		c->key = key;
		cert = NULL;
		key = NULL;
	}
	log_info("credentials: renewed ones from %s", path);
out:
	sk_X509_pop_free(cas, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	conf_free(&file_schema, &f);
}

static int mkdir_parent(const char *path)
{
	char dir[NODE_FILE_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static bool put_pem(struct secbuf *b, const char *key, char *pem)
{
	bool ok = pem && secbuf_text(b, key, pem);

	ca_pem_free(pem);
	return ok;
}

/* Write cas, cert and key to the renewed file: a new file renamed over
 * the old, owner-only (it holds the key). */
static int save(const struct cred *c, STACK_OF(X509) *cas, X509 *cert, EVP_PKEY *key)
{
	struct secbuf b = SECBUF_INIT;
	char tmp[NODE_FILE_MAX + 8], *text;
	bool ok = true;
	int fd, rc;

	secbuf_printf(&b, "# %s: credentials renewed by the AS, written by cyphonicd.\n"
		      "# Holds this node's private key: keep it secret.\n[credentials]\n"
		      "enrolled = %s\n", c->conf->fqdn, c->enrolled);
	ok = put_pem(&b, "ca", ca_certs_pem(cas));
	if (ok && cert)
		ok = put_pem(&b, "cert", ca_cert_pem(cert)) && put_pem(&b, "key", ca_key_pem(key));
	text = secbuf_finish(&b, ok);
	if (!text)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s.new", c->conf->renewed);
	rc = mkdir_parent(c->conf->renewed);
	unlink(tmp);
	fd = rc ? -1 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && !rc)
		rc = -errno;
	if (fd >= 0) {
		rc = conf_write_all(fd, text, strlen(text));
		if (!rc && fsync(fd) < 0)
			rc = -errno;
		if (close(fd) < 0 && !rc)
			rc = -errno;
		if (!rc && rename(tmp, c->conf->renewed) < 0)
			rc = -errno;
		if (rc)
			unlink(tmp);
	}
	secbuf_free(text);
	return rc;
}

/* ---- API ---- */

struct cred *cred_new(const struct node_conf *conf)
{
	struct cred *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->conf = conf;
	c->cas = conf->ca_pem ? pem_certs(conf->ca_pem) : NULL;
	if (!c->cas) {
		log_warnx("credentials: no cloud CA certificate in [credentials] ca");
		goto fail;
	}
	if (conf->cert_pem && conf->key_pem) {
		c->cert = pem_cert(conf->cert_pem);
		c->key = pem_key(conf->key_pem);
		if (!c->cert || !c->key || X509_check_private_key(c->cert, c->key) != 1) {
			ERR_clear_error();
			log_warnx("credentials: the node certificate and key do not load or do "
				  "not belong together");
			goto fail;
		}
	} else if (!conf->password) {
		log_warnx("credentials: neither cert+key nor password");
		goto fail;
	}
	if (enrolled_digest(conf, c->enrolled) < 0)
		goto fail;
	load_renewed(c);
	if (c->cert && ca_not_after(c->cert) <= clock_now())
		log_warnx("credentials: the certificate of %s has expired: the AS will refuse "
			  "it (enrol the node again)", conf->fqdn);
	c->next = c->cert ? ca_key_new() : NULL;
	c->ctx = make_ctx(c->cas, c->cert, c->key);
	if ((c->cert && !c->next) || !c->ctx) {
		log_warnx("credentials: cannot make the TLS context");
		goto fail;
	}
	return c;
fail:
	cred_free(c);
	return NULL;
}

void cred_free(struct cred *c)
{
	if (!c)
		return;
	sk_X509_pop_free(c->cas, X509_free);
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	EVP_PKEY_free(c->next);
	SSL_CTX_free(c->ctx);
	free(c);
}

SSL_CTX *cred_ctx(const struct cred *c)
{
	return c->ctx;
}

bool cred_password(const struct cred *c)
{
	return !c->cert;
}

bool cred_newkey(const struct cred *c, uint8_t pub[CA_RAW_KEY_LEN])
{
	return c->next && ca_key_raw(c->next, pub) == 0;
}

int cred_apply(struct cred *c, const struct cred_update *u, X509 *as_cert)
{
	STACK_OF(X509) *cas = NULL;
	X509 *cert = NULL;
	EVP_PKEY *fresh = NULL;
	SSL_CTX *ctx = NULL;
	bool new_cas = false;
	const char *why = NULL;
	int rc;

	if (!u->nca && !u->cert_len)
		return 0;
	if (u->nca) {
		cas = sk_X509_new_null();
		for (size_t i = 0; cas && i < u->nca && !why; i++) {
			X509 *x = der_cert(u->ca[i], u->ca_len[i]);

			if (!x || X509_check_ca(x) < 1 || !sk_X509_push(cas, x)) {
				X509_free(x);
				why = "a CA that is no CA certificate";
			}
		}
		if (!cas)
			why = "out of memory";
		else if (!why && (!as_cert || !vouched(cas, as_cert)))
			why = "CAs that do not vouch for the AS itself";
		else if (!why && !keeps_one(cas, c->cas))
			why = "CAs none of which it trusts now";
		new_cas = !why && !same_certs(cas, c->cas);
	}
	if (!why && u->cert_len) {
		cert = der_cert(u->cert, u->cert_len);
		if (!cert || !c->next || !cert_fits(c, cas ? cas : c->cas, cert, c->next))
			why = "a certificate that is not for this node, its offered key and the "
			      "cloud's CAs";
	}
	if (why) {
		log_warnx("credentials: the AS sent %s: ignored", why);
		rc = -1;
		goto out;
	}
	if (!new_cas && !cert) {
		rc = 0;
		goto out;
	}
	if (!new_cas) {
		sk_X509_pop_free(cas, X509_free);
		cas = X509_chain_up_ref(c->cas);
	}
	fresh = cert ? ca_key_new() : NULL;
	if (cert) {
		uint8_t raw[CA_RAW_KEY_LEN];
		size_t rlen = sizeof(raw);

		if (EVP_PKEY_get_raw_private_key(c->next, raw, &rlen) == 1)
			keylog("node-key", raw, rlen);
		cy_wipe(raw, sizeof(raw));
	}
	ctx = cas ? make_ctx(cas, cert ? cert : c->cert, cert ? c->next : c->key) : NULL;
	if (!ctx || (cert && !fresh)) {
		log_warnx("credentials: cannot make a TLS context of the new credentials");
		rc = -1;
		goto out;
	}
	rc = save(c, cas, cert ? cert : c->cert, cert ? c->next : c->key);
	if (rc < 0)
		log_warnx("credentials: cannot write %s: %s (the new ones are used until the "
			  "daemon stops)", c->conf->renewed, strerror(-rc));
	SSL_CTX_free(c->ctx);
	c->ctx = ctx;
	ctx = NULL;
	sk_X509_pop_free(c->cas, X509_free);
	c->cas = cas;
	cas = NULL;
	if (new_cas)
		log_info("credentials: the cloud trusts %d CA(s) now", sk_X509_num(c->cas));
	if (cert) {
		X509_free(c->cert);
		EVP_PKEY_free(c->key);
		c->cert = cert;
		c->key = c->next;
		c->next = fresh;
		cert = NULL;
		fresh = NULL;
		log_info("credentials: certificate of %s renewed, %" PRId64 " days left",
			 c->conf->fqdn, (ca_not_after(c->cert) - clock_now()) / 86400);
	}
	rc = 0;
out:
	SSL_CTX_free(ctx);
	sk_X509_pop_free(cas, X509_free);
	X509_free(cert);
	EVP_PKEY_free(fresh);
	return rc;
}
