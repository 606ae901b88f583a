/* The console's JSON API (docs/console.md): what it shows, read from the
 * store and the loop's figures, and what it changes, through src/admin. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "aead.h"
#include "clock.h"
#include "console_impl.h"
#include "json.h"
#include "log.h"

#define OVERVIEW_HOSTS 16

struct kind_count {
	uint64_t enrolled, registered, revoked;
};

struct host_count {
	char name[STORE_HOST_MAX + 1];
	uint64_t registered;
};

static void count_json(struct json *j, const char *key, const struct kind_count *k)
{
	json_obj_begin(j, key);
	json_uint(j, "enrolled", k->enrolled);
	json_uint(j, "registered", k->registered);
	json_uint(j, "revoked", k->revoked);
	json_obj_end(j);
}

static void count_hosts(struct host_count *h, size_t *nh, const char *host)
{
	size_t i;

	for (i = 0; i < *nh && strcmp(h[i].name, host); i++)
		;
	if (i == *nh) {
		if (*nh == OVERVIEW_HOSTS)
			return;
		snprintf(h[i].name, sizeof(h[i].name), "%s", host);
		h[i].registered = 0;
		(*nh)++;
	}
	h[i].registered++;
}

/* The overview's object (key overview, or NULL at the top): counts by
 * kind, the cloud hosts nodes are registered on, route selections by
 * outcome, relay sessions open. */
static void overview_json(struct console *c, struct json *j, const char *key,
			  const struct admin_row *rows, size_t n)
{
	struct kind_count kinds[3] = { 0 };
	struct host_count hosts[OVERVIEW_HOSTS];
	size_t nh = 0;

	for (size_t i = 0; i < n; i++) {
		struct kind_count *k = &kinds[rows[i].kind <= CY_KIND_GN ? rows[i].kind : 0];

		k->enrolled++;
		k->revoked += rows[i].revoked;
		k->registered += rows[i].registered;
		if (rows[i].registered)
			count_hosts(hosts, &nh, rows[i].host);
	}
	json_obj_begin(j, key);
	json_str(j, "domain", c->conf->domain);
	count_json(j, "nodes", &kinds[CY_KIND_NODE]);
	count_json(j, "adapters", &kinds[CY_KIND_ADAPTER]);
	count_json(j, "gns", &kinds[CY_KIND_GN]);
	json_arr_begin(j, "hosts");
	for (size_t i = 0; i < nh; i++) {
		json_obj_begin(j, NULL);
		json_str(j, "name", hosts[i].name);
		json_uint(j, "registered", hosts[i].registered);
		json_obj_end(j);
	}
	json_arr_end(j);
	pthread_mutex_lock(&c->mu);
	if (c->has_nms) {
		json_obj_begin(j, "routes");
		json_uint(j, "selected", c->nms.directions_ok);
		json_uint(j, "relayed", c->nms.relays - c->nms.relays_failed);
		json_uint(j, "punched", c->nms.punches);
		json_uint(j, "failed", c->nms.directions_failed);
		json_uint(j, "denied", c->nms.policy_denied);
		json_obj_end(j);
	} else {
		json_null(j, "routes");
	}
	if (c->has_trs)
		json_uint(j, "relay_sessions", c->trs.sessions);
	else
		json_null(j, "relay_sessions");
	pthread_mutex_unlock(&c->mu);
	json_obj_end(j);
}

#define OVERVIEW_JSON_MAX (1024 + OVERVIEW_HOSTS * (64 + 6 * STORE_HOST_MAX) + 6 * CY_FQDN_MAX)

enum { WANT_OVERVIEW = 1, WANT_NODES = 2 };

/* One walk of the store for what the request wants. */
static void list_reply(struct console_req *r, int want)
{
	struct admin_row *rows = NULL;
	size_t n = 0, cap;
	struct json j;
	char *out;

	if (admin_list(r->c->st, clock_now(), &rows, &n) < 0)
		return console_reply_error(r, 500, "store: cannot list nodes");
	cap = OVERVIEW_JSON_MAX + admin_list_json_cap(n) + 64;
	out = malloc(cap);
	if (!out) {
		free(rows);
		return console_reply_error(r, 500, "out of memory");
	}
	json_init(&j, out, cap);
	if (want == WANT_OVERVIEW) {
		overview_json(r->c, &j, NULL, rows, n);
	} else if (want == WANT_NODES) {
		admin_list_json(&j, NULL, rows, n);
	} else {
		json_obj_begin(&j, NULL);
		overview_json(r->c, &j, "overview", rows, n);
		admin_list_json(&j, "nodes", rows, n);
		json_obj_end(&j);
	}
	free(rows);
	console_reply_j(r, 200, &j, false);
}

/* GET /api/overview. */
void console_api_overview(struct console_req *r)
{
	list_reply(r, WANT_OVERVIEW);
}

