/* import_follow.c -- `tallyd import --follow FILE`: tail a live access log
 * through its rotations (logread.h's lf_follow) and store its pageviews
 * as they come, in log order.  The position (device, inode, offset, line
 * number) and the follower's high-water mark are written in the
 * transaction of the rows they cover (import_follow), so a restart after
 * SIGKILL goes on exactly where the last commit ended; the ledger guards
 * the same lines again (a rotated file imported by hand later). */
#include "aggregator/import_int.h"
#include "aggregator/log.h"
#include "bots/bot_hash.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DAY_MS 86400000LL

/* Rebuilds the occurrence counts of the lines before offset in path
 * (the resumed file), so the ledger hashes of the lines after it are
 * those a single uninterrupted run would have made.  Identical lines
 * get identical verdicts, so counting every line equals counting the
 * kept ones.  Returns 0 or -1 (err). */
static int
imp_prescan(imp *m, const char *path, uint64_t offset, char *err,
            size_t errlen)
{
    char msg[512];
    lf_reader *r = lf_reader_open(path, msg, sizeof(msg));
    if (r == NULL) {
        snprintf(err, errlen, "%s", msg);
        return -1;
    }
    lf_line ln;
    int rc;
    while ((rc = lf_reader_next(r, &ln)) == 1 && ln.next <= offset) {
        uint64_t h = bot_siphash24(m->lkey, ln.p, ln.n);
        uint32_t *slot = vmap_slot(&m->occ, h ? h : 1);
        if (slot == NULL) {
            snprintf(err, errlen, "out of memory");
            lf_reader_close(r);
            return -1;
        }
        (*slot)++;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, lf_reader_error(r));
        lf_reader_close(r);
        return -1;
    }
    lf_reader_close(r);
    return 0;
}

/* Commits the open transaction (opening one if needed) with the
 * follower's position.  Returns 0 or -1. */
static int
imp_follow_commit(imp *m, lf_follow *f)
{
    if (!m->in_tx && imp_tx_begin(m) != 0)
        return -1;
    lf_follow_pos p;
    lf_follow_position(f, &p);
    db_imp_pos dp = { p.dev, p.ino, p.offset, p.lineno, ingest_hwm(m->g) };
    if (dp.hwm_ms < m->resume_hwm)
        dp.hwm_ms = m->resume_hwm;
    if (db_imp_follow_set(m->s, m->site_id, m->o.follow, &dp) != 0
        || imp_tx_commit(m) != 0) {
        imp_tx_abort(m);
        return -1;
    }
    if (dp.hwm_ms > 0)
        imp_keys_forget_before(&m->keys, (uint32_t)(dp.hwm_ms / DAY_MS) - 1);
    m->committed = m->sum;
    return 0;
}

/* Opens the follower at the stored position, rebuilding the occurrence
 * counts of the lines before it.  Returns the follower or NULL (err). */
static lf_follow *
imp_follow_setup(imp *m, char *err, size_t errlen)
{
    const char *path = m->o.follow;
    char msg[512];
    db_imp_pos pos;
    int have = db_imp_follow_get(m->s, m->site_id, path, &pos);
    if (have < 0) {
        snprintf(err, errlen, "database: %s", db_errmsg(m->d));
        return NULL;
    }
    imp_file_start(m);
    lf_follow_pos resume = { 0, 0, 0, 0 };
    if (have) {
        resume = (lf_follow_pos){ pos.dev, pos.ino, pos.offset, pos.lineno };
        m->resume_hwm = pos.hwm_ms;
        struct stat sb;
        if (stat(path, &sb) == 0 && (uint64_t)sb.st_dev == pos.dev
            && (uint64_t)sb.st_ino == pos.ino
            && (uint64_t)sb.st_size >= pos.offset
            && imp_prescan(m, path, pos.offset, err, errlen) != 0)
            return NULL;
    }
    lf_follow *f = lf_follow_open(path, have ? &resume : NULL, msg, sizeof(msg));
    if (f == NULL) {
        snprintf(err, errlen, "%s", msg);
        return NULL;
    }
    uint64_t restarts = lf_follow_restarts(f);
    if (restarts > 0)
        imp_file_start(m);          /* the stored position did not apply */
    m->sum.restarts += restarts;
    if (have)
        log_info("import: following %s from %s offset %llu (line %llu)", path,
                 restarts ? "the start, the file changed;" : "stored",
                 (unsigned long long)(restarts ? 0 : pos.offset),
                 (unsigned long long)(restarts ? 0 : pos.lineno));
    return f;
}

/* Follows until *m->stop (returns 0), a read error (-1) or a database
 * error (-2: nothing uncommitted was kept; a retry may succeed). */
static int
imp_follow_run(imp *m, lf_follow *f, char *err, size_t errlen)
{
    const char *path = m->o.follow;
    uint64_t restarts = lf_follow_restarts(f), pending = 0;
    while (!(m->stop && atomic_load(m->stop))) {
        lf_line ln;
        int got = lf_follow_poll(f, &ln);
        if (got < 0) {
            snprintf(err, errlen, "%s: %s", path, lf_follow_error(f));
            return -1;
        }
        if (got == 1) {
            uint64_t rs = lf_follow_restarts(f);
            if (rs != restarts) {       /* rotated or truncated: a new file */
                m->sum.restarts += rs - restarts;
                restarts = rs;
                imp_file_start(m);
            }
            imp_ev ev;
            int k = imp_line(m, path, &ln, &ev, err, errlen);
            if (k < 0)
                return -1;
            if (k == 1 && ((!m->in_tx && imp_tx_begin(m) != 0)
                           || imp_store(m, &ev) != 0))
                return -2;
            if (++pending >= m->o.batch) {
                if (imp_follow_commit(m, f) != 0)
                    return -2;
                pending = 0;
            }
            if ((m->sum.lines & 0x3fff) == 0)
                imp_progress(m, path, m->sum.lines, 0, m->sum.bytes, 0, 0);
            continue;
        }
        if (pending > 0) {
            if (imp_follow_commit(m, f) != 0)
                return -2;
            pending = 0;
            imp_progress(m, path, m->sum.lines, 0, m->sum.bytes, 0, 0);
        }
        struct timespec ts = { m->o.poll_ms / 1000,
                               (long)(m->o.poll_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (pending > 0 && imp_follow_commit(m, f) != 0)
        return -2;
    return 0;
}

int
imp_follow(imp *m, char *err, size_t errlen)
{
    m->sum.files = 1;
    for (int retries = 0;; retries++) {
        m->committed = m->sum;
        lf_follow *f = imp_follow_setup(m, err, errlen);
        if (f == NULL)
            return -1;
        int rc = imp_follow_run(m, f, err, errlen);
        lf_follow_close(f);
        if (rc == 0) {
            imp_progress(m, m->o.follow, m->sum.lines, 0, m->sum.bytes, 0, 1);
            return 0;
        }
        if (rc == -2) {
            /* A failed transaction changed nothing: another writer of the
             * database (the running drain) can make one fail.  Roll back,
             * and start again from the stored position with a rebuilt
             * ingest state; give up after a few failures in a row. */
            snprintf(err, errlen, "database: %s", db_errmsg(m->d));
            imp_tx_abort(m);
            m->sum = m->committed;
            if (retries < 3) {
                log_warn("import: %s; going on from the last commit", err);
                struct timespec nap = { 0, 100 * 1000000L };
                nanosleep(&nap, NULL);
                continue;
            }
        }
        imp_tx_abort(m);
        return -1;
    }
}
