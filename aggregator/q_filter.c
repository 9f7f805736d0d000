/* q_filter.c -- the filters of a Stats API v2 query (see q_parse.h):
 * operator names, parsing of the filter tree ("filters" and the and/or/
 * not/has_done/has_not_done nodes under it), the rules on where each
 * dimension and operator may be used, and the tree's release and echo.
 * Rule sources are cited as in q_parse.c: "QB" = plausible/analytics
 * lib/plausible/stats/query_builder.ex, "AQP" = api_query_parser.ex,
 * "schema" = priv/json-schemas/query-api-schema.json, "docs" =
 * plausible.io/docs/stats-api. */
#include "aggregator/q_parse_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- operator names ---- */

static const char *const q_op_names[] = {
    "is", "is_not", "contains", "contains_not", "matches", "matches_not",
    "and", "or", "not", "has_done", "has_not_done",
};

const char *
q_op_name(q_op op)
{
    return (unsigned)op <= Q_OP_HAS_NOT_DONE ? q_op_names[op] : "?";
}

/* ---- filters ---- */

/* Constructs RE2 lacks and a backtracking engine can be made to blow up
 * with (docs: matches uses RE2 syntax).  Returns NULL or a reason. */
static const char *
q_regex_unsupported(const char *p)
{
    int in_class = 0;
    for (; *p; p++) {
        if (*p == '\\') {
            char n = p[1];
            if (n == '\0')
                return NULL;            /* pcre2 reports it */
            if (!in_class && ((n >= '1' && n <= '9') || n == 'g' || n == 'k'))
                return "backreferences are not supported";
            if (n == 'C')
                return "\\C is not supported";
            p++;
            continue;
        }
        if (in_class) {
            if (*p == ']')
                in_class = 0;
            continue;
        }
        if (*p == '[') {
            in_class = 1;
            if (p[1] == '^')
                p++;
            if (p[1] == ']')
                p++;                    /* literal ']' first in a class */
            continue;
        }
        if (*p == '(' && p[1] == '*')
            return "(*VERB) constructs are not supported";
        if (*p == '(' && p[1] == '?') {
            const char *q = p + 2;
            if (*q == '=' || *q == '!' || (*q == '<' && (q[1] == '=' || q[1] == '!')))
                return "lookaround assertions are not supported";
            if (*q == '>' || *q == '|')
                return "atomic and branch-reset groups are not supported";
            if (*q == 'R' || *q == '&' || (*q >= '0' && *q <= '9') || *q == '+'
                || (*q == 'P' && (q[1] == '>' || q[1] == '=')))
                return "recursion and subroutine calls are not supported";
            if (*q == 'C')
                return "callouts are not supported";
            if (*q == '(')
                return "conditional groups are not supported";
        }
        if ((*p == '+' || *p == '*' || *p == '?' || *p == '}') && p[1] == '+')
            return "possessive quantifiers are not supported";
    }
    return NULL;
}

static int
q_check_regex(q_ctx *c, const char *path, const char *pat)
{
    size_t len = strlen(pat);
    if (len > Q_MAX_REGEX_LEN)
        return q_fail(c, "%s: Invalid filters. Regular expression longer than %d bytes "
                      "(limit).", path, Q_MAX_REGEX_LEN);
    const char *why = q_regex_unsupported(pat);
    if (why)
        return q_fail(c, "%s: Invalid filters. Regular expression not accepted: %s "
                      "(RE2 syntax).", path, why);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, PCRE2_UTF, &ec, &eo, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return q_fail(c, "%s: Invalid filters. Regular expression does not compile: %s "
                      "(at offset %zu).", path, (const char *)msg, (size_t)eo);
    }
    pcre2_code_free(re);
    return 0;
}

static size_t
q_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int q_parse_filter(q_ctx *c, json_t *f, const char *path, int depth,
                          int in_behavioral, q_filter *out);

