/*
 * A very small unit test helper: CHECK() records a failure with its line
 * and goes on; check_done() prints a summary and gives the exit status.
 */
#ifndef POSTLINE_CHECK_H
#define POSTLINE_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond) do {						\
	check_count++;							\
	if (!(cond)) {							\
		check_failures++;					\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
	}								\
} while (0)

#define CHECK_STR(got, want) do {					\
	const char *check_got_ = (got), *check_want_ = (want);		\
	check_count++;							\
	if (check_got_ == NULL || strcmp(check_got_, check_want_) != 0) { \
		check_failures++;					\
		fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n",	\
		    __FILE__, __LINE__,					\
		    check_got_ ? check_got_ : "(null)", check_want_);	\
	}								\
} while (0)

static inline int
check_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count,
	    check_failures);
	return check_failures ? 1 : 0;
}

#endif
