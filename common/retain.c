/*
 * Retention in slices: see retain.h and postline(7), RETENTION.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "retain.h"

#define RETAIN_CHECK_MS		1000	/* a kind caught up looks again */
#define RETAIN_LOG_MS		60000	/* a summary line, when it removed */
#define RETAIN_LOG_BEHIND_MS	10000	/* a line while far behind */
#define RETAIN_FAR_BEHIND_MS	60000	/* "far": a minute past the cutoff */

struct kind_state {
	int		 behind;	/* the last slice stopped at max */
	int		 told_behind;	/* the log said it was far behind */
	int64_t		 next_check_ms;	/* monotonic */
	int64_t		 lag_ms;
	int64_t		 last_log_ms;	/* monotonic */
	uint64_t	 unlogged;	/* removed since the last line */
	struct metric	*m_behind;
	struct metric	*m_removed;
	struct metric	*m_records;
};

struct retain {
	struct daemon		*daemon;
	struct store		*store;
	const struct retain_kind *kinds;
	struct kind_state	*state;
	int			 nkinds;
	int			 next;		/* round robin */
};

static void
make_metrics(struct retain *r, int k)
{
	struct kind_state *st = &r->state[k];
	char name[128], labels[64];

	snprintf(labels, sizeof(labels), "kind=\"%s\"", r->kinds[k].name);
	snprintf(name, sizeof(name), "postline_%s_retention_behind_seconds",
	    r->daemon->name);
	st->m_behind = metric_gauge(name, "How far retention is behind, by "
	    "kind: the age of the oldest record past the cutoff minus the "
	    "retention (0 when none is past it).", labels);
	snprintf(name, sizeof(name), "postline_%s_retention_removed_total",
	    r->daemon->name);
	st->m_removed = metric_counter(name, "Records removed by retention, "
	    "by kind.", labels);
	snprintf(name, sizeof(name), "postline_%s_records", r->daemon->name);
	st->m_records = metric_gauge(name, "Records kept, by kind.", labels);
}

struct retain *
retain_new(struct daemon *d, struct store *store,
    const struct retain_kind *kinds, int nkinds)
{
	struct retain *r = xcalloc(1, sizeof(*r));
	int k;

	r->daemon = d;
	r->store = store;
	r->kinds = kinds;
	r->nkinds = nkinds;
	r->state = xcalloc((size_t)nkinds, sizeof(*r->state));
	for (k = 0; k < nkinds; k++) {
		make_metrics(r, k);
		r->state[k].last_log_ms = mono_ms();
	}
	return r;
}

void
retain_free(struct retain *r)
{
	if (r == NULL)
		return;
	free(r->state);
	free(r);
}

/* Read at every slice, so that a reload's new retention counts at once. */
static int64_t
keep_ms(const struct retain *r, const struct retain_kind *kind)
{
	return kind->retention < 0 ? 0 :
	    r->daemon->conf->retention_ms[kind->retention];
}

/*
 * A line when a kind falls more than a minute behind and every ten
 * seconds while it stays so, one when it is back, and one a minute
 * otherwise when anything was removed.
 */
static void
tell(struct retain *r, int k, int64_t mono)
{
	struct kind_state *st = &r->state[k];
	int far = st->behind && st->lag_ms >= RETAIN_FAR_BEHIND_MS;
	int64_t since = mono - st->last_log_ms;

	if (!(far && (!st->told_behind || since >= RETAIN_LOG_BEHIND_MS)) &&
	    !(st->told_behind && !far) &&
	    !(st->unlogged > 0 && since >= RETAIN_LOG_MS))
		return;
	log_info("event=retention kind=%s behind_seconds=%lld removed=%llu",
	    r->kinds[k].name, (long long)(st->lag_ms / 1000),
	    (unsigned long long)st->unlogged);
	st->told_behind = far;
	st->unlogged = 0;
	st->last_log_ms = mono;
}

/* What a slice found: behind or not, how far, what it removed. */
static void
note(struct retain *r, int k, const struct retain_slice *s, int64_t mono)
{
	struct kind_state *st = &r->state[k];

	st->behind = s->more;
	/* INT64_MIN: a key not of its database's form, of no known age. */
	st->lag_ms = st->behind && s->oldest_ms > INT64_MIN &&
	    s->oldest_ms < s->before ? s->before - s->oldest_ms : 0;
	if (!st->behind)
		st->next_check_ms = mono + (r->kinds[k].every_ms > 0 ?
		    r->kinds[k].every_ms : RETAIN_CHECK_MS);
	st->unlogged += (uint64_t)s->removed;
	metric_add(st->m_removed, s->removed);
	metric_set(st->m_behind, st->lag_ms / 1000);
	tell(r, k, mono);
}

