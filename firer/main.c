/*
 * firer: turns events into postbacks by the rules of the config,
 * schedules them in LMDB, sends them with libcurl and logs every
 * attempt.  See firer(8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "daemon.h"
#include "firer.h"
#include "handoff.h"
#include "log.h"
#include "metrics.h"

#define FIRER_POLL_MS		100
#define FIRER_MAX_FLIGHTS	256
#define FIRER_DRAIN_MS		5000
#define FIRER_BATCH		128	/* deliveries taken off at a time */
#define FIRER_SCAN_MS		50	/* look at the schedule at least this often */
#define FIRER_BUSY_RUN		256	/* then stop looking for now */
#define FIRER_ID_BUCKETS	512

static const char usage[] = "[-dnv] [-f file] [-s instance]\n"
    "       firer -R [-v] [-f file] < postback-ids\n"
    "       firer -t rule [--dry-run] [-f file] [name=value ...]";

static int replaying;
static const char *test_rule;

static int
option(struct daemon *d, int ch, const char *arg)
{
	(void)d;
	if (ch == 'R')
		replaying = 1;
	else if (ch == 't')
		test_rule = arg;
	else
		return -1;
	return 0;
}

/* Take --dry-run out of argv (getopt knows only short options). */
static int
take_dry_run(int *argc, char **argv)
{
	int i, j, found = 0;

	for (i = j = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			found = 1;
		else
			argv[j++] = argv[i];
	}
	*argc = j;
	argv[j] = NULL;
	return found;
}

/* The one-shot modes: -R and -t. */
static int
one_shot(struct daemon *d, int argc, char **argv, int first, int dry_run)
{
	int rc;

	if (replaying && first == argc && test_rule == NULL)
		rc = replay(d->conf);
	else if (test_rule && !replaying)
		rc = testfire(d->conf, test_rule, argv + first, argc - first,
		    dry_run);
	else {
		fprintf(stderr, "usage: firer %s\n", usage);
		rc = 2;
	}
	conf_free(d->conf);
	return rc;
}

/*
 * A delivery whose request is on the wire, or has come back and waits
 * for its attempt to be logged (when the store refused that, we keep the
 * outcome rather than send the request again).
 */
struct flight {
	struct delivery	 d;
	struct request	 req;
	int64_t		 started_ms;
	int		 landed;
	struct outcome	 outcome;
	int		 result;	/* once decided */
	struct flight	*hnext;		/* in its by_id bucket */
	struct flight	*next;
};

struct firer {
	struct daemon		*daemon;
	struct sched		*sched;
	struct deliverer	*deliverer;
	struct flight		*flights;
	int			 nflights;	/* on the wire */
	int			 nlanded;	/* back, not yet logged */
	struct flight		*by_id[FIRER_ID_BUCKETS];	/* flights by id */
	int			 rescan;	/* something changed: look again */
	int			 busy_run;	/* deliveries in a row for busy hosts */
	int64_t			 next_scan_ms;
	int64_t			 retry_log_ms;	/* when to try logging again */
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
event_apply(void *arg, struct store_txn *txn, void *p, struct verdict *v,
    int *durable)
{
	struct firer *f = arg;
	const struct conf *conf = f->daemon->conf;
	const struct event *ev = p;
	size_t i;

	(void)v;
	*durable = 1;
	f->rescan = 1;
	if (sched_set_state(f->sched, txn, ev) != STORE_OK)
		return -1;
	for (i = 0; i < conf->nrules; i++)
		if (rule_matches(&conf->rules[i], ev) &&
		    sched_add(f->sched, txn, &conf->rules[i], ev) != STORE_OK)
			return -1;
	return 0;
}

static const struct inbox_ops event_ops = {
	MSG_EVENTS, sizeof(struct event), event_init_any, event_release,
	event_decode, event_apply, 16
};

static int
host_busy(struct firer *f, const char *host)
{
	struct flight *fl;
	uint32_t n = 0;

	for (fl = f->flights; fl; fl = fl->next)
		if (!fl->landed && strcmp(fl->req.host, host) == 0)
			n++;
	return n >= f->daemon->conf->max_per_host;
}

/*
 * Which due deliveries to leave for later: those already taken, and
 * those for a host at its limit, so they hold up no other host.
 */
static unsigned
id_bucket(const char *postback_id)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *postback_id; postback_id++)
		h = (h ^ (unsigned char)*postback_id) * 0x100000001b3ULL;
	return (unsigned)(h % FIRER_ID_BUCKETS);
}

