/*
 * The firer's queue: its LMDB, with the deliveries, the schedule by due
 * time, the attempt log (logdb.h), conversion states and rule versions.
 * Deliveries live on disk, so pending and delayed postbacks cost no
 * memory and survive restarts.  When to send is engine.c's business.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firer.h"
#include "handoff.h"
#include "log.h"
#include "logdb.h"
#include "txid.h"

static const char *const db_names[DB_COUNT] = {
	"senders", LOGDB_DELIVERIES, LOGDB_SCHEDULE, LOGDB_LOG, LOGDB_LOG_TX,
	"meta", "dead", "rules", "state", "inflight"
};

#define QUEUE_SCAN_MAX	4096
#define LOG_SEQ_KEY	"log_seq"

/* A rule as a delivery made it, read once from the store and kept. */
struct rule_version {
	char			 id[RULE_VERSION_LEN + 1];
	struct rule		 rule;
	struct rule_version	*next;
};

struct queue {
	struct store	*store;
	struct rule_version *rules;	/* the versions read so far */
	int		 instance;
	uint64_t	 log_seq;	/* unique suffix of log keys */
	struct retain_sweep prune_from;	/* see queue_prune_deliveries */
};

static void
queue_key(unsigned char *key, int64_t due_ms, const char *postback_id)
{
	wire_be64_put(key, (uint64_t)due_ms);
	memset(key + 8, 0, RECORD_ID_MAX);
	memcpy(key + 8, postback_id, strnlen(postback_id, RECORD_ID_MAX));
}

/* Continue the log's sequence after the last key written. */
static void
load_log_seq(struct queue *s)
{
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k;

	struct store_val v;
	uint64_t seq;

	if (store_begin(s->store, 0, &txn) != STORE_OK)
		return;
	/*
	 * The last key in time order need not hold the highest sequence (an
	 * interrupted attempt is logged at the time it started), so the
	 * highest one is kept in the meta database too.
	 */
	if (store_get(txn, DB_META, LOG_SEQ_KEY, strlen(LOG_SEQ_KEY), &v) ==
	    STORE_OK && v.len == 9)
		s->log_seq = wire_be64_get((const unsigned char *)v.data + 1);
	if (store_cursor_open(txn, DB_LOG, &c) == STORE_OK) {
		if (store_cursor_last(c, &k, NULL) == STORE_OK &&
		    k.len == LOGDB_KEY_LEN &&
		    (seq = wire_be64_get((const unsigned char *)k.data + 8)) >
		    s->log_seq)
			s->log_seq = seq;
		store_cursor_close(c);
	}
	store_abort(txn);
}

struct queue *
queue_open(struct daemon *d)
{
	struct queue *s = xcalloc(1, sizeof(*s));
	char *dir = daemon_state_dir(d);

	s->instance = d->instance;
	s->store = store_open(dir, d->conf->map_size[SERVICE_FIRER], db_names,
	    DB_COUNT, 0);
	free(dir);
	if (s->store == NULL) {
		free(s);
		return NULL;
	}
	load_log_seq(s);
	return s;
}

void
queue_close(struct queue *s)
{
	struct rule_version *v;

	if (s == NULL)
		return;
	while ((v = s->rules) != NULL) {
		s->rules = v->next;
		conf_rule_clear(&v->rule);
		free(v);
	}
	store_close(s->store);
	free(s);
}

struct store *
queue_store(struct queue *s)
{
	return s->store;
}

static int
put_record(struct store_txn *txn, const struct delivery *d)
{
	struct buf b;
	int rc;

	buf_init(&b);
	record_put_delivery(&b, d);
	rc = store_put(txn, DB_DELIVERIES, d->postback_id,
	    strlen(d->postback_id), b.data, b.len);
	buf_free(&b);
	return rc;
}

/*
 * The schedule's value is the hash of the delivery's host (8 bytes), so a
 * scan can pass over deliveries for a busy host without reading them; an
 * empty value or 0 means "unknown" (older entries, replays).
 */
static int
put_scheduled(struct store_txn *txn, const struct delivery *d,
    uint64_t host_hash)
{
	unsigned char key[QUEUE_KEY_LEN], val[8];
	int rc;

	if ((rc = put_record(txn, d)) != STORE_OK)
		return rc;
	queue_key(key, d->due_ms, d->postback_id);
	wire_be64_put(val, host_hash);
	return store_put(txn, DB_SCHEDULE, key, sizeof(key), val, sizeof(val));
}

