/* cyphonic policy check FILE
 * cyphonic policy test FROM TO [PROTO[/PORT]] --dir DIR
 *
 * check: parses an access policy (docs/policy.md) as the NMS would: "FILE:
 * N rules" and exit 0, or the file, line and what is wrong and exit 1.
 * test: decides with the cloud's policy ([nms] policy in DIR/cloud.conf)
 * and the tags in its store whether node FROM may reach node TO (with the
 * flow PROTO/PORT: tcp/554, udp/53, icmp): "allow (FILE:LINE)" and exit 0,
 * or "deny (no rule allows it)" and exit 1. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "policy.h"

static int policy_check(int argc, char **argv)
{
	struct policy *p = NULL;
	char err[512];
	int rc;

	if (argc != 2)
		return cli_usage("policy");
	rc = policy_load(argv[1], &p, err, sizeof(err));
	if (rc == -ENOENT)
		return cli_fail("%s: no such file", argv[1]);
	if (rc < 0)
		return cli_fail("%s", err);
	printf("%s: %zu rules, valid\n", argv[1], policy_rules(p));
	policy_free(p);
	return CLI_OK;
}

/* "tcp/554", "udp", "icmp": protocol number and port (0: none given). */
static int flow_parse(const char *s, uint8_t *proto, uint16_t *port)
{
	const char *slash = strchr(s, '/');
	int p = policy_proto(s, slash ? (size_t)(slash - s) : strlen(s));
	char *end;
	long v;

	*port = 0;
	if (p <= 0)
		return -1;   /* unknown, or "any": a test names one protocol */
	*proto = (uint8_t)p;
	if (!slash)
		return 0;
	v = strtol(slash + 1, &end, 10);
	if (*proto == POLICY_ICMP || *end || v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int node_find(struct store *st, const char *name, struct store_node *n)
{
	int err = store_node_by_name(st, name, n);

	if (err == -ENOENT)
		err = store_node_by_fqdn(st, name, n);
	if (err == -ENOENT)
		return cli_fail("%s: no such node, adapter or general node", name);
	if (err < 0)
		return cli_fail("store: %s", strerror(-err));
	return 0;
}

static int policy_test(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_node from, to;
	struct policy_node pf, pt;
	struct policy *p = NULL;
	struct cloud_conf c;
	struct store *st = NULL;
	const char *dir = NULL;
	char err[512];
	uint8_t proto = 0;
	uint16_t port = 0;
	unsigned line = 0;
	bool flow, ok;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt != 'd')
			return cli_usage("policy");
		dir = optarg;
	}
	if (!dir || argc - optind < 2 || argc - optind > 3)
		return cli_usage("policy");
	flow = argc - optind == 3;
	if (flow && flow_parse(argv[optind + 2], &proto, &port) < 0)
		return cli_fail("'%s': not PROTO or PROTO/PORT (tcp/554, udp/53, icmp)",
				argv[optind + 2]);
	if (cli_cloud_conf(dir, &c) < 0)
		return CLI_FAIL;
	if (!c.policy[0]) {
		printf("allow (cloud.conf names no [nms] policy: everything is allowed)\n");
		return CLI_OK;
	}
	rc = policy_load(c.policy, &p, err, sizeof(err));
	if (rc < 0 && rc != -ENOENT)
		return cli_fail("%s", err);
	if (cli_store_open(&c, &st) < 0 || node_find(st, argv[optind], &from) ||
	    node_find(st, argv[optind + 1], &to)) {
		policy_free(p);
		store_close(st);
		return CLI_FAIL;
	}
	pf = (struct policy_node){ from.name, from.fqdn, from.tags };
	pt = (struct policy_node){ to.name, to.fqdn, to.tags };
	ok = flow ? policy_allows_flow(p, &pf, &pt, proto, port, &line)
		  : policy_allows(p, &pf, &pt, &line);
	if (!p)
		printf("allow (%s does not exist: everything is allowed)\n", c.policy);
	else if (ok)
		printf("allow (%s:%u)\n", c.policy, line);
	else
		printf("deny (no rule of %s allows it)\n", c.policy);
	policy_free(p);
	store_close(st);
	return ok ? CLI_OK : CLI_FAIL;
}

int cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return policy_check(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "test"))
		return policy_test(argc - 1, argv + 1);
	return cli_usage("policy");
}
