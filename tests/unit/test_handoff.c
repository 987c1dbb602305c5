/*
 * Unit test of common/handoff.c's send-after-sync rule, on a real LMDB
 * store and a real ZeroMQ pair (ipc in a temporary directory): an outbox
 * that sends only synced records keeps committed ones back until
 * outbox_synced() or outbox_synced_to_mark() says a sync covered them,
 * so that a sequence number a receiver has seen is never reused after a
 * power cut.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "check.h"
#include "handoff.h"
#include "store.h"
#include "util.h"

enum { DB_OUTBOX, DB_META, DB_COUNT };
static const char *const dbs[DB_COUNT] = { "outbox", "meta" };

/* Commit one record for destination 0. */
static void
add(struct store *st, struct outbox *ob, const char *rec)
{
	struct store_txn *txn;

	CHECK(store_begin(st, 1, &txn) == STORE_OK);
	CHECK(outbox_add(ob, txn, 0, rec, strlen(rec), NULL) == STORE_OK);
	CHECK(store_commit(txn, 0) == STORE_OK);
	outbox_committed(ob);
}

/* How many records arrive at the receiver within a moment. */
static uint32_t
received(struct bus_sock *router)
{
	struct bus_sock *socks[1] = { router };
	char peer[BUS_PEER_MAX + 1];
	int readable[1];
	struct buf msg;
	uint32_t n = 0;
	int i;

	buf_init(&msg);
	for (i = 0; i < 5; i++) {
		bus_poll(socks, 1, -1, 40, readable);
		while (bus_recv(router, peer, &msg) == 1) {
			struct wire_reader r;
			struct envelope e;

			wire_reader_init(&r, msg.data, msg.len);
			if (wire_get_envelope(&r, &e) == 0)
				n += e.count;
		}
	}
	buf_free(&msg);
	return n;
}

int
main(void)
{
	char dir[] = "/tmp/postline-handoff-XXXXXX", endpoint[128], cmd[160];
	struct strlist eps;
	struct store *st;
	struct bus *bus;
	struct bus_sock *router;
	struct outbox *ob;
	uint32_t n;
	int i;

	if (mkdtemp(dir) == NULL) {
		CHECK(!"mkdtemp");
		return check_done("handoff");
	}
	snprintf(endpoint, sizeof(endpoint), "ipc://%s/r.sock", dir);
	memset(&eps, 0, sizeof(eps));
	strlist_add(&eps, endpoint);
	st = store_open(dir, 16 << 20, dbs, DB_COUNT, 0);
	bus = bus_new();
	router = bus_bind(bus, endpoint);
	ob = outbox_open(st, DB_OUTBOX, DB_META, bus, &eps, "t-0/1", MSG_HITS);
	CHECK(st && router && ob);
	if (!st || !router || !ob)
		return check_done("handoff");

	/* By default a committed record goes at once (once connected). */
	add(st, ob, "\x01" "a");
	for (i = 0, n = 0; i < 50 && n == 0; i++) {
		outbox_flush(ob);
		n = received(router);
	}
	CHECK(n == 1);

	/* After sync only: held until a sync covers it. */
	outbox_send_after_sync(ob);
	add(st, ob, "\x01" "b");
	outbox_flush(ob);
	CHECK(received(router) == 0);
	CHECK(outbox_unsynced_since(ob) != 0);
	store_sync(st);
	outbox_synced(ob);
	CHECK(outbox_unsynced_since(ob) == 0);
	outbox_flush(ob);
	CHECK(received(router) == 1);

	/* A sync by another thread covers what was marked before it. */
	add(st, ob, "\x01" "c");
	outbox_mark(ob);
	add(st, ob, "\x01" "d");	/* after the mark: not covered */
	store_sync(st);
	outbox_synced_to_mark(ob);
	outbox_flush(ob);
	CHECK(received(router) == 1);
	CHECK(outbox_unsynced_since(ob) != 0);
	outbox_mark(ob);
	store_sync(st);
	outbox_synced_to_mark(ob);
	outbox_flush(ob);
	CHECK(received(router) == 1);
	CHECK(outbox_unsynced_since(ob) == 0);

	outbox_close(ob);
	bus_close(router);
	bus_free(bus);
	store_close(st);
	strlist_free(&eps);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done("handoff");
}
