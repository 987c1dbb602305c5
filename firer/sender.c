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
#include "log.h"

#define SENDER_POLL_MS	100
#define SENDER_MAX	256	/* transfers at once, in all */
#define LANE_BUCKETS	64

struct lane;

struct job {
	const struct request	*req;
	void			*cookie;
	const void		*host;	/* the lane it goes in */
	int			 cap;	/* at most this many of its lane at once */
	struct lane		*lane;
	struct outcome		 outcome;
	struct job		*next;
};

/* The requests to one host: those waiting, and how many are sent. */
struct lane {
	const void	*host;
	int		 sending;
	struct job	*head;
	struct job	*tail;
	struct lane	*hnext;
	struct lane	*next;		/* in lanes.all */
};

struct lanes {
	struct lane	*by_host[LANE_BUCKETS];
	struct lane	*all;
	int		 sending;	/* in all lanes */
};

struct queue {
	struct job	*head;
	struct job	*tail;
	int		 fd;		/* readable when head was set */
};

struct sender {
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	struct queue	 todo;		/* to send: main thread -> sender */
	struct queue	 done;		/* outcomes: sender -> main thread */
	int		 stopping;	/* send what is queued, then end */
	int64_t		 deadline_ms;	/* give up on transfers after this */
};

static void
wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("event=wake error=\"%s\"", strerror(errno));
}

static void
drain_fd(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("event=wake error=\"%s\"", strerror(errno));
}

/* Append a chain of jobs (under the lock); 1 when the queue was empty. */
static int
push(struct queue *q, struct job *first, struct job *last)
{
	int was_empty = q->head == NULL;

	last->next = NULL;
	if (q->tail)
		q->tail->next = first;
	else
		q->head = first;
	q->tail = last;
	return was_empty;
}

/* Take the whole queue; its fd is read first, so nothing is missed. */
static struct job *
take(struct sender *s, struct queue *q)
{
	struct job *jobs;

	drain_fd(q->fd);
	pthread_mutex_lock(&s->lock);
	jobs = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&s->lock);
	return jobs;
}

static void
publish(struct sender *s, struct job *first, struct job *last)
{
	int was_empty;

	if (first == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	was_empty = push(&s->done, first, last);
	pthread_mutex_unlock(&s->lock);
	if (was_empty)
		wake(s->done.fd);
}

static void
not_started(struct job *job)
{
	memset(&job->outcome, 0, sizeof(job->outcome));
	snprintf(job->outcome.snippet, sizeof(job->outcome.snippet), "%s",
	    "could not start the request");
}

static struct lane *
lane_of(struct lanes *ls, const void *host)
{
	unsigned b = (unsigned)((uintptr_t)host / sizeof(void *) %
	    LANE_BUCKETS);
	struct lane *l;

	for (l = ls->by_host[b]; l; l = l->hnext)
		if (l->host == host)
			return l;
	l = xcalloc(1, sizeof(*l));
	l->host = host;
	l->hnext = ls->by_host[b];
	ls->by_host[b] = l;
	l->next = ls->all;
	ls->all = l;
	return l;
}

/* The lanes, and the requests still waiting in them. */
static void
lanes_free(struct lanes *ls)
{
	struct lane *l;
	struct job *job;

	while ((l = ls->all) != NULL) {
		ls->all = l->next;
		while ((job = l->head) != NULL) {
			l->head = job->next;
			free(job);
		}
		free(l);
	}
}

/* Outcomes gathered in a turn, published together. */
struct batch {
	struct job	*first;
	struct job	*last;
};

static void
batch_add(struct batch *b, struct job *job)
{
	job->next = b->first;
	b->first = job;
	if (b->last == NULL)
		b->last = job;
}

/* Start what the lanes' caps allow. */
static void
start_lanes(struct deliverer *d, struct lanes *ls, struct batch *b)
{
	struct lane *l;
	struct job *job;

	for (l = ls->all; l; l = l->next)
		while ((job = l->head) != NULL && l->sending < job->cap &&
		    ls->sending < SENDER_MAX) {
			if ((l->head = job->next) == NULL)
				l->tail = NULL;
			if (deliver_start(d, job->req, job) == 0) {
				l->sending++;
				ls->sending++;
			} else {
				not_started(job);
				batch_add(b, job);
			}
		}
}

static void
enqueue(struct lanes *ls, struct job *jobs)
{
	struct job *job, *next;
	struct lane *l;

	for (job = jobs; job; job = next) {
		next = job->next;
		l = job->lane = lane_of(ls, job->host);
		job->next = NULL;
		if (l->tail)
			l->tail->next = job;
		else
			l->head = job;
		l->tail = job;
	}
}

static void *
sender_main(void *arg)
{
	struct sender *s = arg;
	struct deliverer *d = deliver_new();
	struct lanes ls;
	struct batch b;
	struct job *job;
	struct outcome o;
	int stopping;

	memset(&ls, 0, sizeof(ls));
	for (;;) {
		deliver_wait(d, s->todo.fd, SENDER_POLL_MS);
		b.first = b.last = NULL;
		enqueue(&ls, take(s, &s->todo));
		while (deliver_done(d, &o)) {
			job = o.cookie;
			job->outcome = o;
			job->lane->sending--;
			ls.sending--;
			batch_add(&b, job);
		}
		start_lanes(d, &ls, &b);
		publish(s, b.first, b.last);
		pthread_mutex_lock(&s->lock);
		stopping = s->stopping && s->todo.head == NULL;
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
sender_send(struct sender *s, const struct request **reqs, void **cookies,
    const void **hosts, int cap, int n)
{
	struct job *first = NULL, *last = NULL, *job;
	int i, was_empty;

	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		job = xcalloc(1, sizeof(*job));
		job->req = reqs[i];
		job->cookie = cookies[i];
		job->host = hosts[i];
		job->cap = cap;
		if (last)
			last->next = job;
		else
			first = job;
		last = job;
	}
	pthread_mutex_lock(&s->lock);
	was_empty = push(&s->todo, first, last);
	pthread_mutex_unlock(&s->lock);
	if (was_empty)
		wake(s->todo.fd);
}

int
sender_fd(const struct sender *s)
{
	return s->done.fd;
}

int
sender_take(struct sender *s, struct outcome *out, int max)
{
	struct job *job;
	int n = 0;

	drain_fd(s->done.fd);
	pthread_mutex_lock(&s->lock);
	while (n < max && (job = s->done.head) != NULL) {
		if ((s->done.head = job->next) == NULL)
			s->done.tail = NULL;
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
	struct job *job;

	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	s->deadline_ms = deadline_ms;
	pthread_mutex_unlock(&s->lock);
	wake(s->todo.fd);
	pthread_join(s->thread, NULL);
	while ((job = s->done.head) != NULL) {
		s->done.head = job->next;
		free(job);
	}
	close(s->todo.fd);
	close(s->done.fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
