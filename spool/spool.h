/*
 * spool.h -- the Tally spool: the one on-disk format shared by the NGINX
 * module (writer) and tallyd (reader).  One implementation, used by both.
 *
 * DIRECTORY
 *
 *   A spool is a directory of segment files.  Every writing process owns its
 *   own segments; nobody else appends to them.  A segment is named
 *
 *       seg-<created_us:016x>-<pid:08x>.tsp
 *
 *   where created_us is the creation time in microseconds since the Unix
 *   epoch (hex, zero padded) and pid the writer's process id.  Sorting names
 *   as byte strings therefore orders segments by creation time; one writer's
 *   segments are totally ordered.  A segment is "finished" when its writer
 *   has closed it for good: the writer then renames nothing, it creates an
 *   empty marker "<segment name>.done" (see spool_segment_finish()).  A
 *   segment is also finished when a newer segment of the same pid exists,
 *   or when its writer process no longer exists (killed before it could
 *   write the marker); spool_segment_is_finished() applies these rules.  A
 *   reader may delete a finished segment (and its marker) once it has
 *   consumed it entirely.
 *   Files whose names do not match are ignored by readers.
 *
 * SEGMENT HEADER (32 bytes, all integers little-endian)
 *
 *   0   8   magic "TALLYSP1"
 *   8   4   format version (1)
 *   12  4   writer pid
 *   16  8   created_us (same value as in the name)
 *   24  4   reserved, zero
 *   28  4   CRC-32C of bytes 0..27
 *
 *   A segment shorter than 32 bytes, or whose header checksum does not
 *   match, holds no records yet (a writer crashed while creating it, or is
 *   creating it now).
 *
 * RECORD (follows the header, records are back to back, no padding)
 *
 *   0   4   record magic "TLYR"
 *   4   4   payload length L, 1 <= L <= SPOOL_MAX_PAYLOAD
 *   8   2   event count N, 1 <= N <= SPOOL_MAX_EVENTS
 *   10  2   record type, SPOOL_REC_EVENTS (1)
 *   12  4   CRC-32C (Castagnoli) of the L payload bytes
 *   16  4   CRC-32C of bytes 0..15 of this record header
 *   20  L   payload: N events back to back
 *
 *   The header has its own checksum so that a damaged length is recognised
 *   as corruption at once instead of looking like a record still being
 *   written.
 *
 *   A record is the unit of atomicity: a batch of events accepted together
 *   is one record, written with one write().  A reader sees all of its
 *   events or none.
 *
 * EVENT (inside a payload)
 *
 *   0   2   event length E (bytes, including these 2), 18 <= E
 *   2   8   receive time, milliseconds since the Unix epoch (UTC)
 *   10  8   visitor id (64-bit keyed hash, see visitor/visitor.h)
 *   18  ..  fields, each: tag (1 byte), length (2 bytes), value (length
 *           bytes).  Values are UTF-8 text unless said otherwise.  Tags may
 *           come in any order, each at most once; unknown tags are skipped
 *           (that is how the format grows without a version bump).  The
 *           fields must exactly fill E.
 *
 *   Tags: see enum spool_field.  Required: SITE, NAME, URL (present means
 *   the field is there; an empty value is still present).  Tags
 *   1..SPOOL_F_MAX-1 are decoded into spool_event.field[] and may appear
 *   only once; tag 0 and tags >= SPOOL_F_MAX are skipped (a repeat of those
 *   is not checked).  The encoder writes fields in ascending tag order.
 *
 * VALIDITY
 *
 *   A record at offset O of a segment is valid when: the 20 header bytes and
 *   L payload bytes lie inside the file, the magic, header CRC and payload
 *   CRC match, L, N and the type are within limits, and the payload decodes
 *   into exactly N well-formed events.
 *
 *   - If the file ends inside the 20 header bytes, or the header is valid
 *     and the file ends before O+20+L ("torn tail"), the record is
 *     incomplete.  In a live segment this is where the writer is or was
 *     interrupted: the reader stops there and tries again later.  In a
 *     finished segment it is reported as a torn tail and the segment ends.
 *   - Otherwise an invalid record is corrupt.  The reader reports it with its
 *     file name and offset, then scans forward for the next offset holding
 *     the record magic followed by a valid record, and resumes there.
 *
 *   A corrupt stretch is reported once, at the offset where it starts,
 *   however many false record magics it holds.
 *
 *   Records never straddle segments.  A writer that fails to write a whole
 *   record never acknowledges it; it truncates back to the record's start
 *   when it can, and otherwise abandons the segment and starts a new one.
 *
 * UNWRITTEN TAIL
 *
 *   A writer may extend its live segment with zero bytes ahead of its
 *   records (spool_segment_preallocate) and then write records over them
 *   in place (spool_segment_write_at).  Overwriting blocks the file already
 *   has lets fdatasync() flush the data alone, without the inode update
 *   (new size, new blocks) that every append needs: the NGINX module does
 *   it with tally_sync always.  So a zero byte where the next record's
 *   magic would start means "not written yet", never corruption:
 *
 *   - in a live segment the reader stops there and tries again later, as
 *     at a torn tail;
 *   - in a finished segment the records end there when every byte from
 *     there to the end of the file is zero (the writer died before it
 *     trimmed its tail): the reader skips to the end of the file without a
 *     report.  Zeros followed by anything else are corrupt as before.
 *
 *   A writer trims the zero tail (ftruncate) before it marks the segment
 *   finished, so a cleanly finished segment has none.  While a segment is
 *   live, its file size counts the zero tail too (at most the writer's
 *   preallocation step).  spool_segment_write_at writes a batch's first
 *   record header last, so a reader that sees it also sees the rest of
 *   the batch.
 */

