/*
 * The join rules of matcher(8): a conversion finds its click, gets a
 * verdict, and (when it changes anything) becomes an event for the firer
 * that owns the transaction, written to the outbox in the same
 * transaction as the join.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "matcher.h"
#include "txid.h"

/* LMDB keys are at most 511 bytes. */
#define CONVERSION_KEY_MAX	500

/* Click fields every event of the transaction carries. */
static const char *const click_fields[] = {
	"offer_id", "publisher", "sub_id", "sub_id_2", "sub_id_3", "sub_id_4",
	"sub_id_5", "source", "external_transaction_id", "click_ip",
	"click_user_agent", "click_time", NULL
};

static void
reject(struct verdict *v, const char *reason)
{
	v->result = VERDICT_REJECTED;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
}

/* A rejection's reason: the hit's, or "rejected" when it gives none. */
static const char *
rejection_reason(const struct hit *hit)
{
	const char *reason = attrs_get(&hit->attrs, "reason");

	return reason && *reason ? reason : "rejected";
}

/* The verdict of a conversion now in status, with the hit's reason. */
static void
set_verdict(struct verdict *v, int status, const struct hit *hit)
{
	if (status == STATUS_REJECTED)
		reject(v, rejection_reason(hit));
	else
		v->result = status == STATUS_APPROVED ? VERDICT_APPROVED :
		    VERDICT_PENDING;
}

/* Whether any rule of the config fires on events of this type. */
static int
rules_on(const struct conf *conf, int type)
{
	size_t i;

	for (i = 0; i < conf->nrules; i++)
		if (conf->rules[i].on == type)
			return 1;
	return 0;
}

/* The event ev, encoded as rec, to the firer that owns its transaction. */
static int
emit_record(struct matcher *m, struct store_txn *txn, const struct event *ev,
    const struct buf *rec)
{
	unsigned dest = txid_firer(ev->txid, outbox_ndest(m->outbox));

	return outbox_add(m->outbox, txn, dest, rec->data, rec->len, NULL) ==
	    STORE_OK ? 0 : -1;
}

static int
emit(struct matcher *m, struct store_txn *txn, const struct event *ev)
{
	struct buf rec;
	int rc;

	buf_init(&rec);
	record_put_event(&rec, ev);
	rc = emit_record(m, txn, ev, &rec);
	buf_free(&rec);
	return rc;
}

/* A click or impression as an event, for rules "on click|impression". */
static int
emit_origin(struct matcher *m, struct store_txn *txn, const struct hit *hit,
    int type)
{
	struct event ev;
	size_t i;
	int rc;

	if (!rules_on(m->daemon->conf, type))
		return 0;
	event_init(&ev);
	ev.type = (uint8_t)type;
	ev.status = STATUS_APPROVED;
	ev.time_ms = hit->time_ms;
	memcpy(ev.txid, hit->txid, sizeof(ev.txid));
	for (i = 0; i < hit->attrs.n; i++)
		if (hit->attrs.v[i].name[0] != '_')
			attrs_set(&ev.attrs, hit->attrs.v[i].name,
			    hit->attrs.v[i].value);
	attrs_set(&ev.attrs, "status", status_name(STATUS_APPROVED));
	rc = emit(m, txn, &ev);
	event_free(&ev);
	return rc;
}

/*
 * The first hit of a transaction: a click, or a clickless conversion.
 * The id is the key, so the value does without it; ids grow with time,
 * so most clicks are appended, which fills LMDB's pages (a put in the
 * middle splits them half full).
 */
static int
save_origin(struct matcher *m, struct store_txn *txn, const struct hit *hit)
{
	struct hit h = *hit;
	struct buf rec;
	int rc;

	h.txid[0] = '\0';
	buf_init(&rec);
	record_put_hit(&rec, &h);
	if (strcmp(hit->txid, m->last_click) > 0) {
		rc = store_append(txn, DB_CLICKS, hit->txid, strlen(hit->txid),
		    rec.data, rec.len);
		memcpy(m->last_click, hit->txid, sizeof(m->last_click));
	} else
		rc = store_put(txn, DB_CLICKS, hit->txid, strlen(hit->txid),
		    rec.data, rec.len);
	buf_free(&rec);
	return rc == STORE_OK ? 0 : -1;
}

