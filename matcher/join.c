/*
 * The join rules of DESIGN §4: a conversion finds its click, gets a
 * verdict, and (when it changes anything) becomes an event for the firer
 * that owns the transaction, written to the outbox in the same
 * transaction as the join.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "matcher.h"
#include "txid.h"

/* Click fields every event of the transaction carries. */
static const char *const click_fields[] = {
	"offer_id", "publisher", "sub_id", "sub_id_2", "sub_id_3", "sub_id_4",
	"sub_id_5", "source", "external_transaction_id", "click_ip",
	"click_user_agent", "click_time", NULL
};

/* LMDB keys are at most 511 bytes. */
#define CONVERSION_KEY_MAX	500

static void
reject(struct verdict *v, const char *reason)
{
	v->result = VERDICT_REJECTED;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
}

static int
store_click(struct store_txn *txn, const struct hit *hit, struct verdict *v)
{
	struct buf rec;
	int rc;

	buf_init(&rec);
	record_put_hit(&rec, hit);
	rc = store_put(txn, DB_CLICKS, hit->txid, strlen(hit->txid), rec.data,
	    rec.len);
	buf_free(&rec);
	v->result = VERDICT_STORED;
	return rc == STORE_OK ? 0 : -1;
}

/* Look a click up; 1 found, 0 not, -1 error. */
static int
load_click(struct store_txn *txn, const char *txid, struct hit *click)
{
	struct wire_reader r;
	struct store_val v;
	int rc;

	rc = store_get(txn, DB_CLICKS, txid, strlen(txid), &v);
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK)
		return -1;
	wire_reader_init(&r, v.data, v.len);
	if (record_get_hit(&r, click) == -1 || wire_done(&r) == -1) {
		log_error("event=corrupt_record db=clicks transaction_id=%s",
		    txid);
		return -1;
	}
	return 1;
}

/*
 * The key of a conversion: one base conversion per transaction, or per
 * order_id on an offer with "multiple yes"; events likewise per name.
 */
static void
conversion_key(struct buf *key, const struct hit *hit, const struct offer *o)
{
	const char *event = attrs_get(&hit->attrs, "event");
	const char *order = attrs_get(&hit->attrs, "order_id");

	buf_reset(key);
	buf_adds(key, hit->txid);
	buf_addc(key, '\0');
	buf_adds(key, event ? event : "");
	buf_addc(key, '\0');
	if (o && o->multiple && order)
		buf_adds(key, order);
}

static int
transition_allowed(int from, int to)
{
	return (from == STATUS_PENDING && to == STATUS_APPROVED) ||
	    (from == STATUS_PENDING && to == STATUS_REJECTED) ||
	    (from == STATUS_APPROVED && to == STATUS_REJECTED);
}

/* The event: the click's fields, then the conversion's on top. */
static void
build_event(struct event *ev, const struct hit *click, const struct hit *hit,
    const struct offer *offer, int status)
{
	const char *event_name = attrs_get(&hit->attrs, "event");
	size_t i;

	ev->type = event_name && *event_name ? EVENT_EVENT : EVENT_CONVERSION;
	ev->status = (uint8_t)status;
	ev->time_ms = hit->time_ms;
	memcpy(ev->txid, hit->txid, sizeof(ev->txid));
	for (i = 0; click_fields[i]; i++) {
		const char *v = attrs_get(&click->attrs, click_fields[i]);

		if (v)
			attrs_set(&ev->attrs, click_fields[i], v);
	}
	/* Stay within what a record may carry; the hit's own come first. */
	for (i = 0; i < click->attrs.n &&
	    ev->attrs.n + hit->attrs.n + 8 < RECORD_ATTRS_MAX; i++)
		if (strncmp(click->attrs.v[i].name, "param.", 6) == 0)
			attrs_set(&ev->attrs, click->attrs.v[i].name,
			    click->attrs.v[i].value);
	for (i = 0; i < hit->attrs.n; i++)
		if (hit->attrs.v[i].name[0] != '_')
			attrs_set(&ev->attrs, hit->attrs.v[i].name,
			    hit->attrs.v[i].value);
	if (offer && offer->payout && !attrs_get(&ev->attrs, "payout"))
		attrs_set(&ev->attrs, "payout", offer->payout);
	if (offer && offer->revenue && !attrs_get(&ev->attrs, "revenue"))
		attrs_set(&ev->attrs, "revenue", offer->revenue);
	attrs_set(&ev->attrs, "status", status_name(status));
}

static int
emit(struct matcher *m, struct store_txn *txn, struct buf *key,
    const struct event *ev)
{
	struct buf rec;
	unsigned dest;
	int rc;

	buf_init(&rec);
	record_put_event(&rec, ev);
	rc = store_put(txn, DB_CONVERSIONS, key->data, key->len, rec.data,
	    rec.len);
	dest = txid_firer(ev->txid, outbox_ndest(m->outbox));
	if (rc == STORE_OK)
		rc = outbox_add(m->outbox, txn, dest, rec.data, rec.len, NULL);
	buf_free(&rec);
	return rc == STORE_OK ? 0 : -1;
}

