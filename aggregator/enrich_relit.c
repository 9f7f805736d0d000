/*
 * enrich_relit.c -- required-literal extraction (see enrich_relit.h).
 *
 * A small recursive-descent reader of PCRE2 syntax.  A "run" is a stretch
 * of literal bytes that must appear consecutively; it ends at anything that
 * is not a plain required byte.  A sequence collects requirements: its
 * runs, and the requirements of its required groups (all must hold).  An
 * alternation requires the union of its alternatives' best sets, provided
 * every alternative has one.
 */
#include "aggregator/enrich_relit.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define RL_DEPTH 32  /* deeper nesting: give up */

typedef en_relit_set rl_set;
typedef en_relit_req rl_req;
typedef struct { char s[EN_RELIT_MAX]; size_t n; int ci; } rl_run;
typedef struct { const char *p; int fail; int nonlit; } rl_ctx;

/* Shortest literal of a set: the selectivity we rank by (0: empty set). */
static size_t
rl_score(const rl_set *s)
{
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (i == 0 || s->len[i] < m) m = s->len[i];
    return m;
}

/* Adds set to the requirements, dropping the weakest one when full. */
static void
rl_require(rl_req *r, const rl_set *set)
{
    size_t sc = rl_score(set);
    if (sc == 0) return;
    if (r->n < EN_RELIT_AND) {
        r->set[r->n++] = *set;
        return;
    }
    size_t worst = 0;
    for (size_t i = 1; i < r->n; i++)
        if (rl_score(&r->set[i]) < rl_score(&r->set[worst])) worst = i;
    if (sc > rl_score(&r->set[worst])) r->set[worst] = *set;
}

/* Ends the current run and requires it. */
static void
rl_keep(rl_req *r, rl_run *cur)
{
    if (cur->n > 0) {
        rl_set *one = malloc(sizeof *one);
        if (one) {                             /* no memory: just weaker */
            one->n = 1;
            one->len[0] = cur->n;
            one->ci[0] = (unsigned char)cur->ci;
            memcpy(one->lit[0], cur->s, cur->n);
            one->lit[0][cur->n] = '\0';
            rl_require(r, one);
            free(one);
        }
    }
    cur->n = 0;
    cur->ci = 0;
}

/* The requirement whose shortest literal is longest (fewest literals on
 * ties), or NULL if there is none. */
static const rl_set *
rl_best(const rl_req *r)
{
    const rl_set *b = NULL;
    for (size_t i = 0; i < r->n; i++) {
        size_t s = rl_score(&r->set[i]);
        if (!b || s > rl_score(b) || (s == rl_score(b) && r->set[i].n < b->n)) b = &r->set[i];
    }
    return b;
}

/* Adds the literals of add to acc; 0 if they do not fit. */
static int
rl_union(rl_set *acc, const rl_set *add)
{
    for (size_t i = 0; i < add->n; i++) {
        size_t k;
        for (k = 0; k < acc->n; k++)
            if (acc->len[k] == add->len[i] && acc->ci[k] == add->ci[i]
                && memcmp(acc->lit[k], add->lit[i], add->len[i]) == 0)
                break;
        if (k < acc->n) continue;
        if (acc->n == EN_RELIT_SET) return 0;
        acc->len[acc->n] = add->len[i];
        acc->ci[acc->n] = add->ci[i];
        memcpy(acc->lit[acc->n], add->lit[i], EN_RELIT_MAX);
        acc->n++;
    }
    return 1;
}

/* Reads an optional quantifier.  Returns -1 for none, else its minimum. */
static int
rl_quant(rl_ctx *c)
{
    const char *p = c->p;
    int min;
    if (*p == '?' || *p == '*') {
        min = 0;
        p++;
    } else if (*p == '+') {
        min = 1;
        p++;
    } else if (*p == '{') {
        const char *q = p + 1;
        int n = 0, digits = 0;
        while (isdigit((unsigned char)*q)) { if (n < 1000) n = n * 10 + (*q - '0'); q++; digits++; }
        if (*q == ',') { q++; while (isdigit((unsigned char)*q)) q++; }
        if (!digits || *q != '}') return -1;   /* a literal '{' */
        min = n > 0 ? 1 : 0;
        p = q + 1;
    } else {
        return -1;
    }
    if (*p == '?' || *p == '+') p++;           /* lazy / possessive */
    c->p = p;
    return min;
}

static void rl_seq(rl_ctx *c, rl_req *out, int depth);

/* Skips a character class; c->p is just past '['.  Returns the letter
 * (lower case) if the class is one letter in both cases, like [Ss], else
 * -1. */
static int
rl_class(rl_ctx *c)
{
    const char *p = c->p;
    if (isalpha((unsigned char)p[0]) && isalpha((unsigned char)p[1]) && p[2] == ']'
        && p[0] != p[1] && tolower((unsigned char)p[0]) == tolower((unsigned char)p[1])) {
        c->p = p + 3;
        return tolower((unsigned char)p[0]);
    }
    if (*p == '^') p++;
    if (*p == ']') p++;                        /* leading ']' is literal */
    while (*p && *p != ']') {
        if (*p == '\\' && p[1]) p += 2;
        else if (*p == '[' && p[1] == ':') {   /* [:alpha:] */
            const char *e = strstr(p + 2, ":]");
            if (!e) { c->fail = 1; return -1; }
            p = e + 2;
        } else p++;
    }
    if (*p != ']') { c->fail = 1; return -1; }
    c->p = p + 1;
    return -1;
}

/* Reads a group; c->p is just past '('.  Adds its requirements to req if
 * the group is required. */
