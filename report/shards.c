/*
 * The matcher stores that report reads, each opened once and read-only:
 * LMDB's readers never block its writer.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inbound.h"
#include "report.h"

static const char *const dbs[SHARD_NDBS] = {
	"clicks", "conversions", COUNTER_DB, COUNTER_OFFER_DB,
	COUNTER_CONVERSIONS_AT_DB
};

static const char *const pb_dbs[PB_NDBS] = { INBOUND_DB, INBOUND_TX_DB };

int
list_match(const struct strlist *l, const char *s)
{
	return l->n == 0 || (s != NULL && strlist_has(l, s));
}

/* Say in words why a directory cannot be read as a matcher's store. */
static int
shard_open(struct shard *sh, const char *dir, int postbacks)
{
	struct store *old;
	int rc = store_check_dir(dir);

	sh->dir = dir;
	if (rc == ENOENT) {
		warnx("%s: not a matcher's directory (no data.mdb)", dir);
		return -1;
	}
	if (rc != 0) {
		warnx("%s: %s", dir, strerror(rc));
		return -1;
	}
	if (postbacks) {
		if ((sh->store = store_open(dir, 0, pb_dbs, PB_NDBS, 1)) !=
		    NULL)
			return 0;
		warnx("%s: no postback rows (not a matcher's or an ingest's "
		    "store of this version)", dir);
		return -1;
	}
	if ((sh->store = store_open(dir, 0, dbs, SHARD_NDBS, 1)) != NULL)
		return 0;
	if ((old = store_open(dir, 0, dbs, 2, 1)) != NULL) {
		store_close(old);
		warnx("%s: a matcher store of an older format, without report "
		    "counters (start this version's matcher on it)", dir);
	} else
		warnx("%s: not a matcher's store", dir);
	return -1;
}

static int
same_dir(const struct stat *seen, size_t n, const struct stat *st)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (seen[i].st_dev == st->st_dev &&
		    seen[i].st_ino == st->st_ino)
			return 1;
	return 0;
}

/* Each directory once, even when named twice: LMDB requires it. */
int
shards_open(const struct strlist *dirs, int postbacks, struct shard **out,
    size_t *n)
{
	struct stat *seen = xcalloc(dirs->n + 1, sizeof(*seen));
	struct shard *sh = xcalloc(dirs->n + 1, sizeof(*sh));
	size_t i;
	int rc = 0;

	*n = 0;
	for (i = 0; i < dirs->n && rc == 0; i++) {
		if (stat(dirs->v[i], &seen[*n]) == -1) {
			warn("%s", dirs->v[i]);
			rc = -1;
		} else if (!S_ISDIR(seen[*n].st_mode)) {
			warnx("%s: not a directory", dirs->v[i]);
			rc = -1;
		} else if (same_dir(seen, *n, &seen[*n]))
			continue;
		else if ((rc = shard_open(&sh[*n], dirs->v[i], postbacks)) ==
		    0)
			(*n)++;
	}
	free(seen);
	*out = sh;
	return rc;
}

void
shards_close(struct shard *sh, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		store_close(sh[i].store);
	free(sh);
}
