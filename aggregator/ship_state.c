/* ship_state.c -- see ship_state.h. */
#include "aggregator/ship_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
ship_id_cmp(ship_id a, ship_id b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

ship_pos *
ship_state_pos(ship_state *st, const char *name, int create)
{
    for (size_t i = 0; i < st->npos; i++)
        if (strcmp(st->pos[i].name, name) == 0)
            return &st->pos[i];
    if (!create || strlen(name) >= SPOOL_NAME_MAX)
        return NULL;
    if (st->npos == st->cappos) {
        size_t cap = st->cappos ? st->cappos * 2 : 16;
        ship_pos *p = realloc(st->pos, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        st->pos = p;
        st->cappos = cap;
    }
    ship_pos *p = &st->pos[st->npos++];
    memset(p, 0, sizeof(*p));
    strcpy(p->name, name);
    return p;
}

void
ship_state_forget(ship_state *st, const char *name)
{
    for (size_t i = 0; i < st->npos; i++) {
        if (strcmp(st->pos[i].name, name) == 0) {
            st->pos[i] = st->pos[--st->npos];
            return;
        }
    }
}

int
ship_state_add_range(ship_state *st, const ship_range *r)
{
    if (st->nrng == st->caprng) {
        size_t cap = st->caprng ? st->caprng * 2 : 16;
        ship_range *p = realloc(st->rng, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        st->rng = p;
        st->caprng = cap;
    }
    st->rng[st->nrng++] = *r;
    return 0;
}

void
ship_state_free(ship_state *st)
{
    free(st->pos);
    free(st->rng);
    memset(st, 0, sizeof(*st));
}

static int
load_err(char *err, size_t errlen, const char *path, int line, const char *why)
{
    snprintf(err, errlen, "%s:%d: %s", path, line, why);
    return -1;
}

int
ship_state_load(const char *path, ship_state *st, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[512], name[128];
    int ln = 0, ended = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        ln++;
        uint64_t a, b, c;
        int d;
        char edge[128];
        if (ln == 1) {
            if (strcmp(line, "tally-ship 1\n") != 0)
                rc = load_err(err, errlen, path, ln, "not a tally ship state file");
        } else if (ended) {
            rc = load_err(err, errlen, path, ln, "text after 'end'");
        } else if (strcmp(line, "end\n") == 0) {
            ended = 1;
        } else if (sscanf(line, "edge %100s", edge) == 1) {
            if (!rsrc_edge_valid(edge))
                rc = load_err(err, errlen, path, ln, "bad edge name");
            else
                strcpy(st->edge, edge);
        } else if (sscanf(line, "last %" SCNu64 " %" SCNu64, &a, &b) == 2) {
            st->last = (ship_id){ a, b };
        } else if (sscanf(line, "seg %100s %" SCNu64 " %d", name, &a, &d) == 3) {
            ship_pos *p;
            if (!spool_segment_name_valid(name) || strlen(name) >= SPOOL_NAME_MAX)
                rc = load_err(err, errlen, path, ln, "bad segment name");
            else if ((p = ship_state_pos(st, name, 1)) == NULL)
                rc = load_err(err, errlen, path, ln, "out of memory");
            else {
                p->off = a;
                p->finished = d != 0;
            }
        } else if (sscanf(line, "plan %" SCNu64 " %" SCNu64, &a, &b) == 2) {
            st->has_plan = 1;
            st->plan = (ship_id){ a, b };
        } else if (sscanf(line, "range %100s %" SCNu64 " %" SCNu64 " %" SCNu64 " %d",
                          name, &a, &b, &c, &d) == 5) {
            ship_range r = { .from = a, .count = (uint32_t)b, .end = c, .done = d != 0 };
            if (!st->has_plan || !spool_segment_name_valid(name)
                || strlen(name) >= SPOOL_NAME_MAX || b > UINT32_MAX)
                rc = load_err(err, errlen, path, ln, "bad plan range");
            else {
                strcpy(r.name, name);
                if (ship_state_add_range(st, &r) != 0)
                    rc = load_err(err, errlen, path, ln, "out of memory");
            }
        } else {
            rc = load_err(err, errlen, path, ln, "unrecognised line");
        }
    }
    fclose(f);
    if (rc == 0 && !ended)
        rc = load_err(err, errlen, path, ln, "truncated (no 'end' line)");
    if (rc == 0 && st->edge[0] == '\0')
        rc = load_err(err, errlen, path, ln, "no edge name");
    return rc;
}

/* fsyncs the directory holding path. */
static int
sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else if ((size_t)(slash - path) < sizeof(dir)) {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    } else {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int
ship_state_save(const char *path, const ship_state *st)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return -1;
    fprintf(f, "tally-ship 1\nedge %s\nlast %" PRIu64 " %" PRIu64 "\n",
            st->edge, st->last.ms, st->last.seq);
    for (size_t i = 0; i < st->npos; i++)
        fprintf(f, "seg %s %" PRIu64 " %d\n", st->pos[i].name, st->pos[i].off,
                st->pos[i].finished);
    if (st->has_plan) {
        fprintf(f, "plan %" PRIu64 " %" PRIu64 "\n", st->plan.ms, st->plan.seq);
        for (size_t i = 0; i < st->nrng; i++) {
            const ship_range *r = &st->rng[i];
            fprintf(f, "range %s %" PRIu64 " %" PRIu32 " %" PRIu64 " %d\n",
                    r->name, r->from, r->count, r->end, r->done);
        }
    }
    fputs("end\n", f);
    int saved;
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
        saved = errno;
        fclose(f);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return sync_dir(path);
}
