/* cy_cloudload: many simulated nodes against a running cloud, for
 * `make bench-cloud` (bench/cloud.sh; never installed).
 *
 *   cy_cloudload --store URL --ca-dir DIR --domain D --as A1[,A2]
 *                --nms E1[,E2] --local ADDR [--pid PID]... [options]
 *
 * Every simulated node speaks the real protocol through the node's own
 * code: logins through login.c (TLS 1.3 with a certificate, as cyphonicd
 * does), registration, keepalives and route selection through the
 * signaling state machine sig.c, all on one event loop and one UDP
 * socket (the NMS sees every node at one endpoint; the datagrams are told
 * apart by the key id they are sealed under).
 *
 * Phases, each printing one line "PHASE key=value ...":
 *   enrol      --nodes N nodes added to the store (as `cyphonic node add`
 *              does, through the store's interface) and, for the first
 *              --logins L of them, a certificate from the cloud's CA.
 *   login      those L log in, --conc C at a time, spread over the AS
 *              addresses: logins/s, p50/p99 from connect to answer.
 *   keys       the other N - L get their common key written to the store
 *              directly (what a login stores; a login each would make the
 *              run last N / logins-per-second longer).
 *   register   all N register, --window W Registration Requests in flight,
 *              spread over the NMS endpoints: registrations/s, p50/p99.
 *   keepalive  --ka-secs S seconds of every node keeping alive at
 *              --keepalive K seconds (the node's default): keepalives/s
 *              answered and the cloud's CPU (the --pid processes, in
 *              cores) and RSS per registered node.
 *   route      --routes R route selections between random pairs, W in
 *              flight: selections/s, p50/p99 from Direction Request to
 *              route, failures.
 *   route_light  R / 4 more, 4 in flight: the latency of a cloud that is
 *              not saturated. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "addr.h"
#include "aead.h"
#include "ca.h"
#include "clock.h"
#include "log.h"
#include "login.h"
#include "node_conf.h"
#include "seal.h"
#include "sig.h"
#include "store.h"
#include "wire.h"

#define MAX_HOSTS 4
#define MAX_PIDS 8

struct sim {
	struct load *L;
	struct sig *sig;
	struct event *tmr;
	int64_t node_id;
	uint64_t key_id;
	uint8_t key[CY_KEY_LEN];
	unsigned host;             /* which NMS (and AS) it uses */
	bool want_login;           /* the state machine asked for a login */
	bool registered;
	int64_t t0;                /* µs: registration or direction started */
	uint32_t req;              /* the Direction Request in flight, 0 none */
	struct sim *hnext;         /* key id hash chain */
};

struct lat {
	uint32_t *v;
	size_t n, cap;
};

struct load {
	struct event_base *base;
	struct store *st;
	int fd;
	struct sockaddr_storage local;
	char domain[128];          /* short: names are loadN.domain */
	size_t nas, nnms;
	struct sockaddr_storage as[MAX_HOSTS], nms[MAX_HOSTS];
	pid_t pids[MAX_PIDS];
	size_t npids;
	size_t nodes, logins, conc, window, routes;
	int keepalive, ka_secs;
	struct sim *sims;
	struct sim **hash;
	size_t hmask;
	/* logins */
	struct node_conf *confs;
	struct cred **creds;
	struct login **lg;
	size_t login_next, login_done, login_ok;
	int64_t *login_t0;
	/* phases */
	size_t reg_next, reg_done, inflight;
	size_t route_started, route_done, route_ok, route_failed;
	struct lat lat;
	char ca_pem_path[512];
};

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "cy_cloudload: %s\n", what);
	exit(1);
}

