/*
 * Unit test of common/wire.c: every field type round trips in big-endian
 * layout, envelopes round trip, and any truncated or corrupt input is
 * refused cleanly (an error return and a failed reader, never a crash or
 * an out-of-bounds read: run under ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util.h"
#include "wire.h"

#define SENDER	"ingest-0/3f9a1c2b7d4e5f60"

static const unsigned char *
bytes(const struct buf *b)
{
	return (const unsigned char *)b->data;
}

/* A reader over an exactly sized copy, so ASan sees any over-read. */
static unsigned char *
exact_copy(const void *p, size_t len)
{
	unsigned char *c = xmalloc(len);

	if (len)
		memcpy(c, p, len);
	return c;
}

static void
test_layout(void)
{
	static const unsigned char u16[] = { 0x01, 0x02 };
	static const unsigned char u32[] = { 0x01, 0x02, 0x03, 0x04 };
	static const unsigned char u64[] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};
	static const unsigned char i64[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
	};
	static const unsigned char str[] = { 0, 0, 0, 2, 'a', 'b' };
	static const unsigned char env[] = {
		WIRE_VERSION, MSG_ACK, 0, 0, 0, 1, 's',
		0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03,
	};
	unsigned char k[8];
	struct buf b;

	buf_init(&b);
	wire_put_u32(&b, 0x01020304);
	CHECK(b.len == 4 && memcmp(bytes(&b), u32, 4) == 0);
	buf_reset(&b);
	wire_put_u8(&b, 0xab);
	CHECK(b.len == 1 && bytes(&b)[0] == 0xab);
	buf_reset(&b);
	wire_put_u16(&b, 0x0102);
	CHECK(b.len == 2 && memcmp(bytes(&b), u16, 2) == 0);
	buf_reset(&b);
	wire_put_u64(&b, UINT64_C(0x0102030405060708));
	CHECK(b.len == 8 && memcmp(bytes(&b), u64, 8) == 0);
	buf_reset(&b);
	wire_put_i64(&b, -2);
	CHECK(b.len == 8 && memcmp(bytes(&b), i64, 8) == 0);
	buf_reset(&b);
	wire_put_str(&b, "ab");
	CHECK(b.len == 6 && memcmp(bytes(&b), str, 6) == 0);
	buf_reset(&b);
	/* NULL is sent as the empty string. */
	wire_put_str(&b, NULL);
	CHECK(b.len == 4 && memcmp(bytes(&b), "\0\0\0\0", 4) == 0);
	buf_reset(&b);
	wire_put_envelope(&b, MSG_ACK, "s", 256, 3);
	CHECK(b.len == sizeof(env) && memcmp(bytes(&b), env, b.len) == 0);
	buf_free(&b);

	wire_be64_put(k, UINT64_C(0x0102030405060708));
	CHECK(memcmp(k, u64, 8) == 0);
	CHECK(wire_be64_get(u64) == UINT64_C(0x0102030405060708));
}

