/* The adapter's DHCPv6 server core (see dhcp6.h). */
#include "dhcp6.h"

#include <string.h>

#include "buf.h"
#include "dns.h"

enum {
	OPT_CLIENTID = 1,
	OPT_SERVERID = 2,
	OPT_IA_NA = 3,
	OPT_IA_TA = 4,
	OPT_IAADDR = 5,
	OPT_ORO = 6,
	OPT_PREFERENCE = 7,
	OPT_STATUS_CODE = 13,
	OPT_RAPID_COMMIT = 14,
	OPT_DNS_SERVERS = 23,
	OPT_DOMAIN_LIST = 24,
};

enum {
	ST_SUCCESS = 0,
	ST_NOADDRSAVAIL = 2,
	ST_NOTONLINK = 4,
};

#define DUID_LEN 10                      /* DUID-LL, Ethernet: 2 + 2 + 6 */
#define CLIENTID_MIN 3                   /* 2-byte type + 1 (RFC 8415 11.1) */
#define CLIENTID_MAX 130                 /* 2-byte type + 128 */

/* What a message says, read once. */
struct req {
	uint8_t type;
	uint32_t xid;
	const uint8_t *clientid;
	size_t clientid_len;
	unsigned nclientid;
	const uint8_t *serverid;
	size_t serverid_len;
	unsigned nserverid;
	bool rapid_commit;
	bool want_dns, want_domain;
	unsigned nia;                    /* IA_NA options */
	uint32_t iaid[DHCP6_IA_MAX];     /* the first DHCP6_IA_MAX ones' */
	size_t naddrs;                   /* the addresses in it (Confirm: in all) */
	uint8_t addrs[DHCP6_IA_ADDRS_MAX][16];
	bool addr_overflow;              /* more than DHCP6_IA_ADDRS_MAX */
};

const char *dhcp6_event_str(enum dhcp6_event ev)
{
	static const char *const s[] = {
		[DHCP6_EV_IGNORED] = "ignored",     [DHCP6_EV_MALFORMED] = "malformed",
		[DHCP6_EV_UNKNOWN_MAC] = "unknown MAC", [DHCP6_EV_ADVERTISED] = "advertised",
		[DHCP6_EV_BOUND] = "bound",         [DHCP6_EV_NOADDR] = "no address",
		[DHCP6_EV_RELEASED] = "released",   [DHCP6_EV_DECLINED] = "declined",
		[DHCP6_EV_CONFIRMED] = "confirmed", [DHCP6_EV_INFORMED] = "informed",
	};

	return (unsigned)ev < sizeof(s) / sizeof(s[0]) ? s[ev] : "?";
}

static void duid(const struct dhcp6_cfg *cfg, uint8_t out[DUID_LEN])
{
	out[0] = 0;
	out[1] = 3;                      /* DUID-LL */
	out[2] = 0;
	out[3] = 1;                      /* Ethernet */
	memcpy(out + 4, cfg->mac, 6);
}

/* The addresses of an IA_NA's options (after IAID, T1, T2). */
static bool parse_ia_addrs(struct cur *c, struct req *r)
{
	while (!cur_empty(c)) {
		uint16_t code, len;
		struct cur o;

		if (!cur_get_u16(c, &code) || !cur_get_u16(c, &len) || !cur_get_sub(c, &o, len))
			return false;
		if (code != OPT_IAADDR)
			continue;
		if (len < 24)
			return false;
		if (r->naddrs == DHCP6_IA_ADDRS_MAX) {
			r->addr_overflow = true;
			continue;
		}
		cur_get_bytes(&o, r->addrs[r->naddrs++], 16);
	}
	return true;
}

