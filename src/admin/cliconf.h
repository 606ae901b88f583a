/* Writers of the two config files, in exactly the formats documented in
 * src/cloud/cloud_conf.h and src/node/node_conf.h (their loaders read
 * them back; tests/unit/test_cli_conf.c checks the round trip). */
#ifndef CY_CLICONF_H
#define CY_CLICONF_H

#include <stddef.h>
#include <sys/socket.h>

#define CLICONF_AS_PORT 7443
#define CLICONF_NMS_PORT 7444
#define CLICONF_NODE_PORT 7446

struct cliconf_cloud {
	const char *dir;        /* absolute */
	const char *domain;
	const struct sockaddr_storage *addrs; /* the --cloud addresses */
	size_t naddrs;
	const char *store;      /* a store URL; NULL: DIR/cloud.db */
};

struct cliconf_node {
	const char *name;
	const char *domain;
	const char *cloud;      /* "192.0.2.1,2001:db8::1" */
	const char *ca_pem;
	const char *cert_pem;   /* NULL with key_pem NULL: password only */
	const char *key_pem;
	const char *password;   /* NULL: none */
	const char *adapter_lan; /* non-NULL: an adapter; adds [adapter] lan = this */
};

/* Heap text, or NULL (ENOMEM / a value that cannot be written).  The
 * node text holds a private key: free it with cliconf_free. */
char *cliconf_cloud(const struct cliconf_cloud *c);
char *cliconf_node(const struct cliconf_node *n);
void cliconf_free(char *text);

/* A password the INI format carries unchanged: printable ASCII, no
 * leading/trailing blank, no ';' or '#' (comment markers). */
int cliconf_password_ok(const char *pw);

#endif
