/*
 * --conversions, --clicks and --postbacks: one line per record, in time
 * order, over every shard (and, for --postbacks, every ingest).  Rows are read in batches into memory, each batch in its
 * own short read transaction, so that printing to a slow reader never
 * keeps a read transaction open (which would keep the matcher from
 * reusing the pages it frees).
 */
#include <err.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inbound.h"
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

enum {
	PB_TIME, PB_PATH, PB_HTTP, PB_RESULT, PB_REASON, PB_TXID, PB_OFFER,
	PB_EVENT, PB_STATUS, PB_ORDER, PB_IP, PB_QUERY, PB_END
};

static const char *const pb_names[PB_END] = {
	"time", "path", "http_status", "result", "reason", "transaction_id",
	"offer_id", "event", "status", "order_id", "ip", "query"
};

static const int pb_numeric[PB_END] = { [PB_HTTP] = 1 };

#define ROW_VALUES_MAX	16
_Static_assert(CV_END <= ROW_VALUES_MAX && CK_END <= ROW_VALUES_MAX &&
    PB_END <= ROW_VALUES_MAX, "a row holds every column");

/* A record's values, rendered, in one allocation. */
struct row {
	int64_t		 time;
	const char	*id;		/* its transaction: orders a tie */
	char		*text;		/* the values, each NUL-ended (in a
					   block of its rows) */
	const char	*v[ROW_VALUES_MAX];
};

/* Where the rows' text is kept: blocks, freed all at once. */
#define ROW_BLOCK	65536
struct row_block {
	struct row_block *next;
	size_t		 used, size;
	char		 data[];
};

struct rows {
	struct row	*v;
	size_t		 n;
	size_t		 cap;
	size_t		 next;		/* the first not yet printed */
	struct row_block *blocks;	/* the one in use first */
};

static char *
rows_alloc(struct rows *rs, size_t len)
{
	struct row_block *b = rs->blocks;
	size_t size;

	if (b == NULL || b->size - b->used < len) {
		size = len > ROW_BLOCK ? len : ROW_BLOCK;
		b = xmalloc(sizeof(*b) + size);
		b->next = rs->blocks;
		b->used = 0;
		b->size = size;
		rs->blocks = b;
	}
	b->used += len;
	return b->data + b->used - len;
}

/* No rows, the memory of the last block kept for the next ones. */
static void
rows_reset(struct rows *rs)
{
	struct row_block *b, *next;

	rs->n = rs->next = 0;
	if (rs->blocks == NULL)
		return;
	for (b = rs->blocks->next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	rs->blocks->next = NULL;
	rs->blocks->used = 0;
}

/* A row of n values given with their lengths (absent: empty). */
static void
row_add_n(struct rows *rs, int64_t time, const struct span *values, int n,
    int id)
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
		len += (values[i].p ? values[i].n : 0) + 1;
	r->text = rows_alloc(rs, len);
	for (i = 0; i < n; i++) {
		size_t l = values[i].p ? values[i].n : 0;

		if (l > 0)
			memcpy(r->text + at, values[i].p, l);
		r->text[at + l] = '\0';
		r->v[i] = r->text + at;
		at += l + 1;
	}
	r->id = r->v[id];
}

static void
row_add(struct rows *rs, int64_t time, const char *const *values, int n,
    int id)
{
	struct span v[ROW_VALUES_MAX];
	int i;

	for (i = 0; i < n; i++) {
		v[i].p = values[i];
		v[i].n = values[i] ? strlen(values[i]) : 0;
	}
	row_add_n(rs, time, v, n, id);
}

