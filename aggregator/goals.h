/*
 * goals.h -- sites, goals and API-key scopes: the tables the Stats API
 * executor and the `sites`, `goals` and `keys` commands share.
 *
 * Tables (created idempotently by db_goals_init, outside db_schema.c's
 * migration chain):
 *   goals(id, site_id, kind, value, created)  kind 1 = custom event name,
 *                          2 = page path pattern (e.g. "/blog/" plus a star:
 *                          a star is any run of characters but '/', two stars any run at all);
 *                          UNIQUE(site_id, kind, value)
 *   key_sites(key_id, site_id)   an API key with rows here may only read
 *                          those sites; a key without rows reads all
 * Site time zones live in sites.timezone (schema v1).
 *
 * A goal's name in the Stats API (event:goal values) is the event name,
 * or "Visit " + the pattern for page goals, as in Plausible.
 */
#ifndef TALLY_AGG_GOALS_H
#define TALLY_AGG_GOALS_H

#include "aggregator/db.h"

#include <stddef.h>
#include <stdint.h>

enum goal_kind { GOAL_EVENT = 1, GOAL_PAGE = 2 };

#define GOAL_VALUE_MAX 2000
#define GOALS_MAX_PER_SITE 64

typedef struct {
    int64_t        id;
    enum goal_kind kind;
    char          *value;        /* event name or page pattern      */
    char          *name;         /* "Signup" / "Visit /blog/..."  */
} goal;

typedef struct {
    goal  *g;
    size_t n;
} goal_list;

/* 0 when value is acceptable for kind, else -1 with a message in err:
 * 1..GOAL_VALUE_MAX bytes, no control characters; page patterns start
 * with '/'. */
int goal_validate(enum goal_kind kind, const char *value, char *err,
                  size_t errlen);

/* The goals of site_id (at most GOALS_MAX_PER_SITE, by id).  A database
 * without the goals table has none.  Returns 0 (free with goals_free) or
 * -1. */
int goals_load(db *d, int64_t site_id, goal_list *out);
void goals_free(goal_list *l);

/* ---- db_goals.c ---- */

/* Creates the tables above if missing (a read-write handle).  0 or -1. */
int db_goals_init(db *d);

/* Opens the existing database at path read-write without migrating the
 * schema, and runs db_goals_init.  0 and *out, or -1 with err. */
int db_goals_open(const char *path, db **out, char *err, size_t errlen);

/* Adds a site or sets its time zone.  Returns 1 added, 0 updated, -1. */
int db_site_upsert(db *d, const char *domain, const char *tz);

/* Deletes a site with its events, visits, rollups, goals and key scopes,
 * in one transaction.  Returns 1, 0 (unknown site), -1. */
int db_site_delete(db *d, const char *domain);

/* The same inside the caller's open transaction (nothing is committed or
 * rolled back here); clears this handle's cached site ids.  Returns 1,
 * 0 (unknown site), -1. */
int db_site_delete_in_tx(db *d, const char *domain);

/* Calls fn for every site by domain (strings valid during the call).
 * Returns 0, fn's value, or -1. */
int db_sites_list(db *d, int (*fn)(void *ctx, int64_t id, const char *domain,
                                   const char *tz), void *ctx);

/* Adds a goal.  Returns 1 added (*id set), 0 already present (*id of the
 * existing one), -1 error. */
int db_goal_add(db *d, int64_t site_id, enum goal_kind kind,
                const char *value, int64_t now, int64_t *id);

/* Removes goal id of site_id.  Returns 1, 0 (no such goal), -1. */
int db_goal_remove(db *d, int64_t site_id, int64_t id);

/* Calls fn for every goal of site_id by id.  A missing table means no
 * goals.  Returns 0, fn's value, or -1. */
int db_goal_each(db *d, int64_t site_id,
                 int (*fn)(void *ctx, int64_t id, int kind, const char *value),
                 void *ctx);

/* Scopes key_id to site_id.  Returns 0 or -1. */
int db_key_site_add(db *d, int64_t key_id, int64_t site_id);

/* 1 when key_id may read site_id (no scope rows, or a matching one), 0
 * when not, -1 on error. */
int db_key_site_allowed(db *d, int64_t key_id, int64_t site_id);

#endif
