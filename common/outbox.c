/*
 * The sending end of the hand-off (handoff.h): records appended to an
 * outbox database in the caller's transaction, sent in batches a window
 * ahead of the last ack, resent after a timeout or a reconnect, deleted
 * once acknowledged.  Used by ingest and the matcher.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handoff.h"
#include "log.h"
#include "metrics.h"

#define OUTBOX_WINDOW		65536	/* records sent ahead of the ack */
#define OUTBOX_BATCH_RECORDS	1024
#define OUTBOX_BATCH_BYTES	(1024 * 1024)
#define OUTBOX_RESEND_MS	3000
#define OUTBOX_KEY_LEN		10
#define OUTBOX_TRIM_MAX		4096	/* deletions in one transaction */
/*
 * Acknowledged records are deleted at most this often (or once a
 * transaction's worth waits): a deletion is a write transaction whose
 * pages the next sync writes back, and acks come with every sync of
 * every receiver.
 */
#define OUTBOX_TRIM_MS		100
#define OUTBOX_DESTS_MAX	1296

struct dest {
	struct bus_sock	*sock;
	char		*endpoint;
	uint64_t	 next;		/* next seq, committed */
	uint64_t	 synced;	/* next seq, committed and synced */
	uint64_t	 mark;		/* next seq at outbox_mark() */
	uint64_t	 tentative;	/* next seq, in the open transaction */
	uint64_t	 acked;		/* highest seq acknowledged */
	uint64_t	 deleted;	/* highest seq deleted from the store */
	uint64_t	 sent;		/* highest seq sent */
	int64_t		 progress_ms;	/* last ack or first send from idle */
	int		 unanswered;	/* batches sent, no reply yet */
	int64_t		 sent_ms;	/* the last batch */
};

struct outbox {
	struct store	*store;
	uint64_t	 bytes;		/* of records not yet deleted */
	uint64_t	 tentative_bytes;
	int		 db;
	int		 meta_db;
	enum msg_type	 type;
	char		*sender;
	struct dest	*dests;
	unsigned	 ndests;
	struct buf	 msg;
	int		 after_sync;	/* send only what is synced */
	int64_t		 unsynced_since_ms; /* oldest commit not synced */
	int64_t		 trimmed_ms;	/* last deletion of acked records */
	int		 max_unanswered; /* 0: no limit */
	int64_t		 give_up_ms;	/* on a reply after this long */
};

static void
outbox_key(unsigned char *key, unsigned dest, uint64_t seq)
{
	key[0] = (unsigned char)(dest >> 8);
	key[1] = (unsigned char)dest;
	wire_be64_put(key + 2, seq);
}

static void
meta_next_key(char *key, size_t size, unsigned dest)
{
	snprintf(key, size, "next/%u", dest);
}

/* Recover a destination's sequences from the outbox and the meta data. */
static int
load_dest(struct outbox *ob, struct store_txn *txn, unsigned d)
{
	struct dest *dst = &ob->dests[d];
	struct store_cursor *c;
	struct store_val k, v;
	unsigned char key[OUTBOX_KEY_LEN];
	char mkey[32];
	uint64_t next = 1, first = 0, last = 0;
	int rc;

	meta_next_key(mkey, sizeof(mkey), d);
	handoff_get_seq(txn, ob->meta_db, mkey, &next);
	if (store_cursor_open(txn, ob->db, &c) != STORE_OK)
		return -1;
	outbox_key(key, d, 0);
	rc = store_cursor_seek(c, key, sizeof(key), &k, &v);
	while (rc == STORE_OK && k.len == OUTBOX_KEY_LEN &&
	    memcmp(k.data, key, 2) == 0) {
		uint64_t seq = wire_be64_get((const unsigned char *)k.data + 2);

		if (first == 0)
			first = seq;
		last = seq;
		ob->bytes += v.len;
		rc = store_cursor_next(c, &k, &v);
	}
	store_cursor_close(c);
	if (last + 1 > next)
		next = last + 1;
	dst->next = dst->tentative = dst->synced = next;
	dst->acked = first ? first - 1 : next - 1;
	dst->deleted = dst->sent = dst->acked;
	return 0;
}

