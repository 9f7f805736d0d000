/* Tests for aggregator/strcache.c. */
#include "aggregator/strcache.h"
#include "tests/check.h"

#include <stdio.h>

static void
test_basic(void)
{
    strcache *c = sc_new(100, 4096);
    int64_t id = 0;
    CHECK(c != NULL);
    CHECK(sc_get(c, "a", 1, &id) == 0);
    sc_put(c, "a", 1, 7);
    sc_put(c, "ab", 2, 8);
    sc_put(c, "", 0, 9);
    CHECK(sc_get(c, "a", 1, &id) == 1 && id == 7);
    CHECK(sc_get(c, "ab", 2, &id) == 1 && id == 8);
    CHECK(sc_get(c, "abc", 2, &id) == 1 && id == 8);   /* length counts */
    CHECK(sc_get(c, "", 0, &id) == 1 && id == 9);
    sc_put(c, "a", 1, 70);
    CHECK(sc_get(c, "a", 1, &id) == 1 && id == 70);
    CHECK_EQ_U64(sc_count(c), 3);
    sc_clear(c);
    CHECK(sc_get(c, "a", 1, &id) == 0);
    CHECK_EQ_U64(sc_count(c), 0);
    sc_free(c);
}

static void
test_bounded(void)
{
    strcache *c = sc_new(64, 1 << 20);
    char k[32];
    int64_t id;
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(k, sizeof(k), "key-%d", i);
        sc_put(c, k, (size_t)n, i);
        CHECK(sc_get(c, k, (size_t)n, &id) == 1 && id == i);
        CHECK(sc_count(c) <= 128);
    }
    /* a long key is never cached */
    char big[SC_MAX_KEY + 10];
    memset(big, 'x', sizeof(big));
    sc_put(c, big, sizeof(big), 1);
    CHECK(sc_get(c, big, sizeof(big), &id) == 0);
    sc_free(c);

    /* a small arena forces clears, entries stay correct */
    c = sc_new(1000, 64);
    for (int i = 0; i < 100; i++) {
        int n = snprintf(k, sizeof(k), "k%03d", i);
        sc_put(c, k, (size_t)n, i);
        CHECK(sc_get(c, k, (size_t)n, &id) == 1 && id == i);
    }
    CHECK(sc_count(c) <= 16);
    sc_free(c);
}

/* Keys of every length up to 40 that differ in one byte (the first, the
 * last, one in the middle) are different keys. */
static void
test_lengths(void)
{
    strcache *c = sc_new(4096, 1 << 20);
    char k[41];
    int64_t id, n = 0;
    for (int len = 1; len <= 40; len++)
        for (int pos = 0; pos < len; pos += len > 2 ? len / 2 : 1)
            for (int ch = 0; ch < 3; ch++) {
                memset(k, 'a', sizeof(k));
                k[pos] = (char)('b' + ch);
                sc_put(c, k, (size_t)len, len * 1000 + pos * 10 + ch);
                n++;
            }
    CHECK_EQ_U64(sc_count(c), (uint64_t)n);
    for (int len = 1; len <= 40; len++)
        for (int pos = 0; pos < len; pos += len > 2 ? len / 2 : 1)
            for (int ch = 0; ch < 3; ch++) {
                memset(k, 'a', sizeof(k));
                k[pos] = (char)('b' + ch);
                CHECK(sc_get(c, k, (size_t)len, &id) == 1
                      && id == len * 1000 + pos * 10 + ch);
            }
    memset(k, 'a', sizeof(k));
    CHECK(sc_get(c, k, 17, &id) == 0);
    sc_free(c);
}

int
main(void)
{
    RUN(test_basic);
    RUN(test_lengths);
    RUN(test_bounded);
    return check_summary("strcache");
}
