/* Sending to the NMS under the common key, and counting what is dropped:
 * shared by registration (sig.c) and route signaling (sig_route.c). */
#include "sig_impl.h"

#include "addr.h"
#include "aead.h"
#include "seal.h"

/* to: NULL for the NMS we use now. */
void sig_send_sealed_to(struct sig *s, const uint8_t *msg, ssize_t len,
			   const struct sockaddr *to)
{
	uint8_t out[SIG_DGRAM_MAX];
	ssize_t n;

	if (len < 0 || !s->aead || (!to && s->nnms == 0)) {
		s->st.tx_err++;
		return;
	}
	if (!to)
		to = (const struct sockaddr *)&s->nms[s->nms_idx];
	n = cy_seal(s->aead, CY_DIR_TO_CLOUD, s->info.key_id, ++s->tx_ctr, msg, (size_t)len,
		    out, sizeof(out));
	if (n < 0 || s->ops->send(s->arg, out, (size_t)n, to) < 0) {
		s->st.tx_err++;
		return;
	}
	s->st.tx++;
}

void sig_send_sealed(struct sig *s, const uint8_t *msg, ssize_t len)
{
	sig_send_sealed_to(s, msg, len, NULL);
}

void sig_bad_input(struct sig *s, const struct sockaddr *from, const char *why)
{
	char a[ADDR_STR_MAX];

	s->st.rx_bad++;
	LOG_RATELIMITED(&s->rl, "dropped datagram from %s: %s", addr_str(from, a), why);
}

