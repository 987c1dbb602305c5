/*
 * The inbound postback record: one row per conversion-type request
 * received (/postback, /pixel, /clickless, /reject), what
 * report --postbacks lists.  The layout shared by its writers and
 * report(1):
 *
 *   "postbacks"     key: received (be64 ms) | 16 bytes that make it
 *                   unique (the hit's sender and sequence number, or
 *                   the ingest's own); value: inbound_put()
 *   "postbacks_tx"  key: transaction_id | the row's key; value: empty
 *
 * A matcher keeps the rows of the hits it decided, written in the
 * transaction of the verdict; a hit held for its click has a row
 * "accepted" that the verdict overwrites.  An ingest keeps the rows of
 * the requests it refused (result "error").  Both are pruned by
 * retention postbacks.  The secure token is never in a row: query shows
 * it as ***.
 */
#ifndef POSTLINE_INBOUND_H
#define POSTLINE_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "retain.h"
#include "store.h"
#include "util.h"
#include "wire.h"

#define INBOUND_DB		"postbacks"
#define INBOUND_TX_DB		"postbacks_tx"
#define INBOUND_KEY_LEN		24
#define INBOUND_FIELD_MAX	2048	/* bytes of a value kept */
#define INBOUND_QUERY_MAX	8192	/* bytes of the query kept */
/* How long ingest waits for a verdict before it answers 202. */
#define INBOUND_VERDICT_WAIT_MS	2000
/* A /reject's address, in its hit only for its row (not its event). */
#define INBOUND_ATTR_IP		"_ip"
/* A row's result, besides the verdicts of record.h. */
#define INBOUND_ERROR		100	/* refused by ingest */

enum inbound_field {
	IN_REASON,
	IN_TXID,
	IN_OFFER,
	IN_PUBLISHER,
	IN_EVENT,
	IN_STATUS,
	IN_ORDER,
	IN_IP,
	IN_QUERY,
	IN_SUB_ID,	/* the click's, or as named: for --sub-id */
	IN_END
};

struct inbound_row {
	int64_t		 time_ms;	/* received by ingest (the key's) */
	int64_t		 decided_ms;	/* the verdict; 0: none yet */
	uint16_t	 http_status;	/* ingest's answer; 0: derived */
	uint8_t		 kind;		/* HIT_POSTBACK ... HIT_REJECT */
	uint8_t		 result;	/* VERDICT_* or INBOUND_ERROR */
	char		*f[IN_END];	/* NULL: none */
};

void	inbound_init(struct inbound_row *);
void	inbound_free(struct inbound_row *);
/* Set a field to a copy of v cut to its maximum (NULL: none). */
void	inbound_set(struct inbound_row *, enum inbound_field, const char *v);
void	inbound_put(struct buf *, const struct inbound_row *);
/* -1 if the value is not a row of this version. */
int	inbound_get(const void *, size_t, struct inbound_row *);

void	inbound_key(unsigned char key[INBOUND_KEY_LEN], int64_t time_ms,
	    uint64_t who, uint64_t seq);
/* The index entry of a row: txid | key. */
void	inbound_tx_key(struct buf *, const char *txid,
	    const unsigned char key[INBOUND_KEY_LEN]);

/*
 * In the databases rows and tx of the open write transaction: store a
 * row as inbound_put() encoded it (and its index entry under txid, if
 * any); remove rows made before the slice's cutoff (a retain.h prune);
 * remove the n oldest rows.
 */
int	inbound_store(struct store_txn *, int rows, int tx,
	    const unsigned char key[INBOUND_KEY_LEN], const struct buf *rec,
	    const char *txid);
int	inbound_prune(struct store_txn *, int rows, int tx,
	    struct retain_slice *);
int	inbound_drop_oldest(struct store_txn *, int rows, int tx, uint64_t n);

/* "path" of a row: /postback, /pixel, /clickless, /reject. */
const char *inbound_path(int kind);
/* The result's word: approved, pending, rejected, accepted, error. */
const char *inbound_result_name(int result);
int	inbound_result_parse(const char *);
/*
 * The status ingest answered: as recorded for a refusal; for a hit the
 * matcher decided, 200 with the verdict if it came within ingest's wait,
 * else 202 (a pixel: always 200).
 */
int	inbound_http_status(const struct inbound_row *);
/*
 * Add name=value to a query, both percent-encoded (so a row holds no
 * control character, tab or newline); secret: the value shown as ***.
 */
void	inbound_query_add(struct buf *, const char *name, const char *value,
	    int secret);

#endif
