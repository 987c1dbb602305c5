/*
 * The receiving end of the hand-off (handoff.h): each message applied
 * once, in the receiver's transaction, with the highest sequence applied
 * per sender; acknowledged when safe; undecodable ones kept as dead
 * letters.  Used by the matcher and the firer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handoff.h"
#include "log.h"

uint64_t
inbox_last(struct store_txn *txn, int db, const char *sender)
{
	uint64_t last;

	return handoff_get_seq(txn, db, sender, &last) ? last : 0;
}

int
inbox_accept(struct store_txn *txn, int db, const char *sender,
    uint64_t base, uint64_t first, uint32_t count, uint32_t *skip)
{
	uint64_t last;

	if (!handoff_get_seq(txn, db, sender, &last))
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
	return handoff_put_seq(txn, db, sender, last) == STORE_OK ? 0 : -1;
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
	else
		store_abort(txn);
	if (rc != STORE_OK && ib->ops->settle)
		ib->ops->settle(ib->arg, NULL);
	else if (rc == STORE_OK && ib->ops->committed)
		ib->ops->committed(ib->arg);
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
