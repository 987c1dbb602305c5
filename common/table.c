/*
 * What the command-line readers (logview, report) print and read alike:
 * the time arguments of --since and --until, and rows as tab-separated
 * values or JSON Lines.  Values come from outside (URLs built from
 * advertiser data, response bodies, sub_ids), so every byte that could
 * move a terminal's cursor or break a line is escaped, and the output is
 * always valid UTF-8.
 */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table.h"

void
table_init(struct table *t, int json)
{
	t->json = json;
	buf_init(&t->line);
}

void
table_free(struct table *t)
{
	buf_free(&t->line);
}

/* Exactly n decimal digits. */
static int
get_digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

static int
get_char(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* ".4", ".45" or ".456" in milliseconds; nothing is 0. */
static int
get_millis(const char **p, int *ms)
{
	int n;

	*ms = 0;
	if (get_char(p, '.') == -1)
		return 0;
	for (n = 0; n < 3 && **p >= '0' && **p <= '9'; n++, (*p)++)
		*ms = *ms * 10 + (**p - '0');
	if (n == 0)
		return -1;
	for (; n < 3; n++)
		*ms *= 10;
	return 0;
}

/* 2026-11-21, 2026-11-21T01:02:03Z or 2026-11-21T01:02:03.456Z (UTC). */
static int
parse_date(const char *s, int64_t *out)
{
	struct tm tm, check;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	time_t t;

	if (get_digits(&s, 4, &y) == -1 || get_char(&s, '-') == -1 ||
	    get_digits(&s, 2, &mo) == -1 || get_char(&s, '-') == -1 ||
	    get_digits(&s, 2, &d) == -1)
		return -1;
	if (*s != '\0' && (get_char(&s, 'T') == -1 ||
	    get_digits(&s, 2, &h) == -1 || get_char(&s, ':') == -1 ||
	    get_digits(&s, 2, &mi) == -1 || get_char(&s, ':') == -1 ||
	    get_digits(&s, 2, &sec) == -1 || get_millis(&s, &ms) == -1 ||
	    get_char(&s, 'Z') == -1 || *s != '\0'))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm() normalises 2026-02-30 into March: refuse what moved. */
	if (gmtime_r(&t, &check) == NULL || check.tm_year != y - 1900 ||
	    check.tm_mon != mo - 1 || check.tm_mday != d ||
	    check.tm_hour != h || check.tm_min != mi || check.tm_sec != sec)
		return -1;
	*out = (int64_t)t * 1000 + ms;
	return 0;
}

/* A time, or an age before now such as 15m (a bare number is refused). */
int
table_parse_time(const char *opt, const char *s, int64_t now, int64_t *out)
{
	size_t n = strlen(s);
	int64_t age;

	if (parse_date(s, out) == 0)
		return 0;
	if (n > 0 && s[n - 1] >= 'a' && s[n - 1] <= 'z' &&
	    parse_duration_ms(s, &age) == 0) {
		*out = now - age;
		return 0;
	}
	warnx("%s: bad time \"%s\" (use 2026-11-21T01:02:03.456Z, "
	    "2026-11-21T01:02:03Z, 2026-11-21 or an age: 30s, 15m, 2h, 7d)",
	    opt, s);
	return -1;
}

void
table_time(char *dst, size_t size, int64_t time_ms)
{
	int64_t sec = time_ms / 1000, ms = time_ms % 1000;
	const char *stamp;
	size_t stamp_len;

	if (ms < 0) {
		ms += 1000;
		sec--;
	}
	stamp_len = utc_second(sec, &stamp);
	/* Past year 9999 the stamp would not fit: show the number. */
	if (stamp_len == 0 || size < stamp_len + sizeof(".000Z")) {
		snprintf(dst, size, "%" PRId64, time_ms);
		return;
	}
	memcpy(dst, stamp, stamp_len);
	dst[stamp_len] = '.';
	dst[stamp_len + 1] = (char)('0' + ms / 100);
	dst[stamp_len + 2] = (char)('0' + ms / 10 % 10);
	dst[stamp_len + 3] = (char)('0' + ms % 10);
	dst[stamp_len + 4] = 'Z';
	dst[stamp_len + 5] = '\0';
}

/* C0, DEL and C1: what a terminal may act on rather than show. */
static int
is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/*
 * One TSV value.  Tab, newline, carriage return and backslash get their
 * C escapes; every other byte of a control character or of malformed
 * UTF-8 is written \xNN, so each value stays one field on one line and
 * the original bytes can be recovered.
 */
void
table_add_tsv(struct buf *b, const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	size_t len, i, run;
	uint32_t c;

	for (;;) {
		/*
		 * Plain ASCII goes through in one copy: most of a log is.
		 * The NUL at the end is a control character: it stops the run.
		 */
		for (run = 0; (unsigned char)(p[run] - 0x20) < 0x5f &&
		    p[run] != '\\'; run++)
			;
		if (run > 0) {
			buf_add(b, p, run);
			p += run;
		}
		if (*p == '\0')
			return;
		/* At most 4 bytes are read, and the NUL ends a sequence. */
		len = utf8_seq(p, 4, &c);
		if (len > 0 && !is_control(c) && c != '\\') {
			buf_add(b, p, len);
		} else if (len == 1 && (c == '\t' || c == '\n' || c == '\r' ||
		    c == '\\')) {
			buf_addc(b, '\\');
			buf_addc(b, c == '\t' ? 't' : c == '\n' ? 'n' :
			    c == '\r' ? 'r' : '\\');
		} else {
			if (len == 0)
				len = 1;
			for (i = 0; i < len; i++)
				buf_printf(b, "\\x%02x", p[i]);
		}
		p += len;
	}
}

/*
 * One JSON string.  Control characters are escaped (\n \r \t, else
 * \u00XX); a byte that is not part of well-formed UTF-8 becomes U+FFFD,
 * as JSON text must be Unicode.
 */
void
table_add_json(struct buf *b, const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	size_t n = strlen(value), len;
	uint32_t c;

	buf_addc(b, '"');
	while (n > 0) {
		if ((len = utf8_seq(p, n, &c)) == 0) {
			buf_adds(b, "\\ufffd");
			len = 1;
		} else if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", (char)c);
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c == '\r')
			buf_adds(b, "\\r");
		else if (c == '\t')
			buf_adds(b, "\\t");
		else if (is_control(c))
			buf_printf(b, "\\u%04x", (unsigned)c);
		else
			buf_add(b, p, len);
		p += len;
		n -= len;
	}
	buf_addc(b, '"');
}

