/*
 * The only caller of libmicrohttpd.  An epoll thread pool serves the
 * connections; a request whose hit must be stored is suspended, handed
 * to the spool thread, and resumed once the hit is committed (and, for
 * a conversion, once its verdict is known or the wait is over).  The
 * response is always queued from the access handler on a later call
 * than the first, which keeps keep-alive connections open
 * (BENCHMARKS.md, click; RELIABILITY.md, Library settings).
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest.h"
#include "log.h"
#include "metrics.h"

#define HTTP_MAX_DAEMONS	CONF_LISTEN_MAX
#define HTTP_POOL_THREADS	2
#define HTTP_CONN_LIMIT		20000
#define HTTP_CONN_TIMEOUT_S	30
/*
 * Per connection: libmicrohttpd zeroes its whole pool after each request,
 * so an idle keep-alive connection costs this much resident memory (8 KiB:
 * about 90 MB for 10,000).  The request line, the headers (56 bytes of
 * bookkeeping each, and each query parameter as much) and the answer's
 * header (the Location) must all fit in it.  With 4 KiB (53 MB for
 * 10,000) a browser's click with ten parameters and a 1.5 KB landing URL
 * had its connection closed unanswered, and with 0.9.75 a request whose
 * parameters overflow the pool hangs until the timeout; so 8 KiB.
 */
#define HTTP_CONN_MEMORY	(8 * 1024)
#define HTTP_PARAM_COST		64	/* its record in the pool, aligned */
#define HTTP_QUERY_ROOM		(HTTP_CONN_MEMORY - 2048)
/*
 * libmicrohttpd builds the answer's header in what the request left of
 * the pool, and closes the connection unanswered when it does not fit:
 * the hit would be stored and the client never told.  Measured with
 * 0.9.75, sweeping a header's length against the Location's with 0-30
 * headers, parameters and cookies: the request line and the header lines
 * take their length (the Cookie header twice: it is copied to be split),
 * each header, parameter or cookie HTTP_PARAM_COST more; with the
 * answer's header lines (HTTP_ANSWER_FIXED for those libmicrohttpd adds)
 * the answer was sent up to a total of 8,212-8,229 and failed from
 * 8,220-8,237 on.  HTTP_ANSWER_ROOM keeps 120 in hand.
 */
#define HTTP_ANSWER_ROOM	8100
#define HTTP_ANSWER_FIXED	128	/* status line, Date, Content-Length */
#define HTTP_REPORT_MAX		256	/* requests woken at once */

enum request_state {
	RQ_NEW,		/* headers seen, body may follow */
	RQ_WAIT,	/* in the spool's hands */
	RQ_READY,	/* the answer is ready to be queued */
};

/*
 * A click waits for its group commit in the HTTP thread: libmicrohttpd
 * calls the handler again while no answer is queued, and the handler
 * then sleeps until the spool has stored it (one commit answers all the
 * clicks the thread read meanwhile).  Suspending the connection instead
 * costs two epoll_ctl calls, an eventfd write and a mutex shared with
 * the spool thread per click (a fifth of ingest's time); it is kept for
 * conversions, which wait up to 2 s for their verdict.
 */
static pthread_mutex_t stored_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stored_cond = PTHREAD_COND_INITIALIZER;

struct request {
	struct http		*http;
	struct MHD_Connection	*conn;
	enum request_state	 state;
	enum endpoint		 endpoint;
	int			 early_status;	/* 400, 405, 413, 415 */
	size_t			 line_len;	/* the request line, as sent */
	int			 in_thread;	/* waits in the handler */
	int			 post;
	struct buf		 body;
	struct answer		 ans;
};

struct http {
	struct ingest		*ingest;
	struct MHD_Daemon	*daemons[HTTP_MAX_DAEMONS];
	MHD_socket		 quiesced[HTTP_MAX_DAEMONS];
	int			 ndaemons;
	int			 active;	/* requests not yet completed */
};

/* The 43-byte transparent 1x1 GIF of /impression and /pixel. */
static const unsigned char gif[43] = {
	'G', 'I', 'F', '8', '9', 'a', 0x01, 0x00, 0x01, 0x00, 0x80, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
	0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b
};

