#include "nms.h"
#include "nms_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "aead.h"
#include "clock.h"
#include "log.h"
#include "nms_relay.h"
#include "replay.h"
#include "route.h"
#include "seal.h"
#include "store.h"
#include "wire.h"

static uint8_t nms_prefix_len(struct store *st, const char *meta, uint8_t def, uint8_t max)
{
	char v[128], *slash, *end;
	long l;

	if (store_meta_get(st, meta, v, sizeof(v)) < 0)
		return def;
	slash = strrchr(v, '/');
	if (!slash)
		return def;
	l = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || l < 0 || l > max)
		return def;
	return (uint8_t)l;
}

/* A 32-byte secret every host of the store shares, kept in its metadata
 * under name: made by the first host that needs it.  0 or -1. */
static int nms_shared_secret(struct nms *n, const char *name, uint8_t out[32])
{
	char hex[2 * 32 + 1];
	uint8_t fresh[32];
	size_t i;
	int rc = store_meta_get(n->st, name, hex, sizeof(hex));

	if (rc == -ENOENT) {
		if (cy_random(fresh, sizeof(fresh)) < 0)
			return -1;
		for (i = 0; i < sizeof(fresh); i++)
			snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
		cy_wipe(fresh, sizeof(fresh));
		/* two hosts starting at once: the first one's holds, both
		 * read it */
		rc = store_meta_add(n->st, name, hex);
		if (rc == 0)
			rc = store_meta_get(n->st, name, hex, sizeof(hex));
	}
	for (i = 0; rc == 0 && i < 32; i++) {
		int hi = cy_hex_digit(hex[2 * i]), lo = hi < 0 ? -1 : cy_hex_digit(hex[2 * i + 1]);

		if (lo < 0)
			rc = -1;
		else
			out[i] = (uint8_t)(hi << 4 | lo);
	}
	cy_wipe(hex, sizeof(hex));
	return rc < 0 ? -1 : 0;
}

/* The key of the punch tickets (route.c): one for every host of the
 * store, since a node's Punch Request may reach another host than the one
 * that selected its route; the key of the signals between hosts
 * (nms_bus.c); and the key of the Registrations' cookies (nms_cookie.c),
 * so a node that registers again on another host needs no new one. */
static int nms_punch_secret(struct nms *n)
{
	return nms_shared_secret(n, "punch_secret", n->punch_secret) < 0 ||
	       nms_shared_secret(n, "bus_key", n->bus_key) < 0 ||
	       nms_shared_secret(n, "cookie_secret", n->cookie_secret) < 0 ? -1 : 0;
}

/* On SQLite the NMS must be the only one (its sealing counters run in long
 * blocks, seal.h): an exclusive lock beside the database file.  The
 * descriptor, -1 with errno EBUSY when another holds it, or -1 (other
 * errno) when it cannot be taken. */
static int nms_lock_alone(const char *store)
{
	char path[4096];
	int fd;

	if (!strncmp(store, "sqlite:", 7))
		store += 7;    /* else a plain path (store_open) */
	if (snprintf(path, sizeof(path), "%s.nms-lock", store) >= (int)sizeof(path)) {
		errno = EINVAL;
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			errno = EBUSY;
		close(fd);
		return -1;
	}
	return fd;
}

struct nms *nms_new(struct store *st, const struct nms_conf *conf)
{
	struct nms *n;
	bool shared = conf->store && store_url_server(conf->store);
	int lock = -1;

