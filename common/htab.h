/*
 * A hash table of nodes embedded in the caller's structs (chained, grown
 * as it fills): the one the programs use wherever they find things by a
 * hash.  The caller hashes its key and compares candidates itself:
 *
 *	for (n = htab_find(&t, h); n != NULL; n = htab_next(n, h))
 *		if (same(htab_entry(n, struct flight, node), key)) ...
 */
#ifndef POSTLINE_HTAB_H
#define POSTLINE_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab_node {
	struct htab_node	*next;
	uint64_t		 hash;
};

struct htab {
	struct htab_node	**buckets;
	size_t			 nbuckets;	/* a power of two */
	size_t			 n;
};

#define htab_entry(node, type, member) \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

void	htab_init(struct htab *);
void	htab_free(struct htab *);	/* the buckets, not the nodes */
void	htab_add(struct htab *, struct htab_node *, uint64_t hash);
void	htab_del(struct htab *, struct htab_node *);
/* The first node of hash, and the next one of the same hash. */
struct htab_node *htab_find(const struct htab *, uint64_t hash);
struct htab_node *htab_next(const struct htab_node *, uint64_t hash);

#endif
