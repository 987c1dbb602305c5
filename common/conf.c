/*
 * The postline.conf(5) reader.  The file is read whole, cut into
 * directives (words, quotes, comments, continuation lines), and each
 * directive is handed to one handler through a table.  Every error is
 * reported and parsing goes on, so one run of "-n" shows them all.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "record.h"
#include "tmpl.h"
#include "util.h"

#define CONF_MAX_SIZE	(4 << 20)
#define ID_MAX		64
#define TOKEN_MAX	128
#define TEXT_MAX	128
#define ERR_MAX		400	/* so a long word cannot flood */
#define MAP_SIZE_MIN	(1ULL << 20)
#define PER_HOST_MAX	100000
#define RETRY_MAX	64
#define IPC_PATH_MAX	107	/* sun_path less its NUL */
#define SIGN_KEY_MIN	16
#define OPTS_ABORTED	(1U << 31)	/* parse_options() gave up */

struct parser;
struct directive;

typedef void directive_fn(struct parser *, const struct directive *,
    char **, size_t);

struct directive {
	const char	*name;		/* one or two words */
	int		 arg;		/* service or retention kind */
	int		 repeat;	/* may appear more than once */
	int		 nargs;		/* words after it, -1: any */
	directive_fn	*fn;
};

static directive_fn dir_data_dir, dir_global_token, dir_offer, dir_alias,
    dir_postback, dir_retention, dir_listen, dir_trust_proxy,
    dir_spool_max, dir_public_url, dir_metrics, dir_map_size,
    dir_endpoint, dir_grace, dir_max_per_host, dir_postbacks_max;


static const struct directive directives[] = {
	{ "data-dir",		0, 0, 1, dir_data_dir },
	{ "global-token",	0, 0, 1, dir_global_token },
	{ "offer",		0, 1, -1, dir_offer },
	{ "alias",		0, 1, 3, dir_alias },
	{ "postback",		0, 1, -1, dir_postback },
	{ "retention clicks",	RETENTION_CLICKS, 0, 1, dir_retention },
	{ "retention logs",	RETENTION_LOGS, 0, 1, dir_retention },
	{ "retention postbacks", RETENTION_POSTBACKS, 0, 1, dir_retention },
	{ "retention reports",	RETENTION_REPORTS, 0, 1, dir_retention },
	{ "ingest listen",	SERVICE_INGEST, 1, 1, dir_listen },
	{ "ingest trust-proxy",	SERVICE_INGEST, 1, 1, dir_trust_proxy },
	{ "ingest spool-max",	SERVICE_INGEST, 0, 1, dir_spool_max },
	{ "ingest postbacks-max", SERVICE_INGEST, 0, 1, dir_postbacks_max },
	{ "ingest public-url",	SERVICE_INGEST, 0, 1, dir_public_url },
	{ "ingest metrics",	SERVICE_INGEST, 0, 1, dir_metrics },
	{ "ingest map-size",	SERVICE_INGEST, 0, 1, dir_map_size },
	{ "matcher endpoint",	SERVICE_MATCHER, 1, 1, dir_endpoint },
	{ "matcher grace",	SERVICE_MATCHER, 0, 1, dir_grace },
	{ "matcher metrics",	SERVICE_MATCHER, 0, 1, dir_metrics },
	{ "matcher map-size",	SERVICE_MATCHER, 0, 1, dir_map_size },
	{ "firer endpoint",	SERVICE_FIRER, 1, 1, dir_endpoint },
	{ "firer max-per-host",	SERVICE_FIRER, 0, 1, dir_max_per_host },
	{ "firer metrics",	SERVICE_FIRER, 0, 1, dir_metrics },
	{ "firer map-size",	SERVICE_FIRER, 0, 1, dir_map_size },
};

struct words {
	char	**v;
	size_t	  n;
	size_t	  cap;
};

struct lexer {
	const char	*p;
	const char	*end;
	int		 line;
};

struct parser {
	const char	*file;
	int		 line;		/* where the directive began */
	struct buf	*errors;
	int		 nerrors;
	struct conf	*conf;
	int		 seen[nitems(directives)];
	int		*offer_lines;
	int		*alias_lines;
	const char	*what;		/* for oerr(): "offer", ... */
	const char	*id;
};

/* A key-value option of an offer or postback line. */
struct option {
	const char	*name;
	int		 repeat;
	int		(*fn)(struct parser *, void *, const char *);
};

/* A rule being built: the body waits until every header is known. */
struct rule_build {
	struct rule	 r;
	const char	*body;
};

static const char *const service_names[SERVICE_END] = {
	"ingest", "matcher", "firer"
};

/* The parameter names ingest knows; an alias must land on one of them. */
static const char *const our_names[] = {
	"transaction_id", "offer_id", "publisher", "sub_id", "sub_id_2",
	"sub_id_3", "sub_id_4", "sub_id_5", "external_transaction_id",
	"source", "secure", "event", "status", "reason", "order_id",
	"revenue", "payout", "currency", "purchase_value", "adv_sub_id",
	"adv_sub_id_2", "adv_sub_id_3", "adv_sub_id_4", "user_email",
	"device_id", "conversion_ip", "user_agent", "session_time",
};

struct name_value {
	const char	*name;
	int		 value;
};

/* Our own tables, as conf must not link the record module. */
static const struct name_value event_types[] = {
	{ "click", EVENT_CLICK }, { "impression", EVENT_IMPRESSION },
	{ "conversion", EVENT_CONVERSION }, { "event", EVENT_EVENT },
};

static const struct name_value statuses[] = {
	{ "approved", STATUS_APPROVED }, { "pending", STATUS_PENDING },
	{ "rejected", STATUS_REJECTED }, { "any", RULE_STATUS_ANY },
};

/*
 * Errors.
 */

static void
verr(struct parser *ps, int prefixed, const char *fmt, va_list ap)
{
	struct buf msg;
	size_t i;
	unsigned char c;

	buf_init(&msg);
	if (prefixed)
		buf_printf(&msg, "%s '%s': ", ps->what, ps->id);
	buf_vprintf(&msg, fmt, ap);
	buf_printf(ps->errors, "%s:%d: ", ps->file, ps->line);
	/* Words may hold escaped newlines; an error stays one line. */
	for (i = 0; i < msg.len && i < ERR_MAX; i++) {
		c = (unsigned char)msg.data[i];
		buf_addc(ps->errors, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
	if (msg.len > ERR_MAX)
		buf_adds(ps->errors, "...");
	buf_addc(ps->errors, '\n');
	buf_free(&msg);
	ps->nerrors++;
}

static void PRINTF_LIKE(2, 3)
perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(ps, 0, fmt, ap);
	va_end(ap);
}

/* An error inside an offer or postback line, prefixed with its id. */
static void PRINTF_LIKE(2, 3)
oerr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(ps, 1, fmt, ap);
	va_end(ap);
}

