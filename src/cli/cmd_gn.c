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
	char tags[STORE_TAGS_MAX + 1];   /* the access policy's (policy.h) */
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

/* The adapter the general node goes behind: enrolled, an adapter, not
 * revoked.  0, else prints why and returns CLI_FAIL. */
static int gn_adapter(struct store *st, const struct gn_args *a, const char *domain,
		      struct store_node *ad)
{
	int err = store_node_by_name(st, a->adapter, ad);

	if (err == -ENOENT)
		return cli_fail("no adapter named '%s' in %s (enrol it with 'cyphonic adapter add')",
				a->adapter, domain);
	if (err < 0)
		return cli_fail("store: %s", strerror(-err));
	if (ad->kind != CY_KIND_ADAPTER)
		return cli_fail("%s is not an adapter", ad->fqdn);
	if (ad->revoked)
		return cli_fail("adapter %s is revoked (%s)", ad->fqdn, ad->revoke_reason);
	return 0;
}

/* One MAC, one general node: the adapter finds it by its MAC. */
static int gn_mac_unused(struct store *st, const uint8_t mac[6])
{
	struct gn_mac_find mf = { .mac = mac };
	char s[18];
	int err;

	err = store_node_foreach(st, -1, gn_mac_match, &mf);
	if (err < 0)
		return cli_fail("store: %s", strerror(-err));
	if (mf.hit)
		return cli_fail("MAC %s is already enrolled as %s%s", cy_mac_str(mac, s),
				mf.found.fqdn, mf.found.revoked ? " (revoked)" : "");
	return 0;
}

static int gn_add(const struct gn_args *a)
{
	struct store_node ad, n;
	struct cloud_conf c;
	struct store *st = NULL;
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], mac[18];
	int rc = CLI_FAIL, err;

	if (cli_node_start(a->dir, a->name, &c, &n))
		return CLI_FAIL;
	if (cli_store_open(&c, &st) < 0)
		return CLI_FAIL;
	if (gn_adapter(st, a, c.domain, &ad) || cli_name_unused(st, a->name) ||
	    gn_mac_unused(st, a->mac))
		goto out;
	n.kind = CY_KIND_GN;
	n.adapter_id = ad.id;
	strcpy(n.tags, a->tags);
	memcpy(n.mac, a->mac, 6);
	err = store_node_add(st, &n);
	if (err == -EEXIST) {
		cli_fail("%s or MAC %s is already enrolled", n.fqdn, cy_mac_str(a->mac, mac));
		goto out;
	}
	if (err < 0) {
		cli_node_add_fail(&n, err);
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
	if (argc >= 2 && !strcmp(argv[1], "add"))
		return gn_cmd_add(argc - 1, argv + 1);
	return cli_subcmd_other("gn", argc, argv);
}
