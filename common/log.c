#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const char *log_name = "postline";
static int log_verbose;
static int log_stderr = 1;
static int log_instance = -1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* Lines a thread holds back between log_hold() and log_release(). */
#define LOG_HELD_MAX	(64 * 1024)
static _Thread_local int held;
static _Thread_local char *held_buf;
static _Thread_local size_t held_len;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int syslog_priorities[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

void
log_init(const char *name, int verbose, int to_stderr)
{
	log_name = name;
	log_verbose = verbose;
	log_stderr = to_stderr;
	if (!to_stderr)
		openlog(name, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_instance(int instance)
{
	log_instance = instance;
}

int
log_enabled(enum log_level level)
{
	return level <= LOG_LEVEL_INFO || log_verbose > 0;
}

static void
write_all(const char *p, size_t n)
{
	ssize_t w;

	while (n > 0 && (w = write(STDERR_FILENO, p, n)) > 0) {
		p += w;
		n -= (size_t)w;
	}
}

static void
flush_held(void)
{
	if (held_len > 0) {
		pthread_mutex_lock(&log_lock);
		write_all(held_buf, held_len);
		pthread_mutex_unlock(&log_lock);
		held_len = 0;
	}
}

static void
log_emit(enum log_level level, const char *fmt, va_list ap)
{
	char msg[4096], line[4096 + 160];
	const char *stamp;
	struct timespec ts;
	int n;

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_stderr) {
		syslog(syslog_priorities[level], "level=%s %s",
		    level_names[level], msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	utc_second(ts.tv_sec, &stamp);
	if (log_instance >= 0)
		n = snprintf(line, sizeof(line), "%s.%03ldZ %s-%d[%ld]: "
		    "level=%s %s\n", stamp, ts.tv_nsec / 1000000,
		    log_name, log_instance, (long)getpid(), level_names[level],
		    msg);
	else
		n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld]: "
		    "level=%s %s\n", stamp, ts.tv_nsec / 1000000,
		    log_name, (long)getpid(), level_names[level], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (held && level > LOG_LEVEL_ERROR) {
		if (held_buf == NULL)
			held_buf = xmalloc(LOG_HELD_MAX);
		if (held_len + (size_t)n > LOG_HELD_MAX)
			flush_held();
		memcpy(held_buf + held_len, line, (size_t)n);
		held_len += (size_t)n;
		return;
	}
	flush_held();		/* keep this thread's lines in order */
	pthread_mutex_lock(&log_lock);
	write_all(line, (size_t)n);
	pthread_mutex_unlock(&log_lock);
}

void
log_hold(void)
{
	held = 1;
}

void
log_release(void)
{
	flush_held();
	held = 0;
}

#define LOG_FUNCTION(fn, level)				\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list ap;					\
							\
	va_start(ap, fmt);				\
	log_emit(level, fmt, ap);			\
	va_end(ap);					\
}

LOG_FUNCTION(log_error, LOG_LEVEL_ERROR)
LOG_FUNCTION(log_warn, LOG_LEVEL_WARN)
LOG_FUNCTION(log_info, LOG_LEVEL_INFO)
LOG_FUNCTION(log_debug, LOG_LEVEL_DEBUG)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

static int
is_plain(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '"' || c == '\\' || c == '=' || c >= 0x7f)
			return 0;
	}
	return 1;
}

/* The escaped form of one byte inside a quoted value. */
static void
escape_byte(unsigned char c, char *out, size_t size)
{
	if (c == '"' || c == '\\')
		snprintf(out, size, "\\%c", c);
	else if (c == '\n')
		snprintf(out, size, "\\n");
	else if (c == '\t')
		snprintf(out, size, "\\t");
	else if (c < ' ' || c >= 0x7f)
		snprintf(out, size, "\\x%02x", c);
	else
		snprintf(out, size, "%c", c);
}

const char *
log_value(char *dst, size_t size, const char *value)
{
	char esc[8];
	size_t n = 0, len, seq;
	const char *s;
	uint32_t cp;

	if (size == 0)
		return dst;
	if (value == NULL)
		value = "";
	if (is_plain(value)) {
		snprintf(dst, size, "%s", value);
		return dst;
	}
	if (size < 3) {		/* no room even for "" */
		dst[0] = '\0';
		return dst;
	}
	dst[n++] = '"';
	for (s = value; *s; s += seq) {
		/*
		 * Well-formed UTF-8 is kept whole, another high byte escaped
		 * (the NUL ends a sequence, so 4 never reads past it).
		 */
		seq = utf8_seq((const unsigned char *)s, 4, &cp);
		if (seq > 1) {
			memcpy(esc, s, seq);
			esc[seq] = '\0';
		} else {
			seq = 1;
			escape_byte((unsigned char)*s, esc, sizeof(esc));
		}
		len = strlen(esc);
		/* Keep room for the closing quote and the NUL. */
		if (n + len + 2 > size)
			break;
		memcpy(dst + n, esc, len);
		n += len;
	}
	dst[n++] = '"';
	dst[n] = '\0';
	return dst;
}
