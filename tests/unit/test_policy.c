/* The access policy (src/policy/policy.c, docs/policy.md): a file parses
 * into rules that decide by name, FQDN, tag or *, and by protocol and
 * port; every malformed line is refused with its number and what is
 * wrong, and yields no policy. */
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

#include "policy.h"

static const struct policy_node cam = { "cam1", "cam1.example.test", "cam,outdoor" };
static const struct policy_node nvr = { "nvr", "nvr.example.test", "nvr" };
static const struct policy_node laptop = { "laptop", "laptop.example.test", "" };
static const struct policy_node admin = { "ops", "ops.example.test", "admin" };

static struct policy *parse_ok(const char *text)
{
	struct policy *p = NULL;
	char err[256] = "";

	if (policy_parse(text, strlen(text), "policy", &p, err, sizeof(err)) < 0)
		fail_msg("refused: %s", err);
	assert_non_null(p);
	return p;
}

static void test_decide(void **state)
{
	struct policy *p = parse_ok("# cameras to recorders, RTSP only\n"
				    "\n"
				    "allow tag:cam tag:nvr tcp/554   # RTSP\n"
				    "allow laptop nvr.example.test tcp/22,8000-8080 udp/5353 icmp\n"
				    "\tallow tag:admin *\n");
	unsigned line = 99;

	(void)state;
	assert_int_equal(policy_rules(p), 3);
	/* A route: any rule naming the pair. */
	assert_true(policy_allows(p, &cam, &nvr, &line));
	assert_int_equal(line, 3);
	assert_false(policy_allows(p, &nvr, &cam, &line));
	assert_int_equal(line, 0);
	assert_false(policy_allows(p, &cam, &laptop, &line));
	assert_true(policy_allows(p, &laptop, &nvr, &line));
	assert_int_equal(line, 4);
	assert_true(policy_allows(p, &admin, &cam, &line));
	assert_int_equal(line, 5);
	assert_true(policy_allows(p, &admin, &admin, &line));
	/* Flows. */
	assert_true(policy_allows_flow(p, &cam, &nvr, 6, 554, &line));
	assert_false(policy_allows_flow(p, &cam, &nvr, 6, 80, &line));
	assert_false(policy_allows_flow(p, &cam, &nvr, 17, 554, &line));
	assert_false(policy_allows_flow(p, &cam, &nvr, 1, 0, &line));
	assert_true(policy_allows_flow(p, &laptop, &nvr, 6, 22, &line));
	assert_true(policy_allows_flow(p, &laptop, &nvr, 6, 8000, &line));
	assert_true(policy_allows_flow(p, &laptop, &nvr, 6, 8080, &line));
	assert_false(policy_allows_flow(p, &laptop, &nvr, 6, 8081, &line));
	assert_false(policy_allows_flow(p, &laptop, &nvr, 6, 21, &line));
	assert_true(policy_allows_flow(p, &laptop, &nvr, 17, 5353, &line));
	assert_true(policy_allows_flow(p, &laptop, &nvr, 1, 0, &line));
	assert_true(policy_allows_flow(p, &laptop, &nvr, 58, 0, &line));   /* ICMPv6 */
	assert_false(policy_allows_flow(p, &laptop, &nvr, 132, 0, &line)); /* SCTP */
	assert_true(policy_allows_flow(p, &admin, &laptop, 132, 9, &line));
	assert_int_equal(line, 5);
	policy_free(p);
	/* No policy: everything; an empty one: nothing. */
	assert_true(policy_allows(NULL, &nvr, &cam, &line));
	assert_true(policy_allows_flow(NULL, &nvr, &cam, 6, 1, &line));
	p = parse_ok("# nothing allowed\n");
	assert_int_equal(policy_rules(p), 0);
	assert_false(policy_allows(p, &admin, &cam, &line));
	policy_free(p);
	/* Tags match whole labels only; names are exact. */
	p = parse_ok("allow tag:cam1 * \nallow tag:door *\nallow cam *\n");
	assert_false(policy_allows(p, &cam, &nvr, &line));
	policy_free(p);
	p = parse_ok("allow tag:outdoor nvr\r\n");   /* CRLF */
	assert_true(policy_allows(p, &cam, &nvr, &line));
	policy_free(p);
}

