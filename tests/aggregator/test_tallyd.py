"""End-to-end tests of the real build/tallyd: spool segments written from
Python (tests/spoolfmt.py), drained into a real SQLite database, queried
through the real HTTP API.  Expected numbers come from an oracle computed
over the events written, and are cross-checked with SQL over the raw events
table."""

import datetime
import json
import os
import random
import signal
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


def today():
    return int(time.time() * 1000) // DAY_MS


def iso(day):
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()


def make_events(seed=1, days=range(-5, 1), per_day=40):
    """Events for two sites across several days and hours: pageviews on a
    few pages plus custom events, visitors reused within a day."""
    rnd = random.Random(seed)
    t0 = today()
    evs = []
    for d in days:
        for i in range(per_day):
            site = rnd.choice(["a.example", "b.example"])
            hour = rnd.randrange(0, 24)
            if t0 + d == today():
                # today: only hours that have passed, so nothing is future
                hour = rnd.randrange(0, max(1, datetime.datetime.utcnow().hour + 1))
            ts = (t0 + d) * DAY_MS + hour * 3600000 + rnd.randrange(3600000)
            if ts > time.time() * 1000:
                ts = int(time.time() * 1000) - 1000
            name = rnd.choice(["pageview", "pageview", "pageview", "signup"])
            page = rnd.choice(["/", "/pricing", "/blog/x"])
            evs.append({
                "time_ms": ts,
                "visitor_id": rnd.randrange(1, 12) * 7919 + (d + 100) * 1000003,
                "site": site,
                "name": name,
                "url": f"https://{site}{page}?utm_source=x#h",
                "referrer": rnd.choice([None, "https://news.example/"]),
                "ua": "Mozilla/5.0 test",
            })
    return evs


def oracle(events, site, first_day, last_day, dim=None):
    """{dimension value or None: (visitors, pageviews, events)} with
    visitors = distinct ids per day, summed over days."""
    rows = {}
    for e in events:
        d = e["time_ms"] // DAY_MS
        if e["site"] != site or not first_day <= d <= last_day:
            continue
        if dim is None:
            k = None
        elif dim == "time:day":
            k = iso(d)
        elif dim == "event:page":
            k = e["url"].split("://", 1)[1].split("/", 1)[1].split("?")[0]
            k = "/" + k
        else:
            k = e["name"]
        r = rows.setdefault(k, [set(), 0, 0])
        r[0].add((d, e["visitor_id"]))
        r[1] += e["name"] == "pageview"
        r[2] += 1
    return {k: (len(v[0]), v[1], v[2]) for k, v in rows.items()}


def answer(resp):
    """{dimension value or None: tuple(metrics)} of a query response."""
    out = {}
    for r in resp["results"]:
        k = r["dimensions"][0] if r["dimensions"] else None
        out[k] = tuple(r["metrics"])
    return out


