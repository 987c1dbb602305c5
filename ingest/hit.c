/*
 * From the parameters of one request to a hit record: validation, tokens,
 * aliases, the transaction id of a click and its redirect.  No HTTP
 * library here: http.c hands over decoded parameters.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "inbound.h"
#include "ingest.h"
#include "log.h"
#include "tmpl.h"
#include "txid.h"

static const char *const click_params[] = {
	"offer_id", "publisher", "sub_id", "sub_id_2", "sub_id_3",
	"sub_id_4", "sub_id_5", "external_transaction_id", "source", NULL
};

static const char *const clickless_params[] = {
	"secure", "offer_id", "publisher", "sub_id", "sub_id_2", "sub_id_3",
	"sub_id_4", "sub_id_5", "source", "session_time", "conversion_ip",
	"user_agent", "revenue", "payout", "currency", "purchase_value",
	"adv_sub_id", "adv_sub_id_2", "adv_sub_id_3", "adv_sub_id_4",
	"external_transaction_id", "user_email", "device_id", "event",
	"status", "reason", "order_id", NULL
};

static const char *const reject_params[] = {
	"secure", "transaction_id", "reason", "event", "order_id", NULL
};

static const struct {
	const char	*path;
	enum endpoint	 endpoint;
	int		 post;
} endpoints[] = {
	{ "/click", EP_CLICK, 0 },
	{ "/impression", EP_IMPRESSION, 0 },
	{ "/postback", EP_POSTBACK, 1 },
	{ "/pixel", EP_PIXEL, 0 },
	{ "/clickless", EP_CLICKLESS, 1 },
	{ "/reject", EP_REJECT, 1 },
	{ "/healthz", EP_HEALTHZ, 0 },
};

enum endpoint
endpoint_of(const char *path)
{
	size_t i;

	for (i = 0; i < nitems(endpoints); i++)
		if (strcmp(path, endpoints[i].path) == 0)
			return endpoints[i].endpoint;
	return EP_NONE;
}

int
endpoint_allows_post(enum endpoint ep)
{
	size_t i;

	for (i = 0; i < nitems(endpoints); i++)
		if (endpoints[i].endpoint == ep)
			return endpoints[i].post;
	return 0;
}

/* Percent-decode s[0..n) ('+' is a space); -1 on a bad escape or NUL. */
static int
url_decode(const char *s, size_t n, struct buf *out)
{
	size_t i;
	int hi, lo;

	buf_reset(out);
	buf_reserve(out, n);
	for (i = 0; i < n; i++) {
		if (s[i] == '\0')
			return -1;
		if (s[i] == '+') {
			buf_addc(out, ' ');
		} else if (s[i] == '%') {
			if (i + 2 >= n)
				return -1;
			if ((hi = hex_value(s[i + 1])) < 0 ||
			    (lo = hex_value(s[i + 2])) < 0 || (hi | lo) == 0)
				return -1;
			buf_addc(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			buf_addc(out, s[i]);
		}
	}
	return 0;
}

int
form_decode(const char *body, size_t len, struct attrs *params)
{
	struct buf name, value;
	const char *p = body, *end = body + len, *amp, *eq;
	int rc = 0;

	buf_init(&name);
	buf_init(&value);
	while (p < end && rc == 0) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		if (amp > p) {
			if (url_decode(p, (size_t)(eq - p), &name) == -1 ||
			    url_decode(eq + (eq < amp), (size_t)(amp - eq -
			    (eq < amp)), &value) == -1)
				rc = -1;
			else if (name.len > 0 &&
			    attrs_get(params, name.data) == NULL)
				attrs_set(params, name.data,
				    value.data ? value.data : "");
		}
		p = amp + 1;
	}
	buf_free(&name);
	buf_free(&value);
	return rc;
}

/*
 * The client of a request that came through trusted proxies: walk
 * X-Forwarded-For from the right, past the proxies we trust; the first
 * address we do not trust is the client.
 */
