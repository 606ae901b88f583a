/* The console's login sessions: a table of random tokens, each with the
 * account it logged in, its CSRF token, and when it ends.
 *
 * A session is named by a 32-byte random token (64 hex characters in its
 * cookie) and carries a second one, its CSRF token, which every request
 * that changes state must send back in a header: a page of another site
 * cannot read it, so it cannot make a request that has it.  Tokens are
 * compared in constant time.  A session ends after CONSOLE_IDLE_S without
 * a request of its user's (the page's own polling does not count),
 * CONSOLE_LIFE_S after its login, at logout, when its account's password
 * changes or the account goes (the caller compares console_session.account
 * with the account's hash now), or when the table is full and a newer
 * login needs its slot (the one used longest ago goes). */
#ifndef CY_CONSOLE_SESSION_H
#define CY_CONSOLE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define CONSOLE_SESSIONS 64
#define CONSOLE_IDLE_S (30 * 60)
#define CONSOLE_LIFE_S (12 * 3600)
#define CONSOLE_TOKEN_LEN 32
#define CONSOLE_TOKEN_HEX (2 * CONSOLE_TOKEN_LEN + 1)

struct console_session {
	uint8_t id[CONSOLE_TOKEN_LEN];
	char csrf[CONSOLE_TOKEN_HEX];
	char name[CY_NAME_MAX + 1];          /* the account; "" a free slot */
	uint8_t account[CONSOLE_TOKEN_LEN];  /* SHA-256 of its password hash at login */
	int64_t born, used;                  /* monotonic seconds */
};

struct console_sessions {
	struct console_session s[CONSOLE_SESSIONS];
};

/* A new session for name at now, account the digest of its password hash
 * (console_session_account): its cookie token in id_hex.  NULL only when
 * the random source fails. */
struct console_session *console_session_new(struct console_sessions *t, const char *name,
					    const uint8_t account[CONSOLE_TOKEN_LEN], int64_t now,
					    char id_hex[CONSOLE_TOKEN_HEX]);
/* The live session of the cookie value id_hex, or NULL: unknown,
 * malformed, idle too long, too old.  touch: a request of its user's
 * (used = now). */
struct console_session *console_session_find(struct console_sessions *t, const char *id_hex,
					     int64_t now, bool touch);
/* The digest a session keeps of an account's password hash; 0 or -1. */
int console_session_account(const char *pwhash, uint8_t out[CONSOLE_TOKEN_LEN]);
/* Is s still its account's, whose password hash is now pwhash? */
bool console_session_account_ok(const struct console_session *s, const char *pwhash);
/* Does csrf (a request's header, may be NULL) match s's? */
bool console_session_csrf_ok(const struct console_session *s, const char *csrf);
void console_session_end(struct console_session *s);
/* End every session of name (its account removed). */
void console_session_end_name(struct console_sessions *t, const char *name);

/* The value of cookie name in a Cookie header ("a=1; name=v"; NULL
 * none) into out (len bytes): false when it is not there or does not fit.
 * The header is the browser's, or anyone's: read within its bounds. */
bool console_cookie_value(const char *header, const char *name, char *out, size_t len);

#endif
