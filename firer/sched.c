/*
 * The firer's LMDB: deliveries, the schedule by due time, and the
 * attempt log (logdb.h).  Deliveries live on disk, so pending and delayed
 * postbacks cost no memory and survive restarts.
 */
#include <stdlib.h>
#include <string.h>

#include "firer.h"
#include "handoff.h"
#include "log.h"
#include "logdb.h"
#include "txid.h"

static const char *const db_names[DB_COUNT] = {
	"senders", LOGDB_DELIVERIES, LOGDB_SCHEDULE, LOGDB_LOG, LOGDB_LOG_TX,
	"meta",
	"dead"
};

#define SCHED_SCAN_MAX	4096

struct sched {
	struct store	*store;
	int		 instance;
	uint64_t	 log_seq;	/* unique suffix of log keys */
};

static void
sched_key(unsigned char *key, int64_t due_ms, const char *postback_id)
{
	wire_be64_put(key, (uint64_t)due_ms);
	memset(key + 8, 0, RECORD_ID_MAX);
	memcpy(key + 8, postback_id, strnlen(postback_id, RECORD_ID_MAX));
}

/* Continue the log's sequence after the last key written. */
static void
load_log_seq(struct sched *s)
{
	struct store_txn *txn;
	struct store_cursor *c;
	struct store_val k;

	if (store_begin(s->store, 0, &txn) != STORE_OK)
		return;
	if (store_cursor_open(txn, DB_LOG, &c) == STORE_OK) {
		if (store_cursor_last(c, &k, NULL) == STORE_OK &&
		    k.len == LOGDB_KEY_LEN)
			s->log_seq = wire_be64_get((const unsigned char *)
			    k.data + 8);
		store_cursor_close(c);
	}
	store_abort(txn);
}

struct sched *
sched_open(struct daemon *d)
{
	struct sched *s = xcalloc(1, sizeof(*s));
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
sched_close(struct sched *s)
{
	if (s == NULL)
		return;
	store_close(s->store);
	free(s);
}

struct store *
sched_store(struct sched *s)
{
	return s->store;
}

static int
put_scheduled(struct store_txn *txn, const struct delivery *d)
{
	unsigned char key[SCHED_KEY_LEN];
	struct buf b;
	int rc;

	buf_init(&b);
	record_put_delivery(&b, d);
	rc = store_put(txn, DB_DELIVERIES, d->postback_id,
	    strlen(d->postback_id), b.data, b.len);
	buf_free(&b);
	if (rc != STORE_OK)
		return rc;
	sched_key(key, d->due_ms, d->postback_id);
	return store_put(txn, DB_SCHEDULE, key, sizeof(key), "", 0);
}

int
sched_add(struct sched *s, struct store_txn *txn, const struct rule *r,
    const struct event *ev)
{
	struct delivery d;
	int64_t now = now_ms();
	int rc;

	memset(&d, 0, sizeof(d));
	txid_generate(d.postback_id, (unsigned)s->instance, now);
	d.rule = r->name;
	d.attempt = 1;
	d.due_ms = now + r->delay_ms + (r->nretry ? r->retry_ms[0] : 0);
	d.event = *ev;
	rc = put_scheduled(txn, &d);
	if (rc == STORE_OK)
		log_info("event=scheduled postback_id=%s rule=%s "
		    "transaction_id=%s", d.postback_id, r->name, ev->txid);
	return rc;
}

int
sched_due(struct sched *s, int64_t now, struct delivery *out, int max,
    int (*skip)(void *, const struct delivery *), void *arg)
{
	struct store_txn *txn;
	struct store_cursor *c = NULL;
	struct store_val k, v;
	char pid[RECORD_ID_MAX + 1];
	struct wire_reader r;
	int n = 0, scanned = 0, rc;

	if (store_begin(s->store, 0, &txn) != STORE_OK)
		return 0;
	if (store_cursor_open(txn, DB_SCHEDULE, &c) != STORE_OK)
		goto done;
	/* Bounded, so a long line for a busy host costs little per call. */
	for (rc = store_cursor_seek(c, NULL, 0, &k, NULL);
	    rc == STORE_OK && n < max && scanned++ < SCHED_SCAN_MAX;
	    rc = store_cursor_next(c, &k, NULL)) {
		if (k.len != SCHED_KEY_LEN ||
		    (int64_t)wire_be64_get(k.data) > now)
			break;
		memcpy(pid, (const char *)k.data + 8, RECORD_ID_MAX);
		pid[RECORD_ID_MAX] = '\0';
		if (store_get(txn, DB_DELIVERIES, pid, strlen(pid), &v) !=
		    STORE_OK)
			continue;
		delivery_init(&out[n]);
		wire_reader_init(&r, v.data, v.len);
		if (record_get_delivery(&r, &out[n]) == -1 ||
		    wire_done(&r) == -1) {
			log_error("event=corrupt_record db=deliveries "
			    "postback_id=%s", pid);
			delivery_free(&out[n]);
			continue;
		}
		if (skip(arg, &out[n])) {
			delivery_free(&out[n]);
			continue;
		}
		n++;
	}
done:
	store_cursor_close(c);
	store_abort(txn);
	return n;
}

static int
log_attempt(struct sched *s, struct store_txn *txn, const struct attempt *a)
{
	unsigned char key[LOGDB_KEY_LEN], txkey[LOGDB_TX_KEY_LEN];
	struct buf b;
	int rc;

	s->log_seq++;
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
sched_finish(struct sched *s, const struct delivery *d, struct attempt *a,
    int64_t next_due_ms)
{
	unsigned char key[SCHED_KEY_LEN];
	struct store_txn *txn;
	struct delivery next;
	int rc;

	if ((rc = store_begin(s->store, 1, &txn)) != STORE_OK)
		return rc;
	rc = log_attempt(s, txn, a);
	sched_key(key, d->due_ms, d->postback_id);
	if (rc == STORE_OK)
		rc = store_del(txn, DB_SCHEDULE, key, sizeof(key));
	if (rc == STORE_OK || rc == STORE_NOTFOUND) {
		if (next_due_ms >= 0) {
			next = *d;
			next.attempt = d->attempt + 1;
			next.due_ms = next_due_ms;
			rc = put_scheduled(txn, &next);
		} else {
			rc = store_del(txn, DB_DELIVERIES, d->postback_id,
			    strlen(d->postback_id));
			if (rc == STORE_NOTFOUND)
				rc = STORE_OK;
		}
	}
	if (rc != STORE_OK) {
		store_abort(txn);
		return rc;
	}
	return store_commit(txn, 0);
}
