/* The adapter's DHCPv4 server core (see dhcp.h).  RFC text quoted above
 * the code that implements it. */
#include "dhcp.h"

#include <string.h>

#include "buf.h"

#define BOOTREQUEST 1
#define BOOTREPLY 2
#define DHCP_MAGIC 0x63825363u
#define DHCP_FLAG_BROADCAST 0x8000

enum dhcp_opt {
	OPT_PAD = 0,
	OPT_SUBNET_MASK = 1,
	OPT_ROUTER = 3,
	OPT_DNS = 6,
	OPT_HOSTNAME = 12,
	OPT_DOMAIN = 15,
	OPT_MTU = 26,
	OPT_REQ_IP = 50,
	OPT_LEASE_TIME = 51,
	OPT_OVERLOAD = 52,
	OPT_MSG_TYPE = 53,
	OPT_SERVER_ID = 54,
	OPT_PARAM_LIST = 55,
	OPT_T1 = 58,
	OPT_T2 = 59,
	OPT_END = 255,
};

/* What the server needs from a client's message. */
struct dhcp_req {
	uint8_t op, htype, hlen;
	uint32_t xid;
	uint16_t flags;
	uint32_t ciaddr, giaddr;
	uint8_t chaddr[16];
	uint8_t type;                   /* option 53, 0 = none */
	bool have_req_ip, have_sid;
	uint32_t req_ip, sid;
	const uint8_t *prl;             /* option 55 */
	size_t prl_len;
};

const char *dhcp_event_str(enum dhcp_event ev)
{
	switch (ev) {
	case DHCP_EV_IGNORED: return "ignored";
	case DHCP_EV_MALFORMED: return "malformed";
	case DHCP_EV_CHADDR_MISMATCH: return "chaddr mismatch";
	case DHCP_EV_UNKNOWN_MAC: return "unknown MAC";
	case DHCP_EV_OFFERED: return "offered";
	case DHCP_EV_ACKED: return "acked";
	case DHCP_EV_NAKED: return "naked";
	case DHCP_EV_RELEASED: return "released";
	case DHCP_EV_DECLINED: return "declined";
	case DHCP_EV_INFORMED: return "informed";
	}
	return "?";
}

/* Options 50 and 54, an IPv4 address: the first one counts.  False
 * for a bad length. */
static bool opt_addr(const uint8_t *v, uint8_t olen, bool *have, uint32_t *ip)
{
	if (olen != 4)
		return false;
	if (!*have) {
		*have = true;
		*ip = get_be32(v);
	}
	return true;
}

/* NULL when well formed, else why not. */
static const char *dhcp_parse(const uint8_t *msg, size_t len, struct dhcp_req *r)
{
	struct cur c = cur_make(msg, len);
	uint32_t magic, yiaddr, siaddr;
	uint16_t secs;
	uint8_t hops;
	unsigned nopt = 0;

	memset(r, 0, sizeof(*r));
	if (!cur_get_u8(&c, &r->op) || !cur_get_u8(&c, &r->htype) || !cur_get_u8(&c, &r->hlen) ||
	    !cur_get_u8(&c, &hops) || !cur_get_u32(&c, &r->xid) || !cur_get_u16(&c, &secs) ||
	    !cur_get_u16(&c, &r->flags) || !cur_get_u32(&c, &r->ciaddr) ||
	    !cur_get_u32(&c, &yiaddr) || !cur_get_u32(&c, &siaddr) ||
	    !cur_get_u32(&c, &r->giaddr) || !cur_get_bytes(&c, r->chaddr, 16) ||
	    !cur_skip(&c, 64 + 128))
		return "truncated fixed header";
	if (r->op != BOOTREQUEST)
		return "not a BOOTREQUEST";
	if (r->htype != 1 || r->hlen != 6)
		return "not Ethernet (htype/hlen)";
	/* RFC 2131 3: the options field starts with the magic cookie. */
	if (!cur_get_u32(&c, &magic) || magic != DHCP_MAGIC)
		return "no magic cookie";

	/* RFC 2132 2: pad and end are one byte, every other option is code,
	 * length, data.  Option overload (52) would move options into
	 * sname/file; we never look there, so it is simply not honoured. */
	for (;;) {
		uint8_t code, olen;
		const uint8_t *v;

		if (!cur_get_u8(&c, &code))
			return "no end option";
		if (code == OPT_PAD)
			continue;
		if (code == OPT_END)
			return NULL;    /* what follows is padding */
		if (++nopt > DHCP_OPT_MAX)
			return "too many options";
		if (!cur_get_u8(&c, &olen) || !cur_get_ptr(&c, &v, olen))
			return "option length past the end";
		switch (code) {
		case OPT_MSG_TYPE:
			if (olen != 1)
				return "bad option 53 length";
			if (r->type)
				return "duplicate option 53";
			if (v[0] == 0)
				return "message type 0";
			r->type = v[0];
			break;
		case OPT_REQ_IP:
			if (!opt_addr(v, olen, &r->have_req_ip, &r->req_ip))
				return "bad option 50 length";
			break;
		case OPT_SERVER_ID:
			if (!opt_addr(v, olen, &r->have_sid, &r->sid))
				return "bad option 54 length";
			break;
		case OPT_PARAM_LIST:
			if (!r->prl) {
				r->prl = v;
				r->prl_len = olen;
			}
			break;
		default:
			break;
		}
	}
}

