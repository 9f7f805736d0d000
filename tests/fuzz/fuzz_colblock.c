/*
 * fuzz_colblock.c -- libFuzzer target for the column block decoder
 * (aggregator/colblock.c).
 *
 * Any input: cb_decode_header and cb_decode_col must not read outside the
 * input (ASan) nor misbehave (UBSan), and must agree (a column decodes
 * only if the header does).  The input is also decoded a second time
 * with its checksums recomputed as colblock.h describes, so the fuzzer
 * reaches the structural checks behind the CRCs; whenever every column
 * of a block decodes, the values must survive cb_encode and decode
 * again unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/colblock.h"
#include "tests/colblock_crc.h"
#include "spool/spool.h"

#define MAX_ROWS (1u << 16) /* larger declared sizes: header checks only */

static int64_t vals[CB_MAX_COLS][MAX_ROWS], back[MAX_ROWS];
static uint32_t ix[MAX_ROWS];


static void
check(const uint8_t *b, size_t len)
{
    cb_info info;
    int hrc = cb_decode_header(b, len, &info);
    if (hrc != 0) {
        if (hrc > 0 || cb_decode_col(b, len, 0, back) != hrc)
            abort();
        return;
    }
    if (info.ncols > CB_MAX_COLS || info.nrows > CB_MAX_ROWS)
        abort();
    if (info.nrows > MAX_ROWS)
        return;
    int all = 1;
    for (size_t c = 0; c < info.ncols; c++) {
        int rc = cb_decode_col(b, len, c, vals[c]);
        if (rc != cb_decode_col_info(b, len, &info, c, back))
            abort();
        /* with dictionary indexes: the same values, and equal indexes
         * exactly for equal values */
        size_t k = 0;
        if (rc != cb_decode_col_ix(b, len, &info, c, back, ix, &k))
            abort();
        if (rc == 0 && k > 0)
            for (size_t i = 0; i < info.nrows; i++)
                if (ix[i] >= k || (i && (ix[i] == ix[i - 1])
                                        != (vals[c][i] == vals[c][i - 1])))
                    abort();
        if (rc != 0)
            all = 0;
        else if (info.nrows
                 && memcmp(vals[c], back, info.nrows * sizeof(int64_t)))
            abort();
    }
    if (!all)
        return;
    const int64_t *cols[CB_MAX_COLS];
    for (size_t c = 0; c < info.ncols; c++)
        cols[c] = vals[c];
    uint8_t *enc;
    size_t elen;
    if (cb_encode(cols, info.ncols, info.nrows, &enc, &elen) != 0)
        abort();
    cb_info info2;
    if (cb_decode_header(enc, elen, &info2) != 0
        || info2.nrows != info.nrows || info2.ncols != info.ncols)
        abort();
    for (size_t c = 0; c < info.ncols; c++) {
        if (cb_decode_col(enc, elen, c, back) != 0
            || (info.nrows
                && memcmp(vals[c], back, info.nrows * sizeof(int64_t))))
            abort();
    }
    free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    fix_crcs(copy, size);
    check(copy, size);
    free(copy);
    return 0;
}
