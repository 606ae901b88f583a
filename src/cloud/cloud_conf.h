/* The cloud's configuration (DIR/cloud.conf, written by `cyphonic init`).
 * Which roles cyphonic-cloud runs follows the sections present (a section
 * is seen through its keys: write at least `listen`).  A host that runs
 * only a TRS needs no store and no CA: [cloud] domain and [trs] suffice.
 *
 *   [cloud]
 *   domain = example.test                          (required)
 *   store = /var/lib/cyphonic/cloud.db             sqlite path or URL (AS, NMS)
 *   ca_cert = DIR/ca.pem                           every CA trusted (AS, NMS)
 *   ca_key = DIR/ca.key                            the signing CA's key: the CLI
 *                                                  enrols with it, the AS renews
 *                                                  (without: no renewal)
 *   control = DIR/cloud.sock                       stats socket
 *   log_level = info
 *   user = cyphonic                                run as this user (no capability:
 *                                                  it needs none); it must own DIR
 *   host = cloud-a                                 this host's name among the cloud's
 *                                                  hosts (default: the system's host
 *                                                  name); registrations record it
 *   metrics = 127.0.0.1:9470                       Prometheus text on GET /metrics
 *                                                  (port 9470 unless given)
 *
 *   [as]
 *   listen = [::]:7443                             dual-stack
 *   cert = DIR/as.pem                              server cert from the CA (required)
 *   key = DIR/as.key                               (required)
 *   key_lifetime = 3600                            seconds a common key lives
 *   cert_days = 90                                 lifetime of node and AS certificates
 *   renew_days = 30                                renewed with this many days left
 *   nms = 192.0.2.1:7444,[2001:db8::1]:7444        NMS endpoints given to nodes (required)
 *   max_conns = 1024                               TLS connections at once
 *
 *   [nms]
 *   listen = [::]:7444
 *   registration_ttl = 60                          seconds without keepalive
 *   trs = 192.0.2.1:7445,[2001:db8::1]:7445        TRSes to ask for relays (optional;
 *                                                  without: no relayed paths, RESULT 9)
 *   trs_key = DIR/trs.key                          the NMS-TRS key (with trs)
 *   policy = DIR/policy                            the access policy (docs/policy.md;
 *                                                  no file there: every pair allowed)
 *
 *   [trs]
 *   listen = [::]:7445                             Relay Requests from the NMS
 *   key = DIR/trs.key                              the NMS-TRS key (required)
 *   public = 192.0.2.1,2001:db8::1                 addresses nodes reach it at (required;
 *                                                  one per family)
 *   ports = 40000-40999                            relay session ports (default: any)
 *   idle = 60                                      seconds before an idle session closes
 *   max_sessions = 1024
 *
 *   [console]                                      the web console (docs/console.md)
 *   listen = 127.0.0.1:7447                        HTTPS (port 7447 unless given)
 *   cert = DIR/console.pem                         its certificate chain (required)
 *   key = DIR/console.key                          (required)
 */
#ifndef CY_CLOUD_CONF_H
#define CY_CLOUD_CONF_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

#include "privdrop.h"
#include "wire.h"

#define CLOUD_PATH_MAX 512
#define CLOUD_MAX_NMS 4
#define CLOUD_MAX_TRS 4

struct cloud_conf {
	char domain[CY_FQDN_MAX + 1];
	char store[CLOUD_PATH_MAX];
	char ca_cert[CLOUD_PATH_MAX];
	char ca_key[CLOUD_PATH_MAX];
	char control[108];
	char log_level[16];
	char user[PRIVDROP_USER_MAX + 1];      /* "" none */
	bool has_metrics;
	struct sockaddr_storage metrics;       /* [cloud] metrics */
	char host[64];                         /* [cloud] host; "" the system's name */

	bool has_as;
	struct sockaddr_storage as_listen;
	char as_cert[CLOUD_PATH_MAX];
	char as_key[CLOUD_PATH_MAX];
	int key_lifetime;
	int cert_days, renew_days;
	int as_max_conns;             /* 0: as_server.h's AS_MAX_CONNS (1024) */
	size_t nnms;
	struct sockaddr_storage nms[CLOUD_MAX_NMS];

	bool has_nms;
	struct sockaddr_storage nms_listen;
	int registration_ttl;
	size_t ntrs;
	struct sockaddr_storage trs[CLOUD_MAX_TRS];
	char trs_key[CLOUD_PATH_MAX];          /* [nms] trs_key */
	char policy[CLOUD_PATH_MAX];           /* [nms] policy, "" none */

	bool has_trs;
	struct sockaddr_storage trs_listen;
	char trs_secret[CLOUD_PATH_MAX];       /* [trs] key: the key file */
	size_t npublic;
	struct sockaddr_storage trs_public[CLOUD_MAX_TRS];
	int trs_port_lo, trs_port_hi;          /* 0, 0: any */
	int trs_idle;
	int trs_max_sessions;

	bool has_console;
	struct sockaddr_storage console_listen;
	char console_cert[CLOUD_PATH_MAX];
	char console_key[CLOUD_PATH_MAX];

	bool has_cloud;
};

int cloud_conf_load(struct cloud_conf *c, const char *path, char *err, size_t errlen);
/* Every key the loader takes, "section key" a line (conf_keys_print()). */
void cloud_conf_keys(FILE *f);
int cloud_conf_load_string(struct cloud_conf *c, const char *name, const char *text,
			   char *err, size_t errlen);

#endif