static void put_opt_u32(struct wbuf *w, uint8_t code, uint32_t v)
{
	wbuf_put_u8(w, code);
	wbuf_put_u8(w, 4);
	wbuf_put_u32(w, v);
}

/* Option code into the reply unless sent already or we have none. */
static void put_param(struct wbuf *w, const struct dhcp_cfg *cfg, uint8_t code, bool sent[256])
{
	size_t dl;

	if (sent[code])
		return;
	switch (code) {
	case OPT_SUBNET_MASK:
		put_opt_u32(w, code, cfg->netmask);
		break;
	case OPT_ROUTER:
		if (!cfg->router)
			return;
		put_opt_u32(w, code, cfg->router);
		break;
	case OPT_DNS:
		if (!cfg->dns)
			return;
		put_opt_u32(w, code, cfg->dns);
		break;
	case OPT_DOMAIN:
		dl = cfg->domain ? strlen(cfg->domain) : 0;
		if (dl == 0 || dl > 255)
			return;
		wbuf_put_u8(w, code);
		wbuf_put_u8(w, (uint8_t)dl);
		wbuf_put_bytes(w, cfg->domain, dl);
		break;
	case OPT_MTU:
		if (cfg->mtu < 68)
			return;
		wbuf_put_u8(w, code);
		wbuf_put_u8(w, 2);
		wbuf_put_u16(w, cfg->mtu);
		break;
	default:
		return;                 /* not ours to give (12 is never echoed) */
	}
	sent[code] = true;
}

static const uint8_t dhcp_params[] = { OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_DOMAIN, OPT_MTU };

