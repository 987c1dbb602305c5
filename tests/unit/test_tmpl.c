#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpl.h"
#include "util.h"

#define HOSTILE	"a b&c=d#e%f?g/h+i\r\nj\"k\\l\x01m\x1fn\x7fo\xc3\xa9p'<>{}"

struct kv {
	const char	*name;
	const char	*value;
};

static const struct kv values[] = {
	{ "transaction_id", "abc" },
	{ "offer_id", "42" },
	{ "sub_id", HOSTILE },
	{ "sub_id_2", "" },
	{ "param.clickId", "c 1" },
	{ "param.a.b-c", "x" },
	{ NULL, NULL },
};

static char *last;
static char err[256];

static const char *
lookup(void *arg, const char *name)
{
	const struct kv *kv = arg;

	for (; kv->name != NULL; kv++)
		if (strcmp(kv->name, name) == 0)
			return kv->value;
	return NULL;
}

/* The expansion of src, or NULL if it does not compile; freed next call. */
static const char *
expand_with(const char *src, enum tmpl_context ctx, const struct kv *kv)
{
	struct tmpl *t;
	struct buf b;

	free(last);
	last = NULL;
	if ((t = tmpl_compile(src, ctx, err, sizeof(err))) == NULL)
		return NULL;
	buf_init(&b);
	tmpl_expand(t, lookup, (void *)(uintptr_t)kv, &b);
	tmpl_free(t);
	last = buf_release(&b);
	return last;
}

static const char *
expand(const char *src, enum tmpl_context ctx)
{
	return expand_with(src, ctx, values);
}

/* Whether src is refused with an error that mentions want. */
static int
refused(const char *src, enum tmpl_context ctx, const char *want)
{
	struct tmpl *t;

	err[0] = '\0';
	if ((t = tmpl_compile(src, ctx, err, sizeof(err))) != NULL) {
		tmpl_free(t);
		return 0;
	}
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
		return 0;
	}
	return 1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undo percent-encoding, refusing anything but unreserved bytes and %XX. */
static char *
percent_decode(const char *s)
{
	struct buf b;
	int hi, lo;

	buf_init(&b);
	for (; *s != '\0'; s++) {
		if (*s != '%') {
			if (strchr("-._~", *s) == NULL &&
			    !(*s >= 'A' && *s <= 'Z') &&
			    !(*s >= 'a' && *s <= 'z') &&
			    !(*s >= '0' && *s <= '9'))
				goto bad;
			buf_addc(&b, *s);
			continue;
		}
		if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
			goto bad;
		buf_addc(&b, (char)(hi << 4 | lo));
		s += 2;
	}
	return buf_release(&b);
bad:
	buf_free(&b);
	return NULL;
}

static void
test_literal_braces(void)
{
	CHECK_STR(expand("{\"tx\":\"{transaction_id}\"}", TMPL_JSON),
	    "{\"tx\":\"abc\"}");
	CHECK_STR(expand("{ }", TMPL_JSON), "{ }");
	CHECK_STR(expand("{}", TMPL_JSON), "{}");
	CHECK_STR(expand("{abc", TMPL_JSON), "{abc");
	CHECK_STR(expand("{1a}", TMPL_JSON), "{1a}");
	CHECK_STR(expand("{a b}", TMPL_JSON), "{a b}");
	CHECK_STR(expand("{{offer_id}}", TMPL_FORM), "{42}");
	CHECK_STR(expand("{", TMPL_FORM), "{");
	CHECK_STR(expand("}", TMPL_FORM), "}");
	CHECK_STR(expand("", TMPL_FORM), "");
	CHECK_STR(expand("{offer_id}{transaction_id}", TMPL_FORM), "42abc");
	CHECK_STR(expand("x={offer_id}&y={transaction_id}&z",
	    TMPL_FORM), "x=42&y=abc&z");
}

static void
test_unknown(void)
{
	CHECK(refused("x={tx_id}", TMPL_FORM, "unknown macro '{tx_id}'"));
	CHECK(refused("{\"a\":\"{Offer_id}\"}", TMPL_JSON,
	    "unknown macro '{Offer_id}'"));
	CHECK(refused("{param.}", TMPL_FORM, "unknown macro '{param.}'"));
	CHECK(refused("{param}", TMPL_HEADER, "unknown macro '{param}'"));
	CHECK(refused("{sub_id_6}", TMPL_HEADER, "'{sub_id_6}'"));
	CHECK(refused("https://x/{adv_sub_id_5}", TMPL_URL,
	    "'{adv_sub_id_5}'"));
	/* A NULL err buffer is allowed. */
	CHECK(tmpl_compile("{nope}", TMPL_FORM, NULL, 0) == NULL);
}

