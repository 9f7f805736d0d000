/*
 * import_int.h -- private to aggregator/import*.c: the importer's state,
 * shared by the file import (import.c, import_cli.c), the follower
 * (import_follow.c) and the day keys (import_keys.c).
 */
#ifndef TALLY_AGG_IMPORT_INT_H
#define TALLY_AGG_IMPORT_INT_H

#include "aggregator/attrs.h"
#include "aggregator/db.h"
#include "aggregator/db_import.h"
#include "aggregator/ingest.h"
#include "aggregator/logfilter.h"
#include "aggregator/logfmt.h"
#include "aggregator/logread.h"
#include "aggregator/vmap.h"
#include "bots/bots.h"
#include "visitor/visitor.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define IMP_MALFORMED_SHOWN 5
#define IMP_SITE_MAX 253

typedef struct {
    const char *db_path, *site, *format, *status, *salt_file, *data_dir;
    const char *follow;             /* --follow FILE, NULL = file import */
    int         include_static, keep_bots;
    int         progress;           /* stderr is a terminal              */
    unsigned    batch;              /* events per transaction            */
    unsigned    poll_ms;            /* follower's idle poll interval     */
} imp_opts;

/* What an import did (the summary). */
typedef struct {
    uint64_t files, lines, bytes;
    uint64_t reason[LF_SKIP_COUNT];   /* [LF_KEEP] = lines kept          */
    uint64_t duplicates;              /* kept lines already in the ledger */
    uint64_t imported;                /* events the ingest stored         */
    uint64_t dropped;                 /* events the ingest refused (bot)  */
    uint64_t restarts;                /* follower: rotations, truncations */
    uint64_t nshown;
    char     shown[IMP_MALFORMED_SHOWN][200];   /* "file:line: reason"   */
    int64_t  first_ts, last_ts;       /* kept lines' times, ms            */
} imp_sum;

/* One UTC day's visitor-id key, in memory only. */
typedef struct {
    uint32_t day;
    int      ratchet;                 /* from --salt-file (else random)   */
    tv_state st;
} imp_daykey;

typedef struct {
    imp_daykey *v;
    size_t      n, cap;
    size_t      last;                 /* index of the last day used + 1   */
    const char *salt_file;            /* NULL: random keys only           */
    tv_state    ratchet;              /* the state file's newest day      */
    int         have_ratchet;
} imp_keys;

/* A kept line, ready to store: strings point into the importer's
 * scratch buffers (follower) or its arena (file import). */
typedef struct {
    int64_t     ts;
    uint64_t    vid;                  /* visitor id                      */
    uint64_t    lh;                   /* ledger hash                     */
    const char *url, *ref, *ua;
    size_t      url_len, ref_len, ua_len;
    char        cc[2];                /* country, "" = none              */
} imp_ev;

/* A kept line of a file import, waiting for the sort: strings as arena
 * offsets + 1 (0 = none). */
typedef struct {
    int64_t  ts;
    uint64_t order;
    uint64_t vid, lh;
    uint64_t url, ref, ua;
    char     cc[2];
} imp_rec;

typedef struct {
    imp_opts     o;
    db          *d;
    attrs_ctx   *x;
    ingest      *g;
    db_imp      *s;
    lf_format   *fmt;
    unsigned     has;
    lf_format   *cfmt;                /* the format with the country
                                         variable renamed, or NULL      */
    unsigned     cfield;              /* which field carries it there:
                                         LF_HAS_HOST, _REFERER or _UA  */
    lf_filter    filt;
    bot_matcher *bots;
    char         site[IMP_SITE_MAX + 1];
    size_t       site_len;
    int64_t      site_id;
    unsigned char lkey[DB_IMP_KEY_SIZE];   /* ledger key (the db's)   */
    imp_keys     keys;
    vmap         occ;                 /* this file: line hash -> count   */
    imp_sum      sum;
    imp_sum      committed;           /* follower: sum at the last commit */
    /* the line being handled: decoded strings */
    char        *buf_url, *buf_ref, *buf_ua;
    /* file import: kept lines and their strings */
    imp_rec     *recs;
    size_t       nrec, caprec;
    char        *arena;
    size_t       narena, caparena;
    vmap         intern;              /* string hash -> istr index + 1   */
    uint64_t    *istr;                /* interned strings' arena offsets */
    size_t       nistr, capistr;
    /* transactions */
    int          in_tx;
    int64_t      live_hwm;            /* meta hwm_ms when the tx began   */
    int64_t      resume_hwm;          /* where the ingest state starts   */
    uint64_t     tx_events;
    /* progress */
    double       prog_next;
    const atomic_int *stop;
} imp;

