/* goals.c -- see goals.h. */
#include "aggregator/goals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
goal_validate(enum goal_kind kind, const char *value, char *err, size_t errlen)
{
    size_t n = value ? strlen(value) : 0;
    if (kind != GOAL_EVENT && kind != GOAL_PAGE) {
        snprintf(err, errlen, "goal type must be \"event\" or \"page\"");
        return -1;
    }
    if (n == 0 || n > GOAL_VALUE_MAX) {
        snprintf(err, errlen, "%s must be 1 to %d bytes",
                 kind == GOAL_EVENT ? "event_name" : "page_path", GOAL_VALUE_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
            snprintf(err, errlen, "%s must not contain control characters",
                     kind == GOAL_EVENT ? "event_name" : "page_path");
            return -1;
        }
    }
    if (kind == GOAL_PAGE && value[0] != '/') {
        snprintf(err, errlen, "page_path must start with '/'");
        return -1;
    }
    return 0;
}

static int
goals_add_cb(void *ctx, int64_t id, int kind, const char *value)
{
    goal_list *l = ctx;
    if (l->n >= GOALS_MAX_PER_SITE || (kind != GOAL_EVENT && kind != GOAL_PAGE))
        return 0;
    goal *g = &l->g[l->n];
    g->id = id;
    g->kind = kind;
    g->value = strdup(value ? value : "");
    size_t nl = strlen(g->value) + 7;
    g->name = malloc(nl);
    if (g->value == NULL || g->name == NULL) {
        free(g->value);
        free(g->name);
        return -1;
    }
    snprintf(g->name, nl, "%s%s", kind == GOAL_PAGE ? "Visit " : "", g->value);
    l->n++;
    return 0;
}

int
goals_load(db *d, int64_t site_id, goal_list *out)
{
    out->n = 0;
    out->g = calloc(GOALS_MAX_PER_SITE, sizeof(goal));
    if (out->g == NULL)
        return -1;
    if (db_goal_each(d, site_id, goals_add_cb, out) != 0) {
        goals_free(out);
        return -1;
    }
    return 0;
}

void
goals_free(goal_list *l)
{
    for (size_t i = 0; l->g && i < l->n; i++) {
        free(l->g[i].value);
        free(l->g[i].name);
    }
    free(l->g);
    l->g = NULL;
    l->n = 0;
}
