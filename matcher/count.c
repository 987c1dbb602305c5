/*
 * The report counters (counter.h), changed in the transaction of the
 * click, impression, join or status change they count, so that report(1)
 * agrees with the stored clicks and conversions after any crash.  Each
 * change adds to two rows: the hour's full row (offer, publisher,
 * sub_id, source, currency, event) and its row by offer alone, which the
 * reports by time and offer read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "matcher.h"

/*
 * The counter changes of the open transaction, added up by row: a batch
 * of clicks on one offer writes its row once, not once a click.  They
 * are written by count_flush() before the transaction commits.
 */
struct tally_row {
	uint64_t	 hash;
	int		 db;
	size_t		 off, len;	/* its key in keys */
	struct counts	 c;
};

struct tally {
	struct tally_row *v;
	size_t		 n;
	size_t		 cap;		/* a power of two, or 0 */
	struct buf	 keys;
	struct buf	 key;		/* the row's being made */
	struct buf	 offer_key;	/* and its row's by offer */
	struct buf	 clicks;	/* (time, hash) of each click, for the
					   unique-click index's log */
	int64_t		 clicks_max;	/* their latest time */
};

struct tally *
count_tally_new(void)
{
	struct tally *t = xcalloc(1, sizeof(*t));

	buf_init(&t->keys);
	buf_init(&t->key);
	buf_init(&t->offer_key);
	buf_init(&t->clicks);
	t->clicks_max = INT64_MIN;
	return t;
}

void
count_tally_free(struct tally *t)
{
	if (t == NULL)
		return;
	free(t->v);
	buf_free(&t->keys);
	buf_free(&t->key);
	buf_free(&t->offer_key);
	buf_free(&t->clicks);
	free(t);
}

static void
tally_grow(struct tally *t)
{
	struct tally_row *old = t->v;
	size_t i, j, cap = t->cap;

	t->cap = cap ? cap * 2 : 256;
	t->v = xcalloc(t->cap, sizeof(*t->v));
	for (i = 0; i < cap; i++) {
		if (old[i].len == 0)
			continue;
		for (j = old[i].hash & (t->cap - 1); t->v[j].len != 0;
		    j = (j + 1) & (t->cap - 1))
			;
		t->v[j] = old[i];
	}
	free(old);
}

static void
tally_add(struct tally *t, int db, const struct buf *key,
    const struct counts *d)
{
	uint64_t h = hash_words(FNV1A_INIT + (uint64_t)db, key->data,
	    key->len);
	struct tally_row *r;
	size_t i;

	if ((t->n + 1) * 10 > t->cap * 7)
		tally_grow(t);
	for (i = h & (t->cap - 1); t->v[i].len != 0; i = (i + 1) & (t->cap - 1))
		if (t->v[i].hash == h && t->v[i].db == db &&
		    t->v[i].len == key->len && memcmp(t->keys.data +
		    t->v[i].off, key->data, key->len) == 0)
			break;
	r = &t->v[i];
	if (r->len == 0) {
		r->hash = h;
		r->db = db;
		r->off = t->keys.len;
		r->len = key->len;
		buf_add(&t->keys, key->data, key->len);
		memset(&r->c, 0, sizeof(r->c));
		t->n++;
	}
	counts_add(&r->c, d);
}

static void
tally_reset(struct matcher *m)
{
	struct tally *t = m->tally;

	if (t->n > 0)
		memset(t->v, 0, t->cap * sizeof(*t->v));
	t->n = 0;
	buf_reset(&t->keys);
	buf_reset(&t->clicks);
	t->clicks_max = INT64_MIN;
}

static int
write_row(struct store_txn *txn, const struct tally *t,
    const struct tally_row *r)
{
	const char *key = t->keys.data + r->off;
	struct store_val old;
	struct counts c;
	struct buf val;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = store_get(txn, r->db, key, r->len, &old);
	if (rc == STORE_OK && counter_get(old.data, old.len, &c) == -1)
		log_error("event=corrupt_record db=counts action=reset");
	else if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return -1;
	counts_add(&c, &r->c);
	buf_init(&val);
	counter_put(&val, &c);
	rc = store_put(txn, r->db, key, r->len, val.data, val.len);
	buf_free(&val);
	return rc == STORE_OK ? 0 : -1;
}

