/* Enrolment: nodes and adapters (a certificate or a password, and a
 * config), general nodes (a MAC behind an adapter). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_impl.h"
#include "aead.h"
#include "ca.h"
#include "cliconf.h"
#include "node_conf.h"
#include "policy.h"

int admin_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* n zeroed with name and fqdn; the name checked and not taken before
 * (names are never reused, not even a revoked node's). */
static int enrol_start(struct store *st, const struct cloud_conf *c, const char *name,
		       const char *what, struct store_node *n, char *err, size_t errlen)
{
	struct store_node dup;
	int rc;

	if (!cy_label_ok(name))
		return admin_err(err, errlen, -EINVAL,
				 "'%s' is not a valid %s name: one DNS label, lowercase a-z, 0-9 "
				 "and '-', at most %d characters", name, what, CY_NAME_MAX);
	memset(n, 0, sizeof(*n));
	strcpy(n->name, name);
	if (snprintf(n->fqdn, sizeof(n->fqdn), "%s.%s", name, c->domain) >= (int)sizeof(n->fqdn))
		return admin_err(err, errlen, -EINVAL, "%s.%s: longer than %d characters", name,
				 c->domain, CY_FQDN_MAX);
	rc = store_node_by_name(st, name, &dup);
	if (rc == 0)
		return admin_err(err, errlen, -EEXIST, "%s is already enrolled%s", dup.fqdn,
				 dup.revoked ? " (revoked; names are not reused)" : "");
	if (rc != -ENOENT)
		return admin_err(err, errlen, -EIO, "store: %s", strerror(-rc));
	return 0;
}

static int enrol_tags(const char *tags, struct store_node *n, char *err, size_t errlen)
{
	char why[128];

	if (!tags || !tags[0])
		return 0;
	if (strlen(tags) > STORE_TAGS_MAX || policy_tags_check(tags, why, sizeof(why)) < 0)
		return admin_err(err, errlen, -EINVAL, "tags '%s': %s", tags,
				 strlen(tags) > STORE_TAGS_MAX ? "too many tags" : why);
	strcpy(n->tags, tags);
	return 0;
}

int admin_node_add(struct store *st, struct store_node *n, char *err, size_t errlen)
{
	int rc = store_node_add(st, n);

	if (rc == -EEXIST)
		return admin_err(err, errlen, rc, "%s%s is already enrolled", n->fqdn,
				 n->kind == CY_KIND_GN ? " or its MAC" : "");
	if (rc == -ENOSPC)
		return admin_err(err, errlen, rc, "the virtual address ranges are full");
	if (rc < 0)
		return admin_err(err, errlen, -EIO, "store: cannot add %s: %s", n->fqdn,
				 strerror(-rc));
	return 0;
}

