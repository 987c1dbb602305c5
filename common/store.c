#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

#define STORE_MAX_DBS		16
#define STORE_MAX_READERS	512

struct store {
	MDB_env		*env;
	MDB_dbi		 dbi[STORE_MAX_DBS];
	int		 ndbs;
	int		 readonly;
	char		*dir;
	uint64_t	 commits;	/* write transactions committed */
	uint64_t	 syncs;		/* and synced to disk */
};

struct store_txn {
	struct store	*store;
	MDB_txn		*txn;
	int		 write;
};

struct store_cursor {
	MDB_cursor	*cursor;
};

/*
 * A full store is logged once per STORE_FULL_LOG_MS with a count, not
 * for each refused write: at full load those come by the thousand.
 */
#define STORE_FULL_LOG_MS	10000
/* Less than this free on the disk after a short write: the disk is full. */
#define STORE_DISK_SLACK	(64 * 1024)

static void
log_full(struct store *s, int rc, const char *what)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int64_t last = -STORE_FULL_LOG_MS;
	static unsigned long count;
	int64_t now = mono_ms();

	pthread_mutex_lock(&lock);
	count++;
	if (now - last >= STORE_FULL_LOG_MS) {
		log_warn("event=store_full dir=%s op=%s error=\"%s\" count=%lu",
		    s->dir, what, mdb_strerror(rc), count);
		last = now;
	}
	pthread_mutex_unlock(&lock);
}

/*
 * LMDB reports a write cut short as EIO; a disk that filled up cuts
 * writes short (a big commit, as ENOSPC only when nothing fits).  Tell
 * that from a failing disk by the space left.
 */
static int
disk_full(const struct store *s)
{
	struct statvfs sv;

	return statvfs(s->dir, &sv) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < STORE_DISK_SLACK;
}

/* Map an LMDB result to ours, logging what is not an expected outcome. */
static int
status_of(struct store *s, int rc, const char *what)
{
	switch (rc) {
	case MDB_SUCCESS:
		return STORE_OK;
	case MDB_NOTFOUND:
		return STORE_NOTFOUND;
	case MDB_MAP_FULL:
	case ENOSPC:
	case MDB_TXN_FULL:
		log_full(s, rc, what);
		return STORE_FULL;
	default:
		log_error("event=store_error dir=%s op=%s error=\"%s\"", s->dir,
		    what, mdb_strerror(rc));
		return STORE_ERROR;
	}
}

static int
open_dbs(struct store *s, const char *const *names, int n)
{
	MDB_txn *txn;
	int i, rc;
	unsigned flags = s->readonly ? 0 : MDB_CREATE;

	rc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &txn);
	if (rc != 0)
		return status_of(s, rc, "begin");
	for (i = 0; i < n; i++) {
		rc = mdb_dbi_open(txn, names[i], flags, &s->dbi[i]);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return status_of(s, rc, "dbi_open");
		}
	}
	rc = mdb_txn_commit(txn);
	return status_of(s, rc, "commit");
}

int
store_check_dir(const char *dir)
{
	char *data = xasprintf("%s/data.mdb", dir);
	char *lock = xasprintf("%s/lock.mdb", dir);
	int rc = 0;

	if (access(data, R_OK) == -1)
		rc = errno;
	/* Readers too take a slot in the lock file. */
	else if (access(lock, R_OK | W_OK) == -1 && errno != ENOENT)
		rc = errno;
	free(data);
	free(lock);
	return rc;
}

/*
 * A data.mdb shorter than the pages its meta page counts (a copy cut
 * short, a disk that filled during cp) is mapped all the same, and the
 * first read of a page past its end kills the process with SIGBUS.
 * LMDB writes the pages of a commit before the meta page that counts
 * them, so a live writer never makes a sound file look short.
 */
static int
check_length(struct store *s)
{
	MDB_envinfo info;
	MDB_stat st;
	struct stat sb;
	mdb_filehandle_t fd;
	unsigned long long need;

	if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) !=
	    0 || mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &sb) == -1)
		return 0;	/* nothing to compare: LMDB will say */
	need = ((unsigned long long)info.me_last_pgno + 1) * st.ms_psize;
	if ((unsigned long long)sb.st_size >= need)
		return 0;
	log_error("event=store_open dir=%s error=\"data.mdb is cut short: "
	    "%llu bytes, its pages need %llu\"", s->dir,
	    (unsigned long long)sb.st_size, need);
	return -1;
}

