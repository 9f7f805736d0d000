/*
 * enrich_litidx.h -- "which of these literals occur in this text?" in one
 * pass over the text.
 *
 * The user agent enricher gives each regex a required literal (see
 * enrich_relit.h); scanning the text once against all literals, instead of
 * one memmem() per rule, makes rule pre-filtering cost O(text length).
 * Literals of three bytes or more are found through a hash of their first
 * three bytes, shorter ones through bitmaps of the bytes and byte pairs
 * present.
 */
#ifndef TALLY_ENRICH_LITIDX_H
#define TALLY_ENRICH_LITIDX_H

#include <stddef.h>

typedef struct en_litidx en_litidx;

/* en_li_new: an empty index, owned by the caller (en_li_free); NULL if out
 * of memory. */
en_litidx *en_li_new(void);

/* en_li_add: adds a copy of lit (len >= 1 bytes) and returns its id
 * (0, 1, 2, ... in order of adding), or -1 if out of memory.  Only before
 * en_li_build. */
int en_li_add(en_litidx *li, const char *lit, size_t len);

/* en_li_build: builds the lookup structure; 0 on success, -1 if out of
 * memory.  Call once, after the last en_li_add. */
int en_li_build(en_litidx *li);

/* en_li_scan: finds every literal occurring in text (len bytes, any bytes)
 * and remembers them until the next scan; returns how many distinct
 * literals occurred.  Not thread-safe: the marks live in the index. */
size_t en_li_scan(en_litidx *li, const char *text, size_t len);

/* en_li_hit: 1 if literal id occurred in the text of the last en_li_scan. */
int en_li_hit(const en_litidx *li, int id);

/* en_li_free: frees the index; NULL is fine. */
void en_li_free(en_litidx *li);

#endif /* TALLY_ENRICH_LITIDX_H */