/* A conversion that exists already: a status change or a duplicate. */
static int
update_conversion(struct matcher *m, struct store_txn *txn, struct buf *key,
    const struct store_val *old, const struct hit *hit, struct verdict *v)
{
	const char *want = attrs_get(&hit->attrs, "status");
	int to = want ? status_parse(want) : 0;
	struct wire_reader r;
	struct event ev;
	int rc = 0;

	event_init(&ev);
	wire_reader_init(&r, old->data, old->len);
	if (record_get_event(&r, &ev) == -1) {
		event_free(&ev);
		return -1;
	}
	if (to == 0 || to == ev.status)
		reject(v, "duplicate");
	else if (!transition_allowed(ev.status, to))
		reject(v, "invalid_transition");
	else {
		ev.status = (uint8_t)to;
		ev.time_ms = hit->time_ms;
		attrs_set(&ev.attrs, "status", status_name(to));
		if (attrs_get(&hit->attrs, "reason"))
			attrs_set(&ev.attrs, "reason",
			    attrs_get(&hit->attrs, "reason"));
		rc = emit(m, txn, key, &ev);
		v->result = to == STATUS_APPROVED ? VERDICT_APPROVED :
		    to == STATUS_PENDING ? VERDICT_PENDING : VERDICT_REJECTED;
		if (to == STATUS_REJECTED)
			snprintf(v->reason, sizeof(v->reason), "%s",
			    attrs_get(&hit->attrs, "reason") ?
			    attrs_get(&hit->attrs, "reason") : "rejected");
	}
	event_free(&ev);
	return rc;
}

static int
token_matches(const struct hit *hit, const struct hit *click)
{
	const char *token = attrs_get(&hit->attrs, "_token");
	const char *offer = attrs_get(&click->attrs, "offer_id");

	if (token == NULL || strcmp(token, "*") == 0)
		return 1;
	return offer != NULL && strcmp(token, offer) == 0;
}

static int
join_conversion(struct matcher *m, struct store_txn *txn,
    const struct hit *hit, const struct hit *click, struct verdict *v)
{
	const struct offer *offer;
	const char *want = attrs_get(&hit->attrs, "status");
	int status = want && *want ? status_parse(want) : STATUS_APPROVED;
	struct store_val old;
	struct event ev;
	struct buf key;
	int rc;

	offer = conf_offer(m->daemon->conf, attrs_get(&click->attrs,
	    "offer_id"));
	buf_init(&key);
	conversion_key(&key, hit, offer);
	if (key.len > CONVERSION_KEY_MAX) {	/* ingest keeps them short */
		buf_free(&key);
		reject(v, "malformed");
		return 0;
	}
	rc = store_get(txn, DB_CONVERSIONS, key.data, key.len, &old);
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		buf_free(&key);
		return -1;
	}
	if (rc == STORE_OK) {
		rc = update_conversion(m, txn, &key, &old, hit, v);
		buf_free(&key);
		return rc;
	}
	event_init(&ev);
	build_event(&ev, click, hit, offer, status);
	rc = emit(m, txn, &key, &ev);
	event_free(&ev);
	buf_free(&key);
	v->result = status == STATUS_APPROVED ? VERDICT_APPROVED :
	    status == STATUS_PENDING ? VERDICT_PENDING : VERDICT_REJECTED;
	if (status == STATUS_REJECTED)
		snprintf(v->reason, sizeof(v->reason), "%s",
		    attrs_get(&hit->attrs, "reason") ?
		    attrs_get(&hit->attrs, "reason") : "rejected");
	return rc;
}

int
join_hit(struct matcher *m, struct store_txn *txn, const struct hit *hit,
    struct verdict *v, int *durable)
{
	char reason[VERDICT_REASON_MAX * 4];
	struct hit click;
	int rc;

	memcpy(v->txid, hit->txid, sizeof(v->txid));
	v->reason[0] = '\0';
	if (hit->kind == HIT_CLICK)
		return store_click(txn, hit, v);
	*durable = 1;
	if (hit->kind != HIT_POSTBACK) {
		reject(v, "unsupported");
		return 0;
	}
	hit_init(&click);
	rc = load_click(txn, hit->txid, &click);
	if (rc == 0)
		reject(v, "unknown_click");
	else if (rc == 1 && !token_matches(hit, &click))
		reject(v, "token_mismatch");
	else if (rc == 1)
		rc = join_conversion(m, txn, hit, &click, v);
	hit_free(&click);
	if (rc >= 0)
		log_info("event=conversion transaction_id=%s result=%s%s%s",
		    hit->txid, verdict_name(v->result),
		    v->reason[0] ? " reason=" : "", v->reason[0] ?
		    log_value(reason, sizeof(reason), v->reason) : "");
	return rc < 0 ? -1 : 0;
}
