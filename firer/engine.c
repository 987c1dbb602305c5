/*
 * The delivery engine of the firer: events from the matchers become
 * deliveries (rules.c, queue.c); due deliveries are read ahead per host,
 * handed to the sending thread (sender.c) within each host's cap, and
 * their outcomes logged, retried or finished in one write transaction a
 * turn.  It also runs retention (retain.h).  See firer(8).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "firer.h"
#include "handoff.h"
#include "htab.h"
#include "log.h"
#include "metrics.h"

#define FIRER_POLL_MS		100
#define FIRER_MAX_FLIGHTS	1024	/* handed to the sending thread */
#define FIRER_DRAIN_MS		5000
#define FIRER_BATCH		128	/* deliveries taken off at a time */
#define FIRER_SCAN_MS		50	/* look at the schedule at least this often */
#define FIRER_FRESH_MS		2	/* and this soon after new events */
/*
 * Group sync: events are scheduled (and their deliveries may start) at
 * once, synced and acknowledged to the matchers up to this much later.
 * An event lost with a power cut before that is sent again by its
 * matcher: its postbacks may go twice, with the same postback_id (made
 * from the event's sender and sequence and the rule).
 */
#define FIRER_SYNC_MS		50
/*
 * Turns at most this often: a turn commits one write transaction for the
 * outcomes it logs, so letting outcomes gather for a moment makes fewer,
 * fuller ones (the sending thread goes on meanwhile).
 */
#define FIRER_TURN_US		1000
#define FIRER_BUSY_RUN		256	/* then stop looking for now */
#define FIRER_READY_MAX		4096	/* due deliveries read ahead, in all */

/*
 * A delivery whose request is on the wire, or has come back and waits
 * for its attempt to be logged (when the store refused that, we keep the
 * outcome rather than send the request again).
 */
struct flight {
	struct delivery	 d;
	struct host	*host;		/* NULL when its rule is unknown */
	struct postback_request	 req;
	int64_t		 started_ms;
	int		 landed;
	struct outcome	 outcome;
	int		 result;	/* once decided */
	struct htab_node node;		/* in by_id */
	struct flight	*next;		/* in f->flights or its host's queue */
};

/*
 * A host postbacks go to: its requests on the wire, and the due
 * deliveries read ahead for it, waiting for one of its slots.  Reading
 * ahead a few per host lets a slot that frees be filled at once, without
 * a look at the schedule each time.
 */
struct host {
	uint64_t	 hash;		/* host_hash() of its name */
	struct metric	*gauge;		/* requests in flight */
	int		 flying;	/* on the wire, not landed */
	int		 nready;
	struct flight	*ready;		/* read ahead, oldest first */
	struct flight	**ready_tail;
	struct htab_node node;		/* in by_hash */
	struct host	*next;		/* in f->hosts */
};

struct engine {
	struct daemon		*daemon;
	struct queue		*queue;
	struct sender		*sender;	/* the thread that sends */
	struct flight		*flights;
	int			 nflights;	/* on the wire */
	int			 nlanded;	/* back, not yet logged */
	struct htab		 by_id;		/* flights by postback id */
	struct host		*hosts;
	struct htab		 by_hash;	/* hosts by their hash */
	int			 nready;	/* read ahead, in all hosts */
	int			 rescan;	/* a host wants more: look again */
	int			 fresh;		/* new events since the last look */
	int			 busy_run;	/* deliveries in a row for busy hosts */
	int64_t			 last_scan_ms;
	int64_t			 next_scan_ms;
	int64_t			 retry_log_ms;	/* when to try logging again */
	struct retain		*retain;
	int			 retention_behind;
};

static void
event_init_any(void *p)
{
	event_init(p);
}

static void
event_release(void *p)
{
	event_free(p);
}

static int
event_decode(struct wire_reader *r, void *p)
{
	return record_get_event(r, p);
}

