/*
 * colblock.c -- the column block codec (format and rules in colblock.h).
 *
 * Encoding measures each column once (min, max, order, deltas; distinct
 * values by sorting a copy when a dictionary could win), picks the
 * smallest encoding and bit-packs it.  Decoding unpacks 1024 values at a
 * time into a small buffer with one unaligned 64-bit load per value (two
 * for widths above 56), then applies the encoding while checking that no
 * sum overflows; the last few values of a payload, whose 8-byte load would
 * pass the end of the block, are read byte by byte.
 */
#include "aggregator/colblock.h"
#include "spool/spool.h"

#include <stdlib.h>
#include <string.h>

/* ---- little-endian access -------------------------------------------- */

static inline uint64_t
cb_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t
cb_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

static inline uint64_t
cb_get64(const uint8_t *p)
{
    return (uint64_t)cb_get32(p) | (uint64_t)cb_get32(p + 4) << 32;
}

static inline void
cb_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void
cb_put64(uint8_t *p, uint64_t v)
{
    cb_put32(p, (uint32_t)v);
    cb_put32(p + 4, (uint32_t)(v >> 32));
}

/* Bits needed to write x (0 for 0). */
static inline unsigned
cb_width(uint64_t x)
{
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
}

/* Bytes of k values packed in w bits. */
static inline uint64_t
cb_packed_bytes(uint64_t k, unsigned w)
{
    return (k * w + 7) / 8;
}

/* uint64 -> int64 modulo 2^64 (callers check the range separately). */
static inline int64_t
cb_s64(uint64_t u)
{
    int64_t v;
    memcpy(&v, &u, 8);
    return v;
}

/* ---- bit packing ------------------------------------------------------ */

typedef struct cb_bitw {
    uint8_t *p;
    uint64_t acc;
    unsigned n; /* bits in acc, 0..63 */
} cb_bitw;

/* Appends the w low bits of v (v < 2^w). */
static inline void
cb_put_bits(cb_bitw *bw, uint64_t v, unsigned w)
{
    if (w == 0)
        return;
    bw->acc |= v << bw->n;
    if (bw->n + w >= 64) {
        cb_put64(bw->p, bw->acc);
        bw->p += 8;
        unsigned used = 64 - bw->n; /* bits of v now written, 1..64 */
        bw->acc = used < 64 ? v >> used : 0;
        bw->n = bw->n + w - 64;
    } else {
        bw->n += w;
    }
}

/* Writes the last partial bytes; the string is then ceil(bits/8) bytes. */
static inline void
cb_flush_bits(cb_bitw *bw)
{
    for (unsigned i = 0; i * 8 < bw->n; i++)
        *bw->p++ = (uint8_t)(bw->acc >> (8 * i));
    bw->acc = 0;
    bw->n = 0;
}

/* Value at bit offset bo, w bits, reading only the bytes that hold it. */
static inline uint64_t
cb_get_bits_safe(const uint8_t *p, uint64_t bo, unsigned w)
{
    const uint8_t *q = p + (bo >> 3);
    unsigned s = (unsigned)(bo & 7);
    unsigned nbytes = (s + w + 7) / 8; /* 1..9 */
    uint64_t x = q[0] >> s;
    for (unsigned k = 1; k < nbytes; k++) {
        unsigned sh = 8 * k - s;
        if (sh < 64)
            x |= (uint64_t)q[k] << sh;
    }
    return w == 64 ? x : x & ((UINT64_C(1) << w) - 1);
}

#define CB_CHUNK 1024

/* out[0..cnt-1] = values i0 .. i0+cnt-1 of the w-bit string at p.  The
 * string's bytes are all readable; avail is how many bytes from p may be
 * read (up to the end of the block), which decides where the one-load
 * fast path (two loads for widths 57..63) has to stop. */
