/*
 * logread.h -- lines from access logs: a plain file, a gzip file or stdin,
 * and a plain file followed as it grows and rotates (`import --follow`).
 *
 * Lines come without their "\n" (and without a "\r" before it).  A last
 * line without "\n" is a line when the input ends (lf_reader) or when a
 * rotation ends its file (lf_follow); until then lf_follow waits for the
 * rest of it.  A line longer than LF_LINE_MAX bytes is returned once,
 * cut to its first LF_LINE_MAX bytes with too_long set (the importer
 * counts it as malformed); the rest of it is skipped.  Offsets count
 * bytes of the (decompressed) stream, every byte of every line included,
 * so `offset` of the line after the last one handled is where to resume.
 *
 * Gzip is recognised by its magic bytes (1f 8b), whatever the file is
 * called; several gzip members in a row (as `cat a.gz b.gz`) read as one
 * stream.  stdin ("-") may be plain or gzip too.
 */
#ifndef TALLY_AGG_LOGREAD_H
#define TALLY_AGG_LOGREAD_H

#include <stddef.h>
#include <stdint.h>

#define LF_LINE_MAX 65536

typedef struct {
    const char *p;         /* the line; owned by the reader, valid until
                              its next call                            */
    size_t      n;
    uint64_t    lineno;    /* 1-based, in the current file              */
    uint64_t    offset;    /* byte offset of the line's first byte      */
    uint64_t    next;      /* byte offset just after the line's "\n"    */
    int         too_long;  /* cut to LF_LINE_MAX bytes                  */
} lf_line;

/* ---- reading a whole file once ----------------------------------------- */

typedef struct lf_reader lf_reader;

/* Opens path ("-" for stdin) for reading lines.  Returns a reader the
 * caller owns and closes with lf_reader_close(), or NULL with a reason
 * in err (errlen bytes; err may be NULL). */
lf_reader *lf_reader_open(const char *path, char *err, size_t errlen);

/* Starts reading at byte `offset` of the stream, which must be the start
 * of a line (a `next` from an earlier run), numbering lines after
 * `lineno`.  Only before the first lf_reader_next().  A gzip stream or
 * stdin is decompressed or read up to offset.  Returns 0, or -1 (see
 * lf_reader_error()) when offset is past the end of the input. */
int lf_reader_seek(lf_reader *r, uint64_t offset, uint64_t lineno);

/* Reads the next line into *out.  Returns 1 (a line), 0 (end of input)
 * or -1 (read error or corrupt / truncated gzip data: lf_reader_error()
 * says which; lines read before stay valid results). */
int lf_reader_next(lf_reader *r, lf_line *out);

/* Whether the input is gzip-compressed (for stdin this looks at its
 * first bytes, which it may wait for). */
int lf_reader_is_gzip(const lf_reader *r);

/* The last error ("" if none); owned by r. */
const char *lf_reader_error(const lf_reader *r);

/* Closes r (and the file; stdin itself stays open).  NULL is allowed. */
void lf_reader_close(lf_reader *r);

/* ---- following a growing, rotating plain file ---------------------------- */

/* Where a follower is: the file (device, inode) and the offset just
 * after the last line it returned.  The importer stores it with the rows
 * of those lines and hands it back to lf_follow_open() after a restart. */
typedef struct {
    uint64_t dev, ino, offset, lineno;
} lf_follow_pos;

typedef struct lf_follow lf_follow;

/* Opens path (a plain file; gzip is refused) to follow it.  With resume
 * NULL it starts at offset 0.  With a resume position of the same file
 * (device and inode) that is not longer than the file it goes on from
 * there; otherwise the file was rotated or truncated while nobody
 * followed it, and it starts at 0 (lf_follow_restarts() counts 1).
 * Returns a follower the caller owns (lf_follow_close()), or NULL with a
 * reason in err. */
lf_follow *lf_follow_open(const char *path, const lf_follow_pos *resume,
                          char *err, size_t errlen);

/* One step, no blocking and no threads: returns 1 with the next complete
 * line in *out, 0 when there is none yet (call again later, e.g. after
 * 250 ms), -1 on a read error (lf_follow_error()).
 *
 * Rotation by rename (the path now names another inode): the old file is
 * read to its end, and once a poll has found it at its end twice in a
 * row (so lines the server still wrote to it before reopening its log
 * are not lost) its last line is returned even without "\n", it is
 * closed and the new file is read from 0.  While the path names no file
 * the old one is still read.  Rotation by copytruncate (the file is
 * shorter than what was read of it): reading starts again at 0 of the
 * same file, dropping a partial line.  Both count in lf_follow_restarts().
 * Lines numbers and offsets start again with each new file. */
int lf_follow_poll(lf_follow *f, lf_line *out);

/* The position after the last line returned (see lf_follow_pos). */
void lf_follow_position(const lf_follow *f, lf_follow_pos *out);

/* How many times reading started again at 0: rotations by rename,
 * truncations, and a resume position that no longer applied. */
uint64_t lf_follow_restarts(const lf_follow *f);

/* The last error ("" if none); owned by f. */
const char *lf_follow_error(const lf_follow *f);

/* Closes f.  NULL is allowed. */
void lf_follow_close(lf_follow *f);

#endif
