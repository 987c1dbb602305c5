/*
 * logview(1): print the attempts of the firers' logs that pass the
 * filters, merged in time order across directories.
 *
 * The logs are read in batches, each in its own short read transaction
 * that ends before anything is printed: a reader that waits on a slow
 * pipe must not pin the pages the firer frees meanwhile.  A batch ends
 * after BATCH_ROWS matching rows or BATCH_SCAN rows looked at, and the
 * next one seeks past the last key read.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "logdb.h"
#include "logview.h"
#include "store.h"

enum { DB_LOG, DB_LOG_TX };

#define BATCH_ROWS	256
#define BATCH_SCAN	4096

struct status_range {
	unsigned	 lo;
	unsigned	 hi;
};

/* Different options must all match; values of one option are a union. */
struct filter {
	int64_t		 since;		/* inclusive; INT64_MIN: none */
	int64_t		 until;		/* exclusive; INT64_MAX: none */
	struct strlist	 txids;
	struct strlist	 postbacks;
	struct strlist	 rules;
	struct strlist	 offers;
	struct strlist	 publishers;
	unsigned	 results;	/* bit per attempt_result; 0: any */
	struct status_range *statuses;
	size_t		 nstatuses;
};

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

struct opts {
	const char	*conf_file;
	struct strlist	 dirs;
	int		 header;
	int		 json;
	const char	*fields;
};

enum {
	OPT_SINCE = 256,
	OPT_UNTIL,
	OPT_POSTBACK,
	OPT_RULE,
	OPT_OFFER,
	OPT_PUBLISHER,
	OPT_STATUS,
	OPT_RESULT,
	OPT_FIELDS,
	OPT_FOLLOW,
	OPT_STATS,
	OPT_PENDING,
};

static const struct option longopts[] = {
	{ "transaction", required_argument, NULL, 't' },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "postback", required_argument, NULL, OPT_POSTBACK },
	{ "rule", required_argument, NULL, OPT_RULE },
	{ "offer", required_argument, NULL, OPT_OFFER },
	{ "publisher", required_argument, NULL, OPT_PUBLISHER },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "result", required_argument, NULL, OPT_RESULT },
	{ "fields", required_argument, NULL, OPT_FIELDS },
	{ "header", no_argument, NULL, 'H' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "follow", no_argument, NULL, OPT_FOLLOW },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "pending", no_argument, NULL, OPT_PENDING },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: logview [-Hj] [-d dir]... [-f file] [-t id] "
	    "[--since T] [--until T]\n"
	    "               [--postback id] [--rule name] [--offer id] "
	    "[--publisher id]\n"
	    "               [--status code|2xx|3xx|4xx|5xx] "
	    "[--result result] [--fields list]\n");
}

