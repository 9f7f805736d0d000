/* Tests for aggregator/colblock.c: round trips through every encoding,
 * edge values, random data, the encoder's choices and sizes, and the
 * rejection of truncated, corrupted and bit-flipped blocks. */
#include "aggregator/colblock.h"
#include "tests/colblock_crc.h"
#include "spool/spool.h"
#include "tests/check.h"

#include <stdlib.h>

/* xorshift64*: deterministic test data */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t
rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}


/* Encodes the columns, checks the header, decodes every column (both
 * entry points) and compares; returns the block (caller frees) and
 * its length, and each column's encoding in enc[] when not NULL. */
static uint8_t *
roundtrip(int64_t **cols, size_t ncols, size_t nrows, size_t *lenp,
          int *enc)
{
    uint8_t *b = NULL;
    size_t len = 0;
    int rc = cb_encode((const int64_t *const *)cols, ncols, nrows, &b, &len);
    CHECK(rc == 0);
    if (rc != 0)
        return NULL;
    cb_info info;
    CHECK(cb_decode_header(b, len, &info) == 0);
    CHECK_EQ_U64(info.nrows, nrows);
    CHECK_EQ_U64(info.ncols, ncols);
    CHECK_EQ_U64(info.len, len);
    int64_t *dst = malloc((nrows + 1) * sizeof(*dst));
    for (size_t c = 0; c < ncols; c++) {
        dst[nrows] = 0x5A5A5A5A; /* guard: never written */
        CHECK(cb_decode_col(b, len, c, dst) == 0);
        CHECK(nrows == 0 || memcmp(dst, cols[c], nrows * sizeof(*dst)) == 0);
        memset(dst, 0, nrows * sizeof(*dst));
        CHECK(cb_decode_col_info(b, len, &info, c, dst) == 0);
        CHECK(nrows == 0 || memcmp(dst, cols[c], nrows * sizeof(*dst)) == 0);
        CHECK(dst[nrows] == 0x5A5A5A5A);
        if (enc)
            enc[c] = info.col[c].enc;
    }
    CHECK(cb_decode_col(b, len, ncols, dst) == CB_ECOL);
    free(dst);
    *lenp = len;
    return b;
}

static int64_t **
cols_new(size_t ncols, size_t nrows)
{
    int64_t **c = malloc(ncols * sizeof(*c));
    for (size_t i = 0; i < ncols; i++)
        c[i] = calloc(nrows ? nrows : 1, sizeof(int64_t));
    return c;
}

static void
cols_free(int64_t **c, size_t ncols)
{
    for (size_t i = 0; i < ncols; i++)
        free(c[i]);
    free(c);
}

static void
test_every_encoding(void)
{
    size_t n = 5000, len;
    int64_t **c = cols_new(5, n);
    for (size_t i = 0; i < n; i++) {
        c[0][i] = 42;                              /* const */
        c[1][i] = 1000 + (int64_t)(rnd() % 777);   /* for, 10 bits */
        c[2][i] = 1700000000000 + (int64_t)i * 1000
                  + (int64_t)(rnd() % 50);         /* delta */
        c[3][i] = (int64_t)((rnd() % 5) * 1000003); /* dict, 5 values */
        c[4][i] = (int64_t)(rnd() % 3);            /* for, 2 bits */
    }
    int enc[5];
    uint8_t *b = roundtrip(c, 5, n, &len, enc);
    CHECK(enc[0] == CB_CONST);
    CHECK(enc[1] == CB_FOR);
    CHECK(enc[2] == CB_DELTA);
    CHECK(enc[3] == CB_DICT);
    CHECK(enc[4] == CB_FOR);
    cb_info info;
    CHECK(cb_decode_header(b, len, &info) == 0);
    CHECK_EQ_U64(info.col[0].bytes, 0);
    CHECK_EQ_U64(info.col[1].width, 10);
    CHECK_EQ_U64(info.col[1].bytes, (n * 10 + 7) / 8);
    CHECK_EQ_U64(info.col[3].aux, 5);
    CHECK_EQ_U64(info.col[3].width, 3);
    CHECK_EQ_U64(info.col[4].width, 2);
    CHECK_EQ_U64(len, CB_HDR_SIZE + 5 * CB_DESC_SIZE + info.col[1].bytes
                          + info.col[2].bytes + info.col[3].bytes
                          + info.col[4].bytes);
    /* dictionary indexes: dense ids of the distinct values, in value
     * order; a constant column is one id; other encodings give none */
    int64_t *v = malloc(n * sizeof(*v));
    uint32_t *ix = malloc(n * sizeof(*ix));
    size_t k = 99;
    CHECK(cb_decode_col_ix(b, len, &info, 3, v, ix, &k) == 0);
    CHECK_EQ_U64(k, 5);
    for (size_t i = 0; i < n; i++)
        CHECK(v[i] == c[3][i] && ix[i] == (uint32_t)(c[3][i] / 1000003));
    CHECK(cb_decode_col_ix(b, len, &info, 0, v, ix, &k) == 0);
    CHECK(k == 1 && ix[0] == 0 && ix[n - 1] == 0 && v[7] == 42);
    CHECK(cb_decode_col_ix(b, len, &info, 1, v, ix, &k) == 0);
    CHECK(k == 0 && v[9] == c[1][9]);
    CHECK(cb_decode_col_ix(b, len, &info, 3, v, NULL, &k) == 0);
    CHECK(k == 0 && v[9] == c[3][9]);
    free(v);
    free(ix);
    free(b);
    cols_free(c, 5);
}