/* GET /api/nodes: the rows of `cyphonic list --json`. */
void console_api_nodes(struct console_req *r)
{
	list_reply(r, WANT_NODES);
}

/* GET /api/view: {"overview", "nodes"} from one walk (the page's poll). */
void console_api_view(struct console_req *r)
{
	list_reply(r, WANT_OVERVIEW | WANT_NODES);
}

/* GET /api/stats: the loop's figures with the console's own counters,
 * as {"cloud": <cyphonic stats --json>, "console": {...}}. */
void console_api_stats(struct console_req *r)
{
	struct console *c = r->c;
	const struct console_stats *s = &c->stats;
	char *out = malloc(CONSOLE_STATS_MAX + 1024);
	int len;

	if (!out)
		return console_reply_error(r, 500, "out of memory");
	pthread_mutex_lock(&c->mu);
	len = snprintf(out, CONSOLE_STATS_MAX + 1024,
		       "{\"cloud\":%s,\"console\":{\"requests\":%llu,\"logins\":%llu,"
		       "\"login_failed\":%llu,\"login_throttled\":%llu,\"no_session\":%llu,"
		       "\"csrf_refused\":%llu,\"bad_requests\":%llu,\"changes\":%llu,"
		       "\"conns\":%d,\"conns_full\":%llu,\"conns_expired\":%llu}}",
		       c->figures_json ? c->figures_json : "null",
		       (unsigned long long)s->requests, (unsigned long long)s->logins,
		       (unsigned long long)s->login_failed, (unsigned long long)s->login_throttled,
		       (unsigned long long)s->no_session, (unsigned long long)s->csrf_refused,
		       (unsigned long long)s->bad_requests, (unsigned long long)s->changes,
		       c->nconns, (unsigned long long)s->conns_refused,
		       (unsigned long long)s->conns_expired);
	pthread_mutex_unlock(&c->mu);
	if (len < 0 || len >= CONSOLE_STATS_MAX + 1024)
		console_reply_error(r, 500, "figures too large");
	else
		console_reply_json(r, 200, out);
	free(out);
}

/* Room for the reply to an enrolment: every byte of the config may be
 * escaped to six (\u00XX). */
static size_t enrolled_cap(const char *config)
{
	return 1024 + 6 * (CY_NAME_MAX + CY_FQDN_MAX) + (config ? 6 * strlen(config) : 0);
}

/* The node's new VIPs (and config) as the reply to an enrolment, into out
 * (enrolled_cap bytes, taken: freed, wiped, when sent). */
static void enrolled_reply(struct console_req *r, const struct store_node *n,
			   const char *config, char *out)
{
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN];
	struct json j;

	json_init(&j, out, enrolled_cap(config));
	json_obj_begin(&j, NULL);
	json_str(&j, "name", n->name);
	json_str(&j, "fqdn", n->fqdn);
	json_str(&j, "kind", admin_kind_str(n->kind));
	json_str(&j, "vip4", inet_ntop(AF_INET, n->vip4, v4, sizeof(v4)));
	json_str(&j, "vip6", inet_ntop(AF_INET6, n->vip6, v6, sizeof(v6)));
	if (config)
		json_str(&j, "config", config);
	json_obj_end(&j);
	console_reply_j(r, 200, &j, config != NULL);
}

static const char *field_or_null(struct console_req *r, const char *name)
{
	const char *v = console_field(r, name);

	return v && v[0] ? v : NULL;
}

/* POST /api/enrol: kind (node, adapter), name, lan (adapters), password
 * (empty: a certificate), tags ("a,b").  The reply carries the config:
 * the console keeps no copy. */
void console_api_enrol(struct console_req *r)
{
	const char *kind = console_field(r, "kind"), *tags = console_field(r, "tags");
	struct admin_enrol a = { .name = console_field(r, "name"),
				 .password = field_or_null(r, "password"),
				 .lan = field_or_null(r, "lan"),
				 .tags = tags ? tags : "" };
	struct store_node n;
	char err[512], *config = NULL, *out;
	int rc;

	if (!kind || !a.name)
		return console_reply_error(r, 400, "kind and name are required");
	if (!strcmp(kind, "node"))
		a.kind = CY_KIND_NODE;
	else if (!strcmp(kind, "adapter"))
		a.kind = CY_KIND_ADAPTER;
	else
		return console_reply_error(r, 400, "kind: node or adapter");
	rc = admin_enrol(r->c->st, r->c->conf, &a, &n, &config, err, sizeof(err));
	/* the reply's room before the store holds the node: once it does,
	 * the config must reach the administrator */
	out = rc == 0 ? malloc(enrolled_cap(config)) : NULL;
	if (rc == 0 && !out) {
		rc = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
	}
	if (rc == 0)
		rc = admin_node_add(r->c->st, &n, err, sizeof(err));
	if (rc < 0) {
		free(out);
		admin_config_free(config);
		return console_reply_error(r, console_status_of(rc), "%s", err);
	}
	r->c->stats.changes++;
	log_info("console: %s enrolled %s %s", r->s->name, kind, n.fqdn);
	enrolled_reply(r, &n, config, out);
	admin_config_free(config);
}

