/* libFuzzer: datagrams into nms_handle(), past authentication.
 *
 * Everything the NMS accepts is sealed under a key the fuzzer cannot
 * forge, so raw bytes alone stop at the AEAD.  An input is therefore a
 * sequence of records, each one datagram, sealed by the harness as a
 * fixture node (or as the TRS) unless the record says it is raw:
 *
 *   record = mode (1 byte) | length (2 bytes, big-endian) | body
 *            (a record longer than what is left gets the rest)
 *   mode bits 0-2, who:
 *     0  raw: body is the datagram as received
 *     1  alpha    seals body (an inner message) under its key
 *     2  beta     the same (the other end of a route)
 *     3  gamma    a revoked node whose key is still stored
 *     4  delta    a node whose key expired
 *     5  the TRS: body sealed as a Relay Response under the NMS-TRS link
 *        key of the last Relay Request the NMS sent, from the TRS
 *     6  alpha again, counter not advanced (a replay of the last record)
 *     7  the timers: nms_tick() body[0] * 250 ms ahead, and nms_expire()
 *        body[1] s ahead unless that is 0
 *   mode bits 3-4: the source address (4 endpoints, v4 and v6)
 *
 * In sealed bodies the 8 bytes "TUNNELID" become the tunnel id the NMS
 * handed out last (it picks them at random; the harness reads them from
 * what the NMS sends), so Confirmations and Relay Responses can name a
 * live route.  Every input starts from the same state (fz_reset: fresh
 * receive windows, no routes, no registrations) over an in-memory store.
 * Checked: everything the NMS answers or sends either opens under the key
 * it names and parses, or is an NMS Reject.
 *
 * Seeds: FUZZ_NMS_WRITE_SEEDS=DIR fuzz_nms writes the seed corpus
 * (fuzz/corpus/fuzz_nms/, `cmake --build B --target fuzz_nms_seeds`)
 * and exits: registrations, keepalives, deregistrations, direct and
 * relayed route selections with their Confirmations and Relay Responses,
 * timeouts, refusals, and datagrams sealed under a fixture key in raw
 * records (they pass authentication: each input has fresh windows).
 * FUZZ_NMS_STATS=1 prints the NMS's counters after each input (what a
 * seed reaches: fuzz_nms -runs=0 SEED...). */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"
#include "aead.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "nms.h"
#include "nms_impl.h"
#include "replay.h"
#include "route.h"
#include "seal.h"
#include "store.h"
#include "trs_wire.h"
#include "wire.h"

#define FZ_DOMAIN "example.test"
#define FZ_TUNNEL_MARK "TUNNELID"
#define FZ_LIVE (INT64_MAX / 2)

enum { FZ_RAW, FZ_ALPHA, FZ_BETA, FZ_GAMMA, FZ_DELTA, FZ_TRS, FZ_REPLAY, FZ_TICK };

struct fz_node {
	const char *name;
	uint64_t key_id;
	int64_t expires;
	bool revoked;
	struct store_node row;
	struct aead *aead;
};

static struct fz_node fz_nodes[] = {
	{ .name = "alpha", .key_id = 0x0102030405060708ULL, .expires = FZ_LIVE },
	{ .name = "beta", .key_id = 0x1112131415161718ULL, .expires = FZ_LIVE },
	{ .name = "gamma", .key_id = 0x2122232425262728ULL, .expires = FZ_LIVE, .revoked = true },
	{ .name = "delta", .key_id = 0x3132333435363738ULL, .expires = 1 },
};
#define FZ_NNODES (sizeof(fz_nodes) / sizeof(fz_nodes[0]))

static const uint8_t fz_trs_secret[TRS_KEY_LEN] = { 0x7e, 0x57, 0x5e, 0xc2 };
static const char *const fz_src[4] = {
	"192.0.2.10:7446", "198.51.100.20:40000", "[2001:db8::10]:7446", "192.0.2.11:7446",
};
static const char *const fz_trs_addr[2] = { "192.0.2.200:7445", "[2001:db8::200]:7445" };

