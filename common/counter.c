/*
 * The report counters' keys and values: see counter.h.  Most counters
 * of an hour hold a few small numbers, so a value is its version, a
 * 16-bit mask of the fields that are not zero, and those fields as
 * zigzag varints (a unique click's row: 5 bytes).
 */
#include <string.h>

#include "counter.h"
#include "record.h"

#define FIELDS		(COUNT_END + 2)	/* the counts, revenue, payout */
#define VARINT_MAX	19		/* 128 bits, 7 at a time */

__extension__ typedef unsigned __int128 uamount_t;

/* Cut at most max bytes of s, not inside a UTF-8 sequence. */
static size_t
field_len(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

void
counter_cut(char *s)
{
	s[field_len(s, COUNTER_FIELD_MAX)] = '\0';
}

void
counter_key(struct buf *key, int64_t hour, const char *const *dims)
{
	uint32_t h = (uint32_t)hour;
	unsigned char *p;
	size_t n;
	int i;

	/* Written in place: the matcher makes two keys a click. */
	buf_reset(key);
	buf_reserve(key, 4 + DIM_END * (COUNTER_FIELD_MAX + 1));
	p = (unsigned char *)key->data;
	*p++ = (unsigned char)(h >> 24);
	*p++ = (unsigned char)(h >> 16);
	*p++ = (unsigned char)(h >> 8);
	*p++ = (unsigned char)h;
	for (i = 0; i < DIM_END; i++) {
		const char *v = dims[i] ? dims[i] : "";

		n = field_len(v, COUNTER_FIELD_MAX);
		memcpy(p, v, n);
		p += n;
		*p++ = '\0';
	}
	key->len = (size_t)(p - (unsigned char *)key->data);
}

int
counter_key_parse(const void *key, size_t len, int64_t *hour,
    const char **dims)
{
	const unsigned char *k = key;
	size_t at = 4, end;
	int i;

	if (len < 4 + DIM_END || k[len - 1] != '\0')
		return -1;
	*hour = (int64_t)((uint32_t)k[0] << 24 | (uint32_t)k[1] << 16 |
	    (uint32_t)k[2] << 8 | k[3]);
	for (i = 0; i < DIM_END; i++) {
		if (at >= len)
			return -1;
		dims[i] = (const char *)k + at;
		end = at + strlen(dims[i]);
		if (end >= len)
			return -1;
		at = end + 1;
	}
	return at == len ? 0 : -1;
}

static void
put_varint(struct buf *b, amount_t v)
{
	uamount_t z = v < 0 ? ~((uamount_t)v << 1) : (uamount_t)v << 1;
	unsigned char out[VARINT_MAX];
	size_t n = 0;

	do {
		out[n] = (unsigned char)(z & 0x7f);
		z >>= 7;
		out[n] |= z ? 0x80 : 0;
		n++;
	} while (z && n < VARINT_MAX);
	buf_add(b, out, n);
}

static int
get_varint(const unsigned char **p, const unsigned char *end, amount_t *v)
{
	uamount_t z = 0;
	int shift = 0;

	for (;;) {
		if (*p >= end || shift > 7 * (VARINT_MAX - 1))
			return -1;
		z |= (uamount_t)(**p & 0x7f) << shift;
		shift += 7;
		if ((*(*p)++ & 0x80) == 0)
			break;
	}
	*v = (amount_t)(z >> 1) ^ -(amount_t)(z & 1);
	return 0;
}

static amount_t
field(const struct counts *c, int i)
{
	if (i < COUNT_END)
		return c->n[i];
	return i == COUNT_END ? c->revenue : c->payout;
}

void
counter_put(struct buf *b, const struct counts *c)
{
	unsigned mask = 0;
	int i;

	for (i = 0; i < FIELDS; i++)
		if (field(c, i) != 0)
			mask |= 1U << i;
	buf_addc(b, RECORD_VERSION);
	buf_addc(b, (char)(mask >> 8));
	buf_addc(b, (char)mask);
	for (i = 0; i < FIELDS; i++)
		if (mask & 1U << i)
			put_varint(b, field(c, i));
}

int
counter_get(const void *data, size_t len, struct counts *c)
{
	const unsigned char *p = data, *end = p + len;
	unsigned mask;
	amount_t v;
	int i;

	memset(c, 0, sizeof(*c));
	if (len < 3 || p[0] != RECORD_VERSION)
		return -1;
	mask = (unsigned)p[1] << 8 | p[2];
	for (p += 3, i = 0; i < FIELDS; i++) {
		if (!(mask & 1U << i))
			continue;
		if (get_varint(&p, end, &v) == -1)
			return -1;
		if (i < COUNT_END)
			c->n[i] = (int64_t)v;
		else if (i == COUNT_END)
			c->revenue = v;
		else
			c->payout = v;
	}
	return p == end && mask >> FIELDS == 0 ? 0 : -1;
}

void
counts_add(struct counts *to, const struct counts *d)
{
	int i;

	for (i = 0; i < COUNT_END; i++)
		to->n[i] += d->n[i];
	to->revenue += d->revenue;
	to->payout += d->payout;
}

int
counts_zero(const struct counts *c)
{
	int i;

	for (i = 0; i < FIELDS; i++)
		if (field(c, i) != 0)
			return 0;
	return 1;
}

uint64_t
counter_unique_hash(const char *offer, const char *ip, const char *ua)
{
	uint64_t h = hash_words(FNV1A_INIT, offer, strlen(offer) + 1);

	h = hash_words(h, ip, strlen(ip) + 1);
	return hash_words(h, ua, strlen(ua));
}

int
amount_parse(const char *s, amount_t *out)
{
	amount_t whole = 0, frac = 0, unit = COUNTER_SCALE;
	int neg = 0, digits = 0, dot = 0;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s; s++) {
		if (*s == '.' && !dot) {
			dot = 1;
			continue;
		}
		if (*s < '0' || *s > '9' || ++digits > 18)
			return -1;
		if (!dot)
			whole = whole * 10 + (*s - '0');
		else if ((unit /= 10) > 0)
			frac += (amount_t)(*s - '0') * unit;
	}
	if (digits == 0)
		return -1;
	*out = (neg ? -1 : 1) * (whole * COUNTER_SCALE + frac);
	return 0;
}