/* Certificate and key PEM for n, its serial set in n. */
static int enrol_issue(const struct cloud_conf *c, struct store_node *n, int days,
		       char **cert_pem, char **key_pem, char *err, size_t errlen)
{
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *x = NULL;
	char why[512];
	int rc = -EIO;

	*cert_pem = *key_pem = NULL;
	if (!c->ca_key[0])
		return admin_err(err, errlen, -EPERM,
				 "cloud.conf has no ca_key: this host cannot issue certificates");
	if (ca_load(c->ca_cert, c->ca_key, &ca, &ca_key, why, sizeof(why)) < 0)
		return admin_err(err, errlen, -EIO, "CA: %s", why);
	key = ca_key_new();
	x = key ? ca_issue_node(ca, ca_key, key, n->fqdn, days) : NULL;
	if (!x || ca_serial_hex(x, n->cert_serial) < 0) {
		admin_err(err, errlen, -EIO, "cannot issue the certificate of %s", n->fqdn);
		goto out;
	}
	*cert_pem = ca_cert_pem(x);
	*key_pem = ca_key_pem(key);
	if (!*cert_pem || !*key_pem) {
		rc = admin_err(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc) {
		ca_pem_free(*cert_pem);
		ca_pem_free(*key_pem);
		*cert_pem = *key_pem = NULL;
	}
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	return rc;
}

static char *enrol_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return NULL;
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* The node's cloud= list: the hosts of the AS's nms= list. */
static void enrol_cloud_list(const struct cloud_conf *c, char *out, size_t len)
{
	char ip[ADDR_STR_MAX];
	size_t i, off = 0;

	out[0] = '\0';
	for (i = 0; i < c->nnms && off < len; i++)
		off += snprintf(out + off, len - off, "%s%s", i ? "," : "",
				addr_ip_str((const struct sockaddr *)&c->nms[i], ip));
}

static char *enrol_config(const struct cloud_conf *c, const struct admin_enrol *a,
			  const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
	struct cliconf_node cn = { 0 };
	char cloud[512], *ca_pem, *text;

	ca_pem = enrol_read_file(c->ca_cert);
	if (!ca_pem) {
		admin_err(err, errlen, -EIO, "%s: %s", c->ca_cert, strerror(errno));
		return NULL;
	}
	enrol_cloud_list(c, cloud, sizeof(cloud));
	cn.name = a->name;
	cn.domain = c->domain;
	cn.cloud = cloud;
	cn.ca_pem = ca_pem;
	cn.cert_pem = cert_pem;
	cn.key_pem = key_pem;
	cn.password = a->password;
	cn.adapter_lan = a->kind == CY_KIND_ADAPTER ? a->lan : NULL;
	text = cliconf_node(&cn);
	free(ca_pem);
	if (!text)
		admin_err(err, errlen, -ENOMEM, "cannot write the node configuration");
	return text;
}

int admin_enrol(struct store *st, const struct cloud_conf *c, const struct admin_enrol *a,
		struct store_node *n, char **config, char *err, size_t errlen)
{
	const char *what = a->kind == CY_KIND_ADAPTER ? "adapter" : "node";
	char pw[PWHASH_MAX] = "", *cert_pem = NULL, *key_pem = NULL;
	int rc;

	*config = NULL;
	if (a->kind != CY_KIND_NODE && a->kind != CY_KIND_ADAPTER)
		return admin_err(err, errlen, -EINVAL, "only nodes and adapters have a config");
	if (a->kind == CY_KIND_ADAPTER && (!a->lan || !node_conf_ifname_ok(a->lan)))
		return admin_err(err, errlen, -EINVAL,
				 "LAN interface '%s' is not an interface name (1..15 characters, "
				 "no '/', ':' or spaces)", a->lan ? a->lan : "");
	if (a->password && !cliconf_password_ok(a->password))
		return admin_err(err, errlen, -EINVAL,
				 "password: use 1 to %d printable ASCII characters without ';', "
				 "'#' or leading/trailing spaces", CY_PASSWORD_MAX);
	if (a->cert_days < 0 || a->cert_days > 3650)
		return admin_err(err, errlen, -EINVAL, "certificate days: 1 to 3650");
	rc = enrol_start(st, c, a->name, what, n, err, errlen);
	if (rc == 0)
		rc = enrol_tags(a->tags, n, err, errlen);
	if (rc)
		return rc;
	n->kind = a->kind;
	if (a->password) {
		if (pwhash_create(a->password, pw) < 0)
			return admin_err(err, errlen, -EIO, "cannot hash the password");
		strcpy(n->pwhash, pw);
		cy_wipe(pw, sizeof(pw));
	} else {
		rc = enrol_issue(c, n, a->cert_days ? a->cert_days : c->cert_days, &cert_pem,
				 &key_pem, err, errlen);
		if (rc)
			return rc;
	}
	*config = enrol_config(c, a, cert_pem, key_pem, err, errlen);
	ca_pem_free(cert_pem);
	ca_pem_free(key_pem);
	return *config ? 0 : -ENOMEM;
}

void admin_config_free(char *config)
{
	cliconf_free(config);
}

struct gn_mac_find {
	const uint8_t *mac;
	struct store_node found;
	bool hit;
};

static int gn_mac_match(const struct store_node *n, void *arg)
{
	struct gn_mac_find *f = arg;

	if (n->kind != CY_KIND_GN || memcmp(n->mac, f->mac, 6))
		return 0;
	f->found = *n;
	f->hit = true;
	return 1;
}

int admin_gn_add(struct store *st, const struct cloud_conf *c, const char *name,
		 const char *adapter, const uint8_t mac[6], const char *tags,
		 struct store_node *n, char *err, size_t errlen)
{
	struct gn_mac_find mf = { .mac = mac };
	struct store_node ad;
	char s[CY_MAC_STR];
	int rc;

	if (!cy_label_ok(adapter))
		return admin_err(err, errlen, -EINVAL, "'%s' is not a valid adapter name", adapter);
	if (!cy_mac_unicast(mac))
		return admin_err(err, errlen, -EINVAL,
				 "MAC %s is not a unicast address (not multicast, not all zeros)",
				 cy_mac_str(mac, s));
	rc = enrol_start(st, c, name, "general node", n, err, errlen);
	if (rc == 0)
		rc = enrol_tags(tags, n, err, errlen);
	if (rc)
		return rc;
	rc = store_node_by_name(st, adapter, &ad);
	if (rc == -ENOENT)
		return admin_err(err, errlen, -ENOENT, "no adapter named '%s' in %s", adapter,
				 c->domain);
	if (rc < 0)
		return admin_err(err, errlen, -EIO, "store: %s", strerror(-rc));
	if (ad.kind != CY_KIND_ADAPTER)
		return admin_err(err, errlen, -EINVAL, "%s is not an adapter", ad.fqdn);
	if (ad.revoked)
		return admin_err(err, errlen, -EINVAL, "adapter %s is revoked (%s)", ad.fqdn,
				 ad.revoke_reason);
	/* One MAC, one general node: the adapter finds it by its MAC. */
	rc = store_node_foreach(st, -1, gn_mac_match, &mf);
	if (rc < 0)
		return admin_err(err, errlen, -EIO, "store: %s", strerror(-rc));
	if (mf.hit)
		return admin_err(err, errlen, -EEXIST, "MAC %s is already enrolled as %s%s",
				 cy_mac_str(mac, s), mf.found.fqdn,
				 mf.found.revoked ? " (revoked)" : "");
	n->kind = CY_KIND_GN;
	n->adapter_id = ad.id;
	memcpy(n->mac, mac, 6);
	return admin_node_add(st, n, err, errlen);
}