/*
 * The clicks of the transaction in the unique-click index's log: one
 * record, keyed by their latest time and a sequence number.
 */
static int
write_clicks(struct matcher *m, struct store_txn *txn)
{
	const struct tally *t = m->tally;
	unsigned char key[16];

	if (t->clicks.len == 0)
		return 0;
	wire_be64_put(key, (uint64_t)t->clicks_max);
	wire_be64_put(key + 8, m->unique_seq++);
	return store_put(txn, DB_UNIQUE, key, sizeof(key), t->clicks.data,
	    t->clicks.len) == STORE_OK ? 0 : -1;
}

int
count_flush(struct matcher *m, struct store_txn *txn)
{
	struct tally *t = m->tally;
	size_t i;
	int rc = write_clicks(m, txn);

	for (i = 0; i < t->cap && rc == 0; i++)
		if (t->v[i].len != 0 && !counts_zero(&t->v[i].c))
			rc = write_row(txn, t, &t->v[i]);
	tally_reset(m);
	return rc;
}

void
count_discard(struct matcher *m)
{
	tally_reset(m);
	unique_undo(m->unique);
}

void
count_committed(struct matcher *m)
{
	unique_keep(m->unique);
}

/* The keys of the rows of time_ms's hour for dims, into the tally. */
static void
make_keys(struct matcher *m, int64_t time_ms, const char **dims)
{
	const char *offer_dims[DIM_END] = { 0 };
	int64_t hour = time_ms / HOUR_MS;

	offer_dims[DIM_OFFER] = dims[DIM_OFFER];
	offer_dims[DIM_CURRENCY] = dims[DIM_CURRENCY];
	offer_dims[DIM_EVENT] = dims[DIM_EVENT];
	counter_key(&m->tally->key, hour, dims);
	counter_key(&m->tally->offer_key, hour, offer_dims);
}

/* Add d to the rows whose keys were made last. */
static void
add_made(struct matcher *m, const struct counts *d)
{
	tally_add(m->tally, DB_COUNTS, &m->tally->key, d);
	tally_add(m->tally, DB_COUNTS_OFFER, &m->tally->offer_key, d);
}

/* Add d to the rows of time_ms's hour for dims. */
static void
add(struct matcher *m, int64_t time_ms, const char **dims,
    const struct counts *d)
{
	make_keys(m, time_ms, dims);
	add_made(m, d);
}

/* The value of each of names in a, NULL if missing: one pass. */
static void
pick(const struct attrs *a, const char *const *names, size_t n,
    const char **out)
{
	size_t i, j;

	for (j = 0; j < n; j++)
		out[j] = NULL;
	for (i = 0; i < a->n; i++)
		for (j = 0; j < n; j++)
			if (a->v[i].name[0] == names[j][0] &&
			    strcmp(a->v[i].name, names[j]) == 0) {
				out[j] = a->v[i].value;
				break;
			}
}

/* Where a hit counts: its origin's offer, publisher, sub_id, source. */
static void
dims_of(const char **dims, const struct attrs *origin,
    const struct attrs *own)
{
	static const char *const names[] = {
		"offer_id", "publisher", "sub_id", "source", "currency",
		"event"
	};
	const char *mine[DIM_END];

	pick(origin ? origin : own, names, nitems(names), dims);
	if (origin == NULL)
		dims[DIM_OFFER] = dims[DIM_PUBLISHER] = dims[DIM_SUB_ID] =
		    dims[DIM_SOURCE] = NULL;
	if (origin != own) {
		pick(own, names + DIM_CURRENCY, 2, mine + DIM_CURRENCY);
		dims[DIM_CURRENCY] = mine[DIM_CURRENCY];
		dims[DIM_EVENT] = mine[DIM_EVENT];
	}
}

