#include "status.h"

#include <arpa/inet.h>

#include "addr.h"
#include "json.h"

long status_format(const struct sig_info *in, int64_t now_ms, char *out, size_t cap)
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
	json_null(&j, "dns");
	json_bool(&j, "registered", in->state == SIG_REGISTERED);
	if (in->have_observed)
		json_bool(&j, "nat", in->nat);
	else
		json_null(&j, "nat");
	json_str(&j, "observed",
		 in->have_observed ? addr_str((const struct sockaddr *)&in->observed, ob) : NULL);
	json_str(&j, "state", sig_state_str(in->state));
	json_arr_begin(&j, "tunnels");
	json_arr_end(&j);
	if (in->have_key)
		json_int(&j, "key_expires_in",
			 in->key_expires_ms > now_ms ? (in->key_expires_ms - now_ms) / 1000 : 0);
	else
		json_null(&j, "key_expires_in");
	json_obj_end(&j);
	n = json_finish(&j);
	if (n < 0)
		return -1;
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}
