/* The table-driven INI loader: every refusal names FILE:LINE and the
 * reason; multi-line values are joined with '\n'; nothing leaks on
 * failure (LSan checks that in the sanitizer build). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "heapscan.h"
#include "conf.h"

struct obj {
	char name[16];
	char *pem;
	int port;
	bool flag;
	char mode[8];
	char *note;
	char *pem2;
	int count;
	bool has_main, has_extra;
};

static int parse_mode(void *o, const char *v, char *err, size_t errlen)
{
	struct obj *ob = o;

	if (strcmp(v, "fast") && strcmp(v, "slow")) {
		snprintf(err, errlen, "must be fast or slow");
		return -1;
	}
	snprintf(ob->mode, sizeof(ob->mode), "%s", v);
	return 0;
}

static const struct conf_section sections[] = {
	{ "main", offsetof(struct obj, has_main) },
	{ "extra", offsetof(struct obj, has_extra) },
	{ "quiet", (size_t)-1 },
};

static const struct conf_key keys[] = {
	{ "main", "name", CONF_STR, offsetof(struct obj, name), sizeof(((struct obj *)0)->name),
	  0, 0, true, NULL },
	{ "main", "pem", CONF_TEXT, offsetof(struct obj, pem), 0, 0, 0, false, NULL },
	{ "main", "port", CONF_INT, offsetof(struct obj, port), 0, 1, 65535, true, NULL },
	{ "main", "flag", CONF_BOOL, offsetof(struct obj, flag), 0, 0, 0, false, NULL },
	{ "main", "mode", CONF_FN, 0, 0, 0, 0, false, parse_mode },
	{ "extra", "note", CONF_TEXT, offsetof(struct obj, note), 0, 0, 0, false, NULL },
	{ "extra", "count", CONF_INT, offsetof(struct obj, count), 0, -5, 5, false, NULL },
	/* same name as in [main], to catch continuation mix-ups by name */
	{ "extra", "pem", CONF_TEXT, offsetof(struct obj, pem2), 0, 0, 0, false, NULL },
	{ "quiet", "x", CONF_INT, offsetof(struct obj, count), 0, 0, 9, false, NULL },
};

static const struct conf_schema schema = {
	sections, CONF_ARRAY_LEN(sections), keys, CONF_ARRAY_LEN(keys),
};

static struct obj o;
static char err[512];

static int load(const char *text)
{
	memset(&o, 0, sizeof(o));
	memset(err, 0, sizeof(err));
	return conf_load_string("t.conf", text, &schema, &o, err, sizeof(err));
}

/* Refused, with "t.conf:LINE: " and the reason in the message. */
static void refused(const char *text, int line, const char *why)
{
	char want[64];

	assert_int_equal(load(text), -1);
	if (line > 0)
		snprintf(want, sizeof(want), "t.conf:%d: ", line);
	else
		snprintf(want, sizeof(want), "t.conf: ");
	if (strncmp(err, want, strlen(want)) || !strstr(err, why))
		fail_msg("for\n%s\nwant '%s...%s', got '%s'", text, want, why, err);
	/* nothing allocated survives a failure */
	assert_null(o.pem);
	assert_null(o.note);
	assert_null(o.pem2);
}

