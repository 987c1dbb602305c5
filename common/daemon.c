#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

volatile sig_atomic_t daemon_stopping;
volatile sig_atomic_t daemon_reloading;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		daemon_reloading = 1;
	else
		daemon_stopping = 1;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void NORETURN
usage(const char *name, const char *text)
{
	fprintf(stderr, "usage: %s %s\n", name, text);
	exit(2);
}

/* Log to stderr with -d, on a terminal, or under systemd's journal. */
static int
wants_stderr(const struct daemon *d)
{
	return d->foreground || isatty(STDERR_FILENO) ||
	    getenv("JOURNAL_STREAM") != NULL;
}

static struct conf *
load(const char *path)
{
	struct buf errors;
	struct conf *conf;

	buf_init(&errors);
	conf = conf_load(path, &errors);
	if (conf == NULL)
		fputs(errors.data ? errors.data : "config error\n", stderr);
	buf_free(&errors);
	return conf;
}

int
daemon_start(struct daemon *d, int argc, char **argv, const char *extra,
    int (*option)(struct daemon *, int, const char *), const char *text)
{
	char optstring[64];
	uint64_t n;
	int ch;

	snprintf(optstring, sizeof(optstring), "dnvf:s:%s", extra ? extra : "");
	while ((ch = getopt(argc, argv, optstring)) != -1) {
		switch (ch) {
		case 'd':
			d->foreground = 1;
			break;
		case 'n':
			d->check_only = 1;
			break;
		case 'v':
			d->verbose++;
			break;
		case 'f':
			d->conf_path = optarg;
			break;
		case 's':
			if (parse_uint(optarg, 1295, &n) == -1)
				usage(d->name, text);
			d->instance = (int)n;
			break;
		default:
			if (ch == '?' || option == NULL ||
			    option(d, ch, optarg) == -1)
				usage(d->name, text);
		}
	}
	d->conf_path = conf_path(d->conf_path);
	log_init(d->name, d->verbose, wants_stderr(d));
	log_set_instance(d->instance);
	if ((d->conf = load(d->conf_path)) == NULL)
		exit(1);
	if (d->check_only) {
		fprintf(stderr, "%s: configuration OK\n", d->conf_path);
		exit(0);
	}
	install_signals();
	return optind;
}

int
daemon_reload(struct daemon *d)
{
	struct conf *conf = load(d->conf_path);

	if (conf == NULL) {
		log_error("event=reload result=failed config=%s "
		    "reason=\"config errors, keeping the old one\"",
		    d->conf_path);
		return -1;
	}
	conf_free(d->conf);
	d->conf = conf;
	log_info("event=reload result=ok config=%s", d->conf_path);
	return 0;
}

char *
daemon_state_dir(struct daemon *d)
{
	char *dir = conf_instance_dir(d->conf, d->service, d->instance);

	if (mkdir(d->conf->data_dir, 0770) == -1 && errno != EEXIST)
		fatal("event=start error=\"cannot create %s: %s\"",
		    d->conf->data_dir, strerror(errno));
	return dir;
}
