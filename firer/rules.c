/*
 * Postback rules: which events a rule fires for, and the request it
 * makes of one delivery.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "firer.h"
#include "hmac.h"
#include "log.h"
#include "tmpl.h"

static int
listed(const struct strlist *list, const char *value)
{
	size_t i;

	if (list->n == 0)
		return 1;
	if (value == NULL)
		return 0;
	for (i = 0; i < list->n; i++)
		if (strcmp(list->v[i], value) == 0)
			return 1;
	return 0;
}

int
rule_matches(const struct rule *r, const struct event *ev)
{
	const struct attrs *a = &ev->attrs;

	return r->on == ev->type &&
	    (r->status == RULE_STATUS_ANY || r->status == ev->status) &&
	    listed(&r->offers, attrs_get(a, "offer_id")) &&
	    listed(&r->publishers, attrs_get(a, "publisher")) &&
	    listed(&r->events, attrs_get(a, "event")) &&
	    listed(&r->reasons, attrs_get(a, "reason"));
}

int64_t
rule_retry_delay(const struct rule *r, uint32_t attempt)
{
	uint32_t jitter;
	int64_t ms;

	if (attempt == 0 || attempt > r->nretry)
		return -1;
	ms = r->retry_ms[attempt - 1];
	/* Up to 10% more, so retries to one receiver do not come in waves. */
	random_bytes(&jitter, sizeof(jitter));
	return ms + (ms / 10 > 0 ? (int64_t)(jitter % (uint64_t)(ms / 10)) : 0);
}

struct macro_values {
	const struct delivery	*d;
	char			 attempt[16];
	char			 timestamp[24];
};

static const char *
lookup(void *arg, const char *name)
{
	struct macro_values *mv = arg;

	if (strcmp(name, "transaction_id") == 0)
		return mv->d->event.txid;
	if (strcmp(name, "postback_id") == 0)
		return mv->d->postback_id;
	if (strcmp(name, "attempt") == 0)
		return mv->attempt;
	if (strcmp(name, "timestamp") == 0)
		return mv->timestamp;
	return attrs_get(&mv->d->event.attrs, name);
}

static void
add_header(struct postback_request *req, char *line)
{
	req->headers = xreallocarray(req->headers, req->nheaders + 1,
	    sizeof(*req->headers));
	req->headers[req->nheaders++] = line;
}

/* The host (and port) of a URL: where it starts, and its length. */
static const char *
url_host(const char *url, size_t *len)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	*len = strcspn(p, "/?#");
	return p;
}

char *
rule_host(const struct rule *r)
{
	size_t n;
	const char *host = url_host(tmpl_source(r->url), &n);

	return xstrndup(host, n);
}

uint64_t
rule_host_hash(const struct rule *r)
{
	size_t n;
	const char *host = url_host(tmpl_source(r->url), &n);
	uint64_t h = fnv1a(FNV1A_INIT, host, n);

	return h ? h : 1;
}

static int
has_content_type(const struct rule *r)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, "Content-Type") == 0)
			return 1;
	return 0;
}

/*
 * Standard Webhooks: webhook-signature is v1,base64(HMAC-SHA256 of
 * "id.timestamp.payload"), the payload being the body, or for a GET the
 * full URL.  webhook-id is already among the headers.
 */
static void
sign(const struct rule *r, const struct delivery *d,
    struct postback_request *req, const char *timestamp)
{
	unsigned char mac[HMAC_SHA256_LEN];
	struct buf content, header;

	buf_init(&content);
	buf_printf(&content, "%s.%s.", d->postback_id, timestamp);
	if (r->post)
		buf_add(&content, req->body.data, req->body.len);
	else
		buf_adds(&content, req->url);
	if (hmac_sha256(r->sign_key, r->sign_keylen, content.data, content.len,
	    mac) == -1) {
		log_error("event=sign result=failed rule=%s", r->name);
		buf_free(&content);
		return;
	}
	buf_free(&content);
	add_header(req, xasprintf("webhook-timestamp: %s", timestamp));
	buf_init(&header);
	buf_adds(&header, "webhook-signature: v1,");
	base64_append(&header, mac, sizeof(mac));
	add_header(req, buf_release(&header));
}

