/*
 * The only caller of LMDB.  A store is one LMDB environment (a directory)
 * with a fixed set of named databases, opened once per process.  Write
 * transactions belong to one writer thread per process; read transactions
 * may be used from any thread (MDB_NOTLS).
 *
 * Commits are not synced to disk unless asked (durable = 1): a committed
 * transaction survives the death of the process at once, and the death of
 * the machine once synced, by a durable commit or store_sync() (which the
 * daemons call every second).  See RELIABILITY.md, Library settings, and
 * postline(7), Hand-off.
 */
#ifndef POSTLINE_STORE_H
#define POSTLINE_STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_status {
	STORE_ERROR = -1,
	STORE_OK = 0,
	STORE_NOTFOUND = 1,
	STORE_FULL = 2,		/* the map or the disk is full */
};

struct store;
struct store_txn;
struct store_cursor;

struct store_val {
	const void	*data;
	size_t		 len;
};

/*
 * Whether dir holds an environment this process can read: 0, or an
 * errno (ENOENT: no data.mdb in it).  For tools, which say so in words
 * and so never make a lock.mdb in a directory named by mistake.
 */
int		 store_check_dir(const char *dir);
/* Open (creating dir and databases unless readonly). NULL on failure. */
struct store	*store_open(const char *dir, uint64_t map_size,
		    const char *const *dbnames, int ndbs, int readonly);
void		 store_close(struct store *);
/* Sync what was committed so far to disk (the daemons, every second). */
void		 store_sync(struct store *);
/*
 * The map's size and the bytes of it in use: its pages up to the last
 * one written, less the free pages LMDB will reuse.  -1 on error.
 */
int		 store_usage(struct store *, uint64_t *used, uint64_t *size);
/* Write transactions committed, and syncs to disk, since it was opened. */
void		 store_counts(struct store *, uint64_t *commits,
		    uint64_t *syncs);
/* Reclaim reader slots of dead processes; logs how many. */
void		 store_reader_check(struct store *);

int	store_begin(struct store *, int write, struct store_txn **);
int	store_commit(struct store_txn *, int durable);
void	store_abort(struct store_txn *);

int	store_get(struct store_txn *, int db, const void *key, size_t keylen,
	    struct store_val *val);
int	store_put(struct store_txn *, int db, const void *key, size_t keylen,
	    const void *val, size_t vallen);
/* Keys known to be greater than every key in db (sequence numbers). */
int	store_append(struct store_txn *, int db, const void *key,
	    size_t keylen, const void *val, size_t vallen);
int	store_del(struct store_txn *, int db, const void *key, size_t keylen);
uint64_t store_count(struct store_txn *, int db);

int	store_cursor_open(struct store_txn *, int db, struct store_cursor **);
void	store_cursor_close(struct store_cursor *);
/* Position at the first key >= key (or the first key when key is NULL). */
int	store_cursor_seek(struct store_cursor *, const void *key,
	    size_t keylen, struct store_val *k, struct store_val *v);
int	store_cursor_next(struct store_cursor *, struct store_val *k,
	    struct store_val *v);
int	store_cursor_prev(struct store_cursor *, struct store_val *k,
	    struct store_val *v);
int	store_cursor_last(struct store_cursor *, struct store_val *k,
	    struct store_val *v);
/*
 * The value of key, the cursor left on it.  Keys looked up in about
 * their stored order are found on the cursor's page without a search
 * from the root.
 */
int	store_cursor_find(struct store_cursor *, const void *key,
	    size_t keylen, struct store_val *v);
/* Delete the entry under the cursor. */
int	store_cursor_del(struct store_cursor *);

#endif
