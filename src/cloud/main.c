/* cyphonic-cloud -c FILE [-d]: the cloud's daemon.  It runs the AS role
 * when cloud.conf has an [as] section, the NMS role when it has an [nms]
 * section (over one store) and the TRS role when it has a [trs] section
 * (no store), in one libevent loop, and answers "stats" on its control
 * socket.  The TRS and the web console ([console]) have threads of
 * their own. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "as.h"
#include "aead.h"
#include "as_pki.h"
#include "as_server.h"
#include "ctrfile.h"
#include "cloud_conf.h"
#include "console.h"
#include "control.h"
#include "counters.h"
#include "json.h"
#include "log.h"
#include "metrics_http.h"
#include "nms.h"
#include "nms_server.h"
#include "loopthread.h"
#include "privdrop.h"
#include "prom.h"
#include "store.h"
#include "trs_server.h"
#include "trs_wire.h"

#define CLOUD_RENEW_CHECK_S 3600   /* how often the AS certificate's end is looked at */

struct cloud {
	struct cloud_conf conf;
	struct event_base *base;
	struct store *st;
	struct as *as;
	struct as_pki *pki;
	struct as_server *as_srv;
	struct event *ev_renew;                  /* the AS certificate's renewal check */
	bool as_stale;                           /* the TLS context lags the files */
	struct nms *nms;
	struct nms_server *nms_srv;
	struct trs_server *trs_srv;
	struct loopthread *trs_loop;             /* the TRS's own thread */
	char trs_counter[CLOUD_PATH_MAX + 16];   /* [trs] key + ".counter" */
	struct control *ctl;
	struct metrics_http *metrics;            /* [cloud] metrics */
	struct store_bus *bus;                   /* signals from the other cloud hosts */
	struct console *console;                 /* [console] */
	struct event *ev_figures;                /* the console's figures, every second */
	struct event *ev_term, *ev_int, *ev_hup;
};

static int cloud_pki_reload(struct cloud *c);

static void cloud_usage(void)
{
	fprintf(stderr, "usage: cyphonic-cloud -c FILE [-d]\n"
			"  -c FILE  cloud configuration (cloud.conf from `cyphonic init`)\n"
			"  -d       log at debug level\n"
			"  -K       list the configuration keys it takes (\"section key\" a line)\n");
	exit(2);
}

/* The AS certificate renewed when due (a failure is logged and tried
 * again next time: the one served has days left); the TLS context
 * follows when it was, when reload asks, or when an earlier reload
 * failed.  0 or -1 (logged). */
static int cloud_as_renew(struct cloud *c, bool reload)
{
	char err[CLOUD_PATH_MAX + 128];
	int rc = as_pki_renew_server(c->pki, err, sizeof(err));

	if (rc < 0)
		log_warnx("as: cannot renew the AS certificate: %s", err);
	if (rc > 0)
		log_info("as: AS certificate %s renewed for %d days", c->conf.as_cert,
			 c->conf.cert_days);
	if (!c->as_srv || !(reload || rc > 0 || c->as_stale))
		return rc < 0 ? -1 : 0;
	c->as_stale = as_server_reload(c->as_srv) < 0;
	return rc < 0 || c->as_stale ? -1 : 0;
}

static void cloud_renew_timer(evutil_socket_t fd, short what, void *arg)
{
	cloud_as_renew(arg, false);
}

/* The CA files read again (a roll, `cyphonic ca`), then the AS
 * certificate renewed if the signing CA changed, and the TLS context. */
static int cloud_pki_reload(struct cloud *c)
{
	char err[CLOUD_PATH_MAX * 2 + 128];

	if (as_pki_reload(c->pki, err, sizeof(err)) < 0) {
		log_warnx("as: CA files not reloaded, the loaded ones stay: %s", err);
		return -1;
	}
	return cloud_as_renew(c, true);
}

struct trs_snap {
	const struct trs_server *srv;
	struct trs_stats stats;
};

static void trs_snap_take(void *arg)
{
	struct trs_snap *sn = arg;

	sn->stats = *trs_server_stats(sn->srv);
}

