/* The daemon: one event base holding the TUN device, the data path's I/O
 * (dpio.h), the daemon's own CYPHONIC identity (ident.h: login,
 * signaling, overlay, UDP port), the resolver and the control socket,
 * wired together.  Everything
 * protocol-shaped lives in the modules; this file only moves bytes and
 * timers between them and libevent.  An adapter (src/adapter) extends a
 * node through the hooks at the end. */
#ifndef CY_NODE_NODE_H
#define CY_NODE_NODE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

struct cred;
struct dp_conf;
struct dpio;
struct event_base;
struct netwatch;
struct node_conf;
struct node;
struct sig_info;
struct json;

/* NULL on failure (logged).  conf must outlive the node; dp: the data
 * path's switches (batch.h). */
struct node *node_new(struct event_base *base, const struct node_conf *conf,
		      const struct dp_conf *dp);
/* Best-effort Deregistration before stopping. */
void node_stop(struct node *n);
/* Removes the TUN device and the control socket. */
void node_free(struct node *n);

/* ---- hooks for the adapter ---- */

/* The node's own registration state (VIPs, prefixes, ...). */
const struct sig_info *node_info(const struct node *n);
const char *node_tun_name(const struct node *n);
/* The data path's I/O: the adapter's general nodes get their ports there. */
struct dpio *node_dpio(struct node *n);
/* Its eyes on the networks (NULL when rtnetlink failed): each general
 * node's identity listens too, so all of them move with the adapter. */
struct netwatch *node_netwatch(struct node *n);
/* Its credentials (cred.h): the general nodes' logins use the adapter's. */
struct cred *node_cred(struct node *n);
/* Never report ifname's addresses in the registration (the string must
 * outlive the node).  0 or -ENOSPC. */
int node_skip_if(struct node *n, const char *ifname);
/* cb runs after every successful registration of the node's identity
 * (and at once when it is registered already).  0 or -ENOSPC. */
typedef void (*node_registered_cb)(void *arg, const struct sig_info *in);
int node_on_registered(struct node *n, node_registered_cb cb, void *arg);
/* cb adds members to the "status" JSON object (before it is closed). */
typedef void (*node_status_cb)(void *arg, struct json *j);
/* The adapter adds its metrics ([node] metrics) after the node's. */
void node_on_metrics(struct node *n, void (*cb)(void *arg, FILE *out), void *arg);
void node_on_status(struct node *n, node_status_cb cb, void *arg);
/* The resolver's upstream servers ([resolver] upstream, or those of
 * /etc/resolv.conf): *ups points into the node. */
size_t node_dns_upstreams(const struct node *n, const struct sockaddr_storage **ups);

#endif
