#include "dns.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static uint8_t lower(uint8_t ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

/* RFC 1035 4.1.1: the header.
 *
 *   ID | QR Opcode AA TC RD RA Z RCODE | QDCOUNT | ANCOUNT | NSCOUNT | ARCOUNT
 *   (six 16-bit fields, network order) */
static bool hdr_get(struct cur *c, struct dns_hdr *h)
{
	return cur_get_u16(c, &h->id) && cur_get_u16(c, &h->flags) &&
	       cur_get_u16(c, &h->qdcount) && cur_get_u16(c, &h->ancount) &&
	       cur_get_u16(c, &h->nscount) && cur_get_u16(c, &h->arcount);
}

static void hdr_put(struct wbuf *w, const struct dns_hdr *h)
{
	wbuf_put_u16(w, h->id);
	wbuf_put_u16(w, h->flags);
	wbuf_put_u16(w, h->qdcount);
	wbuf_put_u16(w, h->ancount);
	wbuf_put_u16(w, h->nscount);
	wbuf_put_u16(w, h->arcount);
}

/* RFC 1035 4.1.4, Message compression:
 *   "the first two bits are ones.  This allows a pointer to be distinguished
 *    from a label, since the label must begin with two zero bits because
 *    labels are restricted to 63 octets or less. [...] The OFFSET field
 *    specifies an offset from the start of the message"
 * RFC 1035 2.3.4: "labels 63 octets or less", "names 255 octets or less".
 * RFC 6891 5: the 01 and 10 label types are not to be used.
 *
 * Loops and forward pointers: every pointer must point strictly before the
 * start of the run of labels it ends, so the offsets decrease and reading
 * always terminates; the 255-octet cap bounds the work on top of that. */
int dns_name_read(const uint8_t *msg, size_t msglen, struct cur *c,
		  uint8_t out[DNS_NAME_MAX], size_t *outlen)
{
	struct cur rc = *c;
	size_t n = 0, limit;
	bool jumped = false;
	uint8_t len, lo;

	if (c->p < msg || (size_t)(c->p - msg) > msglen)
		return -EBADMSG;
	limit = (size_t)(c->p - msg);
	for (;;) {
		if (!cur_get_u8(&rc, &len))
			return -EBADMSG;
		if ((len & 0xc0) == 0xc0) {
			size_t off;

			if (!cur_get_u8(&rc, &lo))
				return -EBADMSG;
			off = (size_t)(len & 0x3f) << 8 | lo;
			if (off >= limit)
				return -EBADMSG;
			if (!jumped)
				*c = rc;
			jumped = true;
			limit = off;
			rc = cur_make(msg + off, msglen - off);
			continue;
		}
		if (len & 0xc0)
			return -EBADMSG;
		if (n + 1 + len > DNS_NAME_MAX)
			return -EBADMSG;
		out[n++] = len;
		if (!cur_get_bytes(&rc, out + n, len))
			return -EBADMSG;
		n += len;
		if (len == 0)
			break;
	}
	if (!jumped)
		*c = rc;
	*outlen = n;
	return 0;
}

/* RFC 1035 4.1.2: QNAME, QTYPE, QCLASS. */
static int question_get(const uint8_t *msg, size_t msglen, struct cur *c,
			struct dns_question *q)
{
	if (dns_name_read(msg, msglen, c, q->name, &q->name_len) < 0)
		return -EBADMSG;
	if (!cur_get_u16(c, &q->qtype) || !cur_get_u16(c, &q->qclass))
		return -EBADMSG;
	for (size_t i = 0; i < q->name_len; i++)
		q->lname[i] = lower(q->name[i]);
	return 0;
}

/* RFC 6891 6.1.2, the OPT pseudo-RR:
 *   NAME  domain name  MUST be 0 (root domain)
 *   TYPE  u_int16_t    OPT (41)
 *   CLASS u_int16_t    requestor's UDP payload size
 *   TTL   u_int32_t    extended RCODE and flags
 *   RDLEN u_int16_t    length of all RDATA
 * 6.1.3: TTL = EXTENDED-RCODE (8) | VERSION (8) | DO (1) | Z (15).
 * 6.1.1: "If a query message with more than one OPT RR is received, a
 *   FORMERR (RCODE=1) MUST be returned."  OPT appears only in the
 *   additional section.
 * 6.2.5: "Values lower than 512 MUST be treated as equal to 512." */