/* An event from a matcher: one delivery per matching rule. */
static int
event_apply(void *arg, struct store_txn *txn, void *p, const char *sender,
    uint64_t seq, struct verdict *v, int *durable)
{
	struct engine *f = arg;
	const struct conf *conf = f->daemon->conf;
	const struct event *ev = p;
	size_t i;

	(void)v;
	*durable = 1;
	f->fresh = 1;
	if (queue_set_state(f->queue, txn, ev) != STORE_OK)
		return -1;
	for (i = 0; i < conf->nrules; i++)
		if (rule_matches(&conf->rules[i], ev) &&
		    queue_add(f->queue, txn, &conf->rules[i], ev, sender,
		    seq) != STORE_OK)
			return -1;
	return 0;
}

static const struct inbox_ops event_ops = {
	MSG_EVENTS, sizeof(struct event), event_init_any, event_release,
	event_decode, event_apply, 16, 0, NULL, NULL
};

/* Read ahead at most this many deliveries of one host. */
static int
ready_per_host(const struct engine *f)
{
	int n = 2 * (int)f->daemon->conf->max_per_host;

	return n < 16 ? 16 : n > 512 ? 512 : n;
}

static struct host *
host_find(struct engine *f, uint64_t hash)
{
	struct htab_node *n = htab_find(&f->by_hash, hash);

	return n ? htab_entry(n, struct host, node) : NULL;
}

static struct host *
host_get(struct engine *f, const struct rule *r)
{
	uint64_t hash = rule_host_hash(r);
	struct host *h = host_find(f, hash);
	char labels[300], *name;

	if (h != NULL)
		return h;
	h = xcalloc(1, sizeof(*h));
	h->hash = hash;
	name = rule_host(r);
	snprintf(labels, sizeof(labels), "host=\"%.256s\"", name);
	free(name);
	h->gauge = metric_gauge("postline_firer_in_flight",
	    "Requests on the wire or about to be, by host.", labels);
	h->ready_tail = &h->ready;
	htab_add(&f->by_hash, &h->node, hash);
	h->next = f->hosts;
	f->hosts = h;
	return h;
}

/*
 * The sending thread sends at most max-per-host requests to a host at
 * once; it is handed up to three times as many more, to start the moment
 * a slot frees, whatever this thread is busy with.
 */
static int
host_full(const struct engine *f, const struct host *h)
{
	return h->flying >= 4 * (int)f->daemon->conf->max_per_host;
}

static uint64_t
id_hash(const char *postback_id)
{
	return fnv1a(FNV1A_INIT, postback_id, strlen(postback_id));
}

/* Flights read ahead or on the wire are found by id. */
static void
hash_flight(struct engine *f, struct flight *fl)
{
	htab_add(&f->by_id, &fl->node, id_hash(fl->d.postback_id));
}

static void
unhash_flight(struct engine *f, struct flight *fl)
{
	htab_del(&f->by_id, &fl->node);
}

/* On the wire (or about to be): counts for its host's cap at once. */
static void
add_flight(struct engine *f, struct flight *fl)
{
	fl->next = f->flights;
	f->flights = fl;
	if (fl->host)
		fl->host->flying++;
}

static void
remove_flight(struct engine *f, struct flight *fl)
{
	struct flight **pp;

	for (pp = &f->flights; *pp; pp = &(*pp)->next)
		if (*pp == fl) {
			*pp = fl->next;
			break;
		}
	if (fl->host && !fl->landed)
		fl->host->flying--;
	unhash_flight(f, fl);
}

static int
taken(struct engine *f, const char *postback_id)
{
	uint64_t h = id_hash(postback_id);
	struct htab_node *n;

	for (n = htab_find(&f->by_id, h); n != NULL; n = htab_next(n, h))
		if (strcmp(htab_entry(n, struct flight, node)->d.postback_id,
		    postback_id) == 0)
			return 1;
	return 0;
}

/*
 * A delivery for a host with enough read ahead waits in the schedule.
 * After a long run of those, stop looking: the rest of the schedule is
 * most likely the same hosts.
 */
static int
busy(struct engine *f)
{
	return ++f->busy_run >= FIRER_BUSY_RUN ? QUEUE_STOP : QUEUE_SKIP;
}

static int
scan_look(void *arg, const char *postback_id, uint64_t hash)
{
	struct engine *f = arg;
	struct host *h;

	if (f->nready >= FIRER_READY_MAX)
		return QUEUE_STOP;
	if (taken(f, postback_id))
		return QUEUE_SKIP;	/* on its way already */
	if (hash != 0 && (h = host_find(f, hash)) != NULL &&
	    h->nready >= ready_per_host(f))
		return busy(f);
	return QUEUE_TAKE;
}