int
queue_add(struct queue *s, struct store_txn *txn, const struct rule *r,
    const struct event *ev, const char *sender, uint64_t seq)
{
	struct delivery d;
	int64_t now = now_ms();
	unsigned char be[8];
	uint64_t h;
	int rc;

	memset(&d, 0, sizeof(d));
	/*
	 * The id follows from what the event is (its sender and sequence)
	 * and the rule: an event received again after a power cut, before
	 * our sync, makes the same postback_id, which receivers dedupe.
	 */
	wire_be64_put(be, seq);
	h = fnv1a(FNV1A_INIT, sender, strlen(sender) + 1);
	h = fnv1a(h, be, sizeof(be));
	h = fnv1a(h, r->name, strlen(r->name));
	txid_derive(d.postback_id, (unsigned)s->instance, ev->time_ms, h);
	d.rule = r->name;
	d.attempt = 1;
	d.due_ms = now + r->delay_ms + (r->nretry ? r->retry_ms[0] : 0);
	d.event = *ev;
	if ((rc = queue_rule_put(s, txn, r, d.rule_version)) != STORE_OK)
		return rc;
	rc = put_scheduled(txn, &d, rule_host_hash(r));
	if (rc == STORE_OK)
		log_debug("event=scheduled postback_id=%s rule=%s "
		    "transaction_id=%s", d.postback_id, r->name, ev->txid);
	return rc;
}

int
queue_due(struct queue *s, int64_t now, const struct queue_scan *scan)
{
	struct store_txn *txn;
	struct store_cursor *c = NULL;
	struct store_val k, v;
	char pid[RECORD_ID_MAX + 1];
	struct wire_reader r;
	struct delivery d;
	int n = 0, scanned = 0, rc, look;

	if (store_begin(s->store, 0, &txn) != STORE_OK)
		return 0;
	if (store_cursor_open(txn, DB_SCHEDULE, &c) != STORE_OK)
		goto done;
	/* Bounded, so a long line for a busy host costs little per call. */
	for (rc = store_cursor_seek(c, NULL, 0, &k, &v);
	    rc == STORE_OK && scanned++ < QUEUE_SCAN_MAX;
	    rc = store_cursor_next(c, &k, &v)) {
		if (k.len != QUEUE_KEY_LEN ||
		    (int64_t)wire_be64_get(k.data) > now)
			break;
		memcpy(pid, (const char *)k.data + 8, RECORD_ID_MAX);
		pid[RECORD_ID_MAX] = '\0';
		look = scan->look(scan->arg, pid, v.len == 8 ?
		    wire_be64_get(v.data) : 0);
		if (look == QUEUE_STOP)
			break;
		if (look == QUEUE_SKIP ||
		    store_get(txn, DB_DELIVERIES, pid, strlen(pid), &v) !=
		    STORE_OK)
			continue;
		delivery_init(&d);
		wire_reader_init(&r, v.data, v.len);
		if (record_get_delivery(&r, &d) == -1 || wire_done(&r) == -1) {
			log_error("event=corrupt_record db=deliveries "
			    "postback_id=%s", pid);
			delivery_free(&d);
			continue;
		}
		look = scan->take(scan->arg, &d);
		if (look != QUEUE_TAKE)
			delivery_free(&d);
		else
			n++;
		if (look == QUEUE_STOP)
			break;
	}
done:
	store_cursor_close(c);
	store_abort(txn);
	return n;
}

static int
append_attempt(struct queue *s, struct store_txn *txn, const struct attempt *a)
{
	unsigned char key[LOGDB_KEY_LEN], txkey[LOGDB_TX_KEY_LEN];
	struct buf b;
	int rc;

	unsigned char seqval[9];

	s->log_seq++;
	seqval[0] = RECORD_VERSION;
	wire_be64_put(seqval + 1, s->log_seq);
	if ((rc = store_put(txn, DB_META, LOG_SEQ_KEY, strlen(LOG_SEQ_KEY),
	    seqval, sizeof(seqval))) != STORE_OK)
		return rc;
	logdb_key(key, a->time_ms, s->log_seq);
	logdb_tx_key(txkey, a->txid ? a->txid : "", a->time_ms, s->log_seq);
	buf_init(&b);
	record_put_attempt(&b, a);
	rc = store_put(txn, DB_LOG, key, sizeof(key), b.data, b.len);
	buf_free(&b);
	if (rc == STORE_OK)
		rc = store_put(txn, DB_LOG_TX, txkey, sizeof(txkey), "", 0);
	return rc;
}