/*
 * Records for a destination that is no longer configured (fewer firers
 * than before) go to one that is, so that nothing waits forever.
 */
static int
rehome(struct outbox *ob)
{
	unsigned char key[OUTBOX_KEY_LEN];
	struct store_cursor *c;
	struct store_txn *txn;
	struct store_val k, v;
	unsigned from;
	int rc, moved = 0;

	if (store_begin(ob->store, 1, &txn) != STORE_OK)
		return -1;
	if (store_cursor_open(txn, ob->db, &c) != STORE_OK) {
		store_abort(txn);
		return -1;
	}
	outbox_key(key, ob->ndests, 0);
	for (rc = store_cursor_seek(c, key, sizeof(key), &k, &v);
	    rc == STORE_OK; rc = store_cursor_next(c, &k, &v)) {
		const unsigned char *kp = k.data;

		if (k.len != OUTBOX_KEY_LEN)
			continue;
		from = (unsigned)kp[0] << 8 | kp[1];
		if (outbox_add(ob, txn, from % ob->ndests, v.data, v.len,
		    NULL) != STORE_OK || store_cursor_del(c) != STORE_OK) {
			rc = STORE_ERROR;
			break;
		}
		moved++;
	}
	store_cursor_close(c);
	if (rc == STORE_ERROR || (moved && store_commit(txn, 1) != STORE_OK)) {
		if (rc == STORE_ERROR)
			store_abort(txn);
		outbox_aborted(ob);
		return -1;
	}
	if (moved == 0)
		store_abort(txn);
	outbox_committed(ob);
	if (moved)
		log_warn("event=outbox_rehomed records=%d destinations=%u",
		    moved, ob->ndests);
	return 0;
}

struct outbox *
outbox_open(struct store *store, int db, int meta_db, struct bus *bus,
    const struct strlist *endpoints, const char *sender, enum msg_type type)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));
	struct store_txn *txn;
	unsigned d;

	ob->store = store;
	ob->db = db;
	ob->meta_db = meta_db;
	ob->type = type;
	ob->sender = xstrdup(sender);
	ob->ndests = (unsigned)endpoints->n;
	if (ob->ndests > OUTBOX_DESTS_MAX)
		fatal("event=start error=\"too many endpoints\"");
	ob->dests = xcalloc(ob->ndests, sizeof(*ob->dests));
	buf_init(&ob->msg);
	if (store_begin(store, 0, &txn) != STORE_OK)
		goto fail;
	for (d = 0; d < ob->ndests; d++) {
		ob->dests[d].endpoint = xstrdup(endpoints->v[d]);
		if (load_dest(ob, txn, d) == -1) {
			store_abort(txn);
			goto fail;
		}
		ob->dests[d].sock = bus_connect(bus, endpoints->v[d], sender);
		if (ob->dests[d].sock == NULL) {
			store_abort(txn);
			goto fail;
		}
	}
	store_abort(txn);
	ob->tentative_bytes = ob->bytes;
	if (rehome(ob) == -1)
		goto fail;
	return ob;
fail:
	outbox_close(ob);
	return NULL;
}

void
outbox_close(struct outbox *ob)
{
	unsigned d;

	if (ob == NULL)
		return;
	for (d = 0; d < ob->ndests; d++) {
		bus_close(ob->dests[d].sock);
		free(ob->dests[d].endpoint);
	}
	free(ob->dests);
	free(ob->sender);
	buf_free(&ob->msg);
	free(ob);
}

void
outbox_limit_unanswered(struct outbox *ob, int max, int64_t give_up_ms)
{
	ob->max_unanswered = max;
	ob->give_up_ms = give_up_ms;
}

