/*
 * The no-loss hand-off of postline(7), one hop: a transactional outbox on
 * the sending side and exactly-once application on the receiving side.
 *
 * Sender: records are appended to the outbox database in the caller's
 * write transaction, one contiguous sequence per destination; after the
 * commit, outbox_flush() sends unacknowledged records in batches (at most
 * a window ahead of the last ack) and resends from the last ack after a
 * timeout or reconnect.  An ack deletes what it covers.
 *
 *   outbox key: destination (be16) | seq (be64)   value: record
 *   meta key:   "next/" destination                value: next seq (be64)
 *   meta key:   "incarnation"                      value: 16 hex digits
 *
 * A batch: envelope (type, sender, first seq, count), u64 base (the
 * oldest unacknowledged seq), then count times u32 length | record.
 * An ack: envelope (MSG_ACK, receiver, highest seq applied, count), then
 * count verdict records; MSG_REPLY is the same, and answers one batch.
 *
 * Receiver: inbox_accept() tells which records of a batch are new, given
 * the highest sequence applied per sender (kept in the receiver's own
 * database and updated in the same transaction as the effects).  A batch
 * that starts past the next expected sequence is refused whole: ZeroMQ
 * may lose messages on a reconnect, and applying out of order would make
 * the lost ones look like duplicates when they are resent.
 */
#ifndef POSTLINE_HANDOFF_H
#define POSTLINE_HANDOFF_H

#include <stdint.h>

#include "bus.h"
#include "record.h"
#include "conf.h"
#include "store.h"
#include "wire.h"

struct outbox;

/* Called for each verdict an ack carries. */
typedef void (*outbox_verdict_fn)(void *arg, unsigned dest,
    struct wire_reader *);

/*
 * dbs: the outbox and meta databases of store.  One DEALER per endpoint,
 * identified as sender_id.  type: the message type of batches.
 */
struct outbox	*outbox_open(struct store *, int outbox_db, int meta_db,
		    struct bus *, const struct strlist *endpoints,
		    const char *sender_id, enum msg_type type);
void		 outbox_close(struct outbox *);
unsigned	 outbox_ndest(const struct outbox *);

/* Append a record for dest in the caller's write transaction. */
int		 outbox_add(struct outbox *, struct store_txn *, unsigned dest,
		    const void *record, size_t len, uint64_t *seq);
/* The caller's transaction was committed, or aborted. */
void		 outbox_committed(struct outbox *);
void		 outbox_aborted(struct outbox *);

/*
 * Send at most max (0: any number of) batches to a destination ahead of
 * its replies (MSG_REPLY: a receiver whose inbox_ops.reply is set answers
 * every batch at once): what comes meanwhile goes in the next, bigger
 * batch.  Under load that is fewer batches, each of which costs the
 * receiver a wake-up and a commit whatever its size; when idle nothing
 * waits.  A reply not come within give_up_ms is taken as lost (a
 * receiver that restarted, a batch it could not read): sending goes on.
 */
void		 outbox_limit_unanswered(struct outbox *, int max,
		    int64_t give_up_ms);
/* Send what is due; cheap to call often. */
void		 outbox_flush(struct outbox *);
/*
 * Send only records whose commit is synced (syncs the store once now);
 * outbox_synced() says a sync covered every commit so far, and
 * outbox_unsynced_since() when the oldest commit not synced was (0: none).
 */
void		 outbox_send_after_sync(struct outbox *);
void		 outbox_synced(struct outbox *);
int64_t		 outbox_unsynced_since(const struct outbox *);
/*
 * For a sync made by another thread: outbox_mark() notes what is
 * committed now, before that sync starts; outbox_synced_to_mark() says
 * the sync is done.
 */
void		 outbox_mark(struct outbox *);
void		 outbox_synced_to_mark(struct outbox *);
/* Read and apply acks from every destination socket. */
void		 outbox_read_acks(struct outbox *, outbox_verdict_fn, void *);
/* Bytes of the records in the outbox (the open transaction's too). */
uint64_t	 outbox_bytes(const struct outbox *);
/* Records written but not yet acknowledged, over all destinations. */
uint64_t	 outbox_pending(const struct outbox *);
uint64_t	 outbox_dest_pending(const struct outbox *, unsigned dest);
/*
 * Set the gauge name{label="N"} of each destination N to the records it
 * has not acknowledged (postline_ingest_outbox_pending{matcher="0"}).
 */
