/*
 * The only caller of libcurl: one multi handle, driven from the firer's
 * single loop.  Redirects are never followed, only http and https are
 * spoken, and every transfer has a timeout (RELIABILITY.md, Library
 * settings).
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "firer.h"
#include "log.h"

#define RESPONSE_KEEP	512

struct transfer {
	CURL			*easy;
	struct curl_slist	*headers;
	void			*cookie;
	char			 snippet[RESPONSE_KEEP + 1];
	size_t			 kept;
	char			 error[CURL_ERROR_SIZE];
	char			*body;
	struct transfer		*prev;
	struct transfer		*next;
};

#define SPARE_MAX	256

struct deliverer {
	CURLM		*multi;
	int		 running;
	struct transfer	*transfers;	/* those in the multi handle */
	struct transfer	*spare[SPARE_MAX];	/* to use again */
	int		 nspare;
};

struct deliverer *
deliver_new(void)
{
	struct deliverer *d = xcalloc(1, sizeof(*d));

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatal("event=start error=\"curl_global_init failed\"");
	if ((d->multi = curl_multi_init()) == NULL)
		fatal("event=start error=\"curl_multi_init failed\"");
	curl_multi_setopt(d->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 256L);
	curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, 256L);
	return d;
}

static void
transfer_destroy(struct transfer *t)
{
	curl_easy_cleanup(t->easy);
	free(t);
}

/*
 * A transfer and its easy handle are kept for the next request: the
 * handle's buffers and its options that never change stay.
 */
static void
transfer_free(struct deliverer *d, struct transfer *t)
{
	curl_slist_free_all(t->headers);
	t->headers = NULL;
	free(t->body);
	t->body = NULL;
	if (d->nspare < SPARE_MAX)
		d->spare[d->nspare++] = t;
	else
		transfer_destroy(t);
}

static void
unlink_transfer(struct deliverer *d, struct transfer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		d->transfers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	curl_multi_remove_handle(d->multi, t->easy);
	d->running--;
}

void
deliver_free(struct deliverer *d)
{
	struct transfer *t;

	if (d == NULL)
		return;
	while ((t = d->transfers) != NULL) {
		unlink_transfer(d, t);
		transfer_free(d, t);
	}
	while (d->nspare > 0)
		transfer_destroy(d->spare[--d->nspare]);
	curl_multi_cleanup(d->multi);
	curl_global_cleanup();
	free(d);
}

/* Keep the first bytes of a response for the log; count the rest. */
static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n, room = RESPONSE_KEEP - t->kept;

	if (room > 0) {
		if (room > len)
			room = len;
		memcpy(t->snippet + t->kept, data, room);
		t->kept += room;
		t->snippet[t->kept] = '\0';
	}
	return len;
}

/* The options every request has, set once for each easy handle. */
static struct transfer *
transfer_new(void)
{
	struct transfer *t = xcalloc(1, sizeof(*t));
	CURL *e;

	if ((e = t->easy = curl_easy_init()) == NULL) {
		free(t);
		return NULL;
	}
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "postline-firer/" "0.1");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	return t;
}

/* The options of this request; all of them, so none is left over. */
static void
set_options(struct transfer *t, const struct postback_request *req)
{
	CURL *e = t->easy;
	size_t i;

	t->kept = 0;
	t->snippet[0] = '\0';
	t->error[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(req->timeout_ms < 5000 ? req->timeout_ms : 5000));
	for (i = 0; i < req->nheaders; i++)
		t->headers = curl_slist_append(t->headers, req->headers[i]);
	/* No "Expect: 100-continue" round trip before a body. */
	t->headers = curl_slist_append(t->headers, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	if (req->post) {
		t->body = xmalloc(req->body.len + 1);
		if (req->body.len)
			memcpy(t->body, req->body.data, req->body.len);
		t->body[req->body.len] = '\0';
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)req->body.len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
	} else
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
}

int
deliver_start(struct deliverer *d, const struct postback_request *req,
    void *cookie)
{
	struct transfer *t = d->nspare > 0 ? d->spare[--d->nspare] :
	    transfer_new();

	if (t == NULL)
		return -1;
	t->prev = t->next = NULL;
	t->cookie = cookie;
	set_options(t, req);
	if (curl_multi_add_handle(d->multi, t->easy) != CURLM_OK) {
		transfer_free(d, t);
		return -1;
	}
	t->next = d->transfers;
	if (t->next)
		t->next->prev = t;
	d->transfers = t;
	d->running++;
	return 0;
}

void
deliver_wait(struct deliverer *d, int fd, long timeout_ms)
{
	struct curl_waitfd extra;
	int still;

	curl_multi_perform(d->multi, &still);
	/* Transfers that ended in this perform: deliver_done() has them. */
	if (still < d->running)
		return;
	extra.fd = fd;
	extra.events = CURL_WAIT_POLLIN;
	extra.revents = 0;
	curl_multi_poll(d->multi, fd >= 0 ? &extra : NULL, fd >= 0 ? 1 : 0,
	    (int)timeout_ms, NULL);
	curl_multi_perform(d->multi, &still);
}

/* Retry-After as seconds or an HTTP date, capped at a day. */
static int64_t
retry_after(CURL *easy)
{
	struct curl_header *h;
	int64_t ms = 0;
	time_t when;
	char *end;
	long long secs;

	if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) !=
	    CURLHE_OK)
		return 0;
	secs = strtoll(h->value, &end, 10);
	if (end != h->value && *end == '\0' && secs > 0)
		ms = (secs > 86400 ? 86400 : secs) * 1000;
	else if ((when = curl_getdate(h->value, NULL)) > 0)
		ms = ((int64_t)when - time(NULL)) * 1000;
	if (ms > 86400000)
		ms = 86400000;
	return ms > 0 ? ms : 0;
}

int
deliver_done(struct deliverer *d, struct outcome *out)
{
	struct transfer *t;
	CURLMsg *msg;
	curl_off_t us = 0;
	long code = 0;
	int left;

	while ((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&t);
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &us);
		memset(out, 0, sizeof(*out));
		out->cookie = t->cookie;
		out->http_status = (int)code;
		out->latency_ms = (int64_t)us / 1000;
		out->curl_failed = msg->data.result != CURLE_OK;
		if (code == 429 || code == 503)
			out->retry_after_ms = retry_after(t->easy);
		if (out->curl_failed)
			snprintf(out->error, sizeof(out->error), "%s",
			    t->error[0] ? t->error :
			    curl_easy_strerror(msg->data.result));
		snprintf(out->snippet, sizeof(out->snippet), "%s", t->snippet);
		unlink_transfer(d, t);
		transfer_free(d, t);
		return 1;
	}
	return 0;
}

void *
deliver_cancel(struct deliverer *d)
{
	struct transfer *t = d->transfers;
	void *cookie;

	if (t == NULL)
		return NULL;
	cookie = t->cookie;
	unlink_transfer(d, t);
	transfer_free(d, t);
	return cookie;
}

int
deliver_running(struct deliverer *d)
{
	return d->running;
}
