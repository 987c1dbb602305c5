/*
 * Reading the firers' attempt logs and schedules (common/logdb.h)
 * through the store, and merging them in time order.
 *
 * The logs are read in batches, each in its own short read transaction
 * that ends before anything is printed: a reader that waits on a slow
 * pipe must not pin the pages the firer frees meanwhile.  A batch ends
 * after BATCH_ROWS matching rows or BATCH_SCAN rows looked at, and the
 * next one seeks past the last key read.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logdb.h"
#include "logview.h"
#include "store.h"

enum { DB_LOG, DB_LOG_TX, DB_SCHEDULE, DB_DELIVERIES };

#define BATCH_ROWS	256
#define BATCH_SCAN	4096

/*
 * How long after it started an attempt may be logged and still be shown
 * by --follow: the log's key is the time an attempt started, and it is
 * written when the attempt ends, so keys do not arrive in order.
 */
#define FOLLOW_LATE_MS	(5 * 60 * 1000)

/* The longest key read: a schedule key. */
#define ROW_KEY_MAX	LOGDB_SCHED_KEY_LEN

/* What a source's batches hold. */
enum mode {
	MODE_LOG,		/* attempts, by a scan or a transaction */
	MODE_PENDING,		/* scheduled deliveries */
	MODE_FOLLOW,		/* attempts that are new since the last poll */
};

struct row {
	unsigned char	 key[ROW_KEY_MAX];
	union {
		struct attempt	 a;
		struct pending	 p;
	};
};

/* Keys of the log already passed on by --follow, sorted. */
struct keyset {
	unsigned char	(*v)[LOGDB_KEY_LEN];
	size_t		 n;
	size_t		 cap;
};

/* One firer directory and the batch read from it. */
struct source {
	const char	*dir;
	dev_t		 dev;
	ino_t		 ino;
	struct store	*store;
	int		 mode;
	size_t		 keylen;
	struct row	*rows;
	size_t		 nrows;
	size_t		 cap;
	size_t		 next;		/* the first row not printed yet */
	unsigned char	 pos[ROW_KEY_MAX];	/* the last key read */
	int		 started;
	int		 done;
	int		 failed;	/* an error was reported: skip it */
	uint64_t	 bad;		/* records that did not decode */
	/* --follow */
	struct keyset	 seen;		/* keys of the last FOLLOW_LATE_MS */
	uint64_t	 count;		/* entries in "log" at the last poll */
	unsigned char	 first[LOGDB_KEY_LEN];	/* and its first key */
};

static int64_t
key_time(const void *key)
{
	return (int64_t)wire_be64_get(key);
}

static void
source_clear(struct source *src)
{
	size_t i;

	for (i = 0; i < src->nrows; i++) {
		if (src->mode == MODE_PENDING)
			delivery_free(&src->rows[i].p.d);
		else
			attempt_free(&src->rows[i].a);
	}
	src->nrows = 0;
	src->next = 0;
}

static struct row *
source_add_row(struct source *src, const void *key)
{
	struct row *row;

	if (src->nrows == src->cap) {
		src->cap = src->cap ? src->cap * 2 : 64;
		src->rows = xreallocarray(src->rows, src->cap,
		    sizeof(*src->rows));
	}
	row = &src->rows[src->nrows++];
	memcpy(row->key, key, src->keylen);
	return row;
}

/* Decode one "log" value and keep it if it passes the filter. */
static void
source_take(struct source *src, const struct filter *f, const void *key,
    const struct store_val *v)
{
	struct wire_reader r;
	struct attempt a;

	attempt_init(&a);
	wire_reader_init(&r, v->data, v->len);
	if (record_get_attempt(&r, &a) == -1 || wire_done(&r) == -1) {
		src->bad++;
		attempt_free(&a);
		return;
	}
	if (!filter_match(f, &a)) {
		attempt_free(&a);
		return;
	}
	source_add_row(src, key)->a = a;
}

/* Position c at the first key of the next batch of a scan. */
static int
scan_seek(struct source *src, const void *start, struct store_cursor *c,
    struct store_val *k, struct store_val *v)
{
	int rc;

