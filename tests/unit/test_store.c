/*
 * Unit test of common/store.c on a real LMDB environment in a temporary
 * directory: what a write transaction puts is seen after its commit and
 * forgotten after an abort, a reader keeps the snapshot it began with,
 * cursors walk keys in order, a store whose map is full says so
 * (STORE_FULL) and goes on working once the failed transaction is
 * aborted, what was committed is there again after a reopen, the map's
 * use (store_usage) counts the free pages LMDB will reuse, and a
 * data.mdb cut short is refused when opened (not mapped, to die with
 * SIGBUS at the first read past its end).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "store.h"
#include "util.h"

enum { DB_A, DB_B, DB_COUNT };
static const char *const dbs[DB_COUNT] = { "a", "b" };

#define MAP_SMALL	(256 << 10)
#define MAP_LARGE	(16 << 20)
#define FILL_VALLEN	1000

static int
put_str(struct store_txn *t, int db, const char *k, const char *v)
{
	return store_put(t, db, k, strlen(k), v, strlen(v));
}

/* Whether k holds exactly want in t. */
static int
has(struct store_txn *t, int db, const char *k, const char *want)
{
	struct store_val v;

	if (store_get(t, db, k, strlen(k), &v) != STORE_OK)
		return 0;
	return v.len == strlen(want) && memcmp(v.data, want, v.len) == 0;
}

static int
missing(struct store_txn *t, int db, const char *k)
{
	struct store_val v;

	return store_get(t, db, k, strlen(k), &v) == STORE_NOTFOUND;
}

/* A directory that cannot be a store, and a read-only missing one. */
static void
test_open_fail(const char *dir)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/plain-file", dir);
	if ((f = fopen(path, "w")) != NULL)
		fclose(f);
	CHECK(f != NULL);
	CHECK(store_open(path, MAP_LARGE, dbs, DB_COUNT, 0) == NULL);
	snprintf(path, sizeof(path), "%s/nowhere", dir);
	CHECK(store_open(path, MAP_LARGE, dbs, DB_COUNT, 1) == NULL);
}

static void
test_put_get(struct store *st)
{
	struct store_txn *t, *old;

	CHECK(store_begin(st, 1, &t) == STORE_OK);
	CHECK(put_str(t, DB_A, "k1", "one") == STORE_OK);
	CHECK(put_str(t, DB_A, "k2", "two") == STORE_OK);
	CHECK(put_str(t, DB_B, "k1", "b-one") == STORE_OK);
	CHECK(put_str(t, DB_A, "k2", "TWO") == STORE_OK);	/* replaces */
	CHECK(has(t, DB_A, "k2", "TWO"));	/* a writer sees its own */
	CHECK(store_del(t, DB_A, "none", 4) == STORE_NOTFOUND);
	CHECK(store_commit(t, 0) == STORE_OK);

	/* Each database has its own keys. */
	CHECK(store_begin(st, 0, &t) == STORE_OK);
	CHECK(has(t, DB_A, "k1", "one"));
	CHECK(has(t, DB_A, "k2", "TWO"));
	CHECK(has(t, DB_B, "k1", "b-one"));
	CHECK(missing(t, DB_B, "k2"));
	CHECK(missing(t, DB_A, "k3"));
	CHECK(store_count(t, DB_A) == 2 && store_count(t, DB_B) == 1);
	store_abort(t);

	/* An aborted write leaves nothing behind, a delete included. */
	CHECK(store_begin(st, 1, &t) == STORE_OK);
	CHECK(put_str(t, DB_A, "k3", "three") == STORE_OK);
	CHECK(store_del(t, DB_A, "k1", 2) == STORE_OK);
	CHECK(missing(t, DB_A, "k1"));
	store_abort(t);
	CHECK(store_begin(st, 0, &t) == STORE_OK);
	CHECK(missing(t, DB_A, "k3"));
	CHECK(has(t, DB_A, "k1", "one"));
	store_abort(t);

	/* A reader keeps its snapshot while a writer commits; durably. */
	CHECK(store_begin(st, 0, &old) == STORE_OK);
	CHECK(store_begin(st, 1, &t) == STORE_OK);
	CHECK(store_del(t, DB_A, "k1", 2) == STORE_OK);
	CHECK(put_str(t, DB_A, "k4", "four") == STORE_OK);
	CHECK(store_commit(t, 1) == STORE_OK);
	CHECK(has(old, DB_A, "k1", "one") && missing(old, DB_A, "k4"));
	store_abort(old);
	CHECK(store_begin(st, 0, &t) == STORE_OK);
	CHECK(missing(t, DB_A, "k1") && has(t, DB_A, "k4", "four"));
	store_abort(t);
	store_abort(NULL);
}