static struct store *fz_st;
static struct nms *fz_nms;
static struct sockaddr_storage fz_from[4];
static struct nms_relay_conf fz_relay;
static uint64_t fz_tunnel_id;        /* the last one the NMS handed out */
static uint64_t fz_link_id;          /* key id of the last Relay Request */
static struct aead *fz_link;         /* its link key */
static uint64_t fz_ctr;              /* sealing counter, per input */
static uint64_t fz_trs_ctr;          /* the TRS's: never goes back (see fz_reset) */
static bool fz_verbose;              /* FUZZ_NMS_STATS set: counters per input */

static void fz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_nms: setup: %s failed\n", what);
		abort();
	}
}

static void fz_key_bytes(uint64_t id, uint8_t key[CY_KEY_LEN])
{
	for (size_t i = 0; i < CY_KEY_LEN; i++)
		key[i] = (uint8_t)(id + i);
}

static void fz_put_key(struct fz_node *f)
{
	struct store_key k = { .key_id = f->key_id, .node_id = f->row.id, .expires = f->expires };

	fz_key_bytes(f->key_id, k.key);
	fz_check(store_key_put(fz_st, &k) == 0, "store_key_put");
}

static void fz_setup(void)
{
	char err[256];
	socklen_t len;

	log_init("fuzz_nms", LOG_LVL_ERR);
	fz_check(store_open(&fz_st, ":memory:", err, sizeof(err)) == 0, "store_open");
	fz_check(store_meta_set(fz_st, "domain", FZ_DOMAIN) == 0 &&
		 store_meta_set(fz_st, "vip4_prefix", "100.64.0.0/10") == 0 &&
		 store_meta_set(fz_st, "vip6_prefix", "fd12:3456:789a::/48") == 0,
		 "store_meta_set");
	for (size_t i = 0; i < FZ_NNODES; i++) {
		struct fz_node *f = &fz_nodes[i];
		uint8_t key[CY_KEY_LEN];

		memset(&f->row, 0, sizeof(f->row));
		f->row.kind = CY_KIND_NODE;
		snprintf(f->row.name, sizeof(f->row.name), "%s", f->name);
		snprintf(f->row.fqdn, sizeof(f->row.fqdn), "%s.%s", f->name, FZ_DOMAIN);
		fz_check(store_node_add(fz_st, &f->row) == 0, "store_node_add");
		if (f->revoked)   /* revoking drops its keys: the key comes after */
			fz_check(store_node_revoke(fz_st, f->name, "fuzz") == 0, "revoke");
		fz_put_key(f);
		fz_key_bytes(f->key_id, key);
		f->aead = aead_new(AEAD_CHACHA20_POLY1305, key);
		fz_check(f->aead != NULL, "aead_new");
	}
	for (size_t i = 0; i < 4; i++)
		fz_check(addr_parse(fz_src[i], 0, &fz_from[i], &len) == 0, "addr_parse");
	memcpy(fz_relay.secret, fz_trs_secret, sizeof(fz_relay.secret));
	for (size_t i = 0; i < 2; i++)
		fz_check(addr_parse(fz_trs_addr[i], 0, &fz_relay.trs[i], &len) == 0, "addr_parse");
	fz_relay.ntrs = 2;
}

static struct fz_node *fz_node_by_key(uint64_t key_id)
{
	for (size_t i = 0; i < FZ_NNODES; i++)
		if (fz_nodes[i].key_id == key_id)
			return &fz_nodes[i];
	return NULL;
}

/* Open what the NMS sealed (to a node, or to a TRS) and note the tunnel
 * id in it; what does not open is a bug. */