void
client_address(const struct conf *conf, const char *peer, const char *xff,
    char *out, size_t size)
{
	char item[64];
	const char *end, *seg, *start;
	size_t n;

	snprintf(out, size, "%s", peer);
	if (xff == NULL || !conf_trusted_proxy(conf, peer))
		return;
	end = xff + strlen(xff);
	while (end > xff) {
		for (seg = end; seg > xff && seg[-1] != ','; seg--)
			;
		start = seg;
		while (start < end && (*start == ' ' || *start == '\t'))
			start++;
		n = (size_t)(end - start);
		while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
			n--;
		if (n == 0 || n >= sizeof(item))
			return;		/* malformed: keep what we know */
		memcpy(item, start, n);
		item[n] = '\0';
		if (!conf_trusted_proxy(conf, item)) {
			unsigned char a[16];

			if (inet_pton(AF_INET, item, a) == 1 ||
			    inet_pton(AF_INET6, item, a) == 1)
				snprintf(out, size, "%s", item);
			return;
		}
		snprintf(out, size, "%s", item);
		end = seg > xff ? seg - 1 : xff;
	}
}

/* event and order_id are parts of the matcher's keys: keep them short. */
static size_t
value_max(const char *name)
{
	if (strcmp(name, "event") == 0 || strcmp(name, "order_id") == 0)
		return INGEST_KEY_VALUE_MAX;
	return INGEST_VALUE_MAX;
}

/* A header value as kept: cut to what a record value may hold. */
static void
set_header_attr(struct hit *hit, const char *name, const char *value)
{
	char *v = xstrndup(value ? value : "", INGEST_VALUE_MAX);

	attrs_set(&hit->attrs, name, v);
	free(v);
}

/*
 * Copy the request's parameters into the hit under our names: an alias
 * renames an advertiser's name, unknown names become param.NAME.
 */
static int
copy_params(const struct conf *conf, const char *offer_id,
    const struct attrs *params, const char *const *ours, struct hit *hit,
    struct answer *ans)
{
	const char *name, *alias;
	size_t i;

	/* Within what a record can carry (RECORD_ATTRS_MAX and the rest). */
	if (params->n > INGEST_PARAMS_MAX) {
		answer_too_many_parameters(ans);
		return -1;
	}
	for (i = 0; i < params->n; i++) {
		name = params->v[i].name;
		if ((alias = conf_alias(conf, offer_id, name)) != NULL)
			name = alias;
		if (strlen(params->v[i].value) > value_max(name)) {
			answer_error_name(ans, 400, "value_too_long",
			    in_names(ours, name) ? name : "param");
			return -1;
		}
		if (strcmp(name, "secure") == 0)
			continue;	/* a secret: never stored */
		if (in_names(ours, name)) {
			attrs_set(&hit->attrs, name, params->v[i].value);
		} else if (strlen(name) > INGEST_NAME_MAX) {
			answer_error(ans, 400, "name_too_long");
			return -1;
		} else {
			char *key = xasprintf("param.%s", name);

			attrs_set(&hit->attrs, key, params->v[i].value);
			free(key);
		}
	}
	return 0;
}

/* A parameter by our name, looking through the aliases too. */
static const char *
param(const struct conf *conf, const char *offer_id,
    const struct attrs *params, const char *ours)
{
	const char *alias;
	size_t i;

	for (i = 0; i < params->n; i++) {
		alias = conf_alias(conf, offer_id, params->v[i].name);
		if (strcmp(alias ? alias : params->v[i].name, ours) == 0)
			return params->v[i].value;
	}
	return NULL;
}

static int
require(const char *value, const char *name, struct answer *ans)
{
	if (value != NULL && *value != '\0')
		return 0;
	answer_error_name(ans, 400, "missing_parameter", name);
	return -1;
}

static const char *
lookup_hit(void *arg, const char *name)
{
	const struct hit *hit = arg;

	if (strcmp(name, "transaction_id") == 0)
		return hit->txid;
	return attrs_get(&hit->attrs, name);
}

static void
set_time_attr(struct hit *hit, const char *name)
{
	char secs[32];

	snprintf(secs, sizeof(secs), "%lld", (long long)(hit->time_ms / 1000));
	attrs_set(&hit->attrs, name, secs);
}

/* A clickless conversion's transaction: the shards in turn. */
static void
new_transaction(struct ingest *in, struct hit *hit)
{
	unsigned shard;

	shard = __atomic_fetch_add(&in->next_shard, 1, __ATOMIC_RELAXED) %
	    (unsigned)in->daemon->conf->matcher_endpoints.n;
	txid_generate(hit->txid, shard, hit->time_ms);
}

