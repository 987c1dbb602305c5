/*
 * The summary: counter rows of the hours in range, from every shard,
 * added up by the keys of --by and printed in the order of the keys.
 * What each column means is in report(1).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

static const char *const key_names[KEY_END] = {
	"hour", "day", "offer_id", "publisher", "sub_id", "source", "currency"
};

enum column {
	COL_IMPRESSIONS, COL_CLICKS, COL_UNIQUE, COL_DUPLICATE,
	COL_CONVERSIONS, COL_APPROVED, COL_PENDING, COL_REJECTED, COL_INVALID,
	COL_EVENTS, COL_REVENUE, COL_PAYOUT, COL_PROFIT, COL_CR, COL_EPC,
	COL_END
};

static const char *const col_names[COL_END] = {
	"impressions", "clicks", "unique_clicks", "duplicate_clicks",
	"conversions", "approved", "pending", "rejected", "invalid", "events",
	"revenue", "payout", "profit", "cr", "epc"
};

struct tally {
	int64_t		 n[COL_EVENTS + 1];	/* the counts, by column */
	amount_t	 revenue;
	amount_t	 payout;
};

struct group {
	uint64_t	 hash;
	char		*key;		/* the key values, each NUL-ended */
	size_t		 len;
	struct tally	 t;
};

struct groups {
	struct group	*v;
	size_t		 n;
	size_t		 cap;		/* a power of two */
};

/* The labels of the last hour seen, in the zone of --tz. */
struct clock {
	int64_t		 hour;
	char		 day[16];
	char		 hourlabel[24];
};

static struct group *
group_find(struct groups *g, const char *key, size_t len)
{
	uint64_t h = fnv1a(FNV1A_INIT, key, len);
	size_t i;

	if (g->cap == 0 || (g->n + 1) * 10 > g->cap * 7) {
		struct groups bigger = { 0, 0, g->cap ? g->cap * 2 : 1024 };

		bigger.v = xcalloc(bigger.cap, sizeof(*bigger.v));
		for (i = 0; i < g->cap; i++) {
			size_t j = g->v[i].hash & (bigger.cap - 1);

			if (g->v[i].key == NULL)
				continue;
			while (bigger.v[j].key != NULL)
				j = (j + 1) & (bigger.cap - 1);
			bigger.v[j] = g->v[i];
		}
		bigger.n = g->n;
		free(g->v);
		*g = bigger;
	}
	for (i = h & (g->cap - 1); g->v[i].key != NULL;
	    i = (i + 1) & (g->cap - 1))
		if (g->v[i].hash == h && g->v[i].len == len &&
		    memcmp(g->v[i].key, key, len) == 0)
			return &g->v[i];
	g->v[i].hash = h;
	g->v[i].key = xmalloc(len + 1);
	memcpy(g->v[i].key, key, len);
	g->v[i].len = len;
	g->n++;
	return &g->v[i];
}

/* Once sorted (or in order), the groups are the first n slots. */
static void
groups_free(struct groups *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->v[i].key);
	free(g->v);
}

int
zone_check(const char *tz)
{
	const char *dir = getenv("TZDIR");
	struct tm tm;
	time_t now = time(NULL);
	char *path;
	int ok;

	if (*tz == '\0' || *tz == '/' || strstr(tz, "..") != NULL) {
		warnx("--tz: bad zone \"%s\"", tz);
		return -1;
	}
	path = xasprintf("%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo",
	    tz);
	ok = access(path, R_OK) == 0;
	free(path);
	if (!ok) {
		warnx("--tz: unknown zone \"%s\" (a name of the tz database, "
		    "such as Europe/Berlin)", tz);
		return -1;
	}
	setenv("TZ", tz, 1);
	tzset();
	if (localtime_r(&now, &tm) == NULL || tm.tm_gmtoff % 3600 != 0) {
		warnx("--tz: %s is not a whole number of hours from UTC: "
		    "the counters are hourly", tz);
		return -1;
	}
	return 0;
}

