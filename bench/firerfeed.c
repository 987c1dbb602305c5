/*
 * firerfeed: feeds a firer directly over ZeroMQ, as a matcher would, for
 * the delayed-delivery benchmark.  It speaks the hand-off protocol of
 * common/handoff.h with the project's own encoders (record, wire and txid
 * modules of build-bench).
 *
 * Phase 1 sends HOLD approved conversion events of offer "hold" as fast
 * as the firer acks them (batches of 1024, at most 65536 unacked).
 * Phase 2 sends SOON events of offer "soon" paced at RATE per second, and
 * writes "UNIX_SECONDS<TAB>transaction_id" for each to OUT when its batch
 * is sent.  Prints one JSON line: {"hold":N,"hold_s":S,"hold_rate":R,
 * "soon":N,"soon_s":S}.
 *
 *   firerfeed ENDPOINT HOLD SOON RATE OUT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "record.h"
#include "txid.h"
#include "wire.h"

#define BATCH	1024
#define WINDOW	65536
#define UA	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 " \
		"(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"

struct feed {
	void		*sock;
	char		 sender[WIRE_SENDER_MAX + 1];
	uint64_t	 next_seq;
	uint64_t	 acked;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "firerfeed: %s: %s\n", what, zmq_strerror(zmq_errno()));
	exit(2);
}

/* One event as the matcher makes it for an approved conversion. */
static void
make_event(struct buf *out, const char *offer, char *txid)
{
	struct event ev;
	char secs[32];
	int64_t t = now_ms();

	event_init(&ev);
	ev.type = EVENT_CONVERSION;
	ev.status = STATUS_APPROVED;
	ev.time_ms = t;
	txid_generate(txid, 0, t - 60000);
	memcpy(ev.txid, txid, sizeof(ev.txid));
	snprintf(secs, sizeof(secs), "%lld", (long long)t / 1000);
	attrs_set(&ev.attrs, "offer_id", offer);
	attrs_set(&ev.attrs, "publisher", "p1");
	attrs_set(&ev.attrs, "sub_id", "s1");
	attrs_set(&ev.attrs, "click_ip", "127.0.0.1");
	attrs_set(&ev.attrs, "click_user_agent", UA);
	attrs_set(&ev.attrs, "click_time", secs);
	attrs_set(&ev.attrs, "conversion_time", secs);
	attrs_set(&ev.attrs, "conversion_ip", "127.0.0.1");
	attrs_set(&ev.attrs, "status", "approved");
	attrs_set(&ev.attrs, "payout", "2.50");
	attrs_set(&ev.attrs, "revenue", "4.00");
	buf_init(out);
	record_put_event(out, &ev);
	event_free(&ev);
}

static void
read_ack(struct feed *f)
{
	struct wire_reader r;
	struct envelope env;
	zmq_msg_t m;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, f->sock, 0) == -1)
		die("recv");
	wire_reader_init(&r, zmq_msg_data(&m), zmq_msg_size(&m));
	if (wire_get_envelope(&r, &env) == -1 || env.type != MSG_ACK) {
		fprintf(stderr, "firerfeed: not an ack\n");
		exit(2);
	}
	if (env.seq > f->acked)
		f->acked = env.seq;
	zmq_msg_close(&m);
}

static void
send_batch(struct feed *f, struct buf *recs, size_t count)
{
	struct buf msg;
	size_t i;

	buf_init(&msg);
	wire_put_envelope(&msg, MSG_EVENTS, f->sender, f->next_seq,
	    (uint32_t)count);
	wire_put_u64(&msg, f->acked + 1);
	for (i = 0; i < count; i++) {
		wire_put_u32(&msg, (uint32_t)recs[i].len);
		buf_add(&msg, recs[i].data, recs[i].len);
		buf_free(&recs[i]);
	}
	if (zmq_send(f->sock, msg.data, msg.len, 0) == -1)
		die("send");
	f->next_seq += count;
	buf_free(&msg);
}

