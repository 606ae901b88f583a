/* The node's TUN device: created at start (IFF_TUN | IFF_NO_PI, MTU, up),
 * given the VIPs once registered, gone when freed (it is not persistent,
 * so closing the descriptor deletes it).  Addresses are set over rtnetlink
 * with libmnl; the prefix length makes the kernel route the whole virtual
 * range into the device. */
#ifndef CY_NODE_TUN_H
#define CY_NODE_TUN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct tun;

/* NULL on failure (logged).  vnet: ask for IFF_VNET_HDR and the offloads
 * (batch.h); tun_vnet() says whether the kernel gave them. */
struct tun *tun_new(const char *name, int mtu, bool vnet);
void tun_free(struct tun *t);
int tun_fd(const struct tun *t);
const char *tun_name(const struct tun *t);
int tun_ifindex(const struct tun *t);
/* Packets on fd carry a virtio-net header (IFF_VNET_HDR, batch.h). */
bool tun_vnet(const struct tun *t);

/* Make addr/prefix the device's only CYPHONIC address of that family:
 * the previous one is removed when it differs.  0 or -errno. */
int tun_set_addr4(struct tun *t, const struct in_addr *addr, uint8_t prefix);
int tun_set_addr6(struct tun *t, const struct in6_addr *addr, uint8_t prefix);

#endif
