/*
 * libFuzzer: conf_load on a file holding the input.  The file is a memfd
 * opened by its /proc path, so no input touches the disk.  A config that
 * loads must answer its own look-ups, and its templates must expand
 * hostile values without a crash; one that does not must say why.
 */
#include <sys/mman.h>

#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

static int conf_fd = -1;
static char conf_file[64];

static const char *const hostile[] = {
	"a b\r\nX-Injected: 1", "\"}\\u0000{", "%00&x=1?#/", "\x01\x7f\xff",
	"http://evil.example/", "",
};

static const char *
lookup(void *arg, const char *name)
{
	size_t h = strlen(name);

	(void)arg;
	return hostile[(h + (unsigned char)name[0]) % nitems(hostile)];
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((conf_fd = memfd_create("fuzz_conf", 0)) == -1) {
		perror("memfd_create");
		abort();
	}
	snprintf(conf_file, sizeof(conf_file), "/proc/self/fd/%d", conf_fd);
	return 0;
}

static void
write_input(const uint8_t *data, size_t size)
{
	ssize_t n;
	size_t off = 0;

	CHECK(ftruncate(conf_fd, 0) == 0);
	while (off < size) {
		n = pwrite(conf_fd, data + off, size - off, (off_t)off);
		CHECK(n > 0);
		off += (size_t)n;
	}
}

static void
expand(const struct tmpl *t)
{
	struct buf out;
	size_t i;

	if (t == NULL)
		return;
	buf_init(&out);
	tmpl_expand(t, lookup, NULL, &out);
	CHECK(strlen(out.data) == out.len);
	if (tmpl_context(t) == TMPL_HEADER || tmpl_context(t) == TMPL_URL)
		for (i = 0; i < out.len; i++)
			CHECK(out.data[i] != '\r' && out.data[i] != '\n');
	if (tmpl_context(t) == TMPL_URL)
		CHECK(strchr(out.data, ' ') == NULL);
	buf_free(&out);
}

static void
check_loaded(const struct conf *c)
{
	const struct rule *r;
	size_t i, j;
	char *dir;

	CHECK(c->data_dir != NULL && c->listen.n > 0);
	CHECK(c->matcher_endpoints.n > 0 && c->firer_endpoints.n > 0);
	for (i = 0; i < c->noffers; i++) {
		CHECK(conf_offer(c, c->offers[i].id) == &c->offers[i]);
		CHECK(tmpl_context(c->offers[i].url) == TMPL_URL);
		expand(c->offers[i].url);
	}
	for (i = 0; i < c->naliases; i++)
		CHECK(conf_alias(c, c->aliases[i].offer_id,
		    c->aliases[i].theirs) != NULL);
	for (i = 0; i < c->nrules; i++) {
		r = &c->rules[i];
		CHECK(conf_rule(c, r->name) == r);
		expand(r->url);
		expand(r->body);
		for (j = 0; j < r->nheaders; j++) {
			CHECK(tmpl_context(r->headers[j].value) == TMPL_HEADER);
			expand(r->headers[j].value);
		}
	}
	(void)conf_trusted_proxy(c, "10.1.2.3");
	(void)conf_trusted_proxy(c, "2001:db8::1");
	(void)conf_trusted_proxy(c, "not an address");
	dir = conf_instance_dir(c, SERVICE_FIRER, 3);
	free(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf errors;
	struct conf *c;

	write_input(data, size);
	buf_init(&errors);
	c = conf_load(conf_file, &errors);
	if (c != NULL) {
		check_loaded(c);
		conf_free(c);
	} else {
		/* Every error is a "file:line: message" line. */
		CHECK(errors.len > 0 && errors.data[errors.len - 1] == '\n');
		CHECK(strncmp(errors.data, conf_file, strlen(conf_file)) == 0);
	}
	buf_free(&errors);
	return 0;
}