/*
 * Small containers.
 */

/* Split "a,b,c"; return -1 if an item is empty (the rest still added). */
static int
split_list(const char *s, struct strlist *l)
{
	char *item;
	size_t n;
	int rc = 0;

	for (;;) {
		n = strcspn(s, ",");
		if (n == 0)
			rc = -1;
		else {
			item = xstrndup(s, n);
			strlist_add(l, item);
			free(item);
		}
		if (s[n] == '\0')
			return rc;
		s += n + 1;
	}
}

static void
words_add(struct words *w, char *s)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->v = xreallocarray(w->v, w->cap, sizeof(*w->v));
	}
	w->v[w->n++] = s;
}

static void
words_clear(struct words *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		free(w->v[i]);
	w->n = 0;
}

static int
lookup_name(const struct name_value *t, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return t[i].value;
	return -1;
}

/*
 * Word syntax.
 */

static int
valid_chars(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s), i;
	unsigned char c;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (strchr(extra, c) == NULL)
			return 0;
	}
	return 1;
}

static int
valid_id(const char *s)
{
	return valid_chars(s, ID_MAX, "_.-");
}

static int
valid_token(const char *s)
{
	return valid_chars(s, TOKEN_MAX, "_.~-");
}

/* RFC 9110 field names. */
static int
valid_http_token(const char *s)
{
	return valid_chars(s, TOKEN_MAX, "!#$%&'*+-.^_`|~");
}

/* Free text, such as a rejection reason. */
static int
valid_text(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > TEXT_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* An advertiser's parameter name: what can stand left of '=' in a query. */
static int
valid_param(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > TEXT_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || strchr("&=#", s[i]))
			return 0;
	return 1;
}

static int
valid_port(const char *s)
{
	uint64_t port;

	return parse_uint(s, 65535, &port) == 0 && port > 0;
}

/* "a.b.c.d:port", "[v6]:port" or "localhost:port". */
static int
valid_addr_port(const char *s)
{
	const char *colon = strrchr(s, ':');
	char host[INET6_ADDRSTRLEN + 2];
	unsigned char addr[16];
	size_t len;

	if (colon == NULL || !valid_port(colon + 1))
		return 0;
	len = (size_t)(colon - s);
	if (len == 0 || len >= sizeof(host))
		return 0;
	memcpy(host, s, len);
	host[len] = '\0';
	if (strcmp(host, "localhost") == 0)
		return 1;
	if (host[0] == '[' && host[len - 1] == ']') {
		host[len - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, addr) == 1;
	}
	return inet_pton(AF_INET, host, addr) == 1;
}

/* What ZeroMQ accepts after tcp://: "*", an address or a host name. */
static int
valid_zmq_host(char *host)
{
	unsigned char addr[16];
	size_t len = strlen(host);

	if (strcmp(host, "*") == 0)
		return 1;
	if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
		host[len - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, addr) == 1;
	}
	/* All digits and dots is meant as an address: check it as one. */
	if (strspn(host, "0123456789.") == len)
		return inet_pton(AF_INET, host, addr) == 1;
	return len <= 253 && valid_chars(host, 253, ".-") && host[0] != '.' &&
	    host[0] != '-';
}

static int
valid_endpoint(const char *s)
{
	const char *colon;
	char *host;
	int ok;

	if (strncmp(s, "ipc://", 6) == 0)
		return s[6] != '\0' && strlen(s + 6) <= IPC_PATH_MAX;
	if (strncmp(s, "tcp://", 6) != 0)
		return 0;
	s += 6;
	if ((colon = strrchr(s, ':')) == NULL || colon == s ||
	    !valid_port(colon + 1))
		return 0;
	host = xstrndup(s, (size_t)(colon - s));
	ok = valid_zmq_host(host);
	free(host);
	return ok;
}

/* "10.0.0.0/8", "2001:db8::/32", or an address alone for one host. */
static int
parse_cidr(const char *s, struct cidr *c)
{
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN];
	size_t len = slash ? (size_t)(slash - s) : strlen(s), i;
	unsigned max, bits;
	uint64_t prefix;

	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, s, len);
	addr[len] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else
		return -1;
	if (slash == NULL)
		prefix = max;
	else if (parse_uint(slash + 1, max, &prefix) == -1)
		return -1;
	c->prefix = (unsigned)prefix;
	/* "10.1.2.3/8" names the network, as it does to route(8) and pf. */
	for (i = 0; i < max / 8; i++) {
		bits = c->prefix > i * 8 ? c->prefix - (unsigned)i * 8 : 0;
		if (bits < 8)
			c->addr[i] &= (unsigned char)(0xff << (8 - bits));
	}
	return 0;
}

static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64; padding optional, as secrets get copied without it. */
static int
base64_decode(const char *s, unsigned char **out, size_t *outlen)
{
	size_t len = strlen(s), pad = 0, i, n = 0;
	unsigned char *key;
	uint32_t acc = 0;
	int bits = 0, v;

	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if ((pad > 0 && (len + pad) % 4 != 0) || len % 4 == 1)
		return -1;
	key = xmalloc(len / 4 * 3 + 3);
	for (i = 0; i < len; i++) {
		if ((v = b64_value((unsigned char)s[i])) == -1) {
			free(key);
			return -1;
		}
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			key[n++] = (unsigned char)(acc >> bits);
		}
	}
	*out = key;
	*outlen = n;
	return 0;
}

/*
 * Lexer: words separated by blanks; a word starting with '#' starts a
 * comment; "..." quotes with \ escapes; a '\' ending a line joins the next.
 */