/* Every flight is in the list and, by its id, in by_id. */
static void
add_flight(struct firer *f, struct flight *fl)
{
	unsigned b = id_bucket(fl->d.postback_id);

	fl->next = f->flights;
	f->flights = fl;
	fl->hnext = f->by_id[b];
	f->by_id[b] = fl;
}

static void
unhash_flight(struct firer *f, struct flight *fl)
{
	struct flight **pp = &f->by_id[id_bucket(fl->d.postback_id)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == fl) {
			*pp = fl->hnext;
			return;
		}
}

static void
remove_flight(struct firer *f, struct flight *fl)
{
	struct flight **pp;

	for (pp = &f->flights; *pp; pp = &(*pp)->next)
		if (*pp == fl) {
			*pp = fl->next;
			break;
		}
	unhash_flight(f, fl);
}

static int
taken(void *arg, const char *postback_id)
{
	struct firer *f = arg;
	struct flight *fl;

	for (fl = f->by_id[id_bucket(postback_id)]; fl; fl = fl->hnext)
		if (strcmp(fl->d.postback_id, postback_id) == 0)
			return 1;
	return 0;
}

/*
 * A delivery for a host at its cap waits.  After a long run of those,
 * stop looking: the rest of the schedule is most likely the same hosts,
 * and reading it on every turn of the loop would cost more than it gives.
 */
