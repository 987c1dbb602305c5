/*
 * The only caller of ZeroMQ.  Senders use a DEALER socket per receiver
 * instance, with a stable routing id (the sender id); receivers use a
 * ROUTER that answers each sender by that id.  Settings as RELIABILITY.md
 * (Library settings) explains: LINGER 0, IMMEDIATE, ROUTER_MANDATORY and
 * HANDOVER, heartbeats, a message size cap.  Nothing here is durable:
 * the callers' LMDB outboxes are the queues of record.
 */
#ifndef POSTLINE_BUS_H
#define POSTLINE_BUS_H

#include <stddef.h>

#include "util.h"

#define BUS_PEER_MAX	255

struct bus;
struct bus_sock;

struct bus	*bus_new(void);
void		 bus_free(struct bus *);

/* A DEALER connected to endpoint, known to the receiver as identity. */
struct bus_sock	*bus_connect(struct bus *, const char *endpoint,
		    const char *identity);
/* A ROUTER bound to endpoint; NULL (logged) if it cannot be bound. */
struct bus_sock	*bus_bind(struct bus *, const char *endpoint);
void		 bus_close(struct bus_sock *);

/*
 * Send one message without blocking; on a ROUTER, to peer.  Returns 0,
 * or -1 when it cannot be queued now (high-water mark, unknown peer).
 */
int	bus_send(struct bus_sock *, const char *peer, const void *, size_t);
/*
 * Receive one message without blocking: 1 and the message (and, on a
 * ROUTER, its peer) when there was one, 0 when none, -1 on error.
 */
int	bus_recv(struct bus_sock *, char *peer, struct buf *msg);

/* For loops that wait elsewhere (curl): the socket's fd, edge-triggered,
 * and whether input is waiting now. */
int	bus_fd(struct bus_sock *);
int	bus_has_input(struct bus_sock *);

#define BUS_POLL_MAX	64

/*
 * Wait up to timeout_ms (-1: forever) for input on the sockets or on fd
 * (-1: none).  readable[i] tells which sockets have input; the return is
 * -1 on error (EINTR included), else whether fd is readable.
 */
int	bus_poll(struct bus_sock **, int n, int fd, long timeout_ms,
	    int *readable);

#endif