/* A '\' followed by nothing but blanks up to the end of the line. */
static int
at_continuation(const struct lexer *lx)
{
	const char *p = lx->p;

	if (p == lx->end || *p != '\\')
		return 0;
	for (p++; p < lx->end && *p != '\n'; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r')
			return 0;
	return 1;
}

static void
skip_line(struct lexer *lx)
{
	while (lx->p < lx->end && *lx->p != '\n')
		lx->p++;
	if (lx->p < lx->end) {
		lx->p++;
		lx->line++;
	}
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int
is_control(char c)
{
	return ((unsigned char)c < 0x20 && c != '\t') || c == 0x7f;
}

static int
lex_escape(struct parser *ps, struct lexer *lx, struct buf *b)
{
	char e = lx->p + 1 < lx->end ? lx->p[1] : '\0';

	/* A continuation inside quotes joins the lines with nothing. */
	if (e == '\n' || (e == '\r' && lx->p + 2 < lx->end &&
	    lx->p[2] == '\n')) {
		lx->p += e == '\n' ? 2 : 3;
		lx->line++;
		return 0;
	}
	lx->p += 2;
	switch (e) {
	case '"':
	case '\\':
		buf_addc(b, e);
		return 0;
	case 'n':
		buf_addc(b, '\n');
		return 0;
	case 't':
		buf_addc(b, '\t');
		return 0;
	}
	perr(ps, "unknown escape '\\%c'", e);
	return -1;
}

static int
lex_quoted(struct parser *ps, struct lexer *lx, struct buf *b)
{
	int rc = 0;

	lx->p++;
	while (lx->p < lx->end && *lx->p != '"' && *lx->p != '\n') {
		if (*lx->p == '\\' && lx->p + 1 < lx->end) {
			if (lex_escape(ps, lx, b) == -1)
				rc = -1;
			continue;
		}
		if (is_control(*lx->p)) {
			perr(ps, "control character 0x%02x in quotes",
			    (unsigned char)*lx->p);
			rc = -1;
		}
		buf_addc(b, *lx->p++);
	}
	if (lx->p == lx->end || *lx->p != '"') {
		perr(ps, "unterminated quote");
		return -1;
	}
	lx->p++;
	return rc;
}

static int
lex_word(struct parser *ps, struct lexer *lx, struct words *w)
{
	struct buf b;
	int rc = 0;

	buf_init(&b);
	while (lx->p < lx->end && !is_blank(*lx->p) && *lx->p != '\n' &&
	    !at_continuation(lx)) {
		if (*lx->p == '"') {
			if (lex_quoted(ps, lx, &b) == -1)
				rc = -1;
			continue;
		}
		if (is_control(*lx->p)) {
			perr(ps, "control character 0x%02x",
			    (unsigned char)*lx->p);
			rc = -1;
		}
		buf_addc(&b, *lx->p++);
	}
	words_add(w, buf_release(&b));
	return rc;
}

/*
 * Read the words of the next directive.  Return 0 at the end of the
 * input, 1 for a directive, -1 for one with lexical errors (reported).
 */
static int
lex_directive(struct parser *ps, struct lexer *lx, struct words *w)
{
	int rc = 1;

	for (;;) {
		while (lx->p < lx->end && is_blank(*lx->p))
			lx->p++;
		if (lx->p == lx->end)
			return w->n > 0 ? rc : 0;
		if (*lx->p == '\n') {
			lx->p++;
			lx->line++;
			if (w->n > 0)
				return rc;
		} else if (*lx->p == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (at_continuation(lx))
			skip_line(lx);
		else {
			if (w->n == 0)
				ps->line = lx->line;
			if (lex_word(ps, lx, w) == -1)
				rc = -1;
		}
	}
}

/*
 * Compiling templates, and the offer and postback options.
 */

static int
compile(struct parser *ps, struct tmpl **out, const char *src,
    enum tmpl_context ctx, const char *where)
{
	char err[256];

	if ((*out = tmpl_compile(src, ctx, err, sizeof(err))) == NULL) {
		oerr(ps, "%s in %s", err, where);
		return -1;
	}
	return 0;
}

/*
 * Key-value pairs after an id, in any order.  Return the set of options
 * seen (whether valid or not) as a bit mask, with OPTS_ABORTED if the
 * rest of the line was not read.
 */
static unsigned
parse_options(struct parser *ps, const struct option *opts, size_t nopts,
    void *obj, char **av, size_t ac)
{
	unsigned seen = 0;
	size_t i, o;

	for (i = 0; i < ac; i += 2) {
		for (o = 0; o < nopts; o++)
			if (strcmp(av[i], opts[o].name) == 0)
				break;
		if (o == nopts) {
			/* Past an unknown word, pairs no longer line up. */
			oerr(ps, "unknown option '%s'", av[i]);
			return seen | OPTS_ABORTED;
		}
		if (i + 1 == ac) {
			oerr(ps, "missing value for '%s'", av[i]);
			break;
		}
		if ((seen & 1U << o) && !opts[o].repeat) {
			oerr(ps, "duplicate '%s'", av[i]);
			continue;
		}
		seen |= 1U << o;
		opts[o].fn(ps, obj, av[i + 1]);
	}
	return seen;
}

static int
offer_url(struct parser *ps, void *obj, const char *v)
{
	struct offer *o = obj;

	return compile(ps, &o->url, v, TMPL_URL, "url");
}

static int
offer_token(struct parser *ps, void *obj, const char *v)
{
	struct offer *o = obj;

	if (!valid_token(v)) {
		oerr(ps, "bad token '%s'", v);
		return -1;
	}
	o->token = xstrdup(v);
	return 0;
}

static int
offer_window(struct parser *ps, void *obj, const char *v)
{
	struct offer *o = obj;

	if (parse_duration_ms(v, &o->window_ms) == -1 || o->window_ms == 0) {
		oerr(ps, "bad duration '%s' for window", v);
		return -1;
	}
	return 0;
}

static int
amount(struct parser *ps, char **out, const char *v, const char *what)
{
	if (!valid_amount(v)) {
		oerr(ps, "bad amount '%s' for %s", v, what);
		return -1;
	}
	*out = xstrdup(v);
	return 0;
}

static int
offer_payout(struct parser *ps, void *obj, const char *v)
{
	struct offer *o = obj;

	return amount(ps, &o->payout, v, "payout");
}

static int
offer_revenue(struct parser *ps, void *obj, const char *v)
{
	struct offer *o = obj;

	return amount(ps, &o->revenue, v, "revenue");
}

static int
offer_multiple(struct parser *ps, void *obj, const char *v)
{
	struct offer *o = obj;

	if (strcmp(v, "yes") == 0)
		o->multiple = 1;
	else if (strcmp(v, "no") == 0)
		o->multiple = 0;
	else {
		oerr(ps, "bad value '%s' for multiple (yes or no)", v);
		return -1;
	}
	return 0;
}

static int
offer_unique_window(struct parser *ps, void *obj, const char *v)
{
	struct offer *o = obj;

	if (parse_duration_ms(v, &o->unique_window_ms) == -1) {
		oerr(ps, "bad duration '%s' for unique-window", v);
		return -1;
	}
	return 0;
}

static int
offer_min_delta(struct parser *ps, void *obj, const char *v)
{
	struct offer *o = obj;

	if (parse_duration_ms(v, &o->min_delta_ms) == -1) {
		oerr(ps, "bad duration '%s' for min-delta", v);
		return -1;
	}
	return 0;
}

enum { OFFER_URL, OFFER_TOKEN, OFFER_WINDOW, OFFER_PAYOUT, OFFER_REVENUE,
    OFFER_MULTIPLE, OFFER_UNIQUE_WINDOW, OFFER_MIN_DELTA };

static const struct option offer_options[] = {
	[OFFER_URL] = { "url", 0, offer_url },
	[OFFER_TOKEN] = { "token", 0, offer_token },
	[OFFER_WINDOW] = { "window", 0, offer_window },
	[OFFER_PAYOUT] = { "payout", 0, offer_payout },
	[OFFER_REVENUE] = { "revenue", 0, offer_revenue },
	[OFFER_MULTIPLE] = { "multiple", 0, offer_multiple },
	[OFFER_UNIQUE_WINDOW] = { "unique-window", 0, offer_unique_window },
	[OFFER_MIN_DELTA] = { "min-delta", 0, offer_min_delta },
};

static int
filter_list(struct parser *ps, struct strlist *l, const char *v,
    const char *what, int (*valid)(const char *))
{
	size_t i;
	int rc = 0;

	if (split_list(v, l) == -1) {
		oerr(ps, "empty item in list '%s'", v);
		rc = -1;
	}
	for (i = 0; i < l->n; i++) {
		if (!valid(l->v[i])) {
			oerr(ps, "bad %s '%s'", what, l->v[i]);
			rc = -1;
		}
	}
	return rc;
}

static int
rule_on(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	rb->r.on = lookup_name(event_types, nitems(event_types), v);
	if (rb->r.on == -1) {
		oerr(ps, "bad event type '%s' for on "
		    "(click, impression, conversion or event)", v);
		return -1;
	}
	return 0;
}

static int
rule_offer(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	return filter_list(ps, &rb->r.offers, v, "offer ID", valid_id);
}

static int
rule_publisher(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	return filter_list(ps, &rb->r.publishers, v, "publisher ID",
	    valid_id);
}

static int
rule_event(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	return filter_list(ps, &rb->r.events, v, "event name", valid_id);
}

static int
rule_reason(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	return filter_list(ps, &rb->r.reasons, v, "reason", valid_text);
}

static int
rule_status(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	rb->r.status = lookup_name(statuses, nitems(statuses), v);
	if (rb->r.status == -1) {
		oerr(ps, "bad status '%s' "
		    "(approved, pending, rejected or any)", v);
		return -1;
	}
	return 0;
}

static int
rule_delay(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	if (parse_duration_ms(v, &rb->r.delay_ms) == -1) {
		oerr(ps, "bad duration '%s' for delay", v);
		return -1;
	}
	return 0;
}

static int
rule_method(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	if (strcmp(v, "get") == 0)
		rb->r.post = 0;
	else if (strcmp(v, "post") == 0)
		rb->r.post = 1;
	else {
		oerr(ps, "bad method '%s' (get or post)", v);
		return -1;
	}
	return 0;
}

static int
rule_header(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;
	struct header_tmpl h;
	const char *colon = strchr(v, ':'), *value;
	char where[TOKEN_MAX + 16];

	if (colon == NULL) {
		oerr(ps, "bad header '%s' (expected \"Name: value\")", v);
		return -1;
	}
	h.name = xstrndup(v, (size_t)(colon - v));
	value = colon + 1 + strspn(colon + 1, " \t");
	if (!valid_http_token(h.name)) {
		oerr(ps, "bad header name '%s'", h.name);
		goto fail;
	}
	if (*value == '\0') {
		oerr(ps, "header '%s' has no value", h.name);
		goto fail;
	}
	snprintf(where, sizeof(where), "header '%s'", h.name);
	if (compile(ps, &h.value, value, TMPL_HEADER, where) == -1)
		goto fail;
	rb->r.headers = xreallocarray(rb->r.headers, rb->r.nheaders + 1,
	    sizeof(*rb->r.headers));
	rb->r.headers[rb->r.nheaders++] = h;
	return 0;
fail:
	free(h.name);
	return -1;
}

static int
rule_body(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	(void)ps;
	rb->body = v;
	return 0;
}

static int
rule_sign(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;
	struct rule *r = &rb->r;

	if (strncmp(v, "whsec_", 6) != 0 ||
	    base64_decode(v + 6, &r->sign_key, &r->sign_keylen) == -1) {
		oerr(ps, "bad secret for sign (expected whsec_ and base64)");
		return -1;
	}
	if (r->sign_keylen < SIGN_KEY_MIN) {
		oerr(ps, "secret for sign is %zu bytes, at least %d needed",
		    r->sign_keylen, SIGN_KEY_MIN);
		free(r->sign_key);
		r->sign_key = NULL;
		r->sign_keylen = 0;
		return -1;
	}
	r->sign_secret = xstrdup(v);
	return 0;
}

/*
 * Parse "0,10s,1m".  Return 0, -1 with bad naming the offending item, or
 * -2 for a schedule too long to be meant.
 */
static int
parse_schedule(const char *v, int64_t **out, size_t *n, char *bad,
    size_t badlen)
{
	struct strlist l = { NULL, 0 };
	size_t i;
	int rc = 0;

	if (split_list(v, &l) == -1) {
		snprintf(bad, badlen, "%s", v);
		rc = -1;
	} else if (l.n > RETRY_MAX)
		rc = -2;
	*out = xreallocarray(NULL, l.n, sizeof(**out));
	*n = l.n;
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (parse_duration_ms(l.v[i], &(*out)[i]) == -1) {
			snprintf(bad, badlen, "%s", l.v[i]);
			rc = -1;
		}
	}
	strlist_free(&l);
	return rc;
}

static int
rule_retry(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;
	char bad[64];

	switch (parse_schedule(v, &rb->r.retry_ms, &rb->r.nretry, bad,
	    sizeof(bad))) {
	case -1:
		oerr(ps, "bad duration '%s' for retry", bad);
		return -1;
	case -2:
		oerr(ps, "more than %d durations for retry", RETRY_MAX);
		return -1;
	}
	return 0;
}

static int
rule_timeout(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	if (parse_duration_ms(v, &rb->r.timeout_ms) == -1 ||
	    rb->r.timeout_ms == 0) {
		oerr(ps, "bad duration '%s' for timeout", v);
		return -1;
	}
	return 0;
}

static int
rule_url(struct parser *ps, void *obj, const char *v)
{
	struct rule_build *rb = obj;

	return compile(ps, &rb->r.url, v, TMPL_URL, "url");
}

enum { RULE_ON, RULE_OFFER, RULE_PUBLISHER, RULE_EVENT, RULE_STATUS,
    RULE_REASON, RULE_DELAY, RULE_METHOD, RULE_HEADER, RULE_BODY,
    RULE_SIGN, RULE_RETRY, RULE_TIMEOUT, RULE_URL };

static const struct option rule_options[] = {
	[RULE_ON] = { "on", 0, rule_on },
	[RULE_OFFER] = { "offer", 0, rule_offer },
	[RULE_PUBLISHER] = { "publisher", 0, rule_publisher },
	[RULE_EVENT] = { "event", 0, rule_event },
	[RULE_STATUS] = { "status", 0, rule_status },
	[RULE_REASON] = { "reason", 0, rule_reason },
	[RULE_DELAY] = { "delay", 0, rule_delay },
	[RULE_METHOD] = { "method", 0, rule_method },
	[RULE_HEADER] = { "header", 1, rule_header },
	[RULE_BODY] = { "body", 0, rule_body },
	[RULE_SIGN] = { "sign", 0, rule_sign },
	[RULE_RETRY] = { "retry", 0, rule_retry },
	[RULE_TIMEOUT] = { "timeout", 0, rule_timeout },
	[RULE_URL] = { "url", 0, rule_url },
};

/*
 * Offers and rules.
 */

static void
offer_clear(struct offer *o)
{
	free(o->id);
	tmpl_free(o->url);
	free(o->token);
	free(o->payout);
	free(o->revenue);
}

void
conf_rule_clear(struct rule *r)
{
	size_t i;

	free(r->name);
	strlist_free(&r->offers);
	strlist_free(&r->publishers);
	strlist_free(&r->events);
	strlist_free(&r->reasons);
	for (i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		tmpl_free(r->headers[i].value);
	}
	free(r->headers);
	tmpl_free(r->body);
	free(r->sign_secret);
	free(r->sign_key);
	free(r->retry_ms);
	tmpl_free(r->url);
}

/* Checks that need the whole line, as rule_finish() makes for rules. */
static void
offer_finish(struct parser *ps, struct offer *o, unsigned seen)
{
	(void)o;
	if (!(seen & (1U << OFFER_URL | OPTS_ABORTED)))
		oerr(ps, "missing 'url'");
}

static void
dir_offer(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	struct conf *c = ps->conf;
	struct offer o;
	unsigned seen;
	size_t i;
	int ok = 1;

	(void)d;
	if (ac == 0) {
		perr(ps, "offer: missing ID");
		return;
	}
	memset(&o, 0, sizeof(o));
	o.id = xstrdup(av[0]);
	o.window_ms = CONF_DEFAULT_WINDOW_MS;
	o.unique_window_ms = CONF_DEFAULT_UNIQUE_WINDOW_MS;
	ps->what = "offer";
	ps->id = o.id;
	if (!valid_id(o.id)) {
		perr(ps, "bad offer ID '%s'", o.id);
		ok = 0;
	}
	for (i = 0; ok && i < c->noffers; i++) {
		if (strcmp(c->offers[i].id, o.id) == 0) {
			perr(ps, "duplicate offer '%s' (first on line %d)",
			    o.id, ps->offer_lines[i]);
			ok = 0;
		}
	}
	seen = parse_options(ps, offer_options, nitems(offer_options), &o,
	    av + 1, ac - 1);
	offer_finish(ps, &o, seen);
	/*
	 * An offer with bad options is still added, so that aliases and
	 * rules naming it do not report it undefined on top.
	 */
	if (!ok) {
		offer_clear(&o);
		return;
	}
	c->offers = xreallocarray(c->offers, c->noffers + 1, sizeof(o));
	ps->offer_lines = xreallocarray(ps->offer_lines, c->noffers + 1,
	    sizeof(int));
	ps->offer_lines[c->noffers] = ps->line;
	c->offers[c->noffers++] = o;
}

static int
header_says_json(const struct rule *r)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, "Content-Type") == 0 &&
		    strcasestr(tmpl_source(r->headers[i].value), "json"))
			return 1;
	return 0;
}

