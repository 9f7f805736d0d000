/* Tests for spool/record.c: encode/decode round trips, the validity rules
 * of spool.h (VALIDITY), limits, truncation, bit flips and resync. */
#include "spool/spool.h"
#include "tests/check.h"

#include <stdlib.h>

static void
set_field(spool_event *ev, int tag, const char *s)
{
    ev->field[tag].ptr = s;
    ev->field[tag].len = s ? strlen(s) : 0;
}

static void
make_event(spool_event *ev, uint64_t t, const char *site, const char *name,
           const char *url)
{
    memset(ev, 0, sizeof *ev);
    ev->time_ms = t;
    ev->visitor_id = 0x0123456789ABCDEFull ^ t;
    set_field(ev, SPOOL_F_SITE, site);
    set_field(ev, SPOOL_F_NAME, name);
    set_field(ev, SPOOL_F_URL, url);
}

static void
put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
    put16(p, v & 0xFFFF);
    put16(p + 2, v >> 16);
}

/* Builds a record around a raw payload with correct checksums, so tests
 * can feed the decoder payloads the encoder would never produce. */
static size_t
wrap(const unsigned char *payload, size_t plen, unsigned n, unsigned type,
     unsigned char *out)
{
    memcpy(out, SPOOL_REC_MAGIC, 4);
    put32(out + 4, (uint32_t)plen);
    put16(out + 8, n);
    put16(out + 10, type);
    put32(out + 12, spool_crc32c(0, payload, plen));
    put32(out + 16, spool_crc32c(0, out, 16));
    if (payload != out + SPOOL_REC_HDR_SIZE) /* else already in place */
        memcpy(out + SPOOL_REC_HDR_SIZE, payload, plen);
    return SPOOL_REC_HDR_SIZE + plen;
}

/* Appends one raw field to an event under construction. */
static size_t
raw_field(unsigned char *p, size_t off, unsigned tag, const char *v)
{
    size_t len = strlen(v);
    p[off] = (unsigned char)tag;
    put16(p + off + 1, (unsigned)len);
    memcpy(p + off + 3, v, len);
    return off + 3 + len;
}

/* Starts a raw event (header only); finish with raw_end. */
static size_t
raw_begin(unsigned char *p, uint64_t t, uint64_t vid)
{
    for (int i = 0; i < 8; i++) {
        p[2 + i] = (unsigned char)(t >> (8 * i));
        p[10 + i] = (unsigned char)(vid >> (8 * i));
    }
    return SPOOL_EVENT_HDR_SIZE;
}

static void
raw_end(unsigned char *p, size_t len)
{
    put16(p, (unsigned)len);
}

static spool_status
decode(const unsigned char *buf, size_t len, spool_event *ev, size_t *n,
       const char **why)
{
    size_t rl;
    *why = NULL;
    return spool_record_decode(buf, len, &rl, ev, n, why);
}

