/* web_login.c -- POST /login and POST /logout (see web.h). */
#include "aggregator/web_int.h"
#include "aggregator/crypto.h"
#include "aggregator/log.h"
#include "aggregator/users.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Adds the Set-Cookie headers: value "" with max_age 0 clears them. */
static void
web_set_cookies(http_response *resp, const http_request *req,
                const char *session, const char *csrf, long max_age)
{
    const char *secure = web_is_tls(req) ? "; Secure" : "";
    char c[256];
    snprintf(c, sizeof(c), "%s=%s; Path=/; Max-Age=%ld; HttpOnly;"
             " SameSite=Strict%s", WEB_SESSION_COOKIE, session, max_age, secure);
    http_add_header(resp, "Set-Cookie", c);
    snprintf(c, sizeof(c), "%s=%s; Path=/; Max-Age=%ld; SameSite=Strict%s",
             WEB_CSRF_COOKIE, csrf, max_age, secure);
    http_add_header(resp, "Set-Cookie", c);
}

/* Creates a session for user uid and sets the cookies.  0 or -1. */
static int
web_session_start(http_response *resp, const http_request *req, int64_t uid,
                  int64_t now)
{
    char tok[WEB_TOKEN_BUF], csrf[WEB_TOKEN_BUF];
    unsigned char h[CRYPTO_HASH_SIZE];
    web_token_new(tok);
    web_token_new(csrf);
    crypto_hash256(tok, WEB_TOKEN_LEN, h);
    db *w = web_wdb_lock();
    int rc = -1;
    if (w != NULL) {
        if (db_wsession_purge(w, now) < 0)
            log_warn("web: cannot purge expired sessions");
        rc = db_wsession_add(w, h, uid, csrf, now, now + WEB_SESSION_TTL);
        web_wdb_unlock();
    }
    if (rc == 0) {
        web_no_content(resp);
        web_set_cookies(resp, req, tok, csrf, WEB_SESSION_TTL);
    }
    crypto_wipe(tok, sizeof(tok));
    return rc;
}

void
web_login(void *ctx, const http_request *req, http_response *resp)
{
    (void)ctx;
    const char *xrw = http_header(req, "X-Requested-With");
    if (xrw == NULL || strcasecmp(xrw, "tally") != 0) {
        web_error(resp, 403, "missing header 'X-Requested-With: tally'");
        return;
    }
    const char *ct = http_header(req, "Content-Type");
    if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        web_error(resp, 415, "send the form as application/x-www-form-urlencoded");
        return;
    }
    char name[DB_WEB_NAME_MAX + 1], pw[USR_PW_MAX + 1];
    size_t nlen = 0, pwlen = 0;
    int fn = web_form_field(req->body, req->body_len, "username", name,
                            sizeof(name), &nlen);
    int fp = web_form_field(req->body, req->body_len, "password", pw,
                            sizeof(pw), &pwlen);
    int64_t now = (int64_t)time(NULL);
    unsigned char kuser[WEB_RATE_KEY], kclient[WEB_RATE_KEY];
    web_rate_key_client(req, kclient);
    if (fn == 1)
        web_rate_key_user(name, kuser);
    else
        memset(kuser, 0, sizeof(kuser));

    int64_t wait = web_rate_wait(kclient, now);
    int64_t wu = fn == 1 ? web_rate_wait(kuser, now) : 0;
    if (wu > wait)
        wait = wu;
    if (wait > 0) {
        char ra[32], msg[128];
        snprintf(ra, sizeof(ra), "%lld", (long long)wait);
        snprintf(msg, sizeof(msg), "too many failed logins: try again in %lld"
                 " seconds", (long long)wait);
        web_error(resp, 429, msg);
        http_add_header(resp, "Retry-After", ra);
        goto out;
    }
    if (fn != 1 || fp != 1 || nlen == 0 || pwlen == 0) {
        /* a malformed form costs a try too: it is not a credential check
         * an honest client ever fails */
        web_rate_fail(kclient, now);
        web_error(resp, 400, "the form needs a username and a password");
        goto out;
    }
    db *d = web_db();
    int64_t uid = 0;
    int ok = d ? usr_check(d, name, pw, pwlen, &uid) : -1;
    if (ok < 0) {
        web_error(resp, 500, "database error");
        goto out;
    }
    if (ok == 0) {
        web_rate_fail(kclient, now);
        web_rate_fail(kuser, now);
        web_error(resp, 401, "wrong username or password");
        goto out;
    }
    web_rate_clear(kuser);
    if (web_session_start(resp, req, uid, now) != 0)
        web_error(resp, 500, "cannot store the session");
out:
    crypto_wipe(pw, sizeof(pw));
}

void
web_logout(void *ctx, const http_request *req, http_response *resp)
{
    (void)ctx;
    char tok[WEB_TOKEN_BUF + 1];
    if (web_cookie(req, WEB_SESSION_COOKIE, tok, sizeof(tok))) {
        db *d = web_db();
        int64_t uid;
        /* a live session must show its CSRF token to end; a dead one
         * only gets its cookies cleared */
        int ok = d ? web_session_auth(d, req, tok, &uid, resp) : -1;
        if (ok == 1) {
            unsigned char h[CRYPTO_HASH_SIZE];
            crypto_hash256(tok, WEB_TOKEN_LEN, h);
            db *w = web_wdb_lock();
            ok = w && db_wsession_delete(w, h) == 0 ? 1 : -1;
            if (w)
                web_wdb_unlock();
            if (ok != 1)
                web_error(resp, 500, "cannot delete the session");
        } else if (ok == -1 && resp->body == NULL) {
            web_error(resp, 500, "database unavailable");
        }
        if (ok < 0) {
            crypto_wipe(tok, sizeof(tok));
            return;
        }
    }
    crypto_wipe(tok, sizeof(tok));
    web_no_content(resp);
    web_set_cookies(resp, req, "", "", 0);
}