	if (conf->registration_ttl <= 0)
		return NULL;
	if (conf->store && !shared) {
		lock = nms_lock_alone(conf->store);
		if (lock < 0) {
			log_warn("nms: %s", errno == EBUSY ?
				 "another NMS runs on this SQLite store (one host only: several "
				 "hosts share a PostgreSQL store)" : "cannot lock the SQLite store");
			return NULL;
		}
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		if (lock >= 0)
			close(lock);
		return NULL;
	}
	n->alone_fd = lock;
	n->st = st;
	n->conf = *conf;
	n->prefix4 = nms_prefix_len(st, "vip4_prefix", 10, 32);
	n->prefix6 = nms_prefix_len(st, "vip6_prefix", 48, 128);
	if (cy_random(&n->rl_salt, sizeof(n->rl_salt)) < 0)
		n->rl_salt = 0x9e3779b97f4a7c15ULL;
	n->routes = route_table_new();
	n->grants = grant_table_new();
	if (!n->routes || !n->grants || nms_keys_init(n, shared) < 0 || nms_nodes_init(n) < 0 ||
	    nms_regs_init(n) < 0 || nms_punch_secret(n) < 0) {
		route_table_free(n->routes);
		grant_table_free(n->grants);
		nms_keys_free(n);
		nms_nodes_free(n);
		nms_regs_free(n);
		if (n->alone_fd >= 0)
			close(n->alone_fd);
		free(n);
		return NULL;
	}
	if (conf->policy)
		snprintf(n->policy_path, sizeof(n->policy_path), "%s", conf->policy);
	n->conf.policy = NULL;
	snprintf(n->host, sizeof(n->host), "%s", conf->host && conf->host[0] ? conf->host : "local");
	n->conf.host = NULL;
	/* Keepalives to a database server are written off the event loop, on
	 * a connection of their own: a flush is a round trip and the server's
	 * work on thousands of rows.  To a SQLite file it takes a few
	 * milliseconds: on the loop, one writer. */
	if (conf->store && store_url_server(conf->store) && nms_regs_thread(n, conf->store) < 0)
		log_warnx("nms: keepalives are written on the event loop");
	n->conf.store = NULL;
	return n;
}

void nms_free(struct nms *n)
{
	if (!n)
		return;
	nms_keys_free(n);
	nms_nodes_free(n);
	nms_regs_free(n);
	nms_policy_free(n);
	route_table_free(n->routes);
	grant_table_free(n->grants);
	nms_relay_free(n->relay);
	if (n->alone_fd >= 0)
		close(n->alone_fd);
	free(n);
}

int nms_set_relay(struct nms *n, const struct nms_relay_conf *c)
{
	struct nms_relay *r = nms_relay_new(c);

	if (!r)
		return -EINVAL;
	nms_relay_free(n->relay);
	n->relay = r;
	return 0;
}

const struct nms_stats *nms_stats(const struct nms *n)
{
	return &n->stats;
}

void nms_set_ops(struct nms *n, const struct nms_ops *ops, void *arg)
{
	n->ops = *ops;
	n->ops_arg = arg;
}

void nms_tick(struct nms *n, int64_t now_ms)
{
	route_tick(n, now_ms);
	/* Teardowns due (expiries are swept by nms_expire): a look at every
	 * grant at each route deadline would cost more than the routes. */
	if (grants_next_ms(n) <= now_ms)
		grants_tick(n, now_ms);
}

int64_t nms_next_ms(const struct nms *n)
{
	int64_t r = route_next_ms(n), g = grants_next_ms(n);

	return r < g ? r : g;
}

void nms_flush(struct nms *n)
{
	nms_regs_flush(n);
}

void nms_authz_check(struct nms *n)
{
	nms_keys_recheck_all(n);
	nms_regs_reread(n);
	grants_check(n, clock_now_ms());
}

void nms_expire(struct nms *n, int64_t now)
{
	int regs = store_reg_expire(n->st, now);
	int keys = store_key_expire(n->st, now);

	if (regs > 0 || keys > 0)
		log_info("nms: expired %d registration(s), %d key(s)", regs > 0 ? regs : 0,
			 keys > 0 ? keys : 0);
	nms_keys_expire(n, now);
	nms_nodes_expire(n);
	nms_regs_expire(n);
	/* Revocations and tags changed where nobody told us (another host,
	 * the store by hand): the running tunnels are checked here too, a
	 * slice at a time (a sweep must not stall the loop with 100,000
	 * tunnels), and the expired grants go. */
	grants_sweep(n, clock_now_ms());
	grants_tick(n, clock_now_ms());
}

/* from's slot, its counts of this second; NULL when not an IP address. */
static struct nms_rl_slot *nms_rl_slot(struct nms *n, const struct sockaddr *from)
{
	const uint8_t *p;
	size_t len;
	uint64_t h = n->rl_salt;
	int64_t sec = clock_now_ms() / 1000;
	struct nms_rl_slot *s;

