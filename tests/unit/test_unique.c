/*
 * The matcher's unique-click index in memory (matcher/unique.c): the last
 * click of each hash, what an aborted transaction set undone, stale
 * entries dropped as the table grows and live ones kept.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "matcher.h"

static void
test_last_and_undo(void)
{
	struct unique *u = unique_new();

	CHECK(unique_last(u, 42) == INT64_MIN);
	unique_note(u, 42, 1000, 0);
	unique_note(u, 0, 7, 0);		/* hash 0 is a hash like any other */
	unique_keep(u);
	CHECK(unique_last(u, 42) == 1000);
	CHECK(unique_last(u, 0) == 7);
	CHECK(unique_last(u, 1) == 7);	/* 0 and 1 share a slot */

	/* It gives the time it had, and keeps the later one. */
	CHECK(unique_note(u, 99, 10, 0) == INT64_MIN);
	CHECK(unique_note(u, 99, 5, 0) == 10);
	CHECK(unique_last(u, 99) == 10);
	CHECK(unique_note(u, 99, 20, 0) == 10);
	unique_keep(u);
	CHECK(unique_last(u, 99) == 20);

	/* A transaction that does not commit leaves no trace. */
	unique_note(u, 42, 2000, 0);
	unique_note(u, 43, 2000, 0);
	unique_note(u, 42, 3000, 0);
	CHECK(unique_last(u, 42) == 3000);
	unique_undo(u);
	CHECK(unique_last(u, 42) == 1000);
	CHECK(unique_last(u, 43) == INT64_MIN);

	/* One that commits stays, and a later undo does not reach it. */
	unique_note(u, 42, 4000, 0);
	unique_keep(u);
	unique_undo(u);
	CHECK(unique_last(u, 42) == 4000);
	unique_free(u);
}

/* Hashes spread as the real ones are. */
static uint64_t
spread(uint64_t i)
{
	return (i + 1) * 0x9E3779B97F4A7C15ULL;
}

static void
test_growth_drops_stale(void)
{
	struct unique *u = unique_new();
	const uint64_t N = 100000;
	uint64_t i;
	int found = 1, gone = 1;

	/* N entries at times 0..N-1, each committed. */
	for (i = 0; i < N; i++) {
		unique_note(u, spread(i), (int64_t)i, 0);
		unique_keep(u);
	}
	CHECK(unique_entries(u) == N);
	for (i = 0; i < N; i++)
		found &= unique_last(u, spread(i)) == (int64_t)i;
	CHECK(found);

	/* As N more come, those before N / 2 are stale and may go. */
	for (i = N; i < 2 * N; i++) {
		unique_note(u, spread(i), (int64_t)i, (int64_t)N / 2);
		unique_keep(u);
	}
	CHECK(unique_entries(u) < 2 * N);
	for (i = N / 2; i < 2 * N; i++)
		found &= unique_last(u, spread(i)) == (int64_t)i;
	CHECK(found);
	for (i = 0; i < N / 2; i++)
		gone &= unique_last(u, spread(i)) == INT64_MIN ||
		    unique_last(u, spread(i)) == (int64_t)i;
	CHECK(gone);
	CHECK(unique_bytes(u) < 2 * N * 16 * 4);

	/* An undo across a growth puts back what was there. */
	for (i = 0; i < N; i++)
		unique_note(u, spread(i + 3 * N), 5, 0);
	unique_undo(u);
	for (i = 0; i < N; i++)
		found &= unique_last(u, spread(i + 3 * N)) == INT64_MIN;
	CHECK(found);
	CHECK(unique_last(u, spread(N)) == (int64_t)N);
	unique_free(u);
}

int
main(void)
{
	test_last_and_undo();
	test_growth_drops_stale();
	return check_done("unique");
}
