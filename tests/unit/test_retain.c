/*
 * Unit test of common/retain.c on a real LMDB environment in a temporary
 * directory: retain_walk removes, from the first key of a database whose
 * keys start with their time, the records made before the cutoff, at
 * most a slice of them per transaction, calling drop for each before it
 * goes, and removes a key that is not of the database's form; and
 * retain_step runs a kind in slices until it has caught up, keeps what
 * is within the retention, keeps a held record until its own time, and
 * shows all of it in the matcher's metrics.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "daemon.h"
#include "metrics.h"
#include "retain.h"
#include "store.h"
#include "util.h"
#include "wire.h"

enum { DB_RECS, DB_INDEX, DB_COUNT };
static const char *const dbs[DB_COUNT] = { "records", "index" };

#define MAP_SIZE	(16 << 20)
#define KEYLEN		12		/* time (ms), then a sequence number */
#define DAY_MS		(86400LL * 1000)
#define RECHECK_US	1100000		/* past retain.c's RETAIN_CHECK_MS */

static int db_recs = DB_RECS;

static void
be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
make_key(unsigned char *k, int64_t t, uint32_t seq)
{
	wire_be64_put(k, (uint64_t)t);
	be32(k + 8, seq);
}

static int64_t
time_of(const struct store_val *k)
{
	if (k->len != KEYLEN)
		return INT64_MIN;
	return (int64_t)wire_be64_get(k->data);
}

static struct store *
open_store(const char *dir, const char *name)
{
	char path[160];
	struct store *st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	st = store_open(path, MAP_SIZE, dbs, DB_COUNT, 0);
	CHECK(st != NULL);
	return st;
}

/*
 * n records at times t0, t0 + 1, ..., numbered from seq; with index, an
 * entry seq -> key in DB_INDEX for each.
 */
static void
put_records(struct store *st, int64_t t0, uint32_t n, uint32_t seq,
    int index)
{
	struct store_txn *t;
	unsigned char k[KEYLEN];
	uint32_t i;
	int ok = 1;

	CHECK(store_begin(st, 1, &t) == STORE_OK);
	for (i = 0; i < n; i++) {
		make_key(k, t0 + (int64_t)i, seq + i);
		ok &= store_put(t, DB_RECS, k, KEYLEN, "v", 1) == STORE_OK;
		if (index)
			ok &= store_put(t, DB_INDEX, k + 8, 4, k, KEYLEN) ==
			    STORE_OK;
	}
	CHECK(ok);
	CHECK(store_commit(t, 0) == STORE_OK);
}

static uint64_t
count(struct store *st, int db)
{
	struct store_txn *t;
	uint64_t n;

	if (store_begin(st, 0, &t) != STORE_OK)
		return UINT64_MAX;
	n = store_count(t, db);
	store_abort(t);
	return n;
}

/* The time of the first key of DB_RECS, -1 when it is empty. */
static int64_t
first_time(struct store *st)
{
	struct store_txn *t;
	struct store_cursor *c;
	struct store_val k;
	int64_t when = -1;

	if (store_begin(st, 0, &t) != STORE_OK)
		return -2;
	if (store_cursor_open(t, DB_RECS, &c) == STORE_OK) {
		if (store_cursor_seek(c, NULL, 0, &k, NULL) == STORE_OK)
			when = time_of(&k);
		store_cursor_close(c);
	}
	store_abort(t);
	return when;
}

struct drops {
	int	calls;
	int	bad;	/* called for a record already gone or unindexed */
};

/* Removes the record's index entry, checking the record is still there. */
static int
drop_index(void *arg, struct store_txn *t, const struct store_val *k,
    const struct store_val *v)
{
	struct drops *d = arg;
	unsigned char key[KEYLEN];
	struct store_val iv;

	(void)v;
	d->calls++;
	if (k->len != KEYLEN) {
		d->bad++;
		return 0;
	}
	memcpy(key, k->data, KEYLEN);
	if (store_get(t, DB_RECS, key, KEYLEN, NULL) != STORE_OK ||
	    store_get(t, DB_INDEX, key + 8, 4, &iv) != STORE_OK ||
	    iv.len != KEYLEN || memcmp(iv.data, key, KEYLEN) != 0 ||
	    store_del(t, DB_INDEX, key + 8, 4) != STORE_OK)
		d->bad++;
	return 0;
}

