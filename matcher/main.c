/*
 * matcher: applies batches of hits from the ingests exactly once, joins
 * conversions to clicks and hands events to the firers.  See matcher(8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "inbound.h"
#include "matcher.h"

#define MATCHER_POLL_MS		100
/*
 * Group sync: what the matcher applies is committed at once and its
 * verdicts sent, but synced (and only then acknowledged, and its events
 * sent on to the firers) up to this much later, one fdatasync for all
 * shards' worth of traffic in that time.  Each conversion is already
 * synced in the ingest's spool before it is answered.
 */
#define MATCHER_SYNC_MS		10

static const char *const db_names[DB_COUNT] = {
	"clicks", "conversions", "senders", "outbox", "meta", "dead",
	"held", "held_tx", COUNTER_DB, COUNTER_OFFER_DB, COUNTER_UNIQUE_DB,
	COUNTER_CONVERSIONS_AT_DB, INBOUND_DB, INBOUND_TX_DB
};

static const char usage[] = "[-dnv] [-f file] [-s shard]";

static void
hit_init_any(void *p)
{
	hit_init(p);
}

static void
hit_release(void *p)
{
	hit_free(p);
}

static int
hit_decode(struct wire_reader *r, void *p)
{
	return record_get_hit(r, p);
}

/* Reasons of our own; an advertiser's reason is counted as "other". */
static const char *const reasons[] = {
	"", "duplicate", "unknown_click", "expired", "too_fast",
	"token_mismatch",
	"invalid_transition", "wrong_shard", "malformed", "other"
};
#define NREASONS	(sizeof(reasons) / sizeof(reasons[0]))

static size_t
reason_index(const struct verdict *v)
{
	size_t i;

	if (v->result != VERDICT_REJECTED)
		return 0;
	for (i = 1; i < NREASONS - 1; i++)
		if (strcmp(v->reason, reasons[i]) == 0)
			return i;
	return NREASONS - 1;
}

/* Metric pointers made once, so counting costs an atomic add. */
static struct metric *m_hits[HIT_KIND_END];
static struct metric *m_verdicts[VERDICT_END][NREASONS];
static struct metric *m_join_ms;
static struct metric *m_unique_entries, *m_unique_bytes;

static void
make_metrics(void)
{
	char labels[128];
	size_t k, r;

	for (k = 1; k < HIT_KIND_END; k++) {
		snprintf(labels, sizeof(labels), "kind=\"%s\"",
		    hit_kind_name((int)k));
		m_hits[k] = metric_counter("postline_matcher_hits_total",
		    "Hits applied, by kind.", labels);
	}
	for (k = VERDICT_APPROVED; k < VERDICT_END; k++)
		for (r = 0; r < NREASONS; r++) {
			if ((k == VERDICT_REJECTED) != (r != 0))
				continue;
			snprintf(labels, sizeof(labels),
			    "result=\"%s\",reason=\"%s\"", verdict_name((int)k),
			    reasons[r]);
			m_verdicts[k][r] = metric_counter(
			    "postline_matcher_verdicts_total",
			    "Verdicts, by result and reason.", labels);
		}
	m_join_ms = metric_histogram("postline_matcher_join_seconds",
	    "Time to apply one hit.", NULL);
	m_unique_entries = metric_gauge("postline_matcher_unique_entries",
	    "Entries of the unique-click index in memory.", NULL);
	m_unique_bytes = metric_gauge("postline_matcher_unique_bytes",
	    "Memory of the unique-click index.", NULL);
}

static void
count(const struct hit *hit, const struct verdict *v, int64_t started)
{
	metric_add(m_hits[hit->kind], 1);
	metric_observe_ms(m_join_ms, (double)(mono_ms() - started));
	if (v->result > VERDICT_STORED && v->result < VERDICT_END)
		metric_add(m_verdicts[v->result][reason_index(v)], 1);
}

static int
hit_apply(void *arg, struct store_txn *txn, void *p, const char *sender,
    uint64_t seq, struct verdict *v, int *durable)
{
	int64_t started = mono_ms();

	postbacks_mark(p, sender, seq);
	if (join_hit(arg, txn, p, v, durable) == -1)
		return -1;
	count(p, v, started);
	if (v->result == VERDICT_STORED)
		v->result = 0;	/* a click needs no verdict */
	return 0;
}

/* Once a second: the gauges of the outbox and the map, and a sync. */
static void
chores(struct matcher *m)
{
	uint64_t used, size, commits, syncs;

	outbox_gauge(m->outbox, "postline_matcher_outbox_pending",
	    "Events not yet acknowledged, by firer.", "firer");
	store_counts(m->store, &commits, &syncs);
	if (store_usage(m->store, &used, &size) == 0)
		metrics_lmdb(used, size, commits, syncs);
	metric_set(m_unique_entries, (int64_t)unique_entries(m->unique));
	metric_set(m_unique_bytes, (int64_t)unique_bytes(m->unique));
	store_sync(m->store);
}

/* The counters of the batch, written in its transaction. */
static int
hit_settle(void *arg, struct store_txn *txn)
{
	if (txn != NULL)
		return count_flush(arg, txn);
	count_discard(arg);
	return 0;
}

static void
hit_committed(void *arg)
{
	count_committed(arg);
}

static const struct inbox_ops hit_ops = {
	MSG_HITS, sizeof(struct hit), hit_init_any, hit_release, hit_decode,
	hit_apply, 16, 1, hit_settle, hit_committed
};

