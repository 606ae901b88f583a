/* libFuzzer: what a node reads from the AS: a Login Response (with its CA
 * and CERT attributes, each then decoded as X.509 DER as cred.c does) and
 * an Information Response. */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "login.h"

static void der(const uint8_t *p, size_t len)
{
	const unsigned char *q = p;
	X509 *x = d2i_X509(NULL, &q, (long)len);

	X509_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct login_result r;
	struct login_info info;

	if (login_parse_response(data, size, &r) == 0 && r.status == LOGIN_OK) {
		if (r.pki.nca > CA_BUNDLE_MAX || r.pki.cert_len > CY_CERT_DER_MAX)
			abort();
		for (size_t i = 0; i < r.pki.nca; i++) {
			if (!r.pki.ca_len[i] || r.pki.ca_len[i] > CY_CERT_DER_MAX)
				abort();
			der(r.pki.ca[i], r.pki.ca_len[i]);
		}
		if (r.pki.cert_len)
			der(r.pki.cert, r.pki.cert_len);
	}
	login_parse_info(data, size, &info);
	login_info_free(&info);
	return 0;
}
