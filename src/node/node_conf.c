#include "node_conf.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "privdrop.h"
#include "rtsched.h"

#define NODE_DEFAULT_AS_PORT 7443

static int set_name(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;

	if (!cy_label_ok(v)) {
		snprintf(err, errlen, "'%s' is not a DNS label (a-z, 0-9, '-', at most 63)", v);
		return -1;
	}
	strcpy(c->name, v);
	return 0;
}

static int set_domain(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;

	if (!cy_domain_ok(v)) {
		snprintf(err, errlen, "'%s' is not a domain name", v);
		return -1;
	}
	strcpy(c->domain, v);
	return 0;
}

static int set_dns_listen(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;
	size_t n;

	return addr_list_parse(&c->dns_listen, &n, 1, 53, v, err, errlen);
}

static int set_metrics(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;
	size_t n;

	c->has_metrics = true;
	return addr_list_parse(&c->metrics, &n, 1, NODE_METRICS_PORT, v, err, errlen);
}

static int set_upstream(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;

	return addr_list_parse(c->upstream, &c->nupstream, NODE_MAX_UPSTREAM, 53, v, err, errlen);
}

/* Addresses get as_port, which may come later in the file: finish() sets it. */
static int set_cloud(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;

	return addr_list_parse(c->cloud, &c->ncloud, NODE_MAX_CLOUD, NODE_DEFAULT_AS_PORT, v, err,
			     errlen);
}

static int set_level(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;

	return log_level_parse(v, c->log_level, sizeof(c->log_level), err, errlen);
}

bool node_conf_ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(((struct node_conf *)0)->adapter_lan) || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '/' || *s == ':')
			return false;
	return true;
}

static int set_lan(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;

	if (!node_conf_ifname_ok(v)) {
		snprintf(err, errlen, "'%s' is not an interface name (1..%zu characters, "
			 "no '/', ':' or spaces)", v, sizeof(c->adapter_lan) - 1);
		return -1;
	}
	strcpy(c->adapter_lan, v);
	return 0;
}

static int set_path(char *out, size_t cap, const char *v, char *err, size_t errlen)
{
	if (v[0] != '/' || strlen(v) >= cap) {
		snprintf(err, errlen, "must be an absolute path shorter than %zu bytes", cap);
		return -1;
	}
	strcpy(out, v);
	return 0;
}

static int set_leases(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;

	return set_path(c->adapter_leases, sizeof(c->adapter_leases), v, err, errlen);
}

static int set_user(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;

	return privdrop_user_parse(c->user, v, err, errlen);
}

static int set_renewed(void *obj, const char *v, char *err, size_t errlen)
{
	struct node_conf *c = obj;

	return set_path(c->renewed, sizeof(c->renewed), v, err, errlen);
}

#define STR(sec, key, field, req) \
	{ sec, key, CONF_STR, offsetof(struct node_conf, field), \
	  sizeof(((struct node_conf *)0)->field), 0, 0, req, NULL }
#define TEXT(sec, key, field, req) \
	{ sec, key, CONF_TEXT, offsetof(struct node_conf, field), 0, 0, 0, req, NULL }
/* A private key or password: the file must be readable by its owner only. */
#define SECRET(sec, key, field) \
	{ sec, key, CONF_SECRET, offsetof(struct node_conf, field), 0, 0, 0, false, NULL }
#define INT(sec, key, field, lo, hi) \
	{ sec, key, CONF_INT, offsetof(struct node_conf, field), 0, lo, hi, false, NULL }
#define FN(sec, key, fn, req) { sec, key, CONF_FN, 0, 0, 0, 0, req, fn }

static const struct conf_key node_keys[] = {
	FN("node", "name", set_name, true),
	FN("node", "domain", set_domain, true),
	FN("node", "cloud", set_cloud, true),
	INT("node", "as_port", as_port, 1, 65535),
	INT("node", "port", port, 0, 65535),
	STR("node", "tun", tun, false),
	INT("node", "mtu", mtu, 1280, 65535),
	STR("node", "control", control, false),
	INT("node", "keepalive", keepalive, 1, 3600),
	INT("node", "sched_priority", sched_priority, 0, RTSCHED_PRIO_MAX),
	FN("node", "log_level", set_level, false),
	FN("node", "user", set_user, false),
	FN("node", "metrics", set_metrics, false),
	FN("resolver", "listen", set_dns_listen, false),
	FN("resolver", "upstream", set_upstream, false),
	{ "resolver", "system", CONF_BOOL, offsetof(struct node_conf, dns_system), 0, 0, 0, false,
	  NULL },
	TEXT("credentials", "ca", ca_pem, true),
	TEXT("credentials", "cert", cert_pem, false),
	SECRET("credentials", "key", key_pem),
	SECRET("credentials", "password", password),
	FN("credentials", "renewed", set_renewed, false),
	FN("adapter", "lan", set_lan, false), /* required when [adapter] is there: finish() */
	FN("adapter", "leases", set_leases, false),
	INT("adapter", "lease_time", adapter_lease_time, 60, 86400),
	INT("adapter", "refresh", adapter_refresh, 5, 3600),
	{ "adapter", "nat", CONF_BOOL, offsetof(struct node_conf, adapter_nat), 0, 0, 0, false,
	  NULL },
};

