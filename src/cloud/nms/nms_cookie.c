/* Return routability of Registrations (docs/protocol.md, "Return
 * routability").  A Registration moves where the NMS, and so every peer
 * selecting a route, sends to the node: its source endpoint.  The sealing
 * proves who sent it, not from where: a copy of a fresh one raced from
 * elsewhere, or an enrolled node forging its source, would point the
 * registration at a third party.  So a Registration that would move it
 * (or make it) must echo a cookie the NMS sent to that very endpoint:
 * HMAC-SHA256 under a secret the hosts of a store share, of the key id,
 * the endpoint and the time window, truncated.  Stateless: the NMS keeps
 * nothing for the endpoints it challenges. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "nms_impl.h"

/* The cookie of endpoint `from` for key key_id in window w (time /
 * NMS_COOKIE_WINDOW_S).  False when it cannot be made (another family,
 * no HMAC). */
static bool nms_cookie(const struct nms *n, uint64_t key_id, const struct sockaddr *from,
		       int64_t w, uint8_t out[CY_COOKIE_LEN])
{
	uint8_t in[8 + 8 + 1 + 16 + 2], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t len = 17;

	put_be64(in, key_id);
	put_be64(in + 8, (uint64_t)w);
	in[16] = from->sa_family == AF_INET ? 4 : 6;   /* as on the wire, not the OS's number */
	if (from->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)from;

		memcpy(in + len, &s4->sin_addr, 4);
		len += 4;
	} else if (from->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;

		memcpy(in + len, &s6->sin6_addr, 16);
		len += 16;
	} else {
		return false;
	}
	put_be16(in + len, addr_port(from));
	len += 2;
	if (!HMAC(EVP_sha256(), n->cookie_secret, sizeof(n->cookie_secret), in, len, md, &mdlen) ||
	    mdlen < CY_COOKIE_LEN)
		return false;
	memcpy(out, md, CY_COOKIE_LEN);
	return true;
}

bool nms_reg_cookie(const struct nms *n, uint64_t key_id, const struct sockaddr *from,
		    int64_t now, uint8_t out[CY_COOKIE_LEN])
{
	return nms_cookie(n, key_id, from, now / NMS_COOKIE_WINDOW_S, out);
}

bool nms_reg_cookie_ok(const struct nms *n, uint64_t key_id, const struct cy_msg *m,
		       const struct sockaddr *from, int64_t now)
{
	uint8_t got[CY_COOKIE_LEN], want[CY_COOKIE_LEN];

	if (!cy_msg_bytes(m, CY_A_COOKIE, got, sizeof(got)))
		return false;
	/* This window's or the last one's: a cookie lives one to two. */
	for (int64_t back = 0; back < 2; back++)
		if (nms_cookie(n, key_id, from, now / NMS_COOKIE_WINDOW_S - back, want) &&
		    !CRYPTO_memcmp(got, want, sizeof(want)))
			return true;
	return false;
}
