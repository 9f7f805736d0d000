/*
 * record.c -- encoding and decoding of spool records (see the RECORD and
 * EVENT sections of spool.h).  Pure functions on memory: no I/O, no
 * allocation, every multi-byte integer stored and loaded byte by byte in
 * little-endian order.  spool_record_decode is fuzzed
 * (tests/fuzz/fuzz_spool_record.c): it must never read outside buf.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* memmem; for builds without -D_GNU_SOURCE (NGINX) */
#endif

#include "spool/spool.h"
#include "spool/le.h"

#include <string.h>

#define SP_MAX_U16 65535u
#define SP_FIELD_HDR 3 /* tag (1) + length (2) */
#define SP_REQUIRED ((1u << SPOOL_F_SITE) | (1u << SPOOL_F_NAME) \
                     | (1u << SPOOL_F_URL))

/* See spool.h.  Fields 1..SPOOL_F_MAX-1 with ptr != NULL are encoded;
 * field[0] is never used. */
size_t
spool_event_size(const spool_event *ev)
{
    size_t size = SPOOL_EVENT_HDR_SIZE;

    for (int t = 1; t < SPOOL_F_MAX; t++) {
        if (ev->field[t].ptr == NULL)
            continue;
        if (ev->field[t].len > SP_MAX_U16)
            return 0;
        size += SP_FIELD_HDR + ev->field[t].len;
    }
    for (int t = SPOOL_F_SITE; t <= SPOOL_F_URL; t++)
        if (ev->field[t].ptr == NULL)
            return 0;
    return size > SP_MAX_U16 ? 0 : size;
}

/* See spool.h. */
size_t
spool_record_size(const spool_event *ev, size_t n)
{
    size_t payload = 0;

    if (n < 1 || n > SPOOL_MAX_EVENTS)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t es = spool_event_size(&ev[i]);
        if (es == 0)
            return 0;
        payload += es;
    }
    if (payload > SPOOL_MAX_PAYLOAD)
        return 0;
    return SPOOL_REC_HDR_SIZE + payload;
}

static unsigned char *
sp_encode_event(const spool_event *ev, size_t size, unsigned char *p)
{
    sp_put16(p, (uint16_t)size);
    sp_put64(p + 2, ev->time_ms);
    sp_put64(p + 10, ev->visitor_id);
    p += SPOOL_EVENT_HDR_SIZE;
    for (int t = 1; t < SPOOL_F_MAX; t++) {
        const spool_str *f = &ev->field[t];
        if (f->ptr == NULL)
            continue;
        p[0] = (unsigned char)t;
        sp_put16(p + 1, (uint16_t)f->len);
        if (f->len)
            memcpy(p + SP_FIELD_HDR, f->ptr, f->len);
        p += SP_FIELD_HDR + f->len;
    }
    return p;
}

/* See spool.h.  Fields are written in ascending tag order. */
size_t
spool_record_encode(const spool_event *ev, size_t n, unsigned char *out,
                    size_t cap)
{
    size_t total = spool_record_size(ev, n);
    unsigned char *p;

    if (total == 0 || total > cap)
        return 0;
    p = out + SPOOL_REC_HDR_SIZE;
    for (size_t i = 0; i < n; i++)
        p = sp_encode_event(&ev[i], spool_event_size(&ev[i]), p);

    memcpy(out, SPOOL_REC_MAGIC, 4);
    sp_put32(out + 4, (uint32_t)(total - SPOOL_REC_HDR_SIZE));
    sp_put16(out + 8, (uint16_t)n);
    sp_put16(out + 10, SPOOL_REC_EVENTS);
    sp_put32(out + 12, spool_crc32c(0, out + SPOOL_REC_HDR_SIZE,
                                    total - SPOOL_REC_HDR_SIZE));
    sp_put32(out + 16, spool_crc32c(0, out, 16));
    return total;
}

/* Decodes one event occupying exactly p[0..elen).  Returns NULL or the
 * reason it is malformed. */
