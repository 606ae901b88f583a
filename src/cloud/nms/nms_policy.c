/* The access policy in the NMS (policy.h, docs/policy.md): loaded at
 * start, checked for changes every second (and read again on SIGHUP); an
 * invalid file is refused with its line and the policy in force stays. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "nms_impl.h"
#include "flows.h"
#include "policy.h"
#include "store.h"

#define POLICY_SETTLE_MS 200

static int64_t file_age_ms(const struct stat *st)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)(now.tv_sec - st->st_mtim.tv_sec) * 1000 +
	       (now.tv_nsec - st->st_mtim.tv_nsec) / 1000000;
}

/* The file's identity: a change of any of these reads it again. */
static void file_sig(const struct stat *st, int64_t sig[4])
{
	sig[0] = (int64_t)st->st_ino;
	sig[1] = (int64_t)st->st_size;
	sig[2] = (int64_t)st->st_mtim.tv_sec;
	sig[3] = (int64_t)st->st_mtim.tv_nsec;
}

/* 0 (read, or unchanged), -1 with err. */
static int policy_read(struct nms *n, bool force, char *err, size_t errlen)
{
	struct policy *p = NULL;
	struct stat st;
	int64_t sig[4] = { 0 };
	bool present;
	int rc;

	if (!n->policy_path[0])
		return 0;
	present = stat(n->policy_path, &st) == 0;
	if (present)
		file_sig(&st, sig);
	if (!force && present == n->policy_present &&
	    !memcmp(sig, n->policy_sig, sizeof(sig)))
		return 0;
	/* Written less than POLICY_SETTLE_MS ago: maybe still being written
	 * (in place, not by rename); the next look takes it. */
	if (!force && present && file_age_ms(&st) < POLICY_SETTLE_MS)
		return 0;
	memcpy(n->policy_sig, sig, sizeof(sig));
	n->policy_present = present;
	rc = policy_load(n->policy_path, &p, err, errlen);
	if (rc == -ENOENT) {
		if (n->policy)
			log_info("nms: %s is gone: no access policy, every pair allowed",
				 n->policy_path);
		policy_free(n->policy);
		n->policy = NULL;
		n->stats.policy_loads++;
		return 0;
	}
	if (rc < 0) {
		n->stats.policy_errors++;
		return -1;
	}
	policy_free(n->policy);
	n->policy = p;
	n->stats.policy_loads++;
	log_info("nms: access policy %s: %zu rules", n->policy_path, policy_rules(p));
	/* The tunnels it no longer allows end now. */
	grants_check(n, clock_now_ms());
	return 0;
}

int nms_policy_start(struct nms *n, char *err, size_t errlen)
{
	return policy_read(n, true, err, errlen);
}

int nms_policy_reload(struct nms *n, bool force)
{
	char err[512];

	if (policy_read(n, force, err, sizeof(err)) == 0)
		return 0;
	log_warnx("nms: access policy refused: %s; the policy in force stays", err);
	return -1;
}

static void as_policy_node(const struct store_node *s, struct policy_node *p)
{
	p->name = s->name;
	p->fqdn = s->fqdn;
	p->tags = s->tags;
}

/* The decision and the rule that made it (0: none, or no policy). */
static bool decide(const struct nms *n, const struct store_node *from,
		   const struct store_node *to, unsigned *line)
{
	struct policy_node f, t;

	*line = 0;
	if (!n->policy)
		return true;
	as_policy_node(from, &f);
	as_policy_node(to, &t);
	return policy_allows(n->policy, &f, &t, line);
}

bool nms_policy_decide(const struct nms *n, const struct store_node *from,
		       const struct store_node *to)
{
	unsigned line;

	return decide(n, from, to, &line);
}

bool nms_policy_allows(struct nms *n, const struct store_node *from,
		       const struct store_node *to)
{
	unsigned line;

	if (decide(n, from, to, &line)) {
		if (n->policy)
			log_debug("nms: %s -> %s allowed by %s:%u", from->fqdn, to->fqdn,
				  n->policy_path, line);
		return true;
	}
	n->stats.policy_denied++;
	log_info("nms: %s -> %s denied by the access policy (no rule allows it)", from->fqdn,
		 to->fqdn);
	return false;
}

void nms_policy_flows(struct nms *n, const struct store_node *from,
		      const struct store_node *to, struct cy_flows *out)
{
	struct policy_flow pf[CY_FLOWS_MAX];
	struct policy_node f, t;
	bool all;
	int k;

	memset(out, 0, sizeof(*out));
	as_policy_node(from, &f);
	as_policy_node(to, &t);
	k = policy_flows(n->policy, &f, &t, pf, CY_FLOWS_MAX, &all);
	if (all) {
		out->all = true;
		return;
	}
	if (k < 0) {
		/* More than a Route Direction carries: the first ones only (the
		 * rest is denied, never widened). */
		LOG_RATELIMITED(&n->rl_log,
				"nms: %s -> %s: more than %d protocol/port items, the rest denied",
				from->fqdn, to->fqdn, CY_FLOWS_MAX);
		k = CY_FLOWS_MAX;
	}
	out->n = (uint8_t)k;
	for (int i = 0; i < k; i++) {
		out->f[i].proto = pf[i].proto;
		out->f[i].lo = pf[i].lo;
		out->f[i].hi = pf[i].hi;
	}
}

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

uint64_t nms_flows_digest(const struct cy_flows *fw)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int dir = 0; dir < 2; dir++) {
		h = fnv(h, &fw[dir].all, sizeof(fw[dir].all));
		h = fnv(h, &fw[dir].n, sizeof(fw[dir].n));
		for (unsigned i = 0; i < fw[dir].n; i++) {
			h = fnv(h, &fw[dir].f[i].proto, 1);
			h = fnv(h, &fw[dir].f[i].lo, 2);
			h = fnv(h, &fw[dir].f[i].hi, 2);
		}
	}
	return h;
}

uint64_t nms_policy_flows_hash(struct nms *n, const struct store_node *a,
			       const struct store_node *b)
{
	struct cy_flows fw[2];

	nms_policy_flows(n, a, b, &fw[0]);
	nms_policy_flows(n, b, a, &fw[1]);
	return nms_flows_digest(fw);
}

void nms_policy_free(struct nms *n)
{
	policy_free(n->policy);
	n->policy = NULL;
}
