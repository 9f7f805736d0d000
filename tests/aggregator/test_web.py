"""The dashboard's server side, against the real build/tallyd: static files,
login (cookies, CSRF, rate limiting), logout, sessions across restarts,
share links, the sites list, the CSV export (checked against
/api/v2/query and against SQL over the raw events table), the users and
share commands, hostile input, and conf.d/dashboard.conf through a real
NGINX at /tally/.

Every login sends its own X-Real-IP (tallyd trusts it from a loopback
peer, as from the local proxy), so the per-address rate limit of one test
does not leak into the next."""

import csv
import datetime
import hashlib
import http.client
import io
import itertools
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import spoolfmt  # noqa: E402
import tally  # noqa: E402
from tally import Tallyd, request, wait_until  # noqa: E402

DAY_MS = 86400000
PASSWORD = "s3cret-Passw0rd"
BOB_PASSWORD = "bobs-password-1"
ROOT = tally.ROOT
_ips = itertools.count(1)


def fresh_ip():
    n = next(_ips)
    return f"10.77.{n // 250}.{n % 250 + 1}"


def today():
    return int(time.time() * 1000) // DAY_MS


def iso(day):
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()


def make_events(seed=7):
    rnd = random.Random(seed)
    t0 = today()
    now_ms = int(time.time() * 1000)
    evs = []
    for d in range(-6, 1):
        if d == -3:
            continue                      # a day without events
        for _ in range(30):
            site = rnd.choice(["a.example", "b.example"])
            ts = (t0 + d) * DAY_MS + rnd.randrange(DAY_MS)
            if ts > now_ms - 1000:
                ts = now_ms - 1000 - rnd.randrange(60000)
            evs.append({
                "time_ms": ts,
                "visitor_id": rnd.randrange(1, 9) * 104729 + (d + 50) * 7,
                "site": site,
                "name": rnd.choice(["pageview", "pageview", "signup"]),
                "url": f"https://{site}" + rnd.choice(["/", "/pricing", "/x"]),
                "referrer": None,
                "ua": "Mozilla/5.0 test",
            })
    return evs


