/* cyphonic ping NAME -c NODE.conf [-n COUNT] [-i MS] [--json]
 *
 * Asks the running cyphonicd of that config to ping NAME (an FQDN, or a
 * bare name in the node's domain) through the overlay: the daemon selects
 * the route and sets the tunnel up when there is none yet, then sends
 * COUNT authenticated probes through the tunnel, which the peer's daemon
 * echoes (docs/tunnel.md, "Overlay ping").  Prints the path (direct or
 * relay), the peer's endpoint and the overlay RTT min/avg/max.
 *
 * Control requests: "ping NAME COUNT MS" -> {"id": N} or {"error": ...};
 * "ping-result N" polled until its state is "done" or "failed".
 * Exit status 0 when at least one reply came back. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "control.h"
#include "jsonread.h"
#include "node_conf.h"

#define PING_POLL_MS 10
#define PING_SLACK_MS 10000   /* route selection + handshake + the last replies */

struct ping_view {
	char state[16], peer[CY_FQDN_MAX + 1], path[16], first_path[16], endpoint[64], error[160];
	unsigned long id, sent, received, min_us, avg_us, max_us, path_changes;
	bool have_id;
};

static int ping_leaf(void *arg, const char *path, enum jsonread_type t, const char *v)
{
	struct ping_view *p = arg;

	if (t == JR_NULL)
		return 0;
	if (!strcmp(path, "id")) {
		p->id = strtoul(v, NULL, 10);
		p->have_id = true;
	} else if (!strcmp(path, "state")) {
		snprintf(p->state, sizeof(p->state), "%s", v);
	} else if (!strcmp(path, "peer")) {
		snprintf(p->peer, sizeof(p->peer), "%s", v);
	} else if (!strcmp(path, "path")) {
		snprintf(p->path, sizeof(p->path), "%s", v);
	} else if (!strcmp(path, "first_path")) {
		snprintf(p->first_path, sizeof(p->first_path), "%s", v);
	} else if (!strcmp(path, "path_changes")) {
		p->path_changes = strtoul(v, NULL, 10);
	} else if (!strcmp(path, "endpoint")) {
		snprintf(p->endpoint, sizeof(p->endpoint), "%s", v);
	} else if (!strcmp(path, "error")) {
		snprintf(p->error, sizeof(p->error), "%s", v);
	} else if (!strcmp(path, "sent")) {
		p->sent = strtoul(v, NULL, 10);
	} else if (!strcmp(path, "received")) {
		p->received = strtoul(v, NULL, 10);
	} else if (!strcmp(path, "rtt_min_us")) {
		p->min_us = strtoul(v, NULL, 10);
	} else if (!strcmp(path, "rtt_avg_us")) {
		p->avg_us = strtoul(v, NULL, 10);
	} else if (!strcmp(path, "rtt_max_us")) {
		p->max_us = strtoul(v, NULL, 10);
	}
	return 0;
}