static void
test_edge_values(void)
{
    size_t len;
    int64_t **c = cols_new(8, 6);
    int64_t ext[6] = {INT64_MIN, INT64_MAX, 0, -1, INT64_MIN, INT64_MAX};
    int64_t up[6] = {INT64_MIN, INT64_MIN, -5, 0, INT64_MAX - 1, INT64_MAX};
    for (int i = 0; i < 6; i++) {
        c[0][i] = ext[i];        /* width 64, for */
        c[1][i] = up[i];         /* non-decreasing over the whole range */
        c[2][i] = INT64_MIN;     /* const at the extremes */
        c[3][i] = INT64_MAX;
        c[4][i] = INT64_MAX - (i & 1); /* for, 1 bit at the top */
        c[5][i] = INT64_MIN + (i % 3); /* for, at the bottom */
        c[6][i] = i % 2 ? INT64_MAX : INT64_MIN; /* two extremes */
        c[7][i] = -(int64_t)i;   /* decreasing */
    }
    int enc[8];
    uint8_t *b = roundtrip(c, 8, 6, &len, enc);
    CHECK(enc[2] == CB_CONST && enc[3] == CB_CONST);
    free(b);

    /* distinct random 64-bit values: FOR with width 64 */
    int64_t **r = cols_new(1, 1000);
    for (size_t i = 0; i < 1000; i++)
        r[0][i] = (int64_t)rnd();
    r[0][7] = INT64_MIN, r[0][9] = INT64_MAX;
    b = roundtrip(r, 1, 1000, &len, enc);
    cb_info info;
    CHECK(cb_decode_header(b, len, &info) == 0);
    CHECK(info.col[0].enc == CB_FOR);
    CHECK_EQ_U64(info.col[0].width, 64);
    free(b);
    cols_free(r, 1);

    /* a delta of 2^64 - 1 and width-64 deltas */
    int64_t d[3] = {INT64_MIN, INT64_MAX, INT64_MAX};
    c[0][0] = d[0], c[0][1] = d[1], c[0][2] = d[2];
    b = roundtrip(c, 1, 3, &len, NULL);
    free(b);
    cols_free(c, 8);

    /* every width 0..64, with lengths around the 8-byte tail */
    for (unsigned w = 0; w <= 64; w++) {
        for (size_t n = 1; n <= 19; n += 3) {
            int64_t **cc = cols_new(2, n);
            for (size_t i = 0; i < n; i++) {
                uint64_t m = w == 64 ? ~0ull : (1ull << w) - 1;
                uint64_t x = i == 0 ? m : rnd() & m; /* max hits width w */
                cc[0][i] = (int64_t)(x + (uint64_t)INT64_MIN);
                cc[1][i] = -3 + (int64_t)(x >> 1);
            }
            uint8_t *bb = roundtrip(cc, 2, n, &len, NULL);
            free(bb);
            cols_free(cc, 2);
        }
    }
}

