#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handoff.h"
#include "log.h"

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

/* Sequence values are stored as a record version and a be64. */
static int
get_seq(struct store_txn *txn, int db, const char *key, uint64_t *seq)
{
	struct store_val v;

	if (store_get(txn, db, key, strlen(key), &v) != STORE_OK ||
	    v.len != 9 || ((const unsigned char *)v.data)[0] != RECORD_VERSION)
		return 0;
	*seq = wire_be64_get((const unsigned char *)v.data + 1);
	return 1;
}

static int
put_seq(struct store_txn *txn, int db, const char *key, uint64_t seq)
{
	unsigned char v[9];

	v[0] = RECORD_VERSION;
	wire_be64_put(v + 1, seq);
	return store_put(txn, db, key, strlen(key), v, sizeof(v));
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
	get_seq(txn, ob->meta_db, mkey, &next);
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
	return put_seq(txn, ob->meta_db, mkey, dst->next) == STORE_OK ? 0 : -1;
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

char *
handoff_sender_id(struct store *store, int meta_db, const char *name,
    int instance)
{
	static const char key[] = "incarnation";
	struct store_txn *txn;
	struct store_val v;
	unsigned char rnd[8];
	char hex[18];
	int i;

	if (store_begin(store, 1, &txn) != STORE_OK)
		fatal("event=start error=\"cannot read the store\"");
	if (store_get(txn, meta_db, key, strlen(key), &v) == STORE_OK &&
	    v.len == 17 && ((const char *)v.data)[0] == RECORD_VERSION) {
		memcpy(hex, v.data, 17);
		store_abort(txn);
	} else {
		random_bytes(rnd, sizeof(rnd));
		hex[0] = RECORD_VERSION;
		for (i = 0; i < 8; i++)
			snprintf(hex + 1 + 2 * i, 3, "%02x", rnd[i]);
		if (store_put(txn, meta_db, key, strlen(key), hex, 17) !=
		    STORE_OK || store_commit(txn, 1) != STORE_OK)
			fatal("event=start error=\"cannot write the store\"");
	}
	hex[17] = '\0';
	return xasprintf("%s-%d/%s", name, instance, hex + 1);
}

uint64_t
inbox_last(struct store_txn *txn, int db, const char *sender)
{
	uint64_t last;

	return get_seq(txn, db, sender, &last) ? last : 0;
}

int
inbox_accept(struct store_txn *txn, int db, const char *sender,
    uint64_t base, uint64_t first, uint32_t count, uint32_t *skip)
{
	uint64_t last;

	if (!get_seq(txn, db, sender, &last))
		last = 0;
	/*
	 * The sender holds nothing below base: what we lack of it is lost
	 * (our store went back in time, or we are new).  Waiting would only
	 * stop the stream for good, so take it up from base, and say so.
	 */
	if (base > last + 1) {
		if (last > 0)
			log_error("event=sequence_gap sender=%s lost_from=%llu "
			    "lost_to=%llu", sender, (unsigned long long)last + 1,
			    (unsigned long long)base - 1);
		last = base - 1;
	}
	if (first == 0 || first > last + 1)
		return -1;
	*skip = last + 1 - first > count ? count : (uint32_t)(last + 1 - first);
	return 0;
}

int
inbox_applied(struct store_txn *txn, int db, const char *sender,
    uint64_t last)
{
	return put_seq(txn, db, sender, last) == STORE_OK ? 0 : -1;
}

#define INBOX_BATCH_MSGS	16	/* per transaction: bounds its dirty pages */
#define INBOX_RECORDS_MAX	100000

/* One message from a sender, and what its ack will say. */
struct inmsg {
	char		 peer[BUS_PEER_MAX + 1];
	char		 sender[WIRE_SENDER_MAX + 1];
	struct buf	 data;
	struct buf	 verdicts;
	uint32_t	 nverdicts;
	uint64_t	 last;		/* the sender's records applied */
	int		 valid;
	int		 gap;
};

/* What a sender was told, when acknowledgements wait for a sync. */
struct peer_ack {
	char		 sender[WIRE_SENDER_MAX + 1];
	char		 peer[BUS_PEER_MAX + 1];
	uint64_t	 applied;	/* committed */
	uint64_t	 acked;		/* safe to acknowledge */
	int		 waiting;	/* records applied wait for the sync */
	struct peer_ack	*next;
};

struct inbox {
	struct store		*store;
	int			 db;
	int			 dead_db;
	struct bus_sock		*router;
	char			*self;
	const struct inbox_ops	*ops;
	void			*arg;
	struct outbox		*ob;
	int64_t			 sync_ms;	/* sync at most this long after */
	int64_t			 unsynced_since_ms;
	struct peer_ack		*peers;
};

static void
log_malformed(const char *peer, const char *why)
{
	static int64_t last = -100000;
	static unsigned long count;
	int64_t now = mono_ms();

	count++;
	if (now - last < 10000)
		return;
	log_warn("event=bad_message peer=%s reason=\"%s\" count=%lu", peer,
	    why, count);
	last = now;
}

/* Decode every record of a message before applying any of it. */
static int
decode_records(struct wire_reader *r, const struct inbox_ops *ops,
    char *records, uint32_t count)
{
	struct wire_reader rr;
	uint32_t i, len;

	for (i = 0; i < count; i++) {
		if (wire_get_u32(r, &len) == -1 || r->len - r->off < len)
			return -1;
		wire_reader_init(&rr, r->p + r->off, len);
		if (ops->decode(&rr, records + i * ops->size) == -1 ||
		    wire_done(&rr) == -1)
			return -1;
		r->off += len;
	}
	return wire_done(r);
}

static void
build_ack(struct buf *ack, enum msg_type type, const char *self,
    uint64_t last, uint32_t nverdicts, const struct buf *verdicts)
{
	buf_reset(ack);
	wire_put_envelope(ack, type, self, last, nverdicts);
	if (verdicts != NULL)
		buf_add(ack, verdicts->data, verdicts->len);
}

static int
apply_records(struct store_txn *txn, const struct inbox_ops *ops, void *arg,
    const struct envelope *e, char *records, uint32_t skip,
    struct buf *verdicts, uint32_t *nverdicts, int *durable)
{
	struct verdict v;
	uint32_t i;

	for (i = skip; i < e->count; i++) {
		memset(&v, 0, sizeof(v));
		if (ops->apply(arg, txn, records + i * ops->size, e->sender,
		    e->seq + i, &v, durable) == -1)
			return -1;
		if (v.result != 0) {
			v.seq = e->seq + i;
			record_put_verdict(verdicts, &v);
			(*nverdicts)++;
		}
	}
	return 0;
}

/* Keep a message we cannot read where an operator can find it. */
static int
keep_dead(struct store_txn *txn, int dead_db, const struct envelope *e,
    const struct inmsg *in)
{
	struct buf key;
	int rc;

	buf_init(&key);
	buf_adds(&key, e->sender);
	buf_addc(&key, '\0');
	buf_reserve(&key, 8);
	wire_be64_put((unsigned char *)key.data + key.len, e->seq);
	key.len += 8;
	rc = store_put(txn, dead_db, key.data, key.len, in->data.data,
	    in->data.len);
	buf_free(&key);
	log_error("event=dead_letter sender=%s seq=%llu count=%u "
	    "reason=\"records cannot be decoded\"", e->sender,
	    (unsigned long long)e->seq, e->count);
	return rc == STORE_OK ? 0 : -1;
}

static int
apply_message(struct store_txn *txn, int db, int dead_db,
    const struct inbox_ops *ops, void *arg, struct inmsg *in, int *durable)
{
	struct wire_reader r;
	struct envelope e;
	char *records;
	uint64_t base, last;
	uint32_t i, skip = 0;
	int rc = 0, gap, dead;

	wire_reader_init(&r, in->data.data, in->data.len);
	if (wire_get_envelope(&r, &e) == -1 || e.type != ops->type ||
	    wire_get_u64(&r, &base) == -1 || e.count > INBOX_RECORDS_MAX) {
		log_malformed(in->peer, "bad envelope");
		return 0;
	}
	records = xcalloc(e.count ? e.count : 1, ops->size);
	for (i = 0; i < e.count; i++)
		ops->init(records + i * ops->size);
	dead = decode_records(&r, ops, records, e.count) == -1;
	if (dead && dead_db < 0) {
		log_malformed(in->peer, "bad record");
		goto done;
	}
	in->valid = 1;
	gap = inbox_accept(txn, db, e.sender, base, e.seq, e.count, &skip);
	if (gap == 0 && dead && skip < e.count) {
		rc = keep_dead(txn, dead_db, &e, in);
		*durable = 1;	/* kept whole: on disk before the ack */
	} else if (gap == 0 && !dead)
		rc = apply_records(txn, ops, arg, &e, records, skip,
		    &in->verdicts, &in->nverdicts, durable);
	last = gap ? inbox_last(txn, db, e.sender) : e.seq + e.count - 1;
	if (gap == 0 && rc == 0 && skip < e.count)
		rc = inbox_applied(txn, db, e.sender, last);
	memcpy(in->sender, e.sender, sizeof(in->sender));
	in->last = last;
	in->gap = gap != 0;
done:
	for (i = 0; i < e.count; i++)
		ops->release(records + i * ops->size);
	free(records);
	return rc;
}

static struct peer_ack *
peer_find(struct inbox *ib, const char *sender)
{
	struct peer_ack *p;

	for (p = ib->peers; p; p = p->next)
		if (strcmp(p->sender, sender) == 0)
			return p;
	p = xcalloc(1, sizeof(*p));
	snprintf(p->sender, sizeof(p->sender), "%s", sender);
	p->next = ib->peers;
	ib->peers = p;
	return p;
}

/*
 * After the (unsynced) commit: what in's sender may be told.  Records
 * whose commit must be synced (or that follow such, for acks are
 * cumulative) are acknowledged by inbox_sync(); verdicts go at once, with
 * the ack of what is safe so far.  Builds that ack in *ack and returns
 * whether to send it now.
 */
static int
ack_lazily(struct inbox *ib, const struct inmsg *in, int durable,
    struct buf *ack)
{
	struct peer_ack *p = peer_find(ib, in->sender);

	memcpy(p->peer, in->peer, sizeof(p->peer));	/* the same size */
	if (in->gap) {
		/* Nothing of it applied by us yet: the store's is synced. */
		if (p->applied == 0)
			p->applied = p->acked = in->last;
	} else {
		if (in->last > p->applied)
			p->applied = in->last;
		if (durable)
			p->waiting = 1;
	}
	if (!p->waiting)
		p->acked = p->applied;
	else if (ib->unsynced_since_ms == 0)
		ib->unsynced_since_ms = mono_ms();
	build_ack(ack, ib->ops->reply ? MSG_REPLY : MSG_ACK, ib->self,
	    p->acked, in->nverdicts, &in->verdicts);
	/* A resend is answered at once: its sender missed an ack. */
	return ib->ops->reply || in->nverdicts > 0 || in->gap || !p->waiting;
}

static void
apply_batch(struct inbox *ib, struct inmsg *msgs, int n)
{
	struct store_txn *txn;
	struct buf ack;
	int i, durable = 0, rc;

	if ((rc = store_begin(ib->store, 1, &txn)) != STORE_OK)
		return;
	for (i = 0; i < n && rc == STORE_OK; i++)
		if (apply_message(txn, ib->db, ib->dead_db, ib->ops, ib->arg,
		    &msgs[i], &durable) == -1)
			rc = STORE_ERROR;
	if (rc == STORE_OK && ib->ops->settle &&
	    ib->ops->settle(ib->arg, txn) == -1)
		rc = STORE_ERROR;
	if (rc == STORE_OK)
		rc = store_commit(txn, 0);	/* inbox_sync() syncs */
	else {
		store_abort(txn);
		if (ib->ops->settle)
			ib->ops->settle(ib->arg, NULL);
	}
	if (rc != STORE_OK) {
		if (ib->ob)
			outbox_aborted(ib->ob);
		log_error("event=apply result=failed messages=%d", n);
		return;
	}
	if (ib->ob)
		outbox_committed(ib->ob);
	buf_init(&ack);
	for (i = 0; i < n; i++)
		if (msgs[i].valid && ack_lazily(ib, &msgs[i], durable, &ack) &&
		    bus_send(ib->router, msgs[i].peer, ack.data, ack.len) == -1)
			log_debug("event=ack result=unsent peer=%s",
			    msgs[i].peer);
	buf_free(&ack);
}

struct inbox *
inbox_open(struct store *store, int senders_db, int dead_db,
    struct bus_sock *router, const char *self, const struct inbox_ops *ops,
    void *arg, struct outbox *ob, int64_t sync_ms)
{
	struct inbox *ib = xcalloc(1, sizeof(*ib));

	ib->store = store;
	ib->db = senders_db;
	ib->dead_db = dead_db;
	ib->router = router;
	ib->self = xstrdup(self);
	ib->ops = ops;
	ib->arg = arg;
	ib->ob = ob;
	ib->sync_ms = sync_ms;
	/* What is in the store is durable before anything is acked. */
	if (ob != NULL)
		outbox_send_after_sync(ob);
	else
		store_sync(store);
	return ib;
}

void
inbox_close(struct inbox *ib)
{
	struct peer_ack *p;

	if (ib == NULL)
		return;
	inbox_sync(ib);
	while ((p = ib->peers) != NULL) {
		ib->peers = p->next;
		free(p);
	}
	free(ib->self);
	free(ib);
}

int64_t
inbox_sync_ms(const struct inbox *ib)
{
	int64_t since = ib->unsynced_since_ms, left;

	if (ib->ob && outbox_unsynced_since(ib->ob) != 0 &&
	    (since == 0 || outbox_unsynced_since(ib->ob) < since))
		since = outbox_unsynced_since(ib->ob);
	if (since == 0)
		return -1;
	left = since + ib->sync_ms - mono_ms();
	return left > 0 ? left : 0;
}

void
inbox_sync(struct inbox *ib)
{
	struct peer_ack *p;
	struct buf ack;

	if (inbox_sync_ms(ib) < 0)
		return;
	store_sync(ib->store);
	ib->unsynced_since_ms = 0;
	if (ib->ob)
		outbox_synced(ib->ob);
	buf_init(&ack);
	for (p = ib->peers; p; p = p->next) {
		if (!p->waiting)
			continue;
		p->waiting = 0;
		p->acked = p->applied;
		build_ack(&ack, MSG_ACK, ib->self, p->acked, 0, NULL);
		if (bus_send(ib->router, p->peer, ack.data, ack.len) == -1)
			log_debug("event=ack result=unsent peer=%s", p->peer);
	}
	buf_free(&ack);
}

void
inbox_serve(struct inbox *ib)
{
	struct inmsg msgs[INBOX_BATCH_MSGS];
	int n = 0, i, max = ib->ops->max_msgs;

	if (max <= 0 || max > INBOX_BATCH_MSGS)
		max = INBOX_BATCH_MSGS;
	memset(msgs, 0, sizeof(msgs));
	while (n < max) {
		buf_init(&msgs[n].data);
		buf_init(&msgs[n].verdicts);
		if (bus_recv(ib->router, msgs[n].peer, &msgs[n].data) != 1) {
			buf_free(&msgs[n].data);
			buf_free(&msgs[n].verdicts);
			break;
		}
		n++;
	}
	if (n > 0)
		apply_batch(ib, msgs, n);
	for (i = 0; i < n; i++) {
		buf_free(&msgs[i].data);
		buf_free(&msgs[i].verdicts);
	}
}
