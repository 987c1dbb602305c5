/*
 * Unit test of common/htab.c: nodes found by hash, several of one hash
 * told apart by the caller, removal, and growth keeping every node.
 */
#include <stdlib.h>

#include "check.h"
#include "htab.h"

struct item {
	int			 key;
	struct htab_node	 node;
};

/* The item of key, found by a hash that many keys share. */
static struct item *
find(const struct htab *t, int key, uint64_t hash)
{
	struct htab_node *n;
	struct item *it;

	for (n = htab_find(t, hash); n != NULL; n = htab_next(n, hash))
		if ((it = htab_entry(n, struct item, node))->key == key)
			return it;
	return NULL;
}

static uint64_t
coarse(int key)
{
	return (uint64_t)(key % 7) * 0x9e3779b97f4a7c15ULL;
}

static void
test_shared_hashes(void)
{
	struct item items[50];
	struct htab t;
	int i, found = 1;

	htab_init(&t);
	for (i = 0; i < 50; i++) {
		items[i].key = i;
		htab_add(&t, &items[i].node, coarse(i));
	}
	CHECK(t.n == 50);
	for (i = 0; i < 50; i++)
		found &= find(&t, i, coarse(i)) == &items[i];
	CHECK(found);
	CHECK(find(&t, 51, coarse(51)) == NULL);
	htab_del(&t, &items[14].node);
	CHECK(t.n == 49 && find(&t, 14, coarse(14)) == NULL);
	CHECK(find(&t, 21, coarse(21)) == &items[21]);	/* same hash */
	htab_free(&t);
}

static void
test_growth(void)
{
	enum { N = 10000 };
	struct item *items = calloc(N, sizeof(*items));
	struct htab t;
	size_t first;
	int i, found = 1;

	htab_init(&t);
	first = t.nbuckets;
	for (i = 0; i < N; i++) {
		items[i].key = i;
		htab_add(&t, &items[i].node, (uint64_t)i * 2654435761u);
	}
	CHECK(t.nbuckets > first && t.n == N);
	for (i = 0; i < N; i++)
		found &= find(&t, i, (uint64_t)i * 2654435761u) == &items[i];
	CHECK(found);
	for (i = 0; i < N; i += 2)
		htab_del(&t, &items[i].node);
	CHECK(t.n == N / 2);
	CHECK(find(&t, 2, 2ULL * 2654435761u) == NULL);
	CHECK(find(&t, 3, 3ULL * 2654435761u) == &items[3]);
	htab_free(&t);
	free(items);
}

int
main(void)
{
	test_shared_hashes();
	test_growth();
	return check_done("htab");
}
