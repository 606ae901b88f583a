#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "buf.h"
#include "replay.h"
#include "wire.h"

/* The replay window, while packets arrive out of order (session.h). */
struct session_win {
	struct replay r;
	uint64_t hole_top;            /* every counter still missing is <= this */
	uint64_t mark_rx;             /* rx_packets when session_idle last looked */
	int64_t mark_ms;              /* and when that count changed */
};

struct session {
	struct aead_key tx, rx;       /* keys only: contexts from the pool */
	uint64_t tx_counter;          /* next counter to send */
	uint64_t rx_next;             /* without a window: every counter below was seen */
	struct session_win *win;      /* NULL while packets come in order */
	int64_t birth_ms;
	uint32_t local_index;
	uint32_t remote_index;
	bool initiator;
	bool rx_newest;               /* the last packet opened had the highest counter yet */
	struct session_stats st;
};

struct session *session_new(const struct session_params *p)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (aead_key_init(&s->tx, p->alg, p->tx_key) < 0 ||
	    aead_key_init(&s->rx, p->alg, p->rx_key) < 0) {
		session_free(s);   /* wipes whatever key was copied */
		return NULL;
	}
	s->local_index = p->local_index;
	s->remote_index = p->remote_index;
	s->initiator = p->initiator;
	s->birth_ms = p->now_ms;
	return s;
}

void session_free(struct session *s)
{
	if (!s)
		return;
	aead_key_wipe(&s->tx);   /* and the key schedules in the pool */
	aead_key_wipe(&s->rx);
	free(s->win);
	cy_wipe(s, sizeof(*s));
	free(s);
}

static void data_nonce(uint8_t nonce[AEAD_NONCE_LEN], uint64_t ctr)
{
	put_be32(nonce, 0);
	put_be64(nonce + 4, ctr);
}

ssize_t session_seal(struct session *s, const uint8_t *ip, size_t len, uint8_t *out,
		     size_t cap)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	static const uint8_t empty[1];
	ssize_t n;

	if (cap < SESSION_OVERHEAD || cap - SESSION_OVERHEAD < len)
		return -EMSGSIZE;
	if (s->tx_counter >= SESSION_REJECT_AFTER_MESSAGES)
		return -EKEYEXPIRED;
	out[0] = CY_VERSION;
	out[1] = CY_DATA;
	out[2] = 0;
	out[3] = 0;
	put_be32(out + 4, s->remote_index);
	put_be64(out + 8, s->tx_counter);
	data_nonce(nonce, s->tx_counter);
	n = aead_key_seal(&s->tx, nonce, out, SESSION_HDR_LEN, len ? ip : empty, len,
			  out + SESSION_HDR_LEN);
	if (n < 0)
		return n == -ENOMEM ? -ENOMEM : -EIO;
	/* The counter is spent even if the caller never sends the packet:
	 * a nonce is never used twice. */
	s->tx_counter++;
	s->st.tx_packets++;
	s->st.tx_bytes += len;
	return SESSION_HDR_LEN + n;
}

struct data_hdr {
	uint32_t receiver_index;
	uint64_t counter;
	const uint8_t *ct;
	size_t ctlen;
};

static int data_parse(const uint8_t *pkt, size_t len, struct data_hdr *h)
{
	struct cur c = cur_make(pkt, len);
	uint8_t ver, type;
	uint16_t rsv;

	if (!cur_get_u8(&c, &ver) || !cur_get_u8(&c, &type) || !cur_get_u16(&c, &rsv) ||
	    !cur_get_u32(&c, &h->receiver_index) || !cur_get_u64(&c, &h->counter))
		return -EPROTO;
	if (ver != CY_VERSION || type != CY_DATA || rsv != 0)
		return -EPROTO;
	h->ctlen = cur_left(&c);
	if (h->ctlen < AEAD_TAG_LEN || !cur_get_ptr(&c, &h->ct, h->ctlen))
		return -EPROTO;
	return 0;
}

int session_peek_index(const uint8_t *pkt, size_t len, uint32_t *receiver_index)
{
	struct data_hdr h;

	if (data_parse(pkt, len, &h) < 0)
		return -EPROTO;
	*receiver_index = h.receiver_index;
	return 0;
}

/* The anti-replay state: a window while one is allocated, else rx_next. */
static bool rx_check(const struct session *s, uint64_t ctr)
{
	if (s->win)
		return replay_check(&s->win->r, ctr);
	return ctr != UINT64_MAX && ctr >= s->rx_next;
}

/* Back to rx_next alone: every counter below the window's top was seen
 * or is given up. */
static void win_fold(struct session *s)
{
	s->rx_next = s->win->r.top;
	free(s->win);
	s->win = NULL;
}

/* A packet ahead of the top leaves a gap below it.  Once the top is more
 * than REPLAY_WINDOW past the highest gap, the window refuses every
 * counter still missing and saw every one above it: "all below top" says
 * the same, so the window goes (with the same verdict for every counter)
 * even while packets keep coming. */
static bool win_update(struct session *s, uint64_t ctr)
{
	struct session_win *w = s->win;
	uint64_t top = w->r.top;

	if (!replay_update(&w->r, ctr))
		return false;
	if (ctr > top)
		w->hole_top = ctr - 1;
	else if (w->r.top - w->hole_top > REPLAY_WINDOW)
		win_fold(s);
	return true;
}

/* After authentication.  The next counter in order needs no window; a
 * gap (loss, reordering) allocates one so the packets in it can still
 * come.  Without memory the gap is given up: refusing too much is safe. */
