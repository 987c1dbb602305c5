/*
 * Unit test of common/log.c: quoting of values by log_value() (also when
 * truncated into small buffers), and the one-line format of the lines
 * the log functions write to stderr.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

#define CANARY	0xa5

static const char *const values[] = {
	"plain", "a b", "say \"hi\"", "back\\slash", "k=v", "line\nbreak",
	"tab\there", "bell\x07", "\x01\x1f\x7f", "cr\r", "", "x",
	"caf\xc3\xa9", " ", "\"", "\\", "=",
	"a long plain value with no quoting needed at all 0123456789",
	"a long value \"with\" every \\ kind = of\tthing\n\x02 in it",
};

/* The hex value of c, or -1. */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Undo log_value's quoting of the n bytes at s into out (of size n + 1);
 * return -1 for a dangling or unknown escape.
 */
static int
unquote(const char *s, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (++i == n)
			return -1;
		switch (s[i]) {
		case '"':
		case '\\':
			out[o++] = s[i];
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'x':
			if (i + 2 >= n || hexval(s[i + 1]) < 0 ||
			    hexval(s[i + 2]) < 0)
				return -1;
			out[o++] = (char)(hexval(s[i + 1]) * 16 +
			    hexval(s[i + 2]));
			i += 2;
			break;
		default:
			return -1;
		}
	}
	out[o] = '\0';
	return 0;
}

/* Whether a rendering is safe on a key=value line: no break, no space. */
static int
one_token(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int quoted = *p == '"';

	for (; *p; p++) {
		if (*p < ' ' || *p == 0x7f)
			return 0;
		if (!quoted && (*p == ' ' || *p == '"' || *p == '='))
			return 0;
	}
	return 1;
}

static void
test_quoting(void)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "plain", "plain" },
		{ "x-1/2?q&r:s,t.u_v", "x-1/2?q&r:s,t.u_v" },
		{ "0", "0" },
		{ "a b", "\"a b\"" },
		{ " ", "\" \"" },
		{ "say \"hi\"", "\"say \\\"hi\\\"\"" },
		{ "\"", "\"\\\"\"" },
		{ "back\\slash", "\"back\\\\slash\"" },
		{ "k=v", "\"k=v\"" },
		{ "=", "\"=\"" },
		{ "line\nbreak", "\"line\\nbreak\"" },
		{ "tab\there", "\"tab\\there\"" },
		{ "cr\r", "\"cr\\x0d\"" },
		{ "\x01", "\"\\x01\"" },
		{ "\x1f", "\"\\x1f\"" },
		{ "\x7f", "\"\\x7f\"" },
		{ "bell\x07z", "\"bell\\x07z\"" },
		{ "caf\xc3\xa9 ok", "\"caf\xc3\xa9 ok\"" },
		{ "caf\xe9", "\"caf\\xe9\"" },
		{ "\xc3", "\"\\xc3\"" },
		{ "\xc3(", "\"\\xc3(\"" },
		{ "\xed\xa0\x80", "\"\\xed\\xa0\\x80\"" },
		{ "\xf0\x9f\x98\x80!", "\"\xf0\x9f\x98\x80!\"" },
		{ "\xff", "\"\\xff\"" },
		{ "", "\"\"" },
	};
	char dst[256];
	size_t i;

	for (i = 0; i < nitems(cases); i++)
		CHECK_STR(log_value(dst, sizeof(dst), cases[i].in),
		    cases[i].out);

	/* NULL renders as the empty value. */
	CHECK_STR(log_value(dst, sizeof(dst), NULL), "\"\"");

	/* The return value is dst. */
	CHECK(log_value(dst, sizeof(dst), "x") == dst);
	CHECK(log_value(dst, sizeof(dst), "a b") == dst);

	/* Bytes beyond ASCII are quoted and the line stays one token. */
	log_value(dst, sizeof(dst), "caf\xc3\xa9");
	CHECK(dst[0] == '"' && dst[strlen(dst) - 1] == '"');
	CHECK(one_token(dst));

	/* Every value in the table renders as one token. */
	for (i = 0; i < nitems(values); i++) {
		log_value(dst, sizeof(dst), values[i]);
		CHECK(one_token(dst));
	}
}

/*
 * Render v into a buffer of the given size inside a larger one filled
 * with a canary; check that nothing past size was touched, that the
 * result is NUL-terminated, that it is a faithful (if truncated)
 * rendering of v, and that a value whose full rendering fits is whole.
 */
