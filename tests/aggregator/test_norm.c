/* Tests for aggregator/norm.c: pathname and hostname normalisation. */
#include "aggregator/norm.h"
#include "tests/check.h"

static void
check_url(const char *url, const char *host, const char *path)
{
    norm_url u;
    norm_url_split(url, strlen(url), &u);
    CHECK_STR(u.host, host);
    CHECK_EQ_U64(u.host_len, strlen(host));
    CHECK_MEM(u.path, u.path_len, path);
}

static void
test_urls(void)
{
    check_url("https://example.com/a/b?x=1#frag", "example.com", "/a/b");
    check_url("https://Example.COM", "example.com", "/");
    check_url("https://www.example.com:8443/", "example.com", "/");
    check_url("http://user:pw@Shop.Example.com./x/", "shop.example.com", "/x/");
    check_url("http://[::1]:8080/p", "[::1]", "/p");
    check_url("https://example.com?q", "example.com", "/");
    check_url("https://example.com#top", "example.com", "/");
    check_url("/just/a/path?x", "", "/just/a/path");
    check_url("", "", "/");
    check_url("app://local/Screen", "local", "/Screen");
    check_url("https://www./x", "www", "/x");
    check_url("https://ex.com/a%20b/C", "ex.com", "/a%20b/C");
    check_url("/p:x//y", "", "/p:x//y");
}

static void
test_not_terminated(void)
{
    const char buf[] = "https://a.com/pathXXXX";
    norm_url u;
    norm_url_split(buf, 18, &u);        /* "https://a.com/path" */
    CHECK_STR(u.host, "a.com");
    CHECK_MEM(u.path, u.path_len, "/path");
}

int
main(void)
{
    RUN(test_urls);
    RUN(test_not_terminated);
    return check_summary("norm");
}
