/* keyrate.c -- see keyrate.h. */
#include "aggregator/keyrate.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    int64_t key, last_ms;
    double  tokens;
} kr_entry;

static pthread_mutex_t kr_lock = PTHREAD_MUTEX_INITIALIZER;
static kr_entry *kr_tab;
static size_t kr_n, kr_cap;

int64_t
keyrate_per_min(void)
{
    static int64_t v = -1;
    if (v < 0) {
        const char *e = getenv("TALLY_API_RATE_PER_MIN");
        char *end;
        long long x = e ? strtoll(e, &end, 10) : -1;
        v = e && *e && *end == '\0' && x >= 0 ? x : KEYRATE_DEFAULT_PER_MIN;
    }
    return v;
}

int
keyrate_take(int64_t key_id, int64_t now_ms)
{
    int64_t rate = keyrate_per_min();
    if (rate == 0)
        return 0;
    pthread_mutex_lock(&kr_lock);
    kr_entry *e = NULL;
    for (size_t i = 0; i < kr_n; i++)
        if (kr_tab[i].key == key_id)
            e = &kr_tab[i];
    if (e == NULL) {
        if (kr_n == kr_cap) {
            size_t c = kr_cap ? kr_cap * 2 : 16;
            kr_entry *p = realloc(kr_tab, c * sizeof(*p));
            if (p == NULL) {
                pthread_mutex_unlock(&kr_lock);
                return 0;            /* fail open: never lock users out */
            }
            kr_tab = p;
            kr_cap = c;
        }
        e = &kr_tab[kr_n++];
        *e = (kr_entry){ .key = key_id, .last_ms = now_ms, .tokens = (double)rate };
    }
    double per_ms = (double)rate / 60000.0;
    if (now_ms > e->last_ms) {
        e->tokens += (double)(now_ms - e->last_ms) * per_ms;
        if (e->tokens > (double)rate)
            e->tokens = (double)rate;
        e->last_ms = now_ms;
    }
    int wait = 0;
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
    } else {
        double ms = (1.0 - e->tokens) / per_ms;
        wait = (int)(ms / 1000.0) + 1;
    }
    pthread_mutex_unlock(&kr_lock);
    return wait;
}
