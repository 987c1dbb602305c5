/*
 * Unit test of common/util.c: allocation helpers, the growable buffer,
 * clocks, and the duration, size, integer and amount syntaxes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util.h"

/* The buffer's invariants: NUL-terminated, within its capacity. */
static int
buf_sane(const struct buf *b)
{
	return b->data != NULL && b->len < b->cap && b->data[b->len] == '\0';
}

static void
test_buf_basic(void)
{
	struct buf b;
	char *s;

	buf_init(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);

	/* Releasing a buffer that never grew gives an empty string. */
	s = buf_release(&b);
	CHECK_STR(s, "");
	free(s);
	CHECK(b.data == NULL && b.len == 0);

	buf_addc(&b, 'a');
	buf_adds(&b, "bc");
	buf_add(&b, "def", 2);
	buf_add(&b, "zzz", 0);
	CHECK(buf_sane(&b));
	CHECK(b.len == 5);
	CHECK_STR(b.data, "abcde");

	/* Binary data with a NUL byte in it keeps its length. */
	buf_add(&b, "x\0y", 3);
	CHECK(b.len == 8);
	CHECK(memcmp(b.data, "abcdex\0y", 8) == 0);
	CHECK(b.data[8] == '\0');

	buf_reset(&b);
	CHECK(b.len == 0);
	CHECK_STR(b.data, "");
	buf_adds(&b, "again");
	CHECK_STR(b.data, "again");

	s = buf_release(&b);
	CHECK_STR(s, "again");
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	free(s);

	/* Resetting a buffer that has no storage is harmless. */
	buf_reset(&b);
	CHECK(b.len == 0);
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}

static void
test_buf_growth(void)
{
	struct buf b;
	size_t i, ok;
	char *big;

	/* Byte by byte, across many doublings. */
	buf_init(&b);
	for (i = 0; i < 100000; i++) {
		buf_addc(&b, (char)('a' + i % 26));
		if (!buf_sane(&b))
			break;
	}
	CHECK(i == 100000);
	CHECK(b.len == 100000);
	for (ok = 1, i = 0; i < b.len; i++)
		if (b.data[i] != (char)('a' + i % 26))
			ok = 0;
	CHECK(ok);
	buf_free(&b);

	/* One large add into an empty buffer, then into a used one. */
	big = xmalloc(300000);
	memset(big, 'q', 300000);
	buf_init(&b);
	buf_add(&b, big, 300000);
	CHECK(buf_sane(&b) && b.len == 300000);
	buf_add(&b, big, 300000);
	CHECK(buf_sane(&b) && b.len == 600000);
	CHECK(b.data[0] == 'q' && b.data[599999] == 'q');
	buf_free(&b);

	/* Reserve does not change the content but makes room. */
	buf_init(&b);
	buf_adds(&b, "keep");
	buf_reserve(&b, 5000);
	CHECK(b.cap >= b.len + 5000 + 1);
	CHECK_STR(b.data, "keep");
	buf_free(&b);
	free(big);
}

static void
test_buf_printf(void)
{
	struct buf b;
	char *long_arg, *want;
	size_t i;
	int ok;

	buf_init(&b);
	buf_printf(&b, "%d-%s", 42, "x");
	CHECK_STR(b.data, "42-x");
	CHECK(b.len == 4);
	buf_printf(&b, "|%05u|", 7u);
	CHECK_STR(b.data, "42-x|00007|");
	CHECK(b.len == strlen(b.data));
	buf_printf(&b, "%s", "");
	CHECK_STR(b.data, "42-x|00007|");
	buf_free(&b);

	/* Output longer than the first attempt's room takes a second pass. */
	long_arg = xmalloc(10001);
	memset(long_arg, 'L', 10000);
	long_arg[10000] = '\0';
	buf_init(&b);
	buf_adds(&b, "<");
	buf_printf(&b, "%s>%d", long_arg, 99);
	CHECK(buf_sane(&b));
	CHECK(b.len == 1 + 10000 + 3);
	CHECK(b.data[0] == '<' && b.data[1] == 'L' && b.data[10000] == 'L');
	CHECK_STR(b.data + 10001, ">99");
	buf_free(&b);

	/* Output that exactly fills the room left by earlier content. */
	for (ok = 1, i = 0; i < 200; i++) {
		buf_init(&b);
		memset(long_arg, 'a', i);
		long_arg[i] = '\0';
		buf_adds(&b, long_arg);
		buf_printf(&b, "%s", long_arg);
		want = xasprintf("%s%s", long_arg, long_arg);
		if (!buf_sane(&b) || b.len != 2 * i ||
		    strcmp(b.data, want) != 0)
			ok = 0;
		free(want);
		buf_free(&b);
	}
	CHECK(ok);
	free(long_arg);
}