static void
cb_unpack(const uint8_t *p, size_t avail, unsigned w, size_t i0, size_t cnt,
          uint64_t *out)
{
    if (w == 0) {
        memset(out, 0, cnt * sizeof(*out));
        return;
    }
    size_t need = w <= 56 || w == 64 ? 8 : 9, nfast = 0;
    if (avail >= need) {
        /* value i loads bytes bo/8 .. bo/8+need-1: fine while
         * bo <= (avail-need)*8 + 7 */
        uint64_t last = ((uint64_t)(avail - need) * 8 + 7) / w + 1;
        if (last > i0)
            nfast = last - i0 < cnt ? (size_t)(last - i0) : cnt;
    }
    size_t i = 0;
    uint64_t bo = (uint64_t)i0 * w;
    if (w <= 56) {
        uint64_t mask = (UINT64_C(1) << w) - 1;
        for (; i < nfast; i++, bo += w)
            out[i] = (cb_load64(p + (bo >> 3)) >> (bo & 7)) & mask;
    } else if (w == 64) { /* whole words: bo is a multiple of 8 */
        for (; i < nfast; i++, bo += w)
            out[i] = cb_load64(p + (bo >> 3));
    } else {
        uint64_t mask = (UINT64_C(1) << w) - 1;
        for (; i < nfast; i++, bo += w) {
            const uint8_t *q = p + (bo >> 3);
            unsigned s = (unsigned)(bo & 7);
            uint64_t x = cb_load64(q) >> s;
            if (s)
                x |= (uint64_t)q[8] << (64 - s);
            out[i] = x & mask;
        }
    }
    for (; i < cnt; i++, bo += w)
        out[i] = cb_get_bits_safe(p, bo, w);
}

/* ---- encoding --------------------------------------------------------- */

typedef struct cb_plan {
    uint8_t enc, w, wd;
    uint64_t bytes;
    int64_t base;
    uint64_t aux;
    int64_t *dict; /* DICT: the K sorted distinct values (malloc'd) */
} cb_plan;

static int
cb_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Chooses the encoding of v[0..n-1]. */
static int
cb_plan_col(const int64_t *v, size_t n, cb_plan *pl)
{
    memset(pl, 0, sizeof(*pl));
    pl->enc = CB_CONST;
    if (n == 0)
        return 0;
    int64_t mn = v[0], mx = v[0];
    int sorted = 1;
    uint64_t dmin = UINT64_MAX, dmax = 0;
    for (size_t i = 1; i < n; i++) {
        if (v[i] < mn)
            mn = v[i];
        if (v[i] > mx)
            mx = v[i];
        if (sorted) {
            if (v[i] < v[i - 1]) {
                sorted = 0;
            } else {
                uint64_t d = (uint64_t)v[i] - (uint64_t)v[i - 1];
                if (d < dmin)
                    dmin = d;
                if (d > dmax)
                    dmax = d;
            }
        }
    }
    pl->base = mn;
    if (mn == mx)
        return 0; /* CONST */
    unsigned w = cb_width((uint64_t)mx - (uint64_t)mn);
    pl->enc = CB_FOR;
    pl->w = (uint8_t)w;
    pl->bytes = cb_packed_bytes(n, w);
    if (sorted) { /* n >= 2 here: mn != mx */
        unsigned dw = cb_width(dmax - dmin);
        uint64_t db = cb_packed_bytes(n - 1, dw);
        if (db < pl->bytes) {
            pl->enc = CB_DELTA;
            pl->w = (uint8_t)dw;
            pl->bytes = db;
            pl->base = v[0];
            pl->aux = dmin;
        }
    }
    if (pl->bytes == 0 || w <= 1)
        return 0; /* a dictionary cannot be smaller */
    int64_t *d = malloc(n * sizeof(*d));
    if (d == NULL)
        return CB_ENOMEM;
    memcpy(d, v, n * sizeof(*d));
    qsort(d, n, sizeof(*d), cb_cmp_i64);
    size_t k = 1;
    uint64_t gmax = 0;
    for (size_t i = 1; i < n; i++) {
        if (d[i] != d[k - 1]) {
            uint64_t g = (uint64_t)d[i] - (uint64_t)d[k - 1] - 1;
            if (g > gmax)
                gmax = g;
            d[k++] = d[i];
        }
    }
    unsigned iw = cb_width(k - 1), gw = cb_width(gmax);
    uint64_t bytes = cb_packed_bytes(k - 1, gw) + cb_packed_bytes(n, iw);
    if (bytes >= pl->bytes) {
        free(d);
        return 0;
    }
    pl->enc = CB_DICT;
    pl->w = (uint8_t)iw;
    pl->wd = (uint8_t)gw;
    pl->bytes = bytes;
    pl->base = d[0];
    pl->aux = k;
    pl->dict = d;
    return 0;
}

