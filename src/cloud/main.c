/* cyphonic-cloud -c FILE [-d]: the cloud's daemon.  It runs the AS role
 * when cloud.conf has an [as] section and the NMS role when it has an
 * [nms] section, over one store, in one libevent loop, and answers
 * "stats" on its control socket. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "as.h"
#include "as_server.h"
#include "cloud_conf.h"
#include "control.h"
#include "json.h"
#include "log.h"
#include "nms.h"
#include "nms_server.h"
#include "store.h"

struct cloud {
	struct cloud_conf conf;
	struct event_base *base;
	struct store *st;
	struct as *as;
	struct as_server *as_srv;
	struct nms *nms;
	struct nms_server *nms_srv;
	struct control *ctl;
	struct event *ev_term, *ev_int;
};

static void cloud_usage(void)
{
	fprintf(stderr, "usage: cyphonic-cloud -c FILE [-d]\n");
	exit(2);
}

static void cloud_stats_as(struct json *j, const struct as_stats *s)
{
	json_obj_begin(j, "as");
	json_uint(j, "tls_fail", s->tls_fail);
	json_uint(j, "login_ok", s->login_ok);
	json_uint(j, "login_refused", s->login_refused);
	json_uint(j, "malformed", s->malformed);
	json_uint(j, "oversized", s->oversized);
	json_uint(j, "revoked", s->revoked);
	json_uint(j, "for_ok", s->for_ok);
	json_uint(j, "for_refused", s->for_refused);
	json_uint(j, "info_ok", s->info_ok);
	json_uint(j, "info_refused", s->info_refused);
	json_obj_end(j);
}

static void cloud_stats_nms(struct json *j, const struct nms_stats *s)
{
	json_obj_begin(j, "nms");
	json_uint(j, "rx", s->rx);
	json_uint(j, "malformed", s->malformed);
	json_uint(j, "auth_fail", s->auth_fail);
	json_uint(j, "replay", s->replay);
	json_uint(j, "unknown_key", s->unknown_key);
	json_uint(j, "expired_key", s->expired_key);
	json_uint(j, "registrations", s->registrations);
	json_uint(j, "keepalives", s->keepalives);
	json_uint(j, "deregistrations", s->deregistrations);
	json_uint(j, "directions", s->directions);
	json_uint(j, "directions_ok", s->directions_ok);
	json_uint(j, "directions_failed", s->directions_failed);
	json_obj_end(j);
}

static long cloud_control(void *arg, const char *req, char *out, size_t cap)
{
	struct cloud *c = arg;
	struct json j;
	long n;

	if (strcmp(req, "stats"))
		return -1;
	json_init(&j, out, cap);
	json_obj_begin(&j, NULL);
	if (c->as)
		cloud_stats_as(&j, as_stats(c->as));
	else
		json_null(&j, "as");
	if (c->nms)
		cloud_stats_nms(&j, nms_stats(c->nms));
	else
		json_null(&j, "nms");
	json_obj_end(&j);
	n = json_finish(&j);
	if (n < 0 || (size_t)n + 1 >= cap)
		return -1;
	out[n++] = '\n';
	return n;
}

static void cloud_signal(evutil_socket_t sig, short what, void *arg)
{
	struct cloud *c = arg;

	log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(c->base, NULL);
}

static int cloud_start(struct cloud *c)
{
	char err[256];

	if (store_open(&c->st, c->conf.store, err, sizeof(err)) < 0) {
		log_err("store %s: %s", c->conf.store, err);
		return -1;
	}
	if (c->conf.has_as) {
		struct as_conf ac = { .key_lifetime = c->conf.key_lifetime };
		struct as_server_conf sc = {
			.listen = c->conf.as_listen,
			.cert = c->conf.as_cert,
			.key = c->conf.as_key,
			.ca_cert = c->conf.ca_cert,
		};

		ac.nnms = c->conf.nnms < AS_MAX_NMS ? c->conf.nnms : AS_MAX_NMS;
		memcpy(ac.nms, c->conf.nms, ac.nnms * sizeof(ac.nms[0]));
		c->as = as_new(c->st, &ac);
		if (!c->as) {
			log_err("as: bad settings");
			return -1;
		}
		c->as_srv = as_server_new(c->base, c->as, &sc);
		if (!c->as_srv)
			return -1;
	}
	if (c->conf.has_nms) {
		struct nms_conf nc = { .registration_ttl = c->conf.registration_ttl };

		c->nms = nms_new(c->st, &nc);
		if (!c->nms) {
			log_err("nms: bad settings");
			return -1;
		}
		c->nms_srv = nms_server_new(c->base, c->nms, &c->conf.nms_listen);
		if (!c->nms_srv)
			return -1;
	}
	if (!c->as && !c->nms)
		log_warnx("no [as] or [nms] section: no role to run");
	if (c->conf.control[0]) {
		c->ctl = control_new(c->base, c->conf.control, cloud_control, c);
		if (!c->ctl)
			return -1;
	}
	c->ev_term = evsignal_new(c->base, SIGTERM, cloud_signal, c);
	c->ev_int = evsignal_new(c->base, SIGINT, cloud_signal, c);
	if (!c->ev_term || !c->ev_int || event_add(c->ev_term, NULL) < 0 ||
	    event_add(c->ev_int, NULL) < 0)
		return -1;
	return 0;
}

static void cloud_stop(struct cloud *c)
{
	if (c->ev_term)
		event_free(c->ev_term);
	if (c->ev_int)
		event_free(c->ev_int);
	control_free(c->ctl);
	nms_server_free(c->nms_srv);
	nms_free(c->nms);
	as_server_free(c->as_srv);
	as_free(c->as);
	store_close(c->st);
	if (c->base)
		event_base_free(c->base);
}

int main(int argc, char **argv)
{
	struct cloud c;
	const char *path = NULL;
	bool debug = false, ok;
	enum log_level lvl;
	char err[512];
	int opt, rc = 1;

	while ((opt = getopt(argc, argv, "c:dh")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = true;
			break;
		default:
			cloud_usage();
		}
	}
	if (!path || optind != argc)
		cloud_usage();

	memset(&c, 0, sizeof(c));
	log_init("cyphonic-cloud", LOG_LVL_INFO);
	if (cloud_conf_load(&c.conf, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	lvl = c.conf.log_level[0] ? log_level_from_string(c.conf.log_level, &ok) : LOG_LVL_INFO;
	log_set_level(debug ? LOG_LVL_DEBUG : lvl);
	signal(SIGPIPE, SIG_IGN);

	c.base = event_base_new();
	if (!c.base || cloud_start(&c) < 0)
		goto out;
	log_info("cloud %s running (%s%s%s)", c.conf.domain, c.as ? "AS" : "",
		 c.as && c.nms ? ", " : "", c.nms ? "NMS" : "");
	if (event_base_dispatch(c.base) < 0)
		goto out;
	rc = 0;
out:
	cloud_stop(&c);
	if (rc == 0)
		log_info("stopped");
	return rc;
}