	if (!src->started)
		return store_cursor_seek(c, start, start ? src->keylen : 0,
		    k, v);
	rc = store_cursor_seek(c, src->pos, src->keylen, k, v);
	/* Past the last key read, unless it was deleted meanwhile. */
	if (rc == STORE_OK && k->len == src->keylen &&
	    memcmp(k->data, src->pos, src->keylen) == 0)
		rc = store_cursor_next(c, k, v);
	return rc;
}

/* Note the key a batch got to; 1 if the batch is full. */
static int
scan_step(struct source *src, const void *key, size_t *seen)
{
	memcpy(src->pos, key, src->keylen);
	src->started = 1;
	return src->nrows >= BATCH_ROWS || ++*seen >= BATCH_SCAN;
}

static int
fill_scan(struct source *src, struct store_txn *txn, const struct filter *f)
{
	unsigned char start[LOGDB_KEY_LEN];
	struct store_cursor *c;
	struct store_val k, v;
	size_t seen = 0;
	int rc;

	if (store_cursor_open(txn, DB_LOG, &c) != STORE_OK)
		return -1;
	/* --since seeks: the keys begin with the time. */
	if (f->since > 0)
		logdb_key(start, f->since, 0);
	for (rc = scan_seek(src, f->since > 0 ? start : NULL, c, &k, &v);
	    rc == STORE_OK; rc = store_cursor_next(c, &k, &v)) {
		if (k.len != LOGDB_KEY_LEN) {
			src->bad++;
			continue;
		}
		/* --until stops. */
		if (key_time(k.data) >= f->until) {
			rc = STORE_NOTFOUND;
			break;
		}
		source_take(src, f, k.data, &v);
		if (scan_step(src, k.data, &seen))
			break;
	}
	store_cursor_close(c);
	if (rc != STORE_OK)
		src->done = 1;
	return rc == STORE_NOTFOUND || rc == STORE_OK ? 0 : -1;
}

/* The attempts of one transaction: an index seek, then one get each. */
static int
fill_one_tx(struct source *src, struct store_txn *txn,
    const struct filter *f, const char *txid)
{
	unsigned char key[LOGDB_TX_KEY_LEN];
	const unsigned char *logkey;
	struct store_cursor *c;
	struct store_val k, v;
	int rc;

	if (store_cursor_open(txn, DB_LOG_TX, &c) != STORE_OK)
		return -1;
	logdb_tx_key(key, txid, f->since > 0 ? f->since : 0, 0);
	for (rc = store_cursor_seek(c, key, sizeof(key), &k, NULL);
	    rc == STORE_OK; rc = store_cursor_next(c, &k, NULL)) {
		if (k.len != LOGDB_TX_KEY_LEN ||
		    memcmp(k.data, key, RECORD_ID_MAX) != 0)
			break;
		logkey = (const unsigned char *)k.data + RECORD_ID_MAX;
		if (key_time(logkey) >= f->until)
			break;
		rc = store_get(txn, DB_LOG, logkey, LOGDB_KEY_LEN, &v);
		if (rc == STORE_ERROR)
			break;
		if (rc == STORE_OK)
			source_take(src, f, logkey, &v);
	}
	store_cursor_close(c);
	return rc == STORE_ERROR ? -1 : 0;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct row *ra = a, *rb = b;

	return memcmp(ra->key, rb->key, LOGDB_KEY_LEN);
}

/* The last key of the log, for --follow to start after it. */
static int
note_end(struct source *src, struct store_txn *txn)
{
	struct store_cursor *c;
	struct store_val k;
	int rc;

	if (store_cursor_open(txn, DB_LOG, &c) != STORE_OK)
		return -1;
	rc = store_cursor_last(c, &k, NULL);
	if (rc == STORE_OK && k.len == LOGDB_KEY_LEN) {
		memcpy(src->pos, k.data, LOGDB_KEY_LEN);
		src->started = 1;
	}
	store_cursor_close(c);
	return rc == STORE_ERROR ? -1 : 0;
}

/* A transaction has few attempts: read them all in one batch. */
static int
fill_tx(struct source *src, struct store_txn *txn, const struct filter *f)
{
	size_t i;

	src->done = 1;
	for (i = 0; i < f->txids.n; i++)
		if (fill_one_tx(src, txn, f, f->txids.v[i]) == -1)
			return -1;
	if (src->nrows > 1)
		qsort(src->rows, src->nrows, sizeof(*src->rows), row_cmp);
	return note_end(src, txn);
}