static struct MHD_Response *
make_response(const struct answer *ans)
{
	struct MHD_Response *resp;
	char *text;

	if (ans->gif) {
		resp = MHD_create_response_from_buffer(sizeof(gif),
		    (void *)(uintptr_t)gif, MHD_RESPMEM_PERSISTENT);
		if (resp != NULL) {
			MHD_add_response_header(resp,
			    MHD_HTTP_HEADER_CONTENT_TYPE, "image/gif");
			MHD_add_response_header(resp,
			    MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		}
		return resp;
	}
	text = xasprintf("%s\n", ans->body ? ans->body : "");
	resp = MHD_create_response_from_buffer(strlen(text), text,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	if (ans->location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION,
		    ans->location);
	if (ans->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    ans->allow);
	return resp;
}

/* Answers counted by endpoint and status, for /metrics. */
static const int counted_codes[] = {
	200, 202, 302, 400, 403, 404, 405, 413, 414, 415, 431, 501, 503, 0
};
#define NCODES	(sizeof(counted_codes) / sizeof(counted_codes[0]))
static const char *const endpoint_names[] = {
	"other", "click", "impression", "postback", "pixel", "clickless",
	"reject", "healthz",
};
#define NENDPOINTS (sizeof(endpoint_names) / sizeof(endpoint_names[0]))
static struct metric *answers[NENDPOINTS][NCODES];

static void
make_metrics(void)
{
	char labels[96];
	size_t e, c;

	for (e = 0; e < NENDPOINTS; e++)
		for (c = 0; c < NCODES; c++) {
			if (counted_codes[c])
				snprintf(labels, sizeof(labels),
				    "endpoint=\"%s\",code=\"%d\"",
				    endpoint_names[e], counted_codes[c]);
			else
				snprintf(labels, sizeof(labels),
				    "endpoint=\"%s\",code=\"other\"",
				    endpoint_names[e]);
			answers[e][c] = metric_counter("postline_ingest_hits_total",
			    "Requests answered, by endpoint and status.", labels);
		}
}

static void
count_answer(enum endpoint ep, int status)
{
	size_t c;

	for (c = 0; c < NCODES - 1 && counted_codes[c] != status; c++)
		;
	if ((size_t)ep >= NENDPOINTS)
		ep = EP_NONE;
	metric_add(answers[ep][c], 1);
}

static enum MHD_Result
respond(struct request *req)
{
	struct MHD_Response *resp = make_response(&req->ans);
	enum MHD_Result rc;

	if (resp == NULL)
		return MHD_NO;
	count_answer(req->endpoint, req->ans.status);
	rc = MHD_queue_response(req->conn, (unsigned)req->ans.status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/*
 * What a request holds, read in one walk: its query parameters, and what
 * it takes of its pool, by the measure of HTTP_ANSWER_ROOM.
 */
struct request_values {
	struct attrs	*params;
	int		 bad;		/* a NUL byte inside a parameter */
	size_t		 values;	/* each HTTP_PARAM_COST of the pool */
	size_t		 header_bytes;
};

static enum MHD_Result
read_value(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	struct request_values *rv = cls;

	rv->values++;
	if (kind == MHD_HEADER_KIND) {
		rv->header_bytes += key_size + value_size + 4;	/* ": ", CRLF */
		if (strcasecmp(key, MHD_HTTP_HEADER_COOKIE) == 0)
			rv->header_bytes += value_size;
		return MHD_YES;
	}
	if (kind != MHD_GET_ARGUMENT_KIND)
		return MHD_YES;		/* a cookie: counted only */
	if (key == NULL || strlen(key) != key_size ||
	    (value && strlen(value) != value_size)) {
		rv->bad = 1;	/* a NUL byte inside: refuse the request */
		return MHD_NO;
	}
	if (key_size > 0 && attrs_get(rv->params, key) == NULL)
		attrs_set(rv->params, key, value ? value : "");
	return MHD_YES;
}

static void
client_ip(struct MHD_Connection *conn, char *ip, size_t size)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(ip, size, "unknown");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr, ip, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, ip, (socklen_t)size);
}

/*
 * Query parameters and a form body into rv->params, and the measure of
 * the pool into rv; -1 if malformed.
 */
static int
read_params(struct request *req, struct request_values *rv)
{
	const char *type;

	rv->header_bytes = 2;	/* the empty line */
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND |
	    MHD_GET_ARGUMENT_KIND | MHD_COOKIE_KIND, read_value, rv);
	if (rv->bad)
		return -1;
	if (!req->post)
		return 0;
	type = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (type == NULL || strncasecmp(type,
	    "application/x-www-form-urlencoded", 33) != 0) {
		req->early_status = 415;
		return 0;
	}
	return form_decode(req->body.data ? req->body.data : "",
	    req->body.len, rv->params);
}

/* The answer's header lines, as make_response() sets them. */
static size_t
answer_header_size(const struct answer *ans)
{
	size_t n = HTTP_ANSWER_FIXED +
	    strlen("Content-Type: text/plain; charset=utf-8\r\n") +
	    strlen("Cache-Control: no-store\r\n");

	if (ans->location)
		n += strlen("Location: \r\n") + strlen(ans->location);
	if (ans->allow)
		n += strlen("Allow: \r\n") + strlen(ans->allow);
	return n;
}

/*
 * Refuse a request whose answer would not fit beside it in its pool
 * (HTTP_ANSWER_ROOM): 414 when the request line is the larger part, 431
 * when the headers are.  Nothing of it is stored.
 */
static int
refuse_without_room(struct request *req, const struct request_values *rv)
{
	size_t use = req->line_len + rv->header_bytes +
	    HTTP_PARAM_COST * rv->values;

	if (use + answer_header_size(&req->ans) <= HTTP_ANSWER_ROOM)
		return 0;
	answer_free(&req->ans);
	if (req->line_len > rv->header_bytes)
		answer_error(&req->ans, 414, "uri_too_long");
	else
		answer_error(&req->ans, 431, "headers_too_large");
	return 1;
}

/* The client's address: the peer's, or through trusted proxies. */
static void
request_ip(struct request *req, const struct conf *conf, char *ip,
    size_t size)
{
	char peer[INET6_ADDRSTRLEN];

	client_ip(req->conn, peer, sizeof(peer));
	client_address(conf, peer, MHD_lookup_connection_value(req->conn,
	    MHD_HEADER_KIND, "X-Forwarded-For"), ip, size);
}

/*
 * The row of a conversion-type request refused before it was read whole
 * (report --postbacks): stored when the spool comes to it, not waited
 * for, since its answer is an error.
 */
static void
note_early_refusal(struct request *req, struct attrs *params)
{
	struct ingest *in = req->http->ingest;
	char ip[INET6_ADDRSTRLEN];
	struct request_info ri = { req->endpoint, params, ip, NULL };
	struct job *job = xcalloc(1, sizeof(*job));
	int made;

	buf_init(&job->record);
	pthread_rwlock_rdlock(&in->conf_lock);
	request_ip(req, in->daemon->conf, ip, sizeof(ip));
	made = hit_refusal(in->daemon->conf, &ri, now_ms(), &req->ans,
	    req->ans.status, job);
	pthread_rwlock_unlock(&in->conf_lock);
	if (made)
		spool_submit(in->spool, job);
	else
		job_free(job);
}

static enum MHD_Result
process(struct request *req)
{
	struct ingest *in = req->http->ingest;
	struct request_info ri;
	struct attrs params;
	struct request_values rv = { &params, 0, 0, 0 };
	struct job *job;
	char ip[INET6_ADDRSTRLEN];
	int store;

	attrs_init(&params);
	if (read_params(req, &rv) == -1)
		answer_error(&req->ans, 400, "malformed_request");
	if (req->early_status == 415)
		answer_error(&req->ans, 415, "unsupported_media_type");
	if (req->ans.body) {
		note_early_refusal(req, &params);
		attrs_free(&params);
		return respond(req);
	}
	ri.endpoint = req->endpoint;
	ri.params = &params;
	ri.client_ip = ip;
	ri.user_agent = MHD_lookup_connection_value(req->conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
	job = xcalloc(1, sizeof(*job));
	buf_init(&job->record);
	pthread_rwlock_rdlock(&in->conf_lock);
	request_ip(req, in->daemon->conf, ip, sizeof(ip));
	store = hit_handle(in, &ri, job, &req->ans);
	pthread_rwlock_unlock(&in->conf_lock);
	if (refuse_without_room(req, &rv)) {
		store = 0;
		note_early_refusal(req, &params);
	}
	attrs_free(&params);
	if (!store) {
		job_free(job);
		return respond(req);
	}
	/* Wait first: the spool may answer it as soon as it has it. */
	req->state = RQ_WAIT;
	req->in_thread = !job->wait;
	job->cookie = req;
	if (!req->in_thread)
		MHD_suspend_connection(req->conn);
	spool_submit(in->spool, job);
	return MHD_YES;
}

/* Until the spool has answered a request that waits in this thread. */
static void
wait_stored(struct request *req)
{
	pthread_mutex_lock(&stored_lock);
	while (req->state != RQ_READY)
		pthread_cond_wait(&stored_cond, &stored_lock);
	pthread_mutex_unlock(&stored_lock);
}

/* The first call: only look at the request line and headers. */
static void
begin_request(struct request *req, const char *url, const char *method)
{
	const char *len;

	req->endpoint = endpoint_of(url);
	if (strcmp(method, "POST") == 0) {
		req->post = 1;
		if (!endpoint_allows_post(req->endpoint))
			req->early_status = 405;
		len = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (len && strtoull(len, NULL, 10) > INGEST_BODY_MAX)
			req->early_status = 413;
	} else if (strcmp(method, "GET") != 0 &&
	    (strcmp(method, "HEAD") != 0 || req->endpoint != EP_HEALTHZ)) {
		/* HEAD stores nothing: link previewers must not make clicks. */
		req->early_status = 405;
	}
	if (req->endpoint == EP_NONE)
		req->early_status = 404;
}

static enum MHD_Result
early_answer(struct request *req)
{
	struct attrs none;

	switch (req->early_status) {
	case 404:
		answer_error(&req->ans, 404, "not_found");
		break;
	case 405:
		answer_method_not_allowed(&req->ans,
		    endpoint_allows_post(req->endpoint),
		    req->endpoint == EP_HEALTHZ);
		break;
	case 400:
		answer_too_many_parameters(&req->ans);
		break;
	case 414:
		answer_error(&req->ans, 414, "uri_too_long");
		break;
	default:
		answer_error(&req->ans, 413, "request_too_large");
		break;
	}
	attrs_init(&none);
	note_early_refusal(req, &none);
	return respond(req);
}

/*
 * Before libmicrohttpd splits the query.  0.9.75 stalls a connection
 * whose query parameters overflow its pool (it queues a 431, then goes on
 * waiting for headers until the timeout), so a query that would is cut
 * off here and the request answered 400 or 414 instead.  Each parameter
 * takes HTTP_PARAM_COST of the pool, beside the request line itself; the
 * URI is libmicrohttpd's own read buffer.
 */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct request *req = xcalloc(1, sizeof(*req));
	char *query = strchr(uri, '?');
	size_t n = 1;
	const char *p;

	(void)conn;
	req->http = cls;
	req->line_len = strlen(uri);	/* the method and version come next */
	buf_init(&req->body);
	__atomic_fetch_add(&req->http->active, 1, __ATOMIC_RELAXED);
	if (query == NULL)
		return req;
	for (p = query; (p = strchr(p + 1, '&')) != NULL; )
		n++;
	if (n > INGEST_PARAMS_MAX)
		req->early_status = 400;
	else if (strlen(uri) + n * HTTP_PARAM_COST > HTTP_QUERY_ROOM)
		req->early_status = 414;
	if (req->early_status)
		query[1] = '\0';
	return req;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct request *req = *con_cls;

	(void)cls;
	if (req->conn == NULL) {	/* the first call */
		req->conn = conn;
		req->line_len += strlen(method) + strlen(version) + 4;
		begin_request(req, url, method);
		/* Refuse an oversize body before it is sent at all. */
		if (req->early_status == 413)
			return early_answer(req);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (req->body.len + *upload_data_size > INGEST_BODY_MAX)
			req->early_status = 413;
		else if (req->early_status == 0)
			buf_add(&req->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->in_thread)
		wait_stored(req);	/* under the lock the spool answers in */
	if (req->state == RQ_READY)
		return respond(req);
	if (req->state == RQ_WAIT)
		return MHD_YES;
	if (req->early_status && req->early_status != 415)
		return early_answer(req);
	return process(req);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode code)
{
	struct request *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)code;
	if (req == NULL)
		return;
	/* A client gone while its click waits: the spool still holds it. */
	if (req->in_thread)
		wait_stored(req);
	__atomic_fetch_sub(&req->http->active, 1, __ATOMIC_RELAXED);
	buf_free(&req->body);
	answer_free(&req->ans);
	free(req);
	*con_cls = NULL;
}

/*
 * The requests of one group commit that wait in their thread (all but
 * those answered with a verdict): marked under one lock and woken by one
 * broadcast (one per request made both HTTP threads wake, and fight for
 * the lock, for every click).  Once marked, a request may be gone.
 */
static void
stored_group(struct request **reqs, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	pthread_mutex_lock(&stored_lock);
	for (i = 0; i < n; i++)
		reqs[i]->state = RQ_READY;
	pthread_cond_broadcast(&stored_cond);
	pthread_mutex_unlock(&stored_lock);
}

/* A suspended request's answer is ready: resume it. */
static void
resume(struct request *req)
{
	req->state = RQ_READY;
	MHD_resume_connection(req->conn);
}

void
http_report(void *arg, struct job **jobs, size_t n,
    enum spool_outcome outcome, const struct verdict *v)
{
	struct request *waiting[HTTP_REPORT_MAX], *req;
	size_t i, nwaiting = 0;

	(void)arg;
	for (i = 0; i < n; i++) {
		if ((req = jobs[i]->cookie) == NULL)
			continue;	/* a row not waited for */
		/* A refusal's answer stands, whether its row was stored. */
		if (!jobs[i]->refusal)
			answer_outcome(&req->ans, outcome, v, jobs[i]->txid);
		if (!req->in_thread)
			resume(req);
		else if (nwaiting < nitems(waiting))
			waiting[nwaiting++] = req;
		else
			stored_group(&req, 1);
	}
	stored_group(waiting, nwaiting);
}

/*
 * How the query string is decoded: %XX, and '+' as a space as in form
 * bodies.  A '%' that opens no escape cannot be reported from here, so
 * it becomes a NUL byte, which read_params() refuses as malformed.
 */
static size_t
unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *start = s, *out = s;
	int hi, lo;

	(void)cls;
	(void)conn;
	for (; *s; s++) {
		if (*s == '+') {
			*out++ = ' ';
		} else if (*s != '%') {
			*out++ = *s;
		} else if ((hi = hex_value(s[1])) >= 0 &&
		    (lo = hex_value(s[2])) >= 0) {
			*out++ = (char)(hi << 4 | lo);
			s += 2;
		} else
			*out++ = '\0';
	}
	*out = '\0';
	return (size_t)(out - start);
}

