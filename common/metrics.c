#include <errno.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "metrics.h"

enum metric_kind {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

/*
 * Upper bounds in milliseconds, as times are observed; rendered in
 * seconds, Prometheus' base unit.  The last bucket is +Inf.
 */
static const double bucket_ms[] = {
	0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
};
#define NBUCKETS	(sizeof(bucket_ms) / sizeof(bucket_ms[0]))

struct metric {
	enum metric_kind	 kind;
	char			*name;
	char			*help;
	char			*labels;
	int64_t			 value;		/* counter or gauge */
	uint64_t		 buckets[NBUCKETS + 1];
	uint64_t		 count;
	uint64_t		 sum_us;
	struct metric		*next;		/* in registration order */
	struct metric		*chain;		/* in its hash bucket */
};

/* Lookups are on hot paths (a label per host or rule): hashed. */
#define NBUCKETS_HASH	1024

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *registry, *registry_tail;
static struct metric *buckets_hash[NBUCKETS_HASH];

static unsigned
hash_of(const char *name, const char *labels)
{
	uint64_t h = fnv1a(FNV1A_INIT, name, strlen(name));

	h = fnv1a(h, "{", 1);
	return (unsigned)(fnv1a(h, labels, strlen(labels)) % NBUCKETS_HASH);
}
static struct MHD_Daemon *server;

static struct metric *
find_or_make(enum metric_kind kind, const char *name, const char *help,
    const char *labels)
{
	struct metric *m;
	unsigned h;

	if (labels == NULL)
		labels = "";
	h = hash_of(name, labels);
	pthread_mutex_lock(&registry_lock);
	for (m = buckets_hash[h]; m; m = m->chain)
		if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0)
			break;
	if (m == NULL) {
		m = xcalloc(1, sizeof(*m));
		m->kind = kind;
		m->name = xstrdup(name);
		m->help = xstrdup(help);
		m->labels = xstrdup(labels);
		m->chain = buckets_hash[h];
		buckets_hash[h] = m;
		if (registry_tail)
			registry_tail->next = m;
		else
			registry = m;
		registry_tail = m;
	}
	pthread_mutex_unlock(&registry_lock);
	return m;
}

struct metric *
metric_counter(const char *name, const char *help, const char *labels)
{
	return find_or_make(METRIC_COUNTER, name, help, labels);
}

struct metric *
metric_gauge(const char *name, const char *help, const char *labels)
{
	return find_or_make(METRIC_GAUGE, name, help, labels);
}

struct metric *
metric_histogram(const char *name, const char *help, const char *labels)
{
	return find_or_make(METRIC_HISTOGRAM, name, help, labels);
}

void
metric_add(struct metric *m, int64_t n)
{
	__atomic_fetch_add(&m->value, n, __ATOMIC_RELAXED);
}

void
metric_set(struct metric *m, int64_t v)
{
	__atomic_store_n(&m->value, v, __ATOMIC_RELAXED);
}

