/*
 * The sending thread: it alone drives libcurl (deliver.c).  The firer's
 * main thread keeps the store (events, schedule, attempt log) and hands
 * it requests already noted as on the wire; the outcomes come back the
 * same way.  Two queues under one lock, each with an eventfd that only
 * the item finding its queue empty writes.  So the store's work and the
 * network's run on two cores, and neither waits for the other's turn.
 *
 * Requests come a little ahead of the slots of their host: each host
 * (a lane) sends at most its cap at once, and the next request starts
 * the moment one ends, without a round trip through the main thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "firer.h"
#include "htab.h"
#include "log.h"

#define SENDER_POLL_MS	100
#define SENDER_MAX	256	/* transfers at once, in all */

struct lane;

struct send_job {
	const struct postback_request	*req;
	void			*cookie;
	const void		*host;	/* the lane it goes in */
	int			 cap;	/* at most this many of its lane at once */
	struct lane		*lane;
	struct outcome		 outcome;
	struct send_job		*next;
};

/* Jobs in order: the queues between the threads, and each lane's. */
struct send_jobs {
	struct send_job	*head;
	struct send_job	*tail;
};

/* The requests to one host: those waiting, and how many are sent. */
struct lane {
	const void	*host;
	int		 sending;
	struct send_jobs	 waiting;
	struct htab_node node;		/* in by_host */
	struct lane	*next;		/* in lanes.all */
};

struct lanes {
	struct htab	 by_host;
	struct lane	*all;
	int		 sending;	/* in all lanes */
};

struct queue {
	struct send_jobs	 jobs;
	int		 fd;		/* readable when jobs was empty */
};

struct sender {
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	struct queue	 todo;		/* to send: main thread -> sender */
	struct queue	 done;		/* outcomes: sender -> main thread */
	int		 stopping;	/* send what is queued, then end */
	int64_t		 deadline_ms;	/* give up on transfers after this */
};

/* Append the chain first..last; 1 when the list was empty. */
static int
jobs_append(struct send_jobs *l, struct send_job *first, struct send_job *last)
{
	int was_empty = l->head == NULL;

	last->next = NULL;
	if (l->tail)
		l->tail->next = first;
	else
		l->head = first;
	l->tail = last;
	return was_empty;
}

static struct send_job *
jobs_pop(struct send_jobs *l)
{
	struct send_job *job = l->head;

	if (job != NULL && (l->head = job->next) == NULL)
		l->tail = NULL;
	return job;
}

static void
jobs_free(struct send_jobs *l)
{
	struct send_job *job;

	while ((job = jobs_pop(l)) != NULL)
		free(job);
}

/*
 * Hand a chain of jobs to the other thread; only the chain that finds
 * the queue empty wakes it, which reads the wake-up before it takes.
 */
