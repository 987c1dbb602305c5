/*
 * Templates of postline.conf(5): "{name}" in redirect URLs, postback
 * URLs, headers and bodies.  A template is compiled once, when the config
 * is loaded (unknown macro names are errors then), and expanded per hit or
 * per delivery with values escaped for where they land.
 */
#ifndef POSTLINE_TMPL_H
#define POSTLINE_TMPL_H

#include <stddef.h>

#include "util.h"

enum tmpl_context {
	TMPL_URL,	/* http(s) URL: values percent-encoded; no macro in
			   the scheme or host */
	TMPL_FORM,	/* form body: values percent-encoded */
	TMPL_JSON,	/* JSON body: values JSON-string escaped */
	TMPL_HEADER,	/* header value: control characters (CR, LF, ...)
			   become spaces */
};

struct tmpl;

/*
 * Compile src for a context.  On error return NULL and write a message
 * naming the offending word into err (for "file:line: " to be prefixed).
 */
struct tmpl	*tmpl_compile(const char *src, enum tmpl_context,
		    char *err, size_t errlen);
void		 tmpl_free(struct tmpl *);
const char	*tmpl_source(const struct tmpl *);
enum tmpl_context tmpl_context(const struct tmpl *);

/* Where expansion finds the value of a macro; NULL expands to nothing. */
typedef const char *(*tmpl_lookup_fn)(void *arg, const char *name);

/* Append the expansion to out. */
void		 tmpl_expand(const struct tmpl *, tmpl_lookup_fn, void *arg,
		    struct buf *out);

/* Whether name is a macro of postline.conf(5), "param.NAME" included. */
int		 tmpl_known_macro(const char *name);
/* The fixed macro names, NULL-terminated, for man pages and tests. */
extern const char *const tmpl_macro_names[];

/* Escaping helpers, also used by ingest -L and the firer. */
void		 tmpl_percent_encode(struct buf *, const char *);
void		 tmpl_json_escape(struct buf *, const char *);

#endif
