/*
 * libFuzzer: the wire decoder on bytes from outside the process.  The
 * input is read as a whole message, the way common/handoff.c reads one
 * (envelope, then a batch of length-prefixed records or an ack's
 * verdicts), and as each kind of stored record value.  Whatever decodes
 * must encode into bytes that decode to the same thing and encode again
 * to the same bytes.
 */
#include <string.h>

#include "fuzz.h"
#include "record.h"
#include "wire.h"

/* common/handoff.c refuses larger batches before reading them. */
#define BATCH_RECORDS_MAX	100000

static int
same_attrs(const struct attrs *a, const struct attrs *b)
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
check_names(const struct attrs *a)
{
	size_t i, j;

	CHECK(a->n <= RECORD_ATTRS_MAX);
	for (i = 0; i < a->n; i++) {
		CHECK(strlen(a->v[i].name) <= RECORD_NAME_MAX);
		CHECK(strlen(a->v[i].value) <= RECORD_VALUE_MAX);
		for (j = 0; j < i; j++)
			CHECK(strcmp(a->v[i].name, a->v[j].name) != 0);
	}
}

static void
hit_again(const struct hit *h)
{
	struct wire_reader r;
	struct buf b1, b2;
	struct hit h2;

	check_names(&h->attrs);
	(void)hit_kind_name(h->kind);
	(void)hit_kind_is_conversion(h->kind);
	buf_init(&b1);
	buf_init(&b2);
	hit_init(&h2);
	record_put_hit(&b1, h);
	wire_reader_init(&r, b1.data, b1.len);
	CHECK(record_get_hit(&r, &h2) == 0 && wire_done(&r) == 0);
	CHECK(h2.kind == h->kind && h2.time_ms == h->time_ms);
	CHECK(strcmp(h2.txid, h->txid) == 0);
	CHECK(same_attrs(&h2.attrs, &h->attrs));
	record_put_hit(&b2, &h2);
	CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	hit_free(&h2);
	buf_free(&b1);
	buf_free(&b2);
}

static void
event_again(const struct event *e)
{
	struct wire_reader r;
	struct buf b1, b2;
	struct event e2;

	check_names(&e->attrs);
	(void)event_type_name(e->type);
	(void)status_name(e->status);
	buf_init(&b1);
	buf_init(&b2);
	event_init(&e2);
	record_put_event(&b1, e);
	wire_reader_init(&r, b1.data, b1.len);
	CHECK(record_get_event(&r, &e2) == 0 && wire_done(&r) == 0);
	CHECK(e2.type == e->type && e2.status == e->status);
	CHECK(e2.time_ms == e->time_ms && strcmp(e2.txid, e->txid) == 0);
	CHECK(same_attrs(&e2.attrs, &e->attrs));
	record_put_event(&b2, &e2);
	CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	event_free(&e2);
	buf_free(&b1);
	buf_free(&b2);
}

static void
verdict_again(const struct verdict *v)
{
	struct wire_reader r;
	struct verdict v2;
	struct buf b;

	(void)verdict_name(v->result);
	buf_init(&b);
	memset(&v2, 0, sizeof(v2));
	record_put_verdict(&b, v);
	wire_reader_init(&r, b.data, b.len);
	CHECK(record_get_verdict(&r, &v2) == 0 && wire_done(&r) == 0);
	CHECK(v2.seq == v->seq && v2.result == v->result);
	CHECK(strcmp(v2.reason, v->reason) == 0);
	CHECK(strcmp(v2.txid, v->txid) == 0);
	buf_free(&b);
}

static int
same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void
attempt_again(const struct attempt *a)
{
	struct wire_reader r;
	struct attempt a2;
	struct buf b1, b2;

	(void)attempt_result_name(a->result);
	(void)event_type_name(a->type);
	buf_init(&b1);
	buf_init(&b2);
	attempt_init(&a2);
	record_put_attempt(&b1, a);
	wire_reader_init(&r, b1.data, b1.len);
	CHECK(record_get_attempt(&r, &a2) == 0 && wire_done(&r) == 0);
	CHECK(a2.time_ms == a->time_ms && a2.attempt == a->attempt);
	CHECK(a2.result == a->result && a2.http_status == a->http_status);
	CHECK(a2.latency_ms == a->latency_ms && a2.type == a->type);
	CHECK(strcmp(a2.postback_id, a->postback_id) == 0);
	CHECK(same_str(a2.rule, a->rule) && same_str(a2.url, a->url));
	CHECK(same_str(a2.offer_id, a->offer_id));
	CHECK(same_str(a2.publisher, a->publisher));
	CHECK(same_str(a2.txid, a->txid) && same_str(a2.error, a->error));
	record_put_attempt(&b2, &a2);
	CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	attempt_free(&a2);
	buf_free(&b1);
	buf_free(&b2);
}