static void
test_round_trip(void)
{
	static const uint8_t u8s[] = { 0, 1, 0x7f, 0x80, 0xff };
	static const uint16_t u16s[] = { 0, 1, 0x1234, 0x8000, 0xffff };
	static const uint32_t u32s[] = { 0, 1, 0x12345678, 0x80000000,
	    UINT32_MAX };
	static const uint64_t u64s[] = { 0, 1, UINT64_C(0x0123456789abcdef),
	    UINT64_C(1) << 63, UINT64_MAX };
	static const int64_t i64s[] = { 0, 1, -1, INT64_MIN, INT64_MAX,
	    INT64_C(1795000000123), -INT64_C(1795000000123) };
	const char *strs[] = { "", "a", "hello world", "caf\xc3\xa9 \xff",
	    "tab\tnl\n", NULL };
	struct wire_reader r;
	struct buf b;
	unsigned char *copy;
	char *longstr, *s, sb[16];
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
	int64_t vi;
	size_t i;
	int ok;

	longstr = xmalloc(100001);
	memset(longstr, 'z', 100000);
	longstr[100000] = '\0';
	strs[nitems(strs) - 1] = longstr;

	buf_init(&b);
	for (i = 0; i < nitems(u8s); i++)
		wire_put_u8(&b, u8s[i]);
	for (i = 0; i < nitems(u16s); i++)
		wire_put_u16(&b, u16s[i]);
	for (i = 0; i < nitems(u32s); i++)
		wire_put_u32(&b, u32s[i]);
	for (i = 0; i < nitems(u64s); i++)
		wire_put_u64(&b, u64s[i]);
	for (i = 0; i < nitems(i64s); i++)
		wire_put_i64(&b, i64s[i]);
	for (i = 0; i < nitems(strs); i++)
		wire_put_str(&b, strs[i]);
	wire_put_str(&b, "short");

	copy = exact_copy(b.data, b.len);
	wire_reader_init(&r, copy, b.len);
	ok = 1;
	for (i = 0; i < nitems(u8s); i++)
		if (wire_get_u8(&r, &v8) != 0 || v8 != u8s[i])
			ok = 0;
	CHECK(ok);
	for (i = 0; i < nitems(u16s); i++)
		if (wire_get_u16(&r, &v16) != 0 || v16 != u16s[i])
			ok = 0;
	CHECK(ok);
	for (i = 0; i < nitems(u32s); i++)
		if (wire_get_u32(&r, &v32) != 0 || v32 != u32s[i])
			ok = 0;
	CHECK(ok);
	for (i = 0; i < nitems(u64s); i++)
		if (wire_get_u64(&r, &v64) != 0 || v64 != u64s[i])
			ok = 0;
	CHECK(ok);
	for (i = 0; i < nitems(i64s); i++)
		if (wire_get_i64(&r, &vi) != 0 || vi != i64s[i])
			ok = 0;
	CHECK(ok);
	for (i = 0; i < nitems(strs); i++) {
		s = NULL;
		if (wire_get_str(&r, 100000, &s) != 0 || s == NULL ||
		    strcmp(s, strs[i]) != 0)
			ok = 0;
		free(s);
	}
	CHECK(ok);
	CHECK(wire_get_strbuf(&r, sb, 5) == 0);
	CHECK_STR(sb, "short");
	CHECK(!r.failed);
	CHECK(r.off == r.len);
	CHECK(wire_done(&r) == 0);

	/* Reading past the end now fails, and the failure sticks. */
	CHECK(wire_get_u8(&r, &v8) == -1);
	CHECK(r.failed);
	CHECK(wire_done(&r) == -1);

	free(copy);
	buf_free(&b);
	free(longstr);
}

static void
test_envelope(void)
{
	char sender64[WIRE_SENDER_MAX + 2];
	struct envelope e;
	struct wire_reader r;
	struct buf b;
	int t;

	buf_init(&b);
	for (t = MSG_HITS; t < MSG_TYPE_END; t++) {
		buf_reset(&b);
		wire_put_envelope(&b, (enum msg_type)t, SENDER,
		    UINT64_C(0x1122334455667788), 4000000000u);
		memset(&e, 0, sizeof(e));
		wire_reader_init(&r, b.data, b.len);
		CHECK(wire_get_envelope(&r, &e) == 0);
		CHECK(e.version == WIRE_VERSION);
		CHECK(e.type == t);
		CHECK_STR(e.sender, SENDER);
		CHECK(e.seq == UINT64_C(0x1122334455667788));
		CHECK(e.count == 4000000000u);
		CHECK(wire_done(&r) == 0);
	}

	/* A sender of exactly the maximum length; one more is refused. */
	memset(sender64, 's', WIRE_SENDER_MAX);
	sender64[WIRE_SENDER_MAX] = '\0';
	buf_reset(&b);
	wire_put_envelope(&b, MSG_HITS, sender64, 1, 0);
	wire_reader_init(&r, b.data, b.len);
	CHECK(wire_get_envelope(&r, &e) == 0);
	CHECK_STR(e.sender, sender64);
	CHECK(wire_done(&r) == 0);
	sender64[WIRE_SENDER_MAX] = 's';
	sender64[WIRE_SENDER_MAX + 1] = '\0';
	buf_reset(&b);
	wire_put_envelope(&b, MSG_HITS, sender64, 1, 0);
	wire_reader_init(&r, b.data, b.len);
	CHECK(wire_get_envelope(&r, &e) == -1);
	CHECK(r.failed);
	CHECK(wire_done(&r) == -1);

	/* Leftover bytes after a complete envelope. */
	buf_reset(&b);
	wire_put_envelope(&b, MSG_EVENTS, SENDER, 9, 1);
	wire_put_u8(&b, 0);
	wire_reader_init(&r, b.data, b.len);
	CHECK(wire_get_envelope(&r, &e) == 0);
	CHECK(!r.failed);
	CHECK(wire_done(&r) == -1);
	buf_free(&b);
}