#ifndef TALLY_SPOOL_H
#define TALLY_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_SEG_MAGIC      "TALLYSP1"
#define SPOOL_SEG_VERSION    1
#define SPOOL_SEG_HDR_SIZE   32
#define SPOOL_REC_MAGIC      "TLYR"
#define SPOOL_REC_HDR_SIZE   20
#define SPOOL_REC_EVENTS     1
#define SPOOL_MAX_PAYLOAD    (1024 * 1024)
#define SPOOL_MAX_EVENTS     100
#define SPOOL_EVENT_HDR_SIZE 18
#define SPOOL_NAME_MAX       64     /* room for a segment file name + NUL */

enum spool_field {
    SPOOL_F_SITE = 1,      /* site domain, lower case                  */
    SPOOL_F_NAME = 2,      /* event name, "pageview" for pageviews     */
    SPOOL_F_URL = 3,       /* page URL as sent                         */
    SPOOL_F_REFERRER = 4,  /* referrer URL as sent, may be absent      */
    SPOOL_F_UA = 5,        /* User-Agent header                        */
    SPOOL_F_PROPS = 6,     /* JSON object text of custom properties    */
    SPOOL_F_REVENUE = 7,   /* JSON object text {"currency","amount"}   */
    SPOOL_F_COUNTRY = 8,   /* ISO 3166-1 alpha-2, upper case           */
    SPOOL_F_INTERACTIVE = 9, /* "0" when the event is non-interactive  */
    SPOOL_F_MAX = 32
};

/* A field value inside a decoded event.  ptr points into the buffer the
 * event was decoded from (not NUL terminated); ptr is NULL when absent. */
typedef struct {
    const char *ptr;
    size_t      len;
} spool_str;

/* One event.  For encoding, the caller fills it (absent fields have
 * ptr == NULL).  For decoding, spool_record_decode fills it with pointers
 * into the record buffer, which must outlive it. */
typedef struct {
    uint64_t  time_ms;
    uint64_t  visitor_id;
    spool_str field[SPOOL_F_MAX];   /* indexed by enum spool_field */
} spool_event;

/* ---- checksums (spool/crc32c.c) ---- */

/* CRC-32C (Castagnoli, reflected, init and final xor 0xFFFFFFFF) of buf.
 * crc is the value returned by a previous call (0 to start), so
 * crc32c(crc32c(0,a,n),b,m) == crc32c(0,ab,n+m). */
uint32_t spool_crc32c(uint32_t crc, const void *buf, size_t len);

/* Same result as spool_crc32c, always with the portable slice-by-8 code
 * (spool_crc32c uses the SSE4.2 instruction when the CPU has it).  For
 * tests and benchmarks. */
uint32_t spool_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* ---- records (spool/record.c): pure functions on memory, no I/O ---- */

/* Bytes one encoded event takes, or 0 if a field is longer than 65535,
 * the event would exceed 65535 bytes, or a required field (SITE, NAME,
 * URL) is absent -- so the encoder never writes a record the decoder would
 * call corrupt.  Fields with ptr == NULL are absent; field[0] is ignored. */
size_t spool_event_size(const spool_event *ev);

