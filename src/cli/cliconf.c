#include "cliconf.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "node_conf.h"
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

/* The node text holds a private key, so it is not built with
 * open_memstream, which reallocs as it grows and leaves the old copies
 * freed as they are: this buffer grows into a new one and wipes the old. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool ok;
};

static void sb_grow(struct sbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 2048;
	char *p;

	while (cap < need)
		cap *= 2;
	p = malloc(cap);
	if (!p) {
		b->ok = false;
		return;
	}
	if (b->p) {
		memcpy(p, b->p, b->len);
		cy_wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = cap;
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->ok && !b->p)
		sb_grow(b, 1);
	if (!b->ok)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->ok = false;
		return;
	}
	if (b->len + (size_t)n >= b->cap) {
		sb_grow(b, b->len + (size_t)n + 1);
		if (!b->ok)
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* The text, or NULL (and the buffer wiped) when something failed. */
static char *sb_finish(struct sbuf *b, bool ok)
{
	if (!ok || !b->ok || !b->p) {
		if (b->p)
			cy_wipe(b->p, b->cap);
		free(b->p);
		return NULL;
	}
	return b->p;
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

/* A multi-line value: the first line after "key = ", every further line
 * indented by one tab (an INI continuation line; the loader joins them
 * with '\n'). */
static bool cliconf_text(struct sbuf *f, const char *key, const char *pem)
{
	const char *p = pem, *nl;
	bool first = true;

	while (*p) {
		nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n) {
			if (first)
				sb_printf(f, "%s = %.*s\n", key, (int)n, p);
			else
				sb_printf(f, "\t%.*s\n", (int)n, p);
			first = false;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return !first;
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
	struct sbuf sb = { .ok = true }, *f = &sb;
	bool ok = true;

	/* The default control path; a short one when it would not fit. */
	snprintf(control, sizeof(control), "/run/cyphonic/%s.%s.sock", n->name, n->domain);
	if (strlen(control) >= NODE_PATH_MAX)
		snprintf(control, sizeof(control), "/run/cyphonic/%s.sock", n->name);
	sb_printf(f, "# CYPHONIC %s %s.%s, written by 'cyphonic %s add'.\n",
		  n->adapter_lan ? "adapter" : "node", n->name, n->domain,
		  n->adapter_lan ? "adapter" : "node");
	sb_printf(f, "# Holds this node's private key: keep it secret.\n");
	sb_printf(f, "[node]\n");
	sb_printf(f, "name = %s\n", n->name);
	sb_printf(f, "domain = %s\n", n->domain);
	sb_printf(f, "cloud = %s\n", n->cloud);
	sb_printf(f, "as_port = %d\n", CLICONF_AS_PORT);
	sb_printf(f, "port = %d\n", CLICONF_NODE_PORT);
	sb_printf(f, "tun = cy0\n");
	sb_printf(f, "mtu = 1400\n");
	sb_printf(f, "control = %s\n", control);
	sb_printf(f, "keepalive = 15\n");
	sb_printf(f, "log_level = info\n\n");
	if (n->adapter_lan) {
		if (!node_conf_ifname_ok(n->adapter_lan))
			ok = false;
		sb_printf(f, "[adapter]\n");
		sb_printf(f, "lan = %s\n", n->adapter_lan);
		sb_printf(f, "# leases = /var/lib/cyphonic/%s.%s.leases\n", n->name,
			  n->domain);
		sb_printf(f, "# lease_time = 3600\n");
		sb_printf(f, "# refresh = 60\n");
		sb_printf(f, "# nat = yes\n\n");
	}
	sb_printf(f, "[credentials]\n");
	ok = ok && cliconf_text(f, "ca", n->ca_pem);
	if (ok && n->cert_pem)
		ok = cliconf_text(f, "cert", n->cert_pem) && n->key_pem &&
		     cliconf_text(f, "key", n->key_pem);
	if (ok && n->password) {
		if (cliconf_password_ok(n->password))
			sb_printf(f, "password = %s\n", n->password);
		else
			ok = false;
	}
	return sb_finish(f, ok);
}

void cliconf_free(char *text)
{
	if (!text)
		return;
	cy_wipe(text, strlen(text));
	free(text);
}