unsigned
outbox_ndest(const struct outbox *ob)
{
	return ob->ndests;
}

int
outbox_add(struct outbox *ob, struct store_txn *txn, unsigned d,
    const void *record, size_t len, uint64_t *seq)
{
	unsigned char key[OUTBOX_KEY_LEN];
	struct dest *dst = &ob->dests[d];
	int rc;

	outbox_key(key, d, dst->tentative);
	rc = store_put(txn, ob->db, key, sizeof(key), record, len);
	if (rc != STORE_OK)
		return rc;
	if (seq)
		*seq = dst->tentative;
	dst->tentative++;
	ob->tentative_bytes += len;
	return STORE_OK;
}

void
outbox_committed(struct outbox *ob)
{
	unsigned d;

	for (d = 0; d < ob->ndests; d++) {
		if (ob->after_sync && ob->unsynced_since_ms == 0 &&
		    ob->dests[d].tentative != ob->dests[d].next)
			ob->unsynced_since_ms = mono_ms();
		ob->dests[d].next = ob->dests[d].tentative;
		if (!ob->after_sync)
			ob->dests[d].synced = ob->dests[d].next;
	}
	ob->bytes = ob->tentative_bytes;
}

void
outbox_send_after_sync(struct outbox *ob)
{
	store_sync(ob->store);
	outbox_synced(ob);
	ob->after_sync = 1;
}

void
outbox_synced(struct outbox *ob)
{
	outbox_mark(ob);
	outbox_synced_to_mark(ob);
}

void
outbox_mark(struct outbox *ob)
{
	unsigned d;

	for (d = 0; d < ob->ndests; d++)
		ob->dests[d].mark = ob->dests[d].next;
}

void
outbox_synced_to_mark(struct outbox *ob)
{
	unsigned d;
	int all = 1;

	for (d = 0; d < ob->ndests; d++) {
		if (ob->dests[d].mark > ob->dests[d].synced)
			ob->dests[d].synced = ob->dests[d].mark;
		all &= ob->dests[d].synced == ob->dests[d].next;
	}
	if (all)
		ob->unsynced_since_ms = 0;
}

int64_t
outbox_unsynced_since(const struct outbox *ob)
{
	return ob->unsynced_since_ms;
}

void
outbox_aborted(struct outbox *ob)
{
	unsigned d;

	for (d = 0; d < ob->ndests; d++)
		ob->dests[d].tentative = ob->dests[d].next;
	ob->tentative_bytes = ob->bytes;
}

/* Build one batch starting after dst->sent; returns its record count. */
static uint32_t
build_batch(struct outbox *ob, struct store_txn *txn, unsigned d)
{
	struct dest *dst = &ob->dests[d];
	struct store_cursor *c;
	struct store_val k, v;
	unsigned char key[OUTBOX_KEY_LEN];
	uint64_t want = dst->sent + 1;
	uint32_t count = 0;
	struct buf body;
	int rc;

	buf_init(&body);
	if (store_cursor_open(txn, ob->db, &c) != STORE_OK)
		return 0;
	outbox_key(key, d, want);
	rc = store_cursor_seek(c, key, sizeof(key), &k, &v);
	while (rc == STORE_OK && count < OUTBOX_BATCH_RECORDS &&
	    body.len < OUTBOX_BATCH_BYTES && want < dst->synced) {
		outbox_key(key, d, want);
		if (k.len != sizeof(key) || memcmp(k.data, key, sizeof(key)))
			break;	/* a hole: should not happen, resend later */
		wire_put_u32(&body, (uint32_t)v.len);
		buf_add(&body, v.data, v.len);
		count++;
		want++;
		rc = store_cursor_next(c, &k, &v);
	}
	store_cursor_close(c);
	buf_reset(&ob->msg);
	wire_put_envelope(&ob->msg, ob->type, ob->sender, dst->sent + 1, count);
	wire_put_u64(&ob->msg, dst->acked + 1);
	buf_add(&ob->msg, body.data, body.len);
	buf_free(&body);
	return count;
}