/* Decode one delivery and keep it if it passes the filter. */
static int
take_pending(struct source *src, struct store_txn *txn,
    const struct filter *f, const unsigned char *key)
{
	char pid[RECORD_ID_MAX + 1];
	struct store_val v;
	struct wire_reader r;
	struct pending p;
	int rc;

	memcpy(pid, key + 8, RECORD_ID_MAX);
	pid[RECORD_ID_MAX] = '\0';
	/* Gone between two reads of the firer's: not pending any more. */
	if ((rc = store_get(txn, DB_DELIVERIES, pid, strlen(pid), &v)) !=
	    STORE_OK)
		return rc == STORE_NOTFOUND ? 0 : -1;
	p.due_ms = key_time(key);
	delivery_init(&p.d);
	wire_reader_init(&r, v.data, v.len);
	if (record_get_delivery(&r, &p.d) == -1 || wire_done(&r) == -1) {
		src->bad++;
		delivery_free(&p.d);
		return 0;
	}
	if (!filter_match_delivery(f, &p.d)) {
		delivery_free(&p.d);
		return 0;
	}
	source_add_row(src, key)->p = p;
	return 0;
}

/* The schedule: keys are due time | postback id. */
static int
fill_pending(struct source *src, struct store_txn *txn,
    const struct filter *f)
{
	unsigned char start[LOGDB_SCHED_KEY_LEN];
	struct store_cursor *c;
	struct store_val k;
	size_t seen = 0;
	int rc;

	if (store_cursor_open(txn, DB_SCHEDULE, &c) != STORE_OK)
		return -1;
	memset(start, 0, sizeof(start));
	if (f->since > 0)
		wire_be64_put(start, (uint64_t)f->since);
	for (rc = scan_seek(src, start, c, &k, NULL); rc == STORE_OK;
	    rc = store_cursor_next(c, &k, NULL)) {
		if (k.len != LOGDB_SCHED_KEY_LEN) {
			src->bad++;
			continue;
		}
		if (key_time(k.data) >= f->until) {
			rc = STORE_NOTFOUND;
			break;
		}
		if (take_pending(src, txn, f, k.data) == -1) {
			rc = STORE_ERROR;
			break;
		}
		if (scan_step(src, k.data, &seen))
			break;
	}
	store_cursor_close(c);
	if (rc != STORE_OK)
		src->done = 1;
	return rc == STORE_NOTFOUND || rc == STORE_OK ? 0 : -1;
}

static int
source_fill(struct source *src, const struct filter *f)
{
	struct store_txn *txn;
	int rc;

	source_clear(src);
	if (store_begin(src->store, 0, &txn) != STORE_OK) {
		src->done = 1;
		return -1;
	}
	if (src->mode == MODE_PENDING)
		rc = fill_pending(src, txn, f);
	else if (f->txids.n > 0)
		rc = fill_tx(src, txn, f);
	else
		rc = fill_scan(src, txn, f);
	store_abort(txn);
	if (rc == -1)
		src->done = 1;
	return rc;
}

static void
source_error(struct source *src, const char *what, int *errors)
{
	warnx("%s: error reading the %s", src->dir, what);
	src->failed = 1;
	(*errors)++;
}

/* The next row of src, reading a batch when needed; NULL at its end. */
static struct row *
source_peek(struct source *src, const struct filter *f, int *errors)
{
	while (src->next == src->nrows && !src->done) {
		if (source_fill(src, f) == -1)
			source_error(src, src->mode == MODE_PENDING ?
			    "schedule" : "attempt log", errors);
	}
	return src->next < src->nrows ? &src->rows[src->next] : NULL;
}

/*
 * The smallest key of all sources, taken: it stays valid until the next
 * call.  Equal keys come in -d order.  NULL when all are read.
 */
static struct row *
merge_next(struct source *srcs, size_t n, const struct filter *f,
    int *errors)
{
	struct row *r, *best = NULL;
	size_t i, from = 0;

	for (i = 0; i < n; i++) {
		if ((r = source_peek(&srcs[i], f, errors)) == NULL)
			continue;
		if (best == NULL ||
		    memcmp(r->key, best->key, srcs[i].keylen) < 0) {
			best = r;
			from = i;
		}
	}
	if (best != NULL)
		srcs[from].next++;
	return best;
}

