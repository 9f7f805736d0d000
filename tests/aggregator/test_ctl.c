/* Tests for aggregator/ctl.c: the control-entry codec (round trips of
 * every verb, escaping, and refusal of malformed entries), and
 * aggregator/db_ctl.c applying entries to a real database. */
#include "aggregator/ctl.h"
#include "aggregator/db.h"
#include "aggregator/db_ctl.h"
#include "tests/check.h"

#include <stdlib.h>
#include <unistd.h>

static ctl_cmd *
cmd_new(enum ctl_verb v)
{
    ctl_cmd *c = calloc(1, sizeof(*c));
    c->verb = v;
    c->t = 1711800000;
    return c;
}

/* Encodes c, decodes it, and checks the result equals c. */
static void
roundtrip(const ctl_cmd *c)
{
    char buf[CTL_ENTRY_MAX + 1], err[128];
    long n = ctl_encode(c, buf, sizeof(buf));
    CHECK(n > 0);
    if (n <= 0)
        return;
    CHECK_EQ_U64(strlen(buf), (uint64_t)n);
    ctl_cmd *d = malloc(sizeof(*d));
    CHECK(ctl_decode(buf, (size_t)n, d, err, sizeof(err)) == 0);
    CHECK(memcmp(c, d, sizeof(*c)) == 0);
    /* every byte of the text is printable ASCII: one line */
    for (long i = 0; i < n; i++)
        CHECK(buf[i] >= 0x20 && buf[i] <= 0x7e);
    free(d);
}

static void
test_roundtrip_every_verb(void)
{
    ctl_cmd *c = cmd_new(CTL_SITE_ADD);
    strcpy(c->site, "example.com");
    strcpy(c->tz, "America/Argentina/Buenos_Aires");
    roundtrip(c);
    free(c);

    c = cmd_new(CTL_SITE_REMOVE);
    c->t = 0;
    strcpy(c->site, "xn--bcher-kva.example");
    roundtrip(c);
    free(c);

    c = cmd_new(CTL_GOAL_ADD);
    strcpy(c->site, "example.com");
    c->kind = CTL_GOAL_PAGE;
    strcpy(c->value, "/blog/* 100% = done %41 \xc3\xa9");
    roundtrip(c);
    free(c);

    c = cmd_new(CTL_GOAL_REMOVE);
    c->t = 0;
    strcpy(c->site, "example.com");
    c->id = 42;
    roundtrip(c);
    free(c);

    c = cmd_new(CTL_KEY_ADD);
    for (int i = 0; i < CTL_HASH_SIZE; i++)
        c->hash[i] = (unsigned char)(i * 37 + 1);
    c->has_hash = 1;
    strcpy(c->name, "ci key=with spaces%");
    strcpy(c->sites[0], "a.example");
    strcpy(c->sites[1], "b.example");
    c->nsites = 2;
    roundtrip(c);
    memset(c->name, 0, sizeof(c->name));      /* the name is optional */
    memset(c->sites, 0, sizeof(c->sites));
    c->nsites = 0;
    roundtrip(c);
    free(c);

    c = cmd_new(CTL_KEY_REVOKE);
    c->id = 7;
    roundtrip(c);
    free(c);

    c = cmd_new(CTL_KEY_SCOPE);
    c->t = 0;
    c->id = 7;
    strcpy(c->site, "a.example");
    roundtrip(c);
    free(c);

    c = cmd_new(CTL_USER_ADD);
    strcpy(c->name, "ann@example.org");
    strcpy(c->pwhash, "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g");
    roundtrip(c);
    c->verb = CTL_USER_PASSWD;
    c->t = 0;
    roundtrip(c);
    c->verb = CTL_USER_REMOVE;
    memset(c->pwhash, 0, sizeof(c->pwhash));
    roundtrip(c);
    free(c);

    c = cmd_new(CTL_SHARE_ADD);
    memset(c->hash, 0xab, sizeof(c->hash));
    c->has_hash = 1;
    strcpy(c->site, "example.com");
    roundtrip(c);
    free(c);

    c = cmd_new(CTL_SHARE_REVOKE);
    c->id = 3;
    roundtrip(c);
    free(c);
}