/* Build the reply in res.  RFC 2131 4.3.1 table 3 for the fields. */
static void dhcp_reply(const struct dhcp_cfg *cfg, const struct dhcp_req *rq, uint8_t type,
		       uint32_t yiaddr, struct dhcp_result *res)
{
	static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	bool sent[256] = { false };
	uint32_t ciaddr = (type == DHCPACK) ? rq->ciaddr : 0;
	struct wbuf w;
	size_t i;

	memset(res->reply, 0, sizeof(res->reply));
	wbuf_init(&w, res->reply, sizeof(res->reply));
	wbuf_put_u8(&w, BOOTREPLY);
	wbuf_put_u8(&w, 1);
	wbuf_put_u8(&w, 6);
	wbuf_put_u8(&w, 0);             /* hops */
	wbuf_put_u32(&w, rq->xid);
	wbuf_put_u16(&w, 0);            /* secs */
	wbuf_put_u16(&w, rq->flags);
	wbuf_put_u32(&w, ciaddr);
	wbuf_put_u32(&w, yiaddr);
	wbuf_put_u32(&w, 0);            /* siaddr: no next server */
	wbuf_put_u32(&w, 0);            /* giaddr: no relays */
	wbuf_put_bytes(&w, rq->chaddr, 16);
	wbuf_reserve(&w, 64 + 128);     /* sname, file: zero */
	wbuf_put_u32(&w, DHCP_MAGIC);

	wbuf_put_u8(&w, OPT_MSG_TYPE);
	wbuf_put_u8(&w, 1);
	wbuf_put_u8(&w, type);
	put_opt_u32(&w, OPT_SERVER_ID, cfg->server_ip);
	if (type != DHCPNAK) {
		if (rq->type != DHCPINFORM) {
			/* RFC 2131 4.4.5: T1 defaults to 0.5 * lease, T2 to 0.875. */
			uint32_t lt = cfg->lease_time ? cfg->lease_time : 1;

			put_opt_u32(&w, OPT_LEASE_TIME, lt);
			put_opt_u32(&w, OPT_T1, lt / 2);
			put_opt_u32(&w, OPT_T2, (uint32_t)((uint64_t)lt * 7 / 8));
		}
		/* RFC 2132 9.8: the client's parameter request list, in its
		 * order, then what it did not ask for. */
		for (i = 0; i < rq->prl_len; i++)
			put_param(&w, cfg, rq->prl[i], sent);
		for (i = 0; i < sizeof(dhcp_params); i++)
			put_param(&w, cfg, dhcp_params[i], sent);
	}
	wbuf_put_u8(&w, OPT_END);
	if (!wbuf_ok(&w))
		return;                 /* cannot happen: < 576 by construction */
	res->len = w.len < DHCP_REPLY_MIN ? DHCP_REPLY_MIN : w.len;

	/* RFC 2131 4.1: giaddr is 0 here (relays dropped).  NAK: broadcast.
	 * ciaddr set: unicast to it.  Broadcast bit: broadcast.  Else unicast
	 * to the client hardware address and yiaddr. */
	if (type == DHCPNAK || (ciaddr == 0 && (rq->flags & DHCP_FLAG_BROADCAST)) ||
	    (ciaddr == 0 && yiaddr == 0)) {
		res->dst_ip = 0xffffffffu;
		memcpy(res->dst_mac, bcast_mac, 6);
	} else {
		res->dst_ip = ciaddr ? ciaddr : yiaddr;
		memcpy(res->dst_mac, rq->chaddr, 6);
	}
}

static int set_ev(struct dhcp_result *res, enum dhcp_event ev, const char *why)
{
	res->ev = ev;
	res->why = why;
	return 0;
}

/* The enrolled VIP belongs to this MAC: drop a stale lease of another MAC
 * on it (e.g. loaded from the file before a re-enrolment). */
static void dhcp_claim(struct lease_table *lt, const uint8_t mac[6], uint32_t vip,
		       struct dhcp_result *res)
{
	const struct lease *o = lease_find_ip(lt, vip);

	if (o && memcmp(o->mac, mac, 6) != 0) {
		uint8_t other[6];

		memcpy(other, o->mac, 6);
		lease_release(lt, other);
		res->lease_changed = true;
	}
}

static int dhcp_ack(const struct dhcp_cfg *cfg, struct lease_table *lt,
		    const struct dhcp_req *rq, uint32_t vip, int64_t now, struct dhcp_result *res)
{
	dhcp_claim(lt, rq->chaddr, vip, res);
	if (lease_set(lt, rq->chaddr, vip, now + (cfg->lease_time ? cfg->lease_time : 1),
		      LEASE_BOUND) < 0)
		return set_ev(res, DHCP_EV_IGNORED, "lease table full");
	res->lease_changed = true;
	dhcp_reply(cfg, rq, DHCPACK, vip, res);
	return set_ev(res, DHCP_EV_ACKED, "");
}

