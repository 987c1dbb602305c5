/* The inbound postback record's format: see inbound.h. */
#include <stdlib.h>
#include <string.h>

#include "inbound.h"
#include "record.h"
#include "tmpl.h"

#define INBOUND_VERSION	1

void
inbound_init(struct inbound_row *r)
{
	memset(r, 0, sizeof(*r));
}

void
inbound_free(struct inbound_row *r)
{
	int i;

	for (i = 0; i < IN_END; i++)
		free(r->f[i]);
	inbound_init(r);
}

void
inbound_set(struct inbound_row *r, enum inbound_field f, const char *v)
{
	size_t max = f == IN_QUERY ? INBOUND_QUERY_MAX : INBOUND_FIELD_MAX;

	free(r->f[f]);
	r->f[f] = v ? xstrndup(v, max) : NULL;
}

void
inbound_put(struct buf *b, const struct inbound_row *r)
{
	int i;

	wire_put_u8(b, INBOUND_VERSION);
	wire_put_u8(b, r->kind);
	wire_put_u8(b, r->result);
	wire_put_u16(b, r->http_status);
	wire_put_i64(b, r->time_ms);
	wire_put_i64(b, r->decided_ms);
	wire_put_u8(b, IN_END);
	for (i = 0; i < IN_END; i++)
		wire_put_str(b, r->f[i] ? r->f[i] : "");
}

int
inbound_get(const void *p, size_t len, struct inbound_row *r)
{
	struct wire_reader rd;
	uint8_t version, n;
	int i;

	inbound_init(r);
	wire_reader_init(&rd, p, len);
	if (wire_get_u8(&rd, &version) == -1 || version != INBOUND_VERSION ||
	    wire_get_u8(&rd, &r->kind) == -1 ||
	    wire_get_u8(&rd, &r->result) == -1 ||
	    wire_get_u16(&rd, &r->http_status) == -1 ||
	    wire_get_i64(&rd, &r->time_ms) == -1 ||
	    wire_get_i64(&rd, &r->decided_ms) == -1 ||
	    wire_get_u8(&rd, &n) == -1 || n != IN_END)
		return -1;
	for (i = 0; i < IN_END; i++)
		if (wire_get_str(&rd, INBOUND_QUERY_MAX, &r->f[i]) == -1) {
			inbound_free(r);
			return -1;
		}
	for (i = 0; i < IN_END; i++)
		if (r->f[i][0] == '\0') {
			free(r->f[i]);
			r->f[i] = NULL;
		}
	if (wire_done(&rd) == -1) {
		inbound_free(r);
		return -1;
	}
	return 0;
}

void
inbound_key(unsigned char key[INBOUND_KEY_LEN], int64_t time_ms,
    uint64_t who, uint64_t seq)
{
	wire_be64_put(key, (uint64_t)time_ms);
	wire_be64_put(key + 8, who);
	wire_be64_put(key + 16, seq);
}

void
inbound_tx_key(struct buf *b, const char *txid,
    const unsigned char key[INBOUND_KEY_LEN])
{
	buf_reset(b);
	buf_add(b, txid, strnlen(txid, RECORD_ID_MAX));
	buf_add(b, key, INBOUND_KEY_LEN);
}

const char *
inbound_path(int kind)
{
	switch (kind) {
	case HIT_POSTBACK:
		return "/postback";
	case HIT_PIXEL:
		return "/pixel";
	case HIT_CLICKLESS:
		return "/clickless";
	case HIT_REJECT:
		return "/reject";
	default:
		return "-";
	}
}

const char *
inbound_result_name(int result)
{
	return result == INBOUND_ERROR ? "error" : verdict_name(result);
}

int
inbound_result_parse(const char *s)
{
	static const int results[] = { VERDICT_APPROVED, VERDICT_PENDING,
	    VERDICT_REJECTED, VERDICT_HELD, INBOUND_ERROR };
	size_t i;

	for (i = 0; i < nitems(results); i++)
		if (strcmp(s, inbound_result_name(results[i])) == 0)
			return results[i];
	return -1;
}

int
inbound_http_status(const struct inbound_row *r)
{
	if (r->http_status != 0)
		return r->http_status;
	if (r->kind == HIT_PIXEL)
		return 200;
	if (r->result == VERDICT_HELD || r->decided_ms == 0 ||
	    r->decided_ms - r->time_ms > INBOUND_VERDICT_WAIT_MS)
		return 202;
	return 200;
}

void
inbound_query_add(struct buf *q, const char *name, const char *value,
    int secret)
{
	if (q->len > 0)
		buf_adds(q, "&");
	tmpl_percent_encode(q, name);
	buf_adds(q, "=");
	if (secret)
		buf_adds(q, "***");
	else
		tmpl_percent_encode(q, value);
}