static void
rl_group(rl_ctx *c, rl_req *req, int depth)
{
    const char *p = c->p;
    int counts = 1;
    if (*p == '?') {
        p++;
        if (*p == ':' || *p == '>') {
            p++;
        } else if (*p == '=' || *p == '!') {
            counts = 0; p++;
        } else if (*p == '<' && (p[1] == '=' || p[1] == '!')) {
            counts = 0; p += 2;
        } else if (*p == '<' || (*p == 'P' && p[1] == '<')) {
            const char *e = strchr(p, '>');
            if (!e) { c->fail = 1; return; }
            p = e + 1;
        } else {
            c->fail = 1;                       /* inline flags, branch reset, callouts... */
            return;
        }
    }
    c->p = p;
    rl_req *inner = malloc(sizeof *inner);
    if (!inner) { c->fail = 1; return; }
    rl_seq(c, inner, depth + 1);
    if (!c->fail && *c->p != ')') c->fail = 1;
    if (!c->fail) {
        c->p++;
        int q = rl_quant(c);
        if (counts && q != 0)
            for (size_t i = 0; i < inner->n; i++) rl_require(req, &inner->set[i]);
    }
    free(inner);
}

/* One alternative, up to '|', ')' or the end: its requirements into req. */
static void
rl_alt(rl_ctx *c, rl_req *req, int depth)
{
    rl_run cur = { .n = 0, .ci = 0 };
    req->n = 0;
    while (*c->p && !c->fail) {
        char ch = *c->p;
        if (ch == ')' || ch == '|') break;
        if (ch == '(' || ch == '[' || ch == '.' || ch == '^' || ch == '$'
            || (ch == '\\' && isalnum((unsigned char)c->p[1])))
            c->nonlit = 1;
        if (ch == '(') {
            rl_keep(req, &cur);
            c->p++;
            rl_group(c, req, depth);
            continue;
        }
        if (ch == '[') {
            c->p++;
            int letter = rl_class(c);
            if (letter < 0) {
                rl_keep(req, &cur);
                rl_quant(c);
                continue;
            }
            ch = (char)letter;                 /* [Ss]: a caseless 's' */
            cur.ci = 1;
            goto plain;
        }
        if (ch == '.' || ch == '^' || ch == '$') {
            rl_keep(req, &cur);
            c->p++;
            rl_quant(c);
            continue;
        }
        if (ch == '*' || ch == '+' || ch == '?') { c->fail = 1; return; }
        if (ch == '\\') {
            char e = c->p[1];
            if (e == '\0') { c->fail = 1; return; }
            if (isalnum((unsigned char)e)) {
                /* \d \w \b \xhh \p{..} ...: not a plain byte */
                if (e == 'Q' || e == 'E' || e == 'k' || e == 'g' || e == 'c'
                    || isdigit((unsigned char)e)) {
                    c->fail = 1;               /* back references, quoting... */
                    return;
                }
                c->p += 2;
                if ((e == 'x' || e == 'p' || e == 'P' || e == 'o' || e == 'N')
                    && *c->p == '{') {
                    const char *end = strchr(c->p, '}');
                    if (!end) { c->fail = 1; return; }
                    c->p = end + 1;
                } else if (e == 'x') {
                    for (int i = 0; i < 2 && isxdigit((unsigned char)*c->p); i++) c->p++;
                } else if (e == 'p' || e == 'P') {
                    if (*c->p) c->p++;
                }
                rl_keep(req, &cur);
                rl_quant(c);
                continue;
            }
            ch = e;                            /* escaped punctuation: literal */
            c->p += 2;
        } else {
            c->p++;
        }
    plain:;
        int q = rl_quant(c);
        if (q >= 0) c->nonlit = 1;
        if (q == 0) {                          /* optional byte ends the run */
            rl_keep(req, &cur);
            continue;
        }
        if (cur.n < EN_RELIT_MAX - 1) cur.s[cur.n++] = ch;
        if (q > 0) rl_keep(req, &cur);         /* repeated: run ends after it */
    }
    rl_keep(req, &cur);
}

/* Alternatives up to ')' or the end.  One alternative: its requirements.
 * Several: one requirement, the union of each one's best set (none if an
 * alternative has none or the union is too big). */
static void
rl_seq(rl_ctx *c, rl_req *out, int depth)
{
    out->n = 0;
    if (depth > RL_DEPTH) { c->fail = 1; return; }
    rl_req *alt = malloc(sizeof *alt);
    rl_set *uni = malloc(sizeof *uni);
    if (!alt || !uni) {
        free(alt);
        free(uni);
        c->fail = 1;
        return;
    }
    uni->n = 0;
    int ok = 1, nalt = 0;
    for (;;) {
        rl_req *cur = nalt == 0 ? out : alt;
        rl_alt(c, cur, depth);
        if (c->fail) break;
        const rl_set *b = rl_best(cur);
        if (!b || !rl_union(uni, b)) ok = 0;
        nalt++;
        if (*c->p != '|') break;
        c->p++;
        c->nonlit = 1;
    }
    if (nalt > 1) {
        out->n = 0;
        if (ok) rl_require(out, uni);
    }
    free(alt);
    free(uni);
}

size_t
en_relit(const char *re, en_relit_req *out, int *exact)
{
    rl_ctx c = { .p = re, .fail = 0, .nonlit = 0 };
    if (exact) *exact = 0;
    rl_seq(&c, out, 0);
    if (c.fail || *c.p != '\0') {              /* a stray ')' too */
        out->n = 0;
        return 0;
    }
    /* only plain bytes seen, one run that fitted: the regex matches exactly
     * where the literal occurs */
    if (exact)
        *exact = !c.nonlit && out->n == 1 && out->set[0].n == 1
            && out->set[0].len[0] < EN_RELIT_MAX - 1;
    return out->n;
}