static void land_unsent(struct engine *, struct flight *, int, const char *);

static int
scan_take(void *arg, struct delivery *d)
{
	struct engine *f = arg;
	const struct rule *r = queue_rule(f->queue, d->rule_version);
	struct flight *fl;
	struct host *h = NULL;

	if (r != NULL) {
		h = host_get(f, r);
		if (h->nready >= ready_per_host(f))
			return busy(f);
	}
	f->busy_run = 0;
	fl = xcalloc(1, sizeof(*fl));
	fl->d = *d;
	hash_flight(f, fl);
	if (h == NULL) {
		fl->started_ms = now_ms();
		land_unsent(f, fl, 0, "rule version not found");
		return QUEUE_TAKE;
	}
	fl->host = h;
	*h->ready_tail = fl;
	h->ready_tail = &fl->next;
	h->nready++;
	f->nready++;
	return QUEUE_TAKE;
}

static struct flight *
ready_pop(struct engine *f, struct host *h)
{
	struct flight *fl = h->ready;

	if ((h->ready = fl->next) == NULL)
		h->ready_tail = &h->ready;
	fl->next = NULL;
	h->nready--;
	f->nready--;
	return fl;
}

static struct metric *
lateness_histogram(void)
{
	static struct metric *m;

	if (m == NULL)
		m = metric_histogram("postline_firer_lateness_seconds",
		    "From the due time to the request.", NULL);
	return m;
}

static void
fill_attempt(struct attempt *a, struct flight *fl)
{
	const struct attrs *ev = &fl->d.event.attrs;

	attempt_init(a);
	a->time_ms = fl->started_ms;
	memcpy(a->postback_id, fl->d.postback_id, sizeof(a->postback_id));
	a->attempt = fl->d.attempt;
	a->type = fl->d.event.type;
	a->rule = fl->d.rule;
	a->offer_id = (char *)(uintptr_t)attrs_get(ev, "offer_id");
	a->publisher = (char *)(uintptr_t)attrs_get(ev, "publisher");
	a->txid = fl->d.event.txid;
	a->url = fl->req.url;
}

static void
count_attempt(const struct flight *fl, int result, int64_t latency_ms)
{
	char labels[400];

	snprintf(labels, sizeof(labels), "rule=\"%.256s\",result=\"%s\"",
	    fl->d.rule, attempt_result_name(result));
	metric_add(metric_counter("postline_firer_attempts_total",
	    "Attempts, by rule and result.", labels), 1);
	if (result != ATTEMPT_CANCELLED)
		metric_observe_ms(metric_histogram(
		    "postline_firer_attempt_seconds",
		    "Time from request to response.", NULL), (double)latency_ms);
}

/*
 * Decide what an attempt's outcome means; log it and reschedule or end
 * the delivery in the caller's transaction.  The result is kept in the
 * flight, to be reported once the transaction is committed.
 */
static int
finish(struct engine *f, struct store_txn *txn, struct flight *fl,
    const struct outcome *o)
{
	const struct rule *r = queue_rule(f->queue, fl->d.rule_version);
	int64_t next;
	struct attempt a;

	fill_attempt(&a, fl);
	a.http_status = (uint16_t)o->http_status;
	a.latency_ms = (uint32_t)o->latency_ms;
	a.error = (char *)(uintptr_t)(o->curl_failed ? o->error : o->snippet);
	a.result = (uint8_t)rule_outcome(r, o, fl->d.attempt, now_ms(), &next);
	if (queue_finish(f->queue, txn, &fl->d, &a, next,
	    fl->host ? fl->host->hash : 0) != STORE_OK)
		return -1;
	fl->result = a.result;
	return 0;
}

static void
report(const struct flight *fl)
{
	count_attempt(fl, fl->result, fl->outcome.latency_ms);
	(fl->result == ATTEMPT_OK ? log_debug : log_info)(
	    "event=attempt postback_id=%s attempt=%u result=%s "
	    "http_status=%d transaction_id=%s rule=%s", fl->d.postback_id,
	    fl->d.attempt, attempt_result_name(fl->result),
	    fl->outcome.http_status, fl->d.event.txid, fl->d.rule);
}

