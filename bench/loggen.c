/*
 * loggen: fills a firer's attempt log for the logview benchmark.  Writes
 * N attempts, spread evenly over the DAYS days before now, into the "log"
 * and "log_tx" databases of DIR (and creates an empty "schedule" and
 * "deliveries"), with the project's own record encoder and key layout
 * (common/logdb.h), so that logview reads it as a real firer's log.
 * Rows: 95% ok 200, 4% retry 503, 1% failed 404; 100 publishers, 5 offers,
 * 3 rules; one transaction per row.  Prints one JSON line with the rows
 * written, the seconds taken and a few transaction ids to look up.
 *
 *   loggen DIR N DAYS
 *
 * Built by bench/run:  cc -O2 -Icommon bench/loggen.c
 *   build-bench/lib{record,txid,wire,log,util}.a -llmdb
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logdb.h"
#include "record.h"
#include "txid.h"

#define BATCH	20000
#define NPICK	5

static void
check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "loggen: %s: %s\n", what, mdb_strerror(rc));
		exit(2);
	}
}

static void
fill(struct attempt *a, long i, int64_t t, char *txid, char *url,
    size_t urlsize)
{
	static const char *const rules[] = { "affiliate", "crm", "fraud" };
	static char offer[16], publisher[16];
	int r = (int)(i % 100);

	a->time_ms = t;
	txid_generate(a->postback_id, 0, t);
	txid_generate(txid, 0, t - 1000);
	a->attempt = r < 95 ? 1 : 2;
	a->result = r < 95 ? ATTEMPT_OK : r < 99 ? ATTEMPT_RETRY :
	    ATTEMPT_FAILED;
	a->http_status = r < 95 ? 200 : r < 99 ? 503 : 404;
	a->latency_ms = (uint32_t)(20 + i % 180);
	a->type = EVENT_CONVERSION;
	a->rule = (char *)(uintptr_t)rules[i % 3];
	snprintf(offer, sizeof(offer), "offer%ld", i % 5);
	snprintf(publisher, sizeof(publisher), "pub%ld", (i / 7) % 100);
	a->offer_id = offer;
	a->publisher = publisher;
	a->txid = txid;
	snprintf(url, urlsize, "https://affiliate%ld.example/postback?"
	    "click=%s&payout=2.50&sub=s%ld", i % 50, txid, i % 1000);
	a->url = url;
	a->error = (char *)(uintptr_t)(r < 95 ? "OK" : r < 99 ?
	    "<html><body>Service Unavailable</body></html>" : "not found");
}

int
main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi log, logtx, dbi;
	MDB_val k, v, e = { 0, "" };
	struct attempt a;
	struct buf b;
	struct timespec ts;
	unsigned char key[LOGDB_KEY_LEN], txkey[LOGDB_TX_KEY_LEN];
	char txid[TXID_LEN + 1], url[256], picks[NPICK][TXID_LEN + 1];
	long n, days, i;
	int64_t end, step;
	double t0;
	int p;

	if (argc != 4 || (n = atol(argv[2])) <= 0 || (days = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: loggen dir n days\n");
		return 2;
	}
	check(mdb_env_create(&env), "env_create");
	check(mdb_env_set_mapsize(env, (size_t)64 << 30), "set_mapsize");
	check(mdb_env_set_maxdbs(env, 16), "set_maxdbs");
	check(mdb_env_open(env, argv[1], MDB_NOSYNC, 0660), "env_open");
	check(mdb_txn_begin(env, NULL, 0, &txn), "txn_begin");
	check(mdb_dbi_open(txn, LOGDB_LOG, MDB_CREATE, &log), "dbi_open");
	check(mdb_dbi_open(txn, LOGDB_LOG_TX, MDB_CREATE, &logtx), "dbi_open");
	check(mdb_dbi_open(txn, LOGDB_SCHEDULE, MDB_CREATE, &dbi), "dbi_open");
	check(mdb_dbi_open(txn, LOGDB_DELIVERIES, MDB_CREATE, &dbi), "dbi_open");
	check(mdb_txn_commit(txn), "commit");
	clock_gettime(CLOCK_REALTIME, &ts);
	end = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	step = days * 86400000 / n;
	if (step < 1)
		step = 1;
	buf_init(&b);
	t0 = mono_seconds();
	for (i = 0; i < n; i++) {
		int64_t t = end - (n - i) * step;

		if (i % BATCH == 0)
			check(mdb_txn_begin(env, NULL, 0, &txn), "txn_begin");
		attempt_init(&a);
		fill(&a, i, t, txid, url, sizeof(url));
		buf_reset(&b);
		record_put_attempt(&b, &a);
		logdb_key(key, t, (uint64_t)i + 1);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		v.mv_size = b.len;
		v.mv_data = b.data;
		check(mdb_put(txn, log, &k, &v, MDB_APPEND), "put log");
		logdb_tx_key(txkey, txid, t, (uint64_t)i + 1);
		k.mv_size = sizeof(txkey);
		k.mv_data = txkey;
		check(mdb_put(txn, logtx, &k, &e, 0), "put log_tx");
		p = (int)(i / ((n + NPICK - 1) / NPICK));
		if (i % ((n + NPICK - 1) / NPICK) == n / NPICK / 2 && p < NPICK)
			memcpy(picks[p], txid, sizeof(txid));
		if (i % BATCH == BATCH - 1 || i == n - 1)
			check(mdb_txn_commit(txn), "commit");
	}
	check(mdb_env_sync(env, 1), "sync");
	mdb_env_close(env);
	buf_free(&b);
	printf("{\"rows\":%ld,\"seconds\":%.2f,\"first_ms\":%lld,"
	    "\"last_ms\":%lld,\"transactions\":[", n, mono_seconds() - t0,
	    (long long)(end - n * step), (long long)(end - step));
	for (p = 0; p < NPICK && p < n; p++)
		printf("%s\"%s\"", p ? "," : "", picks[p]);
	printf("]}\n");
	return 0;
}
