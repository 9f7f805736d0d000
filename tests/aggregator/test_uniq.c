/* Tests for aggregator/uniq.c: the visitor deltas it adds to the rollup
 * rows, checked against a direct computation (per value and hour: the
 * distinct visitors of the hour; per value and day: each visitor counted
 * once, in its first hour), with visitors holding few and very many
 * values (record regions growing, the spill table). */
#include "aggregator/uniq.h"
#include "tests/check.h"

#include <stdlib.h>

#define SITE 3
#define DAY  20000                 /* UTC day number */

/* An event of visitor `vis` with value (dim, k1, k2) at hour h of DAY. */
static int
ev(uniq *u, rollup *r, uint64_t vis, int dim, int64_t k1, int64_t k2, int h)
{
    uniq_ref ref;
    if (uniq_visitor(u, SITE, vis, DAY, &ref) != 0)
        return -1;
    int64_t hour = (int64_t)DAY * 24 + h;
    int64_t *row = rollup_at(r, SITE, dim, hour, k1, k2);
    if (row == NULL)
        return -1;
    return uniq_event(u, &ref, r, row, SITE, dim, k1, k2, hour);
}

/* A visit of `vis` starting at hour h gains (sign 1) or loses (-1) the
 * value (dim, k1, 0). */
static int
vis_at(uniq *u, rollup *r, uint64_t vis, int dim, int64_t k1, int h, int sign)
{
    uniq_ref ref;
    if (uniq_visitor(u, SITE, vis, DAY, &ref) != 0)
        return -1;
    int64_t hour = (int64_t)DAY * 24 + h;
    int64_t *row = rollup_at(r, SITE, dim, hour, k1, 0);
    if (row == NULL)
        return -1;
    return uniq_visit(u, &ref, r, row, SITE, dim, k1, 0, hour, sign);
}

static int64_t
metric(rollup *r, int dim, int64_t k1, int64_t k2, int h, int m)
{
    return rollup_at(r, SITE, dim, (int64_t)DAY * 24 + h, k1, k2)[m];
}

static void
test_first_hour(void)
{
    uniq *u = uniq_new();
    rollup *r = rollup_new();
    CHECK(u != NULL && r != NULL);
    CHECK(ev(u, r, 42, DIM_PAGE, 7, 0, 5) == 0);
    CHECK(ev(u, r, 42, DIM_PAGE, 7, 0, 5) == 0);        /* same hour again */
    CHECK_EQ_U64(metric(r, DIM_PAGE, 7, 0, 5, M_VISITORS_HOUR), 1);
    CHECK_EQ_U64(metric(r, DIM_PAGE, 7, 0, 5, M_VISITORS_NEW), 1);
    CHECK(ev(u, r, 42, DIM_PAGE, 7, 0, 9) == 0);        /* a later hour */
    CHECK_EQ_U64(metric(r, DIM_PAGE, 7, 0, 9, M_VISITORS_HOUR), 1);
    CHECK_EQ_U64(metric(r, DIM_PAGE, 7, 0, 9, M_VISITORS_NEW), 0);
    CHECK(ev(u, r, 42, DIM_PAGE, 7, 0, 2) == 0);        /* an earlier one, late */
    CHECK_EQ_U64(metric(r, DIM_PAGE, 7, 0, 2, M_VISITORS_NEW), 1);
    CHECK_EQ_U64(metric(r, DIM_PAGE, 7, 0, 5, M_VISITORS_NEW), 0);
    /* another value, another visitor, site totals (key 0) */
    CHECK(ev(u, r, 42, DIM_TOTAL, 0, 0, 5) == 0);
    CHECK(ev(u, r, 43, DIM_PAGE, 7, 0, 5) == 0);
    CHECK_EQ_U64(metric(r, DIM_TOTAL, 0, 0, 5, M_VISITORS_NEW), 1);
    CHECK_EQ_U64(metric(r, DIM_PAGE, 7, 0, 5, M_VISITORS_HOUR), 2);
    CHECK_EQ_U64(metric(r, DIM_PAGE, 7, 0, 5, M_VISITORS_NEW), 1);
    CHECK_EQ_U64(uniq_entries(u), 3);
    rollup_free(r);
    uniq_free(u);
}

/* One visitor with thousands of values (a crawler): every value is new
 * once, and found again afterwards, large ids included. */
static void
test_many_values(void)
{
    uniq *u = uniq_new();
    rollup *r = rollup_new();
    const int n = 3000;
    for (int i = 0; i < n; i++) {
        int64_t k1 = i % 2 ? i + 1 : (1ll << 40) + i;      /* hashed keys too */
        CHECK(ev(u, r, 7, DIM_PROP, k1, i % 5, 3) == 0);
        CHECK_EQ_U64(metric(r, DIM_PROP, k1, i % 5, 3, M_VISITORS_NEW), 1);
    }
    CHECK_EQ_U64(uniq_entries(u), (uint64_t)n);
    for (int i = 0; i < n; i++) {
        int64_t k1 = i % 2 ? i + 1 : (1ll << 40) + i;
        CHECK(ev(u, r, 7, DIM_PROP, k1, i % 5, 3) == 0);
        CHECK(ev(u, r, 7, DIM_PROP, k1, i % 5, 1) == 0);   /* earlier hour */
        CHECK_EQ_U64(metric(r, DIM_PROP, k1, i % 5, 3, M_VISITORS_HOUR), 1);
        CHECK_EQ_U64(metric(r, DIM_PROP, k1, i % 5, 3, M_VISITORS_NEW), 0);
        CHECK_EQ_U64(metric(r, DIM_PROP, k1, i % 5, 1, M_VISITORS_NEW), 1);
    }
    CHECK_EQ_U64(uniq_entries(u), (uint64_t)n);
    rollup_free(r);
    uniq_free(u);
}

