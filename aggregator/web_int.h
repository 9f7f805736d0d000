/*
 * web_int.h -- private to aggregator/web_*.c: database connections,
 * request helpers, tokens and the login rate limiter.
 */
#ifndef TALLY_AGG_WEB_INT_H
#define TALLY_AGG_WEB_INT_H

#include "aggregator/db.h"
#include "aggregator/http.h"
#include "aggregator/web.h"

#include <stddef.h>
#include <stdint.h>

#define WEB_SESSION_COOKIE "tally_session"
#define WEB_CSRF_COOKIE    "tally_csrf"
#define WEB_SESSION_TTL    (14 * 86400)     /* seconds */
#define WEB_TOKEN_LEN      43               /* b64url of 32 random bytes */
#define WEB_TOKEN_BUF      (WEB_TOKEN_LEN + 1)

/* The calling thread's read-only connection (opened on first use,
 * closed when the thread exits), or NULL (logged). */
db *web_db(void);

/* The shared read-write connection for the web tables, locked for the
 * caller (NULL, unlocked, when it cannot be opened).  Unlock after use. */
db *web_wdb_lock(void);
void web_wdb_unlock(void);

/* The dashboard directory found by web_init ("" when none). */
const char *web_dashboard_dir(void);

/* Sets resp to status with body {"error": msg}. */
void web_error(http_response *resp, int status, const char *msg);

/* Sets resp to an empty 204. */
void web_no_content(http_response *resp);

/* 1 when s is exactly WEB_TOKEN_LEN base64url characters. */
int web_token_valid(const char *s);

/* A fresh random token (32 bytes, b64url) into out. */
void web_token_new(char out[WEB_TOKEN_BUF]);

/* Copies the value of cookie name from the Cookie header(s) into out
 * (cap bytes).  Returns 1 when present and it fits, 0 otherwise. */
int web_cookie(const http_request *req, const char *name, char *out,
               size_t cap);

/* Finds field name in an application/x-www-form-urlencoded body and
 * URL-decodes it into out (cap bytes, NUL terminated; *outlen its
 * length).  Returns 1, 0 (absent), -1 (malformed or too long). */
int web_form_field(const char *body, size_t len, const char *name,
                   char *out, size_t cap, size_t *outlen);

/* 1 when the request reached the proxy over TLS (X-Forwarded-Proto:
 * https), so cookies get the Secure attribute. */
int web_is_tls(const http_request *req);

/* Checks the session cookie value tok on d.  Returns 1 when it names a
 * live session (*uid set) and, unless the method is GET or HEAD, the
 * X-Tally-CSRF header equals the session's token; 0 when there is no
 * such live session (resp untouched); -2 for a wrong or missing CSRF
 * header (resp: 403); -1 on a database error (resp: 500). */
int web_session_auth(db *d, const http_request *req, const char *tok,
                     int64_t *uid, http_response *resp);

/* Rate-limit keys: a keyed hash (process-random key, memory only) of the
 * user name, or of the client address (the TCP peer; from a loopback
 * peer -- the local proxy -- the X-Real-IP header when present). */
#define WEB_RATE_KEY 16
void web_rate_key_user(const char *name, unsigned char out[WEB_RATE_KEY]);
void web_rate_key_client(const http_request *req,
                         unsigned char out[WEB_RATE_KEY]);

#define WEB_RATE_FAILS  5       /* failures allowed per window */
#define WEB_RATE_WINDOW 900     /* seconds */

/* Seconds until key may try again (0: now). */
int64_t web_rate_wait(const unsigned char key[WEB_RATE_KEY], int64_t now);
/* Records a failure of key at now. */
void web_rate_fail(const unsigned char key[WEB_RATE_KEY], int64_t now);
/* Forgets key's failures. */
void web_rate_clear(const unsigned char key[WEB_RATE_KEY]);
/* Initialises the limiter's random key.  Returns 0. */
int web_rate_init(void);

#endif