static void
flush_dest(struct outbox *ob, unsigned d, int64_t now)
{
	struct dest *dst = &ob->dests[d];
	struct store_txn *txn = NULL;
	uint32_t count;

	if (dst->sent > dst->acked &&
	    now - dst->progress_ms > OUTBOX_RESEND_MS) {
		log_info("event=resend endpoint=%s from_seq=%llu to_seq=%llu",
		    dst->endpoint, (unsigned long long)dst->acked + 1,
		    (unsigned long long)dst->sent);
		dst->sent = dst->acked;
		dst->unanswered = 0;
	}
	if (dst->unanswered > 0 && now - dst->sent_ms > ob->give_up_ms)
		dst->unanswered = 0;
	while (dst->sent + 1 < dst->synced &&
	    dst->sent - dst->acked < OUTBOX_WINDOW &&
	    (ob->max_unanswered == 0 ||
	    dst->unanswered < ob->max_unanswered)) {
		if (txn == NULL && store_begin(ob->store, 0, &txn) != STORE_OK)
			return;
		if ((count = build_batch(ob, txn, d)) == 0)
			break;
		if (bus_send(dst->sock, NULL, ob->msg.data, ob->msg.len) == -1)
			break;	/* not now: the records wait in the outbox */
		if (dst->sent == dst->acked)
			dst->progress_ms = now;
		dst->sent += count;
		if (ob->max_unanswered > 0) {
			dst->unanswered++;
			dst->sent_ms = now;
		}
	}
	store_abort(txn);
}

void
outbox_flush(struct outbox *ob)
{
	int64_t now = mono_ms();
	unsigned d;

	for (d = 0; d < ob->ndests; d++)
		flush_dest(ob, d, now);
}

/* Delete up to OUTBOX_TRIM_MAX acknowledged records of dest. */
static int
delete_acked(struct outbox *ob, struct store_txn *txn, unsigned d,
    uint64_t *upto, uint64_t *freed)
{
	struct dest *dst = &ob->dests[d];
	unsigned char key[OUTBOX_KEY_LEN], last[OUTBOX_KEY_LEN];
	struct store_cursor *c;
	struct store_val k, v;
	char mkey[32];
	int rc;

	*upto = dst->acked;
	if (*upto - dst->deleted > OUTBOX_TRIM_MAX)
		*upto = dst->deleted + OUTBOX_TRIM_MAX;
	if (*upto == dst->deleted)
		return 0;
	if (store_cursor_open(txn, ob->db, &c) != STORE_OK)
		return -1;
	outbox_key(key, d, dst->deleted + 1);
	outbox_key(last, d, *upto);
	/* After a delete the cursor stands on the next record already. */
	for (rc = store_cursor_seek(c, key, sizeof(key), &k, &v);
	    rc == STORE_OK && k.len == OUTBOX_KEY_LEN &&
	    memcmp(k.data, last, sizeof(last)) <= 0;
	    rc = store_cursor_next(c, &k, &v)) {
		*freed += v.len;
		if (store_cursor_del(c) != STORE_OK) {
			store_cursor_close(c);
			return -1;
		}
	}
	store_cursor_close(c);
	if (rc == STORE_ERROR)
		return -1;
	meta_next_key(mkey, sizeof(mkey), d);
	return handoff_put_seq(txn, ob->meta_db, mkey, dst->next) == STORE_OK ? 0 : -1;
}

/*
 * Free the space of acknowledged records, in bounded transactions: the
 * deletion itself needs pages, and must still succeed on a full map.
 * Losing this commit only means a resend, which is deduplicated.
 */
