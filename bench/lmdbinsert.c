/*
 * lmdbinsert: the reference for the matcher's store rate.  Raw LMDB
 * inserts of click-sized records in batches.  MODE is how commits reach
 * the disk, as in common/store.c:
 *   nosync      MDB_NOSYNC, and mdb_env_sync() once a second and at the
 *               end (inside the timing)
 *   nometasync  MDB_NOMETASYNC: every commit writes its pages with
 *               fdatasync, the meta page waits for the next sync
 * Keys are 32 characters of [0-9a-z] that start with the time in
 * milliseconds, like a transaction_id, so inserts are nearly sequential.
 * Prints one JSON line: {"records":N,"batch":B,"mode":M,"seconds":S,
 * "rate":R,"bytes_per_record":X}.
 *
 *   lmdbinsert DIR N [BATCH [VALUE_BYTES [MODE]]]
 *                                   (defaults 1000, 256, nometasync)
 *
 * DIR must exist and be empty.  Built by bench/run with the system
 * compiler:  cc -O2 bench/lmdbinsert.c -llmdb -o build-bench/lmdbinsert
 */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define KEY_LEN	32

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
rnd(uint64_t *s)
{
	/* xorshift64*: fast, and good enough for key material here. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* 9 base-36 digits of milliseconds, then random base-36 digits. */
static void
make_key(char *k, uint64_t ms, uint64_t *seed)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	int i;

	for (i = 8; i >= 0; i--) {
		k[i] = digits[ms % 36];
		ms /= 36;
	}
	for (i = 9; i < KEY_LEN; i++)
		k[i] = digits[rnd(seed) % 36];
}

static void
check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "lmdbinsert: %s: %s\n", what, mdb_strerror(rc));
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	struct timespec ts;
	struct stat st;
	char key[KEY_LEN], *val, path[4096];
	long n, batch, vlen, i, j;
	uint64_t seed = 88172645463325252ULL, ms;
	double t0, t1, last_sync;
	const char *mode = argc > 5 ? argv[5] : "nometasync";
	int nosync;

	if (argc < 3 || argc > 6) {
		fprintf(stderr, "usage: lmdbinsert dir n [batch [value_bytes "
		    "[nosync|nometasync]]]\n");
		return 2;
	}
	if (strcmp(mode, "nosync") == 0)
		nosync = 1;
	else if (strcmp(mode, "nometasync") == 0)
		nosync = 0;
	else {
		fprintf(stderr, "lmdbinsert: bad mode %s\n", mode);
		return 2;
	}
	n = atol(argv[2]);
	batch = argc > 3 ? atol(argv[3]) : 1000;
	vlen = argc > 4 ? atol(argv[4]) : 256;
	if (n <= 0 || batch <= 0 || vlen <= 0) {
		fprintf(stderr, "lmdbinsert: bad count\n");
		return 2;
	}
	if ((val = malloc(vlen)) == NULL)
		return 2;
	for (i = 0; i < vlen; i++)
		val[i] = "abcdefghijklmnopqrstuvwxyz0123456789=&"[i % 38];
	check(mdb_env_create(&env), "env_create");
	check(mdb_env_set_mapsize(env, (size_t)16 << 30), "set_mapsize");
	check(mdb_env_set_maxdbs(env, 4), "set_maxdbs");
	check(mdb_env_open(env, argv[1], nosync ? MDB_NOSYNC : MDB_NOMETASYNC,
	    0660), "env_open");
	check(mdb_txn_begin(env, NULL, 0, &txn), "txn_begin");
	check(mdb_dbi_open(txn, "clicks", MDB_CREATE, &dbi), "dbi_open");
	check(mdb_txn_commit(txn), "commit");
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	t0 = last_sync = now();
	for (i = 0; i < n; i += batch) {
		check(mdb_txn_begin(env, NULL, 0, &txn), "txn_begin");
		for (j = i; j < n && j < i + batch; j++) {
			/* About 50 records per millisecond, as at 50k clicks/s. */
			make_key(key, ms + j / 50, &seed);
			memcpy(val, key, KEY_LEN < vlen ? KEY_LEN : vlen);
			k.mv_size = KEY_LEN;
			k.mv_data = key;
			v.mv_size = vlen;
			v.mv_data = val;
			check(mdb_put(txn, dbi, &k, &v, 0), "put");
		}
		check(mdb_txn_commit(txn), "commit");
		if (nosync && now() - last_sync >= 1.0) {
			check(mdb_env_sync(env, 1), "sync");
			last_sync = now();
		}
	}
	check(mdb_env_sync(env, 1), "sync");
	t1 = now();
	mdb_env_close(env);
	snprintf(path, sizeof(path), "%s/data.mdb", argv[1]);
	if (stat(path, &st) == -1)
		st.st_size = 0;
	printf("{\"records\":%ld,\"batch\":%ld,\"mode\":\"%s\","
	    "\"seconds\":%.4f,\"rate\":%.1f,\"bytes_per_record\":%.1f}\n",
	    n, batch, mode, t1 - t0, n / (t1 - t0), (double)st.st_size / n);
	free(val);
	return 0;
}
