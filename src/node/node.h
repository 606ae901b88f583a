/* The daemon: one event base holding the TUN device, the UDP socket, the
 * AS client, the signaling state machine and the control socket, wired
 * together.  Everything protocol-shaped lives in the modules; this file
 * only moves bytes and timers between them and libevent. */
#ifndef CY_NODE_NODE_H
#define CY_NODE_NODE_H

struct event_base;
struct node_conf;
struct node;

/* NULL on failure (logged).  conf must outlive the node. */
struct node *node_new(struct event_base *base, const struct node_conf *conf);
/* Best-effort Deregistration before stopping. */
void node_stop(struct node *n);
/* Removes the TUN device and the control socket. */
void node_free(struct node *n);

#endif