static int opt_get(struct dns_msg *m, size_t name_len, uint16_t udp, uint32_t ttl,
		   bool additional)
{
	if (m->has_opt || !additional || name_len != 1)
		return -EBADMSG;
	m->has_opt = true;
	m->udp_size = udp < DNS_UDP_MIN ? DNS_UDP_MIN : udp;
	m->ext_rcode = ttl >> 24;
	m->edns_version = (ttl >> 16) & 0xff;
	m->do_bit = (ttl & DNS_EDNS_DO) != 0;
	return 0;
}

int dns_parse(const uint8_t *buf, size_t len, enum dns_parse_mode mode, struct dns_msg *m)
{
	struct cur c = cur_make(buf, len);
	uint8_t name[DNS_NAME_MAX];
	size_t name_len, total;

	memset(m, 0, sizeof(*m));
	if (!hdr_get(&c, &m->hdr))
		return -EBADMSG;
	m->hdr_ok = true;
	/* RFC 9619: QDCOUNT is at most 1 in practice; more is not answerable. */
	if (m->hdr.qdcount > 1)
		return -EBADMSG;
	if (m->hdr.qdcount == 1) {
		if (question_get(buf, len, &c, &m->q) < 0)
			return -EBADMSG;
		m->has_q = true;
	}
	if (mode == DNS_PARSE_QUESTION)
		return 0;

	/* RFC 1035 4.1.3: NAME TYPE CLASS TTL RDLENGTH RDATA.  The smallest RR
	 * takes 11 octets, so counts that cannot fit are refused up front. */
	total = (size_t)m->hdr.ancount + m->hdr.nscount + m->hdr.arcount;
	if (total > DNS_RR_MAX || total * 11 > cur_left(&c))
		return -EBADMSG;
	for (size_t i = 0; i < total; i++) {
		uint16_t type, class, rdlen;
		uint32_t ttl;
		struct cur rdata;

		if (dns_name_read(buf, len, &c, name, &name_len) < 0)
			return -EBADMSG;
		if (!cur_get_u16(&c, &type) || !cur_get_u16(&c, &class) ||
		    !cur_get_u32(&c, &ttl) || !cur_get_u16(&c, &rdlen) ||
		    !cur_get_sub(&c, &rdata, rdlen))
			return -EBADMSG;
		if (type == DNS_T_OPT &&
		    opt_get(m, name_len, class, ttl,
			    i >= (size_t)m->hdr.ancount + m->hdr.nscount) < 0)
			return -EBADMSG;
	}
	if (!cur_empty(&c))
		return -EBADMSG;
	return 0;
}

int dns_name_from_str(const char *s, uint8_t out[DNS_NAME_MAX], size_t *outlen)
{
	size_t n = 0;

	if (s[0] == '.' && s[1] == '\0')
		s++;
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		if (l == 0 || l > DNS_LABEL_MAX || n + 1 + l + 1 > DNS_NAME_MAX)
			return -EINVAL;
		out[n++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++)
			out[n++] = lower((uint8_t)s[i]);
		s += l;
		if (*s == '.')
			s++;
	}
	out[n++] = 0;
	*outlen = n;
	return 0;
}

const char *dns_name_to_str(const uint8_t *name, size_t len, char buf[DNS_NAME_STR_MAX])
{
	size_t o = 0, w = 0;

	buf[0] = '\0';
	while (o < len && name[o] != 0) {
		uint8_t l = name[o++];

		if (w)
			buf[w++] = '.';
		for (uint8_t i = 0; i < l && o < len; i++, o++) {
			uint8_t ch = name[o];

			if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')
				buf[w++] = (char)ch;
			else
				w += (size_t)snprintf(buf + w, 5, "\\%03u", ch);
		}
	}
	if (w == 0)
		buf[w++] = '.';
	buf[w] = '\0';
	return buf;
}

unsigned dns_name_labels(const uint8_t *name, size_t len)
{
	unsigned n = 0;

	for (size_t o = 0; o < len && name[o] != 0; o += 1 + name[o])
		n++;
	return n;
}

bool dns_name_under(const uint8_t *name, size_t len, const uint8_t *suffix, size_t slen,
		    unsigned *prefix_labels)
{
	unsigned n = 0;

	for (size_t o = 0; o < len; o += 1 + name[o], n++) {
		if (len - o == slen && memcmp(name + o, suffix, slen) == 0) {
			*prefix_labels = n;
			return true;
		}
		if (name[o] == 0)
			break;
	}
	return false;
}

