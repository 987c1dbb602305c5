#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
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

/* Thousands of connections need thousands of descriptors. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
same_list(const struct strlist *a, const struct strlist *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

/* What a running daemon cannot change: where it is and who it talks to. */
static int
same_topology(const struct conf *a, const struct conf *b)
{
	return strcmp(a->data_dir, b->data_dir) == 0 &&
	    same_list(&a->listen, &b->listen) &&
	    same_list(&a->matcher_endpoints, &b->matcher_endpoints) &&
	    same_list(&a->firer_endpoints, &b->firer_endpoints);
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
	raise_fd_limit();
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
	if (!same_topology(conf, d->conf)) {
		log_error("event=reload result=failed config=%s "
		    "reason=\"data-dir, listen and endpoints change only on "
		    "a restart, keeping the old config\"", d->conf_path);
		conf_free(conf);
		return -1;
	}
	conf_free(d->conf);
	d->conf = conf;
	log_info("event=reload result=ok config=%s", d->conf_path);
	return 0;
}

/* One process per instance directory: two would share sequences. */
static void
lock_dir(const char *dir)
{
	char *path = xasprintf("%s/postline.lock", dir);
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (fd == -1)
		fatal("event=start error=\"cannot open %s: %s\"", path,
		    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		fatal("event=start error=\"%s is in use by another process\"",
		    dir);
	free(path);	/* the descriptor stays open, and locked, for life */
}

char *
daemon_state_dir(struct daemon *d)
{
	char *dir = conf_instance_dir(d->conf, d->service, d->instance);

	if (mkdir(d->conf->data_dir, 0770) == -1 && errno != EEXIST)
		fatal("event=start error=\"cannot create %s: %s\"",
		    d->conf->data_dir, strerror(errno));
	if (mkdir(dir, 0770) == -1 && errno != EEXIST)
		fatal("event=start error=\"cannot create %s: %s\"", dir,
		    strerror(errno));
	lock_dir(dir);
	return dir;
}
