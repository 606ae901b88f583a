/* libFuzzer: what the web console reads from a request before any check
 * (src/cloud/console): the Cookie header (console_cookie_value), the
 * session token in it (console_session_find), the form body
 * (evhttp_parse_query_str) and the CSRF header.  The input is
 * "COOKIE\nCSRF\nBODY".  A token never finds a session unless it is that
 * session's own, a CSRF value never passes unless it is the session's,
 * and nothing reads out of bounds. */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "console_session.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

static char *part(const uint8_t **data, size_t *size)
{
	const uint8_t *nl = memchr(*data, '\n', *size);
	size_t n = nl ? (size_t)(nl - *data) : *size;
	char *s = malloc(n + 1);

	memcpy(s, *data, n);
	s[n] = '\0';
	*data += nl ? n + 1 : n;
	*size -= nl ? n + 1 : n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct console_sessions t;
	static char id[CONSOLE_TOKEN_HEX];
	static struct console_session *mine;
	char *cookie = part(&data, &size), *csrf = part(&data, &size), *body = part(&data, &size);
	char v[CONSOLE_TOKEN_HEX + 1];
	struct evkeyvalq form;

	if (!mine) {
		static const uint8_t account[CONSOLE_TOKEN_LEN];

		mine = console_session_new(&t, "root", account, 1, id);
	}
	check(mine != NULL);
	if (console_cookie_value(cookie, "__Host-cy_session", v, sizeof(v))) {
		struct console_session *s = console_session_find(&t, v, 2, size & 1);

		check(!s || (s == mine && !strcmp(v, id)));
	}
	check(!console_session_csrf_ok(mine, csrf) || !strcmp(csrf, mine->csrf));
	TAILQ_INIT(&form);
	if (evhttp_parse_query_str(body, &form) == 0) {
		(void)evhttp_find_header(&form, "name");
		(void)evhttp_find_header(&form, "reason");
	}
	evhttp_clear_headers(&form);
	free(cookie);
	free(csrf);
	free(body);
	return 0;
}
