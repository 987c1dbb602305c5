/* matcher: joins conversions to clicks.  See matcher(8). */
#ifndef POSTLINE_MATCHER_H
#define POSTLINE_MATCHER_H

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
	DB_IMPRESSIONS,		/* offer, publisher, day -> count */
	DB_HELD,		/* due (be64) | txid | seq -> hit */
	DB_HELD_TX,		/* txid | due | seq -> empty */
	DB_COUNT
};

struct matcher {
	struct daemon	*daemon;
	struct store	*store;
	struct outbox	*outbox;
	uint64_t	 held_seq;	/* makes held keys unique */
	char		 last_click[RECORD_ID_MAX + 1]; /* greatest key stored */
};

/* join.c */
void	join_init(struct matcher *);
/* Apply one hit in the open write transaction. */
int	join_hit(struct matcher *, struct store_txn *, const struct hit *,
	    struct verdict *, int *durable);
/*
 * Kinds of retention (retain.h): hits held for their click past matcher
 * grace (unknown_click), clicks and conversions past retention clicks.
 */
int	join_expire_held(void *, struct store_txn *, struct retain_slice *);
int	join_prune_clicks(void *, struct store_txn *, struct retain_slice *);
int	join_prune_conversions(void *, struct store_txn *,
	    struct retain_slice *);

#endif
