#include "eph.h"

#include <openssl/evp.h>
#include <string.h>

#include "log.h"

#define EPH_RETRY_MS 1000

EVP_PKEY *eph_generate(uint8_t pub[EPH_PUB_LEN])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	EVP_PKEY *pk = NULL;
	size_t len = EPH_PUB_LEN;

	if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pk) != 1 ||
	    EVP_PKEY_get_raw_public_key(pk, pub, &len) != 1 || len != EPH_PUB_LEN) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

EVP_PKEY *eph_take(struct eph_spare *s, uint8_t pub[EPH_PUB_LEN])
{
	EVP_PKEY *k;

	if (!s || !s->key) {
		if (s)
			s->made_now++;
		return eph_generate(pub);
	}
	k = s->key;
	memcpy(pub, s->pub, EPH_PUB_LEN);
	s->key = NULL;
	memset(s->pub, 0, EPH_PUB_LEN);
	s->taken++;
	return k;
}

int64_t eph_next_ms(const struct eph_spare *s)
{
	return s->key ? s->made_ms + EPH_MAX_AGE_MS : s->retry_ms;
}

void eph_refill(struct eph_spare *s, int64_t now)
{
	if (s->key && now - s->made_ms < EPH_MAX_AGE_MS)
		return;
	if (!s->key && now < s->retry_ms)
		return;
	eph_clear(s);
	s->key = eph_generate(s->pub);
	if (s->key) {
		s->made_ms = now;
		s->failing = false;
		return;
	}
	s->retry_ms = now + EPH_RETRY_MS;
	if (!s->failing)
		log_warnx("could not make an ephemeral X25519 key ahead of time; "
			  "handshakes make theirs on the spot, retrying every second");
	s->failing = true;
}

void eph_clear(struct eph_spare *s)
{
	EVP_PKEY_free(s->key);   /* OpenSSL clears the private key */
	s->key = NULL;
	memset(s->pub, 0, EPH_PUB_LEN);
}