/* Checks that need the whole line, and the body, which needs headers. */
static void
rule_finish(struct parser *ps, struct rule_build *rb, unsigned seen)
{
	struct rule *r = &rb->r;
	char bad[64];

	if (!(seen & (1U << RULE_ON | OPTS_ABORTED)))
		oerr(ps, "missing 'on'");
	if (!(seen & (1U << RULE_URL | OPTS_ABORTED)))
		oerr(ps, "missing 'url'");
	if ((seen & 1U << RULE_EVENT) && (seen & 1U << RULE_ON) &&
	    r->on != EVENT_EVENT)
		oerr(ps, "filter 'event' needs 'on event'");
	if (rb->body != NULL && !r->post)
		oerr(ps, "'body' needs 'method post'");
	else if (rb->body != NULL)
		compile(ps, &r->body, rb->body,
		    header_says_json(r) ? TMPL_JSON : TMPL_FORM, "body");
	if (!(seen & 1U << RULE_RETRY))
		parse_schedule(CONF_DEFAULT_RETRY, &r->retry_ms, &r->nretry,
		    bad, sizeof(bad));
}

static void
dir_postback(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	struct conf *c = ps->conf;
	struct rule_build rb;
	unsigned seen;
	size_t i;
	int ok = 1;

	(void)d;
	if (ac == 0) {
		perr(ps, "postback: missing name");
		return;
	}
	memset(&rb, 0, sizeof(rb));
	rb.r.name = xstrdup(av[0]);
	rb.r.status = STATUS_APPROVED;
	rb.r.timeout_ms = CONF_DEFAULT_TIMEOUT_MS;
	rb.r.line = ps->line;
	ps->what = "postback";
	ps->id = rb.r.name;
	if (!valid_id(rb.r.name)) {
		perr(ps, "bad postback name '%s'", rb.r.name);
		ok = 0;
	}
	for (i = 0; ok && i < c->nrules; i++) {
		if (strcmp(c->rules[i].name, rb.r.name) == 0) {
			perr(ps, "duplicate postback '%s' (first on line %d)",
			    rb.r.name, c->rules[i].line);
			ok = 0;
		}
	}
	seen = parse_options(ps, rule_options, nitems(rule_options), &rb,
	    av + 1, ac - 1);
	rule_finish(ps, &rb, seen);
	if (!ok) {
		conf_rule_clear(&rb.r);
		return;
	}
	c->rules = xreallocarray(c->rules, c->nrules + 1, sizeof(rb.r));
	c->rules[c->nrules++] = rb.r;
}

