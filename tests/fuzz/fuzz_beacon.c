/*
 * fuzz_beacon.c -- libFuzzer target for tb_parse(): any bytes must either
 * be rejected with a message or give 1..SPOOL_MAX_EVENTS events within the
 * documented limits that encode into a spool record which decodes back;
 * and the verdict, the message and every event must equal those of the
 * previous jansson-based parser (tests/ngx_module/tally_beacon_ref.c), so
 * the hand-written JSON reader accepts exactly what jansson's strict mode
 * accepts.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_module/tally_beacon.h"
#include "tests/ngx_module/tally_beacon_ref.c"

static void
check_str(spool_str s, size_t max, int required)
{
    if (s.ptr == NULL) {
        if (required) {
            abort();
        }
        return;
    }
    if (s.len > max || memchr(s.ptr, '\0', s.len) != NULL) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char out[SPOOL_MAX_PAYLOAD + SPOOL_REC_HDR_SIZE];
    static spool_event   dec[SPOOL_MAX_EVENTS];
    tb_result            res;
    const char          *err = NULL;
    size_t               i, rec, n, len;

    tbref_result         ref;
    const char          *ref_err = NULL;
    int                  rc, ref_rc;

    rc = tb_parse((const char *) data, size, &res, &err);
    ref_rc = tbref_parse((const char *) data, size, &ref, &ref_err);

    if (rc != ref_rc || (rc != 0 && strcmp(err, ref_err) != 0)
        || (rc == 0 && res.n != ref.n))
    {
        abort();                        /* differs from the reference */
    }

    for (i = 0; rc == 0 && i < res.n; i++) {
        size_t f;
        for (f = 1; f < SPOOL_F_MAX; f++) {
            spool_str a = res.ev[i].field[f], b = ref.ev[i].field[f];
            if ((a.ptr == NULL) != (b.ptr == NULL)
                || (a.ptr != NULL && (a.len != b.len
                                      || memcmp(a.ptr, b.ptr, a.len) != 0)))
            {
                abort();
            }
        }
    }
    tbref_result_free(&ref);

    if (rc != 0) {
        if (err == NULL || err[0] == '\0' || strchr(err, '"') != NULL
            || res.n != 0 || res.ev != NULL)
        {
            abort();
        }
        tb_result_free(&res);
        return 0;
    }

    if (res.n == 0 || res.n > SPOOL_MAX_EVENTS) {
        abort();
    }

    for (i = 0; i < res.n; i++) {
        spool_event *ev = &res.ev[i];
        size_t j;

        check_str(ev->field[SPOOL_F_SITE], TB_MAX_DOMAIN, 1);
        check_str(ev->field[SPOOL_F_NAME], TB_MAX_NAME, 1);
        check_str(ev->field[SPOOL_F_URL], TB_MAX_URL, 1);
        check_str(ev->field[SPOOL_F_REFERRER], TB_MAX_REFERRER, 0);
        check_str(ev->field[SPOOL_F_PROPS], 65535, 0);
        check_str(ev->field[SPOOL_F_REVENUE], 128, 0);
        for (j = 0; j < ev->field[SPOOL_F_SITE].len; j++) {
            char c = ev->field[SPOOL_F_SITE].ptr[j];
            if ((c >= 'A' && c <= 'Z') || c == ',' || c == ' ') {
                abort();
            }
        }
        if (ev->field[SPOOL_F_PROPS].ptr != NULL
            && (ev->field[SPOOL_F_PROPS].ptr[0] != '{'
                || ev->field[SPOOL_F_PROPS].ptr[ev->field[SPOOL_F_PROPS].len
                                                - 1] != '}'))
        {
            abort();
        }
        ev->time_ms = i;
        ev->visitor_id = i;
    }

    len = spool_record_size(res.ev, res.n);
    if (len != 0) {
        if (spool_record_encode(res.ev, res.n, out, sizeof(out)) != len
            || spool_record_decode(out, len, &rec, dec, &n, NULL) != SPOOL_OK
            || rec != len || n != res.n)
        {
            abort();
        }
    }

    tb_result_free(&res);
    return 0;
}