/*
 * Record one read's result: a read that succeeds after an earlier one
 * failed means the failure did not stick.
 */
static void
step(int got, int *rc, int *late)
{
	if (got == -1)
		*rc = -1;
	else if (*rc == -1)
		*late = 1;
}

/*
 * Decode the message built by build_message(), going on after a failure;
 * 0 if all of it was read, -1 if refused, 1 if a read succeeded after a
 * failure.
 */
static int
read_message(struct wire_reader *r)
{
	struct envelope e;
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
	int64_t vi;
	char *s, sb[33];
	int rc = 0, late = 0;

	step(wire_get_envelope(r, &e), &rc, &late);
	step(wire_get_u8(r, &v8), &rc, &late);
	step(wire_get_u16(r, &v16), &rc, &late);
	step(wire_get_u32(r, &v32), &rc, &late);
	step(wire_get_u64(r, &v64), &rc, &late);
	step(wire_get_i64(r, &vi), &rc, &late);
	s = NULL;
	step(wire_get_str(r, 1000, &s), &rc, &late);
	free(s);
	step(wire_get_strbuf(r, sb, 32), &rc, &late);
	s = NULL;
	step(wire_get_str(r, 10, &s), &rc, &late);
	free(s);
	step(wire_done(r), &rc, &late);
	return late ? 1 : rc;
}

static void
build_message(struct buf *b)
{
	wire_put_envelope(b, MSG_HITS, SENDER, 77, 3);
	wire_put_u8(b, 0xee);
	wire_put_u16(b, 0xbeef);
	wire_put_u32(b, 0xdeadbeef);
	wire_put_u64(b, UINT64_MAX);
	wire_put_i64(b, -5);
	wire_put_str(b, "a string of some length");
	wire_put_str(b, "0123456789abcdefghijklmnopqrstuv");
	wire_put_str(b, "");
}

static void
test_truncated(void)
{
	struct wire_reader r;
	struct buf b;
	unsigned char *copy;
	size_t len;
	int bad = 0;

	buf_init(&b);
	build_message(&b);
	copy = exact_copy(b.data, b.len);
	wire_reader_init(&r, copy, b.len);
	CHECK(read_message(&r) == 0);
	free(copy);

	for (len = 0; len < b.len; len++) {
		copy = exact_copy(b.data, len);
		wire_reader_init(&r, copy, len);
		if (read_message(&r) != -1 || !r.failed ||
		    wire_done(&r) != -1 || r.off > len) {
			fprintf(stderr, "prefix of %zu bytes not refused\n",
			    len);
			bad++;
		}
		free(copy);
	}
	CHECK(bad == 0);

	/* One byte too many. */
	buf_addc(&b, 'x');
	copy = exact_copy(b.data, b.len);
	wire_reader_init(&r, copy, b.len);
	CHECK(read_message(&r) == -1);
	free(copy);
	buf_free(&b);
}

