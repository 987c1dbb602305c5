/*
 * Chained hashing with the nodes in the caller's structs: see htab.h.
 * The table doubles when it holds two nodes a bucket, so a find looks
 * at a few nodes whatever the number; nodes keep their hash, so growing
 * never asks the caller.
 */
#include <stdlib.h>

#include "htab.h"
#include "util.h"

#define HTAB_FIRST	64

void
htab_init(struct htab *t)
{
	t->nbuckets = HTAB_FIRST;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	t->n = 0;
}

void
htab_free(struct htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->n = 0;
}

static void
grow(struct htab *t)
{
	size_t i, nb = t->nbuckets * 2;
	struct htab_node **b = xcalloc(nb, sizeof(*b)), *n, *next;

	for (i = 0; i < t->nbuckets; i++)
		for (n = t->buckets[i]; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

void
htab_add(struct htab *t, struct htab_node *n, uint64_t hash)
{
	struct htab_node **b;

	if (t->n >= 2 * t->nbuckets)
		grow(t);
	b = &t->buckets[hash & (t->nbuckets - 1)];
	n->hash = hash;
	n->next = *b;
	*b = n;
	t->n++;
}

void
htab_del(struct htab *t, struct htab_node *n)
{
	struct htab_node **pp = &t->buckets[n->hash & (t->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			t->n--;
			return;
		}
}

struct htab_node *
htab_find(const struct htab *t, uint64_t hash)
{
	struct htab_node *n = t->buckets[hash & (t->nbuckets - 1)];

	while (n != NULL && n->hash != hash)
		n = n->next;
	return n;
}

struct htab_node *
htab_next(const struct htab_node *n, uint64_t hash)
{
	for (n = n->next; n != NULL && n->hash != hash; n = n->next)
		;
	return (struct htab_node *)(uintptr_t)n;
}