void
count_impression(struct matcher *m, const struct hit *hit)
{
	const char *dims[DIM_END];
	struct counts d;

	memset(&d, 0, sizeof(d));
	d.n[COUNT_IMPRESSIONS] = 1;
	dims_of(dims, &hit->attrs, &hit->attrs);
	dims[DIM_CURRENCY] = dims[DIM_EVENT] = NULL;
	add(m, hit->time_ms, dims, &d);
}

/*
 * Unique when its offer, IP and User-Agent made no click within the
 * offer's unique-window: the index keeps each one's last click (unique.c)
 * and the store its log, to make it again (count_load_unique).
 */
static int
is_unique(struct matcher *m, const struct hit *hit, const char *offer,
    uint64_t hash)
{
	const struct offer *o = conf_offer(m->daemon->conf, offer);
	int64_t window = o ? o->unique_window_ms :
	    CONF_DEFAULT_UNIQUE_WINDOW_MS, last, t = hit->time_ms;
	struct tally *tl = m->tally;
	unsigned char entry[16];

	if (window == 0)
		return 1;
	/* An offer this matcher's config does not name: the default. */
	if (window > m->unique_keep_ms)
		m->unique_keep_ms = window;
	wire_be64_put(entry, (uint64_t)t);
	wire_be64_put(entry + 8, hash);
	buf_add(&tl->clicks, entry, sizeof(entry));
	if (t > tl->clicks_max)
		tl->clicks_max = t;
	last = unique_note(m->unique, hash, t, t - m->unique_keep_ms);
	return last == INT64_MIN || t - last >= window || last - t >= window;
}

void
count_click(struct matcher *m, struct hit *hit)
{
	static const char *const names[] = {
		"offer_id", "publisher", "sub_id", "source", "click_ip",
		"click_user_agent"
	};
	const char *dims[DIM_END], *v[nitems(names)];
	uint64_t hash;
	struct counts d;
	int unique;

	pick(&hit->attrs, names, nitems(names), v);
	hash = counter_unique_hash(v[0] ? v[0] : "", v[4] ? v[4] : "",
	    v[5] ? v[5] : "");
	/* Its entry is likely not in the cache: fetched while keys are made. */
	unique_prefetch(m->unique, hash);
	memcpy(dims, v, DIM_CURRENCY * sizeof(*dims));
	dims[DIM_CURRENCY] = dims[DIM_EVENT] = NULL;
	make_keys(m, hit->time_ms, dims);
	unique = is_unique(m, hit, v[0] ? v[0] : "", hash);
	if (!unique)
		attrs_set(&hit->attrs, COUNTER_ATTR_DUPLICATE, "1");
	memset(&d, 0, sizeof(d));
	d.n[COUNT_CLICKS] = 1;
	d.n[COUNT_UNIQUE] = unique;
	add_made(m, &d);
}

static int
status_count(int status)
{
	switch (status) {
	case STATUS_APPROVED:
		return COUNT_APPROVED;
	case STATUS_PENDING:
		return COUNT_PENDING;
	case STATUS_REJECTED:
		return COUNT_REJECTED;
	}
	return -1;
}

/* An amount of ev, 0 if it has none or it is not one. */
static amount_t
amount_of(const struct event *ev, const char *name)
{
	const char *v = attrs_get(&ev->attrs, name);
	amount_t a = 0;

	if (v && *v && amount_parse(v, &a) == -1)
		a = 0;
	return a;
}

int64_t
count_received_ms(const struct event *ev)
{
	const char *v = attrs_get(&ev->attrs, COUNTER_ATTR_RECEIVED);

	return v && *v ? strtoll(v, NULL, 10) : ev->time_ms;
}

void
count_conversion(struct matcher *m, const struct event *ev, int from, int to)
{
	const char *dims[DIM_END];
	struct counts d;
	int sign;

	memset(&d, 0, sizeof(d));
	if (status_count(from) >= 0)
		d.n[status_count(from)] -= 1;
	if (status_count(to) >= 0)
		d.n[status_count(to)] += 1;
	sign = (to == STATUS_APPROVED) - (from == STATUS_APPROVED);
	d.revenue = sign * amount_of(ev, "revenue");
	d.payout = sign * amount_of(ev, "payout");
	dims_of(dims, &ev->attrs, &ev->attrs);
	add(m, count_received_ms(ev), dims, &d);
}