/*
 * Whether b decodes as a string with wire_get_str(max); wire_get_strbuf()
 * into an array of max + 1 must agree.
 */
static int
str_ok(const struct buf *b, size_t max)
{
	struct wire_reader r;
	unsigned char *copy;
	char *s = NULL, *sb;
	int a, c;

	copy = exact_copy(b->data, b->len);
	wire_reader_init(&r, copy, b->len);
	a = wire_get_str(&r, max, &s);
	if (a == -1)
		CHECK(r.failed && s == NULL);
	else
		CHECK(!r.failed && s != NULL);
	free(s);

	/* (No array for a maximum that large: only the first way.) */
	c = a;
	if (max <= WIRE_MSG_MAX) {
		sb = xmalloc(max + 1);
		wire_reader_init(&r, copy, b->len);
		c = wire_get_strbuf(&r, sb, max);
		if (c == -1)
			CHECK(r.failed);
		free(sb);
	}
	free(copy);
	CHECK(a == c);
	return a == 0;
}

static void
test_corrupt_strings(void)
{
	struct buf b;

	buf_init(&b);

	/* Length larger than what remains. */
	wire_put_u32(&b, 4);
	buf_add(&b, "abc", 3);
	CHECK(!str_ok(&b, 100));
	buf_reset(&b);
	wire_put_u32(&b, UINT32_MAX);
	buf_add(&b, "abc", 3);
	CHECK(!str_ok(&b, SIZE_MAX - 1));
	CHECK(!str_ok(&b, 100));
	buf_reset(&b);
	wire_put_u32(&b, 0x80000000u);
	CHECK(!str_ok(&b, SIZE_MAX - 1));

	/* Length prefix itself cut short. */
	buf_reset(&b);
	buf_add(&b, "\0\0\0", 3);
	CHECK(!str_ok(&b, 100));

	/* A NUL byte inside, at the start, at the end. */
	buf_reset(&b);
	wire_put_u32(&b, 3);
	buf_add(&b, "a\0b", 3);
	CHECK(!str_ok(&b, 100));
	buf_reset(&b);
	wire_put_u32(&b, 2);
	buf_add(&b, "\0b", 2);
	CHECK(!str_ok(&b, 100));
	buf_reset(&b);
	wire_put_u32(&b, 2);
	buf_add(&b, "a\0", 2);
	CHECK(!str_ok(&b, 100));

	/* Longer than the maximum; exactly the maximum. */
	buf_reset(&b);
	wire_put_str(&b, "abcd");
	CHECK(!str_ok(&b, 3));
	CHECK(str_ok(&b, 4));
	CHECK(!str_ok(&b, 0));
	buf_reset(&b);
	wire_put_str(&b, "");
	CHECK(str_ok(&b, 0));

	buf_free(&b);
}

/* Encode an envelope by hand, with any field values. */
static void
raw_envelope(struct buf *b, uint8_t version, uint8_t type,
    const char *sender)
{
	buf_reset(b);
	wire_put_u8(b, version);
	wire_put_u8(b, type);
	wire_put_str(b, sender);
	wire_put_u64(b, 1);
	wire_put_u32(b, 1);
}

static int
envelope_ok(const struct buf *b)
{
	struct wire_reader r;
	struct envelope e;
	unsigned char *copy;
	int rc;

	copy = exact_copy(b->data, b->len);
	wire_reader_init(&r, copy, b->len);
	rc = wire_get_envelope(&r, &e);
	if (rc == -1)
		CHECK(r.failed && wire_done(&r) == -1);
	else
		CHECK(wire_done(&r) == 0);
	free(copy);
	return rc == 0;
}

