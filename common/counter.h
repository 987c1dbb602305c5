/*
 * The report counters: the layout shared by the matcher (writer) and
 * report (reader), in the matcher's LMDB environment (DATA-DIR/matcher-N):
 *
 *   "counts"       key: hour (be32) | offer \0 publisher \0 sub_id \0
 *                       source \0 currency \0 event \0
 *                  value: counter_put()
 *   "counts_offer" the same, with publisher, sub_id and source empty:
 *                  what the reports by time and offer read
 *   "unique"       the log of the matcher's unique-click index, which
 *                  is in memory: a record per transaction with clicks.
 *                  key: latest click time (be64 ms) | sequence (be64)
 *                  value: time (be64 ms) | hash (be64) of offer, click
 *                  IP, User-Agent, for each click
 *   "conversions_at" key: first received (be64 ms) | the conversion's
 *                  key in "conversions"; value: empty.  report
 *                  --conversions reads it for the time order.
 *
 * hour counts hours since 1970 (UTC).  A click or impression counts in
 * the hour it was made; a conversion or event in the hour it was first
 * received, whatever its status later; the event is empty for base
 * conversions, clicks and impressions.  Amounts are exact: integers of
 * 10^-9 units.  See report(1).
 */
#ifndef POSTLINE_COUNTER_H
#define POSTLINE_COUNTER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define COUNTER_DB		"counts"
#define COUNTER_OFFER_DB	"counts_offer"
#define COUNTER_UNIQUE_DB	"unique"
#define COUNTER_CONVERSIONS_AT_DB "conversions_at"
#define COUNTER_FIELD_MAX	64	/* bytes of a key field kept */
#define COUNTER_SCALE		1000000000LL	/* amount units per 1 */
#define HOUR_MS			(3600LL * 1000)

/* What the matcher notes in its records for report(1). */
#define COUNTER_ATTR_DUPLICATE	"_duplicate"	/* a click: "1" if not unique */
#define COUNTER_ATTR_RECEIVED	"_received"	/* a conversion: first time */

__extension__ typedef __int128 amount_t;

enum counter_dim {
	DIM_OFFER,
	DIM_PUBLISHER,
	DIM_SUB_ID,
	DIM_SOURCE,
	DIM_CURRENCY,
	DIM_EVENT,
	DIM_END
};

enum counter_count {
	COUNT_IMPRESSIONS,
	COUNT_CLICKS,
	COUNT_UNIQUE,
	COUNT_APPROVED,
	COUNT_PENDING,
	COUNT_REJECTED,
	COUNT_INVALID,
	COUNT_END
};

struct counts {
	int64_t		 n[COUNT_END];
	amount_t	 revenue;	/* of approved conversions and events */
	amount_t	 payout;
};

/* Cut s in place as a key field is cut (a filter value to compare). */
void	counter_cut(char *s);
/* The key of hour and dims (NULL: empty), fields cut to FIELD_MAX. */
void	counter_key(struct buf *, int64_t hour, const char *const *dims);
/* Split a key in place into its hour and dims; -1 if it is not one. */
int	counter_key_parse(const void *, size_t, int64_t *hour,
	    const char **dims);
void	counter_put(struct buf *, const struct counts *);
/* -1 if the value is not a counter of this version. */
int	counter_get(const void *, size_t, struct counts *);
void	counts_add(struct counts *, const struct counts *);
int	counts_zero(const struct counts *);

uint64_t counter_unique_hash(const char *offer, const char *ip,
	    const char *user_agent);

/*
 * "12.50" into units of 10^-9; digits past the ninth decimal are
 * dropped.  -1 if s is not an amount (as ingest checks them: at most 18
 * digits in all).
 */
int	amount_parse(const char *s, amount_t *);
/* With decimals places, rounded half away from zero; returns dst. */
char	*amount_format(char *dst, size_t size, amount_t, int decimals);

#endif
