/*
 * q_match.h -- string matchers for the Stats API executor: one matcher per
 * simple filter (is / contains / matches with its clauses and
 * case_sensitive), per goal set (custom event names; page path patterns
 * with * and **), evaluated on the strings dictionary by the SQL function
 * tally_m(fid, s) that db_q_*.c registers, and by the executor in C.
 *
 * A matcher answers "does s match ANY clause" (the positive form); the
 * negated operators are applied by the caller.  Regexes are PCRE2 (UTF,
 * already checked by q_parse) with a match limit: a pattern that hits it
 * sets the set's error instead of running away.
 */
#ifndef TALLY_AGG_Q_MATCH_H
#define TALLY_AGG_Q_MATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct qm_set qm_set;

enum qm_kind {
    QM_IS = 0,        /* s equals a clause                          */
    QM_CONTAINS,      /* s contains a clause                        */
    QM_MATCHES,       /* a clause (regex) matches somewhere in s    */
    QM_GLOB           /* s matches a page-goal pattern: * = [^/]*,  */
                      /* ** = .*, anchored at both ends             */
};

qm_set *qm_new(void);
void qm_free(qm_set *m);

/* Adds a matcher of kind over n clauses (copied); ci = ignore ASCII
 * case; country_name = s is an ISO alpha-2 code compared through its
 * English name.  Returns its id (>= 0), or -1 with a message in err (a
 * regex that does not compile). */
int qm_add(qm_set *m, enum qm_kind kind, const char *const *clauses,
           size_t n, int ci, int country_name, char *err, size_t errlen);

/* 1 when s (len bytes) matches matcher fid, else 0.  A regex that
 * exceeds the match limit counts as no match and sets the error. */
int qm_match(qm_set *m, int fid, const char *s, size_t len);

/* The first error met while matching (NULL when none). */
const char *qm_error(const qm_set *m);

/* English short name of ISO 3166-1 alpha-2 code (from the iso-codes
 * package's JSON, loaded once; common_name preferred), or NULL when
 * unknown.  Thread-safe. */
const char *qm_country_name(const char *code);

/* 1 when path matches page-goal pattern pat (see QM_GLOB). */
int qm_glob(const char *pat, const char *path, size_t len);

#endif
