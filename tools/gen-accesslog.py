#!/usr/bin/python3
"""gen-accesslog.py -- a synthetic NGINX access log with a known ground truth.

    /usr/bin/python3 tools/gen-accesslog.py --lines 100000 \\
        --log /tmp/access.log --truth /tmp/truth.json [--seed 1] \\
        [--days 7] [--start 2024-03-28] [--tz +0100]

Writes a `combined` log (NGINX's escaping: bytes outside printable ASCII,
'"' and '\\' as \\xHH) and a JSON ground truth computed from what was
generated, by the pageview rules of docs/import.md (defaults: GET only,
status 2xx or 304, no static assets or downloads, no robots/favicon/
sitemap/.well-known/apple-touch-icon, no bots), checked in this order:

    malformed  the line does not parse (the numbers are in malformed_lines)
    method     not GET (including a request line that has no method)
    status     not 2xx and not 304
    robots     requests browsers and crawlers make on their own
    static     assets and downloads, by extension
    bot        a User-Agent matching bot_rule ("bot", "spider" or "crawl",
               any case) -- bots/ decides in tallyd; the generator uses
               only User-Agents on which any bot list agrees
    kept       a pageview

The truth holds, for the kept lines: "pageviews" (total), "days" (UTC day
-> {"pageviews", "visitors"} where visitors = distinct (address,
User-Agent as logged) of that day), "paths" (path without query ->
pageviews); and "skipped" (reason -> lines), "malformed_lines" (1-based).
Standard library only; deterministic for a given seed; about 1,000,000
lines in a few seconds.
"""
import argparse
import datetime
import json
import random
import sys

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

HUMAN_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/"
    "605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/123.0.6312.40 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.2365.92",
    # NGINX escapes '"' and '\' inside a value
    "Mozilla/5.0 (compatible; \\x22Quoted\\x22 Reader 2.1; back\\x5Cslash)",
    "Mozilla/5.0 (X11; Linux x86_64) caf\\xC3\\xA9-browser/1.0",
]

BOT_UAS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "ia_archiver (+http://www.alexa.com/site/help/webmasters; crawler@alexa.com)",
]

PAGES = ["/", "/about", "/pricing", "/blog/", "/contact", "/docs/index.html",
         "/docs/install.html", "/index.php", "/search", "/features/"] + \
        ["/blog/post-%d" % i for i in range(40)]
UTMS = ["utm_source=newsletter&utm_medium=email&utm_campaign=spring",
        "utm_source=twitter&utm_medium=social", "ref=producthunt",
        "q=nginx+analytics", "page=2"]
ASSETS = ["/static/app.css", "/static/app.js", "/static/chunk.mjs",
          "/static/app.js.map", "/img/logo.png", "/img/hero.JPG",
          "/img/photo.jpeg", "/img/anim.gif", "/img/icon.svg",
          "/img/pic.webp", "/img/pic.avif", "/fonts/inter.woff2",
          "/fonts/inter.woff", "/fonts/x.ttf", "/media/intro.mp4",
          "/media/a.webm", "/media/jingle.mp3", "/feed.xml", "/api/data.json"]
DOWNLOADS = ["/files/report.pdf", "/dl/tally-1.0.zip", "/dl/tally.tar.gz"]
ROBOTS = ["/robots.txt", "/favicon.ico", "/sitemap.xml",
          "/.well-known/security.txt", "/apple-touch-icon.png",
          "/apple-touch-icon-precomposed.png"]
REFERRERS = ["-", "-", "-", "https://www.google.com/",
             "https://news.ycombinator.com/", "https://example.com/blog/",
             "https://duckduckgo.com/", "android-app://com.slack/"]

STATIC_EXT = set("""css js mjs cjs map json xml txt wasm rss atom png jpg
jpeg gif svg ico webp avif bmp tif tiff woff woff2 ttf otf eot mp4 webm mov
m4v ogv mp3 wav ogg oga m4a flac aac pdf zip gz tgz bz2 xz 7z rar tar dmg exe
msi deb rpm apk iso epub csv doc docx xls xlsx ppt pptx odt ods""".split())


def is_bot(ua):
    u = ua.lower()
    return "bot" in u or "spider" in u or "crawl" in u


def reason_of(method, status, path, ua):
    """The documented rules, in their documented order."""
    if method != "GET":
        return "method"
    if not (200 <= status <= 299 or status == 304):
        return "status"
    if path in ("/robots.txt", "/favicon.ico", "/sitemap.xml") \
            or path.startswith("/.well-known/") \
            or path.rsplit("/", 1)[-1].startswith("apple-touch-icon"):
        return "robots"
    last = path.rsplit("/", 1)[-1]
    if "." in last and last.rsplit(".", 1)[-1].lower() in STATIC_EXT:
        return "static"
    if is_bot(ua):
        return "bot"
    return "kept"


def utc_day(n):
    return datetime.datetime.fromtimestamp(
        n * 86400, datetime.timezone.utc).strftime("%Y-%m-%d")


def rand_ipv4(r):
    return "%d.%d.%d.%d" % (r.choice([23, 51, 81, 92, 145, 188, 203]),
                            r.randrange(256), r.randrange(256),
                            r.randrange(1, 255))


