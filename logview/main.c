/*
 * logview(1): print the attempts of the firers' logs that pass the
 * filters, merged in time order across directories.  The filters live
 * in filter.c, the reading and merging in read.c.
 */
#include <err.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "log.h"
#include "logview.h"

struct opts {
	const char	*conf_file;
	struct strlist	 dirs;
	int		 header;
	int		 json;
	const char	*fields;
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
	OPT_FOLLOW,
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
	{ "follow", no_argument, NULL, OPT_FOLLOW },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "pending", no_argument, NULL, OPT_PENDING },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: logview [-Hj] [-d dir]... [-f file] [-t id] "
	    "[--since T] [--until T]\n"
	    "               [--postback id] [--rule name] [--offer id] "
	    "[--publisher id]\n"
	    "               [--status code|2xx|3xx|4xx|5xx] "
	    "[--result result] [--fields list]\n");
}

/* Options of a later release, refused rather than ignored. */
static int
not_yet(const char *opt)
{
	warnx("%s: not implemented yet", opt);
	return -1;
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
		return filter_parse_time("--since", arg, now, &f->since);
	case OPT_UNTIL:
		return filter_parse_time("--until", arg, now, &f->until);
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
	case OPT_FOLLOW:
		return not_yet("--follow");
	case OPT_STATS:
		return not_yet("--stats");
	case OPT_PENDING:
		return not_yet("--pending");
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

	while ((ch = getopt_long(argc, argv, "d:f:t:Hjh", longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
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

/* Without -d: every firer of the config file. */
static int
config_dirs(const char *file, struct strlist *dirs)
{
	const char *path = conf_path(file);
	struct conf *conf;
	struct buf errs;
	char *dir;
	size_t i;

	buf_init(&errs);
	if ((conf = conf_load(path, &errs)) == NULL) {
		if (errs.len > 0)
			fprintf(stderr, "%s%s", errs.data,
			    errs.data[errs.len - 1] == '\n' ? "" : "\n");
		else
			warnx("%s: cannot load the config", path);
		buf_free(&errs);
		return -1;
	}
	for (i = 0; i < conf->firer_endpoints.n; i++) {
		dir = conf_instance_dir(conf, SERVICE_FIRER, (int)i);
		strlist_add(dirs, dir);
		free(dir);
	}
	conf_free(conf);
	buf_free(&errs);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct opts opts = { 0 };
	struct filter filter = { .since = INT64_MIN, .until = INT64_MAX };
	struct output out;
	struct source *srcs = NULL;
	size_t nsrcs = 0;
	uint64_t printed = 0;
	int errors = 0, rc = OUTPUT_ERROR, status = 2;

	log_init("logview", 0, 1);
	/* A closed pipe shows as EPIPE, so that `| head` ends us quietly. */
	signal(SIGPIPE, SIG_IGN);
	output_init(&out, 0);
	if (parse_options(argc, argv, &opts, &filter) == -1)
		goto done;
	out.json = opts.json;
	if (opts.fields != NULL && output_set_fields(&out, opts.fields) == -1)
		goto done;
	if (opts.dirs.n == 0 && config_dirs(opts.conf_file, &opts.dirs) == -1)
		goto done;
	srcs = read_open_sources(&opts.dirs, &nsrcs, &errors);
	setvbuf(stdout, NULL, _IOFBF, 64 * 1024);
	rc = opts.header ? output_header(&out) : OUTPUT_OK;
	if (rc == OUTPUT_OK)
		rc = read_print_merged(srcs, nsrcs, &filter, &out, &printed,
		    &errors);
	if (rc == OUTPUT_OK)
		rc = output_flush();
	read_close_sources(srcs, nsrcs, &errors);
	if (rc == OUTPUT_ERROR || errors > 0)
		status = 2;
	else
		status = printed > 0 || rc == OUTPUT_CLOSED ? 0 : 1;
done:
	output_free(&out);
	filter_free(&filter);
	strlist_free(&opts.dirs);
	return status;
}