static void
flight_free(struct flight *fl)
{
	request_free(&fl->req);
	delivery_free(&fl->d);
	free(fl);
}

static void
settle_failed(struct engine *f)
{
	log_error("event=attempt_log result=failed reason=\"store refused; "
	    "holding %d outcomes and new deliveries until it takes them\"",
	    f->nlanded);
	f->retry_log_ms = mono_ms() + 1000;
}

static void
land_one(struct engine *f, struct flight *fl, const struct outcome *o)
{
	if (fl->host)
		fl->host->flying--;
	fl->landed = 1;
	fl->outcome = *o;
	f->nlanded++;
}

static void
land(struct engine *f)
{
	struct outcome o[FIRER_BATCH];
	struct flight *fl;
	int i, n;

	do {
		n = sender_take(f->sender, o, (int)nitems(o));
		for (i = 0; i < n; i++) {
			fl = o[i].cookie;	/* the flight that started it */
			f->nflights--;
			metric_add(fl->host->gauge, -1);
			if (fl->host->nready < ready_per_host(f) / 2)
				f->rescan = 1;
			land_one(f, fl, &o[i]);
		}
	} while (n == (int)nitems(o));
}

/* An attempt decided without sending: failed or cancelled. */
static void
land_unsent(struct engine *f, struct flight *fl, int cancelled, const char *why)
{
	struct outcome o;

	memset(&o, 0, sizeof(o));
	o.cancelled = cancelled;
	snprintf(o.snippet, sizeof(o.snippet), "%s", why);
	if (fl->req.url == NULL)
		fl->req.url = xstrdup("");
	add_flight(f, fl);
	land_one(f, fl, &o);
}

/*
 * A delayed delivery whose conversion no longer has the status its rule
 * fires on (a rejection during a fraud-check hold) is not sent; a rule
 * on `status any` still fires.
 */
static int
condition_gone(struct engine *f, const struct rule *r,
    const struct delivery *d)
{
	int now, want = r->status;

	if (r->delay_ms <= 0 || d->attempt != 1 || want == RULE_STATUS_ANY)
		return 0;
	if (want == RULE_STATUS_OWN)
		want = d->event.status;
	now = queue_state(f->queue, &d->event);
	return now != 0 && now != want;
}

/* Hand requests already noted as on the wire to the sending thread. */
static void
send_all(struct engine *f, struct flight **go, int n)
{
	const struct postback_request *reqs[FIRER_BATCH];
	const void *hosts[FIRER_BATCH];
	void *cookies[FIRER_BATCH];
	int i;

	for (i = 0; i < n; i++) {
		reqs[i] = &go[i]->req;
		cookies[i] = go[i];
		hosts[i] = go[i]->host;
		f->nflights++;
		metric_add(go[i]->host->gauge, 1);
		metric_observe_ms(lateness_histogram(),
		    (double)(go[i]->started_ms - go[i]->d.due_ms));
	}
	sender_send(f->sender, reqs, cookies, hosts,
	    (int)f->daemon->conf->max_per_host, n);
}

/*
 * One write transaction a turn of the loop: log the attempts that came
 * back, and note the requests about to go as on the wire.  Then send
 * those.  If the store refuses, keep the outcomes (never send those
 * requests again) and leave the new requests scheduled.
 */
static void
commit_turn(struct engine *f, struct flight **go, int ngo)
{
	struct flight **pp = &f->flights, *fl;
	struct delivery *ds[FIRER_BATCH];
	struct store_txn *txn;
	int i;

	if ((f->nlanded == 0 || mono_ms() < f->retry_log_ms) && ngo == 0)
		return;
	for (i = 0; i < ngo; i++)
		ds[i] = &go[i]->d;
	if (store_begin(queue_store(f->queue), 1, &txn) != STORE_OK)
		goto refused;
	for (fl = f->flights; fl; fl = fl->next)
		if (fl->landed && finish(f, txn, fl, &fl->outcome) == -1)
			goto abort;
	if (queue_flying(f->queue, txn, ds, ngo, now_ms()) != STORE_OK)
		goto abort;
	if (store_commit(txn, 0) != STORE_OK)
		goto refused;
	while ((fl = *pp) != NULL) {
		if (!fl->landed) {
			pp = &fl->next;
			continue;
		}
		report(fl);
		*pp = fl->next;
		unhash_flight(f, fl);
		f->nlanded--;
		flight_free(fl);
	}
	send_all(f, go, ngo);
	return;
abort:
	store_abort(txn);
refused:
	settle_failed(f);
	for (i = 0; i < ngo; i++) {
		remove_flight(f, go[i]);
		flight_free(go[i]);
	}
}

