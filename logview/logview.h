/*
 * logview(1): reads the firers' attempt logs (common/logdb.h) read-only
 * and prints the attempts that pass the filters, merged in time order.
 */
#ifndef POSTLINE_LOGVIEW_H
#define POSTLINE_LOGVIEW_H

#include <stddef.h>
#include <stdint.h>

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
