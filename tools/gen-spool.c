/*
 * gen-spool.c -- writes a realistic synthetic Tally spool, for tests and
 * bench/drain.
 *
 *   gen-spool --out DIR [--events N] [--sites S] [--writers W] [--days D]
 *             [--start-day DAY] [--seed X] [--live]
 *
 * Visits (not independent events): a site (weighted), a person (Zipf:
 * some come back several times a day; the visitor id is a hash of person,
 * site and UTC day, as daily salts make it), a start time over D days with
 * a day/night curve, a real User-Agent mix (about 2% bots), a country, an
 * acquisition (direct, search, social, referral, or UTM-tagged campaign
 * URL), then a geometric number of pageviews over Zipf-distributed pages
 * (500 per site) with exponential gaps (mean 90 s; now and then a gap over
 * 30 minutes, which must split the visit), custom events (Signup,
 * Download with props, an Outbound Link) and a few non-interactive ones.
 * All events are sorted by time and dealt to W writers (fake pids, one
 * segment file each, rotated every 8 MiB), one record per event -- so
 * events of different writers interleave in time like NGINX workers'.
 * Segments get ".done" markers unless --live.  Prints "events N" on
 * stdout.  Deterministic for a given seed.
 */
#include "spool/spool.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPAGES 500
#define SEG_MAX (8u << 20)

static uint64_t rng_s;

