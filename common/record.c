#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

/*
 * The names every hit and event carries are written as one byte; any
 * other name as 0 and the name.  Only ever append to this table: stored
 * records refer to its positions.
 */
static const char *const attr_names[] = {
	NULL, "offer_id", "publisher", "sub_id", "sub_id_2", "sub_id_3",
	"sub_id_4", "sub_id_5", "source", "external_transaction_id",
	"click_ip", "click_user_agent", "click_time", "event", "status",
	"reason", "order_id", "revenue", "payout", "currency",
	"purchase_value", "adv_sub_id", "adv_sub_id_2", "adv_sub_id_3",
	"adv_sub_id_4", "conversion_ip", "user_agent", "user_email",
	"device_id", "session_time", "conversion_time", "_token",
	"transaction_id",
};

_Static_assert(sizeof(attr_names) / sizeof(attr_names[0]) <=
    RECORD_ATTR_CODES, "every code has its place in event_scan");

/* attr_code() looks names up in a small hash table, made once. */
#define ATTR_SLOTS	128

static uint8_t attr_slots[ATTR_SLOTS];
static pthread_once_t attr_slots_once = PTHREAD_ONCE_INIT;

static unsigned
attr_slot(const char *name)
{
	return (unsigned)(fnv1a(FNV1A_INIT, name, strlen(name)) % ATTR_SLOTS);
}

static void
attr_slots_fill(void)
{
	unsigned slot;
	size_t i;

	for (i = 1; i < nitems(attr_names); i++) {
		slot = attr_slot(attr_names[i]);
		while (attr_slots[slot] != 0)
			slot = (slot + 1) % ATTR_SLOTS;
		attr_slots[slot] = (uint8_t)i;
	}
}

static uint8_t
attr_code(const char *name)
{
	unsigned slot;

	pthread_once(&attr_slots_once, attr_slots_fill);
	for (slot = attr_slot(name); attr_slots[slot] != 0;
	    slot = (slot + 1) % ATTR_SLOTS)
		if (strcmp(attr_names[attr_slots[slot]], name) == 0)
			return attr_slots[slot];
	return 0;
}


void
attrs_init(struct attrs *a)
{
	a->v = NULL;
	a->n = 0;
	a->cap = 0;
}

void
attrs_free(struct attrs *a)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		if (a->v[i].code == 0)
			free(a->v[i].name);
		free(a->v[i].value);
	}
	free(a->v);
	attrs_init(a);
}

/*
 * Set name (of the given code) to value, taking value; the name is taken
 * too when it has no code, else the table's own string is used.
 */
static void
attrs_take(struct attrs *a, uint8_t code, char *name, char *value)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (code ? a->v[i].code == code : a->v[i].code == 0 &&
		    strcmp(a->v[i].name, name) == 0) {
			free(a->v[i].value);
			a->v[i].value = value;
			if (code == 0)
				free(name);
			return;
		}
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
	}
	a->v[a->n].code = code;
	a->v[a->n].name = code ? (char *)(uintptr_t)attr_names[code] : name;
	a->v[a->n].value = value;
	a->n++;
}

void
attrs_set(struct attrs *a, const char *name, const char *value)
{
	uint8_t code = attr_code(name);

	attrs_take(a, code, code ? NULL : xstrdup(name), xstrdup(value));
}

const char *
attrs_get(const struct attrs *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, name) == 0)
			return a->v[i].value;
	return NULL;
}

void
attrs_copy(struct attrs *dst, const struct attrs *src)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		attrs_set(dst, src->v[i].name, src->v[i].value);
}

static void
put_attrs(struct buf *b, const struct attrs *a)
{
	uint8_t code;
	size_t i;

	wire_put_u16(b, (uint16_t)a->n);
	for (i = 0; i < a->n; i++) {
		code = a->v[i].code;
		wire_put_u8(b, code);
		if (code == 0)
			wire_put_str(b, a->v[i].name);
		wire_put_str(b, a->v[i].value);
	}
}

/* A name: its code, and when that is 0, the name itself. */
static int
get_attr_name(struct wire_reader *r, uint8_t *code, char **name)
{
	*name = NULL;
	if (wire_get_u8(r, code) == -1)
		return -1;
	if (*code >= nitems(attr_names)) {
		r->failed = 1;
		return -1;
	}
	if (*code != 0)
		return 0;
	if (wire_get_str(r, RECORD_NAME_MAX, name) == -1)
		return -1;
	/* A name in the table, written out: as if written by its code. */
	if ((*code = attr_code(*name)) != 0) {
		free(*name);
		*name = NULL;
	}
	return 0;
}

