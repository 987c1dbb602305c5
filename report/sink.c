/*
 * The columns a report prints: all of its mode's, or those --fields
 * names, in that order; tab-separated or JSON Lines (common/table.h).
 */
#include <err.h>
#include <string.h>

#include "report.h"

static int
column_of(const char *const *names, size_t n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0)
			return (int)i;
	return -1;
}

int
sink_init(struct sink *s, const struct query *q, const char *const *names,
    size_t n)
{
	const char *p = q->fields;
	size_t len;
	int col;

	s->ncols = 0;
	s->rows = 0;
	table_init(&s->t, q->json);
	if (p == NULL) {
		for (s->ncols = 0; s->ncols < n; s->ncols++)
			s->cols[s->ncols] = (int)s->ncols;
		return 0;
	}
	for (;;) {
		len = strcspn(p, ",");
		if ((col = column_of(names, n, p, len)) == -1) {
			warnx("--fields: unknown column \"%.*s\"", (int)len, p);
			return -1;
		}
		if (s->ncols == REPORT_FIELDS_MAX) {
			warnx("--fields: more than %d columns",
			    REPORT_FIELDS_MAX);
			return -1;
		}
		s->cols[s->ncols++] = col;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

int
sink_header(struct sink *s, const char *const *names)
{
	const char *sel[REPORT_FIELDS_MAX];
	size_t i;

	if (s->t.json)
		return TABLE_OK;
	for (i = 0; i < s->ncols; i++)
		sel[i] = names[s->cols[i]];
	return table_names(&s->t, sel, s->ncols);
}

int
sink_row(struct sink *s, const char *const *names, const char *const *values,
    const int *numeric)
{
	const char *v;
	size_t i;
	int c, number;

	for (i = 0; i < s->ncols; i++) {
		c = s->cols[i];
		v = values[c] ? values[c] : "";
		number = numeric != NULL && numeric[c];
		/* A number that is not there is JSON's null. */
		if (number && *v == '\0' && s->t.json)
			v = "null";
		table_cell(&s->t, i, names[c], v, number && *v != '\0');
	}
	s->rows++;
	return table_end(&s->t);
}
