/* Internet checksums and virtio-net offloads (see gso.h). */
#include "gso.h"

#include <errno.h>
#include <string.h>

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_F_FIN 0x01
#define TCP_F_PSH 0x08
#define TCP_F_CWR 0x80
#define IP6_HDR 40

int gso_parse_hdr(struct cur *c, struct gso_hdr *h)
{
	uint8_t b[GSO_HDR_LEN];

	if (!cur_get_bytes(c, b, sizeof(b)))
		return -EINVAL;
	/* Host byte order, as the kernel writes it for packet sockets and
	 * TUN (legacy virtio endianness on the host's own order). */
	h->flags = b[0];
	h->gso_type = b[1];
	memcpy(&h->hdr_len, b + 2, 2);
	memcpy(&h->gso_size, b + 4, 2);
	memcpy(&h->csum_start, b + 6, 2);
	memcpy(&h->csum_offset, b + 8, 2);
	return 0;
}

void gso_put_hdr(uint8_t out[GSO_HDR_LEN], const struct gso_hdr *h)
{
	out[0] = h->flags;
	out[1] = h->gso_type;
	memcpy(out + 2, &h->hdr_len, 2);
	memcpy(out + 4, &h->gso_size, 2);
	memcpy(out + 6, &h->csum_start, 2);
	memcpy(out + 8, &h->csum_offset, 2);
}

/* ---- checksums ---- */

/* The one's complement sum does not depend on the byte order it is taken
 * in (RFC 1071 2(B)): the words are added as they lie in memory, eight
 * bytes at a time into two 64-bit accumulators (no carry is lost below
 * 2^30 rounds: 16 GB), folded to 16 bits, and the result is swapped to
 * network order once.  A byte at a time this was a sixth of a sender's
 * CPU (it runs over every segment cut from a super-packet). */
uint32_t inet_csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t s0 = 0, s1 = 0, r;
	uint16_t half;
	uint8_t be[2];
	size_t i = 0;

	for (; i + 16 <= len; i += 16) {
		uint64_t x, y;

		memcpy(&x, b + i, 8);
		memcpy(&y, b + i + 8, 8);
		s0 += (x & 0xffffffffu) + (x >> 32);
		s1 += (y & 0xffffffffu) + (y >> 32);
	}
	s0 += s1;
	for (; i + 2 <= len; i += 2) {
		memcpy(&half, b + i, 2);
		s0 += half;
	}
	while (s0 >> 16)
		s0 = (s0 & 0xffff) + (s0 >> 16);
	half = (uint16_t)s0;
	memcpy(be, &half, 2);        /* memory order -> network order */
	r = (uint64_t)sum + ((uint32_t)be[0] << 8 | be[1]);
	if (i < len)                 /* the odd byte, padded */
		r += (uint32_t)b[i] << 8;
	/* end-around carry keeps the one's complement sum in 32 bits */
	while (r >> 32)
		r = (r & 0xffffffffu) + (r >> 32);
	return (uint32_t)r;
}

uint16_t inet_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t inet_csum(const void *p, size_t len)
{
	return inet_csum_fold(inet_csum_add(0, p, len));
}

uint16_t ip_csum(const uint8_t *iph, size_t ihl)
{
	uint32_t sum = 0;

	if (ihl < 12)
		return inet_csum(iph, ihl);
	sum = inet_csum_add(sum, iph, 10);
	sum = inet_csum_add(sum, iph + 12, ihl - 12);
	return inet_csum_fold(sum);
}

uint32_t inet_pseudo_sum(const uint8_t *src, const uint8_t *dst, size_t alen, uint8_t proto,
			 uint32_t l4len)
{
	uint32_t sum = 0;

	sum = inet_csum_add(sum, src, alen);
	sum = inet_csum_add(sum, dst, alen);
	sum = inet_csum_add(sum, (const uint8_t[]){ 0, proto }, 2);
	sum = inet_csum_add(sum, (const uint8_t[]){ l4len >> 24, l4len >> 16, l4len >> 8, l4len },
			    4);
	return sum;
}