/* Random events of 200 visitors over 24 hours and 300 values, against the
 * direct count; the visitors' records interleave and grow as they go. */
static void
test_random_events(void)
{
    enum { NV = 200, NK = 300, NH = 24 };
    static unsigned char seen[NV][NK][NH];
    memset(seen, 0, sizeof(seen));
    uniq *u = uniq_new();
    rollup *r = rollup_new();
    srand(11);
    for (int i = 0; i < 60000; i++) {
        int v = rand() % NV, k = rand() % NK, h = rand() % NH;
        /* skewed: low-numbered visitors hold many values */
        if (v < 5)
            k = rand() % NK;
        else
            k %= 20 + v % 40;
        seen[v][k][h] = 1;
        CHECK(ev(u, r, 1000003ull * (uint64_t)v, DIM_PAGE, k + 1, 0, h) == 0);
    }
    int bad = 0;
    for (int k = 0; k < NK; k++) {
        for (int h = 0; h < NH; h++) {
            int64_t vh = 0, vn = 0;
            for (int v = 0; v < NV; v++) {
                vh += seen[v][k][h];
                int first = -1;
                for (int x = 0; x < NH && first < 0; x++)
                    if (seen[v][k][x])
                        first = x;
                vn += first == h;
            }
            bad += metric(r, DIM_PAGE, k + 1, 0, h, M_VISITORS_HOUR) != vh
                   || metric(r, DIM_PAGE, k + 1, 0, h, M_VISITORS_NEW) != vn;
        }
    }
    CHECK_EQ_U64(bad, 0);
    rollup_free(r);
    uniq_free(u);
}

/* Visit values are reference counted: two visits in one hour, then both
 * taken back, leave nothing; the first hour moves when its visit goes. */
static void
test_visits(void)
{
    uniq *u = uniq_new();
    rollup *r = rollup_new();
    for (int k = 1; k <= 150; k++) {       /* enough values to spill */
        CHECK(vis_at(u, r, 9, DIM_SOURCE, k, 4, 1) == 0);
        CHECK(vis_at(u, r, 9, DIM_SOURCE, k, 4, 1) == 0);
        CHECK(vis_at(u, r, 9, DIM_SOURCE, k, 8, 1) == 0);
    }
    for (int k = 1; k <= 150; k++) {
        CHECK_EQ_U64(metric(r, DIM_SOURCE, k, 0, 4, M_VISITORS_HOUR), 1);
        CHECK_EQ_U64(metric(r, DIM_SOURCE, k, 0, 4, M_VISITORS_NEW), 1);
        CHECK_EQ_U64(metric(r, DIM_SOURCE, k, 0, 8, M_VISITORS_NEW), 0);
        CHECK(vis_at(u, r, 9, DIM_SOURCE, k, 4, -1) == 0);  /* one of two */
        CHECK_EQ_U64(metric(r, DIM_SOURCE, k, 0, 4, M_VISITORS_HOUR), 1);
        CHECK(vis_at(u, r, 9, DIM_SOURCE, k, 4, -1) == 0);  /* the last one */
        CHECK_EQ_U64(metric(r, DIM_SOURCE, k, 0, 4, M_VISITORS_HOUR), 0);
        CHECK_EQ_U64(metric(r, DIM_SOURCE, k, 0, 4, M_VISITORS_NEW), 0);
        CHECK_EQ_U64(metric(r, DIM_SOURCE, k, 0, 8, M_VISITORS_NEW), 1);
        CHECK(vis_at(u, r, 9, DIM_SOURCE, k, 8, -1) == 0);
        CHECK_EQ_U64(metric(r, DIM_SOURCE, k, 0, 8, M_VISITORS_HOUR), 0);
        CHECK_EQ_U64(metric(r, DIM_SOURCE, k, 0, 8, M_VISITORS_NEW), 0);
    }
    rollup_free(r);
    uniq_free(u);
}

/* Dropped days are forgotten: the same visitor and value count again. */
static void
test_drop(void)
{
    uniq *u = uniq_new();
    rollup *r = rollup_new();
    CHECK(ev(u, r, 5, DIM_NAME, 2, 0, 1) == 0);
    CHECK_EQ_U64(uniq_entries(u), 1);
    uniq_drop_before(u, DAY + 1);
    CHECK_EQ_U64(uniq_entries(u), 0);
    rollup_clear(r);
    CHECK(ev(u, r, 5, DIM_NAME, 2, 0, 1) == 0);
    CHECK_EQ_U64(metric(r, DIM_NAME, 2, 0, 1, M_VISITORS_NEW), 1);
    rollup_free(r);
    uniq_free(u);
}

int
main(void)
{
    RUN(test_first_hour);
    RUN(test_many_values);
    RUN(test_random_events);
    RUN(test_visits);
    RUN(test_drop);
    return check_summary("aggregator/uniq");
}
