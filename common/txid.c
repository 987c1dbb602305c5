#include <string.h>

#include "txid.h"
#include "util.h"

#define TIME_DIGITS	9
#define SHARD_DIGITS	2
#define COUNT_DIGITS	1
#define RANDOM_DIGITS	16
#define CHECK_DIGITS	4
#define BODY_LEN	(TIME_DIGITS + SHARD_DIGITS + COUNT_DIGITS + \
			    RANDOM_DIGITS)
#define CHECK_MODULUS	(36ULL * 36 * 36 * 36)

static const char digits36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

/* Fixed-width base 36, most significant digit first. */
static void
put_base36(char *out, int width, uint64_t v)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		out[i] = digits36[v % 36];
		v /= 36;
	}
}

static int
digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	return -1;
}

static uint64_t
get_base36(const char *s, int width)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < width; i++)
		v = v * 36 + (uint64_t)digit_value(s[i]);
	return v;
}

/* FNV-1a over the body, reduced to four base-36 digits. */
static void
compute_check(const char *body, char *out)
{
	put_base36(out, CHECK_DIGITS,
	    fnv1a(FNV1A_INIT, body, BODY_LEN) % CHECK_MODULUS);
}

/* Uniform base-36 digits: bytes of 252 and above are drawn again. */
static void
put_random(char *out, int n)
{
	unsigned char pool[32];
	size_t used = sizeof(pool);
	int i = 0;

	while (i < n) {
		if (used == sizeof(pool)) {
			random_bytes(pool, sizeof(pool));
			used = 0;
		}
		if (pool[used] < 252)
			out[i++] = digits36[pool[used] % 36];
		used++;
	}
}

/*
 * The how-many-th id of this millisecond, 0..35 (staying at 35 past
 * that); state packs the millisecond and the count, updated atomically
 * since ingest's HTTP threads make ids concurrently.
 */
static unsigned
count_in_ms(int64_t time_ms)
{
	static uint64_t state;
	uint64_t old, new;
	unsigned n;

	old = __atomic_load_n(&state, __ATOMIC_RELAXED);
	do {
		n = (int64_t)(old >> 6) == time_ms ? (unsigned)(old & 63) + 1 : 0;
		if (n > 35)
			n = 35;
		new = (uint64_t)time_ms << 6 | n;
	} while (!__atomic_compare_exchange_n(&state, &old, new, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return n;
}

void
txid_derive(char *out, unsigned shard, int64_t time_ms, uint64_t seed)
{
	uint64_t v = seed;
	int i;

	if (time_ms < 0)
		time_ms = 0;
	put_base36(out, TIME_DIGITS, (uint64_t)time_ms);
	put_base36(out + TIME_DIGITS, SHARD_DIGITS, shard % (TXID_SHARD_MAX + 1));
	/* 17 digits from the seed, stretched by a 64-bit LCG (MMIX). */
	for (i = 0; i < COUNT_DIGITS + RANDOM_DIGITS; i++) {
		v = v * 6364136223846793005ULL + 1442695040888963407ULL;
		out[TIME_DIGITS + SHARD_DIGITS + i] = digits36[(v >> 33) % 36];
	}
	compute_check(out, out + BODY_LEN);
	out[TXID_LEN] = '\0';
}

void
txid_generate(char *out, unsigned shard, int64_t time_ms)
{
	if (time_ms < 0)
		time_ms = 0;
	put_base36(out, TIME_DIGITS, (uint64_t)time_ms);
	put_base36(out + TIME_DIGITS, SHARD_DIGITS, shard % (TXID_SHARD_MAX + 1));
	put_base36(out + TIME_DIGITS + SHARD_DIGITS, COUNT_DIGITS,
	    count_in_ms(time_ms));
	put_random(out + TIME_DIGITS + SHARD_DIGITS + COUNT_DIGITS,
	    RANDOM_DIGITS);
	compute_check(out, out + BODY_LEN);
	out[TXID_LEN] = '\0';
}

int
txid_parse(const char *in, char *out)
{
	char check[CHECK_DIGITS];
	int i;

	for (i = 0; i < TXID_LEN; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (digit_value(c) < 0)
			return -1;
		out[i] = c;
	}
	if (in[TXID_LEN] != '\0')
		return -1;
	out[TXID_LEN] = '\0';
	compute_check(out, check);
	if (memcmp(check, out + BODY_LEN, CHECK_DIGITS) != 0)
		return -1;
	return 0;
}

unsigned
txid_shard(const char *id)
{
	return (unsigned)get_base36(id + TIME_DIGITS, SHARD_DIGITS);
}

int64_t
txid_time_ms(const char *id)
{
	return (int64_t)get_base36(id, TIME_DIGITS);
}

unsigned
txid_firer(const char *id, unsigned n)
{
	if (n <= 1)
		return 0;
	return (unsigned)(fnv1a(FNV1A_INIT, id, strlen(id)) % n);
}