static void
ignore_verdict(void *arg, unsigned dest, struct wire_reader *r)
{
	struct verdict v;

	(void)arg;
	(void)dest;
	record_get_verdict(r, &v);
}

/* Retention behind: a slice at every turn, no waiting in between. */
static long
poll_timeout(const struct inbox *ib, int retention_behind)
{
	int64_t sync = inbox_sync_ms(ib);

	if (retention_behind)
		return 0;
	return sync >= 0 && sync < MATCHER_POLL_MS ? (long)sync :
	    MATCHER_POLL_MS;
}

static void
run(struct matcher *m, struct bus_sock *router)
{
	struct bus_sock *socks[BUS_POLL_MAX];
	int readable[BUS_POLL_MAX], n, behind = 0;
	int64_t next_chores = 0;
	struct inbox *ib = inbox_open(m->store, DB_SENDERS, DB_DEAD, router,
	    m->daemon->sender_id, &hit_ops, m, m->outbox, MATCHER_SYNC_MS);
	/* What the matcher keeps for a bounded time: see retain.h. */
	const struct retain_kind retained[] = {
		{ "held", -1, DB_HELD, join_expire_held, m, 0 },
		{ "clicks", RETENTION_CLICKS, DB_CLICKS, join_prune_clicks, m,
		    0 },
		{ "conversions", RETENTION_CLICKS, DB_CONVERSIONS,
		    join_prune_conversions, m, 0 },
		{ "conversions_at", RETENTION_CLICKS, DB_CONVERSIONS_AT,
		    join_prune_conversions_at, m, 0 },
		{ "counts", RETENTION_REPORTS, DB_COUNTS, count_prune,
		    (void *)(intptr_t)DB_COUNTS, 0 },
		{ "counts_offer", RETENTION_REPORTS, DB_COUNTS_OFFER,
		    count_prune, (void *)(intptr_t)DB_COUNTS_OFFER, 0 },
		{ "unique", -1, DB_UNIQUE, count_prune_unique, m, 0 },
		{ "postbacks", RETENTION_POSTBACKS, DB_POSTBACKS,
		    postbacks_prune, m, 0 },
	};
	struct retain *ret = retain_new(m->daemon, m->store, retained,
	    (int)(sizeof(retained) / sizeof(retained[0])));

	socks[0] = router;
	n = 1 + outbox_socks(m->outbox, socks + 1, BUS_POLL_MAX - 1);
	while (!daemon_stopping) {
		behind = retain_step(ret, now_ms());
		if (mono_ms() >= next_chores) {
			chores(m);
			next_chores = mono_ms() + 1000;
		}
		if (daemon_reloading) {
			daemon_reloading = 0;
			daemon_reload(m->daemon);
			count_configure(m);
		}
		bus_poll(socks, n, -1, poll_timeout(ib, behind), readable);
		log_hold();	/* a batch's verdict lines in one write */
		inbox_serve(ib);
		log_release();
		if (inbox_sync_ms(ib) == 0)
			inbox_sync(ib);
		outbox_read_acks(m->outbox, ignore_verdict, NULL);
		outbox_flush(m->outbox);
	}
	retain_free(ret);
	inbox_close(ib);
	outbox_flush(m->outbox);
}

int
main(int argc, char **argv)
{
	struct daemon d = { .name = "matcher", .service = SERVICE_MATCHER };
	struct matcher m = { .daemon = &d };
	struct bus_sock *router;
	struct bus *bus;
	char *dir;

	daemon_start(&d, argc, argv, NULL, NULL, usage);
	if ((size_t)d.instance >= d.conf->matcher_endpoints.n)
		fatal("event=start error=\"no matcher endpoint for shard %d\"",
		    d.instance);
	dir = daemon_state_dir(&d);
	m.store = store_open(dir, d.conf->map_size[SERVICE_MATCHER], db_names,
	    DB_COUNT, 0);
	free(dir);
	if (m.store == NULL)
		fatal("event=start error=\"cannot open the store\"");
	d.sender_id = handoff_sender_id(m.store, DB_META, d.name, d.instance);
	join_init(&m);
	m.tally = count_tally_new();
	m.unique = unique_new();
	count_configure(&m);
	if (count_load_unique(&m) == -1)
		fatal("event=start error=\"cannot read the unique-click index\"");
	bus = bus_new();
	router = bus_bind(bus, d.conf->matcher_endpoints.v[d.instance]);
	m.outbox = outbox_open(m.store, DB_OUTBOX, DB_META, bus,
	    &d.conf->firer_endpoints, d.sender_id, MSG_EVENTS);
	if (router == NULL || m.outbox == NULL)
		fatal("event=start error=\"cannot open sockets\"");
	make_metrics();
	if (metrics_start(d.conf->metrics[SERVICE_MATCHER], d.instance) == -1)
		fatal("event=start error=\"cannot serve metrics\"");
	log_info("event=ready sender=%s endpoint=%s", d.sender_id,
	    d.conf->matcher_endpoints.v[d.instance]);
	run(&m, router);
	log_info("event=stopped pending=%llu",
	    (unsigned long long)outbox_pending(m.outbox));
	outbox_close(m.outbox);
	bus_close(router);
	bus_free(bus);
	store_close(m.store);
	count_tally_free(m.tally);
	unique_free(m.unique);
	metrics_stop();
	free(d.sender_id);
	conf_free(d.conf);
	return 0;
}
