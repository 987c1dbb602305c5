/* matcher: joins conversions to clicks.  See matcher(8). */
#ifndef POSTLINE_MATCHER_H
#define POSTLINE_MATCHER_H

#include "counter.h"
#include "daemon.h"
#include "handoff.h"
#include "record.h"
#include "retain.h"
#include "store.h"

enum {
	DB_CLICKS,		/* transaction_id -> click hit */
	DB_CONVERSIONS,		/* conversion key -> event (its state) */
	DB_SENDERS,		/* sender id -> highest seq applied */
	DB_OUTBOX,		/* events for the firers */
	DB_META,
	DB_DEAD,		/* messages that could not be decoded */
	DB_HELD,		/* due (be64) | txid | seq -> hit */
	DB_HELD_TX,		/* txid | due | seq -> empty */
	DB_COUNTS,		/* report counters: see counter.h */
	DB_COUNTS_OFFER,
	DB_UNIQUE,		/* latest (be64) | seq (be64) -> clicks */
	DB_CONVERSIONS_AT,	/* received | conversion key -> empty */
	DB_POSTBACKS,		/* the inbound postback rows: inbound.h */
	DB_POSTBACKS_TX,
	DB_COUNT
};

struct matcher {
	struct daemon	*daemon;
	struct store	*store;
	struct outbox	*outbox;
	uint64_t	 held_seq;	/* makes held keys unique */
	char		 last_click[RECORD_ID_MAX + 1]; /* greatest key stored */
	int		 recorded;	/* the hit applied made a conversion */
	struct tally	*tally;		/* counter changes not yet written */
	struct unique	*unique;	/* the unique-click index: unique.c */
	int64_t		 unique_keep_ms; /* the longest unique-window */
	uint64_t	 unique_seq;	/* of the index's next log record */
};

/* join.c */
void	join_init(struct matcher *);
/* Apply one hit in the open write transaction. */
int	join_hit(struct matcher *, struct store_txn *, struct hit *,
	    struct verdict *, int *durable);
/*
 * Kinds of retention (retain.h): hits held for their click past matcher
 * grace (unknown_click), clicks and conversions past retention clicks.
 */
int	join_expire_held(void *, struct store_txn *, struct retain_slice *);
int	join_prune_clicks(void *, struct store_txn *, struct retain_slice *);
int	join_prune_conversions(void *, struct store_txn *,
	    struct retain_slice *);
int	join_prune_conversions_at(void *, struct store_txn *,
	    struct retain_slice *);

/*
 * count.c: the report counters.  count_*() add up the changes of the
 * open write transaction; count_flush() writes them into it, before it
 * commits; count_committed() says it did, count_discard() that it did
 * not (its changes are forgotten, the unique-click index's undone).  A
 * click not unique is marked so (COUNTER_ATTR_DUPLICATE) before it is
 * stored.  A conversion or event goes from status from (0: new) to to.
 */
struct tally	*count_tally_new(void);
void	count_tally_free(struct tally *);
int	count_flush(struct matcher *, struct store_txn *);
void	count_committed(struct matcher *);
void	count_discard(struct matcher *);
/* At start and after a reload: the longest unique-window. */
void	count_configure(struct matcher *);
/* At start: the unique-click index made from its log (-1: it cannot). */
int	count_load_unique(struct matcher *);
void	count_impression(struct matcher *, const struct hit *);
void	count_click(struct matcher *, struct hit *);
void	count_conversion(struct matcher *, const struct event *, int from,
	    int to);
void	count_invalid(struct matcher *, const struct hit *,
	    const struct hit *origin);
/* When a conversion was first received (it counts in that hour). */
int64_t	count_received_ms(const struct event *);
/* Kinds of retention: counter rows (arg: the database), the index's log. */
int	count_prune(void *, struct store_txn *, struct retain_slice *);
int	count_prune_unique(void *, struct store_txn *,
	    struct retain_slice *);

/*
 * unique.c: the unique-click index in memory, by hash of offer, click IP
 * and User-Agent: the time of its last click (INT64_MIN: none).
 * unique_note() gives the time an entry had and keeps the later of it
 * and t; what it replaced is kept until unique_keep() (the transaction
 * committed) or unique_undo() (it did not).  Entries older than
 * stale_before may be dropped when the table grows.
 */
struct unique	*unique_new(void);
void	unique_free(struct unique *);
int64_t	unique_last(const struct unique *, uint64_t hash);
/* Its slot is read soon: the CPU may fetch it meanwhile. */
void	unique_prefetch(const struct unique *, uint64_t hash);
int64_t	unique_note(struct unique *, uint64_t hash, int64_t t,
	    int64_t stale_before);
void	unique_keep(struct unique *);
void	unique_undo(struct unique *);
size_t	unique_entries(const struct unique *);
size_t	unique_bytes(const struct unique *);

/*
 * postbacks.c: the rows of report --postbacks (inbound.h).  A
 * conversion-type hit is marked with its row's key (sender, sequence)
 * before it is applied; its row is written, in the verdict's
 * transaction, with click the transaction's origin if known.
 */
#define POSTBACKS_ATTR_ROW	"_row"
#define POSTBACKS_ATTR_HELD	"_held"	/* it was held: answered 202 */
void	postbacks_mark(struct hit *, const char *sender, uint64_t seq);
int	postbacks_note(struct matcher *, struct store_txn *,
	    const struct hit *, const struct hit *click,
	    const struct verdict *);
int	postbacks_prune(void *, struct store_txn *, struct retain_slice *);

#endif
