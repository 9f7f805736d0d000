/* import.c -- the importer's core: setup, one line from text to a kept
 * pageview, and storing pageviews through the ingest (see import.h).
 *
 * THE INGEST AND THE LIVE HIGH-WATER MARK.  ingest.h keeps about one day
 * of state (open visits, the days' visitor sets) relative to its
 * high-water mark: the newest event time, which ingest_ready reads from
 * meta hwm_ms (and then replays the raw events of the day before it) and
 * ingest_flush writes back.  That mark belongs to the live drain.  An
 * import of last month would, with the live mark, split every visit and
 * drop its visitor sets at every flush; and writing the import's mark
 * would move the drain's replay window.  So the importer runs its OWN
 * ingest instance whose state starts empty for the imported period:
 * inside each of its transactions it reads the live mark, sets meta
 * hwm_ms to its own mark (0 for a file import: no replay; a follower's
 * stored mark after a restart: the replay rebuilds its state) before
 * ingest_ready, and after ingest_flush writes back the larger of the
 * live mark and its own -- all inside one IMMEDIATE transaction, so no
 * other connection ever sees the swapped value.  The drain keeps its own
 * mark in memory and never re-reads it while running.  (The clean form
 * of this is an ingest_new_detached() in ingest.c whose ready and flush
 * skip meta hwm_ms.)
 */
#include "aggregator/crypto.h"
#include "aggregator/import_int.h"
#include "aggregator/log.h"
#include "bots/bot_hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
imp_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- setup ---- */

/* Variables that carry the client's country (ISO 3166-1 alpha-2): NGINX's
 * geoip and geoip2 modules as usually configured, Cloudflare's header. */
static const char *const imp_country_vars[] = {
    "geoip_country_code", "geoip2_data_country_code",
    "geoip2_data_country_iso_code", "geoip2_country_code",
    "http_cf_ipcountry", "http_x_country_code", NULL
};

static int
imp_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_';
}

/* logfmt reads only the variables it knows and skips the others; it has
 * no country field.  When the format logs a country variable, a second
 * format is compiled from the same string with that variable renamed to
 * one logfmt captures as plain text and the format does not use
 * ($host, else $http_referer, else $http_user_agent): same literals, same
 * steps, so it splits every line the first one parses the same way, and
 * the renamed field's slice is the country.  Returns 0 (m->cfmt set or
 * left NULL), -1 with a message. */
static int
imp_country_format(imp *m, char *err, size_t errlen)
{
    const char *f = lf_format_string(m->fmt);
    size_t n = strlen(f);
    for (size_t i = 0; imp_country_vars[i] != NULL; i++) {
        const char *v = imp_country_vars[i];
        size_t vl = strlen(v);
        for (size_t at = 0; at < n; at++) {
            if (f[at] != '$')
                continue;
            size_t b = at + 1, e;
            if (f[b] == '{') {
                if (strncmp(f + b + 1, v, vl) != 0 || f[b + 1 + vl] != '}')
                    continue;
                e = b + vl + 2;
            } else {
                if (strncmp(f + b, v, vl) != 0 || imp_name_char(f[b + vl]))
                    continue;
                e = b + vl;
            }
            static const struct { unsigned bit; const char *var; } to[] = {
                { LF_HAS_HOST, "${host}" }, { LF_HAS_REFERER, "${http_referer}" },
                { LF_HAS_UA, "${http_user_agent}" } };
            size_t k = 0;
            while (k < 3 && (m->has & to[k].bit))
                k++;
            if (k == 3) {
                log_warn("import: the format's $%s is not read (it already"
                         " uses $host, $http_referer and $http_user_agent)", v);
                return 0;
            }
            size_t tl = strlen(to[k].var);
            char *g = malloc(n - (e - at) + tl + 1);
            if (g == NULL) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            memcpy(g, f, at);
            memcpy(g + at, to[k].var, tl);
            strcpy(g + at + tl, f + e);
            m->cfmt = lf_compile(g, err, errlen);
            free(g);
            if (m->cfmt == NULL)
                return -1;
            m->cfield = to[k].bit;
            return 0;
        }
    }
    return 0;
}

/* The country of line (the caller's lf_parse succeeded) into cc, upper
 * case ("" when none, not two letters, or "XX"). */