static void
delivery_again(const struct delivery *d)
{
	struct wire_reader r;
	struct delivery d2;
	struct buf b1, b2;

	event_again(&d->event);
	buf_init(&b1);
	buf_init(&b2);
	delivery_init(&d2);
	record_put_delivery(&b1, d);
	wire_reader_init(&r, b1.data, b1.len);
	CHECK(record_get_delivery(&r, &d2) == 0 && wire_done(&r) == 0);
	CHECK(strcmp(d2.postback_id, d->postback_id) == 0);
	CHECK(same_str(d2.rule, d->rule));
	CHECK(strcmp(d2.rule_version, d->rule_version) == 0);
	CHECK(d2.attempt == d->attempt && d2.due_ms == d->due_ms);
	record_put_delivery(&b2, &d2);
	CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	delivery_free(&d2);
	buf_free(&b1);
	buf_free(&b2);
}

/* Each kind of stored value, decoded from the whole input. */
static void
fuzz_records(const uint8_t *data, size_t size)
{
	struct wire_reader r;
	struct hit h;
	struct event e;
	struct verdict v;
	struct attempt a;
	struct delivery d;

	hit_init(&h);
	wire_reader_init(&r, data, size);
	if (record_get_hit(&r, &h) == 0 && wire_done(&r) == 0)
		hit_again(&h);
	hit_free(&h);

	event_init(&e);
	wire_reader_init(&r, data, size);
	if (record_get_event(&r, &e) == 0 && wire_done(&r) == 0)
		event_again(&e);
	event_free(&e);

	memset(&v, 0, sizeof(v));
	wire_reader_init(&r, data, size);
	if (record_get_verdict(&r, &v) == 0 && wire_done(&r) == 0)
		verdict_again(&v);

	attempt_init(&a);
	wire_reader_init(&r, data, size);
	if (record_get_attempt(&r, &a) == 0 && wire_done(&r) == 0)
		attempt_again(&a);
	attempt_free(&a);

	delivery_init(&d);
	wire_reader_init(&r, data, size);
	if (record_get_delivery(&r, &d) == 0 && wire_done(&r) == 0)
		delivery_again(&d);
	delivery_free(&d);
}

/* One record of a batch, in a reader of its own as handoff.c does. */
static int
batch_record(struct wire_reader *r, uint8_t type)
{
	struct wire_reader rr;
	struct event e;
	struct hit h;
	uint32_t len;
	int rc;

	if (wire_get_u32(r, &len) == -1 || r->len - r->off < len)
		return -1;
	wire_reader_init(&rr, r->p + r->off, len);
	if (type == MSG_HITS) {
		hit_init(&h);
		if ((rc = record_get_hit(&rr, &h)) == 0 &&
		    (rc = wire_done(&rr)) == 0)
			hit_again(&h);
		hit_free(&h);
	} else {
		event_init(&e);
		if ((rc = record_get_event(&rr, &e)) == 0 &&
		    (rc = wire_done(&rr)) == 0)
			event_again(&e);
		event_free(&e);
	}
	r->off += len;
	return rc;
}

static void
fuzz_message(const uint8_t *data, size_t size)
{
	struct wire_reader r;
	struct envelope env;
	struct verdict v;
	uint64_t base;
	uint32_t i;

	wire_reader_init(&r, data, size);
	if (wire_get_envelope(&r, &env) == -1)
		return;
	CHECK(env.version == WIRE_VERSION);
	CHECK(env.sender[0] != '\0' && strlen(env.sender) <= WIRE_SENDER_MAX);
	(void)msg_type_name(env.type);
	if (env.type == MSG_ACK || env.type == MSG_REPLY) {
		for (i = 0; i < env.count && !r.failed; i++) {
			memset(&v, 0, sizeof(v));
			if (record_get_verdict(&r, &v) == 0)
				verdict_again(&v);
		}
		return;
	}
	CHECK(env.type == MSG_HITS || env.type == MSG_EVENTS);
	if (wire_get_u64(&r, &base) == -1 || env.count > BATCH_RECORDS_MAX)
		return;
	for (i = 0; i < env.count; i++)
		if (batch_record(&r, env.type) == -1)
			return;
	(void)wire_done(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_message(data, size);
	fuzz_records(data, size);
	return 0;
}