static void
set_mode(struct source *srcs, size_t n, int mode)
{
	size_t i;

	for (i = 0; i < n; i++) {
		source_clear(&srcs[i]);
		srcs[i].mode = mode;
		srcs[i].keylen = mode == MODE_PENDING ? LOGDB_SCHED_KEY_LEN :
		    LOGDB_KEY_LEN;
		srcs[i].started = 0;
		srcs[i].done = srcs[i].failed;
	}
}

int
read_attempts(struct source *srcs, size_t n, const struct filter *f,
    attempt_fn fn, void *arg, int *errors)
{
	struct row *r;
	int rc;

	set_mode(srcs, n, MODE_LOG);
	while ((r = merge_next(srcs, n, f, errors)) != NULL)
		if ((rc = fn(arg, &r->a)) != OUTPUT_OK)
			return rc;
	return OUTPUT_OK;
}

int
read_pending(struct source *srcs, size_t n, const struct filter *f,
    pending_fn fn, void *arg, int *errors)
{
	struct row *r;
	int rc;

	set_mode(srcs, n, MODE_PENDING);
	while ((r = merge_next(srcs, n, f, errors)) != NULL)
		if ((rc = fn(arg, &r->p)) != OUTPUT_OK)
			return rc;
	return OUTPUT_OK;
}

/*
 * --follow.  A poll compares the number of entries in the log with the
 * last poll's, and walks the log back from its end until it has found
 * that many keys it has not seen, or reached FOLLOW_LATE_MS before now.
 * An idle log costs one stat per poll, and an attempt that ended after
 * a later one (its key is behind keys already passed on) is not lost.
 * A change of the first key means entries were deleted (retention), so
 * the counts do not add up: then the whole window is walked.
 */
static int
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, LOGDB_KEY_LEN);
}

static int
keyset_has(const struct keyset *s, const void *key)
{
	return s->n > 0 &&
	    bsearch(key, s->v, s->n, sizeof(*s->v), key_cmp) != NULL;
}

static void
keyset_add(struct keyset *s, const void *key)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	memcpy(s->v[s->n++], key, LOGDB_KEY_LEN);
}

