/* One CYPHONIC identity inside a daemon: its AS login, its signaling with
 * the NMS (sig.c), its overlay (peers, tunnels, the packet path) and its
 * own UDP socket with the libevent read event and the timer that drives
 * them.  A node runs one (node.c); an adapter runs one more per general
 * node (src/adapter), each logged in on the adapter's behalf and with its
 * own ephemeral UDP port, so the kernel demultiplexes and a NAPT maps each
 * like any node.
 *
 * Its packets do not pass through here: the data path's I/O (dpio.h)
 * reads and sends on the identity's port and hands the packets arriving
 * from its tunnels to the daemon's TUN, or to ops->deliver when set (the
 * adapter: the general node's MAC); ident_input() takes the packets from
 * a local side other than the TUN into the overlay. */
#ifndef CY_NODE_IDENT_H
#define CY_NODE_IDENT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "resolver.h"
#include "sig.h"

struct cred;
struct dpio;
struct event_base;
struct netwatch;
struct node_conf;
struct overlay;
struct ident;

struct ident_ops {
	/* A packet from one of the identity's tunnels; 0 or -errno.
	 * NULL: into the daemon's TUN (dpio.h). */
	int (*deliver)(void *arg, const uint8_t *pkt, size_t len);
	/* Registered with these VIPs (every successful registration; optional). */
	void (*registered)(void *arg, const struct sig_info *in);
	/* The outcome of an ident_lookup() (optional). */
	void (*dns_complete)(void *arg, uint64_t token, enum resolver_status st,
			     const struct in_addr *vip4, const struct in6_addr *vip6);
};

struct ident_cfg {
	struct dpio *io;               /* the daemon's data path I/O; outlives the ident */
	struct netwatch *watch;        /* the daemon's eyes on its networks (NULL: none) */
	const struct node_conf *conf;  /* cloud, credentials, keepalive; outlives the ident */
	struct cred *cred;             /* the daemon's credentials (cred.h); outlive it */
	/* NULL: the daemon's own identity (conf's name and credentials);
	 * else the general node logged in on the adapter's behalf. */
	const char *gn_name;
	const char *fqdn;              /* for logs; NULL: conf->fqdn */
	uint16_t port;                 /* local UDP port; 0: ephemeral */
	/* Interfaces whose addresses are never reported (NULL-terminated
	 * list, may be NULL): the TUN device, the adapter's LAN. */
	const char *const *skip_ifs;
	const struct ident_ops *ops;
	void *arg;
};

/* NULL on failure (logged).  Nothing starts before ident_start(). */
struct ident *ident_new(struct event_base *base, const struct ident_cfg *cfg);
void ident_free(struct ident *id);
/* Log in and register. */
void ident_start(struct ident *id);
/* Best-effort Deregistration (when registered). */
void ident_stop(struct ident *id);

/* A packet from the local side (TUN, general node) into the overlay. */
void ident_input(struct ident *id, const uint8_t *pkt, size_t len);
/* The resolver's lookup for fqdn: the identity's own name is answered at
 * once, any other goes through route selection and tunnel set-up; the
 * outcome comes through ops->dns_complete (possibly from inside this
 * call).  0 or -errno (answer SERVFAIL now). */
int ident_lookup(struct ident *id, const char *fqdn, uint64_t token);
/* Re-arm the timer after driving the overlay or the signaling directly
 * (cyphonic ping). */
void ident_kick(struct ident *id);

struct sig *ident_sig(struct ident *id);
const struct sig_info *ident_info(const struct ident *id);
struct overlay *ident_overlay(struct ident *id);
/* How many tunnels the identity holds. */
size_t ident_tunnels(const struct ident *id);
uint16_t ident_port(const struct ident *id);
const char *ident_fqdn(const struct ident *id);

#endif