static void
test_encode_refuses_incomplete(void)
{
    char buf[4096];
    ctl_cmd *c = cmd_new(CTL_SITE_ADD);
    strcpy(c->site, "example.com");          /* no tz */
    CHECK(ctl_encode(c, buf, sizeof(buf)) == -1);
    strcpy(c->tz, "UTC");
    CHECK(ctl_encode(c, buf, sizeof(buf)) > 0);
    CHECK(ctl_encode(c, buf, 10) == -1);     /* does not fit */
    strcpy(c->site, "a/b");                  /* not a domain */
    CHECK(ctl_encode(c, buf, sizeof(buf)) == -1);
    c->verb = CTL_NONE;
    CHECK(ctl_encode(c, buf, sizeof(buf)) == -1);
    free(c);
    c = cmd_new(CTL_USER_ADD);
    strcpy(c->name, "-bad");
    strcpy(c->pwhash, "x");
    CHECK(ctl_encode(c, buf, sizeof(buf)) == -1);
    free(c);
}

static int
dec(const char *s)
{
    ctl_cmd *c = malloc(sizeof(*c));
    char err[128] = "";
    int r = ctl_decode(s, strlen(s), c, err, sizeof(err));
    if (r != 0)
        CHECK(err[0] != '\0');
    free(c);
    return r;
}

static void
test_decode_refuses_malformed(void)
{
    CHECK(dec("tally-ctl/1 site.remove site=example.com") == 0);
    CHECK(dec("tally-ctl/1 site.remove site=ex%41mple.com") == 0);
    CHECK(dec("") == -1);
    CHECK(dec("tally-ctl/2 site.remove site=example.com") == -1);
    CHECK(dec("tally-ctl/1 site.frobnicate site=example.com") == -1);
    CHECK(dec("tally-ctl/1 site.remove") == -1);                   /* missing */
    CHECK(dec("tally-ctl/1 site.remove site=a site=b") == -1);     /* repeated */
    CHECK(dec("tally-ctl/1 site.remove site=a tz=UTC") == -1);     /* not allowed */
    CHECK(dec("tally-ctl/1 site.remove site=a ") == -1);           /* trailing */
    CHECK(dec("tally-ctl/1 site.remove  site=a") == -1);
    CHECK(dec("tally-ctl/1 site.remove site") == -1);
    CHECK(dec("tally-ctl/1 site.remove bogus=1 site=a") == -1);
    CHECK(dec("tally-ctl/1 site.remove site=a%2") == -1);          /* escape */
    CHECK(dec("tally-ctl/1 site.remove site=a%zz") == -1);
    CHECK(dec("tally-ctl/1 site.remove site=a%00b") == -1);        /* NUL */
    CHECK(dec("tally-ctl/1 site.remove site=a%2Fb") == -1);        /* '/' */
    CHECK(dec("tally-ctl/1 site.remove site=") == -1);
    CHECK(dec("tally-ctl/1 key.revoke id=0 t=1") == -1);
    CHECK(dec("tally-ctl/1 key.revoke id=-1 t=1") == -1);
    CHECK(dec("tally-ctl/1 key.revoke id=99999999999999999999 t=1") == -1);
    CHECK(dec("tally-ctl/1 key.revoke id=12 t=1") == 0);
    /* 19 digits that overflow int64 while parsing (found by fuzz_ctl),
     * and the largest accepted value (2^62) and the next one */
    CHECK(dec("tally-ctl/1 share.revoke t=9999999999999999991 id=3") == -1);
    CHECK(dec("tally-ctl/1 key.revoke id=12 t=4611686018427387904") == 0);
    CHECK(dec("tally-ctl/1 key.revoke id=12 t=4611686018427387905") == -1);
    CHECK(dec("tally-ctl/1 goal.add site=a kind=both value=x t=1") == -1);
    CHECK(dec("tally-ctl/1 share.add site=a t=1 hash=00") == -1);
    /* key.add takes several sites, and no more than CTL_SITES_MAX */
    char buf[2048] = "tally-ctl/1 key.add t=1 hash="
        "0000000000000000000000000000000000000000000000000000000000000000";
    CHECK(dec(buf) == 0);
    for (int i = 0; i < CTL_SITES_MAX; i++)
        strcat(buf, " site=s.example");
    CHECK(dec(buf) == 0);
    strcat(buf, " site=s.example");
    CHECK(dec(buf) == -1);
    /* a NUL inside the given length is not the end of the text */
    CHECK(ctl_decode("tally-ctl/1 site.remove site=a\0b", 32,
                     &(ctl_cmd){ 0 }, NULL, 0) == -1);
}

