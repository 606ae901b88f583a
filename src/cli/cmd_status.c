/* cyphonic status -c NODE.conf [--json]
 *
 * Asks the running cyphonicd of that config, over the control socket its
 * config names, for "status".  --json prints the daemon's reply as it
 * comes; otherwise "key: value" lines: fqdn, vip4, vip6, dns, registered,
 * nat, tunnels (count, then one line per tunnel) and, on an adapter,
 * general_nodes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "jsonread.h"
#include "node_conf.h"

#define STATUS_MAX_TUNNELS 64

static const char *const status_keys[] = { "fqdn", "vip4", "vip6", "dns", "registered", "nat",
					   "mapping" };
#define STATUS_NKEYS (sizeof(status_keys) / sizeof(status_keys[0]))

static const char *const tunnel_keys[] = { "peer", "vip4", "path", "found", "endpoint", "rx_bytes",
					   "tx_bytes" };
#define TUNNEL_NKEYS (sizeof(tunnel_keys) / sizeof(tunnel_keys[0]))

struct status_view {
	char top[STATUS_NKEYS][256];
	long tunnels, gns;
	char tun[STATUS_MAX_TUNNELS][TUNNEL_NKEYS][64];
};

static void status_copy(char *dst, size_t len, enum jsonread_type t, const char *v)
{
	if (t == JR_BOOL)
		v = !strcmp(v, "true") ? "yes" : "no";
	else if (t == JR_NULL)
		v = "-";
	snprintf(dst, len, "%s", v);
}

static int status_leaf(void *arg, const char *path, enum jsonread_type t, const char *v)
{
	struct status_view *s = arg;
	unsigned idx;
	int used = 0;
	size_t i;

	if (t == JR_ARRAY) {
		if (!strcmp(path, "tunnels"))
			s->tunnels = strtol(v, NULL, 10);
		else if (!strcmp(path, "general_nodes"))
			s->gns = strtol(v, NULL, 10);
		return 0;
	}
	for (i = 0; i < STATUS_NKEYS; i++)
		if (!strcmp(path, status_keys[i]))
			status_copy(s->top[i], sizeof(s->top[i]), t, v);
	if (sscanf(path, "tunnels[%u].%n", &idx, &used) == 1 && used && idx < STATUS_MAX_TUNNELS)
		for (i = 0; i < TUNNEL_NKEYS; i++)
			if (!strcmp(path + used, tunnel_keys[i]))
				status_copy(s->tun[idx][i], sizeof(s->tun[idx][i]), t, v);
	return 0;
}

static int status_print(const char *reply)
{
	struct status_view *s = calloc(1, sizeof(*s));
	long i;
	size_t k;

	if (!s)
		return cli_fail("out of memory");
	s->gns = -1;
	if (jsonread_walk(reply, status_leaf, s) < 0) {
		free(s);
		return cli_fail("the daemon's reply is not valid JSON: %.80s", reply);
	}
	for (k = 0; k < STATUS_NKEYS; k++)
		printf("%s: %s\n", status_keys[k], s->top[k][0] ? s->top[k] : "-");
	printf("tunnels: %ld\n", s->tunnels);
	for (i = 0; i < s->tunnels && i < STATUS_MAX_TUNNELS; i++) {
		printf("  tunnel %ld:", i);
		for (k = 0; k < TUNNEL_NKEYS; k++)
			printf(" %s=%s", tunnel_keys[k], s->tun[i][k][0] ? s->tun[i][k] : "-");
		printf("\n");
	}
	if (s->gns >= 0)
		printf("general_nodes: %ld\n", s->gns);
	free(s);
	return CLI_OK;
}

int cmd_status(int argc, char **argv)
{
	const char *conf;
	struct node_conf c;
	char err[512], what[CY_FQDN_MAX + 32];
	bool json;
	int rc;

	rc = cli_opts_json(argc, argv, "status", "config", 'c', &conf, &json);
	if (rc)
		return rc;
	if (node_conf_load(&c, conf, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	snprintf(what, sizeof(what), "cyphonicd for %s", c.fqdn);
	rc = cli_query_print(c.control, what, "status", json, status_print);
	node_conf_free(&c);
	return rc;
}