static int dhcp_nak(const struct dhcp_cfg *cfg, struct lease_table *lt,
		    const struct dhcp_req *rq, struct dhcp_result *res)
{
	const struct lease *l = lease_get(lt, rq->chaddr);

	/* The client holds a wrong address: whatever we had for it is gone. */
	if (l && l->state == LEASE_BOUND) {
		lease_release(lt, rq->chaddr);
		res->lease_changed = true;
	}
	dhcp_reply(cfg, rq, DHCPNAK, 0, res);
	return set_ev(res, DHCP_EV_NAKED, "");
}

static bool declined(const struct lease_table *lt, const uint8_t mac[6], int64_t now)
{
	const struct lease *l = lease_get(lt, mac);

	return l && l->state == LEASE_DECLINED && l->expires > now;
}

/* RFC 2131 4.3.1: offer the enrolled address, holding it for a while
 * unless the client already has it bound. */
static int dhcp_discover(const struct dhcp_cfg *cfg, struct lease_table *lt,
			 const struct dhcp_req *rq, uint32_t vip, int64_t now,
			 struct dhcp_result *res)
{
	const struct lease *l;

	/* The address must not be one the client declined a moment ago. */
	if (declined(lt, rq->chaddr, now))
		return set_ev(res, DHCP_EV_IGNORED, "address recently declined");
	dhcp_claim(lt, rq->chaddr, vip, res);
	l = lease_get(lt, rq->chaddr);
	if (!l || l->state != LEASE_BOUND || l->expires <= now || l->vip4 != vip) {
		if (l && l->state == LEASE_BOUND)
			res->lease_changed = true;
		if (lease_set(lt, rq->chaddr, vip, now + DHCP_OFFER_HOLD, LEASE_OFFERED) < 0)
			return set_ev(res, DHCP_EV_IGNORED, "lease table full");
	}
	dhcp_reply(cfg, rq, DHCPOFFER, vip, res);
	return set_ev(res, DHCP_EV_OFFERED, "");
}

static int dhcp_request(const struct dhcp_cfg *cfg, struct lease_table *lt,
			const struct dhcp_req *rq, uint32_t vip, int64_t now,
			struct dhcp_result *res)
{
	const struct lease *l;

	if (rq->have_sid) {
		/* RFC 2131 4.3.2 SELECTING: "If the server identifier
		 * does not match, the client has chosen another server":
		 * our offer is withdrawn, no answer. */
		if (rq->sid != cfg->server_ip) {
			l = lease_get(lt, rq->chaddr);
			if (l && l->state == LEASE_OFFERED)
				lease_release(lt, rq->chaddr);
			return set_ev(res, DHCP_EV_IGNORED, "for another server");
		}
		if (!rq->have_req_ip)
			return set_ev(res, DHCP_EV_MALFORMED, "SELECTING without requested IP");
		if (rq->req_ip != vip)
			return dhcp_nak(cfg, lt, rq, res);
		return dhcp_ack(cfg, lt, rq, vip, now, res);
	}
	if (rq->have_req_ip) {
		/* INIT-REBOOT: "the server SHOULD send a DHCPNAK if the
		 * requested IP address is incorrect". */
		if (rq->req_ip != vip)
			return dhcp_nak(cfg, lt, rq, res);
		return dhcp_ack(cfg, lt, rq, vip, now, res);
	}
	if (rq->ciaddr != 0) {
		/* RENEWING (unicast) / REBINDING (broadcast): ciaddr is
		 * the address the client holds. */
		if (rq->ciaddr != vip)
			return dhcp_nak(cfg, lt, rq, res);
		return dhcp_ack(cfg, lt, rq, vip, now, res);
	}
	return set_ev(res, DHCP_EV_MALFORMED, "REQUEST without any address");
}

/* RFC 2131 4.3.3: "the server MUST mark the network address as not
 * available"; the caller logs it. */
