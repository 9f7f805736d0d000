/*
 * colblock-measure.c -- what column blocks (aggregator/colblock.h) would
 * cost and gain on a real tallyd database, without changing it.
 *
 *   make build/colblock-measure
 *   build/colblock-measure DB [DB...]
 *   build/colblock-measure --synthetic    decode speed per encoding/width
 *
 * Opens each database read-only (file:DB?mode=ro), reads the raw events
 * (ORDER BY site_id, ts, seq: the table's own order) and the visits
 * (ORDER BY site_id, day of start_ts, id), encodes one block per (site,
 * UTC day), and prints for each table:
 *   - the table's bytes per row/event in SQLite (dbstat: sum(pgsize)),
 *   - the blocks' bytes (raw, and stored as BLOBs in a scratch in-memory
 *     SQLite table, pages included) per row and per event,
 *   - per column: the encodings chosen, bytes per row, decode speed,
 *   - decode speed of whole blocks (header + every column, checksums
 *     included), best of 3 passes over all blocks, after a pass that
 *     checks every decoded value against what was read.
 * The only tool outside aggregator/db*.c that talks to SQLite; it never
 * writes to the databases it measures.
 */
#include "aggregator/colblock.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_MS 86400000LL

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
die(const char *what, sqlite3 *db)
{
    fprintf(stderr, "colblock-measure: %s: %s\n", what,
            db ? sqlite3_errmsg(db) : "failed");
    exit(1);
}

typedef struct blk {
    int64_t site, day;
    uint32_t nrows;
    uint8_t *b;
    size_t len;
} blk;

typedef struct table_spec {
    const char *table;
    const char *sql; /* site_id first, then the block's columns */
    int ncols;
    const char *names[CB_MAX_COLS];
    int daycol; /* block column whose value / DAY_MS is the day */
} table_spec;

typedef struct meas {
    const table_spec *spec;
    blk *blocks;
    size_t nblocks, cap;
    uint64_t rows, bytes, maxrows;
    uint64_t colbytes[CB_MAX_COLS], enc[CB_MAX_COLS][4];
    uint64_t hash[CB_MAX_COLS];
    double t_read, t_encode, t_col[CB_MAX_COLS];
} meas;

static uint64_t
mix(uint64_t h, const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint64_t)v[i]) * 0x100000001B3ull;
    return h;
}

static void
flush(meas *m, int64_t site, int64_t day, int64_t **cols, size_t n)
{
    if (n == 0)
        return;
    const table_spec *s = m->spec;
    double t0 = now();
    uint8_t *b;
    size_t len;
    int rc = cb_encode((const int64_t *const *)cols, (size_t)s->ncols, n, &b,
                       &len);
    if (rc != 0) {
        fprintf(stderr, "cb_encode: %s\n", cb_strerror(rc));
        exit(1);
    }
    m->t_encode += now() - t0;
    cb_info info;
    if (cb_decode_header(b, len, &info) != 0)
        abort();
    for (int c = 0; c < s->ncols; c++) {
        m->colbytes[c] += info.col[c].bytes;
        m->enc[c][info.col[c].enc & 3]++;
        m->hash[c] = mix(m->hash[c], cols[c], n);
    }
    if (m->nblocks == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->blocks = realloc(m->blocks, m->cap * sizeof(*m->blocks));
        if (m->blocks == NULL)
            abort();
    }
    m->blocks[m->nblocks++] = (blk){site, day, (uint32_t)n, b, len};
    m->rows += n;
    m->bytes += len;
    if (n > m->maxrows)
        m->maxrows = n;
}

