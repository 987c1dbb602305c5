/*
 * Prometheus metrics: counters, gauges and histograms that any thread
 * updates with atomics, and a small HTTP server (libmicrohttpd, one
 * thread) that answers GET /metrics in the text exposition format on
 * "SERVICE metrics ADDR:PORT".
 */
#ifndef POSTLINE_METRICS_H
#define POSTLINE_METRICS_H

#include <stdint.h>

#include "util.h"

struct metric;

/*
 * Find or make a metric.  labels is the inside of {...}, already quoted
 * (for example: endpoint="click",code="302"), or NULL.  Cheap enough for
 * start-up and for rare labels; keep the pointer for hot paths.
 */
struct metric	*metric_counter(const char *name, const char *help,
		    const char *labels);
struct metric	*metric_gauge(const char *name, const char *help,
		    const char *labels);
/*
 * A histogram of times: observed in milliseconds, rendered in seconds
 * (buckets from 0.0005 to 10 s), so name it ..._seconds.
 */
struct metric	*metric_histogram(const char *name, const char *help,
		    const char *labels);

void	metric_add(struct metric *, int64_t);	/* gauges: may be < 0 */
void	metric_set(struct metric *, int64_t);
void	metric_observe_ms(struct metric *, double);

/*
 * The use of the daemon's LMDB map: postline_lmdb_map_used_bytes and
 * postline_lmdb_map_size_bytes (every daemon exports them).
 */
void	metrics_lmdb(uint64_t used, uint64_t size, uint64_t commits,
	    uint64_t syncs);

/* The exposition text of every metric. */
void	metrics_render(struct buf *);
/*
 * Serve /metrics on addr ("127.0.0.1:9101") with its port moved up by
 * the instance number, so that instances on one host do not collide;
 * 0, or -1 logged.
 */
int	metrics_start(const char *addr, int instance);
void	metrics_stop(void);

#endif
