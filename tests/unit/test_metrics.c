/*
 * Unit test of common/metrics.c: counters, gauges and histograms render
 * as exact Prometheus exposition lines (HELP and TYPE once per name,
 * labels, cumulative buckets, _sum and _count); the same name and labels
 * give the same metric; and the server answers GET /metrics over a real
 * loopback socket on the configured port moved up by the instance.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "metrics.h"
#include "util.h"

static const char want_latency[] =
    "# HELP pl_latency_seconds Latency.\n"
    "# TYPE pl_latency_seconds histogram\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"0.0005\"} 2\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"0.001\"} 2\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"0.002\"} 3\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"0.005\"} 3\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"0.01\"} 4\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"0.02\"} 4\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"0.05\"} 4\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"0.1\"} 4\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"0.2\"} 4\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"0.5\"} 4\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"1\"} 4\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"2\"} 4\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"5\"} 4\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"10\"} 5\n"
    "pl_latency_seconds_bucket{endpoint=\"click\",le=\"+Inf\"} 6\n"
    "pl_latency_seconds_sum{endpoint=\"click\"} 30.009250\n"
    "pl_latency_seconds_count{endpoint=\"click\"} 6\n";

static const char want_wait[] =
    "# HELP pl_wait_seconds Wait.\n"
    "# TYPE pl_wait_seconds histogram\n"
    "pl_wait_seconds_bucket{le=\"0.0005\"} 0\n"
    "pl_wait_seconds_bucket{le=\"0.001\"} 0\n"
    "pl_wait_seconds_bucket{le=\"0.002\"} 0\n"
    "pl_wait_seconds_bucket{le=\"0.005\"} 0\n"
    "pl_wait_seconds_bucket{le=\"0.01\"} 0\n"
    "pl_wait_seconds_bucket{le=\"0.02\"} 0\n"
    "pl_wait_seconds_bucket{le=\"0.05\"} 0\n"
    "pl_wait_seconds_bucket{le=\"0.1\"} 0\n"
    "pl_wait_seconds_bucket{le=\"0.2\"} 0\n"
    "pl_wait_seconds_bucket{le=\"0.5\"} 0\n"
    "pl_wait_seconds_bucket{le=\"1\"} 0\n"
    "pl_wait_seconds_bucket{le=\"2\"} 0\n"
    "pl_wait_seconds_bucket{le=\"5\"} 0\n"
    "pl_wait_seconds_bucket{le=\"10\"} 0\n"
    "pl_wait_seconds_bucket{le=\"+Inf\"} 1\n"
    "pl_wait_seconds_sum 10.000500\n"
    "pl_wait_seconds_count 1\n";

static const char want_plain[] =
    "# HELP pl_clicks_total Clicks taken.\n"
    "# TYPE pl_clicks_total counter\n"
    "pl_clicks_total 7\n"
    "pl_clicks_total{code=\"302\",host=\"a\"} 1\n"
    "# HELP pl_queue Items queued.\n"
    "# TYPE pl_queue gauge\n"
    "pl_queue{shard=\"0\"} -3\n"
    "pl_queue{shard=\"1\"} 0\n"
    "# HELP pl_level Level.\n"
    "# TYPE pl_level gauge\n"
    "pl_level -1\n";

/* Counters and gauges, in registration order. */
static void
make_plain(void)
{
	struct metric *c, *c2, *g;

	c = metric_counter("pl_clicks_total", "Clicks taken.", NULL);
	c2 = metric_counter("pl_clicks_total", "Clicks taken.",
	    "code=\"302\",host=\"a\"");
	CHECK(c != c2);
	metric_add(c, 3);
	metric_add(c2, 1);
	/* The same name and labels are the same metric ("" is none). */
	CHECK(metric_counter("pl_clicks_total", "Other help.", "") == c);
	CHECK(metric_counter("pl_clicks_total", "Clicks taken.",
	    "code=\"302\",host=\"a\"") == c2);
	metric_add(metric_counter("pl_clicks_total", "Clicks taken.", NULL), 4);

	g = metric_gauge("pl_queue", "Items queued.", "shard=\"0\"");
	CHECK(g != c && metric_gauge("pl_queue", "", "shard=\"1\"") != g);
	metric_add(g, 5);
	metric_add(g, -8);
	g = metric_gauge("pl_level", "Level.", NULL);
	metric_set(g, 42);
	metric_set(g, -1);
}

/*
 * Bucket bounds are inclusive: 0.25 and 0.5 in le="0.5", 1.5 in le="2",
 * 7 in le="10", 10000 in le="10000", 20000 only in +Inf.
 */
static void
make_histograms(void)
{
	struct metric *h;

	h = metric_histogram("pl_latency_seconds", "Latency.", "endpoint=\"click\"");
	metric_observe_ms(h, 0.25);
	metric_observe_ms(h, 0.5);
	metric_observe_ms(h, 1.5);
	metric_observe_ms(h, 7);
	metric_observe_ms(h, 10000);
	CHECK(metric_histogram("pl_latency_seconds", "Latency.",
	    "endpoint=\"click\"") == h);
	metric_observe_ms(h, 20000);
	metric_observe_ms(metric_histogram("pl_wait_seconds", "Wait.", NULL),
	    10000.5);
}

static void
test_render(void)
{
	struct buf b, want;

	make_plain();
	make_histograms();
	buf_init(&b);
	buf_init(&want);
	buf_adds(&want, want_plain);
	buf_adds(&want, want_latency);
	buf_adds(&want, want_wait);
	metrics_render(&b);
	CHECK_STR(b.data, want.data);
	buf_free(&b);
	buf_free(&want);
}

