/*
 * The inbound postback rows of the hits this matcher decides (inbound.h,
 * report(1) --postbacks): written in the transaction of the verdict, so
 * a row exists exactly when its verdict does.  A held hit's row says
 * "accepted" until its verdict overwrites it: the row's key travels in
 * the hit as POSTBACKS_ATTR_ROW.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inbound.h"
#include "matcher.h"

/* The row key's last 16 bytes, as 32 hex digits. */
static int
row_id(const struct hit *hit, uint64_t *who, uint64_t *seq)
{
	const char *id = attrs_get(&hit->attrs, POSTBACKS_ATTR_ROW);
	char half[17];

	if (id == NULL || strlen(id) != 32)
		return -1;
	memcpy(half, id, 16);
	half[16] = '\0';
	*who = strtoull(half, NULL, 16);
	*seq = strtoull(id + 16, NULL, 16);
	return 0;
}

void
postbacks_mark(struct hit *hit, const char *sender, uint64_t seq)
{
	char id[33];

	if (hit->kind < HIT_POSTBACK || hit->kind > HIT_REJECT ||
	    attrs_get(&hit->attrs, POSTBACKS_ATTR_ROW) != NULL)
		return;
	snprintf(id, sizeof(id), "%016llx%016llx", (unsigned long long)
	    fnv1a(FNV1A_INIT, sender, strlen(sender)),
	    (unsigned long long)seq);
	attrs_set(&hit->attrs, POSTBACKS_ATTR_ROW, id);
}

/* Whether param.NAME is, for this offer, the secure token by an alias. */
static int
secret_param(const struct conf *conf, const char *offer, const char *name)
{
	const char *ours;

	return strncmp(name, "param.", 6) == 0 &&
	    (ours = conf_alias(conf, offer, name + 6)) != NULL &&
	    strcmp(ours, "secure") == 0;
}

/* The parameters as ingest kept them; the token (never kept) as ***. */
static void
query_of(const struct conf *conf, const struct hit *hit, const char *offer,
    struct buf *q)
{
	const char *name;
	size_t i;

	inbound_query_add(q, "secure", "", 1);
	for (i = 0; i < hit->attrs.n; i++) {
		name = hit->attrs.v[i].name;
		/* Ours, and ingest's own note of the time: not parameters. */
		if (name[0] == '_' || hit->attrs.v[i].value[0] == '\0' ||
		    strcmp(name, "conversion_time") == 0)
			continue;
		inbound_query_add(q, strncmp(name, "param.", 6) == 0 ?
		    name + 6 : name, hit->attrs.v[i].value,
		    secret_param(conf, offer, name));
	}
	buf_add(q, "", 1);
}

static void
row_of(struct matcher *m, const struct hit *hit, const struct hit *click,
    const struct verdict *v, struct inbound_row *row)
{
	const struct hit *origin = click ? click : hit;
	const char *offer = attrs_get(&origin->attrs, "offer_id");
	struct buf q;

	row->time_ms = hit->time_ms;
	row->kind = hit->kind;
	row->result = v->result;
	row->decided_ms = v->result == VERDICT_HELD ? 0 : now_ms();
	/* Held for its click, it was answered 202 (a pixel: its GIF). */
	if (attrs_get(&hit->attrs, POSTBACKS_ATTR_HELD) != NULL)
		row->http_status = hit->kind == HIT_PIXEL ? 200 : 202;
	inbound_set(row, IN_REASON, v->result == VERDICT_REJECTED ?
	    v->reason : NULL);
	inbound_set(row, IN_TXID, hit->txid);
	inbound_set(row, IN_OFFER, offer);
	inbound_set(row, IN_PUBLISHER, attrs_get(&origin->attrs,
	    "publisher"));
	inbound_set(row, IN_SUB_ID, attrs_get(&origin->attrs, "sub_id"));
	inbound_set(row, IN_EVENT, attrs_get(&hit->attrs, "event"));
	inbound_set(row, IN_STATUS, attrs_get(&hit->attrs, "status"));
	inbound_set(row, IN_ORDER, attrs_get(&hit->attrs, "order_id"));
	inbound_set(row, IN_IP, attrs_get(&hit->attrs, "conversion_ip") ?
	    attrs_get(&hit->attrs, "conversion_ip") :
	    attrs_get(&hit->attrs, INBOUND_ATTR_IP));
	buf_init(&q);
	query_of(m->daemon->conf, hit, offer, &q);
	inbound_set(row, IN_QUERY, q.data);
	buf_free(&q);
}

int
postbacks_note(struct matcher *m, struct store_txn *txn,
    const struct hit *hit, const struct hit *click, const struct verdict *v)
{
	unsigned char key[INBOUND_KEY_LEN];
	struct inbound_row row;
	struct buf rec;
	uint64_t who, seq;
	int rc;

	if (hit->kind < HIT_POSTBACK || hit->kind > HIT_REJECT)
		return 0;
	if (row_id(hit, &who, &seq) == -1) {	/* held by an older matcher */
		who = fnv1a(FNV1A_INIT, hit->txid, strlen(hit->txid));
		seq = 0;
	}
	inbound_key(key, hit->time_ms, who, seq);
	inbound_init(&row);
	row_of(m, hit, click, v, &row);
	buf_init(&rec);
	inbound_put(&rec, &row);
	rc = inbound_store(txn, DB_POSTBACKS, DB_POSTBACKS_TX, key, &rec,
	    hit->txid);
	buf_free(&rec);
	inbound_free(&row);
	return rc;
}

int
postbacks_prune(void *arg, struct store_txn *txn, struct retain_slice *s)
{
	(void)arg;
	return inbound_prune(txn, DB_POSTBACKS, DB_POSTBACKS_TX, s);
}