static void test_good(void **state)
{
	const char *text =
		"# a comment\n"
		"; another\n"
		"\n"
		"[main]\n"
		"name = alpha\n"
		"port = 7446   ; inline comment\n"
		"flag = yes\n"
		"mode = fast\n"
		"pem = -----BEGIN CERTIFICATE-----\n"
		"  MIIBszCCAVmgAwIBAgIU\n"
		"\tAAAA+/==\n"
		"  -----END CERTIFICATE-----\n"
		"[extra]\n"
		"count = -5\n"
		"note = one line\n";

	assert_int_equal(load(text), 0);
	assert_string_equal(o.name, "alpha");
	assert_int_equal(o.port, 7446);
	assert_true(o.flag);
	assert_string_equal(o.mode, "fast");
	assert_string_equal(o.pem, "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n"
				   "AAAA+/==\n-----END CERTIFICATE-----");
	assert_int_equal(o.count, -5);
	assert_string_equal(o.note, "one line");
	assert_true(o.has_main);
	assert_true(o.has_extra);
	conf_free(&schema, &o);
	assert_null(o.pem);
	assert_null(o.note);
	conf_free(&schema, &o); /* twice is harmless */

	/* required keys only, CRLF line ends, no newline at the end */
	assert_int_equal(load("[main]\r\nname = b\r\nport = 1"), 0);
	assert_string_equal(o.name, "b");
	assert_int_equal(o.port, 1);
	assert_false(o.has_extra);
	assert_null(o.pem);
	/* an indented line that looks like a header still continues a value */
	assert_int_equal(load("[main]\nname=b\nport=2\npem = A\n  [B]\n# c\n  C\n"), 0);
	assert_string_equal(o.pem, "A\n[B]\nC");
	conf_free(&schema, &o);
	/* a section without its own present flag */
	assert_int_equal(load("[main]\nname=b\nport=65535\n[quiet]\nx=9\n"), 0);
	assert_int_equal(o.count, 9);
	assert_int_equal(o.port, 65535);
}

static void test_bools_ints(void **state)
{
	static const char *yes[] = { "yes", "true", "on", "1", "YES", "True" };
	static const char *no[] = { "no", "false", "off", "0", "NO", "Off" };
	char text[128];

	for (size_t i = 0; i < 6; i++) {
		snprintf(text, sizeof(text), "[main]\nname=a\nport=2\nflag=%s\n", yes[i]);
		assert_int_equal(load(text), 0);
		assert_true(o.flag);
		snprintf(text, sizeof(text), "[main]\nname=a\nport=2\nflag=%s\n", no[i]);
		o.flag = true;
		assert_int_equal(load(text), 0);
		assert_false(o.flag);
	}
	refused("[main]\nname=a\nport=2\nflag = maybe\n", 4, "'flag' must be yes or no, not 'maybe'");
	refused("[main]\nname=a\nport=2\nflag = 2\n", 4, "'flag' must be yes or no");
	refused("[main]\nname=a\nport=2\nflag =\n", 4, "'flag' must be yes or no");

	refused("[main]\nname=a\nport=abc\n", 3, "'port' must be an integer from 1 to 65535");
	refused("[main]\nname=a\nport=12x\n", 3, "not '12x'");
	refused("[main]\nname=a\nport=\n", 3, "'port' must be an integer");
	refused("[main]\nname=a\nport=0\n", 3, "from 1 to 65535");
	refused("[main]\nname=a\nport=65536\n", 3, "from 1 to 65535");
	refused("[main]\nname=a\nport=-1\n", 3, "from 1 to 65535");
	refused("[main]\nname=a\nport=99999999999999999999999\n", 3, "from 1 to 65535");
	refused("[main]\nname=a\nport=1.5\n", 3, "from 1 to 65535");
	refused("[main]\nname=a\nport=2\n[extra]\ncount=-6\n", 5, "from -5 to 5");
	refused("[main]\nname=a\nport=2\n[extra]\ncount=6\n", 5, "from -5 to 5");
	assert_int_equal(load("[main]\nname=a\nport=2\n[extra]\ncount=5\n"), 0);
	assert_int_equal(o.count, 5);
	refused("[main]\nname=a\nport=2\nmode=medium\n", 4, "'mode': must be fast or slow");
}

