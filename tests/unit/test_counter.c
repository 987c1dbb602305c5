/*
 * Unit test of common/counter.c: keys and values round trip and sort by
 * hour, corrupt ones are refused (exactly sized copies, so that ASan sees
 * any over-read), and amounts parse and format exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "counter.h"
#include "record.h"
#include "util.h"

#define E9	COUNTER_SCALE
#define E18	(COUNTER_SCALE * COUNTER_SCALE)

/* A copy of exactly len bytes, so ASan sees any over-read. */
static unsigned char *
exact_copy(const void *p, size_t len)
{
	unsigned char *c = xmalloc(len ? len : 1);

	if (len)
		memcpy(c, p, len);
	return c;
}

static int
key_parse(const void *key, size_t len, int64_t *hour, const char **dims)
{
	unsigned char *c = exact_copy(key, len);
	const char *got[DIM_END];
	int rc, i;

	rc = counter_key_parse(c, len, hour, got);
	/* Copy the dims out of the copy before it goes. */
	for (i = 0; rc == 0 && i < DIM_END; i++)
		dims[i] = got[i] - (const char *)c + (const char *)key;
	free(c);
	return rc;
}

static void
test_key_round_trip(void)
{
	const char *dims[DIM_END] = {
		"o1", "pub", "s1", "", "USD", "signup"
	};
	const char *none[DIM_END] = { NULL, NULL, NULL, NULL, NULL, NULL };
	const char *got[DIM_END];
	int64_t hour = -1;
	struct buf k;
	int i;

	buf_init(&k);
	counter_key(&k, 493000, dims);
	CHECK(k.len == 4 + strlen("o1pubs1USDsignup") + DIM_END);
	CHECK(key_parse(k.data, k.len, &hour, got) == 0);
	CHECK(hour == 493000);
	for (i = 0; i < DIM_END; i++)
		CHECK_STR(got[i], dims[i]);

	counter_key(&k, 7, none);
	CHECK(k.len == 4 + DIM_END);
	CHECK(key_parse(k.data, k.len, &hour, got) == 0);
	CHECK(hour == 7);
	for (i = 0; i < DIM_END; i++)
		CHECK_STR(got[i], "");
	buf_free(&k);
}

static void
test_key_order(void)
{
	const char *longer[DIM_END] = {
		"zzzzzzzz", "zzzz", "zzzz", "zzzz", "zzz", "zzzz"
	};
	const char *shorter[DIM_END] = { "a", "", "", "", "", "" };
	struct buf a, b;

	buf_init(&a);
	buf_init(&b);
	counter_key(&a, 5, longer);
	counter_key(&b, 6, shorter);
	CHECK(memcmp(a.data, b.data, a.len < b.len ? a.len : b.len) < 0);
	/* Hours past 2^24 and 2^16 too: big-endian. */
	counter_key(&a, 0x00ffffff, shorter);
	counter_key(&b, 0x01000000, shorter);
	CHECK(memcmp(a.data, b.data, a.len) < 0);
	counter_key(&a, 0xff, longer);
	counter_key(&b, 0x100, shorter);
	CHECK(memcmp(a.data, b.data, b.len) < 0);
	buf_free(&a);
	buf_free(&b);
}

static void
test_key_cut(void)
{
	char s[COUNTER_FIELD_MAX + 16], plain[COUNTER_FIELD_MAX + 8];
	const char *dims[DIM_END] = { s, "", "", "", "", "" };
	const char *got[DIM_END];
	int64_t hour;
	struct buf k;

	/* 63 'a', then "é" across the cut at 64: the cut keeps 63. */
	memset(s, 'a', 63);
	strcpy(s + 63, "\xc3\xa9" "bbbb");
	buf_init(&k);
	counter_key(&k, 1, dims);
	CHECK(key_parse(k.data, k.len, &hour, got) == 0);
	CHECK(strlen(got[0]) == 63);
	CHECK(strlen(got[0]) <= COUNTER_FIELD_MAX);
	CHECK(strspn(got[0], "a") == 63);

	/* A plain ASCII field is cut at exactly the maximum. */
	memset(plain, 'p', sizeof(plain) - 1);
	plain[sizeof(plain) - 1] = '\0';
	dims[0] = plain;
	counter_key(&k, 1, dims);
	CHECK(key_parse(k.data, k.len, &hour, got) == 0);
	CHECK(strlen(got[0]) == COUNTER_FIELD_MAX);

	/* Exactly the maximum with a 2-byte character at its end: kept. */
	memset(s, 'a', 62);
	strcpy(s + 62, "\xc3\xa9");
	dims[0] = s;
	counter_key(&k, 1, dims);
	CHECK(key_parse(k.data, k.len, &hour, got) == 0);
	CHECK(strlen(got[0]) == COUNTER_FIELD_MAX);
	buf_free(&k);
}

