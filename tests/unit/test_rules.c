/*
 * rules: the firer's policy (firer/rules.c), from rules that conf_load()
 * builds out of a small config file: which events a rule matches, the
 * request it makes (escaping, signing), the retry schedule, what an
 * outcome means, rule versions and the host of a rule.  No store, socket
 * or network.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "firer.h"
#include "hmac.h"
#include "record.h"

/* The signing key: "postline-rules-test-key!" (24 bytes, no padding). */
#define SIGN_B64	"cG9zdGxpbmUtcnVsZXMtdGVzdC1rZXkh"
#define SIGN_KEYLEN	24

#define PB_ID		"pb-0001"
#define TXID		"TX1"
#define SUB_ID		"a b&c=d"
#define SUB_ID_ENC	"a%20b%26c%3Dd"
#define JSON_SUB	"say \"hi\"\nbye"

static const char config[] =
    "offer o1 url https://shop.example.com/?t={transaction_id}\n"
    "offer o2 url https://shop.example.com/?t={transaction_id}\n"
    "offer o3 url https://shop.example.com/?t={transaction_id}\n"
    "postback conv on conversion offer o1,o2 publisher p1 "
    "status approved retry 0,10s,1m \\\n"
    "\turl \"https://aff.example.net/pb?tx={transaction_id}"
    "&amt={payout}&s={sub_id}\"\n"
    "postback anystatus on conversion status any "
    "url https://any.example.net/a\n"
    "postback signup on event event signup status any "
    "url https://ev.example.net/e?ev={event}\n"
    "postback fraud on conversion status rejected reason fraud "
    "url https://r.example.net/r\n"
    "postback form on conversion method post "
    "body \"t={transaction_id}&s={sub_id}\" url https://form.example.net/f\n"
    "postback json on conversion method post \\\n"
    "\theader \"Content-Type: application/json\" \\\n"
    "\theader \"X-Tx: {transaction_id}\" \\\n"
    "\tbody \"{\\\"s\\\":\\\"{sub_id}\\\",\\\"t\\\":\\\"{transaction_id}"
    "\\\"}\" \\\n"
    "\ttimeout 5s retry 0,30s url https://json.example.net/j\n"
    "postback signpost on conversion method post sign whsec_" SIGN_B64
    " \\\n"
    "\tbody \"t={transaction_id}&s={sub_id}\" "
    "url https://sign.example.net/s\n"
    "postback signget on conversion sign whsec_" SIGN_B64 " \\\n"
    "\turl \"https://sign.example.net/g?t={transaction_id}&s={sub_id}\"\n"
    "postback defaults on conversion url https://Example.com:8443/x?y\n"
    "postback samehost on conversion "
    "url https://Example.com:8443/other/{transaction_id}\n"
    "postback otherhost on conversion url https://other.example.com:8443/x?y\n"
    "postback otherport on conversion url https://Example.com:8444/x?y\n";

/* Write config to a temporary directory and load it. */
static struct conf *
load_config(void)
{
	char dir[] = "/tmp/postline-rules-XXXXXX";
	struct conf *c;
	struct buf errors;
	char *path;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return NULL;
	path = xasprintf("%s/postline.conf", dir);
	if ((f = fopen(path, "w")) != NULL) {
		fputs(config, f);
		fclose(f);
	}
	buf_init(&errors);
	c = conf_load(path, &errors);
	if (c == NULL)
		fprintf(stderr, "config: %s", errors.data ? errors.data : "");
	buf_free(&errors);
	unlink(path);
	rmdir(dir);
	free(path);
	return c;
}

static const struct rule *
rule_of(const struct conf *c, const char *name)
{
	const struct rule *r = conf_rule(c, name);

	if (r == NULL) {
		fprintf(stderr, "no rule %s\n", name);
		exit(1);
	}
	return r;
}

static void
set_attr(struct attrs *a, const char *name, const char *value)
{
	if (value != NULL)
		attrs_set(a, name, value);
}

