/*
 * enrich_text.c -- safe text copies (see enrich_text.h).
 */
#include "aggregator/enrich_text.h"

#include <string.h>

size_t
en_utf8_seq(const unsigned char *s, size_t n)
{
    if (n < 2) return 0;
    unsigned char b = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;     /* allowed range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) need = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        if (b == 0xE0) lo = 0xA0;      /* no overlongs */
        if (b == 0xED) hi = 0x9F;      /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;      /* <= U+10FFFF */
    } else return 0;
    if (n < need || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < need; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return need;
}

size_t
en_text_copy(char *dst, size_t cap, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0, i = 0;
    if (cap == 0) return 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
    while (i < len) {
        size_t k;
        if (s[i] < 0x80) {
            if (s[i] < 0x20 || s[i] == 0x7F) { i++; continue; }
            k = 1;
        } else if ((k = en_utf8_seq(s + i, len - i)) == 0) {
            i++;
            continue;
        }
        if (o + k > cap - 1) break;
        memcpy(dst + o, s + i, k);
        o += k;
        i += k;
    }
    while (o > 0 && (dst[o - 1] == ' ' || dst[o - 1] == '\t')) o--;
    dst[o] = '\0';
    return o;
}
