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

void	answer_set(struct answer *, int status, const char *fmt, ...)
	    PRINTF_LIKE(3, 4);
void	answer_gif(struct answer *);
/* Free what it holds and make it empty again (no status, no GIF). */
void	answer_free(struct answer *);

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

/* A hit on its way from an HTTP request to the spool. */
struct job {
	struct request	*req;		/* http.c's, answered when done */
	unsigned	 shard;
	int		 conversion;	/* synced before it is answered */
	int		 wait;		/* answered with the verdict */
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
	unsigned	 next_shard;	/* clicks spread over shards */
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
 * answer prepared for after the commit), 0 when answer is final now.
 */
int		 hit_handle(struct ingest *, const struct request_info *,
		    struct job *, struct answer *);

/* http.c: the only caller of libmicrohttpd. */
struct http;
struct http	*http_start(struct ingest *);
/* Stop accepting new connections. */
void		 http_quiesce(struct http *);
void		 http_stop(struct http *);
/* The hit of this request is stored: answer what was prepared. */
void		 http_stored(struct request *);
/* The same for requests that wait in their thread, in one wake-up. */
void		 http_stored_group(struct request **, size_t);
/* Answer now with status and a text line. */
void		 http_answer(struct request *, int status, const char *body);

/* spool.c: the LMDB spool and the hand-off to the matchers. */
struct spool;
struct spool	*spool_open(struct daemon *);
void		 spool_close(struct spool *);
/* From any thread: queue a job for the spool thread (takes ownership). */
void		 spool_submit(struct spool *, struct job *);
/* Whether hits can be accepted now. */
int		 spool_healthy(struct spool *);
/* The spool thread's loop; returns when daemon_stopping and drained. */
void		 spool_run(struct spool *, struct ingest *, struct http *);

void		 job_free(struct job *);

/* links.c: ingest -L; the exit status. */
int		 links_print(const struct conf *, const char *offer_id);

#endif