/*
 * Read due deliveries ahead when a host wants more, new events came, or
 * time has moved on (delays ending), not on every turn of the loop.
 */
static void
read_ahead(struct engine *f)
{
	const struct queue_scan scan = { scan_look, scan_take, f };
	int64_t now = mono_ms();

	if (!f->rescan && now < f->next_scan_ms &&
	    (!f->fresh || now < f->last_scan_ms + FIRER_FRESH_MS))
		return;
	f->rescan = f->fresh = 0;
	f->busy_run = 0;
	f->last_scan_ms = now;
	f->next_scan_ms = now + FIRER_SCAN_MS;
	queue_due(f->queue, now_ms(), &scan);
}

/*
 * Pick what was read ahead, as far as each host's slots allow, and make
 * its requests; commit_turn() sends them.
 */
static int
take_off(struct engine *f, struct flight **go)
{
	struct flight *fl;
	const struct rule *r;
	struct host *h;
	int ngo = 0;

	/* While the store refuses attempts, start nothing new. */
	if (mono_ms() < f->retry_log_ms)
		return 0;
	read_ahead(f);
	for (h = f->hosts; h; h = h->next)
		while (h->ready != NULL && !host_full(f, h) &&
		    f->nflights + ngo < FIRER_MAX_FLIGHTS &&
		    ngo < FIRER_BATCH) {
			fl = ready_pop(f, h);
			fl->started_ms = now_ms();
			r = queue_rule(f->queue, fl->d.rule_version);
			if (r == NULL) {
				land_unsent(f, fl, 0,
				    "rule version not found");
				continue;
			}
			rule_build(r, &fl->d, &fl->req);
			if (condition_gone(f, r, &fl->d))
				land_unsent(f, fl, 1,
				    "status changed during the delay");
			else {
				add_flight(f, fl);
				go[ngo++] = fl;
			}
		}
	return ngo;
}

/*
 * Once a second: the schedule's depth, how long its first delivery has
 * been due, the use of the map, and a sync.
 */
static void
chores(struct engine *f)
{
	int64_t first_due, overdue = 0;
	uint64_t used, size, commits, syncs;

	metric_set(metric_gauge("postline_firer_scheduled",
	    "Deliveries in the schedule.", NULL),
	    (int64_t)queue_depth(f->queue, &first_due));
	if (first_due >= 0 && first_due < now_ms())
		overdue = (now_ms() - first_due) / 1000;
	metric_set(metric_gauge("postline_firer_overdue_seconds",
	    "How long the first delivery due has waited past its due time.",
	    NULL), overdue);
	store_counts(queue_store(f->queue), &commits, &syncs);
	if (store_usage(queue_store(f->queue), &used, &size) == 0)
		metrics_lmdb(used, size, commits, syncs);
	store_sync(queue_store(f->queue));
}

/* Wait up to timeout_ms for either fd (-1: none) to be readable. */
static void
wait_for(int a, int b, int64_t timeout_ms)
{
	struct pollfd pfd[2];
	nfds_t n = 0;

	if (a >= 0) {
		pfd[n].fd = a;
		pfd[n++].events = POLLIN;
	}
	if (b >= 0) {
		pfd[n].fd = b;
		pfd[n++].events = POLLIN;
	}
	if (poll(pfd, n, (int)(timeout_ms > 0 ? timeout_ms : 0)) == -1 &&
	    errno != EINTR)
		log_warn("event=poll error=\"%s\"", strerror(errno));
}

/*
 * Sleep until outcomes or events come, or until the schedule is to be
 * read again: at once when a host wants more, soon after new events,
 * and every FIRER_SCAN_MS for the delays that end.
 */
