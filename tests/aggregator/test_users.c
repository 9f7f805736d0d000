/* Tests for aggregator/crypto_pw.c, users.c and db_web.c: argon2id
 * hashing and verification, user add/check/passwd/remove, sessions and
 * share links on a real database -- and that no password ever reaches
 * the database file. */
#include "aggregator/crypto.h"
#include "aggregator/crypto_pw.h"
#include "aggregator/db.h"
#include "aggregator/users.h"
#include "tests/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char PW[] = "correct horse battery staple";

static void
test_hash_verify(void)
{
    char h1[CRYPTO_PW_STR], h2[CRYPTO_PW_STR];
    CHECK(crypto_start() == 0);
    CHECK(crypto_pw_hash(PW, strlen(PW), h1) == 0);
    CHECK(crypto_pw_hash(PW, strlen(PW), h2) == 0);
    /* an argon2id string with the INTERACTIVE limits, never the password */
    CHECK(strncmp(h1, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
    CHECK(strstr(h1, PW) == NULL);
    CHECK(strstr(h1, "horse") == NULL);
    CHECK(strcmp(h1, h2) != 0);                 /* fresh salt each time */
    CHECK(crypto_pw_verify(h1, PW, strlen(PW)) == 1);
    CHECK(crypto_pw_verify(h2, PW, strlen(PW)) == 1);
    CHECK(crypto_pw_needs_rehash(h1) == 0);
    /* wrong passwords: one byte off, a prefix, a longer one, empty */
    char wrong[sizeof(PW)];
    memcpy(wrong, PW, sizeof(PW));
    wrong[0] ^= 1;
    CHECK(crypto_pw_verify(h1, wrong, strlen(wrong)) == 0);
    CHECK(crypto_pw_verify(h1, PW, strlen(PW) - 1) == 0);
    CHECK(crypto_pw_verify(h1, "correct horse battery staplee", strlen(PW) + 1) == 0);
    CHECK(crypto_pw_verify(h1, "", 0) == 0);
    /* the length counts: an embedded NUL is part of the password */
    char withnul[] = "abc\0def";
    char h3[CRYPTO_PW_STR];
    CHECK(crypto_pw_hash(withnul, 7, h3) == 0);
    CHECK(crypto_pw_verify(h3, withnul, 7) == 1);
    CHECK(crypto_pw_verify(h3, withnul, 3) == 0);
    /* anything but a valid argon2id string is refused */
    CHECK(crypto_pw_verify(NULL, PW, strlen(PW)) == 0);
    CHECK(crypto_pw_verify("", PW, strlen(PW)) == 0);
    CHECK(crypto_pw_verify(PW, PW, strlen(PW)) == 0);
    char cut[CRYPTO_PW_STR];
    snprintf(cut, sizeof(cut), "%.*s", (int)strlen(h1) - 4, h1);
    CHECK(crypto_pw_verify(cut, PW, strlen(PW)) == 0);
    char flip[CRYPTO_PW_STR];
    strcpy(flip, h1);
    flip[strlen(flip) - 2] = flip[strlen(flip) - 2] == 'A' ? 'B' : 'A';
    CHECK(crypto_pw_verify(flip, PW, strlen(PW)) == 0);
    char argon2i[CRYPTO_PW_STR];
    strcpy(argon2i, h1);
    memcpy(argon2i, "$argon2i$", 9);
    memmove(argon2i + 9, h1 + 10, strlen(h1 + 10) + 1);
    CHECK(crypto_pw_verify(argon2i, PW, strlen(PW)) == 0);
}

static void
test_names(void)
{
    CHECK(usr_name_valid("admin"));
    CHECK(usr_name_valid("a.b-c_d@example.com"));
    CHECK(!usr_name_valid(""));
    CHECK(!usr_name_valid("-admin"));
    CHECK(!usr_name_valid("ad min"));
    CHECK(!usr_name_valid("admin\n"));
    CHECK(!usr_name_valid("ädmin"));
    char longname[DB_WEB_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[DB_WEB_NAME_MAX + 1] = '\0';
    CHECK(!usr_name_valid(longname));
    longname[DB_WEB_NAME_MAX] = '\0';
    CHECK(usr_name_valid(longname));
    char err[128];
    CHECK(usr_pw_acceptable(PW, strlen(PW), err, sizeof(err)));
    CHECK(!usr_pw_acceptable("short", 5, err, sizeof(err)));
    CHECK(strstr(err, "at least") != NULL);
    CHECK(!usr_pw_acceptable("abcd\0efgh", 9, err, sizeof(err)));
}

/* 1 when the file at path contains needle anywhere. */
static int
file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    static char buf[4 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(buf + i, needle, k) == 0)
            return 1;
    return 0;
}

static void
test_users_db(void)
{
    char path[] = "/tmp/tally-users-XXXXXX", err[512], h[CRYPTO_PW_STR];
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    db *d;
    CHECK(db_open(path, DB_RW, &d, err, sizeof(err)) == 0);
    CHECK(db_web_init(d) == 0);
    CHECK(db_web_init(d) == 0);                 /* idempotent */

    int64_t id = 0, got = 0;
    CHECK(usr_add(d, "admin", PW, strlen(PW), &id) == 0);
    CHECK(id > 0);
    CHECK(usr_add(d, "admin", "other password", 14, NULL) == 1);
    CHECK(db_user_find(d, "admin", &got, h, sizeof(h)) == 1);
    CHECK(got == id);
    CHECK(strncmp(h, "$argon2id$", 10) == 0);
    CHECK(strstr(h, PW) == NULL);
    CHECK(usr_check(d, "admin", PW, strlen(PW), &got) == 1 && got == id);
    CHECK(usr_check(d, "admin", "wrong password", 14, &got) == 0);
    CHECK(usr_check(d, "nobody", PW, strlen(PW), &got) == 0);
    CHECK(usr_check(d, "bad name", PW, strlen(PW), &got) == 0);

    /* sessions: found while live and the user exists */
    unsigned char s1[DB_HASH_SIZE], s2[DB_HASH_SIZE];
    crypto_hash256("session-1", 9, s1);
    crypto_hash256("session-2", 9, s2);
    char csrf[DB_WEB_CSRF_MAX + 1];
    CHECK(db_wsession_add(d, s1, id, "csrf-one", 1000, 2000) == 0);
    CHECK(db_wsession_add(d, s2, id, "csrf-two", 1000, 1500) == 0);
    CHECK(db_wsession_find(d, s1, 1999, &got, csrf) == 1);
    CHECK(got == id);
    CHECK_STR(csrf, "csrf-one");
    CHECK(db_wsession_find(d, s1, 2000, &got, csrf) == 0);   /* expired */
    CHECK(db_wsession_purge(d, 1600) == 1);                  /* s2 */
    CHECK(db_wsession_find(d, s2, 1000, &got, csrf) == 0);
    CHECK(db_wsession_delete(d, s1) == 0);
    CHECK(db_wsession_find(d, s1, 1000, &got, csrf) == 0);

    /* a new password ends the sessions and replaces the old one */
    CHECK(db_wsession_add(d, s1, id, "csrf-one", 1000, 2000) == 0);
    const char *np = "a brand new password";
    CHECK(usr_passwd(d, "admin", np, strlen(np)) == 1);
    CHECK(db_wsession_find(d, s1, 1500, &got, csrf) == 0);
    CHECK(usr_check(d, "admin", PW, strlen(PW), &got) == 0);
    CHECK(usr_check(d, "admin", np, strlen(np), &got) == 1);
    CHECK(usr_passwd(d, "nobody", np, strlen(np)) == 0);

    /* removing the user kills its sessions */
    CHECK(db_wsession_add(d, s2, id, "x", 1000, 2000) == 0);
    CHECK(db_user_remove(d, "admin") == 1);
    CHECK(db_wsession_find(d, s2, 1500, &got, csrf) == 0);
    CHECK(db_user_remove(d, "admin") == 0);
    CHECK(usr_check(d, "admin", np, strlen(np), &got) == 0);

    /* share links: found until revoked */
    unsigned char k[DB_HASH_SIZE];
    char site[256];
    crypto_hash256("share-token", 11, k);
    int64_t sid = 0;
    CHECK(db_share_add(d, k, "a.example", 1000, &sid) == 0);
    CHECK(db_share_find(d, k, &got, site, sizeof(site)) == 1);
    CHECK(got == sid);
    CHECK_STR(site, "a.example");
    CHECK(db_share_find(d, s1, &got, site, sizeof(site)) == 0);
    CHECK(db_share_revoke(d, sid, 1001) == 1);
    CHECK(db_share_revoke(d, sid, 1002) == 0);
    CHECK(db_share_find(d, k, &got, site, sizeof(site)) == 0);
    db_close(d);

    /* nothing in the file (or its WAL) is the password */
    char wal[sizeof(path) + 8];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    /* (positive control: the scan does see what is stored) */
    CHECK(file_contains(path, "a.example") || file_contains(wal, "a.example"));
    CHECK(!file_contains(path, PW));
    CHECK(!file_contains(wal, PW));
    CHECK(!file_contains(path, np));
    CHECK(!file_contains(wal, np));
    unlink(path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
}

int
main(void)
{
    RUN(test_hash_verify);
    RUN(test_names);
    RUN(test_users_db);
    return check_summary("users");
}
