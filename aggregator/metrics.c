/* metrics.c -- see metrics.h. */
#include "aggregator/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_NBUCKETS 11
static const double m_bounds_ms[M_NBUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

enum m_type { M_COUNTER = 1, M_GAUGE, M_HIST };

typedef struct {
    const char      *name;
    enum m_type      type;
    _Atomic int64_t  v;                 /* counter / gauge / hist count */
    _Atomic uint64_t sum_us;            /* hist */
    _Atomic uint64_t b[M_NBUCKETS];     /* hist, non-cumulative */
} m_series;

static m_series m_reg[METRICS_MAX];
static _Atomic size_t m_n;
static pthread_mutex_t m_lock = PTHREAD_MUTEX_INITIALIZER;

static m_series *
m_find(const char *name, enum m_type type)
{
    size_t n = atomic_load_explicit(&m_n, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (m_reg[i].name == name || strcmp(m_reg[i].name, name) == 0)
            return &m_reg[i];
    pthread_mutex_lock(&m_lock);
    n = atomic_load_explicit(&m_n, memory_order_relaxed);
    m_series *s = NULL;
    for (size_t i = 0; i < n && s == NULL; i++)
        if (strcmp(m_reg[i].name, name) == 0)
            s = &m_reg[i];
    if (s == NULL && n < METRICS_MAX) {
        s = &m_reg[n];
        s->name = name;
        s->type = type;
        atomic_store_explicit(&m_n, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&m_lock);
    return s;
}

void
metrics_add(const char *name, uint64_t n)
{
    m_series *s = m_find(name, M_COUNTER);
    if (s)
        atomic_fetch_add(&s->v, (int64_t)n);
}

void
metrics_set(const char *name, int64_t v)
{
    m_series *s = m_find(name, M_GAUGE);
    if (s)
        atomic_store(&s->v, v);
}

void
metrics_observe_ms(const char *name, double ms)
{
    m_series *s = m_find(name, M_HIST);
    if (s == NULL)
        return;
    atomic_fetch_add(&s->v, 1);
    atomic_fetch_add(&s->sum_us, (uint64_t)(ms * 1000.0));
    for (int i = 0; i < M_NBUCKETS; i++) {
        if (ms <= m_bounds_ms[i]) {
            atomic_fetch_add(&s->b[i], 1);
            break;
        }
    }
}

typedef struct {
    char  *s;
    size_t len, cap;
    int    oom;
} m_buf;

static void
m_printf(m_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void
m_printf(m_buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t c = b->cap * 2 + (size_t)n + 1;
        char *p = realloc(b->s, c);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = c;
    }
}

/* "base{labels}" -> base length */
static size_t
m_base_len(const char *name)
{
    const char *br = strchr(name, '{');
    return br ? (size_t)(br - name) : strlen(name);
}

char *
metrics_render(const char *extra)
{
    m_buf b = { malloc(4096), 0, 4096, 0 };
    if (b.s == NULL)
        return NULL;
    b.s[0] = '\0';
    if (extra)
        m_printf(&b, "%s", extra);
    size_t n = atomic_load_explicit(&m_n, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        m_series *s = &m_reg[i];
        size_t bl = m_base_len(s->name);
        const char *labels = s->name + bl;
        int first = 1;   /* one TYPE line per base name */
        for (size_t j = 0; j < i; j++)
            if (m_base_len(m_reg[j].name) == bl && strncmp(m_reg[j].name, s->name, bl) == 0)
                first = 0;
        if (first)
            m_printf(&b, "# TYPE %.*s %s\n", (int)bl, s->name,
                     s->type == M_COUNTER ? "counter" : s->type == M_GAUGE ? "gauge"
                                                                           : "histogram");
        if (s->type != M_HIST) {
            m_printf(&b, "%s %lld\n", s->name, (long long)atomic_load(&s->v));
            continue;
        }
        /* histogram: labels must merge with le */
        char lab[256] = "";
        if (*labels)
            snprintf(lab, sizeof lab, "%.*s,", (int)(strlen(labels) - 2), labels + 1);
        uint64_t cum = 0;
        for (int k = 0; k < M_NBUCKETS; k++) {
            cum += atomic_load(&s->b[k]);
            m_printf(&b, "%.*s_bucket{%sle=\"%g\"} %llu\n", (int)bl, s->name, lab,
                     m_bounds_ms[k] / 1000.0, (unsigned long long)cum);
        }
        m_printf(&b, "%.*s_bucket{%sle=\"+Inf\"} %lld\n", (int)bl, s->name, lab,
                 (long long)atomic_load(&s->v));
        m_printf(&b, "%.*s_sum%s %.6f\n", (int)bl, s->name, labels,
                 (double)atomic_load(&s->sum_us) / 1e6);
        m_printf(&b, "%.*s_count%s %lld\n", (int)bl, s->name, labels,
                 (long long)atomic_load(&s->v));
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