/* Index of x in the sorted d[0..k-1] (x is there). */
static inline size_t
cb_dict_find(const int64_t *d, size_t k, int64_t x)
{
    size_t lo = 0, hi = k;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (d[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Writes the payload of v[0..n-1] as planned, pl->bytes bytes at p. */
static void
cb_write_col(const int64_t *v, size_t n, const cb_plan *pl, uint8_t *p)
{
    cb_bitw bw = {p, 0, 0};
    switch (pl->enc) {
    case CB_CONST:
        return;
    case CB_FOR:
        for (size_t i = 0; i < n; i++)
            cb_put_bits(&bw, (uint64_t)v[i] - (uint64_t)pl->base, pl->w);
        break;
    case CB_DELTA:
        for (size_t i = 1; i < n; i++)
            cb_put_bits(&bw, (uint64_t)v[i] - (uint64_t)v[i - 1] - pl->aux,
                        pl->w);
        break;
    case CB_DICT:
        for (size_t j = 1; j < pl->aux; j++)
            cb_put_bits(&bw,
                        (uint64_t)pl->dict[j] - (uint64_t)pl->dict[j - 1] - 1,
                        pl->wd);
        cb_flush_bits(&bw);
        for (size_t i = 0; i < n; i++)
            cb_put_bits(&bw, cb_dict_find(pl->dict, pl->aux, v[i]), pl->w);
        break;
    }
    cb_flush_bits(&bw);
}

int
cb_encode(const int64_t *const cols[], size_t ncols, size_t nrows,
          uint8_t **out, size_t *outlen)
{
    if (out == NULL || outlen == NULL || ncols > CB_MAX_COLS
        || nrows > CB_MAX_ROWS || (ncols > 0 && cols == NULL))
        return CB_EINVAL;
    for (size_t c = 0; c < ncols; c++)
        if (nrows > 0 && cols[c] == NULL)
            return CB_EINVAL;

    cb_plan plan[CB_MAX_COLS];
    uint64_t total = CB_HDR_SIZE + (uint64_t)CB_DESC_SIZE * ncols;
    int rc = 0;
    size_t planned = 0;
    for (; planned < ncols; planned++) {
        rc = cb_plan_col(cols[planned], nrows, &plan[planned]);
        if (rc != 0)
            break;
        total += plan[planned].bytes;
    }
    uint8_t *b = NULL;
    if (rc == 0 && total > UINT32_MAX)
        rc = CB_EINVAL;
    if (rc == 0 && (b = malloc((size_t)total)) == NULL)
        rc = CB_ENOMEM;
    if (rc == 0) {
        cb_put32(b, CB_MAGIC);
        b[4] = CB_VERSION & 0xFF;
        b[5] = CB_VERSION >> 8;
        b[6] = (uint8_t)ncols;
        b[7] = 0;
        cb_put32(b + 8, (uint32_t)nrows);
        cb_put32(b + 12, (uint32_t)total);
        uint64_t off = CB_HDR_SIZE + (uint64_t)CB_DESC_SIZE * ncols;
        for (size_t c = 0; c < ncols; c++) {
            const cb_plan *pl = &plan[c];
            uint8_t *d = b + CB_HDR_SIZE + CB_DESC_SIZE * c;
            cb_write_col(cols[c], nrows, pl, b + off);
            d[0] = pl->enc;
            d[1] = pl->w;
            d[2] = pl->wd;
            d[3] = 0;
            cb_put32(d + 4, (uint32_t)pl->bytes);
            cb_put64(d + 8, (uint64_t)pl->base);
            cb_put64(d + 16, pl->aux);
            cb_put32(d + 24, spool_crc32c(0, b + off, (size_t)pl->bytes));
            off += pl->bytes;
        }
        uint32_t crc = spool_crc32c(0, b, 16);
        crc = spool_crc32c(crc, b + CB_HDR_SIZE, CB_DESC_SIZE * ncols);
        cb_put32(b + 16, crc);
        *out = b;
        *outlen = (size_t)total;
    }
    for (size_t c = 0; c < planned; c++)
        free(plan[c].dict);
    return rc;
}

/* ---- decoding --------------------------------------------------------- */

/* The payload length a descriptor implies for n rows, or -1 if the
 * descriptor is inconsistent. */
static int64_t
cb_expect_bytes(const cb_colinfo *ci, uint32_t n)
{
    if (ci->width > 64 || ci->dwidth > 64)
        return -1;
    switch (ci->enc) {
    case CB_CONST:
        if (ci->width != 0 || ci->dwidth != 0 || ci->aux != 0)
            return -1;
        return 0;
    case CB_FOR:
        if (ci->dwidth != 0 || ci->aux != 0)
            return -1;
        return (int64_t)cb_packed_bytes(n, ci->width);
    case CB_DELTA:
        if (n == 0 || ci->dwidth != 0)
            return -1;
        return (int64_t)cb_packed_bytes(n - 1, ci->width);
    case CB_DICT:
        if (n == 0 || ci->aux == 0 || ci->aux > n
            || ci->width != cb_width(ci->aux - 1))
            return -1;
        return (int64_t)(cb_packed_bytes(ci->aux - 1, ci->dwidth)
                         + cb_packed_bytes(n, ci->width));
    default:
        return -1;
    }
}

int
cb_decode_header(const uint8_t *b, size_t len, cb_info *info)
{
    if (info == NULL)
        return CB_EINVAL;
    if (b == NULL || len < CB_HDR_SIZE)
        return CB_ETRUNC;
    if (cb_get32(b) != CB_MAGIC)
        return CB_EMAGIC;
    if ((b[4] | b[5] << 8) != CB_VERSION)
        return CB_EVERSION;
    uint32_t ncols = b[6], nrows = cb_get32(b + 8), blen = cb_get32(b + 12);
    if (blen > len)
        return CB_ETRUNC;
    if (ncols > CB_MAX_COLS || b[7] != 0 || nrows > CB_MAX_ROWS
        || blen != len)
        return CB_EFORMAT;
    size_t dend = CB_HDR_SIZE + (size_t)CB_DESC_SIZE * ncols;
    if (dend > len)
        return CB_ETRUNC;
    uint32_t crc = spool_crc32c(0, b, 16);
    crc = spool_crc32c(crc, b + CB_HDR_SIZE, CB_DESC_SIZE * ncols);
    if (crc != cb_get32(b + 16))
        return CB_ECRC;
    info->nrows = nrows;
    info->ncols = ncols;
    info->len = blen;
    uint64_t off = dend;
    for (uint32_t c = 0; c < ncols; c++) {
        const uint8_t *d = b + CB_HDR_SIZE + CB_DESC_SIZE * c;
        cb_colinfo *ci = &info->col[c];
        ci->enc = d[0];
        ci->width = d[1];
        ci->dwidth = d[2];
        ci->bytes = cb_get32(d + 4);
        ci->base = cb_s64(cb_get64(d + 8));
        ci->aux = cb_get64(d + 16);
        ci->crc = cb_get32(d + 24);
        ci->off = (uint32_t)off;
        if (d[3] != 0 || cb_expect_bytes(ci, nrows) != (int64_t)ci->bytes)
            return CB_EFORMAT;
        off += ci->bytes;
        if (off > len)
            return CB_EFORMAT;
    }
    if (off != len)
        return CB_EFORMAT;
    return 0;
}

/* dst[i] = base + x[i] for a chunk; *bad set when a sum overflows. */
static inline void
cb_apply_for(const uint64_t *x, size_t cnt, int64_t base, int64_t *dst,
             uint64_t *bad)
{
    uint64_t lim = (uint64_t)INT64_MAX - (uint64_t)base, b = 0;
    for (size_t i = 0; i < cnt; i++) {
        b |= x[i] > lim;
        dst[i] = cb_s64((uint64_t)base + x[i]);
    }
    *bad |= b;
}

int
cb_decode_col_info(const uint8_t *b, size_t len, const cb_info *info,
                   size_t col, int64_t *dst)
{
    size_t k;
    return cb_decode_col_ix(b, len, info, col, dst, NULL, &k);
}

int
cb_decode_col_ix(const uint8_t *b, size_t len, const cb_info *info,
                 size_t col, int64_t *dst, uint32_t *ix, size_t *kout)
{
    *kout = 0;
    if (b == NULL || info == NULL)
        return CB_EINVAL;
    if (col >= info->ncols || col >= CB_MAX_COLS)
        return CB_ECOL;
    const cb_colinfo *ci = &info->col[col];
    uint32_t n = info->nrows;
    if (n > CB_MAX_ROWS || info->len != len
        || cb_expect_bytes(ci, n) != (int64_t)ci->bytes || ci->off > len
        || ci->bytes > len - ci->off)
        return CB_EFORMAT;
    if (n > 0 && dst == NULL)
        return CB_EINVAL;
    const uint8_t *p = b + ci->off;
    size_t avail = len - ci->off;
    if (spool_crc32c(0, p, ci->bytes) != ci->crc)
        return CB_ECRC;

    uint64_t x[CB_CHUNK], bad = 0;
    switch (ci->enc) {
    case CB_CONST:
        for (uint32_t i = 0; i < n; i++)
            dst[i] = ci->base;
        if (ix) {
            memset(ix, 0, n * sizeof(*ix));
            *kout = 1;
        }
        return 0;
    case CB_FOR:
        for (size_t i = 0; i < n; i += CB_CHUNK) {
            size_t cnt = n - i < CB_CHUNK ? n - i : CB_CHUNK;
            cb_unpack(p, avail, ci->width, i, cnt, x);
            cb_apply_for(x, cnt, ci->base, dst + i, &bad);
        }
        break;
    case CB_DELTA: {
        int64_t prev = ci->base;
        uint64_t dmin = ci->aux;
        dst[0] = prev;
        for (size_t i = 0; i + 1 < n; i += CB_CHUNK) {
            size_t cnt = n - 1 - i < CB_CHUNK ? n - 1 - i : CB_CHUNK;
            cb_unpack(p, avail, ci->width, i, cnt, x);
            uint64_t bb = 0;
            for (size_t j = 0; j < cnt; j++) {
                uint64_t d = dmin + x[j];
                bb |= d < dmin;                                    /* wrap */
                bb |= d > (uint64_t)INT64_MAX - (uint64_t)prev; /* range */
                prev = cb_s64((uint64_t)prev + d);
                dst[i + 1 + j] = prev;
            }
            bad |= bb;
        }
        break;
    }
    case CB_DICT: {
        size_t k = (size_t)ci->aux; /* 1..n */
        int64_t stackd[256], *d = stackd;
        if (k > 256 && (d = malloc(k * sizeof(*d))) == NULL)
            return CB_ENOMEM;
        /* the dictionary: D[0] = base, D[j] = D[j-1] + 1 + gap */
        d[0] = ci->base;
        for (size_t j = 1; j < k; j += CB_CHUNK) {
            size_t cnt = k - j < CB_CHUNK ? k - j : CB_CHUNK;
            cb_unpack(p, avail, ci->dwidth, j - 1, cnt, x);
            for (size_t t = 0; t < cnt; t++) {
                uint64_t g = x[t] + 1;
                bad |= g == 0;
                bad |= g > (uint64_t)INT64_MAX - (uint64_t)d[j + t - 1];
                d[j + t] = cb_s64((uint64_t)d[j + t - 1] + g);
            }
        }
        size_t ioff = (size_t)cb_packed_bytes(k - 1, ci->dwidth);
        const uint8_t *q = p + ioff;
        for (size_t i = 0; i < n; i += CB_CHUNK) {
            size_t cnt = n - i < CB_CHUNK ? n - i : CB_CHUNK;
            cb_unpack(q, avail - ioff, ci->width, i, cnt, x);
            uint64_t bb = 0;
            for (size_t t = 0; t < cnt; t++) {
                uint64_t xi = x[t];
                bb |= xi >= k;
                dst[i + t] = d[xi < k ? xi : 0];
            }
            if (ix)
                for (size_t t = 0; t < cnt; t++)
                    ix[i + t] = (uint32_t)(x[t] < k ? x[t] : 0);
            bad |= bb;
        }
        if (ix)
            *kout = k;
        if (d != stackd)
            free(d);
        break;
    }
    default:
        return CB_EFORMAT;
    }
    return bad ? CB_EFORMAT : 0;
}

int
cb_decode_col(const uint8_t *b, size_t len, size_t col, int64_t *dst)
{
    cb_info info;
    int rc = cb_decode_header(b, len, &info);
    if (rc != 0)
        return rc;
    return cb_decode_col_info(b, len, &info, col, dst);
}

const char *
cb_strerror(int err)
{
    switch (err) {
    case CB_OK: return "ok";
    case CB_EINVAL: return "invalid argument";
    case CB_ENOMEM: return "out of memory";
    case CB_ETRUNC: return "block truncated";
    case CB_EMAGIC: return "not a column block (bad magic)";
    case CB_EVERSION: return "unsupported column block version";
    case CB_ECRC: return "checksum mismatch";
    case CB_EFORMAT: return "inconsistent column block";
    case CB_ECOL: return "no such column";
    default: return "unknown error";
    }
}

const char *
cb_enc_name(int enc)
{
    switch (enc) {
    case CB_CONST: return "const";
    case CB_FOR: return "for";
    case CB_DELTA: return "delta";
    case CB_DICT: return "dict";
    default: return "?";
    }
}
