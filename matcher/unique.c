/*
 * The unique-click index in memory: for each hash of offer, click IP and
 * User-Agent, the time of its last click, in an open-addressing table.
 * A click reads and sets its entry here instead of in the store, where
 * a random key would copy a page of the B-tree for nearly every click;
 * the store keeps only the log of (time, hash) that each click appends
 * to, from which count_load_unique() (count.c) makes the table again at
 * start.  What a transaction changed is undone when it does not commit.
 */
#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "matcher.h"

#define UNIQUE_MIN_SLOTS	1024
/* A table this big or more is mapped on its own, in huge pages. */
#define UNIQUE_HUGE_BYTES	(2UL << 20)

struct unique_slot {
	uint64_t	 hash;		/* 0: empty */
	int64_t		 last;		/* INT64_MIN: as good as empty */
};

struct unique {
	struct unique_slot *v;
	size_t		 cap;		/* a power of two, or 0 */
	size_t		 n;		/* slots used */
	struct unique_slot *undo;	/* values before the open transaction */
	size_t		 nundo, capundo;
};

struct unique *
unique_new(void)
{
	return xcalloc(1, sizeof(struct unique));
}

/*
 * A zeroed table of cap slots.  Each lookup of a big table lands on a
 * page of its own: with 4 KB pages nearly every one also misses the TLB,
 * so a big table asks for huge pages (transparent_hugepage "madvise").
 */
static struct unique_slot *
table_new(size_t cap)
{
	size_t bytes = cap * sizeof(struct unique_slot);
	void *p;

	if (bytes < UNIQUE_HUGE_BYTES)
		return xcalloc(cap, sizeof(struct unique_slot));
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("event=unique_index error=\"cannot map %zu bytes\"",
		    bytes);
	(void)madvise(p, bytes, MADV_HUGEPAGE);	/* a hint: may be refused */
	return p;
}

static void
table_free(struct unique_slot *v, size_t cap)
{
	size_t bytes = cap * sizeof(struct unique_slot);

	if (bytes < UNIQUE_HUGE_BYTES)
		free(v);
	else
		munmap(v, bytes);
}

void
unique_free(struct unique *u)
{
	if (u == NULL)
		return;
	table_free(u->v, u->cap);
	free(u->undo);
	free(u);
}

size_t
unique_entries(const struct unique *u)
{
	return u->n;
}

size_t
unique_bytes(const struct unique *u)
{
	return (u->cap + u->capundo) * sizeof(struct unique_slot);
}

/* The slot of hash, or the empty slot where it would go. */
static struct unique_slot *
slot_of(const struct unique *u, uint64_t hash)
{
	size_t i, mask = u->cap - 1;

	for (i = hash & mask; u->v[i].hash != 0 && u->v[i].hash != hash;
	    i = (i + 1) & mask)
		;
	return &u->v[i];
}

/* Hash 0 marks an empty slot: that one hash is stored as 1. */
static uint64_t
key_of(uint64_t hash)
{
	return hash != 0 ? hash : 1;
}

void
unique_prefetch(const struct unique *u, uint64_t hash)
{
	if (u->cap > 0)
		__builtin_prefetch(&u->v[key_of(hash) & (u->cap - 1)]);
}

int64_t
unique_last(const struct unique *u, uint64_t hash)
{
	const struct unique_slot *s;

	if (u->cap == 0)
		return INT64_MIN;
	s = slot_of(u, key_of(hash));
	return s->hash != 0 ? s->last : INT64_MIN;
}

/*
 * A new table with the entries whose last click is at stale_before or
 * later, at most 35% full: the stale ones go when the table fills.
 */
static void
rebuild(struct unique *u, int64_t stale_before)
{
	struct unique_slot *old = u->v;
	size_t i, live = 0, cap = u->cap;

	for (i = 0; i < cap; i++)
		if (old[i].hash != 0 && old[i].last >= stale_before)
			live++;
	for (u->cap = UNIQUE_MIN_SLOTS; (live + 1) * 20 > u->cap * 7;
	    u->cap *= 2)
		;
	u->v = table_new(u->cap);
	u->n = live;
	for (i = 0; i < cap; i++)
		if (old[i].hash != 0 && old[i].last >= stale_before)
			*slot_of(u, old[i].hash) = old[i];
	table_free(old, cap);
}

/* The slot of hash, made if it is not there: a place for one more. */
static struct unique_slot *
slot_for(struct unique *u, uint64_t hash, int64_t stale_before)
{
	struct unique_slot *s;

	if ((u->n + 1) * 10 > u->cap * 7)
		rebuild(u, stale_before);
	s = slot_of(u, hash);
	if (s->hash == 0) {
		s->hash = hash;
		s->last = INT64_MIN;
		u->n++;
	}
	return s;
}

int64_t
unique_note(struct unique *u, uint64_t hash, int64_t t, int64_t stale_before)
{
	struct unique_slot *s;
	int64_t last;

	if (u->nundo == u->capundo) {
		u->capundo = u->capundo ? u->capundo * 2 : 1024;
		u->undo = xreallocarray(u->undo, u->capundo,
		    sizeof(*u->undo));
	}
	s = slot_for(u, key_of(hash), stale_before);
	last = s->last;
	u->undo[u->nundo++] = *s;
	if (t > s->last)
		s->last = t;
	return last;
}

void
unique_keep(struct unique *u)
{
	u->nundo = 0;
}

void
unique_undo(struct unique *u)
{
	struct unique_slot *was;

	while (u->nundo > 0) {
		was = &u->undo[--u->nundo];
		slot_for(u, was->hash, INT64_MIN)->last = was->last;
	}
}