static void
read_table(sqlite3 *db, meas *m)
{
    const table_spec *s = m->spec;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, s->sql, -1, &st, NULL) != SQLITE_OK)
        die(s->table, db);
    size_t cap = 1 << 16, n = 0;
    int64_t *cols[CB_MAX_COLS];
    for (int c = 0; c < s->ncols; c++)
        cols[c] = malloc(cap * sizeof(int64_t));
    int64_t site = 0, day = 0;
    double t0 = now(), tenc0 = m->t_encode;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t rsite = sqlite3_column_int64(st, 0);
        int64_t rday = sqlite3_column_int64(st, 1 + s->daycol) / DAY_MS;
        if (n > 0 && (rsite != site || rday != day || n == CB_MAX_ROWS)) {
            flush(m, site, day, cols, n);
            n = 0;
        }
        site = rsite;
        day = rday;
        if (n == cap) {
            cap *= 2;
            for (int c = 0; c < s->ncols; c++)
                if ((cols[c] = realloc(cols[c], cap * sizeof(int64_t)))
                    == NULL)
                    abort();
        }
        for (int c = 0; c < s->ncols; c++)
            cols[c][n] = sqlite3_column_int64(st, 1 + c);
        n++;
    }
    if (rc != SQLITE_DONE)
        die(s->table, db);
    flush(m, site, day, cols, n);
    m->t_read = now() - t0 - (m->t_encode - tenc0);
    sqlite3_finalize(st);
    for (int c = 0; c < s->ncols; c++)
        free(cols[c]);
}