static int
get_attrs(struct wire_reader *r, struct attrs *a)
{
	uint16_t n, i;
	uint8_t code;
	char *name, *value;

	if (wire_get_u16(r, &n) == -1)
		return -1;
	if (n > RECORD_ATTRS_MAX) {
		r->failed = 1;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (get_attr_name(r, &code, &name) == -1)
			return -1;
		if (wire_get_str(r, RECORD_VALUE_MAX, &value) == -1) {
			free(name);
			return -1;
		}
		attrs_take(a, code, name, value);
	}
	return 0;
}

int
record_attr_code(const char *name)
{
	return attr_code(name);
}

/* A name written out that has a code is taken as that code. */
static int
scan_attr_code(const unsigned char *p, size_t n)
{
	char name[RECORD_NAME_MAX + 1];

	if (n > RECORD_NAME_MAX)
		return 0;
	memcpy(name, p, n);
	name[n] = '\0';
	return attr_code(name);
}

/*
 * A length-prefixed value at *p, within end and max bytes: the scan's
 * own reader, so that the loop over a record's attributes makes no call
 * per field (it is most of report --conversions).
 */
static inline int
scan_span(const unsigned char **p, const unsigned char *end, size_t max,
    struct span *out)
{
	uint32_t n;

	if (end - *p < 4)
		return -1;
	n = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 |
	    (uint32_t)(*p)[2] << 8 | (*p)[3];
	*p += 4;
	if (n > max || (size_t)(end - *p) < n)
		return -1;
	out->p = (const char *)*p;
	out->n = n;
	*p += n;
	return 0;
}

int
record_scan_event(const void *data, size_t len, struct event_scan *es)
{
	const unsigned char *p = data, *end = p + len;
	struct span name, value;
	uint8_t code;
	uint16_t n, i;

	memset(es, 0, sizeof(*es));
	/* version, type, status, time (be64) */
	if (len < 11 || p[0] != RECORD_VERSION)
		return -1;
	es->type = p[1];
	es->status = p[2];
	es->time_ms = (int64_t)wire_be64_get(p + 3);
	p += 11;
	if (scan_span(&p, end, RECORD_ID_MAX, &es->txid) == -1 ||
	    end - p < 2)
		return -1;
	n = (uint16_t)(p[0] << 8 | p[1]);
	p += 2;
	if (n > RECORD_ATTRS_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if (p == end || (code = *p++) >= nitems(attr_names))
			return -1;
		if (code == 0) {
			if (scan_span(&p, end, RECORD_NAME_MAX, &name) == -1)
				return -1;
			code = (uint8_t)scan_attr_code(
			    (const unsigned char *)name.p, name.n);
		}
		if (scan_span(&p, end, RECORD_VALUE_MAX, &value) == -1)
			return -1;
		if (code != 0)
			es->attr[code] = value;
	}
	if (p != end || es->type == 0 || es->type >= EVENT_TYPE_END ||
	    es->status == 0 || es->status >= STATUS_END)
		return -1;
	return 0;
}

static int
get_version(struct wire_reader *r)
{
	uint8_t v;

	if (wire_get_u8(r, &v) == -1 || v != RECORD_VERSION) {
		r->failed = 1;
		return -1;
	}
	return 0;
}

static const char *
name_of(const char *const *names, size_t n, int v)
{
	if (v <= 0 || (size_t)v >= n || names[v] == NULL)
		return "unknown";
	return names[v];
}

static int
parse_name(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return (int)i;
	return 0;
}

static const char *const hit_names[HIT_KIND_END] = {
	[HIT_CLICK] = "click",
	[HIT_IMPRESSION] = "impression",
	[HIT_POSTBACK] = "postback",
	[HIT_PIXEL] = "pixel",
	[HIT_CLICKLESS] = "clickless",
	[HIT_REJECT] = "reject",
};

const char *
hit_kind_name(int kind)
{
	return name_of(hit_names, nitems(hit_names), kind);
}

int
hit_kind_is_conversion(int kind)
{
	return kind > HIT_IMPRESSION && kind < HIT_KIND_END;
}

void
hit_init(struct hit *h)
{
	memset(h, 0, sizeof(*h));
	attrs_init(&h->attrs);
}

void
hit_free(struct hit *h)
{
	attrs_free(&h->attrs);
}

void
record_put_hit(struct buf *b, const struct hit *h)
{
	wire_put_u8(b, RECORD_VERSION);
	wire_put_u8(b, h->kind);
	wire_put_i64(b, h->time_ms);
	wire_put_str(b, h->txid);
	put_attrs(b, &h->attrs);
}

int
record_get_hit(struct wire_reader *r, struct hit *h)
{
	if (get_version(r) == -1 ||
	    wire_get_u8(r, &h->kind) == -1 ||
	    wire_get_i64(r, &h->time_ms) == -1 ||
	    wire_get_strbuf(r, h->txid, RECORD_ID_MAX) == -1 ||
	    get_attrs(r, &h->attrs) == -1)
		return -1;
	if (h->kind == 0 || h->kind >= HIT_KIND_END) {
		r->failed = 1;
		return -1;
	}
	return 0;
}

