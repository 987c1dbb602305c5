/*
 * Unit test of common/handoff.c's send-after-sync rule, on a real LMDB
 * store and a real ZeroMQ pair (ipc in a temporary directory): an outbox
 * that sends only synced records keeps committed ones back until
 * outbox_synced() or outbox_synced_to_mark() says a sync covered them,
 * so that a sequence number a receiver has seen is never reused after a
 * power cut.  Then the limit of unanswered batches: with one batch
 * awaiting its reply, what is synced meanwhile goes in one batch when the
 * reply comes (or when it is given up for lost, or an ack covers all);
 * and an inbox with inbox_ops.reply answers a batch at once, as
 * MSG_REPLY, even when its records wait for the sync to be acknowledged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "bus.h"
#include "check.h"
#include "handoff.h"
#include "store.h"
#include "util.h"

enum { DB_OUTBOX, DB_META, DB_COUNT };
static const char *const dbs[DB_COUNT] = { "outbox", "meta" };
enum { DB_SENDERS, DB_DEAD, DB_IN_COUNT };
static const char *const in_dbs[DB_IN_COUNT] = { "senders", "dead" };

/* What one poll of the receiver brought. */
struct got {
	uint32_t	 batches;
	uint32_t	 records;
	uint8_t		 type;			/* of the last message */
	uint64_t	 seq;			/* its envelope's */
	char		 peer[BUS_PEER_MAX + 1];	/* who sent it */
};

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

/*
 * What arrives on sock: waits up to tries polls of 40 ms for a first
 * message, then takes what follows it at once.
 */
static struct got
receive(struct bus_sock *sock, int tries)
{
	struct bus_sock *socks[1] = { sock };
	struct got g;
	int readable[1];
	struct buf msg;
	struct wire_reader r;
	struct envelope e;
	int i;

	memset(&g, 0, sizeof(g));
	buf_init(&msg);
	for (i = 0; i < tries; i++) {
		bus_poll(socks, 1, -1, g.batches ? 5 : 40, readable);
		if (bus_recv(sock, g.peer, &msg) != 1) {
			if (g.batches)
				break;
			continue;
		}
		wire_reader_init(&r, msg.data, msg.len);
		if (wire_get_envelope(&r, &e) == 0) {
			g.batches++;
			g.records += e.count;
			g.type = e.type;
			g.seq = e.seq;
		}
		i--;	/* a message does not use up a try */
	}
	buf_free(&msg);
	return g;
}

/* How many records arrive at the receiver within a moment. */
static uint32_t
received(struct bus_sock *router)
{
	return receive(router, 5).records;
}

/* Commit and sync one record, then flush. */
static void
add_synced(struct store *st, struct outbox *ob, const char *rec)
{
	add(st, ob, rec);
	store_sync(st);
	outbox_synced(ob);
	outbox_flush(ob);
}

static void
ignore_verdict(void *arg, unsigned dest, struct wire_reader *r)
{
	(void)arg;
	(void)dest;
	(void)r;
}

/* The receiver answers with an ack (type) of seq; the outbox reads it. */
static void
answer(struct bus_sock *router, const char *peer, struct outbox *ob,
    enum msg_type type, uint64_t seq)
{
	struct bus_sock *socks[1];
	struct buf ack;
	int readable[1];

	buf_init(&ack);
	wire_put_envelope(&ack, type, "r-0/1", seq, 0);
	CHECK(bus_send(router, peer, ack.data, ack.len) == 0);
	buf_free(&ack);
	CHECK(outbox_socks(ob, socks, 1) == 1);
	bus_poll(socks, 1, -1, 1000, readable);
	outbox_read_acks(ob, ignore_verdict, NULL);
}

static struct bus_sock *
first_sock(struct outbox *ob)
{
	struct bus_sock *socks[1] = { NULL };

	outbox_socks(ob, socks, 1);
	return socks[0];
}

/* A record of any bytes; applying it needs a sync before the ack. */
static void
raw_init(void *p)
{
	(void)p;
}

static int
raw_decode(struct wire_reader *r, void *p)
{
	(void)p;
	r->off = r->len;
	return 0;
}

static int
raw_apply(void *arg, struct store_txn *txn, void *p, const char *sender,
    uint64_t seq, struct verdict *v, int *durable)
{
	(void)arg;
	(void)txn;
	(void)p;
	(void)sender;
	(void)seq;
	(void)v;
	*durable = 1;
	return 0;
}

