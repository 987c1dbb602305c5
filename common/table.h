/*
 * What the command-line readers (logview, report) print and read alike:
 * time arguments, and rows as tab-separated values (tab, newline,
 * carriage return and backslash escaped as in C, other control bytes and
 * malformed UTF-8 as \xNN) or JSON Lines (valid UTF-8, U+FFFD for
 * malformed bytes).  See logview(1).
 */
#ifndef POSTLINE_TABLE_H
#define POSTLINE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* "2026-11-21T01:02:03.456Z" and its NUL. */
#define TABLE_TIME_LEN	25

enum table_status {
	TABLE_ERROR = -1,	/* reported on stderr */
	TABLE_OK = 0,
	TABLE_CLOSED = 1,	/* the reader went away (EPIPE) */
};

struct table {
	int		 json;
	struct buf	 line;
};

/*
 * 2026-11-21T01:02:03.456Z, 2026-11-21T01:02:03Z, 2026-11-21 (UTC), or
 * an age before now such as 15m (a bare number is refused).  opt names
 * the option in the message if s is not a time; -1 then.
 */
int	table_parse_time(const char *opt, const char *s, int64_t now,
	    int64_t *out);
/* time_ms as 2026-11-21T01:02:03.456Z. */
void	table_time(char *dst, size_t size, int64_t time_ms);
void	table_add_tsv(struct buf *, const char *value);
void	table_add_json(struct buf *, const char *value);

void	table_init(struct table *, int json);
void	table_free(struct table *);
/* Column i of a line: name is its JSON key; a number is not quoted. */
void	table_cell(struct table *, size_t i, const char *name,
	    const char *value, int number);
/* End the line and write it: an enum table_status. */
int	table_end(struct table *);
/* A header line of the names (tab-separated output only). */
int	table_names(struct table *, const char *const *names, size_t n);

#endif