static void
test_xasprintf(void)
{
	char *s, *big;

	s = xasprintf("%s=%d", "n", -5);
	CHECK_STR(s, "n=-5");
	free(s);

	s = xasprintf("%s", "");
	CHECK_STR(s, "");
	free(s);

	big = xmalloc(5001);
	memset(big, 'b', 5000);
	big[5000] = '\0';
	s = xasprintf("[%s]", big);
	CHECK(strlen(s) == 5002);
	CHECK(s[0] == '[' && s[1] == 'b' && s[5000] == 'b' && s[5001] == ']');
	free(s);
	free(big);

	s = xstrndup("abcdef", 3);
	CHECK_STR(s, "abc");
	free(s);
	s = xstrdup("copy");
	CHECK_STR(s, "copy");
	free(s);
}

static void
test_clocks_random(void)
{
	unsigned char a[32], b[32], zero[32];
	int64_t m1, m2;

	/* After 2020-01-01 and before 2200. */
	CHECK(now_ms() > INT64_C(1577836800000));
	CHECK(now_ms() < INT64_C(7258118400000));
	m1 = mono_ms();
	m2 = mono_ms();
	CHECK(m2 >= m1);

	memset(zero, 0, sizeof(zero));
	random_bytes(a, sizeof(a));
	random_bytes(b, sizeof(b));
	CHECK(memcmp(a, zero, sizeof(a)) != 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	random_bytes(a, 0);
}

static int64_t
duration(const char *s)
{
	int64_t v = -12345;

	if (parse_duration_ms(s, &v) == -1)
		return -1;
	return v;
}

static void
test_duration(void)
{
	static const char *const bad[] = {
		"", "10x", "-1", "1.5s", "99999999999999999999d", "ms", "s",
		" 1s", "1s ", "1 s", "+1s", "1S", "1sec", "10mm", "1d1h",
		"0x10", "1e3", "10M",
		/* Products beyond int64 milliseconds. */
		"9223372036854775807", "9223372036854775807ms",
		"18446744073709551615s", "1000000000000000000s",
		"200000000000000h",
		/* More digits than fit in a uint64. */
		"18446744073709551616", "000000000000000000000000000000001s",
	};
	int64_t v;
	size_t i;

	CHECK(duration("500ms") == 500);
	CHECK(duration("30s") == 30000);
	CHECK(duration("10m") == 600000);
	CHECK(duration("2h") == 7200000);
	CHECK(duration("30d") == INT64_C(2592000000));
	CHECK(duration("45") == 45000);
	CHECK(duration("0") == 0);
	CHECK(duration("0ms") == 0);
	CHECK(duration("1ms") == 1);
	CHECK(duration("007s") == 7000);
	CHECK(duration("3650d") == INT64_C(315360000000));

	for (i = 0; i < nitems(bad); i++) {
		v = -12345;
		if (parse_duration_ms(bad[i], &v) != -1) {
			fprintf(stderr, "duration \"%s\" accepted as %lld\n",
			    bad[i], (long long)v);
			CHECK(!"bad duration accepted");
		}
		/* A refused value leaves the output alone. */
		CHECK(v == -12345);
	}
}

static uint64_t
size(const char *s)
{
	uint64_t v = 12345;

	if (parse_size(s, &v) == -1)
		return UINT64_MAX;
	return v;
}

static void
test_size(void)
{
	static const char *const bad[] = {
		"", "M", "-1", "1.5M", "64MB", "64 M", " 64M", "64M ", "1x",
		"+1", "0x10", "1e3",
		/* Overflow of the shifted value. */
		"16777216T", "17179869184G", "18014398509481984K",
		"99999999999999999999", "18446744073709551616",
	};
	uint64_t v;
	size_t i;

	CHECK(size("64M") == UINT64_C(64) * 1024 * 1024);
	CHECK(size("4G") == UINT64_C(4) * 1024 * 1024 * 1024);
	CHECK(size("512K") == UINT64_C(512) * 1024);
	CHECK(size("100") == 100);
	CHECK(size("0") == 0);
	CHECK(size("0G") == 0);
	/* The largest values that still fit. */
	v = 0;
	CHECK(parse_size("18446744073709551615", &v) == 0);
	CHECK(v == UINT64_MAX);
	CHECK(size("16777215T") == (UINT64_C(16777215) << 40));
	CHECK(size("17179869183G") == (UINT64_C(17179869183) << 30));

	for (i = 0; i < nitems(bad); i++) {
		if (size(bad[i]) != UINT64_MAX) {
			fprintf(stderr, "size \"%s\" accepted\n", bad[i]);
			CHECK(!"bad size accepted");
		}
	}
}

/* The value parsed, or -1 when refused. */
static int64_t
uint_max(const char *s, uint64_t max)
{
	uint64_t v = 777;

	if (parse_uint(s, max, &v) == -1) {
		if (v != 777)
			return -2;	/* output touched on failure */
		return -1;
	}
	return (int64_t)v;
}

static void
test_uint(void)
{
	uint64_t v, max;
	char s[32];
	int wrong;

	CHECK(uint_max("0", 10) == 0);
	CHECK(uint_max("123", 1000) == 123);
	CHECK(uint_max("0042", 100) == 42);
	CHECK(uint_max("65535", 65535) == 65535);
	CHECK(uint_max("65536", 65535) == -1);
	CHECK(uint_max("1295", 1295) == 1295);
	CHECK(uint_max("1296", 1295) == -1);
	CHECK(uint_max("10", 9) == -1);
	CHECK(uint_max("9", 9) == 9);
	CHECK(uint_max("0", 0) == 0);
	CHECK(uint_max("", 10) == -1);
	CHECK(uint_max("-1", 10) == -1);
	CHECK(uint_max("+1", 10) == -1);
	CHECK(uint_max(" 1", 10) == -1);
	CHECK(uint_max("1 ", 10) == -1);
	CHECK(uint_max("1a", 10) == -1);
	CHECK(uint_max("99999999999999999999", UINT64_MAX) == -1);
	CHECK(uint_max("18446744073709551616", UINT64_MAX) == -1);
	v = 0;
	CHECK(parse_uint("18446744073709551615", UINT64_MAX, &v) == 0);
	CHECK(v == UINT64_MAX);

	/*
	 * Every maximum below 20 against every value below 25: accepted
	 * exactly when value <= max.  This covers maxima smaller than a
	 * single digit.
	 */
	wrong = 0;
	for (max = 0; max < 20; max++) {
		for (v = 0; v < 25; v++) {
			snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
			if ((uint_max(s, max) == (int64_t)v) == (v <= max))
				continue;
			if (wrong++ < 3)
				fprintf(stderr, "parse_uint(\"%s\", %llu) = "
				    "%lld\n", s, (unsigned long long)max,
				    (long long)uint_max(s, max));
		}
	}
	if (wrong)
		fprintf(stderr, "parse_uint: %d of 500 (value, max) pairs "
		    "wrong\n", wrong);
	CHECK(wrong == 0);
}

static void
test_amount(void)
{
	static const char *const good[] = {
		"12.50", "-3", "0", "+7", "0.01", "100", "-0.5",
		"123456789012345678",
	};
	static const char *const bad[] = {
		"1.2.3", "abc", "", "1e5", "-", "+", ".", "--3", "1-", " 1",
		"1 ", "1,5", "12.50USD", "0x10", "-+1", "NaN",
	};
	size_t i;

	for (i = 0; i < nitems(good); i++) {
		if (!valid_amount(good[i])) {
			fprintf(stderr, "amount \"%s\" refused\n", good[i]);
			CHECK(!"good amount refused");
		}
	}
	for (i = 0; i < nitems(bad); i++) {
		if (valid_amount(bad[i])) {
			fprintf(stderr, "amount \"%s\" accepted\n", bad[i]);
			CHECK(!"bad amount accepted");
		}
	}
}

static void
test_secret(void)
{
	CHECK(secret_equal("s3cret", "s3cret"));
	CHECK(secret_equal("x", "x"));
	CHECK(!secret_equal("s3cret", "s3creT"));
	CHECK(!secret_equal("s3cret", "t3cret"));
	CHECK(!secret_equal("s3cret", "s3cre"));
	CHECK(!secret_equal("s3cre", "s3cret"));
	CHECK(!secret_equal("ab", "abab"));
	CHECK(!secret_equal("abab", "ab"));
	CHECK(!secret_equal("s3cret", ""));
	CHECK(!secret_equal("", "s3cret"));
	/* An empty secret never matches, not even itself. */
	CHECK(!secret_equal("", ""));
}

static void
test_int_text(void)
{
	char s[24];

	int_text(s, 0);
	CHECK_STR(s, "0");
	int_text(s, -60);
	CHECK_STR(s, "-60");
	int_text(s, INT64_MAX);
	CHECK_STR(s, "9223372036854775807");
	int_text(s, INT64_MIN);
	CHECK_STR(s, "-9223372036854775808");
}

/* hash_words: every byte and the length count, in any lane. */
static void
test_hash_words(void)
{
	unsigned char a[64], b[64];
	size_t n, i;
	int differ = 1, same = 1;

	for (i = 0; i < sizeof(a); i++)
		a[i] = (unsigned char)(i * 7 + 1);
	for (n = 0; n <= sizeof(a); n++) {
		memcpy(b, a, sizeof(a));
		same &= hash_words(1, a, n) == hash_words(1, b, n);
		for (i = 0; i < n; i++) {
			b[i] ^= 0x20;
			differ &= hash_words(1, a, n) != hash_words(1, b, n);
			b[i] ^= 0x20;
		}
		if (n > 0)
			differ &= hash_words(1, a, n) != hash_words(1, a, n - 1);
	}
	CHECK(same);
	CHECK(differ);
	CHECK(hash_words(1, a, 16) != hash_words(2, a, 16));
	CHECK(hash_words(1, "", 0) != hash_words(1, "\0", 1));
}

int
main(void)
{
	test_buf_basic();
	test_buf_growth();
	test_buf_printf();
	test_xasprintf();
	test_clocks_random();
	test_duration();
	test_size();
	test_uint();
	test_amount();
	test_secret();
	test_hash_words();
	test_int_text();
	return check_done("util");
}