static bool rx_update(struct session *s, uint64_t ctr)
{
	if (s->win)
		return win_update(s, ctr);
	if (!rx_check(s, ctr))
		return false;
	if (ctr > s->rx_next && (s->win = malloc(sizeof(*s->win)))) {
		replay_init_from(&s->win->r, s->rx_next);
		s->win->hole_top = 0;      /* set by win_update: ctr > top */
		s->win->mark_rx = UINT64_MAX;
		s->win->mark_ms = 0;
		return win_update(s, ctr);
	}
	s->rx_next = ctr + 1;
	return true;
}

void session_idle(struct session *s, int64_t now_ms)
{
	struct session_win *w = s->win;

	if (!w)
		return;
	if (w->mark_rx != s->st.rx_packets) {
		w->mark_rx = s->st.rx_packets;
		w->mark_ms = now_ms;
		return;
	}
	if (now_ms - w->mark_ms < SESSION_WINDOW_IDLE_MS)
		return;
	/* Whatever is still missing below the top is refused from now on. */
	win_fold(s);
}

ssize_t session_open(struct session *s, const uint8_t *pkt, size_t len, uint8_t *out,
		     size_t cap)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	uint8_t scratch[1];
	struct data_hdr h;
	ssize_t n;

	if (data_parse(pkt, len, &h) < 0) {
		s->st.drop_malformed++;
		return -EPROTO;
	}
	if (h.receiver_index != s->local_index) {
		s->st.drop_index++;
		return -ENOKEY;
	}
	if (h.counter >= SESSION_REJECT_AFTER_MESSAGES) {
		s->st.drop_expired++;
		return -EKEYEXPIRED;
	}
	if (!rx_check(s, h.counter)) {
		s->st.drop_replay++;
		return -EALREADY;
	}
	if (h.ctlen - AEAD_TAG_LEN > cap)
		return -EMSGSIZE;
	data_nonce(nonce, h.counter);
	n = aead_key_open(&s->rx, nonce, pkt, SESSION_HDR_LEN, h.ct, h.ctlen,
			  h.ctlen > AEAD_TAG_LEN ? out : scratch);
	if (n == -ENOMEM)
		return -ENOMEM;
	if (n < 0) {
		s->st.drop_auth++;
		return -EBADMSG;
	}
	/* Authenticated: only now may the window move.  Whether it carried
	 * the highest counter so far decides if it may move the peer's
	 * endpoint (a late or replayed older one may not). */
	s->rx_newest = h.counter >= (s->win ? s->win->r.top : s->rx_next);
	if (!rx_update(s, h.counter)) {
		s->st.drop_replay++;
		return -EALREADY;
	}
	s->st.rx_packets++;
	s->st.rx_bytes += (uint64_t)n;
	return n;
}

bool session_needs_rekey(const struct session *s, int64_t now_ms)
{
	int64_t after = s->initiator ? SESSION_REKEY_AFTER_MS : SESSION_RESPONDER_REKEY_AFTER_MS;

	return s->tx_counter >= SESSION_REKEY_AFTER_MESSAGES || now_ms - s->birth_ms >= after;
}

bool session_expired(const struct session *s, int64_t now_ms)
{
	return s->tx_counter >= SESSION_REJECT_AFTER_MESSAGES ||
	       now_ms - s->birth_ms >= SESSION_REJECT_AFTER_MS;
}

uint32_t session_local_index(const struct session *s) { return s->local_index; }
uint32_t session_remote_index(const struct session *s) { return s->remote_index; }
enum aead_alg session_alg(const struct session *s) { return (enum aead_alg)s->tx.alg; }
bool session_is_initiator(const struct session *s) { return s->initiator; }
bool session_rx_newest(const struct session *s) { return s->rx_newest; }
int64_t session_birth_ms(const struct session *s) { return s->birth_ms; }
const struct session_stats *session_stats(const struct session *s) { return &s->st; }

void session_stats_add(struct session_stats *sum, const struct session_stats *s)
{
	sum->rx_bytes += s->rx_bytes;
	sum->tx_bytes += s->tx_bytes;
	sum->rx_packets += s->rx_packets;
	sum->tx_packets += s->tx_packets;
	sum->drop_replay += s->drop_replay;
	sum->drop_auth += s->drop_auth;
	sum->drop_index += s->drop_index;
	sum->drop_malformed += s->drop_malformed;
	sum->drop_expired += s->drop_expired;
}

void session_test_set_tx_counter(struct session *s, uint64_t ctr)
{
	s->tx_counter = ctr;
}

bool session_test_has_window(const struct session *s)
{
	return s->win != NULL;
}

const char *session_aead_name(enum aead_alg alg)
{
	switch (alg) {
	case AEAD_CHACHA20_POLY1305:
		return "chacha20-poly1305";
	case AEAD_AES256_GCM:
		return "aes-256-gcm";
	}
	return "unknown";
}

/* OpenSSL's own capability vector (OPENSSL_ia32cap_P) is not public API;
 * the CPU's feature bits are what it reads, so read them directly. */
static bool cpu_has_fast_aes(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__) && defined(HWCAP_AES) && defined(HWCAP_PMULL)
	unsigned long hw = getauxval(AT_HWCAP);

	return (hw & HWCAP_AES) && (hw & HWCAP_PMULL);
#else
	return false;
#endif
}

enum aead_alg session_aead_preferred(void)
{
	const char *env = getenv("CYPHONIC_AEAD");

	if (env && !strcasecmp(env, session_aead_name(AEAD_AES256_GCM)))
		return AEAD_AES256_GCM;
	if (env && !strcasecmp(env, session_aead_name(AEAD_CHACHA20_POLY1305)))
		return AEAD_CHACHA20_POLY1305;
	return cpu_has_fast_aes() ? AEAD_AES256_GCM : AEAD_CHACHA20_POLY1305;
}
