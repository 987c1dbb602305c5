/*
 * firer: turns events into postbacks by the rules of the config,
 * schedules them in LMDB, sends them with libcurl and logs every
 * attempt.  See firer(8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "daemon.h"
#include "firer.h"
#include "handoff.h"
#include "log.h"
#include "metrics.h"

static const char usage[] = "[-dnv] [-f file] [-s instance]\n"
    "       firer -R [-v] [-f file] < postback-ids\n"
    "       firer -t rule [--dry-run] [-f file] [name=value ...]";

static int replaying;
static const char *test_rule;

static int
option(struct daemon *d, int ch, const char *arg)
{
	(void)d;
	if (ch == 'R')
		replaying = 1;
	else if (ch == 't')
		test_rule = arg;
	else
		return -1;
	return 0;
}

/* Take --dry-run out of argv (getopt knows only short options). */
static int
take_dry_run(int *argc, char **argv)
{
	int i, j, found = 0;

	for (i = j = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			found = 1;
		else
			argv[j++] = argv[i];
	}
	*argc = j;
	argv[j] = NULL;
	return found;
}

/* The one-shot modes: -R and -t. */
static int
one_shot(struct daemon *d, int argc, char **argv, int first, int dry_run)
{
	int rc;

	if (replaying && first == argc && test_rule == NULL)
		rc = replay(d->conf);
	else if (test_rule && !replaying)
		rc = testfire(d->conf, test_rule, argv + first, argc - first,
		    dry_run);
	else {
		fprintf(stderr, "usage: firer %s\n", usage);
		rc = 2;
	}
	conf_free(d->conf);
	return rc;
}

static void NORETURN
errx_usage(const char *text)
{
	fprintf(stderr, "usage: firer %s\n", text);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct daemon d = { .name = "firer", .service = SERVICE_FIRER };
	struct engine *engine;
	struct queue *queue;
	struct bus_sock *router;
	struct bus *bus;

	int dry_run = take_dry_run(&argc, argv);
	int first = daemon_start(&d, argc, argv, "Rt:", option, usage);

	if (replaying || test_rule)
		return one_shot(&d, argc, argv, first, dry_run);
	if (first != argc || dry_run)
		errx_usage(usage);
	if ((size_t)d.instance >= d.conf->firer_endpoints.n)
		fatal("event=start error=\"no firer endpoint for instance %d\"",
		    d.instance);
	if ((queue = queue_open(&d)) == NULL)
		fatal("event=start error=\"cannot open the store\"");
	d.sender_id = handoff_sender_id(queue_store(queue), DB_META, d.name,
	    d.instance);
	if (queue_recover(queue) != STORE_OK)
		fatal("event=start error=\"cannot recover interrupted "
		    "deliveries\"");
	engine = engine_new(&d, queue);
	bus = bus_new();
	if ((router = bus_bind(bus, d.conf->firer_endpoints.v[d.instance])) ==
	    NULL)
		fatal("event=start error=\"cannot bind %s\"",
		    d.conf->firer_endpoints.v[d.instance]);
	if (metrics_start(d.conf->metrics[SERVICE_FIRER], d.instance) == -1)
		fatal("event=start error=\"cannot serve metrics\"");
	log_info("event=ready sender=%s endpoint=%s rules=%zu", d.sender_id,
	    d.conf->firer_endpoints.v[d.instance], d.conf->nrules);
	engine_run(engine, router);
	engine_free(engine);
	metrics_stop();
	bus_close(router);
	bus_free(bus);
	queue_close(queue);
	free(d.sender_id);
	conf_free(d.conf);
	return 0;
}