/* Whether an alias is for offer (NULL: "*"). */
static int
same_offer(const struct alias *a, const char *offer)
{
	if (a->offer_id == NULL || offer == NULL)
		return a->offer_id == offer;
	return strcmp(a->offer_id, offer) == 0;
}

static void
dir_alias(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	struct conf *c = ps->conf;
	struct alias *a;
	const char *offer = strcmp(av[0], "*") == 0 ? NULL : av[0];
	size_t i;
	int ok = 1;

	(void)d;
	(void)ac;
	if (offer != NULL && !valid_id(offer)) {
		perr(ps, "alias: bad offer ID '%s'", offer);
		ok = 0;
	}
	if (!valid_param(av[1])) {
		perr(ps, "alias: bad parameter name '%s'", av[1]);
		ok = 0;
	}
	for (i = 0; i < nitems(our_names); i++)
		if (strcmp(av[2], our_names[i]) == 0)
			break;
	if (i == nitems(our_names)) {
		perr(ps, "alias '%s': unknown parameter '%s'", av[1], av[2]);
		ok = 0;
	}
	for (i = 0; ok && i < c->naliases; i++) {
		a = &c->aliases[i];
		if (strcmp(a->theirs, av[1]) == 0 && same_offer(a, offer)) {
			perr(ps, "duplicate alias '%s' for %s (first on line "
			    "%d)", av[1], offer ? offer : "*",
			    ps->alias_lines[i]);
			ok = 0;
		}
	}
	if (!ok)
		return;
	c->aliases = xreallocarray(c->aliases, c->naliases + 1, sizeof(*a));
	ps->alias_lines = xreallocarray(ps->alias_lines, c->naliases + 1,
	    sizeof(int));
	ps->alias_lines[c->naliases] = ps->line;
	a = &c->aliases[c->naliases++];
	a->offer_id = offer ? xstrdup(offer) : NULL;
	a->theirs = xstrdup(av[1]);
	a->ours = xstrdup(av[2]);
}

