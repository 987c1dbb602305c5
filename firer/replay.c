/*
 * firer -R: read postback ids on standard input and schedule each
 * delivery again now, in the LMDB of the firer that made it (the id
 * carries its firer's number).  The running firer picks them up on its
 * next look at the schedule; LMDB serialises our writes with its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firer.h"
#include "log.h"
#include "txid.h"

static const char *const db_names[DB_COUNT] = {
	"senders", LOGDB_DELIVERIES, LOGDB_SCHEDULE, LOGDB_LOG, LOGDB_LOG_TX,
	"meta", "dead", "rules", "state", "inflight"
};

static struct store *
open_firer(const struct conf *conf, unsigned n, struct store **open)
{
	char *dir;

	if (open[n] != NULL)
		return open[n];
	dir = conf_instance_dir(conf, SERVICE_FIRER, (int)n);
	open[n] = store_open(dir, conf->map_size[SERVICE_FIRER], db_names,
	    DB_COUNT, 0);
	if (open[n] == NULL)
		fprintf(stderr, "firer: cannot open %s\n", dir);
	free(dir);
	return open[n];
}

/* One id: 1 queued, 0 not (said on stderr). */
static int
replay_one(const struct conf *conf, const char *line, struct store **open)
{
	char pid[RECORD_ID_MAX + 1];
	struct store_txn *txn;
	struct store *s;
	unsigned n;
	int rc;

	if (txid_parse(line, pid) == -1) {
		fprintf(stderr, "firer: %s: not a postback id\n", line);
		return 0;
	}
	n = txid_shard(pid);
	if (n >= conf->firer_endpoints.n || (s = open_firer(conf, n, open)) ==
	    NULL || store_begin(s, 1, &txn) != STORE_OK) {
		fprintf(stderr, "firer: %s: no firer %u to replay it\n", pid, n);
		return 0;
	}
	rc = queue_replay(txn, pid, now_ms());
	if (rc == 1 && store_commit(txn, 1) == STORE_OK) {
		log_info("event=replay postback_id=%s firer=%u", pid, n);
		return 1;
	}
	if (rc != 1)
		store_abort(txn);
	fprintf(stderr, "firer: %s: %s\n", pid, rc == 0 ?
	    "unknown postback id" : "cannot schedule it");
	return 0;
}

int
replay(const struct conf *conf)
{
	struct store **open = xcalloc(conf->firer_endpoints.n + 1,
	    sizeof(*open));
	char line[256];
	size_t i, len;
	int all = 1, any = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (len == 0)
			continue;
		any = 1;
		all &= replay_one(conf, line, open);
	}
	for (i = 0; i < conf->firer_endpoints.n; i++)
		store_close(open[i]);
	free(open);
	return any && all ? 0 : 1;
}
