/*
 * Postback rules: which events a rule fires for, and the request it
 * makes of one delivery.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "firer.h"
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
	if (attempt == 0 || attempt > r->nretry)
		return -1;
	return r->retry_ms[attempt - 1];
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
add_header(struct request *req, char *line)
{
	req->headers = xreallocarray(req->headers, req->nheaders + 1,
	    sizeof(*req->headers));
	req->headers[req->nheaders++] = line;
}

static char *
url_host(const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;

	p = p ? p + 3 : url;
	n = strcspn(p, "/?#");
	return xstrndup(p, n);
}

char *
rule_host(const struct rule *r)
{
	return url_host(tmpl_source(r->url));
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

void
rule_build(const struct rule *r, const struct delivery *d,
    struct request *req)
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
	req->host = url_host(req->url);
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
}

void
request_free(struct request *req)
{
	size_t i;

	free(req->url);
	free(req->host);
	for (i = 0; i < req->nheaders; i++)
		free(req->headers[i]);
	free(req->headers);
	buf_free(&req->body);
	memset(req, 0, sizeof(*req));
}