/* One slice, before 3001 and of at most 1000, in its own transaction. */
static int
walk_once(struct store *st, struct retain_slice *s, struct drops *d)
{
	struct store_txn *t;
	int rc;

	s->before = 3001;
	s->max = 1000;
	s->looked = s->removed = 0;
	s->oldest_ms = INT64_MAX;
	if (store_begin(st, 1, &t) != STORE_OK)
		return -2;
	rc = retain_walk(t, DB_RECS, s, time_of, d ? drop_index : NULL, d);
	if (store_commit(t, 0) != STORE_OK)
		return -2;
	return rc;
}

/* Records at 1..5000, cutoff 3001, slices of 1000. */
static void
test_walk(const char *dir)
{
	struct store *st;
	struct retain_slice s;
	struct drops d = { 0, 0 };
	int calls, total;

	if ((st = open_store(dir, "walk")) == NULL)
		return;
	put_records(st, 1, 5000, 1, 1);
	CHECK(walk_once(st, &s, &d) == 0);
	CHECK(s.looked == 1000 && s.removed == 1000);
	CHECK(s.oldest_ms == 1001);
	CHECK(d.calls == 1000 && d.bad == 0);
	CHECK(count(st, DB_RECS) == 4000 && count(st, DB_INDEX) == 4000);
	CHECK(first_time(st) == 1001);
	for (calls = 1, total = 1000; s.looked == s.max && calls < 10;
	    calls++) {
		CHECK(walk_once(st, &s, &d) == 0);
		CHECK(s.removed == s.looked);
		total += s.removed;
		CHECK(d.calls == total);
		CHECK(count(st, DB_RECS) == (uint64_t)(5000 - total));
		CHECK(count(st, DB_INDEX) == (uint64_t)(5000 - total));
	}
	CHECK(s.looked < s.max);
	CHECK(calls <= 4);
	CHECK(total == 3000 && d.calls == 3000 && d.bad == 0);
	CHECK(count(st, DB_RECS) == 2000 && count(st, DB_INDEX) == 2000);
	CHECK(first_time(st) == 3001);
	store_close(st);
}

/* Keys of another form (time_of: INT64_MIN) go, with no drop. */
static void
test_walk_odd(const char *dir)
{
	static const unsigned char odd_first[2] = { 0, 0 };
	struct store *st;
	struct store_txn *t;
	struct retain_slice s = { 2000, 1000, 0, 0, 0, INT64_MAX };
	unsigned char k[KEYLEN + 1];

	if ((st = open_store(dir, "odd")) == NULL)
		return;
	put_records(st, 1000, 1, 1, 0);		/* 1000 */
	put_records(st, 3000, 1, 2, 0);		/* 3000 */
	CHECK(store_begin(st, 1, &t) == STORE_OK);
	CHECK(store_put(t, DB_RECS, odd_first, 2, "v", 1) == STORE_OK);
	make_key(k, 1500, 3);			/* between, 13 bytes long */
	k[KEYLEN] = 0;
	CHECK(store_put(t, DB_RECS, k, KEYLEN + 1, "v", 1) == STORE_OK);
	CHECK(store_commit(t, 0) == STORE_OK);
	CHECK(count(st, DB_RECS) == 4);

	CHECK(store_begin(st, 1, &t) == STORE_OK);
	CHECK(retain_walk(t, DB_RECS, &s, time_of, NULL, NULL) == 0);
	CHECK(store_commit(t, 0) == STORE_OK);
	CHECK(s.looked == 3 && s.removed == 3);
	CHECK(count(st, DB_RECS) == 1);
	CHECK(first_time(st) == 3000);
	store_close(st);
}

static int
prune_walk(void *arg, struct store_txn *t, struct retain_slice *s)
{
	const int *db = arg;

	return retain_walk(t, *db, s, time_of, NULL, NULL);
}

/* One series of the matcher's metrics for kind; INT64_MIN if missing. */
static int64_t
metric_value(const char *name, const char *kind)
{
	char series[160];
	struct buf b;
	const char *p;
	int64_t v = INT64_MIN;

	snprintf(series, sizeof(series), "\npostline_matcher_%s{kind=\"%s\"} ",
	    name, kind);
	buf_init(&b);
	metrics_render(&b);
	buf_addc(&b, '\0');
	if ((p = strstr(b.data, series)) != NULL)
		v = strtoll(p + strlen(series), NULL, 10);
	buf_free(&b);
	return v;
}

static int64_t
records(const char *kind)
{
	return metric_value("records", kind);
}

