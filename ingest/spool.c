/*
 * The spool thread: it alone writes ingest's LMDB and owns its ZeroMQ
 * sockets.  HTTP threads queue jobs; the thread commits them in groups
 * (synced when a conversion is among them), tells what became of each
 * through the report it was handed (stored, a verdict, no verdict in
 * time, refused and why), and hands the hits to the matcher shards
 * through the outbox (handoff.c).  It never sees a request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus.h"
#include "handoff.h"
#include "ingest.h"
#include "log.h"
#include "inbound.h"
#include "metrics.h"
#include "retain.h"
#include "store.h"

enum { DB_SPOOL, DB_META, DB_POSTBACKS, DB_POSTBACKS_TX, DB_COUNT };

static const char *const db_names[DB_COUNT] = {
	"spool", "meta", INBOUND_DB, INBOUND_TX_DB
};

#define SPOOL_POLL_MS	50
#define SPOOL_BATCH_MAX	4096
/*
 * Clicks are synced (and only then sent, in batches: a batch costs the
 * matcher a commit and an ack whatever its size) at most this often.  A
 * sync writes back the spool's pages while the spool thread goes on
 * rewriting them: at 5 or 50 ms that cost clicks a tenth of their rate,
 * and at 1 s the bursts sent to the matchers cost two shards 15%.  A
 * conversion's group is synced at once, and takes every click committed
 * before it along, so a join never waits for this.
 */
#define SPOOL_SYNC_MS		200
/*
 * One batch at a time goes to each matcher, which answers it at once:
 * what is synced meanwhile goes in the next.  A reply lost (a matcher
 * restarting) holds the next batch back at most this long.
 */
#define SPOOL_REPLY_WAIT_MS	50
#define SPOOL_ANSWER_GROUP	256	/* requests answered with one wake-up */

struct spool {
	struct daemon	*daemon;
	struct store	*store;
	struct bus	*bus;
	struct outbox	*outbox;
	pthread_mutex_t	 lock;
	struct job	*head;		/* submitted, not yet stored */
	struct job	*tail;
	int		 wake_fd;
	struct job	*waiting;	/* stored conversions, oldest first */
	struct job	*waiting_tail;
	int		*healthy;	/* atomic, the owner's */
	spool_report_fn	 report;
	void		*report_arg;
	int64_t		 probe_ms;	/* when to try storing again */
	int64_t		 gauges_ms;	/* when to set the slower gauges */
	pthread_t	 syncer;	/* syncs what the spool asks, and */
	int		 syncing;	/* every second anyway */
	pthread_mutex_t	 sync_lock;
	pthread_cond_t	 sync_cond;
	int		 sync_wanted;	/* under sync_lock */
	int		 sync_done;	/* atomic: a wanted sync is done */
	int		 sync_pending;	/* spool thread: one is asked for */
	int		 sync_again;	/* and more was committed since */
	int		 full_logged;
	int		 closed;	/* stopped: refuse new jobs */
	struct metric	*m_records;	/* gauges and the verdict wait */
	struct metric	*m_bytes;
	struct metric	*m_limit;
	struct metric	*m_dropped;	/* refusal rows past postbacks-max */
	struct retain	*retain;	/* of the refusal rows */
	uint64_t	 row_who;	/* their keys: this incarnation, */
	uint64_t	 row_seq;	/* and a count */
	struct metric	*m_verdict_ms;
};

void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	buf_free(&job->record);
	free(job);
}

/*
 * Clicks are committed unsynced, and the outbox sends only what is
 * synced: a record a matcher has seen must never lose its sequence number
 * to a power cut, or the number would be given again to another hit,
 * which the matcher would skip as applied.  So the spool thread asks for
 * a sync after committing clicks, and this thread makes it, at most one
 * per SPOOL_SYNC_MS, and one a second regardless.  In a thread of its
 * own, so that the fdatasync never holds up the spool thread (LMDB allows
 * a sync beside a write).
 */