static void fz_read_sealed(const uint8_t *buf, size_t len, bool to_trs)
{
	static uint8_t plain[NMS_PKT_MAX];
	static struct cy_msg m;
	struct cy_seal_hdr h;
	struct fz_node *f;
	struct aead *a;
	uint64_t id;
	ssize_t n;

	if (cy_seal_peek(buf, len, &h) < 0)
		abort();
	if (to_trs) {
		uint8_t key[TRS_KEY_LEN];

		if (h.dir != CY_DIR_TO_CLOUD)
			abort();
		if (!fz_link || h.key_id != fz_link_id) {
			fz_check(trs_link_key(fz_trs_secret, h.key_id, key) == 0, "trs_link_key");
			aead_free(fz_link);
			fz_link = aead_new(AEAD_CHACHA20_POLY1305, key);
			fz_check(fz_link != NULL, "aead_new");
			fz_link_id = h.key_id;
		}
		a = fz_link;
	} else {
		f = fz_node_by_key(h.key_id);
		if (!f || h.dir != CY_DIR_FROM_CLOUD)
			abort();
		a = f->aead;
	}
	n = cy_unseal(a, buf, len, plain, sizeof(plain));
	if (n < 0 || cy_msg_parse(&m, plain, (size_t)n) < 0)
		abort();
	if (cy_msg_u64(&m, CY_A_TUNNEL_ID, &id))
		fz_tunnel_id = id;
}

static void fz_send(void *arg, const struct sockaddr *to, const uint8_t *buf, size_t len)
{
	bool to_trs = false;

	(void)arg;
	for (size_t i = 0; i < fz_relay.ntrs; i++)
		if (addr_equal(to, (const struct sockaddr *)&fz_relay.trs[i]))
			to_trs = true;
	fz_read_sealed(buf, len, to_trs);
}

/* Every input starts from the same state, cheaply: one NMS for the whole
 * run (a new one per input costs two key derivations and a 1024-bucket
 * sweep, ~100 us under ASan: 5,000 exec/s), its per-input state put back
 * through its internals (nms_impl.h): no routes, the fixture keys'
 * receive windows and the Reject rate limit fresh, counters zero, no
 * registrations.  The links to the TRSes keep their windows (nms_relay.c
 * keeps them to itself): the TRS's counter never goes back instead. */
static void fz_reset(void)
{
	static const struct nms_ops ops = { .send = fz_send };
	struct nms_conf nc = { .registration_ttl = 60 };

	if (!fz_nms) {
		fz_nms = nms_new(fz_st, &nc);
		fz_check(fz_nms != NULL, "nms_new");
		nms_set_ops(fz_nms, &ops, NULL);
		fz_check(nms_set_relay(fz_nms, &fz_relay) == 0, "nms_set_relay");
	}
	route_table_free(fz_nms->routes);
	fz_nms->routes = route_table_new();
	fz_check(fz_nms->routes != NULL, "route_table_new");
	for (size_t i = 0; i < FZ_NNODES; i++) {
		struct nms_key *k = IDMAP_ENTRY(idmap_get(&fz_nms->keys, fz_nodes[i].key_id),
						struct nms_key, hn);

		if (k)
			replay_init(&k->rx);
	}
	memset(fz_nms->rl, 0, sizeof(fz_nms->rl));
	/* the registrations it keeps in memory go with the store's */
	nms_regs_free(fz_nms);
	fz_check(nms_regs_init(fz_nms) == 0, "nms_regs_init");
	if (fz_nms->stats.registrations)   /* only then is there one to clear */
		store_reg_expire(fz_st, INT64_MAX);
	memset(&fz_nms->stats, 0, sizeof(fz_nms->stats));
	fz_tunnel_id = 0;
	fz_ctr = 0;
}

static void fz_cleanup(void)
{
	nms_free(fz_nms);
	for (size_t i = 0; i < FZ_NNODES; i++)
		aead_free(fz_nodes[i].aead);
	aead_free(fz_link);
	store_close(fz_st);
}

/* Every "TUNNELID" in body becomes the live tunnel id (the first byte
 * tested first: memcmp is intercepted, and this runs for every byte). */
static void fz_patch(uint8_t *body, size_t len)
{
	for (size_t i = 0; i + 8 <= len; i++)
		if (body[i] == 'T' && !memcmp(body + i, FZ_TUNNEL_MARK, 8)) {
			put_be64(body + i, fz_tunnel_id);
			i += 7;
		}
}