static struct MHD_Daemon *
start_one(struct http *h, const char *addr)
{
	struct sockaddr_storage ss;
	unsigned sslen;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	if (parse_hostport(addr, &ss, &sslen) == -1) {
		log_error("event=listen address=%s error=\"bad address\"",
		    addr);
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_POOL_THREADS,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
	    /* SO_REUSEPORT: instances on one host share the address. */
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
	    MHD_OPTION_END);
}

struct http *
http_start(struct ingest *in)
{
	const struct strlist *listen = &in->daemon->conf->listen;
	struct http *h = xcalloc(1, sizeof(*h));
	size_t i;

	h->ingest = in;
	make_metrics();
	for (i = 0; i < HTTP_MAX_DAEMONS; i++)
		h->quiesced[i] = MHD_INVALID_SOCKET;
	for (i = 0; i < listen->n && i < HTTP_MAX_DAEMONS; i++) {
		h->daemons[i] = start_one(h, listen->v[i]);
		if (h->daemons[i] == NULL) {
			log_error("event=listen address=%s result=failed",
			    listen->v[i]);
			http_stop(h);
			return NULL;
		}
		h->ndaemons++;
		log_info("event=listen address=%s", listen->v[i]);
	}
	return h;
}

void
http_quiesce(struct http *h)
{
	MHD_socket fd;
	int i;

	/* The pool threads may still use them: close after the stop. */
	for (i = 0; i < h->ndaemons; i++) {
		fd = MHD_quiesce_daemon(h->daemons[i]);
		h->quiesced[i] = fd;
	}
}

void
http_stop(struct http *h)
{
	int64_t deadline = mono_ms() + 2000;
	int i;

	if (h == NULL)
		return;
	/* Let answered requests reach their clients before closing. */
	while (__atomic_load_n(&h->active, __ATOMIC_RELAXED) > 0 &&
	    mono_ms() < deadline)
		usleep(10000);
	for (i = 0; i < h->ndaemons; i++) {
		MHD_stop_daemon(h->daemons[i]);
		if (h->quiesced[i] != MHD_INVALID_SOCKET)
			close(h->quiesced[i]);
	}
	free(h);
}
