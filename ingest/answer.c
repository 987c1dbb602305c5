/*
 * Every answer ingest gives, and only here: its status, its one text
 * line (key=value words) or the GIF, and its headers.  The other files
 * say what happened (a word of error, a verdict, what became of a stored
 * hit); this one says it to the client.  See ingest(8), Answers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "log.h"

static void PRINTF_LIKE(3, 4)
answer_set(struct answer *a, int status, const char *fmt, ...)
{
	va_list ap;

	free(a->body);
	va_start(ap, fmt);
	a->body = xvasprintf(fmt, ap);
	va_end(ap);
	a->status = status;
}

void
answer_free(struct answer *a)
{
	free(a->body);
	free(a->location);
	memset(a, 0, sizeof(*a));
}

void
answer_gif(struct answer *a)
{
	free(a->body);
	a->body = NULL;
	a->status = 200;
	a->gif = 1;
}

void
answer_error(struct answer *a, int status, const char *word)
{
	answer_set(a, status, "error=%s", word);
}

void
answer_error_name(struct answer *a, int status, const char *word,
    const char *name)
{
	answer_set(a, status, "error=%s name=%s", word, name);
}

void
answer_too_many_parameters(struct answer *a)
{
	answer_set(a, 400, "error=too_many_parameters max=%d",
	    INGEST_PARAMS_MAX);
}

void
answer_method_not_allowed(struct answer *a, int post, int head)
{
	answer_error(a, 405, "method_not_allowed");
	a->allow = post ? "GET, POST" : head ? "GET, HEAD" : "GET";
}

void
answer_redirect(struct answer *a, const char *txid, char *location)
{
	answer_set(a, 302, "transaction_id=%s", txid);
	free(a->location);
	a->location = location;
}

void
answer_accepted(struct answer *a, const char *txid)
{
	answer_set(a, 202, "result=accepted transaction_id=%s", txid);
}

void
answer_healthz(struct answer *a, int healthy)
{
	if (healthy)
		answer_set(a, 200, "ok");
	else
		answer_error(a, 503, "unavailable");
}

/* The matcher's verdict: 200, the result, a rejection's reason. */
static void
answer_verdict(struct answer *a, const struct verdict *v, const char *txid)
{
	char reason[VERDICT_REASON_MAX * 4 + 3];

	/* An advertiser's reason may hold spaces: quote it as logs do. */
	if (v->result == VERDICT_REJECTED)
		answer_set(a, 200, "result=rejected reason=%s transaction_id=%s",
		    log_value(reason, sizeof(reason), v->reason[0] ?
		    v->reason : "rejected"), txid);
	else
		answer_set(a, 200, "result=%s transaction_id=%s",
		    verdict_name(v->result), txid);
}

/*
 * What became of a hit handed to the spool.  Stored: the answer made
 * when the request was read stands.  Otherwise it is replaced (a pixel
 * keeps its GIF, with the status).
 */
void
answer_outcome(struct answer *a, enum spool_outcome outcome,
    const struct verdict *v, const char *txid)
{
	if (outcome == SPOOL_STORED)
		return;
	free(a->location);
	a->location = NULL;
	switch (outcome) {
	case SPOOL_VERDICT:
		/* Held for its click: no verdict yet, as one not in time. */
		if (v->result == VERDICT_HELD)
			answer_accepted(a, txid);
		else
			answer_verdict(a, v, txid);
		break;
	case SPOOL_NO_VERDICT:
		answer_accepted(a, txid);	/* stored and synced: 202 */
		break;
	case SPOOL_FULL:
		answer_error(a, 503, "spool_full");
		break;
	case SPOOL_STOPPING:
		answer_error(a, 503, "shutting_down");
		break;
	default:
		answer_error(a, 503, "storage_error");
		break;
	}
}