static int
q_parse_simple(q_ctx *c, json_t *f, const char *path, int in_behavioral, q_filter *out)
{
    size_t n = json_array_size(f);
    if (n != 3 && n != 4)
        return q_fail(c, "%s: Invalid filter: a simple filter is [operator, dimension, "
                      "clauses] or [operator, dimension, clauses, modifiers].", path);
    if (++c->leaves > Q_MAX_FILTERS)
        return q_fail(c, "%s: Invalid filters. More than %d filters (limit).", path,
                      Q_MAX_FILTERS);
    json_t *dj = json_array_get(f, 1), *cj = json_array_get(f, 2);
    char p1[200];
    snprintf(p1, sizeof p1, "%s/1", path);
    if (!json_is_string(dj))
        return q_fail(c, "%s: Invalid filter: expected a dimension name (string).", p1);
    const char *ds = json_string_value(dj);
    if (strcmp(ds, "segment") == 0)
        return q_fail(c, "%s: Invalid filter: segments are not supported by Tally.", p1);
    if (strcmp(ds, "time") == 0 || strncmp(ds, "time:", 5) == 0)
        return q_fail(c, "%s: Invalid filter: time dimensions are not usable in filters; "
                      "set date_range instead.", p1);
    int rc = q_parse_dim(ds, 0, &out->dim);
    if (rc != 0)
        return q_dim_error(c, rc, p1, ds);
    /* schema: filter_with_goals -- event:goal takes is/contains only */
    if (out->dim.kind == Q_D_EVENT_GOAL && out->op != Q_OP_IS && out->op != Q_OP_CONTAINS)
        return q_fail(c, "%s/0: Invalid filter: only `is` and `contains` operators are "
                      "valid for the event:goal dimension.", path);
    /* QB validate_behavioral_filters */
    if (in_behavioral && !q_dim_is_event(out->dim.kind))
        return q_fail(c, "%s: Invalid filters. Behavioral filters (has_done, "
                      "has_not_done) can only be used with event dimension filters.", p1);
    if (!json_is_array(cj))
        return q_fail(c, "%s/2: Invalid filter: clauses must be an array of strings.",
                      path);
    size_t nc = json_array_size(cj);
    if (nc > Q_MAX_CLAUSES)
        return q_fail(c, "%s/2: Invalid filters. More than %d clauses in one filter "
                      "(limit).", path, Q_MAX_CLAUSES);
    out->case_sensitive = 1;
    out->clauses = calloc(nc ? nc : 1, sizeof *out->clauses);
    if (out->clauses == NULL)
        return q_fail(c, "Out of memory");
    for (size_t i = 0; i < nc; i++) {
        json_t *cl = json_array_get(cj, i);
        char pi[220];
        snprintf(pi, sizeof pi, "%s/2/%zu", path, i);
        if (!json_is_string(cl))
            return q_fail(c, "%s: Invalid filter: clauses must be strings.", pi);
        const char *s = json_string_value(cl);
        if (json_string_length(cl) > Q_MAX_CLAUSE_LEN)
            return q_fail(c, "%s: Invalid filters. Clause longer than %d bytes (limit).",
                          pi, Q_MAX_CLAUSE_LEN);
        /* AQP parse_clauses_list */
        if (out->dim.kind == Q_D_VISIT_COUNTRY
            && (out->op == Q_OP_IS || out->op == Q_OP_IS_NOT) && q_utf8_len(s) != 2)
            return q_fail(c, "%s: Invalid visit:country filter, visit:country needs to be "
                          "a valid 2-letter country code.", pi);
        if ((out->op == Q_OP_MATCHES || out->op == Q_OP_MATCHES_NOT)
            && q_check_regex(c, pi, s) != 0)
            return -1;
        if ((out->clauses[i] = strdup(s)) == NULL)
            return q_fail(c, "Out of memory");
        out->nclauses++;
    }
    if (n == 4) {
        json_t *mj = json_array_get(f, 3);
        if (!json_is_object(mj))
            return q_fail(c, "%s/3: Invalid filter: modifiers must be an object.", path);
        const char *k;
        json_t *mv;
        json_object_foreach(mj, k, mv) {
            if (strcmp(k, "case_sensitive") != 0)
                return q_fail(c, "%s/3: Invalid filter: unknown modifier '%.64s'.", path, k);
            if (!json_is_boolean(mv))
                return q_fail(c, "%s/3/case_sensitive: Invalid filter: expected a boolean.",
                              path);
            /* QB validate_case_sensitive_filter_modifier */
            if (out->op == Q_OP_MATCHES || out->op == Q_OP_MATCHES_NOT)
                return q_fail(c, "%s/3: Invalid filters. The case_sensitive modifier is not "
                              "allowed with pattern operators.", path);
            out->case_sensitive = json_is_true(mv);
            out->has_modifiers = 1;
        }
    }
    return 0;
}