static void
test_known(void)
{
	struct tmpl *t;
	char src[128];
	size_t i;

	for (i = 0; tmpl_macro_names[i] != NULL; i++) {
		CHECK(tmpl_known_macro(tmpl_macro_names[i]));
		snprintf(src, sizeof(src), "https://h/?v={%s}",
		    tmpl_macro_names[i]);
		t = tmpl_compile(src, TMPL_URL, err, sizeof(err));
		CHECK(t != NULL);
		tmpl_free(t);
	}
	CHECK(i == 34);
	CHECK(tmpl_known_macro("param.clickId"));
	CHECK(tmpl_known_macro("param.a.b-c_9"));
	CHECK(!tmpl_known_macro("param."));
	CHECK(!tmpl_known_macro("param.a b"));
	CHECK(!tmpl_known_macro("param"));
	CHECK(!tmpl_known_macro("tx_id"));
	CHECK(!tmpl_known_macro(""));
	CHECK_STR(expand("{param.clickId}|{param.a.b-c}|{param.none}",
	    TMPL_HEADER), "c 1|x|");
}

static void
test_missing(void)
{
	CHECK_STR(expand("a{order_id}b{sub_id_2}c", TMPL_JSON), "abc");
	CHECK_STR(expand("{order_id}", TMPL_HEADER), "");
	CHECK_STR(expand("https://h/p?o={order_id}&t={transaction_id}",
	    TMPL_URL), "https://h/p?o=&t=abc");
}

static void
test_url(void)
{
	CHECK_STR(expand("https://example.com/p/{offer_id}?s={sub_id}#f",
	    TMPL_URL), "https://example.com/p/42?s=a%20b%26c%3Dd%23e%25f"
	    "%3Fg%2Fh%2Bi%0D%0Aj%22k%5Cl%01m%1Fn%7Fo%C3%A9p%27%3C%3E%7B%7D#f");
	CHECK_STR(expand("HTTP://h?x={transaction_id}", TMPL_URL),
	    "HTTP://h?x=abc");
	CHECK_STR(expand("HttpS://h#{transaction_id}", TMPL_URL),
	    "HttpS://h#abc");
	CHECK_STR(expand("http://h:8080/{param.clickId}", TMPL_URL),
	    "http://h:8080/c%201");
	CHECK_STR(expand("http://h/{x", TMPL_URL), "http://h/{x");
	CHECK(refused("http://h/{ x", TMPL_URL, "space"));
	CHECK(refused("http://{offer_id}.example.com/", TMPL_URL,
	    "macro '{offer_id}' not allowed in the scheme or host"));
	CHECK(refused("{offer_id}://x", TMPL_URL,
	    "macro '{offer_id}' not allowed in the scheme or host"));
	CHECK(refused("https://example.com{sub_id}/", TMPL_URL,
	    "macro '{sub_id}' not allowed"));
	CHECK(refused("https://u:{sub_id}@example.com/", TMPL_URL,
	    "macro '{sub_id}' not allowed"));
	CHECK(refused("https://example.com:{sub_id}", TMPL_URL,
	    "macro '{sub_id}' not allowed"));
	CHECK(refused("ftp://example.com/", TMPL_URL,
	    "URL must start with http:// or https://: 'ftp://example.com/'"));
	CHECK(refused("example.com/{offer_id}", TMPL_URL,
	    "URL must start with http:// or https://"));
	CHECK(refused("{offer_id}", TMPL_URL, "must start with http://"));
	CHECK(refused("", TMPL_URL, "must start with http://"));
	CHECK(refused("http:/x", TMPL_URL, "must start with http://"));
	CHECK(refused("http://", TMPL_URL, "no host"));
	CHECK(refused("https:///p", TMPL_URL, "no host"));
	CHECK(refused("https://?x={offer_id}", TMPL_URL, "no host"));
	CHECK(refused("https://h/a b", TMPL_URL, "space"));
	CHECK(refused("https://h/a\tb", TMPL_URL, "control character"));
	CHECK(refused("https://h/\r\n", TMPL_URL, "control character"));
	CHECK(refused("https://h/\x7f", TMPL_URL, "control character"));
	/* A space inside a value is encoded, not refused. */
	CHECK_STR(expand("https://h/?c={param.clickId}", TMPL_URL),
	    "https://h/?c=c%201");
}

static void
test_percent_roundtrip(void)
{
	struct buf b;
	char all[256], *dec;
	int i;

	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	buf_init(&b);
	tmpl_percent_encode(&b, all);
	dec = percent_decode(b.data);
	CHECK(dec != NULL && strcmp(dec, all) == 0);
	CHECK(strstr(b.data, "%0C%0D%0E") != NULL);
	CHECK(strstr(b.data, "-.") != NULL);
	free(dec);
	buf_reset(&b);
	tmpl_percent_encode(&b, "AZaz09-._~");
	CHECK_STR(b.data, "AZaz09-._~");
	buf_reset(&b);
	tmpl_percent_encode(&b, "");
	CHECK(b.len == 0);
	buf_free(&b);
}

