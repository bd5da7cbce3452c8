/* li707 - pointer -> input line map (internal.h): the decoder records where each model
 * field came from, the checker looks lines up to put them into diagnostics.
 *
 * DESIGN: open addressing with linear probing over a power-of-two table; an empty slot has
 * key NULL (NULL keys are refused). The table doubles when it would pass 50% load, so
 * probes stay short. Pointer keys are hashed with a 64-bit finaliser (splitmix64's mixer)
 * because heap addresses share their low bits (alignment) and high bits. There is no
 * delete: a map lives for one decode.
 *
 * The table is built lazily. A put only appends (key, line) to a log; the first lookup
 * after puts indexes the new log entries, in order, so a later put of a key still replaces
 * an earlier one. A valid message is decoded and checked without a single lookup, so it
 * never pays for hashing; a message with findings pays once. The lookup is on a const map:
 * the index is a cache, and a map is used by one thread (one decode). */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

#define LINEMAP_INITIAL 64

struct linemap_slot {
	const void *key;
	long line;
};

struct li707__linemap {
	struct linemap_slot *log; /* every put, in order */
	size_t n_log, cap_log, max_log;
	size_t indexed;           /* log entries already in slots */
	struct linemap_slot *slots;
	size_t cap; /* power of two */
	size_t n;
};

static size_t mix(const void *key)
{
	uint64_t x = (uint64_t)(uintptr_t)key;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (size_t)x;
}

struct li707__linemap *li707__linemap_new(size_t max_entries)
{
	struct li707__linemap *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->max_log = max_entries;
	m->slots = calloc(LINEMAP_INITIAL, sizeof *m->slots);
	if (!m->slots) {
		free(m);
		return NULL;
	}
	m->cap = LINEMAP_INITIAL;
	return m;
}

void li707__linemap_free(struct li707__linemap *m)
{
	if (!m)
		return;
	free(m->log);
	free(m->slots);
	free(m);
}

/* Slot holding key, or the empty slot where it would go. */
static struct linemap_slot *find(const struct linemap_slot *slots, size_t cap, const void *key)
{
	size_t i = mix(key) & (cap - 1);
	while (slots[i].key && slots[i].key != key)
		i = (i + 1) & (cap - 1);
	return (struct linemap_slot *)&slots[i];
}

static int grow(struct li707__linemap *m)
{
	if (m->cap > SIZE_MAX / 2 / sizeof *m->slots)
		return LI707_ENOMEM;
	size_t ncap = m->cap * 2;
	struct linemap_slot *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return LI707_ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			*find(ns, ncap, m->slots[i].key) = m->slots[i];
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

int li707__linemap_put(struct li707__linemap *m, const void *key, long line)
{
	if (!m || !key)
		return LI707_EINVAL;
	int rc = li707_array_grow((void **)&m->log, &m->cap_log, m->n_log + 1, sizeof *m->log,
				  m->max_log);
	if (rc)
		return rc;
	m->log[m->n_log].key = key;
	m->log[m->n_log].line = line;
	m->n_log++;
	return 0;
}

/* Puts the log entries not yet indexed into the table. */
static int index_log(struct li707__linemap *m)
{
	for (; m->indexed < m->n_log; m->indexed++) {
		const struct linemap_slot *e = &m->log[m->indexed];
		struct linemap_slot *s = find(m->slots, m->cap, e->key);
		if (s->key) {
			s->line = e->line; /* replace */
			continue;
		}
		if ((m->n + 1) * 2 > m->cap) {
			int rc = grow(m);
			if (rc != 0)
				return rc;
			s = find(m->slots, m->cap, e->key);
		}
		*s = *e;
		m->n++;
	}
	return 0;
}

long li707__linemap_get(const struct li707__linemap *cm, const void *key)
{
	if (!cm || !key)
		return 0;
	struct li707__linemap *m = (struct li707__linemap *)cm; /* the index is a cache */
	if (index_log(m) != 0) {
		/* out of memory for the index: the log, newest first, still answers */
		for (size_t i = m->n_log; i-- > 0;)
			if (m->log[i].key == key)
				return m->log[i].line;
		return 0;
	}
	const struct linemap_slot *s = find(m->slots, m->cap, key);
	return s->key ? s->line : 0;
}
