/* import_file.c -- a file import: read every input, queue the kept lines
 * (strings interned in one arena), sort them by time across all inputs
 * and store them in order, so the ingest sees each imported period as it
 * would have seen it live. */
#include "aggregator/import_int.h"
#include "aggregator/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* FNV-1a, then a final mix; never 0 (vmap's reserved key). */
static uint64_t
imp_strhash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h ? h : 1;
}

/* Appends [u32 len][bytes] to the arena; returns its offset + 1, 0 when
 * out of memory. */
static uint64_t
imp_arena_put(imp *m, const char *s, size_t n)
{
    uint32_t len = (uint32_t)n;
    if (m->narena + 4 + n > m->caparena) {
        size_t cap = m->caparena ? m->caparena : 1u << 20;
        while (m->narena + 4 + n > cap)
            cap *= 2;
        char *a = realloc(m->arena, cap);
        if (a == NULL)
            return 0;
        m->arena = a;
        m->caparena = cap;
    }
    uint64_t off = m->narena;
    memcpy(m->arena + off, &len, 4);
    memcpy(m->arena + off + 4, s, n);
    m->narena += 4 + n;
    return off + 1;
}

/* The string at arena offset + 1 `ref` (NULL, 0 when ref is 0). */
static const char *
imp_arena_get(const imp *m, uint64_t ref, size_t *n)
{
    if (ref == 0) {
        *n = 0;
        return NULL;
    }
    uint32_t len;
    memcpy(&len, m->arena + ref - 1, 4);
    *n = len;
    return m->arena + ref + 3;
}

/* The arena reference of (s, n), stored once per distinct string; 0 for
 * an empty string; (uint64_t)-1 when out of memory. */
static uint64_t
imp_intern(imp *m, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t h = imp_strhash(s, n);
    uint32_t *slot = vmap_slot(&m->intern, h);
    if (slot == NULL)
        return (uint64_t)-1;
    if (*slot != 0) {
        size_t len;
        uint64_t ref = m->istr[*slot - 1];
        const char *p = imp_arena_get(m, ref, &len);
        if (len == n && memcmp(p, s, n) == 0)
            return ref;
        /* a 64-bit collision: store this one without interning */
        ref = imp_arena_put(m, s, n);
        return ref ? ref : (uint64_t)-1;
    }
    if (m->nistr == m->capistr) {
        size_t cap = m->capistr ? m->capistr * 2 : 4096;
        uint64_t *v = realloc(m->istr, cap * sizeof(*v));
        if (v == NULL)
            return (uint64_t)-1;
        m->istr = v;
        m->capistr = cap;
    }
    uint64_t ref = imp_arena_put(m, s, n);
    if (ref == 0)
        return (uint64_t)-1;
    m->istr[m->nistr++] = ref;
    *slot = (uint32_t)m->nistr;
    return ref;
}