static void
test_form(void)
{
	CHECK_STR(expand("tx={transaction_id}&s={sub_id}", TMPL_FORM),
	    "tx=abc&s=a%20b%26c%3Dd%23e%25f%3Fg%2Fh%2Bi%0D%0Aj%22k%5Cl%01m"
	    "%1Fn%7Fo%C3%A9p%27%3C%3E%7B%7D");
	/* Form literal text is the user's own business. */
	CHECK_STR(expand("a b\n{offer_id}", TMPL_FORM), "a b\n42");
}

static void
test_json(void)
{
	struct buf b;
	char ctl[2];
	int c;

	CHECK_STR(expand("{\"s\":\"{sub_id}\"}", TMPL_JSON),
	    "{\"s\":\"a b&c=d#e%f?g/h+i\\r\\nj\\\"k\\\\l\\u0001m\\u001fn"
	    "\\u007fo\xc3\xa9p'<>{}\"}");
	/* JSON literal text may span lines. */
	CHECK_STR(expand("{\n\t\"o\": \"{offer_id}\"\n}", TMPL_JSON),
	    "{\n\t\"o\": \"42\"\n}");
	buf_init(&b);
	tmpl_json_escape(&b, "\b\f\t\n\r\x0b\"\\/");
	CHECK_STR(b.data, "\\b\\f\\t\\n\\r\\u000b\\\"\\\\/");
	/* No raw control character survives. */
	ctl[1] = '\0';
	for (c = 1; c < 0x20; c++) {
		buf_reset(&b);
		ctl[0] = (char)c;
		tmpl_json_escape(&b, ctl);
		CHECK(b.len >= 2 && b.data[0] == '\\');
	}
	/*
	 * Well-formed UTF-8 stays; a Latin-1 byte, a lone continuation, a
	 * sequence cut short, an overlong form and a surrogate become U+FFFD.
	 */
	buf_reset(&b);
	tmpl_json_escape(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|Mozilla\xe9|"
	    "\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80");
	CHECK_STR(b.data, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|Mozilla\\ufffd|"
	    "\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd");
	buf_free(&b);
}

static void
test_header(void)
{
	const char *out;
	struct kv kv[2];
	char all[256];
	size_t i;
	int bad;

	CHECK_STR(expand("X {sub_id}", TMPL_HEADER),
	    "X a b&c=d#e%f?g/h+i  j\"k\\l m n o\xc3\xa9p'<>{}");
	CHECK_STR(expand("Bearer\t{offer_id}", TMPL_HEADER), "Bearer\t42");
	CHECK(refused("a\r\nX-Evil: 1", TMPL_HEADER, "control character"));
	CHECK(refused("a\nb", TMPL_HEADER, "(0x0a)"));
	CHECK(refused("a\x7f", TMPL_HEADER, "control character"));
	CHECK(refused("{offer_id}\x01", TMPL_HEADER, "offset 10"));
	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	kv[0].name = "user_agent";
	kv[0].value = all;
	kv[1].name = NULL;
	out = expand_with("{user_agent}\t", TMPL_HEADER, kv);
	CHECK(out != NULL && strlen(out) == 256);
	for (bad = 0, i = 0; out != NULL && out[i] != '\0'; i++)
		if (out[i] == '\r' || out[i] == '\n' ||
		    (((unsigned char)out[i] < 0x20 || out[i] == 0x7f) &&
		    i != 255))
			bad++;
	CHECK(bad == 0);
}

static void
test_accessors(void)
{
	struct tmpl *t;

	t = tmpl_compile("https://h/{offer_id}", TMPL_URL, err, sizeof(err));
	CHECK(t != NULL);
	if (t != NULL) {
		CHECK_STR(tmpl_source(t), "https://h/{offer_id}");
		CHECK(tmpl_context(t) == TMPL_URL);
	}
	tmpl_free(t);
	tmpl_free(NULL);
}

static void
test_append(void)
{
	struct tmpl *t;
	struct buf b;

	t = tmpl_compile("{offer_id}", TMPL_FORM, err, sizeof(err));
	CHECK(t != NULL);
	if (t == NULL)
		return;
	buf_init(&b);
	buf_adds(&b, "x=");
	tmpl_expand(t, lookup, (void *)(uintptr_t)values, &b);
	tmpl_expand(t, lookup, (void *)(uintptr_t)values, &b);
	CHECK_STR(b.data, "x=4242");
	buf_free(&b);
	tmpl_free(t);
}

int
main(void)
{
	test_literal_braces();
	test_unknown();
	test_known();
	test_missing();
	test_url();
	test_percent_roundtrip();
	test_form();
	test_json();
	test_header();
	test_accessors();
	test_append();
	free(last);
	return check_done("tmpl");
}
