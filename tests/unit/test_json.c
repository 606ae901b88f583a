/* The JSON writer: nesting, commas, escaping, overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "counters.h"
#include "json.h"

static char buf[1024];
static struct json j;

static void test_nesting(void **state)
{
	json_init(&j, buf, sizeof(buf));
	json_obj_begin(&j, NULL);
	json_str(&j, "name", "alpha");
	json_int(&j, "neg", INT64_MIN);
	json_uint(&j, "big", UINT64_MAX);
	json_bool(&j, "nat", true);
	json_bool(&j, "up", false);
	json_null(&j, "none");
	json_str(&j, "null_str", NULL);
	json_arr_begin(&j, "addrs");
	json_str(&j, NULL, "192.0.2.1:7446");
	json_obj_begin(&j, NULL);
	json_int(&j, "a", 1);
	json_arr_begin(&j, "e");
	json_arr_end(&j);
	json_obj_end(&j);
	json_int(&j, NULL, -1);
	json_arr_end(&j);
	json_obj_begin(&j, "empty");
	json_obj_end(&j);
	json_obj_end(&j);
	assert_int_equal(json_finish(&j), (long)strlen(buf));
	assert_string_equal(buf,
		"{\"name\":\"alpha\",\"neg\":-9223372036854775808,"
		"\"big\":18446744073709551615,\"nat\":true,\"up\":false,\"none\":null,"
		"\"null_str\":null,\"addrs\":[\"192.0.2.1:7446\",{\"a\":1,\"e\":[]},-1],"
		"\"empty\":{}}");

	/* a top-level array */
	json_init(&j, buf, sizeof(buf));
	json_arr_begin(&j, NULL);
	json_arr_end(&j);
	assert_int_equal(json_finish(&j), 2);
	assert_string_equal(buf, "[]");
}

static void test_escaping(void **state)
{
	json_init(&j, buf, sizeof(buf));
	json_obj_begin(&j, NULL);
	json_str(&j, "q\"k", "a\"b\\c/d");
	json_str(&j, "ctl", "\x01\b\n\r\t\x1f\x7f");
	json_str(&j, "", "");
	json_obj_end(&j);
	assert_true(json_finish(&j) > 0);
	assert_string_equal(buf, "{\"q\\\"k\":\"a\\\"b\\\\c/d\","
				 "\"ctl\":\"\\u0001\\u0008\\u000a\\u000d\\u0009\\u001f\x7f\","
				 "\"\":\"\"}");
	/* no raw control character and no unescaped quote ever gets out */
	for (const char *p = buf; *p; p++)
		assert_true((unsigned char)*p >= 0x20);
}

static void test_overflow(void **state)
{
	char small[16];
	long n;

	/* exactly fits (15 characters and the NUL) */
	json_init(&j, small, sizeof(small));
	json_obj_begin(&j, NULL);
	json_str(&j, "abc", "defgh");
	json_obj_end(&j);
	n = json_finish(&j);
	assert_int_equal(n, 15);
	assert_string_equal(small, "{\"abc\":\"defgh\"}");
	/* one more character does not */
	json_init(&j, small, sizeof(small));
	json_obj_begin(&j, NULL);
	json_str(&j, "abc", "defghi");
	json_obj_end(&j);
	assert_int_equal(json_finish(&j), -1);
	assert_true(strlen(small) < sizeof(small));
	/* sticky: later small writes do not clear it */
	json_init(&j, small, sizeof(small));
	json_obj_begin(&j, NULL);
	json_str(&j, "k", "0123456789abcdef");
	json_int(&j, NULL, 1);
	json_obj_end(&j);
	assert_int_equal(json_finish(&j), -1);
	/* an escape sequence that does not fit */
	json_init(&j, small, sizeof(small));
	json_str(&j, NULL, "\x01\x01\x01");
	assert_int_equal(json_finish(&j), -1);
	/* zero capacity */
	json_init(&j, small, 0);
	json_null(&j, NULL);
	assert_int_equal(json_finish(&j), -1);
	json_init(&j, small, 1);
	assert_int_equal(json_finish(&j), 0);
	assert_string_equal(small, "");
	json_null(&j, NULL);
	assert_int_equal(json_finish(&j), -1);
}

static void test_depth_balance(void **state)
{
	/* deeper than JSON_MAX_DEPTH */
	json_init(&j, buf, sizeof(buf));
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_arr_begin(&j, NULL);
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_arr_end(&j);
	assert_int_equal(json_finish(&j), -1);
	/* the deepest allowed */
	json_init(&j, buf, sizeof(buf));
	for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
		json_arr_begin(&j, NULL);
	for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
		json_arr_end(&j);
	assert_int_equal(json_finish(&j), 2 * (JSON_MAX_DEPTH - 1));
	/* unclosed */
	json_init(&j, buf, sizeof(buf));
	json_obj_begin(&j, NULL);
	assert_int_equal(json_finish(&j), -1);
	/* closed once too often: not valid JSON, so not a success */
	json_init(&j, buf, sizeof(buf));
	json_obj_begin(&j, NULL);
	json_obj_end(&j);
	json_obj_end(&j);
	assert_int_equal(json_finish(&j), -1);
}

/* A counter table writes each counter of a stats struct, named once. */
struct two { uint64_t a, b; };

static void test_counters(void **state)
{
	static const struct counter tab[] = {
		COUNTER(struct two, b, "the second"),
		COUNTER(struct two, a, "the first"),
	};
	struct two t = { .a = 7, .b = 18446744073709551615ULL };
	json_init(&j, buf, sizeof(buf));
	json_obj_begin(&j, NULL);
	counters_json(&j, "x", tab, 2, &t);
	json_obj_end(&j);
	assert_true(json_finish(&j) > 0);
	assert_string_equal(buf, "{\"x\":{\"b\":18446744073709551615,\"a\":7}}");
	assert_true(counter_get(&tab[1], &t) == 7);
	assert_string_equal(tab[0].help, "the second");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_depth_balance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