void		 outbox_gauge(const struct outbox *, const char *name,
		    const char *help, const char *label);
/* The sockets, for polling. */
int		 outbox_socks(struct outbox *, struct bus_sock **, int max);

/*
 * The sender id to use: name-instance/incarnation, where the incarnation
 * is random and kept in the meta database, so a wiped data directory
 * never reuses sequence numbers a receiver has seen.
 */
char		*handoff_sender_id(struct store *, int meta_db,
		    const char *name, int instance);

/*
 * Receiver side.  Given a batch (first, count) from sender, set *skip to
 * the number of leading records already applied and return 0, or return
 * -1 when the batch starts past the next expected sequence.  base is the
 * sender's oldest unacknowledged sequence: a sender never seen before
 * (the receiver's database is new) is taken up from there.
 */
int		 inbox_accept(struct store_txn *, int senders_db,
		    const char *sender, uint64_t base, uint64_t first,
		    uint32_t count, uint32_t *skip);
/*
 * How a receiver decodes and applies the records of one message type.
 * apply() works in the open write transaction, told the record's sender
 * and sequence (which name it for good: a resend has the same); it fills
 * the verdict (or leaves v->result 0 for none) and sets *durable when the
 * commit must be synced before the record is acknowledged.  It returns -1
 * to abort the whole transaction (nothing is then acknowledged, and the
 * senders send it all again).
 */
struct inbox_ops {
	enum msg_type	 type;
	size_t		 size;			/* of one decoded record */
	void		(*init)(void *);
	void		(*release)(void *);
	int		(*decode)(struct wire_reader *, void *);
	int		(*apply)(void *arg, struct store_txn *, void *record,
			    const char *sender, uint64_t seq,
			    struct verdict *, int *durable);
	int		 max_msgs;	/* per transaction (at most 16) */
	int		 reply;		/* answer every batch at once */
	/*
	 * If not NULL: the last writes of a transaction, after every
	 * apply() and before the commit (-1 aborts it); txn is NULL when
	 * the transaction was aborted instead, or its commit failed.
	 */
	int		(*settle)(void *arg, struct store_txn *);
	/* If not NULL: the transaction settled committed. */
	void		(*committed)(void *arg);
};

/*
 * The receiving end of one ROUTER socket.  inbox_serve() reads the
 * messages waiting on router, applies them in one transaction, commits,
 * then acknowledges each to its sender.  self is the receiver's id;
 * outbox, when not NULL, is told of the commit.  A message whose records
 * cannot be decoded is kept whole in dead_db (key: sender, 0, first seq
 * as be64) and acknowledged, so that one bad message never stops a
 * sender's stream.
 *
 * Group sync: every commit is unsynced; verdicts are sent at once with an
 * ack of only what is safe (records apply() did not mark durable, and
 * none after such), and inbox_sync(), due at most sync_ms (> 0) later,
 * syncs and then acknowledges the rest.  The outbox then sends only what
 * is synced, so that a record another process has seen is never lost
 * with a power cut (its sequence number would be reused for another).
 */
struct inbox;
struct inbox	*inbox_open(struct store *, int senders_db, int dead_db,
		    struct bus_sock *router, const char *self,
		    const struct inbox_ops *, void *arg, struct outbox *,
		    int64_t sync_ms);
void		 inbox_serve(struct inbox *);
/* When inbox_sync() is due: ms from now (0: now), -1 when nothing waits. */
int64_t		 inbox_sync_ms(const struct inbox *);
void		 inbox_sync(struct inbox *);
/* Syncs and acknowledges what waits first. */
void		 inbox_close(struct inbox *);
/* Record that sender's records up to last are applied. */
int		 inbox_applied(struct store_txn *, int senders_db,
		    const char *sender, uint64_t last);
/* The highest sequence applied for sender (0: none). */
uint64_t	 inbox_last(struct store_txn *, int senders_db,
		    const char *sender);

/* handoff.c: a sequence as a stored value (1 found, 0 not; 0 or -1). */
int		 handoff_get_seq(struct store_txn *, int db, const char *key,
		    uint64_t *);
int		 handoff_put_seq(struct store_txn *, int db, const char *key,
		    uint64_t);

#endif