/* The labels of hour; -1 if the zone is not a whole hour from UTC then. */
static int
clock_set(struct clock *c, int64_t hour, int local)
{
	time_t t = (time_t)(hour * 3600);
	struct tm tm;

	if (c->hour == hour)
		return 0;
	c->hour = hour;
	if (local)
		localtime_r(&t, &tm);
	else
		gmtime_r(&t, &tm);
	if (tm.tm_gmtoff % 3600 != 0)
		return -1;
	strftime(c->day, sizeof(c->day), "%Y-%m-%d", &tm);
	strftime(c->hourlabel, sizeof(c->hourlabel), "%Y-%m-%dT%H", &tm);
	return 0;
}

/*
 * The group key of a counter row: the values of --by, then its currency
 * (always: amounts of two currencies are never added).
 */
static void
group_key(struct buf *key, const struct query *q, const struct clock *c,
    const char **dims)
{
	static const int dim_of[KEY_END] = {
		-1, -1, DIM_OFFER, DIM_PUBLISHER, DIM_SUB_ID, DIM_SOURCE,
		DIM_CURRENCY
	};
	int i, k;

	buf_reset(key);
	for (i = 0; i < q->nby; i++) {
		k = q->by[i];
		buf_adds(key, k == KEY_HOUR ? c->hourlabel : k == KEY_DAY ?
		    c->day : dims[dim_of[k]]);
		buf_addc(key, '\0');
	}
	buf_adds(key, dims[DIM_CURRENCY]);
	buf_addc(key, '\0');
}

/* What a counter row adds to its group: see report(1) for --event. */
static void
tally_add(struct tally *t, const struct query *q, const char *event,
    const struct counts *c)
{
	int base = *event == '\0';
	int chosen = q->event ? strcmp(event, q->event) == 0 : base;

	if (base) {
		t->n[COL_IMPRESSIONS] += c->n[COUNT_IMPRESSIONS];
		t->n[COL_CLICKS] += c->n[COUNT_CLICKS];
		t->n[COL_UNIQUE] += c->n[COUNT_UNIQUE];
	}
	if (chosen) {
		t->n[COL_APPROVED] += c->n[COUNT_APPROVED];
		t->n[COL_PENDING] += c->n[COUNT_PENDING];
		t->n[COL_REJECTED] += c->n[COUNT_REJECTED];
	}
	if (chosen || q->event == NULL)
		t->n[COL_INVALID] += c->n[COUNT_INVALID];
	if ((q->event == NULL && !base) || (q->event != NULL && chosen))
		t->n[COL_EVENTS] += c->n[COUNT_APPROVED] +
		    c->n[COUNT_PENDING] + c->n[COUNT_REJECTED];
	if (q->event == NULL || chosen) {
		t->revenue += c->revenue;
		t->payout += c->payout;
	}
}

static int
row_wanted(const struct query *q, const char **dims)
{
	return list_match(&q->offers, dims[DIM_OFFER]) &&
	    list_match(&q->publishers, dims[DIM_PUBLISHER]) &&
	    list_match(&q->sub_ids, dims[DIM_SUB_ID]) &&
	    (q->event == NULL || *dims[DIM_EVENT] == '\0' ||
	    strcmp(dims[DIM_EVENT], q->event) == 0);
}

/* The rollup that holds what the query asks: by offer when it can. */
static int
pick_db(const struct query *q)
{
	int i;

	if (q->publishers.n > 0 || q->sub_ids.n > 0)
		return SHARD_COUNTS;
	for (i = 0; i < q->nby; i++)
		if (q->by[i] == KEY_PUBLISHER || q->by[i] == KEY_SUB_ID ||
		    q->by[i] == KEY_SOURCE)
			return SHARD_COUNTS;
	return SHARD_COUNTS_OFFER;
}

struct scan {
	const struct query *q;
	struct groups	*groups;
	struct strlist	*currencies;	/* distinct, not empty */
	struct clock	 clock;
	struct buf	 key;
	int64_t		 first, end;	/* hours */
	uint64_t	 bad;
	int		 bad_zone;	/* an hour off the whole hours */
	int		 ordered;	/* rows come in their groups' order */
	size_t		 block;		/* ordered: the first group of the
					   keys of the last row */
};

