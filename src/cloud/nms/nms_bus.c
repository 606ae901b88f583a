/* Signals between the cloud hosts sharing a store (docs/cloud.md).  A
 * node's NAPT lets in only the host it registered on, so:
 *   - a message this host has for a node registered elsewhere (a Route
 *     Direction, a Punch Direction, a Teardown) is handed to that host,
 *     which seals it and sends it from its own socket ("D"): the node's
 *     anti-replay window sees one host's counters, in the order it sends;
 *   - that host remembers, per tunnel, where it came from, and a node's
 *     answer about that tunnel (a Confirmation, a Teardown Ack), which
 *     reaches it, goes back there ("F");
 *   - a revocation or a tag change made through one host is checked by
 *     all ("A", on the channel of all hosts, STORE_CHANNEL_ALL);
 *   - a host that takes a node over tells the one it comes from ("R"),
 *     which forgets what it kept of the registration (nms_regs.c).
 * Signals are text (store_notify carries them: PostgreSQL's NOTIFY; a
 * store without it, SQLite, has one host):
 *   D ORIGIN TUNNEL_ID KEY_ID ENDPOINT MESSAGE
 *   F KEY_ID ENDPOINT MESSAGE
 *   A ORIGIN
 *   R NODE_ID
 * with ids in hex, the endpoint as addr_str() writes it and the bytes in
 * hex.  Each is sealed (ChaCha20-Poly1305, a random nonce, the channel as
 * associated data, the time inside) under the bus key in the store's
 * metadata, so a database role that may LISTEN and NOTIFY but not read
 * the tables learns nothing and forges nothing: "S" and the hex of
 * nonce || ciphertext.  One older than BUS_MAX_AGE_MS is refused.  A host
 * acts on a D only for a node registered on it, under its current key,
 * at its registered endpoint, and only to pass a Route Direction, Punch
 * Direction or Teardown. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "aead.h"
#include "buf.h"
#include "clock.h"
#include "nms_impl.h"
#include "route.h"
#include "wire.h"

#define BUS_FWD_MS 120000   /* how long a delivered tunnel's answers go back */
#define BUS_MAX_AGE_MS 30000
#define BUS_INNER_MAX ((STORE_NOTIFY_MAX - 2) / 2 - AEAD_NONCE_LEN - AEAD_TAG_LEN - 8)

