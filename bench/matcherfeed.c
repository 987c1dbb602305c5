/*
 * matcherfeed: feeds a matcher directly over ZeroMQ, as an ingest would,
 * to measure the matcher alone.  It speaks the hand-off protocol of
 * common/handoff.h with the project's own encoders (it links the record,
 * wire and txid modules of build-bench): batches of OUTBOX_BATCH hits, at
 * most WINDOW hits sent ahead of the last ack.
 *
 * Phase 1 sends N clicks, phase 2 a base conversion (global token) for
 * each of those clicks.  Each phase is timed from its first send to the
 * ack of its last hit, with every hit encoded beforehand.  Prints one
 * JSON line: {"n":N,"clicks_s":S,"clicks_rate":R,"conversions_s":S,
 * "conversions_rate":R}.
 *
 * With -r, the data set of the report benchmark instead: DAYS days up to
 * the last whole hour, PER_DAY clicks a day spread evenly, over 100
 * offers, 1,000 publishers and 10 sub_ids each; one click in five from
 * the IP and User-Agent of the click before it, on its offer (not
 * unique); one in a hundred converting a minute later (revenue 3.00,
 * payout 1.50).  Sent an hour at a time; prints {"clicks":N,
 * "conversions":N,"s":S,"rate":R} (hits a second).
 *
 * With -b B, the conversions go B at a time, each batch sent when the
 * one before is acknowledged (synced): the cost of a matcher's batch,
 * as small as a shard's share of a closed load makes it.  With -b, the
 * feed also prints "clicks done" on standard error after phase 1 and
 * reads a line from standard input before phase 2 (the harness samples
 * the matcher's CPU in between).
 *
 *   matcherfeed [-b B] ENDPOINT N
 *   matcherfeed -r ENDPOINT DAYS PER_DAY
 *
 * Built by bench/run:  cc -O2 -Icommon bench/matcherfeed.c
 *   build-bench/lib{record,txid,wire,log,util}.a -lzmq
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

static size_t BATCH = 1024;
static uint64_t WINDOW = 65536;
#define UA	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 " \
		"(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"

struct feed {
	void		*sock;
	char		 sender[WIRE_SENDER_MAX + 1];
	uint64_t	 next_seq;	/* of the next hit to send */
	uint64_t	 acked;		/* highest seq acknowledged */
};

static void
die(const char *what)
{
	fprintf(stderr, "matcherfeed: %s: %s\n", what, zmq_strerror(zmq_errno()));
	exit(2);
}

/* The encoded records of one phase, each with its length. */
struct records {
	struct buf	*v;
	size_t		 n;
};

static void
make_hits(struct records *out, char (*ids)[TXID_LEN + 1], size_t n, int kind)
{
	struct hit h;
	char secs[32], ip[32];
	int64_t t0 = now_ms();
	size_t i;

	out->v = xcalloc(n, sizeof(*out->v));
	out->n = n;
	for (i = 0; i < n; i++) {
		hit_init(&h);
		h.kind = (uint8_t)kind;
		/* As if 50k hits/s arrived: ids nearly in time order. */
		h.time_ms = t0 + (int64_t)(i / 50);
		snprintf(secs, sizeof(secs), "%lld", (long long)h.time_ms / 1000);
		if (kind == HIT_CLICK) {
			txid_generate(ids[i], 0, h.time_ms);
			attrs_set(&h.attrs, "offer_id", "o1");
			attrs_set(&h.attrs, "publisher", "p1");
			attrs_set(&h.attrs, "sub_id", "s1");
			/* Visitors from many addresses, one in five again. */
			snprintf(ip, sizeof(ip), "10.%u.%u.%u",
			    (unsigned)(i * 4 / 5 >> 16) & 255,
			    (unsigned)(i * 4 / 5 >> 8) & 255,
			    (unsigned)(i * 4 / 5) & 255);
			attrs_set(&h.attrs, "click_ip", ip);
			attrs_set(&h.attrs, "click_user_agent", UA);
			attrs_set(&h.attrs, "click_time", secs);
		} else {
			attrs_set(&h.attrs, "_token", "*");
			attrs_set(&h.attrs, "conversion_ip", "127.0.0.1");
			attrs_set(&h.attrs, "user_agent", UA);
		}
		memcpy(h.txid, ids[i], sizeof(h.txid));
		buf_init(&out->v[i]);
		record_put_hit(&out->v[i], &h);
		hit_free(&h);
	}
}