static void
test_sizes_small(void)
{
    size_t len;
    /* N = 0: header + descriptors only, columns may be NULL */
    const int64_t *nulls[3] = {NULL, NULL, NULL};
    uint8_t *b = NULL;
    CHECK(cb_encode(nulls, 3, 0, &b, &len) == 0);
    CHECK_EQ_U64(len, CB_HDR_SIZE + 3 * CB_DESC_SIZE);
    cb_info info;
    CHECK(cb_decode_header(b, len, &info) == 0);
    CHECK_EQ_U64(info.nrows, 0);
    CHECK(cb_decode_col(b, len, 2, NULL) == 0);
    free(b);
    /* no columns at all */
    CHECK(cb_encode(NULL, 0, 100, &b, &len) == 0);
    CHECK_EQ_U64(len, CB_HDR_SIZE);
    CHECK(cb_decode_header(b, len, &info) == 0);
    CHECK_EQ_U64(info.nrows, 100);
    free(b);
    /* N = 1 */
    int64_t **c = cols_new(3, 1);
    c[0][0] = INT64_MIN, c[1][0] = INT64_MAX, c[2][0] = 7;
    int enc[3];
    b = roundtrip(c, 3, 1, &len, enc);
    CHECK(enc[0] == CB_CONST && enc[1] == CB_CONST && enc[2] == CB_CONST);
    free(b);
    cols_free(c, 3);
    /* all equal, many rows: no payload at all */
    c = cols_new(1, 100000);
    for (size_t i = 0; i < 100000; i++)
        c[0][i] = -123456789;
    b = roundtrip(c, 1, 100000, &len, enc);
    CHECK_EQ_U64(len, CB_HDR_SIZE + CB_DESC_SIZE);
    free(b);
    /* an arithmetic sequence: delta with width 0 */
    for (size_t i = 0; i < 100000; i++)
        c[0][i] = 5 + 3 * (int64_t)i;
    b = roundtrip(c, 1, 100000, &len, enc);
    CHECK(enc[0] == CB_DELTA);
    CHECK_EQ_U64(len, CB_HDR_SIZE + CB_DESC_SIZE);
    free(b);
    cols_free(c, 1);
}

static void
test_bad_args(void)
{
    int64_t v[2] = {1, 2};
    const int64_t *cols[33];
    for (int i = 0; i < 33; i++)
        cols[i] = v;
    uint8_t *b = (uint8_t *)1;
    size_t len = 99;
    CHECK(cb_encode(cols, 33, 2, &b, &len) == CB_EINVAL);
    CHECK(cb_encode(cols, 1, CB_MAX_ROWS + 1, &b, &len) == CB_EINVAL);
    const int64_t *nul[1] = {NULL};
    CHECK(cb_encode(nul, 1, 2, &b, &len) == CB_EINVAL);
    CHECK(cb_encode(cols, 1, 2, NULL, &len) == CB_EINVAL);
    CHECK(b == (uint8_t *)1 && len == 99); /* untouched */
    CHECK(cb_encode(cols, 32, 2, &b, &len) == 0);
    free(b);
    cb_info info;
    CHECK(cb_decode_header(NULL, 0, &info) == CB_ETRUNC);
    CHECK(cb_strerror(CB_ECRC)[0] != '\0');
    CHECK(cb_strerror(12345)[0] != '\0');
    CHECK_STR(cb_enc_name(CB_DICT), "dict");
}

static void
test_random(void)
{
    for (int round = 0; round < 200; round++) {
        size_t ncols = 1 + rnd() % CB_MAX_COLS;
        size_t n = rnd() % 3 == 0 ? rnd() % 40 : rnd() % 3000;
        int64_t **c = cols_new(ncols, n);
        for (size_t k = 0; k < ncols; k++) {
            unsigned w = (unsigned)(rnd() % 65);
            uint64_t m = w == 64 ? ~0ull : (1ull << w) - 1;
            int64_t base = (int64_t)rnd();
            int kind = (int)(rnd() % 4);
            size_t ndist = 1 + rnd() % 20;
            int64_t acc = (int64_t)(rnd() % 1000) - 500;
            for (size_t i = 0; i < n; i++) {
                uint64_t x = rnd() & m;
                switch (kind) {
                case 0: /* any bits, may wrap */
                    c[k][i] = (int64_t)((uint64_t)base + x);
                    break;
                case 1: /* few distinct values */
                    c[k][i] = (int64_t)((uint64_t)base * (x % ndist));
                    break;
                case 2: /* non-decreasing, small steps */
                    acc += (int64_t)(x & 0xFFF);
                    c[k][i] = acc;
                    break;
                default: /* small */
                    c[k][i] = (int64_t)(x & 0xFF) - 100;
                }
            }
        }
        size_t len;
        uint8_t *b = roundtrip(c, ncols, n, &len, NULL);
        free(b);
        cols_free(c, ncols);
    }
}