static void
make_event(struct event *ev, int type, int status, const char *offer,
    const char *publisher, const char *event, const char *reason)
{
	event_init(ev);
	ev->type = (uint8_t)type;
	ev->status = (uint8_t)status;
	ev->time_ms = 1700000000000LL;
	snprintf(ev->txid, sizeof(ev->txid), "%s", TXID);
	set_attr(&ev->attrs, "offer_id", offer);
	set_attr(&ev->attrs, "publisher", publisher);
	set_attr(&ev->attrs, "event", event);
	set_attr(&ev->attrs, "reason", reason);
}

/* Whether r matches an event made of these values. */
static int
matches(const struct rule *r, int type, int status, const char *offer,
    const char *publisher, const char *event, const char *reason)
{
	struct event ev;
	int m;

	make_event(&ev, type, status, offer, publisher, event, reason);
	m = rule_matches(r, &ev);
	event_free(&ev);
	return m;
}

static void
test_matches(const struct conf *c)
{
	const struct rule *r = rule_of(c, "conv");

	CHECK(matches(r, EVENT_CONVERSION, STATUS_APPROVED, "o2", "p1", NULL,
	    NULL));
	CHECK(matches(r, EVENT_CONVERSION, STATUS_APPROVED, "o1", "p1", NULL,
	    NULL));
	CHECK(!matches(r, EVENT_CONVERSION, STATUS_APPROVED, "o3", "p1", NULL,
	    NULL));
	CHECK(!matches(r, EVENT_CONVERSION, STATUS_APPROVED, "o2", "p2", NULL,
	    NULL));
	CHECK(!matches(r, EVENT_CONVERSION, STATUS_APPROVED, "o2", NULL, NULL,
	    NULL));
	CHECK(!matches(r, EVENT_CONVERSION, STATUS_PENDING, "o2", "p1", NULL,
	    NULL));
	CHECK(!matches(r, EVENT_EVENT, STATUS_APPROVED, "o2", "p1", "signup",
	    NULL));

	r = rule_of(c, "anystatus");
	CHECK(matches(r, EVENT_CONVERSION, STATUS_PENDING, "o3", "p9", NULL,
	    NULL));
	CHECK(matches(r, EVENT_CONVERSION, STATUS_REJECTED, "o3", "p9", NULL,
	    "fraud"));
	CHECK(matches(r, EVENT_CONVERSION, STATUS_APPROVED, "o1", NULL, NULL,
	    NULL));
	CHECK(!matches(r, EVENT_CLICK, STATUS_APPROVED, "o1", "p1", NULL,
	    NULL));

	r = rule_of(c, "signup");
	CHECK(matches(r, EVENT_EVENT, STATUS_APPROVED, "o1", "p1", "signup",
	    NULL));
	CHECK(matches(r, EVENT_EVENT, STATUS_PENDING, "o1", "p1", "signup",
	    NULL));
	CHECK(!matches(r, EVENT_EVENT, STATUS_APPROVED, "o1", "p1", "deposit",
	    NULL));
	CHECK(!matches(r, EVENT_EVENT, STATUS_APPROVED, "o1", "p1", NULL,
	    NULL));
	CHECK(!matches(r, EVENT_CONVERSION, STATUS_APPROVED, "o1", "p1",
	    "signup", NULL));

	r = rule_of(c, "fraud");
	CHECK(matches(r, EVENT_CONVERSION, STATUS_REJECTED, "o1", "p1", NULL,
	    "fraud"));
	CHECK(!matches(r, EVENT_CONVERSION, STATUS_REJECTED, "o1", "p1", NULL,
	    "bad lead"));
	CHECK(!matches(r, EVENT_CONVERSION, STATUS_REJECTED, "o1", "p1", NULL,
	    NULL));
	CHECK(!matches(r, EVENT_CONVERSION, STATUS_APPROVED, "o1", "p1", NULL,
	    "fraud"));
}

