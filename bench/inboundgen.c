/*
 * inboundgen: fills a matcher's inbound postback rows for the postbacks
 * benchmark.  Writes N rows, spread evenly over the DAYS days before
 * now, into the "postbacks" and "postbacks_tx" databases of DIR, with
 * the project's own row encoder and key layout (common/inbound.h), so
 * that report --postbacks reads them as a real matcher's.  Rows: 90%
 * approved, 5% rejected duplicate, 5% rejected unknown_click; 20 offers;
 * one transaction per row.  Prints one JSON line with the rows written,
 * the seconds taken and a few transaction ids to look up.
 *
 *   inboundgen DIR N DAYS
 *
 * Built by bench/run:  cc -O2 -Icommon bench/inboundgen.c
 *   build-bench/lib{inbound,record,tmpl,txid,wire,util}.a -llmdb
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inbound.h"
#include "record.h"
#include "txid.h"

#define BATCH	20000
#define NPICK	5

static void
check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "inboundgen: %s: %s\n", what,
		    mdb_strerror(rc));
		exit(2);
	}
}

static void
fill(struct inbound_row *r, long i, int64_t t, const char *txid)
{
	char offer[16], query[160];
	int k = (int)(i % 100);

	inbound_init(r);
	r->time_ms = t;
	r->decided_ms = t + 3;
	r->kind = HIT_POSTBACK;
	r->result = k < 90 ? VERDICT_APPROVED : VERDICT_REJECTED;
	snprintf(offer, sizeof(offer), "offer%ld", i % 20);
	snprintf(query, sizeof(query), "secure=***&transaction_id=%s&"
	    "payout=2.50&order_id=o%ld&conversion_ip=203.0.113.%ld", txid, i,
	    i % 250);
	inbound_set(r, IN_REASON, k < 90 ? NULL : k < 95 ? "duplicate" :
	    "unknown_click");
	inbound_set(r, IN_TXID, txid);
	inbound_set(r, IN_OFFER, offer);
	inbound_set(r, IN_IP, "203.0.113.7");
	inbound_set(r, IN_QUERY, query);
}

int
main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi rows, tx;
	MDB_val k, v, e = { 0, "" };
	struct inbound_row r;
	struct buf b, txkey;
	struct timespec ts;
	unsigned char key[INBOUND_KEY_LEN];
	char txid[TXID_LEN + 1], picks[NPICK][TXID_LEN + 1];
	long n, days, i;
	int64_t end, step;
	double t0;
	int p;

	if (argc != 4 || (n = atol(argv[2])) <= 0 ||
	    (days = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: inboundgen dir n days\n");
		return 2;
	}
	check(mdb_env_create(&env), "env_create");
	check(mdb_env_set_mapsize(env, (size_t)64 << 30), "set_mapsize");
	check(mdb_env_set_maxdbs(env, 16), "set_maxdbs");
	check(mdb_env_open(env, argv[1], MDB_NOSYNC, 0660), "env_open");
	check(mdb_txn_begin(env, NULL, 0, &txn), "txn_begin");
	check(mdb_dbi_open(txn, INBOUND_DB, MDB_CREATE, &rows), "dbi_open");
	check(mdb_dbi_open(txn, INBOUND_TX_DB, MDB_CREATE, &tx), "dbi_open");
	check(mdb_txn_commit(txn), "commit");
	clock_gettime(CLOCK_REALTIME, &ts);
	end = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	step = days * 86400000 / n;
	if (step < 1)
		step = 1;
	buf_init(&b);
	buf_init(&txkey);
	t0 = mono_seconds();
	for (i = 0; i < n; i++) {
		int64_t t = end - (n - i) * step;

		if (i % BATCH == 0)
			check(mdb_txn_begin(env, NULL, 0, &txn), "txn_begin");
		txid_generate(txid, 0, t - 60000);
		fill(&r, i, t, txid);
		buf_reset(&b);
		inbound_put(&b, &r);
		inbound_free(&r);
		inbound_key(key, t, 1, (uint64_t)i + 1);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		v.mv_size = b.len;
		v.mv_data = b.data;
		check(mdb_put(txn, rows, &k, &v, MDB_APPEND), "put rows");
		inbound_tx_key(&txkey, txid, key);
		k.mv_size = txkey.len;
		k.mv_data = txkey.data;
		check(mdb_put(txn, tx, &k, &e, 0), "put tx");
		p = (int)(i / ((n + NPICK - 1) / NPICK));
		if (i % ((n + NPICK - 1) / NPICK) == n / NPICK / 2 && p < NPICK)
			memcpy(picks[p], txid, sizeof(txid));
		if (i % BATCH == BATCH - 1 || i == n - 1)
			check(mdb_txn_commit(txn), "commit");
	}
	check(mdb_env_sync(env, 1), "sync");
	mdb_env_close(env);
	buf_free(&b);
	buf_free(&txkey);
	printf("{\"rows\":%ld,\"seconds\":%.2f,\"transactions\":[", n,
	    mono_seconds() - t0);
	for (p = 0; p < NPICK && p < n; p++)
		printf("%s\"%s\"", p ? "," : "", picks[p]);
	printf("]}\n");
	return 0;
}