/*
 * The other directives.
 */

static void
dir_data_dir(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	(void)d;
	(void)ac;
	if (*av[0] == '\0') {
		perr(ps, "data-dir: empty path");
		return;
	}
	ps->conf->data_dir = xstrdup(av[0]);
}

static void
dir_global_token(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	(void)d;
	(void)ac;
	if (!valid_token(av[0])) {
		perr(ps, "global-token: bad token '%s'", av[0]);
		return;
	}
	ps->conf->global_token = xstrdup(av[0]);
}

static void
dir_retention(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	int64_t ms;

	(void)ac;
	if (parse_duration_ms(av[0], &ms) == -1 || ms == 0) {
		perr(ps, "%s: bad duration '%s'", d->name, av[0]);
		return;
	}
	ps->conf->retention_ms[d->arg] = ms;
}

static void
dir_listen(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	(void)ac;
	if (!valid_addr_port(av[0])) {
		perr(ps, "%s: bad address '%s' (expected a.b.c.d:port, "
		    "[ipv6]:port or localhost:port)", d->name, av[0]);
		return;
	}
	if (strlist_has(&ps->conf->listen, av[0])) {
		perr(ps, "%s: duplicate address '%s'", d->name, av[0]);
		return;
	}
	if (ps->conf->listen.n == CONF_LISTEN_MAX) {
		perr(ps, "%s: more than %d addresses", d->name,
		    CONF_LISTEN_MAX);
		return;
	}
	strlist_add(&ps->conf->listen, av[0]);
}

static void
dir_trust_proxy(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	struct conf *c = ps->conf;
	struct cidr cidr;

	(void)ac;
	if (parse_cidr(av[0], &cidr) == -1) {
		perr(ps, "%s: bad address or network '%s'", d->name, av[0]);
		return;
	}
	c->trust_proxy = xreallocarray(c->trust_proxy, c->ntrust_proxy + 1,
	    sizeof(cidr));
	c->trust_proxy[c->ntrust_proxy++] = cidr;
}

static void
dir_spool_max(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	uint64_t size;

	(void)ac;
	if (parse_size(av[0], &size) == -1 || size == 0) {
		perr(ps, "%s: bad size '%s'", d->name, av[0]);
		return;
	}
	ps->conf->spool_max = size;
}

static void
dir_public_url(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	const char *u = av[0], *host;
	size_t i;

	(void)ac;
	if (strncmp(u, "http://", 7) == 0)
		host = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		host = u + 8;
	else
		host = NULL;
	for (i = 0; host != NULL && u[i] != '\0'; i++)
		if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
			host = NULL;
	/* strchr() finds the NUL too: an empty host fails here. */
	if (host == NULL || strchr("/?#", *host) != NULL) {
		perr(ps, "%s: bad URL '%s' (expected http:// or https:// "
		    "and a host)", d->name, u);
		return;
	}
	ps->conf->public_url = xstrdup(u);
}

static void
dir_metrics(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	(void)ac;
	if (!valid_addr_port(av[0])) {
		perr(ps, "%s: bad address '%s' (expected a.b.c.d:port, "
		    "[ipv6]:port or localhost:port)", d->name, av[0]);
		return;
	}
	ps->conf->metrics[d->arg] = xstrdup(av[0]);
}

static void
dir_map_size(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	uint64_t size;

	(void)ac;
	if (parse_size(av[0], &size) == -1) {
		perr(ps, "%s: bad size '%s'", d->name, av[0]);
		return;
	}
	if (size < MAP_SIZE_MIN) {
		perr(ps, "%s: size '%s' is below the minimum of 1M", d->name,
		    av[0]);
		return;
	}
	ps->conf->map_size[d->arg] = size;
}