static void
strlist_add(struct strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

static void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* An empty list places no condition. */
static int
strlist_match(const struct strlist *l, const char *s)
{
	size_t i;

	if (l->n == 0)
		return 1;
	for (i = 0; s != NULL && i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* Exactly n decimal digits. */
static int
get_digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

static int
get_char(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* ".4", ".45" or ".456" in milliseconds; nothing is 0. */
static int
get_millis(const char **p, int *ms)
{
	int n;

	*ms = 0;
	if (get_char(p, '.') == -1)
		return 0;
	for (n = 0; n < 3 && **p >= '0' && **p <= '9'; n++, (*p)++)
		*ms = *ms * 10 + (**p - '0');
	if (n == 0)
		return -1;
	for (; n < 3; n++)
		*ms *= 10;
	return 0;
}

/* 2026-11-21, 2026-11-21T01:02:03Z or 2026-11-21T01:02:03.456Z (UTC). */
static int
parse_date(const char *s, int64_t *out)
{
	struct tm tm, check;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	time_t t;

	if (get_digits(&s, 4, &y) == -1 || get_char(&s, '-') == -1 ||
	    get_digits(&s, 2, &mo) == -1 || get_char(&s, '-') == -1 ||
	    get_digits(&s, 2, &d) == -1)
		return -1;
	if (*s != '\0' && (get_char(&s, 'T') == -1 ||
	    get_digits(&s, 2, &h) == -1 || get_char(&s, ':') == -1 ||
	    get_digits(&s, 2, &mi) == -1 || get_char(&s, ':') == -1 ||
	    get_digits(&s, 2, &sec) == -1 || get_millis(&s, &ms) == -1 ||
	    get_char(&s, 'Z') == -1 || *s != '\0'))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm() normalises 2026-02-30 into March: refuse what moved. */
	if (gmtime_r(&t, &check) == NULL || check.tm_year != y - 1900 ||
	    check.tm_mon != mo - 1 || check.tm_mday != d ||
	    check.tm_hour != h || check.tm_min != mi || check.tm_sec != sec)
		return -1;
	*out = (int64_t)t * 1000 + ms;
	return 0;
}

/* A time, or an age before now such as 15m (a bare number is refused). */
static int
parse_time(const char *opt, const char *s, int64_t now, int64_t *out)
{
	size_t n = strlen(s);
	int64_t age;

	if (parse_date(s, out) == 0)
		return 0;
	if (n > 0 && s[n - 1] >= 'a' && s[n - 1] <= 'z' &&
	    parse_duration_ms(s, &age) == 0) {
		*out = now - age;
		return 0;
	}
	warnx("%s: bad time \"%s\" (use 2026-11-21T01:02:03.456Z, "
	    "2026-11-21T01:02:03Z, 2026-11-21 or an age: 30s, 15m, 2h, 7d)",
	    opt, s);
	return -1;
}

/*
 * The next word of a comma-separated list into tok, leaving *p at the
 * comma or the end; -1 if the word is empty or too long.
 */
static int
next_word(const char **p, char *tok, size_t size)
{
	size_t n = strcspn(*p, ",");

	if (n == 0 || n >= size)
		return -1;
	memcpy(tok, *p, n);
	tok[n] = '\0';
	*p += n;
	return 0;
}

/* 404, 0 (no response) or a class 1xx..5xx. */
static int
parse_status_word(const char *w, struct status_range *r)
{
	uint64_t v;

	if (w[0] >= '1' && w[0] <= '5' && (w[1] == 'x' || w[1] == 'X') &&
	    (w[2] == 'x' || w[2] == 'X') && w[3] == '\0') {
		r->lo = (unsigned)(w[0] - '0') * 100;
		r->hi = r->lo + 99;
		return 0;
	}
	if (parse_uint(w, 999, &v) == -1)
		return -1;
	r->lo = r->hi = (unsigned)v;
	return 0;
}

static int
parse_status(struct filter *f, const char *arg)
{
	const char *p = arg;
	char w[8];
	struct status_range r;

	for (;;) {
		if (next_word(&p, w, sizeof(w)) == -1 ||
		    parse_status_word(w, &r) == -1) {
			warnx("--status: bad status \"%s\" (use a code such "
			    "as 404, 0 for no response, or 2xx..5xx)", arg);
			return -1;
		}
		f->statuses = xreallocarray(f->statuses, f->nstatuses + 1,
		    sizeof(*f->statuses));
		f->statuses[f->nstatuses++] = r;
		if (*p++ == '\0')
			return 0;
	}
}

static int
parse_result(struct filter *f, const char *arg)
{
	const char *p = arg;
	char w[16];
	int r;

	for (;;) {
		if (next_word(&p, w, sizeof(w)) == -1 ||
		    (r = attempt_result_parse(w)) == 0) {
			warnx("--result: bad result \"%s\" (use ok, retry, "
			    "failed, cancelled or interrupted)", arg);
			return -1;
		}
		f->results |= 1u << r;
		if (*p++ == '\0')
			return 0;
	}
}

static int
add_txid(struct filter *f, const char *id)
{
	if (*id == '\0' || strlen(id) > RECORD_ID_MAX) {
		warnx("--transaction: \"%s\" is not a transaction id "
		    "(1 to %d characters)", id, RECORD_ID_MAX);
		return -1;
	}
	/* One seek per id: asking twice would print the rows twice. */
	if (f->txids.n == 0 || !strlist_match(&f->txids, id))
		strlist_add(&f->txids, id);
	return 0;
}

/* Options of a later release, refused rather than ignored. */
static int
not_yet(const char *opt)
{
	warnx("%s: not implemented yet", opt);
	return -1;
}

static int
parse_option(int ch, const char *arg, int64_t now, struct opts *o,
    struct filter *f)
{
	switch (ch) {
	case 'd':
		strlist_add(&o->dirs, arg);
		return 0;
	case 'f':
		o->conf_file = arg;
		return 0;
	case 't':
		return add_txid(f, arg);
	case 'H':
		o->header = 1;
		return 0;
	case 'j':
		o->json = 1;
		return 0;
	case OPT_SINCE:
		return parse_time("--since", arg, now, &f->since);
	case OPT_UNTIL:
		return parse_time("--until", arg, now, &f->until);
	case OPT_POSTBACK:
		strlist_add(&f->postbacks, arg);
		return 0;
	case OPT_RULE:
		strlist_add(&f->rules, arg);
		return 0;
	case OPT_OFFER:
		strlist_add(&f->offers, arg);
		return 0;
	case OPT_PUBLISHER:
		strlist_add(&f->publishers, arg);
		return 0;
	case OPT_STATUS:
		return parse_status(f, arg);
	case OPT_RESULT:
		return parse_result(f, arg);
	case OPT_FIELDS:
		o->fields = arg;
		return 0;
	case OPT_FOLLOW:
		return not_yet("--follow");
	case OPT_STATS:
		return not_yet("--stats");
	case OPT_PENDING:
		return not_yet("--pending");
	default:
		usage(stderr);
		return -1;
	}
}

static int
parse_options(int argc, char *argv[], struct opts *o, struct filter *f)
{
	int64_t now = now_ms();
	int ch;

	while ((ch = getopt_long(argc, argv, "d:f:t:Hjh", longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			exit(0);
		}
		if (parse_option(ch, optarg, now, o, f) == -1)
			return -1;
	}
	if (optind < argc) {
		warnx("unexpected argument \"%s\"", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Without -d: every firer of the config file. */
static int
config_dirs(const char *file, struct strlist *dirs)
{
	const char *path = conf_path(file);
	struct conf *conf;
	struct buf errs;
	char *dir;
	size_t i;

	buf_init(&errs);
	if ((conf = conf_load(path, &errs)) == NULL) {
		if (errs.len > 0)
			fprintf(stderr, "%s%s", errs.data,
			    errs.data[errs.len - 1] == '\n' ? "" : "\n");
		else
			warnx("%s: cannot load the config", path);
		buf_free(&errs);
		return -1;
	}
	for (i = 0; i < conf->firer_endpoints.n; i++) {
		dir = conf_instance_dir(conf, SERVICE_FIRER, (int)i);
		strlist_add(dirs, dir);
		free(dir);
	}
	conf_free(conf);
	buf_free(&errs);
	return 0;
}

static int
status_match(const struct filter *f, unsigned status)
{
	size_t i;

	if (f->nstatuses == 0)
		return 1;
	for (i = 0; i < f->nstatuses; i++)
		if (status >= f->statuses[i].lo && status <= f->statuses[i].hi)
			return 1;
	return 0;
}

/* Everything but time, which the key already told. */
static int
filter_match(const struct filter *f, const struct attempt *a)
{
	return strlist_match(&f->txids, a->txid) &&
	    strlist_match(&f->postbacks, a->postback_id) &&
	    strlist_match(&f->rules, a->rule) &&
	    strlist_match(&f->offers, a->offer_id) &&
	    strlist_match(&f->publishers, a->publisher) &&
	    (f->results == 0 || (f->results & (1u << a->result)) != 0) &&
	    status_match(f, a->http_status);
}

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
static struct source *
open_sources(const struct strlist *dirs, size_t *nsrcs, int *errors)
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

static void
close_sources(struct source *srcs, size_t n, int *errors)
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
static int
print_merged(struct source *srcs, size_t n, const struct filter *f,
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

static void
filter_free(struct filter *f)
{
	strlist_free(&f->txids);
	strlist_free(&f->postbacks);
	strlist_free(&f->rules);
	strlist_free(&f->offers);
	strlist_free(&f->publishers);
	free(f->statuses);
}

int
main(int argc, char *argv[])
{
	struct opts opts = { 0 };
	struct filter filter = { .since = INT64_MIN, .until = INT64_MAX };
	struct output out;
	struct source *srcs = NULL;
	size_t nsrcs = 0;
	uint64_t printed = 0;
	int errors = 0, rc = OUTPUT_ERROR, status = 2;

	log_init("logview", 0, 1);
	/* A closed pipe shows as EPIPE, so that `| head` ends us quietly. */
	signal(SIGPIPE, SIG_IGN);
	output_init(&out, 0);
	if (parse_options(argc, argv, &opts, &filter) == -1)
		goto done;
	out.json = opts.json;
	if (opts.fields != NULL && output_set_fields(&out, opts.fields) == -1)
		goto done;
	if (opts.dirs.n == 0 && config_dirs(opts.conf_file, &opts.dirs) == -1)
		goto done;
	srcs = open_sources(&opts.dirs, &nsrcs, &errors);
	setvbuf(stdout, NULL, _IOFBF, 64 * 1024);
	rc = opts.header ? output_header(&out) : OUTPUT_OK;
	if (rc == OUTPUT_OK)
		rc = print_merged(srcs, nsrcs, &filter, &out, &printed,
		    &errors);
	if (rc == OUTPUT_OK)
		rc = output_flush();
	close_sources(srcs, nsrcs, &errors);
	if (rc == OUTPUT_ERROR || errors > 0)
		status = 2;
	else
		status = printed > 0 || rc == OUTPUT_CLOSED ? 0 : 1;
done:
	output_free(&out);
	filter_free(&filter);
	strlist_free(&opts.dirs);
	return status;
}