void
join_init(struct matcher *m)
{
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k;

	m->last_click[0] = '\0';
	if (store_begin(m->store, 0, &txn) != STORE_OK)
		return;
	if (store_cursor_open(txn, DB_CLICKS, &c) == STORE_OK) {
		if (store_cursor_last(c, &k, NULL) == STORE_OK &&
		    k.len < sizeof(m->last_click)) {
			memcpy(m->last_click, k.data, k.len);
			m->last_click[k.len] = '\0';
		}
		store_cursor_close(c);
	}
	store_abort(txn);
}

/* Look the origin of a transaction up; 1 found, 0 not, -1 error. */
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
	snprintf(click->txid, sizeof(click->txid), "%s", txid);
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
	char received[24];
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
	if (status == STATUS_REJECTED)
		attrs_set(&ev->attrs, "reason", rejection_reason(hit));
	snprintf(received, sizeof(received), "%lld", (long long)hit->time_ms);
	attrs_set(&ev->attrs, COUNTER_ATTR_RECEIVED, received);
}

/*
 * Sooner after its click than the offer's min-delta (click injection,
 * bots).  Both times are ingests' clocks: a negative delta (the click's
 * host ahead) is never too fast (matcher(8), Verdicts).
 */
static int
too_fast(const struct offer *offer, const struct hit *click,
    const struct hit *hit)
{
	int64_t delta = hit->time_ms - click->time_ms;

	return offer && offer->min_delta_ms > 0 && delta >= 0 &&
	    delta < offer->min_delta_ms;
}

/*
 * A too_fast conversion is not recorded (the report counts it invalid)
 * but goes to the firer as rejected, so that rules on "reason too_fast"
 * fire for it.
 */
static int
emit_too_fast(struct matcher *m, struct store_txn *txn,
    const struct hit *click, const struct hit *hit, const struct offer *offer)
{
	struct event ev;
	int rc;

	event_init(&ev);
	build_event(&ev, click, hit, offer, STATUS_REJECTED);
	attrs_set(&ev.attrs, "reason", "too_fast");
	rc = emit(m, txn, &ev);
	event_free(&ev);
	return rc;
}

/* A new conversion in the index by time first received (counter.h). */
static int
index_received(struct store_txn *txn, const struct buf *key,
    const struct event *ev)
{
	struct buf at;
	int rc;

	buf_init(&at);
	buf_add(&at, "\0\0\0\0\0\0\0\0", 8);
	wire_be64_put((unsigned char *)at.data, (uint64_t)count_received_ms(ev));
	buf_add(&at, key->data, key->len);
	rc = store_put(txn, DB_CONVERSIONS_AT, at.data, at.len, "", 0);
	buf_free(&at);
	return rc == STORE_OK ? 0 : -1;
}

/*
 * Keep the conversion's new state (it was in status from, 0 if new),
 * count it and tell the firer: the stored state and the event are the
 * same record, encoded once.
 */
static int
save_and_emit(struct matcher *m, struct store_txn *txn,
    const struct buf *key, const struct event *ev, int from)
{
	struct buf rec;
	int rc;

	buf_init(&rec);
	record_put_event(&rec, ev);
	rc = store_put(txn, DB_CONVERSIONS, key->data, key->len, rec.data,
	    rec.len) == STORE_OK ? 0 : -1;
	if (rc == 0 && from == 0)
		rc = index_received(txn, key, ev);
	if (rc == 0) {
		/* One stored before the counters were kept was never counted. */
		if (from == 0 || attrs_get(&ev->attrs, COUNTER_ATTR_RECEIVED))
			count_conversion(m, ev, from, ev->status);
		m->recorded = 1;
		rc = emit_record(m, txn, ev, &rec);
	}
	buf_free(&rec);
	return rc;
}

/*
 * A conversion that exists already: a status change or a duplicate.  A
 * hit that names no status is the base conversion again (status
 * approved by default): it approves a pending conversion and is a
 * duplicate of an approved or a rejected one.
 */
