/* Internet checksums and the Linux virtio-net header (GSO / partial
 * checksum offload), independent of the link layer.
 *
 * A packet socket with PACKET_VNET_HDR (and a TUN with IFF_VNET_HDR)
 * puts a struct virtio_net_hdr (<linux/virtio_net.h>, 10 bytes, fields in
 * host byte order: the kernel's legacy virtio endianness) in front of
 * each packet.  It may say:
 *   - flags & GSO_F_NEEDS_CSUM: the L4 checksum is partial (only the
 *     pseudo-header sum is stored at csum_start + csum_offset); complete
 *     it with gso_complete_csum() before the packet leaves this host;
 *   - gso_type != GSO_NONE: a super-packet carrying up to 64 KB of
 *     payload, to be cut into segments of gso_size payload bytes each
 *     (gso_segment()).
 * All offsets (hdr_len, csum_start) count from the start of the buffer the
 * header came with: the Ethernet header for AF_PACKET, the IP header for a
 * TUN.  The functions below take that buffer plus "l3off", where the IP
 * header starts in it (14 for Ethernet, 0 for TUN).
 *
 * hdr_len is only a hint (the kernel reports the skb's linear length):
 * it must lie within the packet, nothing more is trusted; the real header
 * lengths are parsed from the packet through struct cur. */
#ifndef CY_GSO_H
#define CY_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The UDP socket options that hand segmentation to the kernel (send) and
 * coalescing to it (receive), for headers older than Linux 5.0. */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define GSO_HDR_LEN 10                   /* sizeof(struct virtio_net_hdr) */
#define GSO_PKT_MAX 65535                /* largest IPv4/IPv6 (non-jumbo) packet */

/* virtio_net_hdr.flags */
enum gso_flag {
	GSO_F_NEEDS_CSUM = 1,            /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
	GSO_F_DATA_VALID = 2,            /* VIRTIO_NET_HDR_F_DATA_VALID: csum verified */
};

/* virtio_net_hdr.gso_type */
enum gso_type {
	GSO_NONE = 0,                    /* VIRTIO_NET_HDR_GSO_NONE */
	GSO_TCPV4 = 1,
	GSO_UDP = 3,                     /* UFO (IPv4 fragmentation): not supported */
	GSO_TCPV6 = 4,
	GSO_UDP_L4 = 5,                  /* USO: UDP segmentation, IPv4 or IPv6 */
	GSO_ECN = 0x80,                  /* flag bit: TCP ECN (CWR on first segment) */
};