/* ---- import.c ---- */

/* Opens the database, the enrichment data, the ingest, the format, the
 * filter and the bot matcher for m->o.  Returns 0, or -1 with a message
 * in err. */
int imp_open(imp *m, char *err, size_t errlen);

/* Closes everything, wiping the day keys and the ledger key. */
void imp_close(imp *m);

/* Parses and classifies one line of file (for messages).  Returns 1 and
 * fills *ev when the line is a pageview (strings in m's scratch
 * buffers, valid until the next call), 0 when it is skipped (counted in
 * m->sum), -1 on a fatal error (message in err). */
int imp_line(imp *m, const char *file, const lf_line *ln, imp_ev *ev,
             char *err, size_t errlen);

/* Forgets the occurrence counts (a new file starts). */
void imp_file_start(imp *m);

/* Opens a transaction for storing (meta hwm_ms is swapped so that the
 * importer's ingest never sees or moves the live drain's high-water
 * mark: see import.c).  Returns 0 or -1. */
int imp_tx_begin(imp *m);

/* Stores one kept line inside the transaction: ledger, then ingest.
 * Returns 0 or -1. */
int imp_store(imp *m, const imp_ev *ev);

/* Flushes the ingest, restores meta hwm_ms and commits.  Returns 0 or
 * -1 (rolled back). */
int imp_tx_commit(imp *m);

/* Rolls back an open transaction (nothing is stored). */
void imp_tx_abort(imp *m);

/* File import: reads path ("-" = stdin) and queues its kept lines.
 * Returns 0, or -1 with a message in err. */
int imp_read_file(imp *m, const char *path, char *err, size_t errlen);

/* File import: sorts the queued lines by time and stores them, in
 * transactions of m->o.batch events.  Returns 0 or -1 (err). */
int imp_store_queued(imp *m, char *err, size_t errlen);

/* Notes a malformed line for the summary. */
void imp_malformed(imp *m, const char *file, uint64_t lineno,
                   const char *why);

/* ---- import_keys.c ---- */

/* The key for UTC day `day`: with a salt file, the edge's ratchet key
 * when day is the state file's day (the file is ratcheted forward to day
 * when day is later, but never past today's wall-clock day); otherwise a
 * random key made for the day on first use.  NULL with err on error. */
const tv_state *imp_keys_get(imp_keys *k, uint32_t day, char *err,
                             size_t errlen);

/* Wipes the keys of days before `day` (a long-running follower keeps
 * only the days lines can still arrive for). */
void imp_keys_forget_before(imp_keys *k, uint32_t day);

/* Wipes and frees every key. */
void imp_keys_wipe(imp_keys *k);

/* ---- import_follow.c ---- */

/* Follows m->o.follow until *m->stop.  Returns 0 or -1 (err). */
int imp_follow(imp *m, char *err, size_t errlen);

/* ---- import_cli.c ---- */

/* Progress on stderr (only when m->o.progress): phase, items done of
 * total (0 = unknown), bytes read of size (0 = unknown).  Rate limited. */
void imp_progress(imp *m, const char *what, uint64_t done, uint64_t total,
                  uint64_t bytes, uint64_t size, int final);

#endif
