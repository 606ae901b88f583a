#include "resolver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "dns.h"
#include "log.h"

#define RESOLVER_MAX_UPSTREAMS 8
#define RESOLVER_MAX_TRIES 3       /* upstreams tried per forwarded query */

struct waiter {
	struct resolver_client client;
	struct dns_msg q;              /* the client's query, as parsed */
};

/* One name in route selection. */
struct lookup {
	bool used;
	uint32_t gen;
	int64_t deadline;
	uint8_t lname[DNS_NAME_MAX];
	size_t lname_len;
	struct waiter *w;
	size_t n_w, cap_w;
};

/* One query forwarded upstream. */
struct fwd {
	bool used;
	uint16_t gen;
	int64_t deadline;
	/* the merge key: the whole question, and what shapes the answer */
	struct dns_question q;
	uint16_t key_flags;
	bool key_opt, key_do;
	/* the upstream transaction: reply accepted only on all of these */
	size_t server;
	uint16_t up_id;
	unsigned tries;
	uint8_t *query;                /* the first client's query, re-sent on failover */
	size_t query_len;
	struct waiter *w;
	size_t n_w, cap_w;
};

struct resolver {
	struct resolver_cfg cfg;
	uint8_t domain[DNS_NAME_MAX];
	size_t domain_len;
	struct sockaddr_storage up[RESOLVER_MAX_UPSTREAMS];
	size_t n_up, next_up;
	struct lookup *lk;
	unsigned n_lk;
	struct fwd *fw;
	unsigned n_fw;
	uint32_t lk_gen;
	uint16_t fw_gen;
	struct resolver_stats st;
	struct ratelimit rl;
	uint8_t buf[DNS_MSG_MAX];
};

static void waiters_free(struct waiter **w, size_t *n, size_t *cap)
{
	free(*w);
	*w = NULL;
	*n = *cap = 0;
}

/* Add a client to a merged query; false when the cap is hit.  A client
 * re-sending the same ID is not added twice. */
static bool waiter_add(struct resolver *r, struct waiter **w, size_t *n, size_t *cap,
		       const struct resolver_client *c, const struct dns_msg *q)
{
	for (size_t i = 0; i < *n; i++) {
		const struct waiter *o = &(*w)[i];

		if (o->q.hdr.id == q->hdr.id && o->client.tcp == c->tcp &&
		    o->client.conn == c->conn && o->client.addrlen == c->addrlen &&
		    (c->addrlen == 0 ||
		     addr_equal((const struct sockaddr *)&o->client.addr,
				(const struct sockaddr *)&c->addr)))
			return true;
	}
	if (*n >= r->cfg.max_waiters)
		return false;
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 2;
		struct waiter *nw = realloc(*w, ncap * sizeof(*nw));

		if (!nw)
			return false;
		*w = nw;
		*cap = ncap;
	}
	(*w)[*n].client = *c;
	(*w)[*n].q = *q;
	(*n)++;
	return true;
}

static size_t client_limit(const struct waiter *w)
{
	return w->client.tcp ? DNS_MSG_MAX : dns_udp_limit(&w->q);
}

static void reply(struct resolver *r, const struct waiter *w, const struct dns_reply *rep)
{
	struct dns_reply x = *rep;
	ssize_t n;

	x.limit = client_limit(w);
	n = dns_build_reply(r->buf, sizeof(r->buf), &w->q, &x);
	if (n > 0)
		r->cfg.send_client(r->cfg.io_arg, &w->client, r->buf, (size_t)n);
}

static void reply_rcode(struct resolver *r, const struct resolver_client *c,
			const struct dns_msg *q, unsigned rcode, bool aa)
{
	struct waiter w = { .client = *c, .q = *q };
	struct dns_reply rep = { .rcode = rcode, .aa = aa };

	reply(r, &w, &rep);
}

/* ---- names under our domain: route selection ---- */

static uint64_t lookup_token(const struct resolver *r, const struct lookup *l)
{
	return (uint64_t)l->gen << 32 | (uint64_t)(l - r->lk);
}

