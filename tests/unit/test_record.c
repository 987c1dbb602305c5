/*
 * Unit test of common/record.c: attribute lists, the round trip of hits,
 * events, verdicts and attempts, refusal of truncated, mis-versioned,
 * out-of-range and oversized encodings, and the names of the enums.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "record.h"
#include "util.h"
#include "wire.h"

#define TXID	"0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p"

static char *long_value;	/* RECORD_VALUE_MAX bytes */
static char *long_name;		/* RECORD_NAME_MAX bytes */

static char *
repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
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

static int
attrs_equal(const struct attrs *a, const struct attrs *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, b->v[i].name) != 0 ||
		    strcmp(a->v[i].value, b->v[i].value) != 0)
			return 0;
	return 1;
}

static void
fill_attrs(struct attrs *a)
{
	attrs_set(a, "offer_id", "42");
	attrs_set(a, "empty", "");
	attrs_set(a, "", "empty name");
	attrs_set(a, "hostile", "a b&c=d\r\n\"\\\x01\x7f\xc3\xa9");
	attrs_set(a, "long", long_value);
	attrs_set(a, long_name, "long name");
}

static void
test_attrs(void)
{
	struct attrs a, c;
	char name[16], *want;
	size_t i;
	int ok;

	attrs_init(&a);
	CHECK(a.n == 0);
	CHECK(attrs_get(&a, "x") == NULL);

	attrs_set(&a, "a", "1");
	attrs_set(&a, "b", "2");
	CHECK(a.n == 2);
	CHECK_STR(attrs_get(&a, "a"), "1");
	CHECK_STR(attrs_get(&a, "b"), "2");
	CHECK(attrs_get(&a, "c") == NULL);
	CHECK(attrs_get(&a, "") == NULL);
	CHECK(attrs_get(&a, "A") == NULL);

	/* Replace keeps the place and the count. */
	attrs_set(&a, "a", "3");
	CHECK(a.n == 2);
	CHECK_STR(a.v[0].name, "a");
	CHECK_STR(attrs_get(&a, "a"), "3");
	attrs_set(&a, "a", "");
	CHECK_STR(attrs_get(&a, "a"), "");
	CHECK(a.n == 2);

	/* The list keeps its own copies. */
	strcpy(name, "c");
	want = xstrdup("v");
	attrs_set(&a, name, want);
	name[0] = 'd';
	want[0] = 'w';
	CHECK_STR(attrs_get(&a, "c"), "v");
	CHECK(attrs_get(&a, "d") == NULL);
	free(want);

	/* Growth past the first allocation, in insertion order. */
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "k%zu", i);
		attrs_set(&a, name, name);
	}
	CHECK(a.n == 103);
	for (ok = 1, i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "k%zu", i);
		if (attrs_get(&a, name) == NULL ||
		    strcmp(attrs_get(&a, name), name) != 0 ||
		    strcmp(a.v[3 + i].name, name) != 0)
			ok = 0;
	}
	CHECK(ok);

	/* Copy: into an empty list, then over one with shared names. */
	attrs_init(&c);
	attrs_copy(&c, &a);
	CHECK(attrs_equal(&a, &c));
	attrs_free(&c);
	CHECK(c.n == 0 && c.v == NULL);

	attrs_set(&c, "b", "old");
	attrs_set(&c, "only", "mine");
	attrs_copy(&c, &a);
	CHECK(c.n == a.n + 1);
	CHECK_STR(attrs_get(&c, "b"), "2");
	CHECK_STR(attrs_get(&c, "only"), "mine");
	CHECK_STR(attrs_get(&c, "k99"), "k99");

	/* A deep copy: it outlives its source. */
	attrs_free(&a);
	CHECK(a.n == 0 && a.v == NULL);
	CHECK_STR(attrs_get(&c, "c"), "v");
	attrs_free(&c);

	/* Copying an empty list changes nothing. */
	attrs_init(&a);
	attrs_init(&c);
	attrs_set(&c, "x", "y");
	attrs_copy(&c, &a);
	CHECK(c.n == 1);
	attrs_free(&c);
	attrs_free(&a);
}

static int
get_hit(const struct buf *b, struct hit *h)
{
	struct wire_reader r;
	unsigned char *copy = exact_copy(b->data, b->len);
	int rc;

	wire_reader_init(&r, copy, b->len);
	rc = record_get_hit(&r, h);
	if (rc == 0)
		rc = wire_done(&r);
	else if (!r.failed)
		rc = -2;	/* refused without marking the reader */
	free(copy);
	return rc;
}

