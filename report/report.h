/*
 * report(1): reads the matcher shards' stores read-only (the counters of
 * counter.h, the clicks and the conversions) and prints the operator's
 * numbers: a summary by time, offer, publisher, sub_id, source and
 * currency, or the conversions or the clicks one per line, merged over
 * every shard.
 */
#ifndef POSTLINE_REPORT_H
#define POSTLINE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "counter.h"
#include "record.h"
#include "store.h"
#include "table.h"
#include "util.h"

enum mode {
	MODE_SUMMARY,
	MODE_CONVERSIONS,
	MODE_CLICKS,
	MODE_POSTBACKS,
};

/* The keys of --by, in the order of their columns' names. */
enum key {
	KEY_HOUR,
	KEY_DAY,
	KEY_OFFER,
	KEY_PUBLISHER,
	KEY_SUB_ID,
	KEY_SOURCE,
	KEY_CURRENCY,
	KEY_END
};

#define REPORT_FIELDS_MAX	64
#define REPORT_INGESTS_MAX	64	/* ingest-N directories looked for */

struct query {
	int		 mode;
	int64_t		 since;		/* inclusive; INT64_MIN: none */
	int64_t		 until;		/* exclusive; INT64_MAX: none */
	int		 by[KEY_END];	/* enum key, in the order given */
	int		 nby;
	struct strlist	 offers;	/* filters: a union within one */
	struct strlist	 publishers;
	struct strlist	 sub_ids;
	struct strlist	 txids;
	struct strlist	 statuses;
	struct strlist	 reasons;
	struct strlist	 results;	/* --postbacks --result */
	const char	*event;		/* NULL: base conversions */
	const char	*tz;		/* NULL: UTC */
	int		 duplicate;	/* --clicks: only those not unique */
	const char	*fields;	/* NULL: every column */
	int		 header;
	int		 json;
};

/*
 * One matcher's store, opened read-only; for --postbacks, a matcher's
 * or an ingest's, with the databases of inbound.h only (PB_*).
 */
struct shard {
	const char	*dir;
	struct store	*store;
};

/* The databases report reads, in this order. */
enum {
	SHARD_CLICKS,
	SHARD_CONVERSIONS,
	SHARD_COUNTS,
	SHARD_COUNTS_OFFER,
	SHARD_CONVERSIONS_AT,
	SHARD_NDBS
};

/* The databases of a store opened for --postbacks. */
enum {
	PB_ROWS,
	PB_TX,
	PB_NDBS
};

/* Where rows go: the columns chosen and the table they are written to. */
struct sink {
	struct table	 t;
	int		 cols[REPORT_FIELDS_MAX];
	size_t		 ncols;
	uint64_t	 rows;
};

/*
 * shards.c: errors are said on stderr; -1 if a directory fails.  With
 * postbacks, each directory is opened for its PB_* databases.
 */
int	shards_open(const struct strlist *dirs, int postbacks,
	    struct shard **, size_t *n);
void	shards_close(struct shard *, size_t);
/* An empty filter places no condition. */
int	list_match(const struct strlist *, const char *);

/*
 * sink.c: --fields against the column names (in order), the header,
 * one row of values (NULL: empty); enum table_status.
 */
int	sink_init(struct sink *, const struct query *,
	    const char *const *names, size_t n);
int	sink_header(struct sink *, const char *const *names);
int	sink_row(struct sink *, const char *const *names,
	    const char *const *values, const int *numeric);

/* summary.c */
int	summary(const struct query *, struct shard *, size_t,
	    struct sink *);
int	zone_check(const char *tz);

/* listing.c: --conversions, --clicks and --postbacks. */
int	list_conversions(const struct query *, struct shard *, size_t,
	    struct sink *);
int	list_clicks(const struct query *, struct shard *, size_t,
	    struct sink *);
int	list_postbacks(const struct query *, struct shard *, size_t,
	    struct sink *);

#endif