static uint32_t
key_of(const struct store_val *k)
{
	const unsigned char *p = k->data;

	if (k->len != 4)
		return UINT32_MAX;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Keys 10, 20, ... 50 appended to DB_B (which holds "k1"). */
static void
append_keys(struct store *st)
{
	struct store_txn *t;
	unsigned char k[4];
	uint32_t i;

	CHECK(store_begin(st, 1, &t) == STORE_OK);
	CHECK(store_del(t, DB_B, "k1", 2) == STORE_OK);
	for (i = 1; i <= 5; i++) {
		be32(k, i * 10);
		CHECK(store_append(t, DB_B, k, 4, &i, sizeof(i)) == STORE_OK);
	}
	/* Out of order is refused rather than stored in the wrong place. */
	be32(k, 15);
	CHECK(store_append(t, DB_B, k, 4, "x", 1) == STORE_ERROR);
	CHECK(store_commit(t, 0) == STORE_OK);
}

static void
test_cursor(struct store *st)
{
	struct store_txn *t;
	struct store_cursor *c;
	struct store_val k, v;
	unsigned char key[4];

	append_keys(st);
	CHECK(store_begin(st, 1, &t) == STORE_OK);
	CHECK(store_count(t, DB_B) == 5);
	CHECK(store_cursor_open(t, DB_B, &c) == STORE_OK);
	CHECK(store_cursor_seek(c, NULL, 0, &k, &v) == STORE_OK);
	CHECK(key_of(&k) == 10 && v.len == sizeof(uint32_t));
	be32(key, 25);		/* the first key >= 25 */
	CHECK(store_cursor_seek(c, key, 4, &k, NULL) == STORE_OK);
	CHECK(key_of(&k) == 30);
	CHECK(store_cursor_next(c, &k, NULL) == STORE_OK && key_of(&k) == 40);
	CHECK(store_cursor_prev(c, &k, NULL) == STORE_OK && key_of(&k) == 30);
	CHECK(store_cursor_del(c) == STORE_OK);
	CHECK(store_cursor_next(c, &k, NULL) == STORE_OK && key_of(&k) == 40);
	CHECK(store_cursor_last(c, &k, NULL) == STORE_OK && key_of(&k) == 50);
	CHECK(store_cursor_next(c, &k, NULL) == STORE_NOTFOUND);
	be32(key, 51);
	CHECK(store_cursor_seek(c, key, 4, &k, NULL) == STORE_NOTFOUND);
	/* An exact lookup: found after, before and at the cursor. */
	be32(key, 20);
	CHECK(store_cursor_find(c, key, 4, &v) == STORE_OK &&
	    v.len == sizeof(uint32_t));
	be32(key, 50);
	CHECK(store_cursor_find(c, key, 4, &v) == STORE_OK);
	be32(key, 10);
	CHECK(store_cursor_find(c, key, 4, &v) == STORE_OK);
	CHECK(store_cursor_next(c, &k, NULL) == STORE_OK && key_of(&k) == 20);
	be32(key, 30);		/* deleted above */
	CHECK(store_cursor_find(c, key, 4, &v) == STORE_NOTFOUND);
	store_cursor_close(c);
	store_cursor_close(NULL);
	CHECK(store_commit(t, 0) == STORE_OK);

	CHECK(store_begin(st, 0, &t) == STORE_OK);
	CHECK(store_count(t, DB_B) == 4);
	be32(key, 30);
	CHECK(store_get(t, DB_B, key, 4, &v) == STORE_NOTFOUND);
	store_abort(t);
}

/*
 * Commit transactions of eight values until the map is full; *n is how
 * many values were committed.  The failed transaction is aborted.
 */
static int
fill(struct store *st, uint32_t *n)
{
	static unsigned char val[FILL_VALLEN];
	struct store_txn *t;
	unsigned char k[4];
	int i, rc;

	for (*n = 0; *n < 100000;) {
		if ((rc = store_begin(st, 1, &t)) != STORE_OK)
			return rc;
		for (i = 0; i < 8; i++) {
			be32(k, *n + i);
			memset(val, 'a' + (*n + i) % 26, sizeof(val));
			if ((rc = store_put(t, DB_A, k, 4, val,
			    sizeof(val))) != STORE_OK) {
				store_abort(t);
				return rc;
			}
		}
		if ((rc = store_commit(t, 0)) != STORE_OK)
			return rc;
		*n += 8;
	}
	return STORE_OK;
}

/* Whether values 0 to n - 1 are all there, and nothing after them. */
static int
filled(struct store *st, uint32_t n)
{
	struct store_txn *t;
	struct store_val v;
	unsigned char k[4];
	uint32_t i;
	int ok = 1;

	if (store_begin(st, 0, &t) != STORE_OK)
		return 0;
	for (i = 0; i < n && ok; i++) {
		be32(k, i);
		ok = store_get(t, DB_A, k, 4, &v) == STORE_OK &&
		    v.len == FILL_VALLEN &&
		    ((const unsigned char *)v.data)[FILL_VALLEN - 1] ==
		    (unsigned char)('a' + i % 26);
	}
	be32(k, n);
	if (store_get(t, DB_A, k, 4, &v) != STORE_NOTFOUND)
		ok = 0;
	store_abort(t);
	return ok;
}

/*
 * One more transaction on a full map: its puts fail (within 64) and it
 * is aborted.  The status of the first that failed.
 */
static int
overfill(struct store *st, uint32_t n)
{
	static unsigned char val[FILL_VALLEN];
	struct store_txn *t;
	unsigned char k[4];
	uint32_t i;
	int rc = STORE_OK;

	if (store_begin(st, 1, &t) != STORE_OK)
		return STORE_ERROR;
	for (i = n; i < n + 64 && rc == STORE_OK; i++) {
		be32(k, i);
		rc = store_put(t, DB_A, k, 4, val, sizeof(val));
	}
	store_abort(t);
	return rc;
}

/*
 * A full map: a put fails, reads still work after its transaction is
 * aborted, and a delete makes room for a write.
 */
static void
test_full(const char *dir)
{
	char path[160];
	struct store *st;
	struct store_txn *t;
	unsigned char k[4];
	uint32_t n = 0, i;

	snprintf(path, sizeof(path), "%s/small", dir);
	st = store_open(path, MAP_SMALL, dbs, DB_COUNT, 0);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(fill(st, &n) == STORE_FULL);
	CHECK(n > 0 && n < MAP_SMALL / FILL_VALLEN);
	CHECK(filled(st, n));
	CHECK(overfill(st, n) == STORE_FULL);
	CHECK(filled(st, n));

	CHECK(store_begin(st, 1, &t) == STORE_OK);
	for (i = 0; i < 16; i++) {
		be32(k, i);
		CHECK(store_del(t, DB_A, k, 4) == STORE_OK);
	}
	CHECK(store_commit(t, 0) == STORE_OK);
	CHECK(store_begin(st, 1, &t) == STORE_OK);
	CHECK(put_str(t, DB_B, "after", "full") == STORE_OK);
	CHECK(store_commit(t, 0) == STORE_OK);
	store_sync(st);

	CHECK(store_begin(st, 0, &t) == STORE_OK);
	CHECK(has(t, DB_B, "after", "full"));
	CHECK(store_count(t, DB_A) == n - 16);
	be32(k, 0);
	CHECK(store_get(t, DB_A, k, 4, NULL) == STORE_NOTFOUND);
	be32(k, n - 1);
	CHECK(store_get(t, DB_A, k, 4, NULL) == STORE_OK);
	store_abort(t);
	store_close(st);
}

/* What was committed is there after a reopen, read-only too. */
static void
test_reopen(const char *dir)
{
	struct store *st;
	struct store_txn *t;

	st = store_open(dir, MAP_LARGE, dbs, DB_COUNT, 1);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(store_begin(st, 1, &t) == STORE_ERROR);	/* read-only */
	CHECK(store_begin(st, 0, &t) == STORE_OK);
	CHECK(has(t, DB_A, "k2", "TWO") && has(t, DB_A, "k4", "four"));
	CHECK(missing(t, DB_A, "k1") && missing(t, DB_A, "k3"));
	CHECK(store_count(t, DB_B) == 4);
	store_abort(t);
	store_sync(st);		/* nothing to do */
	store_close(st);

	st = store_open(dir, MAP_LARGE, dbs, DB_COUNT, 0);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(store_begin(st, 0, &t) == STORE_OK);
	CHECK(has(t, DB_A, "k4", "four"));
	store_abort(t);
	store_close(st);
}

/* Put n values of FILL_VALLEN bytes, or delete them, in one commit. */
static void
put_or_delete(struct store *st, int n, int del)
{
	static char val[FILL_VALLEN];
	struct store_txn *t;
	char key[16];
	int i;

	CHECK(store_begin(st, 1, &t) == STORE_OK);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "u%06d", i);
		CHECK(del ? store_del(t, DB_B, key, strlen(key)) == STORE_OK :
		    store_put(t, DB_B, key, strlen(key), val, sizeof(val)) ==
		    STORE_OK);
	}
	CHECK(store_commit(t, 0) == STORE_OK);
}

