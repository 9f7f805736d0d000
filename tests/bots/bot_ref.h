/*
 * bot_ref.h -- the reference verdict for tests/bots and tests/fuzz:
 * every bot pattern compiled ON ITS OWN (JIT), a UA is a bot iff one of
 * them matches.  Slow (1500 matches per UA) but obviously right, so the
 * assembled matcher in bots/ must agree with it.  Header-only, test use.
 */
#ifndef TALLY_BOT_REF_H
#define TALLY_BOT_REF_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stdlib.h>

#include "bots/bot_internal.h"
#include "bots/bots.h"

typedef struct {
    pcre2_code      **re;
    size_t            n;
    pcre2_match_data *md;
} bot_ref;

/* Compiles pats[0..n) one by one; NULL if any fails.  Caller frees with
 * bot_ref_free. */
static inline bot_ref *
bot_ref_new(const char *const *pats, size_t n)
{
    bot_ref *r = calloc(1, sizeof *r);
    size_t i;
    int ec;
    PCRE2_SIZE off;

    if (r == NULL) return NULL;
    r->re = calloc(n, sizeof *r->re);
    r->md = pcre2_match_data_create(1, NULL);
    if (r->re == NULL || r->md == NULL) {
        free(r->re);
        pcre2_match_data_free(r->md);
        free(r);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        r->re[i] = pcre2_compile((PCRE2_SPTR)pats[i], PCRE2_ZERO_TERMINATED,
                                 BOT_PCRE2_OPTIONS, &ec, &off, NULL);
        if (r->re[i] == NULL) break;
        r->n++;
        pcre2_jit_compile(r->re[i], PCRE2_JIT_COMPLETE);
    }
    if (r->n != n) {
        for (i = 0; i < r->n; i++) pcre2_code_free(r->re[i]);
        free(r->re);
        pcre2_match_data_free(r->md);
        free(r);
        return NULL;
    }
    return r;
}

static inline void
bot_ref_free(bot_ref *r)
{
    size_t i;

    if (r == NULL) return;
    for (i = 0; i < r->n; i++) pcre2_code_free(r->re[i]);
    free(r->re);
    pcre2_match_data_free(r->md);
    free(r);
}

/* 1 iff some pattern matches s[0..len) (no length or emptiness rules). */
static inline int
bot_ref_any(bot_ref *r, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        if (pcre2_match(r->re[i], (PCRE2_SPTR)s, len, 0, 0, r->md, NULL)
            >= 0) {
            return 1;
        }
    }
    return 0;
}

/* The verdict bot_is_bot must give, by the rules documented in bots.h. */
static inline int
bot_ref_is_bot(bot_ref *r, const char *ua, size_t len)
{
    if (ua == NULL || len == 0 || len > BOT_UA_MAX) return 1;
    return bot_ref_any(r, ua, len);
}

#endif /* TALLY_BOT_REF_H */
