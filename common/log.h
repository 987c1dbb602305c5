/*
 * One logging API for all programs.  Every line is one event:
 *
 *   2026-11-21T01:02:03.456Z ingest[412]: level=info event=click transaction_id=...
 *
 * The caller writes the key=value pairs; log_value() quotes a value that
 * holds spaces, quotes or control characters so a line stays one line.
 */
#ifndef POSTLINE_LOG_H
#define POSTLINE_LOG_H

#include <stddef.h>

#include "util.h"

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* name: program name; verbose: extra -v count; to_stderr: else syslog. */
void	log_init(const char *name, int verbose, int to_stderr);
void	log_set_instance(int);
int	log_enabled(enum log_level);

void	log_error(const char *, ...) PRINTF_LIKE(1, 2);
void	log_warn(const char *, ...) PRINTF_LIKE(1, 2);
void	log_info(const char *, ...) PRINTF_LIKE(1, 2);
void	log_debug(const char *, ...) PRINTF_LIKE(1, 2);
/*
 * A thread's lines below error go out together at log_release(), in one
 * write: for a loop that logs a line per item (a crash loses the lines
 * of that turn, never the items, which are in the store).
 */
void	log_hold(void);
void	log_release(void);
/* For start-up failures and broken invariants only: logs and exits 1. */
void	fatal(const char *, ...) PRINTF_LIKE(1, 2) NORETURN;

/*
 * Render a value for a key=value line into dst (always NUL-terminated,
 * truncated to size): bare when it is plain, else double-quoted with
 * \" \\ \n \t and \xNN escapes (of control bytes and of bytes that are
 * not part of well-formed UTF-8), so that a line is valid UTF-8.
 * Returns dst.
 */
const char *log_value(char *dst, size_t size, const char *value);

#endif
