/* libFuzzer target for spool_record_decode (spool/record.c).
 *
 * Any input: decode must not read outside the input (ASan), must not
 * report sizes past it, and anything it accepts must re-encode into a
 * record that decodes to the same events and is a fixed point of
 * decode+encode (unknown tags and field order are normalised by the first
 * re-encoding, nothing else may change). */
#include "spool/spool.h"

#include <stdlib.h>
#include <string.h>

static spool_event ev1[SPOOL_MAX_EVENTS], ev2[SPOOL_MAX_EVENTS];
static unsigned char out1[SPOOL_REC_HDR_SIZE + SPOOL_MAX_PAYLOAD];
static unsigned char out2[SPOOL_REC_HDR_SIZE + SPOOL_MAX_PAYLOAD];

static int
same_events(const spool_event *a, const spool_event *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].time_ms != b[i].time_ms || a[i].visitor_id != b[i].visitor_id)
            return 0;
        for (int t = 0; t < SPOOL_F_MAX; t++) {
            const spool_str *x = &a[i].field[t], *y = &b[i].field[t];
            if ((x->ptr == NULL) != (y->ptr == NULL) || x->len != y->len
                || (x->len && memcmp(x->ptr, y->ptr, x->len) != 0))
                return 0;
        }
    }
    return 1;
}

/* 1 if every event of an already validated record has only known tags
 * (1..SPOOL_F_MAX-1) in strictly ascending order, as the encoder writes. */
static int
canonical(const unsigned char *rec, size_t rec_len)
{
    size_t off = SPOOL_REC_HDR_SIZE;

    while (off < rec_len) {
        size_t elen = rec[off] | (size_t)rec[off + 1] << 8, q = off + 18;
        unsigned last = 0;
        while (q < off + elen) {
            unsigned tag = rec[q];
            if (tag == 0 || tag >= SPOOL_F_MAX || tag <= last)
                return 0;
            last = tag;
            q += 3 + (rec[q + 1] | (size_t)rec[q + 2] << 8);
        }
        off += elen;
    }
    return 1;
}

static void
put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static int check_one(const unsigned char *data, size_t size);

/* Each input is decoded as is, and once more with both checksums made
 * right (in an exact-size heap copy, so ASan still sees over-reads):
 * random mutations almost never pass a CRC, and the event parser behind
 * it needs fuzzing too. */
int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    check_one(data, size);
    if (size >= SPOOL_REC_HDR_SIZE) {
        unsigned char *copy = malloc(size);
        size_t plen = (size_t)data[4] | (size_t)data[5] << 8
                      | (size_t)data[6] << 16 | (size_t)data[7] << 24;
        memcpy(copy, data, size);
        memcpy(copy, SPOOL_REC_MAGIC, 4);
        if (plen > size - SPOOL_REC_HDR_SIZE)
            plen = size - SPOOL_REC_HDR_SIZE;
        put32(copy + 12, spool_crc32c(0, copy + SPOOL_REC_HDR_SIZE, plen));
        put32(copy + 16, spool_crc32c(0, copy, 16));
        check_one(copy, size);
        free(copy);
    }
    return 0;
}

static int
check_one(const unsigned char *data, size_t size)
{
    size_t rec_len = 12345, n = 12345, len1, len2, rl2, n2;
    const char *why = NULL;
    spool_status st = spool_record_decode(data, size, &rec_len, ev1, &n, &why);

    (void)spool_record_resync(data, size);
    if (st == SPOOL_INCOMPLETE) {
        if (rec_len != 0 && rec_len <= size)
            abort(); /* "incomplete" with the whole record present */
        return 0;
    }
    if (st == SPOOL_CORRUPT) {
        if (why == NULL)
            abort();
        return 0;
    }
    if (st != SPOOL_OK || rec_len > size || rec_len < SPOOL_REC_HDR_SIZE
        || n < 1 || n > SPOOL_MAX_EVENTS)
        abort();

    len1 = spool_record_encode(ev1, n, out1, sizeof out1);
    if (len1 == 0 || len1 > rec_len)
        abort(); /* re-encoding can only drop unknown fields */
    if (spool_record_decode(out1, len1, &rl2, ev2, &n2, NULL) != SPOOL_OK
        || rl2 != len1 || n2 != n || !same_events(ev1, ev2, n))
        abort();
    len2 = spool_record_encode(ev2, n2, out2, sizeof out2);
    if (len2 != len1 || memcmp(out1, out2, len1) != 0)
        abort();
    /* a canonical input (ascending known tags only) round-trips exactly */
    if (canonical(data, rec_len)
        && (len1 != rec_len || memcmp(out1, data, rec_len) != 0))
        abort();
    return 0;
}