static const char *parse(const uint8_t *msg, size_t len, struct req *r)
{
	struct cur c = cur_make(msg, len);
	unsigned nopt = 0;
	uint8_t x[3];

	memset(r, 0, sizeof(*r));
	if (!cur_get_u8(&c, &r->type) || !cur_get_bytes(&c, x, 3))
		return "shorter than a header";
	r->xid = (uint32_t)x[0] << 16 | (uint32_t)x[1] << 8 | x[2];
	while (!cur_empty(&c)) {
		uint16_t code, olen;
		struct cur o;

		if (++nopt > DHCP6_OPT_MAX)
			return "too many options";
		if (!cur_get_u16(&c, &code) || !cur_get_u16(&c, &olen) ||
		    !cur_get_sub(&c, &o, olen))
			return "option past the end";
		switch (code) {
		case OPT_CLIENTID:
			r->nclientid++;
			r->clientid_len = olen;
			cur_get_ptr(&o, &r->clientid, olen);
			break;
		case OPT_SERVERID:
			r->nserverid++;
			r->serverid_len = olen;
			cur_get_ptr(&o, &r->serverid, olen);
			break;
		case OPT_RAPID_COMMIT:
			r->rapid_commit = true;
			break;
		case OPT_ORO:
			if (olen % 2)
				return "option request of odd length";
			while (!cur_empty(&o)) {
				uint16_t want;

				cur_get_u16(&o, &want);
				r->want_dns |= want == OPT_DNS_SERVERS;
				r->want_domain |= want == OPT_DOMAIN_LIST;
			}
			break;
		case OPT_IA_NA:
			if (olen < 12)
				return "IA_NA shorter than 12 bytes";
			/* the first one's IAID and addresses (Confirm: every
			 * one's addresses) */
			if (r->nia < DHCP6_IA_MAX)
				cur_get_u32(&o, &r->iaid[r->nia]);
			else
				cur_skip(&o, 4);
			r->nia++;
			cur_skip(&o, 8);
			if ((r->nia == 1 || r->type == DHCP6_CONFIRM) && !parse_ia_addrs(&o, r))
				return "bad IA address option";
			break;
		default:
			break;
		}
	}
	if (r->nclientid > 1 ||
	    (r->nclientid == 0 && r->type != DHCP6_INFORMATION_REQUEST))
		return "not exactly one client identifier";
	if (r->nclientid && (r->clientid_len < CLIENTID_MIN || r->clientid_len > CLIENTID_MAX))
		return "client identifier of a bad length";
	if (r->nserverid > 1)
		return "more than one server identifier";
	return NULL;
}

/* RFC 8415 16: which messages carry a Server Identifier. */
static const char *check_serverid(const struct dhcp6_cfg *cfg, const struct req *r,
				  bool *other_server)
{
	uint8_t ours[DUID_LEN];
	bool is_ours;

	duid(cfg, ours);
	is_ours = r->nserverid && r->serverid_len == DUID_LEN && !memcmp(r->serverid, ours,
									   DUID_LEN);
	*other_server = r->nserverid && !is_ours;
	switch (r->type) {
	case DHCP6_SOLICIT:
	case DHCP6_REBIND:
	case DHCP6_CONFIRM:
		return r->nserverid ? "server identifier where none belongs" : NULL;
	case DHCP6_REQUEST:
	case DHCP6_RENEW:
	case DHCP6_DECLINE:
	case DHCP6_RELEASE:
		return r->nserverid ? NULL : "no server identifier";
	case DHCP6_INFORMATION_REQUEST:
		return r->nia ? "IA_NA in an information request" : NULL;
	default:
		return "not a message to a server";
	}
}

/* ---- the reply ---- */

static void opt_head(struct wbuf *w, uint16_t code, size_t len)
{
	wbuf_put_u16(w, code);
	wbuf_put_u16(w, (uint16_t)len);
}

static void put_status(struct wbuf *w, uint16_t status, const char *text)
{
	size_t n = strlen(text);

	opt_head(w, OPT_STATUS_CODE, 2 + n);
	wbuf_put_u16(w, status);
	wbuf_put_bytes(w, text, n);
}

/* The IA_NA answering the request's IA_NA i: the VIP for the first (or
 * NoAddrsAvail when it is declined), the client's other addresses with
 * lifetimes 0; NoAddrsAvail for the others. */
