/*
 * bots.h -- is this User-Agent a bot?  (crawlers, tools, headless browsers)
 *
 * The patterns come from the maintained npm list crawler-user-agents,
 * compiled into C at build time by tools/gen-bots.mjs (bots/bot_patterns.h)
 * plus a few headless-browser patterns it insists on.  A matcher compiles
 * them into ONE case-insensitive PCRE2 regex (their alternation factored on
 * literal prefixes, bot_internal.h; split in halves only if PCRE2 refuses
 * the size), JIT-compiled, and puts a small fixed cache in front.
 *
 * No NGINX types: used by the NGINX module (beacons at the edge) and by
 * tallyd (log import).
 *
 * THREADS: a matcher is NOT thread-safe (its cache, match data and JIT stack
 * are written on every call).  Use one per NGINX worker process / per tallyd
 * thread.  Creating it before fork() is fine: each child gets a private
 * copy-on-write copy.
 *
 * MEMORY: fixed after bot_matcher_new: with crawler-user-agents 1.60.0
 * about 36 KB of compiled regex + 250 KB of JIT code + the 8 KiB cache +
 * a JIT stack (32 KiB, may grow to 512 KiB); see bot_matcher_info().
 *
 * COST: a cache hit is one SipHash of the UA (~70 ns); a miss runs the
 * regex, linear in the UA length (~3-5 us for a browser UA).  A UA longer
 * than BOT_UA_MAX is not examined at all.
 */
#ifndef TALLY_BOTS_H
#define TALLY_BOTS_H

#include <stddef.h>
#include <stdint.h>

/* Verdict cache: this many 8-byte entries (4-way set-associative, LRU). */
#define BOT_CACHE_SLOTS 1024

/* A User-Agent longer than this is a bot without looking further: browsers
 * send a few hundred bytes, while scanners stuff payloads into the header,
 * and it bounds the work per call (matching is linear, ~30 ns/byte). */
#define BOT_UA_MAX 1024

typedef struct bot_matcher bot_matcher;

typedef struct {
    size_t   patterns;        /* patterns compiled (bot_patterns_count) */
    size_t   regexes;         /* PCRE2 regexes they were combined into */
    size_t   jit_regexes;     /* how many of those run JIT-compiled */
    size_t   code_bytes;      /* compiled regex size (PCRE2_INFO_SIZE) */
    size_t   jit_bytes;       /* JIT machine code (PCRE2_INFO_JITSIZE) */
    uint64_t cache_hits;      /* bot_is_bot answered from the cache */
    uint64_t cache_misses;    /* bot_is_bot had to run the regexes */
    uint64_t match_errors;    /* PCRE2 match errors (counted as bots) */
} bot_info;

/*
 * Compiles every bot pattern into a new matcher.  Returns a matcher owned by
 * the caller (free it with bot_matcher_free), or NULL with a NUL-terminated
 * message in err[0..errlen) (err may be NULL when errlen is 0).  Fails only
 * on out-of-memory or a pattern PCRE2 rejects (named in the message).  A
 * failed JIT compile is not an error: that regex runs interpreted.
 */
bot_matcher *bot_matcher_new(char *err, size_t errlen);

/*
 * Frees the matcher and everything it owns.  NULL is a no-op.
 */
void bot_matcher_free(bot_matcher *m);

/*
 * 1 if the User-Agent ua[0..len) is a bot, 0 if it looks like a browser.
 * ua need not be NUL-terminated and may hold any bytes; it is only read
 * during the call.  An empty (len 0, or ua NULL) User-Agent is a bot: no
 * real browser sends none; so is one longer than BOT_UA_MAX.  A PCRE2 match error (e.g. a match limit hit by
 * a hostile UA) also answers 1: we would rather miss a visit than count a
 * machine.  Repeated UAs are answered from the cache (a keyed 64-bit hash
 * of the UA and the verdict, never the UA itself) for the cost of one
 * hash.  Not thread-safe (see above).
 */
int bot_is_bot(bot_matcher *m, const char *ua, size_t len);

/*
 * The same verdict as bot_is_bot, always running the regexes; neither reads
 * nor fills the cache.  For tests, fuzzing and benchmarks.
 */
int bot_is_bot_uncached(bot_matcher *m, const char *ua, size_t len);

/*
 * Fills *info (caller-owned) with the matcher's sizes and counters.
 */
void bot_matcher_info(const bot_matcher *m, bot_info *info);

/*
 * Compiles bot pattern i alone, with the options the matcher uses (no JIT),
 * and, when sample is not NULL, matches it against sample[0..samplelen).
 * Returns 0 if PCRE2 accepts the pattern (and it matches the sample), -1
 * with a message in err otherwise or if i >= bot_pattern_count().  Frees
 * everything it compiled.  For tests.
 */
int bot_pattern_check(size_t i, const char *sample, size_t samplelen,
                      char *err, size_t errlen);

/*
 * Pattern i (static storage, never freed) or NULL; the number of patterns;
 * and "crawler-user-agents@<version>" naming their source.  Pattern i is
 * entry i of the upstream JSON list; the generator's extras come last.
 */
const char *bot_pattern(size_t i);
size_t bot_pattern_count(void);
const char *bot_pattern_source(void);

#endif /* TALLY_BOTS_H */
