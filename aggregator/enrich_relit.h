/*
 * enrich_relit.h -- required-literal extraction for regex pre-filtering.
 *
 * uap-core's regexes are tried in order, first match wins, so a user agent
 * that matches late in the list runs ~1000 regexes.  Nearly all of them
 * need some plain substring to be present ("Firefox", "CrOS", one of
 * "SM-" / "GT-", ...); checking those substrings first (enrich_litidx.h
 * finds them all in one pass) skips the regex engine for nearly every rule
 * that cannot match.
 */
#ifndef TALLY_ENRICH_RELIT_H
#define TALLY_ENRICH_RELIT_H

#include <stddef.h>

#define EN_RELIT_MAX 32   /* bytes per literal, incl. NUL; longer ones are cut (still required) */
#define EN_RELIT_SET 256  /* most alternatives kept */
#define EN_RELIT_AND 4    /* most independent requirements kept */

/* A set of literals: every match of the regex contains at least one. */
typedef struct en_relit_set {
    size_t n;
    size_t len[EN_RELIT_SET];
    unsigned char ci[EN_RELIT_SET];         /* 1: compare caselessly (from [Ss]-style classes) */
    char lit[EN_RELIT_SET][EN_RELIT_MAX];   /* each NUL-terminated too */
} en_relit_set;

/* Requirements that all hold for every match: each set has a hit. */
typedef struct en_relit_req {
    size_t n;
    en_relit_set set[EN_RELIT_AND];
} en_relit_req;

/*
 * en_relit: finds, for the PCRE2 pattern re (NUL-terminated, compiled
 * without flags), up to EN_RELIT_AND sets of literals such that every match
 * contains at least one literal of each set, and writes them to *out
 * (caller's).  When there are more, it keeps the sets whose shortest
 * literal is longest.  Returns out->n; 0 means none found and the caller
 * must always run the regex.  Conservative: it understands escapes,
 * classes, groups, alternation and quantifiers, and gives up on anything
 * else (inline flags, \Q..\E, back references...).  A class of one
 * letter in both cases ("[Ss]") counts as that letter with ci set: the
 * caller then looks for the literal lower-cased in the lower-cased text.
 * If exact is not NULL,
 * *exact is set to 1 when the pattern is nothing but one literal (so
 * "matches" == "contains out->set[0].lit[0]"), else 0.
 */
size_t en_relit(const char *re, en_relit_req *out, int *exact);

#endif /* TALLY_ENRICH_RELIT_H */