static const struct conf_section node_sections[] = {
	{ "node", offsetof(struct node_conf, has_node) },
	{ "credentials", offsetof(struct node_conf, has_credentials) },
	{ "resolver", offsetof(struct node_conf, has_resolver) },
	{ "adapter", offsetof(struct node_conf, has_adapter) },
};

static const struct conf_schema node_schema = {
	node_sections, CONF_ARRAY_LEN(node_sections), node_keys, CONF_ARRAY_LEN(node_keys),
};

static void defaults(struct node_conf *c)
{
	socklen_t len;

	memset(c, 0, sizeof(*c));
	c->as_port = NODE_DEFAULT_AS_PORT;
	c->port = 7446;
	strcpy(c->tun, "cy0");
	c->mtu = 1400;
	c->keepalive = 15;
	strcpy(c->log_level, "info");
	addr_parse("127.0.0.153", 53, &c->dns_listen, &len);
	c->adapter_lease_time = 3600;
	c->adapter_refresh = 60;
	c->adapter_nat = true;
}

/* Checks that need more than one key; err gets "FILE: reason". */
static int finish(struct node_conf *c, const char *name, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->ncloud; i++)
		addr_set_port((struct sockaddr *)&c->cloud[i], (uint16_t)c->as_port);
	if (snprintf(c->fqdn, sizeof(c->fqdn), "%s.%s", c->name, c->domain) >=
	    (int)sizeof(c->fqdn)) {
		snprintf(err, errlen, "%s: name.domain is longer than %d", name, CY_FQDN_MAX);
		return -1;
	}
	if (!c->control[0] && strlen("/run/cyphonic/.sock") + strlen(c->fqdn) >= NODE_PATH_MAX) {
		snprintf(err, errlen, "%s: [node] control: the default path is too long, set one",
			 name);
		return -1;
	}
	if (!c->control[0])
		snprintf(c->control, sizeof(c->control), "/run/cyphonic/%.*s.sock",
			 (int)(NODE_PATH_MAX - 20), c->fqdn);
	if (!!c->cert_pem != !!c->key_pem) {
		snprintf(err, errlen, "%s: [credentials] cert and key go together", name);
		return -1;
	}
	if (!c->cert_pem && !c->password) {
		snprintf(err, errlen, "%s: [credentials] needs cert and key, or password", name);
		return -1;
	}
	if (c->user[0] && c->dns_system) {
		snprintf(err, errlen, "%s: [node] user and [resolver] system = yes do not go "
			 "together: putting /etc/resolv.conf back at exit needs root", name);
		return -1;
	}
	if (c->has_adapter && !c->adapter_lan[0]) {
		snprintf(err, errlen, "%s: [adapter] lan is required", name);
		return -1;
	}
	if (!c->renewed[0])
		snprintf(c->renewed, sizeof(c->renewed), "/var/lib/cyphonic/%s.credentials",
			 c->fqdn);
	if (c->has_adapter && !c->adapter_leases[0])
		snprintf(c->adapter_leases, sizeof(c->adapter_leases),
			 "/var/lib/cyphonic/%s.leases", c->fqdn);
	return 0;
}

static int load(struct node_conf *c, const char *name, const char *text, char *err,
		size_t errlen)
{
	int rc;

	defaults(c);
	rc = text ? conf_load_string(name, text, &node_schema, c, err, errlen)
		  : conf_load_file(name, &node_schema, c, err, errlen);
	if (rc == 0 && finish(c, name, err, errlen) < 0) {
		conf_free(&node_schema, c);
		rc = -1;
	}
	if (rc < 0)
		memset(c, 0, sizeof(*c));
	return rc;
}

void node_conf_keys(FILE *f)
{
	conf_keys_print(&node_schema, f);
}

int node_conf_load(struct node_conf *c, const char *path, char *err, size_t errlen)
{
	return load(c, path, NULL, err, errlen);
}

int node_conf_load_string(struct node_conf *c, const char *name, const char *text,
			  char *err, size_t errlen)
{
	return load(c, name, text, err, errlen);
}

void node_conf_free(struct node_conf *c)
{
	if (!c)
		return;
	conf_free(&node_schema, c);
	memset(c, 0, sizeof(*c));
}