static const char *const event_names[EVENT_TYPE_END] = {
	[EVENT_CLICK] = "click",
	[EVENT_IMPRESSION] = "impression",
	[EVENT_CONVERSION] = "conversion",
	[EVENT_EVENT] = "event",
};

const char *
event_type_name(int type)
{
	return name_of(event_names, nitems(event_names), type);
}

int
event_type_parse(const char *s)
{
	return parse_name(event_names, nitems(event_names), s);
}

static const char *const status_names[STATUS_END] = {
	[STATUS_APPROVED] = "approved",
	[STATUS_PENDING] = "pending",
	[STATUS_REJECTED] = "rejected",
};

const char *
status_name(int status)
{
	return name_of(status_names, nitems(status_names), status);
}

int
status_parse(const char *s)
{
	return parse_name(status_names, nitems(status_names), s);
}

const char *const record_postback_params[] = {
	"secure", "transaction_id", "event", "status", "reason", "order_id",
	"revenue", "payout", "currency", "purchase_value", "adv_sub_id",
	"adv_sub_id_2", "adv_sub_id_3", "adv_sub_id_4",
	"external_transaction_id", "user_email", "device_id",
	"conversion_ip", "user_agent", NULL
};

const char *
record_bad_value(const struct attrs *a)
{
	static const char *const amounts[] = {
		"revenue", "payout", "purchase_value"
	};
	const char *v;
	size_t i;

	for (i = 0; i < nitems(amounts); i++)
		if ((v = attrs_get(a, amounts[i])) && *v && !valid_amount(v))
			return amounts[i];
	v = attrs_get(a, "status");
	return v && *v && status_parse(v) == 0 ? "status" : NULL;
}

void
event_init(struct event *e)
{
	memset(e, 0, sizeof(*e));
	attrs_init(&e->attrs);
}

void
event_free(struct event *e)
{
	attrs_free(&e->attrs);
}

void
record_put_event(struct buf *b, const struct event *e)
{
	wire_put_u8(b, RECORD_VERSION);
	wire_put_u8(b, e->type);
	wire_put_u8(b, e->status);
	wire_put_i64(b, e->time_ms);
	wire_put_str(b, e->txid);
	put_attrs(b, &e->attrs);
}

int
record_get_event(struct wire_reader *r, struct event *e)
{
	if (get_version(r) == -1 ||
	    wire_get_u8(r, &e->type) == -1 ||
	    wire_get_u8(r, &e->status) == -1 ||
	    wire_get_i64(r, &e->time_ms) == -1 ||
	    wire_get_strbuf(r, e->txid, RECORD_ID_MAX) == -1 ||
	    get_attrs(r, &e->attrs) == -1)
		return -1;
	if (e->type == 0 || e->type >= EVENT_TYPE_END ||
	    e->status == 0 || e->status >= STATUS_END) {
		r->failed = 1;
		return -1;
	}
	return 0;
}

static const char *const verdict_names[VERDICT_END] = {
	[VERDICT_STORED] = "stored",
	[VERDICT_APPROVED] = "approved",
	[VERDICT_PENDING] = "pending",
	[VERDICT_REJECTED] = "rejected",
	[VERDICT_HELD] = "accepted",
};

const char *
verdict_name(int v)
{
	return name_of(verdict_names, nitems(verdict_names), v);
}

void
record_put_verdict(struct buf *b, const struct verdict *v)
{
	wire_put_u8(b, RECORD_VERSION);
	wire_put_u64(b, v->seq);
	wire_put_u8(b, v->result);
	wire_put_str(b, v->reason);
	wire_put_str(b, v->txid);
}

int
record_get_verdict(struct wire_reader *r, struct verdict *v)
{
	if (get_version(r) == -1 ||
	    wire_get_u64(r, &v->seq) == -1 ||
	    wire_get_u8(r, &v->result) == -1 ||
	    wire_get_strbuf(r, v->reason, VERDICT_REASON_MAX) == -1 ||
	    wire_get_strbuf(r, v->txid, RECORD_ID_MAX) == -1)
		return -1;
	if (v->result == 0 || v->result >= VERDICT_END) {
		r->failed = 1;
		return -1;
	}
	return 0;
}

static const char *const attempt_names[ATTEMPT_RESULT_END] = {
	[ATTEMPT_OK] = "ok",
	[ATTEMPT_RETRY] = "retry",
	[ATTEMPT_FAILED] = "failed",
	[ATTEMPT_CANCELLED] = "cancelled",
	[ATTEMPT_INTERRUPTED] = "interrupted",
};

