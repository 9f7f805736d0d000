/*
 * bot_assemble.c -- factor many regexes on their literal prefixes.
 *
 * Each pattern is split into a literal prefix (case-folded, PCRE2_CASELESS
 * makes that exact; a leading ^ and one-letter classes like [wW] count as
 * literal) and the regex rest.  The items are sorted by prefix and
 * emitted as a trie:  "goo(?:glebot(?:/|-(?:image|mobile))|...)|..." .  As
 * only "does anything match" matters (no captures), an item that ends at a
 * trie node with an empty rest makes the whole subtree match there, and the
 * subtree is dropped.
 */
#include "bots/bot_internal.h"

#include <stdlib.h>
#include <string.h>

/* In a prefix: the start-of-subject anchor `^` (only ever at index 0). */
#define BOT_ANCHOR '\001'

typedef struct {
    char       *prefix;   /* case-folded literal prefix (malloc'ed) */
    size_t      plen;
    const char *rest;     /* the regex after the prefix, in the pattern */
    size_t      rlen;
    char       *own;      /* malloc'ed rest when rewritten, else NULL */
} bot_item;

typedef struct {
    char  *s;
    size_t len, cap;
    int    oom;
} bot_buf;

static void
bot_put(bot_buf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;

        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        p = realloc(b->s, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* A character that stands for itself in a PCRE2 pattern outside a class
 * (no EXTENDED mode).  Deliberately short: anything else ends the prefix. */
static int
bot_is_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr(" !\"#%&',-/:;<=>@_`~", c) != NULL);
}

static int
bot_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9');
}

