/* DNS message codec (RFC 1035, EDNS0 per RFC 6891): just enough to parse a
 * query or a reply's question, find the OPT record, and build the small
 * replies a stub-facing server gives.  Shared by the node's resolver module
 * and the adapter's LAN DNS.
 *
 * Every byte is read through struct cur; names are decompressed with
 * loop-proof rules (each pointer must point strictly before the label that
 * holds it) and the 255/63 limits enforced. */
#ifndef CY_DNS_H
#define CY_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define DNS_HDR_LEN 12
#define DNS_NAME_MAX 255       /* RFC 1035 2.3.4: names, in wire form */
#define DNS_LABEL_MAX 63       /* RFC 1035 2.3.4: labels */
#define DNS_NAME_STR_MAX 1024  /* dns_name_to_str: worst case with \DDD escapes */
#define DNS_UDP_MIN 512        /* RFC 1035 4.2.1 */
#define DNS_MSG_MAX 65535
#define DNS_EDNS_SIZE 1232     /* the UDP size we advertise (DNS flag day 2020) */
#define DNS_RR_MAX 1024        /* cap on an+ns+ar walked in one message */

enum dns_type {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_OPT = 41,
	DNS_T_IXFR = 251,
	DNS_T_AXFR = 252,
	DNS_T_ANY = 255,
};

enum dns_class { DNS_C_IN = 1, DNS_C_ANY = 255 };

enum dns_rcode {
	DNS_R_NOERROR = 0,
	DNS_R_FORMERR = 1,
	DNS_R_SERVFAIL = 2,
	DNS_R_NXDOMAIN = 3,
	DNS_R_NOTIMP = 4,
	DNS_R_REFUSED = 5,
	DNS_R_BADVERS = 16,    /* RFC 6891 9: extended, needs an OPT record */
};

/* Header flag bits (RFC 1035 4.1.1, RFC 4035 for AD/CD). */
enum dns_flag {
	DNS_F_QR = 0x8000,
	DNS_F_OPCODE = 0x7800,
	DNS_F_AA = 0x0400,
	DNS_F_TC = 0x0200,
	DNS_F_RD = 0x0100,
	DNS_F_RA = 0x0080,
	DNS_F_AD = 0x0020,
	DNS_F_CD = 0x0010,
	DNS_F_RCODE = 0x000f,
};

#define DNS_OPCODE(flags) (((flags) & DNS_F_OPCODE) >> 11)
#define DNS_OPCODE_QUERY 0
#define DNS_EDNS_DO 0x8000     /* in the OPT TTL's low 16 bits */

struct dns_hdr {
	uint16_t id;
	uint16_t flags;
	uint16_t qdcount;
	uint16_t ancount;
	uint16_t nscount;
	uint16_t arcount;
};

struct dns_question {
	uint8_t name[DNS_NAME_MAX];   /* uncompressed wire form, case as sent */
	uint8_t lname[DNS_NAME_MAX];  /* the same, lower-cased (ASCII only) */
	size_t name_len;              /* wire length incl. the root label */
	uint16_t qtype;
	uint16_t qclass;
};

struct dns_msg {
	struct dns_hdr hdr;
	bool hdr_ok;          /* the 12-byte header was read (even if the rest failed) */
	bool has_q;           /* q holds the (single) question */
	struct dns_question q;
	bool has_opt;         /* an EDNS0 OPT record was found */
	uint16_t udp_size;    /* its payload size, raised to 512 (RFC 6891 6.2.3) */
	uint8_t edns_version;
	uint8_t ext_rcode;
	bool do_bit;
};

/* Parsing modes. */
enum dns_parse_mode {
	/* header, at most one question, every RR (for OPT), no trailing bytes */
	DNS_PARSE_QUERY,
	DNS_PARSE_QUESTION,   /* header and the first question only (replies to relay unchanged) */
};

/* Parse buf into m.  Returns 0, or -EBADMSG with m->hdr_ok telling whether a
 * FORMERR can still be addressed to the sender. */
int dns_parse(const uint8_t *buf, size_t len, enum dns_parse_mode mode, struct dns_msg *m);

/* Read one possibly-compressed name at *c, where msg/msglen is the whole
 * message (pointers are offsets into it).  out gets the wire form; 0 or
 * -EBADMSG. */
int dns_name_read(const uint8_t *msg, size_t msglen, struct cur *c,
		  uint8_t out[DNS_NAME_MAX], size_t *outlen);

/* "host.example.test" or "host.example.test." to wire form, lower-cased;
 * "." or "" is the root.  0 or -EINVAL. */
int dns_name_from_str(const char *s, uint8_t out[DNS_NAME_MAX], size_t *outlen);
/* Wire form to dotted text without the trailing dot ("." for the root);
 * bytes other than letters, digits, '-' and '_' are written as \DDD. */
const char *dns_name_to_str(const uint8_t *name, size_t len, char buf[DNS_NAME_STR_MAX]);
/* Number of labels (the root does not count). */
unsigned dns_name_labels(const uint8_t *name, size_t len);
/* True when name ends with the labels of suffix (both lower-cased wire form);
 * *prefix_labels gets how many labels name has in front of it. */
bool dns_name_under(const uint8_t *name, size_t len, const uint8_t *suffix, size_t slen,
		    unsigned *prefix_labels);

/* Same qtype, qclass and name, byte for byte (case included: a reply must
 * echo the question exactly as it was asked). */
bool dns_question_equal(const struct dns_question *a, const struct dns_question *b);

/* An answer RR to put in a reply; its owner is the question name. */
struct dns_rr {
	uint16_t type;
	const uint8_t *rdata;
	uint16_t rdlen;
};

struct dns_reply {
	unsigned rcode;            /* enum dns_rcode (BADVERS only with EDNS) */
	bool aa;                   /* authoritative (our own domain) */
	const struct dns_rr *an;   /* answers, owner = the question name */
	size_t n_an;
	uint32_t ttl;
	size_t limit;              /* client's size limit: over it, no answers and TC set */
};

/* Build the reply to query q (which must have hdr_ok): header with q's ID,
 * opcode, RD and CD, the question echoed when q has one, the answers, and
 * an OPT record when q had one.  Returns the length or -ENOSPC. */
ssize_t dns_build_reply(uint8_t *out, size_t cap, const struct dns_msg *q,
			const struct dns_reply *r);

/* A reply cut to fit a client: reply's header with TC set, its question,
 * no records, plus our OPT when the client used EDNS.  rm is reply parsed
 * with DNS_PARSE_QUESTION.  Returns the length or -ENOSPC. */
ssize_t dns_truncate(uint8_t *out, size_t cap, const struct dns_msg *rm, uint16_t id,
		     bool client_edns, bool client_do);

/* Size limit of a reply to this query over UDP (RFC 6891 6.2.5). */
size_t dns_udp_limit(const struct dns_msg *q);

#endif
