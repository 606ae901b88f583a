#include "cloud_conf.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "ca.h"
#include "conf.h"
#include "log.h"

#define AS_PORT 7443
#define NMS_PORT 7444
#define TRS_PORT 7445
#define METRICS_PORT 9470
#define CONSOLE_PORT 7447

static int set_endpoint(struct sockaddr_storage *ss, uint16_t port, const char *v, char *err,
			size_t errlen)
{
	socklen_t len;

	if (addr_parse(v, port, ss, &len) < 0) {
		snprintf(err, errlen, "'%s' is not ADDR[:PORT] or [V6]:PORT", v);
		return -1;
	}
	return 0;
}

static int set_as_listen(void *obj, const char *v, char *err, size_t errlen)
{
	return set_endpoint(&((struct cloud_conf *)obj)->as_listen, AS_PORT, v, err, errlen);
}

static int set_host(void *obj, const char *v, char *err, size_t errlen)
{
	struct cloud_conf *c = obj;
	size_t n = strlen(v), i;

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("-_.", v[i]))
			break;
	if (n == 0 || n >= sizeof(c->host) || i < n) {
		snprintf(err, errlen, "'%s' is not a host name (1..%zu of a-z, A-Z, 0-9, '-', '_', "
			 "'.')", v, sizeof(c->host) - 1);
		return -1;
	}
	strcpy(c->host, v);
	return 0;
}

static int set_metrics(void *obj, const char *v, char *err, size_t errlen)
{
	struct cloud_conf *c = obj;

	c->has_metrics = true;
	return set_endpoint(&c->metrics, METRICS_PORT, v, err, errlen);
}

static int set_nms_listen(void *obj, const char *v, char *err, size_t errlen)
{
	return set_endpoint(&((struct cloud_conf *)obj)->nms_listen, NMS_PORT, v, err, errlen);
}

static int set_nms_list(void *obj, const char *v, char *err, size_t errlen)
{
	struct cloud_conf *c = obj;

	return addr_list_parse(c->nms, &c->nnms, CLOUD_MAX_NMS, NMS_PORT, v, err, errlen);
}

static int set_trs_list(void *obj, const char *v, char *err, size_t errlen)
{
	struct cloud_conf *c = obj;

	return addr_list_parse(c->trs, &c->ntrs, CLOUD_MAX_TRS, TRS_PORT, v, err, errlen);
}

static int set_trs_listen(void *obj, const char *v, char *err, size_t errlen)
{
	return set_endpoint(&((struct cloud_conf *)obj)->trs_listen, TRS_PORT, v, err, errlen);
}

static int set_trs_public(void *obj, const char *v, char *err, size_t errlen)
{
	struct cloud_conf *c = obj;

	return addr_list_parse(c->trs_public, &c->npublic, CLOUD_MAX_TRS, 0, v, err, errlen);
}

/* "LO-HI", 1 <= LO <= HI <= 65535. */
static int set_trs_ports(void *obj, const char *v, char *err, size_t errlen)
{
	struct cloud_conf *c = obj;
	char lo[16], *dash = strchr(v, '-');
	long a, b;

	if (!dash || (size_t)(dash - v) >= sizeof(lo))
		goto bad;
	memcpy(lo, v, (size_t)(dash - v));
	lo[dash - v] = '\0';
	if (!conf_parse_long(lo, 1, 65535, &a) || !conf_parse_long(dash + 1, 1, 65535, &b) ||
	    a > b)
		goto bad;
	c->trs_port_lo = (int)a;
	c->trs_port_hi = (int)b;
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not a port range LO-HI", v);
	return -1;
}

static int set_console_listen(void *obj, const char *v, char *err, size_t errlen)
{
	return set_endpoint(&((struct cloud_conf *)obj)->console_listen, CONSOLE_PORT, v, err,
			    errlen);
}

static int set_level(void *obj, const char *v, char *err, size_t errlen)
{
	struct cloud_conf *c = obj;

	return log_level_parse(v, c->log_level, sizeof(c->log_level), err, errlen);
}