/* The TRS's counters as they are now, read on its thread. */
static struct trs_stats cloud_trs_stats(struct cloud *c)
{
	struct trs_snap sn = { .srv = c->trs_srv };

	loopthread_call(c->trs_loop, trs_snap_take, &sn);
	return sn.stats;
}

/* How long the store kept the event loop waiting, as a histogram. */
static void cloud_store_metrics(FILE *f, const struct store_stats *s)
{
	const uint64_t cum[STORE_NBUCKETS] = { s->le_100us, s->le_1ms, s->le_10ms, s->le_100ms,
					       s->le_1s };

	prom_histogram(f, "cyphonic_store_call_duration_seconds",
		       "time the event loop waited for each call into the store",
		       store_buckets_s, cum, STORE_NBUCKETS, s->calls, (double)s->usec / 1e6);
	prom_head(f, "cyphonic_store_failed_total", "counter",
		  "calls into the store that failed (not: not found, exists)");
	prom_sample(f, "cyphonic_store_failed_total", NULL, s->failed);
}

/* [cloud] metrics: each role's counters, from the tables `cyphonic stats`
 * reads too. */
static void cloud_metrics(void *arg, FILE *f)
{
	struct cloud *c = arg;

	if (c->as)
		prom_counters(f, "cyphonic_as", as_counters, as_ncounters, as_stats(c->as));
	if (c->nms)
		prom_counters(f, "cyphonic_nms", nms_counters, nms_ncounters, nms_stats(c->nms));
	if (c->trs_srv) {
		struct trs_stats ts = cloud_trs_stats(c);

		prom_counters(f, "cyphonic_trs", trs_counters, trs_ncounters, &ts);
	}
	if (c->st)
		cloud_store_metrics(f, store_stats(c->st));
}

/* `cyphonic stats --json`: each role's counters (ts: the TRS's, read by
 * the caller) and the store's.  The length, or -1 when it does not fit
 * cap. */
static long cloud_stats_json(struct cloud *c, const struct trs_stats *ts, char *out, size_t cap)
{
	struct json j;

	json_init(&j, out, cap);
	json_obj_begin(&j, NULL);
	if (c->as)
		counters_json(&j, "as", as_counters, as_ncounters, as_stats(c->as));
	else
		json_null(&j, "as");
	if (c->nms)
		counters_json(&j, "nms", nms_counters, nms_ncounters, nms_stats(c->nms));
	else
		json_null(&j, "nms");
	if (c->trs_srv)
		counters_json(&j, "trs", trs_counters, trs_ncounters, ts);
	else
		json_null(&j, "trs");
	if (c->st)
		counters_json(&j, "store", store_counters, store_ncounters, store_stats(c->st));
	else
		json_null(&j, "store");
	json_obj_end(&j);
	return json_finish(&j);
}

/* An administrator changed a node (revoked, tagged): its tunnels are
 * checked again now, here and on the other hosts. */
static void cloud_authz(void *arg)
{
	struct cloud *c = arg;

	if (c->nms_srv) {
		nms_server_authz(c->nms_srv);
		nms_bus_authz(c->nms);
	}
}

/* The console changed nodes or the policy file: read the policy now
 * (not after its settling time: the console renamed a whole file in),
 * and check the tunnels again. */
static void cloud_console_changed(void *arg)
{
	struct cloud *c = arg;

	if (c->nms)
		nms_policy_reload(c->nms, true);   /* the file is whole: renamed in */
	cloud_authz(c);
}

/* The console's live view: the same figures as `cyphonic stats`. */
static void cloud_figures(evutil_socket_t fd, short what, void *arg)
{
	struct cloud *c = arg;
	char out[CONTROL_REPLY_MAX / 4];
	struct trs_stats ts = { 0 };

	if (c->trs_srv)
		ts = cloud_trs_stats(c);
	if (cloud_stats_json(c, &ts, out, sizeof(out)) < 0)
		snprintf(out, sizeof(out), "null");
	console_figures(c->console, out, c->nms ? nms_stats(c->nms) : NULL,
			c->trs_srv ? &ts : NULL);
}

