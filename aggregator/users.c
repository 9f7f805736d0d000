/* users.c -- see users.h. */
#include "aggregator/users.h"
#include "aggregator/crypto.h"
#include "aggregator/crypto_pw.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int
usr_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > DB_WEB_NAME_MAX || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || strchr("._@+-", c) != NULL))
            return 0;
    }
    return 1;
}

int
usr_pw_acceptable(const char *pw, size_t len, char *err, size_t errlen)
{
    if (len < USR_PW_MIN) {
        snprintf(err, errlen, "the password must have at least %d characters",
                 USR_PW_MIN);
        return 0;
    }
    if (len > USR_PW_MAX) {
        snprintf(err, errlen, "the password must have at most %d bytes",
                 USR_PW_MAX);
        return 0;
    }
    if (memchr(pw, '\0', len) != NULL) {
        snprintf(err, errlen, "the password must not contain a NUL byte");
        return 0;
    }
    return 1;
}

int
usr_add(db *d, const char *name, const char *pw, size_t len, int64_t *id)
{
    char h[CRYPTO_PW_STR];
    if (crypto_pw_hash(pw, len, h) != 0)
        return -1;
    int64_t uid = 0;
    int rc = db_user_add(d, name, h, (int64_t)time(NULL), &uid);
    crypto_wipe(h, sizeof(h));
    if (rc == 0 && id)
        *id = uid;
    return rc;
}

int
usr_passwd(db *d, const char *name, const char *pw, size_t len)
{
    char h[CRYPTO_PW_STR];
    if (crypto_pw_hash(pw, len, h) != 0)
        return -1;
    int rc = db_user_set_hash(d, name, h);
    crypto_wipe(h, sizeof(h));
    return rc;
}

/* A hash of a random password nobody knows, verified against when the
 * user does not exist so that both failures cost the same time. */
static char usr_dummy[CRYPTO_PW_STR];
static pthread_once_t usr_dummy_once = PTHREAD_ONCE_INIT;

static void
usr_dummy_init(void)
{
    unsigned char r[32];
    crypto_random(r, sizeof(r));
    if (crypto_pw_hash((const char *)r, sizeof(r), usr_dummy) != 0)
        usr_dummy[0] = '\0';
    crypto_wipe(r, sizeof(r));
}

int
usr_check(db *d, const char *name, const char *pw, size_t len, int64_t *id)
{
    char h[CRYPTO_PW_STR];
    int64_t uid = 0;
    int found = usr_name_valid(name) && len <= USR_PW_MAX
                ? db_user_find(d, name, &uid, h, sizeof(h)) : 0;
    if (found < 0)
        return -1;
    if (found == 0) {
        pthread_once(&usr_dummy_once, usr_dummy_init);
        (void)crypto_pw_verify(usr_dummy, pw, len);
        return 0;
    }
    int ok = crypto_pw_verify(h, pw, len);
    crypto_wipe(h, sizeof(h));
    if (ok && id)
        *id = uid;
    return ok;
}
