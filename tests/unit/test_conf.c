/*
 * conf: every file in conf/good must load and every file in conf/bad must
 * fail with the errors its leading "# expect: " lines name; then the
 * values of conf/good/full.conf, the defaults and the lookups.  Runs in
 * tests/ (the meson workdir).
 */
#include <sys/socket.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "record.h"

#define EXPECT	"# expect: "

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.conf files of a directory, sorted so output is stable. */
static size_t
list_confs(const char *dir, struct strlist *l)
{
	struct dirent *de;
	DIR *d;
	size_t n;

	l->v = NULL;
	l->n = 0;
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".conf") != 0)
			continue;
		l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (l->n > 0)
		qsort(l->v, l->n, sizeof(*l->v), cmp_names);
	return l->n;
}

static void
free_list(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static void
check_good(const char *path)
{
	struct conf *c;
	struct buf errors;

	buf_init(&errors);
	c = conf_load(path, &errors);
	CHECK(c != NULL);
	if (c == NULL)
		fprintf(stderr, "%s: should load, got:\n%s", path,
		    errors.data ? errors.data : "");
	CHECK(errors.len == 0);
	conf_free(c);
	buf_free(&errors);
}

/* Check each "# expect: " line at the top of a bad file; return how many. */
static int
check_expects(const char *path, const char *errors)
{
	char line[1024];
	FILE *f;
	size_t n;
	int count = 0;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL &&
	    strncmp(line, EXPECT, strlen(EXPECT)) == 0) {
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		count++;
		CHECK(strstr(errors, line + strlen(EXPECT)) != NULL);
		if (strstr(errors, line + strlen(EXPECT)) == NULL)
			fprintf(stderr, "%s: expected \"%s\", got:\n%s", path,
			    line + strlen(EXPECT), errors);
	}
	fclose(f);
	return count;
}

static void
check_bad(const char *path)
{
	struct conf *c;
	struct buf errors;

	buf_init(&errors);
	c = conf_load(path, &errors);
	CHECK(c == NULL);
	if (c != NULL)
		fprintf(stderr, "%s: should fail to load\n", path);
	CHECK(errors.len > 0 && errors.data[errors.len - 1] == '\n');
	CHECK(check_expects(path, errors.data ? errors.data : "") > 0);
	conf_free(c);
	buf_free(&errors);
}

static void
test_files(void)
{
	struct strlist l;
	size_t i;

	CHECK(list_confs("conf/good", &l) >= 4);
	for (i = 0; i < l.n; i++)
		check_good(l.v[i]);
	free_list(&l);
	CHECK(list_confs("conf/bad", &l) >= 25);
	for (i = 0; i < l.n; i++)
		check_bad(l.v[i]);
	free_list(&l);
}

static void
check_full_global(const struct conf *c)
{
	CHECK_STR(c->path, "conf/good/full.conf");
	CHECK_STR(c->data_dir, "/var/db/postline");
	CHECK(c->listen.n == 3);
	CHECK_STR(c->listen.v[1], "[::1]:8080");
	CHECK_STR(c->listen.v[2], "localhost:8081");
	CHECK(c->matcher_endpoints.n == 3);
	CHECK_STR(c->matcher_endpoints.v[0], "tcp://127.0.0.1:7701");
	CHECK_STR(c->matcher_endpoints.v[2], "ipc:///run/postline/matcher-2");
	CHECK(c->firer_endpoints.n == 1);
	CHECK_STR(c->firer_endpoints.v[0], "tcp://*:7702");
	CHECK_STR(c->metrics[SERVICE_INGEST], "127.0.0.1:9101");
	CHECK_STR(c->metrics[SERVICE_MATCHER], "[::1]:9102");
	CHECK_STR(c->metrics[SERVICE_FIRER], "localhost:9103");
	CHECK_STR(c->global_token, "Gl0bal_tok.en~1");
	CHECK(c->matcher_grace_ms == 120000);
	CHECK(c->retention_ms[RETENTION_CLICKS] == 60LL * 86400 * 1000);
	CHECK(c->retention_ms[RETENTION_LOGS] == 14LL * 86400 * 1000);
	CHECK(c->retention_ms[RETENTION_POSTBACKS] == 3LL * 86400 * 1000);
	CHECK(c->retention_ms[RETENTION_REPORTS] == 500LL * 86400 * 1000);
	CHECK(c->spool_max == 512ULL << 20);
	CHECK(c->map_size[SERVICE_INGEST] == 1ULL << 30);
	CHECK(c->map_size[SERVICE_MATCHER] == 2ULL << 30);
	CHECK(c->map_size[SERVICE_FIRER] == 1ULL << 20);
	CHECK(c->max_per_host == 8);
	CHECK_STR(c->public_url, "https://track.example.com");
}