static void
test_roundtrip_all_fields(void)
{
    spool_event in[2], out[SPOOL_MAX_EVENTS];
    unsigned char buf[2048];
    size_t len, rl, n;

    make_event(&in[0], 1700000000123ull, "example.com", "pageview",
               "https://example.com/a?b=c");
    set_field(&in[0], SPOOL_F_REFERRER, "https://news.ycombinator.com/");
    set_field(&in[0], SPOOL_F_UA, "Mozilla/5.0 (X11; Linux x86_64)");
    set_field(&in[0], SPOOL_F_PROPS, "{\"plan\":\"pro\"}");
    set_field(&in[0], SPOOL_F_REVENUE, "{\"currency\":\"EUR\",\"amount\":9}");
    set_field(&in[0], SPOOL_F_COUNTRY, "DE");
    set_field(&in[0], SPOOL_F_INTERACTIVE, "0");
    make_event(&in[1], UINT64_MAX, "b.example", "Signup", "/x");
    in[1].visitor_id = 0;

    len = spool_record_encode(in, 2, buf, sizeof buf);
    CHECK(len > SPOOL_REC_HDR_SIZE);
    CHECK_EQ_U64(len, spool_record_size(in, 2));
    CHECK_EQ_U64(len, SPOOL_REC_HDR_SIZE + spool_event_size(&in[0])
                          + spool_event_size(&in[1]));
    CHECK(memcmp(buf, "TLYR", 4) == 0);
    CHECK_EQ_U64(spool_record_decode(buf, len, &rl, out, &n, NULL),
                 SPOOL_OK);
    CHECK_EQ_U64(rl, len);
    CHECK_EQ_U64(n, 2);
    for (size_t i = 0; i < 2; i++) {
        CHECK_EQ_U64(out[i].time_ms, in[i].time_ms);
        CHECK_EQ_U64(out[i].visitor_id, in[i].visitor_id);
        for (int t = 0; t < SPOOL_F_MAX; t++) {
            CHECK((out[i].field[t].ptr == NULL)
                  == (in[i].field[t].ptr == NULL));
            if (in[i].field[t].ptr) {
                CHECK_EQ_U64(out[i].field[t].len, in[i].field[t].len);
                CHECK(memcmp(out[i].field[t].ptr, in[i].field[t].ptr,
                             in[i].field[t].len) == 0);
                /* values point into the record buffer */
                CHECK((const unsigned char *)out[i].field[t].ptr >= buf
                      && (const unsigned char *)out[i].field[t].ptr
                             <= buf + len);
            }
        }
    }
    CHECK_MEM(out[0].field[SPOOL_F_COUNTRY].ptr,
              out[0].field[SPOOL_F_COUNTRY].len, "DE");
    /* decoding with trailing bytes after the record still works */
    memset(buf + len, 'x', 10);
    CHECK_EQ_U64(spool_record_decode(buf, len + 10, &rl, out, &n, NULL),
                 SPOOL_OK);
    CHECK_EQ_U64(rl, len);
}

static void
test_roundtrip_optional_absent(void)
{
    spool_event in, out[SPOOL_MAX_EVENTS];
    unsigned char buf[512];
    size_t len, n;
    const char *why;

    make_event(&in, 42, "s.example", "pageview", "/");
    len = spool_record_encode(&in, 1, buf, sizeof buf);
    CHECK_EQ_U64(len, SPOOL_REC_HDR_SIZE + SPOOL_EVENT_HDR_SIZE + 3 * 3
                          + strlen("s.example") + strlen("pageview") + 1);
    CHECK_EQ_U64(decode(buf, len, out, &n, &why), SPOOL_OK);
    CHECK_EQ_U64(n, 1);
    CHECK_MEM(out[0].field[SPOOL_F_SITE].ptr, out[0].field[SPOOL_F_SITE].len,
              "s.example");
    CHECK_MEM(out[0].field[SPOOL_F_URL].ptr, out[0].field[SPOOL_F_URL].len,
              "/");
    for (int t = SPOOL_F_REFERRER; t < SPOOL_F_MAX; t++)
        CHECK(out[0].field[t].ptr == NULL);
    CHECK(out[0].field[0].ptr == NULL);

    /* a present but empty value stays present */
    set_field(&in, SPOOL_F_REFERRER, "");
    len = spool_record_encode(&in, 1, buf, sizeof buf);
    CHECK_EQ_U64(decode(buf, len, out, &n, &why), SPOOL_OK);
    CHECK(out[0].field[SPOOL_F_REFERRER].ptr != NULL);
    CHECK_EQ_U64(out[0].field[SPOOL_F_REFERRER].len, 0);
}