uint16_t inet_l4_csum(const uint8_t *src, const uint8_t *dst, size_t alen, uint8_t proto,
		      const uint8_t *l4, size_t len, size_t csum_off)
{
	uint32_t sum = inet_pseudo_sum(src, dst, alen, proto, (uint32_t)len);
	uint16_t r;

	if (csum_off + 2 <= len) {
		sum = inet_csum_add(sum, l4, csum_off);
		sum = inet_csum_add(sum, l4 + csum_off + 2, len - csum_off - 2);
	} else {
		sum = inet_csum_add(sum, l4, len);
	}
	r = inet_csum_fold(sum);
	if (r == 0 && proto == IPPROTO_UDP_)
		r = 0xffff;             /* RFC 768: 0 means "no checksum" */
	return r;
}

int gso_complete_csum(uint8_t *pkt, size_t len, uint16_t csum_start, uint16_t csum_offset)
{
	uint16_t r;

	if (csum_start > len || (size_t)csum_offset + 2 > len - csum_start)
		return -EINVAL;
	/* The field holds the pseudo-header sum: summing over it completes it. */
	r = inet_csum(pkt + csum_start, len - csum_start);
	if (r == 0)
		r = 0xffff;             /* as the kernel does (CSUM_MANGLED_0) */
	put_be16(pkt + csum_start + csum_offset, r);
	return 0;
}

/* ---- segmentation ---- */

struct gso_ip {
	int ver;                        /* 4 or 6 */
	size_t hl;                      /* IP header length */
	size_t total;                   /* IP packet length */
	uint8_t proto;
	bool frag;
};

static int gso_parse_ip(const uint8_t *p, size_t avail, struct gso_ip *ip)
{
	struct cur c = cur_make(p, avail);
	uint8_t vihl, b;
	uint16_t tot, fragoff, plen;

	if (!cur_get_u8(&c, &vihl))
		return -EINVAL;
	ip->ver = vihl >> 4;
	if (ip->ver == 4) {
		ip->hl = (size_t)(vihl & 0x0f) * 4;
		if (ip->hl < 20 || !cur_skip(&c, 1) || !cur_get_u16(&c, &tot) ||
		    !cur_skip(&c, 2) || !cur_get_u16(&c, &fragoff) || !cur_skip(&c, 1) ||
		    !cur_get_u8(&c, &ip->proto))
			return -EINVAL;
		if (tot < ip->hl || tot > avail)
			return -EINVAL;
		ip->total = tot;
		ip->frag = (fragoff & 0x3fff) != 0;
		return 0;
	}
	if (ip->ver == 6) {
		if (!cur_skip(&c, 3) || !cur_get_u16(&c, &plen) || !cur_get_u8(&c, &b))
			return -EINVAL;
		ip->hl = IP6_HDR;
		ip->proto = b;          /* extension headers are not walked */
		ip->total = IP6_HDR + (size_t)plen;
		ip->frag = false;
		if (plen == 0 || ip->total > avail)
			return -EINVAL; /* jumbograms are not supported */
		return 0;
	}
	return -EINVAL;
}

