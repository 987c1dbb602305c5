#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bus.h"
#include "log.h"
#include "wire.h"

struct bus {
	void	*ctx;
};

struct bus_sock {
	void	*sock;
	int	 router;
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

/* Options both ends share: see RELIABILITY-NOTES #24, #30. */
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

	s->sock = sock;
	s->router = router;
	s->endpoint = xstrdup(endpoint);
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

	if (s->router) {
		buf_init(&id);
		if (recv_part(s->sock, &id) == -1) {
			buf_free(&id);
			return errno == EAGAIN ? 0 : -1;
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
	if (recv_part(s->sock, msg) == -1)
		return errno == EAGAIN ? 0 : -1;
	drain_parts(s->sock);
	return 1;
}

int
bus_poll(struct bus_sock **socks, int n, int fd, long timeout_ms,
    int *readable)
{
	zmq_pollitem_t items[BUS_POLL_MAX + 1];
	int i, nitems = 0, rc;

	for (i = 0; i < n && i < BUS_POLL_MAX; i++) {
		items[nitems].socket = socks[i] ? socks[i]->sock : NULL;
		items[nitems].fd = -1;
		items[nitems].events = socks[i] ? ZMQ_POLLIN : 0;
		items[nitems].revents = 0;
		nitems++;
	}
	if (fd >= 0) {
		items[nitems].socket = NULL;
		items[nitems].fd = fd;
		items[nitems].events = ZMQ_POLLIN;
		items[nitems].revents = 0;
		nitems++;
	}
	rc = zmq_poll(items, nitems, timeout_ms);
	if (rc == -1)
		return -1;
	for (i = 0; i < n && i < BUS_POLL_MAX; i++)
		readable[i] = (items[i].revents & ZMQ_POLLIN) != 0;
	return fd >= 0 && (items[nitems - 1].revents & ZMQ_POLLIN) != 0;
}

int
bus_fd(struct bus_sock *s)
{
	int fd = -1;
	size_t size = sizeof(fd);

	zmq_getsockopt(s->sock, ZMQ_FD, &fd, &size);
	return fd;
}

int
bus_has_input(struct bus_sock *s)
{
	int events = 0;
	size_t size = sizeof(events);

	zmq_getsockopt(s->sock, ZMQ_EVENTS, &events, &size);
	return (events & ZMQ_POLLIN) != 0;
}
