/*
 * Unit test of common/daemon.c without a daemon: the common flags and a
 * program's own, what -n, a usage error and a config error exit with (in
 * forked children, their stderr in a file), the signal flags, reload
 * keeping the old config when the new one is bad or moves the topology,
 * and the state directory: created under data-dir and locked, so that a
 * second process cannot take it while the first lives.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "daemon.h"
#include "util.h"

#define USAGE	"[-dnv] [-f file] [-s instance] [-x arg]"

static char dir[] = "/tmp/postline-daemon-XXXXXX";
static char conf_file[64], err_file[64];

/* What the program's own option callback was given. */
static int got_ch;
static char got_arg[32];

static int
own_option(struct daemon *d, int ch, const char *arg)
{
	(void)d;
	got_ch = ch;
	snprintf(got_arg, sizeof(got_arg), "%s", arg ? arg : "");
	return strcmp(got_arg, "bad") == 0 ? -1 : 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs(text, f);
	CHECK(fclose(f) == 0);
}

/* A config with our data-dir and then extra lines. */
static void
write_conf(const char *extra)
{
	char *text = xasprintf("data-dir %s/data\n%s", dir, extra);

	write_file(conf_file, text);
	free(text);
}

/* Whether the file holds needle. */
static int
file_has(const char *path, const char *needle)
{
	char text[4096];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return strstr(text, needle) != NULL;
}

/* Split a command line at spaces into argv (NULL-terminated). */
static void
split(const char *line, struct strlist *args)
{
	const char *p;

	memset(args, 0, sizeof(*args));
	while (*line) {
		p = strchr(line, ' ');
		if (p == NULL)
			p = line + strlen(line);
		args->v = xreallocarray(args->v, args->n + 2, sizeof(char *));
		args->v[args->n++] = xstrndup(line, (size_t)(p - line));
		args->v[args->n] = NULL;
		line = *p ? p + 1 : p;
	}
}

/*
 * Run fn(arg) in a child whose stderr goes to err_file: its exit status,
 * or -1 when it died of a signal.
 */
static int
in_child(void (*fn)(void *), void *arg)
{
	pid_t pid;
	int fd, status;

	fflush(NULL);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		fd = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd == -1 || dup2(fd, STDERR_FILENO) == -1)
			_exit(99);
		close(fd);
		fn(arg);
		exit(0);
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* daemon_start on a command line; 3 if it returned instead of exiting. */
static void
child_start(void *arg)
{
	struct daemon d;
	struct strlist args;

	memset(&d, 0, sizeof(d));
	d.name = "testd";
	split(arg, &args);
	optind = 1;
	daemon_start(&d, (int)args.n, args.v, "x:", own_option, USAGE);
	exit(3);
}

/* The exit status of daemon_start on a command line, %s: the config. */
static int
start_status(const char *fmt)
{
	char *line = xasprintf(fmt, conf_file);
	int rc;

	rc = in_child(child_start, line);
	free(line);
	return rc;
}

static void
test_exits(void)
{
	write_conf("");
	CHECK(start_status("testd -d -n -f %s") == 0);
	CHECK(file_has(err_file, "configuration OK"));

	/* No -f: $POSTLINE_CONF names the file. */
	setenv(CONF_ENV, conf_file, 1);
	CHECK(start_status("testd -n -d") == 0);
	CHECK(file_has(err_file, conf_file));
	unsetenv(CONF_ENV);

	CHECK(start_status("testd -d -z -f %s") == 2);
	CHECK(file_has(err_file, "usage: testd " USAGE));
	CHECK(start_status("testd -d -s 1296 -f %s") == 2);
	CHECK(start_status("testd -d -s 1x -f %s") == 2);
	CHECK(start_status("testd -d -x bad -f %s") == 2);
	CHECK(start_status("testd -d -f") == 2);
	CHECK(start_status("testd -d -n -f %s.missing") == 1);

	write_conf("no-such-directive 1\n");
	CHECK(start_status("testd -d -n -f %s") == 1);
	CHECK(file_has(err_file, "no-such-directive"));
	CHECK(start_status("testd -d -f %s") == 1);
	write_conf("");
}

/* A soft limit below the hard one is raised to it. */
static void
lower_fd_limit(struct rlimit *rl)
{
	if (getrlimit(RLIMIT_NOFILE, rl) == -1)
		rl->rlim_max = RLIM_INFINITY;
	if (rl->rlim_max != RLIM_INFINITY && rl->rlim_max > 256) {
		rl->rlim_cur = 256;
		setrlimit(RLIMIT_NOFILE, rl);
	}
}

/*
 * The flags, the program's option and the rest of the command line;
 * args must outlive d (its conf_path points into them).
 */