/* The index of the first key of s not before key. */
static size_t
keyset_lower(const struct keyset *s, const void *key)
{
	size_t lo = 0, hi = s->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (key_cmp(s->v[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Add the keys of from (any order, none in s) and forget those before
 * bound.  New keys mostly follow the old ones: merge from the back.
 */
static void
keyset_merge(struct keyset *s, struct keyset *from, int64_t bound)
{
	unsigned char key[LOGDB_KEY_LEN];
	size_t i, j, k;

	if (from->n > 1)
		qsort(from->v, from->n, sizeof(*from->v), key_cmp);
	for (i = 0; i < from->n; i++)
		keyset_add(s, from->v[i]);
	i = s->n - from->n;		/* old keys left to place */
	j = from->n;			/* new keys left to place */
	for (k = s->n; j > 0 && i > 0; k--) {
		if (key_cmp(s->v[i - 1], from->v[j - 1]) > 0)
			memcpy(s->v[k - 1], s->v[--i], LOGDB_KEY_LEN);
		else
			memcpy(s->v[k - 1], from->v[--j], LOGDB_KEY_LEN);
	}
	for (; j > 0; k--)
		memcpy(s->v[k - 1], from->v[--j], LOGDB_KEY_LEN);
	from->n = 0;
	logdb_key(key, bound, 0);
	if ((i = keyset_lower(s, key)) > 0) {
		memmove(s->v, s->v + i, (s->n - i) * sizeof(*s->v));
		s->n -= i;
	}
}

static int
first_key(struct store_cursor *c, unsigned char *key)
{
	struct store_val k;
	int rc;

	memset(key, 0, LOGDB_KEY_LEN);
	rc = store_cursor_seek(c, NULL, 0, &k, NULL);
	if (rc == STORE_OK && k.len == LOGDB_KEY_LEN)
		memcpy(key, k.data, LOGDB_KEY_LEN);
	return rc == STORE_ERROR ? -1 : 0;
}

/*
 * Walk back from the end of the log down to bound: keys after cut are
 * new (counted), the others are seen.
 */
static int
follow_note(struct source *src, struct store_cursor *c,
    const unsigned char *cut, int64_t bound, uint64_t *after)
{
	struct store_val k;
	int rc;

	*after = 0;
	for (rc = store_cursor_last(c, &k, NULL); rc == STORE_OK;
	    rc = store_cursor_prev(c, &k, NULL)) {
		if (k.len != LOGDB_KEY_LEN)
			continue;
		if (key_time(k.data) < bound)
			break;
		if (memcmp(k.data, cut, LOGDB_KEY_LEN) > 0)
			(*after)++;
		else
			keyset_add(&src->seen, k.data);
	}
	return rc == STORE_ERROR ? -1 : 0;
}

/* Where the seen part of the log ends (inclusive). */
static int
follow_cut(struct source *src, const struct filter *f,
    struct store_cursor *c, unsigned char *cut)
{
	struct store_val k;
	int rc;

	memset(cut, 0, LOGDB_KEY_LEN);
	/* What read_attempts() got to: a scan's last key, or the end. */
	if (src->started && src->mode == MODE_LOG) {
		memcpy(cut, src->pos, LOGDB_KEY_LEN);
		return 0;
	}
	/* It found nothing at or after --since: all of that is new. */
	if (f->since != INT64_MIN) {
		logdb_key(cut, f->since, 0);
		return 0;
	}
	/* Like tail -f: only what comes. */
	rc = store_cursor_last(c, &k, NULL);
	if (rc == STORE_OK && k.len == LOGDB_KEY_LEN)
		memcpy(cut, k.data, LOGDB_KEY_LEN);
	return rc == STORE_ERROR ? -1 : 0;
}

static int
follow_start_one(struct source *src, const struct filter *f)
{
	unsigned char cut[LOGDB_KEY_LEN];
	struct store_txn *txn;
	struct store_cursor *c;
	uint64_t after = 0;
	int rc = -1;

	if (store_begin(src->store, 0, &txn) != STORE_OK)
		return -1;
	if (store_cursor_open(txn, DB_LOG, &c) != STORE_OK)
		goto done;
	src->count = store_count(txn, DB_LOG);
	if (first_key(c, src->first) == 0 &&
	    follow_cut(src, f, c, cut) == 0 &&
	    follow_note(src, c, cut, now_ms() - FOLLOW_LATE_MS, &after) == 0)
		rc = 0;
	/* The first poll finds the entries after cut as new. */
	src->count -= after < src->count ? after : src->count;
	store_cursor_close(c);
done:
	store_abort(txn);
	if (src->seen.n > 1)
		qsort(src->seen.v, src->seen.n, sizeof(*src->seen.v),
		    key_cmp);
	return rc;
}

void
read_follow_start(struct source *srcs, size_t n, const struct filter *f,
    int *errors)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!srcs[i].failed && follow_start_one(&srcs[i], f) == -1)
			source_error(&srcs[i], "attempt log", errors);
		source_clear(&srcs[i]);
		srcs[i].mode = MODE_FOLLOW;
		srcs[i].keylen = LOGDB_KEY_LEN;
		/* Rows come from polls only, never from source_peek(). */
		srcs[i].done = 1;
	}
}

/* Take the unseen keys from the end back, as many as were added. */
static int
follow_walk(struct source *src, const struct filter *f,
    struct store_cursor *c, uint64_t missing, int64_t bound,
    struct keyset *fresh)
{
	struct store_val k, v;
	int64_t t;
	int rc;

	for (rc = store_cursor_last(c, &k, &v); rc == STORE_OK;
	    rc = store_cursor_prev(c, &k, &v)) {
		if (k.len != LOGDB_KEY_LEN)
			continue;
		if ((t = key_time(k.data)) < bound)
			break;
		if (keyset_has(&src->seen, k.data))
			continue;
		keyset_add(fresh, k.data);
		if (t >= f->since && t < f->until)
			source_take(src, f, k.data, &v);
		if (fresh->n == missing)
			break;
	}
	return rc == STORE_ERROR ? -1 : 0;
}

static int
follow_poll_one(struct source *src, const struct filter *f,
    struct keyset *fresh)
{
	unsigned char first[LOGDB_KEY_LEN];
	struct store_txn *txn;
	struct store_cursor *c;
	uint64_t count, missing;
	int64_t bound = now_ms() - FOLLOW_LATE_MS;
	int rc = -1;

	source_clear(src);
	if (store_begin(src->store, 0, &txn) != STORE_OK)
		return -1;
	if (store_cursor_open(txn, DB_LOG, &c) != STORE_OK)
		goto done;
	count = store_count(txn, DB_LOG);
	if (first_key(c, first) == -1)
		goto close;
	rc = 0;
	if (count == src->count && memcmp(first, src->first, sizeof(first)) ==
	    0)
		goto close;
	/* Deleted entries: walk the whole window (missing 0 never ends). */
	missing = count > src->count && memcmp(first, src->first,
	    sizeof(first)) == 0 ? count - src->count : 0;
	rc = follow_walk(src, f, c, missing, bound, fresh);
	src->count = count;
	memcpy(src->first, first, sizeof(first));
close:
	store_cursor_close(c);
done:
	store_abort(txn);
	keyset_merge(&src->seen, fresh, bound);
	if (src->nrows > 1)
		qsort(src->rows, src->nrows, sizeof(*src->rows), row_cmp);
	return rc;
}

int
read_follow_poll(struct source *srcs, size_t n, const struct filter *f,
    attempt_fn fn, void *arg, int *errors)
{
	struct keyset fresh = { NULL, 0, 0 };
	struct row *r;
	size_t i;
	int rc = OUTPUT_OK;

	for (i = 0; i < n; i++) {
		if (srcs[i].failed)
			continue;
		if (follow_poll_one(&srcs[i], f, &fresh) == -1)
			source_error(&srcs[i], "attempt log", errors);
	}
	free(fresh.v);
	while (rc == OUTPUT_OK && (r = merge_next(srcs, n, f, errors)) != NULL)
		rc = fn(arg, &r->a);
	return rc;
}

/* Say what LMDB would fail on in words an operator can act on. */
static int
check_env(const char *dir)
{
	int rc = store_check_dir(dir);

	if (rc == ENOENT)
		warnx("%s: not a firer's directory (no data.mdb)", dir);
	else if (rc != 0)
		warnx("%s: %s", dir, strerror(rc));
	return rc == 0 ? 0 : -1;
}

static int
source_open(struct source *src, int schedule)
{
	static const char *const dbs[] = { LOGDB_LOG, LOGDB_LOG_TX,
	    LOGDB_SCHEDULE, LOGDB_DELIVERIES };

	if (check_env(src->dir) == -1)
		return -1;
	src->store = store_open(src->dir, 0, dbs, schedule ? 4 : 2, 1);
	if (src->store == NULL) {
		warnx("%s: cannot open the attempt log%s (is it a firer's "
		    "directory?)", src->dir, schedule ? " and schedule" : "");
		return -1;
	}
	return 0;
}

static int
same_dir(const struct source *srcs, size_t n, const struct stat *st)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (srcs[i].dev == st->st_dev && srcs[i].ino == st->st_ino)
			return 1;
	return 0;
}

