/*
 * Unit test of common/txid.c against the properties postline(7) gives a
 * transaction_id: shape, check digits, canonical case, shard and time
 * components, time order, uniqueness, and the firer hash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "txid.h"
#include "util.h"

#define T0		INT64_C(1795000000123)
#define NUNIQUE		100000

static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static int
well_formed(const char *id)
{
	return strlen(id) == TXID_LEN && strspn(id, alphabet) == TXID_LEN;
}

static int
parses(const char *in)
{
	char out[TXID_LEN + 1];

	return txid_parse(in, out) == 0;
}

static void
test_shape(void)
{
	char id[TXID_LEN + 1], out[TXID_LEN + 1];
	int i, bad = 0;

	for (i = 0; i < 1000; i++) {
		memset(id, 'X', sizeof(id));
		txid_generate(id, (unsigned)i % (TXID_SHARD_MAX + 1),
		    T0 + i * 7919);
		memset(out, 'Y', sizeof(out));
		if (!well_formed(id) || txid_parse(id, out) != 0 ||
		    strcmp(out, id) != 0) {
			if (bad++ == 0)
				fprintf(stderr, "bad id %.*s\n", TXID_LEN, id);
		}
	}
	CHECK(bad == 0);

	/* The time comes first: ids of the same millisecond share it. */
	txid_generate(id, 0, T0);
	txid_generate(out, 5, T0);
	CHECK(memcmp(id, out, 9) == 0);
	/* Time zero and before still give a valid id. */
	txid_generate(id, 0, 0);
	CHECK(well_formed(id) && parses(id));
	CHECK(txid_time_ms(id) == 0);
	txid_generate(id, 0, -5);
	CHECK(well_formed(id) && parses(id));
}

static void
test_case(void)
{
	char id[TXID_LEN + 1], upper[TXID_LEN + 1], mixed[TXID_LEN + 1];
	char out[TXID_LEN + 1];
	int i;

	txid_generate(id, 1295, T0);
	for (i = 0; i < TXID_LEN; i++) {
		upper[i] = id[i] >= 'a' && id[i] <= 'z' ?
		    (char)(id[i] - 'a' + 'A') : id[i];
		mixed[i] = i % 2 ? upper[i] : id[i];
	}
	upper[TXID_LEN] = mixed[TXID_LEN] = '\0';
	CHECK(strcmp(upper, id) != 0);	/* time and shard hold letters */

	memset(out, 0, sizeof(out));
	CHECK(txid_parse(upper, out) == 0);
	CHECK_STR(out, id);
	memset(out, 0, sizeof(out));
	CHECK(txid_parse(mixed, out) == 0);
	CHECK_STR(out, id);
}

static void
test_refused(void)
{
	static const char *const junk[] = {
		"", "0", "00000000000000000000000000000000",
		"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
		"not-a-transaction-id-at-all-0000",
	};
	char id[TXID_LEN + 2], bad[TXID_LEN + 2];
	static const char others[] = "-_.+/ =%\t\n\"\\~\x7f\xc3\xff";
	size_t i, j;
	int accepted = 0, ok;

	txid_generate(id, 35, T0);
	CHECK(parses(id));

	/* Truncated to 31, extended to 33 (by any character). */
	memcpy(bad, id, TXID_LEN + 1);
	bad[TXID_LEN - 1] = '\0';
	CHECK(!parses(bad));
	for (i = 0; i < sizeof(alphabet) - 1; i++) {
		memcpy(bad, id, TXID_LEN);
		bad[TXID_LEN] = alphabet[i];
		bad[TXID_LEN + 1] = '\0';
		if (parses(bad))
			accepted++;
	}
	CHECK(accepted == 0);
	/* Every shorter prefix. */
	for (ok = 1, i = 0; i < TXID_LEN; i++) {
		memcpy(bad, id, i);
		bad[i] = '\0';
		if (parses(bad))
			ok = 0;
	}
	CHECK(ok);

	/* A character outside [0-9A-Za-z] at any place. */
	for (ok = 1, i = 0; i < TXID_LEN; i++) {
		for (j = 0; j < sizeof(others) - 1; j++) {
			memcpy(bad, id, TXID_LEN + 1);
			bad[i] = others[j];
			if (parses(bad))
				ok = 0;
		}
	}
	CHECK(ok);

	for (i = 0; i < nitems(junk); i++)
		CHECK(!parses(junk[i]));
}

/*
 * Every substitution of one character by another of the alphabet, and
 * every swap of two adjacent different characters, at every place of
 * many ids.  The check is 4 base-36 digits of a hash, so a change slips
 * through with probability about 1 in 1.7 million; allow very few.
 */
static void
test_mutations(void)
{
	char id[TXID_LEN + 1], m[TXID_LEN + 1], c;
	long subs = 0, subs_ok = 0, swaps = 0, swaps_ok = 0;
	int n;
	size_t i, j;

	for (n = 0; n < 20; n++) {
		txid_generate(id, (unsigned)n * 61, T0 + n);
		for (i = 0; i < TXID_LEN; i++) {
			for (j = 0; j < sizeof(alphabet) - 1; j++) {
				if (alphabet[j] == id[i])
					continue;
				memcpy(m, id, sizeof(m));
				m[i] = alphabet[j];
				subs++;
				if (parses(m))
					subs_ok++;
			}
			if (i + 1 < TXID_LEN && id[i] != id[i + 1]) {
				memcpy(m, id, sizeof(m));
				c = m[i];
				m[i] = m[i + 1];
				m[i + 1] = c;
				swaps++;
				if (parses(m))
					swaps_ok++;
			}
		}
	}
	printf("txid: %ld of %ld substitutions and %ld of %ld swaps "
	    "accepted\n", subs_ok, subs, swaps_ok, swaps);
	CHECK(subs >= 10000);
	CHECK(subs_ok <= 2);
	CHECK(swaps_ok <= 1);
}