/*
 * Every click of one offer, IP and User-Agent goes to one shard, whose
 * index of them makes unique_clicks exact (report(1)); the hash spreads
 * visitors evenly over the shards.
 */
static void
new_click_transaction(struct ingest *in, struct hit *hit)
{
	const char *offer = attrs_get(&hit->attrs, "offer_id");
	const char *ip = attrs_get(&hit->attrs, "click_ip");
	const char *ua = attrs_get(&hit->attrs, "click_user_agent");
	uint64_t h = counter_unique_hash(offer ? offer : "", ip ? ip : "",
	    ua ? ua : "");

	txid_generate(hit->txid, (unsigned)(h %
	    in->daemon->conf->matcher_endpoints.n), hit->time_ms);
}

/* A click, or an impression (kind) which is answered with the GIF. */
static int
handle_click(struct ingest *in, const struct request_info *ri,
    struct hit *hit, struct answer *ans, int kind)
{
	const struct conf *conf = in->daemon->conf;
	const char *offer_id = param(conf, NULL, ri->params, "offer_id");
	const struct offer *offer;
	struct buf url;

	if (require(offer_id, "offer_id", ans) == -1 ||
	    require(param(conf, offer_id, ri->params, "publisher"),
	    "publisher", ans) == -1)
		return -1;
	if ((offer = conf_offer(conf, offer_id)) == NULL) {
		answer_error(ans, 404, "unknown_offer");
		return -1;
	}
	if (copy_params(conf, offer_id, ri->params, click_params, hit,
	    ans) == -1)
		return -1;
	hit->kind = (uint8_t)kind;
	attrs_set(&hit->attrs, "click_ip", ri->client_ip);
	set_header_attr(hit, "click_user_agent", ri->user_agent);
	set_time_attr(hit, "click_time");
	new_click_transaction(in, hit);
	if (kind == HIT_IMPRESSION) {
		answer_gif(ans);
		return 0;
	}
	buf_init(&url);
	tmpl_expand(offer->url, lookup_hit, hit, &url);
	answer_redirect(ans, hit->txid, buf_release(&url));
	return 0;
}

/* The global token or an offer's; sets _token on the hit. */
static int
check_token(const struct conf *conf, const char *secure, struct hit *hit,
    const char **offer_id, struct answer *ans)
{
	size_t i;

	*offer_id = NULL;
	if (require(secure, "secure", ans) == -1)
		return -1;
	if (conf->global_token && secret_equal(secure, conf->global_token)) {
		attrs_set(&hit->attrs, "_token", "*");
		return 0;
	}
	for (i = 0; i < conf->noffers; i++) {
		const struct offer *o = &conf->offers[i];

		if (o->token && secret_equal(secure, o->token)) {
			attrs_set(&hit->attrs, "_token", o->id);
			*offer_id = o->id;
			return 0;
		}
	}
	answer_error(ans, 403, "bad_token");
	return -1;
}

static int
check_conversion_values(const struct hit *hit, struct answer *ans)
{
	const char *bad = record_bad_value(&hit->attrs);

	if (bad == NULL)
		return 0;
	if (strcmp(bad, "status") == 0)
		answer_error(ans, 400, "bad_status");
	else
		answer_error_name(ans, 400, "bad_amount", bad);
	return -1;
}

/* Where the conversion happened, unless the advertiser says. */
static void
set_conversion_context(const struct request_info *ri, struct hit *hit)
{
	if (attrs_get(&hit->attrs, "conversion_ip") == NULL)
		attrs_set(&hit->attrs, "conversion_ip", ri->client_ip);
	if (attrs_get(&hit->attrs, "user_agent") == NULL)
		set_header_attr(hit, "user_agent", ri->user_agent);
	set_time_attr(hit, "conversion_time");
}

/* The token, then a checked transaction_id, for a known transaction. */
static int
token_and_transaction(const struct conf *conf, const struct request_info *ri,
    struct hit *hit, const char **offer_id, struct answer *ans)
{
	const char *txid;

	if (check_token(conf, param(conf, NULL, ri->params, "secure"), hit,
	    offer_id, ans) == -1)
		return -1;
	txid = param(conf, *offer_id, ri->params, "transaction_id");
	if (require(txid, "transaction_id", ans) == -1)
		return -1;
	if (txid_parse(txid, hit->txid) == -1) {
		answer_error(ans, 400, "bad_transaction_id");
		return -1;
	}
	return 0;
}

