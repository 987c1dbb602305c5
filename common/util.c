#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void NORETURN
out_of_memory(void)
{
	fputs("postline: out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		out_of_memory();
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		out_of_memory();
	return xrealloc(p, n * size);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	n = strnlen(s, n);
	p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	struct buf b;

	buf_init(&b);
	buf_vprintf(&b, fmt, ap);
	return buf_release(&b);
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > SIZE_MAX - b->len - 1)
		out_of_memory();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	b->data[b->len] = '\0';	/* the data is always a string */
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_addc(struct buf *b, char c)
{
	if (b->len + 2 > b->cap)
		buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	int n;

	buf_reserve(b, 64);
	va_copy(copy, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, copy);
	va_end(copy);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		buf_reserve(b, (size_t)n);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *
buf_release(struct buf *b)
{
	char *p;

	if (b->data == NULL)
		return xstrdup("");
	p = b->data;
	buf_init(b);
	return p;
}

void
strlist_add(struct strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

int
strlist_has(const struct strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t
mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if ((uint64_t)(*s - '0') > max ||
		    v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* Split "123abc" into its number and its unit; the unit may be empty. */
static int
split_number(const char *s, uint64_t *num, const char **unit)
{
	char digits[32];
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n >= sizeof(digits))
		return -1;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (parse_uint(digits, UINT64_MAX, num) == -1)
		return -1;
	*unit = s + n;
	return 0;
}

int
parse_duration_ms(const char *s, int64_t *out)
{
	static const struct {
		const char	*unit;
		uint64_t	 ms;
	} units[] = {
		{ "ms", 1 }, { "", 1000 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	const char *unit;
	uint64_t n;
	size_t i;

	if (split_number(s, &n, &unit) == -1)
		return -1;
	for (i = 0; i < nitems(units); i++) {
		if (strcmp(unit, units[i].unit) != 0)
			continue;
		/* Cap at about 290 years, far beyond any sane setting. */
		if (n > (uint64_t)INT64_MAX / 1000 / units[i].ms)
			return -1;
		*out = (int64_t)(n * units[i].ms);
		return 0;
	}
	return -1;
}

int
parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char	*unit;
		unsigned	 shift;
	} units[] = {
		{ "", 0 }, { "K", 10 }, { "k", 10 }, { "M", 20 }, { "G", 30 },
		{ "T", 40 },
	};
	const char *unit;
	uint64_t n;
	size_t i;

	if (split_number(s, &n, &unit) == -1)
		return -1;
	for (i = 0; i < nitems(units); i++) {
		if (strcmp(unit, units[i].unit) != 0)
			continue;
		if (n > (UINT64_MAX >> units[i].shift))
			return -1;
		*out = n << units[i].shift;
		return 0;
	}
	return -1;
}

int
valid_amount(const char *s)
{
	int digits = 0, dots = 0;

	if (*s == '-' || *s == '+')
		s++;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			digits++;
		else if (*s == '.' && dots++ == 0)
			continue;
		else
			return 0;
	}
	return digits > 0 && digits <= 18;
}

int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
parse_hostport(const char *addr, struct sockaddr_storage *ss, unsigned *len)
{
	struct addrinfo hints, *res;
	char host[256];
	const char *colon = strrchr(addr, ':');
	size_t n;

	if (colon == NULL || (n = (size_t)(colon - addr)) >= sizeof(host))
		return -1;
	memcpy(host, addr, n);
	host[n] = '\0';
	if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	if (len)
		*len = (unsigned)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	/* Walk the candidate's length so timing reveals nothing of ours. */
	for (i = 0; i < la; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
	return diff == 0 && lb != 0;
}

static void
getrandom_all(unsigned char *c, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = getrandom(c, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fputs("postline: getrandom failed\n", stderr);
			abort();
		}
		c += r;
		n -= (size_t)r;
	}
}

/*
 * Random bytes are read from the kernel a block at a time: one system
 * call per block, not one per id.  Each thread has its own block; a
 * forked child forgets the one it inherited, so no two processes ever
 * use the same bytes.
 */
#define RANDOM_BLOCK	512

static _Thread_local unsigned char random_block[RANDOM_BLOCK];
static _Thread_local size_t random_left;
static pthread_once_t random_once = PTHREAD_ONCE_INIT;

static void
random_forget(void)
{
	random_left = 0;
}

static void
random_setup(void)
{
	pthread_atfork(NULL, NULL, random_forget);
}

void
random_bytes(void *p, size_t n)
{
	pthread_once(&random_once, random_setup);
	if (n > RANDOM_BLOCK / 4) {
		getrandom_all(p, n);
		return;
	}
	if (random_left < n) {
		getrandom_all(random_block, sizeof(random_block));
		random_left = sizeof(random_block);
	}
	memcpy(p, random_block + sizeof(random_block) - random_left, n);
	random_left -= n;
}

uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n-- > 0)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

#define HASH_K1	0x9e3779b97f4a7c15ULL
#define HASH_K2	0xc2b2ae3d27d4eb4fULL

void
int_text(char *dst, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	int n = 0;

	do {
		tmp[n++] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*dst++ = '-';
	while (n > 0)
		*dst++ = tmp[--n];
	*dst = '\0';
}

uint64_t
hash_words(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t a = h, b = h ^ HASH_K2, w, x;

	/* Two lanes, so that one multiply need not wait for the other. */
	for (; n >= 16; c += 16, n -= 16) {
		memcpy(&w, c, 8);
		memcpy(&x, c + 8, 8);
		a = (a ^ w) * HASH_K1;
		b = (b ^ x) * HASH_K2;
		a ^= a >> 32;
		b ^= b >> 29;
	}
	if (n >= 8) {
		memcpy(&w, c, 8);
		a = (a ^ w) * HASH_K1;
		a ^= a >> 32;
		c += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, c, n);
	h = (a ^ (b << 31 | b >> 33) ^ w ^ (uint64_t)n << 56) * HASH_K1;
	/* murmur3's finalizer: every bit of the input moves every bit */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

int
eventfd_wake(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == -1 && errno != EAGAIN ? -1 : 0;
}

int
eventfd_clear(int fd)
{
	uint64_t n;

	return read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN ? -1 : 0;
}

void
pace(struct timespec *last, int64_t min_us)
{
	struct timespec now, gap = { 0, 0 };
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (now.tv_sec - last->tv_sec) * 1000000 +
	    (now.tv_nsec - last->tv_nsec) / 1000;
	if (us >= 0 && us < min_us) {
		gap.tv_sec = (time_t)((min_us - us) / 1000000);
		gap.tv_nsec = (long)((min_us - us) % 1000000) * 1000;
		nanosleep(&gap, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
	}
	*last = now;
}

/*
 * The date is made by strftime once per day; the time of day, which
 * changes with nearly every call of a listing, by arithmetic.
 */
size_t
utc_second(int64_t sec, const char **out)
{
	static _Thread_local int64_t last_day = INT64_MIN;
	static _Thread_local char stamp[40];
	static _Thread_local size_t date_len;
	int64_t day = sec / 86400 - (sec % 86400 < 0), s;
	time_t t = (time_t)(day * 86400);
	struct tm tm;
	char *p;

	if (day != last_day) {
		date_len = gmtime_r(&t, &tm) != NULL ? strftime(stamp,
		    sizeof(stamp) - 9, "%Y-%m-%dT", &tm) : 0;
		last_day = day;
	}
	*out = stamp;
	if (date_len == 0)
		return 0;
	s = sec - day * 86400;
	p = stamp + date_len;
	p[0] = (char)('0' + s / 36000);
	p[1] = (char)('0' + s / 3600 % 10);
	p[2] = ':';
	p[3] = (char)('0' + s % 3600 / 600);
	p[4] = (char)('0' + s % 3600 / 60 % 10);
	p[5] = ':';
	p[6] = (char)('0' + s % 60 / 10);
	p[7] = (char)('0' + s % 10);
	p[8] = '\0';
	return date_len + 8;
}

int
in_names(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

/*
 * The length of the well-formed UTF-8 sequence at p (shortest form, no
 * surrogates, at most U+10FFFF) and its code point, or 0.
 */
size_t
utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, i;
	uint32_t c;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}
