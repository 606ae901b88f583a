#include "wire.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static bool attr_repeatable(uint16_t type)
{
	return type == CY_A_ADDR || type == CY_A_NMS || type == CY_A_GN || type == CY_A_RELAY ||
	       type == CY_A_CA;
}

const char *cy_result_str(enum cy_result r)
{
	switch (r) {
	case CY_OK: return "ok";
	case CY_ERR_MALFORMED: return "malformed message";
	case CY_ERR_AUTH: return "authentication failed";
	case CY_ERR_REVOKED: return "revoked";
	case CY_ERR_UNKNOWN: return "unknown";
	case CY_ERR_EXPIRED: return "key expired";
	case CY_ERR_REREGISTER: return "register again";
	case CY_ERR_INTERNAL: return "internal error";
	case CY_ERR_POLICY: return "refused by policy";
	case CY_ERR_UNREACHABLE: return "peer unreachable";
	case CY_ERR_BUSY: return "try again later";
	case CY_ERR_PROVE: return "prove the address";
	}
	return "unknown result";
}

const char *cy_msg_type_str(uint8_t type)
{
	switch (type) {
	case CY_LOGIN_REQ: return "Login Request";
	case CY_LOGIN_RES: return "Login Response";
	case CY_INFO_REQ: return "Information Request";
	case CY_INFO_RES: return "Information Response";
	case CY_REG_REQ: return "Registration Request";
	case CY_REG_RES: return "Registration Response";
	case CY_KEEPALIVE: return "Keepalive";
	case CY_KEEPALIVE_ACK: return "Keepalive Ack";
	case CY_DEREG: return "Deregistration";
	case CY_DIRECTION_REQ: return "Direction Request";
	case CY_ROUTE_DIRECTION: return "Route Direction";
	case CY_CONFIRMATION: return "Confirmation";
	case CY_RELAY_REQ: return "Relay Request";
	case CY_RELAY_RES: return "Relay Response";
	case CY_PUNCH_REQ: return "Punch Request";
	case CY_PUNCH_DIRECTION: return "Punch Direction";
	case CY_TEARDOWN: return "Tunnel Teardown";
	case CY_TEARDOWN_ACK: return "Teardown Ack";
	case CY_TUNNEL_REQ: return "Tunnel Request";
	case CY_TUNNEL_RES: return "Tunnel Response";
	case CY_RELAY_HELLO: return "Relay Hello";
	case CY_RELAY_ACK: return "Relay Ack";
	case CY_PUNCH: return "Punch";
	case CY_DATA: return "Data";
	case CY_SEALED: return "Sealed";
	case CY_NMS_REJECT: return "NMS Reject";
	}
	return "unknown";
}

ssize_t cy_frame_len(const uint8_t hdr[CY_HDR_LEN])
{
	if (hdr[0] != CY_VERSION)
		return -EBADMSG;
	return CY_HDR_LEN + get_be16(hdr + 2);
}

static int parse_attrs(struct cy_msg *m, struct cur *c)
{
	m->nattrs = 0;
	while (!cur_empty(c)) {
		struct cy_attr a;

		if (m->nattrs == CY_MSG_MAX_ATTRS)
			return -EBADMSG;
		if (!cur_get_u16(c, &a.type) || !cur_get_u16(c, &a.len) ||
		    !cur_get_ptr(c, &a.val, a.len))
			return -EBADMSG;
		if (!attr_repeatable(a.type) && cy_msg_find(m, a.type))
			return -EBADMSG;
		m->attrs[m->nattrs++] = a;
	}
	return 0;
}

int cy_msg_parse(struct cy_msg *m, const uint8_t *buf, size_t len)
{
	struct cur c = cur_make(buf, len), body;
	uint16_t blen;

	m->nattrs = 0;
	if (!cur_get_u8(&c, &m->version) || !cur_get_u8(&c, &m->type) ||
	    !cur_get_u16(&c, &blen))
		return -EBADMSG;
	if (m->version != CY_VERSION)
		return -EBADMSG;
	/* The length must account for exactly the bytes we got. */
	if (cur_left(&c) != blen || !cur_get_sub(&c, &body, blen))
		return -EBADMSG;
	return parse_attrs(m, &body);
}

int cy_attr_parse_nested(const struct cy_attr *a, struct cy_msg *sub)
{
	struct cur c = cur_make(a->val, a->len);

	sub->version = 0;
	sub->type = 0;
	return parse_attrs(sub, &c);
}

const struct cy_attr *cy_msg_find(const struct cy_msg *m, uint16_t type)
{
	for (size_t i = 0; i < m->nattrs; i++)
		if (m->attrs[i].type == type)
			return &m->attrs[i];
	return NULL;
}

const struct cy_attr *cy_msg_next(const struct cy_msg *m, uint16_t type, size_t *pos)
{
	for (; *pos < m->nattrs; (*pos)++)
		if (m->attrs[*pos].type == type)
			return &m->attrs[(*pos)++];
	return NULL;
}

bool cy_msg_bytes(const struct cy_msg *m, uint16_t type, void *out, size_t n)
{
	const struct cy_attr *a = cy_msg_find(m, type);

	if (!a || a->len != n)
		return false;
	memcpy(out, a->val, n);
	return true;
}

bool cy_msg_u8(const struct cy_msg *m, uint16_t type, uint8_t *v)
{
	return cy_msg_bytes(m, type, v, 1);
}

