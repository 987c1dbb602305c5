/*
 * Rows of logview(1): attempts, scheduled deliveries or counts, as
 * tab-separated values or JSON Lines, escaped by common/table.c.
 */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logview.h"

static const char *const field_names[FIELD_END] = {
	[FIELD_TIME] = "time",
	[FIELD_POSTBACK_ID] = "postback_id",
	[FIELD_ATTEMPT] = "attempt",
	[FIELD_RESULT] = "result",
	[FIELD_HTTP_STATUS] = "http_status",
	[FIELD_LATENCY_MS] = "latency_ms",
	[FIELD_RULE] = "rule",
	[FIELD_TYPE] = "type",
	[FIELD_OFFER_ID] = "offer_id",
	[FIELD_PUBLISHER] = "publisher",
	[FIELD_TRANSACTION_ID] = "transaction_id",
	[FIELD_URL] = "url",
	[FIELD_ERROR] = "error",
};

/* The columns of --pending, in order. */
static const char *const pending_names[] = {
	"due", "postback_id", "attempt", "rule", "transaction_id", "url"
};

/* The columns of --stats, in order: the rule, then enum stats_col. */
static const char *const stats_names[] = {
	"rule", "attempts", "ok", "retry", "failed", "cancelled",
	"interrupted", "2xx", "3xx", "4xx", "5xx", "0", "other"
};

/* The rule name of the line that counts every rule (not a valid name). */
#define STATS_ALL	"*"

void
output_init(struct output *o, int kind, int json)
{
	int i;

	o->kind = kind;
	o->conf = NULL;
	for (i = 0; i < FIELD_END; i++)
		o->fields[i] = i;
	o->nfields = FIELD_END;
	table_init(&o->t, json);
}

void
output_free(struct output *o)
{
	table_free(&o->t);
}

static int
field_parse(const char *name, size_t len)
{
	int i;

	for (i = 0; i < FIELD_END; i++)
		if (strlen(field_names[i]) == len &&
		    memcmp(field_names[i], name, len) == 0)
			return i;
	return -1;
}

int
output_set_fields(struct output *o, const char *list)
{
	const char *p = list;
	size_t len;
	int f;

	o->nfields = 0;
	for (;;) {
		len = strcspn(p, ",");
		if ((f = field_parse(p, len)) == -1) {
			warnx("--fields: unknown field \"%.*s\" (known: time "
			    "postback_id attempt result http_status latency_ms "
			    "rule type offer_id publisher transaction_id url "
			    "error)", (int)len, p);
			return -1;
		}
		if (o->nfields == OUTPUT_FIELDS_MAX) {
			warnx("--fields: more than %d fields",
			    OUTPUT_FIELDS_MAX);
			return -1;
		}
		o->fields[o->nfields++] = f;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

static int
field_is_number(int f)
{
	return f == FIELD_ATTEMPT || f == FIELD_HTTP_STATUS ||
	    f == FIELD_LATENCY_MS;
}

/* A number's decimal digits into tmp (snprintf was a tenth of a scan). */
static const char *
decimal(char *tmp, size_t size, uint64_t v)
{
	char *p = tmp + size;

	*--p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0 && p > tmp);
	return p;
}

/* The text of a column; numbers are formatted into tmp. */
static const char *
field_value(const struct attempt *a, int f, char *tmp, size_t size)
{
	switch (f) {
	case FIELD_TIME:
		table_time(tmp, size, a->time_ms);
		return tmp;
	case FIELD_POSTBACK_ID:
		return a->postback_id;
	case FIELD_ATTEMPT:
		return decimal(tmp, size, a->attempt);
	case FIELD_RESULT:
		return attempt_result_name(a->result);
	case FIELD_HTTP_STATUS:
		return decimal(tmp, size, a->http_status);
	case FIELD_LATENCY_MS:
		return decimal(tmp, size, a->latency_ms);
	case FIELD_RULE:
		return a->rule;
	case FIELD_TYPE:
		return event_type_name(a->type);
	case FIELD_OFFER_ID:
		return a->offer_id;
	case FIELD_PUBLISHER:
		return a->publisher;
	case FIELD_TRANSACTION_ID:
		return a->txid;
	case FIELD_URL:
		return a->url;
	default:
		return a->error;
	}
}

int
output_header(struct output *o)
{
	const char *names[OUTPUT_FIELDS_MAX];
	size_t i;

	if (o->t.json)
		return OUTPUT_OK;
	switch (o->kind) {
	case OUTPUT_PENDING:
		return table_names(&o->t, pending_names, nitems(pending_names));
	case OUTPUT_STATS:
		return table_names(&o->t, stats_names, nitems(stats_names));
	default:
		for (i = 0; i < o->nfields; i++)
			names[i] = field_names[o->fields[i]];
		return table_names(&o->t, names, o->nfields);
	}
}

int
output_row(struct output *o, const struct attempt *a)
{
	char tmp[TABLE_TIME_LEN];
	size_t i;
	int f;

	for (i = 0; i < o->nfields; i++) {
		f = o->fields[i];
		table_cell(&o->t, i, field_names[f],
		    field_value(a, f, tmp, sizeof(tmp)), field_is_number(f));
	}
	return table_end(&o->t);
}

struct pending_macros {
	const struct pending	*p;
	char			 attempt[16];
	char			 timestamp[24];
};

/* The macros the firer will expand (firer/rules.c), as of the due time. */
static const char *
pending_lookup(void *arg, const char *name)
{
	struct pending_macros *m = arg;

	if (strcmp(name, "transaction_id") == 0)
		return m->p->d.event.txid;
	if (strcmp(name, "postback_id") == 0)
		return m->p->d.postback_id;
	if (strcmp(name, "attempt") == 0)
		return m->attempt;
	if (strcmp(name, "timestamp") == 0)
		return m->timestamp;
	return attrs_get(&m->p->d.event.attrs, name);
}

/* The URL from the rule of the configuration, if it is known there. */
static void
pending_url(const struct output *o, const struct pending *p, struct buf *b)
{
	const struct rule *r;
	struct pending_macros m;
	int64_t sec = p->due_ms / 1000;

	if (o->conf == NULL || p->d.rule == NULL ||
	    (r = conf_rule(o->conf, p->d.rule)) == NULL)
		return;
	m.p = p;
	snprintf(m.attempt, sizeof(m.attempt), "%" PRIu32, p->d.attempt);
	snprintf(m.timestamp, sizeof(m.timestamp), "%" PRId64, sec);
	tmpl_expand(r->url, pending_lookup, &m, b);
}

int
output_pending(struct output *o, const struct pending *p)
{
	char due[TABLE_TIME_LEN], attempt[16];
	struct buf url;

	table_time(due, sizeof(due), p->due_ms);
	snprintf(attempt, sizeof(attempt), "%" PRIu32, p->d.attempt);
	buf_init(&url);
	pending_url(o, p, &url);
	buf_addc(&url, '\0');
	table_cell(&o->t, 0, pending_names[0], due, 0);
	table_cell(&o->t, 1, pending_names[1], p->d.postback_id, 0);
	table_cell(&o->t, 2, pending_names[2], attempt, 1);
	table_cell(&o->t, 3, pending_names[3], p->d.rule, 0);
	table_cell(&o->t, 4, pending_names[4], p->d.event.txid, 0);
	table_cell(&o->t, 5, pending_names[5], url.data, 0);
	buf_free(&url);
	return table_end(&o->t);
}

void
stats_init(struct stats *s)
{
	memset(s, 0, sizeof(*s));
}

void
stats_free(struct stats *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].rule);
	free(s->v);
}

