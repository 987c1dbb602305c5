/*
 * logview(1): print the attempts of the firers' logs that pass the
 * filters, merged in time order across directories; or follow them,
 * count them, or list the scheduled deliveries.  The filters live in
 * filter.c, the reading and merging in read.c, the lines in output.c.
 */
#include <err.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "logview.h"

/* How often --follow looks for new attempts. */
#define FOLLOW_POLL_MS	200

struct opts {
	const char	*conf_file;
	struct strlist	 dirs;
	int		 header;
	int		 json;
	int		 follow;
	int		 stats;
	int		 pending;
	const char	*fields;
};

/* Where rows go, and how many went. */
struct sink {
	struct output	*out;
	struct stats	 stats;
	uint64_t	 rows;
};

enum {
	OPT_SINCE = 256,
	OPT_UNTIL,
	OPT_POSTBACK,
	OPT_RULE,
	OPT_OFFER,
	OPT_PUBLISHER,
	OPT_STATUS,
	OPT_RESULT,
	OPT_FIELDS,
	OPT_STATS,
	OPT_PENDING,
};

static const struct option longopts[] = {
	{ "transaction", required_argument, NULL, 't' },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "postback", required_argument, NULL, OPT_POSTBACK },
	{ "rule", required_argument, NULL, OPT_RULE },
	{ "offer", required_argument, NULL, OPT_OFFER },
	{ "publisher", required_argument, NULL, OPT_PUBLISHER },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "result", required_argument, NULL, OPT_RESULT },
	{ "fields", required_argument, NULL, OPT_FIELDS },
	{ "header", no_argument, NULL, 'H' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "follow", no_argument, NULL, 'F' },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "pending", no_argument, NULL, OPT_PENDING },
	{ NULL, 0, NULL, 0 }
};

/* Set by SIGINT and SIGTERM under --follow. */
static volatile sig_atomic_t stopping;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: logview [-FHj] [-d dir]... [-f file] [-t id] "
	    "[--since T] [--until T]\n"
	    "               [--postback id] [--rule name] [--offer id] "
	    "[--publisher id]\n"
	    "               [--status code|2xx|3xx|4xx|5xx|0] "
	    "[--result result]\n"
	    "               [--fields list] [--follow | --stats | "
	    "--pending]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "  -d dir               a firer directory; repeat to merge "
	    "several\n"
	    "  -f file              the config naming them (default "
	    "$POSTLINE_CONF,\n"
	    "                       /etc/postline.conf)\n"
	    "  -t, --transaction id attempts of one transaction\n"
	    "  --since T            at or after T: 2026-11-21, "
	    "2026-11-21T01:02:03Z,\n"
	    "                       2026-11-21T01:02:03.456Z, or an age: "
	    "30s 15m 2h 7d\n"
	    "  --until T            before T\n"
	    "  --postback id        one delivery\n"
	    "  --rule name, --offer id, --publisher id\n"
	    "  --status S           a code, 0 (no answer) or a class "
	    "2xx 3xx 4xx 5xx\n"
	    "  --result R           ok retry failed cancelled "
	    "interrupted\n"
	    "                       (repeat a filter, or give --status and "
	    "--result\n"
	    "                       values with commas: any of them "
	    "matches)\n"
	    "  --fields list        the columns to print, comma-separated\n"
	    "  -H, --header         the column names first\n"
	    "  -j, --json           JSON Lines\n"
	    "  -F, --follow         print attempts as they are logged "
	    "(like tail -f)\n"
	    "  --stats              counts by rule, result and status "
	    "class\n"
	    "  --pending            the scheduled deliveries\n"
	    "\n"
	    "columns: time postback_id attempt result http_status "
	    "latency_ms rule type\n"
	    "         offer_id publisher transaction_id url error\n"
	    "--stats: rule attempts ok retry failed cancelled interrupted "
	    "2xx 3xx 4xx 5xx 0\n"
	    "         other (a last line \"*\" for all rules)\n"
	    "--pending: due postback_id attempt rule transaction_id url\n"
	    "exit status: 0 printed something, 1 nothing matched, 2 "
	    "error\n");
}

