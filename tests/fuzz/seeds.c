/*
 * Writes the seed corpus of fuzz_wire with the real encoders: one file
 * per kind of stored record and per kind of message.
 *
 *	fuzz_seeds DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "txid.h"
#include "wire.h"

#define SENDER	"ingest-0/3f9a1c2b7d4e5f60"
#define TIME_MS	1700000000123LL

static const char *dir;

static void
save(const char *name, const struct buf *b)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static void
make_hit(struct hit *h, int kind, unsigned shard)
{
	hit_init(h);
	h->kind = (uint8_t)kind;
	h->time_ms = TIME_MS;
	txid_generate(h->txid, shard, TIME_MS);
	if (kind == HIT_CLICK) {
		attrs_set(&h->attrs, "offer_id", "o1");
		attrs_set(&h->attrs, "publisher", "p-7");
		attrs_set(&h->attrs, "sub_id", "a b&c");
		attrs_set(&h->attrs, "click_ip", "203.0.113.9");
		attrs_set(&h->attrs, "click_user_agent", "Mozilla/5.0 (X11)");
		attrs_set(&h->attrs, "param.utm", "x");
	} else {
		attrs_set(&h->attrs, "_token", "*");
		attrs_set(&h->attrs, "event", "purchase");
		attrs_set(&h->attrs, "order_id", "A-1001");
		attrs_set(&h->attrs, "payout", "2.50");
		attrs_set(&h->attrs, "status", "approved");
	}
}

static void
make_event(struct event *e)
{
	event_init(e);
	e->type = EVENT_CONVERSION;
	e->status = STATUS_APPROVED;
	e->time_ms = TIME_MS;
	txid_generate(e->txid, 3, TIME_MS);
	attrs_set(&e->attrs, "offer_id", "o1");
	attrs_set(&e->attrs, "publisher", "p-7");
	attrs_set(&e->attrs, "payout", "2.50");
	attrs_set(&e->attrs, "order_id", "A-1001");
}

static void
records(void)
{
	struct delivery d;
	struct attempt a;
	struct verdict v;
	struct event e;
	struct hit h;
	struct buf b;

	buf_init(&b);
	make_hit(&h, HIT_CLICK, 0);
	record_put_hit(&b, &h);
	save("hit-click", &b);
	hit_free(&h);

	buf_reset(&b);
	make_hit(&h, HIT_POSTBACK, 7);
	record_put_hit(&b, &h);
	save("hit-postback", &b);
	hit_free(&h);

	buf_reset(&b);
	make_event(&e);
	record_put_event(&b, &e);
	save("event", &b);

	buf_reset(&b);
	memset(&v, 0, sizeof(v));
	v.seq = 42;
	v.result = VERDICT_REJECTED;
	snprintf(v.reason, sizeof(v.reason), "duplicate order_id");
	memcpy(v.txid, e.txid, sizeof(v.txid));
	record_put_verdict(&b, &v);
	save("verdict", &b);

	buf_reset(&b);
	attempt_init(&a);
	a.time_ms = TIME_MS;
	txid_generate(a.postback_id, 0, TIME_MS);
	a.attempt = 2;
	a.result = ATTEMPT_RETRY;
	a.http_status = 503;
	a.latency_ms = 87;
	a.type = EVENT_CONVERSION;
	a.rule = xstrdup("aff-conv");
	a.offer_id = xstrdup("o1");
	a.publisher = xstrdup("p-7");
	a.txid = xstrdup(e.txid);
	a.url = xstrdup("https://aff.example.net/pb?click=x&amt=2.50");
	a.error = xstrdup("HTTP 503");
	record_put_attempt(&b, &a);
	save("attempt", &b);
	attempt_free(&a);

	buf_reset(&b);
	delivery_init(&d);
	txid_generate(d.postback_id, 0, TIME_MS);
	d.rule = xstrdup("aff-conv");
	snprintf(d.rule_version, sizeof(d.rule_version), "0123456789abcdef");
	d.attempt = 1;
	d.due_ms = TIME_MS + 600000;
	d.event = e;
	record_put_delivery(&b, &d);
	save("delivery", &b);
	free(d.rule);
	event_free(&e);
	buf_free(&b);
}

/* A batch as common/handoff.c sends it: envelope, base, records. */
static void
messages(void)
{
	struct buf b, r;
	struct verdict v;
	struct event e;
	struct hit h;

	buf_init(&b);
	buf_init(&r);
	wire_put_envelope(&b, MSG_HITS, SENDER, 5, 2);
	wire_put_u64(&b, 1);
	make_hit(&h, HIT_CLICK, 1);
	record_put_hit(&r, &h);
	wire_put_u32(&b, (uint32_t)r.len);
	buf_add(&b, r.data, r.len);
	hit_free(&h);
	buf_reset(&r);
	make_hit(&h, HIT_POSTBACK, 1);
	record_put_hit(&r, &h);
	wire_put_u32(&b, (uint32_t)r.len);
	buf_add(&b, r.data, r.len);
	hit_free(&h);
	save("msg-hits", &b);

	buf_reset(&b);
	buf_reset(&r);
	wire_put_envelope(&b, MSG_EVENTS, "matcher-0/00ff00ff00ff00ff", 9, 1);
	wire_put_u64(&b, 9);
	make_event(&e);
	record_put_event(&r, &e);
	wire_put_u32(&b, (uint32_t)r.len);
	buf_add(&b, r.data, r.len);
	save("msg-events", &b);

	buf_reset(&b);
	wire_put_envelope(&b, MSG_ACK, "matcher-0", 6, 2);
	memset(&v, 0, sizeof(v));
	v.seq = 5;
	v.result = VERDICT_STORED;
	memcpy(v.txid, e.txid, sizeof(v.txid));
	record_put_verdict(&b, &v);
	v.seq = 6;
	v.result = VERDICT_HELD;
	snprintf(v.reason, sizeof(v.reason), "waiting for click");
	record_put_verdict(&b, &v);
	save("msg-ack", &b);
	buf_reset(&b);
	wire_put_envelope(&b, MSG_REPLY, "matcher-0", 4, 1);
	record_put_verdict(&b, &v);
	save("msg-reply", &b);
	event_free(&e);

	buf_reset(&b);
	wire_put_envelope(&b, MSG_HITS, SENDER, 1, 0);
	wire_put_u64(&b, 1);
	save("msg-empty", &b);
	buf_free(&b);
	buf_free(&r);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds dir\n");
		return 2;
	}
	dir = argv[1];
	records();
	messages();
	return 0;
}