/* An approved conversion of o2 by p1 to deliver, with sub_id. */
static void
make_delivery(struct delivery *d, const char *sub_id)
{
	delivery_init(d);
	snprintf(d->postback_id, sizeof(d->postback_id), "%s", PB_ID);
	d->rule = xstrdup("conv");
	d->attempt = 1;
	d->due_ms = 1700000000000LL;
	d->event.type = EVENT_CONVERSION;
	d->event.status = STATUS_APPROVED;
	d->event.time_ms = 1700000000000LL;
	snprintf(d->event.txid, sizeof(d->event.txid), "%s", TXID);
	attrs_set(&d->event.attrs, "offer_id", "o2");
	attrs_set(&d->event.attrs, "publisher", "p1");
	attrs_set(&d->event.attrs, "payout", "2.50");
	attrs_set(&d->event.attrs, "sub_id", sub_id);
}

/* How many headers are called name. */
static size_t
header_count(const struct postback_request *req, const char *name)
{
	size_t i, n = 0, len = strlen(name);

	for (i = 0; i < req->nheaders; i++)
		if (strncasecmp(req->headers[i], name, len) == 0 &&
		    strncmp(req->headers[i] + len, ": ", 2) == 0)
			n++;
	return n;
}

/* The value of the first header called name, or NULL. */
static const char *
header_value(const struct postback_request *req, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < req->nheaders; i++)
		if (strncasecmp(req->headers[i], name, len) == 0 &&
		    strncmp(req->headers[i] + len, ": ", 2) == 0)
			return req->headers[i] + len + 2;
	return NULL;
}

static const char *
body_of(const struct postback_request *req)
{
	static char copy[1024];
	size_t n = req->body.len < sizeof(copy) - 1 ? req->body.len :
	    sizeof(copy) - 1;

	if (n > 0)
		memcpy(copy, req->body.data, n);
	copy[n] = '\0';
	return copy;
}

static void
build(const struct conf *c, const char *rule, const char *sub_id,
    struct postback_request *req)
{
	struct delivery d;

	make_delivery(&d, sub_id);
	rule_build(rule_of(c, rule), &d, req);
	delivery_free(&d);
}

static void
test_build_get(const struct conf *c)
{
	struct postback_request req;

	build(c, "conv", SUB_ID, &req);
	CHECK_STR(req.url, "https://aff.example.net/pb?tx=" TXID
	    "&amt=2.50&s=" SUB_ID_ENC);
	CHECK(!req.post);
	CHECK(req.body.len == 0);
	CHECK(req.timeout_ms == CONF_DEFAULT_TIMEOUT_MS);
	CHECK(header_count(&req, "webhook-id") == 1);
	CHECK_STR(header_value(&req, "webhook-id"), PB_ID);
	CHECK(header_count(&req, "Content-Type") == 0);
	CHECK(header_count(&req, "webhook-signature") == 0);
	CHECK(header_count(&req, "webhook-timestamp") == 0);
	request_free(&req);
	CHECK(req.url == NULL && req.headers == NULL && req.nheaders == 0);
}

static void
test_build_form(const struct conf *c)
{
	struct postback_request req;

	build(c, "form", SUB_ID, &req);
	CHECK_STR(req.url, "https://form.example.net/f");
	CHECK(req.post);
	CHECK_STR(body_of(&req), "t=" TXID "&s=" SUB_ID_ENC);
	CHECK(header_count(&req, "Content-Type") == 1);
	CHECK_STR(header_value(&req, "Content-Type"),
	    "application/x-www-form-urlencoded");
	CHECK_STR(header_value(&req, "webhook-id"), PB_ID);
	request_free(&req);
}