void
rule_build(const struct rule *r, const struct delivery *d,
    struct postback_request *req)
{
	struct macro_values mv;
	struct buf b;
	size_t i;

	memset(req, 0, sizeof(*req));
	mv.d = d;
	snprintf(mv.attempt, sizeof(mv.attempt), "%u", d->attempt);
	snprintf(mv.timestamp, sizeof(mv.timestamp), "%lld",
	    (long long)(now_ms() / 1000));
	buf_init(&b);
	tmpl_expand(r->url, lookup, &mv, &b);
	req->url = buf_release(&b);
	req->post = r->post;
	req->timeout_ms = r->timeout_ms;
	add_header(req, xasprintf("webhook-id: %s", d->postback_id));
	for (i = 0; i < r->nheaders; i++) {
		buf_printf(&b, "%s: ", r->headers[i].name);
		tmpl_expand(r->headers[i].value, lookup, &mv, &b);
		add_header(req, buf_release(&b));
	}
	buf_init(&req->body);
	if (r->body)
		tmpl_expand(r->body, lookup, &mv, &req->body);
	if (r->post && !has_content_type(r))
		add_header(req, xstrdup("Content-Type: "
		    "application/x-www-form-urlencoded"));
	if (r->sign_key)
		sign(r, d, req, mv.timestamp);
}

void
request_free(struct postback_request *req)
{
	size_t i;

	free(req->url);
	for (i = 0; i < req->nheaders; i++)
		free(req->headers[i]);
	free(req->headers);
	buf_free(&req->body);
	memset(req, 0, sizeof(*req));
}

/*
 * Rule versions: a delivery keeps the rule as it was when the delivery
 * was made, even after SIGHUP changes or removes it.  A version is the
 * rule's sending part and its status filter (checked again when a delay
 * ends), encoded; its id is a hash of that encoding, and each version is
 * stored once in the firer's LMDB.
 */
void
rule_encode(struct buf *b, const struct rule *r)
{
	size_t i;

	wire_put_u8(b, RECORD_VERSION);
	wire_put_str(b, r->name);
	wire_put_u8(b, (uint8_t)r->post);
	wire_put_str(b, tmpl_source(r->url));
	wire_put_u16(b, (uint16_t)r->nheaders);
	for (i = 0; i < r->nheaders; i++) {
		wire_put_str(b, r->headers[i].name);
		wire_put_str(b, tmpl_source(r->headers[i].value));
	}
	wire_put_str(b, r->body ? tmpl_source(r->body) : "");
	wire_put_u8(b, r->body ? (uint8_t)tmpl_context(r->body) : 0);
	wire_put_u32(b, (uint32_t)r->sign_keylen);
	buf_add(b, r->sign_key, r->sign_keylen);
	wire_put_i64(b, r->delay_ms);
	wire_put_i64(b, r->timeout_ms);
	wire_put_u16(b, (uint16_t)r->nretry);
	for (i = 0; i < r->nretry; i++)
		wire_put_i64(b, r->retry_ms[i]);
	wire_put_u8(b, (uint8_t)r->status);
}

static struct tmpl *
compile(const char *src, enum tmpl_context ctx)
{
	char err[256];
	struct tmpl *t = tmpl_compile(src, ctx, err, sizeof(err));

	if (t == NULL)
		log_error("event=rule_version error=\"%s\"", err);
	return t;
}

static int
decode_headers(struct wire_reader *r, struct rule *rule)
{
	uint16_t n, i;
	char *src;

	if (wire_get_u16(r, &n) == -1 || n > 256)
		return -1;
	rule->headers = xcalloc(n ? n : 1, sizeof(*rule->headers));
	for (i = 0; i < n; i++) {
		if (wire_get_str(r, RECORD_NAME_MAX,
		    &rule->headers[i].name) == -1)
			return -1;
		if (wire_get_str(r, RECORD_VALUE_MAX, &src) == -1) {
			free(rule->headers[i].name);
			rule->headers[i].name = NULL;
			return -1;
		}
		rule->nheaders++;
		rule->headers[i].value = compile(src, TMPL_HEADER);
		free(src);
		if (rule->headers[i].value == NULL)
			return -1;
	}
	return 0;
}