static void
test_start(struct daemon *d, struct strlist *args)
{
	struct sigaction sa;
	struct rlimit rl;
	char *line;
	int n;

	lower_fd_limit(&rl);
	line = xasprintf("testd -d -v -x val -v -s 7 -f %s rest", conf_file);
	split(line, args);
	free(line);
	n = daemon_start(d, (int)args->n, args->v, "x:", own_option, USAGE);
	CHECK(n == (int)args->n - 1 && strcmp(args->v[n], "rest") == 0);
	CHECK(d->foreground == 1 && d->verbose == 2 && d->check_only == 0);
	CHECK(d->instance == 7);
	CHECK_STR(d->conf_path, conf_file);
	CHECK(got_ch == 'x');
	CHECK_STR(got_arg, "val");
	CHECK(d->conf != NULL);
	if (d->conf != NULL)
		CHECK(strncmp(d->conf->data_dir, dir, strlen(dir)) == 0);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
		CHECK(rl.rlim_cur == rl.rlim_max);

	/* SIGHUP asks for a reload, SIGTERM and SIGINT for a stop. */
	CHECK(!daemon_reloading && !daemon_stopping);
	raise(SIGHUP);
	CHECK(daemon_reloading && !daemon_stopping);
	raise(SIGTERM);
	CHECK(daemon_stopping);
	daemon_stopping = 0;
	raise(SIGINT);
	CHECK(daemon_stopping);
	CHECK(sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN);
}

/* A bad or topology-changing config leaves the running one in place. */
static void
test_reload(struct daemon *d)
{
	struct conf *old;

	write_conf("global-token two\n");
	CHECK(daemon_reload(d) == 0);
	CHECK(d->conf->global_token != NULL);
	CHECK_STR(d->conf->global_token, "two");

	old = d->conf;
	write_conf("global-token three\nno-such-directive\n");
	CHECK(daemon_reload(d) == -1 && d->conf == old);
	write_conf("global-token three\ningest listen 127.0.0.1:9999\n");
	CHECK(daemon_reload(d) == -1 && d->conf == old);
	write_conf("global-token three\nmatcher endpoint tcp://127.0.0.1:1\n");
	CHECK(daemon_reload(d) == -1 && d->conf == old);
	write_conf("global-token three\nfirer endpoint tcp://127.0.0.1:1\n");
	CHECK(daemon_reload(d) == -1 && d->conf == old);
	CHECK_STR(d->conf->global_token, "two");
	write_file(conf_file, "data-dir /elsewhere\nglobal-token three\n");
	CHECK(daemon_reload(d) == -1 && d->conf == old);
	CHECK_STR(d->conf->data_dir + strlen(dir), "/data");

	write_conf("global-token three\n");
	CHECK(daemon_reload(d) == 0);
	CHECK_STR(d->conf->global_token, "three");
}

/* The daemon whose state directory a child asks for. */
static struct daemon *d_child;

/* daemon_state_dir for instance (an int *) of d_child. */
static void
child_state_dir(void *arg)
{
	d_child->instance = *(int *)arg;
	free(daemon_state_dir(d_child));
}

/* daemon_state_dir under a data-dir that cannot be made. */
static void
child_bad_data_dir(void *arg)
{
	free(d_child->conf->data_dir);
	d_child->conf->data_dir = xstrdup(arg);
	free(daemon_state_dir(d_child));
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
test_state_dir(struct daemon *d)
{
	char *want, *got, *path;
	int other = 8;

	d->service = SERVICE_FIRER;
	d_child = d;
	want = xasprintf("%s/data/firer-7", dir);
	path = xasprintf("%s/data", dir);
	CHECK(!is_dir(path));
	got = daemon_state_dir(d);
	CHECK_STR(got, want);
	CHECK(is_dir(want));
	free(path);
	path = xasprintf("%s/postline.lock", want);
	CHECK(access(path, F_OK) == 0);

	/* Another process cannot take it while we hold it. */
	CHECK(in_child(child_state_dir, &d->instance) == 1);
	CHECK(file_has(err_file, "in use by another process"));
	/* Another instance can, and it is free again once that one exits. */
	CHECK(in_child(child_state_dir, &other) == 0);
	d->instance = other;
	free(got);
	got = daemon_state_dir(d);
	CHECK(is_dir(got) && strstr(got, "/firer-8") != NULL);

	free(path);
	path = xasprintf("%s/no-dir/data", conf_file);
	CHECK(in_child(child_bad_data_dir, path) == 1);
	CHECK(file_has(err_file, "cannot create"));
	free(path);
	free(want);
	free(got);
}

int
main(void)
{
	struct daemon d;
	struct strlist args;
	char cmd[96];

	if (mkdtemp(dir) == NULL) {
		CHECK(!"mkdtemp");
		return check_done("daemon");
	}
	snprintf(conf_file, sizeof(conf_file), "%s/postline.conf", dir);
	snprintf(err_file, sizeof(err_file), "%s/stderr", dir);
	test_exits();
	memset(&d, 0, sizeof(d));
	d.name = "testd";
	optind = 1;
	test_start(&d, &args);
	test_reload(&d);
	test_state_dir(&d);
	conf_free(d.conf);
	strlist_free(&args);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done("daemon");
}