static void
check_full_proxies(const struct conf *c)
{
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	CHECK(c->ntrust_proxy == 3);
	if (c->ntrust_proxy != 3)
		return;
	CHECK(c->trust_proxy[0].family == AF_INET);
	CHECK(c->trust_proxy[0].prefix == 8);
	CHECK(memcmp(c->trust_proxy[0].addr, "\x0a\0\0\0", 4) == 0);
	CHECK(c->trust_proxy[1].family == AF_INET);
	CHECK(c->trust_proxy[1].prefix == 32);
	CHECK(memcmp(c->trust_proxy[1].addr, "\xc0\xa8\x01\x07", 4) == 0);
	CHECK(c->trust_proxy[2].family == AF_INET6);
	CHECK(c->trust_proxy[2].prefix == 32);
	CHECK(memcmp(c->trust_proxy[2].addr, v6, 16) == 0);
}

static void
check_full_offers(const struct conf *c)
{
	const struct offer *o;

	CHECK(c->noffers == 2);
	CHECK((o = conf_offer(c, "a1")) != NULL);
	if (o != NULL) {
		CHECK_STR(tmpl_source(o->url), "https://shop.example.com/"
		    "land?tx={transaction_id}&pub={publisher}");
		CHECK(tmpl_context(o->url) == TMPL_URL);
		CHECK_STR(o->token, "offer-a1-token");
		CHECK(o->window_ms == 7LL * 86400 * 1000);
		CHECK_STR(o->payout, "2.50");
		CHECK_STR(o->revenue, "4");
		CHECK(o->multiple == 1);
		CHECK(o->min_delta_ms == 30000);
	}
	CHECK((o = conf_offer(c, "b.2")) != NULL);
	if (o != NULL) {
		CHECK_STR(tmpl_source(o->url),
		    "https://b.example.org/{offer_id}?s={sub_id}#top");
		CHECK(o->token == NULL);
		CHECK(o->window_ms == CONF_DEFAULT_WINDOW_MS);
		CHECK(o->payout == NULL && o->revenue == NULL);
		CHECK(o->multiple == 0);
		CHECK(o->min_delta_ms == 0);
	}
	CHECK(conf_offer(c, "a2") == NULL);
}

static void
check_full_aliases(const struct conf *c)
{
	CHECK(c->naliases == 4);
	CHECK(c->aliases[0].offer_id == NULL);
	CHECK_STR(c->aliases[1].offer_id, "a1");
	CHECK_STR(c->aliases[1].theirs, "clickId");
	CHECK_STR(c->aliases[1].ours, "external_transaction_id");
	/* The offer's own alias wins over "*", whatever the order. */
	CHECK_STR(conf_alias(c, "a1", "clickId"), "external_transaction_id");
	CHECK_STR(conf_alias(c, "b.2", "clickId"), "transaction_id");
	CHECK_STR(conf_alias(c, NULL, "clickId"), "transaction_id");
	CHECK_STR(conf_alias(c, "a1", "earning"), "payout");
	CHECK(conf_alias(c, "b.2", "earning") == NULL);
	CHECK_STR(conf_alias(c, "b.2", "dyn"), "sub_id_2");
	CHECK(conf_alias(c, "a1", "ClickId") == NULL);
}

