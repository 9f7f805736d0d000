/* import_cli.c -- `tallyd import`: flags, progress on a terminal, the
 * summary (see import.h). */
#include "aggregator/import.h"
#include "aggregator/cli.h"
#include "aggregator/import_int.h"
#include "aggregator/log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int imp_stop_flag;

static void
imp_on_signal(int sig)
{
    (void)sig;
    atomic_store(&imp_stop_flag, 1);
}

static double
imp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- progress ---- */

static const char *imp_phase;
static double imp_phase_t0;

void
imp_progress(imp *m, const char *what, uint64_t done, uint64_t total,
             uint64_t bytes, uint64_t size, int final)
{
    if (!m->o.progress)
        return;
    double now = imp_now();
    if (what != imp_phase) {
        imp_phase = what;
        imp_phase_t0 = now;
    }
    if (!final && now < m->prog_next)
        return;
    m->prog_next = now + 0.25;
    double el = now - imp_phase_t0;
    double rate = el > 0 ? done / el : 0;
    char eta[48] = "";
    double frac = total ? (double)done / total : size ? (double)bytes / size : 0;
    if (!final && frac > 0.001 && frac < 1)
        snprintf(eta, sizeof(eta), ", ETA %.0f s", el / frac - el);
    if (total)
        fprintf(stderr, "\r%s: %llu/%llu pageviews, %.0f/s%s\033[K", what,
                (unsigned long long)done, (unsigned long long)total, rate, eta);
    else
        fprintf(stderr, "\rreading %s: %llu lines, %.1f MB, %.0f lines/s%s\033[K",
                what, (unsigned long long)done, bytes / 1e6, rate, eta);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

/* ---- summary ---- */

static void
imp_iso(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
imp_summary(const imp *m, double secs, FILE *out)
{
    const imp_sum *s = &m->sum;
    fprintf(out, "tallyd import: %s: %llu lines read (%.1f MB, %llu file%s) in"
            " %.2f s, %.0f lines/s\n", m->site, (unsigned long long)s->lines,
            s->bytes / 1e6, (unsigned long long)s->files, s->files == 1 ? "" : "s",
            secs, secs > 0 ? s->lines / secs : 0.0);
    fprintf(out, "  pageviews: %llu imported, %llu duplicates skipped, %llu"
            " dropped by the pipeline (bot)\n", (unsigned long long)s->imported,
            (unsigned long long)s->duplicates, (unsigned long long)s->dropped);
    fprintf(out, "  skipped:");
    static const lf_skip order[] = { LF_SKIP_MALFORMED, LF_SKIP_METHOD,
                                     LF_SKIP_STATUS, LF_SKIP_ROBOTS,
                                     LF_SKIP_STATIC, LF_SKIP_BOT };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        fprintf(out, "%s %s %llu", i ? "," : "", lf_skip_name(order[i]),
                (unsigned long long)s->reason[order[i]]);
    fputc('\n', out);
    if (s->reason[LF_SKIP_MALFORMED] > 0) {
        fprintf(out, "  malformed lines (%llu in all, first %llu):\n",
                (unsigned long long)s->reason[LF_SKIP_MALFORMED],
                (unsigned long long)s->nshown);
        for (uint64_t i = 0; i < s->nshown; i++)
            fprintf(out, "    %s\n", s->shown[i]);
    }
    if (s->last_ts > 0) {
        char a[32], b[32];
        imp_iso(s->first_ts, a, sizeof(a));
        imp_iso(s->last_ts, b, sizeof(b));
        fprintf(out, "  pageview times: %s .. %s\n", a, b);
    }
    if (m->o.follow)
        fprintf(out, "  rotations and truncations followed: %llu\n",
                (unsigned long long)s->restarts);
}

/* ---- flags ---- */

static int
imp_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "tallyd import: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun 'tallyd --help' for usage.\n");
    return CLI_USAGE;
}