static void
trim(struct outbox *ob)
{
	uint64_t upto[OUTBOX_DESTS_MAX], freed = 0, waiting = 0;
	int64_t now = mono_ms();
	struct store_txn *txn;
	unsigned d;

	for (d = 0; d < ob->ndests; d++)
		if (ob->dests[d].acked > ob->dests[d].deleted)
			waiting += ob->dests[d].acked - ob->dests[d].deleted;
	if (waiting == 0 || (waiting < OUTBOX_TRIM_MAX &&
	    now - ob->trimmed_ms < OUTBOX_TRIM_MS))
		return;
	if (store_begin(ob->store, 1, &txn) != STORE_OK)
		return;
	ob->trimmed_ms = now;
	for (d = 0; d < ob->ndests; d++) {
		if (delete_acked(ob, txn, d, &upto[d], &freed) == -1) {
			store_abort(txn);
			return;
		}
	}
	if (store_commit(txn, 0) != STORE_OK) {
		log_warn("event=outbox_trim result=failed");
		return;
	}
	for (d = 0; d < ob->ndests; d++)
		ob->dests[d].deleted = upto[d];
	ob->bytes -= freed;
	ob->tentative_bytes -= freed;
}

static void
read_ack(struct outbox *ob, unsigned d, struct buf *msg,
    outbox_verdict_fn fn, void *arg)
{
	struct dest *dst = &ob->dests[d];
	struct wire_reader r;
	struct envelope e;
	uint32_t i;

	wire_reader_init(&r, msg->data, msg->len);
	if (wire_get_envelope(&r, &e) == -1 ||
	    (e.type != MSG_ACK && e.type != MSG_REPLY)) {
		log_warn("event=bad_message endpoint=%s reason=\"not an ack\"",
		    dst->endpoint);
		return;
	}
	if (e.seq > dst->acked && e.seq < dst->next) {
		dst->acked = e.seq;
		if (dst->sent < dst->acked)
			dst->sent = dst->acked;
		dst->progress_ms = mono_ms();
	}
	if (e.type == MSG_REPLY && dst->unanswered > 0)
		dst->unanswered--;
	if (dst->acked == dst->sent)
		dst->unanswered = 0;
	for (i = 0; i < e.count && !r.failed; i++)
		fn(arg, d, &r);
}

void
outbox_read_acks(struct outbox *ob, outbox_verdict_fn fn, void *arg)
{
	char peer[BUS_PEER_MAX + 1];
	struct buf msg;
	unsigned d;
	int n;

	buf_init(&msg);
	for (d = 0; d < ob->ndests; d++) {
		for (n = 0; n < 1024; n++) {
			if (bus_recv(ob->dests[d].sock, peer, &msg) != 1)
				break;
			read_ack(ob, d, &msg, fn, arg);
		}
	}
	buf_free(&msg);
	trim(ob);
}

uint64_t
outbox_bytes(const struct outbox *ob)
{
	return ob->tentative_bytes;
}

uint64_t
outbox_dest_pending(const struct outbox *ob, unsigned d)
{
	return ob->dests[d].next - 1 - ob->dests[d].acked;
}

void
outbox_gauge(const struct outbox *ob, const char *name, const char *help,
    const char *label)
{
	char labels[64];
	unsigned d;

	for (d = 0; d < ob->ndests; d++) {
		snprintf(labels, sizeof(labels), "%s=\"%u\"", label, d);
		metric_set(metric_gauge(name, help, labels),
		    (int64_t)outbox_dest_pending(ob, d));
	}
}

uint64_t
outbox_pending(const struct outbox *ob)
{
	uint64_t n = 0;
	unsigned d;

	for (d = 0; d < ob->ndests; d++)
		n += ob->dests[d].next - 1 - ob->dests[d].acked;
	return n;
}

int
outbox_socks(struct outbox *ob, struct bus_sock **socks, int max)
{
	unsigned d;
	int n = 0;

	for (d = 0; d < ob->ndests && n < max; d++)
		socks[n++] = ob->dests[d].sock;
	return n;
}