int gso_segment(const struct gso_hdr *h, uint8_t *buf, size_t len, size_t l3off,
		gso_seg_fn fn, void *arg)
{
	struct gso_ip ip;
	uint8_t type = h->gso_type & (uint8_t)~GSO_ECN;
	uint8_t tmpl[GSO_HDRS_MAX];     /* the headers, kept while buf is cut */
	const uint8_t *l4;
	size_t l4hl, payload, hdrs, off, n, nseg, i, alen;
	uint32_t seq = 0;
	uint16_t id = 0;
	int r;

	if (l3off > len || h->hdr_len > len)
		return -EINVAL;
	if ((h->flags & GSO_F_NEEDS_CSUM) &&
	    (h->csum_start < l3off || h->csum_start > len ||
	     (size_t)h->csum_offset + 2 > len - h->csum_start))
		return -EINVAL;
	if (gso_parse_ip(buf + l3off, len - l3off, &ip) < 0)
		return -EINVAL;
	/* the checksum to complete lies in the L4 part of the IP packet */
	if ((h->flags & GSO_F_NEEDS_CSUM) &&
	    (h->csum_start < l3off + ip.hl ||
	     (size_t)h->csum_start + h->csum_offset + 2 > l3off + ip.total))
		return -EINVAL;

	if (type == GSO_NONE) {
		if ((h->flags & GSO_F_NEEDS_CSUM) &&
		    gso_complete_csum(buf, l3off + ip.total, h->csum_start, h->csum_offset) < 0)
			return -EINVAL;
		r = fn(arg, buf + l3off, ip.total);
		return r < 0 ? r : 1;
	}

	if (h->gso_size == 0 || ip.frag)
		return -EINVAL;
	switch (type) {
	case GSO_TCPV4:
		if (ip.ver != 4 || ip.proto != IPPROTO_TCP_)
			return -EINVAL;
		break;
	case GSO_TCPV6:
		if (ip.ver != 6 || ip.proto != IPPROTO_TCP_)
			return -EINVAL;
		break;
	case GSO_UDP_L4:
		if (ip.proto != IPPROTO_UDP_)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}

	l4 = buf + l3off + ip.hl;
	if (ip.proto == IPPROTO_TCP_) {
		if (ip.total - ip.hl < 20)
			return -EINVAL;
		l4hl = (size_t)(l4[12] >> 4) * 4;
		if (l4hl < 20 || l4hl > ip.total - ip.hl)
			return -EINVAL;
		seq = get_be32(l4 + 4);
	} else {
		l4hl = 8;
		if (ip.total - ip.hl < l4hl)
			return -EINVAL;
	}
	if (ip.ver == 4)
		id = get_be16(buf + l3off + 4);
	alen = ip.ver == 4 ? 4 : 16;

	hdrs = l3off + ip.hl + l4hl;
	payload = ip.total - ip.hl - l4hl;
	nseg = payload == 0 ? 1 : (payload + h->gso_size - 1) / h->gso_size;
	/* No kernel makes more: a UDP super-packet of more than
	 * UDP_MAX_SEGMENTS, or a TCP one cut finer than its smallest send
	 * MSS less the most options allow, is a forged header (a LAN
	 * host's), which would make one frame tens of thousands of
	 * packets. */
	if ((ip.proto == IPPROTO_TCP_ && nseg > GSO_TCP_MAX_SEGS) ||
	    (ip.proto == IPPROTO_UDP_ && nseg > GSO_UDP_MAX_SEGS))
		return -EINVAL;
	if (hdrs > sizeof(tmpl))
		return -EINVAL;
	memcpy(tmpl, buf, hdrs);

	for (i = 0, off = 0; i < nseg; i++, off += n) {
		/* Segment i's headers go right in front of its payload,
		 * over the end of segment i - 1, which fn is done with. */
		uint8_t *s = buf + off;
		uint8_t *sip = s + l3off, *sl4 = sip + ip.hl;
		size_t iplen;

		n = payload - off < h->gso_size ? payload - off : h->gso_size;
		iplen = ip.hl + l4hl + n;
		memcpy(s, tmpl, hdrs);

		if (ip.ver == 4) {
			put_be16(sip + 2, (uint16_t)iplen);
			put_be16(sip + 4, (uint16_t)(id + i));
			put_be16(sip + 10, ip_csum(sip, ip.hl));
		} else {
			put_be16(sip + 4, (uint16_t)(l4hl + n));
		}

		if (ip.proto == IPPROTO_TCP_) {
			put_be32(sl4 + 4, seq + (uint32_t)off);
			if (i + 1 < nseg)
				sl4[13] &= (uint8_t)~(TCP_F_FIN | TCP_F_PSH);
			if (i > 0)
				sl4[13] &= (uint8_t)~TCP_F_CWR;
			put_be16(sl4 + 16, inet_l4_csum(sip + (ip.ver == 4 ? 12 : 8),
							sip + (ip.ver == 4 ? 16 : 24), alen,
							IPPROTO_TCP_, sl4, l4hl + n, 16));
		} else {
			put_be16(sl4 + 4, (uint16_t)(l4hl + n));
			put_be16(sl4 + 6, inet_l4_csum(sip + (ip.ver == 4 ? 12 : 8),
						       sip + (ip.ver == 4 ? 16 : 24), alen,
						       IPPROTO_UDP_, sl4, l4hl + n, 6));
		}
		r = fn(arg, sip, iplen);
		if (r < 0)
			return r;
	}
	return (int)nseg;
}