static void *
syncer(void *arg)
{
	struct spool *sp = arg;
	struct timespec last = { 0, 0 }, until;
	int wanted;

	pthread_mutex_lock(&sp->sync_lock);
	while (sp->syncing) {
		if (!sp->sync_wanted) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&sp->sync_cond, &sp->sync_lock,
			    &until);
		}
		if (!sp->syncing)
			break;
		wanted = sp->sync_wanted;
		sp->sync_wanted = 0;
		pthread_mutex_unlock(&sp->sync_lock);
		if (wanted)
			pace(&last, SPOOL_SYNC_MS * 1000);
		store_sync(sp->store);
		if (wanted) {
			__atomic_store_n(&sp->sync_done, 1, __ATOMIC_RELEASE);
			if (eventfd_wake(sp->wake_fd) == -1)
				log_warn("event=wake error=\"%s\"",
				    strerror(errno));
		}
		pthread_mutex_lock(&sp->sync_lock);
	}
	pthread_mutex_unlock(&sp->sync_lock);
	return NULL;
}

/* After an unsynced commit: have it synced, then sent. */
static void
want_sync(struct spool *sp)
{
	if (sp->sync_pending) {
		sp->sync_again = 1;
		return;
	}
	outbox_mark(sp->outbox);
	pthread_mutex_lock(&sp->sync_lock);
	sp->sync_wanted = 1;
	pthread_cond_signal(&sp->sync_cond);
	pthread_mutex_unlock(&sp->sync_lock);
	sp->sync_pending = 1;
}

static void
take_sync(struct spool *sp)
{
	if (!__atomic_exchange_n(&sp->sync_done, 0, __ATOMIC_ACQUIRE))
		return;
	outbox_synced_to_mark(sp->outbox);
	sp->sync_pending = 0;
	if (sp->sync_again) {
		sp->sync_again = 0;
		want_sync(sp);
	}
}

/* The rows of refused requests go after retention postbacks. */
static int
prune_refusals(void *arg, struct store_txn *txn, struct retain_slice *s)
{
	(void)arg;
	return inbound_prune(txn, DB_POSTBACKS, DB_POSTBACKS_TX, s);
}

static const struct retain_kind refusal_rows[] = {
	{ "postbacks", RETENTION_POSTBACKS, DB_POSTBACKS, prune_refusals, NULL,
	    0 },
};

struct spool *
spool_open(struct daemon *d, int *healthy, spool_report_fn report,
    void *arg)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));
	char *dir = daemon_state_dir(d);

	sp->daemon = d;
	sp->healthy = healthy;
	sp->report = report;
	sp->report_arg = arg;
	sp->wake_fd = -1;
	pthread_mutex_init(&sp->lock, NULL);
	pthread_mutex_init(&sp->sync_lock, NULL);
	pthread_cond_init(&sp->sync_cond, NULL);
	sp->store = store_open(dir, d->conf->map_size[SERVICE_INGEST],
	    db_names, DB_COUNT, 0);
	free(dir);
	if (sp->store == NULL)
		goto fail;
	d->sender_id = handoff_sender_id(sp->store, DB_META, d->name,
	    d->instance);
	sp->bus = bus_new();
	sp->outbox = outbox_open(sp->store, DB_SPOOL, DB_META, sp->bus,
	    &d->conf->matcher_endpoints, d->sender_id, MSG_HITS);
	if (sp->outbox == NULL)
		goto fail;
	outbox_limit_unanswered(sp->outbox, 1, SPOOL_REPLY_WAIT_MS);
	outbox_send_after_sync(sp->outbox);
	if ((sp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	__atomic_store_n(sp->healthy, 1, __ATOMIC_RELAXED);
	sp->syncing = 1;
	if (pthread_create(&sp->syncer, NULL, syncer, sp) != 0) {
		sp->syncing = 0;
		goto fail;
	}
	sp->m_records = metric_gauge("postline_ingest_spool_records",
	    "Hits in the spool not yet acknowledged by a matcher.", NULL);
	sp->m_bytes = metric_gauge("postline_ingest_spool_bytes",
	    "Bytes of the hits kept in the spool.", NULL);
	sp->m_dropped = metric_counter("postline_ingest_postbacks_dropped_total",
	    "Rows of refused requests dropped, oldest first, past "
	    "postbacks-max.", NULL);
	sp->row_who = fnv1a(FNV1A_INIT, d->sender_id, strlen(d->sender_id));
	sp->retain = retain_new(d, sp->store, refusal_rows, 1);
	sp->m_limit = metric_gauge("postline_ingest_spool_limit_bytes",
	    "The spool's limit: past it, hits are answered 503 spool_full.",
	    NULL);
	sp->m_verdict_ms = metric_histogram("postline_ingest_verdict_seconds",
	    "From the commit of a conversion to its verdict.", NULL);
	return sp;
fail:
	spool_close(sp);
	return NULL;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->syncing) {
		pthread_mutex_lock(&sp->sync_lock);
		sp->syncing = 0;
		pthread_cond_signal(&sp->sync_cond);
		pthread_mutex_unlock(&sp->sync_lock);
		pthread_join(sp->syncer, NULL);
	}
	outbox_close(sp->outbox);
	bus_free(sp->bus);
	retain_free(sp->retain);
	store_close(sp->store);
	if (sp->wake_fd > 0)
		close(sp->wake_fd);
	pthread_mutex_destroy(&sp->lock);
	pthread_mutex_destroy(&sp->sync_lock);
	pthread_cond_destroy(&sp->sync_cond);
	free(sp);
}