/* Every decode entry point must refuse b[0..len-1]. */
static int
refused(const uint8_t *b, size_t len)
{
    cb_info info;
    if (cb_decode_header(b, len, &info) == 0)
        return 0;
    int64_t *dst = malloc(CB_MAX_ROWS * sizeof(int64_t) / 64);
    int ok = 1;
    for (size_t c = 0; c < 4; c++)
        if (cb_decode_col(b, len, c, dst) == 0)
            ok = 0;
    free(dst);
    return ok;
}

/* A small block with all four encodings, for the corruption tests. */
static uint8_t *
sample_block(size_t *len)
{
    size_t n = 300;
    int64_t **c = cols_new(4, n);
    for (size_t i = 0; i < n; i++) {
        c[0][i] = 9;
        c[1][i] = (int64_t)(rnd() % 100000);
        c[2][i] = 1000 * (int64_t)i + (int64_t)(rnd() % 10);
        c[3][i] = (int64_t)(rnd() % 7) * 100000;
    }
    int enc[4];
    uint8_t *b = roundtrip(c, 4, n, len, enc);
    CHECK(enc[0] == CB_CONST && enc[1] == CB_FOR && enc[2] == CB_DELTA
          && enc[3] == CB_DICT);
    cols_free(c, 4);
    return b;
}

static void
test_truncated(void)
{
    size_t len;
    uint8_t *b = sample_block(&len);
    for (size_t l = 0; l < len; l++) {
        /* a copy of exactly l bytes, so ASan sees any read past it */
        uint8_t *t = malloc(l ? l : 1);
        memcpy(t, b, l);
        CHECK(refused(t, l));
        free(t);
    }
    /* longer than the block says */
    uint8_t *t = malloc(len + 1);
    memcpy(t, b, len);
    t[len] = 0;
    CHECK(refused(t, len + 1));
    free(t);
    free(b);
}

static void
test_bit_flips(void)
{
    size_t len;
    uint8_t *b = sample_block(&len);
    uint8_t *t = malloc(len);
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(t, b, len);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cb_info info;
        /* header and descriptors: the header checksum catches it */
        if (bit / 8 < CB_HDR_SIZE + 4 * CB_DESC_SIZE) {
            CHECK(cb_decode_header(t, len, &info) != 0);
            continue;
        }
        /* a payload: its column is refused, the others still decode */
        CHECK(cb_decode_header(t, len, &info) == 0);
        int64_t dst[300];
        int bad = 0;
        for (size_t c = 0; c < 4; c++) {
            int rc = cb_decode_col(t, len, c, dst);
            if (rc != 0) {
                CHECK(rc == CB_ECRC);
                bad++;
            }
        }
        CHECK(bad == 1);
    }
    free(t);
    free(b);
}