static void
check_rule_aff(const struct rule *r)
{
	CHECK(r->on == EVENT_CONVERSION);
	CHECK(r->offers.n == 2);
	CHECK_STR(r->offers.v[1], "b.2");
	CHECK(r->publishers.n == 2);
	CHECK_STR(r->publishers.v[1], "p-2");
	CHECK(r->events.n == 0);
	CHECK(r->status == RULE_STATUS_ANY);
	CHECK(r->reasons.n == 2);
	CHECK_STR(r->reasons.v[1], "bad lead");
	CHECK(r->delay_ms == 600000);
	CHECK(r->post == 1);
	CHECK(r->nheaders == 2);
	CHECK_STR(r->headers[0].name, "Content-Type");
	CHECK_STR(tmpl_source(r->headers[0].value), "application/json");
	CHECK(tmpl_context(r->headers[1].value) == TMPL_HEADER);
	CHECK_STR(tmpl_source(r->headers[1].value), "{transaction_id}");
	CHECK(r->body != NULL && tmpl_context(r->body) == TMPL_JSON);
	CHECK_STR(tmpl_source(r->body),
	    "{\"tx\":\"{transaction_id}\",\"payout\":\"{payout}\"}");
	CHECK_STR(r->sign_secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
	CHECK(r->sign_keylen == 24);
	CHECK(r->sign_key != NULL && memcmp(r->sign_key,
	    "\x31\xf2\x90\xf6\xbf\x06\x29\x8a\xab\x4f\x08\xd4\x3c\x3f\x08"
	    "\x2c\xf6\x48\xa3\x62\xda\x2d\xa4\xb0", 24) == 0);
	CHECK(r->nretry == 3);
	CHECK(r->retry_ms[0] == 0 && r->retry_ms[1] == 30000 &&
	    r->retry_ms[2] == 300000);
	CHECK(r->timeout_ms == 5000);
	CHECK_STR(tmpl_source(r->url), "https://aff.example.net/pb?"
	    "click={external_transaction_id}&amt={payout}");
	CHECK(r->line == 28);
}

static void
check_rule_defaults(const struct rule *r)
{
	static const int64_t retry[] = { 0, 10000, 60000, 600000, 3600000,
	    21600000, 86400000 };

	CHECK(r->on == EVENT_CLICK);
	CHECK(r->offers.n == 0 && r->publishers.n == 0);
	CHECK(r->events.n == 0 && r->reasons.n == 0);
	CHECK(r->status == STATUS_APPROVED);
	CHECK(r->delay_ms == 0);
	CHECK(r->post == 0);
	CHECK(r->nheaders == 0 && r->headers == NULL);
	CHECK(r->body == NULL);
	CHECK(r->sign_secret == NULL && r->sign_key == NULL);
	CHECK(r->nretry == nitems(retry) &&
	    memcmp(r->retry_ms, retry, sizeof(retry)) == 0);
	CHECK(r->timeout_ms == CONF_DEFAULT_TIMEOUT_MS);
}

static void
check_full_rules(const struct conf *c)
{
	const struct rule *r;

	CHECK(c->nrules == 4);
	if ((r = conf_rule(c, "aff-conv")) != NULL)
		check_rule_aff(r);
	CHECK(r != NULL);
	CHECK((r = conf_rule(c, "events")) != NULL);
	if (r != NULL) {
		CHECK(r->on == EVENT_EVENT);
		CHECK(r->events.n == 2);
		CHECK_STR(r->events.v[0], "deposit");
		CHECK(r->status == STATUS_PENDING);
		CHECK(r->line == 38);
	}
	CHECK((r = conf_rule(c, "clicks")) != NULL);
	if (r != NULL)
		check_rule_defaults(r);
	CHECK((r = conf_rule(c, "form")) != NULL);
	if (r != NULL) {
		CHECK(r->body != NULL && tmpl_context(r->body) == TMPL_FORM);
		CHECK_STR(tmpl_source(r->body), "a={sub_id}&b=1");
	}
	CHECK(conf_rule(c, "nope") == NULL);
}

static void
test_full(void)
{
	struct conf *c;
	struct buf errors;
	char *dir;

	buf_init(&errors);
	c = conf_load("conf/good/full.conf", &errors);
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "%s", errors.data);
		buf_free(&errors);
		return;
	}
	check_full_global(c);
	check_full_proxies(c);
	check_full_offers(c);
	check_full_aliases(c);
	check_full_rules(c);
	dir = conf_instance_dir(c, SERVICE_MATCHER, 3);
	CHECK_STR(dir, "/var/db/postline/matcher-3");
	free(dir);
	conf_free(c);
	buf_free(&errors);
}

