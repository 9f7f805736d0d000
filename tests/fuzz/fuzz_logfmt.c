/*
 * fuzz_logfmt.c -- libFuzzer target for lf_compile(), lf_parse(),
 * lf_unescape() and lf_filter_check().
 *
 * The first byte picks the format: 0..4 one of the fixed formats below,
 * 5 a format given by the input itself (the bytes up to the first '\n',
 * the line is what follows).  The rest is the line.  Any line must be
 * parsed with every slice inside the line (or the parser's static "" or
 * "/"), or be rejected with a reason and a column within the line + 1;
 * any format string must compile or be refused with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/logfilter.h"
#include "aggregator/logfmt.h"

static const char *const formats[] = {
    "combined",
    "vhost_combined",
    "common",
    "main",
    "${time_iso8601} $remote_addr ${request_method} $uri?$args $status "
    "$request_time ua=\"$http_user_agent\" xff=\"$http_x_forwarded_for\" "
    "[$msec] $host:$server_port $bytes_sent|$http_host|$server_name|"
    "$request_uri|$server_protocol $unknown_var",
};
#define NFORMATS (sizeof formats / sizeof formats[0])

static void
check_slice(lf_str s, const char *line, size_t len)
{
    if (s.p == NULL)
        abort();
    if (s.n == 0)
        return;
    if (s.n == 1 && s.p[0] == '/' && !(s.p >= line && s.p < line + len))
        return;                              /* the static "/" */
    if (s.p < line || s.p + s.n > line + len)
        abort();
}

static void
run(const lf_format *f, const char *line, size_t len)
{
    lf_record r;
    char msg[128];
    int rc = lf_parse(f, line, len, &r);
    if (rc != LF_OK) {
        if (r.err == NULL || r.err_col < 1 || r.err_col > len + 1)
            abort();
        lf_strerror(&r, msg, sizeof msg);
        return;
    }
    lf_str all[] = { r.addr, r.xff, r.method, r.target, r.path, r.query,
                     r.protocol, r.referer, r.user_agent, r.host };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        check_slice(all[i], line, len);
        char *buf = malloc(all[i].n + 1);
        if (buf == NULL)
            abort();
        if (lf_unescape(all[i].p, all[i].n, buf) > all[i].n)
            abort();
        free(buf);
    }
    if (r.status != 0 && (r.status < 100 || r.status > 999))
        abort();
    lf_filter flt;
    lf_filter_init(&flt);
    if ((unsigned)lf_filter_check(&flt, &r, NULL, NULL) >= LF_SKIP_COUNT)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lf_format *fixed[NFORMATS];
    if (fixed[0] == NULL)
        for (size_t i = 0; i < NFORMATS; i++)
            if ((fixed[i] = lf_compile(formats[i], NULL, 0)) == NULL)
                abort();
    if (size < 1)
        return 0;
    unsigned sel = data[0] % (NFORMATS + 1);
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    lf_format *own = NULL;
    if (sel == NFORMATS) {
        const char *nl = memchr(rest, '\n', n);
        size_t fl = nl != NULL ? (size_t)(nl - rest) : n;
        char *fmt = malloc(fl + 1), err[200];
        if (fmt == NULL)
            abort();
        memcpy(fmt, rest, fl);
        fmt[fl] = '\0';
        err[0] = '\0';
        own = lf_compile(fmt, err, sizeof err);
        free(fmt);
        if (own == NULL) {
            if (err[0] == '\0')
                abort();
            return 0;
        }
        rest += fl + (nl != NULL);
        n -= fl + (nl != NULL);
    }
    /* an exact-size copy, so reading past the line is caught */
    char *line = malloc(n ? n : 1);
    if (line == NULL)
        abort();
    memcpy(line, rest, n);
    run(own != NULL ? own : fixed[sel], line, n);
    free(line);
    lf_free(own);
    return 0;
}