static int
q_parse_filter(q_ctx *c, json_t *f, const char *path, int depth, int in_behavioral,
               q_filter *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_array(f) || json_array_size(f) < 2
        || !json_is_string(json_array_get(f, 0)))
        return q_fail(c, "%s: Invalid filter: expected [operator, ...].", path);
    const char *op = json_string_value(json_array_get(f, 0));
    int found = -1;
    for (int i = 0; i <= Q_OP_HAS_NOT_DONE; i++)
        if (strcmp(op, q_op_names[i]) == 0)
            found = i;
    if (found < 0)
        return q_fail(c, "%s/0: Unknown operator for filter '%.40s'.", path, op);
    out->op = (q_op)found;
    if (out->op <= Q_OP_MATCHES_NOT)
        return q_parse_simple(c, f, path, in_behavioral, out);

    if (json_array_size(f) != 2)
        return q_fail(c, "%s: Invalid filter: `%s` takes exactly one argument.", path, op);
    if (depth + 1 > Q_MAX_FILTER_DEPTH)
        return q_fail(c, "%s: Invalid filters. Filters nested deeper than %d levels "
                      "(limit).", path, Q_MAX_FILTER_DEPTH);
    int behavioral = out->op == Q_OP_HAS_DONE || out->op == Q_OP_HAS_NOT_DONE;
    if (behavioral && in_behavioral)
        return q_fail(c, "%s: Invalid filters. Behavioral filters (has_done, "
                      "has_not_done) cannot be nested.", path);
    json_t *arg = json_array_get(f, 1);
    char sub[200];
    if (out->op == Q_OP_AND || out->op == Q_OP_OR) {
        if (!json_is_array(arg) || json_array_size(arg) == 0)
            return q_fail(c, "%s/1: Invalid filter: `%s` takes a non-empty array of "
                          "filters.", path, op);
        size_t n = json_array_size(arg);
        if (n > Q_MAX_FILTERS)
            return q_fail(c, "%s/1: Invalid filters. More than %d filters (limit).", path,
                          Q_MAX_FILTERS);
        if ((out->children = calloc(n, sizeof *out->children)) == NULL)
            return q_fail(c, "Out of memory");
        for (size_t i = 0; i < n; i++) {
            snprintf(sub, sizeof sub, "%s/1/%zu", path, i);
            out->nchildren++;
            if (q_parse_filter(c, json_array_get(arg, i), sub, depth + 1, in_behavioral,
                               &out->children[i]))
                return -1;
        }
        return 0;
    }
    if ((out->children = calloc(1, sizeof *out->children)) == NULL)
        return q_fail(c, "Out of memory");
    out->nchildren = 1;
    snprintf(sub, sizeof sub, "%s/1", path);
    return q_parse_filter(c, arg, sub, depth + 1, in_behavioral || behavioral,
                          out->children);
}

