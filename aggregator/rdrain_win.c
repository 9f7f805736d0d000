/* rdrain_win.c -- the read-ahead window of each stream, its sub-streams
 * per writer pid, and the positions (see rdrain_int.h). */
#include "aggregator/rdrain_int.h"
#include "aggregator/db_streams.h"
#include "aggregator/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Grows *v (elements of size sz, *cap of them) to hold need.  0 or -1. */
static int
grow(void *v, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*(void **)v, c * sz);
    if (p == NULL)
        return -1;
    *(void **)v = p;
    *cap = c;
    return 0;
}

static rd_sub *
sub_get(rd_stream *s, uint32_t key)
{
    for (size_t i = 0; i < s->nsubs; i++)
        if (s->subs[i].key == key)
            return &s->subs[i];
    if (grow(&s->subs, &s->capsubs, s->nsubs + 1, sizeof(*s->subs)) != 0)
        return NULL;
    rd_sub *b = &s->subs[s->nsubs++];
    memset(b, 0, sizeof(*b));
    b->key = key;
    return b;
}

/* The writer pid in a segment name "seg-<16 hex>-<8 hex>.tsp". */
static uint32_t
seg_pid(const char *seg)
{
    uint32_t pid;
    if (spool_segment_name_parse(seg, NULL, &pid) != 0)
        return RD_SUB_NONE;
    return pid;
}

int
rd_stream_add(rdrain *rd, const char *name)
{
    if (grow(&rd->s, &rd->cap, rd->ns + 1, sizeof(*rd->s)) != 0)
        return -1;
    rd_stream *s = calloc(1, sizeof(*s));
    char *ahead = NULL;
    if (s == NULL)
        return -1;
    snprintf(s->name, sizeof(s->name), "%s", name);
    if (db_streams_get(rd->d, name, s->pos_c, sizeof(s->pos_c), &s->n_c,
                       &ahead) < 0) {
        free(s);
        return -1;
    }
    /* "PID:ID PID:ID ..." */
    for (char *tok = strtok(ahead, " "); tok; tok = strtok(NULL, " ")) {
        char *colon = strchr(tok, ':');
        uint64_t ms, seq;
        if (colon == NULL || rsrc_id_parse(colon + 1, &ms, &seq) != 0)
            continue;
        *colon = '\0';
        rd_sub *b = sub_get(s, (uint32_t)strtoul(tok, NULL, 16));
        if (b == NULL) {
            free(ahead);
            rd_stream_free(s);
            return -1;
        }
        snprintf(b->committed, sizeof(b->committed), "%s", colon + 1);
    }
    free(ahead);
    s->dirty = s->n_c > 0;             /* publish what a backup carried */
    rd_rewind(s);
    rd->s[rd->ns++] = s;
    log_info("rdrain: stream %s: resuming after entry %s (%llu applied)",
             name, s->pos_c, (unsigned long long)s->n_c);
    return 0;
}

static void
win_clear(rd_stream *s)
{
    for (size_t i = s->whead; i < s->wlen; i++) {
        free(s->win[i]->rec);
        free(s->win[i]);
    }
    s->whead = s->wlen = 0;
    for (size_t i = 0; i < s->nsubs; i++)
        s->subs[i].qhead = s->subs[i].qlen = 0;
}

void
rd_stream_free(rd_stream *s)
{
    if (s == NULL)
        return;
    win_clear(s);
    for (size_t i = 0; i < s->nsubs; i++)
        free(s->subs[i].q);
    free(s->subs);
    free(s->win);
    free(s);
}

void
rd_rewind(rd_stream *s)
{
    win_clear(s);
    strcpy(s->pos, s->pos_c);
    s->n = s->n_c;
    for (size_t i = 0; i < s->nsubs; i++)
        strcpy(s->subs[i].last, s->subs[i].committed);
    strcpy(s->readpos, s->pos);
    s->exhausted = 0;
}

void
rd_committed(rd_stream *s)
{
    if (s->n != s->n_c)
        s->dirty = 1;
    strcpy(s->pos_c, s->pos);
    s->n_c = s->n;
    for (size_t i = 0; i < s->nsubs; i++)
        strcpy(s->subs[i].committed, s->subs[i].last);
}

char *
rd_ahead(const rd_stream *s)
{
    size_t cap = 1 + s->nsubs * (10 + RSRC_ID_MAX), o = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < s->nsubs; i++) {
        const rd_sub *b = &s->subs[i];
        if (b->last[0] && rsrc_id_cmp(b->last, s->pos) > 0)
            o += (size_t)snprintf(out + o, cap - o, "%s%08" PRIx32 ":%s",
                                  o ? " " : "", b->key, b->last);
    }
    return out;
}