static void
test_key_refused(void)
{
	static const char five[] = "\0\0\0\1a\0b\0c\0d\0e";
	static const char seven[] = "\0\0\0\1a\0b\0c\0d\0e\0f\0g";
	static const char empty5[] = "\0\0\0\1\0\0\0\0";
	static const char empty7[] = "\0\0\0\1\0\0\0\0\0\0";
	const char *dims[DIM_END] = { "o", "p", "s", "x", "USD", "e" };
	const char *got[DIM_END];
	int64_t hour;
	struct buf k;
	size_t len;
	int bad = 0;

	/* The literals' own final NUL ends the last field. */
	CHECK(key_parse(five, sizeof(five), &hour, got) == -1);
	CHECK(key_parse(seven, sizeof(seven), &hour, got) == -1);
	CHECK(key_parse(empty5, sizeof(empty5), &hour, got) == -1);
	CHECK(key_parse(empty7, sizeof(empty7), &hour, got) == -1);
	CHECK(key_parse("", 0, &hour, got) == -1);
	CHECK(key_parse("\0\0\0", 3, &hour, got) == -1);

	buf_init(&k);
	counter_key(&k, 9, dims);
	CHECK(key_parse(k.data, k.len, &hour, got) == 0);
	/* Without its final NUL; then every shorter prefix. */
	CHECK(key_parse(k.data, k.len - 1, &hour, got) == -1);
	for (len = 0; len < k.len; len++)
		if (key_parse(k.data, len, &hour, got) != -1)
			bad++;
	CHECK(bad == 0);
	/* One byte more, after the final NUL. */
	buf_addc(&k, 'x');
	CHECK(key_parse(k.data, k.len, &hour, got) == -1);
	buf_free(&k);
}

static int
counts_equal(const struct counts *a, const struct counts *b)
{
	int i;

	for (i = 0; i < COUNT_END; i++)
		if (a->n[i] != b->n[i])
			return 0;
	return a->revenue == b->revenue && a->payout == b->payout;
}

/* Put c; 1 if it reads back equal from an exact copy. */
static int
value_round_trip(const struct counts *c, size_t *len)
{
	struct counts got;
	unsigned char *copy;
	struct buf b;
	int ok;

	buf_init(&b);
	counter_put(&b, c);
	*len = b.len;
	copy = exact_copy(b.data, b.len);
	memset(&got, 0x5a, sizeof(got));
	ok = counter_get(copy, b.len, &got) == 0 && counts_equal(c, &got);
	free(copy);
	buf_free(&b);
	return ok;
}

static void
test_value_round_trip(void)
{
	struct counts c;
	size_t len;
	int i;

	memset(&c, 0, sizeof(c));
	CHECK(value_round_trip(&c, &len));
	CHECK(len == 3);

	c.n[COUNT_CLICKS] = 1;
	c.n[COUNT_UNIQUE] = 1;
	CHECK(value_round_trip(&c, &len));
	CHECK(len == 5);	/* version, mask, two 1-byte varints */

	memset(&c, 0, sizeof(c));
	c.n[COUNT_PENDING] = -1;
	c.revenue = -1;
	c.payout = -12 * E9 - 500000000;
	CHECK(value_round_trip(&c, &len));

	memset(&c, 0, sizeof(c));
	c.n[COUNT_CLICKS] = INT64_MAX;
	c.n[COUNT_INVALID] = INT64_MIN;
	c.revenue = (amount_t)E18 * E9;
	c.payout = -(amount_t)E18 * E9;
	CHECK(value_round_trip(&c, &len));

	/* Every field at once, each different. */
	for (i = 0; i < COUNT_END; i++)
		c.n[i] = (int64_t)(i + 1) * (i % 2 ? -1000003 : 77);
	c.revenue = 123456789;
	c.payout = -987654321;
	CHECK(value_round_trip(&c, &len));
}