static int
get_event(const struct buf *b, struct event *e)
{
	struct wire_reader r;
	unsigned char *copy = exact_copy(b->data, b->len);
	int rc;

	wire_reader_init(&r, copy, b->len);
	rc = record_get_event(&r, e);
	if (rc == 0)
		rc = wire_done(&r);
	else if (!r.failed)
		rc = -2;
	free(copy);
	return rc;
}

static int
get_verdict(const struct buf *b, struct verdict *v)
{
	struct wire_reader r;
	unsigned char *copy = exact_copy(b->data, b->len);
	int rc;

	wire_reader_init(&r, copy, b->len);
	rc = record_get_verdict(&r, v);
	if (rc == 0)
		rc = wire_done(&r);
	else if (!r.failed)
		rc = -2;
	free(copy);
	return rc;
}

static int
get_attempt(const struct buf *b, struct attempt *a)
{
	struct wire_reader r;
	unsigned char *copy = exact_copy(b->data, b->len);
	int rc;

	wire_reader_init(&r, copy, b->len);
	rc = record_get_attempt(&r, a);
	if (rc == 0)
		rc = wire_done(&r);
	else if (!r.failed)
		rc = -2;
	free(copy);
	return rc;
}

/* Decoders of a whole encoding into a fresh record, freed again. */
static int
try_hit(const struct buf *b)
{
	struct hit h;
	int rc;

	hit_init(&h);
	rc = get_hit(b, &h);
	hit_free(&h);
	return rc;
}

static int
try_event(const struct buf *b)
{
	struct event e;
	int rc;

	event_init(&e);
	rc = get_event(b, &e);
	event_free(&e);
	return rc;
}

static int
try_verdict(const struct buf *b)
{
	struct verdict v;

	memset(&v, 0, sizeof(v));
	return get_verdict(b, &v);
}

static int
try_attempt(const struct buf *b)
{
	struct attempt a;
	int rc;

	attempt_init(&a);
	rc = get_attempt(b, &a);
	attempt_free(&a);
	return rc;
}

/*
 * Every proper prefix of a valid encoding must be refused (with the reader
 * marked failed), as must the encoding with its version byte changed and
 * with a byte appended.
 */
static void
check_damaged(const struct buf *good, int (*try)(const struct buf *),
    const char *what)
{
	struct buf b;
	size_t len;
	int bad = 0;

	CHECK(try(good) == 0);
	buf_init(&b);
	for (len = 0; len < good->len; len++) {
		buf_reset(&b);
		buf_add(&b, good->data, len);
		if (try(&b) != -1) {
			if (bad++ == 0)
				fprintf(stderr, "%s: prefix of %zu of %zu "
				    "bytes not refused\n", what, len,
				    good->len);
		}
	}
	CHECK(bad == 0);

	buf_reset(&b);
	buf_add(&b, good->data, good->len);
	b.data[0] = 2;
	CHECK(try(&b) == -1);
	b.data[0] = 0;
	CHECK(try(&b) == -1);
	b.data[0] = (char)0xff;
	CHECK(try(&b) == -1);
	b.data[0] = RECORD_VERSION;
	CHECK(try(&b) == 0);

	buf_addc(&b, 0);
	CHECK(try(&b) == -1);
	buf_free(&b);
}

static void
test_hit(void)
{
	struct hit h, g;
	struct buf b;
	int kind;

	buf_init(&b);
	for (kind = HIT_CLICK; kind < HIT_KIND_END; kind++) {
		hit_init(&h);
		h.kind = (uint8_t)kind;
		h.time_ms = INT64_C(1795000000123) + kind;
		strcpy(h.txid, TXID);
		fill_attrs(&h.attrs);
		buf_reset(&b);
		record_put_hit(&b, &h);

		hit_init(&g);
		CHECK(get_hit(&b, &g) == 0);
		CHECK(g.kind == kind);
		CHECK(g.time_ms == h.time_ms);
		CHECK_STR(g.txid, TXID);
		CHECK(attrs_equal(&g.attrs, &h.attrs));
		CHECK_STR(attrs_get(&g.attrs, "empty"), "");
		CHECK_STR(attrs_get(&g.attrs, "long"), long_value);
		hit_free(&g);
		hit_free(&h);
	}
	check_damaged(&b, try_hit, "hit");

	/* No attributes, empty txid, negative time. */
	hit_init(&h);
	h.kind = HIT_CLICKLESS;
	h.time_ms = -1;
	buf_reset(&b);
	record_put_hit(&b, &h);
	hit_init(&g);
	CHECK(get_hit(&b, &g) == 0);
	CHECK(g.kind == HIT_CLICKLESS && g.time_ms == -1);
	CHECK_STR(g.txid, "");
	CHECK(g.attrs.n == 0);
	hit_free(&g);

	/* Out-of-range kinds. */
	h.kind = 0;
	buf_reset(&b);
	record_put_hit(&b, &h);
	CHECK(try_hit(&b) == -1);
	h.kind = HIT_KIND_END;
	buf_reset(&b);
	record_put_hit(&b, &h);
	CHECK(try_hit(&b) == -1);
	h.kind = 0xff;
	buf_reset(&b);
	record_put_hit(&b, &h);
	CHECK(try_hit(&b) == -1);
	hit_free(&h);
	buf_free(&b);
}