static int64_t
table_bytes(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT coalesce(sum(pgsize), 0) FROM dbstat"
                           " WHERE name = ?1",
                           -1, &st, NULL)
        != SQLITE_OK)
        die("dbstat (SQLite built without SQLITE_ENABLE_DBSTAT_VTAB?)", db);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        die("dbstat", db);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The blocks as BLOBs in a rowid table of an in-memory database (4 KiB
 * pages, as tallyd's): what they would take inside SQLite. */
static int64_t
stored_bytes(const meas *m)
{
    sqlite3 *mem;
    if (sqlite3_open(":memory:", &mem) != SQLITE_OK)
        die(":memory:", mem);
    if (sqlite3_exec(mem,
                     "PRAGMA page_size = 4096;"
                     "CREATE TABLE blocks(site_id INTEGER NOT NULL,"
                     " day INTEGER NOT NULL, data BLOB NOT NULL);"
                     "BEGIN;",
                     NULL, NULL, NULL)
        != SQLITE_OK)
        die("scratch", mem);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(mem, "INSERT INTO blocks VALUES(?1, ?2, ?3)", -1,
                           &st, NULL)
        != SQLITE_OK)
        die("scratch", mem);
    for (size_t i = 0; i < m->nblocks; i++) {
        const blk *k = &m->blocks[i];
        sqlite3_bind_int64(st, 1, k->site);
        sqlite3_bind_int64(st, 2, k->day);
        sqlite3_bind_blob(st, 3, k->b, (int)k->len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            die("scratch insert", mem);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (sqlite3_exec(mem, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        die("scratch", mem);
    int64_t v = table_bytes(mem, "blocks");
    sqlite3_close(mem);
    return v;
}

/* Decodes every block: 1 pass checking the values, then 3 timed passes
 * (whole blocks), then per-column timing.  Returns the best whole pass
 * in seconds. */
static double
decode_all(meas *m)
{
    const table_spec *s = m->spec;
    int64_t *dst = malloc((m->maxrows ? m->maxrows : 1) * sizeof(int64_t));
    uint64_t hash[CB_MAX_COLS];
    for (int c = 0; c < s->ncols; c++)
        hash[c] = 0;
    for (size_t i = 0; i < m->nblocks; i++) {
        const blk *k = &m->blocks[i];
        for (int c = 0; c < s->ncols; c++) {
            int rc = cb_decode_col(k->b, k->len, (size_t)c, dst);
            if (rc != 0) {
                fprintf(stderr, "decode: %s\n", cb_strerror(rc));
                exit(1);
            }
            hash[c] = mix(hash[c], dst, k->nrows);
        }
    }
    for (int c = 0; c < s->ncols; c++)
        if (hash[c] != m->hash[c]) {
            fprintf(stderr, "%s.%s: decoded values differ\n", s->table,
                    s->names[c]);
            exit(1);
        }
    double best = 1e30;
    for (int pass = 0; pass < 3; pass++) {
        double t0 = now();
        for (size_t i = 0; i < m->nblocks; i++) {
            const blk *k = &m->blocks[i];
            cb_info info;
            if (cb_decode_header(k->b, k->len, &info) != 0)
                abort();
            for (int c = 0; c < s->ncols; c++)
                if (cb_decode_col_info(k->b, k->len, &info, (size_t)c, dst))
                    abort();
        }
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    for (int c = 0; c < s->ncols; c++) {
        double t0 = now();
        for (size_t i = 0; i < m->nblocks; i++)
            if (cb_decode_col(m->blocks[i].b, m->blocks[i].len, (size_t)c,
                              dst))
                abort();
        m->t_col[c] = now() - t0;
    }
    free(dst);
    return best;
}

static void
report(sqlite3 *db, meas *m, uint64_t nevents)
{
    const table_spec *s = m->spec;
    int64_t tbytes = table_bytes(db, s->table);
    int64_t sbytes = stored_bytes(m);
    double best = decode_all(m);
    double ev = nevents ? (double)nevents : 1, rows = m->rows ? m->rows : 1;
    printf("\n%s: %llu rows, %zu blocks (site x UTC day), %.0f rows/block "
           "on average, max %llu\n",
           s->table, (unsigned long long)m->rows, m->nblocks,
           rows / (double)(m->nblocks ? m->nblocks : 1),
           (unsigned long long)m->maxrows);
    printf("  %-28s %14s %10s %12s\n", "", "bytes", "B/row", "B/event");
    printf("  %-28s %14lld %10.2f %12.2f\n", "SQLite table (dbstat)",
           (long long)tbytes, (double)tbytes / rows, (double)tbytes / ev);
    printf("  %-28s %14llu %10.2f %12.2f\n", "blocks (raw bytes)",
           (unsigned long long)m->bytes, (double)m->bytes / rows,
           (double)m->bytes / ev);
    printf("  %-28s %14lld %10.2f %12.2f\n", "blocks as SQLite BLOBs",
           (long long)sbytes, (double)sbytes / rows, (double)sbytes / ev);
    printf("  read via SQLite: %.2f s (%.0f ns/row); encode: %.2f s "
           "(%.0f ns/row)\n",
           m->t_read, m->t_read * 1e9 / rows, m->t_encode,
           m->t_encode * 1e9 / rows);
    printf("  decode, all %d columns, checksums included: %.3f s = %.1f M "
           "rows/s = %.0f M values/s\n",
           s->ncols, best, rows / best / 1e6,
           rows * s->ncols / best / 1e6);
    printf("  %-14s %8s  %-34s %12s\n", "column", "B/row",
           "blocks: const/for/delta/dict", "M values/s");
    for (int c = 0; c < s->ncols; c++)
        printf("  %-14s %8.3f  %6llu %6llu %6llu %6llu %16.0f\n", s->names[c],
               (double)m->colbytes[c] / rows,
               (unsigned long long)m->enc[c][0],
               (unsigned long long)m->enc[c][1],
               (unsigned long long)m->enc[c][2],
               (unsigned long long)m->enc[c][3],
               rows / m->t_col[c] / 1e6);
    fflush(stdout);
}

static const table_spec events_spec = {
    "events",
    "SELECT site_id, ts, seq, visitor_id, visit_id, name_id, pathname_id,"
    " hostname_id, attrs_id, props_id, revenue_id, flags"
    " FROM events ORDER BY site_id, ts, seq",
    11,
    {"ts", "seq", "visitor_id", "visit_id", "name_id", "pathname_id",
     "hostname_id", "attrs_id", "props_id", "revenue_id", "flags"},
    0,
};

static const table_spec visits_spec = {
    "visits",
    "SELECT site_id, id, visitor_id, start_ts, end_ts, entry_page_id,"
    " exit_page_id, attrs_id, pageviews, events, bounce"
    " FROM visits ORDER BY site_id, start_ts / 86400000, id",
    10,
    {"id", "visitor_id", "start_ts", "end_ts", "entry_page_id",
     "exit_page_id", "attrs_id", "pageviews", "events", "bounce"},
    2,
};

static void
free_meas(meas *m)
{
    for (size_t i = 0; i < m->nblocks; i++)
        free(m->blocks[i].b);
    free(m->blocks);
}

/* --synthetic: decode speed of one column per encoding and width, on
 * 2^20 random rows (a 0.1 .. 8 MB payload), best of 10 decodes. */
static void
synthetic(void)
{
    size_t n = 1u << 20;
    int64_t *v = malloc(n * sizeof(*v)), *dst = malloc(n * sizeof(*dst));
    uint64_t r = 88172645463325252ull;
    static const unsigned widths[] = {1, 3, 7, 8, 12, 17, 24, 32, 40, 48,
                                      56, 57, 63, 64};
    printf("synthetic: %zu rows, one column, best of 10 decodes "
           "(cb_decode_col: header and payload checksums included)\n", n);
    printf("  %-6s %-5s %10s %12s\n", "enc", "width", "B/row",
           "M values/s");
    for (int kind = 0; kind < 3; kind++) {
        for (size_t wi = 0; wi < sizeof(widths) / sizeof(*widths); wi++) {
            unsigned w = widths[wi];
            if (kind == 2 && w > 20)
                break; /* dictionary: up to 2^20 distinct values */
            if (kind == 1 && w > 40)
                break; /* delta: larger steps would overflow the sum */
            uint64_t m = w == 64 ? ~0ull : (1ull << w) - 1;
            int64_t acc = -5;
            for (size_t i = 0; i < n; i++) {
                r ^= r << 13, r ^= r >> 7, r ^= r << 17;
                uint64_t x = (r & m) | (i == 0 ? m : 0);
                if (kind == 0) /* for: random w-bit values */
                    v[i] = (int64_t)(x - (m >> 1));
                else if (kind == 1) /* delta: random w-bit steps */
                    v[i] = acc += (int64_t)(x >> 1);
                else /* dict: 2^w distinct values spread out */
                    v[i] = (int64_t)(x * 1000003);
            }
            const int64_t *cols[1] = {v};
            uint8_t *b;
            size_t len;
            if (cb_encode(cols, 1, n, &b, &len) != 0)
                abort();
            cb_info info;
            if (cb_decode_header(b, len, &info) != 0)
                abort();
            double best = 1e30;
            for (int k = 0; k < 10; k++) {
                double t0 = now();
                if (cb_decode_col(b, len, 0, dst) != 0)
                    abort();
                double t = now() - t0;
                if (t < best)
                    best = t;
            }
            if (memcmp(v, dst, n * sizeof(*v)) != 0)
                abort();
            printf("  %-6s %-5u %10.3f %12.0f\n",
                   cb_enc_name(info.col[0].enc), info.col[0].width,
                   (double)len / (double)n, (double)n / best / 1e6);
            free(b);
        }
    }
    free(v);
    free(dst);
}

int
main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: colblock-measure DB [DB...]\n"
                        "       colblock-measure --synthetic\n"
                        "  encodes events and visits of each database "
                        "(opened read-only) as column blocks;\n"
                        "  --synthetic: decode speed per encoding and "
                        "width on random data\n");
        return 2;
    }
    if (strcmp(argv[1], "--synthetic") == 0) {
        synthetic();
        return 0;
    }
    for (int a = 1; a < argc; a++) {
        char *uri = sqlite3_mprintf("file:%s?mode=ro", argv[a]);
        sqlite3 *db;
        if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                            NULL)
            != SQLITE_OK)
            die(argv[a], db);
        sqlite3_free(uri);
        printf("== %s\n", argv[a]);
        meas ev = {.spec = &events_spec};
        read_table(db, &ev);
        report(db, &ev, ev.rows);
        free_meas(&ev);
        meas vi = {.spec = &visits_spec};
        read_table(db, &vi);
        report(db, &vi, ev.rows);
        free_meas(&vi);
        sqlite3_close(db);
    }
    return 0;
}
