/*
 * The layout of the firer's attempt log, shared by the firer (writer)
 * and logview (reader).  Both live in the firer's LMDB environment
 * (DATA-DIR/firer-N):
 *
 *   "log"        key: time_ms (be64) | seq (be64)        value: attempt
 *   "log_tx"     key: transaction_id (32) | time_ms | seq value: empty
 *   "schedule"   key: due_ms (be64) | postback_id (32)   value: the hash
 *                of the delivery's host (be64; 0 or empty: unknown)
 *   "deliveries" key: postback_id                        value: delivery
 *
 * seq makes keys unique when several attempts share a millisecond; the
 * log is therefore in time order, and "log_tx" finds a transaction's
 * attempts with one seek.
 */
#ifndef POSTLINE_LOGDB_H
#define POSTLINE_LOGDB_H

#include <stdint.h>
#include <string.h>

#include "record.h"
#include "wire.h"

#define LOGDB_LOG	"log"
#define LOGDB_LOG_TX	"log_tx"
#define LOGDB_SCHEDULE	"schedule"
#define LOGDB_DELIVERIES "deliveries"
#define LOGDB_KEY_LEN	16
#define LOGDB_TX_KEY_LEN (RECORD_ID_MAX + LOGDB_KEY_LEN)
#define LOGDB_SCHED_KEY_LEN (8 + RECORD_ID_MAX)

static inline void
logdb_key(unsigned char *key, int64_t time_ms, uint64_t seq)
{
	wire_be64_put(key, (uint64_t)time_ms);
	wire_be64_put(key + 8, seq);
}

/* txid is padded with NULs to RECORD_ID_MAX bytes. */
static inline void
logdb_tx_key(unsigned char *key, const char *txid, int64_t time_ms,
    uint64_t seq)
{
	size_t n = strlen(txid);

	memset(key, 0, RECORD_ID_MAX);
	memcpy(key, txid, n < RECORD_ID_MAX ? n : RECORD_ID_MAX);
	logdb_key(key + RECORD_ID_MAX, time_ms, seq);
}

#endif
