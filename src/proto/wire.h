/* CYPHONIC signaling wire format (docs/protocol.md is the reference).
 *
 * A message is a 4-byte header followed by attributes:
 *
 *    0       1       2       3
 *   +-------+-------+-------+-------+
 *   |  ver  | type  |    length     |   length = bytes of attributes
 *   +-------+-------+-------+-------+
 *   | attr type     | attr length   |   repeated; value follows,
 *   +-------+-------+-------+-------+   no padding
 *   | value ...
 *
 * All integers are big-endian.  A message is accepted only when its
 * length field matches the bytes received exactly, every attribute fits,
 * and each attribute read through the typed getters has exactly the
 * length its type requires.  Unknown attributes are skipped (forward
 * compatibility); unknown message types are the handler's business. */
#ifndef CY_WIRE_H
#define CY_WIRE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "buf.h"

#define CY_VERSION 1
#define CY_HDR_LEN 4
#define CY_ATTR_HDR_LEN 4
#define CY_MSG_MAX (CY_HDR_LEN + 65535)
#define CY_MSG_MAX_ATTRS 128
#define CY_NAME_MAX 63       /* one DNS label */
#define CY_FQDN_MAX 253
#define CY_REASON_MAX 200
#define CY_PASSWORD_MAX 128
#define CY_KEY_LEN 32
#define CY_TICKET_LEN 16
/* A route's authorisation lasts this long: the NMS forgets it after, and
 * a node selects the route again before rekeying past it (docs/policy.md). */
#define CY_GRANT_LIFETIME_S 3600

/* Every message type, the second byte of every message (after the
 * version): the one registry, so the node's UDP port, which carries
 * several families, tells them apart by this byte alone. */
enum cy_msg_type {
	/* AS, over TLS */
	CY_LOGIN_REQ = 0x01,
	CY_LOGIN_RES = 0x02,
	CY_INFO_REQ = 0x03,
	CY_INFO_RES = 0x04,
	/* NMS, UDP, sealed with the node-NMS common key */
	CY_REG_REQ = 0x10,
	CY_REG_RES = 0x11,
	CY_KEEPALIVE = 0x12,
	CY_KEEPALIVE_ACK = 0x13,
	CY_DEREG = 0x14,
	CY_DIRECTION_REQ = 0x20,
	CY_ROUTE_DIRECTION = 0x21,
	CY_CONFIRMATION = 0x22,
	/* NMS <-> TRS, UDP, sealed with a key derived from the NMS-TRS key */
	CY_RELAY_REQ = 0x23,
	CY_RELAY_RES = 0x24,
	/* NMS, sealed: a relayed tunnel asks for a punch, the NMS directs both ends */
	CY_PUNCH_REQ = 0x25,
	CY_PUNCH_DIRECTION = 0x26,
	/* NMS -> node, sealed: drop a tunnel (revoked, or no longer allowed);
	 * the node acknowledges (docs/policy.md) */
	CY_TEARDOWN = 0x27,
	CY_TEARDOWN_ACK = 0x28,
	/* node <-> node (and through a TRS session), UDP, own layouts:
	 * docs/tunnel.md (handshake, data), docs/protocol.md (relay) */
	CY_TUNNEL_REQ = 0x30,
	CY_TUNNEL_RES = 0x31,
	CY_RELAY_HELLO = 0x32,
	CY_RELAY_ACK = 0x33,
	CY_PUNCH = 0x34,
	CY_DATA = 0x40,
	/* UDP envelopes (not attribute messages, see seal.h) */
	CY_SEALED = 0x80,
	CY_NMS_REJECT = 0x81,
};

