/*
 * firer -t RULE: build the request of one rule from sample values (each
 * macro a plausible, clearly fake value, or the NAME=VALUE given), print
 * it, send it once and print the answer.  It touches neither the
 * schedule nor the attempt log.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "firer.h"
#include "log.h"
#include "tmpl.h"
#include "txid.h"

static const struct {
	const char	*name;
	const char	*value;
} samples[] = {
	{ "external_transaction_id", "TEST-EXT-1" },
	{ "publisher", "test-publisher" },
	{ "sub_id", "test-sub" }, { "sub_id_2", "test-sub-2" },
	{ "sub_id_3", "test-sub-3" }, { "sub_id_4", "test-sub-4" },
	{ "sub_id_5", "test-sub-5" }, { "source", "test-source" },
	{ "click_ip", "192.0.2.1" }, { "click_user_agent", "postline-test/1" },
	{ "order_id", "TEST-ORDER-1" }, { "revenue", "10.00" },
	{ "payout", "5.00" }, { "currency", "USD" },
	{ "purchase_value", "20.00" }, { "adv_sub_id", "test-adv-sub" },
	{ "adv_sub_id_2", "test-adv-sub-2" }, { "adv_sub_id_3",
	    "test-adv-sub-3" }, { "adv_sub_id_4", "test-adv-sub-4" },
	{ "conversion_ip", "192.0.2.2" }, { "user_agent", "postline-test/1" },
	{ "user_email", "test@example.com" }, { "device_id", "test-device" },
	{ "session_time", "60" },
};

static const char *
first_or(const struct strlist *l, const char *fallback)
{
	return l->n > 0 ? l->v[0] : fallback;
}

/* Sample values, shaped by the rule's filters so that it would fire. */
static void
sample_event(const struct conf *conf, const struct rule *r, struct event *ev)
{
	char secs[32];
	size_t i;

	ev->type = (uint8_t)r->on;
	ev->status = r->status == RULE_STATUS_ANY ? STATUS_APPROVED :
	    (uint8_t)r->status;
	ev->time_ms = now_ms();
	txid_generate(ev->txid, 0, ev->time_ms);
	for (i = 0; i < nitems(samples); i++)
		attrs_set(&ev->attrs, samples[i].name, samples[i].value);
	attrs_set(&ev->attrs, "offer_id", first_or(&r->offers,
	    conf->noffers ? conf->offers[0].id : "test-offer"));
	attrs_set(&ev->attrs, "publisher", first_or(&r->publishers,
	    "test-publisher"));
	attrs_set(&ev->attrs, "event", r->on == EVENT_EVENT ?
	    first_or(&r->events, "test-event") : "");
	attrs_set(&ev->attrs, "status", status_name(ev->status));
	attrs_set(&ev->attrs, "reason", first_or(&r->reasons, ""));
	snprintf(secs, sizeof(secs), "%lld", (long long)(ev->time_ms / 1000));
	attrs_set(&ev->attrs, "conversion_time", secs);
	snprintf(secs, sizeof(secs), "%lld", (long long)(ev->time_ms / 1000 -
	    60));
	attrs_set(&ev->attrs, "click_time", secs);
}

/* NAME=VALUE pairs over the samples; -1 on a name that is no macro. */
static int
override(struct delivery *d, char **pairs, int n)
{
	char *eq, *name;
	int i;

	for (i = 0; i < n; i++) {
		if ((eq = strchr(pairs[i], '=')) == NULL) {
			fprintf(stderr, "firer: %s: not NAME=VALUE\n", pairs[i]);
			return -1;
		}
		name = xstrndup(pairs[i], (size_t)(eq - pairs[i]));
		if (!tmpl_known_macro(name) || strcmp(name, "attempt") == 0 ||
		    strcmp(name, "timestamp") == 0) {
			fprintf(stderr, "firer: %s: not a macro one can set\n",
			    name);
			free(name);
			return -1;
		}
		if (strcmp(name, "transaction_id") == 0)
			snprintf(d->event.txid, sizeof(d->event.txid), "%s",
			    eq + 1);
		else if (strcmp(name, "postback_id") == 0)
			snprintf(d->postback_id, sizeof(d->postback_id), "%s",
			    eq + 1);
		else
			attrs_set(&d->event.attrs, name, eq + 1);
		free(name);
	}
	return 0;
}

/* Secrets in headers are shown by their first characters only. */
static int
secret_header(const char *line)
{
	static const char *const words[] = {
		"auth", "token", "key", "secret", "cookie", "signature",
		"password", NULL
	};
	size_t n = strcspn(line, ":"), i, j, w;

	for (i = 0; words[i]; i++) {
		w = strlen(words[i]);
		for (j = 0; j + w <= n; j++)
			if (strncasecmp(line + j, words[i], w) == 0)
				return 1;
	}
	return 0;
}

static void
print_request(const struct postback_request *req)
{
	size_t i, n;

	printf("%s %s\n", req->post ? "POST" : "GET", req->url);
	for (i = 0; i < req->nheaders; i++) {
		n = strcspn(req->headers[i], ":");
		if (secret_header(req->headers[i]))
			printf("%.*s: %.6s... (masked)\n", (int)n,
			    req->headers[i], req->headers[i] + n +
			    (req->headers[i][n] ? 2 : 0));
		else
			printf("%s\n", req->headers[i]);
	}
	printf("\n");
	if (req->body.len)
		printf("%s\n", req->body.data);
}

static int
send_once(const struct postback_request *req)
{
	struct deliverer *dl = deliver_new();
	struct outcome o;
	int cookie;

	if (deliver_start(dl, req, &cookie) == -1) {
		deliver_free(dl);
		fprintf(stderr, "firer: cannot start the request\n");
		return 1;
	}
	while (!deliver_done(dl, &o))
		deliver_wait(dl, -1, 100);
	deliver_free(dl);
	if (o.curl_failed) {
		printf("-> no response (%lld ms): %s\n", (long long)o.latency_ms,
		    o.error);
		return 1;
	}
	printf("-> %d (%lld ms)\n%s\n", o.http_status, (long long)o.latency_ms,
	    o.snippet);
	return o.http_status >= 200 && o.http_status < 300 ? 0 : 1;
}

int
testfire(const struct conf *conf, const char *name, char **pairs, int n,
    int dry_run)
{
	const struct rule *r = conf_rule(conf, name);
	struct postback_request req;
	struct delivery d;
	int rc = 2;

	if (r == NULL) {
		fprintf(stderr, "firer: %s: no such postback rule\n", name);
		return 2;
	}
	memset(&d, 0, sizeof(d));
	event_init(&d.event);
	sample_event(conf, r, &d.event);
	txid_generate(d.postback_id, 0, now_ms());
	d.rule = r->name;
	d.attempt = 1;
	if (override(&d, pairs, n) == 0) {
		rule_build(r, &d, &req);
		print_request(&req);
		fflush(stdout);
		rc = dry_run ? 0 : send_once(&req);
		request_free(&req);
	}
	event_free(&d.event);
	return rc;
}
