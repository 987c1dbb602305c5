#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tmpl.h"
#include "util.h"

#define PARAM_PREFIX	"param."

const char *const tmpl_macro_names[] = {
	"transaction_id", "external_transaction_id", "offer_id", "publisher",
	"sub_id", "sub_id_2", "sub_id_3", "sub_id_4", "sub_id_5", "source",
	"click_ip", "click_user_agent", "click_time", "event", "status",
	"reason", "order_id", "revenue", "payout", "currency",
	"purchase_value", "adv_sub_id", "adv_sub_id_2", "adv_sub_id_3",
	"adv_sub_id_4", "conversion_ip", "user_agent", "user_email",
	"device_id", "session_time", "conversion_time", "postback_id",
	"attempt", "timestamp",
	NULL
};

/*
 * A literal span points into the source; a macro name points into a second
 * copy of the source whose closing braces became NULs, so expansion can
 * hand names to the lookup function without copying them.
 */
struct part {
	const char	*str;
	size_t		 len;
	size_t		 off;		/* where it starts in the source */
	int		 macro;
};

struct tmpl {
	enum tmpl_context ctx;
	char		*src;
	char		*names;
	struct part	*parts;
	size_t		 nparts;
};

static void PRINTF_LIKE(3, 4)
set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
is_name_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
is_name_char(unsigned char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || c == '.' ||
	    c == '-';
}

static int
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * If p opens a well-formed reference "{name}", return the length of name;
 * otherwise 0, and the brace is literal text (JSON bodies are full of them).
 */
static size_t
macro_name_len(const char *p)
{
	size_t n = 1;

	if (p[0] != '{' || !is_name_start((unsigned char)p[1]))
		return 0;
	while (is_name_char((unsigned char)p[n]))
		n++;
	return p[n] == '}' ? n - 1 : 0;
}

int
tmpl_known_macro(const char *name)
{
	const char *p;
	size_t i;

	for (i = 0; tmpl_macro_names[i] != NULL; i++)
		if (strcmp(name, tmpl_macro_names[i]) == 0)
			return 1;
	if (strncmp(name, PARAM_PREFIX, strlen(PARAM_PREFIX)) != 0)
		return 0;
	p = name + strlen(PARAM_PREFIX);
	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (!is_name_char((unsigned char)*p))
			return 0;
	return 1;
}

static void
add_part(struct tmpl *t, const char *str, size_t len, size_t off, int macro)
{
	struct part *pt;

	if (len == 0 && !macro)
		return;
	pt = &t->parts[t->nparts++];
	pt->str = str;
	pt->len = len;
	pt->off = off;
	pt->macro = macro;
}

/* Each "{" can end a literal and add one macro: 2n + 1 parts at most. */
static size_t
max_parts(const char *src)
{
	size_t n = 1;

	for (; *src != '\0'; src++)
		if (*src == '{')
			n += 2;
	return n;
}

static int
split(struct tmpl *t, char *err, size_t errlen)
{
	size_t i, lit, n;

	t->parts = xreallocarray(NULL, max_parts(t->src), sizeof(*t->parts));
	for (i = lit = 0; t->src[i] != '\0'; i++) {
		if ((n = macro_name_len(t->src + i)) == 0)
			continue;
		t->names[i + 1 + n] = '\0';
		if (!tmpl_known_macro(t->names + i + 1)) {
			set_error(err, errlen, "unknown macro '{%s}'",
			    t->names + i + 1);
			return -1;
		}
		add_part(t, t->src + lit, i - lit, lit, 0);
		add_part(t, t->names + i + 1, n, i, 1);
		i += n + 1;
		lit = i + 1;
	}
	add_part(t, t->src + lit, i - lit, lit, 0);
	return 0;
}

/*
 * Bytes the context's literal text must not carry: a space or control
 * character breaks a URL, CR or LF would split a header.
 */
static const char *
literal_fault(enum tmpl_context ctx, unsigned char c)
{
	if (ctx == TMPL_URL && c == ' ')
		return "space";
	if (ctx == TMPL_URL && is_control(c))
		return "control character";
	if (ctx == TMPL_HEADER && c != '\t' && is_control(c))
		return "control character";
	return NULL;
}

static int
check_literals(const struct tmpl *t, char *err, size_t errlen)
{
	const struct part *pt;
	const char *fault;
	unsigned char c;
	size_t i, j;

	for (i = 0; i < t->nparts; i++) {
		pt = &t->parts[i];
		for (j = 0; !pt->macro && j < pt->len; j++) {
			c = (unsigned char)pt->str[j];
			if ((fault = literal_fault(t->ctx, c)) == NULL)
				continue;
			set_error(err, errlen, "%s (0x%02x) at offset %zu of "
			    "a %s", fault, c, pt->off + j,
			    t->ctx == TMPL_URL ? "URL" : "header");
			return -1;
		}
	}
	return 0;
}

static size_t
scheme_len(const char *s)
{
	if (strncasecmp(s, "http://", 7) == 0)
		return 7;
	if (strncasecmp(s, "https://", 8) == 0)
		return 8;
	return 0;
}

/*
 * A value must never choose where a postback goes, so no macro may sit in
 * the scheme or host (userinfo and port included).  Without a valid scheme,
 * "{offer_id}://x" still names the macro rather than the scheme.
 */
