/*
 * libFuzzer: what ingest makes of a request's query and headers, with
 * ingest/hit.c compiled in and a fixed config with aliases, tokens and
 * trusted proxies.  Input: an endpoint byte, a peer byte, then
 * "X-Forwarded-For\nUser-Agent\nform body" (a missing line is a missing
 * header).  Checked:
 *
 * - form_decode refuses what it must and its fields re-encode to
 *   themselves;
 * - client_address gives the peer or a real address;
 * - a stored hit decodes as the matcher will decode it, and a redirect
 *   goes to the offer's own host with nothing that splits a header.
 */
#include <sys/mman.h>

#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "inbound.h"
#include "ingest.h"
#include "log.h"
#include "tmpl.h"
#include "txid.h"

static const char conf_text[] =
    "global-token gl0bal-token\n"
    "matcher endpoint tcp://127.0.0.1:7701\n"
    "matcher endpoint tcp://127.0.0.1:7711\n"
    "matcher endpoint tcp://127.0.0.1:7721\n"
    "ingest trust-proxy 10.0.0.0/8\n"
    "ingest trust-proxy 192.168.1.7\n"
    "ingest trust-proxy 2001:db8::/32\n"
    "ingest trust-proxy ::1\n"
    "alias * clickId transaction_id\n"
    "alias * aff sub_id\n"
    "alias o1 earning payout\n"
    "alias o1 tid transaction_id\n"
    "alias o2 pub publisher\n"
    "offer o1 url \"https://shop.example.com/land?tx={transaction_id}"
    "&s={sub_id}&x={param.x}\" token offer-token\n"
    "offer o2 url https://b.example.org/p/{offer_id}/{sub_id}"
    "?ua={click_user_agent}&ip={click_ip}#top\n";

/* Peers as client_ip() in http.c writes them. */
static const char *const peers[] = {
	"10.1.2.3", "192.168.1.7", "2001:db8::5", "::1", "203.0.113.9",
	"unknown",
};

static struct daemon daemon_state;
static int verbose;	/* FUZZ_VERBOSE=1: print each answer */
static struct ingest ingest_state;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct buf errors;
	char path[64];
	int fd;

	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	/* Refused pixels are logged at info: keep stderr for findings. */
	log_init("fuzz_ingest", 0, 0);
	if ((fd = memfd_create("fuzz_ingest.conf", 0)) == -1 ||
	    write(fd, conf_text, sizeof(conf_text) - 1) !=
	    (ssize_t)sizeof(conf_text) - 1) {
		perror("fuzz_ingest: config");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	buf_init(&errors);
	daemon_state.conf = conf_load(path, &errors);
	if (daemon_state.conf == NULL) {
		fprintf(stderr, "%s", errors.data);
		abort();
	}
	buf_free(&errors);
	close(fd);
	ingest_state.daemon = &daemon_state;
	return 0;
}

/* The next line of the input, or NULL when there is none. */
static char *
next_line(const char **p, const char *end)
{
	const char *nl;
	char *line;

	if (*p >= end)
		return NULL;
	if ((nl = memchr(*p, '\n', (size_t)(end - *p))) == NULL)
		return NULL;
	line = xstrndup(*p, (size_t)(nl - *p));
	*p = nl + 1;
	return line;
}

static void
check_form(const char *body, size_t len, const struct attrs *params)
{
	struct attrs again;
	struct buf form;
	size_t i, j;

	/* A raw NUL would cut a value short: refused like %00. */
	CHECK(memchr(body, '\0', len) == NULL);
	buf_init(&form);
	for (i = 0; i < params->n; i++) {
		CHECK(params->v[i].name[0] != '\0');
		for (j = 0; j < i; j++)
			CHECK(strcmp(params->v[i].name, params->v[j].name));
		if (i > 0)
			buf_addc(&form, '&');
		tmpl_percent_encode(&form, params->v[i].name);
		buf_addc(&form, '=');
		tmpl_percent_encode(&form, params->v[i].value);
	}
	attrs_init(&again);
	CHECK(form_decode(form.data ? form.data : "", form.len, &again) == 0);
	CHECK(again.n == params->n);
	for (i = 0; i < again.n; i++) {
		CHECK(strcmp(again.v[i].name, params->v[i].name) == 0);
		CHECK(strcmp(again.v[i].value, params->v[i].value) == 0);
	}
	attrs_free(&again);
	buf_free(&form);
}

static void
check_client(const char *peer, const char *xff, const char *ip)
{
	unsigned char a[16];

	if (strcmp(ip, peer) == 0)
		return;
	CHECK(xff != NULL && conf_trusted_proxy(daemon_state.conf, peer));
	CHECK(inet_pton(AF_INET, ip, a) == 1 ||
	    inet_pton(AF_INET6, ip, a) == 1);
	CHECK(strstr(xff, ip) != NULL);
}

