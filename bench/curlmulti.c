/*
 * curlmulti: the reference for the firer's delivery rate.  A plain
 * libcurl-multi client that sends N GET requests to one URL with a fixed
 * number of transfers in flight, reusing connections, and prints one
 * JSON line: {"requests":N,"ok":N,"failed":N,"seconds":S,"rate":R}.
 *
 *   curlmulti URL N [PARALLEL]       (PARALLEL defaults to 64)
 *
 * Built by bench/run with the system compiler:
 *   cc -O2 bench/curlmulti.c -lcurl -o build-bench/curlmulti
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static CURL *
transfer(const char *url)
{
	CURL *e = curl_easy_init();

	if (e == NULL) {
		fprintf(stderr, "curlmulti: curl_easy_init failed\n");
		exit(2);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	return e;
}

int
main(int argc, char **argv)
{
	CURLM *m;
	CURLMsg *msg;
	long n, parallel, started = 0, ok = 0, failed = 0, i;
	int running, left;
	double t0, t1;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: curlmulti url n [parallel]\n");
		return 2;
	}
	n = atol(argv[2]);
	parallel = argc == 4 ? atol(argv[3]) : 64;
	if (n <= 0 || parallel <= 0) {
		fprintf(stderr, "curlmulti: bad count\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, parallel);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, parallel);
	t0 = now();
	for (i = 0; i < parallel && started < n; i++, started++)
		curl_multi_add_handle(m, transfer(argv[1]));
	do {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			CURL *e = msg->easy_handle;
			long code = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result == CURLE_OK && code / 100 == 2)
				ok++;
			else
				failed++;
			curl_multi_remove_handle(m, e);
			if (started < n) {
				/* The same handle again: its connection is reused. */
				curl_multi_add_handle(m, e);
				started++;
				running++;
			} else
				curl_easy_cleanup(e);
		}
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	} while (running || ok + failed < n);
	t1 = now();
	printf("{\"requests\":%ld,\"ok\":%ld,\"failed\":%ld,\"seconds\":%.4f,"
	    "\"rate\":%.1f}\n", n, ok, failed, t1 - t0, n / (t1 - t0));
	curl_multi_cleanup(m);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