static void
imp_country(const imp *m, const char *line, size_t len, char cc[2])
{
    cc[0] = cc[1] = '\0';
    lf_record r;
    if (m->cfmt == NULL || lf_parse(m->cfmt, line, len, &r) != LF_OK)
        return;
    const lf_str *v = m->cfield == LF_HAS_HOST ? &r.host
                      : m->cfield == LF_HAS_REFERER ? &r.referer : &r.user_agent;
    if (v->n != 2)
        return;
    for (int i = 0; i < 2; i++) {
        char c = v->p[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        if (c < 'A' || c > 'Z')
            return;
        cc[i] = c;
    }
    if (cc[0] == 'X' && cc[1] == 'X')        /* Cloudflare: unknown */
        cc[0] = cc[1] = '\0';
}

int
imp_open(imp *m, char *err, size_t errlen)
{
    char msg[768];
    if (crypto_start() != 0 || tv_init() != 0) {
        snprintf(err, errlen, "libsodium does not start");
        return -1;
    }
    size_t n = strlen(m->o.site);
    if (n == 0 || n > IMP_SITE_MAX) {
        snprintf(err, errlen, "--site must be a domain of 1 to %d bytes",
                 IMP_SITE_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = m->o.site[i];
        m->site[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    m->site[n] = '\0';
    m->site_len = n;
    m->fmt = lf_compile(m->o.format, msg, sizeof(msg));
    if (m->fmt == NULL) {
        snprintf(err, errlen, "--format: %s", msg);
        return -1;
    }
    m->has = lf_format_has(m->fmt);
    if (!(m->has & LF_HAS_TIME) || !(m->has & LF_HAS_PATH)
        || !(m->has & (LF_HAS_ADDR | LF_HAS_XFF))) {
        snprintf(err, errlen, "--format: a format needs a time ($time_local,"
                 " $time_iso8601 or $msec), a path ($request, $request_uri or"
                 " $uri) and the client address ($remote_addr or"
                 " $http_x_forwarded_for)");
        return -1;
    }
    if (imp_country_format(m, msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "--format: %s", msg);
        return -1;
    }
    lf_filter_init(&m->filt);
    m->filt.include_static = m->o.include_static;
    if (m->o.status != NULL
        && lf_filter_set_statuses(&m->filt, m->o.status, msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "--status: %s", msg);
        return -1;
    }
    if (!m->o.keep_bots && (m->bots = bot_matcher_new(msg, sizeof(msg))) == NULL) {
        snprintf(err, errlen, "bot list: %s", msg);
        return -1;
    }
    m->buf_url = malloc(3 * (size_t)LF_LINE_MAX + 16);
    m->buf_ref = malloc(LF_LINE_MAX);
    m->buf_ua = malloc(LF_LINE_MAX);
    if (m->buf_url == NULL || m->buf_ref == NULL || m->buf_ua == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char dir[1024];
    int found = attrs_find_data_dir(m->o.data_dir, dir, sizeof(dir), msg,
                                    sizeof(msg));
    if (found < 0) {
        snprintf(err, errlen, "%s", msg);
        return -1;
    }
    if (found == 0)
        log_warn("enrichment data (uap.json, referers.json) not found; browser,"
                 " OS and device stay empty (use --data-dir DIR)");
    if (db_open(m->o.db_path, DB_RW, &m->d, msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "%s", msg);
        return -1;
    }
    if ((m->s = db_imp_open(m->d, m->lkey)) == NULL) {
        snprintf(err, errlen, "cannot create the import tables in %s: %s",
                 m->o.db_path, db_errmsg(m->d));
        return -1;
    }
    if ((m->x = attrs_new(found ? dir : NULL, msg, sizeof(msg))) == NULL) {
        snprintf(err, errlen, "enrichment data: %s", msg);
        return -1;
    }
    if ((m->g = ingest_new(m->d, m->x)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (db_begin(m->d) != 0
        || (m->site_id = db_site_id(m->d, m->site, m->site_len)) < 0
        || db_commit(m->d) != 0) {
        db_rollback(m->d);
        snprintf(err, errlen, "database: %s", db_errmsg(m->d));
        return -1;
    }
    attrs_reset(m->x);
    m->keys.salt_file = m->o.salt_file;
    vmap_init(&m->occ);
    vmap_init(&m->intern);
    return 0;
}

void
imp_close(imp *m)
{
    if (m->in_tx)
        imp_tx_abort(m);
    imp_keys_wipe(&m->keys);
    crypto_wipe(m->lkey, sizeof(m->lkey));
    ingest_free(m->g);
    attrs_free(m->x);
    db_imp_close(m->s);
    db_close(m->d);
    lf_free(m->fmt);
    lf_free(m->cfmt);
    bot_matcher_free(m->bots);
    vmap_free(&m->occ);
    vmap_free(&m->intern);
    free(m->buf_url);
    free(m->buf_ref);
    if (m->buf_ua)
        crypto_wipe(m->buf_ua, LF_LINE_MAX);
    free(m->buf_ua);
    free(m->recs);
    free(m->arena);
    free(m->istr);
    m->g = NULL;
    m->x = NULL;
    m->s = NULL;
    m->d = NULL;
    m->fmt = NULL;
    m->cfmt = NULL;
    m->bots = NULL;
    m->buf_url = m->buf_ref = m->buf_ua = NULL;
    m->recs = NULL;
    m->arena = NULL;
    m->istr = NULL;
}

/* ---- one line ---- */

void
imp_malformed(imp *m, const char *file, uint64_t lineno, const char *why)
{
    m->sum.reason[LF_SKIP_MALFORMED]++;
    if (m->sum.nshown < IMP_MALFORMED_SHOWN)
        snprintf(m->sum.shown[m->sum.nshown++], sizeof(m->sum.shown[0]),
                 "%s:%llu: %s", file, (unsigned long long)lineno, why);
}

void
imp_file_start(imp *m)
{
    vmap_free(&m->occ);
    vmap_init(&m->occ);
}

/* The bot hook of lf_filter_check: the User-Agent as sent (decoded). */
static int
imp_is_bot(void *ctx, const lf_record *r)
{
    imp *m = ctx;
    size_t n = lf_unescape(r->user_agent.p, r->user_agent.n, m->buf_ua);
    return bot_is_bot(m->bots, m->buf_ua, n);
}

/* The client address as 16 bytes: the first X-Forwarded-For address
 * when the format logs one and it is an address, else $remote_addr.
 * Returns 0 or -1. */
static int
imp_addr(const lf_record *r, unsigned char ip16[16])
{
    if (r->xff.n > 0 && tv_ip_parse(r->xff.p, r->xff.n, ip16) == 0)
        return 0;
    return r->addr.n > 0 ? tv_ip_parse(r->addr.p, r->addr.n, ip16) : -1;
}

/* "https://" host path ["?" query] into m->buf_url; returns its length. */
static size_t
imp_url(imp *m, const lf_record *r)
{
    char *o = m->buf_url;
    memcpy(o, "https://", 8);
    size_t n = 8;
    if (r->host.n > 0) {
        n += lf_unescape(r->host.p, imp_min(r->host.n, LF_LINE_MAX), o + n);
    } else {
        memcpy(o + n, m->site, m->site_len);
        n += m->site_len;
    }
    n += lf_unescape(r->path.p, imp_min(r->path.n, LF_LINE_MAX), o + n);
    if (r->query.n > 0) {
        o[n++] = '?';
        n += lf_unescape(r->query.p, imp_min(r->query.n, LF_LINE_MAX), o + n);
    }
    return n;
}

int
imp_line(imp *m, const char *file, const lf_line *ln, imp_ev *ev, char *err,
         size_t errlen)
{
    m->sum.lines++;
    m->sum.bytes += ln->next - ln->offset;
    if (ln->too_long) {
        imp_malformed(m, file, ln->lineno, "line longer than 64 KiB");
        return 0;
    }
    lf_record r;
    if (lf_parse(m->fmt, ln->p, ln->n, &r) != LF_OK) {
        char why[160];
        imp_malformed(m, file, ln->lineno, lf_strerror(&r, why, sizeof(why)));
        return 0;
    }
    lf_skip s = lf_filter_check(&m->filt, &r, m->bots ? imp_is_bot : NULL, m);
    if (s == LF_SKIP_MALFORMED) {
        imp_malformed(m, file, ln->lineno, "the request has no path");
        return 0;
    }
    if (s != LF_KEEP) {
        m->sum.reason[s]++;
        return 0;
    }
    if (r.time_ms < 0) {
        imp_malformed(m, file, ln->lineno, "time before 1970");
        return 0;
    }
    unsigned char ip16[16];
    if (imp_addr(&r, ip16) != 0) {
        imp_malformed(m, file, ln->lineno, "the client address is not an IP address");
        return 0;
    }
    m->sum.reason[LF_KEEP]++;
    ev->ts = r.time_ms;
    ev->ua = m->buf_ua;
    ev->ua_len = lf_unescape(r.user_agent.p, r.user_agent.n, m->buf_ua);
    const tv_state *k = imp_keys_get(&m->keys, tv_day_of(r.time_ms / 1000),
                                      err, errlen);
    if (k == NULL) {
        crypto_wipe(ip16, sizeof(ip16));
        return -1;
    }
    ev->vid = tv_visitor_id(k, m->site, m->site_len, ip16, ev->ua, ev->ua_len);
    crypto_wipe(ip16, sizeof(ip16));

    /* the ledger hash: (line, how many identical lines came before it in
     * this file), keyed with the database's secret */
    uint64_t h = bot_siphash24(m->lkey, ln->p, ln->n);
    uint32_t *slot = vmap_slot(&m->occ, h ? h : 1);
    if (slot == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint64_t pair[2] = { h, (*slot)++ };
    ev->lh = bot_siphash24(m->lkey, pair, sizeof(pair));

    ev->url = m->buf_url;
    ev->url_len = imp_url(m, &r);
    ev->ref = m->buf_ref;
    ev->ref_len = lf_unescape(r.referer.p, r.referer.n, m->buf_ref);
    imp_country(m, ln->p, ln->n, ev->cc);
    if (m->sum.first_ts == 0 || ev->ts < m->sum.first_ts)
        m->sum.first_ts = ev->ts;
    if (ev->ts > m->sum.last_ts)
        m->sum.last_ts = ev->ts;
    return 1;
}

/* ---- transactions ---- */

int
imp_tx_begin(imp *m)
{
    if (db_begin(m->d) != 0)
        return -1;
    m->in_tx = 1;
    m->tx_events = 0;
    int64_t mine = ingest_hwm(m->g);
    if (mine == 0)
        mine = m->resume_hwm;
    if (db_meta_get(m->d, "hwm_ms", &m->live_hwm) < 0
        || db_meta_set(m->d, "hwm_ms", mine) != 0 || ingest_ready(m->g) != 0) {
        imp_tx_abort(m);
        return -1;
    }
    return 0;
}

int
imp_tx_commit(imp *m)
{
    int64_t mine = ingest_hwm(m->g);
    if (ingest_flush(m->g) != 0
        || db_meta_set(m->d, "hwm_ms", mine > m->live_hwm ? mine : m->live_hwm) != 0
        || db_commit(m->d) != 0) {
        imp_tx_abort(m);
        return -1;
    }
    m->in_tx = 0;
    return 0;
}

void
imp_tx_abort(imp *m)
{
    if (!m->in_tx)
        return;
    db_rollback(m->d);
    ingest_reset(m->g);
    m->in_tx = 0;
}

int
imp_store(imp *m, const imp_ev *ev)
{
    int fresh = db_imp_ledger_add(m->s, m->site_id, ev->ts, ev->lh);
    if (fresh < 0)
        return -1;
    m->tx_events++;
    if (fresh == 0) {
        m->sum.duplicates++;
        return 0;
    }
    spool_event e;
    memset(&e, 0, sizeof(e));
    e.time_ms = (uint64_t)ev->ts;
    e.visitor_id = ev->vid;
    e.field[SPOOL_F_SITE] = (spool_str){ m->site, m->site_len };
    e.field[SPOOL_F_NAME] = (spool_str){ "pageview", 8 };
    e.field[SPOOL_F_URL] = (spool_str){ ev->url, ev->url_len };
    if (ev->ref_len > 0)
        e.field[SPOOL_F_REFERRER] = (spool_str){ ev->ref, ev->ref_len };
    e.field[SPOOL_F_UA] = (spool_str){ ev->ua ? ev->ua : "", ev->ua_len };
    if (ev->cc[0] != '\0')
        e.field[SPOOL_F_COUNTRY] = (spool_str){ ev->cc, 2 };
    const char *why = "invalid";
    int rc = ingest_event(m->g, &e, &why);
    if (rc < 0)
        return -1;
    if (rc == 0)
        m->sum.dropped++;
    else
        m->sum.imported++;
    return 0;
}