static void
wait_turn(struct engine *f, struct bus_sock *router, struct inbox *ib)
{
	int64_t now = mono_ms(), until = f->next_scan_ms,
	    sync = inbox_sync_ms(ib);

	if (f->fresh && f->last_scan_ms + FIRER_FRESH_MS < until)
		until = f->last_scan_ms + FIRER_FRESH_MS;
	if (f->nlanded > 0 && f->retry_log_ms < until)
		until = f->retry_log_ms;
	if (sync >= 0 && now + sync < until)
		until = now + sync;
	if (until > now + FIRER_POLL_MS)
		until = now + FIRER_POLL_MS;
	/* While the store refuses, nothing is read ahead: no hurry. */
	if ((f->rescan && now >= f->retry_log_ms) || bus_has_input(router) ||
	    f->retention_behind)
		until = now;
	wait_for(bus_fd(router), sender_fd(f->sender), until - now);
}

void
engine_run(struct engine *f, struct bus_sock *router)
{
	struct timespec last_turn = { 0, 0 };
	struct flight *go[FIRER_BATCH];
	int64_t deadline, next_chores = 0;
	struct inbox *ib = inbox_open(queue_store(f->queue), DB_SENDERS,
	    DB_DEAD, router, f->daemon->sender_id, &event_ops, f, NULL,
	    FIRER_SYNC_MS);
	/* What the firer keeps for a bounded time: see retain.h. */
	const struct retain_kind retained[] = {
		{ "log", RETENTION_LOGS, DB_LOG, queue_prune_log, f->queue,
		    0 },
		{ "deliveries", RETENTION_LOGS, DB_DELIVERIES,
		    queue_prune_deliveries, f->queue, 0 },
		{ "states", RETENTION_LOGS, DB_STATE, queue_prune_states,
		    f->queue, 0 },
	};

	f->retain = retain_new(f->daemon, queue_store(f->queue), retained,
	    (int)(sizeof(retained) / sizeof(retained[0])));
	while (!daemon_stopping) {
		if (daemon_reloading) {
			daemon_reloading = 0;
			daemon_reload(f->daemon);
		}
		f->retention_behind = retain_step(f->retain, now_ms());
		if (mono_ms() >= next_chores) {
			chores(f);
			next_chores = mono_ms() + 1000;
		}
		wait_turn(f, router, ib);
		pace(&last_turn, FIRER_TURN_US);
		inbox_serve(ib);
		if (inbox_sync_ms(ib) == 0)
			inbox_sync(ib);
		land(f);
		commit_turn(f, go, take_off(f, go));
	}
	retain_free(f->retain);
	inbox_close(ib);
	/* Drain: let requests on the wire finish; the rest stay scheduled. */
	deadline = mono_ms() + FIRER_DRAIN_MS;
	while (f->nflights > 0 && mono_ms() < deadline) {
		wait_for(sender_fd(f->sender), -1, 50);
		land(f);
		commit_turn(f, NULL, 0);
	}
	sender_stop(f->sender, mono_ms());
	f->retry_log_ms = 0;
	commit_turn(f, NULL, 0);
}

/*
 * What is still on the wire or read ahead stays scheduled: it goes again
 * next time.
 */
static void
free_flights(struct engine *f)
{
	struct flight *fl;
	struct host *h;

	while ((fl = f->flights) != NULL) {
		f->flights = fl->next;
		flight_free(fl);
	}
	while ((h = f->hosts) != NULL) {
		f->hosts = h->next;
		while (h->ready != NULL)
			flight_free(ready_pop(f, h));
		free(h);
	}
}

struct engine *
engine_new(struct daemon *d, struct queue *s)
{
	struct engine *f = xcalloc(1, sizeof(*f));

	f->daemon = d;
	f->queue = s;
	htab_init(&f->by_id);
	htab_init(&f->by_hash);
	f->sender = sender_start();
	return f;
}

void
engine_free(struct engine *f)
{
	log_info("event=stopped in_flight=%d unlogged=%d", f->nflights,
	    f->nlanded);
	free_flights(f);
	htab_free(&f->by_id);
	htab_free(&f->by_hash);
	free(f);
}
