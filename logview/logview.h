/*
 * logview(1): reads the firers' attempt logs and schedules
 * (common/logdb.h) read-only and prints what passes the filters, merged
 * in time order: the attempts, new attempts as they are logged
 * (--follow), counts of them (--stats) or the scheduled deliveries
 * (--pending).
 */
#ifndef POSTLINE_LOGVIEW_H
#define POSTLINE_LOGVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "record.h"
#include "table.h"
#include "util.h"

/* The columns, in their default order (logview(1)). */
enum field {
	FIELD_TIME,
	FIELD_POSTBACK_ID,
	FIELD_ATTEMPT,
	FIELD_RESULT,
	FIELD_HTTP_STATUS,
	FIELD_LATENCY_MS,
	FIELD_RULE,
	FIELD_TYPE,
	FIELD_OFFER_ID,
	FIELD_PUBLISHER,
	FIELD_TRANSACTION_ID,
	FIELD_URL,
	FIELD_ERROR,
	FIELD_END
};

/* A --fields list may name a column more than once. */
#define OUTPUT_FIELDS_MAX	64

enum output_status {
	OUTPUT_ERROR = TABLE_ERROR,	/* reported on stderr */
	OUTPUT_OK = TABLE_OK,
	OUTPUT_CLOSED = TABLE_CLOSED,	/* the reader went away (EPIPE) */
};

/* What the lines are: each has its own columns. */
enum output_kind {
	OUTPUT_ATTEMPTS,
	OUTPUT_PENDING,
	OUTPUT_STATS,
};

struct output {
	int		 kind;		/* enum output_kind */
	struct table	 t;		/* json or not, the line */
	int		 fields[OUTPUT_FIELDS_MAX];	/* of attempts */
	size_t		 nfields;
	const struct conf *conf;	/* rules for --pending URLs, or NULL */
};

/* A scheduled delivery, as --pending lists it. */
struct pending {
	int64_t		 due_ms;	/* from the schedule's key */
	struct delivery	 d;
};

/* The columns of --stats after the rule's name, in order. */
enum stats_col {
	STATS_ATTEMPTS,
	STATS_OK,		/* results: in enum attempt_result order */
	STATS_RETRY,
	STATS_FAILED,
	STATS_CANCELLED,
	STATS_INTERRUPTED,
	STATS_2XX,		/* status classes */
	STATS_3XX,
	STATS_4XX,
	STATS_5XX,
	STATS_NONE,		/* "0": no answer */
	STATS_OTHER,		/* 1xx and 600..999 */
	STATS_END
};

struct stats_rule {
	char		*rule;
	uint64_t	 n[STATS_END];
};

/* Counts by rule, sorted by name, and over all rules. */
struct stats {
	struct stats_rule *v;
	size_t		 n;
	size_t		 cap;
	uint64_t	 total[STATS_END];
};

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

/* Where rows go; each returns an enum output_status. */
typedef int	(*attempt_fn)(void *arg, const struct attempt *);
typedef int	(*pending_fn)(void *arg, const struct pending *);

/* One firer directory and the batch read from it (read.c). */
struct source;

/* filter.c */
int	filter_add_status(struct filter *, const char *);
int	filter_add_result(struct filter *, const char *);
int	filter_add_txid(struct filter *, const char *);
int	filter_match(const struct filter *, const struct attempt *);
/* Only the options a delivery has: ids, rule, offer, publisher. */
int	filter_match_delivery(const struct filter *,
	    const struct delivery *);
void	filter_free(struct filter *);

/* read.c */
/*
 * Errors are reported on stderr and counted in *errors.  schedule: open
 * the schedule too, for read_pending().
 */
struct source *read_open_sources(const struct strlist *dirs, int schedule,
	    size_t *nsrcs, int *errors);
void	read_close_sources(struct source *, size_t, int *errors);
int	read_attempts(struct source *, size_t, const struct filter *,
	    attempt_fn, void *, int *errors);
int	read_pending(struct source *, size_t, const struct filter *,
	    pending_fn, void *, int *errors);
/*
 * --follow: read_follow_start() takes what is in the logs now as seen
 * (what read_attempts() printed, or everything if it did not run), then
 * each read_follow_poll() passes on what was logged since.
 */
void	read_follow_start(struct source *, size_t, const struct filter *,
	    int *errors);
int	read_follow_poll(struct source *, size_t, const struct filter *,
	    attempt_fn, void *, int *errors);

/* output.c */
void	output_init(struct output *, int kind, int json);
void	output_free(struct output *);
/* A comma-separated list of column names; -1 (reported) if invalid. */
int	output_set_fields(struct output *, const char *);
/* The names of the columns of o->kind; nothing with JSON. */
int	output_header(struct output *);
int	output_row(struct output *, const struct attempt *);
int	output_pending(struct output *, const struct pending *);
int	output_stats(struct output *, const struct stats *);
int	output_flush(void);

void	stats_init(struct stats *);
void	stats_free(struct stats *);
void	stats_add(struct stats *, const struct attempt *);

#endif
