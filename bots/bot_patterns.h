/*
 * bot_patterns.h -- the bot user-agent patterns, generated at build time.
 *
 * tools/gen-bots.mjs writes build/gen/bot_patterns.c from the npm package
 * crawler-user-agents; that file defines these symbols and must be compiled
 * and linked with bots/bots.c.  The patterns are PCRE2 syntax meant for
 * PCRE2_CASELESS | PCRE2_DOLLAR_ENDONLY | PCRE2_NO_AUTO_CAPTURE.
 */
#ifndef TALLY_BOT_PATTERNS_H
#define TALLY_BOT_PATTERNS_H

#include <stddef.h>

/* Static, read-only, owned by the program; never freed. */
extern const char *const bot_patterns[];
extern const size_t bot_patterns_count;
/* "crawler-user-agents@<version>": where the patterns came from. */
extern const char bot_patterns_source[];

#endif /* TALLY_BOT_PATTERNS_H */