/* Queues a kept line.  Returns 0 or -1 (out of memory). */
static int
imp_queue(imp *m, const imp_ev *ev)
{
    if (m->nrec == m->caprec) {
        size_t cap = m->caprec ? m->caprec * 2 : 65536;
        imp_rec *v = realloc(m->recs, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        m->recs = v;
        m->caprec = cap;
    }
    imp_rec *r = &m->recs[m->nrec];
    r->ts = ev->ts;
    r->order = m->nrec;
    r->vid = ev->vid;
    r->lh = ev->lh;
    memcpy(r->cc, ev->cc, 2);
    r->url = imp_intern(m, ev->url, ev->url_len);
    r->ref = imp_intern(m, ev->ref, ev->ref_len);
    r->ua = imp_intern(m, ev->ua, ev->ua_len);
    if (r->url == (uint64_t)-1 || r->ref == (uint64_t)-1 || r->ua == (uint64_t)-1)
        return -1;
    m->nrec++;
    return 0;
}

int
imp_read_file(imp *m, const char *path, char *err, size_t errlen)
{
    char msg[512];
    lf_reader *r = lf_reader_open(path, msg, sizeof(msg));
    if (r == NULL) {
        snprintf(err, errlen, "%s", msg);
        return -1;
    }
    uint64_t size = 0;
    struct stat sb;
    if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)
        && !lf_reader_is_gzip(r))
        size = (uint64_t)sb.st_size;
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    imp_file_start(m);
    m->sum.files++;
    uint64_t bytes0 = m->sum.bytes;
    lf_line ln;
    imp_ev ev;
    int rc;
    uint64_t last = 0;
    while ((rc = lf_reader_next(r, &ln)) == 1) {
        last = ln.lineno;
        int k = imp_line(m, name, &ln, &ev, err, errlen);
        if (k < 0 || (k == 1 && imp_queue(m, &ev) != 0)) {
            if (k >= 0)
                snprintf(err, errlen, "out of memory");
            lf_reader_close(r);
            return -1;
        }
        if ((ln.lineno & 0x3fff) == 0)
            imp_progress(m, name, ln.lineno, 0, m->sum.bytes - bytes0, size, 0);
        if (m->stop && atomic_load(m->stop)) {
            snprintf(err, errlen, "interrupted while reading %s; nothing stored", name);
            lf_reader_close(r);
            return -1;
        }
    }
    imp_progress(m, name, last, 0, m->sum.bytes - bytes0, size, 1);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s (after line %llu); nothing was stored",
                 name, lf_reader_error(r), (unsigned long long)last);
        lf_reader_close(r);
        return -1;
    }
    lf_reader_close(r);
    return 0;
}

static int
imp_rec_cmp(const void *a, const void *b)
{
    const imp_rec *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int
imp_store_queued(imp *m, char *err, size_t errlen)
{
    qsort(m->recs, m->nrec, sizeof(*m->recs), imp_rec_cmp);
    size_t i = 0, first = 0;
    int retries = 0;
    imp_sum saved = m->sum;
    while (i < m->nrec || m->in_tx) {
        int ok = 1;
        if (i == m->nrec) {                       /* the last commit */
            ok = imp_tx_commit(m) == 0;
        } else {
            if (!m->in_tx) {
                first = i;
                saved = m->sum;
                ok = imp_tx_begin(m) == 0;
            }
            const imp_rec *r = &m->recs[i];
            imp_ev ev = { .ts = r->ts, .vid = r->vid, .lh = r->lh,
                      .cc = { r->cc[0], r->cc[1] } };
            ev.url = imp_arena_get(m, r->url, &ev.url_len);
            ev.ref = imp_arena_get(m, r->ref, &ev.ref_len);
            ev.ua = imp_arena_get(m, r->ua, &ev.ua_len);
            ok = ok && imp_store(m, &ev) == 0;
            i++;
            if (ok && m->tx_events >= m->o.batch) {
                ok = imp_tx_commit(m) == 0;
                imp_progress(m, "storing", i, m->nrec, 0, 0, 0);
                if (ok && m->stop && atomic_load(m->stop)) {
                    snprintf(err, errlen, "interrupted after storing %zu of %zu"
                             " pageviews (run the same import again to finish)",
                             i, m->nrec);
                    return -1;
                }
            }
        }
        if (ok) {
            if (!m->in_tx)
                retries = 0;
            continue;
        }
        /* A failed transaction changed nothing: another writer of the
         * same database (a running drain) can make one fail, e.g. by
         * taking a per-millisecond sequence number this ingest had
         * cached.  Roll back, rebuild the ingest state and redo it. */
        snprintf(err, errlen, "database: %s", db_errmsg(m->d));
        imp_tx_abort(m);
        if (++retries > 3)
            return -1;
        log_warn("import: %s; retrying the transaction", err);
        m->sum = saved;
        i = first;
        struct timespec nap = { 0, 100 * 1000000L };
        nanosleep(&nap, NULL);
    }
    imp_progress(m, "storing", m->nrec, m->nrec, 0, 0, 1);
    return 0;
}