/* Structural damage with valid checksums: refused by the format rules. */
static void
test_inconsistent(void)
{
    size_t len;
    uint8_t *b = sample_block(&len);
    uint8_t *t = calloc(1, len + 64);
    cb_info info;
    int64_t dst[300];
#define MUTATE(stmt, expect)                                               \
    do {                                                                   \
        memcpy(t, b, len);                                                 \
        size_t tl = len;                                                   \
        stmt;                                                              \
        fix_crcs(t, tl);                                                   \
        int rc_ = cb_decode_header(t, tl, &info);                          \
        CHECK((expect) == 1 ? rc_ != 0 : rc_ == (expect));                 \
        CHECK(refused(t, tl));                                             \
    } while (0)
    uint8_t *d1 = t + CB_HDR_SIZE + CB_DESC_SIZE;     /* the FOR column */
    uint8_t *d3 = t + CB_HDR_SIZE + 3 * CB_DESC_SIZE; /* the DICT column */
    MUTATE(t[0] ^= 1, CB_EMAGIC);
    MUTATE(t[4] = 2, CB_EVERSION);
    MUTATE(t[6] = 33, CB_EFORMAT);
    MUTATE(t[6] = 5, 1); /* its descriptor lies in the payloads */
    MUTATE(t[6] = 3, CB_EFORMAT);
    MUTATE(t[7] = 1, CB_EFORMAT);
    MUTATE(put32(t + 8, CB_MAX_ROWS + 1), CB_EFORMAT);
    MUTATE(put32(t + 8, 299), CB_EFORMAT);
    MUTATE(put32(t + 8, 301), CB_EFORMAT);
    MUTATE(put32(t + 12, (uint32_t)len + 1), CB_ETRUNC);
    MUTATE(put32(t + 12, (uint32_t)len - 1), CB_EFORMAT);
    MUTATE((put32(t + 12, (uint32_t)len + 8), tl = len + 8), CB_EFORMAT);
    MUTATE(d1[0] = 4, CB_EFORMAT);
    MUTATE(d1[0] = CB_CONST, CB_EFORMAT);
    MUTATE(d1[1] = 65, CB_EFORMAT);
    MUTATE(d1[1]--, CB_EFORMAT);
    MUTATE(d1[2] = 1, CB_EFORMAT);
    MUTATE(d1[3] = 1, CB_EFORMAT);
    MUTATE(d1[16] = 1, CB_EFORMAT);
    MUTATE(put32(d1 + 4, get32(d1 + 4) + 1), CB_EFORMAT);
    MUTATE(d3[1]++, CB_EFORMAT);        /* index width != width of K-1 */
    MUTATE(d3[16] = 0, CB_EFORMAT);     /* K = 0 */
    MUTATE(d3[16] = 200, CB_EFORMAT);   /* K inconsistent with w and len */
    MUTATE(t[CB_HDR_SIZE] = CB_DICT, CB_EFORMAT); /* const -> dict, K = 0 */
#undef MUTATE

    /* values that overflow int64, with consistent headers: the header is
     * fine, the column is refused */
    int64_t big[4] = {INT64_MAX - 2, INT64_MAX, INT64_MAX - 1, INT64_MAX - 2};
    const int64_t *cols[1] = {big};
    uint8_t *ob;
    size_t ol;
    CHECK(cb_encode(cols, 1, 4, &ob, &ol) == 0);
    CHECK(cb_decode_header(ob, ol, &info) == 0);
    CHECK(info.col[0].enc == CB_FOR && info.col[0].width == 2);
    ob[CB_HDR_SIZE + CB_DESC_SIZE] |= 0xC0; /* x[3] = 3: base + 3 > MAX */
    fix_crcs(ob, ol);
    CHECK(cb_decode_header(ob, ol, &info) == 0);
    CHECK(cb_decode_col(ob, ol, 0, dst) == CB_EFORMAT);
    free(ob);

    /* a delta that wraps */
    int64_t up[3] = {INT64_MAX - 10, INT64_MAX - 8, INT64_MAX - 5};
    cols[0] = up;
    CHECK(cb_encode(cols, 1, 3, &ob, &ol) == 0);
    CHECK(cb_decode_header(ob, ol, &info) == 0);
    CHECK(info.col[0].enc == CB_DELTA);
    ob[CB_HDR_SIZE + 16] = 0xFF; /* smallest delta 2 -> 255 */
    fix_crcs(ob, ol);
    CHECK(cb_decode_header(ob, ol, &info) == 0);
    CHECK(cb_decode_col(ob, ol, 0, dst) == CB_EFORMAT);
    free(ob);

    /* a dictionary index >= K */
    int64_t three[5] = {0, 1000, 2000, 0, 1000};
    cols[0] = three;
    CHECK(cb_encode(cols, 1, 5, &ob, &ol) == 0);
    CHECK(cb_decode_header(ob, ol, &info) == 0);
    CHECK(info.col[0].enc == CB_DICT && info.col[0].aux == 3
          && info.col[0].width == 2);
    size_t ioff = info.col[0].off + (2 * info.col[0].dwidth + 7) / 8;
    ob[ioff] |= 3; /* first index 3 */
    fix_crcs(ob, ol);
    CHECK(cb_decode_header(ob, ol, &info) == 0);
    CHECK(cb_decode_col(ob, ol, 0, dst) == CB_EFORMAT);
    free(ob);

    /* a damaged cb_info cannot send cb_decode_col_info out of bounds */
    CHECK(cb_decode_header(b, len, &info) == 0);
    cb_info bad = info;
    bad.col[1].off = (uint32_t)len - 2;
    CHECK(cb_decode_col_info(b, len, &bad, 1, dst) == CB_EFORMAT);
    bad = info;
    bad.col[1].width = 40;
    CHECK(cb_decode_col_info(b, len, &bad, 1, dst) == CB_EFORMAT);
    bad = info;
    bad.ncols = 40;
    CHECK(cb_decode_col_info(b, len, &bad, 35, dst) == CB_ECOL);
    free(t);
    free(b);
}