	if (from->sa_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)from)->sin_addr;
		len = 4;
	} else if (from->sa_family == AF_INET6) {
		/* A host has a /64 (RFC 7421): one source, whatever the
		 * address it picks in it. */
		p = (const uint8_t *)&((const struct sockaddr_in6 *)from)->sin6_addr;
		len = 8;
	} else {
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	s = &n->rl[h % NMS_RL_SLOTS];
	if (s->second != sec) {
		s->second = sec;
		s->sent = 0;
		s->misses = 0;
	}
	return s;
}

static bool nms_reject_ok(struct nms *n, const struct sockaddr *from)
{
	struct nms_rl_slot *s = nms_rl_slot(n, from);

	if (!s || s->sent >= NMS_REJECT_PER_SEC)
		return false;
	s->sent++;
	return true;
}

/* A store lookup that found no usable key (none, expired, or the store
 * failed), charged to from's slot s and to everyone's. */
static void nms_lookup_missed(struct nms *n, struct nms_rl_slot *s)
{
	if (s)
		s->misses++;
	n->key_misses++;
}

/* A store lookup for a key not cached is within this second's budgets
 * (from's and everyone's); s: from's slot. */
static bool nms_lookup_ok(struct nms *n, const struct nms_rl_slot *s)
{
	int64_t sec = clock_now_ms() / 1000;

	if (sec != n->miss_sec) {
		n->miss_sec = sec;
		n->key_misses = 0;
	}
	return s && s->misses < NMS_KEY_MISSES_PER_SOURCE &&
	       n->key_misses < NMS_KEY_MISSES_PER_SEC;
}

/* NMS Reject (0x81), not sealed: ver | 0x81 | result | 0 | key id. */
static size_t nms_reject(struct nms *n, const struct sockaddr *from, enum cy_result r,
			 uint64_t key_id, uint8_t *out, size_t cap)
{
	struct wbuf w;

	if (!nms_reject_ok(n, from))
		return 0;
	wbuf_init(&w, out, cap);
	wbuf_put_u8(&w, CY_VERSION);
	wbuf_put_u8(&w, CY_NMS_REJECT);
	wbuf_put_u8(&w, (uint8_t)r);
	wbuf_put_u8(&w, 0);
	wbuf_put_u64(&w, key_id);
	return wbuf_ok(&w) ? w.len : 0;
}

static void nms_observed(struct store_reg *r, const struct sockaddr *from)
{
	socklen_t len = addr_len(from);

	memset(&r->observed, 0, sizeof(r->observed));
	if (len && len <= sizeof(r->observed))
		memcpy(&r->observed, from, len);
}

static ssize_t nms_fail(struct cy_builder *b, enum cy_result r, const char *reason)
{
	cy_put_u8(b, CY_A_RESULT, (uint8_t)r);
	if (reason)
		cy_put_str(b, CY_A_REASON, reason);
	return cy_build_finish(b);
}

/* The ADDR and FAMILIES attributes into reg; false when malformed. */
static bool nms_reg_parse(const struct cy_msg *m, struct store_reg *reg)
{
	const struct cy_attr *a;
	socklen_t slen;
	size_t pos = 0;

	memset(reg, 0, sizeof(*reg));
	while ((a = cy_msg_next(m, CY_A_ADDR, &pos))) {
		if (reg->naddrs == STORE_MAX_ADDRS)
			continue; /* more than we keep: ignore the rest */
		if (!cy_attr_endpoint(a, &reg->addrs[reg->naddrs], &slen))
			return false;
		reg->naddrs++;
	}
	if (cy_msg_find(m, CY_A_FAMILIES))
		return cy_msg_u8(m, CY_A_FAMILIES, &reg->families);
	for (size_t i = 0; i < reg->naddrs; i++)
		reg->families |= reg->addrs[i].ss_family == AF_INET ? CY_FAM_IPV4 : CY_FAM_IPV6;
	return true;
}

/* Store node's registration reg, seen from `from` under k.  0, or -1
 * when the store fails. */
