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

#include "addr.h"
#include "cli.h"

struct gn_args {
	const char *name, *dir, *adapter;
	uint8_t mac[6];
};

struct gn_mac_find {
	const uint8_t *mac;
	struct store_node found;
	bool hit;
};

static int gn_mac_match(const struct store_node *n, void *arg)
{
	struct gn_mac_find *f = arg;

	if (n->kind != CY_KIND_GN || memcmp(n->mac, f->mac, 6))
		return 0;
	f->found = *n;
	f->hit = true;
	return 1;
}

static int gn_add(const struct gn_args *a)
{
	struct gn_mac_find mf = { .mac = a->mac };
	struct store_node ad, n;
	struct cloud_conf c;
	struct store *st = NULL;
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], mac[18];
	int rc = CLI_FAIL, err;

	if (cli_cloud_conf(a->dir, &c) < 0)
		return CLI_FAIL;
	memset(&n, 0, sizeof(n));
	strcpy(n.name, a->name);
	if (snprintf(n.fqdn, sizeof(n.fqdn), "%s.%s", a->name, c.domain) >= (int)sizeof(n.fqdn))
		return cli_fail("%s.%s: longer than %d characters", a->name, c.domain,
				CY_FQDN_MAX);
	if (cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	err = store_node_by_name(st, a->adapter, &ad);
	if (err == -ENOENT) {
		cli_fail("no adapter named '%s' in %s (enrol it with 'cyphonic adapter add')",
			 a->adapter, c.domain);
		goto out;
	}
	if (err < 0) {
		cli_fail("store: %s", strerror(-err));
		goto out;
	}
	if (ad.kind != CY_KIND_ADAPTER) {
		cli_fail("%s is not an adapter", ad.fqdn);
		goto out;
	}
	if (ad.revoked) {
		cli_fail("adapter %s is revoked (%s)", ad.fqdn, ad.revoke_reason);
		goto out;
	}
	{
		struct store_node dup;

		if (store_node_by_name(st, a->name, &dup) == 0) {
			cli_fail("%s is already enrolled%s", dup.fqdn,
				 dup.revoked ? " (revoked; names are not reused)" : "");
			goto out;
		}
	}
	/* One MAC, one general node: the adapter finds it by its MAC. */
	err = store_node_foreach(st, -1, gn_mac_match, &mf);
	if (err < 0) {
		cli_fail("store: %s", strerror(-err));
		goto out;
	}
	if (mf.hit) {
		cli_fail("MAC %s is already enrolled as %s%s", cy_mac_str(a->mac, mac),
			 mf.found.fqdn, mf.found.revoked ? " (revoked)" : "");
		goto out;
	}
	n.kind = CY_KIND_GN;
	n.adapter_id = ad.id;
	memcpy(n.mac, a->mac, 6);
	err = store_node_add(st, &n);
	if (err == -EEXIST) {
		cli_fail("%s or MAC %s is already enrolled", n.fqdn, cy_mac_str(a->mac, mac));
		goto out;
	}
	if (err == -ENOSPC) {
		cli_fail("the virtual address ranges are full");
		goto out;
	}
	if (err < 0) {
		cli_fail("store: cannot add %s: %s", n.fqdn, strerror(-err));
		goto out;
	}
	printf("%s vip4 %s vip6 %s mac %s adapter %s\n", n.fqdn,
	       inet_ntop(AF_INET, n.vip4, v4, sizeof(v4)),
	       inet_ntop(AF_INET6, n.vip6, v6, sizeof(v6)), cy_mac_str(n.mac, mac), ad.fqdn);
	rc = CLI_OK;
out:
	store_close(st);
	return rc;
}

static int gn_cmd_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "adapter", required_argument, NULL, 'a' },
		{ "mac", required_argument, NULL, 'm' },
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
		default: return cli_usage("gn");
		}
	}
	if (optind != argc - 1 || !a.dir || !a.adapter || !mac)
		return cli_usage("gn");
	a.name = argv[optind];
	if (!cy_label_ok(a.name))
		return cli_fail("'%s' is not a valid general node name: one DNS label, lowercase "
				"a-z, 0-9 and '-', at most %d characters", a.name, CY_NAME_MAX);
	if (!cy_label_ok(a.adapter))
		return cli_fail("'%s' is not a valid adapter name", a.adapter);
	if (!cy_mac_parse(mac, a.mac) || !cy_mac_unicast(a.mac))
		return cli_fail("--mac: '%s' is not a unicast MAC address like "
				"02:00:5e:10:00:01 (not multicast, not all zeros)", mac);
	return gn_add(&a);
}

int cmd_gn(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("gn");
	if (!strcmp(argv[1], "add"))
		return gn_cmd_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return cli_usage("gn");
	cli_fail("gn: unknown subcommand '%s'", argv[1]);
	return cli_usage("gn");
}