static void lat_add(struct lat *l, int64_t us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 4096;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			die("out of memory");
	}
	l->v[l->n++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* p50 and p99 in ms into buf, and the samples forgotten. */
static const char *lat_str(struct lat *l, char *buf, size_t len)
{
	if (!l->n) {
		snprintf(buf, len, "p50_ms=- p99_ms=-");
		return buf;
	}
	qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
	snprintf(buf, len, "p50_ms=%.3f p99_ms=%.3f", l->v[l->n / 2] / 1000.0,
		 l->v[(l->n * 99) / 100] / 1000.0);
	l->n = 0;
	return buf;
}

/* CPU seconds (user and system) from a /proc stat file, 0 if unread. */
static double stat_cpu(const char *path)
{
	unsigned long ut = 0, stt = 0;
	char buf[2048], *p;
	double s = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) == 2)
		s = (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
	fclose(f);
	return s;
}

/* CPU seconds of the cloud processes, of their event loops alone (each
 * one's main thread: the other threads hash passwords and run TLS
 * handshakes; loop may be NULL), and their RSS (kB). */
static void cloud_usage(const struct load *L, double *cpu, double *loop, long *rss_kb)
{
	double l = 0;

	*cpu = 0;
	*rss_kb = 0;
	for (size_t i = 0; i < L->npids; i++) {
		char path[64], buf[2048];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)L->pids[i]);
		*cpu += stat_cpu(path);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)L->pids[i],
			 (int)L->pids[i]);
		l += stat_cpu(path);
		snprintf(path, sizeof(path), "/proc/%d/status", (int)L->pids[i]);
		f = fopen(path, "r");
		if (f) {
			long kb;

			while (fgets(buf, sizeof(buf), f))
				if (sscanf(buf, "VmRSS: %ld", &kb) == 1)
					*rss_kb += kb;
			fclose(f);
		}
	}
	if (loop)
		*loop = l;
}

/* CPU seconds of this process (the load itself). */
static double self_cpu(void)
{
	return stat_cpu("/proc/self/stat");
}

static void run_until(struct load *L, bool (*done)(struct load *), int max_s)
{
	int64_t end = now_us() + (int64_t)max_s * 1000000;

	while (!done(L) && now_us() < end)
		event_base_loop(L->base, EVLOOP_ONCE);
}

/* ---- the simulated nodes' signaling ---- */

static struct sim **hash_slot(struct load *L, uint64_t key_id)
{
	struct sim **pp = &L->hash[(key_id * 0x9e3779b97f4a7c15ULL >> 20) & L->hmask];

	while (*pp && (*pp)->key_id != key_id)
		pp = &(*pp)->hnext;
	return pp;
}

static void sim_arm(struct sim *s)
{
	int64_t next = s->want_login ? 0 : sig_next_ms(s->sig), now = clock_now_ms();
	struct timeval tv;

	if (next == INT64_MAX) {
		evtimer_del(s->tmr);
		return;
	}
	next = next > now ? next - now : 0;
	tv.tv_sec = next / 1000;
	tv.tv_usec = (next % 1000) * 1000;
	evtimer_add(s->tmr, &tv);
}

static void sim_login_result(struct sim *s, struct login_result *r);

/* Whatever is due; first the login the state machine asked for: the key
 * (written to the store or got by a real login) stands for it. */
static void sim_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct sim *s = arg;
	struct login_result r;

	(void)fd;
	(void)ev;
	if (s->want_login) {
		s->want_login = false;
		sim_login_result(s, &r);
		sig_login_done(s->sig, &r);
		cy_wipe(&r, sizeof(r));
	}
	sig_timeout(s->sig);
	sim_arm(s);
}

static int op_send(void *arg, const uint8_t *buf, size_t len, const struct sockaddr *to)
{
	struct sim *s = arg;

	if (sendto(s->L->fd, buf, len, 0, to, addr_len(to)) < 0)
		return -errno;
	return 0;
}

/* Handed over from the timer, outside the state machine's call. */
static void op_login(void *arg)
{
	struct sim *s = arg;

	s->want_login = true;
}

static size_t op_addrs(void *arg, struct sockaddr_storage *out, size_t max)
{
	struct sim *s = arg;

	if (!max)
		return 0;
	out[0] = s->L->local;
	return 1;
}