static int nms_reg_store(struct nms *n, struct nms_key *k, const struct sockaddr *from,
			 const struct store_node *node, struct store_reg *reg,
			 const struct store_reg *prev, bool have_prev, int64_t now)
{
	char fbuf[ADDR_STR_MAX];
	bool moved;

	reg->node_id = node->id;
	snprintf(reg->host, sizeof(reg->host), "%s", n->host);
	reg->key_id = k->key_id;
	nms_observed(reg, from);
	/* Behind NAPT unless it reports the address we see it from. */
	reg->nat = true;
	for (size_t i = 0; i < reg->naddrs; i++)
		if (addr_equal((const struct sockaddr *)&reg->addrs[i], from))
			reg->nat = false;
	reg->counter = k->rx.top;
	reg->updated = now;
	reg->expires = now + n->conf.registration_ttl;
	moved = !have_prev || prev->nat != reg->nat ||
		!addr_equal((const struct sockaddr *)&prev->observed, from);
	/* What the node told of its NAPT holds while it stays behind it. */
	reg->mapping = moved ? CY_MAP_UNKNOWN : prev->mapping;
	if (store_reg_put(n->st, reg) < 0)
		return -1;
	nms_reg_kept(n, reg);
	n->stats.registrations++;
	log_msg(moved ? LOG_LVL_INFO : LOG_LVL_DEBUG, false, "nms: %s registered from %s%s",
		node->fqdn, addr_str(from, fbuf), reg->nat ? " (behind NAPT)" : "");
	return 0;
}

/* A Registration Request under counter ctr.  Another cloud host may hold
 * the registration: this one takes it over, but only with a counter past
 * the last the store saw from the node (a datagram replayed from the
 * other host's traffic is older), and from then on refuses every counter
 * up to this one, whatever its window had seen of the key before. */
static ssize_t nms_register(struct nms *n, struct nms_key *k, bool loaded,
			    const struct sockaddr *from, const struct cy_msg *m, uint64_t ctr,
			    uint8_t *msg, size_t cap)
{
	char fbuf[ADDR_STR_MAX];
	struct store_node node;
	struct store_reg reg, prev;
	struct cy_builder b;
	int64_t now = clock_now();
	bool have_prev, other, refresh;
	int rc;

	cy_build_start(&b, msg, cap, CY_REG_RES);
	if (!nms_reg_parse(m, &reg)) {
		n->stats.malformed++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: malformed Registration Request",
				addr_str(from, fbuf));
		return nms_fail(&b, CY_ERR_MALFORMED, "malformed request");
	}
	/* The cache may hold a key a login has replaced since (here or on
	 * another host), or whose registration has gone elsewhere: a
	 * registration, which moves the node, takes only a key the store
	 * has now, with its mark (unless read for this very datagram). */
	rc = loaded ? 0 : nms_key_recheck(n, k);
	if (rc < 0)
		return nms_fail(&b, rc == -ENOENT ? CY_ERR_UNKNOWN : CY_ERR_INTERNAL,
				rc == -ENOENT ? "unknown key" : "store unavailable");
	rc = nms_node_by_id(n, k->node_id, &node);
	if (rc < 0)
		return nms_fail(&b, rc == -ENOENT ? CY_ERR_UNKNOWN : CY_ERR_INTERNAL, NULL);
	if (node.revoked)
		return nms_fail(&b, CY_ERR_REVOKED, "revoked");
	/* A registration made with this key has gone since (deregistered,
	 * expired), on whichever host: what it had seen is old. */
	if (ctr < k->mark) {
		n->stats.replay++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: Registration of %s with counter %" PRIu64
				" older than an earlier registration of its key: a replay",
				addr_str(from, fbuf), node.fqdn, ctr);
		return 0;
	}
	have_prev = store_reg_get(n->st, node.id, &prev) == 0;
	other = have_prev && prev.key_id == k->key_id && strcmp(prev.host, n->host);
	if (other && ctr < prev.counter) {
		n->stats.replay++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: Registration of %s with counter %" PRIu64
				" older than its registration on host %s: a replay",
				addr_str(from, fbuf), node.fqdn, ctr, prev.host);
		return 0;
	}
	/* A refresh: from the endpoint of its live registration under this
	 * key.  Anything else moves (or makes) it: only with the node's
	 * newest counter (a move is sent after all it sent before: an older
	 * one, unseen so far, is a copy held back and let go later), and
	 * with proof that the node is reached where the request came from:
	 * the cookie sent there (nms_cookie.c). */
	refresh = have_prev && prev.key_id == k->key_id && prev.expires > now &&
		  addr_equal((const struct sockaddr *)&prev.observed, from);
	if (!refresh && have_prev && prev.key_id == k->key_id && ctr < prev.counter) {
		n->stats.replay++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: Registration of %s with counter %" PRIu64
				" not past its registration's: a replay", addr_str(from, fbuf),
				node.fqdn, ctr);
		return 0;
	}
	if (!refresh && !nms_reg_cookie_ok(n, k->key_id, m, from, now)) {
		uint8_t cookie[CY_COOKIE_LEN];

		if (!nms_reg_cookie(n, k->key_id, from, now, cookie))
			return nms_fail(&b, CY_ERR_INTERNAL, "no cookie");
		n->stats.reg_challenges++;
		log_debug("nms: %s: Registration of %s from a new endpoint: asking for the cookie",
			  addr_str(from, fbuf), node.fqdn);
		cy_put_u8(&b, CY_A_RESULT, CY_ERR_PROVE);
		cy_put_bytes(&b, CY_A_COOKIE, cookie, sizeof(cookie));
		return cy_build_finish(&b);
	}
	if (other)
		replay_init_from(&k->rx, ctr + 1);
	if (nms_reg_store(n, k, from, &node, &reg, &prev, have_prev, now) < 0)
		return nms_fail(&b, CY_ERR_INTERNAL, "store unavailable");
	if (other)
		log_info("nms: %s moved here from cloud host %s", node.fqdn, prev.host);
	/* under this key or a new one: that host forgets what it kept */
	if (have_prev && prev.host[0] && strcmp(prev.host, n->host))
		nms_bus_released(n, prev.host, node.id);

	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	cy_put_str(&b, CY_A_FQDN, node.fqdn);
	cy_put_bytes(&b, CY_A_VIP4, node.vip4, sizeof(node.vip4));
	cy_put_bytes(&b, CY_A_VIP6, node.vip6, sizeof(node.vip6));
	cy_put_u8(&b, CY_A_PREFIX4, n->prefix4);
	cy_put_u8(&b, CY_A_PREFIX6, n->prefix6);
	cy_put_endpoint(&b, CY_A_OBSERVED, from);
	cy_put_u8(&b, CY_A_NAT, reg.nat);
	cy_put_u32(&b, CY_A_TTL, (uint32_t)n->conf.registration_ttl);
	return cy_build_finish(&b);
}