static void test_refusals(void **state)
{
	refused("[nope]\nx = 1\n", 2, "unknown section [nope]");
	refused("name = a\n[main]\n", 1, "key 'name' outside any section");
	refused("[main]\nname = a\nport = 2\nbogus = 1\n", 4, "unknown key 'bogus' in [main]");
	refused("[main]\nname = a\nport = 2\n[extra]\nname = a\n", 5,
		"unknown key 'name' in [extra]");
	refused("[main]\nname = a\nport = 2\nname = b\n", 4, "duplicate key 'name' in [main]");
	refused("[main]\nname = a\nport = 2\n[main]\nport = 3\n", 5,
		"duplicate key 'port' in [main]");
	/* a CONF_TEXT key given twice: a second 'key = value' line is a
	 * duplicate, not a continuation, also right after the first */
	refused("[main]\nname = a\nport = 2\npem = A\npem = B\n", 5, "duplicate key 'pem'");
	refused("[main]\nname = a\npem = A\n  A2\nport = 2\npem = B\n", 6, "duplicate key 'pem'");
	refused("[main]\nname = a\npem = A\n[main]\npem = B\n", 5, "duplicate key 'pem'");
	refused("[main]\nname = a\npem = A\n[main]\n  pem = B\n", 5, "duplicate key 'pem'");
	/* [main] pem, then [extra] pem (same name), then [main] pem again */
	refused("[main]\nname=a\nport=2\npem=A\n[extra]\npem=B\n[main]\npem=C\n", 8,
		"duplicate key 'pem'");
	/* a continuation line under a key that is not multi-line */
	refused("[main]\nname = a\n  b\nport = 2\n", 3, "'name' takes no continuation lines");
	refused("[main]\npem = A\nport = 2\n  B\nname = a\n", 4, "'port' takes no continuation");
	/* too long for its CONF_STR (15 characters fit in 16) */
	assert_int_equal(load("[main]\nname = 123456789012345\nport=2\n"), 0);
	refused("[main]\nname = 1234567890123456\nport=2\n", 2,
		"value of 'name' is too long (at most 15)");
	/* missing required keys: no line number */
	refused("[main]\nname = a\n", 0, "missing key 'port' in [main]");
	refused("", 0, "missing key 'name' in [main]");
	refused("[extra]\ncount = 1\n", 0, "missing key");
	/* syntax errors */
	refused("[main]\nname = a\nthis is not ini\nport = 2\n", 3, "syntax error");
	refused("[main\nname = a\nport = 2\n", 1, "syntax error");
	refused("[main]\nname = a\nport = 2\n=\n", 4, "");
}

static void test_line_numbers(void **state)
{
	/* the first error wins, whichever kind it is */
	refused("[main]\nname = a\nnot ini\nbogus = 1\nport = 2\n", 3, "syntax error");
	refused("[main]\nname = a\nbogus = 1\nnot ini\nport = 2\n", 3, "unknown key 'bogus'");
	refused("[main]\nname = a\n\n\nnot ini\n\nport = x\n", 5, "syntax error");
	refused("[main]\nname = a\nport = x\n\nnot ini\n", 3, "'port' must be an integer");
	/* after continuation lines the count is still right */
	refused("[main]\nname = a\npem = A\n  B\n  C\n\n  D\nport = x\n", 8, "'port'");
	refused("[main]\nname = a\npem = A\n  B\n  C\nbogus = 1\n", 6, "unknown key 'bogus'");
	refused("[main]\npem = A\n  B\n  C\nnot ini\nport = 2\nname = a\n", 5, "syntax error");
	/* found by fuzz_conf: a broken header keeps the section before it,
	 * and the values stored so far are freed with the failure */
	refused("# comment\n[main]\nname = alpha\nport = 7446 ; inline\nflag = on\n"
		"mode = fast\npem = -----BEGIN CERTIF-----\n  MIU\n"
		"  -----END CERTIFICATE-----\n[extra]\ncount = -5\nnote = x\n[quiest\n"
		"pem = -----BEGIN CERTIF-----\n  MIU\n  -----END CERTIFICATE-----\n[extra]\n"
		"count t]\nx = 9\n", 13, "syntax error");
	/* comments and blank lines count */
	refused("# c\n\n; c\n[main]\n\n# c\nname = a\nport = 0\n", 8, "'port'");
}