/*
 * One batch (seq 5) awaits its reply: 6 and 7 wait, then go together;
 * a reply that does not come is given up; an ack of all that was sent
 * answers every batch.
 */
static void
unanswered(struct store *st, struct outbox *ob, struct bus_sock *router)
{
	struct got g;

	answer(router, "t-0/1", ob, MSG_ACK, 4);	/* no resend of 1-4 */
	outbox_limit_unanswered(ob, 1, 10000);
	add_synced(st, ob, "\x01" "e");
	g = receive(router, 25);
	CHECK(g.batches == 1 && g.records == 1 && g.seq == 5);
	add_synced(st, ob, "\x01" "f");
	add_synced(st, ob, "\x01" "g");
	CHECK(receive(router, 1).batches == 0);
	answer(router, g.peer, ob, MSG_REPLY, 4);
	outbox_flush(ob);
	g = receive(router, 25);
	CHECK(g.batches == 1 && g.records == 2 && g.seq == 6);

	/* Given up after 300 ms: the next batch goes all the same. */
	outbox_limit_unanswered(ob, 1, 300);
	add_synced(st, ob, "\x01" "h");
	CHECK(receive(router, 1).batches == 0);
	usleep(400 * 1000);
	outbox_flush(ob);
	g = receive(router, 25);
	CHECK(g.batches == 1 && g.records == 1 && g.seq == 8);

	/* A plain ack of everything sent answers every batch. */
	outbox_limit_unanswered(ob, 1, 10000);
	answer(router, g.peer, ob, MSG_ACK, 8);
	add_synced(st, ob, "\x01" "i");
	g = receive(router, 25);
	CHECK(g.batches == 1 && g.records == 1 && g.seq == 9);
	outbox_limit_unanswered(ob, 0, 0);
}

/*
 * An inbox that replies: a batch whose records wait for the sync is
 * answered at once as MSG_REPLY (acknowledging what was safe before);
 * the sync brings a plain ack of it.
 */
static void
replies(const char *dir)
{
	static const struct inbox_ops ops = {
		MSG_HITS, 1, raw_init, raw_init, raw_decode, raw_apply, 16, 1, NULL,
		NULL
	};
	char path[160], endpoint[192];
	struct strlist eps;
	struct store *st, *in_st;
	struct bus *bus;
	struct bus_sock *router;
	struct outbox *ob;
	struct inbox *ib;
	struct got g;
	int i;

	memset(&g, 0, sizeof(g));
	snprintf(path, sizeof(path), "%s/in", dir);
	snprintf(endpoint, sizeof(endpoint), "ipc://%s/in.sock", dir);
	CHECK(mkdir(path, 0700) == 0);
	memset(&eps, 0, sizeof(eps));
	strlist_add(&eps, endpoint);
	in_st = store_open(path, 16 << 20, in_dbs, DB_IN_COUNT, 0);
	bus = bus_new();
	router = bus_bind(bus, endpoint);
	snprintf(path, sizeof(path), "%s/out", dir);
	CHECK(mkdir(path, 0700) == 0);
	st = store_open(path, 16 << 20, dbs, DB_COUNT, 0);
	ob = outbox_open(st, DB_OUTBOX, DB_META, bus, &eps, "s-0/2", MSG_HITS);
	CHECK(in_st && st && router && ob);
	if (!in_st || !st || !router || !ob)
		return;
	ib = inbox_open(in_st, DB_SENDERS, DB_DEAD, router, "r-0/1", &ops,
	    NULL, NULL, 1000);
	add(st, ob, "\x01" "a");
	for (i = 0; i < 100; i++) {
		outbox_flush(ob);
		inbox_serve(ib);
		g = receive(first_sock(ob), 1);
		if (g.batches > 0)
			break;
	}
	CHECK(g.batches == 1 && g.type == MSG_REPLY && g.seq == 0);
	CHECK(inbox_sync_ms(ib) > 0);
	inbox_sync(ib);
	g = receive(first_sock(ob), 25);
	CHECK(g.batches == 1 && g.type == MSG_ACK && g.seq == 1);
	inbox_close(ib);
	outbox_close(ob);
	bus_close(router);
	bus_free(bus);
	store_close(st);
	store_close(in_st);
	strlist_free(&eps);
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

	unanswered(st, ob, router);
	replies(dir);

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