/* Seal a record's body as who; the datagram length, or 0. */
static size_t fz_seal(int who, uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
	struct aead *a;
	uint64_t key_id;
	enum cy_dir dir = CY_DIR_TO_CLOUD;
	ssize_t n;

	fz_patch(body, len);
	if (who == FZ_TRS) {
		if (!fz_link)
			return 0;   /* no Relay Request yet: nothing to answer */
		a = fz_link;
		key_id = fz_link_id;
		dir = CY_DIR_FROM_CLOUD;
	} else {
		struct fz_node *f = &fz_nodes[who == FZ_REPLAY ? 0 : who - FZ_ALPHA];

		a = f->aead;
		key_id = f->key_id;
	}
	if (who != FZ_REPLAY || !fz_ctr)
		fz_ctr++;
	n = cy_seal(a, dir, key_id, who == FZ_TRS ? ++fz_trs_ctr : fz_ctr, body, len, out, cap);
	return n > 0 ? (size_t)n : 0;
}

static void fz_check_reply(const uint8_t *out, size_t n)
{
	if (!n)
		return;
	if (n == NMS_REJECT_LEN && out[1] == CY_NMS_REJECT)
		return;
	fz_read_sealed(out, n, false);
}

static void fz_run(const uint8_t *data, size_t size)
{
	static uint8_t body[NMS_PKT_MAX + 64], pkt[NMS_PKT_MAX + 64], out[NMS_PKT_MAX];
	size_t off = 0;

	fz_reset();
	while (off < size) {
		uint8_t mode = data[off];
		size_t len = 0, n;
		const struct sockaddr *from;
		int who = mode & 7;

		off++;
		if (off + 2 <= size) {
			len = get_be16(data + off);
			off += 2;
		} else {
			off = size;
		}
		if (len > size - off)
			len = size - off;
		from = (const struct sockaddr *)&fz_from[(mode >> 3) & 3];
		if (who == FZ_TICK) {
			int64_t ms = clock_now_ms() + 250 * (int64_t)(len ? data[off] : 1);

			nms_tick(fz_nms, ms);
			if (len > 1 && data[off + 1]) {   /* a sweep of 1024 buckets: on request */
				nms_expire(fz_nms, clock_now() + data[off + 1]);
				fz_put_key(&fz_nodes[FZ_DELTA - FZ_ALPHA]); /* it dropped that */
			}
		} else if (who == FZ_RAW) {
			n = nms_handle(fz_nms, from, data + off, len, out, sizeof(out));
			fz_check_reply(out, n);
		} else if (len <= sizeof(body)) {
			memcpy(body, data + off, len);
			n = fz_seal(who, body, len, pkt, sizeof(pkt));
			if (who == FZ_TRS)
				from = (const struct sockaddr *)&fz_relay.trs[0];
			if (n) {
				n = nms_handle(fz_nms, from, pkt, n, out, sizeof(out));
				fz_check_reply(out, n);
			}
		}
		off += len;
	}
	if (fz_verbose) {
		const struct nms_stats *st = nms_stats(fz_nms);

		fprintf(stderr, "fuzz_nms: rx %" PRIu64 " malformed %" PRIu64 " auth_fail %" PRIu64
			" replay %" PRIu64 " unknown_key %" PRIu64 " expired_key %" PRIu64
			" registrations %" PRIu64 " keepalives %" PRIu64 " deregistrations %" PRIu64
			" directions %" PRIu64 " ok %" PRIu64 " failed %" PRIu64 " relays %" PRIu64
			" relays_failed %" PRIu64 "\n", st->rx, st->malformed, st->auth_fail,
			st->replay, st->unknown_key, st->expired_key, st->registrations,
			st->keepalives, st->deregistrations, st->directions, st->directions_ok,
			st->directions_failed, st->relays, st->relays_failed);
	}
}

/* ---------------------------------------------------------------- seeds */

struct fz_seed {
	uint8_t buf[4096];
	size_t len;
};