static int set_user(void *obj, const char *v, char *err, size_t errlen)
{
	struct cloud_conf *c = obj;

	return privdrop_user_parse(c->user, v, err, errlen);
}

#define STR(sec, key, field, req) \
	{ sec, key, CONF_STR, offsetof(struct cloud_conf, field), \
	  sizeof(((struct cloud_conf *)0)->field), 0, 0, req, NULL }
#define INT(sec, key, field, lo, hi) \
	{ sec, key, CONF_INT, offsetof(struct cloud_conf, field), 0, lo, hi, false, NULL }
#define FN(sec, key, fn, req) { sec, key, CONF_FN, 0, 0, 0, 0, req, fn }

static const struct conf_key cloud_keys[] = {
	STR("cloud", "domain", domain, true),
	STR("cloud", "store", store, false),
	STR("cloud", "ca_cert", ca_cert, false),
	STR("cloud", "ca_key", ca_key, false),
	STR("cloud", "control", control, false),
	FN("cloud", "log_level", set_level, false),
	FN("cloud", "user", set_user, false),
	FN("cloud", "metrics", set_metrics, false),
	FN("cloud", "host", set_host, false),
	FN("as", "listen", set_as_listen, false),
	STR("as", "cert", as_cert, false),
	STR("as", "key", as_key, false),
	INT("as", "key_lifetime", key_lifetime, 60, 7 * 86400),
	INT("as", "cert_days", cert_days, 2, 3650),
	INT("as", "renew_days", renew_days, 1, 3649),
	FN("as", "nms", set_nms_list, false),
	INT("as", "max_conns", as_max_conns, 16, 16384),
	FN("nms", "listen", set_nms_listen, false),
	INT("nms", "registration_ttl", registration_ttl, 3, 3600),
	FN("nms", "trs", set_trs_list, false),
	STR("nms", "trs_key", trs_key, false),
	STR("nms", "policy", policy, false),
	FN("trs", "listen", set_trs_listen, false),
	STR("trs", "key", trs_secret, false),
	FN("trs", "public", set_trs_public, false),
	FN("trs", "ports", set_trs_ports, false),
	INT("trs", "idle", trs_idle, 5, 3600),
	INT("trs", "max_sessions", trs_max_sessions, 1, 65536),
	FN("console", "listen", set_console_listen, false),
	STR("console", "cert", console_cert, false),
	STR("console", "key", console_key, false),
};

static const struct conf_section cloud_sections[] = {
	{ "cloud", offsetof(struct cloud_conf, has_cloud) },
	{ "as", offsetof(struct cloud_conf, has_as) },
	{ "nms", offsetof(struct cloud_conf, has_nms) },
	{ "trs", offsetof(struct cloud_conf, has_trs) },
	{ "console", offsetof(struct cloud_conf, has_console) },
};

static const struct conf_schema cloud_schema = {
	cloud_sections, CONF_ARRAY_LEN(cloud_sections), cloud_keys, CONF_ARRAY_LEN(cloud_keys),
};

static void defaults(struct cloud_conf *c)
{
	socklen_t len;

	memset(c, 0, sizeof(*c));
	strcpy(c->log_level, "info");
	addr_parse("[::]", AS_PORT, &c->as_listen, &len);
	addr_parse("[::]", NMS_PORT, &c->nms_listen, &len);
	addr_parse("[::]", TRS_PORT, &c->trs_listen, &len);
	addr_parse("127.0.0.1", CONSOLE_PORT, &c->console_listen, &len);
	c->trs_idle = 60;
	c->trs_max_sessions = 1024;
	c->key_lifetime = 3600;
	c->cert_days = CA_LEAF_DAYS;
	c->renew_days = CA_RENEW_DAYS;
	c->registration_ttl = 60;
}

/* Rules across keys.  The AS needs its certificate and the NMS list; a
 * section seen only through an unknown key never gets here. */