/* A hit encoded by hand, with a txid and attrs of any size. */
static int
try_raw_hit(const char *txid, const struct attrs *a, size_t count)
{
	struct buf b;
	size_t i;
	int rc;

	buf_init(&b);
	wire_put_u8(&b, RECORD_VERSION);
	wire_put_u8(&b, HIT_CLICK);
	wire_put_i64(&b, 1);
	wire_put_str(&b, txid);
	wire_put_u16(&b, (uint16_t)count);
	for (i = 0; i < a->n; i++) {
		wire_put_u8(&b, 0);	/* a name given by its text */
		wire_put_str(&b, a->v[i].name);
		wire_put_str(&b, a->v[i].value);
	}
	rc = try_hit(&b);
	buf_free(&b);
	return rc;
}

static void
test_hit_limits(void)
{
	struct attrs a;
	char name[16], *s;
	size_t i;

	attrs_init(&a);
	CHECK(try_raw_hit(TXID, &a, 0) == 0);
	CHECK(try_raw_hit(TXID "x", &a, 0) == -1);

	/* Name and value at their maxima, then one byte over. */
	attrs_set(&a, long_name, long_value);
	CHECK(try_raw_hit(TXID, &a, a.n) == 0);
	attrs_free(&a);
	s = repeat('n', RECORD_NAME_MAX + 1);
	attrs_set(&a, s, "v");
	CHECK(try_raw_hit(TXID, &a, a.n) == -1);
	free(s);
	attrs_free(&a);
	s = repeat('v', RECORD_VALUE_MAX + 1);
	attrs_set(&a, "n", s);
	CHECK(try_raw_hit(TXID, &a, a.n) == -1);
	free(s);
	attrs_free(&a);

	/* The attribute count: the maximum, one over, a lie. */
	for (i = 0; i < RECORD_ATTRS_MAX + 1; i++) {
		snprintf(name, sizeof(name), "p%zu", i);
		attrs_set(&a, name, "v");
	}
	CHECK(try_raw_hit(TXID, &a, a.n) == -1);
	CHECK(try_raw_hit(TXID, &a, 0xffff) == -1);
	CHECK(try_raw_hit(TXID, &a, 2) == -1);	/* bytes left over */
	free(a.v[a.n - 1].name);
	free(a.v[a.n - 1].value);
	a.n--;
	CHECK(try_raw_hit(TXID, &a, a.n) == 0);
	attrs_free(&a);

	/* More attributes announced than present. */
	attrs_set(&a, "a", "1");
	attrs_set(&a, "b", "2");
	CHECK(try_raw_hit(TXID, &a, a.n) == 0);
	CHECK(try_raw_hit(TXID, &a, a.n + 1) == -1);
	CHECK(try_raw_hit(TXID, &a, a.n - 1) == -1);
	attrs_free(&a);
}