/* Each line: refused with "policy:LINE: " and what is wrong. */
static void test_hostile(void **state)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *why;
	} bad[] = {
		{ "deny a b\n", 1, "unknown rule 'deny'" },
		{ "\n\nallow a\n", 3, "allow needs FROM and TO" },
		{ "allow\n", 1, "allow needs FROM and TO" },
		{ "allow tag: b\n", 1, "bad tag ''" },
		{ "allow tag:Cam b\n", 1, "bad tag 'Cam'" },
		{ "allow a b/c\n", 1, "TO: 'b/c' is not a node name" },
		{ "allow -a b\n", 1, "FROM: '-a' is not a node name" },
		{ "allow a b sctp\n", 1, "unknown protocol 'sctp'" },
		{ "allow a b icmp/8\n", 1, "only tcp and udp have ports" },
		{ "allow a b any/8\n", 1, "only tcp and udp have ports" },
		{ "allow a b tcp/0\n", 1, "bad port or range '0'" },
		{ "allow a b tcp/65536\n", 1, "bad port or range '65536'" },
		{ "allow a b tcp/99999999999\n", 1, "bad port or range" },
		{ "allow a b tcp/90-80\n", 1, "bad port or range '90-80'" },
		{ "allow a b tcp/80-\n", 1, "bad port or range '80-'" },
		{ "allow a b tcp/-80\n", 1, "bad port or range '-80'" },
		{ "allow a b tcp/\n", 1, "bad port or range ''" },
		{ "allow a b tcp/22,\n", 1, "bad port or range ''" },
		{ "allow a b tcp/1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n", 1,
		  "more than 16 port ranges" },
		{ "allow a b tcp udp icmp any tcp udp icmp any tcp udp icmp any tcp udp icmp any "
		  "tcp\n", 1, "too many items" },
		{ "allow a b\nallow a\x01 b\n", 2, "control character 0x01" },
		{ "allow a b\x80\n", 1, "non-ASCII byte 0x80" },
	};
	struct policy *p;
	char err[256], want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = (struct policy *)1;
		err[0] = '\0';
		assert_int_equal(policy_parse(bad[i].text, strlen(bad[i].text), "policy", &p, err,
					      sizeof(err)), -1);
		assert_null(p);
		snprintf(want, sizeof(want), "policy:%u: ", bad[i].line);
		if (strncmp(err, want, strlen(want)) || !strstr(err, bad[i].why))
			fail_msg("case %zu: '%s', wanted '%s...%s'", i, err, want, bad[i].why);
	}
	/* A NUL byte inside the text (the length counts, not the string). */
	assert_int_equal(policy_parse("allow a\0b c\n", 12, "f", &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "f:1: control character 0x00"));
	/* An overlong line. */
	{
		char *big = malloc(POLICY_LINE_MAX + 16);

		assert_non_null(big);
		memset(big, ' ', POLICY_LINE_MAX + 15);
		memcpy(big, "allow a b", 9);
		big[POLICY_LINE_MAX + 15] = '\0';
		assert_int_equal(policy_parse(big, strlen(big), "f", &p, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "f:1: line longer than"));
		free(big);
	}
	/* A file without a final newline parses; a tiny buffer for the
	 * error is cut, never overrun. */
	p = parse_ok("allow a b");
	assert_int_equal(policy_rules(p), 1);
	policy_free(p);
	assert_int_equal(policy_parse("x", 1, "policy", &p, err, 8), -1);
	assert_int_equal(strlen(err), 7);
}