/* POST /api/gn: name, adapter, mac, tags. */
void console_api_gn(struct console_req *r)
{
	const char *name = console_field(r, "name"), *adapter = console_field(r, "adapter");
	const char *mac = console_field(r, "mac"), *tags = console_field(r, "tags");
	struct store_node n;
	uint8_t m[6];
	char err[512], *out;
	int rc;

	if (!name || !adapter || !mac)
		return console_reply_error(r, 400, "name, adapter and mac are required");
	if (!cy_mac_parse(mac, m))
		return console_reply_error(r, 400, "'%s' is not a MAC address like "
					   "02:00:5e:10:00:01", mac);
	rc = admin_gn_add(r->c->st, r->c->conf, name, adapter, m, tags ? tags : "", &n, err,
			  sizeof(err));
	if (rc < 0)
		return console_reply_error(r, console_status_of(rc), "%s", err);
	r->c->stats.changes++;
	log_info("console: %s enrolled general node %s", r->s->name, n.fqdn);
	out = malloc(enrolled_cap(NULL));
	if (!out)
		return console_reply_error(r, 500, "out of memory (%s is enrolled)", n.fqdn);
	enrolled_reply(r, &n, NULL, out);
}

static void revoked_one(void *arg, const char *fqdn, const char *reason)
{
	struct console_req *r = arg;

	log_info("console: %s revoked %s: %s", r->s->name, fqdn, reason);
}

/* POST /api/revoke: name, reason.  The cloud loop then checks every
 * tunnel again, so the node's end at once. */
void console_api_revoke(struct console_req *r)
{
	const char *name = console_field(r, "name"), *reason = field_or_null(r, "reason");
	char err[512], out[256 + 6 * (CY_NAME_MAX + 512)];
	struct json j;
	bool already;
	int rc;

	if (!name)
		return console_reply_error(r, 400, "name is required");
	rc = admin_revoke(r->c->st, r->c->conf, name, reason, &already, revoked_one, r, err,
			  sizeof(err));
	if (rc < 0)
		return console_reply_error(r, console_status_of(rc), "%s", err);
	if (!already)
		r->c->stats.changes++;
	console_changed(r->c);
	json_init(&j, out, sizeof(out));
	json_obj_begin(&j, NULL);
	json_str(&j, "name", name);
	json_bool(&j, "already", already);
	json_str(&j, "reason", already ? err : reason ? reason : ADMIN_REVOKE_REASON);
	json_obj_end(&j);
	if (json_finish(&j) < 0)
		return console_reply_error(r, 500, "the answer does not fit");
	console_reply_json(r, 200, out);
}

/* GET /api/policy: {"path", "text" (null: no file, every pair allowed)}. */
void console_api_policy(struct console_req *r)
{
	char err[512], *text = NULL, *out;
	size_t len, cap;
	struct json j;
	int rc;

	rc = admin_policy_get(r->c->conf, &text, &len, err, sizeof(err));
	if (rc < 0)
		return console_reply_error(r, console_status_of(rc), "%s", err);
	cap = 1024 + 6 * len;
	out = malloc(cap);
	if (!out) {
		free(text);
		return console_reply_error(r, 500, "out of memory");
	}
	json_init(&j, out, cap);
	json_obj_begin(&j, NULL);
	json_str(&j, "path", r->c->conf->policy);
	json_str(&j, "text", text);
	json_obj_end(&j);
	free(text);
	console_reply_j(r, 200, &j, false);
}

/* POST /api/policy: text.  Refused with its line when invalid; else the
 * file is replaced, and the cloud loop reads it now. */
void console_api_policy_set(struct console_req *r)
{
	const char *text = console_field(r, "text");
	char err[512], out[256 + 6 * 512];
	unsigned line;
	struct json j;
	int rc;

	if (!text)
		return console_reply_error(r, 400, "text is required");
	rc = admin_policy_set(r->c->conf, text, strlen(text), &line, err, sizeof(err));
	if (rc == -EINVAL && line) {
		r->c->stats.bad_requests++;
		json_init(&j, out, sizeof(out));
		json_obj_begin(&j, NULL);
		json_str(&j, "error", err);
		json_uint(&j, "line", line);
		json_obj_end(&j);
		if (json_finish(&j) < 0)
			return console_reply_error(r, 400, "the policy is invalid at line %u", line);
		return console_reply_json(r, 400, out);
	}
	if (rc < 0)
		return console_reply_error(r, console_status_of(rc), "%s", err);
	r->c->stats.changes++;
	log_info("console: %s replaced the access policy %s", r->s->name, r->c->conf->policy);
	console_changed(r->c);
	console_reply_json(r, 200, "{}");
}