/* A keepalive refreshes the registration it belongs to (of this key, on
 * this host, from this endpoint, still live: nms_regs.c); it never moves
 * it to another endpoint (only a Registration Request does). */
static ssize_t nms_keepalive(struct nms *n, struct nms_key *k, const struct sockaddr *from,
			     uint8_t *msg, size_t cap)
{
	struct cy_builder b;
	uint8_t result = CY_OK;
	int rc;

	n->stats.keepalives++;
	cy_build_start(&b, msg, cap, CY_KEEPALIVE_ACK);
	rc = nms_reg_keepalive(n, k, from);
	/* Registered on another cloud host, elsewhere, or not any more: it
	 * registers here again first. */
	if (rc == -ENOENT)
		result = CY_ERR_REREGISTER;
	else if (rc < 0)
		result = CY_ERR_INTERNAL;
	cy_put_u8(&b, CY_A_RESULT, result);
	cy_put_endpoint(&b, CY_A_OBSERVED, from);
	return cy_build_finish(&b);
}

static ssize_t nms_dereg(struct nms *n, struct nms_key *k, uint8_t *msg, size_t cap)
{
	struct store_reg reg;
	struct cy_builder b;

	/* Only the key that registered may take the registration down, on
	 * the host it is registered on. */
	if (nms_reg_get(n, k->node_id, &reg) == 0 && reg.key_id == k->key_id &&
	    !strcmp(reg.host, n->host)) {
		store_reg_delete(n->st, k->node_id);
		nms_reg_forget(n, k->node_id);
		n->stats.deregistrations++;
	}
	cy_build_start(&b, msg, cap, CY_DEREG);
	cy_put_u8(&b, CY_A_RESULT, CY_OK);
	return cy_build_finish(&b);
}

/* The key the datagram h heads is sealed under.  NULL when there is
 * none to use, with *ret the length of the NMS Reject put in out (0:
 * nothing to send). */
