/*
 * Small helpers every program uses: allocation that aborts on failure,
 * a growable byte buffer, clocks, and the duration and size syntax of
 * postline.conf(5).
 */
#ifndef POSTLINE_UTIL_H
#define POSTLINE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#endif

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) PRINTF_LIKE(1, 2);
char	*xvasprintf(const char *, va_list) PRINTF_LIKE(1, 0);

/* A growable byte buffer; data is always NUL-terminated for convenience. */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
void	 buf_reserve(struct buf *, size_t);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_addc(struct buf *, char);
void	 buf_adds(struct buf *, const char *);
void	 buf_printf(struct buf *, const char *, ...) PRINTF_LIKE(2, 3);
void	 buf_vprintf(struct buf *, const char *, va_list) PRINTF_LIKE(2, 0);
char	*buf_release(struct buf *);

/* A list of strings, each owned by the list. */
struct strlist {
	char	**v;
	size_t	  n;
};

void	 strlist_add(struct strlist *, const char *);
int	 strlist_has(const struct strlist *, const char *);
void	 strlist_free(struct strlist *);

/* Clocks in milliseconds: wall time since the epoch, and monotonic time. */
int64_t	 now_ms(void);
int64_t	 mono_ms(void);
/* Monotonic time in seconds, to the nanosecond: for timing (bench/). */
double	 mono_seconds(void);
/*
 * A loop that calls this each round runs at most one round per min_us:
 * it sleeps out the rest since *last (then set to now), so that what
 * comes meanwhile is taken in one round rather than many.
 */
void	 pace(struct timespec *last, int64_t min_us);
/*
 * A UTC second as YYYY-MM-DDTHH:MM:SS in *out, formatted once a second
 * (per thread: log lines and logview rows come in time order); its
 * length, 0 when it cannot be formatted (past year 9999).
 */
size_t	 utc_second(int64_t sec, const char **out);

/*
 * "500ms 30s 10m 2h 30d" (a bare number is seconds) into milliseconds;
 * "64M 4G 512K 100" (bytes, binary units) into bytes.  Return 0 or -1.
 */
int	 parse_duration_ms(const char *, int64_t *);
int	 parse_size(const char *, uint64_t *);
/* A non-negative decimal integer that fits in the given maximum. */
int	 parse_uint(const char *, uint64_t, uint64_t *);
/* v in decimal into dst (at least 21 bytes), for hot paths: no printf. */
void	 int_text(char *dst, int64_t v);
/* A decimal amount such as "12.50" or "-3": digits, one dot, a sign. */
int	 valid_amount(const char *);
/* Whether name is one of list, which NULL ends. */
int	 in_names(const char *const *list, const char *name);
/*
 * The length of the well-formed UTF-8 sequence at p, of at most n bytes
 * (shortest form, no surrogates, at most U+10FFFF), and its code point;
 * 0 if there is none.
 */
size_t	 utf8_seq(const unsigned char *p, size_t n, uint32_t *cp);

/* The value of a hexadecimal digit, or -1. */
int	 hex_value(int);

struct sockaddr_storage;
/* "127.0.0.1:8080", "[::1]:8080", "localhost:80" into an address. */
int	 parse_hostport(const char *, struct sockaddr_storage *,
	    unsigned *len);

/* Constant-time comparison of two NUL-terminated secrets. */
int	 secret_equal(const char *, const char *);

/* Random bytes from the kernel; aborts if the kernel cannot provide them. */
void	 random_bytes(void *, size_t);

/*
 * FNV-1a, 64 bits: fnv1a(FNV1A_INIT, p, n), or go on from an earlier
 * result.  For hash tables and ids, not against an adversary.
 */
#define FNV1A_INIT	0xcbf29ce484222325ULL
uint64_t fnv1a(uint64_t, const void *, size_t);

/*
 * The same use, eight bytes a step: for keys of tens of bytes or more
 * on a hot path (a User-Agent), where FNV-1a's multiply per byte shows.
 * Its value depends on the machine's byte order.
 */
uint64_t hash_words(uint64_t, const void *, size_t);

/*
 * An eventfd that wakes a thread: eventfd_wake() makes it readable,
 * eventfd_clear() empties it; -1 (errno set) on an error other than
 * EAGAIN.
 */
int	 eventfd_wake(int);
int	 eventfd_clear(int);

#endif