static uint8_t seed_m[1024];   /* the message being built */

static void seed_raw(struct fz_seed *s, uint8_t mode, const uint8_t *body, size_t len)
{
	fz_check(s->len + 3 + len <= sizeof(s->buf), "seed size");
	s->buf[s->len++] = mode;
	put_be16(s->buf + s->len, (uint16_t)len);
	memcpy(s->buf + s->len + 2, body, len);
	s->len += 2 + len;
}

/* A record: who, source index, and the message b built. */
static void seed_msg(struct fz_seed *s, int who, int src, struct cy_builder *b)
{
	ssize_t n = cy_build_finish(b);

	fz_check(n > 0, "cy_build_finish");
	seed_raw(s, (uint8_t)(who | src << 3), seed_m, (size_t)n);
}

static void seed_ep(struct cy_builder *b, uint16_t type, const char *ep)
{
	struct sockaddr_storage ss;
	socklen_t len;

	fz_check(addr_parse(ep, 0, &ss, &len) == 0, "addr_parse");
	cy_put_endpoint(b, type, (struct sockaddr *)&ss);
}

/* Registration Request from who at source src, reporting addr (or none). */
static void seed_reg(struct fz_seed *s, int who, int src, const char *addr, int fams)
{
	struct cy_builder b;

	cy_build_start(&b, seed_m, sizeof(seed_m), CY_REG_REQ);
	if (addr)
		seed_ep(&b, CY_A_ADDR, addr);
	if (fams)
		cy_put_u8(&b, CY_A_FAMILIES, (uint8_t)fams);
	seed_msg(s, who, src, &b);
}

static void seed_empty(struct fz_seed *s, int who, int src, uint8_t type)
{
	struct cy_builder b;

	cy_build_start(&b, seed_m, sizeof(seed_m), type);
	seed_msg(s, who, src, &b);
}

enum seed_peer { BY_FQDN, BY_VIP4, BY_VIP6, BY_NONE };

static void seed_direction(struct fz_seed *s, int who, int src, uint32_t req_id,
			   const char *peer, enum seed_peer by)
{
	struct cy_builder b;
	struct store_node n;

	cy_build_start(&b, seed_m, sizeof(seed_m), CY_DIRECTION_REQ);
	if (req_id)
		cy_put_u32(&b, CY_A_REQ_ID, req_id);
	if (by == BY_FQDN) {
		cy_put_str(&b, CY_A_FQDN, peer);
	} else if (by != BY_NONE) {
		fz_check(store_node_by_fqdn(fz_st, peer, &n) == 0, "store_node_by_fqdn");
		if (by == BY_VIP4)
			cy_put_bytes(&b, CY_A_VIP4, n.vip4, 4);
		else
			cy_put_bytes(&b, CY_A_VIP6, n.vip6, 16);
	}
	seed_msg(s, who, src, &b);
}

static void seed_confirm(struct fz_seed *s, int who, int src, uint8_t result)
{
	struct cy_builder b;

	cy_build_start(&b, seed_m, sizeof(seed_m), CY_CONFIRMATION);
	cy_put_bytes(&b, CY_A_TUNNEL_ID, FZ_TUNNEL_MARK, 8);
	cy_put_u8(&b, CY_A_RESULT, result);
	seed_msg(s, who, src, &b);
}

static void seed_relay_res(struct fz_seed *s, uint8_t result)
{
	struct cy_builder b;

	cy_build_start(&b, seed_m, sizeof(seed_m), CY_RELAY_RES);
	cy_put_bytes(&b, CY_A_TUNNEL_ID, FZ_TUNNEL_MARK, 8);
	cy_put_u8(&b, CY_A_RESULT, result);
	if (result == CY_OK) {
		seed_ep(&b, CY_A_RELAY, "192.0.2.200:40000");
		seed_ep(&b, CY_A_RELAY, "[2001:db8::200]:40000");
	} else {
		cy_put_str(&b, CY_A_REASON, "relay full");
	}
	seed_msg(s, FZ_TRS, 0, &b);
}

