/*
 * libFuzzer: the template engine.  The first byte picks the context, the
 * bytes up to the next NUL are the template, and the NUL-separated rest
 * are values (after a few hostile ones of our own).  The harness splits
 * the template itself and checks what tmpl_compile accepts and every byte
 * tmpl_expand writes:
 *
 * - a header never gets a CR, LF or other control character;
 * - a URL never gets a space or control character, and values cannot
 *   change its scheme or host;
 * - in a URL or form body a value is only unreserved characters and %XX,
 *   and decodes back to itself; in JSON it stays inside its string.
 */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "tmpl.h"
#include "util.h"

#define VALUES_MAX	16

static const char *const hostile[] = {
	"a b\r\nX-Injected: yes", "\"},{\"evil\":\"\\", "%00&x=1?#/@:",
	"\t\x01\x7f\x80\xff", "http://evil.example/",
};

struct values {
	const char	*v[VALUES_MAX];
	size_t		 n;
};

/* The value of a macro: by its name, so the check finds the same one. */
static const char *
value_of(const struct values *vals, const char *name, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	h %= (uint32_t)vals->n + 1;
	return h == vals->n ? NULL : vals->v[h];
}

static const char *
lookup(void *arg, const char *name)
{
	return value_of(arg, name, strlen(name));
}

static int
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL;
}

static int
name_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '.' ||
	    c == '-';
}

/* The length of the name if src opens "{name}", else 0. */
static size_t
macro_at(const char *src)
{
	size_t n = 1;

	if (src[0] != '{' || !name_start((unsigned char)src[1]))
		return 0;
	while (name_char((unsigned char)src[n]))
		n++;
	return src[n] == '}' ? n - 1 : 0;
}

