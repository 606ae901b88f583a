/* A node's credentials as they stand, and the TLS client context made of
 * them: the CAs the cloud trusts, the node's certificate and key (or its
 * password).  They start as the config's, or as the renewed ones cyphonicd
 * saved ([credentials] renewed) when those are newer, and change when a
 * Login Response brings other CAs (a CA roll) or a renewed certificate
 * for the key this node offered (NEWKEY).  Every change is checked
 * before it is used: the CAs must still vouch for the AS just heard, the
 * certificate must be for this node, its offered key and one of the CAs.
 * docs/security.md ("Certificates"). */
#ifndef CY_NODE_CRED_H
#define CY_NODE_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "ca.h"
#include "wire.h"

struct node_conf;
struct cred;

/* What a Login Response brought (login.h's login_result holds one). */
struct cred_update {
	size_t nca;                                /* 0: no CA attributes */
	uint8_t ca[CA_BUNDLE_MAX][CY_CERT_DER_MAX];
	size_t ca_len[CA_BUNDLE_MAX];
	size_t cert_len;                           /* 0: no renewed certificate */
	uint8_t cert[CY_CERT_DER_MAX];
};

/* NULL when they do not load (logged).  conf must outlive it. */
struct cred *cred_new(const struct node_conf *conf);
void cred_free(struct cred *c);

/* The context for the next connection (SSL_new takes a reference, so a
 * later change does not disturb a connection under way). */
SSL_CTX *cred_ctx(const struct cred *c);
/* Password login (no certificate). */
bool cred_password(const struct cred *c);
/* The public key offered for renewal (NEWKEY); false with a password. */
bool cred_newkey(const struct cred *c, uint8_t pub[CA_RAW_KEY_LEN]);

/* Apply what the AS (whose certificate as_cert was) sent: saved to the
 * renewed file, then used.  0 (also when nothing changed), or -1
 * (logged): the credentials stay as they were. */
int cred_apply(struct cred *c, const struct cred_update *u, X509 *as_cert);

#endif