static void
test_fields(void)
{
	static const unsigned shards[] = { 0, 1, 35, 36, 1294, 1295 };
	static const int64_t times[] = {
		0, 1, T0, INT64_C(1700000000000), INT64_C(4102444800000),
	};
	char id[TXID_LEN + 1];
	size_t i, j;

	for (i = 0; i < nitems(shards); i++) {
		for (j = 0; j < nitems(times); j++) {
			txid_generate(id, shards[i], times[j]);
			CHECK(txid_shard(id) == shards[i]);
			CHECK(txid_time_ms(id) == times[j]);
			CHECK(parses(id));
		}
	}
}

static int
compare_ids(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_order(void)
{
	char a[TXID_LEN + 1], b[TXID_LEN + 1];
	int64_t t, step;
	int bad = 0;

	/* Consecutive milliseconds, and steps across digit carries. */
	for (t = T0; t < T0 + 5000; t++) {
		txid_generate(a, 1295, t);
		txid_generate(b, 0, t + 1);
		if (strcmp(a, b) >= 0)
			bad++;
	}
	for (step = 1, t = 1; t < INT64_C(4102444800000); t += step,
	    step = step * 3 + 1) {
		txid_generate(a, 1295, t);
		txid_generate(b, 0, t + step);
		if (strcmp(a, b) >= 0)
			bad++;
	}
	/* 35 -> 36 and 36^k - 1 -> 36^k carry a digit. */
	txid_generate(a, 1295, 35);
	txid_generate(b, 0, 36);
	CHECK(strcmp(a, b) < 0);
	txid_generate(a, 1295, INT64_C(2176782335));
	txid_generate(b, 0, INT64_C(2176782336));
	CHECK(strcmp(a, b) < 0);
	CHECK(bad == 0);
}

static void
test_unique(void)
{
	char *ids;
	size_t i;
	int dups = 0;

	ids = xcalloc(NUNIQUE, TXID_LEN + 1);
	for (i = 0; i < NUNIQUE; i++)
		txid_generate(ids + i * (TXID_LEN + 1), 7, T0);
	qsort(ids, NUNIQUE, TXID_LEN + 1, compare_ids);
	for (i = 1; i < NUNIQUE; i++)
		if (strcmp(ids + (i - 1) * (TXID_LEN + 1),
		    ids + i * (TXID_LEN + 1)) == 0)
			dups++;
	CHECK(dups == 0);
	free(ids);
}

static void
test_firer(void)
{
	char id[TXID_LEN + 1], copy[TXID_LEN + 1];
	int counts[4] = { 0 }, i, ok = 1, stable = 1;
	unsigned n, f;

	txid_generate(id, 3, T0);
	CHECK(txid_firer(id, 0) == 0);
	CHECK(txid_firer(id, 1) == 0);

	for (i = 0; i < 10000; i++) {
		txid_generate(id, (unsigned)i % 16, T0 + i / 100);
		for (n = 2; n <= 9; n++) {
			f = txid_firer(id, n);
			if (f >= n)
				ok = 0;
			if (txid_firer(id, n) != f)
				stable = 0;
		}
		counts[txid_firer(id, 4)]++;
	}
	CHECK(ok);
	CHECK(stable);
	printf("txid: firer buckets of 10000 with n=4: %d %d %d %d\n",
	    counts[0], counts[1], counts[2], counts[3]);
	for (i = 0; i < 4; i++)
		CHECK(counts[i] >= 2000 && counts[i] <= 3000);

	/* Stable for an equal id held in another buffer. */
	txid_generate(id, 0, T0);
	memcpy(copy, id, sizeof(copy));
	CHECK(txid_firer(copy, 7) == txid_firer(id, 7));
}

/* One process's ids of one millisecond grow, for up to 36 of them. */
static void
test_grow_within_millisecond(void)
{
	char prev[TXID_LEN + 1], id[TXID_LEN + 1];
	int i, grew = 1;

	txid_generate(prev, 3, 1795000000999LL);
	for (i = 1; i < 36; i++) {
		txid_generate(id, 3, 1795000000999LL);
		if (strcmp(id, prev) <= 0)
			grew = 0;
		memcpy(prev, id, sizeof(id));
	}
	CHECK(grew);
	CHECK(txid_shard(id) == 3);
	CHECK(txid_time_ms(id) == 1795000000999LL);
}

/*
 * The firer's postback_id: the same seed gives the same id (an event
 * received again after a power cut), distinct seeds distinct ids.
 */
static void
test_derive(void)
{
	char a[TXID_LEN + 1], b[TXID_LEN + 1];
	uint64_t seed;
	int bad = 0, same = 0;

	txid_derive(a, 7, T0, 42);
	txid_derive(b, 7, T0, 42);
	CHECK(strcmp(a, b) == 0);
	CHECK(well_formed(a) && parses(a));
	CHECK(txid_shard(a) == 7 && txid_time_ms(a) == T0);
	for (seed = 1; seed < 10000; seed++) {
		txid_derive(b, 7, T0, seed * 0x9e3779b97f4a7c15ULL);
		if (!well_formed(b) || !parses(b))
			bad++;
		if (strcmp(a, b) == 0)
			same++;
		memcpy(a, b, sizeof(a));
	}
	CHECK(bad == 0 && same == 0);
	txid_derive(a, 0, -1, 1);
	CHECK(well_formed(a) && parses(a));
}

int
main(void)
{
	test_shape();
	test_case();
	test_refused();
	test_mutations();
	test_fields();
	test_order();
	test_unique();
	test_firer();
	test_grow_within_millisecond();
	test_derive();
	return check_done("txid");
}