struct gso_hdr {
	uint8_t flags;                   /* enum gso_flag */
	uint8_t gso_type;                /* enum gso_type, maybe | GSO_ECN */
	uint16_t hdr_len;
	uint16_t gso_size;               /* payload bytes per segment (MSS) */
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* Read the 10-byte header from c (host byte order).  0, or -EINVAL when
 * fewer than 10 bytes are left (c is then not moved). */
int gso_parse_hdr(struct cur *c, struct gso_hdr *h);
/* Write h as 10 bytes (a zero header = complete packet, no offload). */
void gso_put_hdr(uint8_t out[GSO_HDR_LEN], const struct gso_hdr *h);

/* ---- Internet checksum (RFC 1071) ---- */

/* Add len bytes (big-endian 16-bit words, odd byte padded) to sum: a one's
 * complement sum, partly folded (only its value modulo 0xffff, and whether
 * it is zero, are defined). */
uint32_t inet_csum_add(uint32_t sum, const void *p, size_t len);
/* Fold to 16 bits and complement: the value to store in a header. */
uint16_t inet_csum_fold(uint32_t sum);
/* inet_csum_fold(inet_csum_add(0, p, len)).  Over data that contains its
 * own correct checksum this returns 0. */
uint16_t inet_csum(const void *p, size_t len);
/* IPv4 header checksum over ihl bytes, as stored in the header, with the
 * checksum field itself counted as zero (so it works on filled headers). */
uint16_t ip_csum(const uint8_t *iph, size_t ihl);
/* Sum of the pseudo header (RFC 768 / RFC 8200 8.1) for an IPv4 (alen 4)
 * or IPv6 (alen 16) packet: src, dst, proto, l4len.  Not folded to 16 bits. */
uint32_t inet_pseudo_sum(const uint8_t *src, const uint8_t *dst, size_t alen, uint8_t proto,
			 uint32_t l4len);
/* Full TCP/UDP checksum over the pseudo header and l4[0..len) whose own
 * checksum field is counted as zero (field at l4 + csum_off).  A UDP
 * result of 0 is returned as 0xffff (RFC 768). */
uint16_t inet_l4_csum(const uint8_t *src, const uint8_t *dst, size_t alen, uint8_t proto,
		      const uint8_t *l4, size_t len, size_t csum_off);

/* ---- virtio-net offloads ---- */

/* VIRTIO_NET_HDR_F_NEEDS_CSUM: checksum pkt[csum_start..len) (which holds
 * the pseudo-header sum in the checksum field) and store the result at
 * csum_start + csum_offset.  0, or -EINVAL when csum_start > len or the
 * 2-byte field does not lie within [csum_start, len). */
int gso_complete_csum(uint8_t *pkt, size_t len, uint16_t csum_start, uint16_t csum_offset);

/* One segment: the IP packet at pkt (len bytes), inside the caller's
 * buffer with the l3off bytes of link header copied in front of it (so
 * pkt - l3off is a complete frame of l3off + len bytes).  It may be
 * changed within those bytes, never beyond pkt + len (the next segment's
 * payload lies there), and is gone once fn returns: a copy is kept,
 * never the pointer.  Return 0 to go on, a negative errno
 * to stop (gso_segment() then returns it). */
typedef int (*gso_seg_fn)(void *arg, uint8_t *pkt, size_t len);

/* The most header bytes in front of each segment's payload: link header
 * + IPv4 with options + TCP with options. */
#define GSO_HDRS_MAX (64 + 60 + 60)
/* What Linux itself never goes beyond: the most segments of one UDP GSO
 * send (UDP_MAX_SEGMENTS), and of a 64 KB TCP super-packet at the
 * smallest payload a segment can carry (tcp_min_snd_mss, 48, less 12
 * bytes of timestamps: 36 bytes, 1820 segments; 2048 leaves room). */
#define GSO_TCP_MAX_SEGS 2048
#define GSO_UDP_MAX_SEGS 128

/* Turn the packet in buf (len bytes: l3off bytes of link header, then an
 * IPv4 or IPv6 packet) that came with header h into wire packets, each
 * handed to fn.  They are cut where they lie, no payload byte moved:
 * segment i's headers are written just in front of its payload, over the
 * end of segment i - 1 (which fn is done with once it returns); buf is
 * left in pieces.  No allocation.
 *
 *   GSO_NONE: one packet, buf itself with the checksum completed when
 *     NEEDS_CSUM is set (buf's trailing bytes past the IP length dropped).
 *   GSO_TCPV4 / GSO_TCPV6: segments of gso_size TCP payload bytes; each
 *     gets IPv4 total length / IPv6 payload length, IPv4 id + i and a new
 *     header checksum, TCP seq + offset; FIN and PSH only on the last,
 *     CWR only on the first; full TCP checksum.
 *   GSO_UDP_L4: segments of gso_size UDP payload bytes, each with its own
 *     UDP length and full checksum (IPv4 id + i).
 *
 * Returns the number of packets handed to fn (>= 1), -EINVAL for a header
 * or packet that does not fit together (gso_size 0, hdr_len beyond the
 * packet, a NEEDS_CSUM field outside the packet's L4 part, the IP version
 * or L4 protocol not matching gso_type,
 * IPv4 fragments, IPv6 extension headers, GSO_UDP, headers over
 * GSO_HDRS_MAX, more than GSO_TCP_MAX_SEGS TCP or GSO_UDP_MAX_SEGS UDP
 * segments; IPv4 options are copied), or fn's negative return. */
int gso_segment(const struct gso_hdr *h, uint8_t *buf, size_t len, size_t l3off,
		gso_seg_fn fn, void *arg);

#endif