static void
test_event(void)
{
	struct event e, g;
	struct buf b;
	int type, status;

	buf_init(&b);
	for (type = EVENT_CLICK; type < EVENT_TYPE_END; type++) {
		for (status = STATUS_APPROVED; status < STATUS_END; status++) {
			event_init(&e);
			e.type = (uint8_t)type;
			e.status = (uint8_t)status;
			e.time_ms = INT64_C(1795000000123);
			strcpy(e.txid, TXID);
			fill_attrs(&e.attrs);
			buf_reset(&b);
			record_put_event(&b, &e);

			event_init(&g);
			CHECK(get_event(&b, &g) == 0);
			CHECK(g.type == type && g.status == status);
			CHECK(g.time_ms == e.time_ms);
			CHECK_STR(g.txid, TXID);
			CHECK(attrs_equal(&g.attrs, &e.attrs));
			event_free(&g);
			event_free(&e);
		}
	}
	check_damaged(&b, try_event, "event");

	event_init(&e);
	e.type = EVENT_CONVERSION;
	e.status = STATUS_PENDING;
	buf_reset(&b);
	record_put_event(&b, &e);
	CHECK(try_event(&b) == 0);
	e.type = 0;
	buf_reset(&b);
	record_put_event(&b, &e);
	CHECK(try_event(&b) == -1);
	e.type = EVENT_TYPE_END;
	buf_reset(&b);
	record_put_event(&b, &e);
	CHECK(try_event(&b) == -1);
	e.type = EVENT_CONVERSION;
	e.status = 0;
	buf_reset(&b);
	record_put_event(&b, &e);
	CHECK(try_event(&b) == -1);
	e.status = STATUS_END;
	buf_reset(&b);
	record_put_event(&b, &e);
	CHECK(try_event(&b) == -1);
	e.status = 0xff;
	buf_reset(&b);
	record_put_event(&b, &e);
	CHECK(try_event(&b) == -1);
	event_free(&e);
	buf_free(&b);
}

static void
test_verdict(void)
{
	struct verdict v, g;
	struct buf b;
	char *reason;
	int result;

	reason = repeat('r', VERDICT_REASON_MAX);
	buf_init(&b);
	for (result = VERDICT_STORED; result < VERDICT_END; result++) {
		memset(&v, 0, sizeof(v));
		v.seq = UINT64_MAX - (uint64_t)result;
		v.result = (uint8_t)result;
		strcpy(v.reason, result % 2 ? "" : reason);
		strcpy(v.txid, TXID);
		buf_reset(&b);
		record_put_verdict(&b, &v);

		memset(&g, 0x55, sizeof(g));
		CHECK(get_verdict(&b, &g) == 0);
		CHECK(g.seq == v.seq);
		CHECK(g.result == result);
		CHECK_STR(g.reason, v.reason);
		CHECK_STR(g.txid, TXID);
	}
	check_damaged(&b, try_verdict, "verdict");

	v.result = 0;
	buf_reset(&b);
	record_put_verdict(&b, &v);
	CHECK(try_verdict(&b) == -1);
	v.result = VERDICT_END;
	buf_reset(&b);
	record_put_verdict(&b, &v);
	CHECK(try_verdict(&b) == -1);

	/* A reason one byte too long. */
	buf_reset(&b);
	wire_put_u8(&b, RECORD_VERSION);
	wire_put_u64(&b, 1);
	wire_put_u8(&b, VERDICT_APPROVED);
	reason[0] = 'R';
	wire_put_str(&b, reason);
	CHECK(try_verdict(&b) == -1);	/* no txid yet */
	wire_put_str(&b, TXID);
	CHECK(try_verdict(&b) == 0);
	buf_reset(&b);
	wire_put_u8(&b, RECORD_VERSION);
	wire_put_u64(&b, 1);
	wire_put_u8(&b, VERDICT_APPROVED);
	free(reason);
	reason = repeat('r', VERDICT_REASON_MAX + 1);
	wire_put_str(&b, reason);
	wire_put_str(&b, TXID);
	CHECK(try_verdict(&b) == -1);
	free(reason);
	buf_free(&b);
}

static void
fill_attempt(struct attempt *a, int result)
{
	attempt_init(a);
	a->time_ms = INT64_C(1795000000123);
	strcpy(a->postback_id, TXID);
	a->attempt = 7;
	a->result = (uint8_t)result;
	a->http_status = 503;
	a->latency_ms = 1234567;
	a->type = EVENT_CONVERSION;
	a->rule = xstrdup("rule-1");
	a->offer_id = xstrdup("");
	a->publisher = xstrdup("pub \"x\"");
	a->txid = xstrdup(TXID);
	a->url = repeat('u', 100000);
	a->error = xstrdup("connect: refused\nsecond line");
}