/*
 * Series of one name made apart (a label per new host, made when the
 * host is first seen) still come out together, after one HELP and TYPE.
 */
static void
test_render_groups(void)
{
	static const char want[] =
	    "# HELP pl_host_total Per host.\n"
	    "# TYPE pl_host_total counter\n"
	    "pl_host_total{host=\"a\"} 1\n"
	    "pl_host_total{host=\"b\"} 3\n"
	    "# HELP pl_other Other.\n"
	    "# TYPE pl_other gauge\n"
	    "pl_other 2\n";
	struct buf b;

	metric_add(metric_counter("pl_host_total", "Per host.",
	    "host=\"a\""), 1);
	metric_set(metric_gauge("pl_other", "Other.", NULL), 2);
	metric_add(metric_counter("pl_host_total", "Per host.",
	    "host=\"b\""), 3);
	buf_init(&b);
	metrics_render(&b);
	CHECK_STR(b.data, want);
	buf_free(&b);
	metrics_stop();
}

/* A listening socket on 127.0.0.1 (port 0: any), and its port. */
static int
listen_on(unsigned port, unsigned *bound)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((in_port_t)port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 1) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	*bound = ntohs(sin.sin_port);
	return fd;
}

/* Send request to 127.0.0.1:port and read the whole answer; -1 if none. */
static int
fetch(unsigned port, const char *request, struct buf *reply)
{
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };
	char chunk[4096];
	ssize_t n;
	int fd;

	buf_reset(reply);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((in_port_t)port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(reply, chunk, (size_t)n);
	close(fd);
	return reply->len > 0 ? 0 : -1;
}

/* The status code of an HTTP answer, or -1. */
static int
status_of(const struct buf *reply)
{
	int code;

	if (reply->len < 12 || strncmp(reply->data, "HTTP/1.", 7) != 0 ||
	    sscanf(reply->data + 8, " %3d ", &code) != 1)
		return -1;
	return code;
}

/* The whole answer ("" if none), and its body. */
static const char *
text_of(const struct buf *reply)
{
	return reply->data ? reply->data : "";
}

static const char *
body_of(const struct buf *reply)
{
	const char *p = strstr(text_of(reply), "\r\n\r\n");

	return p ? p + 4 : "";
}

/* Addresses that cannot be served are refused, and nothing is started. */
static void
test_bad_addresses(void)
{
	char addr[64];
	unsigned port;
	int fd;

	CHECK(metrics_start(NULL, 3) == 0);	/* metrics off */
	CHECK(metrics_start("127.0.0.1", 0) == -1);
	CHECK(metrics_start("127.0.0.1:http", 0) == -1);
	CHECK(metrics_start("127.0.0.1:65535", 1) == -1);
	CHECK(metrics_start("127.0.0.1:9101", -1) == -1);
	CHECK((fd = listen_on(0, &port)) != -1);
	if (fd == -1)
		return;
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	CHECK(metrics_start(addr, 0) == -1);		/* in use */
	close(fd);
}

/* Whether nothing listens on port (when it could be checked). */
static int
closed(unsigned port)
{
	struct buf reply;
	unsigned bound;
	int fd, rc;

	if ((fd = listen_on(port, &bound)) == -1)
		return 1;	/* taken by someone else: cannot tell */
	close(fd);
	buf_init(&reply);
	rc = fetch(port, "GET /metrics HTTP/1.0\r\n\r\n", &reply) == -1;
	buf_free(&reply);
	return rc;
}

/* Instance 1 of "127.0.0.1:PORT" serves on PORT + 1. */
static void
test_serve(void)
{
	struct buf reply;
	char addr[64];
	unsigned port;
	int fd;

	CHECK((fd = listen_on(0, &port)) != -1);
	if (fd == -1)
		return;
	close(fd);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port - 1);
	CHECK(metrics_start(addr, 1) == 0);
	buf_init(&reply);
	CHECK(fetch(port, "GET /metrics HTTP/1.0\r\n\r\n", &reply) == 0);
	CHECK(status_of(&reply) == 200);
	CHECK(strstr(text_of(&reply), "text/plain; version=0.0.4") != NULL);
	CHECK(strstr(body_of(&reply), "\npl_clicks_total 7\n") != NULL);
	CHECK(strstr(body_of(&reply), want_latency) != NULL);

	/* Every request renders anew. */
	metric_add(metric_counter("pl_clicks_total", "", NULL), 1);
	CHECK(fetch(port, "GET /metrics HTTP/1.0\r\n\r\n", &reply) == 0);
	CHECK(strstr(body_of(&reply), "\npl_clicks_total 8\n") != NULL);

	CHECK(fetch(port, "GET /other HTTP/1.0\r\n\r\n", &reply) == 0);
	CHECK(status_of(&reply) == 404);
	CHECK(strstr(body_of(&reply), "pl_clicks_total") == NULL);
	CHECK(fetch(port, "DELETE /metrics HTTP/1.0\r\n\r\n", &reply) == 0);
	CHECK(status_of(&reply) == 405);
	CHECK(closed(port - 1));	/* not on the configured port itself */

	/* Stopped: no server, and every metric forgotten. */
	metrics_stop();
	CHECK(fetch(port, "GET /metrics HTTP/1.0\r\n\r\n", &reply) == -1);
	buf_reset(&reply);
	metrics_render(&reply);
	CHECK(reply.len == 0);
	buf_free(&reply);
}

int
main(void)
{
	test_bad_addresses();
	test_render();
	test_serve();
	metrics_stop();		/* twice is harmless */
	test_render_groups();
	return check_done("metrics");
}