static int
check_url(const struct tmpl *t, char *err, size_t errlen)
{
	const char *sep;
	size_t i, scheme, hostend;

	scheme = scheme_len(t->src);
	if (scheme > 0)
		hostend = scheme + strcspn(t->src + scheme, "/?#");
	else if ((sep = strstr(t->src, "://")) != NULL)
		hostend = (size_t)(sep - t->src);
	else
		hostend = 0;
	for (i = 0; i < t->nparts; i++) {
		if (t->parts[i].macro && t->parts[i].off < hostend) {
			set_error(err, errlen, "macro '{%s}' not allowed in "
			    "the scheme or host of a URL", t->parts[i].str);
			return -1;
		}
	}
	if (scheme == 0) {
		set_error(err, errlen, "URL must start with http:// or "
		    "https://: '%s'", t->src);
		return -1;
	}
	if (hostend == scheme) {
		set_error(err, errlen, "URL has no host: '%s'", t->src);
		return -1;
	}
	return 0;
}

struct tmpl *
tmpl_compile(const char *src, enum tmpl_context ctx, char *err,
    size_t errlen)
{
	struct tmpl *t;

	t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	t->src = xstrdup(src);
	t->names = xstrdup(src);
	if (split(t, err, errlen) == -1 ||
	    check_literals(t, err, errlen) == -1 ||
	    (ctx == TMPL_URL && check_url(t, err, errlen) == -1)) {
		tmpl_free(t);
		return NULL;
	}
	return t;
}

void
tmpl_free(struct tmpl *t)
{
	if (t == NULL)
		return;
	free(t->parts);
	free(t->names);
	free(t->src);
	free(t);
}

const char *
tmpl_source(const struct tmpl *t)
{
	return t->src;
}

enum tmpl_context
tmpl_context(const struct tmpl *t)
{
	return t->ctx;
}

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* RFC 3986 unreserved characters stay; every other byte becomes %XX. */
void
tmpl_percent_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	size_t n;

	while (*s != '\0') {
		for (n = 0; s[n] != '\0' && is_unreserved((unsigned char)s[n]);
		    n++)
			;
		buf_add(b, s, n);
		s += n;
		if ((c = (unsigned char)*s) == '\0')
			break;
		buf_addc(b, '%');
		buf_addc(b, hex[c >> 4]);
		buf_addc(b, hex[c & 0xf]);
		s++;
	}
}

static int
json_plain(unsigned char c)
{
	return c != '"' && c != '\\' && !is_control(c);
}

static void
json_escape_char(struct buf *b, unsigned char c)
{
	switch (c) {
	case '"':
		buf_adds(b, "\\\"");
		break;
	case '\\':
		buf_adds(b, "\\\\");
		break;
	case '\n':
		buf_adds(b, "\\n");
		break;
	case '\r':
		buf_adds(b, "\\r");
		break;
	case '\t':
		buf_adds(b, "\\t");
		break;
	case '\b':
		buf_adds(b, "\\b");
		break;
	case '\f':
		buf_adds(b, "\\f");
		break;
	default:
		buf_printf(b, "\\u%04x", c);
		break;
	}
}

/*
 * For the inside of a JSON string.  Well-formed UTF-8 passes through, so
 * it stays readable; a byte that is not part of it becomes U+FFFD, as
 * JSON text must be Unicode (a Latin-1 User-Agent, a %ff in a sub_id).
 * DEL is escaped too as some parsers reject it.
 */
void
tmpl_json_escape(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), n;
	uint32_t c;

	while (left > 0) {
		if (p[0] >= 0x80) {
			if ((n = utf8_seq(p, left, &c)) == 0) {
				buf_adds(b, "\\ufffd");
				n = 1;
			} else
				buf_add(b, p, n);
		} else if (!json_plain(p[0])) {
			json_escape_char(b, p[0]);
			n = 1;
		} else {
			for (n = 1; n < left && p[n] < 0x80 &&
			    json_plain(p[n]); n++)
				;
			buf_add(b, p, n);
		}
		p += n;
		left -= n;
	}
}

/* A space, not nothing, so words a value kept apart stay apart. */
static void
header_clean(struct buf *b, const char *s)
{
	size_t n;

	while (*s != '\0') {
		for (n = 0; s[n] != '\0' && !is_control((unsigned char)s[n]);
		    n++)
			;
		buf_add(b, s, n);
		s += n;
		if (*s == '\0')
			break;
		buf_addc(b, ' ');
		s++;
	}
}

static void
add_value(struct buf *out, enum tmpl_context ctx, const char *v)
{
	switch (ctx) {
	case TMPL_URL:
	case TMPL_FORM:
		tmpl_percent_encode(out, v);
		break;
	case TMPL_JSON:
		tmpl_json_escape(out, v);
		break;
	case TMPL_HEADER:
		header_clean(out, v);
		break;
	}
}

void
tmpl_expand(const struct tmpl *t, tmpl_lookup_fn lookup, void *arg,
    struct buf *out)
{
	const struct part *pt;
	const char *v;
	size_t i;

	/* Leave out NUL-terminated even when every part is empty. */
	buf_add(out, "", 0);
	for (i = 0; i < t->nparts; i++) {
		pt = &t->parts[i];
		if (!pt->macro)
			buf_add(out, pt->str, pt->len);
		else if ((v = lookup(arg, pt->str)) != NULL)
			add_value(out, t->ctx, v);
	}
}