static void
send_batch(struct feed *f, struct records *r, size_t from, size_t count)
{
	struct buf msg;
	size_t i;

	buf_init(&msg);
	wire_put_envelope(&msg, MSG_HITS, f->sender, f->next_seq,
	    (uint32_t)count);
	wire_put_u64(&msg, f->acked + 1);	/* oldest unacknowledged */
	for (i = from; i < from + count; i++) {
		wire_put_u32(&msg, (uint32_t)r->v[i].len);
		buf_add(&msg, r->v[i].data, r->v[i].len);
	}
	if (zmq_send(f->sock, msg.data, msg.len, 0) == -1)
		die("send");
	f->next_seq += count;
	buf_free(&msg);
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
	if (wire_get_envelope(&r, &env) == -1 ||
	    (env.type != MSG_ACK && env.type != MSG_REPLY)) {
		fprintf(stderr, "matcherfeed: not an ack\n");
		exit(2);
	}
	if (env.seq > f->acked)
		f->acked = env.seq;
	zmq_msg_close(&m);
}

/* Send every record, a window ahead; return the seconds until all acked. */
static double
run_phase(struct feed *f, struct records *r)
{
	uint64_t last = f->next_seq + r->n - 1;
	size_t sent = 0, count;
	int timeout = 30000;
	double t0 = mono_seconds();

	zmq_setsockopt(f->sock, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	while (f->acked < last) {
		while (sent < r->n && f->next_seq - f->acked - 1 < WINDOW) {
			count = r->n - sent < BATCH ? r->n - sent : BATCH;
			send_batch(f, r, sent, count);
			sent += count;
		}
		read_ack(f);
	}
	return mono_seconds() - t0;
}

/* Click k of the report data set, made at t. */
static void
report_click(struct hit *h, char *id, uint64_t k, int64_t t)
{
	uint64_t v = k - (k % 5 == 4);	/* the one before, again */
	uint64_t r = v * 2654435761u;	/* spread over offers, publishers */
	char offer[16], pub[16], sub[16], ip[32];

	snprintf(offer, sizeof(offer), "o%u", (unsigned)(r % 100));
	snprintf(pub, sizeof(pub), "p%u", (unsigned)(r / 100 % 1000));
	snprintf(sub, sizeof(sub), "s%u", (unsigned)(r / 100000 % 10));
	snprintf(ip, sizeof(ip), "10.%u.%u.%u", (unsigned)(v >> 16) & 255,
	    (unsigned)(v >> 8) & 255, (unsigned)v & 255);
	hit_init(h);
	h->kind = HIT_CLICK;
	h->time_ms = t;
	txid_generate(id, 0, t);
	memcpy(h->txid, id, TXID_LEN + 1);
	attrs_set(&h->attrs, "offer_id", offer);
	attrs_set(&h->attrs, "publisher", pub);
	attrs_set(&h->attrs, "sub_id", sub);
	attrs_set(&h->attrs, "click_ip", ip);
	attrs_set(&h->attrs, "click_user_agent", UA);
}

static void
add_record(struct records *r, const struct hit *h)
{
	buf_init(&r->v[r->n]);
	record_put_hit(&r->v[r->n++], h);
}

/* One hour of the data set from t0: its clicks, then conversions. */
static void
report_hour(struct feed *f, int64_t t0, uint64_t *k, uint64_t per_hour,
    uint64_t *nconv)
{
	struct records clicks = { xcalloc(per_hour, sizeof(struct buf)), 0 };
	struct records convs = { xcalloc(per_hour / 100 + 1,
	    sizeof(struct buf)), 0 };
	char id[TXID_LEN + 1];
	struct hit h;
	uint64_t i;

	for (i = 0; i < per_hour; i++, (*k)++) {
		int64_t t = t0 + (int64_t)(i * 3600000 / per_hour);

		report_click(&h, id, *k, t);
		add_record(&clicks, &h);
		hit_free(&h);
		if (*k % 100 != 7)
			continue;
		hit_init(&h);
		h.kind = HIT_POSTBACK;
		h.time_ms = t + 60000;
		memcpy(h.txid, id, sizeof(h.txid));
		attrs_set(&h.attrs, "_token", "*");
		attrs_set(&h.attrs, "revenue", "3.00");
		attrs_set(&h.attrs, "payout", "1.50");
		add_record(&convs, &h);
		hit_free(&h);
	}
	run_phase(f, &clicks);
	if (convs.n > 0)
		run_phase(f, &convs);
	*nconv += convs.n;
	for (i = 0; i < clicks.n; i++)
		buf_free(&clicks.v[i]);
	for (i = 0; i < convs.n; i++)
		buf_free(&convs.v[i]);
	free(clicks.v);
	free(convs.v);
}

static int
report_set(struct feed *f, int days, uint64_t per_day)
{
	int64_t end = (int64_t)time(NULL) / 3600 * 3600000;
	int64_t t = end - (int64_t)days * 86400000;
	uint64_t k = 0, nconv = 0;
	double t0 = mono_seconds(), took;

	for (; t < end; t += 3600000)
		report_hour(f, t, &k, per_day / 24, &nconv);
	took = mono_seconds() - t0;
	printf("{\"clicks\":%llu,\"conversions\":%llu,\"s\":%.3f,"
	    "\"rate\":%.1f}\n", (unsigned long long)k,
	    (unsigned long long)nconv, took, (k + nconv) / took);
	return 0;
}

static void
connect_feed(struct feed *f, void *ctx, const char *endpoint)
{
	int zero = 0, hwm = 0;

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	snprintf(f->sender, sizeof(f->sender), "bench-0/%08x%08x",
	    (unsigned)rand(), (unsigned)rand());
	if ((f->sock = zmq_socket(ctx, ZMQ_DEALER)) == NULL)
		die("socket");
	zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(f->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(f->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(f->sock, ZMQ_ROUTING_ID, f->sender, strlen(f->sender));
	if (zmq_connect(f->sock, endpoint) == -1)
		die(endpoint);
}

int
main(int argc, char **argv)
{
	struct feed f = { .next_seq = 1 };
	struct records clicks, convs;
	char (*ids)[TXID_LEN + 1];
	void *ctx = zmq_ctx_new();
	size_t n, conv_batch = 0;
	double tc, tv;
	char line[16];

	if (argc == 5 && strcmp(argv[1], "-r") == 0) {
		connect_feed(&f, ctx, argv[2]);
		return report_set(&f, atoi(argv[3]),
		    strtoull(argv[4], NULL, 10));
	}
	if (argc == 5 && strcmp(argv[1], "-b") == 0) {
		conv_batch = strtoul(argv[2], NULL, 10);
		argc -= 2;
		argv += 2;
	}
	if (argc != 3 || (n = strtoul(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: matcherfeed [-b batch] endpoint n\n"
		    "       matcherfeed -r endpoint days per_day\n");
		return 2;
	}
	ids = xcalloc(n, sizeof(*ids));
	make_hits(&clicks, ids, n, HIT_CLICK);
	make_hits(&convs, ids, n, HIT_POSTBACK);
	connect_feed(&f, ctx, argv[1]);
	tc = run_phase(&f, &clicks);
	if (conv_batch > 0) {
		BATCH = WINDOW = conv_batch;
		fprintf(stderr, "clicks done\n");
		if (fgets(line, sizeof(line), stdin) == NULL)
			return 2;
	}
	tv = run_phase(&f, &convs);
	printf("{\"n\":%zu,\"clicks_s\":%.4f,\"clicks_rate\":%.1f,"
	    "\"conversions_s\":%.4f,\"conversions_rate\":%.1f}\n", n, tc,
	    n / tc, tv, n / tv);
	zmq_close(f.sock);
	zmq_ctx_term(ctx);
	return 0;
}
