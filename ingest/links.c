/*
 * ingest -L: the links, postback URLs and pixel tags an operator hands
 * out, one "name<TAB>url" line each, built from the config.  The global
 * token appears in postback URLs only, never in a tracking link: those
 * go to publishers (the seeds' pitfall).
 */
#include <stdio.h>
#include <string.h>

#include "ingest.h"
#include "tmpl.h"

/* The address users and advertisers reach. */
static void
base_url(const struct conf *conf, struct buf *b)
{
	if (conf->public_url) {
		buf_adds(b, conf->public_url);
		while (b->len > 0 && b->data[b->len - 1] == '/')
			b->data[--b->len] = '\0';
	} else
		buf_printf(b, "http://%s", conf->listen.v[0]);
}

/* The advertiser's name for our transaction_id on this offer. */
static const char *
txid_name(const struct conf *conf, const char *offer_id)
{
	const char *any = NULL;
	size_t i;

	for (i = 0; i < conf->naliases; i++) {
		const struct alias *a = &conf->aliases[i];

		if (strcmp(a->ours, "transaction_id") != 0)
			continue;
		if (a->offer_id == NULL)
			any = a->theirs;
		else if (offer_id && strcmp(a->offer_id, offer_id) == 0)
			return a->theirs;
	}
	return any ? any : "transaction_id";
}

static void
line(const char *name, const char *fmt_base, const char *rest)
{
	printf("%s\t%s%s\n", name, fmt_base, rest);
}

static void
tracking_link(const char *name, const char *base, const struct offer *o)
{
	struct buf b;

	buf_init(&b);
	buf_adds(&b, "/click?offer_id=");
	tmpl_percent_encode(&b, o->id);
	buf_adds(&b, "&publisher={publisher}&sub_id={sub_id}"
	    "&external_transaction_id={external_transaction_id}");
	line(name, base, b.data);
	buf_free(&b);
}

/* Postback, pixel, clickless and rejection URLs for one token. */
static void
conversion_links(const char *suffix, const char *base, const char *token,
    const char *offer_id, const char *txname)
{
	struct buf q, out;
	char name[96];

	buf_init(&q);
	buf_adds(&q, "secure=");
	tmpl_percent_encode(&q, token);
	buf_init(&out);
	buf_printf(&out, "/postback?%s&%s=REPLACE", q.data, txname);
	snprintf(name, sizeof(name), "postback%s", suffix);
	line(name, base, out.data);
	buf_reset(&out);
	buf_printf(&out, "<img src=\"%s/pixel?%s&%s=REPLACE\" width=\"1\" "
	    "height=\"1\" alt=\"\">", base, q.data, txname);
	snprintf(name, sizeof(name), "pixel%s", suffix);
	line(name, "", out.data);
	buf_reset(&out);
	buf_printf(&out, "/clickless?%s&offer_id=", q.data);
	if (offer_id)
		tmpl_percent_encode(&out, offer_id);
	else
		buf_adds(&out, "REPLACE");
	buf_adds(&out, "&publisher={publisher}");
	snprintf(name, sizeof(name), "clickless%s", suffix);
	line(name, base, out.data);
	buf_reset(&out);
	buf_printf(&out, "/reject?%s&%s=REPLACE&reason=REPLACE", q.data,
	    txname);
	snprintf(name, sizeof(name), "reject%s", suffix);
	line(name, base, out.data);
	buf_free(&out);
	buf_free(&q);
}

/*
 * An offer's own aliases apply only to requests that carry its token
 * (with the global token ingest cannot know the offer yet).
 */
static int
offer_links(const struct conf *conf, const char *base, const struct offer *o)
{
	tracking_link("tracking_link", base, o);
	if (conf->global_token)
		conversion_links("_global", base, conf->global_token, o->id,
		    txid_name(conf, NULL));
	if (o->token)
		conversion_links("_offer", base, o->token, o->id,
		    txid_name(conf, o->id));
	return 0;
}

static void
account_links(const struct conf *conf, const char *base)
{
	char name[96];
	size_t i;

	if (conf->global_token)
		conversion_links("_global", base, conf->global_token, NULL,
		    txid_name(conf, NULL));
	for (i = 0; i < conf->noffers; i++) {
		snprintf(name, sizeof(name), "tracking_link/%s",
		    conf->offers[i].id);
		tracking_link(name, base, &conf->offers[i]);
	}
}

int
links_print(const struct conf *conf, const char *offer_id)
{
	const struct offer *o = NULL;
	struct buf base;
	int rc = 0;

	if (offer_id && (o = conf_offer(conf, offer_id)) == NULL) {
		fprintf(stderr, "ingest: %s: no such offer\n", offer_id);
		return 1;
	}
	if (conf->public_url == NULL)
		fprintf(stderr, "ingest: no \"ingest public-url\" in the "
		    "config; using the listen address\n");
	buf_init(&base);
	base_url(conf, &base);
	if (o)
		rc = offer_links(conf, base.data, o);
	else
		account_links(conf, base.data);
	buf_free(&base);
	if (fflush(stdout) == EOF)
		return 2;
	return rc;
}