int
q_filter_parse_list(q_ctx *c, json_t *v)
{
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return q_fail(c, "#/filters: Invalid filters: expected an array.");
    size_t n = json_array_size(v);
    if (n > Q_MAX_FILTERS)
        return q_fail(c, "#/filters: Invalid filters. More than %d filters (limit).",
                      Q_MAX_FILTERS);
    if (n == 0)
        return 0;
    if ((c->q->filters = calloc(n, sizeof *c->q->filters)) == NULL)
        return q_fail(c, "Out of memory");
    for (size_t i = 0; i < n; i++) {
        char path[48];
        snprintf(path, sizeof path, "#/filters/%zu", i);
        c->q->nfilters++;
        if (q_parse_filter(c, json_array_get(v, i), path, 0, 0, &c->q->filters[i]))
            return -1;
    }
    return 0;
}

/* Walks the filter tree: does a simple filter on `kind` occur?
 * min_depth 1 = only inside and/or/not; ignore_behavioral skips the
 * insides of has_done/has_not_done; toplevel_only = only the top list. */
int
q_filter_uses(const q_filter *f, size_t n, q_dim_kind kind, int depth, int min_depth,
              int ignore_behavioral, int toplevel_only)
{
    for (size_t i = 0; i < n; i++) {
        const q_filter *x = &f[i];
        if (x->op <= Q_OP_MATCHES_NOT) {
            if (x->dim.kind == kind && depth >= min_depth)
                return 1;
            continue;
        }
        if (toplevel_only)
            continue;
        if (ignore_behavioral && (x->op == Q_OP_HAS_DONE || x->op == Q_OP_HAS_NOT_DONE))
            continue;
        if (q_filter_uses(x->children, x->nchildren, kind, depth + 1, min_depth,
                          ignore_behavioral, 0))
            return 1;
    }
    return 0;
}

/* ---- cross-field validation (QB build/1: the filter rules) ---- */

int
q_filter_validate(q_ctx *c)
{
    const q_query *q = c->q;
    /* QB validate_toplevel_only_filter_dimension */
    static const q_dim_kind toplevel[] = { Q_D_EVENT_GOAL, Q_D_EVENT_HOSTNAME };
    for (size_t i = 0; i < 2; i++)
        if (q_filter_uses(q->filters, q->nfilters, toplevel[i], 0, 1, 1, 0))
            return q_fail(c, "#/filters: Invalid filters. Dimension `%s` can only be "
                          "filtered at the top level.", q_dim_name(toplevel[i]));
    /* QB validate_special_metrics_filters */
    if ((q_has_metric(q, Q_M_CONVERSION_RATE) || q_has_metric(q, Q_M_GROUP_CONVERSION_RATE))
        && q_filter_uses(q->filters, q->nfilters, Q_D_EVENT_PROP, 0, 1, 0, 0))
        return q_fail(c, "#/filters: Invalid filters. When `conversion_rate` or "
                      "`group_conversion_rate` metrics are used, custom property filters "
                      "can only be used on top level.");
    return 0;
}

/* ---- release and echo ---- */

void
q_filter_free(q_filter *f)
{
    for (size_t i = 0; i < f->nclauses; i++)
        free(f->clauses[i]);
    free(f->clauses);
    free(f->dim.prop);
    for (size_t i = 0; i < f->nchildren; i++)
        q_filter_free(&f->children[i]);
    free(f->children);
}

json_t *
q_filter_json(const q_filter *f)
{
    json_t *a = json_array();
    json_array_append_new(a, json_string(q_op_name(f->op)));
    if (f->op <= Q_OP_MATCHES_NOT) {
        json_array_append_new(a, q_dim_json(&f->dim));
        json_t *cl = json_array();
        for (size_t i = 0; i < f->nclauses; i++)
            json_array_append_new(cl, json_string(f->clauses[i]));
        json_array_append_new(a, cl);
        if (f->has_modifiers)
            json_array_append_new(a, json_pack("{s:b}", "case_sensitive",
                                               f->case_sensitive));
    } else if (f->op == Q_OP_AND || f->op == Q_OP_OR) {
        json_t *ch = json_array();
        for (size_t i = 0; i < f->nchildren; i++)
            json_array_append_new(ch, q_filter_json(&f->children[i]));
        json_array_append_new(a, ch);
    } else {
        json_array_append_new(a, q_filter_json(&f->children[0]));
    }
    return a;
}