static long cloud_control(void *arg, const char *req, char *out, size_t cap)
{
	struct cloud *c = arg;
	struct trs_stats ts = { 0 };
	long n;

	/* `cyphonic ca` changed the CA files: read them again. */
	if (!strcmp(req, "reload-ca")) {
		if (c->pki && cloud_pki_reload(c) < 0)
			return snprintf(out, cap, "failed: see the cloud's log\n");
		return snprintf(out, cap, "ok\n");
	}
	if (!strcmp(req, "authz")) {
		cloud_authz(c);
		return snprintf(out, cap, "ok\n");
	}
	if (strcmp(req, "stats"))
		return -1;
	if (c->trs_srv)
		ts = cloud_trs_stats(c);
	n = cloud_stats_json(c, &ts, out, cap);
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

/* SIGHUP: the access policy read again. */
static void cloud_hup(evutil_socket_t sig, short what, void *arg)
{
	struct cloud *c = arg;

	log_info("signal %d: reading the access policy and the CA files again", (int)sig);
	if (c->nms)
		nms_policy_reload(c->nms, true);
	if (c->pki)
		cloud_pki_reload(c);
}

/* The NMS asks the TRSes of [nms] trs for relays. */
static int cloud_nms_relay(struct cloud *c)
{
	struct nms_relay_conf rc = { .ntrs = c->conf.ntrs };
	char err[CLOUD_PATH_MAX + 64];
	int rc_ = 0;

	if (!c->conf.ntrs)
		return 0;
	if (rc.ntrs > NMS_MAX_TRS)
		rc.ntrs = NMS_MAX_TRS;
	memcpy(rc.trs, c->conf.trs, rc.ntrs * sizeof(rc.trs[0]));
	if (trs_key_read(c->conf.trs_key, rc.secret, err, sizeof(err)) < 0) {
		log_err("nms: trs_key %s", err);
		rc_ = -1;
	} else if (nms_set_relay(c->nms, &rc) < 0) {
		log_err("nms: cannot set up the link to the TRS");
		rc_ = -1;
	}
	cy_wipe(&rc, sizeof(rc));
	return rc_;
}

/* Room under the descriptor limit (as far as the hard limit allows) for
 * every socket the roles may hold at once: the TRS's relay sessions (one
 * each) and the AS's connections (with those cut in their handshake but
 * not yet let go), and 64 more for the rest. */
static void cloud_raise_nofile(const struct cloud_conf *cf)
{
	size_t conns = cf->as_max_conns > 0 ? (size_t)cf->as_max_conns : AS_MAX_CONNS;
	size_t want = (cf->has_trs ? (size_t)cf->trs_max_sessions : 0) +
		      (cf->has_as ? conns + AS_EVICT_SLACK : 0);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want + 64)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want + 64 ? want + 64
									       : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want + 64)
		log_warnx("%zu relay sessions and AS connections may not all get a socket "
			  "(RLIMIT_NOFILE %llu)", want, (unsigned long long)rl.rlim_cur);
}

static int cloud_trs(struct cloud *c)
{
	struct trs_server_conf tc = { .listen = c->conf.trs_listen };
	char err[CLOUD_PATH_MAX + 64];

	tc.port_lo = (uint16_t)c->conf.trs_port_lo;
	tc.port_hi = (uint16_t)c->conf.trs_port_hi;
	tc.trs.idle_s = c->conf.trs_idle;
	tc.trs.max_sessions = (size_t)c->conf.trs_max_sessions;
	tc.trs.npub = c->conf.npublic < TRS_MAX_PUBLIC ? c->conf.npublic : TRS_MAX_PUBLIC;
	memcpy(tc.trs.pub, c->conf.trs_public, tc.trs.npub * sizeof(tc.trs.pub[0]));
	if (trs_key_read(c->conf.trs_secret, tc.trs.secret, err, sizeof(err)) < 0) {
		log_err("trs: key %s", err);
		return -1;
	}
	snprintf(c->trs_counter, sizeof(c->trs_counter), "%s.counter", c->conf.trs_secret);
	tc.trs.ctr_reserve = ctrfile_reserve;
	tc.trs.ctr_arg = c->trs_counter;
	/* Relayed tunnels' packets go through the TRS: it runs on a thread
	 * of its own, so that no login, store call or route selection on the
	 * cloud's loop ever holds them. */
	c->trs_loop = loopthread_new("trs");
	c->trs_srv = c->trs_loop ? trs_server_new(loopthread_base(c->trs_loop), &tc) : NULL;
	if (c->trs_srv && loopthread_start(c->trs_loop) < 0) {
		trs_server_free(c->trs_srv);
		c->trs_srv = NULL;
	}
	cy_wipe(&tc, sizeof(tc));
	return c->trs_srv ? 0 : -1;
}