/* rsrc_read callback: one entry into the window and its sub-stream. */
static int
on_entry(void *ctx, const char *id, const unsigned char *rec, size_t len,
         const char *seg, uint64_t off)
{
    rd_stream *s = ((void **)ctx)[0];
    rdrain *rd = ((void **)ctx)[1];
    rd_entry *e = calloc(1, sizeof(*e));
    rd_sub *b = sub_get(s, seg_pid(seg));
    if (b != NULL && b->qhead > 0 && b->qlen == b->qcap) {
        memmove(b->q, b->q + b->qhead, (b->qlen - b->qhead) * sizeof(*b->q));
        b->qlen -= b->qhead;
        b->qhead = 0;
    }
    if (e == NULL || b == NULL
        || grow(&s->win, &s->wcap, s->wlen + 1, sizeof(*s->win)) != 0
        || grow(&b->q, &b->qcap, b->qlen + 1, sizeof(*b->q)) != 0) {
        free(e);
        rd->oom = 1;
        return 1;
    }
    snprintf(e->id, sizeof(e->id), "%s", id);
    snprintf(e->seg, sizeof(e->seg), "%s", seg);
    e->off = off;
    e->sub = b->key;
    if (b->last[0] && rsrc_id_cmp(id, b->last) <= 0) {
        e->applied = 1;               /* applied above P before: skip */
    } else if (rec == NULL) {
        e->why = "the entry has no record field \"r\"";
    } else {
        size_t rl = 0, n = 0;
        const char *why = "corrupt";
        spool_status st = spool_record_decode(rec, len, &rl, rd->ev, &n, &why);
        if (st == SPOOL_INCOMPLETE)
            e->why = "record truncated";
        else if (st != SPOOL_OK)
            e->why = why;
        else if (rl != len)
            e->why = "bytes after the record";
        else if ((e->rec = malloc(len)) == NULL) {
            free(e);
            rd->oom = 1;
            return 1;
        } else {
            memcpy(e->rec, rec, len);
            e->len = len;
            e->t = rd->ev[0].time_ms;
        }
    }
    s->win[s->wlen++] = e;
    if (!e->applied)
        b->q[b->qlen++] = e;
    snprintf(s->readpos, sizeof(s->readpos), "%s", id);
    return 0;
}

/* Moves P over the applied entries at the front of the window. */
static void
advance(rd_stream *s)
{
    while (s->whead < s->wlen && s->win[s->whead]->applied) {
        rd_entry *e = s->win[s->whead++];
        strcpy(s->pos, e->id);
        s->n++;
        free(e->rec);
        free(e);
    }
    if (s->whead == s->wlen)
        s->whead = s->wlen = 0;
    else if (s->whead > 4096 && s->whead * 2 > s->wlen) {
        memmove(s->win, s->win + s->whead, (s->wlen - s->whead) * sizeof(*s->win));
        s->wlen -= s->whead;
        s->whead = 0;
    }
}

int
rd_top_up(rdrain *rd, rd_stream *s)
{
    while (!s->exhausted && s->wlen - s->whead < RD_WIN_MAX) {
        void *ctx[2] = { s, rd };
        size_t room = RD_WIN_MAX - (s->wlen - s->whead);
        rd->oom = 0;
        int n = rsrc_read(rd->src, s->name, s->readpos,
                          room < RD_READ ? room : RD_READ, 0, on_entry, ctx,
                          NULL);
        if (rd->oom) {
            log_error("rdrain: out of memory reading stream %s", s->name);
            return -1;
        }
        if (n < 0)
            return -1;
        if (n == 0)
            s->exhausted = 1;
        advance(s);                   /* skipped entries at the front */
    }
    return 0;
}

rd_sub *
rd_pick(rdrain *rd, rd_stream **sp)
{
    rd_sub *best = NULL;
    for (size_t i = 0; i < rd->ns; i++) {
        rd_stream *s = rd->s[i];
        for (size_t k = 0; k < s->nsubs; k++) {
            rd_sub *b = &s->subs[k];
            if (b->qhead == b->qlen)
                continue;
            if (best == NULL || b->q[b->qhead]->t < best->q[best->qhead]->t) {
                best = b;             /* ties: the earlier stream and sub */
                *sp = s;
            }
        }
    }
    return best;
}

void
rd_done(rd_stream *s, rd_sub *b, rd_entry *e)
{
    b->qhead++;
    if (b->qhead == b->qlen)
        b->qhead = b->qlen = 0;
    e->applied = 1;
    free(e->rec);
    e->rec = NULL;
    strcpy(b->last, e->id);
    advance(s);
}
