/* firer: delivers affiliate and CRM postbacks.  See firer(8). */
#ifndef POSTLINE_FIRER_H
#define POSTLINE_FIRER_H

#include <stdint.h>

#include "conf.h"
#include "daemon.h"
#include "logdb.h"
#include "record.h"
#include "retain.h"
#include "store.h"

enum {
	DB_SENDERS,		/* sender id -> highest seq applied */
	DB_DELIVERIES,		/* postback id -> delivery */
	DB_SCHEDULE,		/* due_ms (be64) | postback id -> empty */
	DB_LOG,			/* see logdb.h */
	DB_LOG_TX,
	DB_META,
	DB_DEAD,		/* messages that could not be decoded */
	DB_RULES,		/* rule version id -> rule */
	DB_STATE,		/* conversion -> its latest status */
	DB_INFLIGHT,		/* postback id -> attempt on the wire */
	DB_COUNT
};

#define QUEUE_KEY_LEN	LOGDB_SCHED_KEY_LEN

/* A request ready to send. */
struct postback_request {
	char		*url;
	int		 post;
	char		**headers;	/* "Name: value" */
	size_t		 nheaders;
	struct buf	 body;
	int64_t		 timeout_ms;
};

void	request_free(struct postback_request *);

struct queue;

/* rules.c */
int	rule_matches(const struct rule *, const struct event *);
void	rule_build(const struct rule *, const struct delivery *,
	    struct postback_request *);
/*
 * Rule versions: a delivery keeps the rule as it was when it was made.
 * rule_encode() writes the sending part of a rule and its status filter,
 * rule_decode() compiles it back, rule_version_id() names an encoding.
 * A version stored without the filter has status RULE_STATUS_OWN: the
 * status of its delivery's event.
 */
#define RULE_STATUS_OWN	(-1)
void	rule_encode(struct buf *, const struct rule *);
int	rule_decode(const void *, size_t, struct rule *);
void	rule_version_id(const struct buf *, char *id);
/*
 * What an attempt's outcome means (enum attempt_result), and when to try
 * again (*next, or -1).  r may be NULL: a rule version that is gone.
 */
struct outcome;
int	rule_outcome(const struct rule *r, const struct outcome *,
	    uint32_t attempt, int64_t now, int64_t *next);

/* The host a rule's requests go to (fixed: no macro in the host), and
 * its hash (never 0). */
char	*rule_host(const struct rule *);
uint64_t rule_host_hash(const struct rule *);
/* The delay before attempt n (from 1), or -1 when there is none. */
int64_t	rule_retry_delay(const struct rule *, uint32_t attempt);

/* queue.c: the firer's LMDB (deliveries, schedule, attempt log). */
struct queue	*queue_open(struct daemon *);
void		 queue_close(struct queue *);
struct store	*queue_store(struct queue *);
/*
 * In the caller's write transaction: a new delivery of ev by rule; ev is
 * the record seq of sender, which with the rule makes the postback_id.
 */
int		 queue_add(struct queue *, struct store_txn *,
		    const struct rule *, const struct event *,
		    const char *sender, uint64_t seq);
/*
 * Due deliveries (due_ms <= now), oldest first: look() sees each one's
 * id and host hash (0: unknown) and says whether to read it; take() gets
 * those read, and keeps them (QUEUE_TAKE) or not.  Either may say
 * QUEUE_STOP.  Returns how many were taken.
 */
enum { QUEUE_TAKE, QUEUE_SKIP, QUEUE_STOP };
struct queue_scan {
	int	(*look)(void *, const char *postback_id, uint64_t host_hash);
	int	(*take)(void *, struct delivery *);
	void	*arg;
};
int		 queue_due(struct queue *, int64_t now,
		    const struct queue_scan *);
/*
 * Store the version of rule r (in the caller's write transaction) and
 * write its id; get a version back, compiled, kept until queue_close().
 */
int		 queue_rule_put(struct queue *, struct store_txn *,
		    const struct rule *, char *id);
