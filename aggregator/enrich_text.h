/*
 * enrich_text.h -- safe text copies shared by the enrichers.
 *
 * Everything an enricher outputs ends up in SQLite and in JSON answers, so
 * it must be valid UTF-8 without control characters, and bounded.
 */
#ifndef TALLY_ENRICH_TEXT_H
#define TALLY_ENRICH_TEXT_H

#include <stddef.h>

/*
 * en_text_copy: copies src (len bytes, any bytes) into dst (cap >= 1 bytes,
 * caller's buffer), dropping bytes that are not part of a valid UTF-8
 * sequence (overlongs, surrogates and > U+10FFFF included) and control
 * characters (C0, DEL), trimming leading and trailing spaces and tabs,
 * and cutting at a character boundary so that the result fits with its
 * NUL.  Returns the length written (without the NUL).
 */
size_t en_text_copy(char *dst, size_t cap, const char *src, size_t len);

/*
 * en_utf8_seq: length (2..4) of the valid UTF-8 sequence of more than one
 * byte starting at s (n bytes available), or 0 if there is none there.
 */
size_t en_utf8_seq(const unsigned char *s, size_t n);

#endif /* TALLY_ENRICH_TEXT_H */