static int
hexdigit(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static int
unhex(int c)
{
	return c <= '9' ? c - '0' : c - 'A' + 10;
}

/* A percent-encoded value: unreserved and %XX only, and decodes to v. */
static size_t
check_percent(const char *out, const char *v)
{
	size_t i = 0;

	for (; *v != '\0'; v++) {
		if (is_unreserved((unsigned char)*v)) {
			CHECK(out[i] == *v);
			i++;
			continue;
		}
		CHECK(out[i] == '%' && hexdigit(out[i + 1]) &&
		    hexdigit(out[i + 2]));
		CHECK(unhex(out[i + 1]) * 16 + unhex(out[i + 2]) ==
		    (unsigned char)*v);
		i += 3;
	}
	return i;
}

/*
 * A JSON-escaped value: no quote, backslash or control left bare, and
 * well-formed UTF-8 kept while any other byte of 0x80 and up is U+FFFD.
 */
static size_t
check_json(const char *out, const char *v)
{
	static const char short_esc[] = "\"\"\\\\\nn\rr\tt\bb\ff";
	unsigned char c;
	const char *e;
	size_t i = 0, len;
	uint32_t cp;
	char u[8];

	for (; *v != '\0'; v++) {
		c = (unsigned char)*v;
		if (c >= 0x80) {
			len = utf8_seq((const unsigned char *)v, strlen(v), &cp);
			if (len == 0) {
				CHECK(strncmp(out + i, "\\ufffd", 6) == 0);
				i += 6;
			} else {
				CHECK(strncmp(out + i, v, len) == 0);
				i += len;
				v += len - 1;
			}
			continue;
		}
		if (c != '"' && c != '\\' && !is_ctl(c)) {
			CHECK(out[i] == *v);
			i++;
			continue;
		}
		CHECK(out[i] == '\\');
		for (e = short_esc; *e != '\0' && *e != *v; e += 2)
			;
		if (*e != '\0') {
			CHECK(out[i + 1] == e[1]);
			i += 2;
			continue;
		}
		snprintf(u, sizeof(u), "\\u%04x", c);
		CHECK(strncmp(out + i, u, 6) == 0);
		i += 6;
	}
	return i;
}

/* A header value: control characters became spaces, nothing else. */
static size_t
check_header(const char *out, const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		CHECK(out[i] == (is_ctl((unsigned char)v[i]) ? ' ' : v[i]));
	return i;
}

static size_t
check_value(enum tmpl_context ctx, const char *out, const char *v)
{
	switch (ctx) {
	case TMPL_URL:
	case TMPL_FORM:
		return check_percent(out, v);
	case TMPL_JSON:
		return check_json(out, v);
	case TMPL_HEADER:
		return check_header(out, v);
	}
	abort();
}

/* Where the scheme and host of a URL template end (tmpl.h's rule). */
static size_t
host_end(const char *src, size_t *scheme)
{
	const char *sep;

	*scheme = 0;
	if (strncasecmp(src, "http://", 7) == 0)
		*scheme = 7;
	else if (strncasecmp(src, "https://", 8) == 0)
		*scheme = 8;
	if (*scheme > 0)
		return *scheme + strcspn(src + *scheme, "/?#");
	if ((sep = strstr(src, "://")) != NULL)
		return (size_t)(sep - src);
	return 0;
}

/* Whether tmpl_compile must refuse src in ctx. */
static int
must_refuse(const char *src, enum tmpl_context ctx)
{
	size_t i, n, scheme, hostend = host_end(src, &scheme);
	unsigned char c;
	char *name;
	int known;

	for (i = 0; src[i] != '\0'; i++) {
		if ((n = macro_at(src + i)) > 0) {
			name = xstrndup(src + i + 1, n);
			known = tmpl_known_macro(name);
			free(name);
			if (!known || (ctx == TMPL_URL && i < hostend))
				return 1;
			i += n + 1;
			continue;
		}
		c = (unsigned char)src[i];
		if (ctx == TMPL_URL && (c == ' ' || is_ctl(c)))
			return 1;
		if (ctx == TMPL_HEADER && c != '\t' && is_ctl(c))
			return 1;
	}
	return ctx == TMPL_URL && (scheme == 0 || hostend == scheme);
}

/* Walk the expansion against the template, part by part. */
static void
check_expansion(const char *src, enum tmpl_context ctx,
    const struct values *vals, const char *out, size_t outlen)
{
	size_t i, n, o = 0, scheme;
	const char *v;

	for (i = 0; src[i] != '\0'; i++) {
		if ((n = macro_at(src + i)) > 0) {
			if ((v = value_of(vals, src + i + 1, n)) != NULL)
				o += check_value(ctx, out + o, v);
			i += n + 1;
			continue;
		}
		CHECK(out[o] == src[i]);
		o++;
	}
	CHECK(o == outlen);
	for (i = 0; i < outlen; i++) {
		if (ctx == TMPL_HEADER)
			CHECK(out[i] == '\t' || !is_ctl((unsigned char)out[i]));
		if (ctx == TMPL_URL)
			CHECK(out[i] != ' ' && !is_ctl((unsigned char)out[i]));
	}
	/* Values never move where a URL points. */
	if (ctx == TMPL_URL) {
		n = host_end(src, &scheme);
		CHECK(n > scheme && scheme > 0);
		CHECK(host_end(out, &i) == n && strncmp(out, src, n + 1) == 0);
	}
}

/* The template, then values separated by NUL bytes. */
static char *
split_input(const uint8_t *data, size_t size, struct values *vals)
{
	char *copy, *p, *end;

	copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	end = copy + size;
	vals->n = 0;
	for (p = copy + strlen(copy) + 1; p < end && vals->n < VALUES_MAX;
	    p += strlen(p) + 1)
		vals->v[vals->n++] = p;
	for (size_t i = 0; i < nitems(hostile) && vals->n < VALUES_MAX; i++)
		vals->v[vals->n++] = hostile[i];
	return copy;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum tmpl_context ctx;
	struct values vals;
	struct tmpl *t;
	struct buf out;
	char err[256], *src;

	if (size < 1)
		return 0;
	ctx = (enum tmpl_context)(data[0] % 4);
	src = split_input(data + 1, size - 1, &vals);
	err[0] = '\0';
	t = tmpl_compile(src, ctx, err, sizeof(err));
	CHECK((t == NULL) == must_refuse(src, ctx));
	if (t == NULL) {
		CHECK(err[0] != '\0');
		free(src);
		return 0;
	}
	CHECK(strcmp(tmpl_source(t), src) == 0 && tmpl_context(t) == ctx);
	buf_init(&out);
	buf_adds(&out, "kept");
	tmpl_expand(t, lookup, &vals, &out);
	CHECK(out.len >= 4 && memcmp(out.data, "kept", 4) == 0);
	CHECK(strlen(out.data) == out.len);
	check_expansion(src, ctx, &vals, out.data + 4, out.len - 4);
	buf_free(&out);
	tmpl_free(t);
	free(src);
	return 0;
}
