/*
 * The filters of logview(1): parsing the options that set them, and
 * deciding whether an attempt passes.  Different options must all
 * match; the values of one option are a union.
 */
#include <err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logview.h"

/* An empty list places no condition. */
static int
list_match(const struct strlist *l, const char *s)
{
	return l->n == 0 || (s != NULL && strlist_has(l, s));
}

/*
 * The next word of a comma-separated list into tok, leaving *p at the
 * comma or the end; -1 if the word is empty or too long.
 */
static int
next_word(const char **p, char *tok, size_t size)
{
	size_t n = strcspn(*p, ",");

	if (n == 0 || n >= size)
		return -1;
	memcpy(tok, *p, n);
	tok[n] = '\0';
	*p += n;
	return 0;
}

/* 404, 0 (no response) or a class 1xx..5xx. */
static int
parse_status_word(const char *w, struct status_range *r)
{
	uint64_t v;

	if (w[0] >= '1' && w[0] <= '5' && (w[1] == 'x' || w[1] == 'X') &&
	    (w[2] == 'x' || w[2] == 'X') && w[3] == '\0') {
		r->lo = (unsigned)(w[0] - '0') * 100;
		r->hi = r->lo + 99;
		return 0;
	}
	if (parse_uint(w, 999, &v) == -1)
		return -1;
	r->lo = r->hi = (unsigned)v;
	return 0;
}

int
filter_add_status(struct filter *f, const char *arg)
{
	const char *p = arg;
	char w[8];
	struct status_range r;

	for (;;) {
		if (next_word(&p, w, sizeof(w)) == -1 ||
		    parse_status_word(w, &r) == -1) {
			warnx("--status: bad status \"%s\" (use a code such "
			    "as 404, 0 for no response, or 2xx..5xx)", arg);
			return -1;
		}
		f->statuses = xreallocarray(f->statuses, f->nstatuses + 1,
		    sizeof(*f->statuses));
		f->statuses[f->nstatuses++] = r;
		if (*p++ == '\0')
			return 0;
	}
}

int
filter_add_result(struct filter *f, const char *arg)
{
	const char *p = arg;
	char w[16];
	int r;

	for (;;) {
		if (next_word(&p, w, sizeof(w)) == -1 ||
		    (r = attempt_result_parse(w)) == 0) {
			warnx("--result: bad result \"%s\" (use ok, retry, "
			    "failed, cancelled or interrupted)", arg);
			return -1;
		}
		f->results |= 1u << r;
		if (*p++ == '\0')
			return 0;
	}
}

int
filter_add_txid(struct filter *f, const char *id)
{
	if (*id == '\0' || strlen(id) > RECORD_ID_MAX) {
		warnx("--transaction: \"%s\" is not a transaction id "
		    "(1 to %d characters)", id, RECORD_ID_MAX);
		return -1;
	}
	/* One seek per id: asking twice would print the rows twice. */
	if (f->txids.n == 0 || !list_match(&f->txids, id))
		strlist_add(&f->txids, id);
	return 0;
}

static int
status_match(const struct filter *f, unsigned status)
{
	size_t i;

	if (f->nstatuses == 0)
		return 1;
	for (i = 0; i < f->nstatuses; i++)
		if (status >= f->statuses[i].lo && status <= f->statuses[i].hi)
			return 1;
	return 0;
}

/* Everything but time, which the key already told. */
int
filter_match(const struct filter *f, const struct attempt *a)
{
	return list_match(&f->txids, a->txid) &&
	    list_match(&f->postbacks, a->postback_id) &&
	    list_match(&f->rules, a->rule) &&
	    list_match(&f->offers, a->offer_id) &&
	    list_match(&f->publishers, a->publisher) &&
	    (f->results == 0 || (f->results & (1u << a->result)) != 0) &&
	    status_match(f, a->http_status);
}

/* A scheduled delivery has no result or status yet. */
int
filter_match_delivery(const struct filter *f, const struct delivery *d)
{
	const struct attrs *a = &d->event.attrs;

	return list_match(&f->txids, d->event.txid) &&
	    list_match(&f->postbacks, d->postback_id) &&
	    list_match(&f->rules, d->rule) &&
	    list_match(&f->offers, attrs_get(a, "offer_id")) &&
	    list_match(&f->publishers, attrs_get(a, "publisher"));
}

void
filter_free(struct filter *f)
{
	strlist_free(&f->txids);
	strlist_free(&f->postbacks);
	strlist_free(&f->rules);
	strlist_free(&f->offers);
	strlist_free(&f->publishers);
	free(f->statuses);
}