/*
 * --by hour[,offer[,publisher[,sub_id[,source]]]] in UTC: a shard's
 * counter rows come in the order of their groups, which need then no
 * table: a group's rows all lie in the run of rows with its keys (they
 * differ only in currency, source or event).
 */
static int
in_key_order(const struct query *q)
{
	static const int order[] = {
		KEY_HOUR, KEY_OFFER, KEY_PUBLISHER, KEY_SUB_ID, KEY_SOURCE
	};
	int i;

	if (q->tz != NULL || q->nby == 0 || q->nby > (int)nitems(order))
		return 0;
	for (i = 0; i < q->nby; i++)
		if (q->by[i] != order[i])
			return 0;
	return 1;
}

/* The length of a group key without its last value (the currency). */
static size_t
keys_len(const char *key, size_t len)
{
	len--;
	while (len > 0 && key[len - 1] != '\0')
		len--;
	return len;
}

static struct group *
group_append(struct groups *g, const char *key, size_t len)
{
	struct group *gr;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 1024;
		g->v = xreallocarray(g->v, g->cap, sizeof(*g->v));
	}
	gr = &g->v[g->n++];
	memset(gr, 0, sizeof(*gr));
	gr->key = xmalloc(len);
	memcpy(gr->key, key, len);
	gr->len = len;
	return gr;
}

/* The group of key in a run of rows in order: the last run's, or new. */
static struct group *
ordered_group(struct scan *s, const char *key, size_t len)
{
	struct groups *g = s->groups;
	size_t i, k = keys_len(key, len);

	if (g->n == 0 || keys_len(g->v[s->block].key, g->v[s->block].len) !=
	    k || memcmp(g->v[s->block].key, key, k) != 0)
		s->block = g->n;
	for (i = s->block; i < g->n; i++)
		if (g->v[i].len == len && memcmp(g->v[i].key, key, len) == 0)
			return &g->v[i];
	return group_append(g, key, len);
}

static void
scan_row(struct scan *s, const struct store_val *k, const struct store_val *v)
{
	const char *dims[DIM_END];
	struct counts c;
	int64_t hour;

	if (counter_key_parse(k->data, k->len, &hour, dims) == -1 ||
	    counter_get(v->data, v->len, &c) == -1) {
		s->bad++;
		return;
	}
	if (!row_wanted(s->q, dims))
		return;
	/* Only amounts make a currency: they are never added up. */
	if (*dims[DIM_CURRENCY] && (c.revenue != 0 || c.payout != 0) &&
	    (s->q->event == NULL || strcmp(dims[DIM_EVENT], s->q->event) ==
	    0) && !strlist_has(s->currencies, dims[DIM_CURRENCY]))
		strlist_add(s->currencies, dims[DIM_CURRENCY]);
	if (clock_set(&s->clock, hour, s->q->tz != NULL) == -1)
		s->bad_zone = 1;
	group_key(&s->key, s->q, &s->clock, dims);
	tally_add(&(s->ordered ? ordered_group(s, s->key.data, s->key.len) :
	    group_find(s->groups, s->key.data, s->key.len))->t, s->q,
	    dims[DIM_EVENT], &c);
}