static void
test_attempt(void)
{
	struct attempt a, g;
	struct buf b;
	int result;

	buf_init(&b);
	for (result = ATTEMPT_OK; result < ATTEMPT_RESULT_END; result++) {
		fill_attempt(&a, result);
		buf_reset(&b);
		record_put_attempt(&b, &a);

		attempt_init(&g);
		CHECK(get_attempt(&b, &g) == 0);
		CHECK(g.time_ms == a.time_ms);
		CHECK_STR(g.postback_id, TXID);
		CHECK(g.attempt == 7);
		CHECK(g.result == result);
		CHECK(g.http_status == 503);
		CHECK(g.latency_ms == 1234567);
		CHECK(g.type == EVENT_CONVERSION);
		CHECK_STR(g.rule, a.rule);
		CHECK_STR(g.offer_id, "");
		CHECK_STR(g.publisher, a.publisher);
		CHECK_STR(g.txid, TXID);
		CHECK_STR(g.url, a.url);
		CHECK_STR(g.error, a.error);
		attempt_free(&g);
		CHECK(g.rule == NULL && g.url == NULL);
		attempt_free(&a);
	}
	/* A smaller one for the prefixes, to keep this fast. */
	fill_attempt(&a, ATTEMPT_RETRY);
	free(a.url);
	a.url = xstrdup("http://example.test/pb?tid=" TXID);
	buf_reset(&b);
	record_put_attempt(&b, &a);
	check_damaged(&b, try_attempt, "attempt");

	a.result = 0;
	buf_reset(&b);
	record_put_attempt(&b, &a);
	CHECK(try_attempt(&b) == -1);
	a.result = ATTEMPT_RESULT_END;
	buf_reset(&b);
	record_put_attempt(&b, &a);
	CHECK(try_attempt(&b) == -1);
	attempt_free(&a);

	/* NULL strings are written as empty ones. */
	attempt_init(&a);
	a.result = ATTEMPT_CANCELLED;
	a.type = EVENT_CONVERSION;
	buf_reset(&b);
	record_put_attempt(&b, &a);
	attempt_init(&g);
	CHECK(get_attempt(&b, &g) == 0);
	CHECK_STR(g.rule, "");
	CHECK_STR(g.txid, "");
	CHECK_STR(g.error, "");
	attempt_free(&g);
	buf_free(&b);
}

static void
test_names(void)
{
	static const struct {
		int		 v;
		const char	*name;
	} hits[] = {
		{ HIT_CLICK, "click" }, { HIT_IMPRESSION, "impression" },
		{ HIT_POSTBACK, "postback" }, { HIT_PIXEL, "pixel" },
		{ HIT_CLICKLESS, "clickless" }, { HIT_REJECT, "reject" },
	}, events[] = {
		{ EVENT_CLICK, "click" }, { EVENT_IMPRESSION, "impression" },
		{ EVENT_CONVERSION, "conversion" }, { EVENT_EVENT, "event" },
	}, statuses[] = {
		{ STATUS_APPROVED, "approved" }, { STATUS_PENDING, "pending" },
		{ STATUS_REJECTED, "rejected" },
	}, results[] = {
		{ ATTEMPT_OK, "ok" }, { ATTEMPT_RETRY, "retry" },
		{ ATTEMPT_FAILED, "failed" },
		{ ATTEMPT_CANCELLED, "cancelled" },
		{ ATTEMPT_INTERRUPTED, "interrupted" },
	}, verdicts[] = {
		{ VERDICT_STORED, "stored" }, { VERDICT_APPROVED, "approved" },
		{ VERDICT_PENDING, "pending" },
		{ VERDICT_REJECTED, "rejected" },
		/* A held conversion is answered 202 result=accepted. */
		{ VERDICT_HELD, "accepted" },
	};
	static const int bad[] = { 0, -1, 1000 };
	size_t i;

	CHECK(nitems(hits) == HIT_KIND_END - 1);
	CHECK(nitems(events) == EVENT_TYPE_END - 1);
	CHECK(nitems(statuses) == STATUS_END - 1);
	CHECK(nitems(results) == ATTEMPT_RESULT_END - 1);
	CHECK(nitems(verdicts) == VERDICT_END - 1);

	for (i = 0; i < nitems(hits); i++)
		CHECK_STR(hit_kind_name(hits[i].v), hits[i].name);
	for (i = 0; i < nitems(events); i++) {
		CHECK_STR(event_type_name(events[i].v), events[i].name);
		CHECK(event_type_parse(events[i].name) == events[i].v);
	}
	for (i = 0; i < nitems(statuses); i++) {
		CHECK_STR(status_name(statuses[i].v), statuses[i].name);
		CHECK(status_parse(statuses[i].name) == statuses[i].v);
	}
	for (i = 0; i < nitems(results); i++) {
		CHECK_STR(attempt_result_name(results[i].v), results[i].name);
		CHECK(attempt_result_parse(results[i].name) == results[i].v);
	}
	for (i = 0; i < nitems(verdicts); i++)
		CHECK_STR(verdict_name(verdicts[i].v), verdicts[i].name);

	for (i = 0; i < nitems(bad); i++) {
		CHECK_STR(hit_kind_name(bad[i]), "unknown");
		CHECK_STR(event_type_name(bad[i]), "unknown");
		CHECK_STR(status_name(bad[i]), "unknown");
		CHECK_STR(attempt_result_name(bad[i]), "unknown");
		CHECK_STR(verdict_name(bad[i]), "unknown");
	}
	CHECK_STR(hit_kind_name(HIT_KIND_END), "unknown");
	CHECK_STR(event_type_name(EVENT_TYPE_END), "unknown");
	CHECK_STR(status_name(STATUS_END), "unknown");
	CHECK_STR(attempt_result_name(ATTEMPT_RESULT_END), "unknown");
	CHECK_STR(verdict_name(VERDICT_END), "unknown");

	CHECK(event_type_parse("") == 0);
	CHECK(event_type_parse("unknown") == 0);
	CHECK(event_type_parse("conversions") == 0);
	CHECK(event_type_parse("conv") == 0);
	CHECK(status_parse("") == 0);
	CHECK(status_parse("approve") == 0);
	CHECK(status_parse("unknown") == 0);
	CHECK(attempt_result_parse("") == 0);
	CHECK(attempt_result_parse("unknown") == 0);
	CHECK(attempt_result_parse("okay") == 0);

	CHECK(!hit_kind_is_conversion(HIT_CLICK));
	CHECK(!hit_kind_is_conversion(HIT_IMPRESSION));
	CHECK(hit_kind_is_conversion(HIT_POSTBACK));
	CHECK(hit_kind_is_conversion(HIT_PIXEL));
	CHECK(hit_kind_is_conversion(HIT_CLICKLESS));
	CHECK(hit_kind_is_conversion(HIT_REJECT));
}