bool dns_question_equal(const struct dns_question *a, const struct dns_question *b)
{
	return a->qtype == b->qtype && a->qclass == b->qclass && a->name_len == b->name_len &&
	       memcmp(a->name, b->name, a->name_len) == 0;
}

static void question_put(struct wbuf *w, const struct dns_question *q)
{
	wbuf_put_bytes(w, q->name, q->name_len);
	wbuf_put_u16(w, q->qtype);
	wbuf_put_u16(w, q->qclass);
}

/* RFC 6891 6.1.3 / 7: a responder answers an EDNS query with an OPT RR of
 * its own; its extended RCODE holds the upper 8 bits of a 12-bit RCODE.
 * RFC 3225 3: the DO bit is copied into the response. */
static void opt_put(struct wbuf *w, unsigned rcode, bool do_bit)
{
	wbuf_put_u8(w, 0);
	wbuf_put_u16(w, DNS_T_OPT);
	wbuf_put_u16(w, DNS_EDNS_SIZE);
	wbuf_put_u32(w, (uint32_t)(rcode >> 4) << 24 | (do_bit ? DNS_EDNS_DO : 0));
	wbuf_put_u16(w, 0);
}

static ssize_t build(uint8_t *out, size_t cap, const struct dns_msg *q,
		     const struct dns_reply *r, size_t n_an, bool tc)
{
	struct dns_hdr h = { .id = q->hdr.id };
	struct wbuf w;
	unsigned rcode = r->rcode;

	if (rcode > 15 && !q->has_opt)
		rcode = DNS_R_SERVFAIL;
	if (!q->has_q)
		n_an = 0;
	/* RFC 1035 4.1.1: the response copies ID, Opcode and RD; RFC 4035
	 * 3.1.6 / 6891: CD is copied too.  RA: we offer recursion (forwarding). */
	h.flags = DNS_F_QR | (q->hdr.flags & (DNS_F_OPCODE | DNS_F_RD | DNS_F_CD)) | DNS_F_RA |
		  (r->aa ? DNS_F_AA : 0) | (tc ? DNS_F_TC : 0) | (rcode & DNS_F_RCODE);
	h.qdcount = q->has_q;
	h.ancount = (uint16_t)n_an;
	h.arcount = q->has_opt;
	wbuf_init(&w, out, cap);
	hdr_put(&w, &h);
	if (q->has_q)
		question_put(&w, &q->q);
	for (size_t i = 0; i < n_an; i++) {
		/* The owner is the question name at offset 12 (RFC 1035 4.1.4). */
		wbuf_put_u16(&w, 0xc000 | DNS_HDR_LEN);
		wbuf_put_u16(&w, r->an[i].type);
		wbuf_put_u16(&w, DNS_C_IN);
		wbuf_put_u32(&w, r->ttl);
		wbuf_put_u16(&w, r->an[i].rdlen);
		wbuf_put_bytes(&w, r->an[i].rdata, r->an[i].rdlen);
	}
	if (q->has_opt)
		opt_put(&w, rcode, q->do_bit);
	if (!wbuf_ok(&w))
		return -ENOSPC;
	return (ssize_t)w.len;
}

ssize_t dns_build_reply(uint8_t *out, size_t cap, const struct dns_msg *q,
			const struct dns_reply *r)
{
	ssize_t n;

	if (!q->hdr_ok)
		return -EINVAL;
	n = build(out, cap, q, r, r->n_an, false);
	/* RFC 1035 4.2.1 / RFC 2181 9: a reply that does not fit is cut and
	 * TC set, so the client retries over TCP. */
	if (r->limit && n > 0 && (size_t)n > r->limit)
		n = build(out, cap, q, r, 0, true);
	return n;
}

ssize_t dns_truncate(uint8_t *out, size_t cap, const struct dns_msg *rm, uint16_t id,
		     bool client_edns, bool client_do)
{
	struct dns_hdr h = { .id = id };
	struct wbuf w;

	h.flags = rm->hdr.flags | DNS_F_TC;
	h.qdcount = rm->has_q;
	h.arcount = client_edns;
	wbuf_init(&w, out, cap);
	hdr_put(&w, &h);
	if (rm->has_q)
		question_put(&w, &rm->q);
	if (client_edns)
		opt_put(&w, 0, client_do);
	if (!wbuf_ok(&w))
		return -ENOSPC;
	return (ssize_t)w.len;
}

size_t dns_udp_limit(const struct dns_msg *q)
{
	return q->has_opt ? q->udp_size : DNS_UDP_MIN;
}