static int
decode_sending(struct wire_reader *r, struct rule *rule)
{
	uint8_t ctx;
	uint32_t keylen;
	uint16_t n, i;
	char *src;

	if (wire_get_str(r, WIRE_MSG_MAX, &src) == -1)
		return -1;
	if (wire_get_u8(r, &ctx) == -1) {
		free(src);
		return -1;
	}
	if (*src && (rule->body = compile(src, (enum tmpl_context)ctx)) ==
	    NULL) {
		free(src);
		return -1;
	}
	free(src);
	if (wire_get_u32(r, &keylen) == -1 || keylen > 1024 ||
	    r->len - r->off < keylen)
		return -1;
	if (keylen) {
		rule->sign_key = xmalloc(keylen);
		memcpy(rule->sign_key, r->p + r->off, keylen);
		rule->sign_keylen = keylen;
		r->off += keylen;
	}
	if (wire_get_i64(r, &rule->delay_ms) == -1 ||
	    wire_get_i64(r, &rule->timeout_ms) == -1 ||
	    wire_get_u16(r, &n) == -1)
		return -1;
	rule->retry_ms = xcalloc(n ? n : 1, sizeof(*rule->retry_ms));
	for (i = 0; i < n; i++, rule->nretry++)
		if (wire_get_i64(r, &rule->retry_ms[i]) == -1)
			return -1;
	return 0;
}

int
rule_decode(const void *data, size_t len, struct rule *rule)
{
	struct wire_reader r;
	uint8_t version, post, status;
	char *src;

	memset(rule, 0, sizeof(*rule));
	wire_reader_init(&r, data, len);
	if (wire_get_u8(&r, &version) == -1 || version != RECORD_VERSION ||
	    wire_get_str(&r, RECORD_NAME_MAX, &rule->name) == -1 ||
	    wire_get_u8(&r, &post) == -1 ||
	    wire_get_str(&r, WIRE_MSG_MAX, &src) == -1)
		return -1;
	rule->post = post;
	rule->url = compile(src, TMPL_URL);
	free(src);
	if (rule->url == NULL || decode_headers(&r, rule) == -1 ||
	    decode_sending(&r, rule) == -1)
		return -1;
	/* Versions stored before the filter was kept end here. */
	rule->status = RULE_STATUS_OWN;
	if (r.off < r.len) {
		if (wire_get_u8(&r, &status) == -1 || status > STATUS_REJECTED)
			return -1;
		rule->status = status;
	}
	return wire_done(&r);
}

void
rule_version_id(const struct buf *b, char *id)
{
	snprintf(id, RULE_VERSION_LEN + 1, "%016llx",
	    (unsigned long long)fnv1a(FNV1A_INIT, b->data, b->len));
}

/*
 * What an attempt's outcome means: ok on a 2xx; retry on a network
 * error, a timeout, 408, 429 or 5xx while the rule's schedule has a
 * next delay (Retry-After, when longer, wins); else failed.
 */
int
rule_outcome(const struct rule *r, const struct outcome *o, uint32_t attempt,
    int64_t now, int64_t *next)
{
	int64_t delay;

	*next = -1;
	if (o->cancelled)
		return ATTEMPT_CANCELLED;
	if (o->http_status >= 200 && o->http_status < 300 && !o->curl_failed)
		return ATTEMPT_OK;
	if ((o->curl_failed || o->http_status == 408 ||
	    o->http_status == 429 || o->http_status >= 500) && r != NULL &&
	    (delay = rule_retry_delay(r, attempt + 1)) >= 0) {
		*next = now + (o->retry_after_ms > delay ? o->retry_after_ms :
		    delay);
		return ATTEMPT_RETRY;
	}
	return ATTEMPT_FAILED;
}