static void test_load(void **state)
{
	char path[] = "/tmp/cy-policy-XXXXXX", err[256];
	struct policy *p = NULL;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("allow * nvr\nallow x y tcp/1-\n", f);
	fclose(f);
	assert_int_equal(policy_load(path, &p, err, sizeof(err)), -1);
	assert_null(p);
	assert_non_null(strstr(err, ":2: 'tcp/1-': bad port or range '1-'"));
	assert_non_null(strstr(err, path));
	f = fopen(path, "w");
	fputs("allow * nvr\n", f);
	fclose(f);
	assert_int_equal(policy_load(path, &p, err, sizeof(err)), 0);
	assert_int_equal(policy_rules(p), 1);
	policy_free(p);
	unlink(path);
	assert_int_equal(policy_load(path, &p, err, sizeof(err)), -ENOENT);
	assert_int_equal(policy_load("/tmp", &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
}

/* What the data paths get: the items of every rule naming the pair;
 * everything when one rule has no PROTO or says any; too many: the first
 * ones only, unless a later rule allows everything. */
static void test_flows(void **state)
{
	struct policy *p = parse_ok("allow tag:cam tag:nvr tcp/554 udp/5000-5010,6000\n"
				    "allow cam1 nvr icmp\n"
				    "allow laptop nvr\n"
				    "allow ops nvr tcp any\n");
	struct policy_flow f[8];
	bool all;

	(void)state;
	assert_int_equal(policy_flows(p, &cam, &nvr, f, 8, &all), 4);
	assert_false(all);
	assert_true(f[0].proto == 6 && f[0].lo == 554 && f[0].hi == 554);
	assert_true(f[1].proto == 17 && f[1].lo == 5000 && f[1].hi == 5010);
	assert_true(f[2].proto == 17 && f[2].lo == 6000 && f[2].hi == 6000);
	assert_true(f[3].proto == 1 && f[3].lo == 0 && f[3].hi == 65535);
	assert_int_equal(policy_flows(p, &nvr, &cam, f, 8, &all), 0);
	assert_false(all);                                   /* nothing */
	assert_int_equal(policy_flows(p, &laptop, &nvr, f, 8, &all), 0);
	assert_true(all);
	assert_int_equal(policy_flows(p, &admin, &nvr, f, 8, &all), 0);
	assert_true(all);                                    /* "any" */
	assert_int_equal(policy_flows(p, &cam, &nvr, f, 2, &all), -1);
	assert_false(all);
	assert_true(f[0].lo == 554 && f[1].lo == 5000);
	assert_int_equal(policy_flows(NULL, &cam, &nvr, f, 8, &all), 0);
	assert_true(all);
	policy_free(p);
	p = parse_ok("allow * * tcp/1,2,3\nallow * * udp/1\nallow cam1 *\n");
	assert_int_equal(policy_flows(p, &cam, &nvr, f, 2, &all), 0);
	assert_true(all);                                    /* after the overflow */
	policy_free(p);
}

static void test_tags(void **state)
{
	char err[128];
	char big[POLICY_TAGS_MAX + 8];

	(void)state;
	assert_int_equal(policy_tags_check("", err, sizeof(err)), 0);
	assert_int_equal(policy_tags_check("cam", err, sizeof(err)), 0);
	assert_int_equal(policy_tags_check("cam,outdoor,nvr-2", err, sizeof(err)), 0);
	assert_int_equal(policy_tags_check("cam,cam", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "given twice"));
	assert_int_equal(policy_tags_check("a,b,a", err, sizeof(err)), -1);
	assert_int_equal(policy_tags_check("Cam", err, sizeof(err)), -1);
	assert_int_equal(policy_tags_check(",cam", err, sizeof(err)), -1);
	assert_int_equal(policy_tags_check("cam,", err, sizeof(err)), -1);
	assert_int_equal(policy_tags_check("cam,,x", err, sizeof(err)), -1);
	assert_int_equal(policy_tags_check("tag:cam", err, sizeof(err)), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(policy_tags_check(big, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_flows),
		cmocka_unit_test(test_tags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
