/*
 * report: the operator's numbers from the matcher stores, and the
 * inbound postback rows of the matchers and ingests.  See report(1).
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "conf.h"
#include "inbound.h"
#include "log.h"
#include "record.h"
#include "report.h"

struct opts {
	const char	*conf_file;
	struct strlist	 dirs;
	const char	*since;
	const char	*until;
};

enum {
	OPT_SINCE = 256, OPT_UNTIL, OPT_BY, OPT_OFFER, OPT_PUBLISHER,
	OPT_SUB_ID, OPT_EVENT, OPT_TZ, OPT_FIELDS, OPT_CONVERSIONS,
	OPT_CLICKS, OPT_POSTBACKS, OPT_STATUS, OPT_REASON, OPT_DUPLICATE,
	OPT_RESULT,
};

static const struct option longopts[] = {
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "by", required_argument, NULL, OPT_BY },
	{ "offer", required_argument, NULL, OPT_OFFER },
	{ "publisher", required_argument, NULL, OPT_PUBLISHER },
	{ "sub-id", required_argument, NULL, OPT_SUB_ID },
	{ "event", required_argument, NULL, OPT_EVENT },
	{ "tz", required_argument, NULL, OPT_TZ },
	{ "fields", required_argument, NULL, OPT_FIELDS },
	{ "header", no_argument, NULL, 'H' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "conversions", no_argument, NULL, OPT_CONVERSIONS },
	{ "clicks", no_argument, NULL, OPT_CLICKS },
	{ "postbacks", no_argument, NULL, OPT_POSTBACKS },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "transaction", required_argument, NULL, 't' },
	{ "duplicate", no_argument, NULL, OPT_DUPLICATE },
	{ "result", required_argument, NULL, OPT_RESULT },
	{ NULL, 0, NULL, 0 }
};

static const char *const key_words[KEY_END] = {
	"hour", "day", "offer", "publisher", "sub_id", "source", "currency"
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: report [-Hj] [-d dir]... [-f file] [--since T] "
	    "[--until T] [--by keys]\n"
	    "              [--offer ids] [--publisher ids] [--sub-id values] "
	    "[--event name]\n"
	    "              [--tz zone] [--fields list]\n"
	    "       report --conversions [filters] [--status S] [--reason R] "
	    "[-t id]\n"
	    "       report --clicks [filters] [-t id] [--duplicate]\n"
	    "       report --postbacks [filters] [--result R] [-t id]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "  -d dir            a matcher directory; repeat to merge shards\n"
	    "  -f file           the config naming them all (default "
	    "$POSTLINE_CONF,\n"
	    "                    /etc/postline.conf)\n"
	    "  --since T, --until T  2026-11-21, 2026-11-21T01:02:03Z or an "
	    "age: 2h 7d\n"
	    "  --by keys         hour day offer publisher sub_id source "
	    "currency (default day)\n"
	    "  --offer, --publisher, --sub-id  only these (comma-separated)\n"
	    "  --event name      count that event in the conversion columns\n"
	    "  --result R        --postbacks: approved pending rejected "
	    "accepted error\n"
	    "  --tz zone         days and hours in this zone (default UTC)\n"
	    "  --fields list     the columns to print, comma-separated\n"
	    "  -H, --header      the column names first\n"
	    "  -j, --json        JSON Lines\n"
	    "summary columns: [keys] impressions clicks unique_clicks "
	    "duplicate_clicks\n"
	    "  conversions approved pending rejected invalid events revenue "
	    "payout profit cr epc\n"
	    "exit status: 0 printed something, 1 nothing in range, 2 error\n");
}

/* Each comma-separated word of arg into l; -1 if one is empty. */
static int
add_words(struct strlist *l, const char *opt, const char *arg)
{
	const char *p = arg;
	size_t n;
	char *w;

	for (;;) {
		n = strcspn(p, ",");
		if (n == 0) {
			warnx("%s: empty value in \"%s\"", opt, arg);
			return -1;
		}
		w = xstrndup(p, n);
		strlist_add(l, w);
		free(w);
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

static int
key_given(const struct query *q, int k)
{
	int i;

	for (i = 0; i < q->nby; i++)
		if (q->by[i] == k)
			return 1;
	return 0;
}

static int
parse_by(struct query *q, const char *arg)
{
	struct strlist words = { 0 };
	size_t i;
	int k, rc = add_words(&words, "--by", arg);

	q->nby = 0;
	for (i = 0; rc == 0 && i < words.n; i++) {
		for (k = 0; k < KEY_END; k++)
			if (strcmp(words.v[i], key_words[k]) == 0)
				break;
		if (k == KEY_END) {
			warnx("--by: unknown key \"%s\" (hour day offer "
			    "publisher sub_id source currency)", words.v[i]);
			rc = -1;
		} else if (key_given(q, k)) {
			warnx("--by: \"%s\" given twice", words.v[i]);
			rc = -1;
		} else
			q->by[q->nby++] = k;
	}
	strlist_free(&words);
	return rc;
}

static int
parse_statuses(struct query *q, const char *arg)
{
	size_t i;

	if (add_words(&q->statuses, "--status", arg) == -1)
		return -1;
	for (i = 0; i < q->statuses.n; i++)
		if (status_parse(q->statuses.v[i]) == 0) {
			warnx("--status: \"%s\" is not approved, pending or "
			    "rejected", q->statuses.v[i]);
			return -1;
		}
	return 0;
}

static int
parse_results(struct query *q, const char *arg)
{
	size_t i;

	if (add_words(&q->results, "--result", arg) == -1)
		return -1;
	for (i = 0; i < q->results.n; i++)
		if (inbound_result_parse(q->results.v[i]) == -1) {
			warnx("--result: \"%s\" is not approved, pending, "
			    "rejected, accepted or error", q->results.v[i]);
			return -1;
		}
	return 0;
}

static int
set_mode(struct query *q, int mode)
{
	if (q->mode != MODE_SUMMARY && q->mode != mode) {
		warnx("--conversions, --clicks and --postbacks exclude each "
		    "other");
		return -1;
	}
	q->mode = mode;
	return 0;
}

static int
parse_option(int ch, const char *arg, struct opts *o, struct query *q)
{
	switch (ch) {
	case 'd':
		strlist_add(&o->dirs, arg);
		return 0;
	case 'f':
		o->conf_file = arg;
		return 0;
	case 't':
		return add_words(&q->txids, "--transaction", arg);
	case 'H':
		q->header = 1;
		return 0;
	case 'j':
		q->json = 1;
		return 0;
	case OPT_SINCE:
		o->since = arg;
		return 0;
	case OPT_UNTIL:
		o->until = arg;
		return 0;
	case OPT_BY:
		return parse_by(q, arg);
	case OPT_OFFER:
		return add_words(&q->offers, "--offer", arg);
	case OPT_PUBLISHER:
		return add_words(&q->publishers, "--publisher", arg);
	case OPT_SUB_ID:
		return add_words(&q->sub_ids, "--sub-id", arg);
	case OPT_EVENT:
		q->event = arg;
		return 0;
	case OPT_TZ:
		q->tz = arg;
		return 0;
	case OPT_FIELDS:
		q->fields = arg;
		return 0;
	case OPT_CONVERSIONS:
		return set_mode(q, MODE_CONVERSIONS);
	case OPT_CLICKS:
		return set_mode(q, MODE_CLICKS);
	case OPT_POSTBACKS:
		return set_mode(q, MODE_POSTBACKS);
	case OPT_RESULT:
		return parse_results(q, arg);
	case OPT_STATUS:
		return parse_statuses(q, arg);
	case OPT_REASON:
		return add_words(&q->reasons, "--reason", arg);
	case OPT_DUPLICATE:
		q->duplicate = 1;
		return 0;
	default:
		usage(stderr);
		return -1;
	}
}

/*
 * A bare date with --tz is that day's midnight in the zone; every other
 * form of T is as logview(1) reads it.
 */
static int
parse_time(const char *opt, const char *arg, const struct query *q,
    int64_t now, int64_t *out)
{
	struct tm tm;

	if (table_parse_time(opt, arg, now, out) == -1)
		return -1;
	if (q->tz == NULL || strlen(arg) != 10)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (strptime(arg, "%Y-%m-%d", &tm) == NULL)
		return 0;
	tm.tm_isdst = -1;
	*out = (int64_t)mktime(&tm) * 1000;
	return 0;
}

/* Options that cannot go together, refused with a reason. */
static int
check_options(const struct query *q)
{
	if (q->mode != MODE_CONVERSIONS && (q->statuses.n > 0 ||
	    q->reasons.n > 0)) {
		warnx("--status and --reason go with --conversions");
		return -1;
	}
	if (q->mode != MODE_CLICKS && q->duplicate) {
		warnx("--duplicate goes with --clicks");
		return -1;
	}
	if (q->mode == MODE_SUMMARY && q->txids.n > 0) {
		warnx("--transaction goes with --conversions, --clicks or "
		    "--postbacks");
		return -1;
	}
	if (q->mode != MODE_POSTBACKS && q->results.n > 0) {
		warnx("--result goes with --postbacks");
		return -1;
	}
	return 0;
}

static int
parse_options(int argc, char *argv[], struct opts *o, struct query *q)
{
	int64_t now = now_ms();
	int ch;

	while ((ch = getopt_long(argc, argv, "d:f:t:Hjh", longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			help();
			exit(0);
		}
		if (parse_option(ch, optarg, o, q) == -1)
			return -1;
	}
	if (optind < argc) {
		warnx("unexpected argument \"%s\"", argv[optind]);
		usage(stderr);
		return -1;
	}
	if (check_options(q) == -1 || (q->tz && zone_check(q->tz) == -1))
		return -1;
	if (o->since && parse_time("--since", o->since, q, now, &q->since) ==
	    -1)
		return -1;
	if (o->until && parse_time("--until", o->until, q, now, &q->until) ==
	    -1)
		return -1;
	return 0;
}

/* The ingests' directories on this host (their rows of refusals). */
static void
ingest_dirs(const struct conf *conf, struct strlist *dirs)
{
	struct stat st;
	char *dir;
	int i;

	for (i = 0; i < REPORT_INGESTS_MAX; i++) {
		dir = conf_instance_dir(conf, SERVICE_INGEST, i);
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			strlist_add(dirs, dir);
		free(dir);
	}
}

/*
 * Without -d: every matcher shard of the config, and for --postbacks
 * the ingests' directories found under its data-dir.
 */
static int
config_dirs(const char *file, int postbacks, struct strlist *dirs)
{
	struct conf *conf = conf_load_or_say(file);

	if (conf == NULL)
		return -1;
	conf_instance_dirs(conf, SERVICE_MATCHER, dirs);
	if (postbacks)
		ingest_dirs(conf, dirs);
	conf_free(conf);
	return 0;
}

static int
run(const struct query *q, struct shard *sh, size_t n, struct sink *s)
{
	int rc;

	if (q->mode == MODE_CONVERSIONS)
		rc = list_conversions(q, sh, n, s);
	else if (q->mode == MODE_CLICKS)
		rc = list_clicks(q, sh, n, s);
	else if (q->mode == MODE_POSTBACKS)
		rc = list_postbacks(q, sh, n, s);
	else
		rc = summary(q, sh, n, s);
	if (rc == TABLE_OK && fflush(stdout) == EOF) {
		if (errno == EPIPE)
			return TABLE_CLOSED;	/* `| head`: quietly */
		warn("stdout");
		rc = TABLE_ERROR;
	}
	return rc;
}

static void
query_free(struct query *q)
{
	strlist_free(&q->offers);
	strlist_free(&q->publishers);
	strlist_free(&q->sub_ids);
	strlist_free(&q->txids);
	strlist_free(&q->statuses);
	strlist_free(&q->reasons);
	strlist_free(&q->results);
}

int
main(int argc, char *argv[])
{
	struct opts opts = { 0 };
	struct query q = { .since = INT64_MIN, .until = INT64_MAX,
	    .by = { KEY_DAY }, .nby = 1 };
	struct sink sink = { .rows = 0 };
	struct shard *shards = NULL;
	size_t nshards = 0;
	int rc = TABLE_ERROR, status = 2;

	log_init("report", 0, 1);
	/* A closed pipe shows as EPIPE, so that `| head` ends us quietly. */
	signal(SIGPIPE, SIG_IGN);
	table_init(&sink.t, 0);
	if (parse_options(argc, argv, &opts, &q) == -1)
		goto done;
	if (opts.dirs.n == 0 && config_dirs(opts.conf_file, q.mode ==
	    MODE_POSTBACKS, &opts.dirs) == -1)
		goto done;
	if (shards_open(&opts.dirs, q.mode == MODE_POSTBACKS, &shards,
	    &nshards) == -1)
		goto done;
	setvbuf(stdout, NULL, _IOFBF, 64 * 1024);
	rc = run(&q, shards, nshards, &sink);
	if (rc == TABLE_ERROR)
		status = 2;
	else
		status = sink.rows > 0 || rc == TABLE_CLOSED ? 0 : 1;
done:
	shards_close(shards, nshards);
	table_free(&sink.t);
	query_free(&q);
	strlist_free(&opts.dirs);
	return status;
}