static void
test_value_extremes(void)
{
	__extension__ amount_t max = (amount_t)(~(unsigned __int128)0 >> 1);
	struct counts c;
	size_t len;

	memset(&c, 0, sizeof(c));
	c.revenue = max;
	c.payout = -max - 1;
	CHECK(value_round_trip(&c, &len));
	c.revenue = -max - 1;
	c.payout = max;
	CHECK(value_round_trip(&c, &len));
}

static int
value_ok(const void *p, size_t len)
{
	unsigned char *copy = exact_copy(p, len);
	struct counts c;
	int rc;

	rc = counter_get(copy, len, &c);
	free(copy);
	return rc == 0;
}

static void
test_value_refused(void)
{
	static const unsigned char beyond[][3] = {
		{ RECORD_VERSION, 0x02, 0x00 },	/* bit 9 */
		{ RECORD_VERSION, 0x80, 0x00 },	/* bit 15 */
		{ RECORD_VERSION, 0xfe, 0x00 },
	};
	struct counts c;
	struct buf b;
	size_t len, i;
	int bad = 0;

	memset(&c, 0, sizeof(c));
	c.n[COUNT_CLICKS] = 300;
	c.revenue = (amount_t)E18 * E9;
	buf_init(&b);
	counter_put(&b, &c);
	CHECK(value_ok(b.data, b.len));

	/* Every prefix is truncated. */
	for (len = 0; len < b.len; len++)
		if (value_ok(b.data, len))
			bad++;
	CHECK(bad == 0);

	b.data[0] = RECORD_VERSION + 1;
	CHECK(!value_ok(b.data, b.len));
	b.data[0] = 0;
	CHECK(!value_ok(b.data, b.len));
	b.data[0] = RECORD_VERSION;

	buf_addc(&b, 0);
	CHECK(!value_ok(b.data, b.len));
	buf_free(&b);

	for (i = 0; i < nitems(beyond); i++)
		CHECK(!value_ok(beyond[i], sizeof(beyond[i])));
	/* A varint that never ends. */
	CHECK(!value_ok("\1\0\1\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"
	    "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 24));
}

static void
test_counts_add(void)
{
	struct counts a, d, zero;
	int i;

	memset(&a, 0, sizeof(a));
	memset(&zero, 0, sizeof(zero));
	CHECK(counts_zero(&a));
	for (i = 0; i < COUNT_END; i++) {
		a.n[i] = i + 1;
		d.n[i] = 10 * (i + 1);
	}
	a.revenue = 5;
	a.payout = -7;
	d.revenue = (amount_t)E18 * E9;
	d.payout = 2;
	counts_add(&a, &d);
	for (i = 0; i < COUNT_END; i++)
		CHECK(a.n[i] == 11 * (i + 1));
	CHECK(a.revenue == (amount_t)E18 * E9 + 5);
	CHECK(a.payout == -5);
	CHECK(!counts_zero(&a));

	/* Each field alone makes it not zero. */
	for (i = 0; i < COUNT_END; i++) {
		a = zero;
		a.n[i] = -1;
		CHECK(!counts_zero(&a));
	}
	a = zero;
	a.revenue = 1;
	CHECK(!counts_zero(&a));
	a = zero;
	a.payout = -1;
	CHECK(!counts_zero(&a));
}

static int
parses(const char *s, amount_t want)
{
	amount_t v = -42;

	return amount_parse(s, &v) == 0 && v == want;
}

static int
refused(const char *s)
{
	amount_t v = -42;

	return amount_parse(s, &v) == -1 && v == -42;
}

static void
test_amount_parse(void)
{
	CHECK(parses("12.50", 12500000000));
	CHECK(parses("-0.5", -500000000));
	CHECK(parses("+3", 3000000000));
	CHECK(parses("0", 0));
	CHECK(parses("-0", 0));
	CHECK(parses("0.1234567891", 123456789));
	CHECK(parses("0.000000001", 1));
	CHECK(parses("1.", E9));
	CHECK(parses(".5", 500000000));
	CHECK(parses("007", 7 * E9));
	/* 18 digits is the most. */
	CHECK(parses("999999999999999999",
	    (amount_t)999999999999999999 * E9));
	CHECK(parses("-123456789.123456789",
	    -((amount_t)123456789 * E9 + 123456789)));

	CHECK(refused(""));
	CHECK(refused("-"));
	CHECK(refused("+"));
	CHECK(refused("."));
	CHECK(refused("-."));
	CHECK(refused("1.2.3"));
	CHECK(refused("abc"));
	CHECK(refused("1e5"));
	CHECK(refused("1 "));
	CHECK(refused(" 1"));
	CHECK(refused("--1"));
	CHECK(refused("1234567890123456789"));
}

static const char *
fmt(amount_t v, int decimals)
{
	static char s[64];

	memset(s, 'X', sizeof(s));
	return amount_format(s, sizeof(s), v, decimals);
}

static void
test_amount_format(void)
{
	char small[4];

	CHECK_STR(fmt(12345000000, 2), "12.35");
	CHECK_STR(fmt(-12345000000, 2), "-12.35");
	CHECK_STR(fmt(12344999999, 2), "12.34");
	CHECK_STR(fmt(4000000, 2), "0.00");
	CHECK_STR(fmt(-4000000, 2), "0.00");
	CHECK_STR(fmt(-5000000, 2), "-0.01");
	CHECK_STR(fmt(0, 2), "0.00");
	CHECK_STR(fmt(1234567891000000, 2), "1234567.89");
	CHECK_STR(fmt((amount_t)E18 * E9, 2), "1000000000000000000.00");
	CHECK_STR(fmt(-(amount_t)E18 * E9, 2), "-1000000000000000000.00");
	CHECK_STR(fmt(2500000000, 0), "3");
	CHECK_STR(fmt(-2500000000, 0), "-3");
	CHECK_STR(fmt(2499999999, 0), "2");
	CHECK_STR(fmt(1, 9), "0.000000001");
	CHECK_STR(fmt(7 * E9, 4), "7.0000");

	memset(small, 'X', sizeof(small));
	CHECK(amount_format(small, sizeof(small), 12345000000, 2) == small);
	CHECK(small[3] == '\0');
	CHECK_STR(small, "12.");
	small[0] = 'X';
	amount_format(small, 1, 12345000000, 2);
	CHECK(small[0] == '\0');
}

static void
test_unique_hash(void)
{
	uint64_t h = counter_unique_hash("o1", "10.0.0.1", "Mozilla/5.0");

	CHECK(h == counter_unique_hash("o1", "10.0.0.1", "Mozilla/5.0"));
	CHECK(h != counter_unique_hash("o2", "10.0.0.1", "Mozilla/5.0"));
	CHECK(h != counter_unique_hash("o1", "10.0.0.2", "Mozilla/5.0"));
	CHECK(h != counter_unique_hash("o1", "10.0.0.1", "Mozilla/5.1"));
	CHECK(counter_unique_hash("a", "bc", "d") !=
	    counter_unique_hash("ab", "c", "d"));
	CHECK(counter_unique_hash("a", "bc", "d") !=
	    counter_unique_hash("a", "b", "cd"));
	CHECK(counter_unique_hash("", "", "") !=
	    counter_unique_hash("", "", "x"));
}

int
main(void)
{
	test_key_round_trip();
	test_key_order();
	test_key_cut();
	test_key_refused();
	test_value_round_trip();
	test_value_extremes();
	test_value_refused();
	test_counts_add();
	test_amount_parse();
	test_amount_format();
	test_unique_hash();
	return check_done("counter");
}