/* db_ctl: applying entries, outcomes, and a refused entry skipped. */
static void
test_apply(void)
{
    char path[] = "/tmp/tally-test-ctl-XXXXXX", err[256];
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    db *d;
    CHECK(db_open(path, DB_RW, &d, err, sizeof(err)) == 0);
    CHECK(db_ctl_init(d) == 0);
    CHECK(db_begin(d) == 0);
    int64_t obj;
    ctl_cmd *c = cmd_new(CTL_GOAL_ADD);
    strcpy(c->site, "example.com");
    c->kind = CTL_GOAL_EVENT;
    strcpy(c->value, "Signup");
    CHECK(db_ctl_apply(d, 1000, 0, c, &obj) == CTL_NOTFOUND);   /* no site */
    ctl_cmd *s = cmd_new(CTL_SITE_ADD);
    strcpy(s->site, "example.com");
    strcpy(s->tz, "UTC");
    CHECK(db_ctl_apply(d, 1000, 1, s, &obj) == CTL_DONE);
    CHECK(db_ctl_apply(d, 1000, 2, s, &obj) == CTL_EXISTS);
    CHECK(db_ctl_apply(d, 1001, 0, c, &obj) == CTL_DONE);
    CHECK(obj > 0);
    int64_t gid = obj;
    CHECK(db_ctl_apply(d, 1001, 1, c, &obj) == CTL_EXISTS);
    CHECK(obj == gid);
    /* a share link with a hash that exists: the table refuses it, the
     * entry is recorded invalid and the transaction goes on */
    ctl_cmd *sh = cmd_new(CTL_SHARE_ADD);
    strcpy(sh->site, "example.com");
    memset(sh->hash, 7, sizeof(sh->hash));
    sh->has_hash = 1;
    CHECK(db_ctl_apply(d, 1002, 0, sh, &obj) == CTL_DONE);
    CHECK(db_ctl_apply(d, 1002, 1, sh, &obj) == CTL_INVALID);
    CHECK(db_ctl_apply(d, 1002, 2, NULL, &obj) == CTL_INVALID);
    CHECK(db_commit(d) == 0);
    int st;
    CHECK(db_ctl_result(d, 1001, 0, &st, &obj) == 1);
    CHECK(st == CTL_DONE && obj == gid);
    CHECK(db_ctl_result(d, 1002, 1, &st, &obj) == 1);
    CHECK(st == CTL_INVALID && obj == 0);
    CHECK(db_ctl_result(d, 5, 5, &st, &obj) == 0);
    free(c);
    free(s);
    free(sh);
    db_close(d);
    unlink(path);
}

int
main(void)
{
    RUN(test_roundtrip_every_verb);
    RUN(test_encode_refuses_incomplete);
    RUN(test_decode_refuses_malformed);
    RUN(test_apply);
    return check_summary("ctl");
}
