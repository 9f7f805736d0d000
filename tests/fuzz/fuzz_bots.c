/*
 * fuzz_bots.c -- libFuzzer target for bots/: arbitrary bytes as a
 * User-Agent.  Never crashes, and the verdict is the same cached (first and
 * repeated call), uncached, and by the reference (every pattern compiled
 * on its own, tests/bots/bot_ref.h).
 */
#include "bots/bots.h"
#include "bots/bot_patterns.h"
#include "tests/bots/bot_ref.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static bot_matcher *matcher;
static bot_ref     *ref;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *ua = (const char *)data;
    int first, again, raw, want;

    if (matcher == NULL) {
        char err[256] = "";

        matcher = bot_matcher_new(err, sizeof err);
        ref = bot_ref_new(bot_patterns, bot_patterns_count);
        if (matcher == NULL || ref == NULL) {
            fprintf(stderr, "fuzz_bots: setup failed: %s\n", err);
            abort();
        }
    }
    first = bot_is_bot(matcher, ua, size);
    again = bot_is_bot(matcher, ua, size);
    raw = bot_is_bot_uncached(matcher, ua, size);
    want = bot_ref_is_bot(ref, ua, size);
    if ((first != 0 && first != 1) || first != again || first != raw
        || first != want) {
        fprintf(stderr, "fuzz_bots: cached %d, again %d, uncached %d, "
                "reference %d for %zu bytes\n", first, again, raw, want, size);
        abort();
    }
    return 0;
}
