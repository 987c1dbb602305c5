/*
 * libFuzzer: the transaction id check.  An id txid_parse accepts has a
 * canonical form that parses to itself and whose shard, time and firer
 * are in range.  The input also seeds a generated id, which must parse
 * and give back the shard and time it was made with.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "txid.h"
#include "util.h"

#define TIME_LIMIT	101559956668416LL	/* 36^9 */

static void
check_id(const char *id)
{
	char again[TXID_LEN + 1];
	unsigned n;

	CHECK(strlen(id) == TXID_LEN);
	CHECK(strspn(id, "0123456789abcdefghijklmnopqrstuvwxyz") == TXID_LEN);
	CHECK(txid_parse(id, again) == 0 && strcmp(again, id) == 0);
	CHECK(txid_shard(id) <= TXID_SHARD_MAX);
	CHECK(txid_time_ms(id) >= 0 && txid_time_ms(id) < TIME_LIMIT);
	for (n = 0; n < 8; n++)
		CHECK(txid_firer(id, n) < (n ? n : 1));
}

static void
parse_input(const uint8_t *data, size_t size)
{
	char out[TXID_LEN + 1];
	char *in;
	size_t i;

	/* Exactly as long as the input, so ASan sees any read past it. */
	in = xmalloc(size + 1);
	memcpy(in, data, size);
	in[size] = '\0';
	if (txid_parse(in, out) == 0) {
		CHECK(strlen(in) == TXID_LEN);
		for (i = 0; i < TXID_LEN; i++)
			CHECK(out[i] == tolower((unsigned char)in[i]));
		check_id(out);
	}
	free(in);
}

static uint64_t
get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

static void
generate(const uint8_t *data, size_t size)
{
	char id[TXID_LEN + 1], upper[TXID_LEN + 1], out[TXID_LEN + 1];
	unsigned shard;
	int64_t time_ms;
	size_t i;

	if (size < 10)
		return;
	shard = (unsigned)get_be(data, 2);
	time_ms = (int64_t)get_be(data + 2, 8);
	txid_generate(id, shard, time_ms);
	check_id(id);
	CHECK(txid_shard(id) == shard % (TXID_SHARD_MAX + 1));
	CHECK(txid_time_ms(id) == (time_ms < 0 ? 0 : time_ms % TIME_LIMIT));
	for (i = 0; i <= TXID_LEN; i++)
		upper[i] = (char)toupper((unsigned char)id[i]);
	CHECK(txid_parse(upper, out) == 0 && strcmp(out, id) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_input(data, size);
	generate(data, size);
	return 0;
}