static void
test_unknown_tags_skipped_any_order(void)
{
    unsigned char ev[256], rec[512];
    spool_event out[SPOOL_MAX_EVENTS];
    size_t off, n, len;
    const char *why;

    off = raw_begin(ev, 99, 7);
    off = raw_field(ev, off, 200, "future field");
    off = raw_field(ev, off, SPOOL_F_URL, "/p");
    off = raw_field(ev, off, 0, "tag zero");
    off = raw_field(ev, off, SPOOL_F_NAME, "pageview");
    off = raw_field(ev, off, 200, "twice is fine for unknown tags");
    off = raw_field(ev, off, SPOOL_F_SITE, "a.example");
    raw_end(ev, off);
    len = wrap(ev, off, 1, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_OK);
    CHECK_EQ_U64(n, 1);
    CHECK_EQ_U64(out[0].time_ms, 99);
    CHECK_EQ_U64(out[0].visitor_id, 7);
    CHECK_MEM(out[0].field[SPOOL_F_SITE].ptr, out[0].field[SPOOL_F_SITE].len,
              "a.example");
    CHECK_MEM(out[0].field[SPOOL_F_NAME].ptr, out[0].field[SPOOL_F_NAME].len,
              "pageview");
    CHECK(out[0].field[0].ptr == NULL);
    CHECK(out[0].field[SPOOL_F_UA].ptr == NULL);
}