static int64_t
key_hour(const struct store_val *k)
{
	const unsigned char *p = k->data;

	if (k->len < 4)
		return -1;
	return (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static int
scan_shard(struct scan *s, struct shard *sh, int db)
{
	unsigned char from[4];
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k, v;
	int rc;

	from[0] = (unsigned char)(s->first >> 24);
	from[1] = (unsigned char)(s->first >> 16);
	from[2] = (unsigned char)(s->first >> 8);
	from[3] = (unsigned char)s->first;
	if (store_begin(sh->store, 0, &txn) != STORE_OK)
		return -1;
	if (store_cursor_open(txn, db, &c) != STORE_OK) {
		store_abort(txn);
		return -1;
	}
	s->block = s->groups->n;
	for (rc = store_cursor_seek(c, from, sizeof(from), &k, &v);
	    rc == STORE_OK; rc = store_cursor_next(c, &k, &v)) {
		if (key_hour(&k) >= s->end)
			break;
		scan_row(s, &k, &v);
	}
	store_cursor_close(c);
	store_abort(txn);
	return rc == STORE_ERROR ? -1 : 0;
}

static void
tally_merge(struct tally *to, const struct tally *from)
{
	int c;

	for (c = 0; c <= COL_EVENTS; c++)
		to->n[c] += from->n[c];
	to->revenue += from->revenue;
	to->payout += from->payout;
}

/*
 * In groups sorted by key, add up those of equal keys (from several
 * shards), or of equal keys but for the currency when it is no key.
 */
static void
merge_adjacent(struct groups *g, int ignore_currency)
{
	struct group *to = NULL, *gr;
	size_t i, n = 0, k;

	for (i = 0; i < g->n; i++) {
		gr = &g->v[i];
		k = ignore_currency ? keys_len(gr->key, gr->len) : gr->len;
		if (to != NULL && (ignore_currency ? keys_len(to->key,
		    to->len) : to->len) == k && memcmp(to->key, gr->key,
		    k) == 0) {
			tally_merge(&to->t, &gr->t);
			free(gr->key);
			continue;
		}
		g->v[n] = *gr;
		to = &g->v[n++];
	}
	g->n = n;
}

static int
by_key(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);

	return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Round num / den (den > 0) to hundredths, half away from zero. */
static amount_t
hundredths(amount_t num, amount_t den)
{
	amount_t q;

	if (den <= 0)
		return 0;
	q = ((num < 0 ? -num : num) * 200 + den) / (2 * den);
	return (num < 0 ? -q : q) * (COUNTER_SCALE / 100);
}

static void
group_values(const struct group *g, char (*num)[48])
{
	const struct tally *t = &g->t;
	int c;

	for (c = 0; c <= COL_EVENTS; c++)
		if (c != COL_DUPLICATE && c != COL_CONVERSIONS)
			int_text(num[c], t->n[c]);
	int_text(num[COL_DUPLICATE], t->n[COL_CLICKS] - t->n[COL_UNIQUE]);
	int_text(num[COL_CONVERSIONS], t->n[COL_APPROVED] +
	    t->n[COL_PENDING] + t->n[COL_REJECTED]);
	amount_format(num[COL_REVENUE], sizeof(num[0]), t->revenue, 2);
	amount_format(num[COL_PAYOUT], sizeof(num[0]), t->payout, 2);
	amount_format(num[COL_PROFIT], sizeof(num[0]), t->revenue - t->payout,
	    2);
	amount_format(num[COL_CR], sizeof(num[0]), hundredths(
	    (amount_t)t->n[COL_APPROVED] * 100, t->n[COL_UNIQUE]), 2);
	amount_format(num[COL_EPC], sizeof(num[0]), hundredths(t->payout,
	    (amount_t)t->n[COL_CLICKS] * COUNTER_SCALE), 2);
}

/*
 * The groups in the first n slots, sorted by their keys: from the hash
 * table, compacted; in order from one shard, only within each run of
 * equal keys (their currencies); from several, merged by a sort.
 */
static void
sort_groups(struct groups *g, int ordered, size_t nshards)
{
	size_t i, j, n = 0;

	if (!ordered) {
		for (i = 0; i < g->cap; i++)
			if (g->v[i].key != NULL)
				g->v[n++] = g->v[i];
		g->n = n;
	}
	if (g->n == 0)
		return;
	if (!ordered || nshards > 1) {
		qsort(g->v, g->n, sizeof(*g->v), by_key);
		return;
	}
	for (i = 0; i < g->n; i = j) {
		for (j = i + 1; j < g->n && keys_len(g->v[j].key,
		    g->v[j].len) == keys_len(g->v[i].key, g->v[i].len) &&
		    memcmp(g->v[j].key, g->v[i].key, keys_len(g->v[i].key,
		    g->v[i].len)) == 0; j++)
			;
		if (j - i > 1)
			qsort(g->v + i, j - i, sizeof(*g->v), by_key);
	}
}

static int
print_groups(struct groups *g, struct sink *s, const char *const *names,
    int nkeys)
{
	const char *values[KEY_END + 1 + COL_END];
	int numeric[KEY_END + 1 + COL_END] = { 0 };
	char num[COL_END][48];
	const char *p;
	size_t i;
	int k, c, rc = TABLE_OK;

	for (c = 0; c < COL_END; c++)
		numeric[nkeys + c] = 1;
	for (i = 0; i < g->n && rc == TABLE_OK; i++) {
		for (k = 0, p = g->v[i].key; k < nkeys; k++, p += strlen(p) + 1)
			values[k] = p;
		group_values(&g->v[i], num);
		for (c = 0; c < COL_END; c++)
			values[nkeys + c] = num[c];
		rc = sink_row(s, names, values, numeric);
	}
	return rc;
}

/* Filter values cut as the counters' key fields are. */
static void
cut_list(struct strlist *to, const struct strlist *from)
{
	char *v;
	size_t i;

	memset(to, 0, sizeof(*to));
	for (i = 0; i < from->n; i++) {
		v = xstrdup(from->v[i]);
		counter_cut(v);
		strlist_add(to, v);
		free(v);
	}
}

static void
cut_filters(struct query *q, const struct query *q0, char **event)
{
	cut_list(&q->offers, &q0->offers);
	cut_list(&q->publishers, &q0->publishers);
	cut_list(&q->sub_ids, &q0->sub_ids);
	*event = q0->event ? xstrdup(q0->event) : NULL;
	if (*event)
		counter_cut(*event);
	q->event = *event;
}

static void
free_filters(struct query *q, char *event)
{
	strlist_free(&q->offers);
	strlist_free(&q->publishers);
	strlist_free(&q->sub_ids);
	free(event);
}

int
summary(const struct query *q0, struct shard *sh, size_t n, struct sink *s)
{
	struct query q = *q0;
	char *event;
	struct groups groups = { 0, 0, 0 };
	struct strlist currencies = { 0 };
	struct scan sc = { &q, &groups, &currencies, { -1, "", "" },
	    { 0 }, 0, 0, 0, 0, 0, 0 };
	const char *names[KEY_END + 1 + COL_END];
	int i, nkeys, rc = TABLE_OK, db = pick_db(&q);
	size_t j;

	cut_filters(&q, q0, &event);
	sc.first = q.since == INT64_MIN ? 0 : q.since / HOUR_MS;
	sc.end = q.until == INT64_MAX ? INT64_MAX :
	    (q.until + HOUR_MS - 1) / HOUR_MS;
	buf_init(&sc.key);
	sc.ordered = in_key_order(&q);
	for (j = 0; j < n && rc == TABLE_OK; j++)
		if (scan_shard(&sc, &sh[j], db) == -1) {
			warnx("%s: cannot read the counters", sh[j].dir);
			rc = TABLE_ERROR;
		}
	sort_groups(&groups, sc.ordered, n);
	for (i = 0; i < q.nby && q.by[i] != KEY_CURRENCY; i++)
		;
	nkeys = q.nby;
	if (i == q.nby && currencies.n > 1)
		q.by[nkeys++] = KEY_CURRENCY;	/* never added up */
	merge_adjacent(&groups, i == q.nby && currencies.n <= 1);
	for (i = 0; i < nkeys; i++)
		names[i] = key_names[q.by[i]];
	for (i = 0; i < COL_END; i++)
		names[nkeys + i] = col_names[i];
	if (sc.bad > 0) {
		warnx("skipped %llu counter rows that could not be decoded",
		    (unsigned long long)sc.bad);
		rc = TABLE_ERROR;
	}
	if (sc.bad_zone) {
		warnx("--tz: %s is not a whole number of hours from UTC in "
		    "some of the hours asked for", q.tz);
		rc = TABLE_ERROR;
	}
	if (rc == TABLE_OK && (rc = sink_init(s, &q, names, (size_t)nkeys +
	    COL_END)) == 0 && q.header && groups.n > 0)
		rc = sink_header(s, names);
	if (rc == TABLE_OK)
		rc = print_groups(&groups, s, names, nkeys);
	groups_free(&groups);
	strlist_free(&currencies);
	buf_free(&sc.key);
	free_filters(&q, event);
	return rc;
}