static void
check_truncation(const char *v, size_t size, int *bad_overflow,
    int *bad_form, int *bad_short)
{
	unsigned char area[512];
	char full[512], decoded[512];
	const char *got;
	size_t i, len;

	log_value(full, sizeof(full), v);
	memset(area, CANARY, sizeof(area));
	got = log_value((char *)area, size, v);
	if (got != (char *)area)
		(*bad_form)++;
	for (i = size; i < sizeof(area); i++) {
		if (area[i] != CANARY) {
			(*bad_overflow)++;
			return;
		}
	}
	if (size == 0)
		return;
	if (memchr(area, '\0', size) == NULL) {
		(*bad_overflow)++;
		return;
	}
	len = strlen((char *)area);
	if (!one_token((char *)area)) {
		(*bad_form)++;
		return;
	}
	/* Fits whole: must be the full rendering. */
	if (strlen(full) < size && strcmp((char *)area, full) != 0) {
		if (*bad_short == 0)
			fprintf(stderr, "log_value into %zu bytes: %s, "
			    "although %s fits\n", size, (char *)area, full);
		(*bad_short)++;
	}
	if (full[0] != '"') {
		/* Plain: a prefix of the value. */
		if (strncmp((char *)area, v, len) != 0)
			(*bad_form)++;
		return;
	}
	/*
	 * Quoted: with room for two quotes, both are there, and between
	 * them complete escapes of a prefix of the value.  (A buffer of 2
	 * has room for one byte only.)
	 */
	if (size < 3)
		return;
	if (len < 2 || area[0] != '"' || area[len - 1] != '"' ||
	    unquote((char *)area + 1, len - 2, decoded) == -1 ||
	    strncmp(decoded, v, strlen(decoded)) != 0) {
		if (*bad_form == 0)
			fprintf(stderr, "log_value into %zu bytes: %s, "
			    "full %s\n", size, (char *)area, full);
		(*bad_form)++;
	}
}

static void
test_truncation(void)
{
	int bad_overflow = 0, bad_form = 0, bad_short = 0;
	char dst[4];
	size_t i, size;

	for (i = 0; i < nitems(values); i++)
		for (size = 0; size <= 80; size++)
			check_truncation(values[i], size, &bad_overflow,
			    &bad_form, &bad_short);
	CHECK(bad_overflow == 0);
	CHECK(bad_form == 0);
	if (bad_short)
		fprintf(stderr, "log_value: %d renderings truncated although "
		    "they fit\n", bad_short);
	CHECK(bad_short == 0);

	/* The tiny sizes, spelled out. */
	CHECK_STR(log_value(dst, 1, "plain"), "");
	CHECK_STR(log_value(dst, 1, "a b"), "");
	CHECK_STR(log_value(dst, 2, "plain"), "p");
	CHECK_STR(log_value(dst, 4, "plain"), "pla");
	CHECK_STR(log_value(dst, 3, "a b"), "\"\"");
	CHECK_STR(log_value(dst, 3, ""), "\"\"");
	CHECK_STR(log_value(dst, 4, "x"), "x");
	/* Size 0 writes nothing at all. */
	dst[0] = 'Z';
	log_value(dst, 0, "a b");
	CHECK(dst[0] == 'Z');
}

static char capture_path[64];
static int capture_saved = -1;

/* Send stderr to a new temporary file until capture_end(). */
static int
capture_begin(void)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(capture_path, sizeof(capture_path), "%s/test_log.XXXXXX",
	    dir != NULL && strlen(dir) < 40 ? dir : "/tmp");
	if ((fd = mkstemp(capture_path)) == -1)
		return -1;
	fflush(stderr);
	capture_saved = dup(STDERR_FILENO);
	if (capture_saved == -1 || dup2(fd, STDERR_FILENO) == -1) {
		close(fd);
		unlink(capture_path);
		return -1;
	}
	close(fd);
	return 0;
}

/* Restore stderr; return what was written, newly allocated. */
static char *
capture_end(size_t *lenp)
{
	struct buf b;
	char chunk[4096];
	size_t n;
	FILE *f;

	fflush(stderr);
	dup2(capture_saved, STDERR_FILENO);
	close(capture_saved);
	capture_saved = -1;
	buf_init(&b);
	if ((f = fopen(capture_path, "r")) != NULL) {
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_add(&b, chunk, n);
		fclose(f);
	}
	unlink(capture_path);
	*lenp = b.len;
	return buf_release(&b);
}

static size_t
count_char(const char *s, size_t len, char c)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (s[i] == c)
			n++;
	return n;
}

/* "2026-11-21T01:02:03.456Z " */
static int
has_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
	size_t i;

	for (i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'd') {
			if (!isdigit((unsigned char)s[i]))
				return 0;
		} else if (s[i] != shape[i])
			return 0;
	}
	return 1;
}