/* The counts of a rule, added in name order if new. */
static uint64_t *
stats_rule(struct stats *s, const char *rule)
{
	size_t lo = 0, hi = s->n, mid;
	int cmp;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((cmp = strcmp(rule, s->v[mid].rule)) == 0)
			return s->v[mid].n;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	memmove(&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof(*s->v));
	s->n++;
	memset(&s->v[lo], 0, sizeof(s->v[lo]));
	s->v[lo].rule = xstrdup(rule);
	return s->v[lo].n;
}

static int
status_col(unsigned status)
{
	if (status == 0)
		return STATS_NONE;
	if (status >= 200 && status < 600)
		return STATS_2XX + (int)(status / 100) - 2;
	return STATS_OTHER;
}

void
stats_add(struct stats *s, const struct attempt *a)
{
	uint64_t *n = stats_rule(s, a->rule ? a->rule : "");
	int cols[3], i;

	cols[0] = STATS_ATTEMPTS;
	cols[1] = STATS_OK + a->result - ATTEMPT_OK;
	cols[2] = status_col(a->http_status);
	for (i = 0; i < 3; i++) {
		n[cols[i]]++;
		s->total[cols[i]]++;
	}
}

static int
stats_line(struct output *o, const char *rule, const uint64_t *n)
{
	char num[24];
	size_t i;

	table_cell(&o->t, 0, stats_names[0], rule, 0);
	for (i = 0; i < STATS_END; i++) {
		snprintf(num, sizeof(num), "%" PRIu64, n[i]);
		table_cell(&o->t, i + 1, stats_names[i + 1], num, 1);
	}
	return table_end(&o->t);
}

/* A line per rule in name order, then one for all of them. */
int
output_stats(struct output *o, const struct stats *s)
{
	size_t i;
	int rc;

	for (i = 0; i < s->n; i++)
		if ((rc = stats_line(o, s->v[i].rule, s->v[i].n)) != OUTPUT_OK)
			return rc;
	return stats_line(o, STATS_ALL, s->total);
}

int
output_flush(void)
{
	if (fflush(stdout) == 0)
		return OUTPUT_OK;
	if (errno == EPIPE)
		return OUTPUT_CLOSED;
	warn("stdout");
	return OUTPUT_ERROR;
}
