/* cyphonic gn add NAME --dir DIR --adapter ADAPTER --mac MAC
 *
 * Enrols a general node NAME.DOMAIN behind ADAPTER (an enrolled, not
 * revoked adapter): allocates its virtual IPv4 and IPv6 like a node's and
 * records its MAC, by which the adapter recognises it on its LAN (DHCP
 * gives that MAC the VIPv4).  A general node runs no CYPHONIC software and
 * has no credentials of its own: its adapter logs it in (AS, Login Request
 * with FOR), so no config file is written. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "cli.h"

struct gn_args {
	const char *name, *dir, *adapter;
	uint8_t mac[6];
	char tags[STORE_TAGS_MAX + 1];   /* the access policy's (policy.h) */
};

static int gn_add(const struct gn_args *a)
{
	struct store_node n;
	struct cloud_conf c;
	struct store *st = NULL;
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], mac[CY_MAC_STR], err[512];
	int rc = CLI_FAIL;

	if (cli_cloud_conf(a->dir, &c) < 0 || cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	if (admin_gn_add(st, &c, a->name, a->adapter, a->mac, a->tags, &n, err, sizeof(err)) < 0) {
		cli_fail("%s", err);
	} else {
		printf("%s vip4 %s vip6 %s mac %s adapter %s.%s\n", n.fqdn,
		       inet_ntop(AF_INET, n.vip4, v4, sizeof(v4)),
		       inet_ntop(AF_INET6, n.vip6, v6, sizeof(v6)), cy_mac_str(n.mac, mac),
		       a->adapter, c.domain);
		rc = CLI_OK;
	}
	store_close(st);
	return rc;
}

static int gn_cmd_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "adapter", required_argument, NULL, 'a' },
		{ "mac", required_argument, NULL, 'm' },
		{ "tag", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gn_args a = { 0 };
	const char *mac = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': a.dir = optarg; break;
		case 'a': a.adapter = optarg; break;
		case 'm': mac = optarg; break;
		case 't':
			if (cli_tag_add(a.tags, optarg))
				return CLI_FAIL;
			break;
		default: return cli_usage("gn");
		}
	}
	if (optind != argc - 1 || !a.dir || !a.adapter || !mac)
		return cli_usage("gn");
	a.name = argv[optind];
	if (!cy_mac_parse(mac, a.mac) || !cy_mac_unicast(a.mac))
		return cli_fail("--mac: '%s' is not a unicast MAC address like "
				"02:00:5e:10:00:01 (not multicast, not all zeros)", mac);
	return gn_add(&a);
}

int cmd_gn(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return gn_cmd_add(argc - 1, argv + 1);
	return cli_subcmd_other("gn", argc, argv);
}