static void
test_build_json(const struct conf *c)
{
	struct postback_request req;

	build(c, "json", JSON_SUB, &req);
	CHECK(req.post);
	CHECK_STR(body_of(&req), "{\"s\":\"say \\\"hi\\\"\\nbye\",\"t\":\""
	    TXID "\"}");
	CHECK(header_count(&req, "Content-Type") == 1);
	CHECK_STR(header_value(&req, "Content-Type"), "application/json");
	CHECK_STR(header_value(&req, "X-Tx"), TXID);
	CHECK_STR(header_value(&req, "webhook-id"), PB_ID);
	CHECK(req.timeout_ms == 5000);
	request_free(&req);
}

/* The test's own key: SIGN_B64 decoded by OpenSSL. */
static size_t
test_key(unsigned char *key)
{
	int n = EVP_DecodeBlock(key, (const unsigned char *)SIGN_B64,
	    (int)strlen(SIGN_B64));

	return n < 0 ? 0 : (size_t)n;
}

/* "v1," and the base64 of HMAC-SHA256(key, "id.timestamp.payload"). */
static char *
expected_signature(const char *timestamp, const char *payload, size_t len)
{
	unsigned char key[64], mac[EVP_MAX_MD_SIZE];
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	unsigned int maclen = 0;
	struct buf content;
	size_t keylen = test_key(key);

	buf_init(&content);
	buf_printf(&content, "%s.%s.", PB_ID, timestamp);
	buf_add(&content, payload, len);
	HMAC(EVP_sha256(), key, (int)keylen,
	    (const unsigned char *)content.data, content.len, mac, &maclen);
	buf_free(&content);
	EVP_EncodeBlock(b64, mac, (int)maclen);
	return xasprintf("v1,%s", (const char *)b64);
}

/* The timestamp header holds the time of the build, in seconds. */
static void
check_timestamp(const struct postback_request *req, int64_t before, int64_t after)
{
	const char *ts = header_value(req, "webhook-timestamp");
	long long t = ts ? strtoll(ts, NULL, 10) : -1;

	CHECK(header_count(req, "webhook-timestamp") == 1);
	CHECK(t >= before / 1000 && t <= after / 1000);
}

static void
test_sign_post(const struct conf *c)
{
	const struct rule *r = rule_of(c, "signpost");
	unsigned char key[64];
	struct postback_request req;
	int64_t before, after;
	char *want;

	CHECK(test_key(key) == SIGN_KEYLEN);
	CHECK(r->sign_keylen == SIGN_KEYLEN &&
	    memcmp(r->sign_key, key, SIGN_KEYLEN) == 0);
	before = now_ms();
	build(c, "signpost", SUB_ID, &req);
	after = now_ms();
	CHECK_STR(body_of(&req), "t=" TXID "&s=" SUB_ID_ENC);
	CHECK(header_count(&req, "webhook-id") == 1);
	CHECK_STR(header_value(&req, "webhook-id"), PB_ID);
	check_timestamp(&req, before, after);
	CHECK(header_count(&req, "webhook-signature") == 1);
	want = expected_signature(header_value(&req, "webhook-timestamp"),
	    req.body.data, req.body.len);
	CHECK_STR(header_value(&req, "webhook-signature"), want);
	free(want);
	request_free(&req);
}

/* For a GET the signed payload is the full URL (postline.conf(5)). */
static void
test_sign_get(const struct conf *c)
{
	struct postback_request req;
	int64_t before, after;
	const char *ts;
	char *want, *body_sig;

	before = now_ms();
	build(c, "signget", SUB_ID, &req);
	after = now_ms();
	CHECK(!req.post);
	CHECK_STR(req.url, "https://sign.example.net/g?t=" TXID "&s="
	    SUB_ID_ENC);
	CHECK_STR(header_value(&req, "webhook-id"), PB_ID);
	check_timestamp(&req, before, after);
	ts = header_value(&req, "webhook-timestamp");
	want = expected_signature(ts ? ts : "", req.url, strlen(req.url));
	body_sig = expected_signature(ts ? ts : "", "", 0);
	CHECK_STR(header_value(&req, "webhook-signature"), want);
	CHECK(strcmp(want, body_sig) != 0);
	free(want);
	free(body_sig);
	request_free(&req);
}