static void seed_tick(struct fz_seed *s, uint8_t quarter_s, uint8_t expire_s)
{
	uint8_t t[2] = { quarter_s, expire_s };

	seed_raw(s, FZ_TICK, t, 2);
}

/* A raw record: the datagram who seals with counter ctr, made here. */
static void seed_sealed_raw(struct fz_seed *s, int who, int src, uint64_t ctr,
			    struct cy_builder *b)
{
	struct fz_node *f = &fz_nodes[who - FZ_ALPHA];
	uint8_t pkt[1200];
	ssize_t n = cy_build_finish(b), p;

	fz_check(n > 0, "cy_build_finish");
	p = cy_seal(f->aead, CY_DIR_TO_CLOUD, f->key_id, ctr, seed_m, (size_t)n, pkt,
		    sizeof(pkt));
	fz_check(p > 0, "cy_seal");
	seed_raw(s, (uint8_t)(FZ_RAW | src << 3), pkt, (size_t)p);
}

/* alpha and beta registered (directly reachable, or both behind NAPT). */
static void seed_pair(struct fz_seed *s, bool napt)
{
	if (napt) {
		seed_reg(s, FZ_ALPHA, 1, "10.0.0.5:7446", CY_FAM_IPV4);
		seed_reg(s, FZ_BETA, 3, "10.0.0.6:7446", CY_FAM_IPV4);
	} else {
		seed_reg(s, FZ_ALPHA, 0, "192.0.2.10:7446", 0);
		seed_reg(s, FZ_BETA, 3, "192.0.2.11:7446", 0);
	}
}

static void seed_write(const char *dir, const char *name, const struct fz_seed *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	fz_check(f && fwrite(s->buf, 1, s->len, f) == s->len && fclose(f) == 0, path);
}

#define SEED(name, ...)                               \
	do {                                          \
		struct fz_seed s_ = { .len = 0 };     \
		struct fz_seed *s = &s_;              \
		__VA_ARGS__;                          \
		seed_write(dir, name, s);             \
		written++;                            \
	} while (0)