static void
dir_endpoint(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	struct strlist *l = d->arg == SERVICE_MATCHER ?
	    &ps->conf->matcher_endpoints : &ps->conf->firer_endpoints;

	(void)ac;
	if (!valid_endpoint(av[0])) {
		perr(ps, "%s: bad endpoint '%s' (expected tcp://HOST:PORT or "
		    "ipc://PATH)", d->name, av[0]);
		return;
	}
	if (strlist_has(l, av[0])) {
		perr(ps, "%s: duplicate endpoint '%s'", d->name, av[0]);
		return;
	}
	strlist_add(l, av[0]);
}

static void
dir_grace(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	(void)ac;
	if (parse_duration_ms(av[0], &ps->conf->matcher_grace_ms) == -1)
		perr(ps, "%s: bad duration '%s'", d->name, av[0]);
}

static void
dir_max_per_host(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	uint64_t n;

	(void)ac;
	if (parse_uint(av[0], PER_HOST_MAX, &n) == -1 || n == 0) {
		perr(ps, "%s: bad number '%s' (1 to %d)", d->name, av[0],
		    PER_HOST_MAX);
		return;
	}
	ps->conf->max_per_host = (uint32_t)n;
}

static void
dir_postbacks_max(struct parser *ps, const struct directive *d, char **av,
    size_t ac)
{
	uint64_t n;

	(void)ac;
	if (parse_uint(av[0], CONF_POSTBACKS_MAX, &n) == -1 || n == 0) {
		perr(ps, "%s: bad number '%s' (1 to %d)", d->name, av[0],
		    CONF_POSTBACKS_MAX);
		return;
	}
	ps->conf->postbacks_max = n;
}

/*
 * The file as a whole.
 */

/* How many words of av name d: 0 if d is not the directive. */
static size_t
directive_match(const struct directive *d, char **av, size_t ac)
{
	const char *sp = strchr(d->name, ' ');
	size_t len;

	if (sp == NULL)
		return strcmp(av[0], d->name) == 0;
	len = (size_t)(sp - d->name);
	if (ac < 2 || strlen(av[0]) != len ||
	    strncmp(av[0], d->name, len) != 0)
		return 0;
	return strcmp(av[1], sp + 1) == 0 ? 2 : 0;
}

static void
unknown_directive(struct parser *ps, char **av, size_t ac)
{
	size_t i, len = strlen(av[0]);

	for (i = 0; i < nitems(directives); i++) {
		if (strncmp(directives[i].name, av[0], len) == 0 &&
		    directives[i].name[len] == ' ') {
			perr(ps, "unknown directive '%s%s%s'", av[0],
			    ac > 1 ? " " : "", ac > 1 ? av[1] : "");
			return;
		}
	}
	perr(ps, "unknown directive '%s'", av[0]);
}

static void
dispatch(struct parser *ps, char **av, size_t ac)
{
	const struct directive *d;
	size_t i, nw = 0;

	for (i = 0; i < nitems(directives); i++)
		if ((nw = directive_match(&directives[i], av, ac)) > 0)
			break;
	if (i == nitems(directives)) {
		unknown_directive(ps, av, ac);
		return;
	}
	d = &directives[i];
	if (!d->repeat && ps->seen[i] != 0) {
		perr(ps, "duplicate '%s' (first on line %d)", d->name,
		    ps->seen[i]);
		return;
	}
	ps->seen[i] = ps->line;
	av += nw;
	ac -= nw;
	if (d->nargs >= 0 && ac < (size_t)d->nargs) {
		perr(ps, "%s: missing argument", d->name);
		return;
	}
	if (d->nargs >= 0 && ac > (size_t)d->nargs) {
		perr(ps, "%s: unexpected word '%s'", d->name, av[d->nargs]);
		return;
	}
	d->fn(ps, d, av, ac);
}

/* Names that may be used before they are defined are checked last. */
static void
check_references(struct parser *ps)
{
	const struct conf *c = ps->conf;
	const struct rule *r;
	size_t i, j;

	for (i = 0; i < c->naliases; i++) {
		if (c->aliases[i].offer_id == NULL ||
		    conf_offer(c, c->aliases[i].offer_id) != NULL)
			continue;
		ps->line = ps->alias_lines[i];
		perr(ps, "alias '%s': undefined offer '%s'",
		    c->aliases[i].theirs, c->aliases[i].offer_id);
	}
	ps->what = "postback";
	for (i = 0; i < c->nrules; i++) {
		r = &c->rules[i];
		ps->line = r->line;
		ps->id = r->name;
		for (j = 0; j < r->offers.n; j++)
			if (valid_id(r->offers.v[j]) &&
			    conf_offer(c, r->offers.v[j]) == NULL)
				oerr(ps, "undefined offer '%s'",
				    r->offers.v[j]);
	}
}

static void
parse_text(struct parser *ps, const char *text, size_t len)
{
	struct lexer lx = { text, text + len, 1 };
	struct words w = { NULL, 0, 0 };
	int rc;

	while ((rc = lex_directive(ps, &lx, &w)) != 0) {
		if (rc == 1)
			dispatch(ps, w.v, w.n);
		words_clear(&w);
	}
	free(w.v);
}