static void hex_put(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static ssize_t hex_get(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s), i;

	if (n % 2 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = cy_hex_digit(s[2 * i]), lo = cy_hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (ssize_t)i;
}

void nms_bus_channel(const char *host, char out[NMS_BUS_CHANNEL_MAX])
{
	snprintf(out, NMS_BUS_CHANNEL_MAX, "cy_%s", host);
}

/* Seal text for channel and NOTIFY it. */
static int bus_notify(struct nms *n, const char *chan, const char *text)
{
	uint8_t inner[8 + BUS_INNER_MAX], sealed[AEAD_NONCE_LEN + 8 + BUS_INNER_MAX + AEAD_TAG_LEN];
	char out[STORE_NOTIFY_MAX + 1];
	size_t tlen = strlen(text);
	ssize_t clen;
	int rc = -EMSGSIZE;

	if (tlen > BUS_INNER_MAX)
		return rc;
	put_be64(inner, (uint64_t)clock_now_ms());
	memcpy(inner + 8, text, tlen);
	if (cy_random(sealed, AEAD_NONCE_LEN) < 0)
		return -EIO;
	clen = aead_seal_once(AEAD_CHACHA20_POLY1305, n->bus_key, sealed,
			      (const uint8_t *)chan, strlen(chan), inner, 8 + tlen,
			      sealed + AEAD_NONCE_LEN);
	if (clen > 0) {
		out[0] = 'S';
		out[1] = ' ';
		hex_put(out + 2, sealed, AEAD_NONCE_LEN + (size_t)clen);
		rc = store_notify(n->st, chan, out);
		cy_wipe(out, sizeof(out));
	}
	cy_wipe(inner, sizeof(inner));
	return rc;
}

static int bus_send(struct nms *n, const char *host, const char *payload)
{
	char chan[NMS_BUS_CHANNEL_MAX];

	nms_bus_channel(host, chan);
	return bus_notify(n, chan, payload);
}

void nms_bus_released(struct nms *n, const char *host, int64_t node_id)
{
	char text[32];

	snprintf(text, sizeof(text), "R %" PRIx64, (uint64_t)node_id);
	if (bus_send(n, host, text) == 0)
		n->stats.bus_out++;
}

bool nms_bus_remote(struct nms *n, int64_t node_id, char host[STORE_HOST_MAX + 1])
{
	struct store_reg reg;

	if (nms_reg_get(n, node_id, &reg) < 0 || !reg.host[0] || !strcmp(reg.host, n->host))
		return false;
	strcpy(host, reg.host);
	return true;
}

int nms_bus_deliver(struct nms *n, const char *host, const struct sockaddr *to,
		    uint64_t key_id, const uint8_t *msg, size_t mlen)
{
	char payload[STORE_NOTIFY_MAX + 1], ep[ADDR_STR_MAX];
	uint64_t tid = 0;
	struct cy_msg *m = malloc(sizeof(*m));
	int off, rc;

	if (m && cy_msg_parse(m, msg, mlen) == 0)
		cy_msg_u64(m, CY_A_TUNNEL_ID, &tid);
	free(m);
	off = snprintf(payload, sizeof(payload), "D %s %016" PRIx64 " %016" PRIx64 " %s ",
		       n->host, tid, key_id, addr_str(to, ep));
	if (off < 0 || (size_t)off + 2 * mlen >= sizeof(payload))
		return -EMSGSIZE;
	hex_put(payload + off, msg, mlen);
	n->stats.bus_out++;
	rc = bus_send(n, host, payload);
	cy_wipe(payload, sizeof(payload));   /* a Route Direction holds a Tunnel Key */
	return rc;
}

bool nms_bus_forward(struct nms *n, struct nms_key *k, const struct sockaddr *from,
		     uint64_t tunnel_id, const uint8_t *plain, size_t plen)
{
	char payload[STORE_NOTIFY_MAX + 1], ep[ADDR_STR_MAX];
	int64_t now = clock_now_ms();
	int off;

	for (size_t i = 0; i < NMS_BUS_FWD; i++) {
		struct nms_bus_fwd *f = &n->fwd[i];

		if (f->tunnel_id != tunnel_id || f->until <= now)
			continue;
		off = snprintf(payload, sizeof(payload), "F %016" PRIx64 " %s ", k->key_id,
			       addr_str(from, ep));
		if (off < 0 || (size_t)off + 2 * plen >= sizeof(payload))
			return false;
		hex_put(payload + off, plain, plen);
		n->stats.bus_out++;
		return bus_send(n, f->host, payload) == 0;
	}
	return false;
}

void nms_bus_authz(struct nms *n)
{
	char payload[STORE_HOST_MAX + 8];

	snprintf(payload, sizeof(payload), "A %s", n->host);
	if (bus_notify(n, STORE_CHANNEL_ALL, payload) == 0)
		n->stats.bus_out++;
}

/* A D this host acts on: for a node registered here, under the key it
 * registered with, to the endpoint it registered from, one of the
 * messages another host selects for it. */
static bool bus_deliverable(struct nms *n, const struct nms_key *k,
			    const struct sockaddr_storage *to, const uint8_t *msg, size_t len)
{
	struct store_reg reg;

	if (len < 2 || (msg[1] != CY_ROUTE_DIRECTION && msg[1] != CY_PUNCH_DIRECTION &&
			msg[1] != CY_TEARDOWN))
		return false;
	return nms_reg_get(n, k->node_id, &reg) == 0 && !strcmp(reg.host, n->host) &&
	       reg.key_id == k->key_id && reg.expires > clock_now() &&
	       addr_equal((const struct sockaddr *)&reg.observed, (const struct sockaddr *)to);
}

/* D: seal the message for the node and send it, and remember where its
 * tunnel's answers go. */
static void bus_deliver_in(struct nms *n, char *rest)
{
	char *save, *origin = strtok_r(rest, " ", &save), *tid = strtok_r(NULL, " ", &save);
	char *kid = strtok_r(NULL, " ", &save), *ep = strtok_r(NULL, " ", &save);
	char *hex = strtok_r(NULL, " ", &save);
	uint8_t msg[NMS_MSG_MAX], pkt[NMS_PKT_MAX];
	struct sockaddr_storage to;
	struct nms_bus_fwd *f;
	struct nms_key *k;
	size_t plen = 0;
	socklen_t sl;
	ssize_t len;

	if (!hex || strlen(origin) > STORE_HOST_MAX || addr_parse(ep, 0, &to, &sl) < 0 ||
	    (len = hex_get(hex, msg, sizeof(msg))) <= 0 || !n->ops.send ||
	    !(k = nms_key_find(n, strtoull(kid, NULL, 16))) ||
	    !bus_deliverable(n, k, &to, msg, (size_t)len) ||
	    !(plen = nms_seal_reply(n, k, msg, (size_t)len, pkt, sizeof(pkt)))) {
		n->stats.bus_bad++;
		cy_wipe(msg, sizeof(msg));
		return;
	}
	cy_wipe(msg, sizeof(msg));
	f = &n->fwd[n->fwd_next++ % NMS_BUS_FWD];
	f->tunnel_id = strtoull(tid, NULL, 16);
	f->until = clock_now_ms() + BUS_FWD_MS;
	strcpy(f->host, origin);
	n->ops.send(n->ops_arg, (struct sockaddr *)&to, pkt, plen);
}

/* F: a node's answer, opened by its host, for state kept here. */
static void bus_forward_in(struct nms *n, char *rest)
{
	char *save, *kid = strtok_r(rest, " ", &save), *ep = strtok_r(NULL, " ", &save);
	char *hex = strtok_r(NULL, " ", &save);
	struct sockaddr_storage from;
	uint8_t plain[NMS_PKT_MAX];
	struct nms_key *k;
	struct cy_msg *m;
	socklen_t sl;
	ssize_t len;

	if (!hex || addr_parse(ep, 0, &from, &sl) < 0 ||
	    (len = hex_get(hex, plain, sizeof(plain))) <= 0 ||
	    !(k = nms_key_find(n, strtoull(kid, NULL, 16)))) {
		n->stats.bus_bad++;
		return;
	}
	m = malloc(sizeof(*m));
	if (m && cy_msg_parse(m, plain, (size_t)len) == 0) {
		if (m->type == CY_CONFIRMATION)
			route_confirmation(n, k, (struct sockaddr *)&from, m);
		else if (m->type == CY_TEARDOWN_ACK)
			grant_ack(n, k, m);
		else
			n->stats.bus_bad++;
	} else {
		n->stats.bus_bad++;
	}
	free(m);
	cy_wipe(plain, sizeof(plain));
}

/* Open a signal sealed by bus_notify into buf (NUL-terminated); false
 * when it does not open under the bus key for channel, or is too old. */
static bool bus_open(struct nms *n, const char *channel, const char *payload, char *buf,
		     size_t cap)
{
	uint8_t sealed[STORE_NOTIFY_MAX / 2], inner[STORE_NOTIFY_MAX / 2];
	ssize_t slen, ilen;
	int64_t at;
	bool ok = false;

	if (strncmp(payload, "S ", 2) ||
	    (slen = hex_get(payload + 2, sealed, sizeof(sealed))) < AEAD_NONCE_LEN + 8 + AEAD_TAG_LEN)
		return false;
	ilen = aead_open_once(AEAD_CHACHA20_POLY1305, n->bus_key, sealed, (const uint8_t *)channel,
			      strlen(channel), sealed + AEAD_NONCE_LEN,
			      (size_t)slen - AEAD_NONCE_LEN, inner);
	if (ilen >= 8 && (size_t)ilen - 8 < cap) {
		at = (int64_t)get_be64(inner);
		if (at > clock_now_ms() - BUS_MAX_AGE_MS && at < clock_now_ms() + BUS_MAX_AGE_MS) {
			memcpy(buf, inner + 8, (size_t)ilen - 8);
			buf[ilen - 8] = '\0';
			ok = memchr(buf, '\0', (size_t)ilen - 8) == NULL;
		}
	}
	cy_wipe(inner, sizeof(inner));
	return ok;
}

void nms_bus_input(struct nms *n, const char *channel, const char *payload)
{
	char buf[STORE_NOTIFY_MAX + 1];

	if (!bus_open(n, channel, payload, buf, sizeof(buf))) {
		n->stats.bus_bad++;
		return;
	}
	n->stats.bus_in++;
	if (buf[0] == 'D' && buf[1] == ' ')
		bus_deliver_in(n, buf + 2);
	else if (buf[0] == 'F' && buf[1] == ' ')
		bus_forward_in(n, buf + 2);
	else if (buf[0] == 'A' && buf[1] == ' ') {
		if (strcmp(buf + 2, n->host))   /* its own: already checked */
			nms_authz_check(n);
	} else if (buf[0] == 'R' && buf[1] == ' ') {
		char *end;
		uint64_t id = strtoull(buf + 2, &end, 16);

		if (*end || end == buf + 2)
			n->stats.bus_bad++;
		else
			nms_reg_forget(n, (int64_t)id);
	}
	else
		n->stats.bus_bad++;
	cy_wipe(buf, sizeof(buf));
}