const struct rule *queue_rule(struct queue *, const char *id);
/* The latest status of an event's conversion (0: unknown). */
int		 queue_set_state(struct queue *, struct store_txn *,
		    const struct event *);
int		 queue_state(struct queue *, const struct event *);
/* Note requests as on the wire (in the caller's write transaction); at
 * start, log leftovers interrupted. */
int		 queue_flying(struct queue *, struct store_txn *,
		    struct delivery **, int, int64_t now);
int		 queue_recover(struct queue *);
/* firer -R: schedule a known delivery again at now. */
int		 queue_replay(struct store_txn *, const char *postback_id,
		    int64_t now);
/* Deliveries scheduled; the due time of the first, or -1 if none. */
uint64_t	 queue_depth(struct queue *, int64_t *first_due_ms);
/*
 * Kinds of retention (retain.h), all by retention logs: the attempt log,
 * finished deliveries and conversion states.
 */
int		 queue_prune_log(void *, struct store_txn *,
		    struct retain_slice *);
int		 queue_prune_deliveries(void *, struct store_txn *,
		    struct retain_slice *);
int		 queue_prune_states(void *, struct store_txn *,
		    struct retain_slice *);
/* One attempt ended: log it, then drop or reschedule the delivery. */
int		 queue_finish(struct queue *, struct store_txn *,
		    const struct delivery *, struct attempt *,
		    int64_t next_due_ms, uint64_t host_hash);

/*
 * engine.c: the delivery engine.  engine_run() serves the matchers'
 * events on router until the daemon is asked to stop, then lets what is
 * on the wire land (the rest stays scheduled).
 */
struct engine;
struct bus_sock;

struct engine	*engine_new(struct daemon *, struct queue *);
void		 engine_run(struct engine *, struct bus_sock *router);
void		 engine_free(struct engine *);

/* replay.c: firer -R; 0 when every id read was queued. */
int		 replay(const struct conf *);

/* testfire.c: firer -t; 0 on a 2xx answer, 1 otherwise, 2 on misuse. */
int		 testfire(const struct conf *, const char *rule, char **pairs,
		    int npairs, int dry_run);

/* deliver.c: the only caller of libcurl. */
struct deliverer;

struct outcome {
	void		*cookie;
	int		 http_status;	/* 0: no response */
	int		 curl_failed;	/* network error or timeout */
	char		 error[256];
	char		 snippet[513];	/* first bytes of the response */
	int64_t		 latency_ms;
	int64_t		 retry_after_ms; /* asked by Retry-After, or 0 */
	int		 cancelled;	/* not sent: the condition is gone */
};

struct deliverer *deliver_new(void);
void		 deliver_free(struct deliverer *);
int		 deliver_start(struct deliverer *, const struct postback_request *,
		    void *cookie);
/* Run transfers; wait up to timeout_ms for them or for fd. */
void		 deliver_wait(struct deliverer *, int fd, long timeout_ms);
/* 1 and an outcome when a transfer ended, else 0. */
int		 deliver_done(struct deliverer *, struct outcome *);
int		 deliver_running(struct deliverer *);
/* Stop a transfer, without an outcome: its cookie, or NULL when none. */
void		*deliver_cancel(struct deliverer *);

/*
 * sender.c: the thread that sends.  sender_send() hands it requests
 * (kept by the caller until their outcome is back), to be sent at most
 * cap at once for each host (any pointer naming it), sender_take() gives
 * up to max outcomes back, each with its cookie; sender_fd() is readable
 * when there are some.  sender_stop() lets transfers end until
 * deadline_ms, then drops the rest.
 */
struct sender;

struct sender	*sender_start(void);
void		 sender_send(struct sender *, const struct postback_request **,
		    void **cookies, const void **hosts, int cap, int n);
int		 sender_fd(const struct sender *);
int		 sender_take(struct sender *, struct outcome *, int max);
void		 sender_stop(struct sender *, int64_t deadline_ms);

#endif