static void put_ia(struct wbuf *w, const struct dhcp6_cfg *cfg, const struct req *r,
		   unsigned i, const uint8_t vip6[16], bool give)
{
	uint8_t *len_at;
	size_t start;

	give = give && i == 0;
	wbuf_put_u16(w, OPT_IA_NA);
	len_at = wbuf_reserve(w, 2);
	start = w->len;
	wbuf_put_u32(w, r->iaid[i]);
	wbuf_put_u32(w, give ? cfg->lifetime / 2 : 0);
	wbuf_put_u32(w, give ? (uint32_t)((uint64_t)cfg->lifetime * 4 / 5) : 0);
	if (give) {
		opt_head(w, OPT_IAADDR, 24);
		wbuf_put_bytes(w, vip6, 16);
		wbuf_put_u32(w, cfg->lifetime);
		wbuf_put_u32(w, cfg->lifetime);
	} else {
		put_status(w, ST_NOADDRSAVAIL, i ? "one address per client" : "declined: try later");
	}
	for (size_t a = 0; i == 0 && a < r->naddrs; a++) {
		if (give && !memcmp(r->addrs[a], vip6, 16))
			continue;
		opt_head(w, OPT_IAADDR, 24);
		wbuf_put_bytes(w, r->addrs[a], 16);
		wbuf_put_u32(w, 0);
		wbuf_put_u32(w, 0);
	}
	if (len_at && wbuf_ok(w))
		put_be16(len_at, (uint16_t)(w->len - start));
}

/* Header, server and client identifiers. */
static void put_head(struct wbuf *w, const struct dhcp6_cfg *cfg, const struct req *r,
		     uint8_t type)
{
	uint8_t id[DUID_LEN];

	wbuf_put_u8(w, type);
	wbuf_put_u8(w, (uint8_t)(r->xid >> 16));
	wbuf_put_u16(w, (uint16_t)r->xid);
	duid(cfg, id);
	opt_head(w, OPT_SERVERID, DUID_LEN);
	wbuf_put_bytes(w, id, DUID_LEN);
	if (r->nclientid) {
		opt_head(w, OPT_CLIENTID, r->clientid_len);
		wbuf_put_bytes(w, r->clientid, r->clientid_len);
	}
}

/* Every IA_NA of the request answered (see put_ia). */
static void put_ias(struct wbuf *w, const struct dhcp6_cfg *cfg, const struct req *r,
		    const uint8_t vip6[16], bool give)
{
	for (unsigned i = 0; i < r->nia && i < DHCP6_IA_MAX; i++)
		put_ia(w, cfg, r, i, vip6, give);
}

static void put_dns(struct wbuf *w, const struct dhcp6_cfg *cfg, const struct req *r,
		    bool always)
{
	static const uint8_t zero[16];
	uint8_t wire[DNS_NAME_MAX];
	size_t n;

	if ((always || r->want_dns) && memcmp(cfg->dns, zero, 16)) {
		opt_head(w, OPT_DNS_SERVERS, 16);
		wbuf_put_bytes(w, cfg->dns, 16);
	}
	/* RFC 8415 21.18: the search list in DNS wire form; not the root */
	if ((always || r->want_domain) && cfg->domain && cfg->domain[0] &&
	    dns_name_from_str(cfg->domain, wire, &n) == 0 && n > 1) {
		opt_head(w, OPT_DOMAIN_LIST, n);
		wbuf_put_bytes(w, wire, n);
	}
}

static void finish(struct dhcp6_result *res, struct wbuf *w, enum dhcp6_event ev)
{
	res->ev = ev;
	res->len = wbuf_ok(w) ? w->len : 0;
}

void dhcp6_handle(const struct dhcp6_cfg *cfg, struct lease_table *lt,
		  const uint8_t src_mac[6], const uint8_t *msg, size_t len, int64_t now,
		  struct dhcp6_result *res)
{
	const struct lease *l;
	bool other_server, declined, ok;
	uint8_t vip6[16];
	struct wbuf w;
	struct req r;
	const char *why;

	memset(res, 0, sizeof(*res));
	res->why = "";
	why = parse(msg, len, &r);
	res->msg_type = r.type;
	res->xid = r.xid;
	if (!why)
		why = check_serverid(cfg, &r, &other_server);
	if (why) {
		res->ev = DHCP6_EV_MALFORMED;
		res->why = why;
		return;
	}
	if (other_server) {
		res->ev = DHCP6_EV_IGNORED;
		res->why = "for another server";
		return;
	}
	if (!cfg->lookup || !cfg->lookup(cfg->arg, src_mac, vip6)) {
		res->ev = DHCP6_EV_UNKNOWN_MAC;
		return;
	}
	memcpy(res->vip6, vip6, 16);
	l = lease6_get(lt, src_mac);
	declined = l && l->state == LEASE_DECLINED && l->expires > now;
	wbuf_init(&w, res->reply, sizeof(res->reply));

