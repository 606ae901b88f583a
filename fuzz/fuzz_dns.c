/* libFuzzer: bytes into the DNS codec, the resolver module and the
 * resolv.conf parser.
 *
 * The first byte picks the path:
 *   0: dns_parse (both modes) and, on success, the reply builders
 *   1: resolver_query from a UDP client, 2: from a TCP client
 *   3: resolver_upstream_reply to a query forwarded just before, with the
 *      ID patched to the one the resolver chose, so the input reaches the
 *      question comparison and the relay / truncation code
 *   4: resolv_conf_parse
 * Lookups are completed with the next byte's status, and a fake clock
 * moves on so timeouts fire and slots are recycled. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "buf.h"
#include "clock.h"
#include "dns.h"
#include "log.h"
#include "resolv_conf.h"
#include "resolver.h"

static struct resolver *fz_r;
static struct sockaddr_storage fz_up;
static uint32_t fz_handle;
static uint16_t fz_id;
static bool fz_have;
static uint64_t fz_token;
static bool fz_lookup_pending;
static int64_t fz_now = 1000;

static void fz_send_client(void *io, const struct resolver_client *c, const uint8_t *buf,
			   size_t len)
{
	struct dns_msg m;

	/* whatever goes out must itself parse */
	if (len < DNS_HDR_LEN || dns_parse(buf, len, DNS_PARSE_QUESTION, &m) < 0)
		abort();
	if (!c->tcp && len > DNS_MSG_MAX)
		abort();
}

static int fz_send_upstream(void *io, const struct sockaddr *server, uint32_t handle,
			    const uint8_t *buf, size_t len)
{
	fz_handle = handle;
	fz_id = get_be16(buf);
	fz_have = true;
	return 0;
}

static void fz_upstream_done(void *io, uint32_t handle)
{
	if (handle == fz_handle)
		fz_have = false;
}

static int fz_lookup(void *arg, const char *fqdn, uint64_t token)
{
	fz_token = token;
	fz_lookup_pending = true;
	return 0;
}

static void fz_init(void)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&fz_up;
	struct resolver_cfg cfg = {
		.domain = "example.test",
		.upstreams = &fz_up,
		.n_upstreams = 1,
		.max_forward = 16,
		.max_lookups = 16,
		.lookup = fz_lookup,
		.send_client = fz_send_client,
		.send_upstream = fz_send_upstream,
		.upstream_done = fz_upstream_done,
	};

	log_init("fuzz_dns", LOG_LVL_ERR);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(53);
	inet_pton(AF_INET, "192.0.2.53", &sin->sin_addr);
	clock_set_fake(1, fz_now);
	fz_r = resolver_new(&cfg);
	if (!fz_r)
		abort();
}

/* A fixed forwarded query, so replies have something to match. */
static void fz_forward(void)
{
	static const uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				     3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
				     3, 'o', 'r', 'g', 0, 0, 1, 0, 1 };
	struct resolver_client c = { .addrlen = 0 };

	if (!fz_have)
		resolver_query(fz_r, &c, q, sizeof(q));
}

static void fz_codec(const uint8_t *data, size_t size)
{
	static uint8_t out[DNS_MSG_MAX];
	const uint8_t v4[4] = { 100, 64, 0, 1 };
	struct dns_rr an = { DNS_T_A, v4, 4 };
	struct dns_reply rep = { .rcode = DNS_R_NXDOMAIN, .an = &an, .n_an = 1, .ttl = 5,
				 .limit = 512 };
	struct dns_msg m;
	char s[DNS_NAME_STR_MAX];

	if (dns_parse(data, size, DNS_PARSE_QUESTION, &m) == 0) {
		dns_truncate(out, sizeof(out), &m, 1, true, true);
		if (m.has_q)
			dns_name_to_str(m.q.name, m.q.name_len, s);
	}
	if (dns_parse(data, size, DNS_PARSE_QUERY, &m) == 0 || m.hdr_ok) {
		if (dns_build_reply(out, sizeof(out), &m, &rep) < 0 && m.has_q)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resolver_client udp = { .addrlen = 0 }, tcp = { .tcp = true, .conn = 1 };
	struct sockaddr_storage ns[RESOLV_CONF_MAX_NS];
	uint8_t *buf;

	if (!fz_r)
		fz_init();
	if (size < 2)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fz_codec(data + 1, size - 1);
		break;
	case 1:
	case 2:
		resolver_query(fz_r, data[0] % 5 == 1 ? &udp : &tcp, data + 1, size - 1);
		if (fz_lookup_pending) {
			fz_lookup_pending = false;
			static const struct in_addr a4 = { 0x01004064 };
			resolver_complete(fz_r, fz_token, (enum resolver_status)(data[1] % 4),
					  data[1] & 4 ? &a4 : NULL, NULL);
		}
		break;
	case 3:
		fz_forward();
		if (!fz_have)
			break;
		buf = malloc(size - 1);
		if (!buf)
			return 0;
		memcpy(buf, data + 1, size - 1);
		if (size - 1 >= 2 && !(data[1] & 0x80))
			put_be16(buf, fz_id);
		resolver_upstream_reply(fz_r, fz_handle, (struct sockaddr *)&fz_up, buf, size - 1);
		free(buf);
		break;
	default:
		resolv_conf_parse((const char *)data + 1, size - 1, ns, RESOLV_CONF_MAX_NS);
		break;
	}
	fz_now += 100;
	clock_set_fake(1, fz_now);
	resolver_tick(fz_r, fz_now);
	return 0;
}