static void write_seeds(const char *dir)
{
	const char *beta = "beta." FZ_DOMAIN;
	struct cy_builder b;
	int written = 0;

	SEED("reg_v4", seed_reg(s, FZ_ALPHA, 0, "192.0.2.10:7446", 0));
	SEED("reg_napt", seed_reg(s, FZ_ALPHA, 1, "10.0.0.5:7446", CY_FAM_IPV4));
	SEED("reg_v6", seed_reg(s, FZ_ALPHA, 2, "[2001:db8::10]:7446", CY_FAM_IPV4 | CY_FAM_IPV6));
	SEED("reg_no_addr", seed_reg(s, FZ_ALPHA, 0, NULL, 0));
	SEED("reg_revoked", seed_reg(s, FZ_GAMMA, 0, "192.0.2.10:7446", 0));
	SEED("keepalive_expired_key", seed_empty(s, FZ_DELTA, 0, CY_KEEPALIVE));
	SEED("keepalive", seed_reg(s, FZ_ALPHA, 0, "192.0.2.10:7446", 0);
	     seed_empty(s, FZ_ALPHA, 0, CY_KEEPALIVE));
	SEED("keepalive_moved", seed_reg(s, FZ_ALPHA, 0, "192.0.2.10:7446", 0);
	     seed_empty(s, FZ_ALPHA, 1, CY_KEEPALIVE));
	SEED("keepalive_unregistered", seed_empty(s, FZ_BETA, 3, CY_KEEPALIVE));
	SEED("dereg", seed_reg(s, FZ_ALPHA, 0, "192.0.2.10:7446", 0);
	     seed_empty(s, FZ_ALPHA, 0, CY_DEREG); seed_empty(s, FZ_ALPHA, 0, CY_KEEPALIVE));
	SEED("replay", seed_reg(s, FZ_ALPHA, 0, "192.0.2.10:7446", 0);
	     seed_empty(s, FZ_REPLAY, 0, CY_KEEPALIVE));
	SEED("unexpected_type", seed_empty(s, FZ_ALPHA, 0, CY_LOGIN_REQ));
	SEED("direction_fqdn", seed_pair(s, false);
	     seed_direction(s, FZ_ALPHA, 0, 1, beta, BY_FQDN);
	     seed_confirm(s, FZ_BETA, 3, CY_OK);
	     seed_direction(s, FZ_ALPHA, 0, 1, beta, BY_FQDN));
	SEED("direction_vip4", seed_pair(s, false);
	     seed_direction(s, FZ_ALPHA, 0, 2, beta, BY_VIP4);
	     seed_confirm(s, FZ_BETA, 3, CY_OK));
	SEED("direction_vip6", seed_pair(s, false);
	     seed_direction(s, FZ_ALPHA, 0, 3, beta, BY_VIP6);
	     seed_confirm(s, FZ_BETA, 3, CY_ERR_POLICY));
	SEED("direction_refused", seed_pair(s, false);
	     seed_direction(s, FZ_ALPHA, 0, 4, beta, BY_FQDN);
	     seed_confirm(s, FZ_BETA, 3, CY_ERR_UNREACHABLE));
	SEED("direction_timeout", seed_pair(s, false);
	     seed_direction(s, FZ_ALPHA, 0, 5, beta, BY_FQDN);
	     for (uint8_t q = 1; q <= 6; q++) seed_tick(s, q, 0);
	     seed_direction(s, FZ_ALPHA, 0, 5, beta, BY_FQDN); seed_tick(s, 30, 0));
	SEED("direction_unregistered_peer", seed_reg(s, FZ_ALPHA, 0, "192.0.2.10:7446", 0);
	     seed_direction(s, FZ_ALPHA, 0, 6, beta, BY_FQDN));
	SEED("direction_self", seed_pair(s, false);
	     seed_direction(s, FZ_ALPHA, 0, 7, "alpha." FZ_DOMAIN, BY_FQDN));
	SEED("direction_revoked_peer", seed_pair(s, false);
	     seed_direction(s, FZ_ALPHA, 0, 8, "gamma." FZ_DOMAIN, BY_FQDN));
	SEED("direction_unknown_peer", seed_pair(s, false);
	     seed_direction(s, FZ_ALPHA, 0, 9, "nobody." FZ_DOMAIN, BY_FQDN));
	SEED("direction_no_peer", seed_pair(s, false);
	     seed_direction(s, FZ_ALPHA, 0, 10, NULL, BY_NONE));
	SEED("direction_no_req_id", seed_pair(s, false);
	     seed_direction(s, FZ_ALPHA, 0, 0, beta, BY_FQDN));
	SEED("direction_unregistered", seed_direction(s, FZ_ALPHA, 0, 11, beta, BY_FQDN));
	SEED("direction_v6_to_v4", seed_reg(s, FZ_ALPHA, 2, "[2001:db8::10]:7446", CY_FAM_IPV6);
	     seed_reg(s, FZ_BETA, 3, "192.0.2.11:7446", CY_FAM_IPV4);
	     seed_direction(s, FZ_ALPHA, 2, 12, beta, BY_FQDN);
	     seed_relay_res(s, CY_OK); seed_confirm(s, FZ_BETA, 3, CY_OK));
	SEED("relay", seed_pair(s, true);
	     seed_direction(s, FZ_ALPHA, 1, 13, beta, BY_FQDN);
	     seed_relay_res(s, CY_OK);
	     seed_confirm(s, FZ_BETA, 3, CY_OK);
	     seed_direction(s, FZ_ALPHA, 1, 13, beta, BY_FQDN));
	SEED("relay_refused", seed_pair(s, true);
	     seed_direction(s, FZ_ALPHA, 1, 14, beta, BY_FQDN);
	     seed_relay_res(s, CY_ERR_BUSY));
	SEED("relay_retransmit", seed_pair(s, true);
	     seed_direction(s, FZ_ALPHA, 1, 15, beta, BY_FQDN);
	     seed_tick(s, 1, 0); seed_tick(s, 2, 0); seed_relay_res(s, CY_OK);
	     seed_tick(s, 3, 0); seed_confirm(s, FZ_BETA, 3, CY_OK));
	SEED("relay_timeout", seed_pair(s, true);
	     seed_direction(s, FZ_ALPHA, 1, 16, beta, BY_FQDN);
	     for (uint8_t q = 1; q <= 6; q++) seed_tick(s, q, 0));
	SEED("expire", seed_pair(s, false); seed_tick(s, 0, 120);
	     seed_empty(s, FZ_ALPHA, 0, CY_KEEPALIVE));
	/* Raw records: datagrams sealed here under alpha's key (counters 1,
	 * 2, ...), as they come off the wire. */
	SEED("raw_reg_keepalive",
	     cy_build_start(&b, seed_m, sizeof(seed_m), CY_REG_REQ);
	     seed_ep(&b, CY_A_ADDR, "192.0.2.10:7446");
	     seed_sealed_raw(s, FZ_ALPHA, 0, 1, &b);
	     cy_build_start(&b, seed_m, sizeof(seed_m), CY_KEEPALIVE);
	     seed_sealed_raw(s, FZ_ALPHA, 0, 2, &b);
	     seed_sealed_raw(s, FZ_ALPHA, 0, 2, &b));  /* a replay */
	SEED("raw_direction",
	     cy_build_start(&b, seed_m, sizeof(seed_m), CY_REG_REQ);
	     seed_ep(&b, CY_A_ADDR, "192.0.2.11:7446");
	     seed_sealed_raw(s, FZ_BETA, 3, 1, &b);
	     cy_build_start(&b, seed_m, sizeof(seed_m), CY_REG_REQ);
	     seed_ep(&b, CY_A_ADDR, "192.0.2.10:7446");
	     seed_sealed_raw(s, FZ_ALPHA, 0, 1, &b);
	     cy_build_start(&b, seed_m, sizeof(seed_m), CY_DIRECTION_REQ);
	     cy_put_u32(&b, CY_A_REQ_ID, 77); cy_put_str(&b, CY_A_FQDN, beta);
	     seed_sealed_raw(s, FZ_ALPHA, 0, 2, &b));
	SEED("raw_expired_key",
	     cy_build_start(&b, seed_m, sizeof(seed_m), CY_KEEPALIVE);
	     seed_sealed_raw(s, FZ_DELTA, 0, 1, &b));
	{
		/* a sealed datagram whose tag is wrong, and one under an
		 * unknown key id (an NMS Reject) */
		uint8_t pkt[256];
		ssize_t n;

		cy_build_start(&b, seed_m, sizeof(seed_m), CY_KEEPALIVE);
		n = cy_build_finish(&b);
		n = cy_seal(fz_nodes[0].aead, CY_DIR_TO_CLOUD, fz_nodes[0].key_id, 1, seed_m,
			    (size_t)n, pkt, sizeof(pkt));
		fz_check(n > 0, "cy_seal");
		pkt[n - 1] ^= 1;
		SEED("raw_bad_tag", seed_raw(s, FZ_RAW, pkt, (size_t)n));
		pkt[n - 1] ^= 1;
		put_be64(pkt + 4, 0x0badc0de0badc0deULL);
		SEED("raw_unknown_key", seed_raw(s, FZ_RAW, pkt, (size_t)n));
		pkt[2] = CY_DIR_FROM_CLOUD;
		SEED("raw_wrong_dir", seed_raw(s, FZ_RAW, pkt, (size_t)n));
		SEED("raw_short", seed_raw(s, FZ_RAW, pkt, 12));
	}
	fprintf(stderr, "fuzz_nms: wrote %d seeds to %s\n", written, dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_NMS_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	fz_setup();
	atexit(fz_cleanup);
	fz_verbose = getenv("FUZZ_NMS_STATS") != NULL;
	if (dir) {
		write_seeds(dir);
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_run(data, size);
	return 0;
}