def sql_days(db, site, first, last):
    """{day iso: (visitors, pageviews, events)} by SQL over raw events."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT id FROM sites WHERE domain = ?",
                          (site,)).fetchone()
        if row is None:
            return {}
        out = {}
        for d, v, pv, ev in con.execute(
                "SELECT e.ts / 86400000 AS d, COUNT(DISTINCT e.visitor_id),"
                " TOTAL(s.s = 'pageview'), COUNT(*) FROM events e"
                " JOIN strings s ON s.id = e.name_id"
                " WHERE e.site_id = ? AND e.ts >= ? AND e.ts < ? GROUP BY d",
                (row[0], first * DAY_MS, (last + 1) * DAY_MS)):
            out[iso(d)] = (v, int(pv), ev)
        return out
    finally:
        con.close()


def cookies_of(headers_list):
    """[(name, value, {attr lower: value})] of the Set-Cookie headers."""
    out = []
    for k, v in headers_list:
        if k.lower() != "set-cookie":
            continue
        parts = [p.strip() for p in v.split(";")]
        name, _, value = parts[0].partition("=")
        attrs = {}
        for p in parts[1:]:
            a, _, b = p.partition("=")
            attrs[a.lower()] = b
        out.append((name, value, attrs))
    return out


def raw(port, method, path, body=None, headers=None):
    """Like tally.request but keeps repeated headers: (status, [(k, v)],
    body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        conn.close()


def login(port, user, pw, ip=None, extra=None, path="/login"):
    from urllib.parse import urlencode
    h = {"Content-Type": "application/x-www-form-urlencoded",
         "X-Requested-With": "tally", "X-Real-IP": ip or fresh_ip()}
    h.update(extra or {})
    return raw(port, "POST", path, urlencode({"username": user,
                                              "password": pw}), h)


class Session:
    """A logged-in client: cookie header and CSRF token."""

    def __init__(self, port, user="alice", pw=PASSWORD, path="/login"):
        st, hdrs, body = login(port, user, pw, path=path)
        assert st == 204, body
        c = {n: v for n, v, _ in cookies_of(hdrs)}
        self.port = port
        self.token = c["tally_session"]
        self.csrf = c["tally_csrf"]
        self.cookie = f"tally_session={self.token}; tally_csrf={self.csrf}"

    def headers(self, csrf=True):
        h = {"Cookie": self.cookie}
        if csrf:
            h["X-Tally-CSRF"] = self.csrf
        return h

    def query(self, q, csrf=True):
        h = self.headers(csrf)
        h["Content-Type"] = "application/json"
        st, _, body = request(self.port, "POST", "/api/v2/query", q, h)
        return st, json.loads(body) if body else None


def qbody(site, metrics=("visitors", "pageviews", "events"), first=None,
          last=None, **extra):
    b = {"site_id": site, "metrics": list(metrics),
         "date_range": [iso(first if first is not None else today() - 6),
                        iso(last if last is not None else today())]}
    b.update(extra)
    return b


# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def web():
    spool = tally.make_tmpdir("tally-web-spool-")
    evs = make_events()
    spoolfmt.write_segment(spool, evs, pid=4100000, created_us=1,
                           per_record=5, finished=True)
    t = Tallyd(spool, extra_args=["--poll-ms", "50"])
    for user, pw in (("alice", PASSWORD), ("bob", BOB_PASSWORD)):
        r = subprocess.run([tally.TALLYD, "users", "add", "--db", t.db, user],
                           input=pw + "\n", capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    r = t.cli("share", "add", "--db", t.db, "--site", "a.example")
    path = r.stdout.strip().splitlines()[-1]
    assert path.startswith("/?share=")
    t.share = path[len("/?share="):]
    t.events = evs
    t.start()
    want = sum(1 for e in evs if e["site"] == "a.example")

    def drained():
        st, data = t.query(qbody("a.example", ["events"]))
        return st == 200 and data["results"][0]["metrics"][0] == want
    wait_until(drained, timeout=20, what="events drained")
    yield t
    t.stop()
    tally.rmtree(t.dir)
    tally.rmtree(spool)


def dashboard_dir():
    for d in (os.path.join(tally.BIN_DIR, "dashboard"),
              os.path.join(tally.BIN_DIR, "..", "dashboard")):
        if os.path.exists(os.path.join(d, "index.html")):
            return d
    raise AssertionError("no built dashboard next to tallyd: run make build")


# ---- static files -----------------------------------------------------------

def test_static_files_and_headers(web):
    d = dashboard_dir()
    for path, fname, ctype in (("/", "index.html", "text/html"),
                               ("/app.js", "app.js", "text/javascript"),
                               ("/app.css", "app.css", "text/css")):
        st, h, body = request(web.port, "GET", path)
        assert st == 200, path
        with open(os.path.join(d, fname), "rb") as f:
            assert body == f.read(), path
        assert h["content-type"].startswith(ctype), path
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert "no-cache" in h["cache-control"]
        assert h["etag"]
        if fname == "index.html":
            assert "frame-ancestors 'none'" in h["content-security-policy"]
        # revalidation
        st2, h2, body2 = request(web.port, "GET", path,
                                 headers={"If-None-Match": h["etag"]})
        assert st2 == 304 and body2 == b""
    # the page's URLs are relative, so it works under a sub-path
    st, _, body = request(web.port, "GET", "/")
    assert b'src="app.js"' in body and b'href="app.css"' in body
    assert request(web.port, "POST", "/", "x")[0] == 405
    assert request(web.port, "GET", "/../../etc/passwd")[0] == 404
    assert request(web.port, "GET", "/index.html.bak")[0] == 404


# ---- login, cookies, sessions ----------------------------------------------

def test_login_sets_hardened_cookies_and_stores_only_a_hash(web):
    st, hdrs, body = login(web.port, "alice", PASSWORD)
    assert st == 204 and body == b""
    c = {n: (v, a) for n, v, a in cookies_of(hdrs)}
    tok, attrs = c["tally_session"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", tok)
    assert "httponly" in attrs and attrs["samesite"] == "Strict"
    assert attrs["path"] == "/" and "secure" not in attrs
    assert int(attrs["max-age"]) >= 86400
    csrf, cattrs = c["tally_csrf"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", csrf) and csrf != tok
    assert "httponly" not in cattrs and cattrs["samesite"] == "Strict"
    # the database keeps BLAKE2b-256(token), never the token
    con = sqlite3.connect(f"file:{web.db}?mode=ro", uri=True)
    hashes = [bytes(r[0]) for r in con.execute("SELECT hash FROM web_sessions")]
    con.close()
    assert hashlib.blake2b(tok.encode(), digest_size=32).digest() in hashes
    with open(web.db, "rb") as f:
        data = f.read()
    wal = web.db + "-wal"
    if os.path.exists(wal):
        with open(wal, "rb") as f:
            data += f.read()
    assert tok.encode() not in data and PASSWORD.encode() not in data
    # over TLS (as the proxy reports it) the cookies are Secure
    st, hdrs, _ = login(web.port, "alice", PASSWORD,
                        extra={"X-Forwarded-Proto": "https"})
    assert st == 204
    for name, _, a in cookies_of(hdrs):
        assert "secure" in a, name


def test_login_errors(web):
    assert login(web.port, "alice", "not the password")[0] == 401
    assert login(web.port, "nobody", PASSWORD)[0] == 401
    assert login(web.port, "alice' OR '1'='1", "x' OR '1'='1")[0] == 401
    form = "username=alice&password=" + PASSWORD
    base = {"Content-Type": "application/x-www-form-urlencoded",
            "X-Requested-With": "tally"}
    h = dict(base, **{"X-Real-IP": fresh_ip()})
    del h["X-Requested-With"]
    st, _, body = request(web.port, "POST", "/login", form, h)
    assert st == 403 and "X-Requested-With" in json.loads(body)["error"]
    h = dict(base, **{"X-Real-IP": fresh_ip(), "Content-Type": "application/json"})
    assert request(web.port, "POST", "/login", form, h)[0] == 415
    h = dict(base, **{"X-Real-IP": fresh_ip()})
    assert request(web.port, "POST", "/login", "username=alice", h)[0] == 400
    assert request(web.port, "POST", "/login", "password=x%zz", h)[0] == 400
    assert request(web.port, "GET", "/login")[0] == 405


def test_rate_limit_per_user_name(web):
    # bob fails from five different addresses, then even his right
    # password is refused with 429 + Retry-After
    for _ in range(5):
        assert login(web.port, "bob", "wrong-password")[0] == 401
    st, hdrs, body = login(web.port, "bob", BOB_PASSWORD)
    assert st == 429, body
    ra = dict((k.lower(), v) for k, v in hdrs)["retry-after"]
    assert 1 <= int(ra) <= 900
    assert "error" in json.loads(body)
    # other users are not affected
    assert login(web.port, "alice", PASSWORD)[0] == 204


def test_rate_limit_per_client_address(web):
    ip = fresh_ip()
    for i in range(5):
        assert login(web.port, f"guess{i}", "wrong-password", ip=ip)[0] == 401
    st, hdrs, _ = login(web.port, "alice", PASSWORD, ip=ip)
    assert st == 429
    assert int(dict((k.lower(), v) for k, v in hdrs)["retry-after"]) > 0
    # the same user from elsewhere still gets in
    assert login(web.port, "alice", PASSWORD, ip=fresh_ip())[0] == 204


def test_session_query_needs_csrf(web):
    s = Session(web.port)
    body = qbody("a.example")
    st_key, want = web.query(body)
    assert st_key == 200
    st, data = s.query(body, csrf=False)
    assert st == 403 and "CSRF" in data["error"]
    h = s.headers(csrf=False)
    h.update({"X-Tally-CSRF": "A" * 43, "Content-Type": "application/json"})
    assert request(web.port, "POST", "/api/v2/query", body, h)[0] == 403
    st, data = s.query(body)
    assert st == 200 and data["results"] == want["results"]
    # GETs need no CSRF header
    st, _, b = request(web.port, "GET", "/api/v1/sites",
                       headers=s.headers(csrf=False))
    assert st == 200 and json.loads(b)["sites"]


def test_logout_needs_csrf_and_ends_the_session(web):
    s = Session(web.port)
    st, _, _ = request(web.port, "POST", "/logout",
                       headers=s.headers(csrf=False))
    assert st == 403
    assert s.query(qbody("a.example"))[0] == 200          # still alive
    st, hdrs, _ = raw(web.port, "POST", "/logout", headers=s.headers())
    assert st == 204
    cleared = {n: (v, a) for n, v, a in cookies_of(hdrs)}
    assert cleared["tally_session"][0] == ""
    assert cleared["tally_session"][1]["max-age"] == "0"
    st, data = s.query(qbody("a.example"))
    assert st == 401
    st, _, _ = request(web.port, "GET", "/api/v1/sites",
                       headers=s.headers(csrf=False))
    assert st == 401
    con = sqlite3.connect(f"file:{web.db}?mode=ro", uri=True)
    h = hashlib.blake2b(s.token.encode(), digest_size=32).digest()
    assert con.execute("SELECT COUNT(*) FROM web_sessions WHERE hash = ?",
                       (h,)).fetchone()[0] == 0
    con.close()
    # logging out without a session is harmless
    assert request(web.port, "POST", "/logout")[0] == 204


def test_sessions_survive_a_restart(tmp_path):
    spool = str(tmp_path / "spool")
    os.makedirs(spool)
    t = Tallyd(spool)
    try:
        r = subprocess.run([tally.TALLYD, "users", "add", "--db", t.db,
                            "carol"], input="carol-password\r\n",
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        t.start()
        s = Session(t.port, "carol", "carol-password")
        body = {"site_id": "none.example", "metrics": ["visitors"],
                "date_range": "day"}
        assert s.query(body)[0] == 404           # authenticated; no site
        t.stop()
        t.start()
        assert s.query(body)[0] == 404
        assert s.query(body, csrf=False)[0] == 403
        # a new password ends every session of the user
        r = subprocess.run([tally.TALLYD, "users", "passwd", "--db", t.db,
                            "carol"], input="another-password\n",
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert s.query(body)[0] == 401
        assert login(t.port, "carol", "carol-password")[0] == 401
        assert login(t.port, "carol", "another-password")[0] == 204
        # removing the user ends them too
        s2 = Session(t.port, "carol", "another-password")
        assert t.cli("users", "remove", "--db", t.db, "carol").returncode == 0
        assert s2.query(body)[0] == 401
        assert login(t.port, "carol", "another-password")[0] == 401
    finally:
        t.stop()
        tally.rmtree(t.dir)


# ---- share links -------------------------------------------------------------

def test_share_link_reads_only_its_site(web):
    h = {"X-Tally-Share": web.share, "Content-Type": "application/json"}
    st, _, b = request(web.port, "POST", "/api/v2/query", qbody("a.example"), h)
    assert st == 200
    assert json.loads(b)["results"] == web.query(qbody("a.example"))[1]["results"]
    # another site that exists looks exactly like one that does not
    st_b, _, b_b = request(web.port, "POST", "/api/v2/query",
                           qbody("b.example"), h)
    st_n, _, b_n = request(web.port, "POST", "/api/v2/query",
                           qbody("nosuch.example"), h)
    assert web.query(qbody("b.example"))[0] == 200
    assert st_b == st_n == 404
    assert json.loads(b_b)["error"].replace("b.example", "X") == \
        json.loads(b_n)["error"].replace("nosuch.example", "X")
    st, _, b = request(web.port, "GET", "/api/v1/sites", headers=h)
    assert st == 200
    assert json.loads(b) == {"sites": [{"domain": "a.example",
                                        "timezone": "UTC"}]}
    st, _, _ = request(web.port, "GET",
                       "/api/v1/export?site_id=b.example&date_range=all",
                       headers=h)
    assert st == 404
    st, _, _ = request(web.port, "GET",
                       "/api/v1/export?site_id=a.example&date_range=all",
                       headers=h)
    assert st == 200
    # a bad token is a 401, not a fallback to anything else
    for bad in ("x", web.share[:-1] + ("A" if web.share[-1] != "A" else "B"),
                web.share + "A"):
        hb = dict(h, **{"X-Tally-Share": bad})
        assert request(web.port, "GET", "/api/v1/sites", headers=hb)[0] == 401


def test_revoked_share_link_is_rejected_at_once(web):
    r = web.cli("share", "add", "--db", web.db, "--site", "b.example")
    tok = r.stdout.strip().splitlines()[-1].split("share=")[1]
    h = {"X-Tally-Share": tok}
    assert request(web.port, "GET", "/api/v1/sites", headers=h)[0] == 200
    listing = web.cli("share", "list", "--db", web.db).stdout
    assert tok not in listing and web.share not in listing
    sid = [ln.split()[0] for ln in listing.splitlines()
           if "b.example" in ln][-1]
    assert web.cli("share", "revoke", "--db", web.db, sid).returncode == 0
    assert request(web.port, "GET", "/api/v1/sites", headers=h)[0] == 401
    st, _, _ = request(web.port, "POST", "/api/v2/query", qbody("b.example"),
                       dict(h, **{"Content-Type": "application/json"}))
    assert st == 401
    assert web.cli("share", "revoke", "--db", web.db, sid,
                   check=False).returncode == 1
    # the other link keeps working
    assert request(web.port, "GET", "/api/v1/sites",
                   headers={"X-Tally-Share": web.share})[0] == 200


# ---- sites and export ----------------------------------------------------------

def test_sites_list(web):
    auth = {"Authorization": f"Bearer {web.key}"}
    st, h, b = request(web.port, "GET", "/api/v1/sites", headers=auth)
    assert st == 200 and h["content-type"] == "application/json"
    assert json.loads(b) == {"sites": [
        {"domain": "a.example", "timezone": "UTC"},
        {"domain": "b.example", "timezone": "UTC"}]}
    assert request(web.port, "GET", "/api/v1/sites")[0] == 401
    assert request(web.port, "GET", "/api/v1/sites",
                   headers={"Authorization": "Bearer tly_nope"})[0] == 401


def parse_csv(body):
    rows = list(csv.reader(io.StringIO(body.decode())))
    return rows[0], rows[1:]


def test_export_matches_the_api_and_the_raw_events(web):
    t0 = today()
    first, last = t0 - 8, t0
    auth = {"Authorization": f"Bearer {web.key}"}
    for site in ("a.example", "b.example"):
        st, h, body = request(
            web.port, "GET", f"/api/v1/export?site_id={site}"
            f"&date_range={iso(first)},{iso(last)}", headers=auth)
        assert st == 200, body
        assert h["content-type"].startswith("text/csv")
        assert h["content-disposition"].startswith("attachment;")
        assert re.search(r'filename="[^"/\\]+\.csv"', h["content-disposition"])
        header, rows = parse_csv(body)
        assert header[0] == "date"
        for m in ("visitors", "pageviews", "events"):
            assert m in header
        # one row per day of the range, days without events as zeros
        assert [r[0] for r in rows] == [iso(d) for d in range(first, last + 1)]
        # every column equals what /api/v2/query answers per day
        for j, metric in enumerate(header[1:], start=1):
            st, resp = web.query(qbody(site, [metric], first, last,
                                       dimensions=["time:day"]))
            assert st == 200
            api = {r["dimensions"][0][:10]: r["metrics"][0]
                   for r in resp["results"]}
            for r in rows:
                assert float(r[j]) == float(api.get(r[0], 0)), (metric, r)
        # and visitors/pageviews/events equal SQL over the raw events
        sql = sql_days(web.db, site, first, last)
        assert sql, "no events in the oracle"
        col = {m: header.index(m) for m in ("visitors", "pageviews", "events")}
        for r in rows:
            want = sql.get(r[0], (0, 0, 0))
            got = (int(r[col["visitors"]]), int(r[col["pageviews"]]),
                   int(r[col["events"]]))
            assert got == want, r[0]
        # "all": from the first to the last day with data
        st, h, body = request(web.port, "GET",
                              f"/api/v1/export?site_id={site}&date_range=all",
                              headers=auth)
        assert st == 200, body
        _, all_rows = parse_csv(body)
        days = sorted(sql)
        assert all_rows[0][0] == days[0] and all_rows[-1][0] == days[-1]
        assert len(all_rows) == (datetime.date.fromisoformat(days[-1])
                                 - datetime.date.fromisoformat(days[0])).days + 1
    # through a session (a GET: no CSRF header needed)
    s = Session(web.port)
    st, _, body = request(web.port, "GET",
                          f"/api/v1/export?site_id=a.example&date_range="
                          f"{iso(first)},{iso(last)}",
                          headers=s.headers(csrf=False))
    assert st == 200 and len(parse_csv(body)[1]) == last - first + 1


def test_export_bad_input(web):
    auth = {"Authorization": f"Bearer {web.key}"}
    for qs in ("", "site_id=a.example", "site_id=a.example&date_range=",
               "site_id=a.example&date_range=2024-01-01",
               "site_id=a.example&date_range=2024-02-01,2024-01-01",
               "site_id=a.example&date_range=2024-01-01,2024-13-01",
               "site_id=a.example&date_range=1990-01-01,2024-01-01",
               "site_id=a.example&date_range=all&filters=%7Bnot-json",
               "site_id=a.example&date_range=all&filters=%7B%7D",
               "date_range=all"):
        st, h, body = request(web.port, "GET", "/api/v1/export?" + qs,
                              headers=auth)
        assert st == 400, qs
        assert "error" in json.loads(body), qs
    st, _, _ = request(web.port, "GET",
                       "/api/v1/export?site_id=nosuch.example&date_range=all",
                       headers=auth)
    assert st == 404
    assert request(web.port, "GET",
                   "/api/v1/export?site_id=a.example&date_range=all")[0] == 401


# ---- hostile input -----------------------------------------------------------

def test_hostile_input_gets_4xx_and_changes_nothing(web):
    big = "username=alice&password=" + "x" * (200 * 1024)
    h = {"Content-Type": "application/x-www-form-urlencoded",
         "X-Requested-With": "tally", "X-Real-IP": fresh_ip()}
    assert request(web.port, "POST", "/login", big, h)[0] == 413
    assert request(web.port, "POST", "/api/v2/query", "[" * (100 * 1024),
                   {"Authorization": f"Bearer {web.key}"})[0] == 413
    q = json.dumps(qbody("a.example"))
    for cookie in ("tally_session=", "tally_session=garbage",
                   "tally_session=" + "A" * 43,
                   "tally_session=" + "A" * 44,
                   "tally_session=" + "%00" * 20,
                   "tally_session=\x7f\x01; tally_csrf=x",
                   "tally_session=" + "A" * 6000,
                   "; ; ;;=;tally_session",
                   ";".join(f"c{i}=v" for i in range(500))):
        hh = {"Cookie": cookie, "X-Tally-CSRF": "A" * 43,
              "Content-Type": "application/json"}
        st, _, _ = request(web.port, "POST", "/api/v2/query", q, hh)
        assert 400 <= st < 500, cookie[:40]
        st, _, _ = request(web.port, "GET", "/api/v1/sites", headers=hh)
        assert 400 <= st < 500, cookie[:40]
    for share in ("", "A" * 5000, "../../etc", "%00"):
        st, _, _ = request(web.port, "GET", "/api/v1/sites",
                           headers={"X-Tally-Share": share})
        assert 400 <= st < 500
    # share token with a non-object body, a NUL in site_id
    hs = {"X-Tally-Share": web.share, "Content-Type": "application/json"}
    for body in ("[]", "nope", '{"site_id": "a.example\\u0000x",'
                 ' "metrics": ["visitors"], "date_range": "day"}'):
        st, _, _ = request(web.port, "POST", "/api/v2/query", body, hs)
        assert 400 <= st < 500, body
    # the server is fine and nothing was created
    assert web.health()
    con = sqlite3.connect(f"file:{web.db}?mode=ro", uri=True)
    names = [r[0] for r in con.execute("SELECT name FROM web_users")]
    con.close()
    assert sorted(names) == ["alice", "bob"]


def test_logs_never_hold_client_addresses(web):
    ip = "203.0.113.77"
    login(web.port, "alice", "wrong", ip=ip)
    login(web.port, "alice", PASSWORD, ip=ip)
    log = web.read_log()
    assert ip not in log and "127.0.0.1" not in log


# ---- the users and share commands --------------------------------------------

def test_users_cli(web):
    r = web.cli("users", "list", "--db", web.db)
    assert "alice" in r.stdout and "bob" in r.stdout
    assert PASSWORD not in r.stdout and "$argon2id$" not in r.stdout
    con = sqlite3.connect(f"file:{web.db}?mode=ro", uri=True)
    for name, h in con.execute("SELECT name, pwhash FROM web_users"):
        assert h.startswith("$argon2id$v=19$m=65536,t=2,p=1$")
        assert PASSWORD not in h and BOB_PASSWORD not in h
    con.close()
    run = lambda *a, inp="": subprocess.run(  # noqa: E731
        [tally.TALLYD, *a], input=inp, capture_output=True, text=True)
    assert run("users", "add", "--db", web.db, "alice",
               inp="whatever-password\n").returncode == 1        # exists
    assert run("users", "add", "--db", web.db, "dave",
               inp="short\n").returncode == 1                    # too short
    assert run("users", "add", "--db", web.db, "dave",
               inp="").returncode == 1                           # no input
    assert run("users", "add", "--db", web.db, "-bad",
               inp="long-enough-pw\n").returncode == 2
    assert run("users", "add", "--db", web.db,
               inp="long-enough-pw\n").returncode == 2           # no NAME
    assert run("users", "frob", "--db", web.db).returncode == 2
    assert run("users", "remove", "--db", web.db, "nobody").returncode == 1
    assert run("share", "add", "--db", web.db).returncode == 2   # no --site
    assert run("share", "revoke", "--db", web.db, "x").returncode == 2
    # a password with spaces and non-ASCII, taken as one line
    pw = "  ünïcödé pass word  "
    assert run("users", "add", "--db", web.db, "erin",
               inp=pw + "\n").returncode == 0
    assert login(web.port, "erin", pw)[0] == 204
    assert login(web.port, "erin", pw.strip())[0] == 401
    assert run("users", "remove", "--db", web.db, "erin").returncode == 0
    assert login(web.port, "erin", pw)[0] == 401
    assert "--db" in run("--help").stdout and "users add" in run("--help").stdout


# ---- behind NGINX at /tally/ ----------------------------------------------------

def test_conf_dashboard_through_nginx(web):
    with open(os.path.join(ROOT, "conf.d", "dashboard.conf")) as f:
        snippet = f.read().replace("127.0.0.1:8089", f"127.0.0.1:{web.port}")
    assert f"127.0.0.1:{web.port}" in snippet
    n = tally.Nginx(server_extra=snippet)
    n.start()
    try:
        st, h, _ = request(n.port, "GET", "/tally")
        assert st == 301 and h["location"].endswith("/tally/")
        st, h, body = request(n.port, "GET", "/tally/")
        assert st == 200 and b'src="app.js"' in body
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        st, h, _ = request(n.port, "GET", "/tally/app.js")
        assert st == 200 and h["content-type"].startswith("text/javascript")
        # the cookies are scoped to /tally/; a client cannot claim TLS
        st, hdrs, _ = login(n.port, "alice", PASSWORD, path="/tally/login",
                            extra={"X-Forwarded-Proto": "https"})
        assert st == 204
        cs = cookies_of(hdrs)
        assert {a["path"] for _, _, a in cs} == {"/tally/"}
        assert all("secure" not in a for _, _, a in cs)
        c = {name: v for name, v, _ in cs}
        hh = {"Cookie": f"tally_session={c['tally_session']}",
              "X-Tally-CSRF": c["tally_csrf"],
              "Content-Type": "application/json"}
        st, _, b = request(n.port, "POST", "/tally/api/v2/query",
                           qbody("a.example"), hh)
        assert st == 200
        assert json.loads(b)["results"] == \
            web.query(qbody("a.example"))[1]["results"]
        st, _, b = request(n.port, "GET", "/tally/api/v1/sites",
                           headers={"X-Tally-Share": web.share})
        assert st == 200 and len(json.loads(b)["sites"]) == 1
        # the proxy sets X-Real-IP itself: a client rotating it cannot
        # dodge the per-address limit
        for i in range(5):
            st, _, _ = login(n.port, f"nx{i}", "wrong-password",
                             path="/tally/login", ip=fresh_ip())
            assert st == 401
        st, _, _ = login(n.port, "alice", PASSWORD, path="/tally/login",
                         ip=fresh_ip())
        assert st == 429
    finally:
        n.stop()
        tally.rmtree(n.prefix)
