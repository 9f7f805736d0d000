/*
 * bots.c -- bot User-Agent matcher: all patterns in one prefix-factored
 * PCRE2 regex (split only if PCRE2 refuses the size), JIT-compiled, behind
 * a 4-way set-associative verdict cache.  See bots.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif

#include "bots/bots.h"
#include "bots/bot_hash.h"
#include "bots/bot_internal.h"
#include "bots/bot_patterns.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define BOT_JIT_STACK_MIN (32 * 1024)
#define BOT_JIT_STACK_MAX (512 * 1024)

/* Backstop only: bot_assemble keeps matching linear and BOT_UA_MAX short,
 * so real and hostile UAs need a tiny fraction of this (tests/bots checks
 * that no error happens on long ones). */
#define BOT_MATCH_LIMIT 1000000

/* The cache is 4-way set-associative with LRU order inside a set (one
 * 32-byte set per lookup): a direct-mapped table of 1024 would make two
 * popular UAs that share a slot evict each other on every request. */
#define BOT_CACHE_WAYS 4
#define BOT_CACHE_SETS (BOT_CACHE_SLOTS / BOT_CACHE_WAYS)
#define BOT_CACHE_MASK ((uint64_t)BOT_CACHE_SETS - 1)
#define BOT_CACHE_VALID 2u
#define BOT_CACHE_BOT 1u

_Static_assert(BOT_CACHE_SETS >= 4
               && (BOT_CACHE_SETS & (BOT_CACHE_SETS - 1)) == 0,
               "BOT_CACHE_SLOTS / BOT_CACHE_WAYS must be a power of two >= 4");

struct bot_matcher {
    pcre2_code          **re;
    size_t                nre;
    size_t                cap;
    size_t                njit;
    pcre2_match_data     *md;
    pcre2_match_context  *mctx;
    pcre2_jit_stack      *jit_stack;
    uint64_t              hits;
    uint64_t              misses;
    uint64_t              errors;
    uint8_t               key[16];
    /*
     * Set (h & MASK) holds up to 4 entries, most recently used first, each
     * (h & ~MASK) | VALID | verdict, or 0 when empty: the set index supplies
     * the low bits, so the whole 64-bit hash is compared.  The UA itself is
     * never stored.
     */
    uint64_t              cache[BOT_CACHE_SETS][BOT_CACHE_WAYS];
};

static void
bot_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *
bot_pattern(size_t i)
{
    return i < bot_patterns_count ? bot_patterns[i] : NULL;
}

size_t
bot_pattern_count(void)
{
    return bot_patterns_count;
}

const char *
bot_pattern_source(void)
{
    return bot_patterns_source;
}

static pcre2_code *
bot_compile(const char *src, size_t len, char *err, size_t errlen)
{
    int ec;
    PCRE2_SIZE off;
    PCRE2_UCHAR msg[160];
    pcre2_code *re;

    re = pcre2_compile((PCRE2_SPTR)src, len, BOT_PCRE2_OPTIONS, &ec, &off,
                       NULL);
    if (re == NULL) {
        if (pcre2_get_error_message(ec, msg, sizeof msg) < 0) {
            snprintf((char *)msg, sizeof msg, "PCRE2 error %d", ec);
        }
        bot_err(err, errlen, "%s at offset %zu", (char *)msg, (size_t)off);
    }
    return re;
}

int
bot_pattern_check(size_t i, const char *sample, size_t samplelen,
                  char *err, size_t errlen)
{
    char msg[200];
    pcre2_code *re;
    pcre2_match_data *md;
    int rc;

    if (i >= bot_patterns_count) {
        bot_err(err, errlen, "no bot pattern %zu", i);
        return -1;
    }
    re = bot_compile(bot_patterns[i], strlen(bot_patterns[i]), msg,
                     sizeof msg);
    if (re == NULL) {
        bot_err(err, errlen, "bot pattern %zu /%s/: %s", i, bot_patterns[i],
                msg);
        return -1;
    }
    rc = 0;
    if (sample != NULL) {
        md = pcre2_match_data_create(1, NULL);
        rc = md == NULL ? PCRE2_ERROR_NOMEMORY
                        : pcre2_match(re, (PCRE2_SPTR)sample, samplelen, 0, 0,
                                      md, NULL);
        pcre2_match_data_free(md);
        if (rc < 0) {
            bot_err(err, errlen, "bot pattern %zu /%s/ does not match "
                    "\"%.*s\" (%d)", i, bot_patterns[i],
                    (int)(samplelen > 200 ? 200 : samplelen), sample, rc);
        }
    }
    pcre2_code_free(re);
    return rc < 0 ? -1 : 0;
}

static int
bot_push(bot_matcher *m, pcre2_code *re)
{
    if (m->nre == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        pcre2_code **n = realloc(m->re, cap * sizeof *n);

        if (n == NULL) {
            return -1;
        }
        m->re = n;
        m->cap = cap;
    }
    m->re[m->nre++] = re;
    if (pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0) {
        m->njit++;
    }
    return 0;
}

/*
 * Compiles patterns [lo, hi) as one regex (bot_assemble: their alternation,
 * factored on literal prefixes); when PCRE2 refuses (too large, too
 * complex), compiles each half on its own.  A single pattern
 * PCRE2 refuses is an error naming it.
 */
