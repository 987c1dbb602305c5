#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bus.h"
#include "log.h"
#include "wire.h"

struct bus {
	void	*ctx;
};

/*
 * quiet: the socket's last call was a receive that found nothing (or an
 * events check that found no input), which leaves ZeroMQ's mailbox
 * passive: its fd turns readable when anything arrives.  Any other call
 * may take that signal, so a socket that is not quiet is asked first.
 * idle: quiet, and its fd was not readable when bus_poll() last
 * returned: a receive finds nothing without asking ZeroMQ (what comes
 * meanwhile leaves the fd readable for the next bus_poll()).
 */
struct bus_sock {
	void	*sock;
	int	 router;
	int	 fd;
	int	 quiet;
	int	 idle;
	char	*endpoint;
};

struct bus *
bus_new(void)
{
	struct bus *b = xcalloc(1, sizeof(*b));

	b->ctx = zmq_ctx_new();
	if (b->ctx == NULL)
		fatal("event=bus_init error=\"%s\"", zmq_strerror(errno));
	return b;
}

void
bus_free(struct bus *b)
{
	if (b == NULL)
		return;
	zmq_ctx_term(b->ctx);
	free(b);
}

static void
set_int(void *sock, int option, int value)
{
	zmq_setsockopt(sock, option, &value, sizeof(value));
}

/* Options both ends share: see RELIABILITY.md, Library settings. */
static void
set_common(void *sock)
{
	int64_t max = WIRE_MSG_MAX;

	set_int(sock, ZMQ_LINGER, 0);
	set_int(sock, ZMQ_HEARTBEAT_IVL, 2000);
	set_int(sock, ZMQ_HEARTBEAT_TIMEOUT, 6000);
	set_int(sock, ZMQ_HEARTBEAT_TTL, 6000);
	set_int(sock, ZMQ_TCP_KEEPALIVE, 1);
	set_int(sock, ZMQ_TCP_KEEPALIVE_IDLE, 30);
	set_int(sock, ZMQ_TCP_KEEPALIVE_INTVL, 10);
	set_int(sock, ZMQ_TCP_KEEPALIVE_CNT, 3);
	set_int(sock, ZMQ_RECONNECT_IVL, 100);
	set_int(sock, ZMQ_RECONNECT_IVL_MAX, 5000);
	set_int(sock, ZMQ_SNDHWM, 10000);
	set_int(sock, ZMQ_RCVHWM, 10000);
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max));
}

static struct bus_sock *
wrap(void *sock, int router, const char *endpoint)
{
	struct bus_sock *s = xcalloc(1, sizeof(*s));
	size_t size = sizeof(s->fd);

	s->sock = sock;
	s->router = router;
	s->endpoint = xstrdup(endpoint);
	if (zmq_getsockopt(sock, ZMQ_FD, &s->fd, &size) == -1)
		fatal("event=bus_socket error=\"%s\"", zmq_strerror(errno));
	return s;
}

struct bus_sock *
bus_connect(struct bus *b, const char *endpoint, const char *identity)
{
	void *sock = zmq_socket(b->ctx, ZMQ_DEALER);

	if (sock == NULL)
		fatal("event=bus_socket error=\"%s\"", zmq_strerror(errno));
	set_common(sock);
	set_int(sock, ZMQ_IMMEDIATE, 1);
	zmq_setsockopt(sock, ZMQ_ROUTING_ID, identity, strlen(identity));
	if (zmq_connect(sock, endpoint) == -1) {
		log_error("event=bus_connect endpoint=%s error=\"%s\"", endpoint,
		    zmq_strerror(errno));
		zmq_close(sock);
		return NULL;
	}
	return wrap(sock, 0, endpoint);
}

struct bus_sock *
bus_bind(struct bus *b, const char *endpoint)
{
	void *sock = zmq_socket(b->ctx, ZMQ_ROUTER);

	if (sock == NULL)
		fatal("event=bus_socket error=\"%s\"", zmq_strerror(errno));
	set_common(sock);
	set_int(sock, ZMQ_ROUTER_MANDATORY, 1);
	set_int(sock, ZMQ_ROUTER_HANDOVER, 1);
	if (zmq_bind(sock, endpoint) == -1) {
		log_error("event=bus_bind endpoint=%s error=\"%s\"", endpoint,
		    zmq_strerror(errno));
		zmq_close(sock);
		return NULL;
	}
	return wrap(sock, 1, endpoint);
}

void
bus_close(struct bus_sock *s)
{
	if (s == NULL)
		return;
	zmq_close(s->sock);
	free(s->endpoint);
	free(s);
}