static void
test_log_line(void)
{
	char prefix[64], *out, *big;
	size_t len;

	log_init("testlog", 0, 1);
	snprintf(prefix, sizeof(prefix), " testlog[%ld]: ", (long)getpid());

	CHECK(log_enabled(LOG_LEVEL_ERROR));
	CHECK(log_enabled(LOG_LEVEL_WARN));
	CHECK(log_enabled(LOG_LEVEL_INFO));
	CHECK(!log_enabled(LOG_LEVEL_DEBUG));

	if (capture_begin() == -1) {
		CHECK(!"cannot capture stderr");
		return;
	}
	log_info("event=test n=%d what=%s", 5, "x");
	out = capture_end(&len);
	CHECK(len > 0 && out[len - 1] == '\n');
	CHECK(count_char(out, len, '\n') == 1);
	CHECK(strlen(out) == len);
	CHECK(has_timestamp(out));
	CHECK(strstr(out, prefix) != NULL);
	CHECK(strstr(out, "level=info event=test n=5 what=x\n") != NULL);
	free(out);

	/* Other levels; debug only once verbose. */
	if (capture_begin() == -1) {
		CHECK(!"cannot capture stderr");
		return;
	}
	log_warn("w=1");
	log_error("e=2");
	log_debug("d=3");
	out = capture_end(&len);
	CHECK(count_char(out, len, '\n') == 2);
	CHECK(strstr(out, "level=warn w=1\n") != NULL);
	CHECK(strstr(out, "level=error e=2\n") != NULL);
	CHECK(strstr(out, "d=3") == NULL);
	free(out);

	/* An instance number goes after the name; verbose enables debug. */
	log_init("testlog", 1, 1);
	log_set_instance(3);
	CHECK(log_enabled(LOG_LEVEL_DEBUG));
	snprintf(prefix, sizeof(prefix), " testlog-3[%ld]: level=debug d=4\n",
	    (long)getpid());
	if (capture_begin() == -1) {
		CHECK(!"cannot capture stderr");
		return;
	}
	log_debug("d=%d", 4);
	out = capture_end(&len);
	CHECK(count_char(out, len, '\n') == 1);
	CHECK(has_timestamp(out));
	CHECK(strstr(out, prefix) != NULL);
	free(out);
	log_set_instance(-1);

	/* A very long message is cut, but stays one line. */
	big = xmalloc(20001);
	memset(big, 'm', 20000);
	big[20000] = '\0';
	if (capture_begin() == -1) {
		CHECK(!"cannot capture stderr");
		free(big);
		return;
	}
	log_info("big=%s", big);
	out = capture_end(&len);
	CHECK(len > 4000 && len < 20000);
	CHECK(count_char(out, len, '\n') == 1 && out[len - 1] == '\n');
	CHECK(strstr(out, "level=info big=mmm") != NULL);
	free(out);
	free(big);
}

static void
test_fatal(void)
{
	char *out;
	size_t len;
	pid_t pid;
	int status = 0;

	log_init("testlog", 0, 1);
	if (capture_begin() == -1) {
		CHECK(!"cannot capture stderr");
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == 0)
		fatal("cannot %s", "continue");
	if (pid > 0)
		waitpid(pid, &status, 0);
	out = capture_end(&len);
	CHECK(pid > 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	CHECK(strstr(out, "level=error cannot continue\n") != NULL);
	free(out);
}

/* Held lines go out at the release, in order; an error goes at once. */
static void
test_hold(void)
{
	char *out, *a, *b, *e;
	size_t len;
	int i;

	log_init("testlog", 0, 1);
	if (capture_begin() == -1) {
		CHECK(!"cannot capture stderr");
		return;
	}
	log_hold();
	log_info("h=1");
	log_warn("h=2");
	out = capture_end(&len);
	CHECK(len == 0);
	free(out);
	if (capture_begin() == -1) {
		CHECK(!"cannot capture stderr");
		return;
	}
	log_error("h=3");	/* the held lines before it */
	log_info("h=4");
	log_release();
	log_info("h=5");
	out = capture_end(&len);
	CHECK(count_char(out, len, '\n') == 5);
	a = strstr(out, "h=1");
	b = strstr(out, "h=2");
	e = strstr(out, "h=3");
	CHECK(a && b && e && a < b && b < e);
	CHECK(strstr(out, "h=4") > e && strstr(out, "h=5") > strstr(out, "h=4"));
	free(out);

	/* More than the hold buffer: written as it fills, none lost. */
	if (capture_begin() == -1) {
		CHECK(!"cannot capture stderr");
		return;
	}
	log_hold();
	for (i = 0; i < 2000; i++)
		log_info("n=%d pad=%0100d", i, 0);
	log_release();
	out = capture_end(&len);
	CHECK(count_char(out, len, '\n') == 2000);
	CHECK(strstr(out, "n=1999 ") != NULL);
	free(out);
}

int
main(void)
{
	test_quoting();
	test_truncation();
	test_log_line();
	test_fatal();
	test_hold();
	return check_done("log");
}
