/* cyphonicd: the CYPHONIC node daemon.  cyphonicd -c FILE
 *
 * Composes the parts: the node (node.h) and, when the config has an
 * [adapter] section, the adapter (adapter.h) on the node, one event loop. */
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "adapter.h"
#include "dpio.h"
#include "log.h"
#include "node.h"
#include "node_conf.h"
#include "privdrop.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: cyphonicd -c FILE\n"
		   "  -c FILE  node configuration (nodes/NAME.conf from `cyphonic node add`)\n"
		   "  -K       list the configuration keys it takes (\"section key\" a line)\n"
		   "  -h       this help\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(base);
}

/* The birthday approach opens up to DPIO_SPARES_MAX sockets for a moment,
 * an adapter a port per general node: the soft descriptor limit (often
 * 1024) goes up to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("raising the descriptor limit");
	}
}

/* Everything that needed more is made: keep CAP_NET_ADMIN (addresses and
 * routes on the TUN, socket buffers, the adapter's nftables) and, for an
 * adapter, CAP_NET_RAW (its LAN socket) and CAP_NET_BIND_SERVICE (DNS over
 * TCP on port 53 of its LAN address, bound when it learns the address),
 * and become [node] user. */
static int drop_privileges(const struct node_conf *conf)
{
	static const cap_value_t keep[] = { CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE };
	char err[NODE_FILE_MAX + 128];

	/* What it writes later, it writes as the user: renewed credentials,
	 * an adapter's leases. */
	if (privdrop_state_dir(conf->renewed, conf->user, err, sizeof(err)) < 0 ||
	    (conf->has_adapter &&
	     privdrop_state_dir(conf->adapter_leases, conf->user, err, sizeof(err)) < 0) ||
	    privdrop(conf->user, keep, conf->has_adapter ? 3 : 1, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct node_conf conf = { 0 };
	struct dp_conf dp;
	struct event_base *base = NULL;
	struct event *ev_term = NULL, *ev_int = NULL;
	struct node *node = NULL;
	struct adapter *adapter = NULL;
	const char *path = NULL;
	char err[512];
	enum log_level lvl;
	bool ok;
	int c, rc = 1;

	while ((c = getopt(argc, argv, "c:hK")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'K':
			node_conf_keys(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 1;
	}
	if (node_conf_load(&conf, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	lvl = log_level_from_string(conf.log_level[0] ? conf.log_level : "info", &ok);
	log_init("cyphonicd", lvl);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	base = event_base_new();
	if (!base)
		goto out;
	ev_term = evsignal_new(base, SIGTERM, on_signal, base);
	ev_int = evsignal_new(base, SIGINT, on_signal, base);
	if (!ev_term || !ev_int || event_add(ev_term, NULL) < 0 || event_add(ev_int, NULL) < 0)
		goto out;
	dp_conf_from_env(&dp);   /* read once: the bench switches techniques off */
	node = node_new(base, &conf, &dp);
	if (!node)
		goto out;
	/* An [adapter] section: the node also serves general nodes. */
	if (conf.has_adapter) {
		adapter = adapter_new(base, node, &conf);
		if (!adapter)
			goto out;
	}
	if (drop_privileges(&conf) < 0)
		goto out;
	event_base_dispatch(base);
	adapter_stop(adapter);
	node_stop(node);
	rc = 0;
out:
	adapter_free(adapter);
	node_free(node);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	if (base)
		event_base_free(base);
	libevent_global_shutdown();
	node_conf_free(&conf);
	return rc;
}