static int
parse_option(int ch, const char *arg, int64_t now, struct opts *o,
    struct filter *f)
{
	switch (ch) {
	case 'd':
		strlist_add(&o->dirs, arg);
		return 0;
	case 'f':
		o->conf_file = arg;
		return 0;
	case 't':
		return filter_add_txid(f, arg);
	case 'H':
		o->header = 1;
		return 0;
	case 'j':
		o->json = 1;
		return 0;
	case OPT_SINCE:
		return table_parse_time("--since", arg, now, &f->since);
	case OPT_UNTIL:
		return table_parse_time("--until", arg, now, &f->until);
	case OPT_POSTBACK:
		strlist_add(&f->postbacks, arg);
		return 0;
	case OPT_RULE:
		strlist_add(&f->rules, arg);
		return 0;
	case OPT_OFFER:
		strlist_add(&f->offers, arg);
		return 0;
	case OPT_PUBLISHER:
		strlist_add(&f->publishers, arg);
		return 0;
	case OPT_STATUS:
		return filter_add_status(f, arg);
	case OPT_RESULT:
		return filter_add_result(f, arg);
	case OPT_FIELDS:
		o->fields = arg;
		return 0;
	case 'F':
		o->follow = 1;
		return 0;
	case OPT_STATS:
		o->stats = 1;
		return 0;
	case OPT_PENDING:
		o->pending = 1;
		return 0;
	default:
		usage(stderr);
		return -1;
	}
}

