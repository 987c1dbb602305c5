/*
 * Reading the firers' attempt logs (common/logdb.h) through the store,
 * and merging them in time order.
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

enum { DB_LOG, DB_LOG_TX };

#define BATCH_ROWS	256
#define BATCH_SCAN	4096

struct row {
	unsigned char	 key[LOGDB_KEY_LEN];	/* time | seq in "log" */
	struct attempt	 a;
};

/* One firer directory and the batch read from it. */
struct source {
	const char	*dir;
	dev_t		 dev;
	ino_t		 ino;
	struct store	*store;
	struct row	*rows;
	size_t		 nrows;
	size_t		 cap;
	size_t		 next;		/* the first row not printed yet */
	unsigned char	 pos[LOGDB_KEY_LEN];	/* the last key read */
	int		 started;
	int		 done;
	uint64_t	 bad;		/* records that did not decode */
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

	for (i = 0; i < src->nrows; i++)
		attempt_free(&src->rows[i].a);
	src->nrows = 0;
	src->next = 0;
}

/* Decode one "log" value and keep it if it passes the filter. */
static void
source_take(struct source *src, const struct filter *f, const void *key,
    const struct store_val *v)
{
	struct wire_reader r;
	struct row *row;
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
	if (src->nrows == src->cap) {
		src->cap = src->cap ? src->cap * 2 : 64;
		src->rows = xreallocarray(src->rows, src->cap,
		    sizeof(*src->rows));
	}
	row = &src->rows[src->nrows++];
	memcpy(row->key, key, LOGDB_KEY_LEN);
	row->a = a;
}

/* Position c at the first key of the next batch of a scan. */
static int
scan_seek(struct source *src, const struct filter *f,
    struct store_cursor *c, struct store_val *k, struct store_val *v)
{
	unsigned char key[LOGDB_KEY_LEN];
	int rc;

	if (!src->started) {
		if (f->since <= 0)
			return store_cursor_seek(c, NULL, 0, k, v);
		logdb_key(key, f->since, 0);
		return store_cursor_seek(c, key, sizeof(key), k, v);
	}
	rc = store_cursor_seek(c, src->pos, sizeof(src->pos), k, v);
	/* Past the last key read, unless retention removed it meanwhile. */
	if (rc == STORE_OK && k->len == LOGDB_KEY_LEN &&
	    memcmp(k->data, src->pos, LOGDB_KEY_LEN) == 0)
		rc = store_cursor_next(c, k, v);
	return rc;
}

static int
fill_scan(struct source *src, struct store_txn *txn, const struct filter *f)
{
	struct store_cursor *c;
	struct store_val k, v;
	size_t seen = 0;
	int rc;

	if (store_cursor_open(txn, DB_LOG, &c) != STORE_OK)
		return -1;
	for (rc = scan_seek(src, f, c, &k, &v); rc == STORE_OK;
	    rc = store_cursor_next(c, &k, &v)) {
		if (k.len != LOGDB_KEY_LEN) {
			src->bad++;
			continue;
		}
		if (key_time(k.data) >= f->until) {
			rc = STORE_NOTFOUND;
			break;
		}
		memcpy(src->pos, k.data, LOGDB_KEY_LEN);
		src->started = 1;
		source_take(src, f, k.data, &v);
		if (src->nrows >= BATCH_ROWS || ++seen >= BATCH_SCAN)
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
	return 0;
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
	if (f->txids.n > 0)
		rc = fill_tx(src, txn, f);
	else
		rc = fill_scan(src, txn, f);
	store_abort(txn);
	if (rc == -1)
		src->done = 1;
	return rc;
}

/* The next row of src, reading a batch when needed; NULL at its end. */
static struct row *
source_peek(struct source *src, const struct filter *f, int *errors)
{
	while (src->next == src->nrows && !src->done) {
		if (source_fill(src, f) == -1) {
			warnx("%s: error reading the attempt log", src->dir);
			(*errors)++;
		}
	}
	return src->next < src->nrows ? &src->rows[src->next] : NULL;
}

/*
 * Say what LMDB would fail on in words an operator can act on, and keep
 * it from creating a lock.mdb in a directory named by mistake.
 */
static int
check_env(const char *dir)
{
	char *data, *lock;
	int rc = -1;

	data = xasprintf("%s/data.mdb", dir);
	lock = xasprintf("%s/lock.mdb", dir);
	if (access(data, R_OK) == -1) {
		if (errno == ENOENT)
			warnx("%s: not a firer's directory (no data.mdb)", dir);
		else
			warn("%s", data);
	} else if (access(lock, R_OK | W_OK) == -1 && errno != ENOENT) {
		/* Readers too take a slot in the lock file. */
		warn("%s", lock);
	} else
		rc = 0;
	free(data);
	free(lock);
	return rc;
}

static int
source_open(struct source *src)
{
	static const char *const dbs[] = { LOGDB_LOG, LOGDB_LOG_TX };

	if (check_env(src->dir) == -1)
		return -1;
	src->store = store_open(src->dir, 0, dbs, (int)nitems(dbs), 1);
	if (src->store == NULL) {
		warnx("%s: cannot open the attempt log (is it a firer's "
		    "directory?)", src->dir);
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
read_open_sources(const struct strlist *dirs, size_t *nsrcs, int *errors)
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
		if (source_open(src) == -1)
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
		store_close(srcs[i].store);
	}
	free(srcs);
}

/* Print the smallest (time, seq) first; equal keys in -d order. */
int
read_print_merged(struct source *srcs, size_t n, const struct filter *f,
    struct output *out, uint64_t *printed, int *errors)
{
	struct row *r, *best;
	size_t i, from = 0;
	int rc;

	for (;;) {
		best = NULL;
		for (i = 0; i < n; i++) {
			r = source_peek(&srcs[i], f, errors);
			if (r != NULL && (best == NULL ||
			    memcmp(r->key, best->key, LOGDB_KEY_LEN) < 0)) {
				best = r;
				from = i;
			}
		}
		if (best == NULL)
			return OUTPUT_OK;
		if ((rc = output_row(out, &best->a)) != OUTPUT_OK)
			return rc;
		srcs[from].next++;
		(*printed)++;
	}
}
