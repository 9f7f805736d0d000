"""The tracker end to end, on the real parts only: build/tally.js (and
Plausible's own npm tracker) in real headless Chromium, loaded from a page
that the real /usr/sbin/nginx serves, beacons into our module's
`tally_collect` endpoint on the same NGINX, the real tallyd draining the
spool, and every number read back through the Stats API
(POST /api/v2/query).  Everything on 127.0.0.1.

The browser is driven by driver.mjs (playwright-core, one Chromium per test
module, a fresh context per page, a normal desktop Chrome User-Agent: the
bot filter drops "HeadlessChrome").

Oracle and exactness.  Each test knows what its page did (which pageviews
and which custom events, on which paths): that is the expected breakdown by
event:name and event:page, compared for equality, so a lost event and a
duplicate both fail.  Because the tracker batches and retries, "equal now"
is not enough: once the counts match, a barrier event is sent *after*
everything else -- through the same tracker when the page is still open
(its queue is FIFO with one batch in flight, so anything still pending,
retries included, is delivered before it), else posted directly -- and
once tallyd has counted the barrier (one NGINX worker, so one spool segment
drained in order), the counts must still be exactly the oracle.

"engagement" events (time on page, sent when a pageview is replaced or the
page is hidden) depend on timing, so they are not part of the exact oracle:
they may appear at most once per pageview, and every total must add up.
Each test uses its own site (data-domain), so tests do not see each other's
events.  NGINX's access log ($status, $http_sec_fetch_mode) says what
arrived at the edge: Playwright reports keepalive fetches as aborted even
when they got 202, so statuses are never taken from the browser side.
"""

import collections
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading

import pytest