struct store *
store_open(const char *dir, uint64_t map_size, const char *const *dbnames,
    int ndbs, int readonly)
{
	struct store *s;
	unsigned flags = MDB_NOTLS;
	int rc;

	if (ndbs > STORE_MAX_DBS)
		fatal("event=store_open error=\"too many databases\"");
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->readonly = readonly;
	s->ndbs = ndbs;
	if (!readonly && mkdir(dir, 0770) == -1 && errno != EEXIST) {
		log_error("event=store_open dir=%s error=\"%s\"", dir,
		    strerror(errno));
		goto fail;
	}
	if ((rc = mdb_env_create(&s->env)) != 0)
		goto lmdb_fail;
	mdb_env_set_maxreaders(s->env, STORE_MAX_READERS);
	mdb_env_set_maxdbs(s->env, STORE_MAX_DBS);
	if (!readonly && (rc = mdb_env_set_mapsize(s->env, map_size)) != 0)
		goto lmdb_fail;
	/*
	 * Commits are not synced (LMDB 0.9.24 honours this for the whole
	 * environment only, not per transaction); a durable commit syncs
	 * after (store_commit) and the daemons sync every second
	 * (store_sync).  postline(7): clicks are safe from the death of the
	 * process, conversions from the death of the machine.
	 */
	flags |= readonly ? MDB_RDONLY : MDB_NOSYNC;
	if ((rc = mdb_env_open(s->env, dir, flags, 0660)) != 0)
		goto lmdb_fail;
	if (check_length(s) == -1)
		goto fail;
	store_reader_check(s);
	if (open_dbs(s, dbnames, ndbs) != STORE_OK)
		goto fail;
	return s;
lmdb_fail:
	log_error("event=store_open dir=%s error=\"%s\"", dir, mdb_strerror(rc));
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->env) {
		if (!s->readonly)
			mdb_env_sync(s->env, 1);
		mdb_env_close(s->env);
	}
	free(s->dir);
	free(s);
}

void
store_sync(struct store *s)
{
	int rc;

	if (s->readonly)
		return;
	if ((rc = mdb_env_sync(s->env, 1)) != 0)
		fatal("event=store_failed dir=%s op=sync error=\"%s\"",
		    s->dir, mdb_strerror(rc));
	__atomic_fetch_add(&s->syncs, 1, __ATOMIC_RELAXED);
}

/* Pages on LMDB's freelist: each record lists its pages after a count. */
static int
free_pages(MDB_txn *txn, size_t *pages)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*pages = 0;
	if (mdb_cursor_open(txn, 0, &c) != 0)
		return -1;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
		if (v.mv_size >= sizeof(size_t))
			*pages += *(const size_t *)v.mv_data;
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : -1;
}

int
store_usage(struct store *s, uint64_t *used, uint64_t *size)
{
	MDB_envinfo info;
	MDB_stat st;
	MDB_txn *txn;
	size_t nfree;
	int rc;

	if (mdb_env_stat(s->env, &st) != 0 ||
	    mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	rc = free_pages(txn, &nfree);
	/* The info of the snapshot the freelist was read from. */
	if (rc == 0 && mdb_env_info(s->env, &info) != 0)
		rc = -1;
	mdb_txn_abort(txn);
	if (rc == -1)
		return -1;
	if (nfree > info.me_last_pgno + 1)
		nfree = info.me_last_pgno + 1;
	*used = ((uint64_t)info.me_last_pgno + 1 - nfree) * st.ms_psize;
	*size = info.me_mapsize;
	return 0;
}

void
store_reader_check(struct store *s)
{
	int dead = 0;

	if (mdb_reader_check(s->env, &dead) == 0 && dead > 0)
		log_warn("event=stale_readers dir=%s cleared=%d", s->dir, dead);
}

int
store_begin(struct store *s, int write, struct store_txn **out)
{
	struct store_txn *t;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		MDB_txn *txn;

		rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &txn);
		if (rc == 0) {
			t = xmalloc(sizeof(*t));
			t->store = s;
			t->txn = txn;
			t->write = write;
			*out = t;
			return STORE_OK;
		}
		/* A writer in another process grew the map: adopt its size. */
		if (rc == MDB_MAP_RESIZED)
			mdb_env_set_mapsize(s->env, 0);
		else if (rc == MDB_READERS_FULL)
			store_reader_check(s);
		else
			break;
	}
	return status_of(s, rc, "begin");
}

int
store_commit(struct store_txn *t, int durable)
{
	struct store *s = t->store;
	int rc;

	rc = mdb_txn_commit(t->txn);
	free(t);
	if (rc == EIO && disk_full(s))
		rc = ENOSPC;	/* nothing committed: refused, as full */
	if (rc == MDB_PANIC || rc == EIO)
		fatal("event=store_failed dir=%s op=commit error=\"%s\"",
		    s->dir, mdb_strerror(rc));
	if (rc != 0)
		return status_of(s, rc, "commit");
	__atomic_fetch_add(&s->commits, 1, __ATOMIC_RELAXED);
	/*
	 * The transaction is committed: a failed sync cannot be reported as
	 * "not stored", and after a failed fsync the kernel may have dropped
	 * the pages (fsyncgate).  Stop; the supervisor restarts us on what
	 * is really on disk.
	 */
	if (durable && (rc = mdb_env_sync(s->env, 1)) != 0)
		fatal("event=store_failed dir=%s op=sync error=\"%s\"",
		    s->dir, mdb_strerror(rc));
	if (durable)
		__atomic_fetch_add(&s->syncs, 1, __ATOMIC_RELAXED);
	return STORE_OK;
}