void
count_invalid(struct matcher *m, const struct hit *hit,
    const struct hit *origin)
{
	const char *dims[DIM_END];
	struct counts d;

	memset(&d, 0, sizeof(d));
	d.n[COUNT_INVALID] = 1;
	dims_of(dims, origin ? &origin->attrs : &hit->attrs, &hit->attrs);
	add(m, hit->time_ms, dims, &d);
}

/* Counter rows go once the whole hour is past retention reports. */
static int64_t
hour_end_of(const struct store_val *k)
{
	const unsigned char *p = k->data;

	if (k->len < 4)
		return INT64_MIN;
	return ((int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]) + 1) * HOUR_MS - 1;
}

int
count_prune(void *arg, struct store_txn *txn, struct retain_slice *s)
{
	return retain_walk(txn, (int)(intptr_t)arg, s, hour_end_of, NULL,
	    NULL);
}

/*
 * The longest unique-window of the offers, now.  A click of an offer not
 * named here (ingest's config is another) raises it to the default's,
 * until the next reload.
 */
static int64_t
longest_window(const struct conf *conf)
{
	int64_t w = 0;
	size_t i;

	for (i = 0; i < conf->noffers; i++)
		if (conf->offers[i].unique_window_ms > w)
			w = conf->offers[i].unique_window_ms;
	return w;
}

void
count_configure(struct matcher *m)
{
	m->unique_keep_ms = longest_window(m->daemon->conf);
}

/* A log record's latest time, INT64_MIN if it is not of its form. */
static int64_t
unique_time_of(const struct store_val *k)
{
	return k->len == 16 ? (int64_t)wire_be64_get(k->data) : INT64_MIN;
}

/* The log's records go once the longest unique-window is past them. */
int
count_prune_unique(void *arg, struct store_txn *txn, struct retain_slice *s)
{
	struct matcher *m = arg;

	s->before -= m->unique_keep_ms;
	return retain_walk(txn, DB_UNIQUE, s, unique_time_of, NULL, NULL);
}

/* The clicks of one log record into the index: how many it took. */
static size_t
load_record(struct matcher *m, const struct store_val *v, int64_t stale)
{
	const unsigned char *p = v->data;
	size_t i, n = 0;
	int64_t t;

	for (i = 0; i + 16 <= v->len; i += 16) {
		t = (int64_t)wire_be64_get(p + i);
		if (t >= stale) {
			unique_note(m->unique, wire_be64_get(p + i + 8), t,
			    stale);
			n++;
		}
	}
	unique_keep(m->unique);
	return n;
}

/*
 * The index made again from its log, at start, and the next record's
 * sequence number.  Records of another form (the index by hash of
 * stores before the log) are removed.
 */
int
count_load_unique(struct matcher *m)
{
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k, v;
	int64_t stale = now_ms() - m->unique_keep_ms;
	size_t loaded = 0, dropped = 0;
	uint64_t seq;
	int rc;

	if (store_begin(m->store, 1, &txn) != STORE_OK)
		return -1;
	if (store_cursor_open(txn, DB_UNIQUE, &c) != STORE_OK) {
		store_abort(txn);
		return -1;
	}
	while ((rc = store_cursor_next(c, &k, &v)) == STORE_OK) {
		if (unique_time_of(&k) == INT64_MIN || v.len % 16 != 0) {
			if (store_cursor_del(c) != STORE_OK)
				break;
			dropped++;
			continue;
		}
		seq = wire_be64_get((const unsigned char *)k.data + 8);
		if (seq >= m->unique_seq)
			m->unique_seq = seq + 1;
		if (unique_time_of(&k) >= stale)
			loaded += load_record(m, &v, stale);
	}
	store_cursor_close(c);
	if (rc != STORE_NOTFOUND) {
		store_abort(txn);
		return -1;
	}
	if (store_commit(txn, 1) != STORE_OK)
		return -1;
	log_info("event=unique_index entries=%zu clicks=%zu dropped=%zu",
	    unique_entries(m->unique), loaded, dropped);
	return 0;
}