import spoolfmt
import tally

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "driver.mjs")
TALLY_JS = os.environ.get("TALLY_JS",
                          os.path.join(tally.ROOT, "build", "tally.js"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
NODE_MODULES = os.path.join(tally.ROOT, "node_modules")
ESBUILD = os.path.join(NODE_MODULES, "esbuild", "bin", "esbuild")

# a normal desktop Chrome; the same string for the browser and for direct
# posts, so a site's visitor is one visitor (same IP, same User-Agent)
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
      "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
BARRIER = "e2e-barrier"
ENGAGEMENT = "engagement"

_missing = [what for what, ok in [
    ("node", NODE),
    (CHROMIUM, os.path.exists(CHROMIUM)),
    ("playwright-core in node_modules",
     os.path.isdir(os.path.join(NODE_MODULES, "playwright-core")))] if not ok]
pytestmark = pytest.mark.skipif(bool(_missing),
                                reason="needs " + ", ".join(_missing))

SNIPPET = ("<script>window.tally = window.tally || function () "
           "{ (window.tally.q = window.tally.q || []).push(arguments) }"
           "</script>")


# ---- the browser ------------------------------------------------------------

class Browser:
    """driver.mjs in a child process: one Chromium, JSON-lines commands."""

    def __init__(self):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [NODE, DRIVER, UA], cwd=tally.ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.n = 0
        hello = self._next(60)
        assert hello.get("ready"), hello

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def _next(self, timeout):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"browser driver silent for {timeout}s; "
                                 f"stderr: {self.stderr()}")
        if line is None:
            raise AssertionError("browser driver exited: " + self.stderr())
        return json.loads(line)

    def call(self, op, args=None, timeout=60):
        self.n += 1
        cmd = dict(args or {}, id=self.n, op=op)
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        r = self._next(timeout)
        assert r.get("id") == self.n, r
        if not r["ok"]:
            raise AssertionError(f"driver {op} {args}: {r['error']}")
        return r["value"]

    def open(self, url, **kw):
        return Page(self, url, **kw)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


class Page:
    """A page in its own fresh browser context."""

    def __init__(self, browser, url, clock=False):
        self.b = browser
        self.id = browser.call("open", {"url": url, "clock": clock})
        self.open = True

    def eval(self, expr):
        return self.b.call("eval", {"page": self.id, "expr": expr})

    def wait(self, expr, timeout=10):
        """Waits until the JS expression expr is truthy in the page."""
        return self.b.call("wait", {"page": self.id, "expr": expr,
                                    "timeout": int(timeout * 1000)},
                           timeout=timeout + 10)

    def click(self, selector):
        return self.b.call("click", {"page": self.id, "selector": selector})

    def offline(self, value):
        return self.b.call("offline", {"page": self.id, "value": value})

    def pause_clock(self):
        return self.b.call("pause", {"page": self.id})

    def console(self):
        return self.b.call("console", {"page": self.id})

    def requests(self):
        return self.b.call("requests", {"page": self.id})

    def wait_failed(self, n, pattern, timeout=10):
        return self.b.call("wait_failed",
                           {"page": self.id, "n": n, "pattern": pattern,
                            "timeout": int(timeout * 1000)},
                           timeout=timeout + 10)

    def stored(self):
        """The events the tracker holds in localStorage right now."""
        return self.eval("JSON.parse(localStorage.tally_queue || '[]')")

    def close(self, run_before_unload=True):
        self.open = False
        return self.b.call("close", {"page": self.id,
                                     "runBeforeUnload": run_before_unload})

    def dispose(self):
        self.open = False
        return self.b.call("dispose", {"page": self.id})


# ---- the stack --------------------------------------------------------------

class AccessLog:
    """NGINX's access log of the e2e server: what reached the edge."""

    FORMAT = ("log_format e2e '$status $request_method $uri "
              "$http_sec_fetch_mode \"$http_origin\" "
              "\"$sent_http_x_tally_dropped\" \"$http_user_agent\" "
              "\"$http_referer\"';")

    def __init__(self, path):
        self.path = path
        self.pos = 0

    def mark(self):
        self.pos = os.path.getsize(self.path) if os.path.exists(self.path) \
            else 0

    def beacons(self):
        """/api/event requests since mark(): [{status, mode, origin}]; mode
        is "cors" for fetch, "no-cors" for sendBeacon, "-" for a client
        that is not a browser."""
        try:
            with open(self.path) as f:
                f.seek(self.pos)
                text = f.read()
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            m = re.match(r'(\d+) (\S+) (\S+) (\S+) "(.*)" "(.*)" "(.*)" '
                         r'"(.*)"$', line)
            if m and m.group(3) == "/api/event":
                out.append({"status": int(m.group(1)), "method": m.group(2),
                            "mode": m.group(4), "origin": m.group(5),
                            "dropped": m.group(6), "ua": m.group(7),
                            "referer": m.group(8)})
        return out

    def from_browser(self, status=None, referer=""):
        """The browser's requests (those with a Sec-Fetch-Mode) since
        mark(), with that status, from pages whose URL starts with referer
        (a page that an earlier test left may still send a beacon when it
        is disposed)."""
        return [b for b in self.beacons() if b["mode"] != "-"
                and (status is None or b["status"] == status)
                and b["referer"].startswith(referer)]


class Stack:
    """NGINX (one worker) serving a web root and the endpoint on `port`,
    the same web root on `port2` (another origin), and tallyd."""

    def __init__(self, http_extra=""):
        self.web = tally.make_tmpdir("tally-e2e-web-")
        shutil.copy(TALLY_JS, os.path.join(self.web, "tally.js"))
        os.chmod(os.path.join(self.web, "tally.js"), 0o644)
        prefix = tally.make_tmpdir("tally-e2e-nginx-")
        self.access = AccessLog(os.path.join(prefix, "logs", "e2e.log"))
        self.port2 = tally.free_port()
        static = (f"location / {{ root {self.web}; "
                  "types { text/html html; text/javascript js; } }")
        self.nginx = tally.Nginx(
            workers=1, prefix=prefix,
            http_extra=f"""{http_extra}
    {AccessLog.FORMAT}
    server {{
        listen 127.0.0.1:{self.port2};
        {static}
    }}""",
            server_extra=f"access_log {self.access.path} e2e; {static}")
        self.port = self.nginx.port
        self.origin = f"http://127.0.0.1:{self.port}"
        self.origin2 = f"http://127.0.0.1:{self.port2}"
        self.agg = None

    def start(self):
        self.nginx.start()
        self.nginx.wait_segments()
        self.agg = tally.Tallyd(self.nginx.spool).start()
        return self

    def stop(self):
        if self.agg:
            self.agg.stop()
            tally.rmtree(self.agg.dir)
        self.nginx.stop()
        tally.rmtree(self.nginx.prefix)
        tally.rmtree(self.web)

    def page(self, slug, site, attrs="", head="", body="",
             script=None):
        """Writes <web>/<slug>/index.html: a page with Tally's snippet and
        script tag (data-domain=site, data-api=/api/event, attrs) unless
        script gives another tag; returns its path "/<slug>/"."""
        d = os.path.join(self.web, slug)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        if script is None:
            script = (f'{SNIPPET}\n<script defer data-domain="{site}" '
                      f'data-api="/api/event" {attrs} src="/tally.js">'
                      '</script>')
        html = (f"<!doctype html>\n<html><head><meta charset=utf-8>"
                f"<title>{slug}</title>\n{head}\n{script}\n</head>\n"
                f"<body><h1>{slug}</h1>\n{body}\n</body></html>\n")
        p = os.path.join(d, "index.html")
        with open(p, "w") as f:
            f.write(html)
        os.chmod(p, 0o644)
        return f"/{slug}/"

    # -- reading numbers back through the Stats API --

    def breakdown(self, site, dim, metric):
        st, data = self.agg.query({"site_id": site, "metrics": [metric],
                                   "date_range": "day", "dimensions": [dim]})
        if st == 404:                   # the site has no event yet
            return {}                   # no event for the site yet
        assert st == 200, data
        return {r["dimensions"][0]: r["metrics"][0] for r in data["results"]}

    def totals(self, site):
        metrics = ["visitors", "pageviews", "events"]
        st, data = self.agg.query({"site_id": site, "metrics": metrics,
                                   "date_range": "day"})
        if st == 404:                   # the site has no event yet
            return dict.fromkeys(metrics, 0)
        assert st == 200, data
        return dict(zip(metrics, data["results"][0]["metrics"]))

    def names(self, site):
        """events by event:name, without engagement and the barrier"""
        got = self.breakdown(site, "event:name", "events")
        got.pop(ENGAGEMENT, None)
        got.pop(BARRIER, None)
        return got

    def post_barrier(self, site, path):
        st, _, body = self.nginx.post(
            [{"n": BARRIER, "u": self.origin + path, "d": site}],
            ctype="text/plain", headers={"User-Agent": UA})
        assert st == 202, (st, body)

    def expect(self, site, names, pages, page=None, path="/",
               visitors=1, timeout=20):
        """Waits until the API's breakdown by event:name equals the oracle
        `names` ({name: events}) and pageviews by event:page equal `pages`
        ({path: pageviews}); then sends the barrier (through `page`'s
        tracker when it is open, else directly) and checks, once it is
        counted, that the numbers are still exactly the oracle."""
        want = {k: v for k, v in names.items() if v}
        want_pages = {k: v for k, v in pages.items() if v}

        def pageviews():
            return {k: v for k, v in
                    self.breakdown(site, "event:page", "pageviews").items()
                    if v}

        have = []

        def matches():
            have[:] = [self.names(site), pageviews()]
            return have == [want, want_pages]
        try:
            tally.wait_until(matches, timeout=timeout,
                             what=f"{site}: events {want}, pageviews "
                                  f"{want_pages}")
        except AssertionError as e:
            raise AssertionError(f"{e}; have {have}") from None
        if page is not None and page.open:
            page.eval(f"tally({json.dumps(BARRIER)}), 1")
        else:
            self.post_barrier(site, path)
        tally.wait_until(
            lambda: self.breakdown(site, "event:name", "events")
            .get(BARRIER) == 1, timeout=timeout, what=f"{site}: the barrier")

        dropped = [b for b in self.access.from_browser()
                   if b["dropped"] != "-"]
        assert not dropped, f"the edge dropped browser beacons: {dropped}"
        by_name = self.breakdown(site, "event:name", "events")
        engagement = by_name.pop(ENGAGEMENT, 0)
        assert by_name.pop(BARRIER) == 1
        assert by_name == want, "lost or duplicated events"
        assert pageviews() == want_pages
        assert engagement <= want.get("pageview", 0), \
            f"{engagement} engagement events for {want.get('pageview')} " \
            "pageviews"
        assert self.totals(site) == {
            "visitors": visitors, "pageviews": want.get("pageview", 0),
            "events": sum(want.values()) + engagement + 1}
        return engagement

    def stored_events(self, site):
        """What the edge wrote to the spool for site (segments still
        there: the stack's one worker writes one segment, which tallyd does
        not delete before it is finished)."""
        return [e for e in spoolfmt.decode_spool(self.nginx.spool)
                if e["site"] == site]


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def stack():
    assert os.path.exists(TALLY_JS), f"{TALLY_JS} missing: run make build"
    s = Stack().start()
    yield s
    s.stop()


@pytest.fixture
def site(request):
    """A site of its own for each test: <test name>.e2e.test"""
    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-") \
        + ".e2e.test"


@pytest.fixture
def pages(browser):
    """open(url, ...) -> Page; every context is closed after the test."""
    opened = []

    def open_(url, **kw):
        p = browser.open(url, **kw)
        opened.append(p)
        return p
    yield open_
    for p in opened:
        browser.call("dispose", {"page": p.id})


# ---- 1. pageview on load ----------------------------------------------------

def test_pageview_on_load(stack, pages, site):
    path = stack.page("load", site, attrs="data-allow-localhost")
    stack.access.mark()
    p = pages(stack.origin + path)
    stack.expect(site, {"pageview": 1}, {path: 1}, page=p)
    ev = [e for e in stack.stored_events(site) if e["name"] == "pageview"]
    assert len(ev) == 1
    assert ev[0]["url"] == stack.origin + path
    assert ev[0]["ua"] == UA
    # sent by fetch (Sec-Fetch-Mode: cors), accepted
    seen = stack.access.from_browser(referer=stack.origin + path)
    assert seen and {(b["status"], b["mode"]) for b in seen} \
        == {(202, "cors")}


def test_localhost_sends_nothing_without_data_allow_localhost(stack, pages,
                                                              site):
    """The page is on 127.0.0.1: without data-allow-localhost the tracker
    sends nothing (and says so on the console), custom events neither."""
    path = stack.page("no-localhost", site)
    stack.access.mark()
    p = pages(stack.origin + path)
    p.eval("tally('Signup', {props: {plan: 'pro'}}), 1")
    tally.wait_until(lambda: sum("tally: ignoring localhost" in m
                                 for m in p.console()) >= 2,
                     what="two console warnings (pageview, Signup)")
    stack.expect(site, {}, {}, page=None, path=path, visitors=1)
    assert p.stored() == []
    assert stack.access.from_browser(referer=stack.origin + path) == []


# ---- 2. SPA navigation ------------------------------------------------------

def test_spa_navigation(stack, pages, site):
    path = stack.page("spa", site, attrs="data-allow-localhost")
    p = pages(stack.origin + path)
    visits = [path]

    def go(expr, where):
        p.eval(expr + ", 1")
        p.wait(f"location.pathname == {json.dumps(where)}")

    go("history.pushState({}, '', '/spa/a')", "/spa/a")
    visits.append("/spa/a")
    go("history.pushState({}, '', '/spa/b')", "/spa/b")
    visits.append("/spa/b")
    # a query-only change and a #fragment are not pageviews
    go("history.replaceState({}, '', '/spa/b?tab=2')", "/spa/b")
    go("location.hash = 'section'", "/spa/b")
    p.wait("location.hash == '#section'")
    # back (popstate) over the fragment, then to /spa/a, then to the start
    go("history.back()", "/spa/b")
    p.wait("location.hash == ''")
    go("history.back()", "/spa/a")
    visits.append("/spa/a")
    go("history.back()", path)
    visits.append(path)
    # forward again (popstate) and a replaceState to a new path
    go("history.forward()", "/spa/a")
    visits.append("/spa/a")
    go("history.replaceState({}, '', '/spa/c')", "/spa/c")
    visits.append("/spa/c")

    oracle = collections.Counter(visits)
    engagement = stack.expect(site, {"pageview": len(visits)}, oracle,
                              page=p)
    # one engagement per pageview that an SPA pageview replaced, at most
    assert engagement <= len(visits) - 1
    urls = collections.Counter(e["url"] for e in stack.stored_events(site)
                               if e["name"] == "pageview")
    assert urls == {stack.origin + v: n for v, n in oracle.items()}


# ---- 3. custom events with props --------------------------------------------

def test_custom_events_with_props(stack, pages, site):
    # a call made before the script loaded (queued by the snippet) is
    # replayed after the pageview
    path = stack.page("custom", site, attrs="data-allow-localhost",
                      body="<script>tally('Early', {props: {when: 'before'}})"
                           "</script>")
    p = pages(stack.origin + path)
    p.eval("""(tally('Signup', {props: {plan: 'pro'}}),
               tally('Signup', {props: {plan: 'pro'}}),
               tally('Signup', {props: {plan: 'free'}}),
               tally('Download'), 1)""")
    done = p.eval("""new Promise(r => tally('Callback',
                     {props: {plan: 'pro'}, callback: () => r('called')}))""")
    assert done == "called"
    stack.expect(site, {"pageview": 1, "Early": 1, "Signup": 3, "Download": 1,
                        "Callback": 1}, {path: 1}, page=p)
    stored = stack.stored_events(site)
    props = collections.Counter(
        (e["name"], e["props"] and json.dumps(json.loads(e["props"]),
                                              sort_keys=True))
        for e in stored if e["name"] != ENGAGEMENT)
    assert props == {
        ("pageview", None): 1,
        ("Early", '{"when": "before"}'): 1,
        ("Signup", '{"plan": "pro"}'): 2,
        ("Signup", '{"plan": "free"}'): 1,
        ("Download", None): 1,
        ("Callback", '{"plan": "pro"}'): 1,
        (BARRIER, None): 1}
    names = [e["name"] for e in stored if e["name"] != ENGAGEMENT]
    assert names[:2] == ["pageview", "Early"]


def test_custom_event_props_via_stats_api(stack, pages, site):
    path = stack.page("props", site, attrs="data-allow-localhost")
    p = pages(stack.origin + path)
    p.eval("""(tally('Signup', {props: {plan: 'pro'}}),
               tally('Signup', {props: {plan: 'pro'}}),
               tally('Signup', {props: {plan: 'free'}}), 1)""")
    stack.expect(site, {"pageview": 1, "Signup": 3}, {path: 1}, page=p)
    got = stack.breakdown(site, "event:props:plan", "events")
    assert {k: got.get(k) for k in ("pro", "free")} == {"pro": 2, "free": 1}


# ---- 4. outbound link clicks ------------------------------------------------

def test_outbound_link_click(stack, pages, site):
    # the landing page is on another host (localhost:<port2>), a real page
    stack.page("landing", "landing.e2e.test", script="")
    target = f"http://localhost:{stack.port2}/landing/"
    path = stack.page(
        "outbound", site, attrs="data-allow-localhost data-track-outbound",
        body=f'<a id="internal" href="#below">same host</a>\n'
             f'<a id="other-path" href="/outbound/#x">same host too</a>\n'
             f'<p><a id="out" href="{target}"><span>elsewhere</span></a></p>'
             '<p id="below">below</p>')
    p = pages(stack.origin + path)
    p.click("#internal")
    p.click("#other-path")
    p.wait("location.hash == '#x'")
    # a click on the span inside the link: the tracker finds the <a>; the
    # browser then leaves for the other host (pagehide -> sendBeacon)
    p.click("#out span")
    p.wait(f"location.href == {json.dumps(target)}")
    stack.expect(site, {"pageview": 1, "Outbound Link: Click": 1}, {path: 1},
                 page=None, path=path)
    clicks = [e for e in stack.stored_events(site)
              if e["name"] == "Outbound Link: Click"]
    assert [json.loads(e["props"]) for e in clicks] == [{"url": target}]
    assert clicks[0]["url"] == stack.origin + path


# ---- 5. offline, then online ------------------------------------------------

def test_offline_then_online(stack, pages, site):
    path = stack.page("offline", site, attrs="data-allow-localhost")
    p = pages(stack.origin + path)
    tally.wait_until(lambda: stack.names(site) == {"pageview": 1},
                     what="the pageview")
    p.wait("(localStorage.tally_queue || '[]') == '[]'")
    p.offline(True)
    p.wait("navigator.onLine === false")
    stack.access.mark()
    # 12 events, more than one batch: the 10th sends a batch at once, the
    # rest wait for it; every try fails
    p.eval("for (let i = 0; i < 12; i++) tally('Offline', {props: {i: ''+i}})"
           ", 1")
    p.wait_failed(2, "INTERNET_DISCONNECTED")
    # nothing lost while offline: all 12 back in storage (between tries)
    p.wait("JSON.parse(localStorage.tally_queue || '[]')"
           ".filter(e => e.n == 'Offline').length == 12")
    assert stack.access.from_browser(referer=stack.origin + path) == []
    assert stack.names(site) == {"pageview": 1}
    p.offline(False)
    stack.expect(site, {"pageview": 1, "Offline": 12}, {path: 1}, page=p)
    got = sorted(int(json.loads(e["props"])["i"])
                 for e in stack.stored_events(site) if e["name"] == "Offline")
    assert got == list(range(12))


# ---- 6. the edge answers 503, then recovers ---------------------------------

@pytest.fixture
def broken_stack():
    """A stack whose spool stops taking events on demand: segments of 4k,
    and a spool directory the worker (nobody) cannot create files in, so
    once its segment is full every beacon gets 503 + Retry-After: 1."""
    s = Stack(http_extra="tally_segment_size 4k;").start()
    uid, gid = tally.worker_ids()

    def break_():
        os.chown(s.nginx.spool, 0, 0)
        os.chmod(s.nginx.spool, 0o755)
        for i in range(400):
            st, hdrs, _ = s.nginx.post(
                {"n": "filler", "u": f"http://filler.e2e.test/{i}",
                 "d": "filler.e2e.test", "p": {"pad": "x" * 200}})
            if st == 503:
                assert hdrs.get("retry-after") == "1", hdrs
                return
            assert st == 202
        raise AssertionError("the edge never answered 503")

    def repair():
        os.chown(s.nginx.spool, uid, gid)

    s.break_, s.repair = break_, repair
    yield s
    repair()
    s.stop()


def test_503_then_recovered(broken_stack, pages, site):
    s = broken_stack
    s.break_()
    path = s.page("retry", site, attrs="data-allow-localhost")
    s.access.mark()
    p = pages(s.origin + path)
    p.eval("(tally('Retry', {props: {n: '1'}}), tally('Retry'), "
           "tally('Retry'), 1)")
    # refused, and retried after Retry-After: at least two 503s
    here = s.origin + path
    tally.wait_until(lambda: len(s.access.from_browser(503, here)) >= 2,
                     timeout=15, what="the tracker's retries answered 503")
    assert s.access.from_browser(202, here) == []
    p.wait("JSON.parse(localStorage.tally_queue || '[]').length == 4")
    assert s.names(site) == {}
    s.repair()
    s.expect(site, {"pageview": 1, "Retry": 3}, {path: 1}, page=p)
    assert s.access.from_browser(202, here)


# ---- cross-origin: the page on one origin, the endpoint on another ----------

def test_cross_origin_delivery(stack, pages, site):
    """Served from port2, beacons to port: the edge's CORS answer must let
    fetch resolve (else the tracker retries: duplicates)."""
    tag = (f'{SNIPPET}\n<script defer data-domain="{site}" '
           f'data-api="{stack.origin}/api/event" data-allow-localhost '
           f'src="/tally.js"></script>')
    path = stack.page("cors", site, script=tag)
    stack.access.mark()
    p = pages(stack.origin2 + path)
    p.eval("(tally('Signup', {props: {plan: 'pro'}}), tally('Signup'), 1)")
    stack.expect(site, {"pageview": 1, "Signup": 2}, {path: 1}, page=p)
    # cross-origin requests carry only the page's origin as Referer
    seen = stack.access.from_browser(referer=stack.origin2 + "/")
    assert seen and {b["origin"] for b in seen} == {stack.origin2}
    assert {b["status"] for b in seen} == {202}


def probe(p, api, body):
    """A cross-origin fetch from the page: [status, Retry-After header as
    the page sees it]; a CORS failure rejects (AssertionError)."""
    return p.eval(f"""fetch({json.dumps(api)}, {{method: 'POST',
        body: {json.dumps(json.dumps(body))}}})
        .then(r => [r.status, r.headers.get('Retry-After')])""")


def test_cross_origin_errors_are_readable(broken_stack, pages, site):
    """The tracker must see 4xx (drop) and 5xx (keep, retry) answers from
    another origin: Access-Control-Allow-Origin on every answer."""
    s = broken_stack
    path = s.page("probe", site, script="")
    p = pages(s.origin2 + path)
    api = s.origin + "/api/event"
    assert probe(p, api, {"n": "pageview"}) == [400, None]
    s.break_()
    assert probe(p, api, [{"n": "pageview", "u": s.origin2 + path,
                           "d": site}])[0] == 503


def test_cross_origin_503_exposes_retry_after(broken_stack, pages, site):
    s = broken_stack
    path = s.page("probe", site, script="")
    p = pages(s.origin2 + path)
    s.break_()
    assert probe(p, s.origin + "/api/event",
                 [{"n": "pageview", "u": s.origin2 + path, "d": site}]) \
        == [503, "1"]


# ---- 7. tab closed right after an event -------------------------------------

def test_tab_closed_right_after_event(stack, pages, site):
    path = stack.page("close", site, attrs="data-allow-localhost")
    # Playwright's clock: real time until paused, so the 200 ms flush timer
    # cannot fire between tally() and the close, however slow the machine
    p = pages(stack.origin + path, clock=True)
    tally.wait_until(lambda: stack.names(site) == {"pageview": 1},
                     what="the pageview")
    p.wait("(localStorage.tally_queue || '[]') == '[]'")
    p.pause_clock()
    stack.access.mark()
    p.eval("(tally('Bye', {props: {plan: 'pro'}}), tally('Bye'), 1)")
    assert [e["n"] for e in p.stored()] == ["Bye", "Bye"]
    p.close(run_before_unload=True)
    here = stack.origin + path
    tally.wait_until(lambda: stack.access.from_browser(202, here),
                     what="the beacon at the edge")
    # delivered by sendBeacon (Sec-Fetch-Mode: no-cors), not by fetch
    assert {b["mode"] for b in stack.access.from_browser(referer=here)} \
        == {"no-cors"}
    stack.expect(site, {"pageview": 1, "Bye": 2}, {path: 1}, page=None,
                 path=path)


# ---- 8. Plausible's own tracker ---------------------------------------------

PLAUSIBLE_ENTRY = """
import { init, track } from '@plausible-analytics/tracker'
const s = document.currentScript
init({ domain: s.dataset.domain, endpoint: s.dataset.api,
       captureOnLocalhost: true, autoCapturePageviews: true, logging: true })
// resolves with the callback's result: {status} once the edge answered
window.e2eTrack = (name, o) => new Promise(resolve =>
  track(name, Object.assign({}, o, { callback: resolve })))
window.tally = name => window.e2eTrack(name, {})
"""


def test_plausible_tracker(stack, pages, site):
    """@plausible-analytics/tracker, bundled with esbuild now, pointed at
    our endpoint: its pageviews (including pushState ones) and custom
    events are counted."""
    slug = "plausible"
    stack.page(slug, site, script="")           # creates the directory
    out = os.path.join(stack.web, slug, "plausible.js")
    r = subprocess.run([ESBUILD, "--bundle", "--format=iife",
                        "--target=es2017", "--log-level=warning",
                        f"--outfile={out}"],
                       input=PLAUSIBLE_ENTRY, text=True, cwd=tally.ROOT,
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    os.chmod(out, 0o644)
    path = stack.page(slug, site, script=(
        f'<script defer data-domain="{site}" data-api="/api/event" '
        f'src="/{slug}/plausible.js"></script>'))
    stack.access.mark()
    p = pages(stack.origin + path)
    results = p.eval("""Promise.all([
        e2eTrack('Signup', {props: {plan: 'pro'}}),
        e2eTrack('Signup', {props: {plan: 'free'}}),
        e2eTrack('Purchase', {revenue: {amount: 15.99, currency: 'USD'}})])""")
    assert results == [{"status": 202}] * 3
    p.eval("history.pushState({}, '', '/plausible/next'), 1")
    stack.expect(site, {"pageview": 2, "Signup": 2, "Purchase": 1},
                 {path: 1, "/plausible/next": 1}, page=p)
    props = collections.Counter(
        json.loads(e["props"])["plan"] for e in stack.stored_events(site)
        if e["name"] == "Signup")
    assert props == {"pro": 1, "free": 1}
    assert {b["status"] for b in stack.access.from_browser(
        referer=stack.origin + "/plausible")} == {202}
