/* import_keys.c -- the visitor-id key of each imported UTC day (see
 * imp_keys_get in import_int.h).  Keys live in memory only; imp_keys_wipe
 * zeroes them (tv_state_wipe) when the import ends, after which nobody
 * can recompute an imported day's visitor ids from an address. */
#include "aggregator/crypto.h"
#include "aggregator/import_int.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A new random key for day, appended.  NULL when out of memory. */
static imp_daykey *
imp_keys_add(imp_keys *k, uint32_t day)
{
    if (k->n == k->cap) {
        size_t n = k->cap ? k->cap * 2 : 16;
        imp_daykey *v = calloc(n, sizeof(*v));
        if (v == NULL)
            return NULL;
        for (size_t i = 0; i < k->n; i++) {
            v[i] = k->v[i];
            tv_state_wipe(&k->v[i].st);
        }
        free(k->v);
        k->v = v;
        k->cap = n;
    }
    imp_daykey *e = &k->v[k->n++];
    e->day = day;
    e->ratchet = 0;
    crypto_random(e->st.key, TV_KEY_SIZE);
    e->st.day = day;
    tv_state_derive(&e->st);
    return e;
}

/* The ratchet key for day, if the salt file can give it: 1 (in
 * k->ratchet), 0 not available (a past day), -1 error. */
static int
imp_keys_ratchet(imp_keys *k, uint32_t day, char *err, size_t errlen)
{
    if (k->salt_file == NULL)
        return 0;
    uint32_t today = tv_day_of((int64_t)time(NULL));
    if (k->have_ratchet && k->ratchet.day >= day)
        return k->ratchet.day == day;
    if (day > today)            /* a line from the future: never ratchet */
        return 0;
    int flags = 0;
    char msg[512];
    if (tv_state_sync(k->salt_file, day, &k->ratchet, &flags, msg,
                      sizeof(msg)) != 0) {
        k->have_ratchet = 0;
        snprintf(err, errlen, "salt file: %s", msg);
        return -1;
    }
    k->have_ratchet = 1;
    if (flags & TV_SYNC_CREATED)
        log_info("import: created salt state file %s", k->salt_file);
    return k->ratchet.day == day;
}

const tv_state *
imp_keys_get(imp_keys *k, uint32_t day, char *err, size_t errlen)
{
    if (k->last > 0 && k->v[k->last - 1].day == day)
        return &k->v[k->last - 1].st;
    for (size_t i = 0; i < k->n; i++) {
        if (k->v[i].day == day) {
            k->last = i + 1;
            return &k->v[i].st;
        }
    }
    int r = imp_keys_ratchet(k, day, err, errlen);
    if (r < 0)
        return NULL;
    imp_daykey *e = imp_keys_add(k, day);
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (r == 1) {                  /* the edge's key for this day */
        tv_state_wipe(&e->st);
        e->st = k->ratchet;
        e->ratchet = 1;
    }
    k->last = k->n;
    return &e->st;
}

void
imp_keys_wipe(imp_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        tv_state_wipe(&k->v[i].st);
    free(k->v);
    tv_state_wipe(&k->ratchet);
    k->v = NULL;
    k->n = k->cap = k->last = 0;
    k->have_ratchet = 0;
}

void
imp_keys_forget_before(imp_keys *k, uint32_t day)
{
    size_t o = 0;
    for (size_t i = 0; i < k->n; i++) {
        if (k->v[i].day >= day) {
            if (o != i) {
                k->v[o] = k->v[i];
                tv_state_wipe(&k->v[i].st);
            }
            o++;
        } else {
            tv_state_wipe(&k->v[i].st);
        }
    }
    k->n = o;
    k->last = 0;
}