static void
rows_free(struct rows *rs)
{
	rows_reset(rs);
	free(rs->blocks);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

/*
 * An amount as stored (ingest checked it: a sign, at most 18 digits and
 * one point), written exactly, with at least 2 decimals and at most 9,
 * as the counters keep it; NULL if there is none.
 */
static const char *
amount_text(char *dst, size_t size, const char *v)
{
	const char *dot;
	size_t n = 0, whole, frac, i;

	if (v == NULL || *v == '\0' || size < 64)
		return NULL;
	if (*v == '-' || *v == '+')
		if (*v++ == '-')
			dst[n++] = '-';
	dot = strchr(v, '.');
	whole = dot ? (size_t)(dot - v) : strlen(v);
	frac = dot ? strlen(dot + 1) : 0;
	for (i = 0; i + 1 < whole && v[i] == '0'; i++)
		;
	if (whole == 0)
		dst[n++] = '0';
	for (; i < whole; i++)
		dst[n++] = v[i];
	dst[n++] = '.';
	frac = frac > 9 ? 9 : frac;
	while (frac > 2 && dot[frac] == '0')
		frac--;
	for (i = 0; i < 2 || i < frac; i++)
		dst[n++] = i < frac ? dot[1 + i] : '0';
	dst[n] = '\0';
	return dst;
}

/* The attribute codes of a conversion that report reads. */
enum { AT_OFFER, AT_PUBLISHER, AT_SUB_ID, AT_EVENT, AT_ORDER, AT_REASON,
    AT_CURRENCY, AT_REVENUE, AT_PAYOUT, AT_END };

static int
code_of(int at)
{
	static const char *const names[AT_END] = {
		"offer_id", "publisher", "sub_id", "event", "order_id",
		"reason", "currency", "revenue", "payout"
	};
	static int codes[AT_END];

	if (codes[at] == 0)
		codes[at] = record_attr_code(names[at]);
	return codes[at];
}

static const struct span *
attr_of(const struct event_scan *es, int at)
{
	return &es->attr[code_of(at)];
}

/* An empty filter places no condition; else one of its values exactly. */
static int
span_match(const struct strlist *l, const struct span *v)
{
	size_t i;

	if (l->n == 0)
		return 1;
	if (v->p == NULL)
		return 0;
	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == v->n && memcmp(l->v[i], v->p, v->n) == 0)
			return 1;
	return 0;
}

static int
conversion_wanted(const struct query *q, const struct event_scan *es,
    int64_t time)
{
	const struct span *ev = attr_of(es, AT_EVENT);
	struct span status = { status_name(es->status), 0 };

	status.n = strlen(status.p);
	return time >= q->since && time < q->until &&
	    span_match(&q->offers, attr_of(es, AT_OFFER)) &&
	    span_match(&q->publishers, attr_of(es, AT_PUBLISHER)) &&
	    span_match(&q->sub_ids, attr_of(es, AT_SUB_ID)) &&
	    span_match(&q->txids, &es->txid) &&
	    span_match(&q->statuses, &status) &&
	    span_match(&q->reasons, attr_of(es, AT_REASON)) &&
	    (q->event == NULL || (ev->p && strlen(q->event) == ev->n &&
	    memcmp(ev->p, q->event, ev->n) == 0));
}

static struct span
text(const char *s)
{
	struct span v = { s, s ? strlen(s) : 0 };

	return v;
}

/* An amount as amount_text writes it, from its stored text. */
static struct span
amount_of(char *dst, size_t size, const struct span *v)
{
	char in[64];

	if (v->p == NULL || v->n >= sizeof(in))
		return text(NULL);
	memcpy(in, v->p, v->n);
	in[v->n] = '\0';
	return text(amount_text(dst, size, in));
}

static void
conversion_row(struct rows *rs, const struct event_scan *es, int64_t time)
{
	struct span v[CV_END];
	char t[TABLE_TIME_LEN], up[TABLE_TIME_LEN], ct[TABLE_TIME_LEN];
	char rev[64], pay[64], secs[24], txid[RECORD_ID_MAX + 1];
	const struct span *ev = attr_of(es, AT_EVENT);
	int64_t click;

	memcpy(txid, es->txid.p, es->txid.n);
	txid[es->txid.n] = '\0';
	click = txid_time_ms(txid);
	table_time(t, sizeof(t), time);
	if (es->time_ms == time)	/* never changed since */
		memcpy(up, t, sizeof(up));
	else
		table_time(up, sizeof(up), es->time_ms);
	table_time(ct, sizeof(ct), click);
	int_text(secs, (time - click) / 1000);
	v[CV_TIME] = text(t);
	v[CV_UPDATED] = text(up);
	v[CV_TXID] = es->txid;
	v[CV_OFFER] = *attr_of(es, AT_OFFER);
	v[CV_PUBLISHER] = *attr_of(es, AT_PUBLISHER);
	v[CV_SUB_ID] = *attr_of(es, AT_SUB_ID);
	v[CV_EVENT] = ev->p && ev->n ? *ev : text("-");
	v[CV_ORDER] = *attr_of(es, AT_ORDER);
	v[CV_STATUS] = text(status_name(es->status));
	v[CV_REASON] = *attr_of(es, AT_REASON);
	v[CV_REVENUE] = amount_of(rev, sizeof(rev), attr_of(es, AT_REVENUE));
	v[CV_PAYOUT] = amount_of(pay, sizeof(pay), attr_of(es, AT_PAYOUT));
	v[CV_CURRENCY] = *attr_of(es, AT_CURRENCY);
	v[CV_CLICK_TIME] = text(ct);
	v[CV_SECONDS] = text(secs);
	row_add_n(rs, time, v, CV_END, CV_TXID);
}