static struct lookup *lookup_by_token(struct resolver *r, uint64_t token)
{
	uint32_t idx = (uint32_t)token;
	struct lookup *l;

	if (idx >= r->cfg.max_lookups)
		return NULL;
	l = &r->lk[idx];
	return l->used && l->gen == (uint32_t)(token >> 32) ? l : NULL;
}

static void lookup_release(struct resolver *r, struct lookup *l)
{
	waiters_free(&l->w, &l->n_w, &l->cap_w);
	l->used = false;
	r->n_lk--;
}

static void answer_local(struct resolver *r, const struct waiter *w, enum resolver_status status,
			 const struct in_addr *vip4, const struct in6_addr *vip6)
{
	struct dns_rr an[2];
	struct dns_reply rep = { .aa = true, .an = an, .ttl = r->cfg.ttl };
	uint16_t qt = w->q.q.qtype;

	switch (status) {
	case RESOLVER_OK:
		rep.rcode = DNS_R_NOERROR;
		if (vip4 && (qt == DNS_T_A || qt == DNS_T_ANY))
			an[rep.n_an++] = (struct dns_rr){ DNS_T_A, (const uint8_t *)vip4, 4 };
		if (vip6 && (qt == DNS_T_AAAA || qt == DNS_T_ANY))
			an[rep.n_an++] = (struct dns_rr){ DNS_T_AAAA, (const uint8_t *)vip6, 16 };
		break;
	case RESOLVER_NXDOMAIN:
		rep.rcode = DNS_R_NXDOMAIN;
		break;
	case RESOLVER_REFUSED:
		rep.rcode = DNS_R_REFUSED;
		rep.aa = false;
		break;
	default:
		rep.rcode = DNS_R_SERVFAIL;
		rep.aa = false;
		break;
	}
	r->st.local_answers++;
	reply(r, w, &rep);
}

void resolver_complete(struct resolver *r, uint64_t token, enum resolver_status status,
		       const struct in_addr *vip4, const struct in6_addr *vip6)
{
	struct lookup *l = lookup_by_token(r, token);

	if (!l)
		return;
	for (size_t i = 0; i < l->n_w; i++)
		answer_local(r, &l->w[i], status, vip4, vip6);
	lookup_release(r, l);
}

static void query_local(struct resolver *r, const struct resolver_client *c,
			const struct dns_msg *m)
{
	char fqdn[DNS_NAME_STR_MAX];
	struct lookup *l = NULL;
	uint64_t token;
	uint8_t len = m->q.lname[0];

	/* Node names are host names: letters, digits, '-' and '_'. */
	for (uint8_t i = 1; i <= len; i++) {
		uint8_t ch = m->q.lname[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_')) {
			r->st.local_answers++;
			reply_rcode(r, c, m, DNS_R_NXDOMAIN, true);
			return;
		}
	}
	if ((m->q.qclass != DNS_C_IN && m->q.qclass != DNS_C_ANY) ||
	    m->q.qtype == DNS_T_AXFR || m->q.qtype == DNS_T_IXFR) {
		r->st.local_answers++;
		reply_rcode(r, c, m, DNS_R_REFUSED, false);
		return;
	}
	for (unsigned i = 0; i < r->cfg.max_lookups; i++) {
		struct lookup *o = &r->lk[i];

		if (o->used && o->lname_len == m->q.name_len &&
		    memcmp(o->lname, m->q.lname, o->lname_len) == 0) {
			if (!waiter_add(r, &o->w, &o->n_w, &o->cap_w, c, m)) {
				r->st.overflow++;
				reply_rcode(r, c, m, DNS_R_SERVFAIL, false);
			}
			return;
		}
		if (!o->used && !l)
			l = o;
	}
	if (!l || !r->cfg.lookup) {
		if (!l)
			r->st.overflow++;
		reply_rcode(r, c, m, DNS_R_SERVFAIL, false);
		return;
	}
	l->used = true;
	l->gen = ++r->lk_gen;
	l->deadline = clock_now_ms() + r->cfg.lookup_timeout_ms;
	memcpy(l->lname, m->q.lname, m->q.name_len);
	l->lname_len = m->q.name_len;
	r->n_lk++;
	if (!waiter_add(r, &l->w, &l->n_w, &l->cap_w, c, m)) {
		lookup_release(r, l);
		reply_rcode(r, c, m, DNS_R_SERVFAIL, false);
		return;
	}
	token = lookup_token(r, l);
	dns_name_to_str(m->q.lname, m->q.name_len, fqdn);
	/* lookup() may call resolver_complete() before it returns. */
	if (r->cfg.lookup(r->cfg.lookup_arg, fqdn, token) < 0)
		resolver_complete(r, token, RESOLVER_SERVFAIL, NULL, NULL);
}

