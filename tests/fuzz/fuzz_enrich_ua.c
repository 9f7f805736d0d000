/*
 * fuzz_enrich_ua.c -- libFuzzer target: user agent enrichment (uap-core
 * rules, pre-filter index, cache) and the regex literal extractor must not
 * crash, leak or read out of bounds on any bytes, and must give clean
 * UTF-8 out.  Loads $TALLY_DATA_DIR/uap.json (default build/data) once;
 * aborts if it cannot, so a run without data fails instead of passing.
 */
#include "aggregator/enrich_relit.h"
#include "aggregator/enrich_ua.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static en_ua_db *db;
static en_relit_req req;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("TALLY_DATA_DIR");
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/uap.json", dir && *dir ? dir : "build/data");
    if (!(db = en_ua_load(path, err, sizeof err))) {
        fprintf(stderr, "fuzz_enrich_ua: %s\n", err);
        abort();
    }
    return 0;
}

static void
check_text(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F) abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const en_ua_result *r = en_ua_parse(db, (const char *)data, size);
    check_text(r->browser);
    check_text(r->browser_version);
    check_text(r->os);
    check_text(r->os_version);
    if (r->device > EN_DEVICE_TABLET || !r->device_name) abort();
    /* the same input again must hit the cache and give the same result */
    en_ua_result copy = *r;
    r = en_ua_parse(db, (const char *)data, size);
    if (memcmp(&copy, r, sizeof copy) != 0) abort();

    /* the literal extractor reads regex sources: any bytes, NUL-terminated */
    char *re = malloc(size + 1);
    if (!re) return 0;
    memcpy(re, data, size);
    re[size] = '\0';
    int exact;
    size_t n = en_relit(re, &req, &exact);
    if (n > EN_RELIT_AND) abort();
    for (size_t i = 0; i < n; i++) {
        if (req.set[i].n == 0 || req.set[i].n > EN_RELIT_SET) abort();
        for (size_t k = 0; k < req.set[i].n; k++)
            if (req.set[i].len[k] == 0 || req.set[i].len[k] >= EN_RELIT_MAX
                || strlen(req.set[i].lit[k]) > req.set[i].len[k]) abort();
    }
    /* an exact literal must be the whole pattern, unescaped */
    if (exact && (n != 1 || req.set[0].n != 1 || req.set[0].len[0] > size)) abort();
    free(re);
    return 0;
}