/* Write the line buffer out in one go, so that a failure has one place. */
static int
write_line(struct table *o)
{
	size_t n = o->line.len;
	int rc;

	rc = fwrite(o->line.data, 1, n, stdout) == n;
	buf_reset(&o->line);
	if (rc)
		return TABLE_OK;
	if (errno == EPIPE)
		return TABLE_CLOSED;
	warn("stdout");
	return TABLE_ERROR;
}

/* Column i of a line: name is its JSON key; a number is not quoted. */
void
table_cell(struct table *o, size_t i, const char *name, const char *v,
    int number)
{
	if (v == NULL)
		v = "";
	if (o->json) {
		buf_addc(&o->line, i > 0 ? ',' : '{');
		buf_addc(&o->line, '"');
		buf_adds(&o->line, name);
		buf_addc(&o->line, '"');
		buf_addc(&o->line, ':');
		if (number)
			buf_adds(&o->line, v);
		else
			table_add_json(&o->line, v);
	} else {
		if (i > 0)
			buf_addc(&o->line, '\t');
		table_add_tsv(&o->line, v);
	}
}

int
table_end(struct table *o)
{
	if (o->json)
		buf_addc(&o->line, '}');
	buf_addc(&o->line, '\n');
	return write_line(o);
}

int
table_names(struct table *o, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(&o->line, '\t');
		buf_adds(&o->line, names[i]);
	}
	buf_addc(&o->line, '\n');
	return write_line(o);
}