/* ---- every other name: forwarding ---- */

static uint32_t fwd_handle(const struct resolver *r, const struct fwd *f)
{
	return (uint32_t)f->gen << 16 | (uint32_t)(f - r->fw);
}

static struct fwd *fwd_by_handle(struct resolver *r, uint32_t handle)
{
	uint32_t idx = handle & 0xffff;
	struct fwd *f;

	if (idx >= r->cfg.max_forward)
		return NULL;
	f = &r->fw[idx];
	return f->used && f->gen == handle >> 16 ? f : NULL;
}

static void fwd_release(struct resolver *r, struct fwd *f)
{
	waiters_free(&f->w, &f->n_w, &f->cap_w);
	free(f->query);
	f->query = NULL;
	f->used = false;
	r->n_fw--;
}

static void fwd_fail(struct resolver *r, struct fwd *f)
{
	for (size_t i = 0; i < f->n_w; i++)
		reply_rcode(r, &f->w[i].client, &f->w[i].q, DNS_R_SERVFAIL, false);
	fwd_release(r, f);
}

/* Send (or re-send) f to the next upstream with a fresh handle (so a fresh
 * socket and source port) and a fresh random ID.  False when it could not. */
static bool fwd_send(struct resolver *r, struct fwd *f)
{
	while (f->tries < RESOLVER_MAX_TRIES && f->tries < r->n_up) {
		f->tries++;
		if (++r->fw_gen == 0)
			r->fw_gen = 1;
		f->gen = r->fw_gen;
		if (cy_random(&f->up_id, sizeof(f->up_id)) < 0)
			return false;
		f->server = r->next_up++ % r->n_up;
		f->deadline = clock_now_ms() + r->cfg.forward_timeout_ms;
		memcpy(r->buf, f->query, f->query_len);
		put_be16(r->buf, f->up_id);
		if (r->cfg.send_upstream(r->cfg.io_arg, (const struct sockaddr *)&r->up[f->server],
					 fwd_handle(r, f), r->buf, f->query_len) == 0)
			return true;
	}
	return false;
}

static void query_forward(struct resolver *r, const struct resolver_client *c,
			  const struct dns_msg *m, const uint8_t *buf, size_t len)
{
	uint16_t kflags = m->hdr.flags & (DNS_F_RD | DNS_F_CD);
	struct fwd *f = NULL;

	if (r->n_up == 0) {
		reply_rcode(r, c, m, DNS_R_SERVFAIL, false);
		return;
	}
	for (unsigned i = 0; i < r->cfg.max_forward; i++) {
		struct fwd *o = &r->fw[i];

		if (o->used && o->key_flags == kflags && o->key_opt == m->has_opt &&
		    o->key_do == m->do_bit && dns_question_equal(&o->q, &m->q)) {
			if (!waiter_add(r, &o->w, &o->n_w, &o->cap_w, c, m)) {
				r->st.overflow++;
				reply_rcode(r, c, m, DNS_R_SERVFAIL, false);
			}
			return;
		}
		if (!o->used && !f)
			f = o;
	}
	if (!f) {
		r->st.overflow++;
		reply_rcode(r, c, m, DNS_R_SERVFAIL, false);
		return;
	}
	memset(f, 0, sizeof(*f));
	f->used = true;
	r->n_fw++;
	f->q = m->q;
	f->key_flags = kflags;
	f->key_opt = m->has_opt;
	f->key_do = m->do_bit;
	f->query = malloc(len);
	if (!f->query || !waiter_add(r, &f->w, &f->n_w, &f->cap_w, c, m)) {
		fwd_release(r, f);
		reply_rcode(r, c, m, DNS_R_SERVFAIL, false);
		return;
	}
	memcpy(f->query, buf, len);
	f->query_len = len;
	if (!fwd_send(r, f)) {
		fwd_fail(r, f);
		return;
	}
	r->st.forwarded++;
}

