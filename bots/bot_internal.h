/*
 * bot_internal.h -- bots/ internals shared with its tests and fuzzer.
 * Not part of the public API (bots.h).
 */
#ifndef TALLY_BOT_INTERNAL_H
#define TALLY_BOT_INTERNAL_H

#include <stddef.h>

/*
 * The PCRE2 compile options for every bot regex (needs <pcre2.h>).
 * CASELESS: bots spell their names in any case (the upstream validators
 * match case-insensitively too).  DOLLAR_ENDONLY: `$` means end of string,
 * as in JavaScript.  NO_AUTO_CAPTURE: groups only group, so thousands of
 * alternatives cost no capture slots.  NEVER_UTF/UCP: the patterns are
 * ASCII and the UA arbitrary bytes; a pattern cannot switch modes with
 * (*UTF).
 */
#define BOT_PCRE2_OPTIONS                                                  \
    (PCRE2_CASELESS | PCRE2_DOLLAR_ENDONLY | PCRE2_NO_AUTO_CAPTURE         \
     | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP)

/*
 * Assembles patterns pats[0..n) into ONE regex source that matches a
 * subject exactly when (?:pats[0])|(?:pats[1])|... does, under
 * BOT_PCRE2_OPTIONS, but factored on the patterns' literal prefixes (a
 * case-folded trie), so PCRE2 tries a few dozen first characters per
 * position instead of every pattern.  Patterns with a top-level `|` or no
 * literal prefix stay whole alternatives.  Returns a NUL-terminated
 * malloc'ed string (the caller frees it) with its length in *outlen, or
 * NULL when out of memory.  n must be > 0.
 */
char *bot_assemble(const char *const *pats, size_t n, size_t *outlen);

#endif /* TALLY_BOT_INTERNAL_H */
