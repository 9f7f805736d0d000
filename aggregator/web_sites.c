/* web_sites.c -- GET /api/v1/sites: {"sites":[{"domain","timezone"}]},
 * every site for an API key or a session, only the shared one for a
 * share link (listed even before its first event, so its page opens). */
#include "aggregator/web_int.h"

#include <jansson.h>
#include <string.h>

static int
web_sites_add(void *ctx, const char *domain, const char *tz)
{
    json_t *o = json_pack("{s:s, s:s}", "domain", domain, "timezone", tz);
    return o == NULL || json_array_append_new(ctx, o) != 0 ? -1 : 0;
}

void
web_sites(void *ctx, const http_request *req, http_response *resp)
{
    (void)ctx;
    db *d = web_db();
    if (d == NULL) {
        web_error(resp, 500, "database unavailable");
        return;
    }
    web_principal p;
    if (!web_auth(d, req, &p, resp))
        return;
    json_t *list = json_array();
    if (list == NULL) {
        web_error(resp, 500, "out of memory");
        return;
    }
    int rc = db_site_info_each(d, p.kind == WEB_AUTH_SHARE ? p.site : NULL,
                               web_sites_add, list);
    if (rc == 0 && p.kind == WEB_AUTH_SHARE && json_array_size(list) == 0)
        rc = web_sites_add(list, p.site, "UTC");
    json_t *root = rc == 0 ? json_pack("{s:o}", "sites", list) : NULL;
    if (root == NULL) {
        if (rc != 0)            /* else json_pack took (and freed) it */
            json_decref(list);
        web_error(resp, 500, rc < 0 ? "database error" : "out of memory");
        return;
    }
    resp->status = 200;
    resp->body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
}