/* 1 if p starts with a class of one letter in both cases: "[wW]", "[Ww]". */
static int
bot_case_pair(const char *p)
{
    unsigned char a, b;

    if (p[0] != '[') {
        return 0;
    }
    a = (unsigned char)p[1];
    if (!((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z'))) {
        return 0;
    }
    b = (unsigned char)p[2];
    return b != '\0' && p[3] == ']' && a != b && (a | 0x20) == (b | 0x20);
}

/* 1 if the pattern has a `|` outside every group and class. */
static int
bot_top_level_bar(const char *p)
{
    int depth = 0;

    for (; *p; p++) {
        if (*p == '\\') {
            if (p[1] == '\0') {
                return 1; /* malformed: keep it whole */
            }
            p++;
        } else if (*p == '[') {
            p++;
            if (*p == '^') p++;
            if (*p == ']') p++;            /* leading ] is literal */
            while (*p && *p != ']') {
                if (*p == '\\' && p[1]) p++;
                p++;
            }
            if (*p == '\0') {
                return 1;
            }
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if (*p == '|' && depth == 0) {
            return 1;
        }
    }
    return depth != 0;
}

#define BOT_ANY_STAR "[\\s\\S]*"
#define BOT_FIRST_OPEN "^(?>[\\s\\S]*?"

static void bot_put_lit(bot_buf *b, const char *s, size_t n);

/*
 * "LIT[\s\S]*REST" searched at every position costs O(n) per occurrence of
 * LIT, O(n^2) for a UA made of LITs.  It matches iff REST matches after the
 * FIRST occurrence of LIT (a literal), so it becomes the anchored
 * "^(?>[\s\S]*?LIT)[\s\S]*REST": one scan to the first LIT, committed, one
 * scan for REST; linear.  The item becomes a whole alternative (plen 0).
 */
static int
bot_first_only(bot_item *it)
{
    bot_buf b = { NULL, 0, 0, 0 };

    bot_put(&b, BOT_FIRST_OPEN, strlen(BOT_FIRST_OPEN));
    bot_put_lit(&b, it->prefix, it->plen);
    bot_put(&b, ")", 1);
    bot_put(&b, it->rest, it->rlen);
    if (b.oom) {
        free(b.s);
        return -1;
    }
    it->own = b.s;
    it->rest = b.s;
    it->rlen = b.len;
    it->plen = 0;
    return 0;
}

/* Splits pattern p into a folded literal prefix and the rest. */
static int
bot_split(const char *p, bot_item *it)
{
    size_t n = strlen(p), i = 0, plen = 0;
    char *pre = malloc(n + 1);

    if (pre == NULL) {
        return -1;
    }
    if (!bot_top_level_bar(p)) {
        if (p[0] == '^' && p[1] != '\0' && strchr("?*+{", p[1]) == NULL) {
            pre[plen++] = BOT_ANCHOR; /* anchored ones share one ^ branch */
            i = 1;
        }
        for (;;) {
            unsigned char c;
            size_t tok;

            if (p[i] == '\\' && p[i + 1] != '\0'
                && !bot_is_alnum((unsigned char)p[i + 1])) {
                c = (unsigned char)p[i + 1];
                tok = 2;
            } else if (bot_case_pair(p + i)) {
                c = (unsigned char)p[i + 1]; /* [wW]: just w when caseless */
                tok = 4;
            } else if (bot_is_plain((unsigned char)p[i])) {
                c = (unsigned char)p[i];
                tok = 1;
            } else {
                break;
            }
            /* a quantifier binds to this character: leave it in the rest */
            if (p[i + tok] != '\0' && strchr("?*+{", p[i + tok]) != NULL) {
                break;
            }
            pre[plen++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a')
                                                 : (char)c;
            i += tok;
        }
    }
    it->prefix = pre;
    it->plen = plen;
    it->rest = p + i;
    it->rlen = n - i;
    it->own = NULL;
    if (plen > 0 && pre[0] != BOT_ANCHOR
        && strncmp(p + i, BOT_ANY_STAR, strlen(BOT_ANY_STAR)) == 0) {
        return bot_first_only(it);
    }
    return 0;
}

static int
bot_item_cmp(const void *a, const void *b)
{
    const bot_item *x = a, *y = b;
    size_t n = x->plen < y->plen ? x->plen : y->plen;
    int c = memcmp(x->prefix, y->prefix, n);

    if (c != 0) {
        return c;
    }
    return (x->plen > y->plen) - (x->plen < y->plen);
}

static void
bot_put_lit(bot_buf *b, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == BOT_ANCHOR) {
            bot_put(b, "^", 1);
            continue;
        }
        if (!bot_is_alnum((unsigned char)s[i])) {
            bot_put(b, "\\", 1); /* escaped punctuation is always literal */
        }
        bot_put(b, s + i, 1);
    }
}

/*
 * Emits the regex for items [a, b), which all share prefix[0..d).  The
 * regex matches what comes after those d characters.
 */
static void
bot_emit(bot_buf *out, const bot_item *it, size_t a, size_t b, size_t d)
{
    size_t i, j, alts = 0, mark;

    /* sorted: the items ending at depth d come first */
    for (i = a; i < b && it[i].plen == d; i++) {
        if (it[i].rlen == 0) {
            return; /* matches here already: the subtree adds nothing */
        }
    }
    mark = out->len;
    bot_put(out, "(?:", 3);
    for (i = a; i < b && it[i].plen == d; i++) {
        if (alts++) bot_put(out, "|", 1);
        bot_put(out, "(?:", 3);
        bot_put(out, it[i].rest, it[i].rlen);
        bot_put(out, ")", 1);
    }
    while (i < b) {
        size_t k, lcp;

        /* the group sharing character d, and its longest common prefix */
        for (j = i + 1; j < b && it[j].prefix[d] == it[i].prefix[d]; j++) {
        }
        lcp = it[i].plen;
        for (k = i + 1; k < j; k++) {
            size_t l = d + 1;

            while (l < lcp && l < it[k].plen
                   && it[k].prefix[l] == it[i].prefix[l]) {
                l++;
            }
            lcp = l;
        }
        if (alts++) bot_put(out, "|", 1);
        bot_put_lit(out, it[i].prefix + d, lcp - d);
        bot_emit(out, it, i, j, lcp);
        i = j;
    }
    if (alts == 1 && !out->oom) {
        /* one alternative needs no group: drop the "(?:" we opened */
        memmove(out->s + mark, out->s + mark + 3, out->len - mark - 3);
        out->len -= 3;
        out->s[out->len] = '\0';
    } else {
        bot_put(out, ")", 1);
    }
}

char *
bot_assemble(const char *const *pats, size_t n, size_t *outlen)
{
    bot_item *it = calloc(n, sizeof *it);
    bot_buf out = { NULL, 0, 0, 0 };
    size_t i;

    if (it == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (bot_split(pats[i], &it[i]) < 0) {
            out.oom = 1;
            break;
        }
    }
    if (!out.oom) {
        qsort(it, n, sizeof *it, bot_item_cmp);
        bot_put(&out, "", 0);
        bot_emit(&out, it, 0, n, 0);
    }
    for (i = 0; i < n; i++) {
        free(it[i].prefix);
        free(it[i].own);
    }
    free(it);
    if (out.oom) {
        free(out.s);
        return NULL;
    }
    *outlen = out.len;
    return out.s;
}