static void test_long_lines(void **state)
{
	char text[1024];
	char v[400];

	/* a line longer than inih's buffer is refused, not cut */
	memset(v, 'x', sizeof(v));
	v[250] = '\0';
	snprintf(text, sizeof(text), "[main]\nname = a\npem = %s\nport = 2\n", v);
	refused(text, 3, "line longer than");
	snprintf(text, sizeof(text), "[main]\nname = a\npem = A\n  %s\nport = 2\n", v);
	refused(text, 4, "line longer than");
	/* a syntax error before the long line wins */
	snprintf(text, sizeof(text), "[main]\nnot ini\npem = %s\nport = 2\n", v);
	refused(text, 2, "syntax error");
	/* long line at the very end, with no newline */
	snprintf(text, sizeof(text), "[main]\nname = a\nport = 2\npem = %s", v);
	refused(text, 4, "line longer than");
	/* the longest line that fits: 198 characters */
	v[198 - strlen("pem = ")] = '\0';
	snprintf(text, sizeof(text), "[main]\nname = a\npem = %s\nport = 2\n", v);
	assert_int_equal(load(text), 0);
	assert_int_equal(strlen(o.pem), 198 - strlen("pem = "));
	conf_free(&schema, &o);
	snprintf(text, sizeof(text), "[main]\nname = a\npem = %sx\nport = 2\n", v);
	refused(text, 3, "line longer than");
}

static void test_text_limits(void **state)
{
	size_t cap = 20000 * 8 + 64, len = 0;
	char *text = malloc(cap);

	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "[main]\nname = a\nport = 2\npem = A\n");
	/* 16 KiB of continuation lines: refused on the line that crosses it */
	for (int i = 0; i < 20000 && len + 8 < cap; i++)
		len += (size_t)snprintf(text + len, cap - len, "  %04d\n", i % 10000);
	/* "A" + n * "\nNNNN": crosses 16384 at n = 3277, line 4 + 3277 */
	refused(text, 4 + 3277, "value of 'pem' is too long");
	free(text);
}

static void test_small_err(void **state)
{
	char small[8];

	memset(&o, 0, sizeof(o));
	memset(small, 'Z', sizeof(small));
	assert_int_equal(conf_load_string("t.conf", "[nope]\nx=1\n", &schema, &o, small,
					  sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "t.conf:", 7);
}

static void test_file(void **state)
{
	char path[] = "/tmp/cy_test_conf_XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	char v[300];

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("[main]\nname = filed\npem = L1\n  L2\nport = 9\n", f);
	fclose(f);
	memset(&o, 0, sizeof(o));
	assert_int_equal(conf_load_file(path, &schema, &o, err, sizeof(err)), 0);
	assert_string_equal(o.name, "filed");
	assert_string_equal(o.pem, "L1\nL2");
	assert_int_equal(o.port, 9);
	conf_free(&schema, &o);

	/* errors from a file carry its path and line */
	f = fopen(path, "w");
	assert_non_null(f);
	memset(v, 'y', sizeof(v));
	v[sizeof(v) - 1] = '\0';
	fprintf(f, "[main]\nname = a\npem = A\n  B\nnote = %s\n", "x");
	fclose(f);
	memset(&o, 0, sizeof(o));
	assert_int_equal(conf_load_file(path, &schema, &o, err, sizeof(err)), -1);
	{
		char want[128];
		snprintf(want, sizeof(want), "%s:5: unknown key 'note' in [main]", path);
		assert_string_equal(err, want);
	}
	assert_null(o.pem);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "[main]\nname = a\npem = A\n  %s\nport = 2\n", v);
	fclose(f);
	memset(&o, 0, sizeof(o));
	assert_int_equal(conf_load_file(path, &schema, &o, err, sizeof(err)), -1);
	{
		char want[128];
		snprintf(want, sizeof(want), "%s:4: line longer than", path);
		assert_memory_equal(err, want, strlen(want));
	}
	assert_null(o.pem);
	unlink(path);

	/* missing file */
	memset(&o, 0, sizeof(o));
	assert_int_equal(conf_load_file(path, &schema, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "cannot open"));
	assert_non_null(strstr(err, strerror(ENOENT)));
}