static int cloud_start(struct cloud *c)
{
	char err[2 * CLOUD_PATH_MAX + 128];

	cloud_raise_nofile(&c->conf);
	if ((c->conf.has_as || c->conf.has_nms) &&
	    store_open(&c->st, c->conf.store, err, sizeof(err)) < 0) {
		log_err("store: %s", err);
		return -1;
	}
	if (c->conf.has_as) {
		struct as_pki_conf pc = {
			.ca_cert = c->conf.ca_cert, .ca_key = c->conf.ca_key,
			.as_cert = c->conf.as_cert, .as_key = c->conf.as_key,
			.cert_days = c->conf.cert_days, .renew_days = c->conf.renew_days,
		};
		struct timeval hourly = { CLOUD_RENEW_CHECK_S, 0 };
		struct as_conf ac = { .key_lifetime = c->conf.key_lifetime };
		struct as_server_conf sc = {
			.listen = c->conf.as_listen,
			.cert = c->conf.as_cert,
			.key = c->conf.as_key,
			.ca_cert = c->conf.ca_cert,
			.max_conns = c->conf.as_max_conns,
		};

		ac.nnms = c->conf.nnms < AS_MAX_NMS ? c->conf.nnms : AS_MAX_NMS;
		memcpy(ac.nms, c->conf.nms, ac.nnms * sizeof(ac.nms[0]));
		c->pki = as_pki_new(&pc, err, sizeof(err));
		if (!c->pki) {
			log_err("as: %s", err);
			return -1;
		}
		ac.pki = c->pki;
		/* Renewed before it is first served, then checked hourly. */
		cloud_as_renew(c, false);
		c->ev_renew = event_new(c->base, -1, EV_PERSIST, cloud_renew_timer, c);
		if (!c->ev_renew || event_add(c->ev_renew, &hourly) < 0)
			return -1;
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
		struct nms_conf nc = { .registration_ttl = c->conf.registration_ttl,
				       .host = c->conf.host,
				       .store = c->conf.store,
				       .policy = c->conf.policy[0] ? c->conf.policy : NULL };
		char why[CLOUD_PATH_MAX + 256], chan[NMS_BUS_CHANNEL_MAX];

		c->nms = nms_new(c->st, &nc);
		if (!c->nms) {
			log_err("nms: bad settings");
			return -1;
		}
		if (nms_policy_start(c->nms, why, sizeof(why)) < 0) {
			log_err("nms: access policy: %s", why);
			return -1;
		}
		if (cloud_nms_relay(c) < 0)
			return -1;
		c->nms_srv = nms_server_new(c->base, c->nms, &c->conf.nms_listen);
		if (!c->nms_srv)
			return -1;
		/* Signals from the other cloud hosts on this store (docs/cloud.md). */
		nms_bus_channel(c->conf.host[0] ? c->conf.host : "local", chan);
		c->bus = store_bus_new(c->base, c->conf.store, chan, nms_server_bus, c->nms_srv,
				       err, sizeof(err));
		if (!c->bus && err[0]) {
			log_err("nms: %s", err);
			return -1;
		}
	}
	if (c->conf.has_trs && cloud_trs(c) < 0)
		return -1;
	if (!c->as && !c->nms && !c->trs_srv)
		log_warnx("no [as], [nms] or [trs] section: no role to run");
	if (c->conf.control[0]) {
		c->ctl = control_new(c->base, c->conf.control, cloud_control, c);
		if (!c->ctl)
			return -1;
	}
	if (c->conf.has_metrics) {
		c->metrics = metrics_http_new(c->base, &c->conf.metrics, cloud_metrics, c);
		if (!c->metrics)
			return -1;
	}
	if (c->conf.has_console) {
		struct timeval second = { 1, 0 };

		c->console = console_new(c->base, &c->conf, cloud_console_changed, c);
		if (!c->console)
			return -1;
		cloud_figures(-1, 0, c);
		c->ev_figures = event_new(c->base, -1, EV_PERSIST, cloud_figures, c);
		if (!c->ev_figures || event_add(c->ev_figures, &second) < 0 ||
		    console_start(c->console) < 0)
			return -1;
	}
	c->ev_term = evsignal_new(c->base, SIGTERM, cloud_signal, c);
	c->ev_int = evsignal_new(c->base, SIGINT, cloud_signal, c);
	c->ev_hup = evsignal_new(c->base, SIGHUP, cloud_hup, c);
	if (!c->ev_term || !c->ev_int || !c->ev_hup || event_add(c->ev_term, NULL) < 0 ||
	    event_add(c->ev_int, NULL) < 0 || event_add(c->ev_hup, NULL) < 0)
		return -1;
	return 0;
}