const char *
attempt_result_name(int result)
{
	return name_of(attempt_names, nitems(attempt_names), result);
}

int
attempt_result_parse(const char *s)
{
	return parse_name(attempt_names, nitems(attempt_names), s);
}

void
attempt_init(struct attempt *a)
{
	memset(a, 0, sizeof(*a));
}

void
attempt_free(struct attempt *a)
{
	if (a->strings != NULL) {
		free(a->strings);
	} else {
		free(a->rule);
		free(a->offer_id);
		free(a->publisher);
		free(a->txid);
		free(a->url);
		free(a->error);
	}
	attempt_init(a);
}

void
record_put_attempt(struct buf *b, const struct attempt *a)
{
	wire_put_u8(b, RECORD_VERSION);
	wire_put_i64(b, a->time_ms);
	wire_put_str(b, a->postback_id);
	wire_put_u32(b, a->attempt);
	wire_put_u8(b, a->result);
	wire_put_u16(b, a->http_status);
	wire_put_u32(b, a->latency_ms);
	wire_put_u8(b, a->type);
	wire_put_str(b, a->rule);
	wire_put_str(b, a->offer_id);
	wire_put_str(b, a->publisher);
	wire_put_str(b, a->txid);
	wire_put_str(b, a->url);
	wire_put_str(b, a->error);
}

/*
 * The six strings of an attempt in one allocation: logview reads
 * millions of attempts, and six mallocs and frees each cost it an eighth
 * of its time.
 */
static int
get_attempt_strings(struct wire_reader *r, struct attempt *a)
{
	static const size_t max[] = {
		RECORD_NAME_MAX, RECORD_VALUE_MAX, RECORD_VALUE_MAX,
		RECORD_ID_MAX, WIRE_MSG_MAX, WIRE_MSG_MAX
	};
	char **dst[] = {
		&a->rule, &a->offer_id, &a->publisher, &a->txid, &a->url,
		&a->error
	};
	const unsigned char *p[nitems(max)];
	size_t n[nitems(max)], total = 0, i;
	char *s;

	for (i = 0; i < nitems(max); i++) {
		if (wire_get_span(r, max[i], &p[i], &n[i]) == -1)
			return -1;
		total += n[i] + 1;
	}
	s = a->strings = xmalloc(total);
	for (i = 0; i < nitems(max); i++) {
		memcpy(s, p[i], n[i]);
		s[n[i]] = '\0';
		*dst[i] = s;
		s += n[i] + 1;
	}
	return 0;
}

int
record_get_attempt(struct wire_reader *r, struct attempt *a)
{
	if (get_version(r) == -1 ||
	    wire_get_i64(r, &a->time_ms) == -1 ||
	    wire_get_strbuf(r, a->postback_id, RECORD_ID_MAX) == -1 ||
	    wire_get_u32(r, &a->attempt) == -1 ||
	    wire_get_u8(r, &a->result) == -1 ||
	    wire_get_u16(r, &a->http_status) == -1 ||
	    wire_get_u32(r, &a->latency_ms) == -1 ||
	    wire_get_u8(r, &a->type) == -1 ||
	    get_attempt_strings(r, a) == -1)
		return -1;
	if (a->result == 0 || a->result >= ATTEMPT_RESULT_END ||
	    a->type == 0 || a->type >= EVENT_TYPE_END) {
		r->failed = 1;
		return -1;
	}
	return 0;
}

void
delivery_init(struct delivery *d)
{
	memset(d, 0, sizeof(*d));
	event_init(&d->event);
}

void
delivery_free(struct delivery *d)
{
	free(d->rule);
	event_free(&d->event);
	d->rule = NULL;
}

void
record_put_delivery(struct buf *b, const struct delivery *d)
{
	wire_put_u8(b, RECORD_VERSION);
	wire_put_str(b, d->postback_id);
	wire_put_str(b, d->rule);
	wire_put_str(b, d->rule_version);
	wire_put_u32(b, d->attempt);
	wire_put_i64(b, d->due_ms);
	record_put_event(b, &d->event);
}

int
record_get_delivery(struct wire_reader *r, struct delivery *d)
{
	if (get_version(r) == -1 ||
	    wire_get_strbuf(r, d->postback_id, RECORD_ID_MAX) == -1 ||
	    wire_get_str(r, RECORD_NAME_MAX, &d->rule) == -1 ||
	    wire_get_strbuf(r, d->rule_version, RULE_VERSION_LEN) == -1 ||
	    wire_get_u32(r, &d->attempt) == -1 ||
	    wire_get_i64(r, &d->due_ms) == -1 ||
	    record_get_event(r, &d->event) == -1)
		return -1;
	return 0;
}
