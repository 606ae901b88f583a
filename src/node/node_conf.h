/* A node's configuration file (nodes/NAME.conf, written by
 * `cyphonic node add`).  Shared by cyphonicd and by `cyphonic status`.
 *
 *   [node]
 *   name = alpha                    label; FQDN is name.domain   (required)
 *   domain = example.test           the cloud's domain           (required)
 *   cloud = 192.0.2.1,2001:db8::1   AS addresses, tried in order (required)
 *   as_port = 7443
 *   port = 7446                     local UDP port: NMS signaling and data
 *   tun = cy0                       TUN device name
 *   mtu = 1400                      TUN MTU
 *   control = /run/cyphonic/alpha.example.test.sock
 *   keepalive = 15                  seconds between keepalives (upper bound)
 *   log_level = info                error | warn | info | debug
 *   metrics = 127.0.0.1:9471        Prometheus text on GET /metrics (port 9471
 *                                   unless given)
 *   user = cyphonic                 run as this user once started (keeping
 *                                   CAP_NET_ADMIN, and CAP_NET_RAW and
 *                                   CAP_NET_BIND_SERVICE for an adapter);
 *                                   default: stay root, with those
 *
 *   [resolver]
 *   listen = 127.0.0.153:53         where the resolver answers (UDP and TCP)
 *   upstream = 192.0.2.53,...       resolvers for other names; default: the
 *                                   nameservers of /etc/resolv.conf
 *   system = no                     yes: install as the system's resolver
 *                                   (/etc/resolv.conf), restored on exit
 *
 *   [credentials]
 *   ca = <PEM, multi-line>          the cloud CA certificate     (required)
 *   cert = <PEM>                    node certificate   } one of these pairs,
 *   key = <PEM>                     its private key    } or password
 *   password = ...                  ID + password login
 *   renewed = PATH                  where cyphonicd keeps the credentials the
 *                                   AS renews (CAs, certificate and key), read
 *                                   at start when it grew from the ones above;
 *                                   default /var/lib/cyphonic/<fqdn>.credentials
 *
 *   [adapter]                       present: cyphonicd is an adapter (has_adapter)
 *   lan = eth1                      LAN interface serving general nodes
 *                                   (required in the section; < 16 chars)
 *   leases = PATH                   lease file; default
 *                                   /var/lib/cyphonic/<fqdn>.leases
 *   lease_time = 3600               DHCP lease seconds, 60..86400
 *   refresh = 60                    seconds between general-node list
 *                                   fetches (Information Request), 5..3600
 *   nat = yes                       NAT the general nodes' Internet traffic
 *                                   out of the uplink
 */
#ifndef CY_NODE_CONF_H
#define CY_NODE_CONF_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>

#include "privdrop.h"
#include "wire.h"

#define NODE_MAX_CLOUD 4
#define NODE_PATH_MAX 108      /* UNIX socket paths (sun_path) */
#define NODE_METRICS_PORT 9471
#define NODE_FILE_MAX 4096      /* other file paths (PATH_MAX) */
#define NODE_MAX_UPSTREAM 4

struct node_conf {
	char name[CY_NAME_MAX + 1];
	char domain[CY_FQDN_MAX + 1];
	char fqdn[CY_FQDN_MAX + 1];          /* derived: name.domain */
	size_t ncloud;
	struct sockaddr_storage cloud[NODE_MAX_CLOUD]; /* port = as_port */
	int as_port;
	int port;
	char tun[16];
	int mtu;
	char control[NODE_PATH_MAX];
	int keepalive;
	int sched_priority;                  /* SCHED_FIFO priority, 0 (default): normal (rtsched.h) */
	char log_level[16];
	char user[PRIVDROP_USER_MAX + 1];    /* "" none */
	bool has_metrics;
	struct sockaddr_storage metrics;     /* [node] metrics */

	struct sockaddr_storage dns_listen;
	size_t nupstream;
	struct sockaddr_storage upstream[NODE_MAX_UPSTREAM]; /* port 53 unless given */
	bool dns_system;

	char *ca_pem;        /* heap; node_conf_free() wipes and frees */
	char *cert_pem;
	char *key_pem;
	char *password;
	char renewed[NODE_FILE_MAX];         /* default set by the loader */

	/* [adapter]; meaningful only when has_adapter */
	char adapter_lan[16];                /* IFNAMSIZ: a valid interface name */
	char adapter_leases[NODE_FILE_MAX];  /* default set by the loader */
	int adapter_lease_time;              /* seconds */
	int adapter_refresh;                 /* seconds */
	bool adapter_nat;

	bool has_node, has_credentials, has_resolver, has_adapter; /* sections seen */
};

/* 0, or -1 with "FILE:LINE: reason" in err. */
int node_conf_load(struct node_conf *c, const char *path, char *err, size_t errlen);
/* Every key the loader takes, "section key" a line (conf_keys_print()). */
void node_conf_keys(FILE *f);
int node_conf_load_string(struct node_conf *c, const char *name, const char *text,
			  char *err, size_t errlen);
void node_conf_free(struct node_conf *c);
/* An interface name the kernel takes: 1..15 printable bytes, not "." or
 * "..", no '/', ':' or white space ([adapter] lan, `cyphonic adapter add`). */
bool node_conf_ifname_ok(const char *s);

#endif