static void cloud_stop(struct cloud *c)
{
	if (c->ev_term)
		event_free(c->ev_term);
	if (c->ev_hup)
		event_free(c->ev_hup);
	if (c->ev_int)
		event_free(c->ev_int);
	control_free(c->ctl);
	metrics_http_free(c->metrics);
	if (c->ev_figures)
		event_free(c->ev_figures);
	console_free(c->console);
	store_bus_free(c->bus);
	loopthread_stop(c->trs_loop);
	trs_server_free(c->trs_srv);
	loopthread_free(c->trs_loop);
	nms_server_free(c->nms_srv);
	nms_free(c->nms);
	if (c->ev_renew)
		event_free(c->ev_renew);
	as_server_free(c->as_srv);
	as_free(c->as);
	as_pki_free(c->pki);
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

	while ((opt = getopt(argc, argv, "c:dhK")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'K':
			cloud_conf_keys(stdout);
			return 0;
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
	/* Without [cloud] host: the system's name, cut at the first dot. */
	if (!c.conf.host[0] && gethostname(c.conf.host, sizeof(c.conf.host) - 1) == 0)
		c.conf.host[strcspn(c.conf.host, ".")] = '\0';
	log_set_level(debug ? LOG_LVL_DEBUG : lvl);
	signal(SIGPIPE, SIG_IGN);

	/* The cloud needs no privilege but binding a port below 1024, should
	 * its config ask for one: it becomes [cloud] user before it opens a
	 * file (so what it creates is that user's), keeping only that (and
	 * CAP_SETPCAP, to take it out of the bounding set later), and drops
	 * both once its sockets are bound. */
	if (privdrop(c.conf.user, (const cap_value_t[]){ CAP_NET_BIND_SERVICE, CAP_SETPCAP }, 2,
		     err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 1;
	}
	c.base = event_base_new();
	if (!c.base || cloud_start(&c) < 0)
		goto out;
	if (privdrop(NULL, NULL, 0, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	log_info("cloud %s running (%s%s%s%s%s)", c.conf.domain, c.as ? "AS" : "",
		 c.as && c.nms ? ", " : "", c.nms ? "NMS" : "",
		 (c.as || c.nms) && c.trs_srv ? ", " : "", c.trs_srv ? "TRS" : "");
	if (event_base_dispatch(c.base) < 0)
		goto out;
	rc = 0;
out:
	cloud_stop(&c);
	if (rc == 0)
		log_info("stopped");
	return rc;
}