/* Random garbage, with and without fixed checksums, is never accepted
 * as something that fails later in a bad way (ASan watches reads). */
static void
test_garbage(void)
{
    size_t len0;
    uint8_t *b0 = sample_block(&len0);
    int64_t *dst = malloc(CB_MAX_ROWS * sizeof(int64_t) / 64);
    for (int round = 0; round < 20000; round++) {
        size_t len = len0;
        uint8_t *t = malloc(len);
        memcpy(t, b0, len);
        int nmut = 1 + (int)(rnd() % 4);
        for (int k = 0; k < nmut; k++) /* mostly header and descriptors */
            t[rnd() % (rnd() % 2 ? CB_HDR_SIZE + 4 * CB_DESC_SIZE : len)] =
                (uint8_t)rnd();
        if (round % 2)
            fix_crcs(t, len);
        cb_info info;
        if (cb_decode_header(t, len, &info) == 0 && info.nrows <= 300 * 64)
            for (size_t c = 0; c < info.ncols; c++)
                (void)cb_decode_col(t, len, c, dst);
        free(t);
    }
    free(dst);
    free(b0);
}

/* The exact bytes of a small block, assembled here from colblock.h's
 * format description: a change to the format must show up here. */
static void
test_golden_bytes(void)
{
    int64_t a[3] = {-2, -2, -2}, c[3] = {1, 3, 2};
    const int64_t *cols[2] = {a, c};
    uint8_t *b;
    size_t len;
    CHECK(cb_encode(cols, 2, 3, &b, &len) == 0);
    uint8_t want[CB_HDR_SIZE + 2 * CB_DESC_SIZE + 1];
    memset(want, 0, sizeof(want));
    memcpy(want, "TCBK", 4);
    want[4] = 1;                    /* version 1 (2 bytes) */
    want[6] = 2;                    /* columns */
    want[8] = 3;                    /* rows */
    want[12] = sizeof(want);        /* length */
    uint8_t *d0 = want + CB_HDR_SIZE, *d1 = d0 + CB_DESC_SIZE;
    d0[0] = CB_CONST;
    memset(d0 + 8, 0xFF, 8);        /* base -2 */
    d0[8] = 0xFE;
    put32(d0 + 24, spool_crc32c(0, NULL, 0));
    d1[0] = CB_FOR;
    d1[1] = 2;                      /* w */
    d1[4] = 1;                      /* one payload byte */
    d1[8] = 1;                      /* base = min = 1 */
    uint8_t payload = 0 | 2 << 2 | 1 << 4; /* x = 0, 2, 1 in 2 bits */
    put32(d1 + 24, spool_crc32c(0, &payload, 1));
    want[CB_HDR_SIZE + 2 * CB_DESC_SIZE] = payload;
    uint32_t crc = spool_crc32c(0, want, 16);
    put32(want + 16, spool_crc32c(crc, want + CB_HDR_SIZE, 2 * CB_DESC_SIZE));
    CHECK_EQ_U64(len, sizeof(want));
    CHECK(len == sizeof(want) && memcmp(b, want, len) == 0);
    free(b);
}

int
main(void)
{
    RUN(test_golden_bytes);
    RUN(test_every_encoding);
    RUN(test_edge_values);
    RUN(test_sizes_small);
    RUN(test_bad_args);
    RUN(test_random);
    RUN(test_truncated);
    RUN(test_bit_flips);
    RUN(test_inconsistent);
    RUN(test_garbage);
    return check_summary("colblock");
}
