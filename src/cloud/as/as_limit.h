/* Failed-login accounting for the AS: who (a source address, or a node
 * name) failed how often, and until when further attempts are refused
 * without hashing a password.
 *
 * The first AS_LIMIT_FREE failures cost nothing more; each one after that
 * doubles a backoff, from 1 s up to AS_LIMIT_MAX_BACKOFF_S, during which
 * that key is refused at once.  A success clears the key; a key with no
 * failure for AS_LIMIT_FORGET_S is forgotten.
 *
 * A table also remembers marks (as_limit_mark): keys that something
 * happened to, such as a source that logged a name in.
 *
 * The table has a fixed size and an 8-slot probe window per key, placed by
 * a keyed hash (SipHash, a random key per table), so nobody can aim keys
 * at another key's window.  When a window is full the entry touched
 * longest ago makes room, but never one that is backing off or has used
 * up its free failures: a flood of fresh keys costs memory only once and
 * cannot wash out what the table holds against someone. */
#ifndef CY_AS_LIMIT_H
#define CY_AS_LIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define AS_LIMIT_FREE 5             /* failures before any backoff */
#define AS_LIMIT_MAX_BACKOFF_S 60
#define AS_LIMIT_FORGET_S 600
#define AS_LIMIT_SLOTS 4096
#define AS_LIMIT_KEY_MAX 128        /* "n:" + a name, "a:" + an address, or both */

struct as_limit;

struct as_limit *as_limit_new(void);
void as_limit_free(struct as_limit *l);

/* The key of a source: an IPv4 address (also IPv4-mapped), or the /56 of an IPv6 address
 * (one site usually holds a whole /56, so a host cannot dodge the limits
 * by taking more addresses of its prefix). */
void as_limit_key_addr(const struct sockaddr *sa, char key[AS_LIMIT_KEY_MAX]);
void as_limit_key_name(const char *name, char key[AS_LIMIT_KEY_MAX]);
/* A source (its key from as_limit_key_addr) and a name together. */
void as_limit_key_pair(const char *src_key, const char *name, char key[AS_LIMIT_KEY_MAX]);

/* Seconds until key may try again (0: now), at monotonic time now_ms. */
int as_limit_wait(struct as_limit *l, const char *key, int64_t now_ms);
void as_limit_failed(struct as_limit *l, const char *key, int64_t now_ms);
void as_limit_succeeded(struct as_limit *l, const char *key);

/* Remember key at now_ms / whether it was remembered within max_age_ms. */
void as_limit_mark(struct as_limit *l, const char *key, int64_t now_ms);
bool as_limit_marked(struct as_limit *l, const char *key, int64_t now_ms, int64_t max_age_ms);

/* Password logins (the AS's and the web console's), guarded by source and
 * by name with three tables: failures by source, failures by name, and
 * the (source, name) pairs that logged in.  login_guard_wait: seconds the
 * attempt must wait (0: check the password), none for a pair that logged
 * in within LOGIN_GUARD_GOOD_MS, so a guesser elsewhere cannot lock a
 * name out.  login_guard_result: a success clears the name's failures
 * and vouches for the pair, a failure counts against both (an error of
 * the store is neither: the caller does not call it). */
#define LOGIN_GUARD_GOOD_MS (24 * 3600 * 1000LL)
struct login_guard;
struct login_guard *login_guard_new(void);
void login_guard_free(struct login_guard *g);
int login_guard_wait(struct login_guard *g, const struct sockaddr *src, const char *name,
		     int64_t now_ms);
void login_guard_result(struct login_guard *g, const struct sockaddr *src, const char *name,
			bool ok, int64_t now_ms);

#endif