static int finish(struct cloud_conf *c, const char *name, char *err, size_t errlen)
{
	if (c->renew_days >= c->cert_days) {
		snprintf(err, errlen, "%s: [as] renew_days (%d) must be less than cert_days (%d)",
			 name, c->renew_days, c->cert_days);
		return -1;
	}
	if (c->has_as && (!c->as_cert[0] || !c->as_key[0])) {
		snprintf(err, errlen, "%s: [as] needs cert and key", name);
		return -1;
	}
	if (c->has_as && !c->nnms) {
		snprintf(err, errlen, "%s: [as] needs nms (the NMS addresses given to nodes)",
			 name);
		return -1;
	}
	if (!c->has_as && !c->has_nms && !c->has_trs) {
		snprintf(err, errlen, "%s: no role: add an [as], [nms] or [trs] section", name);
		return -1;
	}
	if ((c->has_as || c->has_nms) && (!c->store[0] || !c->ca_cert[0])) {
		snprintf(err, errlen, "%s: [cloud] needs store and ca_cert for the AS and NMS",
			 name);
		return -1;
	}
	if (c->has_nms && c->ntrs && !c->trs_key[0]) {
		snprintf(err, errlen, "%s: [nms] trs needs trs_key (the NMS-TRS key file)", name);
		return -1;
	}
	if (c->has_console && (!c->console_cert[0] || !c->console_key[0])) {
		snprintf(err, errlen, "%s: [console] needs cert and key", name);
		return -1;
	}
	if (c->has_console && (!c->store[0] || !c->ca_cert[0])) {
		snprintf(err, errlen, "%s: [cloud] needs store and ca_cert for the console", name);
		return -1;
	}
	if (c->has_trs && (!c->trs_secret[0] || !c->npublic)) {
		snprintf(err, errlen, "%s: [trs] needs key and public (the addresses nodes reach "
			 "it at)", name);
		return -1;
	}
	return 0;
}

/* The key files a cloud.conf names are secrets: refuse them when group or
 * others may read them, "FILE: [as] key: KEYFILE: mode 0644 lets others
 * read a secret; chmod 600".  The AS reads its key later by name (the TRS
 * key and the CA key are checked again on the open file by their readers,
 * trs_key_read and ca_load).  A key file that is not there is left to
 * whoever opens it. */
static int check_key_files(const struct cloud_conf *c, const char *name, char *err,
			   size_t errlen)
{
	static const struct {
		const char *section, *key;
		size_t off;
	} files[] = {
		{ "cloud", "ca_key", offsetof(struct cloud_conf, ca_key) },
		{ "as", "key", offsetof(struct cloud_conf, as_key) },
		{ "nms", "trs_key", offsetof(struct cloud_conf, trs_key) },
		{ "trs", "key", offsetof(struct cloud_conf, trs_secret) },
		{ "console", "key", offsetof(struct cloud_conf, console_key) },
	};
	char why[CLOUD_PATH_MAX + 100];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *path = (const char *)c + files[i].off;

		if (path[0] && conf_secret_path_check(path, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: [%s] %s: %s", name, files[i].section,
				 files[i].key, why);
			return -1;
		}
	}
	return 0;
}

static int load(struct cloud_conf *c, const char *name, const char *text, char *err,
		size_t errlen)
{
	int rc;

	defaults(c);
	rc = text ? conf_load_string(name, text, &cloud_schema, c, err, errlen)
		  : conf_load_file(name, &cloud_schema, c, err, errlen);
	if (rc == 0)
		rc = finish(c, name, err, errlen);
	if (rc == 0 && !text)   /* a file: the key files it names are real */
		rc = check_key_files(c, name, err, errlen);
	return rc;
}

void cloud_conf_keys(FILE *f)
{
	conf_keys_print(&cloud_schema, f);
}

int cloud_conf_load(struct cloud_conf *c, const char *path, char *err, size_t errlen)
{
	return load(c, path, NULL, err, errlen);
}

int cloud_conf_load_string(struct cloud_conf *c, const char *name, const char *text,
			   char *err, size_t errlen)
{
	return load(c, name, text, err, errlen);
}