int
queue_finish(struct queue *s, struct store_txn *txn, const struct delivery *d,
    struct attempt *a, int64_t next_due_ms, uint64_t host_hash)
{
	unsigned char key[QUEUE_KEY_LEN];
	struct delivery next;
	int rc;

	if ((rc = append_attempt(s, txn, a)) != STORE_OK)
		return rc;
	/* Either may be gone already (a replay, an attempt never sent). */
	queue_key(key, d->due_ms, d->postback_id);
	rc = store_del(txn, DB_SCHEDULE, key, sizeof(key));
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = store_del(txn, DB_INFLIGHT, d->postback_id,
		    strlen(d->postback_id));
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	next = *d;
	next.attempt = d->attempt + 1;
	next.due_ms = next_due_ms;
	/* A finished delivery stays, without a schedule, for replay. */
	return next_due_ms >= 0 ? put_scheduled(txn, &next, host_hash) :
	    put_record(txn, &next);
}

int
queue_rule_put(struct queue *s, struct store_txn *txn, const struct rule *r,
    char *id)
{
	struct buf b;
	int rc;

	(void)s;
	buf_init(&b);
	rule_encode(&b, r);
	rule_version_id(&b, id);
	rc = store_put(txn, DB_RULES, id, strlen(id), b.data, b.len);
	buf_free(&b);
	return rc;
}

/* A version read from the store, decoded; NULL if it is not there. */
static struct rule_version *
load_rule(struct queue *s, const char *id)
{
	struct rule_version *v = NULL;
	struct store_txn *txn;
	struct store_val val;

	if (store_begin(s->store, 0, &txn) != STORE_OK)
		return NULL;
	if (store_get(txn, DB_RULES, id, strlen(id), &val) == STORE_OK) {
		v = xcalloc(1, sizeof(*v));
		snprintf(v->id, sizeof(v->id), "%s", id);
		if (rule_decode(val.data, val.len, &v->rule) == -1) {
			log_error("event=corrupt_record db=rules version=%s",
			    id);
			conf_rule_clear(&v->rule);
			free(v);
			v = NULL;
		}
	}
	store_abort(txn);
	return v;
}

const struct rule *
queue_rule(struct queue *s, const char *id)
{
	struct rule_version *v;

	for (v = s->rules; v; v = v->next)
		if (strcmp(v->id, id) == 0)
			return &v->rule;
	if ((v = load_rule(s, id)) == NULL)
		return NULL;
	v->next = s->rules;
	s->rules = v;
	return &v->rule;
}

/* A conversion's identity: transaction, event name, order id. */
static void
state_key(struct buf *key, const struct event *ev)
{
	const char *event = attrs_get(&ev->attrs, "event");
	const char *order = attrs_get(&ev->attrs, "order_id");

	buf_reset(key);
	buf_adds(key, ev->txid);
	buf_addc(key, '\0');
	buf_add(key, event ? event : "", strnlen(event ? event : "", 128));
	buf_addc(key, '\0');
	buf_add(key, order ? order : "", strnlen(order ? order : "", 128));
}

int
queue_set_state(struct queue *s, struct store_txn *txn, const struct event *ev)
{
	unsigned char v[2] = { RECORD_VERSION, ev->status };
	struct buf key;
	int rc;

	(void)s;
	if (ev->type != EVENT_CONVERSION && ev->type != EVENT_EVENT)
		return STORE_OK;
	buf_init(&key);
	state_key(&key, ev);
	rc = store_put(txn, DB_STATE, key.data, key.len, v, sizeof(v));
	buf_free(&key);
	return rc;
}

int
queue_state(struct queue *s, const struct event *ev)
{
	struct store_txn *txn;
	struct store_val v;
	struct buf key;
	int status = 0;

	if (store_begin(s->store, 0, &txn) != STORE_OK)
		return 0;
	buf_init(&key);
	state_key(&key, ev);
	if (store_get(txn, DB_STATE, key.data, key.len, &v) == STORE_OK &&
	    v.len == 2 && ((const unsigned char *)v.data)[0] == RECORD_VERSION)
		status = ((const unsigned char *)v.data)[1];
	buf_free(&key);
	store_abort(txn);
	return status;
}

