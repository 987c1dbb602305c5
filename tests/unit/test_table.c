/*
 * Unit test of common/table.c: time arguments and stamps, the escaping
 * of TSV and JSON values (every control character and malformed byte),
 * and whole lines as written to stdout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "table.h"
#include "util.h"

/* 2026-11-21T01:02:03.456Z */
#define T_2026	INT64_C(1795222923456)

static int
time_is(const char *s, int64_t now, int64_t want)
{
	int64_t t = -42;

	return table_parse_time("--since", s, now, &t) == 0 && t == want;
}

static int
time_refused(const char *s)
{
	int64_t t = -42;

	return table_parse_time("--since", s, 0, &t) == -1 && t == -42;
}

static void
test_parse_time(void)
{
	CHECK(time_is("2026-11-21T01:02:03.456Z", 0, T_2026));
	CHECK(time_is("2025-11-21T01:02:03.456Z", 0,
	    INT64_C(1763686923456)));
	CHECK(time_is("2026-11-21", 0, INT64_C(1795219200000)));
	CHECK(time_is("2026-11-21T01:02:03Z", 0, T_2026 - 456));
	CHECK(time_is("2026-11-21T01:02:03.4Z", 0, T_2026 - 56));
	CHECK(time_is("2026-11-21T01:02:03.45Z", 0, T_2026 - 6));
	CHECK(time_is("2026-11-21T01:02:03.007Z", 0, T_2026 - 449));
	CHECK(time_is("1970-01-01", 0, 0));
	CHECK(time_is("2024-02-29", 0, INT64_C(1709164800000)));
	CHECK(time_is("15m", 1000000000, 1000000000 - 900000));
	CHECK(time_is("30s", 1000000000, 1000000000 - 30000));
	CHECK(time_is("2h", 1000000000, 1000000000 - 7200000));

	CHECK(time_refused("2026-02-30"));
	CHECK(time_refused("2025-02-29"));
	CHECK(time_refused("2026-13-01"));
	CHECK(time_refused("2026-11-21T25:00:00Z"));
	CHECK(time_refused("2026-11-21T01:60:00Z"));
	CHECK(time_refused("2026-11-21T01:02:03"));
	CHECK(time_refused("2026-11-21T01:02:03.Z"));
	CHECK(time_refused("2026-11-21T01:02:03.4567Z"));
	CHECK(time_refused("2026-11-21T01:02:03Zx"));
	CHECK(time_refused("2026-11-21x"));
	CHECK(time_refused("2026-1-21"));
	CHECK(time_refused("15"));
	CHECK(time_refused("15x"));
	CHECK(time_refused("yesterday"));
	CHECK(time_refused(""));
}

static const char *
stamp(int64_t ms)
{
	static char s[TABLE_TIME_LEN];

	memset(s, 'X', sizeof(s));
	table_time(s, sizeof(s), ms);
	return s;
}

static void
test_time(void)
{
	CHECK_STR(stamp(T_2026), "2026-11-21T01:02:03.456Z");
	CHECK(strlen(stamp(T_2026)) + 1 == TABLE_TIME_LEN);
	CHECK_STR(stamp(0), "1970-01-01T00:00:00.000Z");
	CHECK_STR(stamp(-1), "1969-12-31T23:59:59.999Z");
	CHECK_STR(stamp(-1000), "1969-12-31T23:59:59.000Z");
	CHECK_STR(stamp(-1001), "1969-12-31T23:59:58.999Z");
	CHECK_STR(stamp(T_2026 + 1), "2026-11-21T01:02:03.457Z");
	/* The date is kept from one call to the next: across days too. */
	CHECK_STR(stamp(86399999), "1970-01-01T23:59:59.999Z");
	CHECK_STR(stamp(86400000), "1970-01-02T00:00:00.000Z");
	CHECK_STR(stamp(T_2026), "2026-11-21T01:02:03.456Z");
	CHECK_STR(stamp(-86400001), "1969-12-30T23:59:59.999Z");
	/* Year 10000: the number. */
	CHECK_STR(stamp(INT64_C(253402300800000)), "253402300800000");
}

static const char *
tsv(const char *v)
{
	static struct buf b;	/* zero: as buf_init() leaves it */

	buf_reset(&b);
	table_add_tsv(&b, v);
	return b.data ? b.data : "";
}

static const char *
json(const char *v)
{
	static struct buf b;	/* zero: as buf_init() leaves it */

	buf_reset(&b);
	table_add_json(&b, v);
	return b.data ? b.data : "";
}