static uint64_t
rnd(void)
{
    uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double
unif(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static uint64_t
mix(uint64_t a, uint64_t b)
{
    uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const char *const uas[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.2151.97",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
};
static const double ua_w[] = { 30, 8, 10, 18, 12, 4, 4, 3, 4, 5, 2 };

static const char *const countries[] = { "US", "DE", "GB", "FR", "IN", "BR", "JP", "NL", "CA", "ES", "PL", "SE" };
static const double country_w[] = { 30, 12, 10, 8, 8, 6, 5, 5, 5, 4, 4, 3 };

static const char *const referrers[] = {
    NULL,                                       /* direct */
    "https://www.google.com/",
    "https://www.bing.com/search?q=tally",
    "https://duckduckgo.com/",
    "https://t.co/abc123",
    "https://news.ycombinator.com/item?id=123",
    "https://www.reddit.com/r/selfhosted/comments/x/",
    "https://github.com/tally/tally",
    "https://blog.example.net/2024/analytics",
    "https://mail.google.com/mail/u/0/",
};
static const double ref_w[] = { 40, 25, 3, 3, 5, 4, 4, 3, 3, 2 };

static const char *const utms[] = {
    "?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
    "?utm_source=twitter&utm_medium=social&utm_campaign=launch&utm_content=v1",
    "?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=web+analytics&gclid=x1",
    "?ref=producthunt",
};

static int
pick(const double *w, int n)
{
    double t = 0;
    for (int i = 0; i < n; i++)
        t += w[i];
    double x = unif() * t;
    for (int i = 0; i < n; i++) {
        if ((x -= w[i]) < 0)
            return i;
    }
    return n - 1;
}

static double zipf_cdf[NPAGES];

static int
zipf_page(void)
{
    double x = unif();
    int lo = 0, hi = NPAGES - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (zipf_cdf[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct {
    uint64_t t, vid;
    uint16_t site, page, kind;   /* kind: 0 pageview, 1 signup, 2 download, 3 outbound, 4 non-interactive */
    uint8_t  ua, country, ref, utm, first;
} gev;

static int
gev_cmp(const void *a, const void *b)
{
    const gev *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->vid != y->vid)
        return x->vid < y->vid ? -1 : 1;
    return 0;
}

typedef struct {
    int      fd;
    char     name[SPOOL_NAME_MAX];
    uint64_t size;
    uint32_t pid;
    uint64_t created;
} writer;

static const char *outdir;
static int live;

static void
writer_open(writer *w, uint64_t created_us)
{
    w->created = created_us;
    w->fd = spool_segment_create(outdir, w->pid, created_us, 0, w->name);
    if (w->fd < 0) {
        fprintf(stderr, "gen-spool: cannot create a segment in %s: %s\n", outdir,
                strerror(errno));
        exit(1);
    }
    w->size = SPOOL_SEG_HDR_SIZE;
}

static void
writer_close(writer *w)
{
    close(w->fd);
    if (!live)
        spool_segment_finish(outdir, w->name, 0);
}

int
main(int argc, char **argv)
{
    uint64_t nev = 200000, seed = 42;
    int nsites = 3, nwriters = 4, days = 3;
    int64_t start_day = 19800;                  /* 2024-03-18 */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--live") == 0) { live = 1; continue; }
        if (v == NULL) { fprintf(stderr, "gen-spool: %s needs a value\n", a); return 2; }
        if (strcmp(a, "--out") == 0) outdir = v;
        else if (strcmp(a, "--events") == 0) nev = strtoull(v, NULL, 10);
        else if (strcmp(a, "--sites") == 0) nsites = atoi(v);
        else if (strcmp(a, "--writers") == 0) nwriters = atoi(v);
        else if (strcmp(a, "--days") == 0) days = atoi(v);
        else if (strcmp(a, "--start-day") == 0) start_day = strtoll(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0) seed = strtoull(v, NULL, 10);
        else { fprintf(stderr, "gen-spool: unknown flag %s\n", a); return 2; }
        i++;
    }
    if (outdir == NULL || nev == 0 || nsites < 1 || nsites > 1000 || nwriters < 1
        || nwriters > 64 || days < 1) {
        fprintf(stderr, "usage: gen-spool --out DIR [--events N] [--sites S]"
                " [--writers W] [--days D] [--start-day DAY] [--seed X] [--live]\n");
        return 2;
    }
    mkdir(outdir, 0755);
    rng_s = seed;
    double t = 0;
    for (int i = 0; i < NPAGES; i++)
        zipf_cdf[i] = (t += 1.0 / pow(i + 1, 1.1));
    for (int i = 0; i < NPAGES; i++)
        zipf_cdf[i] /= t;

    gev *ev = malloc((nev + 64) * sizeof(*ev));
    if (ev == NULL)
        return 1;
    uint64_t n = 0, persons = nev / 8 + 10;
    int64_t t0 = start_day * 86400000LL, span = (int64_t)days * 86400000LL;
    while (n < nev) {
        /* a visit */
        int site = (int)(pow(unif(), 2.0) * nsites);
        uint64_t person = (uint64_t)(pow(unif(), 1.5) * (double)persons);
        int64_t st;
        do {                                     /* day/night curve */
            st = (int64_t)(unif() * (double)span);
        } while (unif() > 0.35 + 0.65 * sin(M_PI * (double)(st % 86400000) / 86400000.0));
        int ua = pick(ua_w, (int)(sizeof(ua_w) / sizeof(ua_w[0])));
        int country = pick(country_w, (int)(sizeof(country_w) / sizeof(country_w[0])));
        int ref = pick(ref_w, (int)(sizeof(ref_w) / sizeof(ref_w[0])));
        int utm = unif() < 0.12 ? 1 + (int)(unif() * 4) : 0;
        int npv = 1;
        while (npv < 40 && unif() < 0.62)
            npv++;
        int64_t now = t0 + st;
        for (int p = 0; p < npv && n < nev; p++) {
            if (p > 0) {
                double gap = -log(1.0 - unif()) * 90000.0;
                if (unif() < 0.02)
                    gap += 31 * 60000.0;          /* idle: a new visit */
                now += (int64_t)gap + 1;
            }
            uint64_t day = (uint64_t)(now / 86400000LL);
            gev e = {
                .t = (uint64_t)now,
                .vid = mix(mix(person, (uint64_t)site), day),
                .site = (uint16_t)site, .page = (uint16_t)zipf_page(), .kind = 0,
                .ua = (uint8_t)ua, .country = (uint8_t)country,
                .ref = (uint8_t)(p == 0 ? ref : 0xff),
                .utm = (uint8_t)(p == 0 ? utm : 0), .first = p == 0,
            };
            ev[n++] = e;
            double r = unif();
            if (n < nev && r < 0.10) {
                gev c = e;
                c.t += 1 + (uint64_t)(unif() * 20000);
                c.kind = r < 0.03 ? 1 : r < 0.06 ? 2 : r < 0.09 ? 3 : 4;
                c.utm = 0;
                c.ref = 0xff;
                ev[n++] = c;
            }
        }
    }
    qsort(ev, n, sizeof(*ev), gev_cmp);

    writer *ws = calloc((size_t)nwriters, sizeof(*ws));
    for (int w = 0; w < nwriters; w++) {
        ws[w].pid = 4000000 + (uint32_t)w;       /* above pid_max: never alive */
        writer_open(&ws[w], (uint64_t)t0 * 1000 + (uint64_t)w);
    }
    static unsigned char buf[1 << 16];
    char url[1024], props[256], site_name[64];
    for (uint64_t i = 0; i < n; i++) {
        const gev *e = &ev[i];
        writer *w = &ws[rnd() % (uint64_t)nwriters];
        snprintf(site_name, sizeof(site_name), "site%u.example", e->site);
        snprintf(url, sizeof(url), "https://%s%s/%s/%u%s",
                 e->page % 7 == 0 ? "www." : "", site_name,
                 e->page < 20 ? "docs" : e->page < 100 ? "blog" : "p", e->page,
                 e->utm ? utms[e->utm - 1] : "");
        spool_event se;
        memset(&se, 0, sizeof(se));
        se.time_ms = e->t;
        se.visitor_id = e->vid;
        static const char *const names[] = { "pageview", "Signup", "Download",
                                             "Outbound Link: Click", "Scroll" };
        se.field[SPOOL_F_SITE] = (spool_str){ site_name, strlen(site_name) };
        se.field[SPOOL_F_NAME] = (spool_str){ names[e->kind], strlen(names[e->kind]) };
        se.field[SPOOL_F_URL] = (spool_str){ url, strlen(url) };
        se.field[SPOOL_F_UA] = (spool_str){ uas[e->ua], strlen(uas[e->ua]) };
        se.field[SPOOL_F_COUNTRY] = (spool_str){ countries[e->country], 2 };
        char refbuf[256];
        if (e->ref != 0xff && referrers[e->ref]) {
            se.field[SPOOL_F_REFERRER] = (spool_str){ referrers[e->ref], strlen(referrers[e->ref]) };
        } else if (!e->first) {
            snprintf(refbuf, sizeof(refbuf), "https://%s/", site_name);
            se.field[SPOOL_F_REFERRER] = (spool_str){ refbuf, strlen(refbuf) };
        }
        if (e->kind == 2) {
            snprintf(props, sizeof(props), "{\"file\":\"tally-%u.tar.gz\",\"plan\":\"%s\"}",
                     e->page % 5, e->page % 3 ? "free" : "pro");
            se.field[SPOOL_F_PROPS] = (spool_str){ props, strlen(props) };
        } else if (e->kind == 1) {
            snprintf(props, sizeof(props), "{\"plan\":\"%s\"}", e->vid % 4 ? "free" : "pro");
            se.field[SPOOL_F_PROPS] = (spool_str){ props, strlen(props) };
        } else if (e->kind == 4) {
            se.field[SPOOL_F_INTERACTIVE] = (spool_str){ "0", 1 };
        }
        size_t len = spool_record_encode(&se, 1, buf, sizeof(buf));
        if (len == 0) {
            fprintf(stderr, "gen-spool: cannot encode event %" PRIu64 "\n", i);
            return 1;
        }
        if (w->size + len > SEG_MAX) {
            writer_close(w);
            writer_open(w, e->t * 1000 + (uint64_t)(w - ws));
        }
        int ok;
        if (spool_segment_append(w->fd, buf, len, &ok) != 0) {
            fprintf(stderr, "gen-spool: write failed: %s\n", strerror(errno));
            return 1;
        }
        w->size += len;
    }
    for (int w = 0; w < nwriters; w++)
        writer_close(&ws[w]);
    printf("events %" PRIu64 "\n", n);
    free(ws);
    free(ev);
    return 0;
}