/*
 * Before requests go out, note them as in flight, in one transaction:
 * if we die before their outcome is logged, the next start logs them
 * "interrupted" and sends them again.
 */
int
queue_flying(struct queue *s, struct store_txn *txn, struct delivery **ds,
    int n, int64_t now)
{
	unsigned char v[13];
	int i, rc = STORE_OK;

	(void)s;
	for (i = 0; i < n && rc == STORE_OK; i++) {
		v[0] = RECORD_VERSION;
		v[1] = (unsigned char)(ds[i]->attempt >> 24);
		v[2] = (unsigned char)(ds[i]->attempt >> 16);
		v[3] = (unsigned char)(ds[i]->attempt >> 8);
		v[4] = (unsigned char)ds[i]->attempt;
		wire_be64_put(v + 5, (uint64_t)now);
		rc = store_put(txn, DB_INFLIGHT, ds[i]->postback_id,
		    strlen(ds[i]->postback_id), v, sizeof(v));
	}
	return rc;
}

/* One delivery found in flight at start: log it interrupted, resend. */
static int
interrupted(struct queue *s, struct store_txn *txn, const char *pid,
    const struct store_val *fv, int64_t now)
{
	const unsigned char *p = fv->data;
	struct delivery d;
	struct attempt a;
	struct store_val v;
	struct wire_reader r;
	unsigned char key[QUEUE_KEY_LEN];
	int rc;

	if (fv->len != 13 || store_get(txn, DB_DELIVERIES, pid, strlen(pid),
	    &v) != STORE_OK)
		return STORE_OK;	/* nothing left to resend */
	delivery_init(&d);
	wire_reader_init(&r, v.data, v.len);
	if (record_get_delivery(&r, &d) == -1) {
		delivery_free(&d);
		return STORE_OK;
	}
	attempt_init(&a);
	a.time_ms = (int64_t)wire_be64_get(p + 5);
	memcpy(a.postback_id, pid, sizeof(a.postback_id));
	a.attempt = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 8 | p[4];
	a.result = ATTEMPT_INTERRUPTED;
	a.type = d.event.type;
	a.rule = d.rule;
	a.offer_id = (char *)(uintptr_t)attrs_get(&d.event.attrs, "offer_id");
	a.publisher = (char *)(uintptr_t)attrs_get(&d.event.attrs,
	    "publisher");
	a.txid = d.event.txid;
	a.url = "";
	a.error = "the firer stopped during this attempt";
	rc = append_attempt(s, txn, &a);
	queue_key(key, d.due_ms, pid);
	if (rc == STORE_OK && d.due_ms >= 0)
		store_del(txn, DB_SCHEDULE, key, sizeof(key));
	d.attempt = a.attempt + 1;
	d.due_ms = now;
	if (rc == STORE_OK)
		rc = put_scheduled(txn, &d, 0);
	log_warn("event=attempt postback_id=%s attempt=%u result=interrupted "
	    "transaction_id=%s", pid, a.attempt, d.event.txid);
	delivery_free(&d);
	return rc;
}

int
queue_recover(struct queue *s)
{
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k, v;
	char pid[RECORD_ID_MAX + 1];
	int64_t now = now_ms();
	int rc;

	if ((rc = store_begin(s->store, 1, &txn)) != STORE_OK)
		return rc;
	if ((rc = store_cursor_open(txn, DB_INFLIGHT, &c)) != STORE_OK) {
		store_abort(txn);
		return rc;
	}
	for (rc = store_cursor_seek(c, NULL, 0, &k, &v); rc == STORE_OK;
	    rc = store_cursor_next(c, &k, &v)) {
		if (k.len > RECORD_ID_MAX)
			continue;
		memcpy(pid, k.data, k.len);
		pid[k.len] = '\0';
		if (interrupted(s, txn, pid, &v, now) != STORE_OK)
			break;
		store_cursor_del(c);
	}
	store_cursor_close(c);
	if (rc == STORE_ERROR || rc == STORE_FULL) {
		store_abort(txn);
		return rc;
	}
	return store_commit(txn, 1);
}