static void
test_tsv(void)
{
	CHECK_STR(tsv(""), "");
	CHECK_STR(tsv("plain text ~!"), "plain text ~!");
	CHECK_STR(tsv("a\tb\nc\\d\re"), "a\\tb\\nc\\\\d\\re");
	CHECK_STR(tsv("\x01"), "\\x01");
	CHECK_STR(tsv("a\x1b[2Jb"), "a\\x1b[2Jb");
	CHECK_STR(tsv("\x7f"), "\\x7f");
	CHECK_STR(tsv("\xff"), "\\xff");
	CHECK_STR(tsv("x\xffy"), "x\\xffy");
	CHECK_STR(tsv("caf\xc3\xa9"), "caf\xc3\xa9");
	CHECK_STR(tsv("\xe2\x82\xac \xf0\x9f\x98\x80"),
	    "\xe2\x82\xac \xf0\x9f\x98\x80");
	CHECK_STR(tsv("\xc2\x85"), "\\xc2\\x85");
	CHECK_STR(tsv("\xc2\x9b"), "\\xc2\\x9b");
	/* Malformed: cut short, overlong, a surrogate. */
	CHECK_STR(tsv("\xc3"), "\\xc3");
	CHECK_STR(tsv("\xe2\x82"), "\\xe2\\x82");
	CHECK_STR(tsv("\xc0\xaf"), "\\xc0\\xaf");
	CHECK_STR(tsv("\xed\xa0\x80"), "\\xed\\xa0\\x80");
}

static void
test_json(void)
{
	CHECK_STR(json(""), "\"\"");
	CHECK_STR(json("plain"), "\"plain\"");
	CHECK_STR(json("a\"b\\c"), "\"a\\\"b\\\\c\"");
	CHECK_STR(json("a\tb\nc\rd"), "\"a\\tb\\nc\\rd\"");
	CHECK_STR(json("\x01"), "\"\\u0001\"");
	CHECK_STR(json("\x1f\x7f"), "\"\\u001f\\u007f\"");
	CHECK_STR(json("\xc2\x85"), "\"\\u0085\"");
	CHECK_STR(json("\xff"), "\"\\ufffd\"");
	CHECK_STR(json("x\xff\xfey"), "\"x\\ufffd\\ufffdy\"");
	CHECK_STR(json("\xe2\x82"), "\"\\ufffd\\ufffd\"");
	CHECK_STR(json("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
	CHECK_STR(json("/<>&'"), "\"/<>&'\"");
}

/*
 * Run what writes to stdout with stdout going to a temporary file;
 * what was written, or NULL.
 */
static char *
capture(int (*fn)(int), int arg, int *rc)
{
	FILE *tmp = tmpfile();
	char *out = NULL;
	ssize_t n;
	int saved;

	if (tmp == NULL)
		return NULL;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved == -1 || dup2(fileno(tmp), STDOUT_FILENO) == -1) {
		fclose(tmp);
		return NULL;
	}
	*rc = fn(arg);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	out = xmalloc(4096);
	n = pread(fileno(tmp), out, 4095, 0);
	out[n > 0 ? n : 0] = '\0';
	fclose(tmp);
	return out;
}

static int
write_row(int as_json)
{
	struct table t;
	int rc;

	table_init(&t, as_json);
	table_cell(&t, 0, "a", "x", 0);
	table_cell(&t, 1, "n", "5", 1);
	rc = table_end(&t);
	table_free(&t);
	return rc;
}

static int
write_rows(int as_json)
{
	struct table t;
	int rc;

	table_init(&t, as_json);
	table_cell(&t, 0, "a", "x\ty", 0);
	table_cell(&t, 1, "b", NULL, 0);
	table_cell(&t, 2, "c", "\"q\"", 0);
	rc = table_end(&t);
	table_cell(&t, 0, "a", "2", 0);
	if (table_end(&t) != TABLE_OK)
		rc = TABLE_ERROR;
	table_free(&t);
	return rc;
}

static int
write_names(int unused)
{
	static const char *const names[] = { "a", "b" };
	struct table t;
	int rc;

	(void)unused;
	table_init(&t, 0);
	rc = table_names(&t, names, nitems(names));
	table_free(&t);
	return rc;
}

static void
check_output(int (*fn)(int), int arg, const char *want)
{
	int rc = -42;
	char *out = capture(fn, arg, &rc);

	CHECK(rc == TABLE_OK);
	CHECK_STR(out, want);
	free(out);
}

static void
test_lines(void)
{
	check_output(write_row, 1, "{\"a\":\"x\",\"n\":5}\n");
	check_output(write_row, 0, "x\t5\n");
	check_output(write_rows, 1,
	    "{\"a\":\"x\\ty\",\"b\":\"\",\"c\":\"\\\"q\\\"\"}\n"
	    "{\"a\":\"2\"}\n");
	check_output(write_rows, 0, "x\\ty\t\t\"q\"\n2\n");
	check_output(write_names, 0, "a\tb\n");
}

int
main(void)
{
	test_parse_time();
	test_time();
	test_tsv();
	test_json();
	test_lines();
	return check_done("table");
}