/* Open each directory once, even when named twice: LMDB requires it. */
struct source *
read_open_sources(const struct strlist *dirs, int schedule, size_t *nsrcs,
    int *errors)
{
	struct source *srcs, *src;
	struct stat st;
	size_t i;

	srcs = xcalloc(dirs->n ? dirs->n : 1, sizeof(*srcs));
	*nsrcs = 0;
	for (i = 0; i < dirs->n; i++) {
		if (stat(dirs->v[i], &st) == -1) {
			warn("%s", dirs->v[i]);
			(*errors)++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			warnx("%s: not a directory", dirs->v[i]);
			(*errors)++;
			continue;
		}
		if (same_dir(srcs, *nsrcs, &st))
			continue;
		src = &srcs[*nsrcs];
		src->dir = dirs->v[i];
		src->dev = st.st_dev;
		src->ino = st.st_ino;
		if (source_open(src, schedule) == -1)
			(*errors)++;
		else
			(*nsrcs)++;
	}
	return srcs;
}

void
read_close_sources(struct source *srcs, size_t n, int *errors)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (srcs[i].bad > 0) {
			warnx("%s: skipped %llu record%s that could not be "
			    "decoded", srcs[i].dir,
			    (unsigned long long)srcs[i].bad,
			    srcs[i].bad == 1 ? "" : "s");
			(*errors)++;
		}
		source_clear(&srcs[i]);
		free(srcs[i].rows);
		free(srcs[i].seen.v);
		store_close(srcs[i].store);
	}
	free(srcs);
}