static int ping_ask(const char *sock, const char *what, const char *req, struct ping_view *p,
		    bool print_json)
{
	char *reply;
	int rc = cli_query(sock, what, req, &reply);

	if (rc)
		return rc;
	memset(p, 0, sizeof(*p));
	if (jsonread_walk(reply, ping_leaf, p) < 0) {
		rc = cli_fail("the daemon's reply is not valid JSON: %.80s", reply);
	} else if (print_json) {
		fputs(reply, stdout);
		if (reply[0] && reply[strlen(reply) - 1] != '\n')
			fputc('\n', stdout);
	}
	free(reply);
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

struct ping_args {
	const char *conf, *name;
	unsigned long count, interval;
	bool json;
};

/* The command line into a; 0, or the exit status of a bad one. */
static int ping_parse_args(int argc, char **argv, struct ping_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int opt;

	*a = (struct ping_args){ .count = 5, .interval = 200 };
	while ((opt = getopt_long(argc, argv, "c:n:i:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': a->conf = optarg; break;
		case 'n':
			a->count = strtoul(optarg, &end, 10);
			if (*end || !a->count || a->count > 100)
				return cli_fail("-n: a count from 1 to 100");
			break;
		case 'i':
			a->interval = strtoul(optarg, &end, 10);
			if (*end || a->interval < 10 || a->interval > 10000)
				return cli_fail("-i: an interval from 10 to 10000 ms");
			break;
		case 'j': a->json = true; break;
		default: return cli_usage("ping");
		}
	}
	if (optind != argc - 1 || !a->conf)
		return cli_usage("ping");
	a->name = argv[optind];
	if (!a->name[0] || strlen(a->name) > CY_FQDN_MAX + 1 || strpbrk(a->name, " \t\r\n"))
		return cli_fail("'%s' is not a node name", a->name);
	return 0;
}

/* Poll for the result of ping p->id until the daemon is done with it
 * (or forgot it), for at most limit ms; the result into p. */
static int ping_wait(const char *sock, const char *what, const char *name, long limit,
		     struct ping_view *p)
{
	char req[CONTROL_REQ_MAX];
	long waited = 0;
	int rc;

	snprintf(req, sizeof(req), "ping-result %lu", p->id);
	for (;;) {
		struct ping_view q;

		rc = ping_ask(sock, what, req, &q, false);
		if (rc)
			return rc;
		if (!strcmp(q.state, "done") || !strcmp(q.state, "failed") ||
		    !strcmp(q.state, "unknown")) {
			*p = q;
			return 0;
		}
		if (waited >= limit)
			return cli_fail("ping %s: no answer from the daemon after %ld ms", name,
					waited);
		sleep_ms(PING_POLL_MS);
		waited += PING_POLL_MS;
	}
}

static void ping_print_json(const struct ping_view *p)
{
	printf("{\"peer\":\"%s\",\"state\":\"%s\",\"path\":%s%s%s,\"first_path\":%s%s%s,"
	       "\"path_changes\":%lu,\"endpoint\":%s%s%s,"
	       "\"sent\":%lu,\"received\":%lu,\"rtt_min_ms\":%.3f,\"rtt_avg_ms\":%.3f,"
	       "\"rtt_max_ms\":%.3f}\n", p->peer, p->state,
	       p->path[0] ? "\"" : "", p->path[0] ? p->path : "null", p->path[0] ? "\"" : "",
	       p->first_path[0] ? "\"" : "", p->first_path[0] ? p->first_path : "null",
	       p->first_path[0] ? "\"" : "", p->path_changes,
	       p->endpoint[0] ? "\"" : "", p->endpoint[0] ? p->endpoint : "null",
	       p->endpoint[0] ? "\"" : "", p->sent, p->received, p->min_us / 1000.0,
	       p->avg_us / 1000.0, p->max_us / 1000.0);
}

/* The outcome (as text unless json), and the exit status: 0 when at
 * least one reply came back. */
static int ping_report(const struct ping_view *p, const char *name, bool json)
{
	if (!strcmp(p->state, "failed"))
		return cli_fail("ping %s: %s", p->peer[0] ? p->peer : name,
				p->error[0] ? p->error : "failed");
	if (!strcmp(p->state, "unknown"))
		return cli_fail("ping %s: the daemon forgot the ping", name);
	if (!json) {
		printf("PING %s: path %s, endpoint %s\n", p->peer, p->path[0] ? p->path : "-",
		       p->endpoint[0] ? p->endpoint : "-");
		if (p->path_changes)
			printf("the path changed %lu time%s during the ping (first %s, last %s)\n",
			       p->path_changes, p->path_changes == 1 ? "" : "s", p->first_path,
			       p->path);
		printf("%lu probes sent, %lu received, %lu%% loss\n", p->sent, p->received,
		       p->sent ? (p->sent - p->received) * 100 / p->sent : 0);
		if (p->received)
			printf("overlay rtt min/avg/max = %.3f/%.3f/%.3f ms (%s)\n",
			       p->min_us / 1000.0, p->avg_us / 1000.0, p->max_us / 1000.0,
			       p->path);
	}
	if (!p->received) {
		fprintf(stderr, "cyphonic: ping %s: no replies\n", p->peer);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cmd_ping(int argc, char **argv)
{
	char err[512], what[CY_FQDN_MAX + 32], req[CONTROL_REQ_MAX];
	struct ping_args a;
	struct node_conf c;
	struct ping_view p;
	int rc;

	rc = ping_parse_args(argc, argv, &a);
	if (rc)
		return rc;
	if (node_conf_load(&c, a.conf, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	snprintf(what, sizeof(what), "cyphonicd for %s", c.fqdn);

	snprintf(req, sizeof(req), "ping %s %lu %lu", a.name, a.count, a.interval);
	rc = ping_ask(c.control, what, req, &p, false);
	if (rc)
		goto out;
	if (!p.have_id) {
		rc = cli_fail("ping %s: %s", a.name, p.error[0] ? p.error : "refused");
		goto out;
	}
	rc = ping_wait(c.control, what, a.name, (long)(a.count * a.interval) + PING_SLACK_MS,
		       &p);
	if (rc)
		goto out;
	if (a.json)
		ping_print_json(&p);
	rc = ping_report(&p, a.name, a.json);
out:
	node_conf_free(&c);
	return rc;
}
