/*
 * postline.conf(5): one file read by every service.  conf_load() parses
 * and validates the whole grammar; every error names file:line and the
 * offending word.
 */
#ifndef POSTLINE_CONF_H
#define POSTLINE_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "tmpl.h"
#include "util.h"

#define CONF_DEFAULT_PATH	"/etc/postline.conf"
/* Where the Debian package keeps it: read when the default is absent. */
#define CONF_PACKAGE_PATH	"/etc/postline/postline.conf"
#define CONF_ENV		"POSTLINE_CONF"

enum service {
	SERVICE_INGEST,
	SERVICE_MATCHER,
	SERVICE_FIRER,
	SERVICE_END
};

const char *service_name(int);

struct offer {
	char		*id;
	struct tmpl	*url;		/* TMPL_URL */
	char		*token;		/* NULL: only the global token */
	int64_t		 window_ms;	/* attribution window */
	char		*payout;	/* default amounts, NULL if unset */
	char		*revenue;
	int		 multiple;	/* a new order_id is a new conversion */
	int64_t		 unique_window_ms; /* a click from the same IP and
					   User-Agent within it: a duplicate */
	int64_t		 min_delta_ms;	/* a conversion sooner after its
					   click is too_fast; 0: off */
};

struct alias {
	char	*offer_id;		/* NULL for "*" */
	char	*theirs;
	char	*ours;
};

struct header_tmpl {
	char		*name;
	struct tmpl	*value;		/* TMPL_HEADER */
};

#define RULE_STATUS_ANY	0

struct rule {
	char		*name;
	int		 on;		/* enum event_type */
	struct strlist	 offers;	/* filters; empty matches all */
	struct strlist	 publishers;
	struct strlist	 events;
	int		 status;	/* enum status, or RULE_STATUS_ANY */
	struct strlist	 reasons;
	int64_t		 delay_ms;
	int		 post;		/* method post (else get) */
	struct header_tmpl *headers;
	size_t		 nheaders;
	struct tmpl	*body;		/* NULL: none; TMPL_JSON when a
					   Content-Type header says JSON,
					   else TMPL_FORM */
	char		*sign_secret;	/* "whsec_..." as written */
	unsigned char	*sign_key;	/* its decoded bytes */
	size_t		 sign_keylen;
	int64_t		*retry_ms;	/* the retry schedule */
	size_t		 nretry;
	int64_t		 timeout_ms;
	struct tmpl	*url;		/* TMPL_URL */
	int		 line;		/* where it was defined */
};

/* What "retention KIND" keeps for a bounded time (postline.conf(5)). */
enum retention {
	RETENTION_CLICKS,	/* matcher: clicks and their conversions */
	RETENTION_LOGS,		/* firer: attempts, finished deliveries */
	RETENTION_POSTBACKS,	/* the inbound postback rows (to come) */
	RETENTION_REPORTS,	/* matcher: hourly counters */
	RETENTION_END
};

struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];
	unsigned	 prefix;
};

struct conf {
	char		*path;
	char		*data_dir;
	struct strlist	 listen;		/* ingest listen */
	struct strlist	 matcher_endpoints;	/* one per shard */
	struct strlist	 firer_endpoints;	/* one per firer */
	char		*metrics[SERVICE_END];	/* NULL: off */
	uint64_t	 map_size[SERVICE_END];
	char		*global_token;
	struct offer	*offers;
	size_t		 noffers;
	struct alias	*aliases;
	size_t		 naliases;
	struct rule	*rules;
	size_t		 nrules;
	int64_t		 matcher_grace_ms;
	int64_t		 retention_ms[RETENTION_END];	/* by kind */
	struct cidr	*trust_proxy;
	size_t		 ntrust_proxy;
	uint64_t	 spool_max;
	uint64_t	 postbacks_max;	/* rows of refused requests kept */
	uint32_t	 max_per_host;
	char		*public_url;
};

/* Defaults of postline.conf(5). */
#define CONF_DEFAULT_DATA_DIR		"./data"
#define CONF_DEFAULT_LISTEN		"127.0.0.1:8080"
#define CONF_LISTEN_MAX			16	/* ingest listen lines */
#define CONF_DEFAULT_MATCHER		"tcp://127.0.0.1:7701"
#define CONF_DEFAULT_FIRER		"tcp://127.0.0.1:7702"
#define CONF_DEFAULT_GRACE_MS		(60 * 1000)
#define CONF_DEFAULT_WINDOW_MS		(30LL * 86400 * 1000)
#define CONF_DEFAULT_RETENTION_CLICKS_MS (90LL * 86400 * 1000)
#define CONF_DEFAULT_RETENTION_LOGS_MS	(30LL * 86400 * 1000)
#define CONF_DEFAULT_RETENTION_POSTBACKS_MS (7LL * 86400 * 1000)
#define CONF_DEFAULT_RETENTION_REPORTS_MS (400LL * 86400 * 1000)
#define CONF_DEFAULT_UNIQUE_WINDOW_MS	(24LL * 3600 * 1000)
#define CONF_DEFAULT_SPOOL_MAX		(1ULL << 30)
#define CONF_DEFAULT_POSTBACKS_MAX	100000
#define CONF_POSTBACKS_MAX		100000000
#define CONF_DEFAULT_MAP_SIZE		(16ULL << 30)
#define CONF_DEFAULT_MAX_PER_HOST	32
#define CONF_DEFAULT_TIMEOUT_MS		(15 * 1000)
#define CONF_DEFAULT_RETRY		"0,10s,1m,10m,1h,6h,24h"

/*
 * Read and validate a config file.  On error return NULL and append one
 * "file:line: message" line per error to errors.
 */
struct conf		*conf_load(const char *path, struct buf *errors);
void			 conf_free(struct conf *);
/* Free what a rule holds (for rules built outside conf_load). */
void			 conf_rule_clear(struct rule *);

/*
 * The path to read: -f if given, else $POSTLINE_CONF, else the default,
 * else (when the default does not exist and it does) the package's.
 */
const char		*conf_path(const char *flag);

const struct offer	*conf_offer(const struct conf *, const char *id);
const struct rule	*conf_rule(const struct conf *, const char *name);
/* Our name for an advertiser's parameter name, or NULL. */
const char		*conf_alias(const struct conf *, const char *offer_id,
			    const char *theirs);
/* Whether ip (text) is in an "ingest trust-proxy" network. */
int			 conf_trusted_proxy(const struct conf *, const char *ip);
/* The directory of one service instance: DATA-DIR/ingest-0, ... */
char			*conf_instance_dir(const struct conf *, int service,
			    int instance);
/* Those of every instance of service the config names, into dirs. */
void			 conf_instance_dirs(const struct conf *, int service,
			    struct strlist *dirs);
/*
 * For the tools: the config of conf_path(flag), or NULL with its errors
 * (file:line and word) said on stderr.
 */
struct conf		*conf_load_or_say(const char *flag);

#endif