static int
bot_compile_range(bot_matcher *m, size_t lo, size_t hi, char *err,
                  size_t errlen)
{
    size_t len;
    char *src;
    pcre2_code *re;

    src = bot_assemble(bot_patterns + lo, hi - lo, &len);
    if (src == NULL) {
        bot_err(err, errlen, "bot matcher: out of memory");
        return -1;
    }
    re = bot_compile(src, len, NULL, 0);
    free(src);
    if (re == NULL) {
        if (hi - lo == 1) {
            bot_pattern_check(lo, NULL, 0, err, errlen);
            return -1;
        }
        return bot_compile_range(m, lo, lo + (hi - lo) / 2, err, errlen) < 0
               || bot_compile_range(m, lo + (hi - lo) / 2, hi, err, errlen) < 0
               ? -1 : 0;
    }
    if (bot_push(m, re) < 0) {
        pcre2_code_free(re);
        bot_err(err, errlen, "bot matcher: out of memory");
        return -1;
    }
    return 0;
}

static void
bot_random_key(uint8_t key[16])
{
    struct timespec ts;
    uint64_t mix[3];

    if (getrandom(key, 16, GRND_NONBLOCK) == 16) {
        return;
    }
    /* No entropy yet (early boot): unpredictable enough for a cache key. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    mix[0] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    clock_gettime(CLOCK_REALTIME, &ts);
    mix[1] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    mix[2] = (uint64_t)getpid() ^ (uint64_t)(uintptr_t)key;
    memcpy(key, mix, 16);
    mix[0] = bot_siphash24(key, mix, sizeof mix);
    memcpy(key + 8, mix, 8);
}

bot_matcher *
bot_matcher_new(char *err, size_t errlen)
{
    bot_matcher *m;

    if (bot_patterns_count == 0) {
        bot_err(err, errlen, "bot matcher: no patterns compiled in");
        return NULL;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        bot_err(err, errlen, "bot matcher: out of memory");
        return NULL;
    }
    if (bot_compile_range(m, 0, bot_patterns_count, err, errlen) < 0) {
        bot_matcher_free(m);
        return NULL;
    }
    m->md = pcre2_match_data_create(1, NULL);
    m->mctx = pcre2_match_context_create(NULL);
    m->jit_stack = pcre2_jit_stack_create(BOT_JIT_STACK_MIN,
                                          BOT_JIT_STACK_MAX, NULL);
    if (m->md == NULL || m->mctx == NULL || m->jit_stack == NULL) {
        bot_err(err, errlen, "bot matcher: out of memory");
        bot_matcher_free(m);
        return NULL;
    }
    pcre2_jit_stack_assign(m->mctx, NULL, m->jit_stack);
    pcre2_set_match_limit(m->mctx, BOT_MATCH_LIMIT);
    bot_random_key(m->key);
    return m;
}

void
bot_matcher_free(bot_matcher *m)
{
    size_t i;

    if (m == NULL) {
        return;
    }
    for (i = 0; i < m->nre; i++) {
        pcre2_code_free(m->re[i]);
    }
    free(m->re);
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    pcre2_jit_stack_free(m->jit_stack);
    free(m);
}

int
bot_is_bot_uncached(bot_matcher *m, const char *ua, size_t len)
{
    size_t i;
    int rc;

    if (ua == NULL || len == 0 || len > BOT_UA_MAX) {
        return 1;
    }
    for (i = 0; i < m->nre; i++) {
        rc = pcre2_match(m->re[i], (PCRE2_SPTR)ua, len, 0, 0, m->md,
                         m->mctx);
        if (rc >= 0) {
            return 1;
        }
        if (rc != PCRE2_ERROR_NOMATCH) {
            m->errors++;
            return 1;
        }
    }
    return 0;
}

int
bot_is_bot(bot_matcher *m, const char *ua, size_t len)
{
    uint64_t h, e, *set;
    int bot, w;

    if (ua == NULL || len == 0 || len > BOT_UA_MAX) {
        return 1;
    }
    h = bot_siphash24(m->key, ua, len);
    set = m->cache[h & BOT_CACHE_MASK];
    for (w = 0; w < BOT_CACHE_WAYS; w++) {
        e = set[w];
        if ((e & BOT_CACHE_VALID) && ((e ^ h) & ~BOT_CACHE_MASK) == 0) {
            memmove(set + 1, set, (size_t)w * sizeof *set); /* to the front */
            set[0] = e;
            m->hits++;
            return (int)(e & BOT_CACHE_BOT);
        }
    }
    m->misses++;
    bot = bot_is_bot_uncached(m, ua, len);
    memmove(set + 1, set, (BOT_CACHE_WAYS - 1) * sizeof *set); /* drop LRU */
    set[0] = (h & ~BOT_CACHE_MASK) | BOT_CACHE_VALID
             | (bot ? BOT_CACHE_BOT : 0);
    return bot;
}

void
bot_matcher_info(const bot_matcher *m, bot_info *info)
{
    size_t i, sz;

    memset(info, 0, sizeof *info);
    info->patterns = bot_patterns_count;
    info->regexes = m->nre;
    info->jit_regexes = m->njit;
    for (i = 0; i < m->nre; i++) {
        if (pcre2_pattern_info(m->re[i], PCRE2_INFO_SIZE, &sz) == 0) {
            info->code_bytes += sz;
        }
        if (pcre2_pattern_info(m->re[i], PCRE2_INFO_JITSIZE, &sz) == 0) {
            info->jit_bytes += sz;
        }
    }
    info->cache_hits = m->hits;
    info->cache_misses = m->misses;
    info->match_errors = m->errors;
}