static const char *
sp_decode_event(const unsigned char *p, size_t elen, spool_event *ev)
{
    const unsigned char *q = p + SPOOL_EVENT_HDR_SIZE, *end = p + elen;
    uint32_t seen = 0;

    memset(ev->field, 0, sizeof ev->field);
    ev->time_ms = sp_get64(p + 2);
    ev->visitor_id = sp_get64(p + 10);
    while (q < end) {
        size_t room = (size_t)(end - q), flen;
        unsigned tag;

        if (room < SP_FIELD_HDR)
            return "truncated field header";
        tag = q[0];
        flen = sp_get16(q + 1);
        if (flen > room - SP_FIELD_HDR)
            return "field overruns event";
        if (tag >= 1 && tag < SPOOL_F_MAX) {
            if (seen & (1u << tag))
                return "duplicate field";
            seen |= 1u << tag;
            ev->field[tag].ptr = (const char *)(q + SP_FIELD_HDR);
            ev->field[tag].len = flen;
        } /* else: unknown tag, skipped */
        q += SP_FIELD_HDR + flen;
    }
    if ((seen & SP_REQUIRED) != SP_REQUIRED)
        return "missing required field";
    return NULL;
}

/* Decodes the payload into exactly n events filling it. */
static const char *
sp_decode_payload(const unsigned char *p, size_t len, size_t n,
                  spool_event *ev)
{
    size_t off = 0, i = 0;

    while (off < len) {
        size_t elen;
        const char *why;

        if (i == n)
            return "more events than the count";
        if (len - off < 2)
            return "truncated event length";
        elen = sp_get16(p + off);
        if (elen < SPOOL_EVENT_HDR_SIZE)
            return "event too short";
        if (elen > len - off)
            return "event overruns payload";
        if ((why = sp_decode_event(p + off, elen, &ev[i])) != NULL)
            return why;
        off += elen;
        i++;
    }
    return i == n ? NULL : "fewer events than the count";
}

static spool_status
sp_corrupt(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return SPOOL_CORRUPT;
}

/* See spool.h.  Checks run cheapest first: magic, header CRC, limits,
 * presence of the payload, payload CRC, event structure. */
spool_status
spool_record_decode(const unsigned char *buf, size_t len, size_t *rec_len,
                    spool_event *ev, size_t *n, const char **why)
{
    size_t plen, count, total;
    const char *reason;

    *rec_len = 0;
    *n = 0;
    if (len == 0)
        return SPOOL_INCOMPLETE;
    if (memcmp(buf, SPOOL_REC_MAGIC, len < 4 ? len : 4) != 0)
        return sp_corrupt(why, "bad record magic");
    if (len < SPOOL_REC_HDR_SIZE)
        return SPOOL_INCOMPLETE;
    if (spool_crc32c(0, buf, 16) != sp_get32(buf + 16))
        return sp_corrupt(why, "bad record header checksum");
    plen = sp_get32(buf + 4);
    count = sp_get16(buf + 8);
    if (plen < 1 || plen > SPOOL_MAX_PAYLOAD)
        return sp_corrupt(why, "payload length out of range");
    if (count < 1 || count > SPOOL_MAX_EVENTS)
        return sp_corrupt(why, "event count out of range");
    if (sp_get16(buf + 10) != SPOOL_REC_EVENTS)
        return sp_corrupt(why, "unknown record type");
    total = SPOOL_REC_HDR_SIZE + plen;
    if (len < total) {
        *rec_len = total;
        return SPOOL_INCOMPLETE;
    }
    if (spool_crc32c(0, buf + SPOOL_REC_HDR_SIZE, plen) != sp_get32(buf + 12))
        return sp_corrupt(why, "bad payload checksum");
    reason = sp_decode_payload(buf + SPOOL_REC_HDR_SIZE, plen, count, ev);
    if (reason)
        return sp_corrupt(why, reason);
    *rec_len = total;
    *n = count;
    return SPOOL_OK;
}

/* See spool.h.  A prefix of the magic at the very end of buf also counts
 * as a possible start (the rest of that record is not in buf yet). */
size_t
spool_record_resync(const unsigned char *buf, size_t len)
{
    const unsigned char *hit;
    size_t tail;

    if (len <= 1)
        return len;
    hit = memmem(buf + 1, len - 1, SPOOL_REC_MAGIC, 4);
    if (hit)
        return (size_t)(hit - buf);
    /* no whole magic: look for "TLY", "TL", "T" ending the buffer */
    for (tail = 3; tail >= 1; tail--)
        if (len - 1 >= tail
            && memcmp(buf + len - tail, SPOOL_REC_MAGIC, tail) == 0)
            return len - tail;
    return len;
}
