/*
 * --conversions and --clicks: one line per record, in time order, over
 * every shard.  Rows are read in batches into memory, each batch in its
 * own short read transaction, so that printing to a slow reader never
 * keeps a read transaction open (which would keep the matcher from
 * reusing the pages it frees).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "txid.h"

#define BATCH		4096	/* clicks read from a shard at a time */
#define TIME_PREFIX	9	/* the characters of an id's time */

enum {
	CV_TIME, CV_UPDATED, CV_TXID, CV_OFFER, CV_PUBLISHER, CV_SUB_ID,
	CV_EVENT, CV_ORDER, CV_STATUS, CV_REASON, CV_REVENUE, CV_PAYOUT,
	CV_CURRENCY, CV_CLICK_TIME, CV_SECONDS, CV_END
};

static const char *const cv_names[CV_END] = {
	"time", "updated", "transaction_id", "offer_id", "publisher",
	"sub_id", "event", "order_id", "status", "reason", "revenue", "payout",
	"currency", "click_time", "seconds_to_convert"
};

static const int cv_numeric[CV_END] = {
	[CV_REVENUE] = 1, [CV_PAYOUT] = 1, [CV_SECONDS] = 1
};

enum {
	CK_TIME, CK_TXID, CK_OFFER, CK_PUBLISHER, CK_SUB_ID, CK_SUB_ID_2,
	CK_SUB_ID_3, CK_SUB_ID_4, CK_SUB_ID_5, CK_SOURCE, CK_IP, CK_UA,
	CK_UNIQUE, CK_END
};

static const char *const ck_names[CK_END] = {
	"time", "transaction_id", "offer_id", "publisher", "sub_id",
	"sub_id_2", "sub_id_3", "sub_id_4", "sub_id_5", "source", "click_ip",
	"user_agent", "unique"
};

/* A record's values, rendered, in one allocation. */
struct row {
	int64_t		 time;
	char		*text;		/* the values, each NUL-ended */
	const char	*v[CV_END];
};

struct rows {
	struct row	*v;
	size_t		 n;
	size_t		 cap;
	size_t		 next;		/* the first not yet printed */
};

static void
row_add(struct rows *rs, int64_t time, const char *const *values, int n)
{
	struct row *r;
	size_t len = 0, at = 0;
	int i;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 256;
		rs->v = xreallocarray(rs->v, rs->cap, sizeof(*rs->v));
	}
	r = &rs->v[rs->n++];
	r->time = time;
	for (i = 0; i < n; i++)
		len += strlen(values[i] ? values[i] : "") + 1;
	r->text = xmalloc(len);
	for (i = 0; i < n; i++) {
		const char *s = values[i] ? values[i] : "";
		size_t l = strlen(s) + 1;

		memcpy(r->text + at, s, l);
		r->v[i] = r->text + at;
		at += l;
	}
}

