/*
 * test_import_keys.c -- the importer's per-day visitor-id keys
 * (aggregator/import_keys.c): one random key per UTC day, stable within a
 * run, different across days and runs; with a salt file, the edge's
 * ratchet key for its day (the same ids as the NGINX module computes),
 * never for a day before it or after today; wiped at the end.
 */
#include "aggregator/crypto.h"
#include "aggregator/import_int.h"
#include "tests/check.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const unsigned char ip_a[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
                                        192, 0, 2, 1 };

static uint64_t
vid(const tv_state *k)
{
    return tv_visitor_id(k, "example.com", 11, ip_a, "UA", 2);
}

static int
all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static void
test_random_keys_per_day(void)
{
    imp_keys k, k2;
    memset(&k, 0, sizeof k);
    memset(&k2, 0, sizeof k2);
    char err[256];
    const tv_state *d1 = imp_keys_get(&k, 19800, err, sizeof err);
    CHECK(d1 != NULL);
    uint64_t a1 = vid(d1);
    const tv_state *d2 = imp_keys_get(&k, 19801, err, sizeof err);
    CHECK(d2 != NULL && vid(d2) != a1);
    /* the same day again (after other days: the table may have moved) */
    for (uint32_t d = 19802; d < 19840; d++)
        CHECK(imp_keys_get(&k, d, err, sizeof err) != NULL);
    CHECK_EQ_U64(vid(imp_keys_get(&k, 19800, err, sizeof err)), a1);
    CHECK(k.n == 40);
    /* another run: another key for the same day */
    CHECK(vid(imp_keys_get(&k2, 19800, err, sizeof err)) != a1);
    /* forgetting old days wipes them */
    imp_keys_forget_before(&k, 19830);
    CHECK(k.n == 10);
    for (size_t i = 0; i < k.n; i++)
        CHECK(k.v[i].day >= 19830);
    for (size_t i = k.n; i < 40; i++)       /* the slots left behind */
        CHECK(all_zero(&k.v[i].st, sizeof(k.v[i].st)));
    CHECK_EQ_U64(vid(imp_keys_get(&k, 19835, err, sizeof err)),
                 vid(&k.v[5].st));
    imp_keys_wipe(&k);
    CHECK(k.v == NULL && k.n == 0);
    imp_keys_wipe(&k2);
}

static void
test_salt_file_key(void)
{
    char dir[] = "/tmp/tally-impkeys-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/salt.state", dir);
    uint32_t today = tv_day_of((int64_t)time(NULL));

    /* the edge's state: created for today */
    tv_state edge;
    char err[512];
    CHECK(tv_state_sync(path, today, &edge, NULL, err, sizeof err) == 0);

    imp_keys k;
    memset(&k, 0, sizeof k);
    k.salt_file = path;
    const tv_state *t = imp_keys_get(&k, today, err, sizeof err);
    CHECK(t != NULL && vid(t) == vid(&edge));
    CHECK(k.v[k.last - 1].ratchet == 1);
    /* yesterday's key is gone: a random one */
    const tv_state *y = imp_keys_get(&k, today - 1, err, sizeof err);
    CHECK(y != NULL && k.v[k.last - 1].ratchet == 0);
    /* tomorrow is never ratcheted to */
    const tv_state *f = imp_keys_get(&k, today + 1, err, sizeof err);
    CHECK(f != NULL && k.v[k.last - 1].ratchet == 0);
    tv_state again;
    CHECK(tv_state_sync(path, today, &again, NULL, err, sizeof err) == 0);
    CHECK(again.day == today && vid(&again) == vid(&edge));
    imp_keys_wipe(&k);
    CHECK(all_zero(&k.ratchet, sizeof k.ratchet));
    tv_state_wipe(&edge);
    tv_state_wipe(&again);

    /* a state file from a day behind: ratcheted forward to the line's day,
     * exactly as the edge would (K_{d+1} = step(K_d)) */
    unlink(path);
    tv_state old;
    CHECK(tv_state_sync(path, today - 2, &old, NULL, err, sizeof err) == 0);
    tv_state want = old;
    tv_ratchet_step(want.key);
    tv_ratchet_step(want.key);
    want.day = today;
    tv_state_derive(&want);
    memset(&k, 0, sizeof k);
    k.salt_file = path;
    t = imp_keys_get(&k, today, err, sizeof err);
    CHECK(t != NULL && vid(t) == vid(&want));
    imp_keys_wipe(&k);

    /* an unreadable state file is an error, not a random key */
    memset(&k, 0, sizeof k);
    snprintf(path, sizeof path, "%s/bad.state", dir);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    fputs("not a state file", fp);
    fclose(fp);
    k.salt_file = path;
    CHECK(imp_keys_get(&k, today, err, sizeof err) == NULL);
    CHECK(strstr(err, "salt file") != NULL);
    imp_keys_wipe(&k);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int
main(void)
{
    if (tv_init() != 0 || crypto_start() != 0)
        return 1;
    RUN(test_random_keys_per_day);
    RUN(test_salt_file_key);
    return check_summary("import_keys");
}