/* Bytes a record holding these n events takes (header included), or 0 if
 * any event is unencodable, n is out of 1..SPOOL_MAX_EVENTS or the payload
 * exceeds SPOOL_MAX_PAYLOAD. */
size_t spool_record_size(const spool_event *ev, size_t n);

/* Encodes n events as one record into out (capacity cap).  Returns the
 * number of bytes written (== spool_record_size) or 0 if it does not fit or
 * is unencodable.  The caller owns out. */
size_t spool_record_encode(const spool_event *ev, size_t n,
                           unsigned char *out, size_t cap);

typedef enum {
    SPOOL_OK = 0,         /* a valid record                         */
    SPOOL_INCOMPLETE = 1, /* buffer ends inside the record (torn)   */
    SPOOL_CORRUPT = 2     /* bytes present but not a valid record   */
} spool_status;

/* Decodes the record at the start of buf (len bytes available).
 * On SPOOL_OK: *rec_len is the record's total size, *n the event count and
 * ev[0..n-1] point into buf (ev must have room for SPOOL_MAX_EVENTS).
 * On SPOOL_INCOMPLETE: *rec_len is the total size needed if the header was
 * readable, else 0.  On SPOOL_CORRUPT nothing useful is returned; *why (if
 * not NULL) is set to a static string naming the reason. */
spool_status spool_record_decode(const unsigned char *buf, size_t len,
                                 size_t *rec_len, spool_event *ev, size_t *n,
                                 const char **why);

/* Returns the offset of the next position > 0 in buf where the record magic
 * starts, or len if there is none.  Used to resynchronise after corruption.
 * A prefix of the magic ending buf ("T", "TL", "TLY") counts as a start,
 * since the rest of it may simply not have been read yet. */
size_t spool_record_resync(const unsigned char *buf, size_t len);

/* ---- segments (spool/segment.c): files ---- */

/* Fills the 32-byte segment header. */
void spool_segment_header(unsigned char hdr[SPOOL_SEG_HDR_SIZE],
                          uint32_t pid, uint64_t created_us);

/* Checks a segment header; returns 0 if valid and sets *pid and *created_us
 * (either may be NULL), -1 otherwise. */
int spool_segment_header_check(const unsigned char *hdr, size_t len,
                               uint32_t *pid, uint64_t *created_us);

/* Writes the segment file name for (created_us, pid) into name
 * (SPOOL_NAME_MAX bytes). */
void spool_segment_name(char *name, uint64_t created_us, uint32_t pid);

/* Returns 1 if name is a segment file name (not a .done marker), else 0. */
int spool_segment_name_valid(const char *name);

/* Parses a segment file name into (created_us, pid) (either may be NULL).
 * Returns 0, or -1 if name is not a segment file name. */
int spool_segment_name_parse(const char *name, uint64_t *created_us,
                             uint32_t *pid);

/* Creates a new segment in dir: opens "<dir>/<name>" with O_CREAT|O_EXCL,
 * writes the header, and if durable is non-zero fdatasyncs the file and the
 * directory.  Returns the open fd (O_WRONLY|O_APPEND|O_CLOEXEC) and copies
 * the name into name (SPOOL_NAME_MAX bytes), or -1 with errno set (EEXIST
 * if the name exists).  The caller owns the fd.
 *
 * How: the file is built as "<name>.tmp" (O_CREAT|O_EXCL|O_APPEND|
 * O_CLOEXEC, mode 0644), header written (and synced when durable), then
 * published with link() and the .tmp name removed, so readers never see a
 * segment without its header.  When pid == getpid() the fd also carries an
 * exclusive flock() taken before publication, held until the fd (and any
 * duplicate of it) is closed; spool_segment_is_finished uses it.  A crash
 * between open and unlink can leave a "<name>.tmp" file behind (ignored by
 * readers, safe to delete when its pid is gone). */
int spool_segment_create(const char *dir, uint32_t pid, uint64_t created_us,
                         int durable, char *name);

/* Marks segment `name` in dir as finished (creates "<name>.done"), fsyncing
 * the directory if durable.  Returns 0 or -1 with errno set. */
int spool_segment_finish(const char *dir, const char *name, int durable);