static void
test_defaults(void)
{
	struct conf *c;
	struct buf errors;
	char *dir;
	int i;

	buf_init(&errors);
	c = conf_load("conf/good/empty.conf", &errors);
	buf_free(&errors);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->data_dir, CONF_DEFAULT_DATA_DIR);
	CHECK(c->listen.n == 1);
	CHECK_STR(c->listen.v[0], CONF_DEFAULT_LISTEN);
	CHECK(c->matcher_endpoints.n == 1);
	CHECK_STR(c->matcher_endpoints.v[0], CONF_DEFAULT_MATCHER);
	CHECK(c->firer_endpoints.n == 1);
	CHECK_STR(c->firer_endpoints.v[0], CONF_DEFAULT_FIRER);
	for (i = 0; i < SERVICE_END; i++) {
		CHECK(c->metrics[i] == NULL);
		CHECK(c->map_size[i] == CONF_DEFAULT_MAP_SIZE);
	}
	CHECK(c->global_token == NULL);
	CHECK(c->noffers == 0 && c->naliases == 0 && c->nrules == 0);
	CHECK(c->matcher_grace_ms == CONF_DEFAULT_GRACE_MS);
	CHECK(c->retention_ms[RETENTION_CLICKS] == CONF_DEFAULT_RETENTION_CLICKS_MS);
	CHECK(c->retention_ms[RETENTION_LOGS] == CONF_DEFAULT_RETENTION_LOGS_MS);
	CHECK(c->retention_ms[RETENTION_POSTBACKS] ==
	    CONF_DEFAULT_RETENTION_POSTBACKS_MS);
	CHECK(c->retention_ms[RETENTION_REPORTS] ==
	    CONF_DEFAULT_RETENTION_REPORTS_MS);
	CHECK(c->ntrust_proxy == 0);
	CHECK(c->spool_max == CONF_DEFAULT_SPOOL_MAX);
	CHECK(c->max_per_host == CONF_DEFAULT_MAX_PER_HOST);
	CHECK(c->public_url == NULL);
	dir = conf_instance_dir(c, SERVICE_INGEST, 0);
	CHECK_STR(dir, "./data/ingest-0");
	free(dir);
	conf_free(c);
}

static void
test_quoting(void)
{
	const struct offer *o;
	const struct rule *r;
	struct conf *c;
	struct buf errors;

	buf_init(&errors);
	c = conf_load("conf/good/quoting.conf", &errors);
	buf_free(&errors);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->data_dir, "/srv/post line/data");
	CHECK_STR(c->global_token, "abcdef");
	CHECK(c->noffers == 3);
	if ((o = conf_offer(c, "o1")) != NULL)
		CHECK_STR(tmpl_source(o->url),
		    "https://q.example/?a=\"x\"&b=\\{sub_id}");
	if ((o = conf_offer(c, "o2")) != NULL)
		CHECK_STR(tmpl_source(o->url),
		    "https://q.example/#frag#not-a-comment");
	if ((o = conf_offer(c, "o3")) != NULL)
		CHECK_STR(tmpl_source(o->url),
		    "https://q.example/long/path?x={sub_id}");
	CHECK((r = conf_rule(c, "t")) != NULL);
	if (r != NULL && r->nheaders == 1)
		CHECK_STR(tmpl_source(r->headers[0].value), "tab\there");
	CHECK_STR(conf_alias(c, "o1", "ClickID"), "transaction_id");
	conf_free(c);
}

static void
test_missing_file(void)
{
	struct buf errors;

	buf_init(&errors);
	CHECK(conf_load("conf/no-such-file.conf", &errors) == NULL);
	CHECK_STR(errors.data, "conf/no-such-file.conf: cannot open: "
	    "No such file or directory\n");
	buf_reset(&errors);
	CHECK(conf_load("conf", &errors) == NULL);
	CHECK(errors.data != NULL && strncmp(errors.data, "conf: ", 6) == 0);
	buf_free(&errors);
}

static void
test_helpers(void)
{
	CHECK_STR(service_name(SERVICE_INGEST), "ingest");
	CHECK_STR(service_name(SERVICE_MATCHER), "matcher");
	CHECK_STR(service_name(SERVICE_FIRER), "firer");
	CHECK_STR(conf_path("/x.conf"), "/x.conf");
	setenv(CONF_ENV, "/env.conf", 1);
	CHECK_STR(conf_path(NULL), "/env.conf");
	CHECK_STR(conf_path("/x.conf"), "/x.conf");
	setenv(CONF_ENV, "", 1);
	CHECK_STR(conf_path(NULL), CONF_DEFAULT_PATH);
	unsetenv(CONF_ENV);
	CHECK_STR(conf_path(NULL), CONF_DEFAULT_PATH);
}

int
main(void)
{
	test_files();
	test_full();
	test_defaults();
	test_quoting();
	test_missing_file();
	test_helpers();
	return check_done("conf");
}
