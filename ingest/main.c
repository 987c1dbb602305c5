/*
 * ingest: takes clicks and conversions over HTTP, stores them in its
 * spool and hands them to the matcher shards.  See ingest(8).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"

static const char usage[] = "[-dnv] [-f file] [-s instance]\n"
    "       ingest -L [-f file] [offer-id]";

static int listing;

static int
option(struct daemon *d, int ch, const char *arg)
{
	(void)d;
	(void)arg;
	if (ch != 'L')
		return -1;
	listing = 1;
	return 0;
}

static void
reload(struct ingest *in)
{
	daemon_reloading = 0;
	pthread_rwlock_wrlock(&in->conf_lock);
	daemon_reload(in->daemon);
	pthread_rwlock_unlock(&in->conf_lock);
}

/* The spool's thread: this one, until asked to stop. */
static void
run(struct ingest *in)
{
	while (!daemon_stopping) {
		if (daemon_reloading)
			reload(in);
		spool_turn(in->spool);
	}
}

int
main(int argc, char **argv)
{
	struct daemon d = { .name = "ingest", .service = SERVICE_INGEST };
	struct ingest in = { .daemon = &d };
	struct http *http;

	int first = daemon_start(&d, argc, argv, "L", option, usage);

	if (listing || first != argc) {
		int rc = 2;

		if (listing && argc - first <= 1)
			rc = links_print(d.conf, first < argc ? argv[first] :
			    NULL);
		else
			fprintf(stderr, "usage: ingest %s\n", usage);
		conf_free(d.conf);
		return rc;
	}
	pthread_rwlock_init(&in.conf_lock, NULL);
	if ((in.spool = spool_open(&d, &in.healthy, http_report, NULL)) ==
	    NULL)
		fatal("event=start error=\"cannot open the spool\"");
	if ((http = http_start(&in)) == NULL)
		fatal("event=start error=\"cannot listen\"");
	if (metrics_start(d.conf->metrics[SERVICE_INGEST], d.instance) == -1)
		fatal("event=start error=\"cannot serve metrics\"");
	log_info("event=ready sender=%s shards=%zu", d.sender_id,
	    d.conf->matcher_endpoints.n);
	run(&in);
	/* Stop taking requests, store what came, then stop HTTP. */
	http_quiesce(http);
	spool_drain(in.spool);
	http_stop(http);
	spool_close(in.spool);
	metrics_stop();
	log_info("event=stopped");
	free(d.sender_id);
	conf_free(d.conf);
	pthread_rwlock_destroy(&in.conf_lock);
	return 0;
}
