/*
 * idcheck: are these keys in that LMDB database?  Reads keys from stdin,
 * one a line, looks each up read-only in database DB of the environment
 * DIR, and prints one JSON line: {"checked":N,"found":N,"missing":N,
 * "first_missing":"..."}.  Exit 0 when all were found, 1 when some were
 * missing, 2 on error.  bench/run checks with it that every click
 * answered with a 302 is in the matcher's store.
 *
 *   idcheck DIR DB < ids
 *
 * Built by bench/run:  cc -O2 bench/idcheck.c -llmdb -o build-bench/idcheck
 */
#include <lmdb.h>
#include <stdio.h>
#include <string.h>

static int
fail(const char *what, int rc)
{
	fprintf(stderr, "idcheck: %s: %s\n", what, mdb_strerror(rc));
	return 2;
}

int
main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	char line[600], first[600] = "";
	long checked = 0, found = 0;
	size_t n;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: idcheck dir db < ids\n");
		return 2;
	}
	if ((rc = mdb_env_create(&env)) != 0)
		return fail("env_create", rc);
	mdb_env_set_maxdbs(env, 64);
	mdb_env_set_maxreaders(env, 1024);
	if ((rc = mdb_env_open(env, argv[1], MDB_RDONLY, 0)) != 0)
		return fail(argv[1], rc);
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0)
		return fail("txn_begin", rc);
	if ((rc = mdb_dbi_open(txn, argv[2], 0, &dbi)) != 0)
		return fail(argv[2], rc);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n == 0)
			continue;
		checked++;
		k.mv_size = n;
		k.mv_data = line;
		if ((rc = mdb_get(txn, dbi, &k, &v)) == 0)
			found++;
		else if (rc == MDB_NOTFOUND) {
			if (first[0] == '\0')
				memcpy(first, line, n + 1);
		} else
			return fail("get", rc);
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	printf("{\"checked\":%ld,\"found\":%ld,\"missing\":%ld,"
	    "\"first_missing\":\"%s\"}\n", checked, found, checked - found,
	    first);
	return found == checked ? 0 : 1;
}