static int dhcp_decline(const struct dhcp_cfg *cfg, struct lease_table *lt,
			const struct dhcp_req *rq, uint32_t vip, int64_t now,
			struct dhcp_result *res)
{
	if (rq->have_sid && rq->sid != cfg->server_ip)
		return set_ev(res, DHCP_EV_IGNORED, "DECLINE for another server");
	if (!rq->have_req_ip || rq->req_ip != vip)
		return set_ev(res, DHCP_EV_IGNORED, "DECLINE of an address not ours");
	if (lease_set(lt, rq->chaddr, vip, now + DHCP_DECLINE_HOLD, LEASE_DECLINED) < 0)
		return set_ev(res, DHCP_EV_IGNORED, "lease table full");
	res->lease_changed = true;
	return set_ev(res, DHCP_EV_DECLINED, "");
}

/* RFC 2131 4.3.4: "the server marks the network address as not
 * allocated"; the client's address is in ciaddr. */
static int dhcp_release(const struct dhcp_cfg *cfg, struct lease_table *lt,
			const struct dhcp_req *rq, uint32_t vip, struct dhcp_result *res)
{
	if (rq->have_sid && rq->sid != cfg->server_ip)
		return set_ev(res, DHCP_EV_IGNORED, "RELEASE for another server");
	if (rq->ciaddr != vip)
		return set_ev(res, DHCP_EV_IGNORED, "RELEASE of an address not ours");
	if (lease_release(lt, rq->chaddr))
		res->lease_changed = true;
	return set_ev(res, DHCP_EV_RELEASED, "");
}

static int dhcp_do(const struct dhcp_cfg *cfg, struct lease_table *lt, const uint8_t src_mac[6],
		   const uint8_t *msg, size_t len, int64_t now, struct dhcp_result *res)
{
	struct dhcp_req rq;
	const char *why;
	uint32_t vip = 0;

	why = dhcp_parse(msg, len, &rq);
	if (why)
		return set_ev(res, DHCP_EV_MALFORMED, why);
	res->msg_type = rq.type;
	res->xid = rq.xid;
	if (!rq.type)
		return set_ev(res, DHCP_EV_IGNORED, "BOOTP without DHCP message type");
	if (rq.giaddr != 0)
		return set_ev(res, DHCP_EV_IGNORED, "relayed (giaddr set): no relays");
	if (memcmp(rq.chaddr, src_mac, 6) != 0)
		return set_ev(res, DHCP_EV_CHADDR_MISMATCH, "chaddr is not the source MAC");
	if (!cfg->lookup || !cfg->lookup(cfg->arg, rq.chaddr, &vip) || vip == 0)
		return set_ev(res, DHCP_EV_UNKNOWN_MAC, "not an enrolled MAC");
	res->yiaddr = vip;

	switch (rq.type) {
	case DHCPDISCOVER:
		return dhcp_discover(cfg, lt, &rq, vip, now, res);
	case DHCPREQUEST:
		return dhcp_request(cfg, lt, &rq, vip, now, res);
	case DHCPDECLINE:
		return dhcp_decline(cfg, lt, &rq, vip, now, res);
	case DHCPRELEASE:
		return dhcp_release(cfg, lt, &rq, vip, res);
	case DHCPINFORM:
		/* RFC 2131 4.3.5: DHCPACK with the configuration, no lease
		 * time, yiaddr 0, sent to ciaddr. */
		res->yiaddr = 0;
		dhcp_reply(cfg, &rq, DHCPACK, 0, res);
		return set_ev(res, DHCP_EV_INFORMED, "");
	default:
		return set_ev(res, DHCP_EV_IGNORED, "not a client message type");
	}
}

void dhcp_handle(const struct dhcp_cfg *cfg, struct lease_table *lt, const uint8_t src_mac[6],
		 const uint8_t *msg, size_t len, int64_t now, struct dhcp_result *res)
{
	res->ev = DHCP_EV_IGNORED;
	res->why = "";
	res->msg_type = 0;
	res->xid = 0;
	res->yiaddr = 0;
	res->lease_changed = false;
	res->len = 0;
	res->dst_ip = 0;
	memset(res->dst_mac, 0, 6);
	dhcp_do(cfg, lt, src_mac, msg, len, now, res);
}