static int
imp_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int
imp_main(int argc, char **argv)
{
    static const char *const valued[] = { "--db", "--site", "--format",
        "--status", "--follow", "--salt-file", "--data-dir", "--batch",
        "--poll-ms", "--log-level", NULL };
    imp_opts o = { .format = "combined", .batch = 50000, .poll_ms = 250 };
    const char **files = calloc((size_t)argc + 1, sizeof(*files));
    int nfiles = 0, nstdin = 0;
    const char *batch = NULL, *poll = NULL, *level = NULL;
    if (files == NULL)
        return CLI_ERR;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--include-static") == 0) { o.include_static = 1; continue; }
        if (strcmp(a, "--keep-bots") == 0) { o.keep_bots = 1; continue; }
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            nstdin += strcmp(a, "-") == 0;
            files[nfiles++] = a;
            continue;
        }
        size_t k = 0;
        char name[32];
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof(name)) {
            free(files);
            return imp_usage("unknown flag '%s'", a);
        }
        memcpy(name, a, nl);
        name[nl] = '\0';
        while (valued[k] && strcmp(valued[k], name) != 0)
            k++;
        if (valued[k] == NULL) {
            free(files);
            return imp_usage("unknown flag '%s'", a);
        }
        if (eq)
            v = eq + 1;
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            free(files);
            return imp_usage("%s needs a value", name);
        }
        const char **slot[] = { &o.db_path, &o.site, &o.format, &o.status,
                                &o.follow, &o.salt_file, &o.data_dir, &batch,
                                &poll, &level };
        *slot[k] = v;
    }
    int rc = CLI_USAGE;
    enum log_level lv = LOG_INFO;
    if (o.db_path == NULL || o.site == NULL)
        rc = imp_usage("%s", "import needs --db FILE and --site DOMAIN");
    else if ((nfiles == 0) == (o.follow == NULL))
        rc = imp_usage("%s", "import needs input FILEs (\"-\" for stdin) or"
                       " --follow FILE, not both");
    else if (nstdin > 1)
        rc = imp_usage("%s", "stdin (\"-\") can be read only once");
    else if (batch && imp_uint(batch, 1, 10000000, &o.batch) != 0)
        rc = imp_usage("--batch must be 1..10000000, not '%s'", batch);
    else if (poll && imp_uint(poll, 1, 60000, &o.poll_ms) != 0)
        rc = imp_usage("--poll-ms must be 1..60000, not '%s'", poll);
    else if (level && log_level_parse(level, &lv) != 0)
        rc = imp_usage("--log-level must be debug, info, warn or error, not '%s'",
                       level);
    else
        rc = CLI_OK;
    if (rc != CLI_OK) {
        free(files);
        return rc;
    }
    log_set_level(lv);
    o.progress = isatty(2);
    /* the follower's position is stored under the absolute path, so a
     * restart from another directory finds it */
    char cwd[4096], abs[8192];
    if (o.follow && o.follow[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL
        && (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, o.follow) < sizeof(abs))
        o.follow = abs;

    imp *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        free(files);
        return CLI_ERR;
    }
    m->o = o;
    m->stop = &imp_stop_flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = imp_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char err[1024] = "";
    double t0 = imp_now();
    rc = CLI_OK;
    if (imp_open(m, err, sizeof(err)) != 0) {
        fprintf(stderr, "tallyd import: %s\n", err);
        rc = strncmp(err, "--", 2) == 0 ? CLI_USAGE : CLI_ERR;
    } else if (o.follow) {
        if (imp_follow(m, err, sizeof(err)) != 0)
            rc = CLI_ERR;
    } else {
        for (int i = 0; i < nfiles && rc == CLI_OK; i++)
            if (imp_read_file(m, files[i], err, sizeof(err)) != 0)
                rc = CLI_ERR;
        if (rc == CLI_OK && imp_store_queued(m, err, sizeof(err)) != 0)
            rc = CLI_ERR;
    }
    if (rc == CLI_ERR)
        log_error("import: %s", err);
    if (rc != CLI_USAGE && m->d != NULL)
        imp_summary(m, imp_now() - t0, stdout);
    imp_close(m);
    free(m);
    free(files);
    return rc;
}