static void op_registered(void *arg, const struct sig_info *info)
{
	struct sim *s = arg;
	struct load *L = s->L;

	(void)info;
	if (s->registered)
		return;
	s->registered = true;
	lat_add(&L->lat, now_us() - s->t0);
	L->reg_done++;
	L->inflight--;
}

static void route_end(struct sim *s, bool ok)
{
	struct load *L = s->L;

	s->req = 0;
	L->route_done++;
	L->inflight--;
	if (ok) {
		L->route_ok++;
		lat_add(&L->lat, now_us() - s->t0);
	} else {
		L->route_failed++;
	}
}

static void op_route_ready(void *arg, const struct sig_route *r)
{
	struct sim *s = arg;

	if (r->req_id && r->req_id == s->req)
		route_end(s, true);
}

static void op_route_failed(void *arg, uint32_t req_id, enum cy_result result,
			    const char *reason)
{
	struct sim *s = arg;

	(void)result;
	(void)reason;
	if (req_id == s->req)
		route_end(s, false);
}

static const struct sig_ops sim_ops = {
	.send = op_send,
	.login = op_login,
	.local_addrs = op_addrs,
	.registered = op_registered,
	.route_ready = op_route_ready,
	.route_failed = op_route_failed,
};

/* The login outcome for s: its key, the NMS endpoints with its own first. */
static void sim_login_result(struct sim *s, struct login_result *r)
{
	struct load *L = s->L;

	memset(r, 0, sizeof(*r));
	r->status = LOGIN_OK;
	snprintf(r->fqdn, sizeof(r->fqdn), "load%zu.%s", (size_t)(s - L->sims), L->domain);
	r->key_id = s->key_id;
	memcpy(r->key, s->key, sizeof(r->key));
	r->lifetime = 3600;
	r->nnms = L->nnms;
	for (size_t i = 0; i < L->nnms; i++)
		r->nms[i] = L->nms[(s->host + i) % L->nnms];
}

static void on_udp(evutil_socket_t fd, short ev, void *arg)
{
	struct load *L = arg;
	uint8_t buf[4096];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t n;

	(void)ev;
	for (int i = 0; i < 256; i++) {
		struct cy_seal_hdr h;
		uint64_t key_id = 0;
		struct sim *s;

		flen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
		if (n < 0)
			return;
		if (cy_seal_peek(buf, (size_t)n, &h) == 0) {
			key_id = h.key_id;
		} else if (n >= 12) { /* an NMS Reject names the key at byte 4 */
			for (int b = 0; b < 8; b++)
				key_id = key_id << 8 | buf[4 + b];
		}
		s = *hash_slot(L, key_id);
		if (!s)
			continue;
		sig_input(s->sig, buf, (size_t)n, (struct sockaddr *)&from);
		sim_arm(s);
	}
}

/* ---- phases ---- */