void
store_counts(struct store *s, uint64_t *commits, uint64_t *syncs)
{
	*commits = __atomic_load_n(&s->commits, __ATOMIC_RELAXED);
	*syncs = __atomic_load_n(&s->syncs, __ATOMIC_RELAXED);
}

void
store_abort(struct store_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

static void
to_mdb(MDB_val *m, const void *p, size_t n)
{
	m->mv_data = (void *)(uintptr_t)p;
	m->mv_size = n;
}

static void
from_mdb(struct store_val *v, const MDB_val *m)
{
	if (v == NULL)
		return;
	v->data = m->mv_data;
	v->len = m->mv_size;
}

int
store_get(struct store_txn *t, int db, const void *key, size_t keylen,
    struct store_val *val)
{
	MDB_val k, v;
	int rc;

	to_mdb(&k, key, keylen);
	rc = mdb_get(t->txn, t->store->dbi[db], &k, &v);
	if (rc == 0)
		from_mdb(val, &v);
	return status_of(t->store, rc, "get");
}

static int
put(struct store_txn *t, int db, const void *key, size_t keylen,
    const void *val, size_t vallen, unsigned flags)
{
	MDB_val k, v;
	int rc;

	to_mdb(&k, key, keylen);
	to_mdb(&v, val, vallen);
	rc = mdb_put(t->txn, t->store->dbi[db], &k, &v, flags);
	return status_of(t->store, rc, "put");
}

int
store_put(struct store_txn *t, int db, const void *key, size_t keylen,
    const void *val, size_t vallen)
{
	return put(t, db, key, keylen, val, vallen, 0);
}

int
store_append(struct store_txn *t, int db, const void *key, size_t keylen,
    const void *val, size_t vallen)
{
	return put(t, db, key, keylen, val, vallen, MDB_APPEND);
}

int
store_del(struct store_txn *t, int db, const void *key, size_t keylen)
{
	MDB_val k;

	to_mdb(&k, key, keylen);
	return status_of(t->store, mdb_del(t->txn, t->store->dbi[db], &k,
	    NULL), "del");
}

uint64_t
store_count(struct store_txn *t, int db)
{
	MDB_stat st;

	if (mdb_stat(t->txn, t->store->dbi[db], &st) != 0)
		return 0;
	return st.ms_entries;
}

int
store_cursor_open(struct store_txn *t, int db, struct store_cursor **out)
{
	MDB_cursor *c;
	int rc;

	rc = mdb_cursor_open(t->txn, t->store->dbi[db], &c);
	if (rc != 0)
		return status_of(t->store, rc, "cursor_open");
	*out = xmalloc(sizeof(**out));
	(*out)->cursor = c;
	return STORE_OK;
}

void
store_cursor_close(struct store_cursor *c)
{
	if (c == NULL)
		return;
	mdb_cursor_close(c->cursor);
	free(c);
}

static int
cursor_get(struct store_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op op,
    struct store_val *ko, struct store_val *vo)
{
	int rc = mdb_cursor_get(c->cursor, k, v, op);

	if (rc == 0) {
		from_mdb(ko, k);
		from_mdb(vo, v);
		return STORE_OK;
	}
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	log_error("event=store_error op=cursor error=\"%s\"", mdb_strerror(rc));
	return STORE_ERROR;
}

int
store_cursor_seek(struct store_cursor *c, const void *key, size_t keylen,
    struct store_val *ko, struct store_val *vo)
{
	MDB_val k, v;

	if (key == NULL)
		return cursor_get(c, &k, &v, MDB_FIRST, ko, vo);
	to_mdb(&k, key, keylen);
	return cursor_get(c, &k, &v, MDB_SET_RANGE, ko, vo);
}

int
store_cursor_find(struct store_cursor *c, const void *key, size_t keylen,
    struct store_val *vo)
{
	struct store_val ko;
	MDB_val k, v;

	to_mdb(&k, key, keylen);
	return cursor_get(c, &k, &v, MDB_SET_KEY, &ko, vo);
}

int
store_cursor_next(struct store_cursor *c, struct store_val *ko,
    struct store_val *vo)
{
	MDB_val k, v;

	return cursor_get(c, &k, &v, MDB_NEXT, ko, vo);
}

int
store_cursor_prev(struct store_cursor *c, struct store_val *ko,
    struct store_val *vo)
{
	MDB_val k, v;

	return cursor_get(c, &k, &v, MDB_PREV, ko, vo);
}

int
store_cursor_last(struct store_cursor *c, struct store_val *ko,
    struct store_val *vo)
{
	MDB_val k, v;

	return cursor_get(c, &k, &v, MDB_LAST, ko, vo);
}

int
store_cursor_del(struct store_cursor *c)
{
	int rc = mdb_cursor_del(c->cursor, 0);

	if (rc == 0)
		return STORE_OK;
	log_error("event=store_error op=cursor_del error=\"%s\"",
	    mdb_strerror(rc));
	return STORE_ERROR;
}