static char *
read_file(struct parser *ps, const char *path, size_t *lenp)
{
	FILE *f;
	char *text, *nul, chunk[16384];
	struct buf b;
	size_t len, n;
	int err = 0;

	if ((f = fopen(path, "r")) == NULL) {
		buf_printf(ps->errors, "%s: cannot open: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	/* Grown as read: one byte past the limit tells a big file. */
	buf_init(&b);
	while (b.len <= CONF_MAX_SIZE &&
	    (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(f))
		err = errno;
	fclose(f);
	len = b.len;
	text = buf_release(&b);
	if (err != 0 || len > CONF_MAX_SIZE) {
		buf_printf(ps->errors, "%s: cannot read: %s\n", path,
		    err ? strerror(err) : "larger than 4M");
		free(text);
		return NULL;
	}
	if ((nul = memchr(text, '\0', len)) != NULL) {
		ps->line = 1;
		for (; nul > text; nul--)
			ps->line += nul[-1] == '\n';
		perr(ps, "NUL byte: not a text file");
		free(text);
		return NULL;
	}
	*lenp = len;
	return text;
}

static struct conf *
conf_new(const char *path)
{
	struct conf *c;
	int i;

	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->matcher_grace_ms = CONF_DEFAULT_GRACE_MS;
	c->retention_ms[RETENTION_CLICKS] = CONF_DEFAULT_RETENTION_CLICKS_MS;
	c->retention_ms[RETENTION_LOGS] = CONF_DEFAULT_RETENTION_LOGS_MS;
	c->retention_ms[RETENTION_POSTBACKS] =
	    CONF_DEFAULT_RETENTION_POSTBACKS_MS;
	c->retention_ms[RETENTION_REPORTS] = CONF_DEFAULT_RETENTION_REPORTS_MS;
	c->spool_max = CONF_DEFAULT_SPOOL_MAX;
	c->postbacks_max = CONF_DEFAULT_POSTBACKS_MAX;
	c->max_per_host = CONF_DEFAULT_MAX_PER_HOST;
	for (i = 0; i < SERVICE_END; i++)
		c->map_size[i] = CONF_DEFAULT_MAP_SIZE;
	return c;
}

static void
conf_defaults(struct conf *c)
{
	if (c->data_dir == NULL)
		c->data_dir = xstrdup(CONF_DEFAULT_DATA_DIR);
	if (c->listen.n == 0)
		strlist_add(&c->listen, CONF_DEFAULT_LISTEN);
	if (c->matcher_endpoints.n == 0)
		strlist_add(&c->matcher_endpoints, CONF_DEFAULT_MATCHER);
	if (c->firer_endpoints.n == 0)
		strlist_add(&c->firer_endpoints, CONF_DEFAULT_FIRER);
}

struct conf *
conf_load(const char *path, struct buf *errors)
{
	struct parser ps;
	char *text;
	size_t len;

	memset(&ps, 0, sizeof(ps));
	ps.file = path;
	ps.errors = errors;
	if ((text = read_file(&ps, path, &len)) == NULL)
		return NULL;
	ps.conf = conf_new(path);
	parse_text(&ps, text, len);
	free(text);
	check_references(&ps);
	conf_defaults(ps.conf);
	free(ps.offer_lines);
	free(ps.alias_lines);
	if (ps.nerrors > 0) {
		conf_free(ps.conf);
		return NULL;
	}
	return ps.conf;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->path);
	free(c->data_dir);
	strlist_free(&c->listen);
	strlist_free(&c->matcher_endpoints);
	strlist_free(&c->firer_endpoints);
	for (i = 0; i < SERVICE_END; i++)
		free(c->metrics[i]);
	free(c->global_token);
	for (i = 0; i < c->noffers; i++)
		offer_clear(&c->offers[i]);
	free(c->offers);
	for (i = 0; i < c->naliases; i++) {
		free(c->aliases[i].offer_id);
		free(c->aliases[i].theirs);
		free(c->aliases[i].ours);
	}
	free(c->aliases);
	for (i = 0; i < c->nrules; i++)
		conf_rule_clear(&c->rules[i]);
	free(c->rules);
	free(c->trust_proxy);
	free(c->public_url);
	free(c);
}

const char *
conf_path(const char *flag)
{
	const char *env;

	if (flag != NULL)
		return flag;
	if ((env = getenv(CONF_ENV)) != NULL && *env != '\0')
		return env;
	if (access(CONF_DEFAULT_PATH, F_OK) == -1 &&
	    access(CONF_PACKAGE_PATH, F_OK) == 0)
		return CONF_PACKAGE_PATH;
	return CONF_DEFAULT_PATH;
}

const struct offer *
conf_offer(const struct conf *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->noffers; i++)
		if (strcmp(c->offers[i].id, id) == 0)
			return &c->offers[i];
	return NULL;
}

const struct rule *
conf_rule(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nrules; i++)
		if (strcmp(c->rules[i].name, name) == 0)
			return &c->rules[i];
	return NULL;
}

const char *
conf_alias(const struct conf *c, const char *offer_id, const char *theirs)
{
	const struct alias *a;
	const char *any = NULL;
	size_t i;

	for (i = 0; i < c->naliases; i++) {
		a = &c->aliases[i];
		if (strcmp(a->theirs, theirs) != 0)
			continue;
		if (a->offer_id == NULL)
			any = a->ours;
		else if (offer_id != NULL && strcmp(a->offer_id, offer_id) == 0)
			return a->ours;
	}
	return any;
}

static int
cidr_contains(const struct cidr *c, int family, const unsigned char *addr)
{
	unsigned i, bits;

	if (c->family != family)
		return 0;
	for (i = 0; i * 8 < c->prefix; i++) {
		bits = c->prefix - i * 8 >= 8 ? 8 : c->prefix - i * 8;
		if ((addr[i] ^ c->addr[i]) & (unsigned char)(0xff << (8 - bits)))
			return 0;
	}
	return 1;
}

int
conf_trusted_proxy(const struct conf *c, const char *ip)
{
	unsigned char addr[16];
	int family;
	size_t i;

	if (inet_pton(AF_INET, ip, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, ip, addr) == 1)
		family = AF_INET6;
	else
		return 0;
	for (i = 0; i < c->ntrust_proxy; i++)
		if (cidr_contains(&c->trust_proxy[i], family, addr))
			return 1;
	return 0;
}

char *
conf_instance_dir(const struct conf *c, int service, int instance)
{
	return xasprintf("%s/%s-%d", c->data_dir, service_name(service),
	    instance);
}

const char *
service_name(int service)
{
	if (service < 0 || service >= SERVICE_END)
		return "unknown";
	return service_names[service];
}

void
conf_instance_dirs(const struct conf *c, int service, struct strlist *dirs)
{
	const struct strlist *eps = service == SERVICE_MATCHER ?
	    &c->matcher_endpoints : &c->firer_endpoints;
	char *dir;
	size_t i;

	for (i = 0; i < eps->n; i++) {
		dir = conf_instance_dir(c, service, (int)i);
		strlist_add(dirs, dir);
		free(dir);
	}
}

struct conf *
conf_load_or_say(const char *flag)
{
	const char *path = conf_path(flag);
	struct conf *conf;
	struct buf errs;

	buf_init(&errs);
	if ((conf = conf_load(path, &errs)) == NULL) {
		if (errs.len > 0)
			fprintf(stderr, "%s%s", errs.data,
			    errs.data[errs.len - 1] == '\n' ? "" : "\n");
		else
			fprintf(stderr, "%s: cannot load the config\n", path);
	}
	buf_free(&errs);
	return conf;
}
