/*
 * hash.c -- the visitor id (SipHash-2-4 of site, address and User-Agent
 * under the day's id key) and the helpers that put a client address into
 * its 16-byte form.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* for builds without -D_GNU_SOURCE (NGINX) */
#endif

#include "visitor/visitor.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Messages up to this size are built on the stack; longer ones (very long
 * User-Agents) on the heap. */
#define TV_MSG_STACK 4096

/* Longest textual address inet_pton can accept, plus its NUL. */
#define TV_IP_TEXT_MAX 64

void
tv_ip_from_v4(const unsigned char v4[4], unsigned char ip16[16])
{
    memset(ip16, 0, 10);
    ip16[10] = 0xff;
    ip16[11] = 0xff;
    memcpy(ip16 + 12, v4, 4);
}

int
tv_ip_parse(const char *text, size_t len, unsigned char ip16[16])
{
    char buf[TV_IP_TEXT_MAX];
    unsigned char v4[4];

    if (text == NULL || len == 0 || len >= sizeof buf
        || memchr(text, '\0', len) != NULL)
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';

    if (inet_pton(AF_INET, buf, v4) == 1) {
        tv_ip_from_v4(v4, ip16);
        return 0;
    }
    if (inet_pton(AF_INET6, buf, ip16) == 1)
        return 0;
    return -1;
}

static uint64_t
get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t
tv_visitor_id(const tv_state *st, const char *site, size_t site_len,
              const unsigned char ip16[16], const char *ua, size_t ua_len)
{
    unsigned char stackbuf[TV_MSG_STACK];
    unsigned char out[crypto_shorthash_BYTES];
    unsigned char *msg = stackbuf;
    size_t len;

    if (site_len > 0xffff)
        site_len = 0xffff;
    if (ua == NULL)
        ua_len = 0;
    len = 2 + site_len + 16 + ua_len;
    if (len > sizeof stackbuf) {
        msg = malloc(len);
        if (msg == NULL)
            abort(); /* no wrong id is better than a silently wrong one */
    }

    msg[0] = (unsigned char)site_len;
    msg[1] = (unsigned char)(site_len >> 8);
    if (site_len > 0)
        memcpy(msg + 2, site, site_len);
    memcpy(msg + 2 + site_len, ip16, 16);
    if (ua_len > 0)
        memcpy(msg + 2 + site_len + 16, ua, ua_len);

    crypto_shorthash(out, msg, len, st->idkey);

    /* the message holds the client address: leave no copy behind */
    sodium_memzero(msg, len);
    if (msg != stackbuf)
        free(msg);
    return get_u64le(out);
}