	switch (r.type) {
	case DHCP6_SOLICIT:
		if (r.rapid_commit && r.nia && !declined) {
			put_head(&w, cfg, &r, DHCP6_REPLY);
			opt_head(&w, OPT_RAPID_COMMIT, 0);
		} else {
			put_head(&w, cfg, &r, DHCP6_ADVERTISE);
			opt_head(&w, OPT_PREFERENCE, 1);
			wbuf_put_u8(&w, 255);
		}
		if (declined || !r.nia) {
			/* nothing to give: says so (RFC 8415 18.3.9) */
			put_status(&w, ST_NOADDRSAVAIL, declined ? "declined: try later"
								  : "no IA_NA asked");
			put_ias(&w, cfg, &r, vip6, false);
			finish(res, &w, DHCP6_EV_NOADDR);
			return;
		}
		put_ias(&w, cfg, &r, vip6, true);
		put_dns(&w, cfg, &r, false);
		if (!r.rapid_commit) {
			finish(res, &w, DHCP6_EV_ADVERTISED);
			return;
		}
		break;
	case DHCP6_REQUEST:
	case DHCP6_RENEW:
	case DHCP6_REBIND:
		put_head(&w, cfg, &r, DHCP6_REPLY);
		put_ias(&w, cfg, &r, vip6, !declined);
		put_dns(&w, cfg, &r, false);
		if (declined || !r.nia) {
			finish(res, &w, declined ? DHCP6_EV_NOADDR : DHCP6_EV_INFORMED);
			return;
		}
		break;
	case DHCP6_RELEASE:
		put_head(&w, cfg, &r, DHCP6_REPLY);
		put_status(&w, ST_SUCCESS, "released");
		if (l && l->state == LEASE_BOUND) {
			lease6_release(lt, src_mac);
			res->lease_changed = true;
		}
		finish(res, &w, DHCP6_EV_RELEASED);
		return;
	case DHCP6_DECLINE:
		put_head(&w, cfg, &r, DHCP6_REPLY);
		put_status(&w, ST_SUCCESS, "declined");
		ok = false;
		for (size_t i = 0; i < r.naddrs; i++)
			ok |= !memcmp(r.addrs[i], vip6, 16);
		if (ok && lease6_set(lt, src_mac, vip6, now + DHCP6_DECLINE_HOLD,
				     LEASE_DECLINED) == 0)
			res->lease_changed = true;
		finish(res, &w, ok ? DHCP6_EV_DECLINED : DHCP6_EV_IGNORED);
		if (!ok)
			res->why = "declines an address that is not its own";
		return;
	case DHCP6_CONFIRM:
		/* on this link means: the client's own VIP */
		ok = r.naddrs > 0 && !r.addr_overflow;
		for (size_t i = 0; i < r.naddrs; i++)
			ok &= !memcmp(r.addrs[i], vip6, 16);
		if (!r.naddrs) {
			/* nothing to confirm: no answer (RFC 8415 18.3.3) */
			res->ev = DHCP6_EV_IGNORED;
			res->why = "confirm without addresses";
			return;
		}
		put_head(&w, cfg, &r, DHCP6_REPLY);
		put_status(&w, ok ? ST_SUCCESS : ST_NOTONLINK, ok ? "on link" : "not on link");
		finish(res, &w, DHCP6_EV_CONFIRMED);
		return;
	case DHCP6_INFORMATION_REQUEST:
		put_head(&w, cfg, &r, DHCP6_REPLY);
		put_dns(&w, cfg, &r, true);
		finish(res, &w, DHCP6_EV_INFORMED);
		return;
	}
	/* the VIP given: bound, or not given at all when it cannot be kept */
	if (lease6_set(lt, src_mac, vip6, now + cfg->lifetime, LEASE_BOUND) < 0) {
		res->ev = DHCP6_EV_IGNORED;
		res->why = "lease table full";
		return;
	}
	res->lease_changed = true;
	finish(res, &w, DHCP6_EV_BOUND);
}