/* A postback, or a pixel (kind): the same parameters. */
static int
handle_postback(struct ingest *in, const struct request_info *ri,
    struct hit *hit, struct answer *ans, int kind)
{
	const struct conf *conf = in->daemon->conf;
	const char *offer_id;

	if (token_and_transaction(conf, ri, hit, &offer_id, ans) == -1 ||
	    copy_params(conf, offer_id, ri->params, record_postback_params, hit,
	    ans) == -1 || check_conversion_values(hit, ans) == -1)
		return -1;
	hit->kind = (uint8_t)kind;
	set_conversion_context(ri, hit);
	if (kind == HIT_PIXEL)
		answer_gif(ans);
	else
		answer_accepted(ans, hit->txid);
	return 0;
}

/* A conversion without a click: it gets a transaction of its own. */
static int
handle_clickless(struct ingest *in, const struct request_info *ri,
    struct hit *hit, struct answer *ans)
{
	const struct conf *conf = in->daemon->conf;
	const char *offer_id = param(conf, NULL, ri->params, "offer_id");
	const char *token_offer;

	if (check_token(conf, param(conf, offer_id, ri->params, "secure"),
	    hit, &token_offer, ans) == -1 ||
	    require(offer_id, "offer_id", ans) == -1)
		return -1;
	if (conf_offer(conf, offer_id) == NULL) {
		answer_error(ans, 404, "unknown_offer");
		return -1;
	}
	if (copy_params(conf, offer_id, ri->params, clickless_params, hit,
	    ans) == -1 || check_conversion_values(hit, ans) == -1)
		return -1;
	hit->kind = HIT_CLICKLESS;
	new_transaction(in, hit);
	set_conversion_context(ri, hit);
	answer_accepted(ans, hit->txid);
	return 0;
}

/* The advertiser takes a conversion back. */
static int
handle_reject(struct ingest *in, const struct request_info *ri,
    struct hit *hit, struct answer *ans)
{
	const struct conf *conf = in->daemon->conf;
	const char *offer_id;

	if (token_and_transaction(conf, ri, hit, &offer_id, ans) == -1 ||
	    copy_params(conf, offer_id, ri->params, reject_params, hit,
	    ans) == -1)
		return -1;
	hit->kind = HIT_REJECT;
	set_time_attr(hit, "conversion_time");
	/* Where it came from, for its row (inbound.h), not its conversion. */
	attrs_set(&hit->attrs, INBOUND_ATTR_IP, ri->client_ip);
	answer_accepted(ans, hit->txid);
	return 0;
}

/*
 * A pixel always gets its GIF, so that no broken image shows on the
 * advertiser's page; what went wrong goes to the log.
 */
static void
pixel_error(const struct request_info *ri, struct answer *ans)
{
	char why[256];

	log_info("event=pixel result=refused status=%d answer=%s ip=%s",
	    ans->status, log_value(why, sizeof(why), ans->body), ri->client_ip);
	answer_gif(ans);
}

static int
kind_of(enum endpoint ep)
{
	switch (ep) {
	case EP_POSTBACK:
		return HIT_POSTBACK;
	case EP_PIXEL:
		return HIT_PIXEL;
	case EP_CLICKLESS:
		return HIT_CLICKLESS;
	case EP_REJECT:
		return HIT_REJECT;
	default:
		return 0;
	}
}

/* Whether an alias of any offer (or "*") makes name the secure token. */
static int
names_token(const struct conf *conf, const char *name)
{
	size_t i;

	if (strcmp(name, "secure") == 0)
		return 1;
	for (i = 0; i < conf->naliases; i++)
		if (strcmp(conf->aliases[i].theirs, name) == 0 &&
		    strcmp(conf->aliases[i].ours, "secure") == 0)
			return 1;
	return 0;
}

/* The error word of an answer "error=WORD ...". */
static void
set_error_word(struct inbound_row *row, const char *body)
{
	size_t n;

	if (body == NULL || strncmp(body, "error=", 6) != 0)
		return;
	n = strcspn(body + 6, " ");
	row->f[IN_REASON] = xstrndup(body + 6, n);
}

