/* Tests for aggregator/attrs.c on a real database: the channel of an
 * event (computed once per distinct source / UTM / click-id input and
 * then taken from the cache) is the one en_channel gives for the same
 * inputs, whatever order and mix the events come in, and stays right
 * after attrs_reset and a rolled-back transaction (ids re-issued); so do
 * the ids of event names and countries (short strings, cached too).
 * Needs uap.json and referers.json in $TALLY_DATA_DIR (default
 * build/data). */
#include "aggregator/attrs.h"
#include "aggregator/db.h"
#include "aggregator/dims.h"
#include "tests/aggregator/tdb.h"
#include "tests/check.h"

#include <stdlib.h>
#include <unistd.h>

static void
str(spool_str *s, const char *v)
{
    s->ptr = v;
    s->len = v ? strlen(v) : 0;
}

/* The channel name of a pageview of url from referrer ref. */
static const char *
channel_of(attrs_ctx *x, db *d, const char *url, const char *ref, char *buf,
           size_t cap)
{
    spool_event e;
    memset(&e, 0, sizeof(e));
    e.time_ms = 1700000000000ull;
    str(&e.field[SPOOL_F_SITE], "example.com");
    str(&e.field[SPOOL_F_NAME], "pageview");
    str(&e.field[SPOOL_F_URL], url);
    str(&e.field[SPOOL_F_REFERRER], ref);
    str(&e.field[SPOOL_F_UA], "Mozilla/5.0 (X11; Linux x86_64; rv:120.0)"
                             " Gecko/20100101 Firefox/120.0");
    str(&e.field[SPOOL_F_COUNTRY], "DE");
    attrs_event a;
    const char *why = NULL;
    buf[0] = '\0';
    if (attrs_encode(x, d, &e, &a, &why) != 1)
        return "(error)";
    int64_t t[ATTR_COUNT];
    CHECK(attrs_tuple(x, d, a.attrs, t) == 0);
    CHECK(t[ATTR_CHANNEL] == a.a[ATTR_CHANNEL]);
    CHECK(a.name == db_string_id(d, "pageview", 8));
    CHECK(a.a[ATTR_COUNTRY] == db_string_id(d, "DE", 2));
    char *s = NULL;
    if (db_string_get(d, a.a[ATTR_CHANNEL], &s) == 1)
        snprintf(buf, cap, "%s", s);
    free(s);
    return buf;
}

static const struct {
    const char *url, *ref, *channel;
} cases[] = {
    { "https://example.com/", NULL, "Direct" },
    { "https://example.com/a", "https://www.google.com/", "Organic Search" },
    { "https://example.com/b", "https://www.google.com/search?q=x", "Organic Search" },
    { "https://example.com/?gclid=abc", "https://www.google.com/", "Paid Search" },
    { "https://example.com/?utm_medium=cpc", "https://www.google.com/", "Paid Search" },
    { "https://example.com/?utm_medium=cpc", "https://news.ycombinator.com/", "Paid Social" },
    { "https://example.com/?utm_medium=cpc", "https://blog.example.org/", "Paid Other" },
    { "https://example.com/?utm_source=newsletter&utm_medium=email", NULL, "Email" },
    { "https://example.com/c", "https://news.ycombinator.com/item", "Organic Social" },
    { "https://example.com/c", "https://blog.example.org/post", "Referral" },
    { "https://example.com/c", "https://www.facebook.com/", "Organic Social" },
    { "https://example.com/?utm_source=facebook&utm_medium=paid", NULL, "Paid Social" },
    { "https://example.com/?utm_campaign=shop", NULL, "Organic Shopping" },
    { "https://example.com/?msclkid=1", "https://www.bing.com/", "Paid Search" },
    { "https://example.com/?msclkid=1", "https://www.google.com/", "Organic Search" },
};
#define NCASES (sizeof cases / sizeof cases[0])

static void
test_channels(void)
{
    const char *dir = getenv("TALLY_DATA_DIR");
    char err[256], buf[64];
    attrs_ctx *x = attrs_new(dir && *dir ? dir : "build/data", err, sizeof err);
    if (x == NULL) {
        fprintf(stderr, "attrs_new: %s (run make build or set TALLY_DATA_DIR)\n", err);
        CHECK(x != NULL);
        return;
    }
    db *d = tdb_open();
    CHECK(db_begin(d) == 0);
    /* each case twice in a row (the second from the cache), then all
     * again in another order */
    for (size_t i = 0; i < NCASES; i++) {
        CHECK_STR(channel_of(x, d, cases[i].url, cases[i].ref, buf, sizeof buf),
                  cases[i].channel);
        CHECK_STR(channel_of(x, d, cases[i].url, cases[i].ref, buf, sizeof buf),
                  cases[i].channel);
    }
    for (size_t k = 0; k < 3 * NCASES; k++) {
        size_t i = (k * 7) % NCASES;
        CHECK_STR(channel_of(x, d, cases[i].url, cases[i].ref, buf, sizeof buf),
                  cases[i].channel);
    }
    /* rolled back: the dictionary ids are issued again, maybe to other
     * strings; after attrs_reset every answer is still right */
    db_rollback(d);
    attrs_reset(x);
    CHECK(db_begin(d) == 0);
    for (size_t k = 0; k < NCASES; k++) {
        size_t i = NCASES - 1 - k;
        CHECK_STR(channel_of(x, d, cases[i].url, cases[i].ref, buf, sizeof buf),
                  cases[i].channel);
    }
    CHECK(db_commit(d) == 0);
    tdb_close(d);
    attrs_free(x);
}

/* The name id attrs_encode gives an event named `name`. */
static int64_t
name_id(attrs_ctx *x, db *d, const char *name)
{
    spool_event e;
    memset(&e, 0, sizeof(e));
    e.time_ms = 1700000000000ull;
    str(&e.field[SPOOL_F_SITE], "example.com");
    str(&e.field[SPOOL_F_NAME], name);
    str(&e.field[SPOOL_F_URL], "https://example.com/x");
    attrs_event a;
    const char *why = NULL;
    CHECK(attrs_encode(x, d, &e, &a, &why) == 1);
    CHECK(!a.pageview);
    return a.name;
}

/* Event names of every length from 1 to 12 bytes, each twice (the second
 * from the cache for those of up to 8 bytes), after a transaction that
 * cached ids was rolled back and attrs_reset: always the dictionary's
 * id. */
static void
test_names(void)
{
    char err[256];
    attrs_ctx *x = attrs_new(NULL, err, sizeof err);
    CHECK(x != NULL);
    db *d = tdb_open();
    CHECK(db_begin(d) == 0);
    CHECK(name_id(x, d, "zz") > 0);
    CHECK(name_id(x, d, "signup") > 0);
    db_rollback(d);
    attrs_reset(x);
    CHECK(db_begin(d) == 0);
    CHECK(db_string_id(d, "other", 5) > 0);           /* takes a freed id */
    const char *base = "signup-12345";
    for (int round = 0; round < 2; round++)
        for (size_t len = 1; len <= 12; len++) {
            char name[16];
            memcpy(name, base, len);
            name[len] = '\0';
            CHECK(name_id(x, d, name) == db_string_id(d, name, len));
        }
    CHECK(name_id(x, d, "zz") == db_string_id(d, "zz", 2));
    CHECK(db_commit(d) == 0);
    tdb_close(d);
    attrs_free(x);
}

int
main(void)
{
    RUN(test_channels);
    RUN(test_names);
    return check_summary("aggregator/attrs");
}