/* An event read in place: coded attributes by code, others passed over. */
static void
test_scan_event(void)
{
	struct event_scan es;
	struct event e;
	struct buf b;
	size_t i;
	int cut = 1, offer = record_attr_code("offer_id");
	int payout = record_attr_code("payout");

	event_init(&e);
	e.type = EVENT_CONVERSION;
	e.status = STATUS_APPROVED;
	e.time_ms = 1234;
	snprintf(e.txid, sizeof(e.txid), "tx1");
	attrs_set(&e.attrs, "offer_id", "o7");
	attrs_set(&e.attrs, "param.x", "y");
	attrs_set(&e.attrs, "payout", "2.50");
	buf_init(&b);
	record_put_event(&b, &e);
	CHECK(offer > 0 && payout > 0 && record_attr_code("param.x") == 0);
	CHECK(record_scan_event(b.data, b.len, &es) == 0);
	CHECK(es.type == EVENT_CONVERSION && es.status == STATUS_APPROVED &&
	    es.time_ms == 1234);
	CHECK(es.txid.n == 3 && memcmp(es.txid.p, "tx1", 3) == 0);
	CHECK(es.attr[offer].n == 2 && memcmp(es.attr[offer].p, "o7", 2) == 0);
	CHECK(es.attr[payout].n == 4 &&
	    memcmp(es.attr[payout].p, "2.50", 4) == 0);
	CHECK(es.attr[record_attr_code("currency")].p == NULL);
	/* Cut short or with a byte more: refused, as record_get_event. */
	for (i = 0; i < b.len; i++)
		cut &= record_scan_event(b.data, i, &es) == -1;
	CHECK(cut);
	b.data[0] ^= 1;			/* another version */
	CHECK(record_scan_event(b.data, b.len, &es) == -1);
	b.data[0] ^= 1;
	CHECK(record_scan_event(b.data, b.len - 1, &es) == -1);
	buf_addc(&b, 0);
	CHECK(record_scan_event(b.data, b.len, &es) == -1);
	buf_free(&b);
	event_free(&e);
}

int
main(void)
{
	long_value = repeat('v', RECORD_VALUE_MAX);
	long_name = repeat('n', RECORD_NAME_MAX);
	test_attrs();
	test_hit();
	test_hit_limits();
	test_event();
	test_scan_event();
	test_verdict();
	test_attempt();
	test_names();
	free(long_value);
	free(long_name);
	return check_done("record");
}