/* Payloads that are well framed (right CRCs) but break the event rules. */
static void
test_malformed_payloads(void)
{
    unsigned char ev[512], rec[1024];
    spool_event out[SPOOL_MAX_EVENTS];
    size_t off, n, len, one;
    const char *why;

    /* duplicate known tag */
    off = raw_begin(ev, 1, 1);
    off = raw_field(ev, off, SPOOL_F_SITE, "a");
    off = raw_field(ev, off, SPOOL_F_NAME, "n");
    off = raw_field(ev, off, SPOOL_F_URL, "u");
    off = raw_field(ev, off, SPOOL_F_SITE, "b");
    raw_end(ev, off);
    len = wrap(ev, off, 1, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    CHECK_STR(why, "duplicate field");

    /* each required field missing in turn */
    for (int miss = SPOOL_F_SITE; miss <= SPOOL_F_URL; miss++) {
        off = raw_begin(ev, 1, 1);
        for (int t = SPOOL_F_SITE; t <= SPOOL_F_UA; t++)
            if (t != miss)
                off = raw_field(ev, off, (unsigned)t, "v");
        raw_end(ev, off);
        len = wrap(ev, off, 1, SPOOL_REC_EVENTS, rec);
        CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
        CHECK_STR(why, "missing required field");
    }

    /* a valid one-event payload, then variations on it */
    off = raw_begin(ev, 1, 1);
    off = raw_field(ev, off, SPOOL_F_SITE, "a");
    off = raw_field(ev, off, SPOOL_F_NAME, "n");
    off = raw_field(ev, off, SPOOL_F_URL, "u");
    raw_end(ev, off);
    one = off;
    len = wrap(ev, one, 1, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_OK);

    /* E one byte longer than its fields: a field header is cut */
    raw_end(ev, one + 1);
    ev[one] = 0;
    len = wrap(ev, one + 1, 1, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    CHECK_STR(why, "truncated field header");
    /* E shorter than its fields: the last field overruns the event */
    raw_end(ev, one - 1);
    len = wrap(ev, one, 1, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    /* E past the payload */
    raw_end(ev, one + 5);
    len = wrap(ev, one, 1, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    CHECK_STR(why, "event overruns payload");
    /* E below the event header size */
    raw_end(ev, SPOOL_EVENT_HDR_SIZE - 1);
    len = wrap(ev, one, 1, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    CHECK_STR(why, "event too short");
    raw_end(ev, one);

    /* N says 2, payload holds 1 */
    len = wrap(ev, one, 2, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    CHECK_STR(why, "fewer events than the count");
    /* N says 1, payload holds 2 */
    memcpy(ev + one, ev, one);
    len = wrap(ev, 2 * one, 1, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    CHECK_STR(why, "more events than the count");
    len = wrap(ev, 2 * one, 2, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_OK);
    CHECK_EQ_U64(n, 2);
    /* one stray byte after the last event */
    ev[2 * one] = 0x12;
    len = wrap(ev, 2 * one + 1, 2, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
}

static void
test_header_limits(void)
{
    unsigned char ev[256], rec[512];
    spool_event out[SPOOL_MAX_EVENTS];
    size_t off, n, len, rl;
    const char *why;

    off = raw_begin(ev, 1, 1);
    off = raw_field(ev, off, SPOOL_F_SITE, "a");
    off = raw_field(ev, off, SPOOL_F_NAME, "n");
    off = raw_field(ev, off, SPOOL_F_URL, "u");
    raw_end(ev, off);

    len = wrap(ev, off, 0, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    CHECK_STR(why, "event count out of range");
    len = wrap(ev, off, SPOOL_MAX_EVENTS + 1, SPOOL_REC_EVENTS, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    CHECK_STR(why, "event count out of range");
    len = wrap(ev, off, 1, 2, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    CHECK_STR(why, "unknown record type");
    len = wrap(ev, off, 1, 0, rec);
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);

    /* L = 0 and L > max, with a valid header checksum: corrupt at once,
     * not "incomplete" */
    wrap(ev, off, 1, SPOOL_REC_EVENTS, rec);
    put32(rec + 4, 0);
    put32(rec + 16, spool_crc32c(0, rec, 16));
    CHECK_EQ_U64(decode(rec, SPOOL_REC_HDR_SIZE, out, &n, &why),
                 SPOOL_CORRUPT);
    CHECK_STR(why, "payload length out of range");
    put32(rec + 4, SPOOL_MAX_PAYLOAD + 1);
    put32(rec + 16, spool_crc32c(0, rec, 16));
    CHECK_EQ_U64(decode(rec, SPOOL_REC_HDR_SIZE, out, &n, &why),
                 SPOOL_CORRUPT);
    CHECK_STR(why, "payload length out of range");
    /* L = max with only the header present: incomplete, size known */
    put32(rec + 4, SPOOL_MAX_PAYLOAD);
    put32(rec + 16, spool_crc32c(0, rec, 16));
    CHECK_EQ_U64(spool_record_decode(rec, SPOOL_REC_HDR_SIZE, &rl, out, &n,
                                     NULL),
                 SPOOL_INCOMPLETE);
    CHECK_EQ_U64(rl, SPOOL_REC_HDR_SIZE + SPOOL_MAX_PAYLOAD);
    /* payload checksum */
    len = wrap(ev, off, 1, SPOOL_REC_EVENTS, rec);
    put32(rec + 12, 0);
    put32(rec + 16, spool_crc32c(0, rec, 16));
    CHECK_EQ_U64(decode(rec, len, out, &n, &why), SPOOL_CORRUPT);
    CHECK_STR(why, "bad payload checksum");
}

static void
test_encode_limits(void)
{
    spool_event ev[SPOOL_MAX_EVENTS + 1], out[SPOOL_MAX_EVENTS];
    unsigned char small[64];
    size_t n, rl;
    char *big = malloc(70000);
    unsigned char *buf = malloc(2 * SPOOL_MAX_PAYLOAD);

    memset(big, 'a', 70000);
    for (int i = 0; i <= SPOOL_MAX_EVENTS; i++)
        make_event(&ev[i], (uint64_t)i, "s", "n", "u");
    CHECK_EQ_U64(spool_record_size(ev, 0), 0);
    CHECK(spool_record_size(ev, SPOOL_MAX_EVENTS) > 0);
    CHECK_EQ_U64(spool_record_size(ev, SPOOL_MAX_EVENTS + 1), 0);
    CHECK_EQ_U64(spool_record_encode(ev, SPOOL_MAX_EVENTS + 1, buf,
                                     2 * SPOOL_MAX_PAYLOAD), 0);
    /* 100 events is fine and decodes */
    size_t len = spool_record_encode(ev, SPOOL_MAX_EVENTS, buf,
                                     2 * SPOOL_MAX_PAYLOAD);
    CHECK(len > 0);
    CHECK_EQ_U64(spool_record_decode(buf, len, &rl, out, &n, NULL), SPOOL_OK);
    CHECK_EQ_U64(n, SPOOL_MAX_EVENTS);
    CHECK_EQ_U64(out[99].time_ms, 99);

    /* does not fit the buffer */
    CHECK_EQ_U64(spool_record_encode(ev, 1, small, 20), 0);
    CHECK_EQ_U64(spool_record_encode(ev, 1, small, spool_record_size(ev, 1)
                                                       - 1), 0);
    CHECK(spool_record_encode(ev, 1, small, spool_record_size(ev, 1)) > 0);

    /* missing required field: unencodable */
    ev[0].field[SPOOL_F_URL].ptr = NULL;
    CHECK_EQ_U64(spool_event_size(&ev[0]), 0);
    CHECK_EQ_U64(spool_record_size(ev, 2), 0);
    make_event(&ev[0], 0, "s", "n", "u");

    /* field limits: 65535 - header - others fits exactly, one more not */
    size_t room = 65535 - SPOOL_EVENT_HDR_SIZE - 3 * 4 - 3;
    ev[0].field[SPOOL_F_UA].ptr = big;
    ev[0].field[SPOOL_F_UA].len = room;
    CHECK_EQ_U64(spool_event_size(&ev[0]), 65535);
    ev[0].field[SPOOL_F_UA].len = room + 1;
    CHECK_EQ_U64(spool_event_size(&ev[0]), 0);
    ev[0].field[SPOOL_F_UA].len = 65536;
    CHECK_EQ_U64(spool_event_size(&ev[0]), 0);

    /* payload limit: 16 max-size events fit in 1 MiB, 17 do not */
    for (int i = 0; i < 17; i++) {
        ev[i].field[SPOOL_F_UA].ptr = big;
        ev[i].field[SPOOL_F_UA].len = room;
    }
    len = spool_record_encode(ev, 16, buf, 2 * SPOOL_MAX_PAYLOAD);
    CHECK_EQ_U64(len, SPOOL_REC_HDR_SIZE + 16 * 65535);
    CHECK_EQ_U64(spool_record_decode(buf, len, &rl, out, &n, NULL), SPOOL_OK);
    CHECK_EQ_U64(n, 16);
    CHECK_EQ_U64(out[15].field[SPOOL_F_UA].len, room);
    CHECK_EQ_U64(spool_record_size(ev, 17), 0);
    free(big);
    free(buf);
}

static size_t
sample_record(unsigned char *buf, size_t cap)
{
    spool_event ev[3];

    make_event(&ev[0], 1000, "example.com", "pageview", "https://e.com/");
    set_field(&ev[0], SPOOL_F_UA, "curl/8");
    make_event(&ev[1], 2000, "example.com", "Signup", "https://e.com/s");
    set_field(&ev[1], SPOOL_F_PROPS, "{\"k\":\"v\"}");
    make_event(&ev[2], 3000, "other.org", "pageview", "/");
    return spool_record_encode(ev, 3, buf, cap);
}

static void
test_every_truncation_incomplete(void)
{
    unsigned char buf[1024];
    spool_event out[SPOOL_MAX_EVENTS];
    size_t len = sample_record(buf, sizeof buf), rl, n;

    CHECK(len > 0);
    for (size_t cut = 0; cut < len; cut++) {
        /* copy to an exact-size heap block so ASan catches over-reads */
        unsigned char *p = malloc(cut ? cut : 1);
        memcpy(p, buf, cut);
        spool_status st = spool_record_decode(p, cut, &rl, out, &n, NULL);
        CHECK_EQ_U64(st, SPOOL_INCOMPLETE);
        CHECK_EQ_U64(rl, cut < SPOOL_REC_HDR_SIZE ? 0 : len);
        free(p);
    }
    /* a prefix that is not a prefix of the magic is corrupt at once */
    CHECK_EQ_U64(spool_record_decode((const unsigned char *)"TLX", 3, &rl, out,
                                     &n, NULL),
                 SPOOL_CORRUPT);
}

static void
test_every_bit_flip_rejected(void)
{
    unsigned char buf[1024], *p;
    spool_event out[SPOOL_MAX_EVENTS];
    size_t len = sample_record(buf, sizeof buf), rl, n;
    int bad = 0;

    p = malloc(len);
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(p, buf, len);
        p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (spool_record_decode(p, len, &rl, out, &n, NULL) != SPOOL_CORRUPT)
            bad++;
    }
    CHECK_EQ_U64(bad, 0);
    free(p);
}

static void
test_resync(void)
{
    unsigned char buf[4096], rec[1024];
    spool_event out[SPOOL_MAX_EVENTS];
    size_t len = sample_record(rec, sizeof rec), rl, n, pos;

    /* garbage, then a false magic, then a real record */
    memset(buf, 0xAA, 100);
    memcpy(buf + 40, "TLYRjunkjunkjunkjunkjunk", 24);
    memcpy(buf + 100, rec, len);
    pos = spool_record_resync(buf, 100 + len);
    CHECK_EQ_U64(pos, 40);
    CHECK_EQ_U64(spool_record_decode(buf + pos, 100 + len - pos, &rl, out, &n,
                                     NULL),
                 SPOOL_CORRUPT);
    pos += spool_record_resync(buf + pos, 100 + len - pos);
    CHECK_EQ_U64(pos, 100);
    CHECK_EQ_U64(spool_record_decode(buf + pos, len, &rl, out, &n, NULL),
                 SPOOL_OK);
    /* position 0 never counts */
    CHECK_EQ_U64(spool_record_resync(rec, len), len);
    CHECK_EQ_U64(spool_record_resync(rec, 0), 0);
    CHECK_EQ_U64(spool_record_resync(rec, 1), 1);
    /* a magic prefix ending the buffer is a possible start */
    memset(buf, 0, 16);
    memcpy(buf + 14, "TL", 2);
    CHECK_EQ_U64(spool_record_resync(buf, 16), 14);
    memcpy(buf + 13, "TLY", 3);
    CHECK_EQ_U64(spool_record_resync(buf, 16), 13);
    buf[15] = 'T';
    CHECK_EQ_U64(spool_record_resync(buf, 16), 15);
    buf[15] = 'X';
    CHECK_EQ_U64(spool_record_resync(buf, 16), 16);
}

/* Random bytes (mostly with a valid header) never crash or validate. */
static void
test_random_garbage(void)
{
    unsigned char *p = malloc(600);
    spool_event out[SPOOL_MAX_EVENTS];
    size_t rl, n, ok = 0;
    uint32_t seed = 99;

    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 20 + (size_t)(iter % 580);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1664525u + 1013904223u;
            p[i] = (unsigned char)(seed >> 24);
        }
        if (iter % 2 == 0)
            wrap(p + SPOOL_REC_HDR_SIZE, len - SPOOL_REC_HDR_SIZE,
                 1 + (unsigned)(iter % 3), SPOOL_REC_EVENTS, p);
        if (spool_record_decode(p, len, &rl, out, &n, NULL) == SPOOL_OK)
            ok++;
    }
    CHECK_EQ_U64(ok, 0);
    free(p);
}

int
main(void)
{
    RUN(test_roundtrip_all_fields);
    RUN(test_roundtrip_optional_absent);
    RUN(test_unknown_tags_skipped_any_order);
    RUN(test_malformed_payloads);
    RUN(test_header_limits);
    RUN(test_encode_limits);
    RUN(test_every_truncation_incomplete);
    RUN(test_every_bit_flip_rejected);
    RUN(test_resync);
    RUN(test_random_garbage);
    return check_summary("spool/record");
}