/* The delay before attempt n without its jitter (up to 10% more). */
static void
check_delay(const struct rule *r, uint32_t attempt, int64_t base)
{
	int64_t d, lo = INT64_MAX, hi = -1;
	int i;

	for (i = 0; i < 64; i++) {
		d = rule_retry_delay(r, attempt);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	CHECK(lo >= base && hi <= base + base / 10);
	if (!(lo >= base && hi <= base + base / 10))
		fprintf(stderr, "attempt %u: %lld..%lld, want %lld + 10%%\n",
		    attempt, (long long)lo, (long long)hi, (long long)base);
	/* The jitter is there: 64 draws of up to 10% are not all equal. */
	if (base >= 1000)
		CHECK(hi > lo);
}

static void
test_retry_delay(const struct conf *c)
{
	static const int64_t defaults[] = { 0, 10000, 60000, 600000,
	    3600000, 21600000, 86400000 };
	const struct rule *r = rule_of(c, "conv");
	uint32_t i;

	CHECK(rule_retry_delay(r, 0) == -1);
	CHECK(rule_retry_delay(r, 1) == 0);
	check_delay(r, 2, 10000);
	check_delay(r, 3, 60000);
	CHECK(rule_retry_delay(r, 4) == -1);
	CHECK(rule_retry_delay(r, 100) == -1);

	r = rule_of(c, "defaults");
	CHECK(r->nretry == nitems(defaults));
	for (i = 0; i < nitems(defaults); i++)
		check_delay(r, i + 1, defaults[i]);
	CHECK(rule_retry_delay(r, nitems(defaults) + 1) == -1);
}

static int
outcome_of(const struct rule *r, int status, int curl_failed,
    int64_t retry_after, uint32_t attempt, int64_t *next)
{
	struct outcome o;

	memset(&o, 0, sizeof(o));
	o.http_status = status;
	o.curl_failed = curl_failed;
	o.retry_after_ms = retry_after;
	*next = 12345;
	return rule_outcome(r, &o, attempt, 1000000, next);
}

/* A retryable outcome along the schedule 0,10s,1m (now is 1000000). */
static void
check_retryable(const struct rule *r, int status, int curl_failed)
{
	int64_t next;

	CHECK(outcome_of(r, status, curl_failed, 0, 1, &next) ==
	    ATTEMPT_RETRY);
	CHECK(next >= 1000000 + 10000 && next <= 1000000 + 11000);
	CHECK(outcome_of(r, status, curl_failed, 0, 2, &next) ==
	    ATTEMPT_RETRY);
	CHECK(next >= 1000000 + 60000 && next <= 1000000 + 66000);
	CHECK(outcome_of(r, status, curl_failed, 0, 3, &next) ==
	    ATTEMPT_FAILED);
	CHECK(next == -1);
}

static void
test_outcome(const struct conf *c)
{
	const struct rule *r = rule_of(c, "conv");
	struct outcome o;
	int64_t next;

	CHECK(outcome_of(r, 200, 0, 0, 1, &next) == ATTEMPT_OK);
	CHECK(next == -1);
	CHECK(outcome_of(r, 204, 0, 0, 3, &next) == ATTEMPT_OK);
	CHECK(next == -1);
	check_retryable(r, 500, 0);
	check_retryable(r, 503, 0);
	check_retryable(r, 408, 0);
	check_retryable(r, 429, 0);
	check_retryable(r, 0, 1);
	/* Retry-After wins when longer than the delay, not when shorter. */
	CHECK(outcome_of(r, 503, 0, 120000, 1, &next) == ATTEMPT_RETRY);
	CHECK(next == 1000000 + 120000);
	CHECK(outcome_of(r, 429, 0, 5000, 1, &next) == ATTEMPT_RETRY);
	CHECK(next >= 1000000 + 10000 && next <= 1000000 + 11000);
	CHECK(outcome_of(r, 429, 0, 120000, 3, &next) == ATTEMPT_FAILED);
	CHECK(next == -1);
	CHECK(outcome_of(r, 301, 0, 0, 1, &next) == ATTEMPT_FAILED);
	CHECK(next == -1);
	CHECK(outcome_of(r, 404, 0, 0, 1, &next) == ATTEMPT_FAILED);
	CHECK(next == -1);
	CHECK(outcome_of(NULL, 500, 0, 0, 1, &next) == ATTEMPT_FAILED);
	CHECK(next == -1);
	memset(&o, 0, sizeof(o));
	o.cancelled = 1;
	next = 12345;
	CHECK(rule_outcome(r, &o, 1, 1000000, &next) == ATTEMPT_CANCELLED);
	CHECK(next == -1);
}

/* Whether two requests are the same, ignoring the signing time. */
static int
same_request(const struct postback_request *a, const struct postback_request *b)
{
	size_t i;

	if (strcmp(a->url, b->url) != 0 || a->post != b->post ||
	    a->timeout_ms != b->timeout_ms || a->nheaders != b->nheaders ||
	    a->body.len != b->body.len ||
	    (a->body.len && memcmp(a->body.data, b->body.data,
	    a->body.len) != 0))
		return 0;
	for (i = 0; i < a->nheaders; i++)
		if (strcmp(a->headers[i], b->headers[i]) != 0)
			return 0;
	return 1;
}

/* Build a request from each rule; again if a second ticked between. */
static int
build_same(const struct rule *a, const struct rule *b, const char *sub_id)
{
	struct postback_request ra, rb;
	struct delivery d;
	int same = 0, tries;

	make_delivery(&d, sub_id);
	for (tries = 0; tries < 3 && !same; tries++) {
		rule_build(a, &d, &ra);
		rule_build(b, &d, &rb);
		same = same_request(&ra, &rb);
		request_free(&ra);
		request_free(&rb);
	}
	delivery_free(&d);
	return same;
}

static void
check_same_rule(const struct rule *a, const struct rule *b)
{
	CHECK_STR(b->name, a->name);
	CHECK(b->status == a->status);
	CHECK(b->post == a->post);
	CHECK(b->delay_ms == a->delay_ms && b->timeout_ms == a->timeout_ms);
	CHECK(b->nretry == a->nretry && memcmp(b->retry_ms, a->retry_ms,
	    a->nretry * sizeof(*a->retry_ms)) == 0);
	CHECK(b->sign_keylen == a->sign_keylen && (a->sign_keylen == 0 ||
	    memcmp(b->sign_key, a->sign_key, a->sign_keylen) == 0));
	CHECK(build_same(a, b, SUB_ID));
	CHECK(build_same(a, b, JSON_SUB));
}

/* Encode, decode, build the same; the decoded rule encodes the same. */
static void
check_roundtrip(const struct conf *c, const char *name)
{
	const struct rule *r = rule_of(c, name);
	struct buf b, again;
	struct rule back;

	buf_init(&b);
	buf_init(&again);
	rule_encode(&b, r);
	CHECK(rule_decode(b.data, b.len, &back) == 0);
	check_same_rule(r, &back);
	rule_encode(&again, &back);
	CHECK(again.len == b.len && memcmp(again.data, b.data, b.len) == 0);
	conf_rule_clear(&back);
	buf_free(&again);
	buf_free(&b);
}

static void
check_version_ids(const struct conf *c)
{
	char id1[RULE_VERSION_LEN + 1], id2[RULE_VERSION_LEN + 1];
	char id3[RULE_VERSION_LEN + 1];
	struct buf a, b, other;

	buf_init(&a);
	buf_init(&b);
	buf_init(&other);
	rule_encode(&a, rule_of(c, "json"));
	rule_encode(&b, rule_of(c, "json"));
	rule_encode(&other, rule_of(c, "signpost"));
	rule_version_id(&a, id1);
	rule_version_id(&b, id2);
	rule_version_id(&other, id3);
	CHECK(strlen(id1) == RULE_VERSION_LEN);
	CHECK(strcmp(id1, id2) == 0);
	CHECK(strcmp(id1, id3) != 0);
	/* One byte changed is another version: the status filter. */
	a.data[a.len - 1] ^= 1;
	rule_version_id(&a, id2);
	CHECK(strcmp(id1, id2) != 0);
	buf_free(&a);
	buf_free(&b);
	buf_free(&other);
}

/*
 * Every truncation is refused but one: without its last byte (the status
 * filter) an encoding is a version stored before the filter was kept,
 * which decodes with status RULE_STATUS_OWN.  Trailing bytes are refused.
 */
static void
check_truncated(const struct conf *c, const char *name)
{
	struct buf b;
	struct rule back;
	size_t n, accepted = 0;

	buf_init(&b);
	rule_encode(&b, rule_of(c, name));
	for (n = 0; n + 1 < b.len; n++) {
		if (rule_decode(b.data, n, &back) == 0) {
			accepted++;
			fprintf(stderr, "%s: truncated to %zu of %zu bytes: "
			    "decoded\n", name, n, b.len);
		}
		conf_rule_clear(&back);
	}
	CHECK(accepted == 0);
	CHECK(rule_decode(b.data, b.len - 1, &back) == 0);
	CHECK(back.status == RULE_STATUS_OWN);
	conf_rule_clear(&back);
	buf_addc(&b, 0);
	CHECK(rule_decode(b.data, b.len, &back) == -1);
	conf_rule_clear(&back);
	buf_free(&b);
}

static void
test_versions(const struct conf *c)
{
	check_roundtrip(c, "conv");
	check_roundtrip(c, "form");
	check_roundtrip(c, "json");
	check_roundtrip(c, "signpost");
	check_roundtrip(c, "signget");
	check_version_ids(c);
	check_truncated(c, "json");
	check_truncated(c, "signpost");
}

static void
test_host(const struct conf *c)
{
	const struct rule *r = rule_of(c, "defaults");
	uint64_t h = rule_host_hash(r);
	char *host = rule_host(r);

	CHECK_STR(host, "Example.com:8443");
	free(host);
	host = rule_host(rule_of(c, "conv"));
	CHECK_STR(host, "aff.example.net");
	free(host);
	CHECK(h != 0);
	CHECK(rule_host_hash(r) == h);
	CHECK(rule_host_hash(rule_of(c, "samehost")) == h);
	CHECK(rule_host_hash(rule_of(c, "otherhost")) != h);
	CHECK(rule_host_hash(rule_of(c, "otherport")) != h);
	CHECK(rule_host_hash(rule_of(c, "otherhost")) != 0);
	CHECK(rule_host_hash(rule_of(c, "otherport")) != 0);
	CHECK(rule_host_hash(rule_of(c, "signpost")) ==
	    rule_host_hash(rule_of(c, "signget")));
	CHECK(rule_host_hash(rule_of(c, "conv")) !=
	    rule_host_hash(rule_of(c, "json")));
}

int
main(void)
{
	struct conf *c = load_config();
	int rc;

	CHECK(c != NULL);
	if (c == NULL)
		return check_done("rules");
	test_matches(c);
	test_build_get(c);
	test_build_form(c);
	test_build_json(c);
	test_sign_post(c);
	test_sign_get(c);
	test_retry_delay(c);
	test_outcome(c);
	test_versions(c);
	test_host(c);
	conf_free(c);
	rc = check_done("rules");
	/* Before LeakSanitizer's exit, which does not flush stdio. */
	fflush(stdout);
	return rc;
}
