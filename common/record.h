/*
 * The records postline passes between processes and keeps in LMDB: hits
 * (ingest -> matcher), events (matcher -> firer), verdicts (in acks back
 * to ingest) and delivery attempts (the firer's log, read by logview).
 * Each encoding starts with a record version byte, so that what is
 * stored today can be read after an upgrade.
 */
#ifndef POSTLINE_RECORD_H
#define POSTLINE_RECORD_H

#include <stdint.h>

#include "util.h"
#include "wire.h"

#define RECORD_VERSION	1
#define RECORD_ID_MAX	32	/* transaction and postback ids */
#define RECORD_NAME_MAX	256	/* attribute names */
#define RECORD_VALUE_MAX 8192	/* attribute values */
#define RECORD_ATTRS_MAX 256

/* Named values: a hit's parameters, an event's macro values. */
struct attr {
	char	*name;
	char	*value;
	uint8_t	 code;		/* its one-byte code on the wire, or 0 */
};

struct attrs {
	struct attr	*v;
	size_t		 n;
	size_t		 cap;
};

void		 attrs_init(struct attrs *);
void		 attrs_free(struct attrs *);
/* Replace the value of name, or append it. */
void		 attrs_set(struct attrs *, const char *name, const char *value);
const char	*attrs_get(const struct attrs *, const char *name);
void		 attrs_copy(struct attrs *dst, const struct attrs *src);

enum hit_kind {
	HIT_CLICK = 1,
	HIT_IMPRESSION,
	HIT_POSTBACK,
	HIT_PIXEL,
	HIT_CLICKLESS,
	HIT_REJECT,
	HIT_KIND_END
};

const char	*hit_kind_name(int);
/* Conversion-type hits are synced to disk before they are answered. */
int		 hit_kind_is_conversion(int);

struct hit {
	uint8_t		 kind;
	int64_t		 time_ms;
	char		 txid[RECORD_ID_MAX + 1];
	struct attrs	 attrs;
};

void	hit_init(struct hit *);
void	hit_free(struct hit *);
void	record_put_hit(struct buf *, const struct hit *);
int	record_get_hit(struct wire_reader *, struct hit *);

/* The "type" of an event, as postback rules and logview name it. */
enum event_type {
	EVENT_CLICK = 1,
	EVENT_IMPRESSION,
	EVENT_CONVERSION,
	EVENT_EVENT,
	EVENT_TYPE_END
};

const char	*event_type_name(int);
int		 event_type_parse(const char *);

enum status {
	STATUS_APPROVED = 1,
	STATUS_PENDING,
	STATUS_REJECTED,
	STATUS_END
};

const char	*status_name(int);
int		 status_parse(const char *);

/* What /postback and /pixel take, by our names; NULL ends it. */
extern const char *const record_postback_params[];
/* The first amount or status of a conversion that is not valid, or NULL. */
const char	*record_bad_value(const struct attrs *);

struct event {
	uint8_t		 type;
	uint8_t		 status;
	int64_t		 time_ms;
	char		 txid[RECORD_ID_MAX + 1];
	struct attrs	 attrs;		/* every macro value known */
};

void	event_init(struct event *);
void	event_free(struct event *);
void	record_put_event(struct buf *, const struct event *);
int	record_get_event(struct wire_reader *, struct event *);

/*
 * An event read in place, for readers of many (report): the values of
 * its attributes that have a code (record_attr_code), pointing into the
 * record with their lengths, not NUL-ended; other names are passed over.
 * A value is not checked for NUL bytes (a reader goes by its length).
 */
#define RECORD_ATTR_CODES	64
struct span {
	const char	*p;		/* NULL: absent */
	size_t		 n;
};
struct event_scan {
	uint8_t		 type;
	uint8_t		 status;
	int64_t		 time_ms;
	struct span	 txid;
	struct span	 attr[RECORD_ATTR_CODES];
};
int	record_scan_event(const void *, size_t, struct event_scan *);
/* The code of an attribute name, 0 if it has none. */
int	record_attr_code(const char *name);

/* What the matcher decided about one hit, sent back in an ack. */
enum verdict_result {
	VERDICT_STORED = 1,	/* a click or impression, kept */
	VERDICT_APPROVED,
	VERDICT_PENDING,
	VERDICT_REJECTED,
	VERDICT_HELD,		/* not decided yet (waiting for its click) */
	VERDICT_END
};

const char	*verdict_name(int);

#define VERDICT_REASON_MAX 128

struct verdict {
	uint64_t	 seq;
	uint8_t		 result;
	char		 reason[VERDICT_REASON_MAX + 1];
	char		 txid[RECORD_ID_MAX + 1];
};

void	record_put_verdict(struct buf *, const struct verdict *);
int	record_get_verdict(struct wire_reader *, struct verdict *);

/* A postback to deliver: one rule applied to one event (the firer's). */
#define RULE_VERSION_LEN	16

struct delivery {
	char		 postback_id[RECORD_ID_MAX + 1];
	char		*rule;
	char		 rule_version[RULE_VERSION_LEN + 1];
	uint32_t	 attempt;	/* the next attempt, from 1 */
	int64_t		 due_ms;	/* -1: done (kept for replay) */
	struct event	 event;
};

void	delivery_init(struct delivery *);
void	delivery_free(struct delivery *);
void	record_put_delivery(struct buf *, const struct delivery *);
int	record_get_delivery(struct wire_reader *, struct delivery *);

enum attempt_result {
	ATTEMPT_OK = 1,
	ATTEMPT_RETRY,
	ATTEMPT_FAILED,
	ATTEMPT_CANCELLED,
	ATTEMPT_INTERRUPTED,
	ATTEMPT_RESULT_END
};

const char	*attempt_result_name(int);
int		 attempt_result_parse(const char *);

/* One delivery attempt in the firer's log: the columns of logview(1). */
struct attempt {
	int64_t		 time_ms;
	char		 postback_id[RECORD_ID_MAX + 1];
	uint32_t	 attempt;
	uint8_t		 result;
	uint16_t	 http_status;
	uint32_t	 latency_ms;
	uint8_t		 type;
	char		*rule;
	char		*offer_id;
	char		*publisher;
	char		*txid;
	char		*url;
	char		*error;
	char		*strings;	/* decoded: the six above, one block */
};

void	attempt_init(struct attempt *);
void	attempt_free(struct attempt *);
void	record_put_attempt(struct buf *, const struct attempt *);
int	record_get_attempt(struct wire_reader *, struct attempt *);

#endif