static void
rows_free(struct rows *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		free(rs->v[i].text);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

/* An amount as stored, exactly: at least 2 decimals, at most 9. */
static const char *
amount_text(char *dst, size_t size, const char *v)
{
	amount_t a;
	size_t n;

	if (v == NULL || *v == '\0' || amount_parse(v, &a) == -1)
		return NULL;
	amount_format(dst, size, a, 9);
	n = strlen(dst);
	while (n > 0 && dst[n - 1] == '0' && dst[n - 3] != '.')
		dst[--n] = '\0';
	return dst;
}

static int64_t
received_of(const struct event *ev)
{
	const char *v = attrs_get(&ev->attrs, COUNTER_ATTR_RECEIVED);
	const char *secs = attrs_get(&ev->attrs, "conversion_time");

	if (v && *v)
		return strtoll(v, NULL, 10);
	return secs && *secs ? strtoll(secs, NULL, 10) * 1000 : ev->time_ms;
}

static int
conversion_wanted(const struct query *q, const struct event *ev,
    int64_t time)
{
	const struct attrs *a = &ev->attrs;
	const char *event = attrs_get(a, "event");

	return time >= q->since && time < q->until &&
	    list_match(&q->offers, attrs_get(a, "offer_id")) &&
	    list_match(&q->publishers, attrs_get(a, "publisher")) &&
	    list_match(&q->sub_ids, attrs_get(a, "sub_id")) &&
	    list_match(&q->txids, ev->txid) &&
	    list_match(&q->statuses, status_name(ev->status)) &&
	    list_match(&q->reasons, attrs_get(a, "reason")) &&
	    (q->event == NULL || (event && strcmp(event, q->event) == 0));
}

static void
conversion_row(struct rows *rs, const struct event *ev, int64_t time)
{
	const char *v[CV_END] = { 0 };
	char t[TABLE_TIME_LEN], up[TABLE_TIME_LEN], ct[TABLE_TIME_LEN];
	char rev[64], pay[64], secs[24];
	const char *event = attrs_get(&ev->attrs, "event");
	int64_t click = txid_time_ms(ev->txid);
	static const struct { int col; const char *attr; } attrs[] = {
		{ CV_OFFER, "offer_id" }, { CV_PUBLISHER, "publisher" },
		{ CV_SUB_ID, "sub_id" }, { CV_ORDER, "order_id" },
		{ CV_REASON, "reason" }, { CV_CURRENCY, "currency" },
	};
	size_t i;

	table_time(t, sizeof(t), time);
	table_time(up, sizeof(up), ev->time_ms);
	table_time(ct, sizeof(ct), click);
	snprintf(secs, sizeof(secs), "%lld", (long long)((time - click) /
	    1000));
	for (i = 0; i < nitems(attrs); i++)
		v[attrs[i].col] = attrs_get(&ev->attrs, attrs[i].attr);
	v[CV_TIME] = t;
	v[CV_UPDATED] = up;
	v[CV_TXID] = ev->txid;
	v[CV_EVENT] = event && *event ? event : "-";
	v[CV_STATUS] = status_name(ev->status);
	v[CV_REVENUE] = amount_text(rev, sizeof(rev),
	    attrs_get(&ev->attrs, "revenue"));
	v[CV_PAYOUT] = amount_text(pay, sizeof(pay),
	    attrs_get(&ev->attrs, "payout"));
	v[CV_CLICK_TIME] = ct;
	v[CV_SECONDS] = secs;
	row_add(rs, time, v, CV_END);
}

/* Every conversion of one shard that passes the filters, into rs. */
static int
read_conversions(const struct query *q, struct shard *sh, struct rows *rs,
    uint64_t *bad)
{
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k, v;
	struct wire_reader r;
	struct event ev;
	int rc;

	if (store_begin(sh->store, 0, &txn) != STORE_OK)
		return -1;
	if (store_cursor_open(txn, SHARD_CONVERSIONS, &c) != STORE_OK) {
		store_abort(txn);
		return -1;
	}
	for (rc = store_cursor_seek(c, NULL, 0, &k, &v); rc == STORE_OK;
	    rc = store_cursor_next(c, &k, &v)) {
		event_init(&ev);
		wire_reader_init(&r, v.data, v.len);
		if (record_get_event(&r, &ev) == -1 || wire_done(&r) == -1)
			(*bad)++;
		else if (conversion_wanted(q, &ev, received_of(&ev)))
			conversion_row(rs, &ev, received_of(&ev));
		event_free(&ev);
	}
	store_cursor_close(c);
	store_abort(txn);
	return rc == STORE_ERROR ? -1 : 0;
}

static int
by_time(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if ((c = strcmp(x->v[CV_TXID], y->v[CV_TXID])) != 0)
		return c;
	return strcmp(x->v[CV_EVENT], y->v[CV_EVENT]);
}

static int
print_rows(struct sink *s, const char *const *names, struct rows *rs,
    const int *numeric)
{
	int rc = TABLE_OK;

	for (; rs->next < rs->n && rc == TABLE_OK; rs->next++)
		rc = sink_row(s, names, rs->v[rs->next].v, numeric);
	return rc;
}

static int
start(const struct query *q, struct sink *s, const char *const *names,
    size_t n)
{
	if (sink_init(s, q, names, n) == -1)
		return TABLE_ERROR;
	return TABLE_OK;
}

int
list_conversions(const struct query *q, struct shard *sh, size_t n,
    struct sink *s)
{
	struct rows rs = { 0 };
	uint64_t bad = 0;
	size_t i;
	int rc = start(q, s, cv_names, CV_END);

	for (i = 0; i < n && rc == TABLE_OK; i++)
		if (read_conversions(q, &sh[i], &rs, &bad) == -1) {
			warnx("%s: cannot read the conversions", sh[i].dir);
			rc = TABLE_ERROR;
		}
	if (rs.n > 0)
		qsort(rs.v, rs.n, sizeof(*rs.v), by_time);
	if (rc == TABLE_OK && q->header && rs.n > 0)
		rc = sink_header(s, cv_names);
	if (rc == TABLE_OK)
		rc = print_rows(s, cv_names, &rs, cv_numeric);
	rows_free(&rs);
	if (bad > 0) {
		warnx("skipped %llu conversions that could not be decoded",
		    (unsigned long long)bad);
		rc = rc == TABLE_OK ? TABLE_ERROR : rc;
	}
	return rc;
}

/* A shard's clicks, a batch at a time from where the last one ended. */
struct click_source {
	struct shard	*shard;
	struct rows	 rows;
	char		 from[RECORD_ID_MAX + 1];	/* "": from since */
	int		 done;
	uint64_t	 bad;
};

static int
click_wanted(const struct query *q, const struct hit *h, const char *txid)
{
	const struct attrs *a = &h->attrs;

	return h->kind == HIT_CLICK &&
	    list_match(&q->offers, attrs_get(a, "offer_id")) &&
	    list_match(&q->publishers, attrs_get(a, "publisher")) &&
	    list_match(&q->sub_ids, attrs_get(a, "sub_id")) &&
	    list_match(&q->txids, txid) &&
	    (!q->duplicate || attrs_get(a, COUNTER_ATTR_DUPLICATE) != NULL);
}

static void
click_row(struct rows *rs, const struct hit *h, const char *txid,
    int64_t time)
{
	static const char *const attrs[CK_END] = {
		[CK_OFFER] = "offer_id", [CK_PUBLISHER] = "publisher",
		[CK_SUB_ID] = "sub_id", [CK_SUB_ID_2] = "sub_id_2",
		[CK_SUB_ID_3] = "sub_id_3", [CK_SUB_ID_4] = "sub_id_4",
		[CK_SUB_ID_5] = "sub_id_5", [CK_SOURCE] = "source",
		[CK_IP] = "click_ip", [CK_UA] = "click_user_agent",
	};
	const char *v[CK_END] = { 0 };
	char t[TABLE_TIME_LEN];
	int i;

	for (i = 0; i < CK_END; i++)
		if (attrs[i] != NULL)
			v[i] = attrs_get(&h->attrs, attrs[i]);
	table_time(t, sizeof(t), time);
	v[CK_TIME] = t;
	v[CK_TXID] = txid;
	v[CK_UNIQUE] = attrs_get(&h->attrs, COUNTER_ATTR_DUPLICATE) ? "no" :
	    "yes";
	row_add(rs, time, v, CK_END);
}

/* One key of the clicks: 1 on, 0 past the range. */
static int
click_one(const struct query *q, struct click_source *src,
    const struct store_val *k, const struct store_val *v)
{
	char txid[RECORD_ID_MAX + 1];
	struct wire_reader r;
	struct hit h;
	int64_t time;

	if (k->len == 0 || k->len > RECORD_ID_MAX)
		return 1;
	memcpy(txid, k->data, k->len);
	txid[k->len] = '\0';
	memcpy(src->from, txid, k->len + 1);
	if ((time = txid_time_ms(txid)) >= q->until)
		return 0;
	if (time < q->since)
		return 1;
	hit_init(&h);
	wire_reader_init(&r, v->data, v->len);
	if (record_get_hit(&r, &h) == -1 || wire_done(&r) == -1)
		src->bad++;
	else if (click_wanted(q, &h, txid))
		click_row(&src->rows, &h, txid, time);
	hit_free(&h);
	return 1;
}

static void
seek_key(const struct query *q, const struct click_source *src, char *key,
    size_t *len)
{
	if (src->from[0] != '\0') {
		*len = strlen(src->from);
		memcpy(key, src->from, *len + 1);
		return;
	}
	txid_derive(key, 0, q->since > 0 ? q->since : 0, 0);
	*len = TIME_PREFIX;
}

static int
click_batch(const struct query *q, struct click_source *src)
{
	char key[RECORD_ID_MAX + 1];
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k, v;
	size_t len, looked = 0;
	int rc;

	rows_free(&src->rows);
	if (store_begin(src->shard->store, 0, &txn) != STORE_OK)
		return -1;
	if (store_cursor_open(txn, SHARD_CLICKS, &c) != STORE_OK) {
		store_abort(txn);
		return -1;
	}
	seek_key(q, src, key, &len);
	rc = store_cursor_seek(c, key, len, &k, &v);
	if (rc == STORE_OK && src->from[0] != '\0')
		rc = store_cursor_next(c, &k, &v);	/* seen already */
	for (; rc == STORE_OK && looked < BATCH;
	    rc = store_cursor_next(c, &k, &v), looked++)
		if (click_one(q, src, &k, &v) == 0)
			break;
	src->done = rc != STORE_OK || looked < BATCH;
	store_cursor_close(c);
	store_abort(txn);
	return rc == STORE_ERROR ? -1 : 0;
}

/* The source whose next click is the earliest, reading on as needed. */
static struct click_source *
click_next(const struct query *q, struct click_source *srcs, size_t n,
    int *failed)
{
	struct click_source *best = NULL;
	const struct row *a, *b;
	size_t i;

	for (i = 0; i < n; i++) {
		while (srcs[i].rows.next == srcs[i].rows.n && !srcs[i].done)
			if (click_batch(q, &srcs[i]) == -1) {
				warnx("%s: cannot read the clicks",
				    srcs[i].shard->dir);
				*failed = 1;
				srcs[i].done = 1;
			}
		if (srcs[i].rows.next == srcs[i].rows.n)
			continue;
		a = &srcs[i].rows.v[srcs[i].rows.next];
		b = best ? &best->rows.v[best->rows.next] : NULL;
		if (b == NULL || a->time < b->time || (a->time == b->time &&
		    strcmp(a->v[CK_TXID], b->v[CK_TXID]) < 0))
			best = &srcs[i];
	}
	return best;
}

int
list_clicks(const struct query *q, struct shard *sh, size_t n,
    struct sink *s)
{
	struct click_source *srcs = xcalloc(n + 1, sizeof(*srcs)), *src;
	uint64_t bad = 0;
	int rc = start(q, s, ck_names, CK_END), failed = 0;
	size_t i;

	for (i = 0; i < n; i++)
		srcs[i].shard = &sh[i];
	while (rc == TABLE_OK && (src = click_next(q, srcs, n, &failed))) {
		if (s->rows == 0 && q->header)
			rc = sink_header(s, ck_names);
		if (rc == TABLE_OK)
			rc = sink_row(s, ck_names,
			    src->rows.v[src->rows.next++].v, NULL);
	}
	for (i = 0; i < n; i++) {
		bad += srcs[i].bad;
		rows_free(&srcs[i].rows);
	}
	free(srcs);
	if (bad > 0)
		warnx("skipped %llu clicks that could not be decoded",
		    (unsigned long long)bad);
	return rc == TABLE_OK && (failed || bad > 0) ? TABLE_ERROR : rc;
}
