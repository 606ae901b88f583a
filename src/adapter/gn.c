#include "gn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gn_table {
	struct gn **v;             /* in list order */
	size_t n;
	gn_drop_cb drop;
	void *arg;
	uint64_t gen;              /* entries added or dropped so far */
	uint8_t unknown[GN_UNKNOWN_MAX][6];
	size_t nunknown, unknown_next;
};

struct gn_table *gn_table_new(gn_drop_cb drop, void *arg)
{
	struct gn_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->drop = drop;
	t->arg = arg;
	return t;
}

static void drop(struct gn_table *t, struct gn *g)
{
	if (t->drop)
		t->drop(t->arg, g);
	free(g);
}

void gn_table_free(struct gn_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		drop(t, t->v[i]);
	free(t->v);
	free(t);
}

static bool same_identity(const struct cy_gn *a, const struct cy_gn *b)
{
	return !memcmp(a->mac, b->mac, 6) && a->vip4.s_addr == b->vip4.s_addr &&
	       !memcmp(&a->vip6, &b->vip6, sizeof(a->vip6)) && !strcmp(a->name, b->name) &&
	       !strcmp(a->fqdn, b->fqdn);
}

static void unknown_forget(struct gn_table *t, const uint8_t mac[6])
{
	for (size_t i = 0; i < t->nunknown; i++)
		if (!memcmp(t->unknown[i], mac, 6))
			memset(t->unknown[i], 0, 6);
}

int gn_table_sync(struct gn_table *t, const struct cy_gn *list, size_t n)
{
	struct gn **nv;
	size_t nn = 0, i, j;
	int skipped = 0;

	if (n > GN_MAX) {
		skipped += (int)(n - GN_MAX);
		n = GN_MAX;
	}
	nv = calloc(n ? n : 1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	for (i = 0; i < t->n; i++)
		t->v[i]->mark = false;
	for (i = 0; i < n; i++) {
		const struct cy_gn *in = &list[i];
		struct gn *g = NULL;
		bool dup = false;

		for (j = 0; j < nn; j++)
			if (!memcmp(nv[j]->info.mac, in->mac, 6) ||
			    nv[j]->info.vip4.s_addr == in->vip4.s_addr ||
			    (!IN6_IS_ADDR_UNSPECIFIED(&in->vip6) &&
			     !memcmp(&nv[j]->info.vip6, &in->vip6, sizeof(in->vip6))))
				dup = true;
		if (dup) {
			skipped++;
			continue;
		}
		for (j = 0; j < t->n; j++) {
			if (!t->v[j]->mark && same_identity(&t->v[j]->info, in)) {
				g = t->v[j];
				break;
			}
		}
		if (!g) {
			g = calloc(1, sizeof(*g));
			if (!g) {
				free(nv);
				return -ENOMEM;
			}
			g->info = *in;
			unknown_forget(t, in->mac);
			t->gen++;
		}
		g->mark = true;
		nv[nn++] = g;
	}
	for (i = 0; i < t->n; i++) {
		if (!t->v[i]->mark) {
			drop(t, t->v[i]);
			t->gen++;
		}
	}
	free(t->v);
	t->v = nv;
	t->n = nn;
	return skipped;
}

struct gn *gn_by_mac(struct gn_table *t, const uint8_t mac[6])
{
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(t->v[i]->info.mac, mac, 6))
			return t->v[i];
	return NULL;
}

struct gn *gn_by_vip4(struct gn_table *t, const struct in_addr *vip4)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->info.vip4.s_addr == vip4->s_addr)
			return t->v[i];
	return NULL;
}

struct gn *gn_by_vip6(struct gn_table *t, const struct in6_addr *vip6)
{
	if (IN6_IS_ADDR_UNSPECIFIED(vip6))
		return NULL;             /* none is nobody's */
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(&t->v[i]->info.vip6, vip6, sizeof(*vip6)))
			return t->v[i];
	return NULL;
}

uint64_t gn_table_gen(const struct gn_table *t)
{
	return t->gen;
}

size_t gn_count(const struct gn_table *t)
{
	return t->n;
}

struct gn *gn_at(struct gn_table *t, size_t i)
{
	return i < t->n ? t->v[i] : NULL;
}

bool gn_unknown_first(struct gn_table *t, const uint8_t mac[6])
{
	static const uint8_t zero[6];

	if (!memcmp(mac, zero, 6))
		return false;
	for (size_t i = 0; i < t->nunknown; i++)
		if (!memcmp(t->unknown[i], mac, 6))
			return false;
	/* Full: overwrite round-robin (a flood of random MACs costs a log
	 * line each, rate-limited by the caller). */
	if (t->nunknown < GN_UNKNOWN_MAX) {
		memcpy(t->unknown[t->nunknown++], mac, 6);
	} else {
		memcpy(t->unknown[t->unknown_next], mac, 6);
		t->unknown_next = (t->unknown_next + 1) % GN_UNKNOWN_MAX;
	}
	return true;
}