/* RFC 5452 9.1: accept an answer only when it comes from the address and
 * port the query went to, carries its ID, and echoes its question. */
void resolver_upstream_reply(struct resolver *r, uint32_t handle, const struct sockaddr *from,
			     const uint8_t *buf, size_t len)
{
	struct fwd *f = fwd_by_handle(r, handle);
	struct dns_msg m;

	if (!f || !from || !addr_equal(from, (const struct sockaddr *)&r->up[f->server])) {
		r->st.upstream_mismatch++;
		LOG_RATELIMITED(&r->rl, "resolver: reply from an unexpected server dropped");
		return;
	}
	if (dns_parse(buf, len, DNS_PARSE_QUESTION, &m) < 0) {
		r->st.malformed++;
		r->st.upstream_mismatch++;
		LOG_RATELIMITED(&r->rl, "resolver: malformed upstream reply dropped");
		return;
	}
	if (!(m.hdr.flags & DNS_F_QR) || m.hdr.id != f->up_id || !m.has_q ||
	    DNS_OPCODE(m.hdr.flags) != DNS_OPCODE_QUERY || !dns_question_equal(&m.q, &f->q)) {
		r->st.upstream_mismatch++;
		LOG_RATELIMITED(&r->rl, "resolver: upstream reply with wrong ID/question dropped");
		return;
	}
	for (size_t i = 0; i < f->n_w; i++) {
		const struct waiter *w = &f->w[i];
		ssize_t n = (ssize_t)len;

		if (len <= client_limit(w)) {
			memcpy(r->buf, buf, len);
			put_be16(r->buf, w->q.hdr.id);
		} else {
			n = dns_truncate(r->buf, sizeof(r->buf), &m, w->q.hdr.id, w->q.has_opt,
					 w->q.do_bit);
		}
		if (n > 0)
			r->cfg.send_client(r->cfg.io_arg, &w->client, r->buf, (size_t)n);
	}
	r->cfg.upstream_done(r->cfg.io_arg, handle);
	fwd_release(r, f);
}

void resolver_upstream_error(struct resolver *r, uint32_t handle)
{
	struct fwd *f = fwd_by_handle(r, handle);

	if (!f)
		return;
	r->cfg.upstream_done(r->cfg.io_arg, handle);
	if (!fwd_send(r, f))
		fwd_fail(r, f);
}

/* ---- the entry point ---- */

void resolver_query(struct resolver *r, const struct resolver_client *c, const uint8_t *buf,
		    size_t len)
{
	struct dns_msg m;
	unsigned prefix;
	int err;

	r->st.queries++;
	err = dns_parse(buf, len, DNS_PARSE_QUERY, &m);
	if (m.hdr_ok && (m.hdr.flags & DNS_F_QR)) {
		/* Never answer a response: that is how reflection loops start. */
		r->st.malformed++;
		return;
	}
	if (err < 0 || !m.has_q) {
		r->st.malformed++;
		LOG_RATELIMITED(&r->rl, "resolver: malformed query (%zu bytes)", len);
		if (!m.hdr_ok)
			return;
		/* RFC 1035 4.1.1: FORMERR; echo nothing we could not parse. */
		m.has_q = false;
		m.has_opt = false;
		reply_rcode(r, c, &m, DNS_R_FORMERR, false);
		return;
	}
	if (DNS_OPCODE(m.hdr.flags) != DNS_OPCODE_QUERY) {
		reply_rcode(r, c, &m, DNS_R_NOTIMP, false);
		return;
	}
	/* RFC 6891 6.1.3: "If a responder does not implement the VERSION level
	 * of the request, then it MUST respond with RCODE=BADVERS." */
	if (m.has_opt && m.edns_version != 0) {
		reply_rcode(r, c, &m, DNS_R_BADVERS, false);
		return;
	}
	if (!dns_name_under(m.q.lname, m.q.name_len, r->domain, r->domain_len, &prefix)) {
		query_forward(r, c, &m, buf, len);
		return;
	}
	if (prefix == 1) {
		query_local(r, c, &m);
		return;
	}
	r->st.local_answers++;
	/* The apex exists (it has children): NODATA, never NXDOMAIN, which
	 * RFC 8020 lets caches extend to every name below it. */
	reply_rcode(r, c, &m, prefix == 0 ? DNS_R_NOERROR : DNS_R_NXDOMAIN, true);
}

