/* The console's sessions and cookies (console_session.c), and its
 * accounts (src/admin/account.c) on a real store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "admin.h"
#include "console_session.h"

static const uint8_t acct0[CONSOLE_TOKEN_LEN];

static void test_session_find(void **state)
{
	static struct console_sessions t;
	char id[CONSOLE_TOKEN_HEX], bad[CONSOLE_TOKEN_HEX + 8];
	struct console_session *s;

	memset(&t, 0, sizeof(t));
	s = console_session_new(&t, "root", acct0, 1000, id);
	assert_non_null(s);
	assert_int_equal(strlen(id), 64);
	assert_ptr_equal(console_session_find(&t, id, 1001, true), s);
	assert_string_equal(s->name, "root");
	/* hostile ids: wrong length, upper case, not hex, one digit off */
	assert_null(console_session_find(&t, NULL, 1001, true));
	assert_null(console_session_find(&t, "", 1001, true));
	snprintf(bad, sizeof(bad), "%.63s", id);
	assert_null(console_session_find(&t, bad, 1001, true));
	snprintf(bad, sizeof(bad), "%s0", id);
	assert_null(console_session_find(&t, bad, 1001, true));
	strcpy(bad, id);
	bad[0] = bad[0] == 'a' ? 'b' : 'a';
	assert_null(console_session_find(&t, bad, 1001, true));
	strcpy(bad, id);
	bad[5] = 'G';
	assert_null(console_session_find(&t, bad, 1001, true));
	strcpy(bad, id);
	for (char *p = bad; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	if (strcmp(bad, id))
		assert_null(console_session_find(&t, bad, 1001, true));
	/* a free slot's zero id never matches */
	memset(bad, '0', 64);
	bad[64] = '\0';
	assert_null(console_session_find(&t, bad, 1001, true));
}

static void test_session_ends(void **state)
{
	static struct console_sessions t;
	char id[CONSOLE_TOKEN_HEX], id2[CONSOLE_TOKEN_HEX];
	struct console_session *s;
	int64_t now = 5000;

	memset(&t, 0, sizeof(t));
	/* idle: ends CONSOLE_IDLE_S after its last use */
	s = console_session_new(&t, "root", acct0, now, id);
	assert_non_null(console_session_find(&t, id, now + CONSOLE_IDLE_S - 1, true));
	assert_null(console_session_find(&t, id, now + 2 * CONSOLE_IDLE_S - 1, true));
	assert_string_equal(s->name, "");
	/* the page's polling (not its user's requests) does not keep it */
	console_session_new(&t, "root", acct0, now, id);
	for (int64_t at = now; at < now + CONSOLE_IDLE_S; at += 2)
		assert_non_null(console_session_find(&t, id, at, false));
	assert_null(console_session_find(&t, id, now + CONSOLE_IDLE_S, false));
	/* used all the time: still ends CONSOLE_LIFE_S after the login */
	console_session_new(&t, "root", acct0, now, id);
	for (int64_t at = now; at < now + CONSOLE_LIFE_S; at += CONSOLE_IDLE_S / 2)
		assert_non_null(console_session_find(&t, id, at, true));
	assert_null(console_session_find(&t, id, now + CONSOLE_LIFE_S, true));
	/* logout */
	s = console_session_new(&t, "root", acct0, now, id);
	console_session_end(s);
	assert_null(console_session_find(&t, id, now, true));
	/* an account removed: all its sessions end, others stay; named by
	 * the first one's own name (wiped on the way) */
	s = console_session_new(&t, "root", acct0, now, id);
	console_session_new(&t, "ops", acct0, now, id2);
	{
		char id3[CONSOLE_TOKEN_HEX];

		console_session_new(&t, "root", acct0, now, id3);
		console_session_end_name(&t, s->name);
		assert_null(console_session_find(&t, id, now, true));
		assert_null(console_session_find(&t, id3, now, true));
	}
	assert_non_null(console_session_find(&t, id2, now, true));
}

static void test_session_full(void **state)
{
	static struct console_sessions t;
	char first[CONSOLE_TOKEN_HEX], id[CONSOLE_TOKEN_HEX], last[CONSOLE_TOKEN_HEX];

	memset(&t, 0, sizeof(t));
	console_session_new(&t, "a", acct0, 100, first);
	for (int i = 1; i < CONSOLE_SESSIONS; i++)
		console_session_new(&t, "a", acct0, 100 + i, id);
	/* full: the next login takes the slot used longest ago */
	assert_non_null(console_session_new(&t, "b", acct0, 200, last));
	assert_null(console_session_find(&t, first, 201, true));
	assert_non_null(console_session_find(&t, id, 201, true));
	assert_non_null(console_session_find(&t, last, 201, true));
}