/* Appends len bytes (one or more whole records) with a single write().
 * The fast path is exactly one write() syscall; the rollback (fstat +
 * ftruncate) relies on the caller being the segment's only writer.
 * Returns 0 when all bytes were written.  On a short or failed write it
 * tries to truncate the file back to its previous size and returns -1 with
 * errno set (EIO for a short write): the records were not stored and must
 * not be acknowledged.  *truncated_ok tells whether the rollback worked;
 * when it did not, the caller must abandon the segment. */
int spool_segment_append(int fd, const void *buf, size_t len,
                         int *truncated_ok);

/* Extends the segment behind fd with zero bytes from offset `from` (its
 * current size) up to `to`, with pwrite() (real zeros: the blocks get
 * allocated now, not at the first write over them; see UNWRITTEN TAIL).
 * Returns 0 or -1 with errno set; the file may then hold part of the
 * zeros, which readers take for an unwritten tail as well. */
int spool_segment_preallocate(int fd, uint64_t from, uint64_t to);

/* Writes len bytes (one or more whole records) at offset off, where the
 * file holds zeros (preallocated) or ends; fd must not be O_APPEND.  The
 * bytes after the first record header go first, then that header (see
 * UNWRITTEN TAIL).  Returns 0 when all bytes were written.  On a failed or
 * short write it truncates the file back to off (dropping the rest of the
 * zero tail too) and returns -1 with errno set: the records were not
 * stored.  *truncated_ok tells whether the truncation worked; when it did
 * not, the caller must abandon the segment. */
int spool_segment_write_at(int fd, uint64_t off, const void *buf, size_t len,
                           int *truncated_ok);

/* Returns 1 if segment `name` in dir is finished by the rules in the
 * DIRECTORY section (marker present, newer segment of the same pid present,
 * or writer pid gone), else 0.  "Writer pid gone" means kill(pid, 0) fails
 * with ESRCH *and* no process holds the flock taken by
 * spool_segment_create: a writer in another pid namespace (edge and tallyd
 * in separate containers sharing the spool) is thus not taken for dead.
 * Scans dir for the newer-segment rule: O(number of files) per call. */
int spool_segment_is_finished(const char *dir, const char *name);

/* ---- reading (spool/reader.c) ---- */

/* Called for every corrupt record or torn tail of a finished segment found
 * while reading: the segment name, the offset and a short reason. */
typedef void (*spool_corrupt_fn)(void *ctx, const char *segment,
                                 uint64_t offset, const char *why);

/* A reader over one segment file.  It reads through an internal buffer
 * (256 KiB, grown up to one maximal record when needed) with pread();
 * decoded events point into that buffer and stay valid until the next call
 * on the same reader.  Not thread-safe; one reader per thread. */
typedef struct spool_reader spool_reader;

/* Opens segment `name` in dir and positions it at offset (0 means just after
 * the header).  Returns NULL with errno set on failure (EINVAL for a name
 * that is not a segment name or an offset inside the header).  Caller frees
 * with spool_reader_close.  The segment header is checked lazily, on the
 * first spool_reader_next that finds it complete; it must be valid and
 * match the name, else no records are read (a finished segment with a
 * damaged header is reported once, offset 0, "bad segment header"). */
spool_reader *spool_reader_open(const char *dir, const char *name,
                                uint64_t offset, spool_corrupt_fn on_corrupt,
                                void *ctx);

/* Reads the next valid record.  Returns 1 and fills ev, *n, *rec_offset (the
 * record's start) and *next_offset (the offset just past it) on success;
 * returns 0 when no complete record follows (end of data so far, or a torn
 * tail -- call again later for live segments); returns -1 on an I/O error
 * with errno set.  Corrupt records are reported through on_corrupt and
 * skipped. */
int spool_reader_next(spool_reader *r, spool_event *ev, size_t *n,
                      uint64_t *rec_offset, uint64_t *next_offset);

/* The offset just past the last record returned (or skipped), i.e. where
 * reading resumes.  While scanning past a corrupt stretch of a live
 * segment it may point inside that stretch (a reader reopened there
 * reports the rest of the stretch again). */
uint64_t spool_reader_offset(const spool_reader *r);

/* Tells the reader the segment is finished: a torn tail met after this is
 * reported through on_corrupt (once) and skipped to end of file. */
void spool_reader_set_finished(spool_reader *r, int finished);

/* Returns 1 when the reader has consumed everything up to end of file
 * (costs one fstat()). */
int spool_reader_at_eof(spool_reader *r);

/* Closes the file and frees r (NULL is fine). */
void spool_reader_close(spool_reader *r);

#endif /* TALLY_SPOOL_H */