/* Phase 1: as fast as acks allow. */
static double
hold(struct feed *f, long n)
{
	static struct buf recs[BATCH];
	char txid[TXID_LEN + 1];
	uint64_t last = f->next_seq + (uint64_t)n - 1;
	long sent = 0, i, count;
	double t0 = now();

	while (f->acked < last) {
		while (sent < n && f->next_seq - f->acked - 1 < WINDOW) {
			count = n - sent < BATCH ? n - sent : BATCH;
			for (i = 0; i < count; i++)
				make_event(&recs[i], "hold", txid);
			send_batch(f, recs, (size_t)count);
			sent += count;
		}
		read_ack(f);
	}
	return now() - t0;
}

/* Phase 2: one event per 1/rate s, sent in small batches every 10 ms. */
static double
soon(struct feed *f, long n, double rate, FILE *out)
{
	static struct buf recs[BATCH];
	char txid[TXID_LEN + 1];
	uint64_t last = f->next_seq + (uint64_t)n - 1;
	long sent = 0, due, count;
	double t0 = now(), t;
	int timeout = 10;

	zmq_setsockopt(f->sock, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	while (sent < n) {
		t = now();
		due = (long)((t - t0) * rate) + 1;
		if (due > n)
			due = n;
		for (count = 0; sent + count < due && count < BATCH; count++) {
			make_event(&recs[count], "soon", txid);
			fprintf(out, "%.6f\t%s\n", t, txid);
		}
		if (count > 0)
			send_batch(f, recs, (size_t)count);
		sent += count;
		/* Read acks that have come; wait ~10 ms otherwise. */
		{
			zmq_msg_t m;
			struct wire_reader r;
			struct envelope env;

			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, f->sock, 0) >= 0) {
				wire_reader_init(&r, zmq_msg_data(&m),
				    zmq_msg_size(&m));
				if (wire_get_envelope(&r, &env) == 0 &&
				    env.seq > f->acked)
					f->acked = env.seq;
			}
			zmq_msg_close(&m);
		}
	}
	timeout = 30000;
	zmq_setsockopt(f->sock, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	while (f->acked < last)
		read_ack(f);
	return now() - t0;
}

int
main(int argc, char **argv)
{
	struct feed f = { .next_seq = 1 };
	void *ctx;
	long nhold, nsoon;
	double rate, th, ts;
	int zero = 0, timeout = 60000;
	FILE *out;

	if (argc != 6) {
		fprintf(stderr, "usage: firerfeed endpoint hold soon rate out\n");
		return 2;
	}
	nhold = atol(argv[2]);
	nsoon = atol(argv[3]);
	rate = atof(argv[4]);
	if (nhold < 0 || nsoon < 0 || rate <= 0) {
		fprintf(stderr, "firerfeed: bad counts\n");
		return 2;
	}
	if ((out = fopen(argv[5], "w")) == NULL) {
		perror(argv[5]);
		return 2;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	snprintf(f.sender, sizeof(f.sender), "bench-0/%08x%08x",
	    (unsigned)rand(), (unsigned)rand());
	ctx = zmq_ctx_new();
	if ((f.sock = zmq_socket(ctx, ZMQ_DEALER)) == NULL)
		die("socket");
	zmq_setsockopt(f.sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(f.sock, ZMQ_SNDHWM, &zero, sizeof(zero));
	zmq_setsockopt(f.sock, ZMQ_RCVHWM, &zero, sizeof(zero));
	zmq_setsockopt(f.sock, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	zmq_setsockopt(f.sock, ZMQ_ROUTING_ID, f.sender, strlen(f.sender));
	if (zmq_connect(f.sock, argv[1]) == -1)
		die(argv[1]);
	th = nhold ? hold(&f, nhold) : 0;
	ts = nsoon ? soon(&f, nsoon, rate, out) : 0;
	fclose(out);
	printf("{\"hold\":%ld,\"hold_s\":%.3f,\"hold_rate\":%.1f,\"soon\":%ld,"
	    "\"soon_s\":%.3f}\n", nhold, th, th > 0 ? nhold / th : 0.0, nsoon,
	    ts);
	zmq_close(f.sock);
	zmq_ctx_term(ctx);
	return 0;
}