static int
not_now(void *arg, const struct delivery *d)
{
	struct firer *f = arg;
	const struct rule *r;
	char *host;
	int busy;

	if ((r = rule_version_get(f->sched, d->rule_version)) == NULL)
		return 0;
	host = rule_host(r);
	busy = host_busy(f, host);
	free(host);
	if (!busy) {
		f->busy_run = 0;
		return 0;
	}
	return ++f->busy_run >= FIRER_BUSY_RUN ? -1 : 1;
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

static struct metric *
host_gauge(const char *host)
{
	char labels[300];

	snprintf(labels, sizeof(labels), "host=\"%.256s\"", host);
	return metric_gauge("postline_firer_in_flight",
	    "Requests on the wire, by host.", labels);
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
		metric_observe_ms(metric_histogram("postline_firer_attempt_ms",
		    "Time from request to response.", NULL), (double)latency_ms);
}

static int
retryable(const struct outcome *o)
{
	return o->curl_failed || o->http_status == 408 ||
	    o->http_status == 429 || o->http_status >= 500;
}

/*
 * Decide what an attempt's outcome means; log it and reschedule or end
 * the delivery in the caller's transaction.  The result is kept in the
 * flight, to be reported once the transaction is committed.
 */
static int
finish(struct firer *f, struct store_txn *txn, struct flight *fl,
    const struct outcome *o)
{
	const struct rule *r = rule_version_get(f->sched, fl->d.rule_version);
	int64_t next = -1, delay;
	struct attempt a;

	fill_attempt(&a, fl);
	a.http_status = (uint16_t)o->http_status;
	a.latency_ms = (uint32_t)o->latency_ms;
	a.error = (char *)(uintptr_t)(o->curl_failed ? o->error : o->snippet);
	if (o->cancelled)
		a.result = ATTEMPT_CANCELLED;
	else if (o->http_status >= 200 && o->http_status < 300 &&
	    !o->curl_failed)
		a.result = ATTEMPT_OK;
	else if (retryable(o) && r != NULL &&
	    (delay = rule_retry_delay(r, fl->d.attempt + 1)) >= 0) {
		a.result = ATTEMPT_RETRY;
		next = now_ms() + (o->retry_after_ms > delay ?
		    o->retry_after_ms : delay);
	} else
		a.result = ATTEMPT_FAILED;
	if (sched_finish(f->sched, txn, &fl->d, &a, next) != STORE_OK)
		return -1;
	fl->result = a.result;
	return 0;
}

static void
report(const struct flight *fl)
{
	count_attempt(fl, fl->result, fl->outcome.latency_ms);
	log_info("event=attempt postback_id=%s attempt=%u result=%s "
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
settle_failed(struct firer *f)
{
	log_error("event=attempt_log result=failed reason=\"store refused; "
	    "holding %d outcomes and new deliveries until it takes them\"",
	    f->nlanded);
	f->retry_log_ms = mono_ms() + 1000;
}

/*
 * Log the attempts that came back, all in one transaction; if the store
 * refuses, keep the outcomes (never send those requests again).
 */
static void
settle(struct firer *f)
{
	struct flight **pp = &f->flights, *fl;
	struct store_txn *txn;

	if (f->nlanded == 0 || mono_ms() < f->retry_log_ms)
		return;
	if (store_begin(sched_store(f->sched), 1, &txn) != STORE_OK) {
		settle_failed(f);
		return;
	}
	for (fl = f->flights; fl; fl = fl->next)
		if (fl->landed && finish(f, txn, fl, &fl->outcome) == -1) {
			store_abort(txn);
			settle_failed(f);
			return;
		}
	if (store_commit(txn, 0) != STORE_OK) {
		settle_failed(f);
		return;
	}
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
}

static void
land_one(struct firer *f, struct flight *fl, const struct outcome *o)
{
	fl->landed = 1;
	fl->outcome = *o;
	f->nlanded++;
}

static void
land(struct firer *f)
{
	struct flight *fl;
	struct outcome o;

	while (deliver_done(f->deliverer, &o)) {
		fl = o.cookie;		/* the flight that started it */
		f->nflights--;
		f->rescan = 1;
		metric_add(host_gauge(fl->req.host), -1);
		land_one(f, fl, &o);
	}
	settle(f);
}

/* An attempt decided without sending: failed or cancelled. */
static void
land_unsent(struct firer *f, struct flight *fl, int listed, int cancelled,
    const char *why)
{
	struct outcome o;

	memset(&o, 0, sizeof(o));
	o.cancelled = cancelled;
	snprintf(o.snippet, sizeof(o.snippet), "%s", why);
	if (fl->req.url == NULL) {
		fl->req.url = xstrdup("");
		fl->req.host = xstrdup("");
	}
	if (!listed)
		add_flight(f, fl);
	land_one(f, fl, &o);
}

/*
 * A delayed delivery whose conversion has changed status since (a
 * rejection during a fraud-check hold) is not sent.
 */
static int
condition_gone(struct firer *f, const struct rule *r,
    const struct delivery *d)
{
	int now;

	if (r->delay_ms <= 0 || d->attempt != 1)
		return 0;
	now = sched_state(f->sched, &d->event);
	return now != 0 && now != d->event.status;
}

/*
 * Note the requests (already in the flight list, which the per-host cap
 * counts) as on the wire in the store, then send them; if the store
 * refuses, they stay scheduled for a later turn.
 */
static void
send_all(struct firer *f, struct flight **go, int n)
{
	struct delivery *ds[FIRER_BATCH];
	int i;

	for (i = 0; i < n; i++)
		ds[i] = &go[i]->d;
	if (n > 0 && sched_flying(f->sched, ds, n, now_ms()) != STORE_OK) {
		for (i = 0; i < n; i++) {
			remove_flight(f, go[i]);
			flight_free(go[i]);
		}
		return;
	}
	for (i = 0; i < n; i++) {
		if (deliver_start(f->deliverer, &go[i]->req, go[i]) == 0) {
			f->nflights++;
			metric_add(host_gauge(go[i]->req.host), 1);
			metric_observe_ms(metric_histogram("postline_firer_lateness_ms",
			    "From the due time to the request.", NULL),
			    (double)(go[i]->started_ms - go[i]->d.due_ms));
		} else
			land_unsent(f, go[i], 1, 0,
			    "could not start the request");
	}
}

static void
take_off(struct firer *f)
{
	struct delivery due[FIRER_BATCH];
	struct flight *fl, *go[FIRER_BATCH];
	const struct rule *r;
	int n, i, ngo = 0;

	/* While the store refuses attempts, start nothing new. */
	if (f->nflights >= FIRER_MAX_FLIGHTS || f->nlanded > 0)
		return;
	/*
	 * Scanning the schedule costs; do it when a slot has freed, events
	 * came, or time has moved on, not on every turn of the loop.
	 */
	if (!f->rescan && mono_ms() < f->next_scan_ms)
		return;
	f->rescan = 0;
	f->busy_run = 0;
	f->next_scan_ms = mono_ms() + FIRER_SCAN_MS;
	n = sched_due(f->sched, now_ms(), due, (int)nitems(due), taken,
	    not_now, f);
	for (i = 0; i < n; i++) {
		fl = xcalloc(1, sizeof(*fl));
		fl->d = due[i];
		fl->started_ms = now_ms();
		r = rule_version_get(f->sched, fl->d.rule_version);
		if (r == NULL) {
			land_unsent(f, fl, 0, 0, "rule version not found");
			continue;
		}
		rule_build(r, &fl->d, &fl->req);
		if (condition_gone(f, r, &fl->d))
			land_unsent(f, fl, 0, 1,
			    "status changed during the delay");
		else if (host_busy(f, fl->req.host) ||
		    f->nflights + ngo >= FIRER_MAX_FLIGHTS)
			flight_free(fl);
		else {
			add_flight(f, fl);	/* counts for the cap at once */
			go[ngo++] = fl;
		}
	}
	send_all(f, go, ngo);
	settle(f);
}

/* Once a second: the schedule's depth, and retention logs. */
static void
chores(struct firer *f)
{
	metric_set(metric_gauge("postline_firer_scheduled",
	    "Deliveries in the schedule.", NULL),
	    (int64_t)sched_depth(f->sched));
	sched_prune(f->sched, now_ms() - f->daemon->conf->retention_logs_ms);
	store_sync(sched_store(f->sched));
}

static void
run(struct firer *f, struct bus_sock *router)
{
	int fd = bus_fd(router);
	int64_t deadline, next_chores = 0;

	while (!daemon_stopping) {
		if (daemon_reloading) {
			daemon_reloading = 0;
			daemon_reload(f->daemon);
		}
		if (mono_ms() >= next_chores) {
			chores(f);
			next_chores = mono_ms() + 1000;
		}
		deliver_wait(f->deliverer, fd, bus_has_input(router) ? 0 :
		    FIRER_POLL_MS);
		inbox_serve(sched_store(f->sched), DB_SENDERS, DB_DEAD, router,
		    f->daemon->sender_id, &event_ops, f, NULL);
		land(f);
		take_off(f);
	}
	/* Drain: let requests on the wire finish; the rest stay scheduled. */
	deadline = mono_ms() + FIRER_DRAIN_MS;
	while (f->nflights > 0 && mono_ms() < deadline) {
		deliver_wait(f->deliverer, -1, 50);
		land(f);
	}
	f->retry_log_ms = 0;
	settle(f);
}

/* What is still on the wire stays scheduled: it goes again next time. */
static void
free_flights(struct firer *f)
{
	struct flight *fl;

	while ((fl = f->flights) != NULL) {
		f->flights = fl->next;
		unhash_flight(f, fl);
		flight_free(fl);
	}
}

static void NORETURN
errx_usage(const char *text)
{
	fprintf(stderr, "usage: firer %s\n", text);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct daemon d = { .name = "firer", .service = SERVICE_FIRER };
	struct firer f = { .daemon = &d };
	struct bus_sock *router;
	struct bus *bus;

	int dry_run = take_dry_run(&argc, argv);
	int first = daemon_start(&d, argc, argv, "Rt:", option, usage);

	if (replaying || test_rule)
		return one_shot(&d, argc, argv, first, dry_run);
	if (first != argc || dry_run)
		errx_usage(usage);
	if ((size_t)d.instance >= d.conf->firer_endpoints.n)
		fatal("event=start error=\"no firer endpoint for instance %d\"",
		    d.instance);
	if ((f.sched = sched_open(&d)) == NULL)
		fatal("event=start error=\"cannot open the store\"");
	d.sender_id = handoff_sender_id(sched_store(f.sched), DB_META, d.name,
	    d.instance);
	if (sched_recover(f.sched) != STORE_OK)
		fatal("event=start error=\"cannot recover interrupted "
		    "deliveries\"");
	f.deliverer = deliver_new();
	bus = bus_new();
	if ((router = bus_bind(bus, d.conf->firer_endpoints.v[d.instance])) ==
	    NULL)
		fatal("event=start error=\"cannot bind %s\"",
		    d.conf->firer_endpoints.v[d.instance]);
	if (metrics_start(d.conf->metrics[SERVICE_FIRER]) == -1)
		fatal("event=start error=\"cannot serve metrics\"");
	log_info("event=ready sender=%s endpoint=%s rules=%zu", d.sender_id,
	    d.conf->firer_endpoints.v[d.instance], d.conf->nrules);
	run(&f, router);
	log_info("event=stopped in_flight=%d unlogged=%d", f.nflights,
	    f.nlanded);
	deliver_free(f.deliverer);
	free_flights(&f);
	rule_versions_free();
	metrics_stop();
	bus_close(router);
	bus_free(bus);
	sched_close(f.sched);
	free(d.sender_id);
	conf_free(d.conf);
	return 0;
}