/*
 * A shard's records in time order, a batch at a time, each batch in its
 * own read transaction from the key after the last one read.
 */
struct source {
	const struct query *q;
	struct shard	*shard;
	int		 db;		/* the database in time order */
	/* A key of db into rows: 1 on, 0 past the range, -1 error. */
	int		(*one)(struct source *, struct store_txn *,
			    const struct store_val *, const struct store_val *);
	struct store_cursor *lookup;	/* on SHARD_CONVERSIONS in a batch */
	struct rows	 rows;
	struct buf	 from;		/* the last key read; empty: since */
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
	row_add(rs, time, v, CK_END, CK_TXID);
}

/* A click: its key is its transaction id, which starts with its time. */
static int
click_one(struct source *src, struct store_txn *txn,
    const struct store_val *k, const struct store_val *v)
{
	const struct query *q = src->q;
	char txid[RECORD_ID_MAX + 1];
	struct wire_reader r;
	struct hit h;
	int64_t time;

	(void)txn;
	if (k->len == 0 || k->len > RECORD_ID_MAX)
		return 1;
	memcpy(txid, k->data, k->len);
	txid[k->len] = '\0';
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

/* A conversion by its entry in the index by time first received. */
static int
conversion_one(struct source *src, struct store_txn *txn,
    const struct store_val *k, const struct store_val *v)
{
	const struct query *q = src->q;
	struct store_val rec;
	struct event_scan es;
	int64_t time;

	(void)v;
	if (k->len < 8)
		return 1;
	if ((time = (int64_t)wire_be64_get(k->data)) >= q->until)
		return 0;
	/*
	 * Its conversion may be gone already (retention clicks).  They
	 * come in about their stored order: a cursor finds most on the
	 * page of the last one.
	 */
	if (src->lookup == NULL && store_cursor_open(txn, SHARD_CONVERSIONS,
	    &src->lookup) != STORE_OK)
		return -1;
	if (store_cursor_find(src->lookup, (const char *)k->data + 8,
	    k->len - 8, &rec) != STORE_OK)
		return 1;
	if (record_scan_event(rec.data, rec.len, &es) == -1)
		src->bad++;
	else if (conversion_wanted(q, &es, time))
		conversion_row(&src->rows, &es, time);
	return 1;
}

/* Where the first batch starts: the first key at or after --since. */
static void
first_key(const struct source *src, struct buf *key)
{
	char id[TXID_LEN + 1];
	unsigned char be[8];
	int64_t since = src->q->since > 0 ? src->q->since : 0;

	if (src->one == click_one) {
		txid_derive(id, 0, since, 0);
		buf_add(key, id, TIME_PREFIX);
	} else {
		wire_be64_put(be, (uint64_t)since);
		buf_add(key, be, sizeof(be));
	}
}

static int
read_batch(struct source *src)
{
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k, v;
	struct buf key;
	size_t looked = 0;
	int rc, more = 1;

	rows_reset(&src->rows);
	if (store_begin(src->shard->store, 0, &txn) != STORE_OK)
		return -1;
	if (store_cursor_open(txn, src->db, &c) != STORE_OK) {
		store_abort(txn);
		return -1;
	}
	buf_init(&key);
	if (src->from.len == 0)
		first_key(src, &key);
	else
		buf_add(&key, src->from.data, src->from.len);
	rc = store_cursor_seek(c, key.data, key.len, &k, &v);
	if (rc == STORE_OK && src->from.len > 0 && k.len == key.len &&
	    memcmp(k.data, key.data, k.len) == 0)
		rc = store_cursor_next(c, &k, &v);	/* read already */
	for (; rc == STORE_OK && looked < BATCH && more;
	    rc = store_cursor_next(c, &k, &v), looked++) {
		buf_reset(&src->from);
		buf_add(&src->from, k.data, k.len);
		if ((more = src->one(src, txn, &k, &v)) == -1) {
			rc = STORE_ERROR;
			break;
		}
	}
	src->done = rc != STORE_OK || !more;
	buf_free(&key);
	if (src->lookup != NULL)
		store_cursor_close(src->lookup);
	src->lookup = NULL;
	store_cursor_close(c);
	store_abort(txn);
	return rc == STORE_ERROR ? -1 : 0;
}

/* The source whose next record is the earliest, reading on as needed. */
static struct source *
next_source(struct source *srcs, size_t n, int *failed)
{
	struct source *best = NULL;
	const struct row *a, *b;
	size_t i;

	for (i = 0; i < n; i++) {
		while (srcs[i].rows.next == srcs[i].rows.n && !srcs[i].done)
			if (read_batch(&srcs[i]) == -1) {
				warnx("%s: cannot read the records",
				    srcs[i].shard->dir);
				*failed = 1;
				srcs[i].done = 1;
			}
		if (srcs[i].rows.next == srcs[i].rows.n)
			continue;
		a = &srcs[i].rows.v[srcs[i].rows.next];
		b = best ? &best->rows.v[best->rows.next] : NULL;
		if (b == NULL || a->time < b->time || (a->time == b->time &&
		    strcmp(a->id, b->id) < 0))
			best = &srcs[i];
	}
	return best;
}

/* Every shard's records merged in time order, into s. */
static int
merge(const struct query *q, struct shard *sh, size_t n, struct sink *s,
    int db, int (*one)(struct source *, struct store_txn *,
    const struct store_val *, const struct store_val *),
    const char *const *names, size_t ncols, const int *numeric)
{
	struct source *srcs = xcalloc(n + 1, sizeof(*srcs)), *src;
	uint64_t bad = 0;
	int rc = TABLE_OK, failed = 0;
	size_t i;

	if (sink_init(s, q, names, ncols) == -1)
		rc = TABLE_ERROR;
	for (i = 0; i < n; i++) {
		srcs[i].q = q;
		srcs[i].shard = &sh[i];
		srcs[i].db = db;
		srcs[i].one = one;
		buf_init(&srcs[i].from);
	}
	while (rc == TABLE_OK && (src = next_source(srcs, n, &failed))) {
		if (s->rows == 0 && q->header)
			rc = sink_header(s, names);
		if (rc == TABLE_OK)
			rc = sink_row(s, names,
			    src->rows.v[src->rows.next++].v, numeric);
	}
	for (i = 0; i < n; i++) {
		bad += srcs[i].bad;
		rows_free(&srcs[i].rows);
		buf_free(&srcs[i].from);
	}
	free(srcs);
	if (bad > 0)
		warnx("skipped %llu records that could not be decoded",
		    (unsigned long long)bad);
	return rc == TABLE_OK && (failed || bad > 0) ? TABLE_ERROR : rc;
}

int
list_conversions(const struct query *q, struct shard *sh, size_t n,
    struct sink *s)
{
	return merge(q, sh, n, s, SHARD_CONVERSIONS_AT, conversion_one,
	    cv_names, CV_END, cv_numeric);
}

int
list_clicks(const struct query *q, struct shard *sh, size_t n,
    struct sink *s)
{
	return merge(q, sh, n, s, SHARD_CLICKS, click_one, ck_names, CK_END,
	    NULL);
}

static int
postback_wanted(const struct query *q, const struct inbound_row *r)
{
	return list_match(&q->offers, r->f[IN_OFFER]) &&
	    list_match(&q->publishers, r->f[IN_PUBLISHER]) &&
	    list_match(&q->sub_ids, r->f[IN_SUB_ID]) &&
	    list_match(&q->txids, r->f[IN_TXID]) &&
	    list_match(&q->results, inbound_result_name(r->result)) &&
	    (q->event == NULL || (r->f[IN_EVENT] && strcmp(r->f[IN_EVENT],
	    q->event) == 0));
}

static void
postback_row(struct rows *rs, const struct inbound_row *r)
{
	const char *v[PB_END] = { 0 };
	char t[TABLE_TIME_LEN], http[24];
	static const int fields[PB_END] = {
		[PB_REASON] = IN_REASON + 1, [PB_TXID] = IN_TXID + 1,
		[PB_OFFER] = IN_OFFER + 1, [PB_EVENT] = IN_EVENT + 1,
		[PB_STATUS] = IN_STATUS + 1, [PB_ORDER] = IN_ORDER + 1,
		[PB_IP] = IN_IP + 1, [PB_QUERY] = IN_QUERY + 1,
	};
	int i;

	for (i = 0; i < PB_END; i++)
		if (fields[i] > 0)
			v[i] = r->f[fields[i] - 1];
	table_time(t, sizeof(t), r->time_ms);
	int_text(http, inbound_http_status(r));
	v[PB_TIME] = t;
	v[PB_PATH] = inbound_path(r->kind);
	v[PB_HTTP] = http;
	v[PB_RESULT] = inbound_result_name(r->result);
	if (v[PB_TXID] == NULL)
		v[PB_TXID] = "";
	row_add(rs, r->time_ms, v, PB_END, PB_TXID);
}

/* A row, by its key: received (be64) | who | which. */
static int
postback_one(struct source *src, struct store_txn *txn,
    const struct store_val *k, const struct store_val *v)
{
	const struct query *q = src->q;
	struct inbound_row r;
	int64_t time;

	(void)txn;
	if (k->len != INBOUND_KEY_LEN)
		return 1;
	if ((time = (int64_t)wire_be64_get(k->data)) >= q->until)
		return 0;
	if (inbound_get(v->data, v->len, &r) == -1) {
		src->bad++;
		return 1;
	}
	r.time_ms = time;
	if (time >= q->since && postback_wanted(q, &r))
		postback_row(&src->rows, &r);
	inbound_free(&r);
	return 1;
}

/* The rows of one transaction in one store, by its index. */
static int
postbacks_of(struct source *src, const char *txid)
{
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k, v, row;
	size_t len = strnlen(txid, RECORD_ID_MAX);
	int rc;

	if (store_begin(src->shard->store, 0, &txn) != STORE_OK)
		return -1;
	if (store_cursor_open(txn, PB_TX, &c) != STORE_OK) {
		store_abort(txn);
		return -1;
	}
	for (rc = store_cursor_seek(c, txid, len, &k, &v);
	    rc == STORE_OK && k.len == len + INBOUND_KEY_LEN &&
	    memcmp(k.data, txid, len) == 0;
	    rc = store_cursor_next(c, &k, &v)) {
		struct store_val key = { (const char *)k.data + len,
		    INBOUND_KEY_LEN };

		if (store_get(txn, PB_ROWS, key.data, key.len, &row) ==
		    STORE_OK)
			postback_one(src, txn, &key, &row);
	}
	store_cursor_close(c);
	store_abort(txn);
	return rc == STORE_ERROR ? -1 : 0;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->time < y->time ? -1 : x->time > y->time;
}

/*
 * --transaction: each store's index by transaction, not a scan; the few
 * rows found sorted by time (their order in a store is kept).
 */
static int
postbacks_by_txid(const struct query *q, struct shard *sh, size_t n,
    struct sink *s)
{
	struct source src = { .q = q };
	int rc = TABLE_OK, failed = 0;
	size_t i, j;

	if (sink_init(s, q, pb_names, PB_END) == -1)
		return TABLE_ERROR;
	for (i = 0; i < n; i++) {
		src.shard = &sh[i];
		for (j = 0; j < q->txids.n; j++)
			if (postbacks_of(&src, q->txids.v[j]) == -1) {
				warnx("%s: cannot read the postback rows",
				    sh[i].dir);
				failed = 1;
			}
	}
	if (src.rows.n > 0)
		qsort(src.rows.v, src.rows.n, sizeof(*src.rows.v), row_cmp);
	for (i = 0; rc == TABLE_OK && i < src.rows.n; i++) {
		if (i == 0 && q->header)
			rc = sink_header(s, pb_names);
		if (rc == TABLE_OK)
			rc = sink_row(s, pb_names, src.rows.v[i].v, pb_numeric);
	}
	rows_free(&src.rows);
	if (src.bad > 0)
		warnx("skipped %llu records that could not be decoded",
		    (unsigned long long)src.bad);
	return rc == TABLE_OK && (failed || src.bad > 0) ? TABLE_ERROR : rc;
}

int
list_postbacks(const struct query *q, struct shard *sh, size_t n,
    struct sink *s)
{
	if (q->txids.n > 0)
		return postbacks_by_txid(q, sh, n, s);
	return merge(q, sh, n, s, PB_ROWS, postback_one, pb_names, PB_END,
	    pb_numeric);
}
