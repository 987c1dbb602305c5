/* ingest: the HTTP front of postline.  See ingest(8). */
#ifndef POSTLINE_INGEST_H
#define POSTLINE_INGEST_H

#include <pthread.h>
#include <stdint.h>

#include "conf.h"
#include "daemon.h"
#include "record.h"
#include "util.h"

#define INGEST_BODY_MAX		(64 * 1024)
#define INGEST_VALUE_MAX	2048	/* any parameter or header value */
#define INGEST_NAME_MAX		128	/* an unknown parameter's name */
#define INGEST_PARAMS_MAX	100	/* parameters of one request */
#define INGEST_KEY_VALUE_MAX	128	/* event and order_id: part of keys */
#define INGEST_VERDICT_WAIT_MS	2000

/* What to answer; body is one text/plain line unless it is a GIF. */
struct answer {
	int	 status;
	char	*body;
	char	*location;	/* for a 302 */
	const char *allow;	/* for a 405 */
	int	 gif;		/* the 1x1 transparent GIF instead */
};

/* The endpoints of ingest(8). */
enum endpoint {
	EP_NONE,
	EP_CLICK,
	EP_IMPRESSION,
	EP_POSTBACK,
	EP_PIXEL,
	EP_CLICKLESS,
	EP_REJECT,
	EP_HEALTHZ,
};

/* What became of a hit handed to the spool (spool_open's report). */
enum spool_outcome {
	SPOOL_STORED,		/* committed: a click is answered now */
	SPOOL_VERDICT,		/* stored, and the matcher's verdict came */
	SPOOL_NO_VERDICT,	/* stored and synced, no verdict in time */
	SPOOL_FULL,		/* not stored: spool-max or the disk */
	SPOOL_ERROR,		/* not stored: the store failed */
	SPOOL_STOPPING,		/* not stored: ingest is stopping */
};

/* A hit on its way from an HTTP request to the spool. */
struct job {
	void		*cookie;	/* the submitter's, in the report */
	unsigned	 shard;
	int		 conversion;	/* synced before it is answered */
	int		 wait;		/* answered with the verdict */
	int		 refusal;	/* record holds the row of a refused
					   request (inbound.h), not a hit;
					   txid: what it named, cut */
	int64_t		 time_ms;	/* a refusal's, for its row's key */
	struct buf	 record;	/* the encoded hit */
	char		 txid[RECORD_ID_MAX + 1];
	uint64_t	 seq;		/* its spool sequence once stored */
	int64_t		 deadline_ms;	/* when to stop waiting (mono) */
	struct job	*next;
};

/* The state shared by HTTP threads and the spool thread. */
struct ingest {
	struct daemon	*daemon;
	pthread_rwlock_t conf_lock;	/* SIGHUP swaps daemon->conf */
	struct spool	*spool;
	int		 healthy;	/* atomic: the spool takes hits */
	unsigned	 next_shard;	/* clickless spread over shards */
};

/* hit.c: parameters in, a hit (or an immediate answer) out. */
struct request_info {
	enum endpoint	 endpoint;
	struct attrs	*params;	/* decoded query and form fields */
	const char	*client_ip;
	const char	*user_agent;
};

enum endpoint	 endpoint_of(const char *path);
int		 endpoint_allows_post(enum endpoint);
/* Decode an x-www-form-urlencoded body into params; -1 if malformed. */
int		 form_decode(const char *, size_t, struct attrs *);
/* The client's address: the peer's, or X-Forwarded-For's through
 * trusted proxies. */
void		 client_address(const struct conf *, const char *peer,
		    const char *xff, char *out, size_t size);
/*
 * Returns 1 with job->record filled when the hit must be stored (and
 * answer prepared for after the commit), 0 when answer is final now.  A
 * conversion-type request refused is stored too, as the row that
 * report --postbacks lists (job->refusal), its answer final.
 */
int		 hit_handle(struct ingest *, const struct request_info *,
		    struct job *, struct answer *);
/*
 * The row of a conversion-type request refused with ans (answered: the
 * status it got), into job; 0 for other endpoints.
 */
int		 hit_refusal(const struct conf *, const struct request_info *,
		    int64_t time_ms, const struct answer *, int answered,
		    struct job *);

/* answer.c: every answer ingest gives.  The GIF or one text line. */
void	answer_free(struct answer *);	/* and make it empty again */
void	answer_gif(struct answer *);
void	answer_error(struct answer *, int status, const char *word);
void	answer_error_name(struct answer *, int status, const char *word,
	    const char *name);
void	answer_too_many_parameters(struct answer *);
/* 405, with the methods allowed: GET, and POST or HEAD if they are. */
void	answer_method_not_allowed(struct answer *, int post, int head);
/* 302 to location (taken over). */
void	answer_redirect(struct answer *, const char *txid, char *location);
void	answer_accepted(struct answer *, const char *txid);
void	answer_healthz(struct answer *, int healthy);
void	answer_outcome(struct answer *, enum spool_outcome,
	    const struct verdict *, const char *txid);

/*
 * spool.c: the LMDB spool and the hand-off to the matchers.  It never
 * sees a request: it tells what became of each job submitted through
 * report (in the spool's thread; the jobs are freed after), and whether
 * it takes hits through *healthy.
 */
struct spool;
typedef void	(*spool_report_fn)(void *arg, struct job **, size_t n,
		    enum spool_outcome, const struct verdict *);
struct spool	*spool_open(struct daemon *, int *healthy, spool_report_fn,
		    void *arg);
void		 spool_close(struct spool *);
/* From any thread: queue a job for the spool thread (takes ownership). */
void		 spool_submit(struct spool *, struct job *);
/* In the spool's thread: store, hand over, read verdicts, once. */
void		 spool_turn(struct spool *);
/* Once no request comes in: store what is queued, refuse what comes. */
void		 spool_drain(struct spool *);

/* http.c: the only caller of libmicrohttpd. */
struct http;
struct http	*http_start(struct ingest *);
/* Stop accepting new connections. */
void		 http_quiesce(struct http *);
void		 http_stop(struct http *);
/* The spool's report: answer the requests of jobs. */
void		 http_report(void *http, struct job **, size_t n,
		    enum spool_outcome, const struct verdict *);

void		 job_free(struct job *);

/* links.c: ingest -L; the exit status. */
int		 links_print(const struct conf *, const char *offer_id);

#endif