enum cy_attr_type {
	CY_A_RESULT = 1,     /* u8, enum cy_result */
	CY_A_REASON = 2,     /* string, <= CY_REASON_MAX */
	CY_A_NAME = 3,       /* string, <= CY_NAME_MAX */
	CY_A_FQDN = 4,       /* string, <= CY_FQDN_MAX */
	CY_A_PASSWORD = 5,   /* string, <= CY_PASSWORD_MAX */
	CY_A_KEY_ID = 6,     /* u64 */
	CY_A_KEY = 7,        /* CY_KEY_LEN bytes */
	CY_A_LIFETIME = 8,   /* u32 seconds */
	CY_A_VIP4 = 9,       /* 4 bytes */
	CY_A_VIP6 = 10,      /* 16 bytes */
	CY_A_ADDR = 11,      /* endpoint; repeatable: a node's local addresses */
	CY_A_OBSERVED = 12,  /* endpoint the NMS saw the datagram come from */
	CY_A_NAT = 13,       /* u8: 1 = behind NAPT */
	CY_A_TTL = 14,       /* u32 seconds a registration lives unrefreshed */
	CY_A_TIME = 15,      /* u64 milliseconds since the epoch */
	CY_A_MAC = 16,       /* 6 bytes */
	CY_A_FAMILIES = 17,  /* u8 bitmask: 1 = IPv4, 2 = IPv6 */
	CY_A_NMS = 18,       /* endpoint of the NMS to register with; repeatable */
	CY_A_KIND = 19,      /* u8, enum cy_kind */
	CY_A_GN = 20,        /* nested attributes; repeatable: one general node */
	CY_A_PREFIX4 = 21,   /* u8: prefix length of the cloud's virtual IPv4 range */
	CY_A_PREFIX6 = 22,   /* u8: prefix length of the cloud's virtual IPv6 range */
	CY_A_TUNNEL_ID = 23, /* u64 */
	CY_A_PEER = 24,      /* endpoint where the peer is reached */
	CY_A_ROLE = 25,      /* u8, enum cy_role */
	CY_A_PATH = 26,      /* u8, enum cy_path */
	CY_A_REQ_ID = 27,    /* u32, echoed from a Direction Request */
	CY_A_FOR = 28,       /* string, <= CY_NAME_MAX: log in this general node on the
			      * authenticated adapter's behalf */
	CY_A_TEMP_KEY = 29,  /* CY_KEY_LEN bytes: seals the End Key material through a TRS */
	CY_A_RELAY = 30,     /* endpoint of a TRS relay session; repeatable (one per family) */
	CY_A_CANDIDATE = 31, /* endpoint: where the peer may be reached directly by punching */
	CY_A_TICKET = 32,    /* CY_TICKET_LEN bytes: the NMS's proof of a punched route's pair */
	CY_A_MAPPING = 33,   /* u8, enum cy_mapping: how the sender's NAPT maps it */
	CY_A_PUNCH_MODE = 34, /* u8, enum cy_punch_mode: how to punch (absent: plain) */
	CY_A_FLOWS_OUT = 35, /* flows.h: what the receiver may start towards its peer */
	CY_A_FLOWS_IN = 36,  /* flows.h: what the peer may start towards the receiver */
	CY_A_NEWKEY = 37,    /* 32 bytes: an Ed25519 public key to certify when renewing */
	CY_A_CA = 38,        /* DER certificate of a CA the cloud trusts; repeatable */
	CY_A_CERT = 39,      /* DER certificate: the node's renewed one, for NEWKEY */
	CY_A_COOKIE = 40,    /* CY_COOKIE_LEN bytes: the NMS's proof that a node is reached
			      * at an endpoint (a Registration's return routability) */
};

#define CY_COOKIE_LEN 16

#define CY_CERT_DER_MAX 2048 /* CA and CERT attributes: one certificate */

enum cy_result {
	CY_OK = 0,
	CY_ERR_MALFORMED = 1,
	CY_ERR_AUTH = 2,        /* bad credentials */
	CY_ERR_REVOKED = 3,
	CY_ERR_UNKNOWN = 4,     /* unknown node, key or registration */
	CY_ERR_EXPIRED = 5,     /* key expired: log in again */
	CY_ERR_REREGISTER = 6,  /* send a Registration Request again */
	CY_ERR_INTERNAL = 7,
	CY_ERR_POLICY = 8,
	CY_ERR_UNREACHABLE = 9, /* peer not registered, or no path without a relay */
	CY_ERR_BUSY = 10,       /* not now: too many failed logins, or the AS is loaded */
	CY_ERR_PROVE = 11,      /* register again with the COOKIE: prove the endpoint is yours */
};

enum cy_role { CY_ROLE_RESPONDER = 0, CY_ROLE_INITIATOR = 1 };
enum cy_path { CY_PATH_DIRECT = 0, CY_PATH_RELAY = 1 };

/* A node's NAPT (or none): one mapping for every destination, or one per
 * destination (a random-port NAPT): the node compares where the NMS and a
 * TRS saw it (docs/nat.md). */
enum cy_mapping { CY_MAP_UNKNOWN = 0, CY_MAP_KEEPS = 1, CY_MAP_VARIES = 2 };
/* How one end punches: probes to the candidate; the birthday approach's
 * hard side (many sockets, one probe each to the candidate) or easy side
 * (probes to many ports at the candidate's address). */