static int
parse_options(int argc, char *argv[], struct opts *o, struct filter *f)
{
	int64_t now = now_ms();
	int ch;

	while ((ch = getopt_long(argc, argv, "d:f:t:FHjh", longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			help();
			exit(0);
		}
		if (parse_option(ch, optarg, now, o, f) == -1)
			return -1;
	}
	if (optind < argc) {
		warnx("unexpected argument \"%s\"", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Modes and options that cannot go together, refused with a reason. */
static int
check_options(const struct opts *o, const struct filter *f)
{
	if (o->follow + o->stats + o->pending > 1) {
		warnx("--follow, --stats and --pending exclude each other");
		return -1;
	}
	if (o->fields != NULL && (o->stats || o->pending)) {
		warnx("--fields chooses columns of attempts, not of %s",
		    o->stats ? "--stats" : "--pending");
		return -1;
	}
	if (o->pending && (f->nstatuses > 0 || f->results != 0)) {
		warnx("--status and --result do not apply to --pending: "
		    "a scheduled delivery has no answer yet");
		return -1;
	}
	return 0;
}

/*
 * The config is read for the directories when there is no -d, and for
 * the URLs of --pending when one is named (-f or $POSTLINE_CONF).
 */
static int
need_conf(const struct opts *o)
{
	const char *env = getenv(CONF_ENV);

	return o->dirs.n == 0 || (o->pending && (o->conf_file != NULL ||
	    (env != NULL && *env != '\0')));
}

static int
print_attempt(void *arg, const struct attempt *a)
{
	struct sink *s = arg;

	/* Ctrl-C while --follow prints what was before: end cleanly. */
	if (stopping)
		return OUTPUT_CLOSED;
	s->rows++;
	return output_row(s->out, a);
}

static int
count_attempt(void *arg, const struct attempt *a)
{
	struct sink *s = arg;

	s->rows++;
	stats_add(&s->stats, a);
	return OUTPUT_OK;
}

static int
print_pending(void *arg, const struct pending *p)
{
	struct sink *s = arg;

	s->rows++;
	return output_pending(s->out, p);
}

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* No SA_RESTART: the signal cuts the wait between two polls short. */
static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/*
 * Wait between two polls.  Like tail -f, notice a pipe's reader going
 * away even when nothing is written: 1 then.
 */
static int
reader_gone(int ms)
{
	struct pollfd pfd = { .fd = STDOUT_FILENO, .events = 0 };
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) == -1 ||
	    !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		poll(NULL, 0, ms);
		return 0;
	}
	return poll(&pfd, 1, ms) == 1 &&
	    (pfd.revents & (POLLERR | POLLHUP)) != 0;
}

/* --follow: from --since if given, else from now; until a signal. */
static int
follow(struct source *srcs, size_t n, const struct filter *f,
    struct sink *s, int *errors)
{
	int rc = OUTPUT_OK;

	if (f->since != INT64_MIN)
		rc = read_attempts(srcs, n, f, print_attempt, s, errors);
	if (rc == OUTPUT_OK)
		rc = output_flush();
	if (rc != OUTPUT_OK)
		return rc;
	read_follow_start(srcs, n, f, errors);
	while (!stopping && now_ms() < f->until) {
		rc = read_follow_poll(srcs, n, f, print_attempt, s, errors);
		if (rc == OUTPUT_OK)
			rc = output_flush();
		if (rc != OUTPUT_OK)
			return rc;
		if (reader_gone(FOLLOW_POLL_MS))
			return OUTPUT_CLOSED;
	}
	return OUTPUT_OK;
}

static int
run(const struct opts *o, struct source *srcs, size_t n,
    const struct filter *f, struct sink *s, int *errors)
{
	int rc;

	rc = o->header ? output_header(s->out) : OUTPUT_OK;
	if (rc != OUTPUT_OK)
		return rc;
	if (o->follow)
		return follow(srcs, n, f, s, errors);
	if (o->pending)
		return read_pending(srcs, n, f, print_pending, s, errors);
	if (!o->stats)
		return read_attempts(srcs, n, f, print_attempt, s, errors);
	rc = read_attempts(srcs, n, f, count_attempt, s, errors);
	return rc == OUTPUT_OK ? output_stats(s->out, &s->stats) : rc;
}

static int
output_kind(const struct opts *o)
{
	return o->pending ? OUTPUT_PENDING : o->stats ? OUTPUT_STATS :
	    OUTPUT_ATTEMPTS;
}

int
main(int argc, char *argv[])
{
	struct opts opts = { 0 };
	struct filter filter = { .since = INT64_MIN, .until = INT64_MAX };
	struct output out;
	struct sink sink = { .out = &out };
	struct conf *conf = NULL;
	struct source *srcs = NULL;
	size_t nsrcs = 0;
	int errors = 0, rc = OUTPUT_ERROR, status = 2;

	log_init("logview", 0, 1);
	/* A closed pipe shows as EPIPE, so that `| head` ends us quietly. */
	signal(SIGPIPE, SIG_IGN);
	stats_init(&sink.stats);
	output_init(&out, OUTPUT_ATTEMPTS, 0);
	if (parse_options(argc, argv, &opts, &filter) == -1 ||
	    check_options(&opts, &filter) == -1)
		goto done;
	out.kind = output_kind(&opts);
	out.t.json = opts.json;
	if (opts.fields != NULL && output_set_fields(&out, opts.fields) == -1)
		goto done;
	if (need_conf(&opts) && (conf = conf_load_or_say(opts.conf_file)) == NULL)
		goto done;
	if (opts.dirs.n == 0)
		conf_instance_dirs(conf, SERVICE_FIRER, &opts.dirs);
	out.conf = conf;
	srcs = read_open_sources(&opts.dirs, opts.pending, &nsrcs, &errors);
	setvbuf(stdout, NULL, _IOFBF, 64 * 1024);
	if (opts.follow)
		catch_signals();
	/* Following without a directory that cannot be read would hide it. */
	if (!opts.follow || errors == 0)
		rc = run(&opts, srcs, nsrcs, &filter, &sink, &errors);
	if (rc == OUTPUT_OK)
		rc = output_flush();
	read_close_sources(srcs, nsrcs, &errors);
	if (rc == OUTPUT_ERROR || errors > 0)
		status = 2;
	else if (sink.rows > 0 || rc == OUTPUT_CLOSED || stopping)
		status = 0;
	else
		status = 1;
done:
	output_free(&out);
	stats_free(&sink.stats);
	filter_free(&filter);
	strlist_free(&opts.dirs);
	conf_free(conf);
	return status;
}