static void
test_corrupt_envelopes(void)
{
	struct buf b;

	buf_init(&b);
	raw_envelope(&b, WIRE_VERSION, MSG_HITS, SENDER);
	CHECK(envelope_ok(&b));
	raw_envelope(&b, WIRE_VERSION, MSG_TYPE_END - 1, SENDER);
	CHECK(envelope_ok(&b));

	raw_envelope(&b, 0, MSG_HITS, SENDER);
	CHECK(!envelope_ok(&b));
	raw_envelope(&b, WIRE_VERSION + 1, MSG_HITS, SENDER);
	CHECK(!envelope_ok(&b));
	raw_envelope(&b, 0xff, MSG_HITS, SENDER);
	CHECK(!envelope_ok(&b));

	raw_envelope(&b, WIRE_VERSION, 0, SENDER);
	CHECK(!envelope_ok(&b));
	raw_envelope(&b, WIRE_VERSION, MSG_TYPE_END, SENDER);
	CHECK(!envelope_ok(&b));
	raw_envelope(&b, WIRE_VERSION, MSG_TYPE_END + 1, SENDER);
	CHECK(!envelope_ok(&b));
	raw_envelope(&b, WIRE_VERSION, 0xff, SENDER);
	CHECK(!envelope_ok(&b));

	raw_envelope(&b, WIRE_VERSION, MSG_HITS, "");
	CHECK(!envelope_ok(&b));

	/* A sender with a NUL in it. */
	buf_reset(&b);
	wire_put_u8(&b, WIRE_VERSION);
	wire_put_u8(&b, MSG_HITS);
	wire_put_u32(&b, 3);
	buf_add(&b, "a\0b", 3);
	wire_put_u64(&b, 1);
	wire_put_u32(&b, 1);
	CHECK(!envelope_ok(&b));
	buf_free(&b);
}

static void
test_names(void)
{
	CHECK_STR(msg_type_name(MSG_HITS), "hits");
	CHECK_STR(msg_type_name(MSG_EVENTS), "events");
	CHECK_STR(msg_type_name(MSG_ACK), "ack");
	CHECK_STR(msg_type_name(MSG_REPLY), "reply");
	CHECK_STR(msg_type_name(0), "unknown");
	CHECK_STR(msg_type_name(-1), "unknown");
	CHECK_STR(msg_type_name(MSG_TYPE_END), "unknown");
	CHECK_STR(msg_type_name(1000), "unknown");
}

static uint64_t
random_u64(void)
{
	uint64_t v;
	unsigned char shift;

	random_bytes(&v, sizeof(v));
	/* Spread the magnitudes: many small values too. */
	random_bytes(&shift, 1);
	return v >> (shift % 64);
}

static int
be64_ordered(uint64_t a, uint64_t b)
{
	unsigned char ka[8], kb[8];
	int c;

	wire_be64_put(ka, a);
	wire_be64_put(kb, b);
	c = memcmp(ka, kb, 8);
	if (wire_be64_get(ka) != a || wire_be64_get(kb) != b)
		return 0;
	return a < b ? c < 0 : a > b ? c > 0 : c == 0;
}

static void
test_be64_order(void)
{
	static const uint64_t edges[][2] = {
		{ 0, 1 }, { 0xff, 0x100 }, { 0xffff, 0x10000 },
		{ UINT32_MAX, UINT64_C(1) << 32 },
		{ (UINT64_C(1) << 63) - 1, UINT64_C(1) << 63 },
		{ UINT64_MAX - 1, UINT64_MAX }, { 0, UINT64_MAX },
		{ 42, 42 },
	};
	uint64_t a, b;
	size_t i;
	int bad = 0;

	for (i = 0; i < nitems(edges); i++)
		CHECK(be64_ordered(edges[i][0], edges[i][1]));

	for (i = 0; i < 100000; i++) {
		a = random_u64();
		b = random_u64();
		if (!be64_ordered(a, b)) {
			fprintf(stderr, "be64 order wrong for %llu, %llu\n",
			    (unsigned long long)a, (unsigned long long)b);
			bad++;
		}
	}
	CHECK(bad == 0);
}

int
main(void)
{
	test_layout();
	test_round_trip();
	test_envelope();
	test_truncated();
	test_corrupt_strings();
	test_corrupt_envelopes();
	test_names();
	test_be64_order();
	return check_done("wire");
}