static int
update_conversion(struct matcher *m, struct store_txn *txn,
    const struct buf *key, const struct store_val *old, const struct hit *hit,
    int to, struct verdict *v)
{
	const char *reason = attrs_get(&hit->attrs, "reason");
	struct wire_reader r;
	struct event ev;
	int rc = 0, from;

	event_init(&ev);
	wire_reader_init(&r, old->data, old->len);
	if (record_get_event(&r, &ev) == -1) {
		log_error("event=corrupt_record db=conversions "
		    "transaction_id=%s", hit->txid);
		event_free(&ev);
		return -1;
	}
	if (to == 0)
		to = ev.status == STATUS_PENDING ? STATUS_APPROVED : ev.status;
	if (to == ev.status)
		reject(v, "duplicate");
	else if (!transition_allowed(ev.status, to))
		reject(v, "invalid_transition");
	else {
		from = ev.status;
		ev.status = (uint8_t)to;
		ev.time_ms = hit->time_ms;
		attrs_set(&ev.attrs, "status", status_name(to));
		if (to == STATUS_REJECTED)
			attrs_set(&ev.attrs, "reason", rejection_reason(hit));
		else if (reason)
			attrs_set(&ev.attrs, "reason", reason);
		rc = save_and_emit(m, txn, key, &ev, from);
		set_verdict(v, to, hit);
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

/*
 * A conversion, a status change or a rejection (kind HIT_REJECT) for
 * the transaction whose origin is click.
 */
static int
join_conversion(struct matcher *m, struct store_txn *txn,
    const struct hit *hit, const struct hit *click, struct verdict *v)
{
	const struct offer *offer;
	const char *want = attrs_get(&hit->attrs, "status");
	int status = want && *want ? status_parse(want) : 0;
	struct store_val old;
	struct event ev;
	struct buf key;
	int rc;

	if (hit->kind == HIT_REJECT)
		status = STATUS_REJECTED;
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
	if (rc == STORE_OK)
		rc = update_conversion(m, txn, &key, &old, hit, status, v);
	else if (rc == STORE_NOTFOUND && hit->kind == HIT_REJECT) {
		reject(v, "invalid_transition");	/* nothing to reject */
		rc = 0;
	} else if (rc == STORE_NOTFOUND && hit != click && offer &&
	    hit->time_ms - click->time_ms > offer->window_ms) {
		reject(v, "expired");
		rc = 0;
	} else if (rc == STORE_NOTFOUND && hit != click &&
	    too_fast(offer, click, hit)) {
		reject(v, "too_fast");
		rc = emit_too_fast(m, txn, click, hit, offer);
	} else if (rc == STORE_NOTFOUND) {
		if (status == 0)
			status = STATUS_APPROVED;
		event_init(&ev);
		build_event(&ev, click, hit, offer, status);
		rc = save_and_emit(m, txn, &key, &ev, 0);
		event_free(&ev);
		set_verdict(v, status, hit);
	} else
		rc = -1;
	buf_free(&key);
	return rc;
}

/*
 * A conversion whose click is not here (yet): its click may be on its
 * way through another ingest.  Keep it for matcher grace, by due time
 * and by transaction.
 */
static int
hold(struct matcher *m, struct store_txn *txn, const struct hit *hit,
    struct verdict *v)
{
	int64_t due = now_ms() + m->daemon->conf->matcher_grace_ms;
	unsigned char tail[16];
	struct buf key, rec;
	int rc;

	wire_be64_put(tail, (uint64_t)due);
	wire_be64_put(tail + 8, ++m->held_seq);
	buf_init(&key);
	buf_init(&rec);
	buf_add(&key, tail, 8);
	buf_adds(&key, hit->txid);
	buf_add(&key, tail + 8, 8);
	record_put_hit(&rec, hit);
	rc = store_put(txn, DB_HELD, key.data, key.len, rec.data, rec.len);
	buf_reset(&key);
	buf_adds(&key, hit->txid);
	buf_add(&key, tail, 16);
	if (rc == STORE_OK)
		rc = store_put(txn, DB_HELD_TX, key.data, key.len, "", 0);
	buf_free(&key);
	buf_free(&rec);
	v->result = VERDICT_HELD;
	return rc == STORE_OK ? 0 : -1;
}

/* The offer's alias of a param.NAME attribute, if it names one of ours. */
static const char *
alias_of(const struct conf *conf, const char *offer_id, const char *attr)
{
	const char *ours;

	if (strncmp(attr, "param.", 6) != 0 ||
	    (ours = conf_alias(conf, offer_id, attr + 6)) == NULL ||
	    !in_names(record_postback_params, ours) ||
	    strcmp(ours, "secure") == 0 || strcmp(ours, "transaction_id") == 0)
		return NULL;
	return ours;
}

/*
 * A hit that came with the global token had only the global aliases
 * applied by the ingest, which could not know its offer: the rest of its
 * parameters came as param.NAME.  Now that its click names the offer,
 * make into out a copy with the offer's own aliases applied, checked as
 * the ingest checks them.  1 if there were any, 0 if none (out is left
 * alone), -1 if an aliased value is not valid.
 */
static int
apply_offer_aliases(const struct conf *conf, const char *offer_id,
    const struct hit *hit, struct hit *out)
{
	const char *token = attrs_get(&hit->attrs, "_token"), *ours;
	size_t i, n = 0;

	if (offer_id == NULL || token == NULL || strcmp(token, "*") != 0)
		return 0;
	for (i = 0; i < hit->attrs.n; i++)
		n += alias_of(conf, offer_id, hit->attrs.v[i].name) != NULL;
	if (n == 0)
		return 0;
	out->kind = hit->kind;
	out->time_ms = hit->time_ms;
	memcpy(out->txid, hit->txid, sizeof(out->txid));
	for (i = 0; i < hit->attrs.n; i++) {
		ours = alias_of(conf, offer_id, hit->attrs.v[i].name);
		attrs_set(&out->attrs, ours ? ours : hit->attrs.v[i].name,
		    hit->attrs.v[i].value);
	}
	return record_bad_value(&out->attrs) ? -1 : 1;
}

/*
 * A conversion-type hit refused without making a conversion is counted
 * "invalid" where its origin (when known) counts.
 */
static int
count_refusal(struct matcher *m, struct store_txn *txn, const struct hit *hit,
    const struct hit *origin, const struct verdict *v)
{
	(void)txn;
	if (v->result == VERDICT_REJECTED && !m->recorded)
		count_invalid(m, hit, origin);
	return 0;
}

/* A hit that refers to a transaction: a postback, a pixel, a reject. */
static int
join_known(struct matcher *m, struct store_txn *txn, const struct hit *hit,
    struct verdict *v)
{
	struct hit click, aliased;
	int rc, found, renamed = 0;

	hit_init(&click);
	hit_init(&aliased);
	m->recorded = 0;
	rc = found = load_click(txn, hit->txid, &click);
	if (rc == 1)
		renamed = apply_offer_aliases(m->daemon->conf,
		    attrs_get(&click.attrs, "offer_id"), hit, &aliased);
	if (renamed == 1)
		hit = &aliased;
	if (rc == 0 && hit->kind != HIT_REJECT)
		rc = hold(m, txn, hit, v);
	else if (rc == 0)
		reject(v, "unknown_click");
	else if (rc == 1 && !token_matches(hit, &click))
		reject(v, "token_mismatch");
	else if (rc == 1 && renamed == -1)
		reject(v, "malformed");
	else if (rc == 1)
		rc = join_conversion(m, txn, hit, &click, v);
	if (rc != -1 && (count_refusal(m, txn, hit, found == 1 ? &click :
	    NULL, v) == -1 || postbacks_note(m, txn, hit, found == 1 ?
	    &click : NULL, v) == -1))
		rc = -1;
	hit_free(&aliased);
	hit_free(&click);
	return rc;
}

/* A conversion without a click: its own hit is the transaction's origin. */
static int
join_clickless(struct matcher *m, struct store_txn *txn,
    const struct hit *hit, struct verdict *v)
{
	m->recorded = 0;
	if (!token_matches(hit, hit))
		reject(v, "token_mismatch");
	else if (save_origin(m, txn, hit) == -1 ||
	    join_conversion(m, txn, hit, hit, v) == -1)
		return -1;
	if (count_refusal(m, txn, hit, hit, v) == -1)
		return -1;
	return postbacks_note(m, txn, hit, NULL, v);
}

static void
log_verdict(const struct hit *hit, const struct verdict *v)
{
	char reason[VERDICT_REASON_MAX * 4];

	log_info("event=%s transaction_id=%s result=%s%s%s",
	    hit_kind_name(hit->kind), hit->txid, verdict_name(v->result),
	    v->reason[0] ? " reason=" : "", v->reason[0] ?
	    log_value(reason, sizeof(reason), v->reason) : "");
}

/* Take one held hit out: its record into hit, both keys deleted. */
static int
unhold(struct store_txn *txn, const struct store_val *txkey, struct hit *hit)
{
	const unsigned char *k = txkey->data;
	struct wire_reader r;
	struct store_val v;
	unsigned char key[8 + RECORD_ID_MAX + 8];
	size_t idlen = txkey->len - 16;
	int rc;

	memcpy(key, k + idlen, 8);
	memcpy(key + 8, k, idlen);
	memcpy(key + 8 + idlen, k + idlen + 8, 8);
	if ((rc = store_get(txn, DB_HELD, key, idlen + 16, &v)) != STORE_OK)
		return rc;
	wire_reader_init(&r, v.data, v.len);
	if (record_get_hit(&r, hit) == -1 || wire_done(&r) == -1)
		rc = STORE_ERROR;
	if (store_del(txn, DB_HELD, key, idlen + 16) == STORE_ERROR ||
	    store_del(txn, DB_HELD_TX, txkey->data, txkey->len) == STORE_ERROR)
		rc = STORE_ERROR;
	return rc;
}

static void log_verdict(const struct hit *, const struct verdict *);

/* The click has come: join what was held for it, in arrival order. */
static int
release_held(struct matcher *m, struct store_txn *txn, const char *txid)
{
	struct store_cursor *c;
	struct store_val k;
	struct verdict v;
	struct hit hit;
	size_t len = strlen(txid);
	int rc = STORE_OK;

	while (rc == STORE_OK) {
		if (store_cursor_open(txn, DB_HELD_TX, &c) != STORE_OK)
			return -1;
		rc = store_cursor_seek(c, txid, len, &k, NULL);
		if (rc != STORE_OK || k.len != len + 16 ||
		    memcmp(k.data, txid, len) != 0) {
			store_cursor_close(c);
			return rc == STORE_ERROR ? -1 : 0;
		}
		hit_init(&hit);
		rc = unhold(txn, &k, &hit);
		store_cursor_close(c);
		memset(&v, 0, sizeof(v));
		memcpy(v.txid, txid, len + 1);
		attrs_set(&hit.attrs, POSTBACKS_ATTR_HELD, "1");
		if (rc == STORE_OK && join_known(m, txn, &hit, &v) == -1)
			rc = STORE_ERROR;
		else if (rc == STORE_OK)
			log_verdict(&hit, &v);
		hit_free(&hit);
	}
	return rc == STORE_ERROR ? -1 : 0;
}

/* A hit for another shard's transaction: say so, touch nothing. */
static int
misrouted(struct matcher *m, const struct hit *hit, struct verdict *v)
{
	unsigned n = (unsigned)m->daemon->conf->matcher_endpoints.n;

	if (txid_shard(hit->txid) % n == (unsigned)m->daemon->instance)
		return 0;
	log_error("event=misrouted transaction_id=%s shard=%u this_shard=%d",
	    hit->txid, txid_shard(hit->txid) % n, m->daemon->instance);
	reject(v, "wrong_shard");
	return 1;
}

int
join_hit(struct matcher *m, struct store_txn *txn, struct hit *hit,
    struct verdict *v, int *durable)
{
	int rc;

	memcpy(v->txid, hit->txid, sizeof(v->txid));
	v->reason[0] = '\0';
	if (misrouted(m, hit, v))
		return postbacks_note(m, txn, hit, NULL, v);
	switch (hit->kind) {
	case HIT_CLICK:
		v->result = VERDICT_STORED;
		count_click(m, hit);
		if (save_origin(m, txn, hit) == -1 ||
		    release_held(m, txn, hit->txid) == -1)
			return -1;
		return emit_origin(m, txn, hit, EVENT_CLICK);
	case HIT_IMPRESSION:
		v->result = VERDICT_STORED;
		count_impression(m, hit);
		return emit_origin(m, txn, hit, EVENT_IMPRESSION);
	case HIT_CLICKLESS:
		rc = join_clickless(m, txn, hit, v);
		break;
	default:
		rc = join_known(m, txn, hit, v);
		break;
	}
	*durable = 1;
	if (rc == 0)
		log_verdict(hit, v);
	return rc < 0 ? -1 : 0;
}

/* One held hit whose grace is over: unknown_click. */
static int
expire_one(void *arg, struct store_txn *txn, const struct store_val *k,
    const struct store_val *val)
{
	unsigned char txkey[RECORD_ID_MAX + 16];
	size_t idlen = k->len - 16;
	struct wire_reader r;
	struct verdict v;
	struct hit hit;
	int rc;

	if (k->len < 17 || k->len > RECORD_ID_MAX + 16)
		return 0;	/* not a key of ours: it just goes */
	hit_init(&hit);
	wire_reader_init(&r, val->data, val->len);
	if (record_get_hit(&r, &hit) == 0) {
		memset(&v, 0, sizeof(v));
		memcpy(v.txid, hit.txid, sizeof(v.txid));
		reject(&v, "unknown_click");
		log_verdict(&hit, &v);
		count_invalid(arg, &hit, NULL);
		attrs_set(&hit.attrs, POSTBACKS_ATTR_HELD, "1");
		if (postbacks_note(arg, txn, &hit, NULL, &v) == -1) {
			hit_free(&hit);
			return -1;
		}
	}
	hit_free(&hit);
	memcpy(txkey, (const char *)k->data + 8, idlen);
	memcpy(txkey + idlen, k->data, 8);
	memcpy(txkey + idlen + 8, (const char *)k->data + 8 + idlen, 8);
	rc = store_del(txn, DB_HELD_TX, txkey, idlen + 16);
	return rc == STORE_OK || rc == STORE_NOTFOUND ? 0 : -1;
}

/* A held hit's key starts with its due time. */
static int64_t
due_of(const struct store_val *k)
{
	return k->len < 8 ? INT64_MIN : (int64_t)wire_be64_get(k->data);
}

int
join_expire_held(void *arg, struct store_txn *txn, struct retain_slice *s)
{
	if (retain_walk(txn, DB_HELD, s, due_of, expire_one, arg) == -1) {
		count_discard(arg);
		return -1;
	}
	return count_flush(arg, txn);
}

/*
 * Clicks and conversions are keyed by transaction id, which starts with
 * its click's time, so both are in time order.  Each goes by itself: a
 * conversion left a moment longer than its click is never read again.
 */
static int64_t
click_time_of(const struct store_val *k)
{
	/* txid_time_ms() reads only the time, the first characters. */
	return k->len < TXID_LEN ? INT64_MIN : txid_time_ms(k->data);
}

int
join_prune_clicks(void *arg, struct store_txn *txn, struct retain_slice *s)
{
	(void)arg;
	return retain_walk(txn, DB_CLICKS, s, click_time_of, NULL, NULL);
}

int
join_prune_conversions(void *arg, struct store_txn *txn,
    struct retain_slice *s)
{
	(void)arg;
	return retain_walk(txn, DB_CONVERSIONS, s, click_time_of, NULL, NULL);
}

/* Entries go by the time first received, after their conversion. */
static int64_t
received_of(const struct store_val *k)
{
	return k->len < 8 ? INT64_MIN : (int64_t)wire_be64_get(k->data);
}

int
join_prune_conversions_at(void *arg, struct store_txn *txn,
    struct retain_slice *s)
{
	(void)arg;
	return retain_walk(txn, DB_CONVERSIONS_AT, s, received_of, NULL, NULL);
}