/* Tell what became of one job, and let it go. */
static void
tell(struct spool *sp, struct job *job, enum spool_outcome outcome,
    const struct verdict *v)
{
	sp->report(sp->report_arg, &job, 1, outcome, v);
	job_free(job);
}

void
spool_submit(struct spool *sp, struct job *job)
{
	int first;

	job->next = NULL;
	pthread_mutex_lock(&sp->lock);
	if (sp->closed) {
		pthread_mutex_unlock(&sp->lock);
		tell(sp, job, SPOOL_STOPPING, NULL);
		return;
	}
	if (sp->tail)
		sp->tail->next = job;
	else
		sp->head = job;
	sp->tail = job;
	first = sp->head == job;
	pthread_mutex_unlock(&sp->lock);
	/*
	 * Only the job that finds the queue empty wakes the spool thread:
	 * it reads the wake-up before it takes the queue, so it takes the
	 * jobs that come after that one too.
	 */
	if (first && eventfd_wake(sp->wake_fd) == -1)
		log_warn("event=wake error=\"%s\"", strerror(errno));
}

static struct job *
take_jobs(struct spool *sp)
{
	struct job *jobs;

	if (eventfd_clear(sp->wake_fd) == -1)
		log_warn("event=wake error=\"%s\"", strerror(errno));
	pthread_mutex_lock(&sp->lock);
	jobs = sp->head;
	sp->head = sp->tail = NULL;
	pthread_mutex_unlock(&sp->lock);
	return jobs;
}

static void
fail_jobs(struct spool *sp, struct job *jobs, int rc)
{
	struct job *next;

	__atomic_store_n(sp->healthy, 0, __ATOMIC_RELAXED);
	sp->probe_ms = mono_ms() + 1000;
	if (!sp->full_logged)
		log_error("event=spool_refused reason=%s spool_bytes=%llu",
		    rc == STORE_FULL ? "spool_full" : "storage_error",
		    (unsigned long long)outbox_bytes(sp->outbox));
	sp->full_logged = 1;
	for (; jobs; jobs = next) {
		next = jobs->next;
		tell(sp, jobs, rc == STORE_FULL ? SPOOL_FULL : SPOOL_ERROR,
		    NULL);
	}
}

/* The end of an episode of refusals. */
static void
accepting(struct spool *sp)
{
	if (sp->full_logged)
		log_info("event=spool_accepting spool_bytes=%llu",
		    (unsigned long long)outbox_bytes(sp->outbox));
	sp->full_logged = 0;
	__atomic_store_n(sp->healthy, 1, __ATOMIC_RELAXED);
}

static void
wait_for_verdict(struct spool *sp, struct job *job)
{
	job->deadline_ms = mono_ms() + INGEST_VERDICT_WAIT_MS;
	job->next = NULL;
	if (sp->waiting_tail)
		sp->waiting_tail->next = job;
	else
		sp->waiting = job;
	sp->waiting_tail = job;
}

/* The jobs told stored in one report (one wake-up), then let go. */
static void
tell_stored(struct spool *sp, struct job **jobs, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	sp->report(sp->report_arg, jobs, n, SPOOL_STORED, NULL);
	for (i = 0; i < n; i++)
		job_free(jobs[i]);
}

/* After the commit: clicks are told stored, conversions wait. */
static void
report_stored(struct spool *sp, struct job *jobs)
{
	struct job *group[SPOOL_ANSWER_GROUP], *next;
	size_t n = 0;

	for (; jobs; jobs = next) {
		next = jobs->next;
		if (jobs->wait) {
			wait_for_verdict(sp, jobs);
			continue;
		}
		log_debug("event=stored transaction_id=%s", jobs->txid);
		group[n++] = jobs;
		if (n == nitems(group)) {
			tell_stored(sp, group, n);
			n = 0;
		}
	}
	tell_stored(sp, group, n);
}