static struct nms_key *nms_key_lookup(struct nms *n, const struct sockaddr *from,
				      const struct cy_seal_hdr *h, uint8_t *out, size_t cap,
				      size_t *ret, bool *loaded)
{
	char fbuf[ADDR_STR_MAX];
	struct nms_rl_slot *slot;
	struct store_key sk;
	struct nms_key *k;
	int rc;

	*ret = 0;
	*loaded = false;
	k = nms_key_cached(n, h->key_id);
	if (k)
		return k;
	/* A key in memory, due for its re-check, is always looked up: the
	 * budget is for ids the NMS has never seen. */
	slot = nms_rl_slot(n, from);
	if (!nms_key_known(n, h->key_id) && !nms_lookup_ok(n, slot)) {
		n->stats.unknown_key++;
		n->stats.unknown_key_shed++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: too many unknown keys this second, "
				"%016" PRIx64 " not looked up", addr_str(from, fbuf), h->key_id);
		return NULL;
	}
	rc = store_key_get(n->st, h->key_id, &sk);
	if (rc < 0 || sk.expires <= clock_now())
		nms_lookup_missed(n, slot);
	if (rc == -ENOENT) {
		n->stats.unknown_key++;
		nms_key_drop(n, h->key_id); /* revoked or expired meanwhile */
		LOG_RATELIMITED(&n->rl_log, "nms: %s: unknown key %016" PRIx64,
				addr_str(from, fbuf), h->key_id);
		*ret = nms_reject(n, from, CY_ERR_UNKNOWN, h->key_id, out, cap);
		return NULL;
	}
	if (rc < 0)
		return NULL;
	if (sk.expires <= clock_now()) {
		cy_wipe(&sk, sizeof(sk));
		n->stats.expired_key++;
		nms_key_drop(n, h->key_id);
		*ret = nms_reject(n, from, CY_ERR_EXPIRED, h->key_id, out, cap);
		return NULL;
	}
	k = nms_key_get(n, &sk);
	cy_wipe(&sk, sizeof(sk));
	*loaded = true;
	return k;
}

/* Parse the opened message and hand it to its handler: the length of
 * the reply it put in msg (cap bytes), <= 0 for none. */
static ssize_t nms_dispatch(struct nms *n, struct nms_key *k, bool loaded,
			    const struct sockaddr *from, uint64_t ctr,
			    const uint8_t *plain, size_t plen, uint8_t *msg, size_t cap)
{
	char fbuf[ADDR_STR_MAX];
	uint64_t tid = 0;
	struct cy_msg *m;
	ssize_t mlen = -1;

	m = malloc(sizeof(*m));
	if (!m)
		return -1;
	if (cy_msg_parse(m, plain, plen) < 0) {
		n->stats.malformed++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: malformed message", addr_str(from, fbuf));
		goto out;
	}
	switch (m->type) {
	case CY_REG_REQ:
		mlen = nms_register(n, k, loaded, from, m, ctr, msg, cap);
		break;
	case CY_KEEPALIVE:
		mlen = nms_keepalive(n, k, from, msg, cap);
		break;
	case CY_DEREG:
		mlen = nms_dereg(n, k, msg, cap);
		break;
	case CY_DIRECTION_REQ:
		mlen = route_direction_req(n, k, from, m, msg, cap);
		break;
	case CY_CONFIRMATION:
	case CY_TEARDOWN_ACK:
		/* About a route or grant of this host, or of the host that
		 * delivered its direction (nms_bus.c) */
		if (m->type == CY_CONFIRMATION ? route_confirmation(n, k, from, m)
					       : grant_ack(n, k, m))
			break;
		if (!cy_msg_u64(m, CY_A_TUNNEL_ID, &tid) ||
		    !nms_bus_forward(n, k, from, tid, plain, plen))
			LOG_RATELIMITED(&n->rl_log, "nms: %s: %s for unknown tunnel %016" PRIx64,
					addr_str(from, fbuf), cy_msg_type_str(m->type), tid);
		break;
	case CY_PUNCH_REQ:
		route_punch_req(n, k, from, m);
		break;
	default:
		n->stats.malformed++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: unexpected %s (0x%02x)",
				addr_str(from, fbuf), cy_msg_type_str(m->type), m->type);
		break;
	}
out:
	free(m);
	return mlen;
}