/* The store refused (its own log says why): look again in a while. */
static void
refused(struct retain *r, int k, int64_t mono)
{
	r->state[k].behind = 0;
	r->state[k].next_check_ms = mono + RETAIN_CHECK_MS;
}

static void
run_slice(struct retain *r, int k, int64_t now, int64_t mono)
{
	const struct retain_kind *kind = &r->kinds[k];
	struct retain_slice s = { 0, RETAIN_SLICE, 0, 0, 0, INT64_MAX };
	struct store_txn *txn;
	uint64_t left;

	s.before = now - keep_ms(r, kind);
	if (store_begin(r->store, 1, &txn) != STORE_OK) {
		refused(r, k, mono);
		return;
	}
	if (kind->prune(kind->arg, txn, &s) == -1) {
		store_abort(txn);
		refused(r, k, mono);
		return;
	}
	left = store_count(txn, kind->db);
	if (s.removed == 0)
		store_abort(txn);
	else if (store_commit(txn, 0) != STORE_OK) {
		refused(r, k, mono);
		return;
	}
	metric_set(r->state[k].m_records, (int64_t)left);
	note(r, k, &s, mono);
}

int
retain_walk(struct store_txn *txn, int db, struct retain_slice *s,
    int64_t (*time_of)(const struct store_val *),
    int (*drop)(void *, struct store_txn *, const struct store_val *,
    const struct store_val *), void *arg)
{
	struct store_cursor *c;
	struct store_val k, v;
	int64_t t;
	int rc;

	if (store_cursor_open(txn, db, &c) != STORE_OK)
		return -1;
	for (rc = store_cursor_seek(c, NULL, 0, &k, &v); rc == STORE_OK;
	    rc = store_cursor_next(c, &k, &v)) {
		if ((t = time_of(&k)) >= s->before)
			break;
		if (s->looked == s->max) {
			s->oldest_ms = t;
			s->more = 1;
			break;
		}
		s->looked++;
		if ((drop && drop(arg, txn, &k, &v) == -1) ||
		    store_cursor_del(c) != STORE_OK) {
			rc = STORE_ERROR;
			break;
		}
		s->removed++;
	}
	store_cursor_close(c);
	return rc == STORE_ERROR || rc == STORE_FULL ? -1 : 0;
}

int
retain_sweep(struct store_txn *txn, int db, struct retain_slice *s,
    struct retain_sweep *pos, int (*expired)(void *,
    const struct store_val *, const struct store_val *), void *arg)
{
	struct store_cursor *c;
	struct store_val k, v;
	int rc, verdict;

	if (store_cursor_open(txn, db, &c) != STORE_OK)
		return -1;
	for (rc = store_cursor_seek(c, pos->len ? pos->from : NULL, pos->len,
	    &k, &v); rc == STORE_OK; rc = store_cursor_next(c, &k, &v)) {
		if (s->looked == s->max) {
			s->more = k.len <= sizeof(pos->from);
			break;
		}
		s->looked++;
		if ((verdict = expired(arg, &k, &v)) == -1)
			break;
		if (verdict == 1 && store_cursor_del(c) != STORE_OK) {
			rc = STORE_ERROR;
			break;
		}
		s->removed += verdict;
	}
	pos->len = 0;
	if (s->more) {
		memcpy(pos->from, k.data, k.len);
		pos->len = k.len;
	}
	store_cursor_close(c);
	return rc == STORE_ERROR || rc == STORE_FULL ? -1 : 0;
}

int
retain_step(struct retain *r, int64_t now)
{
	int64_t mono = mono_ms();
	int i, k = 0, behind = 0;

	for (i = 0; i < r->nkinds; i++) {
		k = (r->next + i) % r->nkinds;
		if (r->state[k].behind || mono >= r->state[k].next_check_ms)
			break;
	}
	if (i == r->nkinds)
		return 0;
	r->next = (k + 1) % r->nkinds;
	run_slice(r, k, now, mono);
	for (i = 0; i < r->nkinds; i++)
		behind |= r->state[i].behind;
	return behind;
}
