/*
 * logview(1): reads the firers' attempt logs (common/logdb.h) read-only
 * and prints the attempts that pass the filters, merged in time order.
 */
#ifndef POSTLINE_LOGVIEW_H
#define POSTLINE_LOGVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "record.h"
#include "util.h"

/* The columns, in their default order (DESIGN §8). */
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

/* "2026-11-21T01:02:03.456Z" and its NUL. */
#define OUTPUT_TIME_LEN		25

enum output_status {
	OUTPUT_ERROR = -1,	/* reported on stderr */
	OUTPUT_OK = 0,
	OUTPUT_CLOSED = 1,	/* the reader went away (EPIPE) */
};

struct output {
	int		 json;
	int		 fields[OUTPUT_FIELDS_MAX];
	size_t		 nfields;
	struct buf	 line;
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

/* One firer directory and the batch read from it (read.c). */
struct source;

/* filter.c */
/* opt names the option in the message if s is not a time; -1 then. */
int	filter_parse_time(const char *opt, const char *s, int64_t now,
	    int64_t *out);
int	filter_add_status(struct filter *, const char *);
int	filter_add_result(struct filter *, const char *);
int	filter_add_txid(struct filter *, const char *);
int	filter_match(const struct filter *, const struct attempt *);
void	filter_free(struct filter *);

/* read.c */
/* Errors are reported on stderr and counted in *errors. */
struct source *read_open_sources(const struct strlist *dirs, size_t *nsrcs,
	    int *errors);
void	read_close_sources(struct source *, size_t, int *errors);
int	read_print_merged(struct source *, size_t, const struct filter *,
	    struct output *, uint64_t *printed, int *errors);

/* output.c */
void	output_init(struct output *, int json);
void	output_free(struct output *);
/* A comma-separated list of column names; -1 (reported) if invalid. */
int	output_set_fields(struct output *, const char *);
int	output_header(struct output *);
int	output_row(struct output *, const struct attempt *);
int	output_flush(void);
void	output_time(char *dst, size_t size, int64_t time_ms);

#endif
