#include <string.h>

#include "wire.h"

static const char *const msg_names[MSG_TYPE_END] = {
	[MSG_HITS] = "hits",
	[MSG_EVENTS] = "events",
	[MSG_ACK] = "ack",
	[MSG_REPLY] = "reply",
};

const char *
msg_type_name(int type)
{
	if (type <= 0 || type >= MSG_TYPE_END)
		return "unknown";
	return msg_names[type];
}

void
wire_be64_put(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
wire_be64_get(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_be(struct buf *b, uint64_t v, int bytes)
{
	unsigned char tmp[8];
	int i;

	for (i = bytes - 1; i >= 0; i--) {
		tmp[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	buf_add(b, tmp, (size_t)bytes);
}

void
wire_put_u8(struct buf *b, uint8_t v)
{
	put_be(b, v, 1);
}

void
wire_put_u16(struct buf *b, uint16_t v)
{
	put_be(b, v, 2);
}

void
wire_put_u32(struct buf *b, uint32_t v)
{
	put_be(b, v, 4);
}

void
wire_put_u64(struct buf *b, uint64_t v)
{
	put_be(b, v, 8);
}

void
wire_put_i64(struct buf *b, int64_t v)
{
	put_be(b, (uint64_t)v, 8);
}

void
wire_put_str(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	wire_put_u32(b, (uint32_t)n);
	buf_add(b, s ? s : "", n);
}

void
wire_put_envelope(struct buf *b, enum msg_type type, const char *sender,
    uint64_t seq, uint32_t count)
{
	wire_put_u8(b, WIRE_VERSION);
	wire_put_u8(b, (uint8_t)type);
	wire_put_str(b, sender);
	wire_put_u64(b, seq);
	wire_put_u32(b, count);
}

void
wire_reader_init(struct wire_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->failed = 0;
}

static int
get_be(struct wire_reader *r, int bytes, uint64_t *out)
{
	uint64_t v = 0;
	int i;

	if (r->failed || r->len - r->off < (size_t)bytes) {
		r->failed = 1;
		return -1;
	}
	for (i = 0; i < bytes; i++)
		v = v << 8 | r->p[r->off++];
	*out = v;
	return 0;
}

int
wire_get_u8(struct wire_reader *r, uint8_t *out)
{
	uint64_t v;

	if (get_be(r, 1, &v) == -1)
		return -1;
	*out = (uint8_t)v;
	return 0;
}

int
wire_get_u16(struct wire_reader *r, uint16_t *out)
{
	uint64_t v;

	if (get_be(r, 2, &v) == -1)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int
wire_get_u32(struct wire_reader *r, uint32_t *out)
{
	uint64_t v;

	if (get_be(r, 4, &v) == -1)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
wire_get_u64(struct wire_reader *r, uint64_t *out)
{
	return get_be(r, 8, out);
}

int
wire_get_i64(struct wire_reader *r, int64_t *out)
{
	uint64_t v;

	if (get_be(r, 8, &v) == -1)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* Point at the next string's bytes after checking its length. */
int
wire_get_span(struct wire_reader *r, size_t max, const unsigned char **p,
    size_t *n)
{
	uint32_t len;

	if (wire_get_u32(r, &len) == -1)
		return -1;
	if (len > max || r->len - r->off < len ||
	    memchr(r->p + r->off, '\0', len) != NULL) {
		r->failed = 1;
		return -1;
	}
	*p = r->p + r->off;
	*n = len;
	r->off += len;
	return 0;
}

int
wire_get_str(struct wire_reader *r, size_t max, char **out)
{
	const unsigned char *p;
	size_t n;

	if (wire_get_span(r, max, &p, &n) == -1)
		return -1;
	/* No NUL inside (wire_get_span saw to it): a plain copy. */
	*out = xmalloc(n + 1);
	memcpy(*out, p, n);
	(*out)[n] = '\0';
	return 0;
}

int
wire_get_strbuf(struct wire_reader *r, char *dst, size_t max)
{
	const unsigned char *p;
	size_t n;

	if (wire_get_span(r, max, &p, &n) == -1)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

int
wire_get_envelope(struct wire_reader *r, struct envelope *e)
{
	if (wire_get_u8(r, &e->version) == -1 ||
	    wire_get_u8(r, &e->type) == -1 ||
	    wire_get_strbuf(r, e->sender, WIRE_SENDER_MAX) == -1 ||
	    wire_get_u64(r, &e->seq) == -1 ||
	    wire_get_u32(r, &e->count) == -1)
		return -1;
	if (e->version != WIRE_VERSION || e->type == 0 ||
	    e->type >= MSG_TYPE_END || e->sender[0] == '\0') {
		r->failed = 1;
		return -1;
	}
	return 0;
}

int
wire_done(const struct wire_reader *r)
{
	return r->failed || r->off != r->len ? -1 : 0;
}