/*
 * The map's use: its size as opened; the bytes in use grow with what is
 * put, fall when it is deleted (its pages go to the freelist) and grow
 * again by less than the first time when it is put back (the free pages
 * are reused).
 */
static void
test_usage(const char *dir)
{
	uint64_t empty, full, emptied, refilled, size;
	struct store *st;
	char path[160];

	snprintf(path, sizeof(path), "%s/usage", dir);
	st = store_open(path, MAP_LARGE, dbs, DB_COUNT, 0);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(store_usage(st, &empty, &size) == 0 && size == MAP_LARGE);
	put_or_delete(st, 2000, 0);
	CHECK(store_usage(st, &full, &size) == 0);
	CHECK(full >= empty + 2000 * FILL_VALLEN);
	put_or_delete(st, 2000, 1);
	put_or_delete(st, 0, 0);	/* a later commit reuses the freed pages */
	CHECK(store_usage(st, &emptied, &size) == 0);
	CHECK(emptied < full / 4);
	put_or_delete(st, 2000, 0);
	CHECK(store_usage(st, &refilled, &size) == 0);
	CHECK(refilled <= full + full / 10);
	store_close(st);
}

/* The filled store of test_full, its file cut to half: refused. */
static void
test_cut_short(const char *dir)
{
	char path[160], file[192];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/small", dir);
	snprintf(file, sizeof(file), "%s/data.mdb", path);
	CHECK(stat(file, &sb) == 0 && sb.st_size > 8 * 4096);
	CHECK(truncate(file, sb.st_size / 2) == 0);
	CHECK(store_open(path, MAP_SMALL, dbs, DB_COUNT, 1) == NULL);
	CHECK(store_open(path, MAP_SMALL, dbs, DB_COUNT, 0) == NULL);
}

int
main(void)
{
	char dir[] = "/tmp/postline-store-XXXXXX", path[64], cmd[96];
	struct store *st;

	if (mkdtemp(dir) == NULL) {
		CHECK(!"mkdtemp");
		return check_done("store");
	}
	test_open_fail(dir);
	snprintf(path, sizeof(path), "%s/main", dir);
	st = store_open(path, MAP_LARGE, dbs, DB_COUNT, 0);
	CHECK(st != NULL);
	if (st != NULL) {
		test_put_get(st);
		test_cursor(st);
		store_sync(st);
		store_close(st);
		test_reopen(path);
	}
	test_usage(dir);
	test_full(dir);
	test_cut_short(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done("store");
}
