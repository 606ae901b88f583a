#include "cliconf.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ca.h"
#include "aead.h"
#include "node_conf.h"
#include "secbuf.h"
#include "wire.h"

static void cliconf_endpoint(FILE *f, const struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_storage a = *ss;
	char buf[ADDR_STR_MAX];

	addr_set_port((struct sockaddr *)&a, port);
	fputs(addr_str((struct sockaddr *)&a, buf), f);
}

/* open_memstream sets text and len only at fclose. */
static char *cliconf_close(FILE *f, char **text, size_t *len, bool ok)
{
	if (fclose(f) != 0)
		ok = false;
	if (!ok) {
		if (*text)
			cy_wipe(*text, *len);
		free(*text);
		return NULL;
	}
	return *text;
}

char *cliconf_cloud(const struct cliconf_cloud *c)
{
	const char *d = c->dir;
	char *text = NULL;
	size_t len = 0, i;
	FILE *f;

	f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	fprintf(f, "# CYPHONIC cloud %s, written by 'cyphonic init'.\n", c->domain);
	fprintf(f, "[cloud]\n");
	fprintf(f, "domain = %s\n", c->domain);
	if (c->store)
		fprintf(f, "store = %s\n", c->store);
	else
		fprintf(f, "store = %s/cloud.db\n", d);
	fprintf(f, "ca_cert = %s/ca.pem\n", d);
	fprintf(f, "ca_key = %s/ca.key\n", d);
	fprintf(f, "control = %s/cloud.sock\n", d);
	fprintf(f, "log_level = info\n\n");
	fprintf(f, "[as]\n");
	fprintf(f, "listen = [::]:%d\n", CLICONF_AS_PORT);
	fprintf(f, "cert = %s/as.pem\n", d);
	fprintf(f, "key = %s/as.key\n", d);
	fprintf(f, "key_lifetime = 3600\n");
	fprintf(f, "cert_days = %d\n", CA_LEAF_DAYS);
	fprintf(f, "renew_days = %d\n", CA_RENEW_DAYS);
	fprintf(f, "nms = ");
	for (i = 0; i < c->naddrs; i++) {
		if (i)
			fputc(',', f);
		cliconf_endpoint(f, &c->addrs[i], CLICONF_NMS_PORT);
	}
	fprintf(f, "\n\n[nms]\n");
	fprintf(f, "listen = [::]:%d\n", CLICONF_NMS_PORT);
	fprintf(f, "registration_ttl = 60\n");
	return cliconf_close(f, &text, &len, true);
}

int cliconf_password_ok(const char *pw)
{
	size_t n = strlen(pw), i;

	if (n == 0 || n > CY_PASSWORD_MAX || pw[0] == ' ' || pw[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++)
		if (pw[i] < 0x20 || pw[i] > 0x7e || pw[i] == ';' || pw[i] == '#')
			return 0;
	return 1;
}

char *cliconf_node(const struct cliconf_node *n)
{
	char control[NODE_PATH_MAX + 32];
	struct secbuf sb = SECBUF_INIT, *f = &sb;
	bool ok = true;

	/* The default control path; a short one when it would not fit. */
	snprintf(control, sizeof(control), "/run/cyphonic/%s.%s.sock", n->name, n->domain);
	if (strlen(control) >= NODE_PATH_MAX)
		snprintf(control, sizeof(control), "/run/cyphonic/%s.sock", n->name);
	secbuf_printf(f, "# CYPHONIC %s %s.%s, written by 'cyphonic %s add'.\n",
		  n->adapter_lan ? "adapter" : "node", n->name, n->domain,
		  n->adapter_lan ? "adapter" : "node");
	secbuf_printf(f, "# Holds this node's private key: keep it secret.\n");
	secbuf_printf(f, "[node]\n");
	secbuf_printf(f, "name = %s\n", n->name);
	secbuf_printf(f, "domain = %s\n", n->domain);
	secbuf_printf(f, "cloud = %s\n", n->cloud);
	secbuf_printf(f, "as_port = %d\n", CLICONF_AS_PORT);
	secbuf_printf(f, "port = %d\n", CLICONF_NODE_PORT);
	secbuf_printf(f, "tun = cy0\n");
	secbuf_printf(f, "mtu = 1400\n");
	secbuf_printf(f, "control = %s\n", control);
	secbuf_printf(f, "keepalive = 15\n");
	secbuf_printf(f, "log_level = info\n\n");
	if (n->adapter_lan) {
		if (!node_conf_ifname_ok(n->adapter_lan))
			ok = false;
		secbuf_printf(f, "[adapter]\n");
		secbuf_printf(f, "lan = %s\n", n->adapter_lan);
		secbuf_printf(f, "# leases = /var/lib/cyphonic/%s.%s.leases\n", n->name,
			  n->domain);
		secbuf_printf(f, "# lease_time = 3600\n");
		secbuf_printf(f, "# refresh = 60\n");
		secbuf_printf(f, "# nat = yes\n\n");
	}
	secbuf_printf(f, "[credentials]\n");
	ok = ok && secbuf_text(f, "ca", n->ca_pem);
	if (ok && n->cert_pem)
		ok = secbuf_text(f, "cert", n->cert_pem) && n->key_pem &&
		     secbuf_text(f, "key", n->key_pem);
	if (ok && n->password) {
		if (cliconf_password_ok(n->password))
			secbuf_printf(f, "password = %s\n", n->password);
		else
			ok = false;
	}
	return secbuf_finish(f, ok);
}

void cliconf_free(char *text)
{
	secbuf_free(text);
}