/*
 * The spool's limit: spool-max, and never more than a quarter of the
 * map, because deleting what the matcher acknowledged needs free pages
 * too (copy on write): a map filled to the brim could never drain.
 */
static uint64_t
spool_limit(const struct conf *conf)
{
	uint64_t quarter = conf->map_size[SERVICE_INGEST] / 4;

	return conf->spool_max < quarter ? conf->spool_max : quarter;
}

/*
 * Take out the jobs that would grow the spool past spool-max; they are
 * answered 503 (the sender retries), the others stored.  The rows of
 * refused requests are not in the spool: postbacks-max bounds them.
 */
static struct job *
over_limit(struct spool *sp, struct job **jobs)
{
	uint64_t max = spool_limit(sp->daemon->conf);
	uint64_t bytes = outbox_bytes(sp->outbox);
	struct job **pp = jobs, *job, *over = NULL, **tail = &over;

	while ((job = *pp) != NULL) {
		if (job->refusal || bytes + job->record.len <= max) {
			bytes += job->refusal ? 0 : job->record.len;
			pp = &job->next;
			continue;
		}
		*pp = job->next;
		job->next = NULL;
		*tail = job;
		tail = &job->next;
	}
	return over;
}

/* The row of a refused request, as hit.c encoded it, under our key. */
static int
store_refusal(struct spool *sp, struct store_txn *txn, struct job *job)
{
	unsigned char key[INBOUND_KEY_LEN];

	inbound_key(key, job->time_ms, sp->row_who, ++sp->row_seq);
	return inbound_store(txn, DB_POSTBACKS, DB_POSTBACKS_TX, key,
	    &job->record, job->txid) == 0 ? STORE_OK : STORE_ERROR;
}

/* Past postbacks-max, the oldest rows go, and the metric says so. */
static int
cap_refusals(struct spool *sp, struct store_txn *txn)
{
	uint64_t n = store_count(txn, DB_POSTBACKS);
	uint64_t max = sp->daemon->conf->postbacks_max;

	if (n <= max)
		return STORE_OK;
	if (inbound_drop_oldest(txn, DB_POSTBACKS, DB_POSTBACKS_TX, n - max) ==
	    -1)
		return STORE_ERROR;
	metric_add(sp->m_dropped, (int64_t)(n - max));
	return STORE_OK;
}

/* One group commit of every job queued so far. */
static void
commit_jobs(struct spool *sp, struct job *jobs)
{
	unsigned ndest = outbox_ndest(sp->outbox);
	struct store_txn *txn;
	struct job *job, *over;
	int rc = STORE_OK, durable = 0, refusals = 0;

	if ((over = over_limit(sp, &jobs)) != NULL)
		fail_jobs(sp, over, STORE_FULL);
	if (jobs == NULL)
		return;
	if ((rc = store_begin(sp->store, 1, &txn)) != STORE_OK) {
		fail_jobs(sp, jobs, rc);
		return;
	}
	for (job = jobs; job; job = job->next) {
		if (job->refusal) {
			refusals = 1;
			if ((rc = store_refusal(sp, txn, job)) != STORE_OK)
				break;
			continue;
		}
		job->shard %= ndest;
		rc = outbox_add(sp->outbox, txn, job->shard, job->record.data,
		    job->record.len, &job->seq);
		if (rc != STORE_OK)
			break;
		/*
		 * A conversion is answered only once it is synced here
		 * (postline(7), Hand-off): the matcher commits at once and
		 * syncs a few milliseconds later, for all senders together.
		 */
		durable |= job->conversion;
	}
	if (rc == STORE_OK && refusals)
		rc = cap_refusals(sp, txn);
	if (rc == STORE_OK)
		rc = store_commit(txn, durable);
	else
		store_abort(txn);
	if (rc != STORE_OK) {
		outbox_aborted(sp->outbox);
		fail_jobs(sp, jobs, rc);
		return;
	}
	outbox_committed(sp->outbox);
	if (durable)
		outbox_synced(sp->outbox);	/* the commit synced it all */
	else
		want_sync(sp);
	if (over == NULL)
		accepting(sp);
	report_stored(sp, jobs);
}

