/*
 * Unit test of common/bus.c's bus_poll() on a real ZeroMQ pair (ipc in a
 * temporary directory).  bus_poll() asks ZeroMQ for a socket's events
 * only when the socket is not quiet and otherwise sleeps on its fd, so
 * the cases that matter are the ones where a signal could be missed: a
 * message that arrived while the socket was busy sending, messages left
 * unread, a wake-up by a command that is no message, and the extra fd.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus.h"
#include "check.h"
#include "util.h"

/* Poll one socket (and fd) for up to ms; whether the socket is readable. */
static int
poll_one(struct bus_sock *s, int fd, long ms, int *fd_ready)
{
	struct bus_sock *socks[1] = { s };
	int readable[1] = { -1 }, rc;

	rc = bus_poll(socks, 1, fd, ms, readable);
	if (fd_ready)
		*fd_ready = rc == 1;
	return readable[0];
}

/* Receive what is there now; how many messages. */
static int
drain(struct bus_sock *s)
{
	char peer[BUS_PEER_MAX + 1];
	struct buf msg;
	int n = 0;

	buf_init(&msg);
	while (bus_recv(s, peer, &msg) == 1)
		n++;
	buf_free(&msg);
	return n;
}

/* Wait until the router has a message (its peer is then known). */
static int
wait_readable(struct bus_sock *s, long ms)
{
	int64_t until = mono_ms() + ms;

	while (mono_ms() < until)
		if (poll_one(s, -1, 50, NULL))
			return 1;
	return 0;
}

int
main(void)
{
	char dir[] = "/tmp/postline-bus-XXXXXX", endpoint[128], cmd[160];
	char peer[BUS_PEER_MAX + 1];
	struct bus *bus = bus_new();
	struct bus_sock *router, *dealer;
	struct buf msg;
	int64_t t0;
	int efd, fd_ready, got, i;
	uint64_t one = 1;

	if (mkdtemp(dir) == NULL) {
		CHECK(!"mkdtemp");
		return check_done("bus");
	}
	snprintf(endpoint, sizeof(endpoint), "ipc://%s/r.sock", dir);
	router = bus_bind(bus, endpoint);
	dealer = bus_connect(bus, endpoint, "sender-1");
	CHECK(router != NULL && dealer != NULL);
	buf_init(&msg);

	/* Nothing there: a timeout, nothing readable. */
	t0 = mono_ms();
	CHECK(poll_one(router, -1, 60, NULL) == 0);
	CHECK(mono_ms() - t0 >= 50);

	/* A message wakes a sleeping poll. */
	CHECK(bus_send(dealer, NULL, "a", 1) == 0);
	CHECK(wait_readable(router, 2000));
	CHECK(bus_recv(router, peer, &msg) == 1);
	CHECK_STR(peer, "sender-1");
	CHECK(drain(router) == 0);	/* quiet now */

	/*
	 * A message arrives while the router is busy sending: the send may
	 * take ZeroMQ's signal for it, the next poll must still see it.
	 */
	CHECK(bus_send(dealer, NULL, "b", 1) == 0);
	usleep(50000);
	for (i = 0; i < 10; i++)
		CHECK(bus_send(router, "sender-1", "x", 1) == 0);
	CHECK(poll_one(router, -1, 1000, NULL) == 1);
	CHECK(drain(router) == 1);

	/*
	 * A message that comes after a poll found the socket idle (a
	 * receive may then skip ZeroMQ) is reported by the next poll.
	 */
	CHECK(poll_one(router, -1, 0, NULL) == 0);
	CHECK(bus_send(dealer, NULL, "e", 1) == 0);
	usleep(50000);
	if ((got = drain(router)) == 0) {	/* it may, or not yet */
		t0 = mono_ms();
		CHECK(poll_one(router, -1, 1000, NULL) == 1);
		CHECK(mono_ms() - t0 < 500);
		got = drain(router);
	}
	CHECK(got == 1);

	/* Messages left unread are reported again, at once. */
	for (i = 0; i < 3; i++)
		CHECK(bus_send(dealer, NULL, "c", 1) == 0);
	CHECK(wait_readable(router, 2000));
	CHECK(bus_recv(router, peer, &msg) == 1);
	t0 = mono_ms();
	CHECK(poll_one(router, -1, 1000, NULL) == 1);
	CHECK(mono_ms() - t0 < 500);
	usleep(50000);
	CHECK(drain(router) == 2);

	/*
	 * The dealer's fd wakes for the router's ten answers and for
	 * commands that are no message; after reading them all, a poll
	 * sleeps its whole timeout (no busy loop on a stale signal).
	 */
	CHECK(wait_readable(dealer, 2000));
	usleep(50000);
	CHECK(drain(dealer) == 10);
	t0 = mono_ms();
	CHECK(poll_one(dealer, -1, 60, NULL) == 0);
	CHECK(mono_ms() - t0 >= 50);

	/* The extra fd: readable alone, and beside a readable socket. */
	efd = eventfd(0, EFD_NONBLOCK);
	CHECK(efd >= 0);
	CHECK(write(efd, &one, sizeof(one)) == sizeof(one));
	CHECK(poll_one(router, efd, 1000, &fd_ready) == 0 && fd_ready);
	CHECK(bus_send(dealer, NULL, "d", 1) == 0);
	CHECK(wait_readable(router, 2000));
	CHECK(poll_one(router, efd, 1000, &fd_ready) == 1 && fd_ready);
	CHECK(drain(router) == 1);
	close(efd);

	buf_free(&msg);
	bus_close(dealer);
	bus_close(router);
	bus_free(bus);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_done("bus");
}