int
hit_refusal(const struct conf *conf, const struct request_info *ri,
    int64_t time_ms, const struct answer *ans, int answered, struct job *job)
{
	const struct attrs *p = ri->params;
	const char *offer = param(conf, NULL, p, "offer_id");
	struct inbound_row row;
	struct buf q;
	size_t i;

	if (kind_of(ri->endpoint) == 0)
		return 0;
	inbound_init(&row);
	row.time_ms = time_ms;
	row.kind = (uint8_t)kind_of(ri->endpoint);
	row.result = INBOUND_ERROR;
	row.http_status = (uint16_t)answered;
	set_error_word(&row, ans->body);
	inbound_set(&row, IN_TXID, param(conf, offer, p, "transaction_id"));
	inbound_set(&row, IN_OFFER, offer);
	inbound_set(&row, IN_PUBLISHER, param(conf, offer, p, "publisher"));
	inbound_set(&row, IN_SUB_ID, param(conf, offer, p, "sub_id"));
	inbound_set(&row, IN_EVENT, param(conf, offer, p, "event"));
	inbound_set(&row, IN_STATUS, param(conf, offer, p, "status"));
	inbound_set(&row, IN_ORDER, param(conf, offer, p, "order_id"));
	inbound_set(&row, IN_IP, ri->client_ip);
	buf_init(&q);
	for (i = 0; i < p->n; i++)
		inbound_query_add(&q, p->v[i].name, p->v[i].value,
		    names_token(conf, p->v[i].name));
	buf_add(&q, "", 1);
	inbound_set(&row, IN_QUERY, q.data);
	buf_free(&q);
	buf_reset(&job->record);
	inbound_put(&job->record, &row);
	/* The index entry is cut as inbound_tx_key() cuts it. */
	snprintf(job->txid, sizeof(job->txid), "%s",
	    row.f[IN_TXID] ? row.f[IN_TXID] : "");
	job->time_ms = time_ms;
	inbound_free(&row);
	job->refusal = 1;
	return 1;
}

int
hit_handle(struct ingest *in, const struct request_info *ri, struct job *job,
    struct answer *ans)
{
	struct hit hit;
	int rc = -1;

	hit_init(&hit);
	hit.time_ms = now_ms();
	switch (ri->endpoint) {
	case EP_CLICK:
		rc = handle_click(in, ri, &hit, ans, HIT_CLICK);
		break;
	case EP_IMPRESSION:
		rc = handle_click(in, ri, &hit, ans, HIT_IMPRESSION);
		break;
	case EP_POSTBACK:
		rc = handle_postback(in, ri, &hit, ans, HIT_POSTBACK);
		break;
	case EP_PIXEL:
		rc = handle_postback(in, ri, &hit, ans, HIT_PIXEL);
		break;
	case EP_CLICKLESS:
		rc = handle_clickless(in, ri, &hit, ans);
		break;
	case EP_REJECT:
		rc = handle_reject(in, ri, &hit, ans);
		break;
	case EP_HEALTHZ:
		answer_healthz(ans, __atomic_load_n(&in->healthy,
		    __ATOMIC_RELAXED));
		break;
	default:
		answer_error(ans, 501, "not_implemented");
		break;
	}
	/*
	 * An id of a shard this ingest does not know yet (shards were added
	 * and our config is older): not ours to refuse for good, so 503 and
	 * the advertiser retries, rather than a wrong shard's verdict.
	 */
	if (rc == 0 && txid_shard(hit.txid) >=
	    in->daemon->conf->matcher_endpoints.n) {
		answer_error(ans, 503, "unknown_shard");
		rc = -1;
	}
	if (rc != 0 && hit_refusal(in->daemon->conf, ri, hit.time_ms, ans,
	    ri->endpoint == EP_PIXEL ? 200 : ans->status, job)) {
		if (ri->endpoint == EP_PIXEL)
			pixel_error(ri, ans);
		hit_free(&hit);
		return 1;
	}
	if (rc == 0) {
		record_put_hit(&job->record, &hit);
		job->shard = txid_shard(hit.txid);
		job->conversion = hit_kind_is_conversion(hit.kind);
		/* A pixel is answered once stored: its verdict is logged. */
		job->wait = job->conversion && hit.kind != HIT_PIXEL;
		memcpy(job->txid, hit.txid, sizeof(job->txid));
	}
	hit_free(&hit);
	return rc == 0;
}
