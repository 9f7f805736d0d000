/* drain_dir.c -- the spool directory side of the drain: listing
 * segments, forgetting rows of deleted ones, deleting consumed ones. */
#include "aggregator/drain_int.h"
#include "aggregator/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
drain_on_corrupt(void *ctx, const char *segment, uint64_t offset,
                 const char *why)
{
    drain *dr = ctx;
    dr->corrupt_total++;
    if (dr->cur)
        dr->cur->corrupt++;
    log_warn("drain: corrupt record in segment %s at offset %llu: %s; skipped",
             segment, (unsigned long long)offset, why ? why : "invalid");
}

/* Builds "<dir>/<name><suffix>" into out.  Returns 0, or -1 if it does
 * not fit. */
int
drain_path(char *out, size_t cap, const char *dir, const char *name,
           const char *suffix)
{
    int n = snprintf(out, cap, "%s/%s%s", dir, name, suffix);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int
drain_cmp(const void *a, const void *b)
{
    return strcmp(((const drain_name *)a)->name, ((const drain_name *)b)->name);
}

int
drain_list(const char *dir, drain_name **out, size_t *n)
{
    DIR *dp = opendir(dir);
    if (dp == NULL) {
        log_error("drain: cannot open spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    drain_name *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (!spool_segment_name_valid(de->d_name)
            || strlen(de->d_name) >= SPOOL_NAME_MAX)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 32;
            drain_name *p = realloc(v, cap * sizeof(*p));
            if (p == NULL) {
                free(v);
                closedir(dp);
                return -1;
            }
            v = p;
        }
        strcpy(v[cnt++].name, de->d_name);
    }
    closedir(dp);
    if (cnt > 1)            /* qsort(NULL, 0, ...) is undefined (UBSan) */
        qsort(v, cnt, sizeof(*v), drain_cmp);
    *out = v;
    *n = cnt;
    return 0;
}

static int
drain_listed(const drain_name *v, size_t n, const char *name)
{
    drain_name key;
    if (strlen(name) >= sizeof(key.name))
        return 0;
    strcpy(key.name, name);
    return n > 0 && bsearch(&key, v, n, sizeof(*v), drain_cmp) != NULL;
}

typedef struct {
    drain            *dr;
    const drain_name *v;
    size_t            n;
    drain_name       *gone;
    size_t            ngone, capgone;
} drain_gone_ctx;

static int
drain_collect_gone(void *ctx, const char *segment, uint64_t offset, int finished)
{
    (void)offset;
    (void)finished;
    drain_gone_ctx *g = ctx;
    if (drain_listed(g->v, g->n, segment) || strlen(segment) >= SPOOL_NAME_MAX)
        return 0;
    char path[PATH_MAX];
    struct stat sb;
    if (drain_path(path, sizeof(path), g->dr->dir, segment, "") != 0
        || stat(path, &sb) == 0)
        return 0;                      /* appeared after the listing */
    if (g->ngone == g->capgone) {
        g->capgone = g->capgone ? g->capgone * 2 : 16;
        drain_name *p = realloc(g->gone, g->capgone * sizeof(*p));
        if (p == NULL)
            return -1;
        g->gone = p;
    }
    strcpy(g->gone[g->ngone++].name, segment);
    return 0;
}

/* Deletes the spool_pos rows of segments whose files are gone. */
int
drain_forget_gone(drain *dr, const drain_name *v, size_t n)
{
    drain_gone_ctx g = { .dr = dr, .v = v, .n = n };
    int rc = db_pos_each(dr->d, drain_collect_gone, &g);
    if (rc == 0 && g.ngone > 0) {
        if (db_begin(dr->d) != 0) {
            rc = -1;
        } else {
            for (size_t i = 0; i < g.ngone && rc == 0; i++)
                rc = db_pos_delete(dr->d, g.gone[i].name);
            if (rc == 0)
                rc = db_commit(dr->d);
            else
                db_rollback(dr->d);
        }
        if (rc == 0)
            log_debug("drain: forgot %zu deleted segments", g.ngone);
    }
    free(g.gone);
    return rc == 0 ? 0 : -1;
}

/* Unlinks a consumed finished segment and then its marker. */
void
drain_unlink(drain *dr, const char *name, drain_stats *st)
{
    char path[PATH_MAX];
    if (drain_path(path, sizeof(path), dr->dir, name, "") != 0)
        return;
    if (unlink(path) != 0 && errno != ENOENT) {
        log_warn("drain: cannot delete consumed segment %s: %s", name, strerror(errno));
        return;
    }
    if (drain_path(path, sizeof(path), dr->dir, name, ".done") == 0
        && unlink(path) != 0 && errno != ENOENT)
        log_warn("drain: cannot delete marker %s.done: %s", name, strerror(errno));
    st->segments_deleted++;
    log_info("drain: deleted consumed segment %s", name);
}

/* Removes ".done" markers whose segment no longer exists. */
void
drain_orphan_markers(drain *dr)
{
    DIR *dp = opendir(dr->dir);
    if (dp == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l <= 5 || l >= SPOOL_NAME_MAX + 5
            || strcmp(de->d_name + l - 5, ".done") != 0)
            continue;
        char seg[SPOOL_NAME_MAX + 8], path[PATH_MAX];
        memcpy(seg, de->d_name, l - 5);
        seg[l - 5] = '\0';
        if (!spool_segment_name_valid(seg))
            continue;
        struct stat sb;
        if (drain_path(path, sizeof(path), dr->dir, seg, "") != 0
            || stat(path, &sb) == 0 || errno != ENOENT)
            continue;
        if (drain_path(path, sizeof(path), dr->dir, de->d_name, "") == 0)
            unlink(path);
    }
    closedir(dp);
}

