/*
 * The shell every daemon shares: the flags of ingest(8) (-d -n -v -f -s),
 * the config, logging and signals.  SIGTERM and SIGINT ask the loop to
 * drain and stop; SIGHUP asks it to reload.  No daemon forks: supervisors
 * (systemd) keep them in the foreground.
 */
#ifndef POSTLINE_DAEMON_H
#define POSTLINE_DAEMON_H

#include <signal.h>

#include "conf.h"

extern volatile sig_atomic_t daemon_stopping;
extern volatile sig_atomic_t daemon_reloading;

struct daemon {
	const char	*name;
	int		 service;	/* enum service */
	const char	*conf_path;
	int		 foreground;
	int		 check_only;
	int		 verbose;
	int		 instance;	/* -s N */
	struct conf	*conf;
	char		*sender_id;	/* set by the program, for messages */
};

/*
 * Parse the common flags (plus the program's own, given as getopt letters
 * in extra and handled by the callback, which returns -1 on a usage
 * error), read the config, start logging and install signal handlers.
 * Exits 0/1 for -n, 1 on a config error, 2 on a usage error.  Returns
 * optind.
 */
int	daemon_start(struct daemon *, int argc, char **argv, const char *extra,
	    int (*option)(struct daemon *, int ch, const char *arg),
	    const char *usage);
/* Load the config again; keep the old one (and log why) on error. */
int	daemon_reload(struct daemon *);
/* The instance's directory under data-dir, created if missing. */
char	*daemon_state_dir(struct daemon *);

#endif