size_t nms_handle(struct nms *n, const struct sockaddr *from, const uint8_t *pkt, size_t len,
		  uint8_t *out, size_t cap)
{
	uint8_t plain[NMS_PKT_MAX], msg[NMS_MSG_MAX];
	char fbuf[ADDR_STR_MAX];
	struct cy_seal_hdr h;
	struct nms_key *k;
	ssize_t plen, mlen;
	size_t ret = 0;
	bool loaded;

	n->stats.rx++;
	if (len <= NMS_PKT_MAX && cy_seal_peek(pkt, len, &h) == 0 && nms_relay_ours(n->relay, &h)) {
		/* A TRS answers our Relay Request on this socket. */
		route_relay_response(n, from, pkt, len);
		return 0;
	}
	if (len > NMS_PKT_MAX || cy_seal_peek(pkt, len, &h) < 0 || h.dir != CY_DIR_TO_CLOUD) {
		n->stats.malformed++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: malformed datagram (%zu bytes)",
				addr_str(from, fbuf), len);
		return 0;
	}
	k = nms_key_lookup(n, from, &h, out, cap, &ret, &loaded);
	if (!k)
		return ret;

	/* Cheap check first; the window moves only after authentication. */
	if (!replay_check(&k->rx, h.counter)) {
		n->stats.replay++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: replayed counter %" PRIu64 " on key %016"
				PRIx64, addr_str(from, fbuf), h.counter, h.key_id);
		return 0;
	}
	plen = cy_unseal(k->aead, pkt, len, plain, sizeof(plain));
	if (plen < 0) {
		n->stats.auth_fail++;
		LOG_RATELIMITED(&n->rl_log, "nms: %s: datagram failed authentication",
				addr_str(from, fbuf));
		return 0;
	}
	replay_update(&k->rx, h.counter);

	mlen = nms_dispatch(n, k, loaded, from, h.counter, plain, (size_t)plen, msg, sizeof(msg));
	if (mlen > 0)
		ret = nms_seal_reply(n, k, msg, (size_t)mlen, out, cap);
	cy_wipe(plain, sizeof(plain));
	cy_wipe(msg, sizeof(msg)); /* a Route Direction holds a Tunnel Key */
	return ret;
}

const struct counter nms_counters[] = {
	COUNTER(struct nms_stats, rx, "datagrams received"),
	COUNTER(struct nms_stats, malformed, "datagrams malformed"),
	COUNTER(struct nms_stats, auth_fail, "datagrams that did not authenticate"),
	COUNTER(struct nms_stats, replay, "datagrams replayed"),
	COUNTER(struct nms_stats, bus_out, "signals sent to other cloud hosts"),
	COUNTER(struct nms_stats, bus_in, "signals from other cloud hosts"),
	COUNTER(struct nms_stats, bus_bad, "signals from other cloud hosts not understood"),
	COUNTER(struct nms_stats, unknown_key, "datagrams under a key the NMS does not have"),
	COUNTER(struct nms_stats, unknown_key_shed,
		"datagrams under a key not cached, not looked up (too many unknown this second)"),
	COUNTER(struct nms_stats, expired_key, "datagrams under an expired key"),
	COUNTER(struct nms_stats, registrations, "registrations"),
	COUNTER(struct nms_stats, reg_challenges,
		"Registrations answered with a cookie to echo (a new endpoint, key or registration)"),
	COUNTER(struct nms_stats, keepalives, "keepalives"),
	COUNTER(struct nms_stats, deregistrations, "deregistrations"),
	COUNTER(struct nms_stats, directions, "new Direction Requests"),
	COUNTER(struct nms_stats, directions_ok, "Direction Requests answered with a route"),
	COUNTER(struct nms_stats, directions_failed, "Direction Requests answered with a failure"),
	COUNTER(struct nms_stats, relays, "route selections that asked a TRS"),
	COUNTER(struct nms_stats, relays_failed, "route selections that got no relay"),
	COUNTER(struct nms_stats, punches, "Punch Requests directed to both ends"),
	COUNTER(struct nms_stats, punches_refused, "Punch Requests naming no peer to punch to"),
	COUNTER(struct nms_stats, punches_hopeless,
		"Punch Requests for two ends behind random-port NAPTs (not tried)"),
	COUNTER(struct nms_stats, policy_loads, "access policy files loaded"),
	COUNTER(struct nms_stats, policy_errors, "access policy files refused as invalid"),
	COUNTER(struct nms_stats, policy_denied, "route selections denied by the access policy"),
	COUNTER(struct nms_stats, teardowns, "tunnels torn down (revoked, no longer allowed)"),
};
const size_t nms_ncounters = sizeof(nms_counters) / sizeof(nms_counters[0]);