def rand_ipv6(r):
    return "2001:db8:%x:%x::%x" % (r.randrange(65536), r.randrange(65536),
                                   r.randrange(1, 65536))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=10000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--start", default="2024-03-28", help="first UTC day")
    ap.add_argument("--tz", default="+0100", help="offset written in the log")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log", required=True)
    ap.add_argument("--truth", required=True)
    a = ap.parse_args()
    if a.lines < 1 or a.days < 1:
        sys.exit("gen-accesslog: --lines and --days must be >= 1")
    tzsign = -1 if a.tz[0] == "-" else 1
    tzoff = tzsign * (int(a.tz[1:3]) * 3600 + int(a.tz[3:5]) * 60)

    r = random.Random(a.seed)
    start = int(datetime.datetime.strptime(a.start, "%Y-%m-%d").replace(
        tzinfo=datetime.timezone.utc).timestamp())
    span = a.days * 86400

    nvis = max(20, a.lines // 25)
    humans = [(rand_ipv4(r) if r.random() < 0.7 else rand_ipv6(r),
               r.choice(HUMAN_UAS)) for _ in range(nvis)]
    bots = [(rand_ipv4(r) if r.random() < 0.8 else rand_ipv6(r),
             r.choice(BOT_UAS)) for _ in range(max(5, nvis // 10))]

    kinds = r.choices(["page", "asset", "download", "robots", "bot", "other",
                       "absolute", "tls", "malformed"],
                      weights=[62, 18, 1, 3, 9, 5, 0.2, 0.1, 0.1], k=a.lines)
    day_cache = {}
    days = {}
    paths = {}
    skipped = {k: 0 for k in ("malformed", "method", "status", "robots",
                              "static", "bot")}
    malformed = []
    kept = 0
    out = []
    w = open(a.log, "w", encoding="latin-1", newline="\n")
    step = span / a.lines
    xs = [r.random() for _ in range(a.lines)]
    refs = r.choices(REFERRERS, k=a.lines)
    hums = r.choices(humans, k=a.lines)
    sizes = r.choices(range(200, 60000), k=a.lines)
    for i in range(a.lines):
        kind = kinds[i]
        t = start + int(i * step)
        lt = t + tzoff
        dkey = lt // 86400
        ds = day_cache.get(dkey)
        if ds is None:
            d = datetime.datetime.fromtimestamp(dkey * 86400,
                                                datetime.timezone.utc)
            ds = "%02d/%s/%04d" % (d.day, MONTHS[d.month - 1], d.year)
            day_cache[dkey] = ds
        sod = lt % 86400
        tl = "%s:%02d:%02d:%02d %s" % (ds, sod // 3600, sod // 60 % 60,
                                       sod % 60, a.tz)
        ip, ua = r.choice(bots) if kind == "bot" else hums[i]
        method, status, proto = "GET", 200, "HTTP/1.1"
        x = xs[i]
        if kind in ("page", "bot", "absolute"):
            path = PAGES[int(x * 7919) % len(PAGES)]
            target = path + "?" + UTMS[int(x * 104729) % len(UTMS)] \
                if x < 0.15 else path
            status = 304 if x > 0.9 else 404 if x > 0.85 else \
                301 if x > 0.83 else 500 if x > 0.825 else 200
        elif kind == "asset":
            path = target = ASSETS[int(x * 7919) % len(ASSETS)]
            status = 304 if x < 0.3 else 404 if x > 0.97 else 200
        elif kind == "download":
            path = target = r.choice(DOWNLOADS)
            status = 206 if x < 0.1 else 200
        elif kind == "robots":
            path = target = r.choice(ROBOTS)
            status = 404 if x < 0.2 else 200
        elif kind == "other":
            method = r.choice(["POST", "POST", "HEAD", "PUT", "OPTIONS",
                               "DELETE"])
            path = target = r.choice(["/api/event", "/contact", "/",
                                      "/login"])
            status = r.choice([200, 201, 204, 302, 405])
        if kind == "absolute":
            target = "http://example.com" + target
        if kind == "tls":
            request = "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03"
            method, status, path, ua = "", 400, "", "-"
        else:
            request = "%s %s %s" % (method, target, proto)
        size = 0 if status in (304, 204) else sizes[i]
        ref = refs[i]
        line = '%s - - [%s] "%s" %d %d "%s" "%s"' % (
            ip, tl, request, status, size, ref, ua)
        if kind == "malformed":
            m = i % 5
            if m == 0:                     # truncated
                line = line[:r.randrange(1, len(line) - 1)]
            elif m == 1:                   # impossible date
                line = line.replace("[" + ds[:2], "[32", 1)
            elif m == 2:
                line = "garbage \x01\x02 not a log line"
            elif m == 3:
                line = ""
            else:                          # bad status
                line = line.replace('" %d ' % status, '" 2x0 ', 1)
            malformed.append(i + 1)
            skipped["malformed"] += 1
        else:
            why = reason_of(method, status, path, ua)
            if why == "kept":
                kept += 1
                dd = days.get(t // 86400)
                if dd is None:
                    dd = days[t // 86400] = [0, set()]
                dd[0] += 1
                dd[1].add((ip, ua))
                paths[path] = paths.get(path, 0) + 1
            else:
                skipped[why] += 1
        out.append(line)
        if len(out) >= 4096:
            w.write("\n".join(out) + "\n")
            out.clear()
    if out:
        w.write("\n".join(out) + "\n")
    w.close()

    truth = {
        "format": "combined",
        "lines": a.lines,
        "tz": a.tz,
        "status_ok": "2xx,304",
        "bot_rule": "User-Agent contains bot, spider or crawl (any case)",
        "pageviews": kept,
        "days": {utc_day(d): {"pageviews": v[0], "visitors": len(v[1])}
                 for d, v in sorted(days.items())},
        "paths": dict(sorted(paths.items())),
        "skipped": skipped,
        "malformed_lines": malformed,
    }
    with open(a.truth, "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