/* The digits of v, last first; how many. */
static int
digits_of(amount_t v, char *out)
{
	uint64_t small;
	int n = 0;

	/* Most amounts fit 64 bits, where a division is cheap. */
	if (v <= (amount_t)UINT64_MAX) {
		small = (uint64_t)v;
		do {
			out[n++] = (char)('0' + (int)(small % 10));
			small /= 10;
		} while (small > 0);
		return n;
	}
	do {
		out[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v > 0);
	return n;
}

char *
amount_format(char *dst, size_t size, amount_t v, int decimals)
{
	amount_t unit = COUNTER_SCALE, mag = v < 0 ? -v : v;
	char digits[64];
	int i, n, at = 0;

	for (i = 0; i < decimals && unit > 1; i++)
		unit /= 10;
	/* Half away from zero; in 64 bits when it fits (most do). */
	if (mag <= (amount_t)(UINT64_MAX / 2))
		mag = (amount_t)(((uint64_t)mag + (uint64_t)unit / 2) /
		    (uint64_t)unit);
	else
		mag = (mag + unit / 2) / unit;
	n = digits_of(mag, digits);
	while (n <= decimals)
		digits[n++] = '0';
	if (v < 0 && mag != 0 && (size_t)at + 1 < size)
		dst[at++] = '-';
	for (i = n - 1; i >= 0 && (size_t)at + 1 < size; i--) {
		dst[at++] = digits[i];
		if (i == decimals && decimals > 0 && (size_t)at + 1 < size)
			dst[at++] = '.';
	}
	dst[at] = '\0';
	return dst;
}