void
metric_observe_ms(struct metric *m, double ms)
{
	size_t i;

	for (i = 0; i < NBUCKETS && ms > bucket_ms[i]; i++)
		;
	__atomic_fetch_add(&m->buckets[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->sum_us, (uint64_t)(ms * 1000), __ATOMIC_RELAXED);
}

void
metrics_lmdb(uint64_t used, uint64_t size, uint64_t commits, uint64_t syncs)
{
	static struct metric *m_used, *m_size, *m_commits, *m_syncs;

	if (m_used == NULL) {
		m_used = metric_gauge("postline_lmdb_map_used_bytes",
		    "Bytes of the LMDB map in use (pages less free pages).",
		    NULL);
		m_size = metric_gauge("postline_lmdb_map_size_bytes",
		    "Size of the LMDB map: writes are refused past it.", NULL);
		m_commits = metric_counter("postline_lmdb_commits_total",
		    "Write transactions committed.", NULL);
		m_syncs = metric_counter("postline_lmdb_syncs_total",
		    "Syncs of the store to disk (fdatasync).", NULL);
	}
	metric_set(m_used, (int64_t)used);
	metric_set(m_size, (int64_t)size);
	metric_set(m_commits, (int64_t)commits);
	metric_set(m_syncs, (int64_t)syncs);
}

/* name{labels,extra} with the commas right whatever is empty. */
static void
series(struct buf *b, const struct metric *m, const char *suffix,
    const char *extra)
{
	buf_printf(b, "%s%s", m->name, suffix);
	if (*m->labels || (extra && *extra))
		buf_printf(b, "{%s%s%s}", m->labels,
		    *m->labels && extra && *extra ? "," : "", extra ? extra : "");
}

static void
render_histogram(struct buf *b, const struct metric *m)
{
	uint64_t total = 0;
	char le[32];
	size_t i;

	for (i = 0; i <= NBUCKETS; i++) {
		total += __atomic_load_n(&m->buckets[i], __ATOMIC_RELAXED);
		if (i < NBUCKETS)
			snprintf(le, sizeof(le), "le=\"%g\"",
			    bucket_ms[i] / 1000);
		else
			snprintf(le, sizeof(le), "le=\"+Inf\"");
		series(b, m, "_bucket", le);
		buf_printf(b, " %llu\n", (unsigned long long)total);
	}
	series(b, m, "_sum", NULL);
	buf_printf(b, " %.6f\n", (double)__atomic_load_n(&m->sum_us,
	    __ATOMIC_RELAXED) / 1e6);
	series(b, m, "_count", NULL);
	buf_printf(b, " %llu\n", (unsigned long long)__atomic_load_n(
	    &m->count, __ATOMIC_RELAXED));
}

static void
render_series(struct buf *b, const struct metric *m)
{
	if (m->kind == METRIC_HISTOGRAM) {
		render_histogram(b, m);
		return;
	}
	series(b, m, "", NULL);
	buf_printf(b, " %lld\n", (long long)__atomic_load_n(&m->value,
	    __ATOMIC_RELAXED));
}

/*
 * Each name once, where its first series was registered: HELP, TYPE and
 * then every series of that name, for the text format wants them
 * together (series made later, a label per new host, come in between).
 */
void
metrics_render(struct buf *b)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	const struct metric *m, *p;

	pthread_mutex_lock(&registry_lock);
	for (m = registry; m; m = m->next) {
		for (p = registry; p != m && strcmp(p->name, m->name); p = p->next)
			;
		if (p != m)
			continue;	/* rendered with the first of its name */
		buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
		    m->name, types[m->kind]);
		for (p = m; p; p = p->next)
			if (strcmp(p->name, m->name) == 0)
				render_series(b, p);
	}
	pthread_mutex_unlock(&registry_lock);
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;
	struct buf b;
	unsigned status = 200;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	buf_init(&b);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = 405;
		buf_adds(&b, "error=method_not_allowed\n");
	} else if (strcmp(url, "/metrics") != 0) {
		status = 404;
		buf_adds(&b, "error=not_found\n");
	} else
		metrics_render(&b);
	resp = MHD_create_response_from_buffer(b.len, b.data ? b.data : "",
	    MHD_RESPMEM_MUST_COPY);
	buf_free(&b);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; version=0.0.4; charset=utf-8");
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static in_port_t *
port_of(struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ?
	    &((struct sockaddr_in6 *)ss)->sin6_port :
	    &((struct sockaddr_in *)ss)->sin_port;
}

/* The port of ss moved up by n; -1 past 65535. */
static int
port_add(struct sockaddr_storage *ss, int n)
{
	long moved = (long)ntohs(*port_of(ss)) + n;

	if (n < 0 || moved > 65535)
		return -1;
	*port_of(ss) = htons((in_port_t)moved);
	return 0;
}

int
metrics_start(const char *addr, int instance)
{
	struct sockaddr_storage ss;
	struct MHD_Daemon *started;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (addr == NULL)
		return 0;
	if (parse_hostport(addr, &ss, NULL) == -1 ||
	    port_add(&ss, instance) == -1) {
		log_error("event=metrics address=%s instance=%d "
		    "error=\"bad address\"", addr, instance);
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	started = MHD_start_daemon(flags, 0, NULL, NULL, answer, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	if (started == NULL) {
		/* libmicrohttpd's own line names port 0: it was given ss. */
		log_error("event=metrics address=%s instance=%d port=%u "
		    "error=\"cannot listen: %s\"", addr, instance,
		    (unsigned)ntohs(*port_of(&ss)), strerror(errno));
		return -1;
	}
	if (server != NULL)
		MHD_stop_daemon(server);	/* a second start moves it */
	server = started;
	log_info("event=metrics address=%s instance=%d port=%u", addr,
	    instance, (unsigned)ntohs(*port_of(&ss)));
	return 0;
}

void
metrics_stop(void)
{
	struct metric *m;

	if (server)
		MHD_stop_daemon(server);
	server = NULL;
	pthread_mutex_lock(&registry_lock);
	while ((m = registry) != NULL) {
		registry = m->next;
		free(m->name);
		free(m->help);
		free(m->labels);
		free(m);
	}
	registry_tail = NULL;
	memset(buckets_hash, 0, sizeof(buckets_hash));
	pthread_mutex_unlock(&registry_lock);
}
