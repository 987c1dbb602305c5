/*
 * The inbound postback rows in a store: written with their index entry,
 * pruned by retention, the oldest dropped past a cap.  See inbound.h.
 */
#include <string.h>

#include "inbound.h"

int
inbound_store(struct store_txn *txn, int rows, int tx,
    const unsigned char key[INBOUND_KEY_LEN], const struct buf *rec,
    const char *txid)
{
	struct buf txkey;
	int rc;

	rc = store_put(txn, rows, key, INBOUND_KEY_LEN, rec->data, rec->len);
	if (rc == STORE_OK && txid != NULL && *txid != '\0') {
		buf_init(&txkey);
		inbound_tx_key(&txkey, txid, key);
		rc = store_put(txn, tx, txkey.data, txkey.len, "", 0);
		buf_free(&txkey);
	}
	return rc == STORE_OK ? 0 : -1;
}

/* The index entry of the row at k goes (the row itself: the caller). */
static int
drop_tx(struct store_txn *txn, int tx, const struct store_val *k,
    const struct store_val *val)
{
	struct inbound_row row;
	struct buf txkey;
	int rc = STORE_OK;

	if (k->len != INBOUND_KEY_LEN ||
	    inbound_get(val->data, val->len, &row) == -1)
		return 0;	/* not a row of ours: it just goes */
	if (row.f[IN_TXID] != NULL) {
		buf_init(&txkey);
		inbound_tx_key(&txkey, row.f[IN_TXID], k->data);
		rc = store_del(txn, tx, txkey.data, txkey.len);
		buf_free(&txkey);
	}
	inbound_free(&row);
	return rc == STORE_OK || rc == STORE_NOTFOUND ? 0 : -1;
}

static int
drop_tx_of(void *arg, struct store_txn *txn, const struct store_val *k,
    const struct store_val *val)
{
	return drop_tx(txn, *(const int *)arg, k, val);
}

static int64_t
row_time_of(const struct store_val *k)
{
	return k->len != INBOUND_KEY_LEN ? INT64_MIN :
	    (int64_t)wire_be64_get(k->data);
}

int
inbound_prune(struct store_txn *txn, int rows, int tx,
    struct retain_slice *s)
{
	return retain_walk(txn, rows, s, row_time_of, drop_tx_of, &tx);
}

int
inbound_drop_oldest(struct store_txn *txn, int rows, int tx, uint64_t n)
{
	struct store_cursor *c;
	struct store_val k, v;
	int rc;

	if (store_cursor_open(txn, rows, &c) != STORE_OK)
		return -1;
	for (rc = store_cursor_seek(c, NULL, 0, &k, &v); rc == STORE_OK &&
	    n > 0; rc = store_cursor_seek(c, NULL, 0, &k, &v), n--) {
		if (drop_tx(txn, tx, &k, &v) == -1 ||
		    store_cursor_del(c) != STORE_OK) {
			rc = STORE_ERROR;
			break;
		}
	}
	store_cursor_close(c);
	return rc == STORE_ERROR ? -1 : 0;
}