enum cy_punch_mode { CY_PUNCH_PLAIN = 0, CY_PUNCH_MANY = 1, CY_PUNCH_SPRAY = 2 };

enum cy_kind { CY_KIND_NODE = 0, CY_KIND_ADAPTER = 1, CY_KIND_GN = 2 };

#define CY_FAM_IPV4 1
#define CY_FAM_IPV6 2

/* A general node as the AS lists it to its adapter (the GN attribute of
 * an Information Response, docs/protocol.md). */
struct cy_gn {
	char name[CY_NAME_MAX + 1];
	char fqdn[CY_FQDN_MAX + 1];
	uint8_t mac[6];
	struct in_addr vip4;
	struct in6_addr vip6;
};

/* A node's name: one DNS label of lower-case letters, digits and '-', not
 * starting or ending with '-', 1..CY_NAME_MAX bytes.  A domain: such
 * labels joined by single dots, at most CY_FQDN_MAX bytes. */
bool cy_label_ok(const char *s);
bool cy_domain_ok(const char *s);

const char *cy_result_str(enum cy_result r);
const char *cy_msg_type_str(uint8_t type);

struct cy_attr {
	uint16_t type;
	uint16_t len;
	const uint8_t *val;
};

struct cy_msg {
	uint8_t version;
	uint8_t type;
	size_t nattrs;
	struct cy_attr attrs[CY_MSG_MAX_ATTRS];
};

/* Read the 4-byte header of a stream frame: returns the total frame
 * length (header included) or -EBADMSG for a wrong version. */
ssize_t cy_frame_len(const uint8_t hdr[CY_HDR_LEN]);

/* Parse a whole message.  0 or -EBADMSG (bad version, length mismatch,
 * truncated attribute, too many attributes, trailing bytes). */
int cy_msg_parse(struct cy_msg *m, const uint8_t *buf, size_t len);

/* Typed getters.  Each returns false when the attribute is absent, and
 * also when it is present with a length its type does not allow (the
 * caller treats both as a malformed message when the attribute is
 * required).  The first instance wins for non-repeatable attributes;
 * a duplicate of a non-repeatable attribute makes cy_msg_parse fail. */
const struct cy_attr *cy_msg_find(const struct cy_msg *m, uint16_t type);
bool cy_msg_u8(const struct cy_msg *m, uint16_t type, uint8_t *v);
bool cy_msg_u32(const struct cy_msg *m, uint16_t type, uint32_t *v);
bool cy_msg_u64(const struct cy_msg *m, uint16_t type, uint64_t *v);
bool cy_msg_bytes(const struct cy_msg *m, uint16_t type, void *out, size_t n);
/* Strings: no NUL inside, 1..max bytes, printable ASCII; copied and
 * NUL-terminated into out[max + 1]. */
bool cy_msg_str(const struct cy_msg *m, uint16_t type, char *out, size_t max);
bool cy_attr_endpoint(const struct cy_attr *a, struct sockaddr_storage *ss,
		      socklen_t *sslen);
bool cy_msg_endpoint(const struct cy_msg *m, uint16_t type,
		     struct sockaddr_storage *ss, socklen_t *sslen);
/* Iterate a repeatable attribute: *pos starts at 0. */
const struct cy_attr *cy_msg_next(const struct cy_msg *m, uint16_t type, size_t *pos);

/* Building.  Writes into caller memory; cy_build_finish returns the
 * total length or -EMSGSIZE if anything did not fit. */
struct cy_builder {
	struct wbuf w;
};

void cy_build_start(struct cy_builder *b, void *buf, size_t cap, uint8_t type);
void cy_put_bytes(struct cy_builder *b, uint16_t type, const void *v, size_t n);
void cy_put_u8(struct cy_builder *b, uint16_t type, uint8_t v);
void cy_put_u32(struct cy_builder *b, uint16_t type, uint32_t v);
void cy_put_u64(struct cy_builder *b, uint16_t type, uint64_t v);
void cy_put_str(struct cy_builder *b, uint16_t type, const char *s);
void cy_put_endpoint(struct cy_builder *b, uint16_t type, const struct sockaddr *sa);
/* Nested attribute: begin returns a token to pass to end. */
size_t cy_put_nested_begin(struct cy_builder *b, uint16_t type);
void cy_put_nested_end(struct cy_builder *b, size_t token);
ssize_t cy_build_finish(struct cy_builder *b);

/* Parse the value of a nested attribute as an attribute list (same rules
 * as cy_msg_parse; version and type of *sub are left 0). */
int cy_attr_parse_nested(const struct cy_attr *a, struct cy_msg *sub);

#endif