static void
hand(struct sender *s, struct queue *q, struct send_jobs *chain)
{
	int was_empty;

	if (chain->head == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	was_empty = jobs_append(&q->jobs, chain->head, chain->tail);
	pthread_mutex_unlock(&s->lock);
	if (was_empty && eventfd_wake(q->fd) == -1)
		log_warn("event=wake error=\"%s\"", strerror(errno));
}

static void
clear(int fd)
{
	if (eventfd_clear(fd) == -1)
		log_warn("event=wake error=\"%s\"", strerror(errno));
}

/* Take the whole queue; its fd is read first, so nothing is missed. */
static struct send_job *
take(struct sender *s, struct queue *q)
{
	struct send_job *jobs;

	clear(q->fd);
	pthread_mutex_lock(&s->lock);
	jobs = q->jobs.head;
	q->jobs.head = q->jobs.tail = NULL;
	pthread_mutex_unlock(&s->lock);
	return jobs;
}

static void
not_started(struct send_job *job)
{
	memset(&job->outcome, 0, sizeof(job->outcome));
	snprintf(job->outcome.snippet, sizeof(job->outcome.snippet), "%s",
	    "could not start the request");
}

static struct lane *
lane_of(struct lanes *ls, const void *host)
{
	uint64_t h = fnv1a(FNV1A_INIT, &host, sizeof(host));
	struct htab_node *n;
	struct lane *l;

	for (n = htab_find(&ls->by_host, h); n != NULL; n = htab_next(n, h))
		if ((l = htab_entry(n, struct lane, node))->host == host)
			return l;
	l = xcalloc(1, sizeof(*l));
	l->host = host;
	htab_add(&ls->by_host, &l->node, h);
	l->next = ls->all;
	ls->all = l;
	return l;
}

/* The lanes, and the requests still waiting in them. */
static void
lanes_free(struct lanes *ls)
{
	struct lane *l;

	while ((l = ls->all) != NULL) {
		ls->all = l->next;
		jobs_free(&l->waiting);
		free(l);
	}
	htab_free(&ls->by_host);
}

/* Start what the lanes' caps allow; those that cannot start go to done. */
static void
start_lanes(struct deliverer *d, struct lanes *ls, struct send_jobs *done)
{
	struct lane *l;
	struct send_job *job;

	for (l = ls->all; l; l = l->next)
		while (l->waiting.head != NULL &&
		    l->sending < l->waiting.head->cap &&
		    ls->sending < SENDER_MAX) {
			job = jobs_pop(&l->waiting);
			if (deliver_start(d, job->req, job) == 0) {
				l->sending++;
				ls->sending++;
			} else {
				not_started(job);
				jobs_append(done, job, job);
			}
		}
}

static void
enqueue(struct lanes *ls, struct send_job *jobs)
{
	struct send_job *job, *next;

	for (job = jobs; job; job = next) {
		next = job->next;
		job->lane = lane_of(ls, job->host);
		jobs_append(&job->lane->waiting, job, job);
	}
}

static void *
sender_main(void *arg)
{
	struct sender *s = arg;
	struct deliverer *d = deliver_new();
	struct lanes ls;
	struct send_jobs done;
	struct send_job *job;
	struct outcome o;
	int stopping;

	memset(&ls, 0, sizeof(ls));
	htab_init(&ls.by_host);
	for (;;) {
		deliver_wait(d, s->todo.fd, SENDER_POLL_MS);
		done.head = done.tail = NULL;
		enqueue(&ls, take(s, &s->todo));
		while (deliver_done(d, &o)) {
			job = o.cookie;
			job->outcome = o;
			job->lane->sending--;
			ls.sending--;
			jobs_append(&done, job, job);
		}
		start_lanes(d, &ls, &done);
		hand(s, &s->done, &done);
		pthread_mutex_lock(&s->lock);
		stopping = s->stopping && s->todo.jobs.head == NULL;
		pthread_mutex_unlock(&s->lock);
		if (stopping && (deliver_running(d) == 0 ||
		    mono_ms() >= s->deadline_ms))
			break;
	}
	/*
	 * What is still on the wire or waiting in a lane is dropped: it
	 * stays scheduled, and noted as on the wire.
	 */
	while ((job = deliver_cancel(d)) != NULL)
		free(job);
	deliver_free(d);
	lanes_free(&ls);
	return NULL;
}

struct sender *
sender_start(void)
{
	struct sender *s = xcalloc(1, sizeof(*s));
	int rc;

	pthread_mutex_init(&s->lock, NULL);
	if ((s->todo.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (s->done.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("event=start error=\"eventfd: %s\"", strerror(errno));
	if ((rc = pthread_create(&s->thread, NULL, sender_main, s)) != 0)
		fatal("event=start error=\"sending thread: %s\"", strerror(rc));
	return s;
}

void
sender_send(struct sender *s, const struct postback_request **reqs,
    void **cookies, const void **hosts, int cap, int n)
{
	struct send_jobs chain = { NULL, NULL };
	struct send_job *job;
	int i;

	for (i = 0; i < n; i++) {
		job = xcalloc(1, sizeof(*job));
		job->req = reqs[i];
		job->cookie = cookies[i];
		job->host = hosts[i];
		job->cap = cap;
		jobs_append(&chain, job, job);
	}
	hand(s, &s->todo, &chain);
}

int
sender_fd(const struct sender *s)
{
	return s->done.fd;
}

int
sender_take(struct sender *s, struct outcome *out, int max)
{
	struct send_job *job;
	int n = 0;

	clear(s->done.fd);
	pthread_mutex_lock(&s->lock);
	while (n < max && (job = jobs_pop(&s->done.jobs)) != NULL) {
		out[n] = job->outcome;
		out[n++].cookie = job->cookie;
		free(job);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

void
sender_stop(struct sender *s, int64_t deadline_ms)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	s->deadline_ms = deadline_ms;
	pthread_mutex_unlock(&s->lock);
	if (eventfd_wake(s->todo.fd) == -1)
		log_warn("event=wake error=\"%s\"", strerror(errno));
	pthread_join(s->thread, NULL);
	jobs_free(&s->done.jobs);
	close(s->todo.fd);
	close(s->done.fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
