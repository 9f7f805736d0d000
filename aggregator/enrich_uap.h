/*
 * enrich_uap.h -- uap-core's user agent parser specification on PCRE2.
 *
 * Implements docs/specification.md of the uap-core package over the rules
 * tools/gen-data.mjs copies from uap-core's regexes.yaml into uap.json:
 * three ordered lists (user agent, OS, device), first matching regex wins,
 * matching is case-sensitive and unanchored (device rules with
 * regex_flag 'i' are case-insensitive), replacements substitute $1..$9
 * with the regex's groups, results are trimmed, an empty result is unset
 * and an unmatched family is "Other".  Plus one bot check: any pattern of
 * crawler-user-agents.json (also in uap.json) matching.
 *
 * Raw uap-core values, no normalisation: enrich_ua.h builds on this.
 * A handle is not thread-safe (it owns one match buffer): use one per
 * thread.
 */
#ifndef TALLY_ENRICH_UAP_H
#define TALLY_ENRICH_UAP_H

#include <stddef.h>

#define EN_UAP_STR 96   /* family strings, bytes incl. NUL (cut at a UTF-8 boundary) */
#define EN_UAP_VER 24   /* version parts */
#define EN_UAP_MAX_INPUT 1024  /* longer user agents are matched on this prefix */

typedef struct en_uap en_uap;

typedef struct en_uap_raw {
    char ua_family[EN_UAP_STR];
    char ua_major[EN_UAP_VER], ua_minor[EN_UAP_VER], ua_patch[EN_UAP_VER];
    char os_family[EN_UAP_STR];
    char os_major[EN_UAP_VER], os_minor[EN_UAP_VER], os_patch[EN_UAP_VER];
    char os_patch_minor[EN_UAP_VER];
    char device_family[EN_UAP_STR];
    int crawler;        /* 1 if a crawler-user-agents pattern matched */
} en_uap_raw;

/*
 * en_uap_load: reads uap.json at json_path and compiles every rule with
 * PCRE2 (JIT where available, done on a rule's first match attempt, as
 * most rules never run past the literal pre-filter; the handle is
 * confined to one thread anyway).  Returns a handle the caller owns (free
 * with en_uap_free), or NULL with a one-line reason in err (errlen bytes,
 * caller's buffer) when the file is missing, is not the expected JSON, or
 * a regex does not compile.
 */
en_uap *en_uap_load(const char *json_path, char *err, size_t errlen);

/*
 * en_uap_parse: parses ua (len bytes, any bytes, need not be NUL
 * terminated; only the first EN_UAP_MAX_INPUT are looked at) into *out,
 * which the caller owns.  Every string in *out is NUL-terminated, valid
 * UTF-8 without control characters; "" means unset.
 */
void en_uap_parse(en_uap *db, const char *ua, size_t len, en_uap_raw *out);

/*
 * en_uap_set_prefilter: turns the required-literal pre-filter on (default)
 * or off; results are the same either way, only speed differs (tests
 * check that).
 */
void en_uap_set_prefilter(en_uap *db, int on);

/* en_uap_rule_counts: number of ua, os, device rules loaded and how many
 * of them have a pre-filter literal (any pointer may be NULL). */
void en_uap_rule_counts(const en_uap *db, size_t *rules, size_t *with_literal);

/* en_uap_match_errors: matches that ended in a PCRE2 error (match limit,
 * JIT stack) and were treated as "no match" since load. */
unsigned long en_uap_match_errors(const en_uap *db);

/* en_uap_free: frees the handle and everything it owns; NULL is fine. */
void en_uap_free(en_uap *db);

#endif /* TALLY_ENRICH_UAP_H */
