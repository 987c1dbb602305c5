/*
 * What both ends of the hand-off share (handoff.h): the sender id of an
 * instance, kept in its store, and sequence numbers as stored values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handoff.h"
#include "log.h"

/* Sequence values are stored as a record version and a be64. */
int
handoff_get_seq(struct store_txn *txn, int db, const char *key, uint64_t *seq)
{
	struct store_val v;

	if (store_get(txn, db, key, strlen(key), &v) != STORE_OK ||
	    v.len != 9 || ((const unsigned char *)v.data)[0] != RECORD_VERSION)
		return 0;
	*seq = wire_be64_get((const unsigned char *)v.data + 1);
	return 1;
}

int
handoff_put_seq(struct store_txn *txn, int db, const char *key, uint64_t seq)
{
	unsigned char v[9];

	v[0] = RECORD_VERSION;
	wire_be64_put(v + 1, seq);
	return store_put(txn, db, key, strlen(key), v, sizeof(v));
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