static int64_t
removed(const char *kind)
{
	return metric_value("retention_removed_total", kind);
}

static int64_t
behind_s(const char *kind)
{
	return metric_value("retention_behind_seconds", kind);
}

/* The first ten slices of 10,500 records ten days old, a day kept. */
static void
step_behind(struct retain *r, int64_t now)
{
	int i;

	CHECK(retain_step(r, now) == 1);
	CHECK(records("clicks") == 9500);
	CHECK(removed("clicks") == 1000);
	/* 9 days, less the 1 s that the first 1000 records spanned. */
	CHECK(behind_s("clicks") > 9 * 86400 - 3);
	CHECK(behind_s("clicks") <= 9 * 86400);
	for (i = 2; i <= 10; i++) {
		CHECK(retain_step(r, now) == 1);
		CHECK(records("clicks") == 10500 - 1000 * i);
		CHECK(behind_s("clicks") > 0);
	}
}

static void
test_step(const char *dir, struct daemon *d)
{
	const struct retain_kind kinds[] = {
		{ "clicks", RETENTION_CLICKS, DB_RECS, prune_walk, &db_recs, 0 },
	};
	struct store *st;
	struct retain *r;
	int64_t now = now_ms(), t0;
	int calls, rc;

	if ((st = open_store(dir, "step")) == NULL)
		return;
	d->conf->retention_ms[RETENTION_CLICKS] = DAY_MS;
	put_records(st, now - 10 * DAY_MS, 10500, 0, 0);
	r = retain_new(d, st, kinds, 1);
	step_behind(r, now);
	for (calls = 10, rc = 1; rc == 1 && calls < 12; calls++)
		rc = retain_step(r, now);
	CHECK(rc == 0);
	CHECK(count(st, DB_RECS) == 0);
	CHECK(records("clicks") == 0);
	CHECK(removed("clicks") == 10500);
	CHECK(behind_s("clicks") == 0);

	/*
	 * Records made now, looked at once a day has all but passed (the
	 * latest "now" for which they are still within the retention).
	 */
	t0 = now_ms();
	put_records(st, t0, 100, 20000, 0);
	usleep(RECHECK_US);
	CHECK(retain_step(r, t0 + DAY_MS) == 0);
	CHECK(count(st, DB_RECS) == 100);
	CHECK(records("clicks") == 100);	/* it did look */
	CHECK(removed("clicks") == 10500);
	CHECK(behind_s("clicks") == 0);
	retain_free(r);
	store_close(st);
}

/* Retention -1: a record goes at its own time, not the conf's. */
static void
test_held(const char *dir, struct daemon *d)
{
	const struct retain_kind kinds[] = {
		{ "held", -1, DB_RECS, prune_walk, &db_recs, 0 },
	};
	struct store *st;
	struct retain *r;
	int64_t now = now_ms();

	if ((st = open_store(dir, "held")) == NULL)
		return;
	d->conf->retention_ms[RETENTION_CLICKS] = DAY_MS;
	d->conf->retention_ms[RETENTION_LOGS] = DAY_MS;
	put_records(st, now - 1000, 10, 0, 0);
	put_records(st, now + 60000, 10, 10, 0);
	r = retain_new(d, st, kinds, 1);
	CHECK(retain_step(r, now) == 0);
	CHECK(count(st, DB_RECS) == 10);
	CHECK(first_time(st) == now + 60000);
	CHECK(records("held") == 10);
	CHECK(removed("held") == 10);
	CHECK(behind_s("held") == 0);
	retain_free(r);
	store_close(st);
}

int
main(void)
{
	char dir[] = "/tmp/postline-retain-XXXXXX", cmd[96];
	struct daemon d;
	struct conf *conf;

	if (mkdtemp(dir) == NULL || (conf = calloc(1, sizeof(*conf))) ==
	    NULL) {
		CHECK(!"mkdtemp or calloc");
		return check_done("retain");
	}
	/*
	 * retain.c reads nothing of the conf but retention_ms: the rest is
	 * bytes that read as years, so that a kind -1 read past the array
	 * (the conf's field before it) would keep its records.
	 */
	memset(conf, 1, sizeof(*conf));
	memset(&d, 0, sizeof(d));
	d.name = "matcher";
	d.conf = conf;
	test_walk(dir);
	test_walk_odd(dir);
	test_step(dir, &d);
	test_held(dir, &d);
	free(conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done("retain");
}