/* Schedule a delivery again now (firer -R); 1 done, 0 unknown id. */
int
queue_replay(struct store_txn *txn, const char *pid, int64_t now)
{
	unsigned char key[QUEUE_KEY_LEN];
	struct delivery d;
	struct store_val v;
	struct wire_reader r;
	int rc;

	if (store_get(txn, DB_DELIVERIES, pid, strlen(pid), &v) != STORE_OK)
		return 0;
	delivery_init(&d);
	wire_reader_init(&r, v.data, v.len);
	if (record_get_delivery(&r, &d) == -1) {
		delivery_free(&d);
		return 0;
	}
	if (d.due_ms >= 0) {
		queue_key(key, d.due_ms, pid);
		store_del(txn, DB_SCHEDULE, key, sizeof(key));
	}
	d.due_ms = now;
	rc = put_scheduled(txn, &d, 0);
	delivery_free(&d);
	return rc == STORE_OK ? 1 : -1;
}

uint64_t
queue_depth(struct queue *s, int64_t *first_due_ms)
{
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k, v;
	uint64_t n;

	*first_due_ms = -1;
	if (store_begin(s->store, 0, &txn) != STORE_OK)
		return 0;
	n = store_count(txn, DB_SCHEDULE);
	if (store_cursor_open(txn, DB_SCHEDULE, &c) == STORE_OK) {
		if (store_cursor_seek(c, NULL, 0, &k, &v) == STORE_OK &&
		    k.len == QUEUE_KEY_LEN)
			*first_due_ms = (int64_t)wire_be64_get(k.data);
		store_cursor_close(c);
	}
	store_abort(txn);
	return n;
}

/* An attempt's key starts with its time. */
static int64_t
attempt_time_of(const struct store_val *k)
{
	return k->len != LOGDB_KEY_LEN ? INT64_MIN :
	    (int64_t)wire_be64_get(k->data);
}

/* An attempt goes with its entry in the transaction index. */
static int
drop_attempt_tx(void *arg, struct store_txn *txn, const struct store_val *k,
    const struct store_val *v)
{
	unsigned char txkey[LOGDB_TX_KEY_LEN];
	struct wire_reader r;
	struct attempt a;
	int rc = STORE_OK;

	(void)arg;
	if (k->len != LOGDB_KEY_LEN)
		return 0;
	attempt_init(&a);
	wire_reader_init(&r, v->data, v->len);
	if (record_get_attempt(&r, &a) == 0) {
		logdb_tx_key(txkey, a.txid, a.time_ms,
		    wire_be64_get((const unsigned char *)k->data + 8));
		rc = store_del(txn, DB_LOG_TX, txkey, sizeof(txkey));
	}
	attempt_free(&a);
	return rc == STORE_OK || rc == STORE_NOTFOUND ? 0 : -1;
}

int
queue_prune_log(void *arg, struct store_txn *txn, struct retain_slice *s)
{
	return retain_walk(txn, DB_LOG, s, attempt_time_of, drop_attempt_tx,
	    arg);
}

/* Postback ids and conversion states start with an id's time. */
static int64_t
id_time_of(const struct store_val *k)
{
	/* txid_time_ms() reads only the time, the first characters. */
	return k->len < TXID_LEN ? INT64_MIN : txid_time_ms(k->data);
}

int
queue_prune_states(void *arg, struct store_txn *txn, struct retain_slice *s)
{
	(void)arg;
	return retain_walk(txn, DB_STATE, s, id_time_of, NULL, NULL);
}

/* A finished delivery past the cutoff goes; a scheduled one stays. */
static int
delivery_expired(void *arg, const struct store_val *k,
    const struct store_val *v)
{
	const struct retain_slice *s = arg;
	struct wire_reader r;
	struct delivery d;
	int done;

	if (id_time_of(k) >= s->before)
		return -1;		/* ids are in time order */
	delivery_init(&d);
	wire_reader_init(&r, v->data, v->len);
	done = record_get_delivery(&r, &d) == -1 || d.due_ms < 0;
	delivery_free(&d);
	return done;
}

/*
 * Finished deliveries (kept for firer -R) by their postback id's time.
 * A delivery still scheduled is passed over, so a pass may take several
 * slices, and the next pass starts at the first key again, when the
 * scheduled ones may have finished.
 */
int
queue_prune_deliveries(void *arg, struct store_txn *txn,
    struct retain_slice *s)
{
	struct queue *sc = arg;

	return retain_sweep(txn, DB_DELIVERIES, s, &sc->prune_from,
	    delivery_expired, s);
}