static void test_csrf(void **state)
{
	static struct console_sessions t;
	char id[CONSOLE_TOKEN_HEX], other[CONSOLE_TOKEN_HEX], tok[CONSOLE_TOKEN_HEX];
	struct console_session *s, *s2;

	memset(&t, 0, sizeof(t));
	s = console_session_new(&t, "root", acct0, 1, id);
	s2 = console_session_new(&t, "root", acct0, 1, other);
	assert_int_equal(strlen(s->csrf), 64);
	assert_string_not_equal(s->csrf, id);            /* not the cookie */
	assert_true(console_session_csrf_ok(s, s->csrf));
	assert_false(console_session_csrf_ok(s, s2->csrf)); /* another session's */
	assert_false(console_session_csrf_ok(s, NULL));
	assert_false(console_session_csrf_ok(s, ""));
	snprintf(tok, sizeof(tok), "%.63s", s->csrf);
	assert_false(console_session_csrf_ok(s, tok));
	assert_false(console_session_csrf_ok(s, id));
}

static void test_account_digest(void **state)
{
	static struct console_sessions t;
	uint8_t a[CONSOLE_TOKEN_LEN];
	char id[CONSOLE_TOKEN_HEX];
	struct console_session *s;

	memset(&t, 0, sizeof(t));
	assert_int_equal(console_session_account("$scrypt$one", a), 0);
	s = console_session_new(&t, "root", a, 1, id);
	assert_true(console_session_account_ok(s, "$scrypt$one"));
	/* a new password: the session is not its account's any more */
	assert_false(console_session_account_ok(s, "$scrypt$two"));
	assert_false(console_session_account_ok(s, ""));
}

static void test_cookie(void **state)
{
	char v[CONSOLE_TOKEN_HEX + 1];

	assert_true(console_cookie_value("cy_session=abc", "cy_session", v, sizeof(v)));
	assert_string_equal(v, "abc");
	assert_true(console_cookie_value("a=1; cy_session=xyz; b=2", "cy_session", v, sizeof(v)));
	assert_string_equal(v, "xyz");
	assert_true(console_cookie_value("x_cy_session=no;cy_session=yes", "cy_session", v,
					 sizeof(v)));
	assert_string_equal(v, "yes");
	assert_true(console_cookie_value("cy_session=", "cy_session", v, sizeof(v)));
	assert_string_equal(v, "");
	assert_false(console_cookie_value(NULL, "cy_session", v, sizeof(v)));
	assert_false(console_cookie_value("", "cy_session", v, sizeof(v)));
	assert_false(console_cookie_value(";;;  ;", "cy_session", v, sizeof(v)));
	assert_false(console_cookie_value("cy_session", "cy_session", v, sizeof(v)));
	assert_false(console_cookie_value("cy_sessionx=1", "cy_session", v, sizeof(v)));
	/* longer than the buffer: refused, not cut */
	{
		char big[200];

		memset(big, 'a', sizeof(big));
		memcpy(big, "cy_session=", 11);
		big[sizeof(big) - 1] = '\0';
		assert_false(console_cookie_value(big, "cy_session", v, sizeof(v)));
	}
}

static void test_accounts(void **state)
{
	char dir[] = "/tmp/cy_console_XXXXXX", url[64], err[256], h[PWHASH_MAX], h2[PWHASH_MAX];
	struct store *st;

	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "%s/cloud.db", dir);
	assert_int_equal(store_open(&st, url, err, sizeof(err)), 0);
	assert_int_equal(admin_account_hash(st, "root", h), -ENOENT);
	assert_int_equal(admin_account_check(st, "root", "anything1", h), -EACCES);
	assert_int_equal(admin_account_set(st, "root", "short", err, sizeof(err)), -EINVAL);
	assert_int_equal(admin_account_set(st, "Root", "long enough", err, sizeof(err)), -EINVAL);
	assert_int_equal(admin_account_set(st, "root", "long enough", err, sizeof(err)), 0);
	assert_int_equal(admin_account_hash(st, "root", h), 0);
	assert_int_equal(admin_account_check(st, "root", "long enough", h2), 0);
	assert_string_equal(h, h2);
	assert_int_equal(admin_account_check(st, "root", "long enougH", h2), -EACCES);
	assert_int_equal(admin_account_check(st, "root", "", h2), -EACCES);
	assert_int_equal(admin_account_check(st, "../root", "long enough", h2), -EACCES);
	/* a new password replaces the old, and its hash is another: the
	 * console's sessions of the old one end */
	assert_int_equal(admin_account_set(st, "root", "another one", err, sizeof(err)), 0);
	assert_int_equal(admin_account_check(st, "root", "long enough", h2), -EACCES);
	assert_int_equal(admin_account_check(st, "root", "another one", h2), 0);
	assert_string_not_equal(h, h2);
	assert_int_equal(admin_account_remove(st, "root"), 0);
	assert_int_equal(admin_account_hash(st, "root", h), -ENOENT);
	assert_int_equal(admin_account_check(st, "root", "another one", h2), -EACCES);
	assert_int_equal(admin_account_remove(st, "root"), -ENOENT);
	store_close(st);
	unlink(url);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_find),
		cmocka_unit_test(test_session_ends),
		cmocka_unit_test(test_session_full),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_account_digest),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_accounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