def sql_oracle(db, site, first_day, last_day):
    """(visitors, pageviews, events) by SQL over the raw events table."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sid = con.execute("SELECT id FROM sites WHERE domain = ?",
                          (site,)).fetchone()[0]
        lo, hi = first_day * DAY_MS, (last_day + 1) * DAY_MS
        v = con.execute(
            "SELECT COALESCE(SUM(n), 0) FROM (SELECT COUNT(DISTINCT visitor_id) n"
            " FROM events WHERE site_id = ? AND ts >= ? AND ts < ?"
            " GROUP BY ts / 86400000)", (sid, lo, hi)).fetchone()[0]
        pv, ev = con.execute(
            "SELECT COALESCE(SUM(s.s = 'pageview'), 0), COUNT(*) FROM events e"
            " JOIN strings s ON s.id = e.name_id"
            " WHERE site_id = ? AND ts >= ? AND ts < ?", (sid, lo, hi)).fetchone()
        return (v, pv, ev)
    finally:
        con.close()


@pytest.fixture
def spool():
    d = tally.make_tmpdir("tally-spool-")
    yield d
    tally.rmtree(d)


@pytest.fixture
def agg(spool):
    t = Tallyd(spool, extra_args=["--poll-ms", "50"])
    yield t
    t.stop()
    tally.rmtree(t.dir)


def q(site, metrics=("visitors", "pageviews", "events"), date_range=None,
      **extra):
    body = {"site_id": site, "metrics": list(metrics),
            "date_range": date_range or [iso(today() - 10), iso(today())]}
    body.update(extra)
    return body


def wait_counts(t, body, want, what="counts"):
    def check():
        st, resp = t.query(body)
        return st == 200 and answer(resp) == want
    wait_until(check, timeout=15, what=what)


def total(events, site):
    return oracle(events, site, 0, today())[None]


# ---------------------------------------------------------------------------

def test_counts_match_oracle(spool, agg):
    evs = make_events()
    half = len(evs) // 2
    # one finished segment (marker) and one live one (this process's pid)
    spoolfmt.write_segment(spool, evs[:half], pid=4000000, created_us=1,
                           per_record=7, finished=True)
    spoolfmt.write_segment(spool, evs[half:], pid=os.getpid(), created_us=2,
                           per_record=3)
    agg.start()
    t0 = today()
    lo, hi = t0 - 10, t0
    for site in ("a.example", "b.example"):
        want = oracle(evs, site, lo, hi)
        wait_counts(agg, q(site), {None: want[None]}, f"totals of {site}")
        assert sql_oracle(agg.db, site, lo, hi) == want[None]
        for dim in ("time:day", "event:page", "event:name"):
            st, resp = agg.query(q(site, dimensions=[dim]))
            assert st == 200, resp
            assert answer(resp) == oracle(evs, site, lo, hi, dim), dim
        # per-day visitors sum to the range's visitors
        st, resp = agg.query(q(site, metrics=["visitors"],
                               dimensions=["time:day"]))
        assert sum(r["metrics"][0] for r in resp["results"]) == want[None][0]
        # "7d" = the 7 days before today; "day" = today
        st, resp = agg.query(q(site, date_range="7d"))
        assert st == 200
        assert answer(resp) == {None: oracle(evs, site, t0 - 7, t0 - 1)
                                .get(None, (0, 0, 0))}
        st, resp = agg.query(q(site, date_range="day"))
        assert answer(resp) == {None: oracle(evs, site, t0, t0)
                                .get(None, (0, 0, 0))}
        # a single past day
        st, resp = agg.query(q(site, date_range=[iso(t0 - 2), iso(t0 - 2)]))
        assert answer(resp) == {None: oracle(evs, site, t0 - 2, t0 - 2)[None]}
        assert sql_oracle(agg.db, site, t0 - 2, t0 - 2) == \
            oracle(evs, site, t0 - 2, t0 - 2)[None]


def test_response_shape(spool, agg):
    evs = make_events(days=[-1], per_day=5)
    spoolfmt.write_segment(spool, evs, pid=4000001, created_us=1,
                           finished=True)
    agg.start()
    site = evs[0]["site"]
    wait_counts(agg, q(site), {None: total(evs, site)})
    st, resp = agg.query(q(site, metrics=["events"], dimensions=["time:day"],
                           date_range=[iso(today() - 3), iso(today() - 1)]))
    assert st == 200
    assert set(resp) == {"results", "meta", "query"}
    assert resp["meta"] == {}
    assert resp["results"] == [{"metrics": [total(evs, site)[2]],
                                "dimensions": [iso(today() - 1)]}]
    qq = resp["query"]
    assert qq["site_id"] == site
    assert qq["metrics"] == ["events"]
    assert qq["dimensions"] == ["time:day"]
    # UTC offsets are written "Z", as Elixir's DateTime.to_iso8601 does
    assert qq["date_range"] == [iso(today() - 3) + "T00:00:00Z",
                                iso(today() - 1) + "T23:59:59Z"]
    assert qq["filters"] == []
    # the defaults filled in (docs/api.md): time ascending, first metric descending
    assert qq["order_by"] == [["time:day", "asc"], ["events", "desc"]]
    assert qq["pagination"] == {"limit": 10000, "offset": 0}


def test_auth_errors(spool, agg):
    agg.start()
    body = q("a.example")
    for headers in ({}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer"},
                    {"Authorization": "Bearer tly_not-a-real-key"}):
        st, _, data = request(agg.port, "POST", "/api/v2/query", body,
                              headers)
        assert st == 401, headers
        assert "error" in json.loads(data)
    # a revoked key stops working, other keys keep working
    other = agg.add_key("other")
    ids = agg.cli("keys", "list", "--db", agg.db).stdout
    assert agg.key not in ids and other not in ids
    assert "other" in ids
    assert agg.query(body, key=other)[0] in (200, 404)
    r = agg.cli("keys", "revoke", "--db", agg.db, "2")
    assert r.returncode == 0
    st, data = agg.query(body, key=other)
    assert st == 401 and "error" in data
    assert agg.query(body)[0] in (200, 404)
    assert agg.cli("keys", "revoke", "--db", agg.db, "2",
                   check=False).returncode == 1


BAD = [
    ({"site_id": "a.example", "metrics": ["visitors"], "date_range": "day",
      "bogus": 1}, "bogus"),
    ({"metrics": ["visitors"], "date_range": "day"}, "site_id"),
    ({"site_id": "a.example", "date_range": "day"}, "metrics"),
    ({"site_id": "a.example", "metrics": [], "date_range": "day"}, "metrics"),
    ({"site_id": "a.example", "metrics": ["time_on_page"], "date_range": "day"},
     "time_on_page"),
    ({"site_id": "a.example", "metrics": ["visitors"]}, "date_range"),
    ({"site_id": "a.example", "metrics": ["visitors"], "date_range": "13w"},
     "13w"),
    ({"site_id": "a.example", "metrics": ["visitors"],
      "date_range": ["2024-01-01", "2024-13-01"]}, "2024-13-01"),
    ({"site_id": "a.example", "metrics": ["visitors"],
      "date_range": ["2024-02-01", "2024-01-01"]}, "date_range"),
    ({"site_id": "a.example", "metrics": ["visitors"], "date_range": "day",
      "dimensions": ["visit:nope"]}, "visit:nope"),
    ({"site_id": "a.example", "metrics": ["visitors"], "date_range": "day",
      "filters": [["matches", "event:page", ["("]]]}, "filters"),
    ({"site_id": "a.example", "metrics": ["visitors"], "date_range": "day",
      "order_by": [["events", "desc"]]}, "order_by"),
    ({"site_id": "a.example", "metrics": ["visitors"], "date_range": "day",
      "pagination": {"limit": 0}}, "limit"),
    ("not json", "Invalid JSON"),
    ([1, 2], "object"),
]


def test_bad_requests(spool, agg):
    agg.start()
    for body, needle in BAD:
        st, data = agg.query(body)
        assert st == 400, body
        assert needle in data["error"], (body, data)
    # unknown site with a valid key
    st, data = agg.query(q("nobody.example"))
    assert st == 404 and "Site does not exist" in data["error"]
    # 64 KiB limit
    big = json.dumps(q("a.example")) + " " * (64 * 1024)
    st, _, data = request(agg.port, "POST", "/api/v2/query", big,
                          {"Authorization": f"Bearer {agg.key}"})
    assert st == 413 and "error" in json.loads(data)
    # paths and methods
    assert request(agg.port, "GET", "/nope")[0] == 404
    assert request(agg.port, "GET", "/api/v2/query")[0] == 405
    assert request(agg.port, "POST", "/health")[0] == 405
    st, _, data = request(agg.port, "GET", "/health")
    assert st == 200 and json.loads(data) == {"status": "ok"}


def test_sigterm_and_restart_without_double_counting(spool, agg):
    evs = make_events(seed=2)
    n1 = len(evs) * 2 // 3
    # a live segment: its writer (this process) is alive, no marker
    path = spoolfmt.write_segment(spool, evs[:n1], pid=os.getpid(),
                                  created_us=5, per_record=4)
    agg.start()
    for site in ("a.example", "b.example"):
        wait_counts(agg, q(site), {None: total(evs[:n1], site)})
    assert agg.stop() == 0
    log = agg.read_log()
    assert "SIGTERM" in log
    # more records in the same live segment, then restart
    for i in range(n1, len(evs), 5):
        spoolfmt.append_record(path, evs[i:i + 5])
    agg.start()
    for site in ("a.example", "b.example"):
        wait_counts(agg, q(site), {None: total(evs, site)})
        assert sql_oracle(agg.db, site, 0, today()) == total(evs, site)
    time.sleep(0.3)        # a few more polls change nothing
    for site in ("a.example", "b.example"):
        st, resp = agg.query(q(site))
        assert answer(resp) == {None: total(evs, site)}
    assert agg.stop() == 0


def raw_count(db):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_sigkill_anywhere_then_restart(spool):
    evs = make_events(seed=3, per_day=12000)
    for k in range(4):
        spoolfmt.write_segment(spool, evs[k::4], pid=4000010 + k,
                               created_us=10 + k, per_record=50,
                               finished=True)
    t = Tallyd(spool, extra_args=["--poll-ms", "20", "--batch-events", "300"])
    t.key = t.add_key()
    seen = []
    try:
        # SIGKILL at arbitrary moments while it drains: once the committed
        # rows pass a point of the data, plus a few random milliseconds
        rnd = random.Random(9)
        for frac in (0.05, 0.2, 0.4, 0.6, 0.8):
            p = subprocess.Popen(
                [tally.TALLYD, "serve", "--spool", spool, "--db", t.db,
                 "--listen", f"127.0.0.1:{t.port}", "--poll-ms", "20",
                 "--batch-events", "300"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_until(lambda: raw_count(t.db) >= frac * len(evs)
                       or p.poll() is not None, timeout=30, interval=0.005,
                       what="drain progress")
            time.sleep(rnd.uniform(0, 0.02))
            p.kill()
            p.wait()
            seen.append(raw_count(t.db))
        # at least one kill must have landed in the middle of the drain
        assert any(0 < n < len(evs) for n in seen), seen
        t.start()
        for site in ("a.example", "b.example"):
            wait_counts(t, q(site), {None: total(evs, site)},
                        f"{site} after SIGKILLs")
            assert sql_oracle(t.db, site, 0, today()) == total(evs, site)
        assert raw_count(t.db) == len(evs)
        wait_until(lambda: not tally.segment_sizes(spool), timeout=10,
                   what="consumed segments deleted")
    finally:
        t.stop()
        tally.rmtree(t.dir)


def test_corrupt_record_logged_and_rest_counted(spool, agg):
    evs = make_events(seed=4, days=[-1], per_day=30)
    path = spoolfmt.write_segment(spool, evs[:10], pid=4000020,
                                  created_us=20, per_record=5)
    bad_off = os.path.getsize(path)
    spoolfmt.append_record(path, evs[10:20])
    spoolfmt.append_record(path, evs[20:])
    with open(path, "r+b") as f:          # damage the middle record's payload
        f.seek(bad_off + spoolfmt.REC_HDR_SIZE + 3)
        b = f.read(1)
        f.seek(bad_off + spoolfmt.REC_HDR_SIZE + 3)
        f.write(bytes([b[0] ^ 0x55]))
    open(path + ".done", "wb").close()
    agg.start()
    kept = evs[:10] + evs[20:]
    for site in ("a.example", "b.example"):
        want = total(kept, site) if any(e["site"] == site for e in kept) else None
        if want:
            wait_counts(agg, q(site), {None: want})
    name = os.path.basename(path)
    wait_until(lambda: name in agg.read_log() and "corrupt" in agg.read_log(),
               what="corruption logged")
    line = [l for l in agg.read_log().splitlines()
            if "corrupt record" in l and name in l][0]
    assert f"offset {bad_off}" in line


def test_finished_consumed_segment_is_deleted(spool, agg):
    evs = make_events(seed=5, days=[-1], per_day=10)
    path = spoolfmt.write_segment(spool, evs, pid=4000030, created_us=30,
                                  finished=True)
    live = spoolfmt.write_segment(spool, evs[:2], pid=os.getpid(),
                                  created_us=31)
    agg.start()
    wait_until(lambda: not os.path.exists(path)
               and not os.path.exists(path + ".done"),
               what="finished segment and marker deleted")
    assert os.path.exists(live)              # the live one stays
    assert "deleted consumed segment" in agg.read_log()
    site = evs[0]["site"]
    wait_counts(agg, q(site), {None: total(evs + evs[:2], site)})


def test_cli_usage():
    r = subprocess.run([tally.TALLYD, "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0
    for word in ("serve", "keys add", "keys list", "keys revoke", "--spool",
                 "--db", "--listen", "--config", "--poll-ms"):
        assert word in r.stdout, word
    assert subprocess.run([tally.TALLYD, "help"], capture_output=True
                          ).returncode == 0
    r = subprocess.run([tally.TALLYD, "serve", "--bogus", "1"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--bogus" in r.stderr
    r = subprocess.run([tally.TALLYD, "frobnicate"], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "frobnicate" in r.stderr
    r = subprocess.run([tally.TALLYD, "--version"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.startswith("tallyd ")


def test_config_file(spool, tmp_path):
    t = Tallyd(spool)
    conf = tmp_path / "tallyd.conf"
    conf.write_text(f"# test\npoll-ms = 30\nlog-level = debug\n")
    t.extra_args = ["--config", str(conf)]
    try:
        t.start()
        assert t.health()
    finally:
        assert t.stop() == 0
        tally.rmtree(t.dir)