static void enrol(struct load *L)
{
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	char err[256], cert_path[600], key_path[600];
	char *ca_pem;
	int64_t t0 = now_us();
	FILE *f;
	long sz;

	snprintf(cert_path, sizeof(cert_path), "%s/ca.pem", L->ca_pem_path);
	snprintf(key_path, sizeof(key_path), "%s/ca.key", L->ca_pem_path);
	if (ca_load(cert_path, key_path, &ca, &ca_key, err, sizeof(err)) < 0)
		die(err);
	f = fopen(cert_path, "r");
	if (!f || fseek(f, 0, SEEK_END) < 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		die("cannot read ca.pem");
	ca_pem = calloc(1, (size_t)sz + 1);
	if (!ca_pem || fread(ca_pem, 1, (size_t)sz, f) != (size_t)sz)
		die("cannot read ca.pem");
	fclose(f);

	L->confs = calloc(L->logins ? L->logins : 1, sizeof(*L->confs));
	L->creds = calloc(L->logins ? L->logins : 1, sizeof(*L->creds));
	L->lg = calloc(L->logins ? L->logins : 1, sizeof(*L->lg));
	L->login_t0 = calloc(L->logins ? L->logins : 1, sizeof(*L->login_t0));
	if (!L->confs || !L->creds || !L->lg || !L->login_t0)
		die("out of memory");
	for (size_t i = 0; i < L->nodes; i++) {
		struct sim *s = &L->sims[i];
		struct store_node n = {0};
		struct node_conf *c = NULL;
		EVP_PKEY *key = NULL;
		X509 *x = NULL;

		snprintf(n.name, sizeof(n.name), "load%zu", i);
		snprintf(n.fqdn, sizeof(n.fqdn), "%s.%s", n.name, L->domain);
		n.kind = CY_KIND_NODE;
		if (i < L->logins) {
			c = &L->confs[i];
			key = ca_key_new();
			x = key ? ca_issue_node(ca, ca_key, key, n.fqdn, CA_LEAF_DAYS) : NULL;
			if (!x || ca_serial_hex(x, n.cert_serial) < 0)
				die("cannot issue a node certificate");
		}
		if (store_node_add(L->st, &n) < 0)
			die("store_node_add failed (the store must be fresh)");
		s->node_id = n.id;
		if (c) {
			snprintf(c->name, sizeof(c->name), "%s", n.name);
			snprintf(c->domain, sizeof(c->domain), "%s", L->domain);
			snprintf(c->fqdn, sizeof(c->fqdn), "%s", n.fqdn);
			c->ncloud = 1;
			c->cloud[0] = L->as[i % L->nas];
			c->as_port = (int)addr_port((struct sockaddr *)&c->cloud[0]);
			c->keepalive = L->keepalive;
			snprintf(c->renewed, sizeof(c->renewed), "/nonexistent/cy-load/%zu", i);
			c->ca_pem = strdup(ca_pem);
			c->cert_pem = ca_cert_pem(x);
			c->key_pem = ca_key_pem(key);
			if (!c->ca_pem || !c->cert_pem || !c->key_pem)
				die("out of memory");
			L->creds[i] = cred_new(c);
			if (!L->creds[i])
				die("cred_new failed");
			X509_free(x);
			EVP_PKEY_free(key);
		}
	}
	free(ca_pem);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	printf("enrol nodes=%zu with_cert=%zu per_s=%.0f\n", L->nodes, L->logins,
	       L->nodes / ((now_us() - t0) / 1e6));
	fflush(stdout);
}

static void login_start_next(struct load *L);

static void on_login(void *arg, const struct login_result *r)
{
	struct sim *s = arg;
	struct load *L = s->L;
	size_t i = (size_t)(s - L->sims);

	L->login_done++;
	if (r->status == LOGIN_OK) {
		L->login_ok++;
		lat_add(&L->lat, now_us() - L->login_t0[i]);
		s->key_id = r->key_id;
		memcpy(s->key, r->key, sizeof(s->key));
	} else if (L->login_done - L->login_ok <= 3) {
		fprintf(stderr, "cy_cloudload: login of %s: %s\n", L->confs[i].name, r->reason);
	}
	L->inflight--;
	login_start_next(L);
}

static void login_start_next(struct load *L)
{
	while (L->inflight < L->conc && L->login_next < L->logins) {
		size_t i = L->login_next++;

		L->lg[i] = login_new(L->base, &L->confs[i], L->creds[i], on_login, &L->sims[i]);
		if (!L->lg[i])
			die("login_new failed");
		L->login_t0[i] = now_us();
		L->inflight++;
		login_start(L->lg[i]);
	}
}

static bool logins_done(struct load *L)
{
	return L->login_done == L->logins;
}

static void phase_login(struct load *L)
{
	char lat[64];
	double c0, c1, l0, l1, s0, s1;
	long rss;
	int64_t t0 = now_us(), t;

	if (!L->logins)
		return;
	cloud_usage(L, &c0, &l0, &rss);
	s0 = self_cpu();
	login_start_next(L);
	run_until(L, logins_done, 600);
	t = now_us() - t0;
	cloud_usage(L, &c1, &l1, &rss);
	s1 = self_cpu();
	printf("login n=%zu ok=%zu per_s=%.0f %s cloud_cores=%.2f loop_cores=%.2f "
	       "load_cores=%.2f\n",
	       L->logins, L->login_ok, L->login_ok / (t / 1e6), lat_str(&L->lat, lat, sizeof(lat)),
	       (c1 - c0) / (t / 1e6), (l1 - l0) / (t / 1e6), (s1 - s0) / (t / 1e6));
	fflush(stdout);
	for (size_t i = 0; i < L->logins; i++) {
		login_free(L->lg[i]);
		cred_free(L->creds[i]);
		node_conf_free(&L->confs[i]);
	}
	free(L->lg);
	free(L->creds);
	free(L->confs);
	free(L->login_t0);
	L->lg = NULL;
	L->creds = NULL;
	L->confs = NULL;
}

static void phase_keys(struct load *L)
{
	int64_t t0 = now_us();
	size_t n = 0;

	for (size_t i = 0; i < L->nodes; i++) {
		struct sim *s = &L->sims[i];
		struct store_key k;

		if (s->key_id)
			continue; /* it logged in */
		do {
			if (cy_random(&k.key_id, sizeof(k.key_id)) < 0 ||
			    cy_random(k.key, sizeof(k.key)) < 0)
				die("no randomness");
		} while (!k.key_id || *hash_slot(L, k.key_id));
		k.node_id = s->node_id;
		k.expires = clock_now() + 3600;
		if (store_key_put(L->st, &k) < 0)
			die("store_key_put failed");
		s->key_id = k.key_id;
		memcpy(s->key, k.key, sizeof(s->key));
		cy_wipe(&k, sizeof(k));
		n++;
	}
	for (size_t i = 0; i < L->nodes; i++) {
		struct sim **pp = hash_slot(L, L->sims[i].key_id);

		if (!*pp)
			*pp = &L->sims[i];
	}
	printf("keys n=%zu per_s=%.0f\n", n, n / ((now_us() - t0) / 1e6 + 1e-9));
	fflush(stdout);
}

static void reg_start_next(struct load *L)
{
	while (L->inflight < L->window && L->reg_next < L->nodes) {
		struct sim *s = &L->sims[L->reg_next++];

		s->sig = sig_new((uint16_t)addr_port((struct sockaddr *)&L->local), L->keepalive,
				 &sim_ops, s);
		s->tmr = evtimer_new(L->base, sim_timer, s);
		if (!s->sig || !s->tmr)
			die("out of memory");
		L->inflight++;
		s->t0 = now_us();
		sig_start(s->sig);
		sim_arm(s);
	}
}

static bool regs_done(struct load *L)
{
	reg_start_next(L);
	return L->reg_done == L->nodes;
}

static void phase_register(struct load *L)
{
	char lat[64];
	double c0, c1;
	long rss0, rss1;
	int64_t t0 = now_us(), t;

	cloud_usage(L, &c0, NULL, &rss0);
	run_until(L, regs_done, 600);
	t = now_us() - t0;
	cloud_usage(L, &c1, NULL, &rss1);
	printf("register n=%zu ok=%zu per_s=%.0f %s cloud_cores=%.2f rss_kb=%ld\n", L->nodes,
	       L->reg_done, L->reg_done / (t / 1e6), lat_str(&L->lat, lat, sizeof(lat)),
	       (c1 - c0) / (t / 1e6), rss1);
	fflush(stdout);
}

static bool never(struct load *L)
{
	(void)L;
	return false;
}

static uint64_t ka_acked(const struct load *L)
{
	uint64_t n = 0;

	for (size_t i = 0; i < L->nodes; i++)
		if (L->sims[i].sig)
			n += sig_stats(L->sims[i].sig)->rx_ok;
	return n;
}

static size_t n_registered(const struct load *L)
{
	size_t n = 0;

	for (size_t i = 0; i < L->nodes; i++)
		if (L->sims[i].sig && sig_info(L->sims[i].sig)->state == SIG_REGISTERED)
			n++;
	return n;
}

static void phase_keepalive(struct load *L, long rss_before)
{
	double c0, c1;
	long rss;
	uint64_t a0 = ka_acked(L), a1;
	int64_t t0 = now_us(), t;

	cloud_usage(L, &c0, NULL, &rss);
	run_until(L, never, L->ka_secs);
	t = now_us() - t0;
	a1 = ka_acked(L);
	cloud_usage(L, &c1, NULL, &rss);
	printf("keepalive nodes=%zu registered=%zu interval_s=%d per_s=%.0f cloud_cores=%.3f "
	       "rss_kb=%ld kb_per_node=%.2f\n", L->nodes, n_registered(L), L->keepalive,
	       (a1 - a0) / (t / 1e6), (c1 - c0) / (t / 1e6), rss,
	       (double)(rss - rss_before) / (double)L->nodes);
	fflush(stdout);
}

static void route_start_next(struct load *L)
{
	while (L->inflight < L->window && L->route_started < L->routes) {
		struct sim *mn = &L->sims[(size_t)random() % L->nodes];
		struct sim *cn = &L->sims[(size_t)random() % L->nodes];
		char fqdn[CY_FQDN_MAX + 1];
		int rc;

		if (mn == cn || mn->req || !mn->registered)
			continue;
		snprintf(fqdn, sizeof(fqdn), "load%zu.%s", (size_t)(cn - L->sims), L->domain);
		mn->t0 = now_us();
		rc = sig_direction_request(mn->sig, fqdn, NULL, NULL, &mn->req);
		if (rc < 0)
			die("sig_direction_request failed");
		sim_arm(mn);
		L->route_started++;
		L->inflight++;
	}
}

static bool routes_done(struct load *L)
{
	route_start_next(L);
	return L->route_done == L->routes;
}

/* n route selections, window of them in flight (what the line is
 * called: "route" loads the cloud, "route_light" keeps a few in flight so
 * the latency is the cloud's, not a queue's). */
static void phase_route(struct load *L, const char *what, size_t n, size_t window)
{
	char lat[64];
	double c0, c1;
	long rss;
	int64_t t0 = now_us(), t;

	if (!n)
		return;
	L->routes = n;
	L->window = window;
	L->inflight = L->route_started = L->route_done = L->route_ok = L->route_failed = 0;
	cloud_usage(L, &c0, NULL, &rss);
	run_until(L, routes_done, 600);
	t = now_us() - t0;
	cloud_usage(L, &c1, NULL, &rss);
	printf("%s n=%zu window=%zu ok=%zu failed=%zu per_s=%.0f %s cloud_cores=%.2f\n", what,
	       n, window, L->route_ok, L->route_failed, L->route_ok / (t / 1e6),
	       lat_str(&L->lat, lat, sizeof(lat)), (c1 - c0) / (t / 1e6));
	fflush(stdout);
}

/* ---- set-up ---- */

static size_t parse_endpoints(const char *list, struct sockaddr_storage *out, size_t max)
{
	char err[128];
	size_t n = 0;

	if (addr_list_parse(out, &n, max, 0, list, err, sizeof(err)) < 0)
		die(err);
	return n;
}

static void usage(void)
{
	fprintf(stderr, "usage: cy_cloudload --store URL --ca-dir DIR --domain D --as A[,A] "
			"--nms E[,E] --local ADDR:PORT [--pid PID]... [--nodes N] [--logins L] "
			"[--conc C] [--window W] [--keepalive K] [--ka-secs S] [--routes R]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", 1, 0, 's'}, {"ca-dir", 1, 0, 'c'}, {"domain", 1, 0, 'd'},
		{"as", 1, 0, 'a'}, {"nms", 1, 0, 'm'}, {"local", 1, 0, 'l'},
		{"pid", 1, 0, 'p'}, {"nodes", 1, 0, 'n'}, {"logins", 1, 0, 'L'},
		{"conc", 1, 0, 'C'}, {"window", 1, 0, 'w'}, {"keepalive", 1, 0, 'k'},
		{"ka-secs", 1, 0, 'K'}, {"routes", 1, 0, 'r'}, {0, 0, 0, 0},
	};
	struct load *L = calloc(1, sizeof(*L));
	const char *url = NULL;
	char err[256];
	struct event *ev;
	struct rlimit rl = {1 << 16, 1 << 16};
	long rss_reg;
	double cpu;
	size_t routes;
	int o, bufsz = 16 << 20;
	socklen_t slen;

	if (!L)
		die("out of memory");
	L->nodes = 1000;
	L->conc = 32;
	L->window = 512;
	L->keepalive = 15;
	L->ka_secs = 30;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': url = optarg; break;
		case 'c': snprintf(L->ca_pem_path, sizeof(L->ca_pem_path), "%s", optarg); break;
		case 'd':
			if (strlen(optarg) >= sizeof(L->domain))
				die("--domain too long");
			snprintf(L->domain, sizeof(L->domain), "%s", optarg);
			break;
		case 'a': L->nas = parse_endpoints(optarg, L->as, MAX_HOSTS); break;
		case 'm': L->nnms = parse_endpoints(optarg, L->nms, MAX_HOSTS); break;
		case 'l':
			if (addr_parse(optarg, 0, &L->local, &slen) < 0)
				die("bad --local");
			break;
		case 'p':
			if (L->npids < MAX_PIDS)
				L->pids[L->npids++] = (pid_t)atoi(optarg);
			break;
		case 'n': L->nodes = strtoul(optarg, NULL, 10); break;
		case 'L': L->logins = strtoul(optarg, NULL, 10); break;
		case 'C': L->conc = strtoul(optarg, NULL, 10); break;
		case 'w': L->window = strtoul(optarg, NULL, 10); break;
		case 'k': L->keepalive = atoi(optarg); break;
		case 'K': L->ka_secs = atoi(optarg); break;
		case 'r': L->routes = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (!url || !L->ca_pem_path[0] || !L->domain[0] || !L->nas || !L->nnms ||
	    !L->local.ss_family || !L->nodes || L->logins > L->nodes || !L->conc || !L->window)
		usage();
	log_init("cy_cloudload", LOG_LVL_WARN);
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid());
	if (store_open(&L->st, url, err, sizeof(err)) < 0)
		die(err);
	L->sims = calloc(L->nodes, sizeof(*L->sims));
	for (L->hmask = 1; L->hmask < 2 * L->nodes; L->hmask <<= 1)
		;
	L->hash = calloc(L->hmask, sizeof(*L->hash));
	L->hmask--;
	L->base = event_base_new();
	if (!L->sims || !L->hash || !L->base)
		die("out of memory");
	for (size_t i = 0; i < L->nodes; i++) {
		L->sims[i].L = L;
		L->sims[i].host = (unsigned)(i % L->nnms);
	}
	L->fd = socket(L->local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (L->fd < 0 || bind(L->fd, (struct sockaddr *)&L->local,
			      addr_len((struct sockaddr *)&L->local)) < 0)
		die("cannot bind --local");
	setsockopt(L->fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz));
	setsockopt(L->fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz));
	ev = event_new(L->base, L->fd, EV_READ | EV_PERSIST, on_udp, L);
	if (!ev || event_add(ev, NULL) < 0)
		die("event_add failed");

	enrol(L);
	phase_login(L);
	phase_keys(L);
	cloud_usage(L, &cpu, NULL, &rss_reg);
	phase_register(L);
	phase_keepalive(L, rss_reg);
	routes = L->routes;
	phase_route(L, "route", routes, L->window);
	phase_route(L, "route_light", routes / 4, 4);
	store_close(L->st);
	return 0;
}
