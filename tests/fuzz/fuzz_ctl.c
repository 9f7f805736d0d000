/*
 * fuzz_ctl.c -- libFuzzer target for ctl_decode() and ctl_encode().
 *
 * Every input must either be refused with a non-empty reason, or decode
 * to a command that encodes again, and whose encoding decodes to the
 * very same command (the codec is what keeps replicas equal).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/ctl.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ctl_cmd a, b;
    static char text[CTL_ENTRY_MAX + 1];
    char err[128] = "";
    if (ctl_decode((const char *)data, size, &a, err, sizeof(err)) != 0) {
        if (err[0] == '\0')
            abort();
        return 0;
    }
    long n = ctl_encode(&a, text, sizeof(text));
    if (n < 0)
        abort();
    if (ctl_decode(text, (size_t)n, &b, err, sizeof(err)) != 0)
        abort();
    if (memcmp(&a, &b, sizeof(a)) != 0)
        abort();
    return 0;
}