bool cy_msg_u32(const struct cy_msg *m, uint16_t type, uint32_t *v)
{
	uint8_t b[4];

	if (!cy_msg_bytes(m, type, b, sizeof(b)))
		return false;
	*v = get_be32(b);
	return true;
}

bool cy_msg_u64(const struct cy_msg *m, uint16_t type, uint64_t *v)
{
	uint8_t b[8];

	if (!cy_msg_bytes(m, type, b, sizeof(b)))
		return false;
	*v = get_be64(b);
	return true;
}

bool cy_msg_str(const struct cy_msg *m, uint16_t type, char *out, size_t max)
{
	const struct cy_attr *a = cy_msg_find(m, type);

	if (!a || a->len == 0 || a->len > max)
		return false;
	for (size_t i = 0; i < a->len; i++)
		if (a->val[i] < 0x20 || a->val[i] > 0x7e)
			return false;
	memcpy(out, a->val, a->len);
	out[a->len] = '\0';
	return true;
}

bool cy_attr_endpoint(const struct cy_attr *a, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct cur c = cur_make(a->val, a->len);
	uint8_t fam;
	uint16_t port;

	memset(ss, 0, sizeof(*ss));
	if (!cur_get_u8(&c, &fam) || !cur_get_u16(&c, &port))
		return false;
	if (fam == 4 && cur_left(&c) == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		cur_get_bytes(&c, &sin->sin_addr, 4);
		*sslen = sizeof(*sin);
		return true;
	}
	if (fam == 6 && cur_left(&c) == 16) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		cur_get_bytes(&c, &sin6->sin6_addr, 16);
		*sslen = sizeof(*sin6);
		return true;
	}
	return false;
}

bool cy_msg_endpoint(const struct cy_msg *m, uint16_t type, struct sockaddr_storage *ss,
		     socklen_t *sslen)
{
	const struct cy_attr *a = cy_msg_find(m, type);

	return a && cy_attr_endpoint(a, ss, sslen);
}

void cy_build_start(struct cy_builder *b, void *buf, size_t cap, uint8_t type)
{
	if (cap > CY_MSG_MAX)
		cap = CY_MSG_MAX;
	wbuf_init(&b->w, buf, cap);
	wbuf_put_u8(&b->w, CY_VERSION);
	wbuf_put_u8(&b->w, type);
	wbuf_put_u16(&b->w, 0); /* patched by cy_build_finish */
}

void cy_put_bytes(struct cy_builder *b, uint16_t type, const void *v, size_t n)
{
	if (n > UINT16_MAX) {
		b->w.overflow = true;
		return;
	}
	wbuf_put_u16(&b->w, type);
	wbuf_put_u16(&b->w, (uint16_t)n);
	wbuf_put_bytes(&b->w, v, n);
}

void cy_put_u8(struct cy_builder *b, uint16_t type, uint8_t v)
{
	cy_put_bytes(b, type, &v, 1);
}

void cy_put_u32(struct cy_builder *b, uint16_t type, uint32_t v)
{
	uint8_t x[4];

	put_be32(x, v);
	cy_put_bytes(b, type, x, sizeof(x));
}

void cy_put_u64(struct cy_builder *b, uint16_t type, uint64_t v)
{
	uint8_t x[8];

	put_be64(x, v);
	cy_put_bytes(b, type, x, sizeof(x));
}

void cy_put_str(struct cy_builder *b, uint16_t type, const char *s)
{
	cy_put_bytes(b, type, s, strlen(s));
}

void cy_put_endpoint(struct cy_builder *b, uint16_t type, const struct sockaddr *sa)
{
	uint8_t x[19];
	struct wbuf w;

	wbuf_init(&w, x, sizeof(x));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		wbuf_put_u8(&w, 4);
		wbuf_put_u16(&w, ntohs(sin->sin_port));
		wbuf_put_bytes(&w, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		wbuf_put_u8(&w, 6);
		wbuf_put_u16(&w, ntohs(sin6->sin6_port));
		wbuf_put_bytes(&w, &sin6->sin6_addr, 16);
	} else {
		b->w.overflow = true; /* not representable: fail the build */
		return;
	}
	cy_put_bytes(b, type, x, w.len);
}

size_t cy_put_nested_begin(struct cy_builder *b, uint16_t type)
{
	wbuf_put_u16(&b->w, type);
	wbuf_put_u16(&b->w, 0);
	return b->w.len;
}

void cy_put_nested_end(struct cy_builder *b, size_t token)
{
	size_t n;

	if (b->w.overflow)
		return;
	n = b->w.len - token;
	if (n > UINT16_MAX) {
		b->w.overflow = true;
		return;
	}
	put_be16(b->w.p + token - 2, (uint16_t)n);
}

ssize_t cy_build_finish(struct cy_builder *b)
{
	if (!wbuf_ok(&b->w) || b->w.len - CY_HDR_LEN > UINT16_MAX)
		return -EMSGSIZE;
	put_be16(b->w.p + 2, (uint16_t)(b->w.len - CY_HDR_LEN));
	return (ssize_t)b->w.len;
}

bool cy_label_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CY_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

bool cy_domain_ok(const char *s)
{
	char buf[CY_FQDN_MAX + 1], *save, *lab;
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(buf) || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
		return false;
	memcpy(buf, s, n + 1);
	for (lab = strtok_r(buf, ".", &save); lab; lab = strtok_r(NULL, ".", &save))
		if (!cy_label_ok(lab))
			return false;
	return true;
}