static void
on_verdict(void *arg, unsigned dest, struct wire_reader *r)
{
	struct spool *sp = arg;
	struct job **pp, *job, *prev = NULL;
	struct verdict v;

	if (record_get_verdict(r, &v) == -1)
		return;
	if (v.result == VERDICT_STORED)
		return;
	for (pp = &sp->waiting; (job = *pp) != NULL; pp = &job->next) {
		if (job->shard == dest && job->seq == v.seq)
			break;
		prev = job;
	}
	if (job == NULL)
		return;
	*pp = job->next;
	if (sp->waiting_tail == job)
		sp->waiting_tail = prev;
	metric_observe_ms(sp->m_verdict_ms, (double)(mono_ms() -
	    (job->deadline_ms - INGEST_VERDICT_WAIT_MS)));
	tell(sp, job, SPOOL_VERDICT, &v);
}

/*
 * Conversions whose verdict did not come in time: synced in the spool
 * before they were sent on, so durable here: 202.
 */
static void
expire_waiting(struct spool *sp, int all)
{
	int64_t now = mono_ms();
	struct job *job;

	while ((job = sp->waiting) != NULL &&
	    (all || job->deadline_ms <= now)) {
		sp->waiting = job->next;
		if (sp->waiting == NULL)
			sp->waiting_tail = NULL;
		tell(sp, job, SPOOL_NO_VERDICT, NULL);
	}
}

/*
 * After a refusal, try a small write now and then, so that /healthz
 * recovers even when no hit comes to prove that storing works again.
 */
static void
probe(struct spool *sp)
{
	static const char key[] = "probe";
	struct store_txn *txn;
	unsigned char v[9];

	if (__atomic_load_n(sp->healthy, __ATOMIC_RELAXED) ||
	    mono_ms() < sp->probe_ms)
		return;
	sp->probe_ms = mono_ms() + 1000;
	if (outbox_bytes(sp->outbox) >= spool_limit(sp->daemon->conf))
		return;
	v[0] = RECORD_VERSION;
	wire_be64_put(v + 1, (uint64_t)now_ms());
	if (store_begin(sp->store, 1, &txn) != STORE_OK)
		return;
	if (store_put(txn, DB_META, key, strlen(key), v, sizeof(v)) !=
	    STORE_OK) {
		store_abort(txn);
		return;
	}
	if (store_commit(txn, 0) == STORE_OK)
		accepting(sp);
}

static void
wait_for_work(struct spool *sp)
{
	struct bus_sock *socks[BUS_POLL_MAX];
	int readable[BUS_POLL_MAX];
	int n = outbox_socks(sp->outbox, socks, BUS_POLL_MAX);

	bus_poll(socks, n, sp->wake_fd, SPOOL_POLL_MS, readable);
}

/* The spool's depth at every turn; the rest once a second. */
static void
set_gauges(struct spool *sp)
{
	uint64_t used, size, commits, syncs;

	metric_set(sp->m_records, (int64_t)outbox_pending(sp->outbox));
	metric_set(sp->m_bytes, (int64_t)outbox_bytes(sp->outbox));
	if (mono_ms() < sp->gauges_ms)
		return;
	sp->gauges_ms = mono_ms() + 1000;
	metric_set(sp->m_limit, (int64_t)spool_limit(sp->daemon->conf));
	outbox_gauge(sp->outbox, "postline_ingest_outbox_pending",
	    "Hits not yet acknowledged, by matcher shard.", "matcher");
	store_counts(sp->store, &commits, &syncs);
	if (store_usage(sp->store, &used, &size) == 0)
		metrics_lmdb(used, size, commits, syncs);
}

void
spool_turn(struct spool *sp)
{
	struct job *jobs;

	wait_for_work(sp);
	take_sync(sp);
	if ((jobs = take_jobs(sp)) != NULL)
		commit_jobs(sp, jobs);
	outbox_read_acks(sp->outbox, on_verdict, sp);
	outbox_flush(sp->outbox);
	expire_waiting(sp, 0);
	probe(sp);
	retain_step(sp->retain, now_ms());
	set_gauges(sp);
}

void
spool_drain(struct spool *sp)
{
	struct job *jobs;

	log_info("event=stopping pending=%llu",
	    (unsigned long long)outbox_pending(sp->outbox));
	do
		spool_turn(sp);
	while (sp->head != NULL);
	/* Requests on open connections may still come: refuse them. */
	pthread_mutex_lock(&sp->lock);
	sp->closed = 1;
	jobs = sp->head;
	sp->head = sp->tail = NULL;
	pthread_mutex_unlock(&sp->lock);
	if (jobs)
		commit_jobs(sp, jobs);
	expire_waiting(sp, 1);
}
