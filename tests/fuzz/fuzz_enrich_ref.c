/*
 * fuzz_enrich_ref.c -- libFuzzer target: page URL parsing, referrer
 * classification, known-source lookup and the channel table must not
 * crash or read out of bounds on any bytes, and must give clean text.
 * Loads $TALLY_DATA_DIR/referers.json (default build/data) once; aborts if
 * it cannot.
 */
#include "aggregator/enrich_channel.h"
#include "aggregator/enrich_ref.h"
#include "aggregator/enrich_url.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static en_ref_db *db;
static en_url url;
static en_ref_result ref;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("TALLY_DATA_DIR");
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/referers.json", dir && *dir ? dir : "build/data");
    if (!(db = en_ref_load(path, err, sizeof err))) {
        fprintf(stderr, "fuzz_enrich_ref: %s\n", err);
        abort();
    }
    return 0;
}

static void
check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap) abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    /* the input as a page URL, then as a referrer of that page */
    int ok = en_url_parse(s, size, &url) == 0;
    check_text(url.host, sizeof url.host);
    check_text(url.path, sizeof url.path);
    check_text(url.tagged_source, sizeof url.tagged_source);
    check_text(url.utm_campaign, sizeof url.utm_campaign);
    if (ok && url.path[0] != '/') abort();
    en_ref_parse(db, s, size, ok ? url.host : NULL, &ref);
    check_text(ref.source, sizeof ref.source);
    check_text(ref.referrer, sizeof ref.referrer);
    if (!ref.medium || (ref.direct && (ref.source[0] || ref.referrer[0]))) abort();
    if (ok && !ref.direct) abort();              /* its own page is never a source */
    en_ref_parse(db, s, size, "example.com", &ref);

    const char *source = ref.source;
    if (url.tagged_source[0]) {
        const char *known = en_ref_known_source(db, url.tagged_source);
        source = known ? known : url.tagged_source;
    }
    en_channel_in in = { source, en_ref_category(db, source), url.utm_medium,
                         url.utm_source, url.utm_campaign, url.click_id };
    if (!en_channel(&in)) abort();
    return 0;
}
