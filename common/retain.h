/*
 * Retention: the one way the daemons remove what they keep for a bounded
 * time (postline.conf(5) "retention", and the matcher's held hits, which
 * are kept for matcher grace).  Each kind of record gives a function that
 * removes its oldest records in a write transaction; retain_step() runs
 * it in slices of at most RETAIN_SLICE records, each slice in its own
 * short transaction, so that the daemon's loop serves its hits between
 * two slices.  A kind that is behind gets a slice at every turn of the
 * loop until nothing past its cutoff is left, so what retention removes
 * in a second grows with what is due.  How it works and what it costs:
 * postline(7), RETENTION.
 */
#ifndef POSTLINE_RETAIN_H
#define POSTLINE_RETAIN_H

#include <stdint.h>

#include "daemon.h"
#include "store.h"

#define RETAIN_SLICE	1000	/* records looked at per transaction */

struct retain_slice {
	int64_t	 before;	/* records made before this (ms) go */
	int	 max;		/* look at no more records than this */
	/* Set by the kind: */
	int	 looked;	/* records looked at */
	int	 removed;	/* records removed */
	int	 more;		/* it stopped at max with more to do */
	int64_t	 oldest_ms;	/* the oldest record still before the
				   cutoff when the slice stopped at max */
};

struct retain_kind {
	const char	*name;		/* for logs and metrics: "clicks" */
	int		 retention;	/* enum retention; -1: kept until its
					   own time (held hits: their due) */
	int		 db;		/* the database whose size is shown */
	/* Remove, in txn, records made before slice->before: -1 on error. */
	int		(*prune)(void *arg, struct store_txn *,
			    struct retain_slice *);
	void		*arg;
	int64_t		 every_ms;	/* once caught up, look again after
					   this long (0: a second) */
};

/*
 * The slice of a database whose keys start with the time of their
 * record (so its oldest records come first): from its first key, remove
 * those made before the cutoff.  time_of reads a key's time (INT64_MIN
 * for a key that is not of this database's form: it goes too); drop, if
 * not NULL, first removes what goes with the record (an index entry).
 * 0, or -1 when the store refused.
 */
int	retain_walk(struct store_txn *, int db, struct retain_slice *,
	    int64_t (*time_of)(const struct store_val *key),
	    int (*drop)(void *arg, struct store_txn *,
	    const struct store_val *key, const struct store_val *val),
	    void *arg);

/*
 * For a database not in time order (or with records to pass over): a
 * pass from its first key to its end, or to where expired() says to
 * stop, in slices that each start where the last one stopped (keys of
 * at most RETAIN_KEY_MAX bytes).  expired says 1 (remove), 0 (keep) or
 * -1 (stop: the rest is newer).  A sweep knows no oldest record: its
 * kind shows 0 seconds behind.  0, or -1 when the store refused.
 */
#define RETAIN_KEY_MAX	64

struct retain_sweep {
	unsigned char	 from[RETAIN_KEY_MAX];	/* where the pass goes on */
	size_t		 len;			/* 0: at the first key */
};

int	retain_sweep(struct store_txn *, int db, struct retain_slice *,
	    struct retain_sweep *, int (*expired)(void *arg,
	    const struct store_val *key, const struct store_val *val),
	    void *arg);

struct retain;

/* kinds must outlive the retain; its metrics are named for the daemon. */
struct retain	*retain_new(struct daemon *, struct store *,
		    const struct retain_kind *kinds, int nkinds);
void		 retain_free(struct retain *);
/*
 * At most one slice, of the next kind in turn that is behind or due to
 * look again (a kind caught up looks once a second): 1 when some kind is
 * still behind (call again at the next turn, without waiting), else 0.
 */
int		 retain_step(struct retain *, int64_t now_ms);

#endif