/* path (created or truncated) holds text and has exactly mode. */
static void write_mode(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

/* The test schema with [main] pem marked secret. */
static const struct conf_key secret_keys[] = {
	{ "main", "name", CONF_STR, offsetof(struct obj, name), sizeof(((struct obj *)0)->name),
	  0, 0, true, NULL },
	{ "main", "pem", CONF_SECRET, offsetof(struct obj, pem), 0, 0, 0, false, NULL },
	{ "main", "port", CONF_INT, offsetof(struct obj, port), 0, 1, 65535, false, NULL },
};

static const struct conf_schema secret_schema = {
	sections, CONF_ARRAY_LEN(sections), secret_keys, CONF_ARRAY_LEN(secret_keys),
};

static void test_secret_file_readable_by_others_refused(void **state)
{
	static const char text[] = "[main]\nname = n\npem = -----BEGIN PRIVATE KEY-----\n"
				   "  MC4CAQAwBQYDK2VwBCIEIA\n";
	static const struct {
		mode_t mode;
		const char *who;     /* NULL: accepted */
	} cases[] = {
		{ 0644, "others" }, { 0604, "others" }, { 0640, "its group" },
		{ 0440, "its group" }, { 0600, NULL }, { 0400, NULL },
	};
	char dir[] = "/tmp/cy_test_conf_XXXXXX", path[64], want[160];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret.conf", dir);
	for (size_t i = 0; i < CONF_ARRAY_LEN(cases); i++) {
		write_mode(path, text, cases[i].mode);
		memset(&o, 0, sizeof(o));
		memset(err, 0, sizeof(err));
		if (!cases[i].who) {
			assert_int_equal(conf_load_file(path, &secret_schema, &o, err, sizeof(err)),
					 0);
			assert_string_equal(o.pem,
					    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA");
			conf_free(&secret_schema, &o);
			continue;
		}
		assert_int_equal(conf_load_file(path, &secret_schema, &o, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s: mode %04o lets %s read a secret; chmod 600",
			 path, (unsigned)cases[i].mode, cases[i].who);
		assert_string_equal(err, want);
		assert_null(o.pem); /* loaded, then wiped and freed again */
	}
	/* a loose file that sets no secret key is fine */
	write_mode(path, "[main]\nname = n\nport = 5\n", 0644);
	memset(&o, 0, sizeof(o));
	assert_int_equal(conf_load_file(path, &secret_schema, &o, err, sizeof(err)), 0);
	assert_int_equal(o.port, 5);
	/* a string has no mode: the secret loads */
	memset(&o, 0, sizeof(o));
	assert_int_equal(conf_load_string("s.conf", text, &secret_schema, &o, err, sizeof(err)),
			 0);
	conf_free(&secret_schema, &o);

	/* the helpers for key files */
	assert_int_equal(conf_secret_path_check(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mode 0644 lets others read a secret; chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(conf_secret_path_check(path, err, sizeof(err)), 0);
	{
		size_t len;
		char *t = conf_secret_read(path, 100, &len, err, sizeof(err));

		assert_non_null(t);
		assert_int_equal(len, strlen("[main]\nname = n\nport = 5\n"));
		assert_string_equal(t, "[main]\nname = n\nport = 5\n");
		conf_secret_free(t, len);
		assert_null(conf_secret_read(path, len - 1, &len, err, sizeof(err)));
		assert_non_null(strstr(err, "longer than"));
		assert_int_equal(chmod(path, 0640), 0);
		assert_null(conf_secret_read(path, 100, &len, err, sizeof(err)));
		assert_non_null(strstr(err, "mode 0640 lets its group read a secret"));
	}
	unlink(path);
	assert_int_equal(conf_secret_path_check(path, err, sizeof(err)), 0); /* missing */
	rmdir(dir);
}

#if HEAPSCAN
/* A private key in a config file leaves no copy in freed memory: not in a
 * stdio buffer, not in a buffer a continuation line outgrew. */
static void test_file_secret_leaves_no_freed_copy(void **state)
{
	char path[] = "/tmp/cy_test_conf_XXXXXX", text[2048];
	size_t off;
	int fd;

	(void)state;
	/* nothing is trimmed off the heap or served by mmap, so freed
	 * blocks stay where the scan looks */
	heapscan_prepare();
	off = (size_t)snprintf(text, sizeof(text), "[main]\nname = k\nport = 1\npem = BEGIN\n");
	for (int i = 0; i < 24; i++)   /* a value that outgrows its buffer many times */
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"  line%02d-Zq7wSecretMaterialXk%02d-padpadpadpadpad\n", i, i);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, off), (ssize_t)off);
	close(fd);
	memset(text, 0, sizeof(text));

	memset(&o, 0, sizeof(o));
	assert_int_equal(conf_load_file(path, &schema, &o, err, sizeof(err)), 0);
	assert_non_null(strstr(o.pem, "line23-Zq7wSecretMaterialXk23"));
	assert_true(heapscan_holds("Zq7wSecretMaterialXk23", strlen("Zq7wSecretMaterialXk23"))); /* the scan sees live values */
	conf_free(&schema, &o);
	unlink(path);
	for (int i = 0; i < 24; i++) {
		char needle[32];

		snprintf(needle, sizeof(needle), "Zq7wSecretMaterialXk%02d", i);
		if (heapscan_holds(needle, strlen(needle)))
			fail_msg("'%s' is still in freed heap memory", needle);
	}

	/* the same from a string (on the stack here): only the loader's own
	 * buffers could leave a copy, the ones continuation lines outgrow */
	off = (size_t)snprintf(text, sizeof(text), "[main]\nname = k\nport = 1\npem = BEGIN\n");
	for (int i = 0; i < 24; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"  line%02d-Yp3vSecretMaterialQj%02d-padpadpadpadpad\n", i, i);
	memset(&o, 0, sizeof(o));
	assert_int_equal(conf_load_string("s.conf", text, &schema, &o, err, sizeof(err)), 0);
	memset(text, 0, sizeof(text));
	assert_true(heapscan_holds("Yp3vSecretMaterialQj23", strlen("Yp3vSecretMaterialQj23")));
	conf_free(&schema, &o);
	for (int i = 0; i < 24; i++) {
		char needle[32];

		snprintf(needle, sizeof(needle), "Yp3vSecretMaterialQj%02d", i);
		if (heapscan_holds(needle, strlen(needle)))
			fail_msg("'%s' is still in freed heap memory (string)", needle);
	}
}
#endif

static void test_helpers(void **state)
{
	long n;
	bool b;

	assert_true(conf_parse_long("42", 0, 100, &n));
	assert_int_equal(n, 42);
	assert_true(conf_parse_long("-7", -7, 0, &n));
	assert_false(conf_parse_long("", 0, 100, &n));
	assert_false(conf_parse_long("101", 0, 100, &n));
	assert_false(conf_parse_long("4 2", 0, 100, &n));
	assert_false(conf_parse_long("0x10", 0, 100, &n));
	assert_false(conf_parse_long("9223372036854775808", 0, 100, &n));
	assert_true(conf_parse_bool("On", &b) && b);
	assert_true(conf_parse_bool("0", &b) && !b);
	assert_false(conf_parse_bool("", &b));
	assert_false(conf_parse_bool("yess", &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bools_ints),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_line_numbers),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_text_limits),
		cmocka_unit_test(test_small_err),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_secret_file_readable_by_others_refused),
#if HEAPSCAN
		cmocka_unit_test(test_file_secret_leaves_no_freed_copy),
#endif
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
