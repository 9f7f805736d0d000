/* web_rate.c -- the login rate limiter of web_int.h: at most
 * WEB_RATE_FAILS failures per WEB_RATE_WINDOW seconds per key, in
 * memory only.  Keys are keyed hashes (a random key made at start and
 * never written anywhere), so no user name or address is kept.
 *
 * A fixed table of WEB_RATE_SLOTS entries; a key probes WEB_RATE_PROBE
 * slots from its hash and, when all are taken by live keys, replaces the
 * one whose last failure is oldest -- memory stays bounded whatever the
 * number of clients. */
#include "aggregator/web_int.h"
#include "aggregator/crypto.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#define WEB_RATE_SLOTS 4096
#define WEB_RATE_PROBE 16

typedef struct {
    unsigned char key[WEB_RATE_KEY];
    int64_t       fails[WEB_RATE_FAILS];  /* ring of failure times, 0 = none */
    unsigned      next;
    int64_t       last;                   /* latest failure, 0 = free slot   */
} web_rate_slot;

static web_rate_slot web_rate_tab[WEB_RATE_SLOTS];
static pthread_mutex_t web_rate_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char web_rate_salt[32];
static pthread_once_t web_rate_once = PTHREAD_ONCE_INIT;

static void
web_rate_salt_init(void)
{
    crypto_random(web_rate_salt, sizeof(web_rate_salt));
}

int
web_rate_init(void)
{
    pthread_once(&web_rate_once, web_rate_salt_init);
    return 0;
}

/* out = first WEB_RATE_KEY bytes of BLAKE2b(salt || kind || data). */
static void
web_rate_hash(char kind, const char *data, size_t len,
              unsigned char out[WEB_RATE_KEY])
{
    web_rate_init();
    unsigned char buf[32 + 1 + 256];
    if (len > 256)
        len = 256;
    memcpy(buf, web_rate_salt, 32);
    buf[32] = (unsigned char)kind;
    memcpy(buf + 33, data, len);
    unsigned char h[CRYPTO_HASH_SIZE];
    crypto_hash256(buf, 33 + len, h);
    memcpy(out, h, WEB_RATE_KEY);
    crypto_wipe(buf, sizeof(buf));
}

void
web_rate_key_user(const char *name, unsigned char out[WEB_RATE_KEY])
{
    char low[256];
    size_t n = 0;
    for (; name[n] != '\0' && n < sizeof(low); n++)
        low[n] = (char)(name[n] >= 'A' && name[n] <= 'Z' ? name[n] + 32 : name[n]);
    web_rate_hash('u', low, n, out);
    crypto_wipe(low, sizeof(low));
}

static int
web_loopback(const char *a)
{
    return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0
           || strncasecmp(a, "::ffff:127.", 11) == 0;
}

void
web_rate_key_client(const http_request *req, unsigned char out[WEB_RATE_KEY])
{
    char addr[64] = "";
    if (http_peer(req, addr, sizeof(addr)) != 0)
        addr[0] = '\0';
    const char *real = http_header(req, "X-Real-IP");
    if (web_loopback(addr) && real != NULL) {
        /* from the local proxy: its client, normalised to binary so
         * that spellings of one address share a key */
        unsigned char bin[16];
        if (inet_pton(AF_INET, real, bin) == 1) {
            web_rate_hash('4', (const char *)bin, 4, out);
        } else if (inet_pton(AF_INET6, real, bin) == 1) {
            web_rate_hash('6', (const char *)bin, 16, out);
        } else {
            web_rate_hash('x', real, strlen(real), out);
        }
        crypto_wipe(bin, sizeof(bin));
    } else {
        web_rate_hash('a', addr, strlen(addr), out);
    }
    crypto_wipe(addr, sizeof(addr));
}

static size_t
web_rate_home(const unsigned char key[WEB_RATE_KEY])
{
    size_t h = 0;
    memcpy(&h, key, sizeof(h));
    return h % WEB_RATE_SLOTS;
}

/* The slot of key, or NULL.  Caller holds the mutex. */
static web_rate_slot *
web_rate_find(const unsigned char key[WEB_RATE_KEY])
{
    size_t h = web_rate_home(key);
    for (size_t i = 0; i < WEB_RATE_PROBE; i++) {
        web_rate_slot *s = &web_rate_tab[(h + i) % WEB_RATE_SLOTS];
        if (s->last != 0 && memcmp(s->key, key, WEB_RATE_KEY) == 0)
            return s;
    }
    return NULL;
}

/* Failures of s within the window ending at now, and the oldest of them
 * (the one whose expiry frees a try). */
static unsigned
web_rate_count(const web_rate_slot *s, int64_t now, int64_t *oldest)
{
    unsigned n = 0;
    *oldest = 0;
    for (unsigned i = 0; i < WEB_RATE_FAILS; i++) {
        int64_t t = s->fails[i];
        if (t != 0 && t > now - WEB_RATE_WINDOW) {
            n++;
            if (*oldest == 0 || t < *oldest)
                *oldest = t;
        }
    }
    return n;
}

int64_t
web_rate_wait(const unsigned char key[WEB_RATE_KEY], int64_t now)
{
    int64_t wait = 0, oldest;
    pthread_mutex_lock(&web_rate_mu);
    web_rate_slot *s = web_rate_find(key);
    if (s != NULL && web_rate_count(s, now, &oldest) >= WEB_RATE_FAILS)
        wait = oldest + WEB_RATE_WINDOW - now;
    pthread_mutex_unlock(&web_rate_mu);
    return wait > 0 ? wait : 0;
}

void
web_rate_fail(const unsigned char key[WEB_RATE_KEY], int64_t now)
{
    pthread_mutex_lock(&web_rate_mu);
    web_rate_slot *s = web_rate_find(key);
    if (s == NULL) {
        size_t h = web_rate_home(key);
        web_rate_slot *victim = NULL;
        for (size_t i = 0; i < WEB_RATE_PROBE; i++) {
            web_rate_slot *c = &web_rate_tab[(h + i) % WEB_RATE_SLOTS];
            if (c->last == 0 || c->last <= now - WEB_RATE_WINDOW) {
                victim = c;
                break;
            }
            if (victim == NULL || c->last < victim->last)
                victim = c;
        }
        s = victim;
        memset(s, 0, sizeof(*s));
        memcpy(s->key, key, WEB_RATE_KEY);
    }
    s->fails[s->next] = now;
    s->next = (s->next + 1) % WEB_RATE_FAILS;
    s->last = now;
    pthread_mutex_unlock(&web_rate_mu);
}

void
web_rate_clear(const unsigned char key[WEB_RATE_KEY])
{
    pthread_mutex_lock(&web_rate_mu);
    web_rate_slot *s = web_rate_find(key);
    if (s != NULL)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&web_rate_mu);
}
