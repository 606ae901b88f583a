/* src/adapter/lan/lease.c: the lease table, its file written atomically and
 * read back (surviving a restart), hostile lease files (bad lines skipped,
 * expired ones dropped), MAC parsing, the size cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr.h"
#include "lease.h"

#define NOW 1700000000
#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static char dir[64];
static char path[128];

static int setup(void **state)
{
	strcpy(dir, "/tmp/test_lease.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/gn.leases", dir);
	return 0;
}

static int teardown(void **state)
{
	char tmp[160];

	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	rmdir(dir);
	return 0;
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_table(void **state)
{
	struct lease_table *lt = lease_table_new(NULL);
	uint8_t a[6] = { 2, 0, 0, 0, 0, 1 }, b[6] = { 2, 0, 0, 0, 0, 2 };
	const struct lease *l;

	assert_non_null(lt);
	assert_null(lease_get(lt, a));
	assert_int_equal(lease_left(lt, a, NOW), -1);
	assert_int_equal(lease_set(lt, a, IP(100, 64, 0, 5), NOW + 100, LEASE_BOUND), 0);
	assert_int_equal(lease_set(lt, b, IP(100, 64, 0, 6), NOW + 10, LEASE_OFFERED), 0);
	assert_int_equal(lease_count(lt), 2);
	assert_int_equal(lease_left(lt, a, NOW), 100);
	assert_int_equal(lease_left(lt, b, NOW), -1);          /* not bound */
	assert_int_equal(lease_left(lt, a, NOW + 100), -1);    /* expired */
	l = lease_find_ip(lt, IP(100, 64, 0, 6));
	assert_non_null(l);
	assert_memory_equal(l->mac, b, 6);
	/* replace */
	assert_int_equal(lease_set(lt, b, IP(100, 64, 0, 6), NOW + 50, LEASE_BOUND), 0);
	assert_int_equal(lease_count(lt), 2);
	assert_int_equal(lease_get(lt, b)->expires, NOW + 50);
	assert_int_equal(lease_expire(lt, NOW + 60), 1);
	assert_null(lease_get(lt, b));
	assert_true(lease_release(lt, a));
	assert_false(lease_release(lt, a));
	assert_int_equal(lease_count(lt), 0);
	/* without a path, save and load do nothing */
	assert_int_equal(lease_table_save(lt, NOW), 0);
	assert_int_equal(lease_table_load(lt, NOW), 0);
	lease_table_free(lt);
	lease_table_free(NULL);
}

static void test_cap(void **state)
{
	struct lease_table *lt = lease_table_new(NULL);
	uint8_t m[6] = { 2, 0, 0, 0, 0, 0 };
	int i;

	for (i = 0; i < LEASE_MAX; i++) {
		m[4] = (uint8_t)(i >> 8);
		m[5] = (uint8_t)i;
		assert_int_equal(lease_set(lt, m, (uint32_t)i, NOW + 1, LEASE_BOUND), 0);
	}
	m[3] = 1;
	assert_int_equal(lease_set(lt, m, 1, NOW + 1, LEASE_BOUND), -ENOSPC);
	m[3] = 0;
	assert_int_equal(lease_set(lt, m, 7, NOW + 2, LEASE_BOUND), 0);  /* existing: fine */
	lease_table_free(lt);
}

static void count_cb(void *arg, const struct lease *l)
{
	(*(int *)arg)++;
}

static void test_save_load(void **state)
{
	struct lease_table *lt = lease_table_new(path), *lt2;
	uint8_t a[6] = { 0x02, 0xaa, 0, 0, 0, 1 }, b[6] = { 0x02, 0xbb, 0, 0, 0, 2 };
	uint8_t c[6] = { 0x02, 0xcc, 0, 0, 0, 3 };
	struct stat st;
	char buf[512];
	FILE *f;
	size_t n;
	int cnt = 0;

	/* a missing file is an empty table */
	assert_int_equal(lease_table_load(lt, NOW), 0);
	assert_int_equal(lease_count(lt), 0);

	lease_set(lt, a, IP(100, 64, 0, 5), NOW + 3600, LEASE_BOUND);
	lease_set(lt, b, IP(100, 64, 0, 6), NOW + 60, LEASE_OFFERED);   /* not written */
	lease_set(lt, c, IP(100, 64, 0, 7), NOW - 1, LEASE_BOUND);      /* expired: not */
	assert_int_equal(lease_table_save(lt, NOW), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(buf, sizeof(buf), "%s.tmp", path);
	assert_int_equal(access(buf, F_OK), -1);

	f = fopen(path, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "02:aa:00:00:00:01 100.64.0.5 1700003600\n"));
	assert_null(strstr(buf, "02:bb"));
	assert_null(strstr(buf, "02:cc"));

	/* a restart: a new table reads it back */
	lt2 = lease_table_new(path);
	assert_int_equal(lease_table_load(lt2, NOW + 10), 0);
	assert_int_equal(lease_count(lt2), 1);
	assert_int_equal(lease_left(lt2, a, NOW + 10), 3590);
	assert_int_equal(lease_get(lt2, a)->vip4, IP(100, 64, 0, 5));
	lease_foreach(lt2, count_cb, &cnt);
	assert_int_equal(cnt, 1);
	/* ... but not after it expired */
	lease_table_free(lt2);
	lt2 = lease_table_new(path);
	assert_int_equal(lease_table_load(lt2, NOW + 3600), 0);
	assert_int_equal(lease_count(lt2), 0);
	lease_table_free(lt2);
	lease_table_free(lt);
}

