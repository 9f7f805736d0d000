/* libFuzzer target for the segment reader (spool/reader.c) on real files:
 * what tallyd and `tallyd ship` run over every segment, including the
 * damaged ones (a flipped byte, a torn tail, garbage between records).
 *
 * Input: one flags byte, then the segment body (what follows the 32-byte
 * header, which the target writes valid).
 *   bit 0: fix the CRCs of every plausible record first (walking from the
 *          start: "TLYR" with a length that fits), so mutations reach the
 *          event decoder and the resync logic instead of dying at a CRC;
 *   bit 1: read the segment as live first (to its end), then mark it
 *          finished and go on -- the order tallyd sees a segment in;
 *   bit 2: add an unwritten tail of (flags >> 3) * 37 + 1 zero bytes after
 *          the body (a preallocating writer's, see UNWRITTEN TAIL in
 *          spool.h): no corruption may be reported inside it.
 *
 * Checks: records come back in file order, inside the file, each one
 * decoding again from the file's bytes at its offset with the same length
 * and event count; corrupt reports name the segment, lie inside the file
 * and never go backwards; every call makes progress; and once finished
 * the reader always reaches the end of the file (else tallyd could never
 * delete the segment). */
#include "spool/spool.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char name[SPOOL_NAME_MAX];
static unsigned char *file;
static size_t fsize;
static uint64_t last_report;
static size_t tail_start;
static size_t nreports;
static spool_event ev[SPOOL_MAX_EVENTS], ev2[SPOOL_MAX_EVENTS];

static void
on_corrupt(void *ctx, const char *segment, uint64_t off, const char *why)
{
    (void)ctx;
    if (strcmp(segment, name) != 0 || why == NULL || why[0] == '\0'
        || off < SPOOL_SEG_HDR_SIZE || off >= fsize
        || (nreports > 0 && off < last_report) || off >= tail_start)
        abort();
    last_report = off;
    nreports++;
}

static uint32_t
le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

static void
put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void
fix_crcs(unsigned char *b, size_t len)
{
    size_t i = 0;
    while (i + SPOOL_REC_HDR_SIZE <= len) {
        uint32_t l = le32(b + i + 4);
        if (memcmp(b + i, SPOOL_REC_MAGIC, 4) == 0 && l >= 1
            && l <= len - i - SPOOL_REC_HDR_SIZE) {
            put32(b + i + 12, spool_crc32c(0, b + i + SPOOL_REC_HDR_SIZE, l));
            put32(b + i + 16, spool_crc32c(0, b + i, 16));
            i += SPOOL_REC_HDR_SIZE + l;
        } else {
            i++;
        }
    }
}

/* Reads until spool_reader_next returns 0; checks every record. */
static void
drain(spool_reader *r, uint64_t *next)
{
    for (size_t calls = 0;; calls++) {
        size_t n = 0;
        uint64_t ro = 0, no = 0;
        int rc = spool_reader_next(r, ev, &n, &ro, &no);
        if (rc < 0 || calls > fsize)
            abort();
        if (rc == 0)
            return;
        if (ro < *next || no <= ro || no > fsize || n < 1
            || n > SPOOL_MAX_EVENTS || spool_reader_offset(r) != no)
            abort();
        size_t len = 0, n2 = 0;
        if (spool_record_decode(file + ro, fsize - ro, &len, ev2, &n2, NULL)
                != SPOOL_OK
            || len != no - ro || n2 != n)
            abort();
        *next = no;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (dir[0] == '\0') {
        strcpy(dir, "/tmp/fuzz-spool-reader-XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
        spool_segment_name(name, 1, (uint32_t)getpid());
    }
    unsigned flags = data[0];
    size_t zeros = (flags & 4) ? (size_t)(flags >> 3) * 37 + 1 : 0;
    tail_start = SPOOL_SEG_HDR_SIZE + size - 1;
    fsize = tail_start + zeros;
    free(file);
    file = calloc(1, fsize);
    if (file == NULL)
        abort();
    spool_segment_header(file, (uint32_t)getpid(), 1);
    memcpy(file + SPOOL_SEG_HDR_SIZE, data + 1, size - 1);
    if (flags & 1)
        fix_crcs(file + SPOOL_SEG_HDR_SIZE, size - 1);

    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, file, fsize) != (ssize_t)fsize)
        abort();
    close(fd);

    nreports = 0;
    last_report = 0;
    spool_reader *r = spool_reader_open(dir, name, 0, on_corrupt, NULL);
    if (r == NULL)
        abort();
    uint64_t next = SPOOL_SEG_HDR_SIZE;
    if (flags & 2)
        drain(r, &next);            /* live: stops at a torn tail */
    spool_reader_set_finished(r, 1);
    drain(r, &next);
    if (!spool_reader_at_eof(r) || spool_reader_offset(r) != fsize)
        abort();                    /* a finished segment is read to its end */
    spool_reader_close(r);
    unlink(path);
    return 0;
}
