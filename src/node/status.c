#include "status.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>

#include "addr.h"
#include "counters.h"
#include "dpio.h"
#include "json.h"

static void status_tunnel(struct json *j, const struct overlay_tunnel_view *t)
{
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], ep[ADDR_STR_MAX], id[17];

	snprintf(id, sizeof(id), "%016" PRIx64, t->tunnel_id);
	json_obj_begin(j, NULL);
	json_str(j, "peer", t->peer && t->peer[0] ? t->peer : NULL);
	json_str(j, "vip4", t->have_vip4 ? inet_ntop(AF_INET, &t->vip4, v4, sizeof(v4)) : NULL);
	json_str(j, "vip6", t->have_vip6 ? inet_ntop(AF_INET6, &t->vip6, v6, sizeof(v6)) : NULL);
	json_str(j, "path", t->relay ? "relay" : "direct");
	json_str(j, "found", t->found);
	json_str(j, "endpoint", t->endpoint.ss_family ?
		 addr_str((const struct sockaddr *)&t->endpoint, ep) : NULL);
	json_uint(j, "rx_bytes", t->rx_bytes);
	json_uint(j, "tx_bytes", t->tx_bytes);
	json_uint(j, "rx_packets", t->rx_packets);
	json_uint(j, "tx_packets", t->tx_packets);
	json_str(j, "state", t->state);
	json_str(j, "tunnel_id", id);
	json_int(j, "age", t->age_s);
	json_obj_end(j);
}

long status_format_ext(const struct sig_info *in, const struct status_extra *ex, int64_t now_ms,
		       char *out, size_t cap)
{
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], ob[ADDR_STR_MAX];
	bool known = in->have_vips;
	struct json j;
	long n;

	if (cap < 2)
		return -1;
	json_init(&j, out, cap - 1);
	json_obj_begin(&j, NULL);
	json_str(&j, "fqdn", in->fqdn[0] ? in->fqdn : NULL);
	json_str(&j, "vip4", known ? inet_ntop(AF_INET, &in->vip4, v4, sizeof(v4)) : NULL);
	json_str(&j, "vip6", known ? inet_ntop(AF_INET6, &in->vip6, v6, sizeof(v6)) : NULL);
	json_str(&j, "dns", ex ? ex->dns : NULL);
	json_bool(&j, "registered", in->state == SIG_REGISTERED);
	if (in->have_observed)
		json_bool(&j, "nat", in->nat);
	else
		json_null(&j, "nat");
	json_str(&j, "observed",
		 in->have_observed ? addr_str((const struct sockaddr *)&in->observed, ob) : NULL);
	if (ex) {
		static const char *const how[] = { NULL, "keeps", "varies" };

		json_str(&j, "mapping", ex->mapping <= CY_MAP_VARIES ? how[ex->mapping] : NULL);
	}
	json_str(&j, "state", sig_state_str(in->state));
	json_arr_begin(&j, "tunnels");
	for (size_t i = 0; ex && i < ex->ntunnels; i++)
		status_tunnel(&j, &ex->tunnels[i]);
	json_arr_end(&j);
	if (ex && ex->drops)
		counters_json(&j, "drops", overlay_drop_counters, overlay_ndrop_counters, ex->drops);
	if (ex && ex->dp) {
		json_obj_begin(&j, "queue");
		json_uint(&j, "backlog", ex->dp->fq_backlog);
		json_uint(&j, "marked", ex->dp->fq_marked);
		json_uint(&j, "dropped", ex->dp->fq_dropped);
		json_uint(&j, "overlimit", ex->dp->fq_overlimit);
		json_uint(&j, "tun_write_errors", ex->dp->tun_write_err);
		json_obj_end(&j);
	}
	if (ex) {
		json_obj_begin(&j, "sched");
		json_str(&j, "policy", ex->sched_prio ? "realtime" : "normal");
		json_int(&j, "priority", ex->sched_prio);
		json_obj_end(&j);
	}
	if (in->have_key)
		json_int(&j, "key_expires_in",
			 in->key_expires_ms > now_ms ? (in->key_expires_ms - now_ms) / 1000 : 0);
	else
		json_null(&j, "key_expires_in");
	if (ex && ex->more)
		ex->more(ex->more_arg, &j);
	json_obj_end(&j);
	n = json_finish(&j);
	if (n < 0)
		return -1;
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}

long status_format(const struct sig_info *in, int64_t now_ms, char *out, size_t cap)
{
	return status_format_ext(in, NULL, now_ms, out, cap);
}
