/* web_auth.c -- who may call the API routes: a Bearer API key, a share
 * token (X-Tally-Share) or a session cookie with, on POST, its CSRF
 * header.  See web.h. */
#include "aggregator/web_int.h"
#include "aggregator/crypto.h"
#include "aggregator/keys.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* 1 when the two strings are equal, in time independent of where they
 * differ (both are hashed first). */
static int
web_str_equal(const char *a, const char *b)
{
    unsigned char ha[CRYPTO_HASH_SIZE], hb[CRYPTO_HASH_SIZE];
    crypto_hash256(a, strlen(a), ha);
    crypto_hash256(b, strlen(b), hb);
    return crypto_equal32(ha, hb);
}

int
web_session_auth(db *d, const http_request *req, const char *tok,
                 int64_t *uid, http_response *resp)
{
    if (!web_token_valid(tok))
        return 0;
    unsigned char h[CRYPTO_HASH_SIZE];
    char csrf[DB_WEB_CSRF_MAX + 1];
    crypto_hash256(tok, strlen(tok), h);
    int ok = db_wsession_find(d, h, (int64_t)time(NULL), uid, csrf);
    if (ok < 0) {
        web_error(resp, 500, "database error");
        return -1;
    }
    if (ok == 0)
        return 0;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        const char *sent = http_header(req, "X-Tally-CSRF");
        if (sent == NULL || !web_str_equal(sent, csrf)) {
            web_error(resp, 403, "missing or wrong X-Tally-CSRF header"
                      " (reload the page)");
            return -2;
        }
    }
    return 1;
}

int
web_auth(db *d, const http_request *req, web_principal *p,
         http_response *resp)
{
    memset(p, 0, sizeof(*p));
    if (req->authorization != NULL) {
        int ok = keys_check(d, req->authorization, &p->id);
        if (ok <= 0) {
            web_error(resp, ok < 0 ? 500 : 401,
                      ok < 0 ? "database error" : "invalid API key");
            return 0;
        }
        p->kind = WEB_AUTH_KEY;
        return 1;
    }

    const char *share = http_header(req, "X-Tally-Share");
    if (share != NULL) {
        int ok = 0;
        if (web_token_valid(share)) {
            unsigned char h[CRYPTO_HASH_SIZE];
            crypto_hash256(share, strlen(share), h);
            ok = db_share_find(d, h, &p->id, p->site, sizeof(p->site));
        }
        if (ok <= 0) {
            web_error(resp, ok < 0 ? 500 : 401, ok < 0 ? "database error"
                      : "this share link is invalid or has been revoked");
            return 0;
        }
        p->kind = WEB_AUTH_SHARE;
        return 1;
    }

    char tok[WEB_TOKEN_BUF + 1];
    if (web_cookie(req, WEB_SESSION_COOKIE, tok, sizeof(tok))) {
        int ok = web_session_auth(d, req, tok, &p->id, resp);
        crypto_wipe(tok, sizeof(tok));
        if (ok == 0)
            web_error(resp, 401, "your session has expired: log in again");
        if (ok != 1)
            return 0;
        p->kind = WEB_AUTH_SESSION;
        return 1;
    }
    web_error(resp, 401, "missing credentials: log in, or send the header"
              " 'Authorization: Bearer <key>'");
    return 0;
}

int
web_auth_site(const web_principal *p, const char *site, http_response *resp)
{
    if (p->kind != WEB_AUTH_SHARE || strcmp(site, p->site) == 0)
        return 1;
    /* the same answer as for a site that does not exist (api_query.c) */
    char msg[WEB_SITE_MAX + 96];
    snprintf(msg, sizeof(msg),
             "site '%.200s' not found (sites appear with their first event)",
             site);
    web_error(resp, 404, msg);
    return 0;
}

int
web_auth_query(const web_principal *p, const char *body, size_t len,
               http_response *resp)
{
    if (p->kind != WEB_AUTH_SHARE)
        return 1;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        char msg[256];
        if (root != NULL)
            snprintf(msg, sizeof(msg), "the request body must be a JSON object");
        else
            snprintf(msg, sizeof(msg), "invalid JSON: %s", je.text);
        json_decref(root);
        web_error(resp, 400, msg);
        return 0;
    }
    json_t *s = json_object_get(root, "site_id");
    int ok;
    if (!json_is_string(s)) {
        ok = 1;             /* the query parser names the problem (400) */
    } else {
        const char *site = json_string_value(s);
        ok = strlen(site) == json_string_length(s)
             && web_auth_site(p, site, resp);
        if (!ok && resp->body == NULL)
            web_error(resp, 404, "site not found");
    }
    json_decref(root);
    return ok;
}
