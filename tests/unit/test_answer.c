/*
 * Unit test of ingest/answer.c: every answer ingest gives, from a word
 * of error, a verdict or what became of a stored hit (ingest(8),
 * Answers).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ingest.h"

static int
is(const struct answer *a, int status, const char *body)
{
	return a->status == status && a->body != NULL &&
	    strcmp(a->body, body) == 0;
}

static void
test_errors(void)
{
	struct answer a = { 0 };

	answer_error(&a, 403, "bad_token");
	CHECK(is(&a, 403, "error=bad_token"));
	answer_error_name(&a, 400, "missing_parameter", "offer_id");
	CHECK(is(&a, 400, "error=missing_parameter name=offer_id"));
	answer_too_many_parameters(&a);
	CHECK(a.status == 400 && strncmp(a.body,
	    "error=too_many_parameters max=", 30) == 0 &&
	    atoi(a.body + 30) == INGEST_PARAMS_MAX);
	answer_method_not_allowed(&a, 1, 0);
	CHECK(is(&a, 405, "error=method_not_allowed") &&
	    strcmp(a.allow, "GET, POST") == 0);
	answer_method_not_allowed(&a, 0, 1);
	CHECK(strcmp(a.allow, "GET, HEAD") == 0);
	answer_method_not_allowed(&a, 0, 0);
	CHECK(strcmp(a.allow, "GET") == 0);
	answer_healthz(&a, 1);
	CHECK(is(&a, 200, "ok"));
	answer_healthz(&a, 0);
	CHECK(is(&a, 503, "error=unavailable"));
	answer_free(&a);
	CHECK(a.status == 0 && a.body == NULL && a.allow == NULL);
}

static void
test_hits(void)
{
	struct answer a = { 0 };

	answer_redirect(&a, "tx1", strdup("https://adv.example/?t=tx1"));
	CHECK(is(&a, 302, "transaction_id=tx1") &&
	    strcmp(a.location, "https://adv.example/?t=tx1") == 0);
	answer_free(&a);
	answer_accepted(&a, "tx2");
	CHECK(is(&a, 202, "result=accepted transaction_id=tx2"));
	answer_free(&a);
	answer_gif(&a);
	CHECK(a.gif && a.status == 200 && a.body == NULL);
	answer_free(&a);
}

static struct verdict
verdict(int result, const char *reason)
{
	struct verdict v;

	memset(&v, 0, sizeof(v));
	v.result = (uint8_t)result;
	strcpy(v.reason, reason);
	return v;
}

static void
test_outcomes(void)
{
	struct answer a = { 0 };
	struct verdict v;

	/* Stored: the answer made when the request was read stands. */
	answer_redirect(&a, "tx", strdup("http://x/"));
	answer_outcome(&a, SPOOL_STORED, NULL, "tx");
	CHECK(is(&a, 302, "transaction_id=tx") && a.location != NULL);
	answer_outcome(&a, SPOOL_FULL, NULL, "tx");
	CHECK(is(&a, 503, "error=spool_full") && a.location == NULL);
	answer_outcome(&a, SPOOL_ERROR, NULL, "tx");
	CHECK(is(&a, 503, "error=storage_error"));
	answer_outcome(&a, SPOOL_STOPPING, NULL, "tx");
	CHECK(is(&a, 503, "error=shutting_down"));
	answer_outcome(&a, SPOOL_NO_VERDICT, NULL, "tx");
	CHECK(is(&a, 202, "result=accepted transaction_id=tx"));
	v = verdict(VERDICT_APPROVED, "");
	answer_outcome(&a, SPOOL_VERDICT, &v, "tx");
	CHECK(is(&a, 200, "result=approved transaction_id=tx"));
	v = verdict(VERDICT_PENDING, "");
	answer_outcome(&a, SPOOL_VERDICT, &v, "tx");
	CHECK(is(&a, 200, "result=pending transaction_id=tx"));
	v = verdict(VERDICT_REJECTED, "duplicate");
	answer_outcome(&a, SPOOL_VERDICT, &v, "tx");
	CHECK(is(&a, 200, "result=rejected reason=duplicate transaction_id=tx"));
	v = verdict(VERDICT_REJECTED, "");
	answer_outcome(&a, SPOOL_VERDICT, &v, "tx");
	CHECK(is(&a, 200, "result=rejected reason=rejected transaction_id=tx"));
	/* An advertiser's reason with a space stays one word. */
	v = verdict(VERDICT_REJECTED, "card declined");
	answer_outcome(&a, SPOOL_VERDICT, &v, "tx");
	CHECK(is(&a, 200, "result=rejected reason=\"card declined\" "
	    "transaction_id=tx"));
	/* Held for its click: no verdict yet, 202. */
	v = verdict(VERDICT_HELD, "");
	answer_outcome(&a, SPOOL_VERDICT, &v, "tx");
	CHECK(is(&a, 202, "result=accepted transaction_id=tx"));
	/* A pixel keeps its GIF whatever becomes of it. */
	answer_free(&a);
	answer_gif(&a);
	answer_outcome(&a, SPOOL_FULL, NULL, "tx");
	CHECK(a.gif && a.status == 503);
	answer_free(&a);
}

int
main(void)
{
	test_errors();
	test_hits();
	test_outcomes();
	return check_done("answer");
}