/* A redirect stays on the host of one of our offers. */
static void
check_location(const char *loc)
{
	const struct conf *c = daemon_state.conf;
	const char *src;
	size_t i, n;
	int ours = 0;

	for (i = 0; loc[i] != '\0'; i++)
		CHECK((unsigned char)loc[i] > ' ' && loc[i] != 0x7f);
	for (i = 0; i < c->noffers; i++) {
		src = tmpl_source(c->offers[i].url);
		/* Both offers are https: scheme, host and the '/'. */
		n = strcspn(src + 8, "/?#") + 9;
		ours |= strncmp(loc, src, n) == 0;
	}
	CHECK(ours);
}

static void
check_stored(const struct job *job, enum endpoint ep)
{
	static const int kinds[] = {
		[EP_CLICK] = HIT_CLICK, [EP_IMPRESSION] = HIT_IMPRESSION,
		[EP_POSTBACK] = HIT_POSTBACK, [EP_PIXEL] = HIT_PIXEL,
		[EP_CLICKLESS] = HIT_CLICKLESS, [EP_REJECT] = HIT_REJECT,
	};
	struct wire_reader r;
	char canon[TXID_LEN + 1];
	struct hit hit;

	hit_init(&hit);
	wire_reader_init(&r, job->record.data, job->record.len);
	CHECK(record_get_hit(&r, &hit) == 0 && wire_done(&r) == 0);
	CHECK(ep < nitems(kinds) && hit.kind == kinds[ep]);
	CHECK(txid_parse(hit.txid, canon) == 0 && strcmp(canon, hit.txid) == 0);
	CHECK(strcmp(job->txid, hit.txid) == 0);
	CHECK(job->shard < daemon_state.conf->matcher_endpoints.n);
	CHECK(job->conversion == hit_kind_is_conversion(hit.kind));
	CHECK(attrs_get(&hit.attrs, "secure") == NULL);
	hit_free(&hit);
}

/*
 * A refused conversion-type request: its row decodes, says error with
 * the status answered, and its query holds no control character.
 */
static void
check_refusal(const struct job *job, const struct answer *ans,
    enum endpoint ep)
{
	struct inbound_row row;
	const char *q;

	CHECK(ep == EP_POSTBACK || ep == EP_PIXEL || ep == EP_CLICKLESS ||
	    ep == EP_REJECT);
	CHECK(inbound_get(job->record.data, job->record.len, &row) == 0);
	CHECK(row.result == INBOUND_ERROR);
	CHECK(row.http_status == (ep == EP_PIXEL ? 200 : ans->status));
	CHECK(ep == EP_PIXEL ? ans->gif : ans->status >= 400);
	for (q = row.f[IN_QUERY]; q && *q; q++)
		CHECK((unsigned char)*q > ' ' && *q != 0x7f);
	inbound_free(&row);
}

static void
handle(enum endpoint ep, struct attrs *params, const char *ip,
    const char *ua)
{
	struct request_info ri;
	struct answer ans;
	struct job job;
	int store;

	memset(&ri, 0, sizeof(ri));
	memset(&ans, 0, sizeof(ans));
	memset(&job, 0, sizeof(job));
	buf_init(&job.record);
	ri.endpoint = ep;
	ri.params = params;
	ri.client_ip = ip;
	ri.user_agent = ua;
	store = hit_handle(&ingest_state, &ri, &job, &ans);
	if (verbose)
		fprintf(stderr, "ip=%s store=%d status=%d body=%s "
		    "location=%s\n", ip, store, ans.status,
		    ans.body ? ans.body : "(gif)",
		    ans.location ? ans.location : "-");
	CHECK(ans.status >= 200 && ans.status <= 599);
	CHECK(ans.gif || ans.body != NULL);
	if (store && job.refusal)
		check_refusal(&job, &ans, ep);
	else if (store)
		check_stored(&job, ep);
	if (ans.location != NULL) {
		CHECK(store && ans.status == 302);
		check_location(ans.location);
	}
	answer_free(&ans);
	buf_free(&job.record);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *end = (const char *)data + size;
	char *xff, *ua, ip[INET6_ADDRSTRLEN];
	const char *peer;
	struct attrs params;
	enum endpoint ep;

	if (size < 2)
		return 0;
	p = (const char *)data + 2;
	ep = (enum endpoint)(data[0] % (EP_HEALTHZ + 1));
	peer = peers[data[1] % nitems(peers)];
	xff = next_line(&p, end);
	ua = next_line(&p, end);
	client_address(daemon_state.conf, peer, xff, ip, sizeof(ip));
	check_client(peer, xff, ip);
	attrs_init(&params);
	if (form_decode(p, (size_t)(end - p), &params) == 0) {
		check_form(p, (size_t)(end - p), &params);
		handle(ep, &params, ip, ua);
	}
	attrs_free(&params);
	free(xff);
	free(ua);
	return 0;
}