/* The file says what it holds. */
static bool file_has(const char *what)
{
	char buf[512];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

/* Changes are saved at once, then at most once per LEASE_SAVE_GAP_S: a
 * flood of renewals does not write (and wait for) the disk per message;
 * what waits is saved by the tick after the gap, or at exit. */
static void test_save_coalesced(void **state)
{
	struct lease_table *lt = lease_table_new(path);
	uint8_t a[6] = { 0x02, 0xaa, 0, 0, 0, 1 }, b[6] = { 0x02, 0xbb, 0, 0, 0, 2 };
	uint8_t c[6] = { 0x02, 0xcc, 0, 0, 0, 3 };

	lease_set(lt, a, IP(100, 64, 0, 5), NOW + 3600, LEASE_BOUND);
	lease_table_changed(lt, NOW);
	assert_true(file_has("02:aa:00:00:00:01"));
	assert_false(lease_table_dirty(lt));
	for (int i = 0; i < 1000; i++) {                   /* renewals */
		lease_set(lt, b, IP(100, 64, 0, 6), NOW + 3600 + i, LEASE_BOUND);
		lease_table_changed(lt, NOW + 1);
	}
	assert_false(file_has("02:bb"));
	assert_true(lease_table_dirty(lt));
	lease_table_flush(lt, NOW + LEASE_SAVE_GAP_S - 1, false);
	assert_false(file_has("02:bb"));
	lease_table_flush(lt, NOW + LEASE_SAVE_GAP_S, false);
	assert_true(file_has("02:bb:00:00:00:02 100.64.0.6 1700004599"));
	assert_false(lease_table_dirty(lt));
	/* nothing changed: nothing written */
	unlink(path);
	lease_table_flush(lt, NOW + 3 * LEASE_SAVE_GAP_S, true);
	assert_false(file_has("02:aa"));
	/* at exit, what waits is saved at once */
	lease_table_changed(lt, NOW + 3 * LEASE_SAVE_GAP_S);
	lease_set(lt, c, IP(100, 64, 0, 7), NOW + 3600, LEASE_BOUND);
	lease_table_changed(lt, NOW + 3 * LEASE_SAVE_GAP_S + 1);
	assert_false(file_has("02:cc"));
	lease_table_flush(lt, NOW + 3 * LEASE_SAVE_GAP_S + 1, true);
	assert_true(file_has("02:cc"));
	lease_table_free(lt);
}

static void test_hostile_file(void **state)
{
	struct lease_table *lt = lease_table_new(path);
	char big[600];
	uint8_t m[6];

	memset(big, 'a', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	write_file("# comment\n"
		   "\n"
		   "   \t\n"
		   "02:00:00:00:00:01 100.64.0.1 1800000000\n"       /* good */
		   "02:00:00:00:00:02 100.64.0.2\n"                  /* 2 fields */
		   "02:00:00:00:00:03 100.64.0.3 1800000000 x\n"     /* 4 fields */
		   "02:00:00:00:00:04 100.64.0.256 1800000000\n"     /* bad IP */
		   "02:00:00:00:00 100.64.0.5 1800000000\n"          /* bad MAC */
		   "02:00:00:00:00:06 100.64.0.6 18x\n"              /* bad time */
		   "02:00:00:00:00:07 100.64.0.7 -5\n"               /* negative */
		   "02:00:00:00:00:08 100.64.0.8 99999999999999999999999\n" /* overflow */
		   "02:00:00:00:00:09 100.64.0.9 1000\n"             /* expired */
		   "\t02:00:00:00:00:0a\t100.64.0.10\t1800000000\r\n" /* tabs, CRLF: fine */
		   );
	{
		FILE *f = fopen(path, "a");

		fputs(big, f);                                   /* too long */
		fputs("02:00:00:00:00:0b 100.64.0.11 1800000000", f); /* no final newline */
		fclose(f);
	}
	assert_int_equal(lease_table_load(lt, NOW), 0);
	assert_int_equal(lease_count(lt), 3);
	cy_mac_parse("02:00:00:00:00:01", m);
	assert_non_null(lease_get(lt, m));
	cy_mac_parse("02:00:00:00:00:0a", m);
	assert_int_equal(lease_get(lt, m)->vip4, IP(100, 64, 0, 10));
	cy_mac_parse("02:00:00:00:00:0b", m);
	assert_int_equal(lease_get(lt, m)->state, LEASE_BOUND);
	lease_table_free(lt);

	/* binary junk */
	{
		FILE *f = fopen(path, "w");
		unsigned i;

		for (i = 0; i < 4096; i++)
			fputc((int)((i * 2654435761u) >> 13) & 0xff, f);
		fclose(f);
	}
	lt = lease_table_new(path);
	assert_int_equal(lease_table_load(lt, NOW), 0);
	lease_table_free(lt);

	/* unreadable: a directory */
	lt = lease_table_new(dir);
	assert_true(lease_table_load(lt, NOW) < 0);
	lease_table_free(lt);
	/* unwritable */
	lt = lease_table_new("/nonexistent-dir/x.leases");
	assert_true(lease_table_save(lt, NOW) < 0);
	lease_table_free(lt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_cap),
		cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_coalesced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
