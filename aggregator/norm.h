/*
 * norm.h -- normalisation of event URLs into the stored dimensions.
 *
 *   pathname  the URL's path without query ("?...") and fragment
 *             ("#..."), byte for byte as sent (no percent-decoding, case
 *             kept, trailing slash kept); "/" when the path is empty.  A
 *             URL without "scheme://" is taken as a path.
 *   hostname  the URL's host, lower-cased (ASCII), without userinfo
 *             ("user@"), port (":8080"), a trailing dot or one leading
 *             "www." (as Plausible does); IPv6 literals keep their
 *             brackets.  Empty when the URL has no "scheme://".
 */
#ifndef TALLY_AGG_NORM_H
#define TALLY_AGG_NORM_H

#include <stddef.h>

#define NORM_HOST_MAX 256

typedef struct {
    const char *path;                 /* points into the URL, or "/"   */
    size_t      path_len;
    char        host[NORM_HOST_MAX];  /* NUL terminated, lower case    */
    size_t      host_len;
} norm_url;

/* Splits url (len bytes, need not be NUL terminated) into pathname and
 * hostname as described above.  out->path points into url (or to a
 * static "/"), so url must outlive out.  A host longer than
 * NORM_HOST_MAX - 1 bytes is truncated. */
void norm_url_split(const char *url, size_t len, norm_url *out);

#endif