int
bus_send(struct bus_sock *s, const char *peer, const void *data, size_t len)
{
	s->quiet = s->idle = 0;
	if (s->router && zmq_send(s->sock, peer, strlen(peer),
	    ZMQ_DONTWAIT | ZMQ_SNDMORE) == -1)
		return -1;
	if (zmq_send(s->sock, data, len, ZMQ_DONTWAIT) == -1)
		return -1;
	return 0;
}

/* Read the rest of a multi-part message that we do not understand. */
static void
drain_parts(void *sock)
{
	int more;
	size_t size = sizeof(more);
	zmq_msg_t part;

	for (;;) {
		if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &size) == -1 ||
		    !more)
			return;
		zmq_msg_init(&part);
		zmq_msg_recv(&part, sock, ZMQ_DONTWAIT);
		zmq_msg_close(&part);
	}
}

static int
recv_part(void *sock, struct buf *out)
{
	zmq_msg_t part;
	int rc;

	zmq_msg_init(&part);
	rc = zmq_msg_recv(&part, sock, ZMQ_DONTWAIT);
	if (rc >= 0) {
		buf_reset(out);
		buf_add(out, zmq_msg_data(&part), zmq_msg_size(&part));
	}
	zmq_msg_close(&part);
	return rc;
}

int
bus_recv(struct bus_sock *s, char *peer, struct buf *msg)
{
	struct buf id;

	if (s->idle)
		return 0;
	s->quiet = 0;
	if (s->router) {
		buf_init(&id);
		if (recv_part(s->sock, &id) == -1) {
			buf_free(&id);
			s->quiet = errno == EAGAIN;
			return s->quiet ? 0 : -1;
		}
		if (id.len > BUS_PEER_MAX) {
			buf_free(&id);
			drain_parts(s->sock);
			return 0;
		}
		memcpy(peer, id.data ? id.data : "", id.len);
		peer[id.len] = '\0';
		buf_free(&id);
	}
	if (recv_part(s->sock, msg) == -1) {
		s->quiet = errno == EAGAIN;
		return s->quiet ? 0 : -1;
	}
	drain_parts(s->sock);
	return 1;
}

/*
 * zmq_poll() asks every socket for its events before and after it
 * sleeps, a few system calls each; here only a socket that is not quiet
 * is asked, and one is asked again only when its fd woke us (a command
 * that is no message wakes it too: then sleep again, for the time left).
 */
int
bus_poll(struct bus_sock **socks, int n, int fd, long timeout_ms,
    int *readable)
{
	struct pollfd pfd[BUS_POLL_MAX + 1];
	int64_t until = timeout_ms > 0 ? mono_ms() + timeout_ms : 0;
	int i, nfd, any = 0, rc;
	long wait = timeout_ms;

	if (n > BUS_POLL_MAX)
		n = BUS_POLL_MAX;
	for (i = 0; i < n; i++) {
		readable[i] = socks[i] != NULL && !socks[i]->quiet &&
		    bus_has_input(socks[i]);
		any |= readable[i];
		pfd[i].fd = socks[i] ? socks[i]->fd : -1;
		pfd[i].events = POLLIN;
	}
	nfd = n;
	if (fd >= 0) {
		pfd[nfd].fd = fd;
		pfd[nfd++].events = POLLIN;
	}
	for (;;) {
		if ((rc = poll(pfd, (nfds_t)nfd, any ? 0 : (int)wait)) == -1)
			return any ? 0 : -1;
		for (i = 0; i < n; i++)
			if (!readable[i] && (pfd[i].revents & POLLIN))
				any |= readable[i] = bus_has_input(socks[i]);
		if (fd >= 0 && (pfd[nfd - 1].revents & POLLIN))
			break;
		if (any || rc == 0 || timeout_ms == 0 || (timeout_ms > 0 &&
		    (wait = (long)(until - mono_ms())) <= 0))
			break;
	}
	for (i = 0; i < n; i++)
		if (socks[i] != NULL)
			socks[i]->idle = socks[i]->quiet;
	return fd >= 0 && (pfd[nfd - 1].revents & POLLIN) != 0;
}

int
bus_fd(struct bus_sock *s)
{
	return s->fd;
}

int
bus_has_input(struct bus_sock *s)
{
	int events = 0;
	size_t size = sizeof(events);

	s->idle = 0;
	if (zmq_getsockopt(s->sock, ZMQ_EVENTS, &events, &size) == -1)
		return s->quiet = 0;
	s->quiet = (events & ZMQ_POLLIN) == 0;
	return !s->quiet;
}
