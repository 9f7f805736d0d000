/*
 * tally_json.h -- the allocation-free JSON reader under the beacon parser
 * (plain C, no NGINX types; prefix tally_json_).
 *
 * Two passes over a document held in memory (need not be NUL terminated):
 *
 *   pass 1  tally_json_validate checks the whole text strictly (RFC 8259:
 *           UTF-8 without overlong forms or surrogates, no control
 *           characters in strings, no \u0000, paired surrogate escapes, no
 *           duplicate keys in any object, integers within 64 bits, finite
 *           reals, nesting at most 2048 deep) -- what jansson's strict
 *           mode accepts;
 *   pass 2  the other functions walk the now known-good text: they do no
 *           bounds or grammar checks of their own, so they must only be
 *           given values of a document that passed pass 1.
 *
 * Strings without escapes are read in place (pointers into the document,
 * which must outlive them); decoded strings go into the context's
 * permanent memory, a bump allocator over memory the caller provides, so
 * the reader itself calls malloc only for number tokens longer than 63
 * bytes (freed before it returns).
 */

#ifndef TALLY_JSON_H
#define TALLY_JSON_H

#include <stddef.h>


/* a key of an object being validated: its decoded text */
typedef struct {
    const char      *p;
    size_t           len;
} tally_json_key;


/* A reader's context.  The caller owns the memory behind mem, keys and
 * kbuf (see tally_json_ctx_init); the reader only carves it up. */
typedef struct {
    /* permanent memory: decoded strings and the caller's allocations */
    char            *mem;
    size_t           used;
    size_t           cap;

    /* pass 1 scratch: a stack of the keys of the open objects, and the
     * decoded text of keys that hold escapes */
    tally_json_key  *keys;
    size_t           nkeys;
    size_t           capkeys;
    char            *kbuf;
    size_t           kused;
    size_t           kcap;

    const char      *end;
    int              depth;
    const char      *err;
} tally_json_ctx;


/* member iteration over a validated object */
typedef struct {
    const char      *p;
    const char      *end;
} tally_json_iter;


/* JSON value types by their first byte (v: a validated value or NULL) */
#define tally_json_is_null(v)    ((v) != NULL && *(v) == 'n')
#define tally_json_is_string(v)  ((v) != NULL && *(v) == '"')
#define tally_json_is_object(v)  ((v) != NULL && *(v) == '{')
#define tally_json_is_bool(v)    ((v) != NULL && (*(v) == 't' || *(v) == 'f'))


/* Bytes of pass 1 scratch memory (key stack and decoded keys) that
 * validating a document of len bytes may need. */
size_t tally_json_scratch_size(size_t len);

/* Clears c and lays it over caller memory: mem holds cap bytes of
 * permanent memory followed by tally_json_scratch_size(len) bytes of pass
 * 1 scratch for documents of at most len bytes.  cap must be a multiple
 * of 8 (the scratch is then aligned for tally_json_key).  The caller owns
 * mem and keeps it while anything read from it is in use. */
void tally_json_ctx_init(tally_json_ctx *c, char *mem, size_t cap,
    size_t len);

/* n bytes (rounded up to a multiple of 8) of c's permanent memory, or
 * NULL when it is exhausted.  The memory belongs to c's caller; nothing
 * is ever freed back. */
void *tally_json_alloc(tally_json_ctx *c, size_t n);

/* Pass 1 over the len bytes at p: 0 if they are one valid JSON document
 * (blanks around it allowed), else -1.  Sets c->end to p + len, which the
 * pass 2 functions taking c then use as the document's end; uses (and
 * resets) c's scratch, allocates nothing from its permanent memory. */
int tally_json_validate(tally_json_ctx *c, const char *p, size_t len);

/* The first byte at or after p that is not a JSON blank, or end. */
const char *tally_json_ws(const char *p, const char *end);

/* Skips the validated string at p (on its opening quote): returns the
 * byte after its closing quote and sets *esc to 1 if it holds escapes,
 * else 0. */
const char *tally_json_skip_string(const char *p, int *esc);

/* Skips the validated value at p (on its first byte) in a document ending
 * at end: returns the byte after it. */
const char *tally_json_skip_value(const char *p, const char *end);

/* The text of the validated string at p (on its quote): *s and *len point
 * into the document when it holds no escapes, else into c's permanent
 * memory (decoded; owned by c's caller).  Returns 0, or -1 when the
 * permanent memory is exhausted. */
int tally_json_string(tally_json_ctx *c, const char *p, const char **s,
    size_t *len);

/* Starts an iteration over the members of the validated object at obj (on
 * its '{') in a document ending at end. */
void tally_json_iter_init(tally_json_iter *it, const char *obj,
    const char *end);

/* The next member: *key (decoded into buf of cap bytes when it has
 * escapes; *klen is then the full decoded length, and *key NULL if it did
 * not fit) and *val (its value's first byte).  Returns 1, or 0 at the end.
 * *key points into the document or into buf, both owned by the caller. */
int tally_json_iter_next(tally_json_iter *it, char *buf, size_t cap,
    const char **key, size_t *klen, const char **val);

/* The number of members of the validated object at obj. */
size_t tally_json_members(const char *obj, const char *end);

/* The value (first byte) of member `name` (NUL terminated) of the
 * validated object at obj, or NULL when it has none.  A key written with
 * escapes matches only when it decodes to at most 16 bytes. */
const char *tally_json_member(const char *obj, const char *end,
    const char *name);

/* The validated number token at p: returns 1 for an integer (in *i) or 2
 * for a real (in *d; 0 with *i 0 too when a token longer than 63 bytes
 * cannot be copied for lack of memory). */
int tally_json_number(const char *p, const char *end, long long *i,
    double *d);

/* Writes s (len bytes, any content) as a JSON string with its quotes at
 * out, which has room for tally_json_write_len(s, len) bytes (at most
 * 6 * len + 2); returns the end.  Nothing is allocated. */
char *tally_json_write(char *out, const char *s, size_t len);

/* The exact length tally_json_write writes for s. */
size_t tally_json_write_len(const char *s, size_t len);

#endif /* TALLY_JSON_H */