void resolver_tick(struct resolver *r, int64_t now_ms)
{
	for (unsigned i = 0; i < r->cfg.max_lookups && r->n_lk; i++) {
		struct lookup *l = &r->lk[i];

		if (!l->used || l->deadline > now_ms)
			continue;
		r->st.timeouts++;
		resolver_complete(r, lookup_token(r, l), RESOLVER_SERVFAIL, NULL, NULL);
	}
	for (unsigned i = 0; i < r->cfg.max_forward && r->n_fw; i++) {
		struct fwd *f = &r->fw[i];

		if (!f->used || f->deadline > now_ms)
			continue;
		r->st.timeouts++;
		r->cfg.upstream_done(r->cfg.io_arg, fwd_handle(r, f));
		if (!fwd_send(r, f))
			fwd_fail(r, f);
	}
}

struct resolver *resolver_new(const struct resolver_cfg *cfg)
{
	struct resolver *r;

	if (!cfg->domain || !cfg->send_client || !cfg->send_upstream || !cfg->upstream_done)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cfg = *cfg;
	r->cfg.domain = NULL;
	r->cfg.upstreams = NULL;
	r->cfg.listen = NULL;
	if (!r->cfg.max_forward)
		r->cfg.max_forward = 256;
	if (r->cfg.max_forward > 0xffff)
		r->cfg.max_forward = 0xffff;
	if (!r->cfg.max_lookups)
		r->cfg.max_lookups = 256;
	if (!r->cfg.max_waiters)
		r->cfg.max_waiters = 32;
	if (!r->cfg.forward_timeout_ms)
		r->cfg.forward_timeout_ms = 3000;
	if (!r->cfg.lookup_timeout_ms)
		r->cfg.lookup_timeout_ms = 5000;
	if (!r->cfg.ttl)
		r->cfg.ttl = 5;
	if (dns_name_from_str(cfg->domain, r->domain, &r->domain_len) < 0 ||
	    r->domain_len < 2) {
		log_warnx("resolver: bad domain '%s'", cfg->domain);
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_upstreams && r->n_up < RESOLVER_MAX_UPSTREAMS; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&cfg->upstreams[i];

		if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
			continue;
		if (cfg->listen && addr_equal(sa, cfg->listen))
			continue;
		r->up[r->n_up++] = cfg->upstreams[i];
	}
	r->lk = calloc(r->cfg.max_lookups, sizeof(*r->lk));
	r->fw = calloc(r->cfg.max_forward, sizeof(*r->fw));
	if (!r->lk || !r->fw)
		goto fail;
	return r;
fail:
	resolver_free(r);
	return NULL;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	for (unsigned i = 0; r->lk && i < r->cfg.max_lookups; i++)
		free(r->lk[i].w);
	for (unsigned i = 0; r->fw && i < r->cfg.max_forward; i++) {
		free(r->fw[i].w);
		free(r->fw[i].query);
	}
	free(r->lk);
	free(r->fw);
	free(r);
}

const struct resolver_stats *resolver_stats(const struct resolver *r)
{
	return &r->st;
}

unsigned resolver_forward_count(const struct resolver *r)
{
	return r->n_fw;
}

unsigned resolver_lookup_count(const struct resolver *r)
{
	return r->n_lk;
}
